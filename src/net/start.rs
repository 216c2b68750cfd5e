//! `start`: checks the configuration, builds the swarm (tcp + noise + yamux, tokio), binds the
//! listeners and spawns the network task. Returns once every listener has an address, so
//! `NetHandle::listen_addrs` is usable immediately (port 0 resolved).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::upgrade::Version;
use libp2p::gossipsub::IdentTopic;
use libp2p::swarm::SwarmEvent;
use libp2p::{noise, tcp, yamux, SwarmBuilder, Transport};
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

/// Dead-peer detection on every p2p TCP connection (`tune_socket`): keepalive probes after
/// this long without traffic, every `KEEPALIVE_INTERVAL`, and a connection whose sent data (or
/// probes) stay unacknowledged for `USER_TIMEOUT` is closed by the kernel.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(10);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
const USER_TIMEOUT: Duration = Duration::from_secs(30);

/// Makes the kernel give up on a TCP connection whose peer went silent within `USER_TIMEOUT`
/// (TCP_USER_TIMEOUT; idle connections are probed by keepalive so that silence shows).
///
/// Why: a network partition that drops packets (a cut link, a firewall DROP) resets nothing.
/// By default Linux keeps retransmitting for ~15 minutes, so the connection stays established:
/// SPORE.PEERS shows the peer connected, nothing re-dials it, and after the partition heals
/// traffic resumes only when TCP's retransmission backoff (up to 2 minutes) next fires —
/// tests/partition.rs measured 93 s to reconverge after a 2-minute partition. Closing the
/// connection from libp2p does not help: its graceful close flushes the muxer first, which
/// waits on the same dead socket. With the kernel's verdict the connection fails with an I/O
/// error, the peer is reported down and re-dialled (bootstrap backoff ≤ 30 s). A peer that
/// reads nothing for `USER_TIMEOUT` (a zero receive window that long) is disconnected too, and
/// reconnects once it reads again. Best effort: an option the platform lacks is skipped.
fn tune_socket(stream: &tokio::net::TcpStream) {
    let sock = socket2::SockRef::from(stream);
    let keepalive = socket2::TcpKeepalive::new().with_time(KEEPALIVE_IDLE);
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "macos"))]
    let keepalive = keepalive.with_interval(KEEPALIVE_INTERVAL).with_retries(3);
    if let Err(e) = sock.set_tcp_keepalive(&keepalive) {
        tracing::debug!("p2p socket: cannot enable keepalive: {e}");
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Err(e) = sock.set_tcp_user_timeout(Some(USER_TIMEOUT)) {
        tracing::debug!("p2p socket: cannot set TCP_USER_TIMEOUT: {e}");
    }
}
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
    let noise =
        noise::Config::new(&keypair).map_err(|e| NetError::Config(format!("noise: {e}")))?;
    let mut swarm = SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        // What `with_tcp(config, noise::Config::new, yamux::Config::default)` builds, plus
        // `tune_socket` on every connection, dialled or accepted.
        .with_other_transport(|_| {
            tcp::tokio::Transport::new(tcp::Config::default().nodelay(true))
                .map(|stream, _| {
                    tune_socket(&stream.0);
                    stream
                })
                .upgrade(Version::V1Lazy)
                .authenticate(noise)
                .multiplex(yamux::Config::default())
                .map(|(peer, muxer), _| (peer, StreamMuxerBox::new(muxer)))
        })
        .map_err(|e| NetError::Config(format!("transport: {e}")))?
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
