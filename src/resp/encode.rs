//! Reply encoder: a [`Reply`] written as RESP2 or RESP3 bytes, straight into the connection's
//! output buffer.
//!
//! RESP2 connections get Redis 7's downgrades: map → flat array of 2n elements, set → array,
//! double → bulk string (`%.17g`, `inf`, `-inf`), boolean → `:1`/`:0`, null → `$-1` (or `*-1`
//! for a null array), big number → bulk string of its digits (not `:`, which hiredis rejects
//! beyond i64), verbatim → bulk string. Each was checked against redis-server 7.0.15
//! (`DEBUG PROTOCOL <type>` in both protocols).
//!
//! Invariant: whatever a `Reply` holds, the output is well-framed RESP. Simple strings and
//! error texts are single lines by contract; CR and LF that slip in anyway become spaces, as
//! Redis does for error texts, rather than breaking the framing.
//!
//! The hot path (`+OK`, `$len\r\n<value>\r\n`, `:n`) writes into the buffer with no allocation
//! beyond the buffer's own growth.

use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};

use super::decode::ProtocolError;
use super::number::{format_g17, put_i64, put_usize};
use super::Protocol;
use crate::error::RedisError;
use crate::reply::Reply;

const CRLF: &[u8] = b"\r\n";

/// Appends `reply` to `out`, encoded for `proto`.
pub fn encode(reply: &Reply, proto: Protocol, out: &mut BytesMut) {
    let resp3 = proto == Protocol::Resp3;
    match reply {
        Reply::Simple(s) => put_line(out, b'+', s.as_bytes()),
        Reply::Status(s) => put_line(out, b'+', s.as_bytes()),
        Reply::Error(e) => put_error(out, e),
        Reply::Int(n) => put_int(out, *n),
        Reply::BigInt(n) => {
            // Redis 7's addReplyBigNum sends RESP2 clients a bulk string: hiredis (redis-cli,
            // redis-benchmark) rejects a `:` integer outside i64 as "Bad integer value".
            if resp3 {
                out.put_u8(b'(');
                let _ = write!(out, "{n}");
                out.put_slice(CRLF);
            } else {
                put_bulk(out, n.to_string().as_bytes());
            }
        }
        Reply::Bulk(b) => put_bulk(out, b),
        Reply::Nil => out.put_slice(if resp3 { b"_\r\n" } else { b"$-1\r\n" }),
        Reply::NilArray => out.put_slice(if resp3 { b"_\r\n" } else { b"*-1\r\n" }),
        Reply::Array(items) => {
            put_header(out, b'*', items.len());
            for item in items {
                encode(item, proto, out);
            }
        }
        Reply::Map(pairs) => {
            if resp3 {
                put_header(out, b'%', pairs.len());
            } else {
                put_header(out, b'*', pairs.len().saturating_mul(2));
            }
            for (k, v) in pairs {
                encode(k, proto, out);
                encode(v, proto, out);
            }
        }
        Reply::Set(items) => {
            put_header(out, if resp3 { b'~' } else { b'*' }, items.len());
            for item in items {
                encode(item, proto, out);
            }
        }
        Reply::Double(d) => {
            let text = format_g17(*d);
            if resp3 {
                put_line(out, b',', text.as_bytes());
            } else {
                put_bulk(out, text.as_bytes());
            }
        }
        Reply::Bool(b) => out.put_slice(match (resp3, b) {
            (true, true) => b"#t\r\n",
            (true, false) => b"#f\r\n",
            (false, true) => b":1\r\n",
            (false, false) => b":0\r\n",
        }),
        Reply::Verbatim(text) => {
            if resp3 {
                put_header(out, b'=', text.len().saturating_add(4));
                out.put_slice(b"txt:");
                out.put_slice(text.as_bytes());
                out.put_slice(CRLF);
            } else {
                put_bulk(out, text.as_bytes());
            }
        }
    }
}

/// Appends `-ERR Protocol error: <detail>\r\n`, byte-exact with Redis (see
/// [`ProtocolError::write_detail`]).
pub fn encode_protocol_error(err: &ProtocolError, out: &mut BytesMut) {
    let mut text = b"ERR Protocol error: ".to_vec();
    err.write_detail(&mut text);
    put_line(out, b'-', &text);
}

/// `<prefix><text>\r\n` with CR/LF in `text` replaced by spaces.
fn put_line(out: &mut BytesMut, prefix: u8, text: &[u8]) {
    out.reserve(text.len() + 3);
    out.put_u8(prefix);
    let start = out.len();
    out.put_slice(text);
    sanitize_line(&mut out[start..]);
    out.put_slice(CRLF);
}

/// `-<error text>\r\n`, formatting the error in place (no intermediate String).
fn put_error(out: &mut BytesMut, err: &RedisError) {
    out.put_u8(b'-');
    let start = out.len();
    let _ = write!(out, "{err}");
    sanitize_line(&mut out[start..]);
    out.put_slice(CRLF);
}

fn sanitize_line(text: &mut [u8]) {
    for b in text.iter_mut() {
        if *b == b'\r' || *b == b'\n' {
            *b = b' ';
        }
    }
}

fn put_int(out: &mut BytesMut, n: i64) {
    out.reserve(24);
    out.put_u8(b':');
    put_i64(out, n);
    out.put_slice(CRLF);
}

/// `<prefix><count>\r\n`: aggregate headers and bulk lengths.
fn put_header(out: &mut BytesMut, prefix: u8, count: usize) {
    out.reserve(24);
    out.put_u8(prefix);
    put_usize(out, count);
    out.put_slice(CRLF);
}

fn put_bulk(out: &mut BytesMut, data: &[u8]) {
    out.reserve(data.len() + 24);
    put_header(out, b'$', data.len());
    out.put_slice(data);
    out.put_slice(CRLF);
}
