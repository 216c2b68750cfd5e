//! Reading hash-ordered indexes: the `scan` table (keys) and set members in `elems`, whose
//! entries are `prefix ‖ h64(item) u64 BE ‖ item` (see `layout`). `page` serves SCAN/SSCAN
//! (the cursor contract is in `cursor.rs`); `window` serves RANDOMKEY/SRANDMEMBER by reading
//! the entries at and after a random hash position.

use std::ops::Bound;

use super::cursor::ScanCursor;
use super::error::StoreError;
use super::kv::{prefix_end, KvIter, KvRead, Table};
use super::layout;

/// How many consecutive entries a random pick chooses among: averaging over several hash gaps
/// makes the choice much closer to uniform than "the entry after a random position" (whose
/// chance is its gap, exponentially distributed), for a few more reads of the same page.
pub const WINDOW: usize = 8;

/// An index key of `prefix` as (hash, item).
fn split<'k>(prefix: &[u8], k: &'k [u8]) -> Result<(u64, &'k [u8]), StoreError> {
    match k.get(prefix.len()..) {
        Some(rest) => layout::split_hashed(rest),
        None => Err(StoreError::Corrupt("short hash-ordered index key")),
    }
}

/// The entries of `prefix` whose hash is at least `from`, ascending.
fn from_hash<'a, T: KvRead + ?Sized>(
    kv: &'a T,
    table: Table,
    prefix: &[u8],
    from: u64,
) -> Result<KvIter<'a>, StoreError> {
    let mut lo = Vec::with_capacity(prefix.len() + 8);
    lo.extend_from_slice(prefix);
    lo.extend_from_slice(&from.to_be_bytes());
    let end = prefix_end(prefix);
    let hi = match &end {
        Some(e) => Bound::Excluded(e.as_slice()),
        None => Bound::Unbounded,
    };
    kv.range(table, Bound::Included(&lo), hi, false)
}

/// One SCAN-style page: the items of `prefix` from hash `cursor` on, at least `count` (≥ 1)
/// of them and then any sharing the last one's hash, filtered by `keep` (applied after
/// selection, as Redis applies MATCH/TYPE), and the cursor to resume from (0 at the end).
pub fn page<'a, T: KvRead + ?Sized>(
    kv: &'a T,
    table: Table,
    prefix: &[u8],
    cursor: ScanCursor,
    count: u64,
    mut keep: impl FnMut(&'a [u8]) -> Result<bool, StoreError>,
) -> Result<(ScanCursor, Vec<&'a [u8]>), StoreError> {
    let count = count.max(1);
    let mut out = Vec::new();
    let mut last = None;
    for (visited, entry) in from_hash(kv, table, prefix, cursor.0)?.enumerate() {
        let (k, _) = entry?;
        let (h, item) = split(prefix, k)?;
        if visited as u64 >= count && last != Some(h) {
            // `h` > every hash visited ≥ cursor, so it is never 0: 0 stays "done".
            return Ok((ScanCursor(h), out));
        }
        last = Some(h);
        if keep(item)? {
            out.push(item);
        }
    }
    Ok((ScanCursor::start(), out))
}

/// Up to `n` items of `prefix` at and after hash `pos`, wrapping around to the smallest hash;
/// fewer only if the index has fewer, and empty only if it has none.
pub fn window<'a, T: KvRead + ?Sized>(
    kv: &'a T,
    table: Table,
    prefix: &[u8],
    pos: u64,
    n: usize,
) -> Result<Vec<&'a [u8]>, StoreError> {
    let mut out = Vec::with_capacity(n.min(WINDOW));
    for entry in from_hash(kv, table, prefix, pos)?.take(n) {
        out.push(split(prefix, entry?.0)?.1);
    }
    if out.len() < n && pos > 0 {
        // Wrap: the entries below `pos`.
        let mut hi = prefix.to_vec();
        hi.extend_from_slice(&pos.to_be_bytes());
        let below = kv.range(table, Bound::Included(prefix), Bound::Excluded(&hi), false)?;
        for entry in below.take(n - out.len()) {
            out.push(split(prefix, entry?.0)?.1);
        }
    }
    Ok(out)
}
