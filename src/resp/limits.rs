//! Size limits applied to requests while they are decoded, before their bytes are buffered.
//!
//! The defaults are Redis 7.0's. The connection owns one `Limits` per client and flips
//! `authenticated` after `AUTH`/`HELLO ... AUTH` succeeds; until then the much tighter
//! pre-authentication limits apply, so a client that does not know the password cannot make the
//! server hold more than about 10 * 16 KiB on its behalf (Redis's fix for CVE-2021-32675).

/// Request size limits for one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest bulk argument (`proto-max-bulk-len`). A larger `$len` is
    /// `Protocol error: invalid bulk length`.
    pub max_bulk_len: u64,
    /// Largest argument count in a multibulk request. A larger `*count` is
    /// `Protocol error: invalid multibulk length`. Redis 7.0 allows up to `INT_MAX`: memory is
    /// bounded by `max_query_len`, not by the count.
    pub max_multibulk_len: u64,
    /// Longest inline request line, and longest `*`/`$` header line, without its newline
    /// (`PROTO_INLINE_MAX_SIZE`). Longer is `too big inline request` / `too big ... count string`.
    pub max_inline_len: usize,
    /// Most bytes one request may occupy while it is being assembled
    /// (`client-query-buffer-limit`): the sum of its arguments plus a per-argument overhead.
    /// Going over closes the connection without a reply, as Redis does.
    pub max_query_len: u64,
    /// Whether the connection may use the limits above. When false (a password is required and
    /// the client has not authenticated), [`Limits::UNAUTH_MAX_MULTIBULK`] and
    /// [`Limits::UNAUTH_MAX_BULK`] apply as well.
    pub authenticated: bool,
}

impl Limits {
    /// Redis's default `proto-max-bulk-len`: 512 MiB.
    pub const DEFAULT_MAX_BULK: u64 = 512 * 1024 * 1024;
    /// Redis 7.0's multibulk count limit (`INT_MAX`).
    pub const DEFAULT_MAX_MULTIBULK: u64 = i32::MAX as u64;
    /// `PROTO_INLINE_MAX_SIZE`: 64 KiB.
    pub const DEFAULT_MAX_INLINE: usize = 64 * 1024;
    /// Redis's default `client-query-buffer-limit`: 1 GiB.
    pub const DEFAULT_MAX_QUERY: u64 = 1024 * 1024 * 1024;
    /// Most arguments a request may have before authentication.
    pub const UNAUTH_MAX_MULTIBULK: u64 = 10;
    /// Largest bulk argument before authentication.
    pub const UNAUTH_MAX_BULK: u64 = 16384;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: Self::DEFAULT_MAX_BULK,
            max_multibulk_len: Self::DEFAULT_MAX_MULTIBULK,
            max_inline_len: Self::DEFAULT_MAX_INLINE,
            max_query_len: Self::DEFAULT_MAX_QUERY,
            authenticated: true,
        }
    }
}
