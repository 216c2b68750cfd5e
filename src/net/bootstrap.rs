//! Bootstrap addresses: dialled at start and re-dialled with exponential backoff whenever we are
//! not connected to the node behind them.
//!
//! A bootstrap address need not name a peer id (`/ip4/10.0.0.1/tcp/7000` is enough), so an entry
//! learns which peer answered when its dial succeeds. It is then "satisfied" as long as that peer
//! is connected by any connection, inbound or outbound. An address that turns out to be our own
//! (a shared bootstrap list) is remembered and never dialled again. Pure state, no I/O: the
//! network task asks `due` what to dial and reports outcomes back.

use std::time::{Duration, Instant};

use libp2p::swarm::ConnectionId;
use libp2p::{Multiaddr, PeerId};

/// First retry delay after a failure or a disconnect.
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(500);
/// Retry delay cap: a bootstrap node that is down for a long time is probed twice a minute.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Not connected; dial at `next`.
    Idle,
    Dialing(ConnectionId),
    Connected(PeerId),
    /// The address is our own listener.
    Ourselves,
}

#[derive(Debug)]
struct Entry {
    addr: Multiaddr,
    state: State,
    /// The peer that answered last time (so an inbound connection from it also satisfies us).
    peer: Option<PeerId>,
    backoff: Duration,
    next: Instant,
}

#[derive(Debug, Default)]
pub struct Bootstrap {
    entries: Vec<Entry>,
}

impl Bootstrap {
    pub fn new(addrs: &[Multiaddr], now: Instant) -> Bootstrap {
        Bootstrap {
            entries: addrs
                .iter()
                .map(|addr| Entry {
                    addr: addr.clone(),
                    state: State::Idle,
                    peer: None,
                    backoff: INITIAL_BACKOFF,
                    next: now,
                })
                .collect(),
        }
    }

    /// Addresses to dial now, as `(entry index, address)`. An idle entry whose last peer is
    /// connected anyway (e.g. it dialled us) becomes satisfied without a dial.
    pub fn due(
        &mut self,
        now: Instant,
        is_connected: impl Fn(&PeerId) -> bool,
    ) -> Vec<(usize, Multiaddr)> {
        let mut out = Vec::new();
        for (i, e) in self.entries.iter_mut().enumerate() {
            if e.state != State::Idle {
                continue;
            }
            if let Some(p) = e.peer.filter(|p| is_connected(p)) {
                e.state = State::Connected(p);
                continue;
            }
            if e.next <= now {
                out.push((i, e.addr.clone()));
            }
        }
        out
    }

    /// The dial for entry `index` started as connection `id`.
    pub fn dialing(&mut self, index: usize, id: ConnectionId) {
        if let Some(e) = self.entries.get_mut(index) {
            e.state = State::Dialing(id);
        }
    }

    /// The dial for entry `index` could not even start: retry after the backoff.
    pub fn dial_refused(&mut self, index: usize, now: Instant) {
        if let Some(e) = self.entries.get_mut(index) {
            Self::back_off(e, now);
        }
    }

    /// Connection `id` was established with `peer`.
    pub fn established(&mut self, id: ConnectionId, peer: PeerId) {
        for e in &mut self.entries {
            if e.state == State::Dialing(id) {
                e.state = State::Connected(peer);
                e.peer = Some(peer);
                e.backoff = INITIAL_BACKOFF;
            }
        }
    }

    /// The dial of connection `id` failed; `ourselves` if the remote turned out to be us.
    pub fn failed(&mut self, id: ConnectionId, ourselves: bool, now: Instant) {
        for e in &mut self.entries {
            if e.state == State::Dialing(id) {
                if ourselves {
                    e.state = State::Ourselves;
                } else {
                    Self::back_off(e, now);
                }
            }
        }
    }

    /// Our last connection to `peer` closed: re-dial its bootstrap address after a short delay.
    pub fn disconnected(&mut self, peer: &PeerId, now: Instant) {
        for e in &mut self.entries {
            if e.state == State::Connected(*peer) {
                e.state = State::Idle;
                e.backoff = INITIAL_BACKOFF;
                e.next = now + INITIAL_BACKOFF;
            }
        }
    }

    fn back_off(e: &mut Entry, now: Instant) {
        e.state = State::Idle;
        e.next = now + e.backoff;
        e.backoff = (e.backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> Multiaddr {
        "/ip4/127.0.0.1/tcp/7000".parse().expect("valid")
    }

    #[test]
    fn backoff_doubles_and_resets() {
        let t0 = Instant::now();
        let mut b = Bootstrap::new(&[addr()], t0);
        let never = |_: &PeerId| false;
        assert_eq!(b.due(t0, never).len(), 1);
        let c1 = ConnectionId::new_unchecked(1);
        b.dialing(0, c1);
        assert!(b.due(t0, never).is_empty(), "no second dial while dialling");
        b.failed(c1, false, t0);
        assert!(b.due(t0 + Duration::from_millis(499), never).is_empty());
        assert_eq!(b.due(t0 + INITIAL_BACKOFF, never).len(), 1);
        let c2 = ConnectionId::new_unchecked(2);
        b.dialing(0, c2);
        b.failed(c2, false, t0);
        assert!(b.due(t0 + Duration::from_millis(999), never).is_empty());
        assert_eq!(b.due(t0 + Duration::from_secs(1), never).len(), 1);

        let c3 = ConnectionId::new_unchecked(3);
        b.dialing(0, c3);
        let peer = PeerId::random();
        b.established(c3, peer);
        assert!(b.due(t0 + Duration::from_secs(100), never).is_empty());
        b.disconnected(&peer, t0);
        assert!(b.due(t0, never).is_empty());
        assert_eq!(b.due(t0 + INITIAL_BACKOFF, never).len(), 1);
        // The same peer reconnecting by itself satisfies the entry without a dial.
        assert!(b.due(t0 + INITIAL_BACKOFF, |p| *p == peer).is_empty());
    }

    #[test]
    fn backoff_is_capped_and_self_is_skipped() {
        let t0 = Instant::now();
        let mut b = Bootstrap::new(&[addr()], t0);
        for i in 0..20 {
            b.dialing(0, ConnectionId::new_unchecked(i));
            b.failed(ConnectionId::new_unchecked(i), false, t0);
        }
        assert_eq!(b.entries[0].backoff, MAX_BACKOFF);
        b.dialing(0, ConnectionId::new_unchecked(99));
        b.failed(ConnectionId::new_unchecked(99), true, t0);
        assert!(b.due(t0 + Duration::from_secs(3600), |_| false).is_empty());
    }
}
