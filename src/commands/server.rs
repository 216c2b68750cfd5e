//! Server commands: INFO, TIME, CONFIG GET / SET / RESETSTAT.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;

use crate::error::RedisError;
use crate::reply::Reply;
use crate::spore::DATABASES;

use super::args::Args;
use super::connection::REDIS_VERSION;
use super::ctx::{Action, Ctx};
use super::spec::{spec, CommandSpec, Flags, Group, NO_KEYS};

const G: Group = Group::Server;
const ADMIN: Flags = Flags::ADMIN
    .union(Flags::NOSCRIPT)
    .union(Flags::LOADING)
    .union(Flags::STALE);

const CONFIG_SUBS: &[CommandSpec] = &[
    CommandSpec {
        since: "2.0.0",
        summary: "Returns the effective values of configuration parameters.",
        complexity: "O(N) when N is the number of configuration parameters provided",
        syntax: "parameter...",
        ..spec("get", -3, ADMIN, NO_KEYS, G, config_get)
    },
    CommandSpec {
        since: "2.0.0",
        summary: "Sets configuration parameters in-flight.",
        complexity: "O(N) when N is the number of configuration parameters provided",
        syntax: "(parameter value)...",
        ..spec("set", -4, ADMIN, NO_KEYS, G, config_set)
    },
    CommandSpec {
        since: "2.0.0",
        summary: "Resets the server's statistics.",
        syntax: "",
        ..spec("resetstat", 2, ADMIN, NO_KEYS, G, config_resetstat)
    },
];

pub const SPECS: &[CommandSpec] = &[
    CommandSpec {
        summary: "Returns information and statistics about the server.",
        complexity: "O(1)",
        syntax: "[section...]",
        ..spec(
            "info",
            -1,
            Flags::LOADING.union(Flags::STALE),
            NO_KEYS,
            G,
            info,
        )
    },
    CommandSpec {
        since: "2.6.0",
        summary: "Returns the server time.",
        syntax: "",
        ..spec(
            "time",
            1,
            Flags::LOADING.union(Flags::STALE).union(Flags::FAST),
            NO_KEYS,
            G,
            time,
        )
    },
    CommandSpec {
        since: "2.0.0",
        summary: "A container for server configuration commands.",
        complexity: "Depends on subcommand.",
        syntax: "",
        handler: None,
        subcommands: CONFIG_SUBS,
        ..spec("config", -2, Flags::NONE, NO_KEYS, G, time)
    },
];

fn time(ctx: &mut Ctx<'_>, _a: &mut Args) -> Result<Action, RedisError> {
    // Microseconds come from the millisecond clock: sporedb's clock has ms resolution.
    let now = ctx.now_ms;
    Ok(Reply::Array(vec![
        Reply::bulk_str((now / 1000).to_string()),
        Reply::bulk_str(((now % 1000) * 1000).to_string()),
    ])
    .into())
}

fn config_get(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let patterns: Vec<Vec<u8>> = a.rest().into_iter().map(|p| p.to_vec()).collect();
    let pairs = ctx.shared.settings.matching(&patterns);
    Ok(Reply::Map(
        pairs
            .into_iter()
            .map(|(n, v)| (Reply::bulk_str(n), Reply::bulk_str(v)))
            .collect(),
    )
    .into())
}

fn config_set(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let rest = a.rest();
    if !rest.len().is_multiple_of(2) {
        return Err(RedisError::WrongArity {
            cmd: "config|set".into(),
        });
    }
    let pairs: Vec<(String, String)> = rest
        .chunks(2)
        .map(|p| {
            (
                String::from_utf8_lossy(&p[0]).into_owned(),
                String::from_utf8_lossy(&p[1]).into_owned(),
            )
        })
        .collect();
    ctx.shared.settings.set_all(&pairs)?;
    // The front end enforces maxclients: tell it (new connections see the new limit).
    if let Some(n) = ctx.shared.settings.int("maxclients") {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        ctx.session.client().clients().set_maxclients(n);
    }
    Ok(Reply::OK.into())
}

fn config_resetstat(ctx: &mut Ctx<'_>, _a: &mut Args) -> Result<Action, RedisError> {
    ctx.shared.stats.reset();
    Ok(Reply::OK.into())
}

const SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "keyspace",
    "errorstats",
    "sporedb",
];
/// Sections `INFO` (and `INFO default`) prints; `all`/`everything` add errorstats.
const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "keyspace",
    "sporedb",
];

fn info(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let mut wanted: Vec<&str> = Vec::new();
    let args: Vec<String> = a
        .rest()
        .iter()
        .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
        .collect();
    if args.is_empty() {
        wanted.extend(DEFAULT);
    }
    for s in &args {
        match s.as_str() {
            "default" => wanted.extend(DEFAULT),
            "all" | "everything" => wanted.extend(SECTIONS),
            other => {
                if let Some(sec) = SECTIONS.iter().find(|x| **x == other) {
                    wanted.push(sec);
                }
            }
        }
    }
    let mut out = String::new();
    for sec in SECTIONS.iter().filter(|s| wanted.contains(s)) {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        section(ctx, sec, &mut out)?;
    }
    Ok(Reply::Verbatim(out).into())
}

fn section(ctx: &mut Ctx<'_>, name: &str, out: &mut String) -> Result<(), RedisError> {
    let sh = ctx.shared;
    let now = ctx.now_ms;
    let clients = ctx.session.client().clients().clone();
    let mut title = name.to_string();
    if let Some(c) = title.get_mut(0..1) {
        c.make_ascii_uppercase();
    }
    let _ = write!(
        out,
        "# {}\r\n",
        if name == "cpu" {
            "CPU".to_string()
        } else {
            title
        }
    );
    let mut kv = |k: &str, v: String| {
        let _ = write!(out, "{k}:{v}\r\n");
    };
    match name {
        "server" => {
            kv("redis_version", REDIS_VERSION.into());
            kv("sporedb_version", env!("CARGO_PKG_VERSION").into());
            kv("redis_mode", "standalone".into());
            kv("os", std::env::consts::OS.into());
            kv("arch_bits", (usize::BITS).to_string());
            kv("process_id", std::process::id().to_string());
            kv("tcp_port", sh.settings.get("port").unwrap_or_default());
            let up = now.saturating_sub(sh.started_ms) / 1000;
            kv("uptime_in_seconds", up.to_string());
            kv("uptime_in_days", (up / 86400).to_string());
            kv("hz", sh.settings.get("hz").unwrap_or_default());
        }
        "clients" => {
            kv("connected_clients", clients.connected().to_string());
            kv("maxclients", clients.maxclients().to_string());
            kv("blocked_clients", "0".into());
        }
        "memory" => {
            kv("used_memory", "0".into());
            kv(
                "maxmemory",
                sh.settings.get("maxmemory").unwrap_or_default(),
            );
            kv(
                "maxmemory_policy",
                sh.settings.get("maxmemory-policy").unwrap_or_default(),
            );
        }
        "persistence" => {
            kv("loading", "0".into());
            kv("rdb_bgsave_in_progress", "0".into());
            kv("aof_enabled", "0".into());
        }
        "stats" => {
            kv(
                "total_connections_received",
                clients.total_connections_received().to_string(),
            );
            kv(
                "total_commands_processed",
                sh.stats.commands_processed.load(Relaxed).to_string(),
            );
            kv(
                "rejected_connections",
                clients.rejected_connections().to_string(),
            );
            kv(
                "keyspace_hits",
                sh.stats.keyspace_hits.load(Relaxed).to_string(),
            );
            kv(
                "keyspace_misses",
                sh.stats.keyspace_misses.load(Relaxed).to_string(),
            );
            kv("total_error_replies", sh.stats.total_errors().to_string());
        }
        "replication" => {
            kv("role", "master".into());
            kv("connected_slaves", "0".into());
        }
        "cpu" => {
            kv("used_cpu_sys", "0.000000".into());
            kv("used_cpu_user", "0.000000".into());
        }
        "keyspace" => {
            let view = ctx.view()?;
            for db in 0..DATABASES {
                let keys = view.dbsize(db)?;
                if keys > 0 {
                    let expires = view.expires(db)?;
                    let _ = write!(out, "db{db}:keys={keys},expires={expires},avg_ttl=0\r\n");
                }
            }
        }
        "errorstats" => {
            for (prefix, n) in sh.stats.errors() {
                kv(&format!("errorstat_{prefix}"), format!("count={n}"));
            }
        }
        "sporedb" => {
            let st = sh.node.status();
            kv("node_key", st.node_key);
            kv("policy_n", st.n.to_string());
            kv("policy_quorum", st.quorum.to_string());
            kv("policy_f", st.f.to_string());
            kv("policy_hash", st.policy_hash.clone());
            kv("policy_changes", st.policy_changes.to_string());
            kv("spores_committed", st.spores_committed.to_string());
            kv("spores_dropped", st.spores_dropped.to_string());
            kv("spores_retried", st.spores_retried.to_string());
            kv("spores_pending", st.spores_pending.to_string());
            kv("spores_unconfirmed", st.spores_unconfirmed.to_string());
            kv("state_transfers", st.state_transfers.to_string());
            kv("spores_not_stored", st.spores_not_stored.to_string());
            kv(
                "startup_sync",
                if st.startup_sync_pending {
                    "pending"
                } else {
                    "done"
                }
                .to_string(),
            );
            kv(
                "spore_deadline_ms",
                sh.settings.get("spore-deadline-ms").unwrap_or_default(),
            );
            if let Some(roots) = &sh.roots {
                super::spore_root::info_fields(roots.as_ref(), &mut kv);
            }
            for (name, value) in &st.net {
                kv(&format!("net_{name}"), value.to_string());
            }
        }
        _ => {}
    }
    Ok(())
}
