//! Replies of one connection that cannot be written yet, in request order.
//!
//! A reply waits here when it is deferred (a write in progress) or when it is ready but an
//! earlier reply is still deferred. All deferred futures are polled concurrently (a write's
//! progress must not depend on the reply before it being written), and replies come out strictly
//! in the order they went in. A reply that is ready when nothing is queued never enters: the
//! connection encodes it straight away.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::stream::{FuturesOrdered, StreamExt};

use super::service::DeferredReply;
use crate::reply::Reply;
use crate::resp::Protocol;

/// One queued reply and the protocol to encode it in.
struct Queued {
    reply: Slot,
    proto: Protocol,
}

enum Slot {
    Ready(Option<Reply>),
    Deferred(DeferredReply),
}

impl Future for Queued {
    type Output = (Reply, Protocol);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<(Reply, Protocol)> {
        // `Queued` is Unpin (a boxed future and plain data), so no pin projection is needed.
        let this = self.get_mut();
        let reply = match &mut this.reply {
            // Polled once: FuturesOrdered never polls a finished future again.
            Slot::Ready(reply) => reply.take().unwrap_or(Reply::Nil),
            Slot::Deferred(fut) => match fut.as_mut().poll(cx) {
                Poll::Ready(reply) => reply,
                Poll::Pending => return Poll::Pending,
            },
        };
        Poll::Ready((reply, this.proto))
    }
}

/// The queue. Empty means no deferred reply is outstanding.
#[derive(Default)]
pub(super) struct PendingReplies {
    queue: FuturesOrdered<Queued>,
}

impl PendingReplies {
    pub(super) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub(super) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Queues a reply that is ready but must follow the ones already queued.
    pub(super) fn push_ready(&mut self, reply: Reply, proto: Protocol) {
        self.queue.push_back(Queued {
            reply: Slot::Ready(Some(reply)),
            proto,
        });
    }

    /// Queues a deferred reply.
    pub(super) fn push_deferred(&mut self, fut: DeferredReply, proto: Protocol) {
        self.queue.push_back(Queued {
            reply: Slot::Deferred(fut),
            proto,
        });
    }

    /// The next reply in request order, once it is ready. Pending forever when empty, so only
    /// await it when not empty.
    pub(super) async fn next(&mut self) -> (Reply, Protocol) {
        match self.queue.next().await {
            Some(next) => next,
            None => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;
    use tokio::sync::oneshot;

    #[tokio::test]
    async fn replies_come_out_in_order_whatever_resolves_first() {
        let mut q = PendingReplies::default();
        let (tx1, rx1) = oneshot::channel::<Reply>();
        let (tx2, rx2) = oneshot::channel::<Reply>();
        q.push_deferred(
            Box::pin(rx1.map(|r| r.unwrap_or(Reply::Nil))),
            Protocol::Resp2,
        );
        q.push_ready(Reply::Int(2), Protocol::Resp3);
        q.push_deferred(
            Box::pin(rx2.map(|r| r.unwrap_or(Reply::Nil))),
            Protocol::Resp2,
        );
        tx2.send(Reply::Int(3)).unwrap();
        assert!(q.next().now_or_never().is_none(), "the head is not ready");
        tx1.send(Reply::Int(1)).unwrap();
        assert_eq!(q.next().await, (Reply::Int(1), Protocol::Resp2));
        assert_eq!(q.next().await, (Reply::Int(2), Protocol::Resp3));
        assert_eq!(q.next().await, (Reply::Int(3), Protocol::Resp2));
        assert!(q.is_empty());
    }
}
