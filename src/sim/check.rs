//! The invariants checked after every run, and the run's figures.
//!
//! - **S1** no two honest nodes commit conflicting spores: counted as (a) a spore committed at
//!   one honest node and dropped at another, (b) two mutually exclusive spores (same full
//!   version of a key, non-commuting accesses) both committed, (c) two conflicting spores
//!   applied in opposite orders by two honest nodes.
//! - **S2** all honest nodes that stayed up hold the same state digest at the end.
//! - **S3** every spore is resolved at every honest node by deadline + grace: nothing is still
//!   pending at the end, and nothing committed is still waiting for its prerequisites.
//! - **S4** every Byzantine endorser that endorsed a mutually exclusive pair is the culprit of
//!   verified evidence at ≥ 1 honest node.
//! - **S5** (commutative workloads only) no honest spore is dropped.

use std::collections::{BTreeMap, BTreeSet};

use crate::consensus::evidence::mutually_exclusive;
use crate::spore::conflict::conflicts;
use crate::spore::footprint::Footprint;
use crate::spore::SporeId;

use super::world::World;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violations {
    pub s1: u64,
    pub s2: u64,
    pub s3: u64,
    pub s4: u64,
    pub s5: u64,
}

impl Violations {
    pub fn total(&self) -> u64 {
        self.s1 + self.s2 + self.s3 + self.s4 + self.s5
    }
    pub fn add(&mut self, o: &Violations) {
        self.s1 += o.s1;
        self.s2 += o.s2;
        self.s3 += o.s3;
        self.s4 += o.s4;
        self.s5 += o.s5;
    }
}

/// What one run produced.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    pub violations: Violations,
    /// Honest spores committed / dropped at their origin.
    pub committed: u64,
    pub dropped: u64,
    /// Submission → local commit, over every (spore, honest node) pair.
    pub latencies_ms: Vec<u64>,
    pub messages: u64,
    pub bytes: u64,
    pub evidence: u64,
    pub notes: Vec<String>,
    /// Why honest spores were dropped at their origin.
    pub drop_reasons: std::collections::BTreeMap<String, u64>,
}

pub fn check(w: &World) -> RunReport {
    let mut r = RunReport {
        messages: w.messages,
        bytes: w.bytes,
        ..RunReport::default()
    };
    let honest: Vec<usize> = (0..w.nodes.len()).filter(|&i| w.honest(i)).collect();
    let steady: Vec<usize> = honest
        .iter()
        .copied()
        .filter(|&i| !w.nodes[i].crashed)
        .collect();
    let grace = w.timing.grace_ms;

    // Figures.
    for (id, s) in &w.submitted {
        let o = &w.nodes[s.origin].log;
        if o.committed.contains_key(id) {
            r.committed += 1;
        } else if let Some(reason) = o.dropped.get(id) {
            r.dropped += 1;
            let name = format!("{reason:?}");
            let name = name.split('(').next().unwrap_or("").to_string();
            *r.drop_reasons.entry(name).or_insert(0) += 1;
        }
        for &i in &steady {
            if let Some(t) = w.nodes[i].log.committed.get(id) {
                r.latencies_ms.push(t.saturating_sub(s.at));
            }
        }
    }

    // S1 (a): committed somewhere, dropped (not as a consequence of a drop) elsewhere.
    let mut committed_any: BTreeMap<SporeId, std::sync::Arc<crate::spore::Spore>> = BTreeMap::new();
    for &i in &honest {
        for id in w.nodes[i].log.committed.keys() {
            if let Some(s) = w
                .contents
                .get(id)
                .cloned()
                .or_else(|| w.nodes[i].engine_spore(id))
            {
                committed_any.insert(*id, s);
            }
        }
    }
    for id in committed_any.keys() {
        if steady.iter().any(|&j| matches!(w.nodes[j].log.dropped.get(id), Some(reason) if !matches!(reason, crate::consensus::DropReason::PredecessorDropped(_)))) {
            r.violations.s1 += 1;
            r.notes.push(format!("S1: {id:?} committed at one honest node and dropped at another"));
        }
    }
    // S1 (b): mutually exclusive spores both committed (by key, then pairwise within a key).
    let mut by_key: BTreeMap<crate::spore::Key, Vec<SporeId>> = BTreeMap::new();
    for (id, s) in &committed_any {
        for p in &s.key_prereqs {
            by_key.entry(p.key.clone()).or_default().push(*id);
        }
    }
    let mut exclusive_pairs = BTreeSet::new();
    for ids in by_key.values() {
        for (a_i, a) in ids.iter().enumerate() {
            for b in &ids[a_i + 1..] {
                if mutually_exclusive(&committed_any[a], &committed_any[b], u64::MAX) {
                    exclusive_pairs.insert((*a, *b));
                }
            }
        }
    }
    if !exclusive_pairs.is_empty() {
        r.violations.s1 += exclusive_pairs.len() as u64;
        r.notes.push(format!(
            "S1: {} mutually exclusive committed pairs",
            exclusive_pairs.len()
        ));
    }
    // S1 (c): conflicting pairs applied in opposite orders (each node against the first).
    if let Some(&first) = steady.first() {
        let pos0: BTreeMap<SporeId, usize> = w.nodes[first]
            .log
            .applied
            .iter()
            .enumerate()
            .map(|(k, id)| (*id, k))
            .collect();
        let sample: Vec<usize> = steady.iter().copied().skip(1).take(8).collect();
        for j in sample {
            let pos: BTreeMap<SporeId, usize> = w.nodes[j]
                .log
                .applied
                .iter()
                .enumerate()
                .map(|(k, id)| (*id, k))
                .collect();
            for ids in by_key.values() {
                for (a_i, a) in ids.iter().enumerate() {
                    for b in &ids[a_i + 1..] {
                        let (Some(x0), Some(y0), Some(x), Some(y)) =
                            (pos0.get(a), pos0.get(b), pos.get(a), pos.get(b))
                        else {
                            continue;
                        };
                        if (x0 < y0) != (x < y)
                            && conflicts(
                                &Footprint::of(&committed_any[a]),
                                &Footprint::of(&committed_any[b]),
                            )
                        {
                            r.violations.s1 += 1;
                            r.notes
                                .push(format!("S1: {a:?} and {b:?} applied in opposite orders"));
                        }
                    }
                }
            }
        }
    }

    // S2: identical digests among the honest nodes that stayed up.
    let digests: BTreeMap<usize, [u8; 32]> = steady
        .iter()
        .map(|&i| (i, w.nodes[i].store.digest()))
        .collect();
    let mut counts: BTreeMap<[u8; 32], usize> = BTreeMap::new();
    digests
        .values()
        .for_each(|d| *counts.entry(*d).or_default() += 1);
    if let Some((_, majority)) = counts.iter().max_by_key(|(_, c)| **c) {
        let differing = digests.len() - majority;
        if differing > 0 {
            r.violations.s2 += differing as u64;
            r.notes.push(format!(
                "S2: {differing} honest nodes hold a different state"
            ));
        }
    }

    if w.apply_errors > 0 {
        r.violations.s2 += w.apply_errors;
        r.notes.push(format!(
            "S2: the executor refused {} applies",
            w.apply_errors
        ));
    }

    // S3: nothing pending past deadline + grace, nothing committed left unapplied.
    for &i in &steady {
        let e = &w.nodes[i].engine;
        let late = e.pending().filter(|(_, d)| d + grace < w.end).count();
        let stuck = e.waiting().count();
        if late + stuck > 0 {
            r.violations.s3 += (late + stuck) as u64;
            r.notes.push(format!(
                "S3: node {i}: {late} unresolved, {stuck} committed but never applied"
            ));
        }
    }

    // S4: every equivocator that signed an exclusive pair is caught by an honest node.
    for (byz, spores) in &w.byz_endorsed {
        let mut equivocated = false;
        'outer: for (k, a) in spores.iter().enumerate() {
            for b in &spores[k + 1..] {
                if mutually_exclusive(a, b, grace) {
                    equivocated = true;
                    break 'outer;
                }
            }
        }
        if !equivocated {
            continue;
        }
        let culprit = w.ids[*byz];
        let caught = honest.iter().any(|&i| {
            w.nodes[i]
                .log
                .evidence
                .iter()
                .any(|e| e.culprit() == culprit && e.verify(grace))
        });
        if !caught {
            r.violations.s4 += 1;
            r.notes
                .push(format!("S4: node {byz} equivocated without evidence"));
        }
    }
    r.evidence = honest
        .iter()
        .map(|&i| w.nodes[i].log.evidence.len() as u64)
        .sum();

    // S5: commutative workloads never drop an honest spore.
    if w.cfg.conflict_rate == 0.0 {
        for (id, s) in &w.submitted {
            if let Some(reason) = w.nodes[s.origin].log.dropped.get(id) {
                r.violations.s5 += 1;
                r.notes.push(format!("S5: {id:?} dropped: {reason}"));
            }
        }
    }
    r
}
