//! The typed read API command handlers use: `StoreRead`, implemented for every transaction
//! (LMDB read and write transactions, in-memory views) over the `KvRead` tables.
//!
//! Every read that takes `now_ms` hides keys whose TTL has passed (expired iff
//! `now_ms > expire_at_ms`, as Redis) and tombstones. Values are borrowed from the transaction
//! (zero-copy on LMDB). Type mismatches are `ReadError::WrongType`; missing keys read as empty,
//! as in Redis. Nothing here uses a clock or randomness: callers pass `now_ms` and seeds.

use std::ops::Bound;

use crate::spore::{DbState, Key, KeyVersion, MemberVersion, SporeId};

use super::cursor::ScanCursor;
use super::error::{ReadError, StoreError};
use super::glob::{glob_match, literal_prefix};
use super::hashed;
use super::kv::{prefix_end, prefix_range, KvIter, KvRead, Table};
use super::layout::{self, DbRecord, Payload, RawRecord};

/// RANDOMKEY's random positions before it walks on (Redis tries up to 100 when keys expire).
const RANDOM_TRIES: usize = 16;
/// How many keys RANDOMKEY's final walk looks at.
const RANDOM_WALK: usize = 1024;

/// The type of a live key (what TYPE answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    String,
    List,
    Set,
}

impl KeyType {
    /// TYPE's answer.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::String => "string",
            KeyType::List => "list",
            KeyType::Set => "set",
        }
    }
}

/// A live key's value summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    String(&'a [u8]),
    List { len: u64 },
    Set { card: u64 },
}

/// A live (not expired, not deleted) key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Absolute unix ms, if the key has a TTL.
    pub expire_at_ms: Option<u64>,
    pub version: KeyVersion,
    pub value: Value<'a>,
}

impl Record<'_> {
    pub fn key_type(&self) -> KeyType {
        match self.value {
            Value::String(_) => KeyType::String,
            Value::List { .. } => KeyType::List,
            Value::Set { .. } => KeyType::Set,
        }
    }
}

/// A key's TTL as TTL/PTTL report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyTtl {
    /// No such key (TTL answers -2).
    Missing,
    /// No TTL (-1).
    Persistent,
    /// Expires at `at_ms`, `remaining_ms` from now.
    At { at_ms: u64, remaining_ms: u64 },
}

/// Whether a record with this expiry is expired at `now_ms`.
pub fn is_expired(expire_at_ms: u64, now_ms: u64) -> bool {
    expire_at_ms != 0 && now_ms > expire_at_ms
}

/// The typed read API. Implemented for every `KvRead`.
pub trait StoreRead: KvRead {
    // ---- raw records and versions (no expiry filtering) ----

    /// The stored record of `key`, tombstones included, expiry ignored. A name too long for
    /// the layout has no record (asking LMDB would be an error, not a miss).
    fn raw_record(&self, key: &Key) -> Result<Option<RawRecord<'_>>, StoreError> {
        if !layout::name_fits(&key.name) {
            return Ok(None);
        }
        match layout::with_key_key(key, |kk| self.get(Table::Keys, kk))? {
            Some(b) => Ok(Some(layout::decode_record(b)?)),
            None => Ok(None),
        }
    }

    /// The stored state of database `db` (default if never written).
    fn db_record(&self, db: u8) -> Result<DbRecord, StoreError> {
        match self.get(Table::Dbs, &[db])? {
            Some(b) => layout::decode_db(b),
            None => Ok(DbRecord::default()),
        }
    }

    /// The last global-policy change applied (`layout::POLICY_KEY`), if any: the policy the
    /// replicated state says is in force.
    fn recorded_policy(&self) -> Result<Option<layout::PolicyRecord<'_>>, StoreError> {
        match self.get(Table::Dbs, layout::POLICY_KEY)? {
            Some(b) => Ok(Some(layout::decode_policy(b)?)),
            None => Ok(None),
        }
    }

    /// The version of `key` (the absent version of its db's generation if it has no record).
    fn key_version_checked(&self, key: &Key) -> Result<KeyVersion, StoreError> {
        match self.raw_record(key)? {
            Some(r) => Ok(r.version),
            None => Ok(KeyVersion::absent(
                &self.db_record(key.db)?.state.generation,
                key,
            )),
        }
    }

    /// The recorded version of set member `member` of `key` (stale or not): in the member's
    /// `elems` entry while it is in the set (an empty entry has none), in `members` once
    /// removed (docs/VERSIONS.md "Set members").
    fn member_record_checked(
        &self,
        key: &Key,
        member: &[u8],
    ) -> Result<Option<MemberVersion>, StoreError> {
        let k = layout::member_version_key(key, member);
        match self.get(Table::Elems, &k)? {
            Some([]) => Ok(None),
            Some(b) => Ok(Some(layout::decode_member_version(b)?)),
            None => match self.get(Table::Members, &k)? {
                Some(b) => Ok(Some(layout::decode_member_version(b)?)),
                None => Ok(None),
            },
        }
    }

    /// The version state of `db`.
    fn db_state_checked(&self, db: u8) -> Result<DbState, StoreError> {
        Ok(self.db_record(db)?.state)
    }

    /// Whether the spore with this deadline and id has been applied.
    fn applied(&self, deadline_ms: u64, id: &SporeId) -> Result<bool, StoreError> {
        Ok(self
            .get(Table::Applied, &layout::applied_key(deadline_ms, id))?
            .is_some())
    }

    // ---- keys ----

    /// The live record of `key` at `now_ms`.
    fn get_record(&self, key: &Key, now_ms: u64) -> Result<Option<Record<'_>>, StoreError> {
        let Some(raw) = self.raw_record(key)? else {
            return Ok(None);
        };
        if !raw.is_live() || is_expired(raw.expire_at_ms, now_ms) {
            return Ok(None);
        }
        let value = match raw.payload {
            Payload::Tombstone => return Ok(None),
            Payload::String(s) => Value::String(s),
            Payload::List { head, tail } => Value::List {
                len: tail.abs_diff(head),
            },
            Payload::Set { card } => Value::Set { card },
        };
        Ok(Some(Record {
            expire_at_ms: (raw.expire_at_ms != 0).then_some(raw.expire_at_ms),
            version: raw.version,
            value,
        }))
    }

    /// The type of `key`, if it exists.
    fn key_type(&self, key: &Key, now_ms: u64) -> Result<Option<KeyType>, StoreError> {
        Ok(self.get_record(key, now_ms)?.map(|r| r.key_type()))
    }

    /// Whether `key` exists.
    fn exists(&self, key: &Key, now_ms: u64) -> Result<bool, StoreError> {
        Ok(self.get_record(key, now_ms)?.is_some())
    }

    /// TTL / PTTL.
    fn ttl_ms(&self, key: &Key, now_ms: u64) -> Result<KeyTtl, StoreError> {
        Ok(match self.get_record(key, now_ms)? {
            None => KeyTtl::Missing,
            Some(Record {
                expire_at_ms: None, ..
            }) => KeyTtl::Persistent,
            Some(Record {
                expire_at_ms: Some(at),
                ..
            }) => KeyTtl::At {
                at_ms: at,
                remaining_ms: at.saturating_sub(now_ms),
            },
        })
    }

    /// Number of keys in `db` (DBSIZE): like Redis, keys whose TTL passed but that were not yet
    /// deleted are counted.
    fn dbsize(&self, db: u8) -> Result<u64, StoreError> {
        Ok(self.db_record(db)?.live)
    }

    /// KEYS: every live key of `db` matching `pattern`, in byte order.
    fn keys(&self, db: u8, pattern: &[u8], now_ms: u64) -> Result<Vec<&[u8]>, StoreError> {
        let mut prefix = vec![db];
        prefix.extend_from_slice(literal_prefix(pattern));
        let mut out = Vec::new();
        if !layout::name_fits(&prefix[1..]) {
            // No stored name is that long.
            return Ok(out);
        }
        for entry in prefix_range(self, Table::Keys, &prefix)? {
            let (k, v) = entry?;
            let rec = layout::decode_record(v)?;
            if rec.is_live()
                && !is_expired(rec.expire_at_ms, now_ms)
                && glob_match(pattern, &k[1..])
            {
                out.push(&k[1..]);
            }
        }
        Ok(out)
    }

    /// SCAN: visits up to `count` (at least 1) live keys of `db` in hash order from `cursor`,
    /// plus any sharing the last one's hash (see `cursor.rs`), and returns those not expired
    /// that match `pattern` and `key_type`, with the cursor to continue from.
    fn scan_keys(
        &self,
        db: u8,
        cursor: &ScanCursor,
        count: u64,
        pattern: Option<&[u8]>,
        key_type: Option<KeyType>,
        now_ms: u64,
    ) -> Result<(ScanCursor, Vec<&[u8]>), StoreError> {
        hashed::page(self, Table::Scan, &[db], *cursor, count, |name| {
            if pattern.is_some_and(|p| !glob_match(p, name)) {
                return Ok(false);
            }
            let rec = self.indexed_record(db, name)?;
            Ok(!is_expired(rec.expire_at_ms, now_ms)
                && key_type.is_none_or(|t| kind_type(&rec.payload) == Some(t)))
        })
    }

    /// The record of a key listed in the `scan` index (which must be live).
    fn indexed_record(&self, db: u8, name: &[u8]) -> Result<RawRecord<'_>, StoreError> {
        let mut k = Vec::with_capacity(1 + name.len());
        k.push(db);
        k.extend_from_slice(name);
        match self.get(Table::Keys, &k)? {
            Some(b) => {
                let rec = layout::decode_record(b)?;
                if rec.is_live() {
                    Ok(rec)
                } else {
                    Err(StoreError::Corrupt("scan index lists a dead key"))
                }
            }
            None => Err(StoreError::Corrupt("scan index lists a missing key")),
        }
    }

    /// RANDOMKEY: a live, unexpired key of `db` chosen from `seed`, or `None` if there is none.
    /// Each try takes a random hash position and picks one of the `hashed::WINDOW` keys from
    /// there uniformly, which is close to uniform over the keys (a key's chance follows the
    /// hash gaps before it, averaged over the window). Like Redis, expired keys not yet deleted
    /// make it try again, a bounded number of times; then it walks on from the last position,
    /// boundedly too, and answers `None` if every key it saw had expired.
    fn random_key(&self, db: u8, seed: u64, now_ms: u64) -> Result<Option<&[u8]>, StoreError> {
        let mut rng = SplitMix64(seed);
        let mut pos = 0;
        for _ in 0..RANDOM_TRIES {
            pos = rng.next_u64();
            let window = hashed::window(self, Table::Scan, &[db], pos, hashed::WINDOW)?;
            if window.is_empty() {
                return Ok(None);
            }
            let name = window[(rng.next_u64() % window.len() as u64) as usize];
            if !is_expired(self.indexed_record(db, name)?.expire_at_ms, now_ms) {
                return Ok(Some(name));
            }
        }
        for name in hashed::window(self, Table::Scan, &[db], pos, RANDOM_WALK)? {
            if !is_expired(self.indexed_record(db, name)?.expire_at_ms, now_ms) {
                return Ok(Some(name));
            }
        }
        Ok(None)
    }

    /// Keys whose TTL passed at `now_ms` (for the node's active expiry), oldest first (ties by
    /// key), at most `limit`.
    fn expired_keys(&self, now_ms: u64, limit: usize) -> Result<Vec<Key>, StoreError> {
        // The index is per db: take the oldest `limit` of each db present, then merge.
        let mut found: Vec<(u64, Key)> = Vec::new();
        let mut next_db = Some(0u8);
        while let Some(from) = next_db {
            let first = self
                .range(
                    Table::Expires,
                    Bound::Included(&[from]),
                    Bound::Unbounded,
                    false,
                )?
                .next();
            let Some(first) = first else { break };
            let db = *first?
                .0
                .first()
                .ok_or(StoreError::Corrupt("empty expires key"))?;
            let mut hi = vec![db];
            hi.extend_from_slice(&now_ms.to_be_bytes());
            for entry in self
                .range(
                    Table::Expires,
                    Bound::Included(&[db]),
                    Bound::Excluded(&hi),
                    false,
                )?
                .take(limit)
            {
                found.push(layout::decode_expires_key(entry?.0)?);
            }
            next_db = db.checked_add(1);
        }
        found.sort();
        found.truncate(limit);
        Ok(found.into_iter().map(|(_, k)| k).collect())
    }

    // ---- strings ----

    /// GET: the string value of `key`.
    fn string(&self, key: &Key, now_ms: u64) -> Result<Option<&[u8]>, ReadError> {
        match self.get_record(key, now_ms)? {
            None => Ok(None),
            Some(Record {
                value: Value::String(s),
                ..
            }) => Ok(Some(s)),
            Some(_) => Err(ReadError::WrongType),
        }
    }

    // ---- lists ----

    /// LLEN.
    fn list_len(&self, key: &Key, now_ms: u64) -> Result<u64, ReadError> {
        Ok(self
            .list_bounds(key, now_ms)?
            .map_or(0, |(h, t)| t.abs_diff(h)))
    }

    /// The live list's `(head, tail)` element indexes, if it exists.
    fn list_bounds(&self, key: &Key, now_ms: u64) -> Result<Option<(i64, i64)>, ReadError> {
        let Some(raw) = self.raw_record(key)? else {
            return Ok(None);
        };
        if !raw.is_live() || is_expired(raw.expire_at_ms, now_ms) {
            return Ok(None);
        }
        match raw.payload {
            Payload::List { head, tail } => Ok(Some((head, tail))),
            _ => Err(ReadError::WrongType),
        }
    }

    /// LRANGE with Redis index semantics (negative from the end, clamped).
    fn list_range(
        &self,
        key: &Key,
        start: i64,
        stop: i64,
        now_ms: u64,
    ) -> Result<Vec<&[u8]>, ReadError> {
        let Some((head, tail)) = self.list_bounds(key, now_ms)? else {
            return Ok(Vec::new());
        };
        let Some((from, to)) = clamp_range(start, stop, tail.abs_diff(head)) else {
            return Ok(Vec::new());
        };
        let prefix = layout::elems_prefix(key);
        let lo = layout::list_elem_key(&prefix, head + from as i64);
        let hi = layout::list_elem_key(&prefix, head + to as i64);
        let mut out = Vec::with_capacity((to - from + 1).min(1 << 16) as usize);
        for entry in self.range(
            Table::Elems,
            Bound::Included(&lo),
            Bound::Included(&hi),
            false,
        )? {
            out.push(entry?.1);
        }
        Ok(out)
    }

    /// LINDEX.
    fn list_index(&self, key: &Key, index: i64, now_ms: u64) -> Result<Option<&[u8]>, ReadError> {
        let Some((head, tail)) = self.list_bounds(key, now_ms)? else {
            return Ok(None);
        };
        let Some(off) = resolve_index(index, tail.abs_diff(head)) else {
            return Ok(None);
        };
        let k = layout::list_elem_key(&layout::elems_prefix(key), head + off as i64);
        match self.get(Table::Elems, &k)? {
            Some(v) => Ok(Some(v)),
            None => Err(StoreError::Corrupt("missing list element").into()),
        }
    }

    /// LPOS: positions (from the head) of `elem`. `rank` ≠ 0 (negative: search from the tail,
    /// skipping |rank|-1 matches); `count` 0 = all matches; `maxlen` 0 = compare everything.
    /// The handler answers the first position (or nil) when the client gave no COUNT.
    fn list_pos(
        &self,
        key: &Key,
        elem: &[u8],
        rank: i64,
        count: u64,
        maxlen: u64,
        now_ms: u64,
    ) -> Result<Vec<u64>, ReadError> {
        let Some((head, _)) = self.list_bounds(key, now_ms)? else {
            return Ok(Vec::new());
        };
        let prefix = layout::elems_prefix(key);
        let mut skip = rank.unsigned_abs().saturating_sub(1);
        let mut out = Vec::new();
        let iter = list_iter(self, &prefix, rank < 0)?;
        for (compared, entry) in iter.enumerate() {
            if maxlen != 0 && compared as u64 >= maxlen {
                break;
            }
            let (k, v) = entry?;
            if v != elem {
                continue;
            }
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let idx = layout::decode_ordered_i64(&k[prefix.len()..])?;
            out.push(idx.abs_diff(head));
            if count != 0 && out.len() as u64 >= count {
                break;
            }
        }
        Ok(out)
    }

    /// Every element of a list, head first (for LREM-like scans by handlers and tests).
    fn list_all(&self, key: &Key, now_ms: u64) -> Result<Vec<&[u8]>, ReadError> {
        self.list_range(key, 0, -1, now_ms)
    }

    // ---- sets ----

    /// SCARD.
    fn set_len(&self, key: &Key, now_ms: u64) -> Result<u64, ReadError> {
        match self.get_record(key, now_ms)? {
            None => Ok(0),
            Some(Record {
                value: Value::Set { card },
                ..
            }) => Ok(card),
            Some(_) => Err(ReadError::WrongType),
        }
    }

    /// Whether the set exists (`Ok(false)` if missing, WrongType if not a set).
    fn set_exists(&self, key: &Key, now_ms: u64) -> Result<bool, ReadError> {
        Ok(self.set_len(key, now_ms)? > 0)
    }

    /// SISMEMBER.
    fn set_contains(&self, key: &Key, member: &[u8], now_ms: u64) -> Result<bool, ReadError> {
        if !self.set_exists(key, now_ms)? || !layout::member_fits(&key.name, member) {
            return Ok(false);
        }
        let k = layout::set_member_key(&layout::elems_prefix(key), member);
        Ok(self.get(Table::Elems, &k)?.is_some())
    }

    /// SMEMBERS, in stored (hash) order.
    fn set_members(&self, key: &Key, now_ms: u64) -> Result<Vec<&[u8]>, ReadError> {
        if !self.set_exists(key, now_ms)? {
            return Ok(Vec::new());
        }
        let prefix = layout::elems_prefix(key);
        let mut out = Vec::new();
        for entry in prefix_range(self, Table::Elems, &prefix)? {
            out.push(layout::decode_set_member(&prefix, entry?.0)?);
        }
        Ok(out)
    }

    /// SSCAN: visits up to `count` members in hash order from `cursor` (plus any sharing the
    /// last one's hash; see `cursor.rs`), returns those matching `pattern`.
    fn set_scan(
        &self,
        key: &Key,
        cursor: &ScanCursor,
        count: u64,
        pattern: Option<&[u8]>,
        now_ms: u64,
    ) -> Result<(ScanCursor, Vec<&[u8]>), ReadError> {
        if !self.set_exists(key, now_ms)? {
            return Ok((ScanCursor::start(), Vec::new()));
        }
        let prefix = layout::elems_prefix(key);
        Ok(hashed::page(
            self,
            Table::Elems,
            &prefix,
            *cursor,
            count,
            |m| Ok(pattern.is_none_or(|p| glob_match(p, m))),
        )?)
    }

    /// SRANDMEMBER: `count` > 0 gives up to `count` distinct members, `count` < 0 gives |count|
    /// members possibly repeated; the choice is a pure function of `seed` and the state.
    /// Requests for a large share of the set read it whole and choose exactly uniformly;
    /// smaller ones sample random hash positions (`hashed::window`), O(count) reads.
    fn set_random_members(
        &self,
        key: &Key,
        count: i64,
        seed: u64,
        now_ms: u64,
    ) -> Result<Vec<&[u8]>, ReadError> {
        let card = self.set_len(key, now_ms)?;
        if card == 0 || count == 0 {
            return Ok(Vec::new());
        }
        let prefix = layout::elems_prefix(key);
        let mut rng = SplitMix64(seed);
        let pick = |rng: &mut SplitMix64| -> Result<&[u8], StoreError> {
            let w = hashed::window(self, Table::Elems, &prefix, rng.next_u64(), hashed::WINDOW)?;
            if w.is_empty() {
                return Err(StoreError::Corrupt("set record without members"));
            }
            Ok(w[(rng.next_u64() % w.len() as u64) as usize])
        };
        if count < 0 {
            let want = count.unsigned_abs().min(u32::MAX as u64);
            if want < card {
                return Ok((0..want)
                    .map(|_| pick(&mut rng))
                    .collect::<Result<_, _>>()?);
            }
            let members = self.set_members(key, now_ms)?;
            let n = members.len() as u64;
            if n == 0 {
                return Err(StoreError::Corrupt("set record without members").into());
            }
            return Ok((0..want)
                .map(|_| members[(rng.next_u64() % n) as usize])
                .collect());
        }
        let want = (count as u64).min(card);
        if want.saturating_mul(3) < card {
            // Few members of a big set: sample until `want` distinct ones (each draw is new
            // with probability > 2/3, so this ends fast; bounded all the same).
            let mut seen = std::collections::BTreeSet::new();
            let mut out = Vec::with_capacity(want as usize);
            for _ in 0..want.saturating_mul(16).saturating_add(64) {
                let m = pick(&mut rng)?;
                if seen.insert(m) {
                    out.push(m);
                    if out.len() as u64 == want {
                        return Ok(out);
                    }
                }
            }
            // Unreachable in practice; stay correct by filling from the start.
            for m in self.set_members(key, now_ms)? {
                if out.len() as u64 == want {
                    break;
                }
                if seen.insert(m) {
                    out.push(m);
                }
            }
            return Ok(out);
        }
        let mut members = self.set_members(key, now_ms)?;
        let n = members.len();
        let want = (want as usize).min(n);
        // Partial Fisher-Yates.
        for i in 0..want {
            let j = i + (rng.next_u64() % (n - i) as u64) as usize;
            members.swap(i, j);
        }
        members.truncate(want);
        Ok(members)
    }
}

impl<T: KvRead + ?Sized> StoreRead for T {}

/// The type of a live payload.
fn kind_type(p: &Payload<'_>) -> Option<KeyType> {
    match p {
        Payload::Tombstone => None,
        Payload::String(_) => Some(KeyType::String),
        Payload::List { .. } => Some(KeyType::List),
        Payload::Set { .. } => Some(KeyType::Set),
    }
}

/// A list's elements, head first or (rev) tail first.
fn list_iter<'a, T: KvRead + ?Sized>(
    kv: &'a T,
    prefix: &[u8],
    rev: bool,
) -> Result<KvIter<'a>, StoreError> {
    let end = prefix_end(prefix);
    let hi = match &end {
        Some(e) => Bound::Excluded(e.as_slice()),
        None => Bound::Unbounded,
    };
    kv.range(Table::Elems, Bound::Included(prefix), hi, rev)
}

/// Redis's LRANGE/LTRIM normalisation: the inclusive offsets `start..=stop` within a list of
/// `len` elements, or `None` if the range is empty.
pub fn clamp_range(start: i64, stop: i64, len: u64) -> Option<(u64, u64)> {
    let len = len as i128;
    let (mut start, mut stop) = (start as i128, stop as i128);
    if start < 0 {
        start += len;
    }
    if stop < 0 {
        stop += len;
    }
    if start < 0 {
        start = 0;
    }
    if start > stop || start >= len {
        return None;
    }
    if stop >= len {
        stop = len - 1;
    }
    Some((start as u64, stop as u64))
}

/// A Redis list index (negative from the end) as an offset, if in range.
pub fn resolve_index(index: i64, len: u64) -> Option<u64> {
    let i = if index < 0 {
        index as i128 + len as i128
    } else {
        index as i128
    };
    (i >= 0 && i < len as i128).then_some(i as u64)
}

/// A small deterministic generator for seed-driven choices.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_redis() {
        assert_eq!(clamp_range(0, -1, 3), Some((0, 2)));
        assert_eq!(clamp_range(-100, 100, 3), Some((0, 2)));
        assert_eq!(clamp_range(2, 1, 3), None);
        assert_eq!(clamp_range(3, 5, 3), None);
        assert_eq!(clamp_range(0, 0, 0), None);
        assert_eq!(clamp_range(i64::MIN, i64::MAX, 3), Some((0, 2)));
        assert_eq!(resolve_index(-1, 3), Some(2));
        assert_eq!(resolve_index(-4, 3), None);
        assert_eq!(resolve_index(3, 3), None);
        assert_eq!(resolve_index(i64::MIN, 3), None);
    }
}
