//! The `plateau` command line: parses arguments and calls into the crates; nothing else.

mod bench;
mod datasets;
mod devices;
mod features;
mod fit;
mod logits;
mod params;
mod report;
mod slurm;
mod status;
mod sweep;
mod sync_tracking;

use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Keeps freed memory for reuse instead of returning it to the OS after 10 ms: a training step
/// frees and reallocates the same activation buffers, and fresh pages cost a fault and zeroing
/// each (a quarter of a ViT step). `mi_option_purge_delay` in mimalloc.h (v2 and v3); the
/// crate does not name it.
fn keep_freed_memory() {
    const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: sets a plain option value; mimalloc allows it at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

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
    /// Train a grid of model sizes from one TOML file, resumably.
    Sweep(sweep::SweepArgs),
    /// Train one run of a sweep (what `sweep` runs in a child process).
    Train(sweep::TrainArgs),
    /// Write report.html for a sweep folder (also written at the end of every sweep).
    Report(report::ReportArgs),
    /// Write (and with --submit, submit) a sweep as a Slurm job array plus a merge job.
    Slurm(slurm::SlurmArgs),
    /// Where a sweep stands, from its folder: done, running (host, heartbeat), failed, left.
    Status(status::StatusArgs),
    /// Send a sweep's runs to MLflow: what a server that was down missed, or the whole sweep.
    SyncTracking(sync_tracking::SyncTrackingArgs),
    /// Fit a law to a sweep's results (or your points) and answer from it: predictions,
    /// targets, compute to a target, held-out checks, whether the floor is identified.
    Fit(fit::FitArgs),
    /// Export the features, labels and few-shot draws a run's probe of one task used.
    Features(features::FeaturesArgs),
    /// Export a run's upstream test images as its model sees them, their labels and its logits
    /// (to check another framework reproduces the model).
    Logits(logits::LogitsArgs),
    /// List, fetch and verify datasets.
    Datasets(datasets::DatasetsArgs),
    /// The backends this binary has, and the adapters wgpu would use (--require-gpu: fail
    /// unless one is a real GPU).
    Devices(devices::DevicesArgs),
    /// Time training steps and evaluation forwards of a preset or of a sweep's models.
    Bench(bench::BenchArgs),
}

/// Accepts only backends compiled into this binary, naming the cargo feature otherwise.
fn parse_backend(name: &str) -> Result<Backend, String> {
    let backend: Backend = name.parse().map_err(|e| format!("{e}"))?;
    backend.ensure_compiled().map_err(|e| format!("{e}"))
}

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Params(args) => params::run(&args),
        Command::Datasets(args) => datasets::run(&args),
        Command::Bench(args) => bench::run(&args, cli.backend),
        Command::Devices(args) => devices::run(&args),
        Command::Report(args) => report::run(&args),
        Command::SyncTracking(args) => sync_tracking::run(&args),
        Command::Status(args) => status::run(&args),
        Command::Slurm(args) => slurm::run(&args, cli.backend),
        Command::Fit(args) => fit::run(&args),
        Command::Features(args) => features::run(&args, cli.backend),
        Command::Logits(args) => logits::run(&args, cli.backend),
        Command::Sweep(args) => sweep::sweep(&args, cli.backend),
        Command::Train(args) => sweep::train(&args, cli.backend),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            // A full disk or a read-only folder gets its cause once and what to do about it.
            match plateau_store::environment_fault(error.chain()) {
                Some(fault) => eprintln!("error: {fault}"),
                None => eprintln!("error: {error:#}"),
            }
            ExitCode::FAILURE
        }
    }
}
