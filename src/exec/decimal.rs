//! INCRBYFLOAT with exact decimal arithmetic.
//!
//! Redis parses both operands with `strtold` (long double), adds, and prints with `%.17Lf`
//! minus trailing zeros. sporedb parses the same syntax into an exact decimal (BigInt mantissa
//! × 10^exp), adds exactly, and prints like Redis: rounded to 17 decimals (half to even), no
//! exponent, no trailing zeros, no trailing '.', "-0" as "0". So 10.5 + 0.1 = "10.6" and
//! 5.0e3 + 2.0e2 = "5200", on every replica, with no binary rounding (results differ from
//! Redis only where a long double would have lost digits, e.g. beyond ~19 significant digits).
//!
//! Syntax (as `string2ld`): optional sign, digits with an optional '.', optional exponent;
//! `inf`/`infinity` (any case); no leading space, nothing trailing, shorter than 5120 bytes.
//! Deviation: hexadecimal floats (`0x1p3`) are refused as not a float.
//! Range (long double): an operand beyond ±1.18973149535723176502e4932 or a nonzero one that
//! would underflow (below ~1e-4951) is not a valid float; NaN is not a valid float; infinity
//! and results beyond the range give "increment would produce NaN or Infinity".

use num_bigint::{BigInt, Sign};
use num_traits::{Signed, Zero};

use crate::error::RedisError;

/// Redis's MAX_LONG_DOUBLE_CHARS.
const MAX_CHARS: usize = 5 * 1024;
/// Decimal places kept (Redis prints `%.17Lf`).
const PLACES: i64 = 17;
/// Largest power of ten of a finite long double's leading digit.
const MAX_MAG: i64 = 4932;
/// Smallest power of ten of a nonzero long double (denormals included, rounded).
const MIN_MAG: i64 = -4951;
/// The leading digits of LDBL_MAX (× 10^(4932 - 20)).
const LDBL_MAX_DIGITS: &str = "118973149535723176502";

/// An exact decimal: `m × 10^exp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decimal {
    pub m: BigInt,
    pub exp: i64,
}

/// A parsed operand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    Finite(Decimal),
    /// ±infinity.
    Infinite,
}

/// Parses Redis float syntax; `None` if it is not a valid float (incl. NaN and out of range).
pub fn parse(s: &[u8]) -> Option<Operand> {
    if s.is_empty() || s.len() >= MAX_CHARS {
        return None;
    }
    let (neg, body) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    if lower == b"inf" || lower == b"infinity" {
        return Some(Operand::Infinite);
    }
    let mut digits = Vec::with_capacity(body.len());
    let mut frac_digits: i64 = 0;
    let mut i = 0;
    let mut seen_dot = false;
    let mut any_digit = false;
    while i < body.len() {
        match body[i] {
            b'0'..=b'9' => {
                digits.push(body[i]);
                any_digit = true;
                if seen_dot {
                    frac_digits += 1;
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => break,
        }
        i += 1;
    }
    if !any_digit {
        return None;
    }
    let mut exp: i64 = 0;
    if i < body.len() {
        if body[i] != b'e' && body[i] != b'E' {
            return None;
        }
        i += 1;
        let (eneg, erest) = match body.get(i) {
            Some(b'-') => (true, &body[i + 1..]),
            Some(b'+') => (false, &body[i + 1..]),
            _ => (false, &body[i..]),
        };
        if erest.is_empty() || !erest.iter().all(u8::is_ascii_digit) {
            return None;
        }
        // Saturate: anything this large is out of range anyway (checked below).
        let mut e: i64 = 0;
        for d in erest {
            e = (e * 10 + (d - b'0') as i64).min(1 << 40);
        }
        exp = if eneg { -e } else { e };
    }
    // Strip leading zeros so the magnitude check sees the leading significant digit.
    let first = digits.iter().position(|d| *d != b'0');
    let Some(first) = first else {
        return Some(Operand::Finite(Decimal {
            m: BigInt::zero(),
            exp: 0,
        }));
    };
    let sig = &digits[first..];
    let exp = exp - frac_digits;
    let mag = exp + sig.len() as i64 - 1;
    if !(MIN_MAG..=MAX_MAG).contains(&mag) {
        return None;
    }
    let mut m = BigInt::parse_bytes(sig, 10)?;
    if neg {
        m = -m;
    }
    let d = Decimal { m, exp };
    if beyond_range(&d) {
        return None;
    }
    Some(Operand::Finite(d))
}

/// Whether |d| exceeds LDBL_MAX.
fn beyond_range(d: &Decimal) -> bool {
    let limit = Decimal {
        m: BigInt::parse_bytes(LDBL_MAX_DIGITS.as_bytes(), 10).unwrap_or_default(),
        exp: MAX_MAG - (LDBL_MAX_DIGITS.len() as i64 - 1),
    };
    let (a, b) = align(
        &Decimal {
            m: d.m.abs(),
            exp: d.exp,
        },
        &limit,
    );
    a > b
}

/// The two mantissas scaled to the smaller exponent.
fn align(a: &Decimal, b: &Decimal) -> (BigInt, BigInt) {
    let e = a.exp.min(b.exp);
    (scale(&a.m, a.exp - e), scale(&b.m, b.exp - e))
}

fn scale(m: &BigInt, by: i64) -> BigInt {
    if by <= 0 || m.is_zero() {
        m.clone()
    } else {
        m * num_traits::pow(BigInt::from(10u8), by as usize)
    }
}

/// Exact sum.
pub fn add(a: &Decimal, b: &Decimal) -> Decimal {
    let (x, y) = align(a, b);
    Decimal {
        m: x + y,
        exp: a.exp.min(b.exp),
    }
}

/// Formats like Redis's `%.17Lf` with trailing zeros removed.
pub fn format(d: &Decimal) -> String {
    // Round to PLACES decimals (half to even).
    let (mut m, exp) = (d.m.clone(), d.exp);
    let mut places = -exp; // digits after the point
    if places > PLACES {
        let drop = (places - PLACES) as usize;
        let div = num_traits::pow(BigInt::from(10u8), drop);
        let (q, r) = (&m.abs() / &div, &m.abs() % &div);
        let twice = &r * 2u8;
        let up = twice > div || (twice == div && (&q % 2u8) == BigInt::from(1u8));
        let q = if up { q + 1u8 } else { q };
        m = if d.m.sign() == Sign::Minus { -q } else { q };
        places = PLACES;
    }
    let neg = m.sign() == Sign::Minus;
    let mut digits = m.abs().to_str_radix(10);
    if places <= 0 {
        if digits != "0" {
            digits.extend(std::iter::repeat_n('0', (-places) as usize));
        }
        return if neg && digits != "0" {
            format!("-{digits}")
        } else {
            digits
        };
    }
    let places = places as usize;
    if digits.len() <= places {
        let pad = places + 1 - digits.len();
        digits.insert_str(0, &"0".repeat(pad));
    }
    let (int, frac) = digits.split_at(digits.len() - places);
    let frac = frac.trim_end_matches('0');
    let body = if frac.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    };
    if neg && body != "0" {
        format!("-{body}")
    } else {
        body
    }
}

/// INCRBYFLOAT: the new value's text, from the current value (None if the key is missing).
pub fn incr_by_float(current: Option<&[u8]>, delta: &[u8]) -> Result<String, RedisError> {
    let cur = match current {
        None => Operand::Finite(Decimal {
            m: BigInt::zero(),
            exp: 0,
        }),
        Some(s) => parse(s).ok_or(RedisError::NotFloat)?,
    };
    let inc = parse(delta).ok_or(RedisError::NotFloat)?;
    let (Operand::Finite(a), Operand::Finite(b)) = (cur, inc) else {
        return Err(RedisError::NanOrInfinity);
    };
    let sum = add(&a, &b);
    if beyond_range(&sum) {
        return Err(RedisError::NanOrInfinity);
    }
    Ok(format(&sum))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incr(cur: &str, d: &str) -> Result<String, RedisError> {
        incr_by_float(Some(cur.as_bytes()), d.as_bytes())
    }

    #[test]
    fn like_redis() {
        assert_eq!(incr("10.5", "0.1").unwrap(), "10.6");
        assert_eq!(incr("5.0e3", "2.0e2").unwrap(), "5200");
        assert_eq!(incr("0", "0.1").unwrap(), "0.1");
        assert_eq!(incr("0.1", "0.2").unwrap(), "0.3");
        assert_eq!(incr("3", "-3").unwrap(), "0");
        assert_eq!(incr("-0.5", "0.5").unwrap(), "0");
        assert_eq!(incr("1", "-1.5").unwrap(), "-0.5");
        assert_eq!(incr("10", "5").unwrap(), "15");
        assert_eq!(incr("+1", ".5").unwrap(), "1.5");
        assert_eq!(incr("5.", "1E2").unwrap(), "105");
        assert_eq!(incr_by_float(None, b"2.50").unwrap(), "2.5");
        // Rounded to 17 decimals like %.17Lf.
        assert_eq!(incr("0", "1e-20").unwrap(), "0");
        assert_eq!(incr("0", "-1e-20").unwrap(), "0");
        assert_eq!(
            incr("0", "0.123456789012345675").unwrap(),
            "0.12345678901234568"
        );
        assert_eq!(
            incr("0", "0.123456789012345665").unwrap(),
            "0.12345678901234566"
        );
        // Exact beyond i64 and beyond double precision.
        assert_eq!(
            incr("12345678901234567890123", "0.5").unwrap(),
            "12345678901234567890123.5"
        );
        assert_eq!(incr("1e30", "1").unwrap(), format!("1{}1", "0".repeat(29)));
    }

    #[test]
    fn errors_like_redis() {
        assert_eq!(incr("abc", "1"), Err(RedisError::NotFloat));
        assert_eq!(incr("1", "abc"), Err(RedisError::NotFloat));
        assert_eq!(incr("1", "nan"), Err(RedisError::NotFloat));
        assert_eq!(incr("1", " 1"), Err(RedisError::NotFloat));
        assert_eq!(incr("1", "1 "), Err(RedisError::NotFloat));
        assert_eq!(incr("1", "1e"), Err(RedisError::NotFloat));
        assert_eq!(incr("1", "."), Err(RedisError::NotFloat));
        assert_eq!(incr("1", ""), Err(RedisError::NotFloat));
        assert_eq!(incr("1", "0x10"), Err(RedisError::NotFloat));
        assert_eq!(incr("1", "inf"), Err(RedisError::NanOrInfinity));
        assert_eq!(incr("-Infinity", "1"), Err(RedisError::NanOrInfinity));
        // Out of the long double range.
        assert_eq!(incr("1", "1e5000"), Err(RedisError::NotFloat));
        assert_eq!(incr("1", "1e-5000"), Err(RedisError::NotFloat));
        assert_eq!(
            incr("1", "1e99999999999999999999"),
            Err(RedisError::NotFloat)
        );
        assert_eq!(incr("0", "0e99999999999999999999").unwrap(), "0");
        assert_eq!(incr("1.1e4932", "1.1e4932"), Err(RedisError::NanOrInfinity));
        let long = "1".repeat(5200);
        assert_eq!(incr("1", &long), Err(RedisError::NotFloat));
    }

    #[test]
    fn big_but_valid() {
        let r = incr("1e4932", "0").unwrap();
        assert_eq!(r.len(), 4933);
        assert_eq!(incr("1e-4000", "1").unwrap(), "1");
    }
}
