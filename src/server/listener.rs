//! The accept loop: admits clients up to `maxclients`, spawns one task per connection, and on
//! shutdown stops accepting, lets connections finish within the grace period, and returns once
//! every connection task has ended.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinError, JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, warn};

use super::clients::Clients;
use super::connection;
use super::service::Service;
use super::ServerConfig;
use crate::error::RedisError;
use crate::reply::Reply;
use crate::resp::{encode, Protocol};

/// After a failed accept (e.g. out of file descriptors), wait this long before the next one
/// rather than spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// How long a refused client gets to take its error before it is dropped anyway.
const REJECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A bound listening socket with the service that will serve its clients.
pub struct Listener<S: Service> {
    tcp: TcpListener,
    service: Arc<S>,
    clients: Clients,
    config: Arc<ServerConfig>,
}

impl<S: Service> Listener<S> {
    /// Binds `config.bind` (port 0 picks a free port; see [`Listener::local_addr`]).
    pub async fn bind(config: ServerConfig, service: Arc<S>) -> io::Result<Self> {
        let tcp = TcpListener::bind(config.bind).await?;
        let clients = Clients::new(config.maxclients);
        Ok(Listener {
            tcp,
            service,
            clients,
            config: Arc::new(config),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// The client registry (INFO's clients section, `CONFIG SET maxclients`).
    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    /// Serves clients until `shutdown` is cancelled, then closes the listening socket, gives
    /// connections `shutdown_grace` to deliver replies in progress, and returns when all are
    /// closed.
    pub async fn run(self, shutdown: CancellationToken) {
        let Listener {
            tcp,
            service,
            clients,
            config,
        } = self;
        let mut tasks = JoinSet::new();
        let mut next_worker = 0usize;
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                Some(done) = tasks.join_next(), if !tasks.is_empty() => task_ended(done),
                accepted = tcp.accept() => match accepted {
                    Ok((stream, addr)) => {
                        let worker = config.workers.get(next_worker % config.workers.len().max(1));
                        next_worker = next_worker.wrapping_add(1);
                        admit(stream, addr, &service, &clients, &config, &shutdown, &mut tasks, worker)
                    }
                    Err(e) => {
                        warn!(error = %e, "accept failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                },
            }
        }
        drop(tcp);
        // Connections watch the same token and finish within the grace period; the margin only
        // covers a connection task that does not return (a service stuck in `close`).
        let all_done = async {
            while let Some(done) = tasks.join_next().await {
                task_ended(done);
            }
        };
        if tokio::time::timeout(config.shutdown_grace + Duration::from_secs(1), all_done)
            .await
            .is_err()
        {
            warn!(
                left = tasks.len(),
                "connections still open after the shutdown grace; aborting them"
            );
            tasks.shutdown().await;
        }
    }
}

/// Starts serving an accepted connection (on `worker` if given, else on this runtime), or
/// refuses it as Redis does when `maxclients` is reached (the error is written, then the
/// socket closed).
#[allow(clippy::too_many_arguments)]
fn admit<S: Service>(
    stream: TcpStream,
    addr: SocketAddr,
    service: &Arc<S>,
    clients: &Clients,
    config: &Arc<ServerConfig>,
    shutdown: &CancellationToken,
    tasks: &mut JoinSet<()>,
    worker: Option<&tokio::runtime::Handle>,
) {
    // Redis sets TCP_NODELAY on every client: replies to small requests must not wait for
    // Nagle's algorithm.
    if let Err(e) = stream.set_nodelay(true) {
        debug!(error = %e, %addr, "could not set TCP_NODELAY");
    }
    if clients.connected() >= clients.maxclients() {
        clients.note_rejected();
        tasks.spawn(refuse(stream));
        return;
    }
    let laddr = stream
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let registration = clients.register(addr, laddr, raw_fd(&stream), shutdown);
    debug!(id = registration.handle.id(), %addr, "client connected");
    let (service, config, shutdown) = (service.clone(), config.clone(), shutdown.clone());
    let Some(worker) = worker else {
        tasks.spawn(connection::serve(
            stream,
            service,
            registration,
            config,
            shutdown,
        ));
        return;
    };
    // A tokio socket belongs to the reactor of the runtime that registered it: hand the
    // worker the plain socket and let it register it with its own.
    let stream = match stream.into_std() {
        Ok(s) => s,
        Err(e) => {
            warn!(error = %e, %addr, "could not hand a connection to its worker");
            return;
        }
    };
    tasks.spawn_on(
        async move {
            match TcpStream::from_std(stream) {
                Ok(stream) => {
                    connection::serve(stream, service, registration, config, shutdown).await
                }
                Err(e) => warn!(error = %e, %addr, "could not register a connection"),
            }
        },
        worker,
    );
}

async fn refuse(mut stream: TcpStream) {
    let mut text = BytesMut::new();
    encode(
        &Reply::Error(RedisError::MaxClients),
        Protocol::Resp2,
        &mut text,
    );
    // Best effort, as in Redis: a client that does not take the error is dropped anyway.
    let _ = tokio::time::timeout(REJECT_TIMEOUT, stream.write_all(&text)).await;
}

fn task_ended(result: Result<(), JoinError>) {
    if let Err(e) = result {
        if e.is_panic() {
            error!(error = %e, "a connection task panicked; the client was disconnected");
        }
    }
}

/// The socket's file descriptor, for `CLIENT LIST`'s `fd=` field.
#[cfg(unix)]
fn raw_fd(stream: &TcpStream) -> i64 {
    use std::os::fd::AsRawFd;
    i64::from(stream.as_raw_fd())
}

#[cfg(not(unix))]
fn raw_fd(_stream: &TcpStream) -> i64 {
    -1
}
