//! MULTI / EXEC / DISCARD / WATCH / UNWATCH. An EXEC becomes **one** spore.
//!
//! EXEC runs every queued command's handler, in order, against one snapshot taken at EXEC time.
//! Writes contribute their ops to a single `WriteRequest` (one spore, applied atomically by every
//! replica); reads are answered from the snapshot. How reads stay consistent with the writes:
//!
//! * **Reads before any write they depend on** are answered from the snapshot, and the version
//!   each read key had in it is added to the request's `watched` prerequisites, together with
//!   the versions of every key the transaction's ops touch. The spore therefore applies only if
//!   none of those keys changed between the snapshot and the apply, so the reads and the writes
//!   observe one state, as in Redis. If a pinned key changed, nothing is applied and EXEC answers
//!   `TRYAGAIN` (or the null array when a key the *client* WATCHed changed). Pure-write
//!   transactions pin nothing, so they keep the commutativity of INCR/SADD/...
//! * **Reads of a key written earlier in the same transaction** (or whole-database reads after a
//!   write to that database) must see those writes: the pending ops are applied to a private
//!   overlay of the snapshot with the store's executor (`Snapshot::apply_local`) and the read runs
//!   against it. The pins above make the overlay's result the one the real apply produces.
//!
//! Limits: whole-database reads (KEYS, SCAN, DBSIZE, RANDOMKEY) cannot be pinned per key, so in a
//! transaction that also writes, a concurrent write elsewhere in the database may not be
//! reflected. A store failure while building the overlay answers that read with an error, never
//! a stale value.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::RedisError;
use crate::reply::Reply;
use crate::spore::{DbScope, Key, KeyVersion, DATABASES};
use crate::write::{WriteError, WriteRequest};

use super::args::Args;
use super::ctx::{write_error, Action, Ctx, Shape};
use super::dispatch;
use super::session::{Multi, Queued};
use super::spec::{spec, CommandSpec, Flags, Group, ALL_KEYS, NO_KEYS};

const G: Group = Group::Transactions;
const CTRL: Flags = Flags::NOSCRIPT
    .union(Flags::LOADING)
    .union(Flags::STALE)
    .union(Flags::FAST)
    .union(Flags::ALLOW_BUSY);

pub const SPECS: &[CommandSpec] = &[
    CommandSpec {
        since: "1.2.0",
        summary: "Starts a transaction.",
        syntax: "",
        ..spec("multi", 1, CTRL, NO_KEYS, G, multi)
    },
    CommandSpec {
        since: "1.2.0",
        summary: "Executes all commands in a transaction.",
        complexity: "Depends on commands in the transaction",
        syntax: "",
        flags: Flags::NOSCRIPT
            .union(Flags::LOADING)
            .union(Flags::STALE)
            .union(Flags::SKIP_SLOWLOG),
        ..spec("exec", 1, CTRL, NO_KEYS, G, exec)
    },
    CommandSpec {
        since: "2.0.0",
        summary: "Discards a transaction.",
        syntax: "",
        ..spec("discard", 1, CTRL, NO_KEYS, G, discard)
    },
    CommandSpec {
        since: "2.2.0",
        summary: "Monitors changes to keys to determine the execution of a transaction.",
        complexity: "O(1) for every key.",
        syntax: "key...",
        ..spec("watch", -2, CTRL, ALL_KEYS, G, watch)
    },
    CommandSpec {
        since: "2.2.0",
        summary: "Forgets about watched keys of a transaction.",
        syntax: "",
        ..spec("unwatch", 1, CTRL, NO_KEYS, G, unwatch)
    },
];

fn multi(ctx: &mut Ctx<'_>, _a: &mut Args) -> Result<Action, RedisError> {
    if ctx.session.in_multi() {
        return Err(RedisError::NestedMulti);
    }
    ctx.session.multi = Some(Multi::default());
    Ok(Reply::OK.into())
}

fn discard(ctx: &mut Ctx<'_>, _a: &mut Args) -> Result<Action, RedisError> {
    if !ctx.session.in_multi() {
        return Err(RedisError::DiscardWithoutMulti);
    }
    ctx.session.end_transaction();
    Ok(Reply::OK.into())
}

fn watch(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    if ctx.session.in_multi() {
        return Err(RedisError::WatchInMulti);
    }
    let keys: Vec<Key> = a.rest().into_iter().map(|k| ctx.key(k)).collect();
    let mut versions = Vec::with_capacity(keys.len());
    {
        let view = ctx.view()?;
        for k in keys {
            let v = view.key_version(&k);
            versions.push((k, v));
        }
    }
    for (k, v) in versions {
        // A key watched twice keeps its first version, as Redis keeps the first WATCH.
        ctx.session.watched.entry(k).or_insert(v);
    }
    Ok(Reply::OK.into())
}

fn unwatch(ctx: &mut Ctx<'_>, _a: &mut Args) -> Result<Action, RedisError> {
    ctx.session.watched.clear();
    Ok(Reply::OK.into())
}

/// The keys a queued command names, from its spec's key positions, in its own database.
fn command_keys(q: &Queued, db: u8) -> Vec<Key> {
    let s = q.spec;
    if s.first_key <= 0 {
        return Vec::new();
    }
    let argc = q.argv.len() as i64;
    let first = s.first_key as i64 + (q.skip as i64 - 1);
    let last = if s.last_key < 0 {
        argc + s.last_key as i64
    } else {
        s.last_key as i64 + (q.skip as i64 - 1)
    };
    let mut out = Vec::new();
    let mut i = first;
    while i <= last && i < argc {
        out.push(Key::new(db, q.argv[i as usize].clone()));
        i += s.step.max(1) as i64;
    }
    out
}

/// One queued command's place in EXEC's reply.
enum Slot {
    Ready(Reply),
    Ops { count: usize, shape: Shape },
}

/// What the transaction has written so far, to tell which reads depend on it.
#[derive(Default)]
struct Written {
    keys: BTreeSet<Key>,
    dbs: BTreeSet<u8>,
}

impl Written {
    fn record(&mut self, ops: &[crate::spore::Op]) {
        for op in ops {
            op.access(&mut |k, _| {
                self.keys.insert(k.clone());
                self.dbs.insert(k.db);
            });
            match op.db_scope() {
                Some(DbScope::One(db)) => {
                    self.dbs.insert(db);
                }
                Some(DbScope::All) => self.dbs.extend(0..DATABASES),
                None => {}
            }
        }
    }

    /// Whether a command reading `keys` (or all of `db` when `keys` is empty) depends on them.
    fn touches(&self, keys: &[Key], db: u8, db_wide: bool) -> bool {
        (db_wide && self.dbs.contains(&db))
            || keys
                .iter()
                .any(|k| self.keys.contains(k) || self.flushed(k.db))
    }

    fn flushed(&self, db: u8) -> bool {
        // A flush records the db without any key; treat any write in a flushed db conservatively.
        self.dbs.contains(&db) && !self.keys.iter().any(|k| k.db == db)
    }
}

fn exec(ctx: &mut Ctx<'_>, _a: &mut Args) -> Result<Action, RedisError> {
    let Some(multi) = ctx.session.multi.take() else {
        return Err(RedisError::ExecWithoutMulti);
    };
    let watched: BTreeMap<Key, KeyVersion> = std::mem::take(&mut ctx.session.watched);
    if multi.dirty {
        return Err(RedisError::ExecAbort);
    }
    {
        let view = ctx.view()?;
        if watched.iter().any(|(k, v)| view.key_version(k) != *v) {
            return Ok(Reply::NilArray.into());
        }
    }
    let mut slots = Vec::with_capacity(multi.queue.len());
    let mut ops = Vec::new();
    let mut applied_locally = 0usize;
    let mut written = Written::default();
    let mut pins: BTreeMap<Key, KeyVersion> = BTreeMap::new();
    let mut has_reads = false;
    for q in multi.queue {
        let db = ctx.session.db;
        let keys = command_keys(&q, db);
        let is_write = q.spec.is_write();
        let db_wide = keys.is_empty() && q.spec.flags.contains(Flags::READONLY);
        if written.touches(&keys, db, db_wide) && applied_locally < ops.len() {
            if let Err(e) = ctx.view_mut()?.apply_local(&ops[applied_locally..]) {
                slots.push(Slot::Ready(Reply::Error(e)));
                continue;
            }
            applied_locally = ops.len();
        }
        // Pin what this command reads (reads, and writes whose handler reads, like SPOP), at
        // the snapshot's versions.
        if !is_write || q.spec.name == "spop" {
            has_reads |= !keys.is_empty() || db_wide;
            let view = ctx.view()?;
            for k in &keys {
                pins.entry(k.clone()).or_insert_with(|| view.key_version(k));
            }
        }
        match dispatch::call(ctx, q.spec, q.skip, q.argv) {
            Action::Reply(r) => slots.push(Slot::Ready(r)),
            Action::Write(w) if !dispatch::admissible(&w.ops) => {
                slots.push(Slot::Ready(Reply::Error(RedisError::KeyTooLong)))
            }
            Action::Write(w) => {
                written.record(&w.ops);
                slots.push(Slot::Ops {
                    count: w.ops.len(),
                    shape: w.shape,
                });
                ops.extend(w.ops);
            }
            Action::Later(_) | Action::Close(_) => {
                slots.push(Slot::Ready(Reply::Error(RedisError::Internal)))
            }
        }
    }
    if ops.is_empty() {
        return Ok(Reply::Array(
            slots
                .into_iter()
                .map(|s| match s {
                    Slot::Ready(r) => r,
                    Slot::Ops { shape, .. } => shape(Vec::new()),
                })
                .collect(),
        )
        .into());
    }
    let user_watched: Vec<(Key, KeyVersion)> = watched.into_iter().collect();
    let mut request_watched: BTreeMap<Key, KeyVersion> = user_watched.iter().cloned().collect();
    if has_reads {
        let view = ctx.view()?;
        for op in &ops {
            op.access(&mut |k, _| {
                pins.entry(k.clone()).or_insert_with(|| view.key_version(k));
            });
        }
        for (k, v) in pins {
            request_watched.entry(k).or_insert(v);
        }
    }
    let request = WriteRequest {
        ops,
        watched: request_watched.into_iter().collect(),
    };
    let fut = ctx.shared.writes.submit(request);
    let store = ctx.shared.store.clone();
    let clock = ctx.shared.clock.clone();
    Ok(Action::Later(Box::pin(async move {
        match fut.await {
            Ok(replies) => assemble(slots, replies),
            Err(WriteError::WatchFailed) => {
                // Tell a client's WATCH failing (null array) from one of our own pins failing.
                let now = clock();
                let client_watch_failed = match store.clone().snapshot(now) {
                    Ok(view) => user_watched.iter().any(|(k, v)| view.key_version(k) != *v),
                    Err(_) => true,
                };
                if client_watch_failed || !has_reads {
                    Reply::NilArray
                } else {
                    Reply::Error(RedisError::ExecConflict)
                }
            }
            Err(e) => Reply::Error(write_error(e)),
        }
    })))
}

/// Hands each write slot its share of the per-op replies, in order.
fn assemble(slots: Vec<Slot>, replies: Vec<Reply>) -> Reply {
    let mut it = replies.into_iter();
    let out = slots
        .into_iter()
        .map(|s| match s {
            Slot::Ready(r) => r,
            Slot::Ops { count, shape } => shape(it.by_ref().take(count).collect()),
        })
        .collect();
    Reply::Array(out)
}
