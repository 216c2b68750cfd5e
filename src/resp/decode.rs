//! Incremental request decoder: bytes from a client in, one `argv` at a time out.
//!
//! State carried between reads is only what Redis's client struct carries: the multibulk request
//! being assembled (arguments already complete, the next argument's declared length) and how far
//! the current line has been searched for its end. Complete arguments are split off the read
//! buffer as soon as they arrive, so a request is never re-parsed from its start, and a client
//! trickling a long line one byte at a time costs linear, not quadratic, work.
//!
//! Faithful-to-Redis details that look like bugs but are not:
//! - A header line ends at its first `\r`; the byte after it is skipped without checking that
//!   it is `\n`. The two bytes after bulk data are skipped unchecked too (`$4\r\nPINGxx` is
//!   `PING`).
//! - `*0` and negative counts are empty requests: skipped, no reply.
//! - A request's limits are those in force when its header is read; the connection updates
//!   them between requests (after `AUTH`), never in the middle of one.

use std::fmt;
use std::io;

use bytes::{Buf, Bytes, BytesMut};

use super::inline::split_inline;
use super::number::parse_i64_strict;
use super::Limits;
use crate::error::RedisError;

/// What counts toward `max_query_len` per argument besides its bytes: the `Bytes` handle in argv.
const ARG_OVERHEAD: u64 = std::mem::size_of::<Bytes>() as u64;

/// Redis never reserves more than this many argv slots up front, whatever the declared count.
const ARGV_INITIAL_MAX: usize = 1024;

/// A malformed request. The connection replies `-ERR Protocol error: <detail>` and closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    /// An inline line longer than `max_inline_len`.
    TooBigInline,
    /// A `*count` line longer than `max_inline_len`.
    TooBigMultibulkCount,
    /// A `$len` line longer than `max_inline_len`.
    TooBigBulkCount,
    /// An inline line with an unclosed quote, or a closing quote not followed by a space.
    UnbalancedQuotes,
    /// `*count` not a number, or above `max_multibulk_len`.
    InvalidMultibulkLength,
    /// `*count` above 10 before authentication.
    UnauthenticatedMultibulkLength,
    /// `$len` not a number, negative, or above `max_bulk_len`.
    InvalidBulkLength,
    /// `$len` above 16384 before authentication.
    UnauthenticatedBulkLength,
    /// Something other than `$` where a bulk argument must start; holds the byte found.
    ExpectedDollar(u8),
}

impl ProtocolError {
    /// Writes the detail text (after `Protocol error: `) as raw bytes. Redis prints the
    /// unexpected byte of `ExpectedDollar` as is, even when it is not ASCII.
    pub fn write_detail(&self, out: &mut Vec<u8>) {
        let text: &[u8] = match self {
            ProtocolError::TooBigInline => b"too big inline request",
            ProtocolError::TooBigMultibulkCount => b"too big mbulk count string",
            ProtocolError::TooBigBulkCount => b"too big bulk count string",
            ProtocolError::UnbalancedQuotes => b"unbalanced quotes in request",
            ProtocolError::InvalidMultibulkLength => b"invalid multibulk length",
            ProtocolError::UnauthenticatedMultibulkLength => b"unauthenticated multibulk length",
            ProtocolError::InvalidBulkLength => b"invalid bulk length",
            ProtocolError::UnauthenticatedBulkLength => b"unauthenticated bulk length",
            ProtocolError::ExpectedDollar(got) => {
                out.extend_from_slice(b"expected '$', got '");
                out.push(*got);
                out.push(b'\'');
                return;
            }
        };
        out.extend_from_slice(text);
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = Vec::new();
        self.write_detail(&mut text);
        f.write_str(&String::from_utf8_lossy(&text))
    }
}

impl From<ProtocolError> for RedisError {
    /// The catalogue form. Lossy only for a non-ASCII byte in `ExpectedDollar`; the connection
    /// writes protocol errors with [`crate::resp::encode_protocol_error`], which is exact.
    fn from(e: ProtocolError) -> RedisError {
        RedisError::Protocol(e.to_string())
    }
}

/// Why decoding stopped for good. After any error the connection closes; the decoder must not
/// be used again.
#[derive(Debug)]
pub enum DecodeError {
    /// Malformed input: reply with the protocol error, then close.
    Protocol(ProtocolError),
    /// The request being assembled went over `max_query_len`: close without a reply, as Redis
    /// does for `client-query-buffer-limit`.
    QueryBufferLimit,
    /// Only produced through the `tokio_util` codec plumbing (a read failed).
    Io(io::Error),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Protocol(e) => write!(f, "Protocol error: {e}"),
            DecodeError::QueryBufferLimit => f.write_str("query buffer limit reached"),
            DecodeError::Io(e) => write!(f, "read failed: {e}"),
        }
    }
}

impl std::error::Error for DecodeError {}

impl From<io::Error> for DecodeError {
    fn from(e: io::Error) -> Self {
        DecodeError::Io(e)
    }
}

impl From<ProtocolError> for DecodeError {
    fn from(e: ProtocolError) -> Self {
        DecodeError::Protocol(e)
    }
}

/// A multibulk request whose header has been read.
#[derive(Debug)]
struct Partial {
    /// Arguments still to come, the one in progress included.
    remaining: u64,
    /// The next argument's declared length, once its `$len` line has been read.
    bulk_len: Option<usize>,
    /// Arguments complete so far.
    argv: Vec<Bytes>,
    /// Bytes accounted against `max_query_len` so far.
    mem: u64,
}

/// Where the current line ends, if it does.
enum LineEnd {
    /// Index of the terminator, counted from the start of the buffer.
    At(usize),
    /// Not yet: wait for more input.
    Incomplete,
    /// More than the allowed length without a terminator.
    TooLong,
}

/// Incremental decoder of client requests. One per connection; feed it the connection's read
/// buffer (always the same buffer: it remembers how far it has searched).
#[derive(Debug, Default)]
pub struct RequestDecoder {
    limits: Limits,
    partial: Option<Partial>,
    /// How many bytes at the front of the buffer are known not to hold the current line's end.
    scanned: usize,
}

impl RequestDecoder {
    /// A decoder applying `limits`.
    pub fn new(limits: Limits) -> Self {
        RequestDecoder {
            limits,
            partial: None,
            scanned: 0,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Selects the full (true) or pre-authentication (false) limits for the next request.
    pub fn set_authenticated(&mut self, authenticated: bool) {
        self.limits.authenticated = authenticated;
    }

    /// How many more bytes the argument being read needs (0 when not inside bulk data). The
    /// connection uses it to grow its read buffer geometrically instead of by the declared
    /// length.
    pub fn bytes_wanted(&self, buffered: usize) -> usize {
        match &self.partial {
            Some(Partial {
                bulk_len: Some(len),
                ..
            }) => len.saturating_add(2).saturating_sub(buffered),
            _ => 0,
        }
    }

    /// Heap bytes this decoder holds for the request being assembled, beyond the read buffer
    /// (the argv vector's slots). Bounded by a constant plus the bytes actually received.
    pub fn footprint(&self) -> usize {
        self.partial
            .as_ref()
            .map_or(0, |p| p.argv.capacity() * std::mem::size_of::<Bytes>())
    }

    /// Decodes the next complete request from the front of `buf`, consuming its bytes.
    /// `Ok(None)` means more input is needed (bytes of an incomplete request stay accounted for,
    /// and may already have been consumed). Empty requests (blank inline lines, `*0`) are
    /// skipped, as Redis does.
    pub fn next_request(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, DecodeError> {
        loop {
            if self.partial.is_none() {
                let Some(&first) = buf.first() else {
                    return Ok(None);
                };
                if first == b'*' {
                    match self.multibulk_header(buf)? {
                        None => return Ok(None),
                        Some(count) if count <= 0 => continue,
                        Some(count) => self.partial = Some(Partial::new(count.unsigned_abs())),
                    }
                } else {
                    match self.inline(buf)? {
                        None => return Ok(None),
                        Some(argv) if argv.is_empty() => continue,
                        Some(argv) => return Ok(Some(argv)),
                    }
                }
            }
            return self.bulk_args(buf);
        }
    }

    /// Reads `*count\r?`; `None` if the line is not complete yet.
    fn multibulk_header(&mut self, buf: &mut BytesMut) -> Result<Option<i64>, DecodeError> {
        let cr = match find_line_end(&mut self.scanned, buf, b'\r', self.limits.max_inline_len) {
            LineEnd::At(i) => i,
            LineEnd::Incomplete => return Ok(None),
            LineEnd::TooLong => return Err(ProtocolError::TooBigMultibulkCount.into()),
        };
        // Redis wants one byte after '\r' (normally '\n') before it looks at the line.
        if buf.len() < cr + 2 {
            return Ok(None);
        }
        let count = match parse_i64_strict(&buf[1..cr]) {
            Some(n) if n <= 0 || n.unsigned_abs() <= self.limits.max_multibulk_len => n,
            _ => return Err(ProtocolError::InvalidMultibulkLength.into()),
        };
        if count > 0
            && !self.limits.authenticated
            && count.unsigned_abs() > Limits::UNAUTH_MAX_MULTIBULK
        {
            return Err(ProtocolError::UnauthenticatedMultibulkLength.into());
        }
        self.consume(buf, cr + 2);
        Ok(Some(count))
    }

    /// Reads the bulk arguments of the request in progress; the request once all have arrived.
    fn bulk_args(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, DecodeError> {
        let limits = self.limits;
        let Some(p) = self.partial.as_mut() else {
            return Ok(None);
        };
        while p.remaining > 0 {
            let len = match p.bulk_len {
                Some(len) => len,
                None => {
                    let Some(len) = bulk_header(&mut self.scanned, buf, &limits, p.mem)? else {
                        return Ok(None);
                    };
                    p.bulk_len = Some(len);
                    len
                }
            };
            // The argument and the two bytes after it (CRLF, not checked, as in Redis).
            if buf.len() < len.saturating_add(2) {
                return Ok(None);
            }
            p.argv.push(buf.split_to(len).freeze());
            buf.advance(2);
            self.scanned = 0;
            p.mem = p.mem.saturating_add(len as u64 + ARG_OVERHEAD);
            p.remaining -= 1;
            p.bulk_len = None;
        }
        Ok(self.partial.take().map(|p| p.argv))
    }

    /// Reads one inline line; `None` if it is not complete yet.
    fn inline(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, DecodeError> {
        let nl = match find_line_end(&mut self.scanned, buf, b'\n', self.limits.max_inline_len) {
            LineEnd::At(i) => i,
            LineEnd::Incomplete => return Ok(None),
            LineEnd::TooLong => return Err(ProtocolError::TooBigInline.into()),
        };
        let text_len = if nl > 0 && buf[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        let line = buf.split_to(nl + 1).freeze().slice(..text_len);
        self.scanned = 0;
        match split_inline(&line) {
            Some(argv) => Ok(Some(argv)),
            None => Err(ProtocolError::UnbalancedQuotes.into()),
        }
    }

    fn consume(&mut self, buf: &mut BytesMut, n: usize) {
        buf.advance(n);
        self.scanned = 0;
    }
}

impl Partial {
    fn new(count: u64) -> Self {
        let slots = usize::try_from(count)
            .unwrap_or(usize::MAX)
            .min(ARGV_INITIAL_MAX);
        Partial {
            remaining: count,
            bulk_len: None,
            argv: Vec::with_capacity(slots),
            mem: 0,
        }
    }
}

/// Reads `$len\r?` with Redis's checks, in Redis's order; `None` if the line is incomplete.
fn bulk_header(
    scanned: &mut usize,
    buf: &mut BytesMut,
    limits: &Limits,
    mem_so_far: u64,
) -> Result<Option<usize>, DecodeError> {
    let cr = match find_line_end(scanned, buf, b'\r', limits.max_inline_len) {
        LineEnd::At(i) => i,
        LineEnd::Incomplete => return Ok(None),
        LineEnd::TooLong => return Err(ProtocolError::TooBigBulkCount.into()),
    };
    if buf.len() < cr + 2 {
        return Ok(None);
    }
    if buf[0] != b'$' {
        return Err(ProtocolError::ExpectedDollar(buf[0]).into());
    }
    let len = match parse_i64_strict(&buf[1..cr]) {
        Some(n) if n >= 0 && n.unsigned_abs() <= limits.max_bulk_len => n.unsigned_abs(),
        _ => return Err(ProtocolError::InvalidBulkLength.into()),
    };
    if !limits.authenticated && len > Limits::UNAUTH_MAX_BULK {
        return Err(ProtocolError::UnauthenticatedBulkLength.into());
    }
    if mem_so_far.saturating_add(len).saturating_add(ARG_OVERHEAD) > limits.max_query_len {
        return Err(DecodeError::QueryBufferLimit);
    }
    let Ok(len) = usize::try_from(len) else {
        return Err(ProtocolError::InvalidBulkLength.into());
    };
    buf.advance(cr + 2);
    *scanned = 0;
    Ok(Some(len))
}

/// Finds `terminator` in the line at the front of `buf`, searching only bytes not searched
/// before. The terminator may sit at index `max` at the latest: Redis, reading slowly, fails
/// once it holds more than `max` bytes without one, so a later terminator is `TooLong` however
/// the bytes arrived.
fn find_line_end(scanned: &mut usize, buf: &[u8], terminator: u8, max: usize) -> LineEnd {
    let window = buf.len().min(max.saturating_add(1));
    let from = (*scanned).min(window);
    match buf[from..window].iter().position(|&b| b == terminator) {
        Some(i) => {
            *scanned = from + i;
            LineEnd::At(from + i)
        }
        None if buf.len() > max => LineEnd::TooLong,
        None => {
            *scanned = window;
            LineEnd::Incomplete
        }
    }
}

impl tokio_util::codec::Decoder for RequestDecoder {
    type Item = Vec<Bytes>;
    type Error = DecodeError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Vec<Bytes>>, DecodeError> {
        self.next_request(src)
    }
}
