//! The canonical binary encoding of protocol messages (PROTOCOL.md §3.4).
//!
//! Same rules as `spore::codec`: fixed-width big-endian integers, u32 counts checked against the
//! remaining input before anything is allocated, strictly sorted id lists, no trailing bytes;
//! exactly one byte string per message, and decoding never panics. Layout (format 1):
//! `0x01 ‖ kind u8 ‖ body`, kind 1 = Bundle, 2 = Endorse, 3 = Want;
//! spore batch = `origin[32] ‖ u32 n ‖ (u32 len ‖ canonical spore)ⁿ ‖ sig[64]`;
//! endorse batch = `endorser[32] ‖ u32 n ‖ id[32]ⁿ ‖ sig[64]`;
//! reject batch = `rejecter[32] ‖ u32 n ‖ (id[32] ‖ reason u8)ⁿ ‖ sig[64]`;
//! bundle = `u32 n ‖ spore batchⁿ ‖ u32 n ‖ endorse batchⁿ ‖ u32 n ‖ reject batchⁿ`;
//! want = `u32 n ‖ id[32]ⁿ ‖ u32 n ‖ keyⁿ`. Golden bytes are pinned in the tests below.

use std::sync::Arc;

use bytes::Bytes;

use crate::spore::codec::{decode_spore, DecodeError, Reader, Writer};
use crate::spore::SporeId;

use super::message::{Bundle, EndorseBatch, Message, RejectBatch, RejectReason, SporeBatch, Want};

pub const MESSAGE_FORMAT: u8 = 1;
/// Bounds that keep one message's cost predictable (a flood of huge messages is refused early).
pub const MAX_BATCH: usize = 65_536;
pub const MAX_BUNDLE_PARTS: usize = 4_096;

type R<T> = Result<T, DecodeError>;

/// Encodes a message canonically.
pub fn encode_message(m: &Message) -> Vec<u8> {
    let mut w = Writer::default();
    w.u8(MESSAGE_FORMAT);
    match m {
        Message::Bundle(b) => {
            w.u8(1);
            w.count(b.spores.len());
            b.spores.iter().for_each(|s| write_spore_batch(&mut w, s));
            w.count(b.endorsements.len());
            b.endorsements.iter().for_each(|e| write_endorse(&mut w, e));
            w.count(b.rejections.len());
            b.rejections.iter().for_each(|r| write_reject(&mut w, r));
        }
        Message::Endorse(e) => {
            w.u8(2);
            write_endorse(&mut w, e);
        }
        Message::Want(want) => {
            w.u8(3);
            w.count(want.ids.len());
            want.ids.iter().for_each(|id| w.fixed(&id.0));
            w.count(want.keys.len());
            want.keys.iter().for_each(|k| w.key(k));
        }
    }
    w.buf
}

fn write_spore_batch(w: &mut Writer, b: &SporeBatch) {
    w.fixed(&b.origin);
    w.count(b.spores.len());
    for s in &b.spores {
        w.bytes(&s.encode());
    }
    w.fixed(&b.signature);
}

fn write_endorse(w: &mut Writer, e: &EndorseBatch) {
    w.fixed(&e.endorser);
    w.count(e.ids.len());
    e.ids.iter().for_each(|id| w.fixed(&id.0));
    w.fixed(&e.signature);
}

fn write_reject(w: &mut Writer, r: &RejectBatch) {
    w.fixed(&r.rejecter);
    w.count(r.entries.len());
    for (id, reason) in &r.entries {
        w.fixed(&id.0);
        w.u8(*reason as u8);
    }
    w.fixed(&r.signature);
}

/// Decodes canonical message bytes; anything else is an error (never a panic).
pub fn decode_message(input: &Bytes) -> R<Message> {
    let mut r = Reader::new(input);
    if r.u8()? != MESSAGE_FORMAT {
        return Err(DecodeError("unknown message format"));
    }
    let m = match r.u8()? {
        1 => {
            let n = bounded(r.count(32 + 4 + 64)?, MAX_BUNDLE_PARTS)?;
            let spores = (0..n)
                .map(|_| read_spore_batch(&mut r).map(Arc::new))
                .collect::<R<Vec<_>>>()?;
            let n = bounded(r.count(32 + 4 + 64)?, MAX_BUNDLE_PARTS)?;
            let endorsements = (0..n)
                .map(|_| read_endorse(&mut r).map(Arc::new))
                .collect::<R<Vec<_>>>()?;
            let n = bounded(r.count(32 + 4 + 64)?, MAX_BUNDLE_PARTS)?;
            let rejections = (0..n)
                .map(|_| read_reject(&mut r).map(Arc::new))
                .collect::<R<Vec<_>>>()?;
            Message::Bundle(Bundle {
                spores,
                endorsements,
                rejections,
            })
        }
        2 => Message::Endorse(Arc::new(read_endorse(&mut r)?)),
        3 => {
            let n = bounded(r.count(32)?, MAX_BATCH)?;
            let ids = (0..n)
                .map(|_| r.digest().map(SporeId))
                .collect::<R<Vec<_>>>()?;
            let n = bounded(r.count(5)?, MAX_BATCH)?;
            let keys = (0..n).map(|_| r.key()).collect::<R<Vec<_>>>()?;
            Message::Want(Want { ids, keys })
        }
        _ => return Err(DecodeError("unknown message kind")),
    };
    r.finish()?;
    Ok(m)
}

fn bounded(n: usize, max: usize) -> R<usize> {
    if n > max {
        return Err(DecodeError("count above protocol bound"));
    }
    Ok(n)
}

fn read_spore_batch(r: &mut Reader<'_>) -> R<SporeBatch> {
    let origin = r.digest()?;
    let n = bounded(r.count(4)?, MAX_BATCH)?;
    let mut spores = Vec::with_capacity(n);
    for _ in 0..n {
        // Each spore is length-prefixed and must be canonical on its own.
        let raw = r.bytes()?;
        spores.push(Arc::new(decode_spore(&raw)?));
    }
    Ok(SporeBatch::new(origin, spores, r.signature()?))
}

fn read_ids(r: &mut Reader<'_>) -> R<Vec<SporeId>> {
    let n = bounded(r.count(32)?, MAX_BATCH)?;
    let mut ids: Vec<SporeId> = Vec::with_capacity(n);
    for _ in 0..n {
        let id = SporeId(r.digest()?);
        if ids.last().is_some_and(|last| *last >= id) {
            return Err(DecodeError("ids not strictly increasing"));
        }
        ids.push(id);
    }
    Ok(ids)
}

fn read_endorse(r: &mut Reader<'_>) -> R<EndorseBatch> {
    let endorser = r.digest()?;
    let ids = read_ids(r)?;
    Ok(EndorseBatch {
        endorser,
        ids,
        signature: r.signature()?,
    })
}

fn read_reject(r: &mut Reader<'_>) -> R<RejectBatch> {
    let rejecter = r.digest()?;
    let n = bounded(r.count(33)?, MAX_BATCH)?;
    let mut entries: Vec<(SporeId, RejectReason)> = Vec::with_capacity(n);
    for _ in 0..n {
        let id = SporeId(r.digest()?);
        let reason =
            RejectReason::from_u8(r.u8()?).ok_or(DecodeError("reject reason out of range"))?;
        if entries.last().is_some_and(|(last, _)| *last >= id) {
            return Err(DecodeError("ids not strictly increasing"));
        }
        entries.push((id, reason));
    }
    Ok(RejectBatch {
        rejecter,
        entries,
        signature: r.signature()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::NodeKey;
    use crate::spore::{Key, KeyPrereq, KeyVersion, Op, Spore};

    fn spore() -> Arc<Spore> {
        let k = Key::new(0, "k");
        let v = KeyVersion {
            order: [3; 32],
            acc: [0; 32],
        };
        Arc::new(Spore {
            origin: NodeKey::from_seed([1; 32]).id(),
            nonce: 1,
            deadline_ms: 1000,
            key_prereqs: vec![KeyPrereq::full(k.clone(), v)],
            db_prereqs: vec![],
            ops: vec![Op::Del { key: k }],
        })
    }

    fn sample() -> Message {
        let key = NodeKey::from_seed([1; 32]);
        let batch = SporeBatch::sign(&key, vec![spore()]);
        let e = EndorseBatch::sign(&key, batch.ids().to_vec());
        let r = RejectBatch::sign(&key, vec![(batch.ids()[0], RejectReason::Veto)]);
        Message::Bundle(Bundle {
            spores: vec![Arc::new(batch)],
            endorsements: vec![Arc::new(e)],
            rejections: vec![Arc::new(r)],
        })
    }

    #[test]
    fn round_trips_and_verifies() {
        let m = sample();
        let bytes = Bytes::from(encode_message(&m));
        let back = decode_message(&bytes).expect("decodes");
        assert_eq!(back, m);
        let Message::Bundle(b) = back else {
            panic!("bundle")
        };
        assert!(b.spores[0].verify().is_ok());
        assert!(b.endorsements[0].verify().is_ok());
        assert!(b.rejections[0].verify().is_ok());
    }

    #[test]
    fn every_truncation_and_trailing_byte_is_refused() {
        let bytes = encode_message(&sample());
        for cut in 0..bytes.len() {
            assert!(
                decode_message(&Bytes::copy_from_slice(&bytes[..cut])).is_err(),
                "cut {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_message(&Bytes::from(longer)).is_err());
    }

    #[test]
    fn random_bytes_never_panic() {
        // A tiny deterministic generator: decoding garbage must fail cleanly.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let base = encode_message(&sample());
        for i in 0..2000 {
            let mut b = base.clone();
            for _ in 0..(1 + i % 5) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let pos = (x as usize) % b.len();
                b[pos] = (x >> 32) as u8;
            }
            let _ = decode_message(&Bytes::from(b));
        }
    }

    #[test]
    fn golden_bytes_of_an_endorsement() {
        // Frozen: an endorsement batch's bytes and signed payload. Changing them splits a
        // cluster and invalidates stored evidence; add a new format version instead.
        let key = NodeKey::from_seed([9; 32]);
        let e = EndorseBatch::sign(&key, vec![SporeId([0x42; 32])]);
        let bytes = encode_message(&Message::Endorse(Arc::new(e.clone())));
        assert_eq!(bytes.len(), 2 + 32 + 4 + 32 + 64);
        assert_eq!(&bytes[..2], &[1, 2]);
        assert_eq!(&bytes[2..34], &key.id());
        assert_eq!(&bytes[34..38], &[0, 0, 0, 1]);
        assert_eq!(&bytes[38..70], &[0x42; 32]);
        let payload = EndorseBatch::payload(&e.endorser, &e.ids);
        assert_eq!(&payload[..], &bytes[2..70]);
        assert_eq!(
            hex::encode(
                &crate::crypto::signing_bytes(super::super::message::DOMAIN_ENDORSE, &payload)
                    [..19]
            ),
            hex::encode(b"sporedb/v1/endorse\0")
        );
        // ed25519 is deterministic: the signature itself is pinned too.
        assert_eq!(hex::encode(&e.signature[..8]), GOLDEN_SIG_PREFIX);
    }

    const GOLDEN_SIG_PREFIX: &str = "2c6bf6f9d3b237cf";
}
