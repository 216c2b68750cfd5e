//! Splitting an inline request line into arguments, exactly as Redis's `sdssplitargs` does.
//!
//! Rules (from Redis's `sds.c`), all reproduced here:
//! - Arguments are separated by runs of C whitespace (space, `\t`, `\r`, `\v`, `\f`); inside an
//!   unquoted argument only space, `\t`, `\r` and end of line end it (`\v` and `\f` do not).
//! - `"..."` understands `\n \r \t \b \a`, `\xHH` (two hex digits), and `\<c>` for any other
//!   `c`; `'...'` understands only `\'`. A quote may start mid-argument (`a"b"` is `ab`).
//! - A closing quote must be followed by whitespace or the end of the line, and a quote must be
//!   closed: otherwise the whole line is `Protocol error: unbalanced quotes in request`.
//! - The line is a C string to Redis: a NUL byte ends it. (Redis itself never finds the newline
//!   after a NUL, because it searches with `strchr`, and waits for more input; we parse the line
//!   as `sdssplitargs` would see it instead of hanging.)
//!
//! Arguments without quotes are zero-copy slices of the line.

use bytes::Bytes;

/// C's `isspace` in the C locale.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// One argument being collected: a plain slice of the line (`start..`) until a quote forces a
/// copy into `owned`.
struct Token {
    start: usize,
    owned: Option<Vec<u8>>,
}

impl Token {
    /// Switches to an owned copy (holding what was collected before `p`) and returns it.
    fn owned(&mut self, s: &[u8], p: usize) -> &mut Vec<u8> {
        let start = self.start;
        self.owned.get_or_insert_with(|| s[start..p].to_vec())
    }
}

/// Splits `line` (without its newline) into arguments. `None` means unbalanced quotes.
pub(crate) fn split_inline(line: &Bytes) -> Option<Vec<Bytes>> {
    let end = line.iter().position(|&b| b == 0).unwrap_or(line.len());
    let s = &line[..end];
    // Reading past the end yields NUL, like the C string's terminator.
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut args = Vec::new();
    let mut p = 0;
    loop {
        while p < s.len() && is_space(s[p]) {
            p += 1;
        }
        if p >= s.len() {
            return Some(args);
        }
        let mut token = Token {
            start: p,
            owned: None,
        };
        let (mut in_dq, mut in_sq) = (false, false);
        loop {
            let c = at(p);
            let mut done = false;
            if in_dq {
                let owned = token.owned(s, p);
                if c == b'\\' && at(p + 1) == b'x' {
                    if let (Some(h), Some(l)) = (hex_value(at(p + 2)), hex_value(at(p + 3))) {
                        owned.push(h * 16 + l);
                        p += 3;
                    } else {
                        p += 1;
                        owned.push(b'x');
                    }
                } else if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    owned.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return None;
                    }
                    done = true;
                } else if c == 0 {
                    return None;
                } else {
                    owned.push(c);
                }
            } else if in_sq {
                let owned = token.owned(s, p);
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    owned.push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return None;
                    }
                    done = true;
                } else if c == 0 {
                    return None;
                } else {
                    owned.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                    b'"' => {
                        token.owned(s, p);
                        in_dq = true;
                    }
                    b'\'' => {
                        token.owned(s, p);
                        in_sq = true;
                    }
                    _ => {
                        if let Some(v) = &mut token.owned {
                            v.push(c);
                        }
                    }
                }
            }
            if done {
                args.push(match token.owned {
                    None => line.slice(token.start..p),
                    Some(v) => Bytes::from(v),
                });
                // Step over the separator or closing quote (not over the end of the line).
                if at(p) != 0 {
                    p += 1;
                }
                break;
            }
            if at(p) != 0 {
                p += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &[u8]) -> Option<Vec<Vec<u8>>> {
        split_inline(&Bytes::copy_from_slice(s))
            .map(|v| v.into_iter().map(|b| b.to_vec()).collect())
    }

    fn args(v: &[&[u8]]) -> Option<Vec<Vec<u8>>> {
        Some(v.iter().map(|a| a.to_vec()).collect())
    }

    #[test]
    fn plain_words() {
        assert_eq!(split(b"SET a b"), args(&[b"SET", b"a", b"b"]));
        assert_eq!(split(b"  PING  "), args(&[b"PING"]));
        assert_eq!(split(b"PING\rPING"), args(&[b"PING", b"PING"]));
        assert_eq!(split(b"a\tb"), args(&[b"a", b"b"]));
        assert_eq!(split(b""), args(&[]));
        assert_eq!(split(b" \x0b\x0c "), args(&[]));
        // Inside a token only space, tab, CR and LF separate (redis-server agrees).
        assert_eq!(split(b"a\x0bb a\x0cb"), args(&[b"a\x0bb", b"a\x0cb"]));
    }

    #[test]
    fn double_quotes_and_escapes() {
        assert_eq!(split(b"ECHO \"a\\x41\\n\""), args(&[b"ECHO", b"aA\n"]));
        assert_eq!(
            split(b"\"\\r\\t\\b\\a\\q\\\\\\\"\""),
            args(&[b"\r\t\x08\x07q\\\""])
        );
        assert_eq!(split(b"\"\\xZZ\""), args(&[b"xZZ"]));
        assert_eq!(split(b"\"\\x4\""), args(&[b"x4"]));
        assert_eq!(split(b"\"\""), args(&[b""]));
        assert_eq!(split(b"a\"b c\"d"), None);
        assert_eq!(split(b"a\"b c\" d"), args(&[b"ab c", b"d"]));
        assert_eq!(split(b"\"a b\"\tc"), args(&[b"a b", b"c"]));
    }

    #[test]
    fn single_quotes() {
        assert_eq!(split(b"'it\\'s'"), args(&[b"it's"]));
        assert_eq!(split(b"'a\\nb'"), args(&[b"a\\nb"]));
        assert_eq!(split(b"'abc'def"), None);
    }

    #[test]
    fn unbalanced() {
        assert_eq!(split(b"ECHO \"abc"), None);
        assert_eq!(split(b"ECHO 'abc"), None);
        assert_eq!(split(b"\"a\"\"b\""), None);
        assert_eq!(split(b"\"abc\\"), None);
    }

    #[test]
    fn nul_ends_the_line() {
        assert_eq!(split(b"PING\0junk"), args(&[b"PING"]));
        assert_eq!(split(b"ECHO \"a\0b\""), None);
    }

    #[test]
    fn plain_tokens_share_the_line() {
        let line = Bytes::from_static(b"GET key");
        let v = split_inline(&line).unwrap();
        assert_eq!(v[1].as_ptr(), line[4..].as_ptr());
    }
}
