//! The one catalogue of client-visible errors and their exact Redis 7 texts.
//!
//! Every error a client can see is a `RedisError` variant; `Display` renders the full error line
//! (prefix included, no CRLF) exactly as Redis 7.0 does, because client libraries and test suites
//! match on these strings. Internal layers keep their own error enums and convert at the
//! command/node boundary; an internal failure becomes `Internal` (logged where it happens),
//! never a leaked debug string. Errors sporedb invents for BFT outcomes are grouped at the end
//! and listed in the README.

use std::fmt;

/// A client-visible error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisError {
    // --- command lookup and arity ---
    /// `ERR unknown command 'x', with args beginning with: 'a' 'b' `
    UnknownCommand { name: String, args: Vec<String> },
    /// `ERR unknown subcommand 'x'. Try CONFIG HELP.`
    UnknownSubcommand { sub: String, cmd: String },
    /// `ERR wrong number of arguments for 'get' command` (name lower-cased, `config|get` for subcommands)
    WrongArity { cmd: String },
    /// `ERR syntax error`
    Syntax,

    // --- values ---
    /// `WRONGTYPE Operation against a key holding the wrong kind of value`
    WrongType,
    /// `ERR value is not an integer or out of range`
    NotInteger,
    /// `ERR value is not a valid float`
    NotFloat,
    /// `ERR increment or decrement would overflow` (only where sporedb keeps a bounded type)
    Overflow,
    /// `ERR increment would produce NaN or Infinity`
    NanOrInfinity,
    /// `ERR no such key`
    NoSuchKey,
    /// `ERR index out of range`
    IndexOutOfRange,
    /// `ERR string exceeds maximum allowed size (proto-max-bulk-len)`
    StringTooLong,
    /// `ERR offset is out of range`
    OffsetOutOfRange,
    /// `ERR value is out of range, must be positive`
    MustBePositive,
    /// `ERR invalid expire time in 'set' command` (command name lower-cased)
    InvalidExpire { cmd: String },
    /// `ERR DB index is out of range`
    DbIndexOutOfRange,
    /// `ERR invalid cursor`
    InvalidCursor,
    /// `ERR <free text>` for the rare argument errors whose exact text is command-specific
    /// (e.g. `ERR numkeys should be greater than 0`). The text excludes the `ERR ` prefix.
    Generic(String),

    // --- connection / auth ---
    /// `NOAUTH Authentication required.`
    NoAuth,
    /// `WRONGPASS invalid username-password pair or user is disabled.`
    WrongPass,
    /// `ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?`
    AuthNotConfigured,
    /// `NOPROTO unsupported protocol version`
    NoProto,
    /// `ERR max number of clients reached`
    MaxClients,
    /// `ERR Protocol error: <detail>`; the connection is closed after it, as Redis does.
    Protocol(String),

    // --- transactions ---
    /// `ERR MULTI calls can not be nested`
    NestedMulti,
    /// `ERR EXEC without MULTI`
    ExecWithoutMulti,
    /// `ERR DISCARD without MULTI`
    DiscardWithoutMulti,
    /// `ERR WATCH inside MULTI is not allowed`
    WatchInMulti,
    /// `EXECABORT Transaction discarded because of previous errors.`
    ExecAbort,
    /// `TRYAGAIN ...`: a transaction with reads was not applied because a key it read changed
    /// before its spore applied (sporedb pins what a transaction read; nothing was applied).
    ExecConflict,
    /// `ERR Command not allowed inside a transaction` (e.g. HELLO inside MULTI is allowed; this is for the rest)
    NotAllowedInMulti { cmd: String },

    /// `NOAUTH HELLO must be called with the client already authenticated, ...` (full Redis text)
    HelloNoAuth,
    /// `ERR Protocol version is not an integer or out of range`
    ProtoVersion,
    /// `ERR Syntax error in HELLO option '<opt>'`
    HelloSyntax { opt: String },
    /// `ERR Client names cannot contain spaces, newlines or special characters.`
    BadClientName,
    /// `ERR No such client`
    NoSuchClient,

    // --- config ---
    /// `ERR Unknown option or number of arguments for CONFIG SET - 'x'`
    UnknownConfig { name: String },
    /// `ERR CONFIG SET failed (possibly related to argument 'x') - <reason>`
    ConfigSetFailed { name: String, reason: String },

    // --- sporedb's own outcomes (listed in the README) ---
    /// `TRYAGAIN spore <id> dropped: <reason>`: the write was not committed; nothing was applied.
    /// With an empty id (the write expired before a spore was built for it):
    /// `TRYAGAIN write not committed: <reason>`.
    SporeDropped { id: String, reason: String },
    /// `ERR sporedb: <what> is not supported` for Redis features that are deliberately absent.
    Unsupported(String),
    /// `ERR internal error` (details are logged on the server, never sent).
    Internal,
    /// The write committed but this node's store could not record it. `full` (the LMDB map
    /// is full, Redis's `maxmemory` in spirit): `OOM command not allowed: the store is full
    /// (raise lmdb_map_size); the write was not stored on this node`; otherwise
    /// `MISCONF sporedb could not store the write on this node: <why>`.
    NotStored { why: String, full: bool },
    /// `ERR sporedb: key name or set member too long for the store`: LMDB keys are limited to
    /// 511 bytes, which bounds key names (498 bytes) and key name + set member (506 bytes).
    KeyTooLong,
    /// `ERR invalid spore id: expected 64 hex digits`.
    BadSporeId,
    /// `ERR no such spore <id>` (never seen here, or forgotten after its retention).
    NoSuchSpore { id: String },
    /// `ERR spore <id> is not waiting for approval`.
    NotHeld { id: String },
    /// `ERR sporedb: write vetoed by this node's local policy: <rule>`.
    LocalVeto { rule: String },
    /// `ERR sporedb: write refused by the global policy: <why>`.
    PolicyRefused { why: String },
    /// `TRYAGAIN sporedb: reads refused: <why>`: this replica's data is known not to be the
    /// cluster's (its peers signed another root, or it was changed behind its back); it answers
    /// again once state transfer has repaired it. Other nodes still serve.
    ReadsRefused { why: String },
    /// `ERR sporedb: this node is not running the consensus driver` (tools without a node).
    NoDriver,
    /// `ERR sporedb: this node runs no global policy (it is a single node, not in a cluster)`.
    NoGlobalPolicy,
    /// `ERR sporedb: policy change refused: <why>` (checked on the proposing node before a
    /// spore is built: stale base, invalid policy, nothing changed, committee changed).
    PolicyChangeRefused { why: String },
    /// `ERR sporedb: this node keeps no state root (state_root = false)`: a single node run
    /// without its root, to measure what the root costs.
    NoStateRoot,
}

impl fmt::Display for RedisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use RedisError::*;
        match self {
            UnknownCommand { name, args } => {
                write!(
                    f,
                    "ERR unknown command '{}', with args beginning with: ",
                    clip(name)
                )?;
                for a in args {
                    write!(f, "'{}' ", clip(a))?;
                }
                Ok(())
            }
            UnknownSubcommand { sub, cmd } => write!(
                f,
                "ERR unknown subcommand '{}'. Try {} HELP.",
                clip(sub),
                cmd.to_ascii_uppercase()
            ),
            WrongArity { cmd } => write!(f, "ERR wrong number of arguments for '{}' command", cmd),
            Syntax => f.write_str("ERR syntax error"),
            WrongType => {
                f.write_str("WRONGTYPE Operation against a key holding the wrong kind of value")
            }
            NotInteger => f.write_str("ERR value is not an integer or out of range"),
            NotFloat => f.write_str("ERR value is not a valid float"),
            Overflow => f.write_str("ERR increment or decrement would overflow"),
            NanOrInfinity => f.write_str("ERR increment would produce NaN or Infinity"),
            NoSuchKey => f.write_str("ERR no such key"),
            IndexOutOfRange => f.write_str("ERR index out of range"),
            StringTooLong => {
                f.write_str("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
            }
            OffsetOutOfRange => f.write_str("ERR offset is out of range"),
            MustBePositive => f.write_str("ERR value is out of range, must be positive"),
            InvalidExpire { cmd } => write!(f, "ERR invalid expire time in '{}' command", cmd),
            DbIndexOutOfRange => f.write_str("ERR DB index is out of range"),
            InvalidCursor => f.write_str("ERR invalid cursor"),
            Generic(text) => write!(f, "ERR {}", text),
            NoAuth => f.write_str("NOAUTH Authentication required."),
            WrongPass => {
                f.write_str("WRONGPASS invalid username-password pair or user is disabled.")
            }
            AuthNotConfigured => f.write_str(
                "ERR AUTH <password> called without any password configured for the default user. \
                 Are you sure your configuration is correct?",
            ),
            NoProto => f.write_str("NOPROTO unsupported protocol version"),
            MaxClients => f.write_str("ERR max number of clients reached"),
            Protocol(detail) => write!(f, "ERR Protocol error: {}", detail),
            NestedMulti => f.write_str("ERR MULTI calls can not be nested"),
            ExecWithoutMulti => f.write_str("ERR EXEC without MULTI"),
            DiscardWithoutMulti => f.write_str("ERR DISCARD without MULTI"),
            WatchInMulti => f.write_str("ERR WATCH inside MULTI is not allowed"),
            ExecAbort => f.write_str("EXECABORT Transaction discarded because of previous errors."),
            ExecConflict => f.write_str(
                "TRYAGAIN a key read by the transaction changed before it applied; nothing was applied",
            ),
            HelloNoAuth => f.write_str(
                "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
                 HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and \
                 select the RESP protocol version at the same time",
            ),
            ProtoVersion => f.write_str("ERR Protocol version is not an integer or out of range"),
            HelloSyntax { opt } => write!(f, "ERR Syntax error in HELLO option '{}'", clip(opt)),
            BadClientName => f.write_str(
                "ERR Client names cannot contain spaces, newlines or special characters.",
            ),
            NoSuchClient => f.write_str("ERR No such client"),
            NotAllowedInMulti { cmd } => {
                write!(f, "ERR Command not allowed inside a transaction ({})", cmd)
            }
            UnknownConfig { name } => write!(
                f,
                "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                clip(name)
            ),
            ConfigSetFailed { name, reason } => write!(
                f,
                "ERR CONFIG SET failed (possibly related to argument '{}') - {}",
                clip(name),
                reason
            ),
            SporeDropped { id, reason } if id.is_empty() => {
                write!(f, "TRYAGAIN write not committed: {}", reason)
            }
            SporeDropped { id, reason } => write!(f, "TRYAGAIN spore {} dropped: {}", id, reason),
            ReadsRefused { why } => write!(f, "TRYAGAIN sporedb: reads refused: {}", why),
            Unsupported(what) => write!(f, "ERR sporedb: {} is not supported", what),
            Internal => f.write_str("ERR internal error"),
            NotStored { full: true, .. } => f.write_str(
                "OOM command not allowed: the store is full (raise lmdb_map_size); the write was not stored on this node",
            ),
            NotStored { why, .. } => write!(
                f,
                "MISCONF sporedb could not store the write on this node: {}",
                clip(why)
            ),
            KeyTooLong => f.write_str("ERR sporedb: key name or set member too long for the store"),
            BadSporeId => f.write_str("ERR invalid spore id: expected 64 hex digits"),
            NoSuchSpore { id } => write!(f, "ERR no such spore {}", clip(id)),
            NotHeld { id } => write!(f, "ERR spore {} is not waiting for approval", id),
            LocalVeto { rule } => write!(
                f,
                "ERR sporedb: write vetoed by this node's local policy: {}",
                clip(rule)
            ),
            PolicyRefused { why } => write!(
                f,
                "ERR sporedb: write refused by the global policy: {}",
                clip(why)
            ),
            NoDriver => f.write_str("ERR sporedb: this node is not running the consensus driver"),
            NoGlobalPolicy => f.write_str(
                "ERR sporedb: this node runs no global policy (it is a single node, not in a cluster)",
            ),
            PolicyChangeRefused { why } => {
                write!(f, "ERR sporedb: policy change refused: {}", clip_to(why, 2048))
            }
            NoStateRoot => {
                f.write_str("ERR sporedb: this node keeps no state root (state_root = false)")
            }
        }
    }
}

impl std::error::Error for RedisError {}

impl RedisError {
    /// The error prefix (`ERR`, `WRONGTYPE`, ...), used for INFO errorstats and MULTI bookkeeping.
    pub fn prefix(&self) -> String {
        self.to_string()
            .split(' ')
            .next()
            .unwrap_or("ERR")
            .to_string()
    }

    /// The wrong-arity error for a command name as the client typed it.
    pub fn arity(cmd: &str) -> RedisError {
        RedisError::WrongArity {
            cmd: cmd.to_ascii_lowercase(),
        }
    }

    /// Shorthand for a free-text `ERR ...` error.
    pub fn generic(text: impl Into<String>) -> RedisError {
        RedisError::Generic(text.into())
    }
}

/// Redis clips user-supplied names in error texts to 128 bytes and strips line breaks so an
/// error can never break the protocol framing.
fn clip(s: &str) -> String {
    clip_to(s, 128)
}

/// One line of at most `max` bytes (a policy's problems need more room than a key name).
fn clip_to(s: &str, max: usize) -> String {
    let mut out: String = s.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    if out.len() > max {
        let mut cut = max;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_match_redis() {
        assert_eq!(
            RedisError::arity("GET").to_string(),
            "ERR wrong number of arguments for 'get' command"
        );
        assert_eq!(
            RedisError::UnknownCommand {
                name: "foo".into(),
                args: vec!["a".into(), "b".into()]
            }
            .to_string(),
            "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
        );
        assert_eq!(RedisError::WrongType.prefix(), "WRONGTYPE");
        let dropped = |id: &str| RedisError::SporeDropped {
            id: id.into(),
            reason: "expired".into(),
        };
        assert_eq!(
            dropped("ab").to_string(),
            "TRYAGAIN spore ab dropped: expired"
        );
        assert_eq!(
            dropped("").to_string(),
            "TRYAGAIN write not committed: expired"
        );
    }

    #[test]
    fn a_write_not_stored_says_why() {
        let full = RedisError::NotStored {
            why: "the LMDB map is full; raise lmdb_map_size".into(),
            full: true,
        };
        assert_eq!(full.prefix(), "OOM");
        assert!(full.to_string().contains("raise lmdb_map_size"));
        let io = RedisError::NotStored {
            why: "I/O error:\r\nNo space left on device".into(),
            full: false,
        };
        assert_eq!(
            io.to_string(),
            "MISCONF sporedb could not store the write on this node: I/O error:No space left on device"
        );
    }

    #[test]
    fn names_cannot_break_framing() {
        let e = RedisError::UnknownCommand {
            name: "a\r\nb".into(),
            args: vec![],
        };
        assert!(!e.to_string().contains('\n'));
    }
}
