//! The `SPORE.*` commands, node side: [`DriverAdmin`] carries a request to the driver thread,
//! and [`Driver::answer`] builds the reply from the engine's state there (the engine is never
//! shared across threads).

use std::sync::mpsc::Sender;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::commands::spore_admin::{AdminFuture, AdminRequest, SporeAdmin};
use crate::consensus::{Evidence, Phase};
use crate::crypto::Digest;
use crate::error::RedisError;
use crate::reply::Reply;
use crate::spore::{Op, SporeId};

use super::driver::Driver;
use super::outcomes::Outcome;
use super::policy_state::ActivePolicy;
use super::write_path::DriverMsg;

/// Sends `SPORE.*` requests to the driver.
pub struct DriverAdmin {
    tx: Sender<DriverMsg>,
    /// A cluster node's global policy (`SPORE.POLICY`, `SPORE.POLICY.PROPOSE`).
    policy: Option<Arc<ActivePolicy>>,
}

impl DriverAdmin {
    pub fn new(tx: Sender<DriverMsg>) -> DriverAdmin {
        DriverAdmin { tx, policy: None }
    }

    pub fn with_policy(mut self, policy: Option<Arc<ActivePolicy>>) -> DriverAdmin {
        self.policy = policy;
        self
    }
}

impl SporeAdmin for DriverAdmin {
    fn request(&self, request: AdminRequest) -> AdminFuture {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(DriverMsg::Admin { request, reply }).is_err() {
            return Box::pin(async { Err(RedisError::NoDriver) });
        }
        Box::pin(async move { rx.await.unwrap_or(Err(RedisError::NoDriver)) })
    }

    fn policy(&self) -> Result<Reply, RedisError> {
        let active = self.policy.as_ref().ok_or(RedisError::NoGlobalPolicy)?;
        let (p, previous) = active.current_and_previous();
        let int = |v: u64| Reply::Int(i64::try_from(v).unwrap_or(i64::MAX));
        Ok(Reply::Map(vec![
            field("hash", text(hex::encode(p.hash()))),
            field(
                "previous_hash",
                previous.map_or(Reply::Nil, |q| text(hex::encode(q.hash()))),
            ),
            field("changes_adopted", int(active.switches())),
            field("file", text(active.path().display().to_string())),
            field(
                "endorsers",
                Reply::Array(
                    p.endorsers()
                        .iter()
                        .map(|e| text(format!("{} {}", e.name, hex::encode(e.id))))
                        .collect(),
                ),
            ),
            field("quorum", int(p.quorum() as u64)),
            field("faulty", int(p.faulty() as u64)),
            field("spore_deadline_ms", int(p.spore_deadline_ms())),
            field("grace_ms", int(p.grace_ms())),
            field("max_spore_bytes", int(p.max_spore_bytes())),
            field("max_op_bytes", int(p.max_op_bytes())),
            field(
                "rules",
                Reply::Array(
                    p.rules()
                        .iter()
                        .map(|r| {
                            let ops: Vec<&str> = r
                                .allow
                                .iter()
                                .map(|t| crate::cluster::ops::tag_name(*t))
                                .collect();
                            text(format!("{} allow {}", r.pattern, ops.join(" ")))
                        })
                        .collect(),
                ),
            ),
        ]))
    }

    fn propose_policy(&self, policy: &[u8]) -> Result<(Op, Digest), RedisError> {
        let active = self.policy.as_ref().ok_or(RedisError::NoGlobalPolicy)?;
        let refused = |why: String| RedisError::PolicyChangeRefused { why };
        let policy = std::str::from_utf8(policy)
            .map_err(|_| refused("the proposed policy is not UTF-8 text".into()))?;
        let (change, to) = active.propose(policy).map_err(|e| refused(e.to_string()))?;
        Ok((change.to_op(), to))
    }
}

/// One piece of evidence as this node recorded it.
pub struct EvidenceRecord {
    pub detected_ms: u64,
    pub evidence: Arc<Evidence>,
}

fn field(name: &'static str, value: Reply) -> (Reply, Reply) {
    (Reply::Bulk(Bytes::from_static(name.as_bytes())), value)
}

/// The hash of a proposed policy text, or why it has none.
fn proposed_hash(policy: &[u8]) -> String {
    match std::str::from_utf8(policy).map(crate::cluster::GlobalPolicy::parse) {
        Ok(Ok(p)) => hex::encode(p.hash()),
        _ => "an invalid policy".into(),
    }
}

fn text(s: impl Into<String>) -> Reply {
    Reply::Bulk(Bytes::from(s.into()))
}

impl Driver {
    /// Answers one `SPORE.*` request from the engine's state.
    pub(super) fn answer(&mut self, request: AdminRequest) -> Result<Reply, RedisError> {
        match request {
            AdminRequest::Status(id) => self.status(&id),
            AdminRequest::Pending => Ok(Reply::Array(
                self.engine
                    .held()
                    .map(|(id, s)| {
                        Reply::Map(vec![
                            field("id", text(id.to_string())),
                            field("origin", text(hex::encode(s.origin))),
                            field("deadline_ms", Reply::Int(s.deadline_ms as i64)),
                            field(
                                "ops",
                                Reply::Array(
                                    s.ops
                                        .iter()
                                        .map(|op| {
                                            let mut d = match op {
                                                // The operator decides on the new policy's
                                                // hash (SPORE.POLICY shows the current one).
                                                Op::PolicyChange { from, policy } => format!(
                                                    "POLICY.CHANGE from {} to {}",
                                                    hex::encode(from),
                                                    proposed_hash(policy)
                                                ),
                                                _ => format!("{op:?}"),
                                            };
                                            d.truncate(200);
                                            text(d)
                                        })
                                        .collect(),
                                ),
                            ),
                        ])
                    })
                    .collect(),
            )),
            AdminRequest::Approve(id) | AdminRequest::Reject(id) => {
                if !self.engine.held().any(|(h, _)| *h == id) {
                    return Err(RedisError::NotHeld { id: id.to_string() });
                }
                let input = match request {
                    AdminRequest::Approve(_) => crate::consensus::Input::Approve(id),
                    _ => crate::consensus::Input::Decline(id),
                };
                self.step(input);
                Ok(Reply::Simple("OK"))
            }
            AdminRequest::Evidence => Ok(Reply::Array(
                self.evidence
                    .iter()
                    .map(|r| {
                        let (kind, spores) = match &*r.evidence {
                            Evidence::ConflictingEndorsements { a, b, .. } => {
                                ("conflicting-endorsements", vec![a.id(), b.id()])
                            }
                            Evidence::EndorsedAndRejected { id, .. } => {
                                ("endorsed-and-rejected", vec![*id])
                            }
                        };
                        Reply::Map(vec![
                            field("culprit", text(hex::encode(r.evidence.culprit()))),
                            field("kind", text(kind)),
                            field(
                                "spores",
                                Reply::Array(spores.iter().map(|i| text(i.to_string())).collect()),
                            ),
                            field("detected_ms", Reply::Int(r.detected_ms as i64)),
                        ])
                    })
                    .collect(),
            )),
            AdminRequest::Peers => {
                let connected = self.link.peers();
                let policy = &self.engine.config().policy;
                Ok(Reply::Array(
                    policy
                        .endorsers
                        .iter()
                        .map(|e| {
                            let state = if *e == self.engine.id() {
                                "self"
                            } else if connected.contains(e) {
                                "connected"
                            } else {
                                "disconnected"
                            };
                            Reply::Map(vec![
                                field("id", text(hex::encode(e))),
                                field("state", text(state)),
                            ])
                        })
                        .collect(),
                ))
            }
        }
    }

    fn status(&self, id: &SporeId) -> Result<Reply, RedisError> {
        // A policy change needs every endorser, not ω.
        let is_change = self
            .engine
            .spore(id)
            .is_some_and(|s| crate::consensus::policy_change::change_of(&s).is_some());
        let policy = &self.engine.config().policy;
        let quorum = crate::consensus::policy_change::commit_quorum(policy, is_change) as i64;
        let (state, reason) = match self.engine.phase(id) {
            Some(Phase::Pending) if self.engine.held().any(|(h, _)| h == id) => ("held", None),
            Some(Phase::Pending) => ("pending", None),
            Some(Phase::Committed) => ("committed", None),
            Some(Phase::Applied) => ("applied", None),
            Some(Phase::Dropped(r)) => ("dropped", Some(r.to_string())),
            None => match self.outcomes.get(id) {
                Some(Outcome::Committed) => ("committed", None),
                Some(Outcome::Applied) => ("applied", None),
                Some(Outcome::Dropped(r)) => ("dropped", Some(r.clone())),
                None => return Err(RedisError::NoSuchSpore { id: id.to_string() }),
            },
        };
        let mut fields = vec![field("status", text(state))];
        if let Some((endorsers, rejecters)) = self.engine.votes(id) {
            fields.push(field("endorsements", Reply::Int(endorsers.len() as i64)));
            fields.push(field("rejections", Reply::Int(rejecters.len() as i64)));
        }
        fields.push(field("quorum", Reply::Int(quorum)));
        if let Some(s) = self.engine.spore(id) {
            fields.push(field("origin", text(hex::encode(s.origin))));
            fields.push(field("deadline_ms", Reply::Int(s.deadline_ms as i64)));
        }
        if let Some(r) = reason {
            fields.push(field("reason", text(r)));
        }
        Ok(Reply::Map(fields))
    }
}
