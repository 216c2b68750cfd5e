//! Number parsing and formatting with Redis's exact rules, without heap allocation.
//!
//! - [`parse_i64_strict`] is Redis's `string2ll`: what a `*count` or `$len` header accepts.
//! - [`put_i64`] writes decimal integers straight into the output buffer (every `$len` header).
//! - [`format_g17`] is C's `printf("%.17g")`, which Redis 7.0 uses for double replies.

use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};

/// Parses `s` as Redis's `string2ll` does: optional `-`, no `+`, no leading zeros (except `0`
/// itself), no spaces, at most 20 bytes, within i64. Anything else is `None`.
pub(crate) fn parse_i64_strict(s: &[u8]) -> Option<i64> {
    // LONG_STR_SIZE is 21: the longest i64 text plus one.
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    if negative {
        // -(i64::MIN) does not fit in i64, so compare in u64 first.
        if v > i64::MIN.unsigned_abs() {
            return None;
        }
        Some(0i64.wrapping_sub_unsigned(v))
    } else {
        i64::try_from(v).ok()
    }
}

/// Appends the decimal text of `v`. Hot path (every bulk header), so no formatting machinery.
pub(crate) fn put_i64(out: &mut BytesMut, v: i64) {
    let mut buf = [0u8; 20];
    let mut pos = buf.len();
    let mut n = v.unsigned_abs();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.put_u8(b'-');
    }
    out.put_slice(&buf[pos..]);
}

/// Appends the decimal text of a length.
pub(crate) fn put_usize(out: &mut BytesMut, v: usize) {
    // Lengths of in-memory values always fit in i64 on the platforms we build for.
    put_i64(out, i64::try_from(v).unwrap_or(i64::MAX));
}

/// A fixed-size text buffer, so formatting a double needs no heap.
pub(crate) struct StackText {
    buf: [u8; 48],
    len: usize,
}

impl StackText {
    fn new() -> Self {
        StackText {
            buf: [0; 48],
            len: 0,
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn push(&mut self, bytes: &[u8]) {
        // Callers never exceed the buffer (the longest %.17g text is 24 bytes); truncate rather
        // than panic if that ever changes.
        let room = self.buf.len() - self.len;
        let n = bytes.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if s.len() > self.buf.len() - self.len {
            return Err(std::fmt::Error);
        }
        self.push(s.as_bytes());
        Ok(())
    }
}

/// Formats `d` exactly as C's `printf("%.17g", d)` does (Redis 7.0's double replies), with
/// Redis's spellings for the non-finite values: `inf`, `-inf`, and `nan`.
pub(crate) fn format_g17(d: f64) -> StackText {
    let mut out = StackText::new();
    if d.is_nan() {
        out.push(b"nan");
        return out;
    }
    if d.is_sign_negative() {
        out.push(b"-");
    }
    if d.is_infinite() {
        out.push(b"inf");
        return out;
    }
    // `{:.16e}` rounds correctly to 17 significant digits, like printf; %g then picks fixed or
    // exponent notation from the decimal exponent of that rounded value.
    let mut sci = StackText::new();
    if write!(sci, "{:.16e}", d.abs()).is_err() {
        out.push(b"nan");
        return out;
    }
    let text = sci.as_bytes();
    let Some(e_pos) = text.iter().position(|&b| b == b'e') else {
        out.push(text);
        return out;
    };
    let exp = parse_i64_strict(&text[e_pos + 1..]).unwrap_or(0);
    // 17 significant digits, without the decimal point.
    let mut digits = [0u8; 17];
    let mut n = 0;
    for &b in &text[..e_pos] {
        if b.is_ascii_digit() && n < digits.len() {
            digits[n] = b;
            n += 1;
        }
    }
    // %g drops trailing zeros of the fraction (no '#' flag).
    let mut sig = n;
    while sig > 1 && digits[sig - 1] == b'0' {
        sig -= 1;
    }
    if !(-4..17).contains(&exp) {
        put_exponent_form(&mut out, &digits[..sig], exp);
    } else if exp >= 0 {
        let int_len = (exp as usize) + 1;
        out.push(&digits[..int_len]);
        if sig > int_len {
            out.push(b".");
            out.push(&digits[int_len..sig]);
        }
    } else {
        out.push(b"0.");
        for _ in 0..(-exp - 1) {
            out.push(b"0");
        }
        out.push(&digits[..sig]);
    }
    out
}

/// `d.ddde+XX`: C prints at least two exponent digits and always a sign.
fn put_exponent_form(out: &mut StackText, digits: &[u8], exp: i64) {
    out.push(&digits[..1]);
    if digits.len() > 1 {
        out.push(b".");
        out.push(&digits[1..]);
    }
    out.push(if exp < 0 { b"e-" } else { b"e+" });
    let e = exp.unsigned_abs();
    if e < 10 {
        out.push(b"0");
    }
    let mut t = StackText::new();
    let _ = write!(t, "{}", e);
    out.push(t.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string2ll_rules() {
        assert_eq!(parse_i64_strict(b"0"), Some(0));
        assert_eq!(parse_i64_strict(b"12"), Some(12));
        assert_eq!(parse_i64_strict(b"-12"), Some(-12));
        assert_eq!(parse_i64_strict(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64_strict(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"+1",
            b"01",
            b"-0",
            b"00",
            b" 1",
            b"1 ",
            b"1x",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"99999999999999999999",
            b"000000000000000000001",
        ] {
            assert_eq!(
                parse_i64_strict(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn integers_print_like_c() {
        for v in [0i64, 1, -1, 9, 10, 1234567890, i64::MAX, i64::MIN] {
            let mut b = BytesMut::new();
            put_i64(&mut b, v);
            assert_eq!(&b[..], v.to_string().as_bytes());
        }
    }

    #[test]
    fn doubles_print_like_printf_17g() {
        // Expected texts are from glibc's printf("%.17g") (and redis-server 7.0 ZSCORE).
        let cases: &[(f64, &str)] = &[
            (0.1, "0.10000000000000001"),
            (1e300, "1.0000000000000001e+300"),
            (3.0, "3"),
            (1.5e-5, "1.5e-05"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1.0000000000000001e-05"),
            (-0.0, "-0"),
            (-2.5, "-2.5"),
            (1.0 / 3.0, "0.33333333333333331"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (5e-324, "4.9406564584124654e-324"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
        ];
        for (d, want) in cases {
            assert_eq!(
                std::str::from_utf8(format_g17(*d).as_bytes()).unwrap(),
                *want,
                "{d:e}"
            );
        }
    }
}
