//! The `plateau` command line: parses arguments and calls into the crates; nothing else.

mod datasets;
mod params;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use plateau_train::Backend;

#[derive(Parser)]
#[command(
    name = "plateau",
    version,
    about = "Train small image models at many sizes and measure where bigger stops paying off"
)]
struct Cli {
    /// Compute backend: flex (CPU, always built), wgpu or cuda (cargo features of the same name).
    #[arg(long, global = true, default_value = "flex", value_parser = parse_backend)]
    backend: Backend,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print parameter and FLOP counts of presets or custom widths, without building models.
    Params(params::ParamsArgs),
    /// List, fetch and verify datasets.
    Datasets(datasets::DatasetsArgs),
}

/// Accepts only backends compiled into this binary, naming the cargo feature otherwise.
fn parse_backend(name: &str) -> Result<Backend, String> {
    let backend: Backend = name.parse().map_err(|e| format!("{e}"))?;
    backend.ensure_compiled().map_err(|e| format!("{e}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = cli.backend; // no subcommand needs a device yet; the flag is already checked.
    let result = match cli.command {
        Command::Params(args) => params::run(&args),
        Command::Datasets(args) => datasets::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
