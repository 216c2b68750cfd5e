//! The canonical binary encoding of spores.
//!
//! Exactly one byte string encodes a given spore, and decoding accepts only that string
//! (`decode_spore(encode_spore(s)) == s` and anything else is refused), because the id is the
//! hash of these bytes and signatures cover the id. Rules:
//! - integers are fixed-width big-endian; lengths and counts are u32 big-endian;
//! - byte strings are `u32 length ‖ bytes`; booleans are 0 or 1; enums are their stable byte;
//! - big integers are minimal two's-complement big-endian (zero is the empty string);
//! - prerequisites must be strictly sorted (so unique); trailing bytes are refused.
//!
//! The decoder never allocates more than the input could hold: every declared count is checked
//! against the bytes that remain before anything is reserved.
//!
//! Layout (v1): `0x01 ‖ origin[32] ‖ nonce u64 ‖ deadline_ms u64 ‖ key_prereqs ‖ db_prereqs ‖ ops`;
//! a key prerequisite is `key ‖ flag ‖ order[32] ‖ (acc[32] if flag bit 0) ‖ (members if flag
//! bit 1)` where members are `count u32 ‖ (member bytes ‖ flag ‖ order[32] ‖ (acc[32] if flag
//! = 1))*`, strictly sorted by member, and bit 1 is set exactly when there is at least one (so
//! a spore without member prerequisites encodes as it did before they existed), a key is
//! `db u8 ‖ bytes`, a db prerequisite is `db u8 ‖ version[32]`, an op is `tag u8 ‖ fields` in
//! declaration order (see `op.rs`). Golden bytes are pinned in `tests/wire_stability.rs`.

use bytes::Bytes;
use num_bigint::BigInt;

use super::op::{End, ExpireCond, Op, SetAlgebra, SetCond, Ttl};
use super::{DbPrereq, Key, KeyPrereq, MemberPrereq, Spore, DATABASES};

/// The format version byte.
pub const SPORE_FORMAT: u8 = 1;

/// Why bytes are not a canonical spore.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid spore encoding: {0}")]
pub struct DecodeError(pub &'static str);

/// Appends canonical fields to a buffer.
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn fixed(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }
    pub fn bool(&mut self, v: bool) {
        self.buf.push(v as u8);
    }
    pub fn bytes(&mut self, v: &[u8]) {
        // Lengths above u32 cannot reach here: the front end caps arguments far below 4 GiB.
        self.u32(v.len() as u32);
        self.buf.extend_from_slice(v);
    }
    pub fn count(&mut self, n: usize) {
        self.u32(n as u32);
    }
    pub fn key(&mut self, k: &Key) {
        self.u8(k.db);
        self.bytes(&k.name);
    }
    pub fn bigint(&mut self, v: &BigInt) {
        let bytes = if v.sign() == num_bigint::Sign::NoSign {
            Vec::new()
        } else {
            v.to_signed_bytes_be()
        };
        self.bytes(&bytes);
    }
}

/// Reads canonical fields from a byte slice, refusing anything out of range.
pub struct Reader<'a> {
    input: &'a [u8],
    /// The buffer the input came from, so byte strings are zero-copy slices of it.
    source: Bytes,
    pos: usize,
}

type R<T> = Result<T, DecodeError>;

impl<'a> Reader<'a> {
    pub fn new(source: &'a Bytes) -> Reader<'a> {
        Reader {
            input: source.as_ref(),
            source: source.clone(),
            pos: 0,
        }
    }
    pub fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }
    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        if self.remaining() < n {
            return Err(DecodeError("truncated"));
        }
        let s = &self.input[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    pub fn u8(&mut self) -> R<u8> {
        Ok(self.take(1)?[0])
    }
    pub fn u32(&mut self) -> R<u32> {
        Ok(u32::from_be_bytes(
            self.take(4)?
                .try_into()
                .map_err(|_| DecodeError("truncated"))?,
        ))
    }
    pub fn u64(&mut self) -> R<u64> {
        Ok(u64::from_be_bytes(
            self.take(8)?
                .try_into()
                .map_err(|_| DecodeError("truncated"))?,
        ))
    }
    pub fn i64(&mut self) -> R<i64> {
        Ok(i64::from_be_bytes(
            self.take(8)?
                .try_into()
                .map_err(|_| DecodeError("truncated"))?,
        ))
    }
    pub fn digest(&mut self) -> R<[u8; 32]> {
        self.take(32)?
            .try_into()
            .map_err(|_| DecodeError("truncated"))
    }
    pub fn signature(&mut self) -> R<[u8; 64]> {
        self.take(64)?
            .try_into()
            .map_err(|_| DecodeError("truncated"))
    }
    pub fn bool(&mut self) -> R<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError("boolean out of range")),
        }
    }
    pub fn bytes(&mut self) -> R<Bytes> {
        let len = self.u32()? as usize;
        let start = self.pos;
        self.take(len)?;
        Ok(self.source.slice(start..start + len))
    }
    /// A count of items each at least `min_item` bytes long, checked against what remains.
    pub fn count(&mut self, min_item: usize) -> R<usize> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_item.max(1)) > self.remaining() {
            return Err(DecodeError("count exceeds input"));
        }
        Ok(n)
    }
    pub fn key(&mut self) -> R<Key> {
        let db = self.u8()?;
        if db >= DATABASES {
            return Err(DecodeError("db index out of range"));
        }
        Ok(Key {
            db,
            name: self.bytes()?,
        })
    }
    pub fn bigint(&mut self) -> R<BigInt> {
        let b = self.bytes()?;
        if b.is_empty() {
            return Ok(BigInt::from(0));
        }
        let v = BigInt::from_signed_bytes_be(&b);
        // Minimal encoding only: re-encoding must give the same bytes.
        if v.sign() == num_bigint::Sign::NoSign || v.to_signed_bytes_be() != b.as_ref() {
            return Err(DecodeError("non-minimal integer"));
        }
        Ok(v)
    }
    pub fn finish(&self) -> R<()> {
        if self.remaining() != 0 {
            return Err(DecodeError("trailing bytes"));
        }
        Ok(())
    }
}

/// Minimum encoded sizes, used to bound declared counts.
const MIN_KEY: usize = 1 + 4;
const MIN_BYTES: usize = 4;
const MIN_OP: usize = 1;

/// Encodes a spore canonically.
pub fn encode_spore(s: &Spore) -> Vec<u8> {
    // Sized for a typical spore (a prerequisite or two and an op on short keys, ~150-250
    // bytes): grown from empty, every encoding reallocated five or six times, and a spore is
    // encoded for its id, its batch and its gossip (~9 % of a single node's driver CPU went to
    // growing vectors, most of it here).
    let mut w = Writer {
        buf: Vec::with_capacity(256),
    };
    w.u8(SPORE_FORMAT);
    w.fixed(&s.origin);
    w.u64(s.nonce);
    w.u64(s.deadline_ms);
    w.count(s.key_prereqs.len());
    for p in &s.key_prereqs {
        w.key(&p.key);
        let members = if p.members.is_empty() { 0 } else { 2 };
        w.u8(u8::from(p.acc.is_some()) | members);
        w.fixed(&p.order);
        if let Some(acc) = &p.acc {
            w.fixed(acc);
        }
        if !p.members.is_empty() {
            w.count(p.members.len());
            for m in &p.members {
                w.bytes(&m.member);
                w.u8(u8::from(m.acc.is_some()));
                w.fixed(&m.order);
                if let Some(acc) = &m.acc {
                    w.fixed(acc);
                }
            }
        }
    }
    w.count(s.db_prereqs.len());
    for p in &s.db_prereqs {
        w.u8(p.db);
        w.fixed(&p.version);
    }
    w.count(s.ops.len());
    for op in &s.ops {
        encode_op(&mut w, op);
    }
    w.buf
}

/// Decodes canonical spore bytes; anything non-canonical is an error.
pub fn decode_spore(input: &Bytes) -> Result<Spore, DecodeError> {
    let mut r = Reader::new(input);
    let spore = read_spore(&mut r)?;
    r.finish()?;
    Ok(spore)
}

/// Reads one spore from a reader (used inside larger messages such as batches).
pub fn read_spore(r: &mut Reader<'_>) -> Result<Spore, DecodeError> {
    if r.u8()? != SPORE_FORMAT {
        return Err(DecodeError("unknown format version"));
    }
    let origin = r.digest()?;
    let nonce = r.u64()?;
    let deadline_ms = r.u64()?;
    let n = r.count(MIN_KEY + 1 + 32)?;
    let mut key_prereqs: Vec<KeyPrereq> = Vec::with_capacity(n);
    for _ in 0..n {
        let key = r.key()?;
        let flag = r.u8()?;
        if flag > 3 {
            return Err(DecodeError("prerequisite flag out of range"));
        }
        let order = r.digest()?;
        let acc = if flag & 1 == 1 {
            Some(r.digest()?)
        } else {
            None
        };
        let mut members: Vec<MemberPrereq> = Vec::new();
        if flag & 2 == 2 {
            let n = r.count(MIN_BYTES + 1 + 32)?;
            if n == 0 {
                return Err(DecodeError("empty member prerequisite list"));
            }
            members.reserve(n);
            for _ in 0..n {
                let member = r.bytes()?;
                let flag = r.u8()?;
                let order = r.digest()?;
                let acc = match flag {
                    0 => None,
                    1 => Some(r.digest()?),
                    _ => return Err(DecodeError("member prerequisite flag out of range")),
                };
                if members.last().is_some_and(|last| last.member >= member) {
                    return Err(DecodeError("member prerequisites not strictly sorted"));
                }
                members.push(MemberPrereq { member, order, acc });
            }
        }
        if key_prereqs.last().is_some_and(|last| last.key >= key) {
            return Err(DecodeError("key prerequisites not strictly sorted"));
        }
        key_prereqs.push(KeyPrereq {
            key,
            order,
            acc,
            members,
        });
    }
    let n = r.count(1 + 32)?;
    let mut db_prereqs: Vec<DbPrereq> = Vec::with_capacity(n);
    for _ in 0..n {
        let db = r.u8()?;
        if db >= DATABASES {
            return Err(DecodeError("db index out of range"));
        }
        if db_prereqs.last().is_some_and(|last| last.db >= db) {
            return Err(DecodeError("db prerequisites not strictly sorted"));
        }
        db_prereqs.push(DbPrereq {
            db,
            version: r.digest()?,
        });
    }
    let n = r.count(MIN_OP)?;
    let mut ops = Vec::with_capacity(n);
    for _ in 0..n {
        ops.push(decode_op(r)?);
    }
    Ok(Spore {
        origin,
        nonce,
        deadline_ms,
        key_prereqs,
        db_prereqs,
        ops,
    })
}

fn encode_ttl(w: &mut Writer, ttl: &Ttl) {
    match ttl {
        Ttl::Clear => w.u8(0),
        Ttl::Keep => w.u8(1),
        Ttl::At(ms) => {
            w.u8(2);
            w.u64(*ms);
        }
    }
}

fn decode_ttl(r: &mut Reader<'_>) -> R<Ttl> {
    match r.u8()? {
        0 => Ok(Ttl::Clear),
        1 => Ok(Ttl::Keep),
        2 => Ok(Ttl::At(r.u64()?)),
        _ => Err(DecodeError("ttl kind out of range")),
    }
}

fn decode_end(r: &mut Reader<'_>) -> R<End> {
    match r.u8()? {
        0 => Ok(End::Left),
        1 => Ok(End::Right),
        _ => Err(DecodeError("list end out of range")),
    }
}

fn encode_list(w: &mut Writer, items: &[Bytes]) {
    w.count(items.len());
    items.iter().for_each(|i| w.bytes(i));
}

fn decode_list(r: &mut Reader<'_>) -> R<Vec<Bytes>> {
    let n = r.count(MIN_BYTES)?;
    (0..n).map(|_| r.bytes()).collect()
}

/// The size of one op's canonical encoding (what a policy's `max_op_bytes` limits).
pub fn encoded_op_len(op: &Op) -> usize {
    let mut w = Writer::default();
    encode_op(&mut w, op);
    w.buf.len()
}

fn encode_op(w: &mut Writer, op: &Op) {
    w.u8(op.tag());
    match op {
        Op::Set {
            key,
            value,
            cond,
            ttl,
            get,
        } => {
            w.key(key);
            w.bytes(value);
            w.u8(*cond as u8);
            encode_ttl(w, ttl);
            w.bool(*get);
        }
        Op::Del { key } | Op::GetDel { key } | Op::Persist { key } => w.key(key),
        Op::GetEx { key, ttl } => {
            w.key(key);
            encode_ttl(w, ttl);
        }
        Op::MSetNx { pairs } => {
            w.count(pairs.len());
            for (k, v) in pairs {
                w.key(k);
                w.bytes(v);
            }
        }
        Op::Append { key, data } => {
            w.key(key);
            w.bytes(data);
        }
        Op::SetRange { key, offset, data } => {
            w.key(key);
            w.u64(*offset);
            w.bytes(data);
        }
        Op::IncrBy { key, delta } => {
            w.key(key);
            w.bigint(delta);
        }
        Op::IncrByFloat { key, delta } => {
            w.key(key);
            w.bytes(delta);
        }
        Op::Expire {
            key,
            at_ms,
            cond,
            delete,
        } => {
            w.key(key);
            w.u64(*at_ms);
            w.u8(*cond as u8);
            w.bool(*delete);
        }
        Op::Rename { src, dst, nx } => {
            w.key(src);
            w.key(dst);
            w.bool(*nx);
        }
        Op::Push {
            key,
            end,
            elems,
            only_if_exists,
        } => {
            w.key(key);
            w.u8(*end as u8);
            encode_list(w, elems);
            w.bool(*only_if_exists);
        }
        Op::Pop { key, end, count } => {
            w.key(key);
            w.u8(*end as u8);
            match count {
                None => w.u8(0),
                Some(c) => {
                    w.u8(1);
                    w.u64(*c);
                }
            }
        }
        Op::LSet { key, index, elem } => {
            w.key(key);
            w.i64(*index);
            w.bytes(elem);
        }
        Op::LInsert {
            key,
            before,
            pivot,
            elem,
        } => {
            w.key(key);
            w.bool(*before);
            w.bytes(pivot);
            w.bytes(elem);
        }
        Op::LRem { key, count, elem } => {
            w.key(key);
            w.i64(*count);
            w.bytes(elem);
        }
        Op::LTrim { key, start, stop } => {
            w.key(key);
            w.i64(*start);
            w.i64(*stop);
        }
        Op::LMove { src, dst, from, to } => {
            w.key(src);
            w.key(dst);
            w.u8(*from as u8);
            w.u8(*to as u8);
        }
        Op::SAdd { key, members } | Op::SRem { key, members } | Op::SPop { key, members } => {
            w.key(key);
            encode_list(w, members);
        }
        Op::SMove { src, dst, member } => {
            w.key(src);
            w.key(dst);
            w.bytes(member);
        }
        Op::SetStore {
            dst,
            algebra,
            sources,
        } => {
            w.key(dst);
            w.u8(*algebra as u8);
            w.count(sources.len());
            sources.iter().for_each(|k| w.key(k));
        }
        Op::FlushDb { db } => w.u8(*db),
        Op::FlushAll => {}
        Op::PolicyChange { from, policy } => {
            w.fixed(from);
            w.bytes(policy);
        }
    }
}

fn decode_op(r: &mut Reader<'_>) -> R<Op> {
    let tag = r.u8()?;
    Ok(match tag {
        1 => Op::Set {
            key: r.key()?,
            value: r.bytes()?,
            cond: match r.u8()? {
                0 => SetCond::Always,
                1 => SetCond::Nx,
                2 => SetCond::Xx,
                _ => return Err(DecodeError("set condition out of range")),
            },
            ttl: decode_ttl(r)?,
            get: r.bool()?,
        },
        2 => Op::Del { key: r.key()? },
        3 => Op::GetDel { key: r.key()? },
        4 => Op::GetEx {
            key: r.key()?,
            ttl: decode_ttl(r)?,
        },
        5 => {
            let n = r.count(MIN_KEY + MIN_BYTES)?;
            let pairs = (0..n)
                .map(|_| Ok((r.key()?, r.bytes()?)))
                .collect::<R<Vec<_>>>()?;
            Op::MSetNx { pairs }
        }
        6 => Op::Append {
            key: r.key()?,
            data: r.bytes()?,
        },
        7 => Op::SetRange {
            key: r.key()?,
            offset: r.u64()?,
            data: r.bytes()?,
        },
        8 => Op::IncrBy {
            key: r.key()?,
            delta: r.bigint()?,
        },
        9 => Op::IncrByFloat {
            key: r.key()?,
            delta: r.bytes()?,
        },
        10 => Op::Expire {
            key: r.key()?,
            at_ms: r.u64()?,
            cond: match r.u8()? {
                0 => ExpireCond::Always,
                1 => ExpireCond::Nx,
                2 => ExpireCond::Xx,
                3 => ExpireCond::Gt,
                4 => ExpireCond::Lt,
                _ => return Err(DecodeError("expire condition out of range")),
            },
            delete: r.bool()?,
        },
        11 => Op::Persist { key: r.key()? },
        12 => Op::Rename {
            src: r.key()?,
            dst: r.key()?,
            nx: r.bool()?,
        },
        13 => Op::Push {
            key: r.key()?,
            end: decode_end(r)?,
            elems: decode_list(r)?,
            only_if_exists: r.bool()?,
        },
        14 => Op::Pop {
            key: r.key()?,
            end: decode_end(r)?,
            count: match r.u8()? {
                0 => None,
                1 => Some(r.u64()?),
                _ => return Err(DecodeError("option flag out of range")),
            },
        },
        15 => Op::LSet {
            key: r.key()?,
            index: r.i64()?,
            elem: r.bytes()?,
        },
        16 => Op::LInsert {
            key: r.key()?,
            before: r.bool()?,
            pivot: r.bytes()?,
            elem: r.bytes()?,
        },
        17 => Op::LRem {
            key: r.key()?,
            count: r.i64()?,
            elem: r.bytes()?,
        },
        18 => Op::LTrim {
            key: r.key()?,
            start: r.i64()?,
            stop: r.i64()?,
        },
        19 => Op::LMove {
            src: r.key()?,
            dst: r.key()?,
            from: decode_end(r)?,
            to: decode_end(r)?,
        },
        20 => Op::SAdd {
            key: r.key()?,
            members: decode_list(r)?,
        },
        21 => Op::SRem {
            key: r.key()?,
            members: decode_list(r)?,
        },
        22 => Op::SPop {
            key: r.key()?,
            members: decode_list(r)?,
        },
        23 => Op::SMove {
            src: r.key()?,
            dst: r.key()?,
            member: r.bytes()?,
        },
        24 => {
            let dst = r.key()?;
            let algebra = match r.u8()? {
                0 => SetAlgebra::Inter,
                1 => SetAlgebra::Union,
                2 => SetAlgebra::Diff,
                _ => return Err(DecodeError("set algebra out of range")),
            };
            let n = r.count(MIN_KEY)?;
            let sources = (0..n).map(|_| r.key()).collect::<R<Vec<_>>>()?;
            Op::SetStore {
                dst,
                algebra,
                sources,
            }
        }
        25 => {
            let db = r.u8()?;
            if db >= DATABASES {
                return Err(DecodeError("db index out of range"));
            }
            Op::FlushDb { db }
        }
        26 => Op::FlushAll,
        27 => Op::PolicyChange {
            from: r.digest()?,
            policy: r.bytes()?,
        },
        _ => return Err(DecodeError("unknown op tag")),
    })
}
