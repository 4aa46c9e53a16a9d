//! `plateau sweep CONFIG` and `plateau train CONFIG --run ID`.

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use clap::Args;
use plateau_metrics::results::RunStatus;
use plateau_train::{Backend, ProgressMode, SweepConfig, SweepOptions, run_sweep, train_one};

#[derive(Args)]
pub struct SweepArgs {
    /// The sweep's TOML file (see configs/README.md).
    config: PathBuf,
    /// Output folder (default: the config's `out_dir`); results go to <out>/<name>/.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print every run with its parameters and FLOPs, and the total compute; train nothing.
    #[arg(long)]
    dry_run: bool,
    /// Train again the runs recorded as failed.
    #[arg(long)]
    rerun_failed: bool,
    /// Override a config field: --set train.epochs=3 --set grid.0.width=[8,16]
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Train every run inside this process instead of one child process per run.
    #[arg(long)]
    in_process: bool,
    /// One run process at a time. By default (CPU backend) the next run starts training while
    /// the previous one is evaluated and probed; on a GPU runs are always one at a time.
    #[arg(long)]
    sequential: bool,
}

#[derive(Args)]
pub struct TrainArgs {
    config: PathBuf,
    /// The run id (from `plateau sweep CONFIG --dry-run`).
    #[arg(long)]
    run: String,
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Report progress as JSON lines on stdout (what `plateau sweep` asks of its child runs).
    #[arg(long, hide = true)]
    progress_events: bool,
    /// Run under `plateau sweep`: train when stdin says so, say when training is over, exit
    /// when stdin closes (see `plateau_train::SWEEP_CHILD_FLAG`).
    #[arg(long, hide = true)]
    sweep_child: bool,
}

/// Ctrl-C asks the current run to stop after its next checkpoint. `say` prints what happens
/// (a run process under a sweep leaves that to the sweep, which shares its terminal).
fn stop_flag(say: bool) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130); // a second Ctrl-C stops at once
        }
        if say {
            eprintln!("\nstopping after the current epoch's checkpoint (Ctrl-C again to quit now)");
        }
    });
    stop
}

pub fn sweep(args: &SweepArgs, backend: Backend) -> Result<ExitCode> {
    let config = SweepConfig::load(&args.config, &args.overrides)?;
    let options = SweepOptions {
        backend,
        out_dir: args.out.clone(),
        dry_run: args.dry_run,
        rerun_failed: args.rerun_failed,
        progress: ProgressMode::Auto,
        // Two processes on one GPU would share its memory: a large model's evaluation beside
        // the next run's training could run it out.
        overlap: !args.sequential && backend == Backend::Flex,
    };
    let stop = stop_flag(true);
    // Each run in a child process of this same binary: a panic or an out-of-memory kill then
    // costs only that run.
    let exe = std::env::current_exe()?;
    let child = |run_id: &str| {
        let mut command = Command::new(&exe);
        command
            .arg("--backend")
            .arg(backend.name())
            .arg("train")
            .arg(&args.config)
            .arg("--run")
            .arg(run_id);
        if let Some(out) = &args.out {
            command.arg("--out").arg(out);
        }
        for assignment in &args.overrides {
            command.arg("--set").arg(assignment);
        }
        command
    };
    let child: Option<&dyn Fn(&str) -> Command> = if args.in_process { None } else { Some(&child) };
    let rows = run_sweep(&config, &options, child, &stop)?;
    if stop.load(Ordering::SeqCst) {
        return Ok(ExitCode::from(130));
    }
    let failed = rows
        .iter()
        .filter(|r| r.status == RunStatus::Failed)
        .count();
    let diverged = rows
        .iter()
        .filter(|r| r.status == RunStatus::Diverged)
        .count();
    if !args.dry_run {
        eprintln!(
            "{} runs trained this time: {} ok, {diverged} diverged, {failed} failed",
            rows.len(),
            rows.len() - failed - diverged
        );
    }
    // The sweep went on past failed runs; its exit code still tells a script that some failed.
    if let Some(first) = rows.iter().find(|r| r.status == RunStatus::Failed) {
        anyhow::bail!(
            "{failed} run(s) failed, the first {}: {}\nfix the cause, then rerun the sweep with \
             --rerun-failed",
            first.run_id,
            first.error.as_deref().unwrap_or("no message")
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn train(args: &TrainArgs, backend: Backend) -> Result<ExitCode> {
    let sweep = args
        .sweep_child
        .then(plateau_train::SweepLink::follow_stdin);
    let config = SweepConfig::load(&args.config, &args.overrides)?;
    let options = SweepOptions {
        backend,
        out_dir: args.out.clone(),
        dry_run: false,
        rerun_failed: true,
        progress: match args.progress_events {
            true => ProgressMode::Events,
            false => ProgressMode::Auto,
        },
        overlap: false,
    };
    let stop = stop_flag(!args.sweep_child);
    let summary = train_one(&config, &args.run, &options, sweep.as_ref(), &stop)?;
    if let (Some(up), false) = (summary.upstream, args.progress_events) {
        eprintln!("  run {}: test accuracy {:.4}", args.run, up.test_accuracy);
    }
    Ok(ExitCode::SUCCESS)
}
