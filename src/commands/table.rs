//! The command table: every family's specs joined, and case-insensitive lookup.
//!
//! This is the single source of truth for what sporedb implements: dispatch, COMMAND (and its
//! subcommands) and the tests below all read it. A command missing here answers Redis's
//! unknown-command error, never a wrong result.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::OnceLock;

use super::spec::CommandSpec;
use super::{
    connection, docs, keys, lists, server, sets, spore_cmds, spore_policy, spore_root, strings,
    transactions,
};

/// Every family's specs.
pub fn families() -> [&'static [CommandSpec]; 11] {
    [
        strings::SPECS,
        lists::SPECS,
        sets::SPECS,
        keys::SPECS,
        transactions::SPECS,
        connection::SPECS,
        server::SPECS,
        docs::SPECS,
        spore_cmds::SPECS,
        spore_policy::SPECS,
        spore_root::SPECS,
    ]
}

/// Every top-level command, in table order.
pub fn all() -> impl Iterator<Item = &'static CommandSpec> {
    families().into_iter().flatten()
}

/// FNV-1a: the index is looked up for every request, its keys are a fixed set of short
/// command names (no untrusted input chooses them), so the default SipHash's flooding
/// resistance buys nothing here and costs more than the rest of the lookup.
#[derive(Default)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type Index = HashMap<&'static str, &'static CommandSpec, BuildHasherDefault<Fnv>>;

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| all().map(|s| (s.name, s)).collect())
}

/// Looks a command up by name, case-insensitively.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    // Lower-cased on the stack: this runs for every request.
    let mut buf = [0u8; 32];
    let lower = buf.get_mut(..name.len())?;
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    index().get(std::str::from_utf8(lower).ok()?).copied()
}

/// `container|sub` as a static string, for CLIENT LIST's `cmd=` (the registry keeps a
/// `&'static str` so reporting a command never allocates). Interned once, at first use, for
/// every subcommand in the table: a fixed, small set.
pub fn full_name(container: &'static CommandSpec, sub: &'static CommandSpec) -> &'static str {
    type Names = HashMap<(&'static str, &'static str), &'static str>;
    static NAMES: OnceLock<Names> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        let mut names = Names::new();
        for c in all() {
            for s in c.subcommands {
                let full: &'static str = Box::leak(format!("{}|{}", c.name, s.name).into());
                names.insert((c.name, s.name), full);
            }
        }
        names
    });
    names
        .get(&(container.name, sub.name))
        .copied()
        .unwrap_or(sub.name)
}

/// Number of top-level commands (COMMAND COUNT).
pub fn count() -> usize {
    index().len()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::commands::spec::Flags;
    use crate::commands::syntax;

    fn every_spec() -> Vec<(String, &'static CommandSpec)> {
        let mut out = Vec::new();
        for s in all() {
            out.push((s.name.to_string(), s));
            for sub in s.subcommands {
                out.push((format!("{}|{}", s.name, sub.name), sub));
            }
        }
        out
    }

    #[test]
    fn names_unique_and_lower_case() {
        let names: Vec<_> = all().map(|s| s.name).collect();
        let set: BTreeSet<_> = names.iter().collect();
        assert_eq!(set.len(), names.len(), "duplicate command names");
        assert_eq!(count(), names.len());
        for (name, s) in every_spec() {
            assert_eq!(s.name, s.name.to_ascii_lowercase(), "{name}");
            let subs: BTreeSet<_> = s.subcommands.iter().map(|c| c.name).collect();
            assert_eq!(
                subs.len(),
                s.subcommands.len(),
                "{name}: duplicate subcommands"
            );
        }
        assert!(lookup(b"GeT").is_some());
        assert!(lookup(b"nosuchcommand").is_none());
    }

    #[test]
    fn arity_flags_and_keys_are_sane() {
        for (name, s) in every_spec() {
            assert!(s.arity != 0, "{name}: arity 0");
            let is_sub = name.contains('|');
            if is_sub {
                assert!(
                    s.arity.abs() >= 2,
                    "{name}: subcommand arity counts the name"
                );
            }
            assert!(
                !(s.flags.contains(Flags::WRITE) && s.flags.contains(Flags::READONLY)),
                "{name}"
            );
            assert!(
                s.handler.is_some() || !s.subcommands.is_empty(),
                "{name}: no handler and no subcommands"
            );
            if s.first_key == 0 {
                assert_eq!((s.last_key, s.step), (0, 0), "{name}");
            } else {
                assert!(s.first_key > 0 && s.step > 0, "{name}: key positions");
            }
            assert!(!s.summary.is_empty(), "{name}: summary missing");
            syntax::parse(s.syntax).unwrap_or_else(|e| panic!("{name}: syntax: {e}"));
        }
    }
}
