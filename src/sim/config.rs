//! Simulation parameters and the faults the faulty nodes exhibit.

/// What the faulty nodes do (`--byzantine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Byzantine {
    /// Faulty nodes are crashed from the start (silent).
    None,
    /// Endorse every spore they see, ignoring Consistency and Promise, and flood it.
    Equivocate,
    /// Inject spores and endorsements with forged or invalid signatures.
    Forge,
    /// Take part but never send an endorsement.
    Withhold,
    /// Re-send old and recent messages.
    Replay,
    /// Flood spores (far-future deadlines, valid ones) and endorsements of unknown ids.
    Flood,
}

impl Byzantine {
    pub fn parse(s: &str) -> Option<Byzantine> {
        Some(match s {
            "none" => Byzantine::None,
            "equivocate" => Byzantine::Equivocate,
            "forge" => Byzantine::Forge,
            "withhold" => Byzantine::Withhold,
            "replay" => Byzantine::Replay,
            "flood" => Byzantine::Flood,
            _ => return None,
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Byzantine::None => "none",
            Byzantine::Equivocate => "equivocate",
            Byzantine::Forge => "forge",
            Byzantine::Withhold => "withhold",
            Byzantine::Replay => "replay",
            Byzantine::Flood => "flood",
        }
    }
}

/// Network profile (`--latency`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Latency {
    /// One-way delays 1–10 ms.
    Lan,
    /// One-way delays 50–300 ms.
    Wan,
}

/// One simulated run.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub seed: u64,
    pub nodes: usize,
    /// Faulty nodes (the last `faulty` indices); also the policy's f.
    pub faulty: usize,
    pub byzantine: Byzantine,
    pub latency: Latency,
    /// Spores submitted by honest nodes.
    pub spores: usize,
    /// Fraction of non-commutative ops (SET, LPUSH, SREM) on the hot keys.
    pub conflict_rate: f64,
    pub loss: f64,
    pub duplication: f64,
    /// δ: honest clocks are offset uniformly within ±δ/2.
    pub skew_ms: u64,
    /// Schedule a partition (isolating up to f honest nodes) that heals.
    pub partition: bool,
    /// Crash one honest node for a while (it restarts with its persisted engine).
    pub crash: bool,
    /// Window over which submissions are spread.
    pub workload_ms: u64,
    /// Applied spores reach a node's store, and are confirmed to its engine
    /// (`Input::Applied`), only at a later step of that node, as the node's pipelined group
    /// commits do: the engine must then project them over a store that lacks them.
    pub lag_commits: bool,
}

impl SimConfig {
    /// Defaults for `nodes`/`faulty` (n = 4, f = 1 test profile when called with those).
    pub fn new(seed: u64, nodes: usize, faulty: usize) -> SimConfig {
        SimConfig {
            seed,
            nodes,
            faulty,
            byzantine: Byzantine::None,
            latency: Latency::Lan,
            spores: 40,
            conflict_rate: 0.3,
            loss: 0.01,
            duplication: 0.01,
            skew_ms: 20,
            partition: false,
            crash: false,
            workload_ms: 2_000,
            lag_commits: false,
        }
    }

    pub fn delay_range(&self) -> (u64, u64) {
        match self.latency {
            Latency::Lan => (1, 10),
            Latency::Wan => (50, 300),
        }
    }

    /// Spore timeout (deadline = submit time + this), grace, horizon and tick.
    pub fn timing(&self) -> Timing {
        match self.latency {
            Latency::Lan => Timing {
                timeout_ms: 1_000,
                grace_ms: 1_000,
                horizon_ms: 5_000,
                tick_ms: 20,
            },
            Latency::Wan => Timing {
                timeout_ms: 4_000,
                grace_ms: 4_000,
                horizon_ms: 20_000,
                tick_ms: 50,
            },
        }
    }

    /// The command line that replays this run.
    pub fn replay_command(&self) -> String {
        format!(
            "sporedb simulate --nodes {} --faulty {} --byzantine {} --latency {} --spores {} --conflict-rate {} --loss {} --workload-ms {} --seed {} --seeds 1{}{}",
            self.nodes,
            self.faulty,
            self.byzantine.name(),
            if self.latency == Latency::Lan { "lan" } else { "wan" },
            self.spores,
            self.conflict_rate,
            self.loss,
            self.workload_ms,
            self.seed,
            if self.partition { " --partition" } else { "" },
            if self.crash { " --crash" } else { "" },
        )
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub timeout_ms: u64,
    pub grace_ms: u64,
    pub horizon_ms: u64,
    pub tick_ms: u64,
}
