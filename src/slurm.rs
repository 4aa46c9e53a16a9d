//! `plateau slurm CONFIG --tasks N [--submit]`: writes a sweep's Slurm job array and merge job
//! (`<out>/<name>/slurm/`), and with `--submit` hands them to `sbatch` and returns at once.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use plateau_train::{Backend, SlurmJob, SweepConfig, sweep_dir};

#[derive(Args)]
pub struct SlurmArgs {
    /// The sweep's TOML file.
    config: PathBuf,
    /// How many array tasks (shards); each trains its share of the plan.
    #[arg(long)]
    tasks: usize,
    /// Output folder (default: the config's `out_dir`), on a file system every node shares.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Override a config field, as `plateau sweep --set` does (passed on to every task).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    #[arg(long)]
    partition: Option<String>,
    /// Each task's time limit (HH:MM:SS); two minutes before it, plateau checkpoints and the
    /// task is requeued to resume.
    #[arg(long)]
    time: Option<String>,
    #[arg(long)]
    gpus_per_task: Option<usize>,
    #[arg(long)]
    cpus_per_task: Option<usize>,
    #[arg(long)]
    mem: Option<String>,
    /// A directive for both scripts, e.g. --extra '#SBATCH --account=lab' (repeatable).
    #[arg(long)]
    extra: Vec<String>,
    /// Submit both jobs with sbatch (the merge after the array) and return at once.
    #[arg(long)]
    submit: bool,
}

pub fn run(args: &SlurmArgs, backend: Backend) -> Result<ExitCode> {
    // Read (and checked) here, so a bad config fails now, not in every task.
    let config = SweepConfig::load(&args.config, &args.overrides)?;
    let dir = sweep_dir(&config, args.out.as_deref());
    let job = SlurmJob {
        config: args.config.clone(),
        out: args.out.clone(),
        overrides: args.overrides.clone(),
        backend: (backend != Backend::default()).then(|| backend.name().to_string()),
        tasks: args.tasks,
        partition: args.partition.clone(),
        time: args.time.clone(),
        gpus_per_task: args.gpus_per_task,
        cpus_per_task: args.cpus_per_task,
        mem: args.mem.clone(),
        extra: args.extra.clone(),
    };
    let scripts = plateau_train::write_scripts(&job, &dir, &std::env::current_exe()?)?;
    println!("{}", scripts.sweep.display());
    println!("{}", scripts.merge.display());
    if !args.submit {
        println!(
            "submit with: sbatch {0}  (then: sbatch --dependency=afterany:<job id> {1}), or rerun \
             with --submit",
            scripts.sweep.display(),
            scripts.merge.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let ids = plateau_train::submit(&scripts)?;
    println!(
        "submitted: array job {}, merge job {}",
        ids.array, ids.merge
    );
    println!("watch: squeue -j {},{}", ids.array, ids.merge);
    println!("progress: plateau status {}", dir.display());
    Ok(ExitCode::SUCCESS)
}
