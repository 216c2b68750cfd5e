//! The on-disk format: table key layouts and record encodings. **Frozen**: replicas compare
//! `state_digest`s over these bytes and stores outlive binaries, so a change needs a new
//! `FORMAT_VERSION` and a migration, never an edit. The golden test below pins every layout.
//!
//! | table     | key                                              | value                          |
//! |-----------|--------------------------------------------------|--------------------------------|
//! | `keys`    | `db u8 ‖ name`                                   | key record (below)             |
//! | `elems`   | `db u8 ‖ name len u32 BE ‖ name ‖ sub`           | list element / empty (set)     |
//! | `dbs`     | `db u8`                                          | `generation[32] ‖ sum[32] ‖ live keys u64 BE` |
//! | `dbs`     | `0x00 ‖ "policy"` (the one reserved record)        | policy record (below)          |
//! | `expires` | `db u8 ‖ at_ms u64 BE ‖ name`                    | empty                          |
//! | `applied` | `deadline_ms u64 BE ‖ spore id[32]`              | empty                          |
//! | `meta`    | `"format"`                                       | `u32 BE` format version        |
//! | `scan`    | `db u8 ‖ h64(name) u64 BE ‖ name`                | empty                          |
//! | `nodes`   | `version u64 BE ‖ borsh(nibble path)`            | `borsh(jmt Node)` (not replicated) |
//! | `root`    | `"tree"` / `"applied"`                           | `version u64 BE ‖ root[32]` / `LtHash state[2048] ‖ count u64 BE` (not replicated) |
//!
//! Key record: `kind u8 ‖ expire_at_ms u64 BE (0 = none) ‖ order[32] ‖ acc[32] ‖ payload`, where
//! kind 0 = tombstone (no payload), 1 = string (payload = the bytes), 2 = list (payload =
//! `head ‖ tail`, each an order-preserving i64: elements live at indexes `head..tail`), 3 = set
//! (payload = cardinality u64 BE; cardinality 0 marks an *emptied set that kept its TTL*, which
//! is invisible like a tombstone: see `exec/sets.rs` for why). A list element's `sub` is its
//! index as an order-preserving i64 (`i64 as u64 ^ 1<<63`, big-endian); a set member's `sub` is
//! `h64(member) u64 BE ‖ member`, so a set iterates in hash order (SSCAN resumes at a hash).
//!
//! Policy record (`POLICY_KEY`, written by an applied `Op::PolicyChange`): `format u8 (1) ‖
//! from[32] ‖ policy text`, the base hash and the exact TOML bytes of the last global-policy
//! change applied (docs/CLUSTER.md §3.4). It lives in `dbs` so that the state root covers it and
//! state transfer copies and checks it like every database record; its key is 7 bytes long, so
//! it can never be a database record (those are 1 byte), and FLUSHDB/FLUSHALL, which only
//! rewrite `[db]` records, never touch it. It starts with 0x00: its leaf sits in database 0's
//! subtree (`root::leaf`). A store without it is a cluster that never changed its policy by a
//! spore (adding it needed no format change: older stores simply lack it).
//!
//! `h64(bytes)` is the first 8 bytes of sha3-256(bytes), read big-endian: a fixed function, not
//! a seeded hash, because the tables it orders are replicated state. The `scan` table lists
//! every key that has a *live* record (not a tombstone, not an emptied set; TTLs that passed
//! still count until the key is deleted, as for DBSIZE) in hash order: SCAN cursors and
//! RANDOMKEY positions are hashes, so a cursor is a u64 whatever the key length (see
//! `cursor.rs`). `expires` starts with the db so FLUSHDB finds a db's entries by prefix.
//! `applied` starts with the spore's deadline: ids are random, so keyed by id alone a group of
//! spores dirtied one random page each at commit (most of a group commit's cost); deadlines
//! grow with time, so the group's entries land on a few pages at the end of the table (and
//! entries whose deadline is long past can one day be pruned by range).
//!
//! Format history: 1 = first release; 2 adds `scan`, puts the db first in `expires`, the
//! deadline first in `applied`, and hashes set members; 3 adds the state tree's tables
//! `nodes` and `root` (`crate::root`), no other change; 4 makes `dbs` entries leaves of the
//! state tree too (so a root covers database versions, and state transfer can verify them) and
//! hashes the applied set with LtHash16 (`root::applied`); no replicated table changed; 5 puts
//! each leaf's database in the first nibble of its tree key (per-database subtrees,
//! `root::dbroots`) and expands LtHash16 elements with BLAKE3 instead of SHAKE128; again no
//! replicated table changed. A version-2, -3 or -4 store is upgraded at open (the tree and the
//! applied digest are rebuilt from its data, then the format becomes 5). A store of any other version is refused at open (`StoreError::Format`): there
//! is no migration, a node rebuilds its data directory from its peers.
//!
//! LMDB keys are limited to 511 bytes (fixed at build time, the same on every node), which
//! bounds names and members: see `name_fits` / `member_fits`. Command handlers refuse longer
//! ones at admission; the executor answers `KeyTooLong` if one reaches it anyway.

use sha3::{Digest as _, Sha3_256};

use crate::spore::{DbState, Key, KeyVersion, MemberVersion, SporeId};

use super::error::StoreError;

/// The format version stored in `meta`.
pub const FORMAT_VERSION: u32 = 6;
/// Older formats upgraded at open by (re)building the state tree and applied digest: 2 has no
/// tree, 3's tree does not cover `dbs`, 4 keys leaves without the database nibble and hashes
/// the applied set with SHAKE128, 5 stores the tree's nodes in the `nodes` table (6 keeps them
/// in memory and records the root's breakdown by database, `root::resident`; a format-5 build
/// would find no nodes, hence the bump). None changed any other table's bytes.
pub const FORMAT_UPGRADABLE: [u32; 4] = [2, 3, 4, 5];
/// The `meta` key holding the format version.
pub const META_FORMAT: &[u8] = b"format";

/// LMDB's compiled-in maximum key size.
pub const MAX_TABLE_KEY: usize = 511;
/// The longest key name the store accepts (an `expires` or list `elems` key must fit).
pub const MAX_NAME: usize = MAX_TABLE_KEY - 13;

/// Bytes of a record before its payload.
pub const RECORD_HEADER: usize = 1 + 8 + 32 + 32;

/// Whether a key name fits the store's key-size limit.
pub fn name_fits(name: &[u8]) -> bool {
    name.len() <= MAX_NAME
}

/// Whether a set member of key `name` fits the store's key-size limit.
pub fn member_fits(name: &[u8], member: &[u8]) -> bool {
    5 + name.len() + 8 + member.len() <= MAX_TABLE_KEY
}

/// The fixed 64-bit hash ordering the `scan` table and set members: the first 8 bytes of
/// sha3-256, big-endian.
pub fn h64(bytes: &[u8]) -> u64 {
    let d = Sha3_256::digest(bytes);
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    u64::from_be_bytes(first)
}

/// The `scan` table key of `key`.
pub fn scan_key(key: &Key) -> Vec<u8> {
    hashed_key(&[key.db], &key.name)
}

/// `prefix ‖ h64(item) BE ‖ item`: an entry of a hash-ordered index (`scan`, set members).
pub fn hashed_key(prefix: &[u8], item: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + 8 + item.len());
    k.extend_from_slice(prefix);
    k.extend_from_slice(&h64(item).to_be_bytes());
    k.extend_from_slice(item);
    k
}

/// Splits the rest of a hash-ordered index key (after its prefix) into (hash, item).
pub fn split_hashed(rest: &[u8]) -> Result<(u64, &[u8]), StoreError> {
    if rest.len() < 8 {
        return Err(StoreError::Corrupt("short hash-ordered index key"));
    }
    let (h, item) = rest.split_at(8);
    let mut arr = [0u8; 8];
    arr.copy_from_slice(h);
    Ok((u64::from_be_bytes(arr), item))
}

/// The kind of a key record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tombstone = 0,
    String = 1,
    List = 2,
    Set = 3,
}

/// A decoded key record's payload, borrowing string bytes from the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload<'a> {
    Tombstone,
    String(&'a [u8]),
    /// Elements at indexes `head..tail`.
    List {
        head: i64,
        tail: i64,
    },
    Set {
        card: u64,
    },
}

impl Payload<'_> {
    pub fn kind(&self) -> Kind {
        match self {
            Payload::Tombstone => Kind::Tombstone,
            Payload::String(_) => Kind::String,
            Payload::List { .. } => Kind::List,
            Payload::Set { .. } => Kind::Set,
        }
    }
}

/// A decoded key record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRecord<'a> {
    /// Absolute unix ms; 0 = no TTL.
    pub expire_at_ms: u64,
    pub version: KeyVersion,
    pub payload: Payload<'a>,
}

impl RawRecord<'_> {
    /// Whether the record holds a visible value (not a tombstone, not an emptied set).
    pub fn is_live(&self) -> bool {
        !matches!(self.payload, Payload::Tombstone | Payload::Set { card: 0 })
    }
}

/// Calls `f` with the `keys` table key of `key`, built on the stack when the name is short
/// (every point read of a key goes through here: no allocation for the common case).
pub fn with_key_key<R>(key: &Key, f: impl FnOnce(&[u8]) -> R) -> R {
    let mut buf = [0u8; 128];
    match buf.get_mut(1..=key.name.len()) {
        Some(name) => {
            name.copy_from_slice(&key.name);
            buf[0] = key.db;
            f(&buf[..=key.name.len()])
        }
        None => f(&key_key(key)),
    }
}

/// `keys` table key.
pub fn key_key(key: &Key) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + key.name.len());
    k.push(key.db);
    k.extend_from_slice(&key.name);
    k
}

/// The `keys` table key back to a `Key`.
pub fn decode_key_key(k: &[u8]) -> Result<Key, StoreError> {
    match k.split_first() {
        Some((db, name)) => Ok(Key::new(*db, bytes::Bytes::copy_from_slice(name))),
        None => Err(StoreError::Corrupt("empty key in keys table")),
    }
}

/// The `elems` prefix of one key: every element / member key starts with it.
pub fn elems_prefix(key: &Key) -> Vec<u8> {
    let mut k = Vec::with_capacity(5 + key.name.len() + 8);
    k.push(key.db);
    k.extend_from_slice(&(key.name.len() as u32).to_be_bytes());
    k.extend_from_slice(&key.name);
    k
}

/// An order-preserving encoding of an i64.
pub fn ordered_i64(v: i64) -> [u8; 8] {
    ((v as u64) ^ (1 << 63)).to_be_bytes()
}

/// Inverse of `ordered_i64`.
pub fn decode_ordered_i64(b: &[u8]) -> Result<i64, StoreError> {
    let arr: [u8; 8] = b
        .try_into()
        .map_err(|_| StoreError::Corrupt("bad ordered i64"))?;
    Ok((u64::from_be_bytes(arr) ^ (1 << 63)) as i64)
}

/// `elems` key of a list element.
pub fn list_elem_key(prefix: &[u8], index: i64) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + 8);
    k.extend_from_slice(prefix);
    k.extend_from_slice(&ordered_i64(index));
    k
}

/// `elems` key of a set member (`prefix` is the set's `elems_prefix`).
pub fn set_member_key(prefix: &[u8], member: &[u8]) -> Vec<u8> {
    hashed_key(prefix, member)
}

/// The member of a set's `elems` key (`prefix` is the set's `elems_prefix`).
pub fn decode_set_member<'k>(prefix: &[u8], k: &'k [u8]) -> Result<&'k [u8], StoreError> {
    match k.get(prefix.len()..) {
        Some(rest) => Ok(split_hashed(rest)?.1),
        None => Err(StoreError::Corrupt("short set member key")),
    }
}

/// `members` table key of a set member's version: the member's `elems` key.
pub fn member_version_key(key: &Key, member: &[u8]) -> Vec<u8> {
    set_member_key(&elems_prefix(key), member)
}

/// `members` table value: `stamp[32] ‖ order[32] ‖ acc[32]`.
pub fn encode_member_version(v: &MemberVersion) -> [u8; 96] {
    let mut out = [0u8; 96];
    out[..32].copy_from_slice(&v.stamp);
    out[32..64].copy_from_slice(&v.version.order);
    out[64..].copy_from_slice(&v.version.acc);
    out
}

pub fn decode_member_version(b: &[u8]) -> Result<MemberVersion, StoreError> {
    let b: &[u8; 96] = b
        .try_into()
        .map_err(|_| StoreError::Corrupt("bad member version record"))?;
    let part = |i: usize| -> [u8; 32] {
        let mut d = [0u8; 32];
        d.copy_from_slice(&b[i * 32..(i + 1) * 32]);
        d
    };
    Ok(MemberVersion {
        stamp: part(0),
        version: KeyVersion {
            order: part(1),
            acc: part(2),
        },
    })
}

/// `applied` table key.
pub fn applied_key(deadline_ms: u64, id: &SporeId) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..8].copy_from_slice(&deadline_ms.to_be_bytes());
    k[8..].copy_from_slice(&id.0);
    k
}

/// `expires` table key.
pub fn expires_key(at_ms: u64, key: &Key) -> Vec<u8> {
    let mut k = Vec::with_capacity(9 + key.name.len());
    k.push(key.db);
    k.extend_from_slice(&at_ms.to_be_bytes());
    k.extend_from_slice(&key.name);
    k
}

/// An `expires` table key back to (at_ms, key).
pub fn decode_expires_key(k: &[u8]) -> Result<(u64, Key), StoreError> {
    if k.len() < 9 {
        return Err(StoreError::Corrupt("short expires key"));
    }
    let mut at = [0u8; 8];
    at.copy_from_slice(&k[1..9]);
    Ok((
        u64::from_be_bytes(at),
        Key::new(k[0], bytes::Bytes::copy_from_slice(&k[9..])),
    ))
}

/// Encodes a key record.
pub fn encode_record(rec: &RawRecord<'_>) -> Vec<u8> {
    let extra = match rec.payload {
        Payload::String(s) => s.len(),
        Payload::List { .. } => 16,
        Payload::Set { .. } => 8,
        Payload::Tombstone => 0,
    };
    let mut v = Vec::with_capacity(RECORD_HEADER + extra);
    v.push(rec.payload.kind() as u8);
    v.extend_from_slice(&rec.expire_at_ms.to_be_bytes());
    v.extend_from_slice(&rec.version.order);
    v.extend_from_slice(&rec.version.acc);
    match rec.payload {
        Payload::Tombstone => {}
        Payload::String(s) => v.extend_from_slice(s),
        Payload::List { head, tail } => {
            v.extend_from_slice(&ordered_i64(head));
            v.extend_from_slice(&ordered_i64(tail));
        }
        Payload::Set { card } => v.extend_from_slice(&card.to_be_bytes()),
    }
    v
}

/// Decodes a key record.
pub fn decode_record(b: &[u8]) -> Result<RawRecord<'_>, StoreError> {
    if b.len() < RECORD_HEADER {
        return Err(StoreError::Corrupt("short key record"));
    }
    let mut at = [0u8; 8];
    at.copy_from_slice(&b[1..9]);
    let mut order = [0u8; 32];
    order.copy_from_slice(&b[9..41]);
    let mut acc = [0u8; 32];
    acc.copy_from_slice(&b[41..73]);
    let rest = &b[RECORD_HEADER..];
    let payload = match b[0] {
        0 if rest.is_empty() => Payload::Tombstone,
        1 => Payload::String(rest),
        2 if rest.len() == 16 => {
            let head = decode_ordered_i64(&rest[..8])?;
            let tail = decode_ordered_i64(&rest[8..])?;
            if head > tail {
                return Err(StoreError::Corrupt("list head after tail"));
            }
            Payload::List { head, tail }
        }
        3 if rest.len() == 8 => {
            let mut c = [0u8; 8];
            c.copy_from_slice(rest);
            Payload::Set {
                card: u64::from_be_bytes(c),
            }
        }
        _ => return Err(StoreError::Corrupt("bad key record kind")),
    };
    Ok(RawRecord {
        expire_at_ms: u64::from_be_bytes(at),
        version: KeyVersion { order, acc },
        payload,
    })
}

/// A database's stored state: versions plus the number of live (non-tombstone) keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DbRecord {
    pub state: DbState,
    pub live: u64,
}

/// Encodes a `dbs` value.
pub fn encode_db(rec: &DbRecord) -> Vec<u8> {
    let mut v = Vec::with_capacity(72);
    v.extend_from_slice(&rec.state.generation);
    v.extend_from_slice(&rec.state.sum);
    v.extend_from_slice(&rec.live.to_be_bytes());
    v
}

/// Decodes a `dbs` value.
pub fn decode_db(b: &[u8]) -> Result<DbRecord, StoreError> {
    if b.len() != 72 {
        return Err(StoreError::Corrupt("bad db record"));
    }
    let mut rec = DbRecord::default();
    rec.state.generation.copy_from_slice(&b[..32]);
    rec.state.sum.copy_from_slice(&b[32..64]);
    let mut live = [0u8; 8];
    live.copy_from_slice(&b[64..]);
    rec.live = u64::from_be_bytes(live);
    Ok(rec)
}

/// The `dbs` key of the policy record (not a database record: those keys are one byte).
pub const POLICY_KEY: &[u8] = b"\x00policy";
/// The policy record's format byte.
const POLICY_RECORD_FORMAT: u8 = 1;

/// A decoded policy record: the last global-policy change applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyRecord<'a> {
    /// The hash of the policy the change replaced.
    pub from: [u8; 32],
    /// The adopted policy's TOML text, byte for byte as the change carried it.
    pub text: &'a [u8],
}

/// Encodes the policy record.
pub fn encode_policy(rec: &PolicyRecord<'_>) -> Vec<u8> {
    let mut v = Vec::with_capacity(33 + rec.text.len());
    v.push(POLICY_RECORD_FORMAT);
    v.extend_from_slice(&rec.from);
    v.extend_from_slice(rec.text);
    v
}

/// Decodes the policy record.
pub fn decode_policy(b: &[u8]) -> Result<PolicyRecord<'_>, StoreError> {
    match b.split_first() {
        Some((&POLICY_RECORD_FORMAT, rest)) if rest.len() >= 32 => {
            let (from, text) = rest.split_at(32);
            let mut f = [0u8; 32];
            f.copy_from_slice(from);
            Ok(PolicyRecord { from: f, text })
        }
        _ => Err(StoreError::Corrupt("bad policy record")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden bytes: if this fails you changed the on-disk format (see the module doc).
    #[test]
    fn layout_is_frozen() {
        let key = Key::new(3, "ab");
        assert_eq!(hex::encode(key_key(&key)), "036162");
        for len in [0, 1, 126, 127, 128, 300] {
            let long = Key::new(7, vec![b'x'; len]);
            assert_eq!(with_key_key(&long, <[u8]>::to_vec), key_key(&long), "{len}");
        }
        assert_eq!(hex::encode(elems_prefix(&key)), "03000000026162");
        assert_eq!(
            hex::encode(list_elem_key(&elems_prefix(&key), -1)),
            "030000000261627fffffffffffffff"
        );
        assert_eq!(
            hex::encode(list_elem_key(&elems_prefix(&key), 0)),
            "030000000261628000000000000000"
        );
        // sha3-256("m") = 1b42f48a…, sha3-256("ab") = 5c828b33…
        assert_eq!(h64(b"m"), 0x1b42_f48a_a437_1867);
        assert_eq!(h64(b"ab"), 0x5c82_8b33_397f_4762);
        assert_eq!(
            hex::encode(set_member_key(&elems_prefix(&key), b"m")),
            "03000000026162_1b42f48aa4371867_6d".replace('_', "")
        );
        assert_eq!(
            hex::encode(expires_key(0x0102, &key)),
            "0300000000000001026162"
        );
        assert_eq!(
            hex::encode(scan_key(&key)),
            "03_5c828b33397f4762_6162".replace('_', "")
        );
        assert_eq!(
            hex::encode(applied_key(0x0a0b, &SporeId([0x33; 32]))),
            format!("0000000000000a0b{}", "33".repeat(32))
        );
        assert_eq!(FORMAT_VERSION, 6);
        let v = KeyVersion {
            order: [0x11; 32],
            acc: [0x22; 32],
        };
        let o = "11".repeat(32);
        let a = "22".repeat(32);
        let rec = |payload| RawRecord {
            expire_at_ms: 5,
            version: v,
            payload,
        };
        let cases = [
            (rec(Payload::Tombstone), format!("000000000000000005{o}{a}")),
            (
                rec(Payload::String(b"hi")),
                format!("010000000000000005{o}{a}6869"),
            ),
            (
                rec(Payload::List { head: -2, tail: 1 }),
                format!("020000000000000005{o}{a}7ffffffffffffffe8000000000000001"),
            ),
            (
                rec(Payload::Set { card: 7 }),
                format!("030000000000000005{o}{a}0000000000000007"),
            ),
        ];
        for (r, hex_) in cases {
            let bytes = encode_record(&r);
            assert_eq!(hex::encode(&bytes), hex_);
            assert_eq!(decode_record(&bytes).unwrap(), r);
        }
        let db = DbRecord {
            state: DbState {
                generation: [1; 32],
                sum: [2; 32],
            },
            live: 9,
        };
        assert_eq!(
            hex::encode(encode_db(&db)),
            format!("{}{}0000000000000009", "01".repeat(32), "02".repeat(32))
        );
        assert_eq!(decode_db(&encode_db(&db)).unwrap(), db);
        // The policy record: its key cannot be a database record's (one byte).
        assert_eq!(hex::encode(POLICY_KEY), "00706f6c696379");
        let pol = PolicyRecord {
            from: [0xab; 32],
            text: b"quorum = 1\n",
        };
        assert_eq!(
            hex::encode(encode_policy(&pol)),
            format!("01{}71756f72756d203d20310a", "ab".repeat(32))
        );
        assert_eq!(decode_policy(&encode_policy(&pol)).unwrap(), pol);
        for bad in [&b""[..], &[1; 32], &[2; 40]] {
            assert!(decode_policy(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ordered_i64_preserves_order() {
        let vals = [i64::MIN, -5, -1, 0, 1, 7, i64::MAX];
        for w in vals.windows(2) {
            assert!(ordered_i64(w[0]) < ordered_i64(w[1]));
        }
        for v in vals {
            assert_eq!(decode_ordered_i64(&ordered_i64(v)).unwrap(), v);
        }
    }

    #[test]
    fn corrupt_records_are_errors() {
        assert!(decode_record(b"").is_err());
        let mut b = encode_record(&RawRecord {
            expire_at_ms: 0,
            version: KeyVersion {
                order: [0; 32],
                acc: [0; 32],
            },
            payload: Payload::List { head: 3, tail: 1 },
        });
        assert!(decode_record(&b).is_err());
        b[0] = 9;
        assert!(decode_record(&b).is_err());
    }

    #[test]
    fn limits() {
        assert!(name_fits(&[0; MAX_NAME]));
        assert!(!name_fits(&[0; MAX_NAME + 1]));
        assert!(member_fits(&[0; 6], &[0; 492]));
        assert!(!member_fits(&[0; 6], &[0; 493]));
        assert!(scan_key(&Key::new(0, vec![0; MAX_NAME])).len() <= MAX_TABLE_KEY);
    }
}
