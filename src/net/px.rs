//! Peer exchange: "which cluster nodes are you connected to, and where do they listen?"
//!
//! Why not Kademlia: a sporedb cluster is tens of nodes that all want a direct connection to
//! every other node (endorsements go everywhere), so a DHT's routing table buys nothing and costs
//! a dependency and its query traffic. Identify tells us where a peer listens; this tiny
//! request-response protocol tells us where *its* peers listen, so a node that knows one
//! bootstrap peer reaches everyone in one or two rounds.
//!
//! Wire format (request = empty body): `0x01 ‖ u16 n ‖ (node_id[32] ‖ u8 m ‖ (u16 len ‖
//! multiaddr)^m)^n`, all big-endian, entries strictly sorted by node id, no trailing bytes.
//! Counts and lengths are bounded and checked against the remaining input before use, so a
//! hostile answer cannot make us allocate or dial more than `MAX_PEERS × MAX_ADDRS` addresses.

use std::collections::BTreeMap;

use libp2p::Multiaddr;

use crate::crypto::NodeId;

const FORMAT: u8 = 1;
/// Most peers listed in one answer (a cluster larger than this still converges over rounds).
pub const MAX_PEERS: usize = 64;
/// Most addresses listed per peer.
pub const MAX_ADDRS: usize = 4;
/// Longest multiaddr accepted (a `/ip6/…/tcp/…/p2p/…` address is well under 100 bytes).
pub const MAX_ADDR_LEN: usize = 128;
/// Upper bound of an encoded answer, used as the protocol's frame limit.
pub const MAX_BYTES: usize = 3 + MAX_PEERS * (32 + 1 + MAX_ADDRS * (2 + MAX_ADDR_LEN));

/// Why a peer-exchange answer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PxError {
    #[error("peer exchange: unknown format {0}")]
    Format(u8),
    #[error("peer exchange: truncated")]
    Truncated,
    #[error("peer exchange: {0} peers exceeds the limit of {MAX_PEERS}")]
    TooManyPeers(usize),
    #[error("peer exchange: {0} addresses exceeds the limit of {MAX_ADDRS}")]
    TooManyAddrs(usize),
    #[error("peer exchange: address of {0} bytes exceeds the limit of {MAX_ADDR_LEN}")]
    AddrTooLong(usize),
    #[error("peer exchange: invalid multiaddr")]
    BadAddr,
    #[error("peer exchange: node ids not strictly increasing")]
    Unsorted,
    #[error("peer exchange: trailing bytes")]
    Trailing,
}

/// Encodes an answer; peers beyond `MAX_PEERS`, addresses beyond `MAX_ADDRS` and over-long
/// addresses are left out (the map's order makes the choice deterministic).
pub fn encode(peers: &BTreeMap<NodeId, Vec<Multiaddr>>) -> Vec<u8> {
    let mut out = vec![FORMAT];
    let n = peers.len().min(MAX_PEERS);
    out.extend_from_slice(&(n as u16).to_be_bytes());
    for (id, addrs) in peers.iter().take(n) {
        out.extend_from_slice(id);
        let addrs: Vec<Vec<u8>> = addrs
            .iter()
            .map(|a| a.to_vec())
            .filter(|a| a.len() <= MAX_ADDR_LEN)
            .take(MAX_ADDRS)
            .collect();
        out.push(addrs.len() as u8);
        for a in addrs {
            out.extend_from_slice(&(a.len() as u16).to_be_bytes());
            out.extend_from_slice(&a);
        }
    }
    out
}

/// A bounds-checked cursor over untrusted bytes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PxError> {
        if self.0.len() < n {
            return Err(PxError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, PxError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<usize, PxError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]) as usize)
    }
}

/// Decodes an answer.
pub fn decode(bytes: &[u8]) -> Result<BTreeMap<NodeId, Vec<Multiaddr>>, PxError> {
    let mut r = Reader(bytes);
    let format = r.u8()?;
    if format != FORMAT {
        return Err(PxError::Format(format));
    }
    let n = r.u16()?;
    if n > MAX_PEERS {
        return Err(PxError::TooManyPeers(n));
    }
    let mut out = BTreeMap::new();
    let mut last: Option<NodeId> = None;
    for _ in 0..n {
        let mut id = [0u8; 32];
        id.copy_from_slice(r.take(32)?);
        if last.is_some_and(|l| l >= id) {
            return Err(PxError::Unsorted);
        }
        last = Some(id);
        let m = r.u8()? as usize;
        if m > MAX_ADDRS {
            return Err(PxError::TooManyAddrs(m));
        }
        let mut addrs = Vec::with_capacity(m);
        for _ in 0..m {
            let len = r.u16()?;
            if len > MAX_ADDR_LEN {
                return Err(PxError::AddrTooLong(len));
            }
            let addr = Multiaddr::try_from(r.take(len)?.to_vec()).map_err(|_| PxError::BadAddr)?;
            addrs.push(addr);
        }
        out.insert(id, addrs);
    }
    if !r.0.is_empty() {
        return Err(PxError::Trailing);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Multiaddr {
        s.parse().expect("valid multiaddr")
    }

    #[test]
    fn round_trip_and_golden_prefix() {
        let mut peers = BTreeMap::new();
        peers.insert([2u8; 32], vec![addr("/ip4/127.0.0.1/tcp/4001")]);
        peers.insert([1u8; 32], vec![]);
        let bytes = encode(&peers);
        assert_eq!(&bytes[..3], &[1, 0, 2]);
        assert_eq!(&bytes[3..35], &[1u8; 32]);
        assert_eq!(bytes[35], 0);
        assert_eq!(decode(&bytes), Ok(peers));
    }

    #[test]
    fn limits_are_enforced_on_encode() {
        let many: Vec<Multiaddr> = (0..10)
            .map(|p| addr(&format!("/ip4/10.0.0.1/tcp/{}", 1000 + p)))
            .collect();
        let peers: BTreeMap<NodeId, Vec<Multiaddr>> =
            (0..100u8).map(|i| ([i; 32], many.clone())).collect();
        let bytes = encode(&peers);
        assert!(bytes.len() <= MAX_BYTES);
        let back = decode(&bytes).expect("decodes");
        assert_eq!(back.len(), MAX_PEERS);
        assert!(back.values().all(|a| a.len() == MAX_ADDRS));
    }

    #[test]
    fn hostile_answers_are_refused() {
        assert_eq!(decode(&[]), Err(PxError::Truncated));
        assert_eq!(decode(&[9, 0, 0]), Err(PxError::Format(9)));
        assert_eq!(decode(&[1, 0xff, 0xff]), Err(PxError::TooManyPeers(65535)));
        assert_eq!(decode(&[1, 0, 1]), Err(PxError::Truncated));
        let mut one = vec![1, 0, 1];
        one.extend_from_slice(&[5; 32]);
        one.push(200);
        assert_eq!(decode(&one), Err(PxError::TooManyAddrs(200)));
        let mut long = vec![1, 0, 1];
        long.extend_from_slice(&[5; 32]);
        long.extend_from_slice(&[1, 0xff, 0xff]);
        assert_eq!(decode(&long), Err(PxError::AddrTooLong(65535)));
        let mut junk = vec![1, 0, 1];
        junk.extend_from_slice(&[5; 32]);
        junk.extend_from_slice(&[1, 0, 2, 0xff, 0xff]);
        assert_eq!(decode(&junk), Err(PxError::BadAddr));
        let mut unsorted = vec![1, 0, 2];
        unsorted.extend_from_slice(&[5; 32]);
        unsorted.push(0);
        unsorted.extend_from_slice(&[5; 32]);
        unsorted.push(0);
        assert_eq!(decode(&unsorted), Err(PxError::Unsorted));
        let mut trailing = encode(&BTreeMap::new());
        trailing.push(0);
        assert_eq!(decode(&trailing), Err(PxError::Trailing));
    }
}
