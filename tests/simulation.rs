//! Seeded simulations of N engines (`sporedb::sim`), checked against S1–S5 on every run
//! (`src/sim/check.rs`). A failing seed prints the command line that replays it.
//!
//! `cargo test` runs 240 seeds at n = 4, f = 1 (40 per faulty behaviour, with partitions and a
//! crash mixed in), 40 commutative-only seeds (S5) and 3 seeds at n = 31, f = 10.
//! The long run (docs/PROTOCOL.md §12), per behaviour:
//!   sporedb simulate --nodes 4 --faulty 1 --byzantine equivocate --seeds 10000
//! The named ordering-note scenarios (and their mirror image) are step tables in
//! `tests/consensus_rules.rs` (`rule_apply_gate_ordering_note_scenario`, `…_mirror_image`),
//! where the delivery order is forced exactly.

use sporedb::sim::{run_one, Byzantine, SimConfig};

fn run_seeds(
    name: &str,
    seeds: std::ops::Range<u64>,
    make: impl Fn(u64) -> SimConfig,
) -> (u64, u64) {
    let (mut committed, mut dropped) = (0, 0);
    let mut failures = Vec::new();
    for seed in seeds {
        let cfg = make(seed);
        let replay = cfg.replay_command();
        let r = run_one(cfg);
        committed += r.committed;
        dropped += r.dropped;
        if r.violations.total() > 0 {
            failures.push(format!(
                "{name} seed {seed}: {:?}\n  {}\n  replay: {replay}",
                r.violations,
                r.notes.join("\n  ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    (committed, dropped)
}

fn n4(seed: u64, byz: Byzantine) -> SimConfig {
    let mut c = SimConfig::new(seed, 4, 1);
    c.byzantine = byz;
    c.spores = 12;
    c.workload_ms = 800;
    // Safety (S1, S2) must survive a partition on top of the faulty node; liveness (S3) is
    // only promised with at most f faults, and the runs still resolve every spore.
    c.partition = seed.is_multiple_of(3);
    c
}

fn n4_mode(byz: Byzantine) {
    let (committed, _) = run_seeds(byz.name(), 0..40, |s| n4(s, byz));
    assert!(committed > 40 * 6, "too few commits: {committed}");
}

/// The engine projects applied spores over a store that does not have them yet, as a node
/// whose group commits are pipelined does (`SimConfig::lag_commits`), under every fault mode.
#[test]
fn n4f1_lagged_commits() {
    for byz in [
        Byzantine::None,
        Byzantine::Equivocate,
        Byzantine::Forge,
        Byzantine::Withhold,
        Byzantine::Replay,
    ] {
        let (committed, _) = run_seeds(byz.name(), 100..120, |s| {
            let mut c = n4(s, byz);
            c.lag_commits = true;
            c.crash = s.is_multiple_of(4);
            c
        });
        assert!(committed > 20 * 6, "too few commits: {committed}");
    }
}

#[test]
fn n4f1_crashed() {
    n4_mode(Byzantine::None);
}

#[test]
fn n4f1_equivocate() {
    n4_mode(Byzantine::Equivocate);
}

#[test]
fn n4f1_forge() {
    n4_mode(Byzantine::Forge);
}

#[test]
fn n4f1_withhold() {
    n4_mode(Byzantine::Withhold);
}

#[test]
fn n4f1_replay() {
    n4_mode(Byzantine::Replay);
}

#[test]
fn n4f1_flood() {
    n4_mode(Byzantine::Flood);
}

#[test]
fn n7f2_crash_and_restart_with_partition() {
    run_seeds("n7f2 crash", 0..10, |s| {
        let mut c = SimConfig::new(s, 7, 1);
        c.byzantine = Byzantine::Equivocate;
        c.spores = 20;
        c.workload_ms = 1_000;
        c.crash = true;
        c.partition = true;
        c
    });
}

#[test]
fn s5_commutative_workload_never_drops() {
    // At most f faults at a time: a crashed or equivocating node (f = 1), or a partition with
    // no faulty node (f = 0 policy, ω = 3: the partitioned node is the one fault).
    run_seeds("S5", 0..40, |s| {
        let mut c = match s % 3 {
            0 => n4(s, Byzantine::None),
            1 => n4(s, Byzantine::Equivocate),
            _ => {
                let mut c = SimConfig::new(s, 4, 0);
                c.spores = 12;
                c.workload_ms = 800;
                c
            }
        };
        c.partition = s % 3 == 2;
        c.conflict_rate = 0.0;
        c
    });
}

#[test]
fn n31f10_equivocate() {
    run_seeds("n31f10", 0..3, |s| {
        let mut c = SimConfig::new(s, 31, 10);
        c.byzantine = Byzantine::Equivocate;
        c.spores = 10;
        c.workload_ms = 500;
        c
    });
}
