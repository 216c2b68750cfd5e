//! SPORE.ROOT and SPORE.PROOF: the node's signed state root and proofs against it
//! (`crate::root`, `docs/STATE-ROOT.md`).
//!
//! - `SPORE.ROOT` → `[root hex, applied digest hex, applied count, node id hex, signature hex]`:
//!   the current root, signed with domain `sporedb/v1/root` over
//!   `root ‖ applied digest ‖ count u64 BE`.
//! - `SPORE.PROOF key [db]` (db defaults to the session's) → `[root hex, present 0/1,
//!   value, proof hex]`: root and proof come from one snapshot; `value` is the proven key
//!   record (hex of its stored bytes) or nil, and `present` is 1 when the record is a live key.
//!   `sporedb verify --proof HEX --root HEX` checks the proof offline.
//!
//! Both read `Shared::roots`; a server built without one answers an error saying so.

use crate::error::RedisError;
use crate::reply::Reply;
use crate::root::RootService;

use super::args::Args;
use super::ctx::{Action, Ctx};
use super::keys::valid_db;
use super::spec::{spec, CommandSpec, Flags, Group, KEY1, NO_KEYS};

const FLAGS: Flags = Flags::READONLY.union(Flags::LOADING).union(Flags::STALE);

pub const SPECS: &[CommandSpec] = &[
    CommandSpec {
        since: "sporedb",
        summary: "Returns the state root, the applied-spore digest and count, signed by this node.",
        syntax: "",
        ..spec("spore.root", 1, FLAGS, NO_KEYS, Group::Server, root)
    },
    CommandSpec {
        since: "sporedb",
        summary: "Returns a membership or non-membership proof of a key against the state root.",
        complexity: "O(log N)",
        syntax: "key [db]",
        ..spec("spore.proof", -2, FLAGS, KEY1, Group::Server, proof)
    },
];

fn service<'a>(ctx: &'a Ctx<'_>) -> Result<&'a dyn RootService, RedisError> {
    ctx.shared
        .roots
        .as_deref()
        .ok_or_else(|| RedisError::Generic("state root is not available on this server".into()))
}

fn hex_bulk(b: &[u8]) -> Reply {
    Reply::bulk_str(hex::encode(b))
}

fn root(ctx: &mut Ctx<'_>, _a: &mut Args) -> Result<Action, RedisError> {
    let signed = service(ctx)?.signed_root()?;
    let r = signed.root;
    Ok(Reply::Array(vec![
        hex_bulk(&r.root),
        hex_bulk(&r.applied_digest),
        Reply::Int(i64::try_from(r.applied_count).unwrap_or(i64::MAX)),
        hex_bulk(&signed.attestation.node),
        hex_bulk(&signed.attestation.signature),
    ])
    .into())
}

fn proof(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let name = a.bytes()?;
    let db = if a.is_empty() {
        ctx.session.db
    } else {
        valid_db(a.i64()?).ok_or(RedisError::DbIndexOutOfRange)?
    };
    if !a.is_empty() {
        return Err(RedisError::Syntax);
    }
    let (root, proof) = service(ctx)?.prove(db, &name)?;
    Ok(Reply::Array(vec![
        hex_bulk(&root.root),
        Reply::Int(i64::from(proof.present())),
        match &proof.value {
            Some(v) => hex_bulk(v),
            None => Reply::Nil,
        },
        Reply::bulk_str(proof.to_hex()),
    ])
    .into())
}

/// INFO `sporedb` fields about the state root: `state_root`, `state_applied_count`,
/// `state_integrity` (ok / tampered / unchecked / disabled), `state_tampered` and
/// `root_mismatch` (0/1), and `state_repair` ("none" or "repair needs peers").
pub fn info_fields(roots: &dyn RootService, kv: &mut impl FnMut(&str, String)) {
    match roots.signed_root() {
        Ok(s) => {
            kv("state_root", hex::encode(s.root.root));
            kv("state_applied_count", s.root.applied_count.to_string());
        }
        Err(e) => kv("state_root", format!("unavailable ({e})")),
    }
    let integrity = roots.integrity();
    let tampered = u8::from(integrity.is_tampered()).to_string();
    kv("state_integrity", integrity.status().into());
    kv("state_tampered", tampered.clone());
    kv("root_mismatch", tampered);
    kv("state_repair", integrity.repair().into());
}
