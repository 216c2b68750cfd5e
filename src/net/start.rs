//! `start`: checks the configuration, builds the swarm (tcp + noise + yamux, tokio), binds the
//! listeners and spawns the network task. Returns once every listener has an address, so
//! `NetHandle::listen_addrs` is usable immediately (port 0 resolved).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use libp2p::gossipsub::IdentTopic;
use libp2p::swarm::SwarmEvent;
use libp2p::{noise, tcp, yamux, SwarmBuilder};
use tokio::sync::mpsc;

use super::handle::{NetHandle, Shared};
use super::task::Task;
use super::{behaviour, identity, NetConfig, NetError, NetEvent, MAX_MESSAGE_BYTES_LIMIT};

/// Events buffered between the network task and its consumer before backpressure starts.
const EVENT_QUEUE: usize = 1024;
/// Handle commands buffered before fire-and-forget ones are dropped (and counted).
const COMMAND_QUEUE: usize = 8192;
/// A cluster connection stays open while idle: nodes talk rarely when there are no writes.
const IDLE_TIMEOUT: Duration = Duration::from_secs(3600);
/// How long binding the listeners may take.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts the network: returns a handle and the event stream.
pub async fn start(config: NetConfig) -> Result<(NetHandle, mpsc::Receiver<NetEvent>), NetError> {
    if config.topic.is_empty() {
        return Err(NetError::Config("the gossip topic is empty".into()));
    }
    if config.max_message_bytes == 0 || config.max_message_bytes > MAX_MESSAGE_BYTES_LIMIT {
        return Err(NetError::Config(format!(
            "max_message_bytes must be between 1 and {MAX_MESSAGE_BYTES_LIMIT}, got {}",
            config.max_message_bytes
        )));
    }
    if config.listen.is_empty() {
        return Err(NetError::Config("no listen address".into()));
    }
    let keypair = identity::keypair(&config.key)
        .map_err(|e| NetError::Config(format!("node key as libp2p identity: {e}")))?;
    let topic = IdentTopic::new(config.topic.clone());
    let behaviour = behaviour::build(
        &keypair,
        &topic,
        config.max_message_bytes,
        config.request_timeout,
    )?;
    let mut swarm = SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| NetError::Config(format!("noise: {e}")))?
        .with_behaviour(move |_| behaviour)
        .map_err(|e| NetError::Config(format!("behaviour: {e}")))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_TIMEOUT))
        .build();
    swarm
        .behaviour_mut()
        .gossip
        .subscribe(&topic)
        .map_err(|e| NetError::Config(format!("subscribe to {}: {e:?}", config.topic)))?;

    let mut pending = Vec::new();
    for addr in &config.listen {
        let id = swarm
            .listen_on(addr.clone())
            .map_err(|e| NetError::Listen {
                addr: addr.to_string(),
                why: e.to_string(),
            })?;
        pending.push((id, addr.clone()));
    }

    let shared = Arc::new(Shared::default());
    let (command_tx, command_rx) = mpsc::channel(COMMAND_QUEUE);
    let (event_tx, event_rx) = mpsc::channel(EVENT_QUEUE);
    let mut task = Task::new(swarm, topic, &config, shared.clone(), event_tx, command_rx);

    // Drive the swarm (through the task's normal event handling, so nothing is lost) until
    // every listener reported an address or failed.
    let deadline = tokio::time::Instant::now() + LISTEN_TIMEOUT;
    while let Some(first) = pending.first().map(|(_, addr)| addr.to_string()) {
        let timed_out = || NetError::Listen {
            addr: first,
            why: format!("no address within {LISTEN_TIMEOUT:?}"),
        };
        let event = tokio::time::timeout_at(deadline, task.swarm.select_next_some())
            .await
            .map_err(|_| timed_out())?;
        let failed = match &event {
            SwarmEvent::NewListenAddr { listener_id, .. } => {
                pending.retain(|(id, _)| id != listener_id);
                None
            }
            SwarmEvent::ListenerClosed {
                listener_id,
                reason,
                ..
            } => Some((*listener_id, format!("{reason:?}"))),
            SwarmEvent::ListenerError { listener_id, error } => {
                Some((*listener_id, error.to_string()))
            }
            _ => None,
        };
        if let Some((id, why)) = failed {
            if let Some((_, addr)) = pending.iter().find(|(p, _)| *p == id) {
                return Err(NetError::Listen {
                    addr: addr.to_string(),
                    why,
                });
            }
        }
        task.on_swarm(event);
    }

    let handle = NetHandle {
        commands: command_tx,
        shared,
        local: config.key.id(),
        max_message_bytes: config.max_message_bytes,
        request_timeout: config.request_timeout,
    };
    tokio::spawn(task.run());
    Ok((handle, event_rx))
}
