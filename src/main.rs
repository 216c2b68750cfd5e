//! The `sporedb` binary: parses the command line and hands over to the library.

use clap::{Parser, Subcommand};
use sporedb::config::{Config, ServerArgs};

/// sporedb: a Redis-protocol server whose every write is a signed spore that a
/// Byzantine-fault-tolerant quorum of nodes endorses before any node applies it.
///
/// With no subcommand, `sporedb` runs `sporedb server` with its defaults: one node on
/// 127.0.0.1:6379 with its data in ./sporedb-data.
#[derive(Debug, Parser)]
#[command(name = "sporedb", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a node: Redis clients connect to it; writes become spores.
    Server(ServerArgs),
    /// Run the seeded consensus simulator (N engines, simulated network, faulty and Byzantine
    /// nodes) and print a JSON summary: commits, drops, safety/liveness violations S1..S5,
    /// commit latency in simulated time, messages and bytes per commit.
    Simulate(sporedb::sim::SimulateArgs),
    /// Manage this node's key and its web of trust (key ring in the data dir's trust.toml).
    Keys(sporedb::trust::cli::KeysArgs),
    /// Set up a local cluster (keys, policy, one config per node) and run every node as its own
    /// process until Ctrl-C; `--init-only` only writes the files.
    Demo(sporedb::cluster::demo::DemoArgs),
    /// Check a state proof offline against a root and the nodes' signatures of that root
    /// (SPORE.ROOT / SPORE.PROOF), or scrub a stopped node's store (--data-dir).
    /// Exit status 0 valid, 1 invalid, 2 bad usage.
    Verify(sporedb::root::cli::VerifyArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli
        .command
        .unwrap_or(Command::Server(ServerArgs::default()))
    {
        Command::Simulate(args) => simulate(&args),
        Command::Keys(args) => report(sporedb::trust::cli::run(&args)),
        Command::Demo(args) => report(sporedb::cluster::demo::run(&args)),
        Command::Verify(args) => verify(&args),
        Command::Server(args) => {
            let config = match Config::load(&args) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("sporedb: {e}");
                    return std::process::ExitCode::from(2);
                }
            };
            match sporedb::node::run(config) {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("sporedb: {e}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
    }
}

/// Exit status of a subcommand: its error on stderr and status 1.
fn report<E: std::fmt::Display>(result: Result<(), E>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sporedb: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs `sporedb verify`: the verdict on stdout (valid) or stderr (invalid, usage).
fn verify(args: &sporedb::root::cli::VerifyArgs) -> std::process::ExitCode {
    use sporedb::root::cli::Verdict;
    let verdict = sporedb::root::cli::verify(args);
    match &verdict {
        Verdict::Valid(text) => println!("valid: {text}"),
        Verdict::Invalid(text) => eprintln!("invalid: {text}"),
        Verdict::Usage(text) => eprintln!("sporedb verify: {text}"),
    }
    std::process::ExitCode::from(verdict.exit_code())
}

/// Runs the simulator, prints its JSON summary, and fails if any run violated S1..S5.
fn simulate(args: &sporedb::sim::SimulateArgs) -> std::process::ExitCode {
    let summary = sporedb::sim::run_simulate(args);
    println!(
        "{}",
        serde_json::to_string_pretty(&summary).unwrap_or_default()
    );
    let violations: u64 = summary["violations"]
        .as_object()
        .map(|v| v.values().filter_map(|n| n.as_u64()).sum())
        .unwrap_or(0);
    if violations > 0 {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}
