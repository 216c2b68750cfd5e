//! Transport counters, shared between the network task (which bumps them) and every handle
//! (which reads them for INFO). Relaxed atomics: each counter is independent and only ever grows.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// Live counters (atomics), owned by the network task and its handles.
        #[derive(Debug, Default)]
        pub struct NetCounters {
            $($(#[$doc])* pub $name: AtomicU64,)*
        }

        /// A point-in-time copy of the counters.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct NetStats {
            $($(#[$doc])* pub $name: u64,)*
        }

        impl NetCounters {
            pub fn snapshot(&self) -> NetStats {
                NetStats { $($name: self.$name.load(Ordering::Relaxed),)* }
            }
        }

        impl NetStats {
            /// `(name, value)` pairs in declaration order, for INFO-style output.
            pub fn fields(&self) -> Vec<(&'static str, u64)> {
                vec![$((stringify!($name), self.$name),)*]
            }
        }
    };
}

counters! {
    /// Gossip messages accepted by the validator and handed to the consumer.
    gossip_in,
    /// Gossip messages we published (first hop only; relays are not counted).
    gossip_out,
    /// Gossip messages the validator rejected (the propagation source is scored down).
    gossip_rejected,
    /// Gossip messages the validator ignored.
    gossip_ignored,
    /// Gossip messages over `max_message_bytes` (rejected without calling the validator).
    gossip_oversized,
    /// Publishes dropped because every peer's send queue was full (backpressure).
    publish_queue_full,
    /// Publishes that failed for another reason (no subscribed peer, duplicate, too large).
    publish_failed,
    /// Direct messages and requests received.
    direct_in,
    /// Direct messages and requests sent.
    direct_out,
    /// Direct messages or requests that failed (dial failure, timeout, closed, refused).
    direct_failed,
    /// Handle commands dropped because the network task's command queue was full.
    commands_dropped,
    /// Peers banned through `NetHandle::ban`.
    peers_banned,
    /// Connections closed because the remote is not an ed25519 (sporedb) identity.
    foreign_peers,
}

impl NetCounters {
    /// Adds one; returns the previous value (for rate-limited logging).
    pub fn bump(counter: &AtomicU64) -> u64 {
        counter.fetch_add(1, Ordering::Relaxed)
    }
}
