//! A cursor over a command's arguments with typed getters that fail with Redis's error texts.
//!
//! Number parsing follows Redis exactly, because clients and test suites probe the edges:
//! integers use `string2ll`'s rules (optional `-`, no `+`, no leading zeros, no spaces, no
//! `-0`, must fit the type), and `big_int` applies the same rules at any length (sporedb's
//! arbitrary-length INCRBY/DECRBY). Floats accept what `strtold` accepts for finite decimals,
//! plus `inf`/`infinity` (which Redis accepts and callers reject where it matters), never `nan`.

use bytes::Bytes;
use num_bigint::BigInt;

use crate::error::RedisError;

/// The arguments of one command; position 0 is the command name.
#[derive(Debug, Clone)]
pub struct Args {
    argv: Vec<Bytes>,
    pos: usize,
}

impl Args {
    /// A cursor positioned after the command name (`skip` = 1) or after a subcommand (2).
    pub fn new(argv: Vec<Bytes>, skip: usize) -> Args {
        let pos = skip.min(argv.len());
        Args { argv, pos }
    }

    /// The arguments of command `name` given as text, positioned after the name (unit tests of
    /// the option parsers build their input this way).
    #[cfg(test)]
    pub fn from_strs(name: &str, parts: &[&str]) -> Args {
        let argv = std::iter::once(name)
            .chain(parts.iter().copied())
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect();
        Args::new(argv, 1)
    }

    /// All arguments, including the name.
    pub fn argv(&self) -> &[Bytes] {
        &self.argv
    }

    /// Arguments not consumed yet.
    pub fn remaining(&self) -> usize {
        self.argv.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The next argument without consuming it.
    pub fn peek(&self) -> Option<&Bytes> {
        self.argv.get(self.pos)
    }

    /// The next argument; a missing argument is a syntax error (arity was checked before).
    pub fn bytes(&mut self) -> Result<Bytes, RedisError> {
        let b = self.argv.get(self.pos).cloned().ok_or(RedisError::Syntax)?;
        self.pos += 1;
        Ok(b)
    }

    /// Every remaining argument.
    pub fn rest(&mut self) -> Vec<Bytes> {
        let out = self.argv[self.pos..].to_vec();
        self.pos = self.argv.len();
        out
    }

    /// The next argument as a (lossy) string, for names and tokens.
    pub fn string(&mut self) -> Result<String, RedisError> {
        Ok(String::from_utf8_lossy(&self.bytes()?).into_owned())
    }

    /// The next argument as an upper-cased token (for matching options).
    pub fn token(&mut self) -> Result<String, RedisError> {
        Ok(self.string()?.to_ascii_uppercase())
    }

    /// Consumes the next argument if it equals `token` (case-insensitively).
    pub fn eat(&mut self, token: &str) -> bool {
        match self.peek() {
            Some(b) if b.eq_ignore_ascii_case(token.as_bytes()) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    pub fn i64(&mut self) -> Result<i64, RedisError> {
        parse_i64(&self.bytes()?).ok_or(RedisError::NotInteger)
    }

    /// A non-negative integer (Redis's "value is out of range, must be positive" for negatives).
    pub fn u64(&mut self) -> Result<u64, RedisError> {
        let v = self.i64()?;
        u64::try_from(v).map_err(|_| RedisError::MustBePositive)
    }

    pub fn big_int(&mut self) -> Result<BigInt, RedisError> {
        parse_big_int(&self.bytes()?).ok_or(RedisError::NotInteger)
    }

    pub fn f64(&mut self) -> Result<f64, RedisError> {
        parse_f64(&self.bytes()?).ok_or(RedisError::NotFloat)
    }

    /// Fails with a syntax error if arguments are left.
    pub fn expect_end(&self) -> Result<(), RedisError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(RedisError::Syntax)
        }
    }
}

/// Redis's `string2ll` grammar: `0` or `-?[1-9][0-9]*`, at any length.
fn is_canonical_integer(s: &[u8]) -> bool {
    let digits = s.strip_prefix(b"-").unwrap_or(s);
    match digits {
        [] => false,
        [b'0'] => s.len() == 1, // "-0" is refused
        [first, rest @ ..] => {
            (b'1'..=b'9').contains(first) && rest.iter().all(|c| c.is_ascii_digit())
        }
    }
}

/// Parses an i64 with Redis's `string2ll` rules.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.len() > 20 || !is_canonical_integer(s) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// Parses an integer of any length with `string2ll`'s grammar.
pub fn parse_big_int(s: &[u8]) -> Option<BigInt> {
    if !is_canonical_integer(s) {
        return None;
    }
    BigInt::parse_bytes(s, 10)
}

/// Parses a float as Redis's `string2ld`/`strtod` users do: no surrounding spaces, no `nan`;
/// decimal and exponent forms; `inf`, `+inf`, `-inf`, `infinity` accepted.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(s).ok()?;
    if !is_decimal_text(text) && !is_infinity_text(text) {
        return None;
    }
    let v: f64 = text.parse().ok()?;
    (!v.is_nan()).then_some(v)
}

/// `[+-]?(inf|infinity)`, case-insensitive.
pub fn is_infinity_text(text: &str) -> bool {
    let t = text
        .strip_prefix(['+', '-'])
        .unwrap_or(text)
        .to_ascii_lowercase();
    t == "inf" || t == "infinity"
}

/// `[+-]?(digits[.digits?]|.digits)([eE][+-]?digits)?`: the finite decimal forms `strtod` reads.
pub fn is_decimal_text(text: &str) -> bool {
    let t = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let (int, frac) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
    let mantissa_ok = all_digits(int) && all_digits(frac) && !(int.is_empty() && frac.is_empty());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `parts[0]` is the command name.
    fn args(parts: &[&str]) -> Args {
        Args::from_strs(parts[0], &parts[1..])
    }

    #[test]
    fn integers_follow_string2ll() {
        for ok in [
            "0",
            "-1",
            "9223372036854775807",
            "-9223372036854775808",
            "10",
        ] {
            assert!(parse_i64(ok.as_bytes()).is_some(), "{ok}");
        }
        for bad in [
            "",
            "-",
            "+1",
            "01",
            "-0",
            " 1",
            "1 ",
            "1.0",
            "9223372036854775808",
            "0x10",
            "1e3",
            "--1",
        ] {
            assert_eq!(parse_i64(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn big_integers_have_any_length() {
        let s = "-123456789012345678901234567890123456789";
        assert_eq!(parse_big_int(s.as_bytes()).unwrap().to_string(), s);
        assert!(parse_big_int(b"007").is_none());
        assert!(parse_big_int(b"-0").is_none());
    }

    #[test]
    fn floats_follow_strtod() {
        for (text, v) in [
            ("1.5", 1.5),
            ("-.5", -0.5),
            ("5.", 5.0),
            ("1e3", 1000.0),
            ("+2E-1", 0.2),
        ] {
            assert_eq!(parse_f64(text.as_bytes()), Some(v), "{text}");
        }
        assert_eq!(parse_f64(b"inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"-Infinity"), Some(f64::NEG_INFINITY));
        for bad in ["nan", "", ".", "1e", " 1", "1,5", "0x1p3", "e5"] {
            assert_eq!(parse_f64(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn cursor_getters_and_tokens() {
        let mut a = args(&["set", "k", "v", "ex", "10"]);
        assert_eq!(a.bytes().unwrap(), "k");
        assert_eq!(a.string().unwrap(), "v");
        assert!(!a.eat("px"));
        assert!(a.eat("EX"));
        assert_eq!(a.i64().unwrap(), 10);
        a.expect_end().unwrap();
        assert_eq!(a.bytes(), Err(RedisError::Syntax));
        let mut b = args(&["x", "-5", "abc"]);
        assert_eq!(b.u64(), Err(RedisError::MustBePositive));
        assert_eq!(b.i64(), Err(RedisError::NotInteger));
        assert_eq!(args(&["x", "y"]).expect_end(), Err(RedisError::Syntax));
    }
}
