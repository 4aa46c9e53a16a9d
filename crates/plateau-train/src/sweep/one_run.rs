//! Training one run of a sweep: in this process (no isolation), or as a run process, which is
//! what `plateau train CONFIG --run ID` does.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result, bail};
use plateau_metrics::results::RunStatus;

use crate::Backend;
use crate::run::data::{DownstreamTask, Upstream};
use crate::run::summary::RunSummary;
use crate::run::train::{RunContext, train};
use crate::sweep::config::SweepConfig;
use crate::sweep::folders::sweep_dir;
use crate::sweep::inputs::{load_downstream, plan};
use crate::sweep::options::SweepOptions;
use crate::sweep::plan::PlannedRun;
use crate::sweep::progress::ProgressMode;
use crate::sweep::run_process::{SweepLink, record_failure};

pub(crate) fn train_in_process(
    run: &PlannedRun,
    upstream: &Upstream,
    downstream: &[DownstreamTask],
    backend: Backend,
    progress: ProgressMode,
    run_dir: &Path,
    stop: &AtomicBool,
) -> RunSummary {
    let ctx = RunContext {
        upstream,
        downstream,
        backend,
        run_dir: run_dir.to_path_buf(),
        progress,
        sweep: None,
        stop,
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| train(run, &ctx))) {
        Ok(Ok(summary)) => summary,
        Ok(Err(error)) => RunSummary::failed(format!("{error:#}")),
        Err(panic) => RunSummary::failed(panic_message(&panic)),
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    let text = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    format!("panicked: {text}")
}

/// Trains the run `run_id` of the sweep in this process (what a child process does, with its
/// `sweep` link).
pub fn train_one(
    config: &SweepConfig,
    run_id: &str,
    options: &SweepOptions,
    sweep: Option<&SweepLink>,
    stop: &AtomicBool,
) -> Result<RunSummary> {
    let (upstream, runs) = plan(config, false)?;
    let run = runs.iter().find(|r| r.id == run_id).with_context(|| {
        format!(
            "no run {run_id} in sweep {}; `plateau sweep CONFIG --dry-run` lists the run ids",
            config.name
        )
    })?;
    let downstream = load_downstream(config, &upstream, false)?;
    let run_dir = sweep_dir(config, options.out_dir.as_deref()).join(run_id);
    let ctx = RunContext {
        upstream: &upstream,
        downstream: &downstream,
        backend: options.backend,
        run_dir: run_dir.clone(),
        progress: options.progress.clone(),
        sweep,
        stop,
    };
    // A panic (shapes, out-of-memory on a GPU allocator) is recorded like an error.
    let hook_dir = run_dir.clone();
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        record_failure(&hook_dir, &format!("panicked: {info}"));
        default_hook(info);
    }));
    let summary =
        train(run, &ctx).inspect_err(|error| record_failure(&run_dir, &format!("{error:#}")))?;
    if summary.status == RunStatus::Diverged {
        bail!("diverged: {}", summary.error.as_deref().unwrap_or(""));
    }
    Ok(summary)
}
