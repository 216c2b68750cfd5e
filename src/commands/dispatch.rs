//! From argv to an outcome: lookup, arity, authentication, MULTI queueing, then the handler.
//!
//! The order and the texts follow Redis 7's `processCommand`: an unknown command or subcommand,
//! a wrong arity and a missing authentication are rejected before anything runs, and inside
//! MULTI any such rejection also marks the transaction so EXEC answers EXECABORT. Every other
//! command inside MULTI is queued with `+QUEUED`, except the ones that drive the transaction
//! (EXEC, DISCARD, MULTI, WATCH) and the ones that end the connection's state (QUIT, RESET).

use bytes::Bytes;

use crate::error::RedisError;
use crate::reply::Reply;

use super::args::Args;
use super::ctx::{Action, Ctx, ReplyFuture, Shared};
use super::session::{Queued, Session};
use super::spec::{CommandSpec, Flags};
use super::table;

/// What the connection does with a command's result.
pub enum Outcome {
    Reply(Reply),
    /// The reply comes later (a write waiting for its spore); later commands of the pipeline
    /// may be dispatched meanwhile, and replies are sent in order by the front end.
    Deferred(ReplyFuture),
    /// Send the reply, then close the connection.
    Close(Reply),
}

/// Commands that run immediately even inside MULTI.
const TRANSACTION_CONTROL: &[&str] = &["exec", "discard", "multi", "watch", "quit", "reset"];

/// A looked-up command: its spec and where its own arguments start.
pub struct Resolved {
    pub spec: &'static CommandSpec,
    /// The top-level command's name (the container's, for a subcommand).
    pub top: &'static str,
    pub skip: usize,
    /// `name` or `name|sub`, as INFO and CLIENT LIST show it.
    pub full_name: &'static str,
}

/// Finds the command (and subcommand) and checks arity.
pub fn resolve(argv: &[Bytes]) -> Result<Resolved, RedisError> {
    let name = argv.first().map(|b| b.as_ref()).unwrap_or(b"");
    let Some(spec) = table::lookup(name) else {
        return Err(unknown_command(argv));
    };
    if !spec.subcommands.is_empty() && (argv.len() >= 2 || spec.handler.is_none()) {
        if argv.len() < 2 {
            return Err(RedisError::arity(spec.name));
        }
        let Some(sub) = spec.subcommand(&argv[1]) else {
            return Err(RedisError::UnknownSubcommand {
                sub: String::from_utf8_lossy(&argv[1]).into_owned(),
                cmd: spec.name.to_string(),
            });
        };
        let full_name = table::full_name(spec, sub);
        if !sub.arity_ok(argv.len()) {
            return Err(RedisError::WrongArity {
                cmd: full_name.to_string(),
            });
        }
        return Ok(Resolved {
            spec: sub,
            top: spec.name,
            skip: 2,
            full_name,
        });
    }
    if !spec.arity_ok(argv.len()) {
        return Err(RedisError::arity(spec.name));
    }
    Ok(Resolved {
        spec,
        top: spec.name,
        skip: 1,
        full_name: spec.name,
    })
}

/// Redis's unknown-command error: the name and the first arguments, up to about 128 bytes.
fn unknown_command(argv: &[Bytes]) -> RedisError {
    let name = argv
        .first()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let mut args = Vec::new();
    let mut used = 0usize;
    for a in argv.iter().skip(1) {
        if used >= 128 {
            break;
        }
        let text = String::from_utf8_lossy(a);
        let room = 128 - used;
        let clipped: String = text
            .char_indices()
            .take_while(|(i, c)| i + c.len_utf8() <= room)
            .map(|(_, c)| c)
            .collect();
        used += clipped.len() + 3; // the quotes and the space
        args.push(clipped);
    }
    RedisError::UnknownCommand { name, args }
}

/// Dispatches one command of a connection.
pub fn dispatch(shared: &Shared, session: &mut Session, argv: Vec<Bytes>) -> Outcome {
    shared.stats.count_command();
    let outcome = run(shared, session, argv);
    if let Outcome::Reply(Reply::Error(e)) | Outcome::Close(Reply::Error(e)) = &outcome {
        shared.stats.count_error(&e.prefix());
    }
    outcome
}

fn run(shared: &Shared, session: &mut Session, argv: Vec<Bytes>) -> Outcome {
    let resolved = match resolve(&argv) {
        Ok(r) => r,
        Err(e) => return reject(session, e),
    };
    let spec = resolved.spec;
    if !session.authenticated && !spec.flags.contains(Flags::NO_AUTH) {
        return reject(session, RedisError::NoAuth);
    }
    let top = resolved.top;
    if let Some(multi) = session.multi.as_mut() {
        if !TRANSACTION_CONTROL.contains(&top) {
            if spec.flags.contains(Flags::NO_MULTI) {
                multi.dirty = true;
                return Outcome::Reply(Reply::Error(RedisError::NotAllowedInMulti {
                    cmd: resolved.full_name.to_string(),
                }));
            }
            multi.queue.push(Queued {
                spec,
                skip: resolved.skip,
                argv,
            });
            session.publish(resolved.full_name);
            return Outcome::Reply(Reply::Simple("QUEUED"));
        }
    }
    // A replica whose data is known not to be the cluster's serves no data from the databases
    // concerned until repaired (every data read works on the connection's database).
    // Redis's own mechanism for this is the STALE flag (the commands a replica with stale data
    // still answers): data reads lack it, while SPORE.ROOT / SPORE.PROOF have it and show what
    // is wrong.
    if spec.flags.contains(Flags::READONLY) && !spec.flags.contains(Flags::STALE) {
        if let Some(why) = shared
            .roots
            .as_ref()
            .and_then(|r| r.reads_refused(session.db))
        {
            return Outcome::Reply(Reply::Error(RedisError::ReadsRefused { why }));
        }
    }
    // Reported before running, as Redis sets `lastcmd` first: CLIENT LIST shows itself as
    // `cmd=client|list`. Reported again if the command changed what CLIENT LIST shows.
    session.publish(resolved.full_name);
    let before = (session.db, session.multi.is_some());
    // Pipelined reads share one snapshot (`Session::read_view`); anything else drops it, so
    // a read after a write or a MULTI step opens a fresh one.
    let shares_view = spec.flags.contains(Flags::READONLY);
    let reused = session.read_view.take().filter(|_| shares_view);
    let action = {
        let mut ctx = Ctx::new(shared, session);
        if let Some(view) = reused {
            ctx.reuse(view);
        }
        let action = call(&mut ctx, spec, resolved.skip, argv);
        let view = ctx.into_view().filter(|_| shares_view);
        session.read_view = view;
        action
    };
    if (session.db, session.multi.is_some()) != before {
        session.publish(resolved.full_name);
    }
    match action {
        Action::Reply(r) => Outcome::Reply(r),
        Action::Write(w) if !admissible(&w.ops) => {
            Outcome::Reply(Reply::Error(RedisError::KeyTooLong))
        }
        Action::Write(w) => {
            shared
                .stats
                .writes_submitted
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Outcome::Deferred(shared.submit(w))
        }
        Action::Later(f) => Outcome::Deferred(f),
        Action::Close(r) => Outcome::Close(r),
    }
}

/// Runs a resolved command's handler; errors become error replies.
pub fn call(
    ctx: &mut Ctx<'_>,
    spec: &'static CommandSpec,
    skip: usize,
    argv: Vec<Bytes>,
) -> Action {
    let Some(handler) = spec.handler else {
        return Action::Reply(Reply::Error(RedisError::Internal));
    };
    let mut args = Args::new(argv, skip);
    match handler(ctx, &mut args) {
        Ok(a) => a,
        Err(e) => Action::Reply(Reply::Error(e)),
    }
}

/// A command refused before running: inside MULTI it also dooms the transaction.
fn reject(session: &mut Session, e: RedisError) -> Outcome {
    if let Some(m) = session.multi.as_mut() {
        m.dirty = true;
    }
    Outcome::Reply(Reply::Error(e))
}

/// Whether every key name and set member of `ops` fits the store's layout (LMDB bounds the
/// size of its keys). Checked before a write is submitted, so oversized input is refused with
/// its own error and never reaches the executor or the spore.
pub fn admissible(ops: &[crate::spore::Op]) -> bool {
    ops.iter().all(crate::exec::fits)
}
