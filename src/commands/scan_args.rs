//! The arguments of SCAN and SSCAN: the cursor and the MATCH / COUNT / TYPE options.
//!
//! Only parsing lives here. Cursors are the store's (`crate::store::cursor`: stable, resumable,
//! keys in byte order) and so is glob matching (`crate::store::glob`): one implementation each.

use bytes::Bytes;

use crate::error::RedisError;

use super::args::Args;
use super::view::{Kind, ScanCursor};

/// Parses a cursor argument (`ERR invalid cursor` if it is not an unsigned decimal number).
pub fn parse_cursor(arg: &[u8]) -> Result<ScanCursor, RedisError> {
    ScanCursor::parse(arg).ok_or(RedisError::InvalidCursor)
}

/// What SCAN's TYPE option asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeFilter {
    /// A type sporedb stores.
    Is(Kind),
    /// A Redis type sporedb has no values of (hash, zset, stream) or an unknown name: Redis 7.0
    /// answers pages without keys for these, and so do we.
    Nothing,
}

/// MATCH / COUNT / TYPE options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanOptions {
    pub pattern: Option<Bytes>,
    pub count: u64,
    pub kind: Option<TypeFilter>,
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
                o.count = c as u64;
            }
            "MATCH" => o.pattern = Some(a.bytes()?),
            "TYPE" if allow_type => {
                o.kind = Some(match a.string()?.to_ascii_lowercase().as_str() {
                    "string" => TypeFilter::Is(Kind::String),
                    "list" => TypeFilter::Is(Kind::List),
                    "set" => TypeFilter::Is(Kind::Set),
                    _ => TypeFilter::Nothing,
                })
            }
            _ => return Err(RedisError::Syntax),
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `parts[0]` is the command name.
    fn args(parts: &[&str]) -> Args {
        Args::from_strs(parts[0], &parts[1..])
    }

    #[test]
    fn cursors_and_options() {
        assert_eq!(parse_cursor(b"0"), Ok(ScanCursor::start()));
        assert_eq!(parse_cursor(b"-1"), Err(RedisError::InvalidCursor));
        assert_eq!(parse_cursor(b"x"), Err(RedisError::InvalidCursor));
        let o = parse_options(
            &mut args(&["scan", "MATCH", "a*", "count", "5", "type", "String"]),
            true,
        )
        .unwrap();
        assert_eq!((o.count, o.kind), (5, Some(TypeFilter::Is(Kind::String))));
        let o = parse_options(&mut args(&["scan", "type", "hash"]), true).unwrap();
        assert_eq!(o.kind, Some(TypeFilter::Nothing));
        assert_eq!(
            parse_options(&mut args(&["sscan", "count", "0"]), false),
            Err(RedisError::Syntax)
        );
        assert_eq!(
            parse_options(&mut args(&["sscan", "type", "set"]), false),
            Err(RedisError::Syntax)
        );
        assert_eq!(
            parse_options(&mut args(&["scan", "count"]), true),
            Err(RedisError::Syntax)
        );
    }
}
