//! The seeded Byzantine simulator: N consensus engines (the very engine the node runs) over a
//! simulated network, with faulty nodes, checked against S1–S5 on every run (`check`).
//!
//! Deterministic per seed: one PRNG (`rng`), simulated time, ordered collections. A failing
//! seed prints the `sporedb simulate …` command line that replays it. `run_simulate` is what
//! the `simulate` CLI subcommand calls.

pub mod check;
pub mod config;
pub mod rng;
pub mod store;
pub mod world;

pub use check::{RunReport, Violations};
pub use config::{Byzantine, Latency, SimConfig};
pub use world::World;

use serde_json::json;

/// Runs one seed and checks it.
pub fn run_one(cfg: SimConfig) -> RunReport {
    let mut w = World::new(cfg);
    w.run();
    check::check(&w)
}

/// `sporedb simulate` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    #[arg(long, default_value_t = 4)]
    pub nodes: usize,
    #[arg(long, default_value_t = 1)]
    pub faulty: usize,
    /// none|equivocate|forge|withhold|replay|flood
    #[arg(long, default_value = "none")]
    pub byzantine: String,
    #[arg(long, default_value_t = 10)]
    pub seeds: u64,
    /// First seed (seeds run from here).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// lan|wan
    #[arg(long, default_value = "lan")]
    pub latency: String,
    #[arg(long, default_value_t = 40)]
    pub spores: usize,
    #[arg(long, default_value_t = 0.3)]
    pub conflict_rate: f64,
    #[arg(long, default_value_t = 0.01)]
    pub loss: f64,
    /// Isolate up to f honest nodes for half a grace period, then heal.
    #[arg(long, default_value_t = false)]
    pub partition: bool,
    /// Crash one honest node for half a grace period, then restart it.
    #[arg(long, default_value_t = false)]
    pub crash: bool,
    /// Window over which submissions are spread (ms of simulated time).
    #[arg(long, default_value_t = 2_000)]
    pub workload_ms: u64,
}

impl SimulateArgs {
    /// The configuration of seed `seed`.
    pub fn config(&self, seed: u64) -> Result<SimConfig, String> {
        let mut c = SimConfig::new(seed, self.nodes, self.faulty);
        c.byzantine = Byzantine::parse(&self.byzantine)
            .ok_or_else(|| format!("unknown --byzantine {}", self.byzantine))?;
        c.latency = match self.latency.as_str() {
            "lan" => Latency::Lan,
            "wan" => Latency::Wan,
            other => return Err(format!("unknown --latency {other}")),
        };
        c.spores = self.spores;
        c.conflict_rate = self.conflict_rate;
        c.loss = self.loss;
        c.partition = self.partition;
        c.crash = self.crash;
        c.workload_ms = self.workload_ms;
        if c.latency == Latency::Wan {
            c.skew_ms = 100;
        }
        if self.nodes == 0 || self.faulty >= self.nodes {
            return Err("need nodes > faulty".into());
        }
        Ok(c)
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs `--seeds` seeds and returns the JSON summary (failing seeds carry their replay line).
pub fn run_simulate(args: &SimulateArgs) -> serde_json::Value {
    let mut total = Violations::default();
    let (mut committed, mut dropped, mut messages, mut bytes, mut evidence) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut lat = Vec::new();
    let mut failures = Vec::new();
    let mut reasons: std::collections::BTreeMap<String, u64> = Default::default();
    for seed in args.seed..args.seed + args.seeds {
        let cfg = match args.config(seed) {
            Ok(c) => c,
            Err(e) => return json!({ "error": e }),
        };
        let replay = cfg.replay_command();
        let r = run_one(cfg);
        if r.violations.total() > 0 {
            failures.push(json!({ "seed": seed, "replay": replay, "notes": r.notes.iter().take(5).collect::<Vec<_>>() }));
        }
        total.add(&r.violations);
        committed += r.committed;
        dropped += r.dropped;
        messages += r.messages;
        bytes += r.bytes;
        evidence += r.evidence;
        lat.extend(r.latencies_ms);
        for (k, v) in r.drop_reasons {
            *reasons.entry(k).or_insert(0u64) += v;
        }
    }
    lat.sort_unstable();
    let per = |x: u64| {
        if committed == 0 {
            0.0
        } else {
            x as f64 / committed as f64
        }
    };
    json!({
        "nodes": args.nodes,
        "faulty": args.faulty,
        "byzantine": args.byzantine,
        "latency": args.latency,
        "seeds": args.seeds,
        "committed": committed,
        "dropped": dropped,
        "violations": { "S1": total.s1, "S2": total.s2, "S3": total.s3, "S4": total.s4, "S5": total.s5 },
        "commit_latency_ms": { "p50": percentile(&lat, 0.5), "p99": percentile(&lat, 0.99), "max": lat.last().copied().unwrap_or(0) },
        "messages_per_commit": per(messages),
        "bytes_per_commit": per(bytes),
        "evidence": evidence,
        "drop_reasons": reasons,
        "failures": failures,
    })
}
