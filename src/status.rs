//! `plateau status SWEEP_DIR`: what is done, running, failed and left, from the folder alone.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use plateau_train::{RunState, RunStatus};

#[derive(Args)]
pub struct StatusArgs {
    /// A sweep folder (`runs/<name>`), local or on a cluster's shared file system.
    dir: PathBuf,
}

pub fn run(args: &StatusArgs) -> Result<ExitCode> {
    let status = plateau_train::sweep_status(&args.dir)?;
    let mut counts = [0usize; 5];
    for (id, label, state) in &status.runs {
        let line = match state {
            RunState::Done(RunStatus::Ok) => {
                counts[0] += 1;
                "done".to_string()
            }
            RunState::Done(RunStatus::Diverged) => {
                counts[0] += 1;
                "done (diverged)".to_string()
            }
            RunState::Done(RunStatus::Failed) => {
                counts[1] += 1;
                "failed (--rerun-failed retries it)".to_string()
            }
            RunState::Running { claim, stale } => {
                counts[2] += 1;
                let task = match (&claim.slurm_job, &claim.slurm_task) {
                    (Some(job), Some(task)) => format!(", Slurm job {job} task {task}"),
                    (Some(job), None) => format!(", Slurm job {job}"),
                    _ => String::new(),
                };
                let stale = match stale {
                    true => " — stale: its process seems gone; the next sweep of it takes over",
                    false => "",
                };
                format!(
                    "running on {} pid {}{task}, heartbeat {:.0} s ago{stale}",
                    claim.host,
                    claim.pid,
                    claim.age()
                )
            }
            RunState::Stopped => {
                counts[3] += 1;
                "stopped (resumes from its checkpoint when its sweep runs again)".to_string()
            }
            RunState::Left => {
                counts[4] += 1;
                "left".to_string()
            }
        };
        println!("{id}  {label:<40}  {line}");
    }
    println!(
        "sweep {}: {} runs: {} done, {} failed, {} running, {} stopped, {} left",
        status.name,
        status.runs.len(),
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        counts[4]
    );
    Ok(ExitCode::SUCCESS)
}
