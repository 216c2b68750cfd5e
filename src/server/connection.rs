//! One client connection: read, decode, dispatch, and write replies in request order.
//!
//! The loop waits on four things at once: the socket becoming readable, the socket accepting
//! more output, the next deferred reply resolving, and kill/shutdown. Reading and writing are
//! concurrent, so a client that sends a whole pipeline before reading any reply (redis-py,
//! redis-benchmark) does not deadlock against us, as long as the replies it has not read stay
//! under `output_pause_bytes`; beyond that we stop reading until it reads (backpressure).
//!
//! Each pass decodes and dispatches every complete request in the read buffer, encoding
//! replies into one output buffer, which then goes out in as few writes as the socket allows:
//! one per batch, not one per reply. Deferred replies (writes) do not stop dispatching: writes
//! go out back to back, and only a request that is not barrier-free (a read) waits for the
//! deferred replies before it. Ready replies queue behind deferred ones, so order holds.
//!
//! Requests are decoded one at a time between dispatches, never ahead: the limits of the next
//! request depend on the previous one (AUTH lifts the pre-authentication limits), and a request
//! waiting at a barrier must not let later bytes be parsed under stale state.
//!
//! Ending: a protocol error, QUIT, end of input or server shutdown first delivers the replies to
//! the requests before it (protocol error: then the error), then closes. A kill, a write
//! failure, or going over the output or query-buffer limit closes at once.

use std::pin::Pin;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::WriteHalf;
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::clients::{ClientHandle, Registration};
use super::pending::PendingReplies;
use super::service::{Outcome, Service};
use super::ServerConfig;
use crate::reply::Reply;
use crate::resp::{
    encode, encode_protocol_error, DecodeError, Protocol, ProtocolError, RequestDecoder,
};

/// Smallest read: Redis's `PROTO_IOBUF_LEN`.
const READ_CHUNK: usize = 16 * 1024;

/// Serves one accepted connection until it ends, then tells the service and unlists it.
pub(super) async fn serve<S: Service>(
    mut stream: TcpStream,
    service: Arc<S>,
    registration: Registration,
    config: Arc<ServerConfig>,
    shutdown: CancellationToken,
) {
    let client = registration.handle.clone();
    let mut session = service.open(client.clone());
    let mut conn = Connection::new(&*service, &client, &config);
    conn.run(&mut stream, &mut session, &shutdown).await;
    service.close(session);
    debug!(id = client.id(), "client disconnected");
    drop(registration);
}

/// How the connection is ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closing {
    /// Deliver what earlier requests are owed, then `last` if any, then close.
    Drain { last: Option<ProtocolError> },
    /// Close now.
    Abort,
}

struct Connection<'a, S: Service> {
    service: &'a S,
    client: &'a ClientHandle,
    config: &'a ServerConfig,
    decoder: RequestDecoder,
    rbuf: BytesMut,
    /// Encoded replies not yet accepted by the socket.
    wbuf: BytesMut,
    pending: PendingReplies,
    /// A request that must wait until no deferred reply is outstanding.
    stalled: Option<Vec<Bytes>>,
    closing: Option<Closing>,
    proto: Protocol,
}

impl<'a, S: Service> Connection<'a, S> {
    fn new(service: &'a S, client: &'a ClientHandle, config: &'a ServerConfig) -> Self {
        Connection {
            service,
            client,
            config,
            decoder: RequestDecoder::new(config.limits),
            rbuf: BytesMut::with_capacity(READ_CHUNK),
            wbuf: BytesMut::with_capacity(READ_CHUNK),
            pending: PendingReplies::default(),
            stalled: None,
            closing: None,
            proto: Protocol::Resp2,
        }
    }

    async fn run(
        &mut self,
        stream: &mut TcpStream,
        session: &mut S::Session,
        shutdown: &CancellationToken,
    ) {
        let (mut reader, mut writer) = stream.split();
        let client = self.client;
        // One signal for kill and shutdown (the kill token is a child of the shutdown token),
        // pinned once: polling a fresh waiter on every pass would take a lock per pass.
        let signal = client.kill_token().cancelled();
        tokio::pin!(signal);
        let mut signalled = false;
        let mut grace: Option<Pin<Box<Sleep>>> = None;
        self.sync(session);
        loop {
            self.process(session);
            if self.closed(&mut writer).await {
                return;
            }
            let can_read = self.can_read();
            if can_read {
                self.reserve_read();
            }
            let draining = !self.pending.is_empty();
            let writing = !self.wbuf.is_empty();
            tokio::select! {
                biased;
                _ = &mut signal, if !signalled => {
                    signalled = true;
                    if !shutdown.is_cancelled() {
                        // Killed. Best effort: whatever is already encoded (e.g. the reply to a
                        // CLIENT KILL aimed at this very client), without waiting on the socket.
                        let _ = writer.try_write(&self.wbuf);
                        return;
                    }
                    let until = Instant::now() + self.config.shutdown_grace;
                    grace = Some(Box::pin(tokio::time::sleep_until(until)));
                    // A request stalled at a barrier has not run; it never will.
                    self.stalled = None;
                    if self.closing.is_none() {
                        self.closing = Some(Closing::Drain { last: None });
                    }
                }
                _ = async { if let Some(g) = grace.as_mut() { g.await } }, if grace.is_some() => {
                    return;
                }
                (reply, proto) = self.pending.next(), if draining => self.emit(&reply, proto),
                written = writer.write(&self.wbuf), if writing => match written {
                    Ok(n) if n > 0 => self.wbuf.advance(n),
                    _ => return,
                },
                read = reader.read_buf(&mut self.rbuf), if can_read => match read {
                    Ok(0) => {
                        self.closing = Some(Closing::Drain { last: None });
                    }
                    Ok(_) => client.touch(),
                    Err(e) => {
                        debug!(id = client.id(), error = %e, "read failed");
                        return;
                    }
                },
            }
        }
    }

    /// Decodes and dispatches requests until the input runs out or something says stop, then
    /// tells the service the batch is over (`Service::end_batch`).
    fn process(&mut self, session: &mut S::Session) {
        self.dispatch_batch(session);
        self.service.end_batch(session);
    }

    fn dispatch_batch(&mut self, session: &mut S::Session) {
        while self.may_dispatch() {
            let argv = match self.stalled.take() {
                Some(argv) if !self.pending.is_empty() => {
                    self.stalled = Some(argv);
                    return;
                }
                Some(argv) => argv,
                None => match self.decoder.next_request(&mut self.rbuf) {
                    Ok(Some(argv)) => argv,
                    Ok(None) => return,
                    Err(e) => return self.decode_failed(e),
                },
            };
            if !self.pending.is_empty() && !self.service.is_barrier_free(session, &argv) {
                self.stalled = Some(argv);
                return;
            }
            self.dispatch(session, argv);
        }
    }

    fn dispatch(&mut self, session: &mut S::Session, argv: Vec<Bytes>) {
        let outcome = self.service.dispatch(session, argv);
        self.sync(session);
        match outcome {
            Outcome::Reply(reply) => self.reply(reply),
            Outcome::Deferred(fut) => self.pending.push_deferred(fut, self.proto),
            Outcome::Close(reply) => {
                self.reply(reply);
                // Unless emitting that reply already aborted the connection.
                self.closing.get_or_insert(Closing::Drain { last: None });
            }
        }
    }

    /// Picks up what the last command changed: reply protocol (HELLO) and limits (AUTH).
    fn sync(&mut self, session: &S::Session) {
        let proto = self.service.protocol(session);
        if proto != self.proto {
            self.proto = proto;
            self.client.set_resp(proto);
        }
        self.decoder
            .set_authenticated(self.service.authenticated(session));
    }

    fn decode_failed(&mut self, e: DecodeError) {
        match e {
            DecodeError::Protocol(err) => {
                debug!(id = self.client.id(), addr = %self.client.addr(), %err, "protocol error");
                self.closing = Some(Closing::Drain { last: Some(err) });
            }
            other => {
                let (id, addr) = (self.client.id(), self.client.addr());
                warn!(id, %addr, error = %other, "closing client");
                self.closing = Some(Closing::Abort);
            }
        }
    }

    /// A reply that is ready now: written at once unless earlier replies are still pending.
    fn reply(&mut self, reply: Reply) {
        if self.pending.is_empty() {
            self.emit(&reply, self.proto);
        } else {
            self.pending.push_ready(reply, self.proto);
        }
    }

    /// Encodes a reply whose turn has come.
    fn emit(&mut self, reply: &Reply, proto: Protocol) {
        if self.wbuf.len() > self.config.output_limit_bytes {
            warn!(
                id = self.client.id(),
                addr = %self.client.addr(),
                unsent = self.wbuf.len(),
                "closing client that is not reading its replies (output limit)"
            );
            self.closing = Some(Closing::Abort);
            return;
        }
        encode(reply, proto, &mut self.wbuf);
    }

    /// Handles the end states; true when the connection is finished.
    async fn closed(&mut self, writer: &mut WriteHalf<'_>) -> bool {
        match &mut self.closing {
            None => false,
            Some(Closing::Abort) => true,
            Some(Closing::Drain { .. }) if !self.pending.is_empty() => false,
            Some(Closing::Drain { last }) => {
                if let Some(err) = last.take() {
                    encode_protocol_error(&err, &mut self.wbuf);
                }
                if !self.wbuf.is_empty() {
                    return false;
                }
                // Everything owed is written: send FIN (the client reads EOF after our last reply).
                let _ = writer.shutdown().await;
                true
            }
        }
    }

    fn may_dispatch(&self) -> bool {
        self.closing.is_none()
            && self.wbuf.len() < self.config.output_pause_bytes
            && self.pending.len() < self.config.max_deferred
    }

    fn can_read(&self) -> bool {
        self.may_dispatch() && self.stalled.is_none()
    }

    /// Makes room for the next read. Inside a large argument the buffer grows toward what the
    /// argument needs, but at most doubling what has actually arrived: memory follows received
    /// bytes, never a declared length alone.
    fn reserve_read(&mut self) {
        let wanted = self.decoder.bytes_wanted(self.rbuf.len());
        self.rbuf
            .reserve(READ_CHUNK.max(wanted.min(self.rbuf.len())));
    }
}
