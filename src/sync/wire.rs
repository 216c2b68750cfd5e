//! State-transfer messages. Every message starts with [`SYNC_TAG`] (consensus messages start
//! with their format byte, 1), then a kind byte. Decoding bounds every count by the bytes that
//! remain, so a hostile length cannot make the node allocate.

use bytes::Bytes;

use crate::root::Root;
use crate::spore::codec::{DecodeError, Reader, Writer};

/// First byte of every state-transfer message.
pub const SYNC_TAG: u8 = b'S';

/// What a catching-up node asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncRequest {
    /// "What is your state root, signed?" (cheap: the root is maintained at every commit).
    Root,
    /// Entries of one table after `after` (exclusive; `None` = from the start), up to about
    /// `max_bytes`.
    Page {
        table: u8,
        after: Option<Bytes>,
        max_bytes: u32,
    },
}

/// The answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncResponse {
    /// The answering node's root and its signature of it (`root::attest`; the signer is the
    /// peer that answered, checked by the asker).
    Root { root: Root, signature: [u8; 64] },
    /// Entries ascending; `more` when the table continues after the last one.
    Page {
        entries: Vec<(Bytes, Bytes)>,
        more: bool,
    },
}

impl SyncRequest {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(SYNC_TAG);
        match self {
            SyncRequest::Root => w.u8(3),
            SyncRequest::Page {
                table,
                after,
                max_bytes,
            } => {
                w.u8(2);
                w.u8(*table);
                match after {
                    None => w.u8(0),
                    Some(k) => {
                        w.u8(1);
                        w.bytes(k);
                    }
                }
                w.u32(*max_bytes);
            }
        }
        w.buf
    }

    pub fn decode(data: &Bytes) -> Result<SyncRequest, DecodeError> {
        let mut r = Reader::new(data);
        if r.u8()? != SYNC_TAG {
            return Err(DecodeError("not a sync message"));
        }
        let req = match r.u8()? {
            3 => SyncRequest::Root,
            2 => {
                let table = r.u8()?;
                let after = match r.u8()? {
                    0 => None,
                    1 => Some(r.bytes()?),
                    _ => return Err(DecodeError("bad option tag")),
                };
                SyncRequest::Page {
                    table,
                    after,
                    max_bytes: r.u32()?,
                }
            }
            _ => return Err(DecodeError("unknown sync request")),
        };
        r.finish()?;
        Ok(req)
    }
}

impl SyncResponse {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(SYNC_TAG);
        match self {
            SyncResponse::Root { root, signature } => {
                w.u8(3);
                w.fixed(&root.root);
                w.fixed(&root.applied_digest);
                w.u64(root.applied_count);
                w.fixed(signature);
            }
            SyncResponse::Page { entries, more } => {
                w.u8(2);
                w.bool(*more);
                w.count(entries.len());
                for (k, v) in entries {
                    w.bytes(k);
                    w.bytes(v);
                }
            }
        }
        w.buf
    }

    pub fn decode(data: &Bytes) -> Result<SyncResponse, DecodeError> {
        let mut r = Reader::new(data);
        if r.u8()? != SYNC_TAG {
            return Err(DecodeError("not a sync message"));
        }
        let resp = match r.u8()? {
            3 => SyncResponse::Root {
                root: Root {
                    root: r.digest()?,
                    applied_digest: r.digest()?,
                    applied_count: r.u64()?,
                },
                signature: r.signature()?,
            },
            2 => {
                let more = r.bool()?;
                let n = r.count(8)?;
                let mut entries = Vec::with_capacity(n);
                for _ in 0..n {
                    let k = r.bytes()?;
                    let v = r.bytes()?;
                    entries.push((k, v));
                }
                SyncResponse::Page { entries, more }
            }
            _ => return Err(DecodeError("unknown sync response")),
        };
        r.finish()?;
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_junk() {
        let reqs = [
            SyncRequest::Root,
            SyncRequest::Page {
                table: 1,
                after: Some(Bytes::from_static(b"k")),
                max_bytes: 1 << 20,
            },
            SyncRequest::Page {
                table: 0,
                after: None,
                max_bytes: 10,
            },
        ];
        for q in reqs {
            assert_eq!(SyncRequest::decode(&Bytes::from(q.encode())), Ok(q));
        }
        let resps = [
            SyncResponse::Root {
                root: Root {
                    root: [7; 32],
                    applied_digest: [8; 32],
                    applied_count: 9,
                },
                signature: [5; 64],
            },
            SyncResponse::Page {
                entries: vec![(Bytes::from_static(b"a"), Bytes::from_static(b""))],
                more: true,
            },
        ];
        for p in resps {
            assert_eq!(SyncResponse::decode(&Bytes::from(p.encode())), Ok(p));
        }
        // A huge declared count is refused without allocating.
        let mut w = Writer::default();
        w.u8(SYNC_TAG);
        w.u8(2);
        w.bool(false);
        w.u32(u32::MAX);
        assert!(SyncResponse::decode(&Bytes::from(w.buf)).is_err());
        assert!(SyncRequest::decode(&Bytes::from_static(b"S\x09")).is_err());
        // The v1 digest request (kind 1) is gone: refused, not misread.
        assert!(SyncRequest::decode(&Bytes::from_static(b"S\x01")).is_err());
        assert!(SyncRequest::decode(&Bytes::from_static(b"")).is_err());
    }
}
