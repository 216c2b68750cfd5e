//! The global policy's commands: `SPORE.POLICY` (the policy in force: hash, committee, limits,
//! rules) and `SPORE.POLICY.PROPOSE toml` (a policy-change spore, docs/CLUSTER.md §3.4).
//!
//! A proposal is checked here against the policy in force exactly as every endorser will check
//! it (base, validation, something changes, same committee), so an operator's mistake is
//! answered at once instead of after the spore's deadline; then it travels the write path as a
//! blind write of one `Op::PolicyChange`. The reply is the new policy's hash once this node has
//! applied the change, or the drop error when it did not commit (it needs every endorser).
//! With redis-cli: `redis-cli -x SPORE.POLICY.PROPOSE < new-policy.toml`.

use std::sync::Arc;

use bytes::Bytes;

use crate::error::RedisError;
use crate::reply::Reply;
use crate::write::{WriteError, WriteRequest};

use super::args::Args;
use super::ctx::{write_error, Action, Ctx};
use super::spec::{spec, CommandSpec, Flags, Group, NO_KEYS};
use super::spore_admin::SporeAdmin;

const G: Group = Group::Server;
const READ: Flags = Flags::LOADING.union(Flags::STALE).union(Flags::FAST);
const PROPOSE: Flags = Flags::ADMIN
    .union(Flags::NOSCRIPT)
    .union(Flags::NO_MULTI)
    .union(Flags::DENYOOM);

pub const SPECS: &[CommandSpec] = &[
    CommandSpec {
        since: "sporedb",
        summary: "Shows the global policy in force: hash, endorsers, quorum, limits, rules.",
        syntax: "",
        ..spec("spore.policy", 1, READ, NO_KEYS, G, show)
    },
    CommandSpec {
        since: "sporedb",
        summary: "Proposes a new global policy (its TOML text) as a policy-change spore, which needs every endorser.",
        syntax: "toml",
        ..spec("spore.policy.propose", 2, PROPOSE, NO_KEYS, G, propose)
    },
];

fn admin(ctx: &Ctx<'_>) -> Result<Arc<dyn SporeAdmin>, RedisError> {
    ctx.shared.admin.clone().ok_or(RedisError::NoDriver)
}

fn show(ctx: &mut Ctx<'_>, _a: &mut Args) -> Result<Action, RedisError> {
    Ok(Action::Reply(admin(ctx)?.policy()?))
}

fn propose(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let text = a.bytes()?;
    a.expect_end()?;
    let (op, to) = admin(ctx)?.propose_policy(&text)?;
    let n = ctx.shared.node.status().n;
    let writes = ctx.shared.writes.clone();
    Ok(Action::Later(Box::pin(async move {
        match writes.submit(WriteRequest::blind(vec![op])).await {
            Ok(_) => Reply::Bulk(Bytes::from(hex::encode(to))),
            Err(WriteError::Dropped { id, reason }) => Reply::Error(RedisError::SporeDropped {
                id,
                reason: format!(
                    "{reason}; a policy change commits only if all {n} endorsers endorse it \
                     before its deadline (one refused it or could not be reached)"
                ),
            }),
            Err(e) => Reply::Error(write_error(e)),
        }
    })))
}
