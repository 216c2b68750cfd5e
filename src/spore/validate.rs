//! Structural rules every honest node checks before endorsing or applying a spore.
//!
//! These are the rules that make the conflict relation sound: every key an op touches has a
//! prerequisite; an order-only prerequisite is used only where every op on that key commutes;
//! a flush carries the version of each database it replaces. A spore breaking them is refused
//! (and its sender is penalised by the network layer), never "repaired".

use super::footprint::{flushed_dbs, merged_accesses};
use super::{Key, Op, Spore};

/// Why a spore is structurally invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSpore {
    #[error("spore has no operations")]
    NoOps,
    #[error("prerequisites are not strictly sorted")]
    Unsorted,
    #[error("key {0:?} is written without a prerequisite")]
    MissingPrereq(Key),
    #[error("key {0:?} has an order-only prerequisite but a non-commutative access")]
    OrderOnlyNotCommutative(Key),
    #[error("database {0} is flushed without a database prerequisite, or has one without a flush")]
    DbPrereqMismatch(u8),
    #[error("operation {0} has an empty argument list")]
    EmptyOperand(u8),
    /// A policy change must travel alone and pin no key: it is endorsed under different rules
    /// (unanimity) than data writes, so it cannot share a spore with them.
    #[error("a policy change must be the spore's only operation and have no prerequisites")]
    PolicyChangeNotAlone,
}

/// Checks the structural rules.
pub fn validate(spore: &Spore) -> Result<(), InvalidSpore> {
    if spore.ops.is_empty() {
        return Err(InvalidSpore::NoOps);
    }
    if spore.key_prereqs.windows(2).any(|w| w[0].key >= w[1].key)
        || spore.db_prereqs.windows(2).any(|w| w[0].db >= w[1].db)
    {
        return Err(InvalidSpore::Unsorted);
    }
    for op in &spore.ops {
        check_operands(op)?;
    }
    let changes = spore
        .ops
        .iter()
        .filter(|op| matches!(op, Op::PolicyChange { .. }))
        .count();
    if changes > 0
        && (spore.ops.len() != 1 || !spore.key_prereqs.is_empty() || !spore.db_prereqs.is_empty())
    {
        return Err(InvalidSpore::PolicyChangeNotAlone);
    }
    for (key, access) in merged_accesses(spore) {
        let prereq = spore
            .prereq(&key)
            .ok_or_else(|| InvalidSpore::MissingPrereq(key.clone()))?;
        if prereq.acc.is_none() && !access.is_commutative() {
            return Err(InvalidSpore::OrderOnlyNotCommutative(key));
        }
    }
    // Order-only prerequisites on keys no op touches would be reads that pin nothing.
    let accesses = merged_accesses(spore);
    for p in &spore.key_prereqs {
        if p.acc.is_none() && accesses.binary_search_by(|(k, _)| k.cmp(&p.key)).is_err() {
            return Err(InvalidSpore::OrderOnlyNotCommutative(p.key.clone()));
        }
    }
    let flushed = flushed_dbs(spore);
    let prereq_dbs: Vec<u8> = spore.db_prereqs.iter().map(|p| p.db).collect();
    if flushed != prereq_dbs {
        let db = flushed
            .iter()
            .chain(&prereq_dbs)
            .find(|d| flushed.contains(d) != prereq_dbs.contains(d));
        return Err(InvalidSpore::DbPrereqMismatch(db.copied().unwrap_or(0)));
    }
    Ok(())
}

fn check_operands(op: &Op) -> Result<(), InvalidSpore> {
    let empty = match op {
        Op::SAdd { members, .. } | Op::SRem { members, .. } | Op::SPop { members, .. } => {
            members.is_empty()
        }
        Op::Push { elems, .. } => elems.is_empty(),
        Op::MSetNx { pairs } => pairs.is_empty(),
        Op::SetStore { sources, .. } => sources.is_empty(),
        _ => false,
    };
    if empty {
        return Err(InvalidSpore::EmptyOperand(op.tag()));
    }
    Ok(())
}
