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
//! - `SPORE.ATTESTATIONS` (cluster nodes) → a map: `standing` (`serving` | `diverged`), this
//!   node's current `root` and `applied_count`, `conflicts_total`, `peers` (per peer: node,
//!   root, applied count, `agrees` 1 / 0 / -1 when this node never held that applied set,
//!   signature) and `conflicts` (each: applied count, our root and signature, the peer, its
//!   root and signature — two signed statements that cannot both be right).
//!
//! All read `Shared::roots`; a server built without one answers an error saying so.

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
    CommandSpec {
        since: "sporedb",
        summary: "Returns what peers attested about their state roots, conflicts with this node's, and whether this node serves reads.",
        complexity: "O(peers + conflicts)",
        syntax: "",
        ..spec("spore.attestations", 1, FLAGS, NO_KEYS, Group::Server, attestations)
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

fn signed_pairs(s: &crate::root::SignedRoot) -> Vec<(Reply, Reply)> {
    vec![
        (Reply::bulk_str("node"), hex_bulk(&s.attestation.node)),
        (Reply::bulk_str("root"), hex_bulk(&s.root.root)),
        (
            Reply::bulk_str("applied_count"),
            Reply::Int(i64::try_from(s.root.applied_count).unwrap_or(i64::MAX)),
        ),
        (
            Reply::bulk_str("signature"),
            hex_bulk(&s.attestation.signature),
        ),
    ]
}

fn attestations(ctx: &mut Ctx<'_>, _a: &mut Args) -> Result<Action, RedisError> {
    let report = service(ctx)?.attestations().ok_or_else(|| {
        RedisError::Generic("attestations are only collected by cluster nodes".into())
    })?;
    let standing = match &report.standing {
        crate::root::book::Standing::Serving => "serving",
        crate::root::book::Standing::Diverged { .. } => "diverged",
    };
    let mut out = vec![(Reply::bulk_str("standing"), Reply::bulk_str(standing))];
    // The databases a divergence concerns (reads refused there only); empty while serving.
    let dbs = crate::root::dbroots::dbs_in(report.diverged_dbs)
        .map(|d| Reply::Int(d.into()))
        .collect();
    out.push((Reply::bulk_str("diverged_dbs"), Reply::Array(dbs)));
    if let Some(cur) = &report.current {
        out.extend(signed_pairs(cur));
    }
    out.push((
        Reply::bulk_str("conflicts_total"),
        Reply::Int(i64::try_from(report.conflicts_total).unwrap_or(i64::MAX)),
    ));
    let peers = report
        .peers
        .iter()
        .map(|(s, agrees)| {
            let mut m = signed_pairs(s);
            m.push((
                Reply::bulk_str("agrees"),
                Reply::Int(match agrees {
                    Some(true) => 1,
                    Some(false) => 0,
                    None => -1,
                }),
            ));
            Reply::Map(m)
        })
        .collect();
    out.push((Reply::bulk_str("peers"), Reply::Array(peers)));
    let conflicts = report
        .conflicts
        .iter()
        .map(|c| {
            Reply::Map(vec![
                (Reply::bulk_str("ours"), Reply::Map(signed_pairs(&c.ours))),
                (
                    Reply::bulk_str("theirs"),
                    Reply::Map(signed_pairs(&c.theirs)),
                ),
            ])
        })
        .collect();
    out.push((Reply::bulk_str("conflicts"), Reply::Array(conflicts)));
    Ok(Reply::Map(out).into())
}

/// INFO `sporedb` fields about the state root: `state_root`, `state_applied_count`,
/// `state_integrity` (ok / tampered / unchecked / disabled), `state_tampered` and
/// `root_mismatch` (0/1), `state_repair` ("none" or "repair needs peers"), `state_tree_nodes`
/// (tree nodes held in memory, replaced ones not yet dropped included); in a cluster
/// `state_diverged` (0/1: f + 1 endorsers signed another root), `state_root_conflicts` and
/// `state_peers_agreeing`; and `state_reads` (served / refused).
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
    if let Some(n) = roots.tree_nodes() {
        kv("state_tree_nodes", n.to_string());
    }
    if let Some(r) = roots.attestations() {
        let diverged = matches!(r.standing, crate::root::book::Standing::Diverged { .. });
        kv("state_diverged", u8::from(diverged).to_string());
        kv("state_root_conflicts", r.conflicts_total.to_string());
        let agreeing = r.peers.iter().filter(|(_, a)| *a == Some(true)).count();
        kv("state_peers_agreeing", agreeing.to_string());
    }
    let refused: Vec<String> = (0..16u8)
        .filter(|&db| roots.reads_refused(db).is_some())
        .map(|db| db.to_string())
        .collect();
    kv("state_reads_refused_dbs", refused.join(","));
    kv(
        "state_reads",
        if !refused.is_empty() {
            "refused"
        } else {
            "served"
        }
        .into(),
    );
}
