//! SCAN / SSCAN cursors: stateless, stable, numeric.
//!
//! A cursor is the position to resume from (the next key name or set member, in byte order),
//! written as a decimal number so clients that parse cursors as integers keep working: the
//! position bytes, prefixed by 0x01, read as a big-endian unsigned integer. `0` is the start
//! (and, returned, the end). Because iteration is in key order and resumes at "≥ position",
//! every element present for the whole iteration is returned exactly once; elements added or
//! removed meanwhile may or may not be. Short positions (≤ 7 bytes) give cursors that fit a
//! u64; longer ones give longer numbers (clients that cap cursors at u64 will fail on them).

use num_bigint::BigUint;

/// A resume position; empty = start / end.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScanCursor(pub Vec<u8>);

impl ScanCursor {
    /// The start of an iteration.
    pub fn start() -> ScanCursor {
        ScanCursor(Vec::new())
    }

    /// Whether this is cursor 0 (start, or end when returned).
    pub fn is_start(&self) -> bool {
        self.0.is_empty()
    }

    /// Parses a client's cursor argument; `None` if it is not a decimal number.
    pub fn parse(text: &[u8]) -> Option<ScanCursor> {
        if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n = BigUint::parse_bytes(text, 10)?;
        if n == BigUint::ZERO {
            return Some(ScanCursor::start());
        }
        let bytes = n.to_bytes_be();
        // Our cursors start with 0x01; any other number is taken as a raw position.
        match bytes.split_first() {
            Some((1, rest)) => Some(ScanCursor(rest.to_vec())),
            _ => Some(ScanCursor(bytes)),
        }
    }

    /// The decimal text to send to the client.
    pub fn to_text(&self) -> String {
        if self.0.is_empty() {
            return "0".to_string();
        }
        let mut bytes = Vec::with_capacity(self.0.len() + 1);
        bytes.push(1);
        bytes.extend_from_slice(&self.0);
        BigUint::from_bytes_be(&bytes).to_str_radix(10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for pos in [&b""[..], b"a", b"\x00\x00", b"user:1234567890", b"\xff"] {
            let c = ScanCursor(pos.to_vec());
            assert_eq!(ScanCursor::parse(c.to_text().as_bytes()), Some(c));
        }
        assert_eq!(ScanCursor(b"a".to_vec()).to_text(), "353"); // 0x0161
        assert_eq!(ScanCursor::parse(b"0"), Some(ScanCursor::start()));
        assert_eq!(ScanCursor::parse(b"abc"), None);
        assert_eq!(ScanCursor::parse(b"-1"), None);
        assert_eq!(ScanCursor::parse(b""), None);
    }
}
