//! Structural rules every honest node checks before endorsing or applying a spore.
//!
//! These are the rules that make the conflict relation sound: every key an op touches has a
//! prerequisite; an order-only prerequisite is used only where every op on that key commutes;
//! a flush carries the version of each database it replaces. A spore breaking them is refused
//! (and its sender is penalised by the network layer), never "repaired".

use super::footprint::{flushed_dbs, merged_accesses, MergedAccess};
use super::{Key, KeyPrereq, Op, Spore};

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
    /// Member prerequisites belong exactly to keys whose members the spore only adds or
    /// removes under an order-only key prerequisite: one per member, order-only for a member
    /// only added, full for a member removed (docs/VERSIONS.md "Set members").
    #[error("key {0:?} has member prerequisites that do not match its member operations")]
    MemberPrereqMismatch(Key),
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
    let flushed = flushed_dbs(spore);
    let accesses = merged_accesses(spore);
    for (key, access) in &accesses {
        let prereq = spore
            .prereq(key)
            .ok_or_else(|| InvalidSpore::MissingPrereq(key.clone()))?;
        if prereq.acc.is_none() && !access.is_commutative() {
            return Err(InvalidSpore::OrderOnlyNotCommutative(key.clone()));
        }
        check_member_prereqs(prereq, access, flushed.contains(&key.db))?;
    }
    for p in &spore.key_prereqs {
        // Order-only prerequisites on keys no op touches would be reads that pin nothing.
        let touched = accesses.binary_search_by(|(k, _)| k.cmp(&p.key)).is_ok();
        if p.acc.is_none() && !touched {
            return Err(InvalidSpore::OrderOnlyNotCommutative(p.key.clone()));
        }
        if !touched && !p.members.is_empty() {
            return Err(InvalidSpore::MemberPrereqMismatch(p.key.clone()));
        }
    }
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

/// The member prerequisites of one touched key against how the spore touches it.
fn check_member_prereqs(
    prereq: &KeyPrereq,
    access: &MergedAccess,
    db_flushed: bool,
) -> Result<(), InvalidSpore> {
    let mismatch = || Err(InvalidSpore::MemberPrereqMismatch(prereq.key.clone()));
    match access {
        // Member versions count only while the key is written commutatively (order-only) and
        // its database is not flushed by the same spore (a flush resets every version).
        MergedAccess::Members { added, removed } if prereq.acc.is_none() && !db_flushed => {
            let touched = added.union(removed);
            if prereq.members.len() != touched.clone().count() {
                return mismatch();
            }
            for (p, m) in prereq.members.iter().zip(touched) {
                // Both sides are sorted and unique: a pairwise match is an exact match.
                let full = removed.contains(m);
                if p.member != *m || p.acc.is_some() != full {
                    return mismatch();
                }
            }
            Ok(())
        }
        _ if prereq.members.is_empty() => Ok(()),
        _ => mismatch(),
    }
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
