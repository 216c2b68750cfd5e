//! The RESP wire format: requests in, replies out. Knows nothing about commands.
//!
//! - [`RequestDecoder`] turns the bytes a client sends into one request at a time (`argv`), for
//!   both request forms Redis accepts: multibulk (`*N\r\n$len\r\n...`, what every client library
//!   sends, RESP3 clients included) and inline (`PING\r\n`, telnet style, split like Redis's
//!   `sdssplitargs`). It follows Redis 7.0's `processMultibulkBuffer`/`processInlineBuffer`
//!   closely, error texts included, because clients and test suites match on them.
//! - [`encode`] writes a [`crate::reply::Reply`] as RESP2 or RESP3, downgrading RESP3-only types
//!   for RESP2 connections the way Redis 7 does.
//!
//! Invariants:
//! - Nothing here panics on input, and nothing allocates by a length the client declared: a
//!   declared length only decides how many bytes to wait for. Memory grows with bytes actually
//!   received, within [`Limits`].
//! - Decoding does not depend on how the input was split into reads: feeding the same bytes in
//!   any chunking yields the same requests and the same error (the unit tests and the fuzz
//!   harness check this). Where Redis's outcome depends on its 16 KiB read size, we pick the
//!   outcome Redis has when the bytes arrive slowly.
//! - Decoded arguments are zero-copy `Bytes` slices of the connection's read buffer. Anything kept
//!   beyond the command (a stored value) should be copied, or it pins the whole read buffer.
//!
//! The `redis-protocol` crate is not used for request decoding: it has no inline form, re-parses a
//! frame from its start on every read, cannot apply limits before buffering, and is stricter than
//! Redis in places (it checks the CRLF after bulk data, which Redis skips). The tests use it as an
//! independent oracle that our encoder's output is well-formed RESP.

mod decode;
mod encode;
mod inline;
mod limits;
mod number;

#[cfg(test)]
mod decode_tests;
#[cfg(test)]
mod encode_tests;
#[cfg(test)]
mod fuzz;

pub use decode::{DecodeError, ProtocolError, RequestDecoder};
pub use encode::{encode, encode_protocol_error};
pub use limits::Limits;

/// The reply protocol a connection speaks: RESP2 until `HELLO 3` switches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2, the default for every new connection.
    #[default]
    Resp2,
    /// RESP3, after `HELLO 3`.
    Resp3,
}

impl Protocol {
    /// The version number as `HELLO` and `CLIENT LIST` (`resp=`) show it.
    pub fn version(self) -> u8 {
        match self {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        }
    }
}
