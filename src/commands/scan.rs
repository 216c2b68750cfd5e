//! SCAN-style cursors over keys and set members: numeric, stateless, and with Redis's guarantee.
//!
//! Items are visited in the order of a fixed 64-bit hash of their bytes (ties broken by the
//! bytes); the cursor is the hash to resume from. Because an item's position never depends on
//! other items, every item present for the whole iteration is returned at least once, whatever
//! is added or removed meanwhile, and the cursor is a plain integer as clients expect (redis-py
//! parses it). Each call reads the whole key list of the database from the snapshot: O(N) per
//! call, acceptable for now; a store-side hash index would make it O(COUNT).

use bytes::Bytes;

use crate::error::RedisError;

use super::args::Args;
use super::glob;

/// FNV-1a, 64-bit: stable across nodes and versions (cursors may outlive a connection).
pub fn position(item: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in item {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Parses a cursor argument (`ERR invalid cursor` if it is not an unsigned 64-bit integer).
pub fn parse_cursor(arg: &[u8]) -> Result<u64, RedisError> {
    std::str::from_utf8(arg)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .ok_or(RedisError::InvalidCursor)
}

/// MATCH / COUNT / TYPE options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanOptions {
    pub pattern: Option<Bytes>,
    pub count: usize,
    pub kind: Option<String>,
}

/// Parses the options after the cursor; `allow_type` for SCAN (not SSCAN).
pub fn parse_options(a: &mut Args, allow_type: bool) -> Result<ScanOptions, RedisError> {
    let mut o = ScanOptions {
        pattern: None,
        count: 10,
        kind: None,
    };
    while !a.is_empty() {
        let tok = a.token()?;
        if a.is_empty() {
            return Err(RedisError::Syntax);
        }
        match tok.as_str() {
            "COUNT" => {
                let c = a.i64()?;
                if c < 1 {
                    return Err(RedisError::Syntax);
                }
                o.count = usize::try_from(c).unwrap_or(usize::MAX);
            }
            "MATCH" => o.pattern = Some(a.bytes()?),
            "TYPE" if allow_type => o.kind = Some(a.string()?.to_ascii_lowercase()),
            _ => return Err(RedisError::Syntax),
        }
    }
    Ok(o)
}

/// One page: the items from `cursor` on (at least `count`, plus any sharing the last one's
/// position), and the next cursor (0 when done). MATCH is applied after selection, as in Redis,
/// so a page may be empty while the iteration goes on.
pub fn page(items: Vec<Bytes>, cursor: u64, o: &ScanOptions) -> (u64, Vec<Bytes>) {
    let mut ordered: Vec<(u64, Bytes)> = items
        .into_iter()
        .map(|i| (position(&i), i))
        .filter(|(p, _)| *p >= cursor)
        .collect();
    ordered.sort();
    let mut end = ordered.len().min(o.count);
    while end > 0 && end < ordered.len() && ordered[end].0 == ordered[end - 1].0 {
        end += 1;
    }
    let next = if end >= ordered.len() {
        0
    } else {
        ordered[end].0
    };
    let out = ordered
        .into_iter()
        .take(end)
        .map(|(_, i)| i)
        .filter(|i| o.pattern.as_ref().is_none_or(|p| glob::matches(p, i)))
        .collect();
    (next, out)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn opts(count: usize) -> ScanOptions {
        ScanOptions {
            pattern: None,
            count,
            kind: None,
        }
    }

    #[test]
    fn full_iteration_returns_everything_despite_changes() {
        let mut live: BTreeSet<Bytes> = (0..100).map(|i| Bytes::from(format!("k{i}"))).collect();
        let stable: BTreeSet<Bytes> = live.iter().filter(|k| k.len() == 2).cloned().collect();
        let mut seen = BTreeSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            let (next, got) = page(live.iter().cloned().collect(), cursor, &opts(7));
            seen.extend(got);
            // Mutate between calls: remove some two-digit keys, add new ones.
            live.retain(|k| !(k.len() == 3 && k[2] == b'0' + (round % 10) as u8));
            live.insert(Bytes::from(format!("new{round}")));
            round += 1;
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        assert!(stable.is_subset(&seen));
        assert!(round > 5);
    }

    #[test]
    fn cursors_and_options() {
        assert_eq!(parse_cursor(b"0"), Ok(0));
        assert_eq!(parse_cursor(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_cursor(b"-1"), Err(RedisError::InvalidCursor));
        assert_eq!(parse_cursor(b"x"), Err(RedisError::InvalidCursor));
        let mut a = Args::new(
            ["scan", "MATCH", "a*", "count", "5", "type", "String"]
                .iter()
                .map(|s| Bytes::from(*s))
                .collect(),
            1,
        );
        let o = parse_options(&mut a, true).unwrap();
        assert_eq!((o.count, o.kind.as_deref()), (5, Some("string")));
        let mut a = Args::new(
            ["sscan", "count", "0"]
                .iter()
                .map(|s| Bytes::from(*s))
                .collect(),
            1,
        );
        assert_eq!(parse_options(&mut a, false), Err(RedisError::Syntax));
        let mut a = Args::new(
            ["sscan", "type", "set"]
                .iter()
                .map(|s| Bytes::from(*s))
                .collect(),
            1,
        );
        assert_eq!(parse_options(&mut a, false), Err(RedisError::Syntax));
        let mut a = Args::new(
            ["scan", "count"].iter().map(|s| Bytes::from(*s)).collect(),
            1,
        );
        assert_eq!(parse_options(&mut a, true), Err(RedisError::Syntax));
    }
}
