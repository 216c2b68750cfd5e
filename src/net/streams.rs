//! Fire-and-forget direct messages (`NetHandle::send`: endorsements, anti-entropy) over one
//! long-lived stream per peer and direction, `/sporedb/direct-stream/1`, in the request-response
//! protocol's frames (`codec::read_frame` / `write_frame`: the length is checked against
//! `max_message_bytes` before anything is read, and the body is read incrementally).
//!
//! Why not request-response, as requests with an answer still use: each exchange opens a yamux
//! substream, negotiates the protocol and closes both directions — 12 loopback packets per
//! message, measured, against ~2.5 for a gossip publish — and a write costs every node about
//! three of them. A stream that stays open carries each message in one frame.
//!
//! Outbound, a writer task per peer owns the stream and a bounded queue: it opens the stream
//! on first use (dialling if needed, within the request timeout) and again after a write fails;
//! a message whose write fails twice, or that finds the queue full, is dropped and counted
//! (`direct_failed`), as a lost request was. Inbound, one reader task per peer (a newer stream
//! from the same peer replaces the older) hands each frame to the consumer as
//! `NetEvent::Direct` (with a `Responder` nobody waits for) and closes the stream on an
//! oversized frame or a read error.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{AsyncWriteExt, StreamExt};
use libp2p::{PeerId, Stream, StreamProtocol};
use libp2p_stream::Control;
use tokio::sync::{mpsc, oneshot};

use super::codec::{read_frame, write_frame};
use super::handle::Shared;
use super::identity::node_id;
use super::stats::NetCounters;
use super::{NetEvent, Responder};

/// The protocol of the per-peer streams.
pub const STREAM_PROTOCOL: StreamProtocol = StreamProtocol::new("/sporedb/direct-stream/1");

/// Messages waiting for one peer's stream; more are dropped (and counted).
const QUEUE: usize = 1024;

/// The outbound side: one writer task (and queue) per peer.
pub(crate) struct Outbound {
    control: Control,
    queues: std::collections::BTreeMap<PeerId, mpsc::Sender<Vec<u8>>>,
    shared: Arc<Shared>,
    open_timeout: Duration,
    /// Largest message (the caller refuses larger ones before they are queued).
    max: usize,
}

impl Outbound {
    pub(crate) fn new(
        control: Control,
        shared: Arc<Shared>,
        open_timeout: Duration,
        max: usize,
    ) -> Outbound {
        Outbound {
            control,
            queues: Default::default(),
            shared,
            open_timeout,
            max,
        }
    }

    /// Queues `data` for `peer`; false if it was dropped (the peer's queue is full).
    pub(crate) fn send(&mut self, peer: PeerId, data: Vec<u8>) -> bool {
        let queue = self.queues.entry(peer).or_insert_with(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(writer(
                self.control.clone(),
                peer,
                rx,
                self.shared.clone(),
                self.open_timeout,
                self.max,
            ));
            tx
        });
        match queue.try_send(data) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => false,
            Err(mpsc::error::TrySendError::Closed(data)) => {
                // The writer stopped (it never does on its own): start a new one.
                self.queues.remove(&peer);
                self.send(peer, data)
            }
        }
    }

    /// Stops writing to `peer` (banned): its writer ends with the queue.
    pub(crate) fn forget(&mut self, peer: &PeerId) {
        self.queues.remove(peer);
    }
}

async fn writer(
    mut control: Control,
    peer: PeerId,
    mut queue: mpsc::Receiver<Vec<u8>>,
    shared: Arc<Shared>,
    open_timeout: Duration,
    max: usize,
) {
    let mut stream: Option<Stream> = None;
    while let Some(data) = queue.recv().await {
        let mut sent = false;
        // A stream found broken is reopened once for the same message.
        for _ in 0..2 {
            if stream.is_none() {
                match tokio::time::timeout(open_timeout, control.open_stream(peer, STREAM_PROTOCOL))
                    .await
                {
                    Ok(Ok(s)) => stream = Some(s),
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "direct stream not opened");
                        break;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "direct stream not opened in time");
                        break;
                    }
                }
            }
            let Some(s) = stream.as_mut() else { break };
            match send_frame(s, &data, max).await {
                Ok(()) => {
                    sent = true;
                    break;
                }
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "direct stream write failed");
                    stream = None;
                }
            }
        }
        if !sent {
            NetCounters::bump(&shared.counters.direct_failed);
        }
    }
}

async fn send_frame(stream: &mut Stream, data: &[u8], max: usize) -> std::io::Result<()> {
    write_frame(stream, data, max).await?;
    stream.flush().await
}

/// Accepts peers' streams and spawns a reader for each; ends when the network does.
pub(crate) fn accept(
    control: &mut Control,
    events: mpsc::Sender<NetEvent>,
    shared: Arc<Shared>,
    max: usize,
) -> Result<(), String> {
    let mut incoming = control
        .accept(STREAM_PROTOCOL)
        .map_err(|e| format!("direct streams: {e}"))?;
    tokio::spawn(async move {
        // One reader per peer, the newest stream's: a peer that opens many streams cannot make
        // us hold many partial frames (each up to `max` bytes), and a reconnecting peer's new
        // stream replaces its dead one at once.
        let mut readers: std::collections::BTreeMap<PeerId, tokio::task::JoinHandle<()>> =
            Default::default();
        while let Some((peer, stream)) = incoming.next().await {
            readers.retain(|_, r| !r.is_finished());
            let reader = tokio::spawn(reader(peer, stream, events.clone(), shared.clone(), max));
            if let Some(old) = readers.insert(peer, reader) {
                old.abort();
            }
        }
    });
    Ok(())
}

async fn reader(
    peer: PeerId,
    mut stream: Stream,
    events: mpsc::Sender<NetEvent>,
    shared: Arc<Shared>,
    max: usize,
) {
    let Some(from) = node_id(&peer) else {
        // Not a sporedb identity: its connection is being closed anyway.
        return;
    };
    loop {
        let data = match read_frame(&mut stream, max).await {
            Ok(data) => data,
            // The stream ended, or the frame was oversized or short: close it.
            Err(e) => {
                tracing::debug!(%peer, error = %e, "direct stream closed");
                return;
            }
        };
        NetCounters::bump(&shared.counters.direct_in);
        // Nobody waits for an answer to a stream message.
        let (respond, _) = oneshot::channel();
        let event = NetEvent::Direct {
            from,
            data: Bytes::from(data),
            respond: Responder(respond),
        };
        if events.send(event).await.is_err() {
            return;
        }
    }
}
