//! SCAN / SSCAN cursors: stateless, numeric, and always an unsigned 64-bit integer.
//!
//! Keys (in the `scan` table) and set members (in `elems`) are ordered by `layout::h64`, a fixed
//! 64-bit hash of their bytes, then by the bytes. A cursor is the hash position to resume from,
//! written in decimal: every client parses it (`redis-cli --scan` uses `strtoull`, go-redis a
//! uint64). Position 0 is the start; a call returns every entry with a hash in
//! `[cursor, next)`, where it stops only between two distinct hashes (entries sharing a hash
//! come in the same call), so `next` is greater than every hash returned, in particular never 0,
//! and 0 can mean "done" when returned. An entry's position depends only on its own bytes, so
//! an iteration returns every entry present from start to end at least once whatever is added
//! or removed meanwhile, ends after finitely many calls, and needs no server state: a cursor
//! outlives its connection and a restart. Any u64 is a valid cursor (it is just a position).

use super::error::ReadError;

/// A resume position (a hash); 0 = start, and returned, end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub struct ScanCursor(pub u64);

impl ScanCursor {
    /// The start of an iteration.
    pub fn start() -> ScanCursor {
        ScanCursor(0)
    }

    /// Whether this is cursor 0 (start, or end when returned).
    pub fn is_start(&self) -> bool {
        self.0 == 0
    }

    /// Parses a client's cursor argument; `None` unless it is a decimal u64.
    pub fn parse(text: &[u8]) -> Option<ScanCursor> {
        ScanCursor::parse_arg(text).ok()
    }

    /// Parses a client's cursor argument: decimal digits (leading zeros allowed, as Redis's
    /// `strtoull` does) with a value that fits a u64, else `InvalidCursor`.
    pub fn parse_arg(text: &[u8]) -> Result<ScanCursor, ReadError> {
        if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
            return Err(ReadError::InvalidCursor);
        }
        let mut n: u64 = 0;
        for d in text {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
                .ok_or(ReadError::InvalidCursor)?;
        }
        Ok(ScanCursor(n))
    }

    /// The decimal text to send to the client.
    pub fn to_text(&self) -> String {
        self.0.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_decimal_u64() {
        for pos in [0, 1, 353, 1 << 40, u64::MAX] {
            let c = ScanCursor(pos);
            assert_eq!(c.to_text(), pos.to_string());
            assert_eq!(ScanCursor::parse(c.to_text().as_bytes()), Some(c));
        }
        assert_eq!(ScanCursor::parse(b"0"), Some(ScanCursor::start()));
        assert_eq!(ScanCursor::parse(b"007"), Some(ScanCursor(7)));
        assert!(ScanCursor::start().is_start());
        assert!(!ScanCursor(1).is_start());
    }

    #[test]
    fn invalid_cursors() {
        for bad in [
            &b""[..],
            b"abc",
            b"-1",
            b"+1",
            b" 1",
            b"1.5",
            b"18446744073709551616", // u64::MAX + 1
            b"99999999999999999999999",
        ] {
            assert!(
                matches!(ScanCursor::parse_arg(bad), Err(ReadError::InvalidCursor)),
                "{bad:?}"
            );
            assert_eq!(ScanCursor::parse(bad), None);
        }
        assert_eq!(
            ScanCursor::parse_arg(b"18446744073709551615").unwrap(),
            ScanCursor(u64::MAX)
        );
    }
}
