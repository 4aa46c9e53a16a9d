//! `plateau sweep CONFIG` and `plateau train CONFIG --run ID`.

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use anyhow::Result;
use clap::Args;
use plateau_metrics::results::RunStatus;
use plateau_train::{
    Backend, ProgressMode, Shard, SweepConfig, SweepOptions, Worker, run_sweep, train_one,
};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use signal_hook::iterator::Signals;

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
    /// Train only shard I of N of the plan (0 <= I < N), into an output folder the shards
    /// share. Without it, a Slurm array task finds its shard in SLURM_ARRAY_TASK_ID, a
    /// Kubernetes Indexed Job's pod in JOB_COMPLETION_INDEX (with --shards).
    #[arg(long, value_name = "I/N", value_parser = Shard::parse)]
    shard: Option<Shard>,
    /// How many shards: for a Kubernetes Indexed Job, or with --dry-run to print the split.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    shards: Option<u32>,
    /// Train N runs at once on the CPU backend, one process each, the cores split between
    /// them (results equal those of the runs trained one at a time).
    #[arg(long, value_name = "N", conflicts_with = "devices", value_parser = clap::value_parser!(u32).range(1..))]
    jobs: Option<u32>,
    /// Train one run at once per device listed, one process each, e.g. --backend cuda --devices
    /// cuda:0,cuda:1; a device listed twice runs two (small models leave most of a GPU idle).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    devices: Vec<String>,
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

/// The signals that stop a sweep or a run cleanly: Ctrl-C, and what Slurm, systemd and
/// `docker stop` send (SIGTERM), a closed terminal (SIGHUP), and a batch system's early warning
/// (SIGUSR1, e.g. `sbatch --signal=USR1@60`).
const STOP_SIGNALS: [i32; 4] = [SIGINT, SIGTERM, SIGHUP, SIGUSR1];

/// The stop signal that arrived (0: none yet).
static STOPPED_BY: AtomicI32 = AtomicI32::new(0);

/// A stop signal asks the training run to stop at its next step, with a checkpoint of where it
/// stopped; a second one stops at once. `say` prints what happens (a run process under a sweep
/// leaves that to the sweep, which shares its terminal).
fn stop_flag(say: bool) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    match Signals::new(STOP_SIGNALS) {
        Ok(mut signals) => {
            std::thread::spawn(move || {
                for signal in signals.forever() {
                    if flag.swap(true, Ordering::SeqCst) {
                        std::process::exit(128 + signal);
                    }
                    STOPPED_BY.store(signal, Ordering::SeqCst);
                    if say {
                        eprintln!(
                            "\n{}: stopping at the next training step, keeping a checkpoint of \
                             it (send it again to stop at once)",
                            signal_name(signal)
                        );
                    }
                }
            });
        }
        Err(error) => eprintln!("warning: stop signals will kill at once: {error}"),
    }
    stop
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "SIGINT (Ctrl-C)",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        SIGUSR1 => "SIGUSR1",
        _ => "a signal",
    }
}

/// 128 + the signal's number, as shells report a process a signal ended (130 for Ctrl-C).
fn stopped_exit_code() -> ExitCode {
    let signal = match STOPPED_BY.load(Ordering::SeqCst) {
        0 => SIGINT,
        signal => signal,
    };
    ExitCode::from((128 + signal) as u8)
}

/// The shard this process trains: `--shard`, else the one its environment names; with
/// `--dry-run --shards N` alone, any shard of N (the dry run prints them all).
fn shard_of(args: &SweepArgs) -> Result<Option<Shard>> {
    let shards = args.shards.map(|n| n as usize);
    if let Some(shard) = args.shard {
        return Ok(Some(shard));
    }
    let from_env = Shard::from_env(shards).map_err(anyhow::Error::msg)?;
    Ok(match (from_env, shards) {
        (Some(shard), _) => Some(shard),
        (None, Some(count)) if args.dry_run => Some(Shard { index: 0, count }),
        (None, Some(_)) => anyhow::bail!(
            "--shards N needs a shard index: --shard I/N, SLURM_ARRAY_TASK_ID or \
             JOB_COMPLETION_INDEX (or --dry-run to print the split)"
        ),
        (None, None) => None,
    })
}

pub fn sweep(args: &SweepArgs, backend: Backend) -> Result<ExitCode> {
    let config = SweepConfig::load(&args.config, &args.overrides)?;
    let shard = shard_of(args)?;
    let options = SweepOptions {
        backend,
        out_dir: args.out.clone(),
        dry_run: args.dry_run,
        rerun_failed: args.rerun_failed,
        progress: ProgressMode::Auto,
        // Two processes on one GPU would share its memory: a large model's evaluation beside
        // the next run's training could run it out.
        overlap: !args.sequential && backend == Backend::Flex,
        shard,
        workers: match args.jobs {
            Some(_) if backend != Backend::Flex => anyhow::bail!(
                "--jobs splits the CPU's cores; on the {} backend give --devices, e.g. {}:0,{}:0",
                backend.name(),
                backend.name(),
                backend.name()
            ),
            Some(jobs) => Worker::for_jobs(jobs as usize),
            None => Worker::for_devices(&args.devices, backend).map_err(anyhow::Error::msg)?,
        },
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
    let outcome = run_sweep(&config, &options, child, &stop)?;
    if stop.load(Ordering::SeqCst) {
        eprintln!(
            "stopped by {}; rerun the same command to resume",
            signal_name(STOPPED_BY.load(Ordering::SeqCst))
        );
        return Ok(stopped_exit_code());
    }
    if args.dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    let rows = &outcome.trained;
    let count = |status| rows.iter().filter(|r| r.status == status).count();
    let recorded = match outcome.recorded.len() {
        0 => String::new(),
        n => format!("; {n} recorded from their run folders"),
    };
    eprintln!(
        "{} runs trained this time: {} ok, {} diverged, {} failed{recorded}",
        rows.len(),
        count(RunStatus::Ok),
        count(RunStatus::Diverged),
        count(RunStatus::Failed),
    );
    // The sweep went on past failed runs; its exit code still tells a script that some failed,
    // whether they failed now or in an earlier invocation.
    if let Some(first) = outcome.failed.first() {
        anyhow::bail!(
            "{} run(s) of this sweep are recorded as failed, the first {}: {}\nfix the cause, \
             then rerun the same command with --rerun-failed",
            outcome.failed.len(),
            first.run_id,
            first.error.as_deref().unwrap_or("no message")
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn train(args: &TrainArgs, backend: Backend) -> Result<ExitCode> {
    let stop = stop_flag(!args.sweep_child);
    let sweep = args
        .sweep_child
        .then(|| plateau_train::SweepLink::follow_stdin(stop.clone()));
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
        shard: None,
        workers: Vec::new(),
    };
    let summary = match train_one(&config, &args.run, &options, sweep.as_ref(), &stop) {
        Ok(summary) => summary,
        // Its sweep has the cause (over stdout) and reports it once.
        Err(_) if args.sweep_child => return Ok(ExitCode::FAILURE),
        Err(error) => return Err(error),
    };
    if let (Some(up), false) = (summary.upstream, args.progress_events) {
        eprintln!("  run {}: test accuracy {:.4}", args.run, up.test_accuracy);
    }
    Ok(ExitCode::SUCCESS)
}
