//! What the command table knows about one command: a `CommandSpec` row.
//!
//! A spec holds everything Redis's `src/commands/*.json` holds for a command that clients and
//! `redis-cli` look at (arity in Redis's convention, flags, key positions, group, docs) next to
//! the handler that implements it, so the table is the single source of truth: dispatch checks
//! arity and flags from it and COMMAND / COMMAND INFO / COMMAND DOCS are generated from it.
//! Argument docs are written as Redis's one-line syntax (`key value [NX|XX] [EX seconds]`) and
//! turned into COMMAND DOCS' argument tree by `syntax.rs`.

use crate::error::RedisError;

use super::args::Args;
use super::ctx::{Action, Ctx};

/// A handler: parses its arguments (the cursor is positioned after the command name, and after
/// the subcommand name for subcommands) and answers or describes a write.
pub type Handler = fn(&mut Ctx<'_>, &mut Args) -> Result<Action, RedisError>;

/// Command flags, as listed by COMMAND INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flags(u32);

impl Flags {
    pub const NONE: Flags = Flags(0);
    pub const WRITE: Flags = Flags(1);
    pub const READONLY: Flags = Flags(1 << 1);
    pub const FAST: Flags = Flags(1 << 2);
    pub const ADMIN: Flags = Flags(1 << 3);
    pub const NOSCRIPT: Flags = Flags(1 << 4);
    pub const LOADING: Flags = Flags(1 << 5);
    pub const STALE: Flags = Flags(1 << 6);
    pub const NO_AUTH: Flags = Flags(1 << 7);
    pub const ALLOW_BUSY: Flags = Flags(1 << 8);
    pub const DENYOOM: Flags = Flags(1 << 9);
    pub const NO_MULTI: Flags = Flags(1 << 10);
    pub const SKIP_SLOWLOG: Flags = Flags(1 << 11);

    /// Flag names in COMMAND INFO's order.
    pub const NAMES: &'static [(Flags, &'static str)] = &[
        (Flags::WRITE, "write"),
        (Flags::READONLY, "readonly"),
        (Flags::DENYOOM, "denyoom"),
        (Flags::ADMIN, "admin"),
        (Flags::NOSCRIPT, "noscript"),
        (Flags::LOADING, "loading"),
        (Flags::STALE, "stale"),
        (Flags::SKIP_SLOWLOG, "skip_slowlog"),
        (Flags::FAST, "fast"),
        (Flags::NO_AUTH, "no_auth"),
        (Flags::ALLOW_BUSY, "allow_busy"),
        (Flags::NO_MULTI, "no_multi"),
    ];

    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }

    /// The flag names set, in COMMAND INFO's order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Flags::NAMES
            .iter()
            .filter(move |(f, _)| self.contains(*f))
            .map(|(_, n)| *n)
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        self.union(rhs)
    }
}

/// Redis's command groups (COMMAND DOCS `group`, and the ACL category of the family).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Generic,
    String,
    List,
    Set,
    Transactions,
    Connection,
    Server,
}

impl Group {
    pub fn name(self) -> &'static str {
        match self {
            Group::Generic => "generic",
            Group::String => "string",
            Group::List => "list",
            Group::Set => "set",
            Group::Transactions => "transactions",
            Group::Connection => "connection",
            Group::Server => "server",
        }
    }

    /// The ACL category every command of the group carries.
    pub fn acl_category(self) -> &'static str {
        match self {
            Group::Generic => "@keyspace",
            Group::String => "@string",
            Group::List => "@list",
            Group::Set => "@set",
            Group::Transactions => "@transaction",
            Group::Connection => "@connection",
            Group::Server => "@admin",
        }
    }
}

/// One row of the command table.
#[derive(Debug)]
pub struct CommandSpec {
    /// Lower-case name (for a subcommand, the subcommand's own name, e.g. `get` under `config`).
    pub name: &'static str,
    /// Redis convention: positive = exact argument count including the name (and subcommand),
    /// negative = minimum.
    pub arity: i32,
    pub flags: Flags,
    /// Position of the first key (0 = no keys), the last (-1 = last argument, -2 = one before),
    /// and the step between keys.
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    pub group: Group,
    /// Redis version that introduced the command.
    pub since: &'static str,
    pub summary: &'static str,
    pub complexity: &'static str,
    /// Argument syntax after the name, as in Redis's docs (`key [NX|XX] seconds`).
    pub syntax: &'static str,
    /// `None` for container commands (COMMAND, CONFIG, CLIENT), which dispatch to `subcommands`.
    pub handler: Option<Handler>,
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    /// Whether `argc` (argument count including the name) satisfies the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let arity = self.arity as i64;
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    pub fn is_write(&self) -> bool {
        self.flags.contains(Flags::WRITE)
    }

    /// Finds a subcommand by name, case-insensitively.
    pub fn subcommand(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        self.subcommands
            .iter()
            .find(|s| s.name.as_bytes().eq_ignore_ascii_case(name))
    }
}

/// Builds a spec row with the fields most commands share; families override with struct update.
pub const fn spec(
    name: &'static str,
    arity: i32,
    flags: Flags,
    keys: (i32, i32, i32),
    group: Group,
    handler: Handler,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        step: keys.2,
        group,
        since: "1.0.0",
        summary: "",
        complexity: "O(1)",
        syntax: "",
        handler: Some(handler),
        subcommands: &[],
    }
}

/// No keys.
pub const NO_KEYS: (i32, i32, i32) = (0, 0, 0);
/// One key, at position 1.
pub const KEY1: (i32, i32, i32) = (1, 1, 1);
/// Every argument from position 1 is a key.
pub const ALL_KEYS: (i32, i32, i32) = (1, -1, 1);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_compose_and_name_in_order() {
        let f = Flags::WRITE | Flags::FAST | Flags::DENYOOM;
        assert!(f.contains(Flags::WRITE));
        assert!(!f.contains(Flags::READONLY));
        assert!(!f.contains(Flags::NONE));
        assert_eq!(f.names().collect::<Vec<_>>(), ["write", "denyoom", "fast"]);
    }
}
