//! Redis glob matching (`stringmatchlen` of Redis 7.0, byte for byte): `*`, `?`, `[abc]`,
//! `[^a]`, `[a-z]` (reversed ranges allowed), `\x` escapes, an unterminated `[` matching up to
//! the end of the pattern. Used by KEYS, SCAN MATCH and SSCAN MATCH.
//!
//! Like Redis, bytes compare as C `char` (signed on x86-64) inside ranges, a nesting limit
//! guards against abusive patterns, and once a `*` fails to match the rest of the pattern
//! anywhere later in the string, earlier `*`s stop trying longer matches (CVE-2022-36021).

/// Whether `string` matches the glob `pattern` (case-sensitive). The pattern `*` alone matches
/// everything, the empty string included: KEYS, SCAN and SSCAN special-case it so in Redis,
/// although `stringmatchlen("*", "")` itself is false (as is `**` against "" here).
pub fn glob_match(pattern: &[u8], string: &[u8]) -> bool {
    if pattern == b"*" {
        return true;
    }
    let mut skip_longer = false;
    matches(pattern, string, &mut skip_longer, 0)
}

/// The literal prefix every match of `pattern` starts with (up to the first special byte).
pub fn literal_prefix(pattern: &[u8]) -> &[u8] {
    let end = pattern
        .iter()
        .position(|b| matches!(b, b'*' | b'?' | b'[' | b'\\'))
        .unwrap_or(pattern.len());
    &pattern[..end]
}

fn matches(pattern: &[u8], string: &[u8], skip_longer: &mut bool, nesting: u32) -> bool {
    if nesting > 1000 {
        return false;
    }
    // C reads past the length into the NUL terminator; emulate with 0.
    let at = |p: usize| -> u8 { pattern.get(p).copied().unwrap_or(0) };
    let (mut p, mut s) = (0usize, 0usize);
    while p < pattern.len() && s < string.len() {
        match pattern[p] {
            b'*' => {
                while p + 1 < pattern.len() && pattern[p + 1] == b'*' {
                    p += 1;
                }
                if p + 1 == pattern.len() {
                    return true;
                }
                while s < string.len() {
                    if matches(&pattern[p + 1..], &string[s..], skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s += 1;
                }
                *skip_longer = true;
                return false;
            }
            b'?' => s += 1,
            b'[' => {
                p += 1;
                let not = at(p) == b'^';
                if not {
                    p += 1;
                }
                let c = string[s];
                let mut matched = false;
                loop {
                    let remaining = pattern.len().saturating_sub(p);
                    if at(p) == b'\\' && remaining >= 2 {
                        p += 1;
                        if at(p) == c {
                            matched = true;
                        }
                    } else if at(p) == b']' {
                        break;
                    } else if remaining == 0 {
                        // Unterminated class: step back so the final advance ends the pattern.
                        p -= 1;
                        break;
                    } else if remaining >= 3 && at(p + 1) == b'-' {
                        let (mut start, mut end) = (at(p) as i8, at(p + 2) as i8);
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        let ci = c as i8;
                        p += 2;
                        if ci >= start && ci <= end {
                            matched = true;
                        }
                    } else if at(p) == c {
                        matched = true;
                    }
                    p += 1;
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s += 1;
            }
            b => {
                let lit = if b == b'\\' && pattern.len() - p >= 2 {
                    p += 1;
                    pattern[p]
                } else {
                    b
                };
                if lit != string[s] {
                    return false;
                }
                s += 1;
            }
        }
        p += 1;
        if s == string.len() {
            while at(p) == b'*' {
                p += 1;
            }
            break;
        }
    }
    p >= pattern.len() && s == string.len()
}

#[cfg(test)]
mod tests {
    use super::glob_match as m;
    use super::literal_prefix;

    #[test]
    fn basics() {
        assert!(m(b"*", b""));
        assert!(m(b"*", b"anything"));
        assert!(m(b"h?llo", b"hello"));
        assert!(!m(b"h?llo", b"hllo"));
        assert!(m(b"h*llo", b"heeeello"));
        assert!(m(b"h*llo", b"hllo"));
        assert!(m(b"h[ae]llo", b"hallo"));
        assert!(!m(b"h[ae]llo", b"hillo"));
        assert!(m(b"h[^e]llo", b"hallo"));
        assert!(!m(b"h[^e]llo", b"hello"));
        assert!(m(b"h[a-b]llo", b"hbllo"));
        assert!(m(b"h[b-a]llo", b"hallo"));
        assert!(!m(b"h[a-b]llo", b"hcllo"));
        assert!(m(b"h\\*llo", b"h*llo"));
        assert!(!m(b"h\\*llo", b"hello"));
        assert!(m(b"a*", b"a"));
        assert!(m(b"a**", b"a"));
        assert!(!m(b"a", b"ab"));
        assert!(!m(b"ab", b"a"));
        assert!(m(b"", b""));
        assert!(!m(b"**", b""));
        assert!(!m(b"", b"a"));
        assert!(m(b"*b*", b"abc"));
        assert!(!m(b"*x*", b"abc"));
    }

    #[test]
    fn edge_cases_like_redis() {
        // Unterminated class matches what it listed so far.
        assert!(m(b"[abc", b"a"));
        assert!(!m(b"[abc", b"d"));
        // Escape inside a class.
        assert!(m(b"[\\]]", b"]"));
        // Trailing backslash matches a literal backslash.
        assert!(m(b"a\\", b"a\\"));
        // `[a-]` is the range a..']' (unterminated), as in Redis: '-' does not match.
        assert!(!m(b"[a-]", b"-"));
        assert!(m(b"[a-]", b"_"));
        // Many stars do not blow up.
        let pat = [b'a', b'*'].repeat(50);
        assert!(!m(&pat, &[b'a'; 40]));
        assert!(m(b"a*a*a*a*", &[b'a'; 60]));
        assert!(!m(b"a*a*a*a*b", &[b'a'; 60]));
    }

    #[test]
    fn prefixes() {
        assert_eq!(literal_prefix(b"user:*"), b"user:");
        assert_eq!(literal_prefix(b"ab\\*"), b"ab");
        assert_eq!(literal_prefix(b"x"), b"x");
        assert_eq!(literal_prefix(b"[a]"), b"");
    }
}
