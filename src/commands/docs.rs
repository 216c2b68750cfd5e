//! COMMAND and its subcommands (COUNT, INFO, DOCS, LIST), generated from the command table in
//! Redis 7's reply shapes, so `redis-cli` hints and completion and client libraries' command
//! discovery work.

use crate::error::RedisError;
use crate::reply::Reply;

use super::args::Args;
use super::ctx::{Action, Ctx};
use super::spec::Group;
use super::spec::{spec, CommandSpec, Flags, NO_KEYS};
use super::syntax::{self, ArgDoc};
use super::table;

const G: Group = Group::Server;
const F: Flags = Flags::LOADING.union(Flags::STALE);

const SUBS: &[CommandSpec] = &[
    CommandSpec {
        since: "2.8.13",
        summary: "Returns a count of commands.",
        syntax: "",
        ..spec("count", 2, F, NO_KEYS, G, count)
    },
    CommandSpec {
        since: "2.8.13",
        summary: "Returns information about one, multiple or all commands.",
        complexity: "O(N) where N is the number of commands to look up",
        syntax: "[command-name...]",
        ..spec("info", -2, F, NO_KEYS, G, info)
    },
    CommandSpec {
        since: "7.0.0",
        summary: "Returns documentary information about one, multiple or all commands.",
        complexity: "O(N) where N is the number of commands to look up",
        syntax: "[command-name...]",
        ..spec("docs", -2, F, NO_KEYS, G, docs)
    },
    CommandSpec {
        since: "7.0.0",
        summary: "Returns a list of command names.",
        complexity: "O(N) where N is the total number of Redis commands",
        syntax: "[FILTERBY MODULE module-name|ACLCAT category|PATTERN pattern]",
        ..spec("list", -2, F, NO_KEYS, G, list)
    },
];

pub const SPECS: &[CommandSpec] = &[CommandSpec {
    since: "2.8.13",
    summary: "Returns detailed information about all commands.",
    complexity: "O(N) where N is the total number of Redis commands",
    syntax: "",
    subcommands: SUBS,
    ..spec("command", -1, F, NO_KEYS, G, all_info)
}];

fn status(s: &str) -> Reply {
    Reply::Status(s.to_string())
}

fn bulk(s: &str) -> Reply {
    Reply::bulk_str(s.to_string())
}

/// ACL categories derived from flags and group.
fn acl_categories(s: &CommandSpec) -> Vec<&'static str> {
    let mut out = Vec::new();
    if s.flags.contains(Flags::WRITE) {
        out.push("@write");
    } else if s.flags.contains(Flags::READONLY) {
        out.push("@read");
    }
    out.push(s.group.acl_category());
    out.push(if s.flags.contains(Flags::FAST) {
        "@fast"
    } else {
        "@slow"
    });
    if s.flags.contains(Flags::ADMIN) {
        out.push("@dangerous");
    }
    out.dedup();
    out
}

fn key_specs(s: &CommandSpec) -> Reply {
    if s.first_key <= 0 {
        return Reply::Array(vec![]);
    }
    let lastkey = if s.last_key < 0 {
        s.last_key
    } else {
        s.last_key - s.first_key
    };
    let access = if s.flags.contains(Flags::WRITE) {
        "RW"
    } else {
        "RO"
    };
    Reply::Array(vec![Reply::Map(vec![
        (bulk("flags"), Reply::Set(vec![status(access)])),
        (
            bulk("begin_search"),
            Reply::Map(vec![
                (bulk("type"), bulk("index")),
                (
                    bulk("spec"),
                    Reply::Map(vec![(bulk("index"), Reply::Int(s.first_key as i64))]),
                ),
            ]),
        ),
        (
            bulk("find_keys"),
            Reply::Map(vec![
                (bulk("type"), bulk("range")),
                (
                    bulk("spec"),
                    Reply::Map(vec![
                        (bulk("lastkey"), Reply::Int(lastkey as i64)),
                        (bulk("keystep"), Reply::Int(s.step as i64)),
                        (bulk("limit"), Reply::Int(0)),
                    ]),
                ),
            ]),
        ),
    ])])
}

/// One COMMAND INFO entry.
pub fn info_entry(s: &CommandSpec, full_name: &str) -> Reply {
    let subs = s
        .subcommands
        .iter()
        .map(|c| info_entry(c, &format!("{}|{}", full_name, c.name)))
        .collect();
    Reply::Array(vec![
        bulk(full_name),
        Reply::Int(s.arity as i64),
        Reply::Set(s.flags.names().map(status).collect()),
        Reply::Int(s.first_key as i64),
        Reply::Int(s.last_key as i64),
        Reply::Int(s.step as i64),
        Reply::Set(acl_categories(s).into_iter().map(status).collect()),
        Reply::Set(vec![]),
        key_specs(s),
        Reply::Array(subs),
    ])
}

fn arg_doc(a: &ArgDoc) -> Reply {
    let mut m = vec![(bulk("name"), bulk(&a.name)), (bulk("type"), bulk(a.kind))];
    if a.kind == "key" {
        m.push((bulk("key_spec_index"), Reply::Int(0)));
    }
    if let Some(t) = &a.token {
        m.push((bulk("token"), bulk(t)));
    }
    let mut flags = Vec::new();
    if a.optional {
        flags.push(status("optional"));
    }
    if a.multiple {
        flags.push(status("multiple"));
    }
    if !flags.is_empty() {
        m.push((bulk("flags"), Reply::Set(flags)));
    }
    if !a.children.is_empty() {
        m.push((
            bulk("arguments"),
            Reply::Array(a.children.iter().map(arg_doc).collect()),
        ));
    }
    Reply::Map(m)
}

/// One COMMAND DOCS entry (the value; the key is the name).
pub fn docs_entry(s: &CommandSpec, full_name: &str) -> Reply {
    let mut m = vec![
        (bulk("summary"), bulk(s.summary)),
        (bulk("since"), bulk(s.since)),
        (bulk("group"), bulk(s.group.name())),
        (bulk("complexity"), bulk(s.complexity)),
    ];
    let args = syntax::parse(s.syntax).unwrap_or_default();
    if !args.is_empty() {
        m.push((
            bulk("arguments"),
            Reply::Array(args.iter().map(arg_doc).collect()),
        ));
    }
    if !s.subcommands.is_empty() {
        let subs = s
            .subcommands
            .iter()
            .map(|c| {
                let n = format!("{}|{}", full_name, c.name);
                (bulk(&n), docs_entry(c, &n))
            })
            .collect();
        m.push((bulk("subcommands"), Reply::Map(subs)));
    }
    Reply::Map(m)
}

fn all_info(_ctx: &mut Ctx<'_>, _a: &mut Args) -> Result<Action, RedisError> {
    Ok(Reply::Array(table::all().map(|s| info_entry(s, s.name)).collect()).into())
}

fn count(_ctx: &mut Ctx<'_>, _a: &mut Args) -> Result<Action, RedisError> {
    Ok(Reply::Int(table::count() as i64).into())
}

/// Looks up `name` or `name|sub`.
fn find(name: &[u8]) -> Option<(&'static CommandSpec, String)> {
    let text = String::from_utf8_lossy(name).to_ascii_lowercase();
    match text.split_once('|') {
        Some((c, sub)) => {
            let s = table::lookup(c.as_bytes())?.subcommand(sub.as_bytes())?;
            Some((s, text.clone()))
        }
        None => table::lookup(name).map(|s| (s, s.name.to_string())),
    }
}

fn info(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    if a.is_empty() {
        return all_info(ctx, a);
    }
    let out = a
        .rest()
        .iter()
        .map(|n| find(n).map_or(Reply::Nil, |(s, full)| info_entry(s, &full)))
        .collect();
    Ok(Reply::Array(out).into())
}

fn docs(_ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let entries: Vec<(Reply, Reply)> = if a.is_empty() {
        table::all()
            .map(|s| (bulk(s.name), docs_entry(s, s.name)))
            .collect()
    } else {
        a.rest()
            .iter()
            .filter_map(|n| find(n))
            .map(|(s, full)| (bulk(&full), docs_entry(s, &full)))
            .collect()
    };
    Ok(Reply::Map(entries).into())
}

fn list(_ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let mut names: Vec<String> = Vec::new();
    for s in table::all() {
        names.push(s.name.to_string());
        names.extend(
            s.subcommands
                .iter()
                .map(|c| format!("{}|{}", s.name, c.name)),
        );
    }
    if !a.is_empty() {
        if !a.eat("FILTERBY") || a.remaining() != 2 {
            return Err(RedisError::Syntax);
        }
        let kind = a.token()?;
        let value = a.bytes()?;
        names.retain(|n| match kind.as_str() {
            "PATTERN" => crate::store::glob::glob_match(&value, n.as_bytes()),
            "ACLCAT" => find(n.as_bytes()).is_some_and(|(s, _)| {
                acl_categories(s)
                    .iter()
                    .any(|c| c.as_bytes()[1..].eq_ignore_ascii_case(&value))
            }),
            _ => false,
        });
        if !["PATTERN", "ACLCAT", "MODULE"].contains(&kind.as_str()) {
            return Err(RedisError::Syntax);
        }
    }
    Ok(Reply::Array(names.iter().map(|n| bulk(n)).collect()).into())
}
