//! Temporary harness for `sporedb simulate` until the lead wires the subcommand in `main.rs`:
//! `cargo run --release --example simulate -- --nodes 4 --faulty 1 --byzantine equivocate --seeds 10000`

use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: sporedb::sim::SimulateArgs,
}

fn main() {
    let cli = Cli::parse();
    let summary = sporedb::sim::run_simulate(&cli.args);
    println!(
        "{}",
        serde_json::to_string_pretty(&summary).unwrap_or_default()
    );
}
