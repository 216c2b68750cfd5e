//! Arbitrary-length integers stored as strings, with Redis's `string2ll` syntax rules but no
//! length limit: an optional '-', then digits with no leading zero ("0" alone is fine);
//! no '+', no spaces, no "-0", nothing empty. INCRBY keeps the value in this canonical form.

use num_bigint::BigInt;

/// Parses a canonical decimal integer of any length.
pub fn parse_canonical(s: &[u8]) -> Option<BigInt> {
    let digits = s.strip_prefix(b"-").unwrap_or(s);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if digits[0] == b'0' && (digits.len() > 1 || digits.len() != s.len()) {
        return None; // leading zero, or "-0"
    }
    BigInt::parse_bytes(s, 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string2ll_rules_any_length() {
        assert_eq!(parse_canonical(b"0"), Some(BigInt::from(0)));
        assert_eq!(parse_canonical(b"-12"), Some(BigInt::from(-12)));
        let big = "123456789012345678901234567890";
        assert_eq!(
            parse_canonical(big.as_bytes()).map(|n| n.to_string()),
            Some(big.to_string())
        );
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"1.0",
            b"1e3",
            b"--1",
            b"0x1",
        ] {
            assert_eq!(parse_canonical(bad), None, "{:?}", bad);
        }
    }
}
