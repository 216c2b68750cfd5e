//! sporedb's own commands about spores: `SPORE.STATUS id`, `SPORE.PENDING`, `SPORE.APPROVE id`,
//! `SPORE.REJECT id`, `SPORE.EVIDENCE`, `SPORE.PEERS`. They are answered by the consensus
//! driver (see `spore_admin`); the handlers only parse arguments.

use std::sync::Arc;

use crate::error::RedisError;
use crate::reply::Reply;

use super::args::Args;
use super::ctx::{Action, Ctx};
use super::spec::{spec, CommandSpec, Flags, Group, NO_KEYS};
use super::spore_admin::{parse_spore_id, AdminRequest, SporeAdmin};

const G: Group = Group::Server;
const READ: Flags = Flags::LOADING.union(Flags::STALE).union(Flags::FAST);
const DECIDE: Flags = Flags::ADMIN.union(Flags::NOSCRIPT).union(Flags::LOADING);

pub const SPECS: &[CommandSpec] = &[
    CommandSpec {
        since: "sporedb",
        summary: "Tells whether a spore is pending, held, committed, applied or dropped, and why.",
        syntax: "id",
        ..spec("spore.status", 2, READ, NO_KEYS, G, status)
    },
    CommandSpec {
        since: "sporedb",
        summary: "Lists the spores this node's local policy holds for a human decision.",
        complexity: "O(N) where N is the number of held spores",
        syntax: "",
        ..spec("spore.pending", 1, READ, NO_KEYS, G, pending)
    },
    CommandSpec {
        since: "sporedb",
        summary: "Endorses a spore held for approval.",
        syntax: "id",
        ..spec("spore.approve", 2, DECIDE, NO_KEYS, G, approve)
    },
    CommandSpec {
        since: "sporedb",
        summary: "Vetoes a spore held for approval (a signed rejection).",
        syntax: "id",
        ..spec("spore.reject", 2, DECIDE, NO_KEYS, G, reject)
    },
    CommandSpec {
        since: "sporedb",
        summary: "Lists signed evidence of endorsers that broke the protocol.",
        complexity: "O(N) where N is the number of evidence records",
        syntax: "",
        ..spec("spore.evidence", 1, READ, NO_KEYS, G, evidence)
    },
    CommandSpec {
        since: "sporedb",
        summary: "Lists the policy's endorsers and which are connected.",
        complexity: "O(N) where N is the number of endorsers",
        syntax: "",
        ..spec("spore.peers", 1, READ, NO_KEYS, G, peers)
    },
];

fn ask(ctx: &Ctx<'_>, request: AdminRequest) -> Result<Action, RedisError> {
    let admin: Arc<dyn SporeAdmin> = ctx.shared.admin.clone().ok_or(RedisError::NoDriver)?;
    let fut = admin.request(request);
    Ok(Action::Later(Box::pin(async move {
        match fut.await {
            Ok(r) => r,
            Err(e) => Reply::Error(e),
        }
    })))
}

fn id_arg(a: &mut Args) -> Result<crate::spore::SporeId, RedisError> {
    let text = a.bytes()?;
    a.expect_end()?;
    parse_spore_id(&text)
}

fn status(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let id = id_arg(a)?;
    ask(ctx, AdminRequest::Status(id))
}

fn pending(ctx: &mut Ctx<'_>, _a: &mut Args) -> Result<Action, RedisError> {
    ask(ctx, AdminRequest::Pending)
}

fn approve(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let id = id_arg(a)?;
    ask(ctx, AdminRequest::Approve(id))
}

fn reject(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let id = id_arg(a)?;
    ask(ctx, AdminRequest::Reject(id))
}

fn evidence(ctx: &mut Ctx<'_>, _a: &mut Args) -> Result<Action, RedisError> {
    ask(ctx, AdminRequest::Evidence)
}

fn peers(ctx: &mut Ctx<'_>, _a: &mut Args) -> Result<Action, RedisError> {
    ask(ctx, AdminRequest::Peers)
}
