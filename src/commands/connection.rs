//! Connection commands: PING, ECHO, AUTH, SELECT, QUIT, RESET, HELLO and CLIENT.

use crate::error::RedisError;
use crate::reply::Reply;

use super::args::Args;
use super::ctx::{Action, Ctx};
use super::keys::valid_db;
use super::spec::{spec, CommandSpec, Flags, Group, NO_KEYS};
use crate::server::ClientInfo;

const G: Group = Group::Connection;
const CONN: Flags = Flags::NOSCRIPT
    .union(Flags::LOADING)
    .union(Flags::STALE)
    .union(Flags::FAST);
const NOAUTH: Flags = CONN.union(Flags::NO_AUTH).union(Flags::ALLOW_BUSY);

/// The Redis version sporedb reports (the command set and reply shapes it follows).
pub const REDIS_VERSION: &str = "7.0.0";

const CLIENT_SUBS: &[CommandSpec] = &[
    CommandSpec {
        since: "5.0.0",
        summary: "Returns the unique client ID of the connection.",
        syntax: "",
        ..spec("id", 2, CONN, NO_KEYS, G, client_id)
    },
    CommandSpec {
        since: "2.6.9",
        summary: "Sets the connection name.",
        syntax: "connection-name",
        ..spec("setname", 3, CONN, NO_KEYS, G, client_setname)
    },
    CommandSpec {
        since: "2.6.9",
        summary: "Returns the name of the connection.",
        syntax: "",
        ..spec("getname", 2, CONN, NO_KEYS, G, client_getname)
    },
    CommandSpec {
        since: "7.2.0",
        summary: "Sets information specific to the client or connection.",
        syntax: "(LIB-NAME libname|LIB-VER libver)",
        ..spec("setinfo", 4, CONN, NO_KEYS, G, client_setinfo)
    },
    CommandSpec {
        since: "2.4.0",
        summary: "Lists open connections.",
        complexity: "O(N) where N is the number of client connections",
        syntax: "[TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID client-id...]",
        flags: Flags::ADMIN
            .union(Flags::NOSCRIPT)
            .union(Flags::LOADING)
            .union(Flags::STALE),
        ..spec("list", -2, CONN, NO_KEYS, G, client_list)
    },
    CommandSpec {
        since: "6.2.0",
        summary: "Returns information about the connection.",
        syntax: "",
        ..spec("info", 2, CONN, NO_KEYS, G, client_info)
    },
    CommandSpec {
        since: "2.4.0",
        summary: "Terminates open connections.",
        complexity: "O(N) where N is the number of client connections",
        syntax: "(ip:port|(ID client-id)...)",
        flags: Flags::ADMIN
            .union(Flags::NOSCRIPT)
            .union(Flags::LOADING)
            .union(Flags::STALE),
        ..spec("kill", -3, CONN, NO_KEYS, G, client_kill)
    },
    CommandSpec {
        since: "7.0.0",
        summary: "Sets the client eviction mode of the connection.",
        syntax: "(ON|OFF)",
        ..spec("no-evict", 3, CONN, NO_KEYS, G, client_no_evict)
    },
    CommandSpec {
        since: "7.2.0",
        summary:
            "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
        syntax: "(ON|OFF)",
        ..spec("no-touch", 3, CONN, NO_KEYS, G, client_no_touch)
    },
];

pub const SPECS: &[CommandSpec] = &[
    CommandSpec {
        summary: "Returns the server's liveliness response.",
        syntax: "[message]",
        ..spec("ping", -1, CONN, NO_KEYS, G, ping)
    },
    CommandSpec {
        summary: "Returns the given string.",
        syntax: "message",
        ..spec("echo", 2, CONN, NO_KEYS, G, echo)
    },
    CommandSpec {
        summary: "Authenticates the connection.",
        complexity: "O(N) where N is the number of passwords defined for the user",
        syntax: "[username] password",
        ..spec("auth", -2, NOAUTH, NO_KEYS, G, auth)
    },
    CommandSpec {
        since: "2.0.0",
        summary: "Changes the selected database.",
        syntax: "index",
        ..spec("select", 2, CONN, NO_KEYS, G, select)
    },
    CommandSpec {
        summary: "Closes the connection.",
        syntax: "",
        ..spec("quit", -1, NOAUTH, NO_KEYS, G, quit)
    },
    CommandSpec {
        since: "6.2.0",
        summary: "Resets the connection.",
        syntax: "",
        ..spec("reset", 1, NOAUTH, NO_KEYS, G, reset)
    },
    CommandSpec {
        since: "6.0.0",
        summary: "Handshakes with the Redis server.",
        syntax: "[protover [AUTH username password] [SETNAME clientname]]",
        ..spec("hello", -1, NOAUTH, NO_KEYS, G, hello)
    },
    CommandSpec {
        since: "2.4.0",
        summary: "A container for client connection commands.",
        complexity: "Depends on subcommand.",
        syntax: "",
        arity: -2,
        handler: None,
        subcommands: CLIENT_SUBS,
        ..spec("client", -2, Flags::NONE, NO_KEYS, G, client_id)
    },
];

fn ping(_ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    match a.remaining() {
        0 => Ok(Reply::Simple("PONG").into()),
        1 => Ok(Reply::Bulk(a.bytes()?).into()),
        _ => Err(RedisError::arity("ping")),
    }
}

fn echo(_ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    Ok(Reply::Bulk(a.bytes()?).into())
}

/// Checks a username/password pair against `requirepass` (the only user is `default`).
fn check_credentials(ctx: &Ctx<'_>, user: Option<&[u8]>, pass: &[u8]) -> Result<(), RedisError> {
    let required = ctx.shared.settings.requirepass();
    let default_user = user.is_none_or(|u| u == b"default");
    match (required, user) {
        (None, None) => Err(RedisError::AuthNotConfigured),
        // The default user has no password: any password is accepted for it.
        (None, Some(_)) if default_user => Ok(()),
        (Some(p), _) if default_user && p.as_bytes() == pass => Ok(()),
        _ => Err(RedisError::WrongPass),
    }
}

fn auth(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let (user, pass) = match a.remaining() {
        1 => (None, a.bytes()?),
        2 => (Some(a.bytes()?), a.bytes()?),
        _ => return Err(RedisError::Syntax),
    };
    check_credentials(ctx, user.as_deref(), &pass)?;
    ctx.session.authenticated = true;
    Ok(Reply::OK.into())
}

fn select(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let db = a.i64()?;
    ctx.session.db = valid_db(db).ok_or(RedisError::DbIndexOutOfRange)?;
    Ok(Reply::OK.into())
}

fn quit(_ctx: &mut Ctx<'_>, _a: &mut Args) -> Result<Action, RedisError> {
    Ok(Action::Close(Reply::OK))
}

fn reset(ctx: &mut Ctx<'_>, _a: &mut Args) -> Result<Action, RedisError> {
    let s = &mut *ctx.session;
    s.end_transaction();
    s.db = 0;
    s.protocol = 2;
    s.authenticated = ctx.shared.settings.requirepass().is_none();
    s.no_evict = false;
    s.no_touch = false;
    s.client().set_name("");
    Ok(Reply::Simple("RESET").into())
}

/// Redis refuses names with spaces, newlines or other characters outside '!'..='~'.
fn valid_name(name: &[u8]) -> bool {
    name.iter().all(|c| (b'!'..=b'~').contains(c))
}

fn hello(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let mut proto = ctx.session.protocol;
    let mut setname = None;
    if !a.is_empty() {
        let v = super::args::parse_i64(&a.bytes()?).ok_or(RedisError::ProtoVersion)?;
        if !(2..=3).contains(&v) {
            return Err(RedisError::NoProto);
        }
        proto = v as u8;
        let mut authed = false;
        while !a.is_empty() {
            let opt = a.string()?;
            match opt.to_ascii_uppercase().as_str() {
                "AUTH" if a.remaining() >= 2 => {
                    let user = a.bytes()?;
                    let pass = a.bytes()?;
                    check_credentials(ctx, Some(&user), &pass)?;
                    authed = true;
                }
                "SETNAME" if !a.is_empty() => {
                    let name = a.bytes()?;
                    if !valid_name(&name) {
                        return Err(RedisError::BadClientName);
                    }
                    setname = Some(name);
                }
                _ => return Err(RedisError::HelloSyntax { opt }),
            }
        }
        if authed {
            ctx.session.authenticated = true;
        }
    }
    if !ctx.session.authenticated {
        return Err(RedisError::HelloNoAuth);
    }
    ctx.session.protocol = proto;
    if let Some(n) = setname {
        ctx.session
            .client()
            .set_name(String::from_utf8_lossy(&n).into_owned());
    }
    let s = |t: &str| Reply::bulk_str(t.to_string());
    Ok(Reply::Map(vec![
        (s("server"), s("redis")),
        (s("version"), s(REDIS_VERSION)),
        (s("proto"), Reply::Int(proto as i64)),
        (s("id"), Reply::Int(ctx.session.id() as i64)),
        (s("mode"), s("standalone")),
        (s("role"), s("master")),
        (s("modules"), Reply::Array(vec![])),
    ])
    .into())
}

fn client_id(ctx: &mut Ctx<'_>, _a: &mut Args) -> Result<Action, RedisError> {
    Ok(Reply::Int(ctx.session.id() as i64).into())
}

fn client_setname(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let name = a.bytes()?;
    if !valid_name(&name) {
        return Err(RedisError::BadClientName);
    }
    ctx.session
        .client()
        .set_name(String::from_utf8_lossy(&name).into_owned());
    Ok(Reply::OK.into())
}

fn client_getname(ctx: &mut Ctx<'_>, _a: &mut Args) -> Result<Action, RedisError> {
    let name = ctx.session.client().name();
    Ok(if name.is_empty() {
        Reply::Nil
    } else {
        Reply::bulk_str(name)
    }
    .into())
}

fn client_setinfo(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let attr = a.string()?;
    let value = a.bytes()?;
    if !value.iter().all(|c| (b'!'..=b'~').contains(c)) {
        return Err(RedisError::generic(format!(
            "{} cannot contain spaces, newlines or special characters.",
            attr.to_ascii_lowercase()
        )));
    }
    let value = String::from_utf8_lossy(&value).into_owned();
    let client = ctx.session.client();
    match attr.to_ascii_uppercase().as_str() {
        "LIB-NAME" => client.set_lib_name(value),
        "LIB-VER" => client.set_lib_ver(value),
        _ => return Err(RedisError::generic(format!("Unrecognized option '{attr}'"))),
    }
    Ok(Reply::OK.into())
}

fn client_list(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let mut ids: Option<Vec<u64>> = None;
    while !a.is_empty() {
        match a.token()?.as_str() {
            "TYPE" if !a.is_empty() => {
                let t = a.token()?;
                if !["NORMAL", "MASTER", "REPLICA", "SLAVE", "PUBSUB"].contains(&t.as_str()) {
                    return Err(RedisError::generic(format!(
                        "Unknown client type '{}'",
                        t.to_ascii_lowercase()
                    )));
                }
                if t != "NORMAL" {
                    ids = Some(Vec::new());
                }
            }
            "ID" if !a.is_empty() => {
                let mut list = Vec::new();
                while !a.is_empty() {
                    let id = a
                        .i64()
                        .map_err(|_| RedisError::generic("Invalid client ID"))?;
                    list.push(
                        u64::try_from(id).map_err(|_| RedisError::generic("Invalid client ID"))?,
                    );
                }
                ids = Some(list);
            }
            _ => return Err(RedisError::Syntax),
        }
    }
    let mut text = String::new();
    for c in ctx.session.client().clients().list() {
        if ids.as_ref().is_none_or(|l| l.contains(&c.id)) {
            text.push_str(&c.line());
            text.push('\n');
        }
    }
    Ok(Reply::Verbatim(text).into())
}

fn client_info(ctx: &mut Ctx<'_>, _a: &mut Args) -> Result<Action, RedisError> {
    let line = ctx.session.client().info().line();
    Ok(Reply::Verbatim(line + "\n").into())
}

fn client_kill(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let me = ctx.session.id();
    let clients = ctx.session.client().clients().clone();
    let killed_me = std::cell::Cell::new(false);
    let note = |c: &ClientInfo| {
        killed_me.set(killed_me.get() || c.id == me);
        true
    };
    if a.remaining() == 1 {
        // Old form: CLIENT KILL addr:port (it may name the caller itself).
        let addr = a.string()?;
        let n = clients.kill_where(|c| c.addr.to_string() == addr && note(c));
        return match n {
            0 => Err(RedisError::NoSuchClient),
            _ if killed_me.get() => Ok(Action::Close(Reply::OK)),
            _ => Ok(Reply::OK.into()),
        };
    }
    let mut filters: Vec<KillFilter> = Vec::new();
    let mut skipme = true;
    while !a.is_empty() {
        let f = a.token()?;
        if a.is_empty() {
            return Err(RedisError::Syntax);
        }
        match f.as_str() {
            "ID" => {
                let id = a
                    .i64()
                    .ok()
                    .and_then(|i| u64::try_from(i).ok())
                    .filter(|i| *i > 0)
                    .ok_or_else(|| RedisError::generic("client-id should be greater than 0"))?;
                filters.push(Box::new(move |c| c.id == id));
            }
            "ADDR" => {
                let v = a.string()?;
                filters.push(Box::new(move |c| c.addr.to_string() == v));
            }
            "LADDR" => {
                let v = a.string()?;
                filters.push(Box::new(move |c| c.laddr.to_string() == v));
            }
            "USER" => {
                let v = a.string()?;
                filters.push(Box::new(move |_| v == "default"));
            }
            "TYPE" => {
                let t = a.token()?;
                let normal = match t.as_str() {
                    "NORMAL" => true,
                    "MASTER" | "REPLICA" | "SLAVE" | "PUBSUB" => false,
                    _ => {
                        return Err(RedisError::generic(format!(
                            "Unknown client type '{}'",
                            t.to_ascii_lowercase()
                        )))
                    }
                };
                filters.push(Box::new(move |_| normal));
            }
            "SKIPME" => match a.token()?.as_str() {
                "YES" => skipme = true,
                "NO" => skipme = false,
                _ => return Err(RedisError::Syntax),
            },
            "MAXAGE" => {
                let age = a.i64()?;
                filters.push(Box::new(move |c| {
                    i64::try_from(c.age).unwrap_or(i64::MAX) >= age
                }));
            }
            _ => return Err(RedisError::Syntax),
        }
    }
    let n =
        clients.kill_where(|c| !(skipme && c.id == me) && filters.iter().all(|f| f(c)) && note(c));
    let reply = Reply::Int(i64::try_from(n).unwrap_or(i64::MAX));
    // Killing itself, the caller still gets its reply, then the connection closes.
    if killed_me.get() {
        return Ok(Action::Close(reply));
    }
    Ok(reply.into())
}

/// One CLIENT KILL filter.
type KillFilter = Box<dyn Fn(&ClientInfo) -> bool>;

fn on_off(a: &mut Args) -> Result<bool, RedisError> {
    match a.token()?.as_str() {
        "ON" => Ok(true),
        "OFF" => Ok(false),
        _ => Err(RedisError::Syntax),
    }
}

fn client_no_evict(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let on = on_off(a)?;
    ctx.session.no_evict = on;
    Ok(Reply::OK.into())
}

fn client_no_touch(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let on = on_off(a)?;
    ctx.session.no_touch = on;
    Ok(Reply::OK.into())
}
