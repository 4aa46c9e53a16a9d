//! Training one run of a sweep: in this process (no isolation), or as a run process, which is
//! what `plateau train CONFIG --run ID` does.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result, bail};
use plateau_metrics::results::RunStatus;

use crate::Backend;
use crate::run::data::Upstream;
use crate::run::summary::RunSummary;
use crate::run::train::{RunContext, train};
use crate::sweep::config::SweepConfig;
use crate::sweep::folders::sweep_dir;
use crate::sweep::inputs::{load_downstream, plan};
use crate::sweep::options::SweepOptions;
use crate::sweep::plan::PlannedRun;
use crate::sweep::progress::ProgressMode;
use crate::sweep::run_process::{RunEnd, SweepLink, record_failure};
use crate::sweep::scoring::{Scoring, scores_for};

/// Trains `run` in this process with `ctx` (whose EL2N scores are found here, from its sweep's
/// folder), catching a panic as the run's failure.
pub(crate) fn train_in_process(run: &PlannedRun, ctx: &RunContext) -> RunEnd {
    let train_it = || {
        let scores = scores_of(
            run,
            ctx.upstream,
            &ctx.run_dir,
            ctx.backend,
            &ctx.progress,
            ctx.stop,
        )?;
        let ctx = RunContext {
            el2n_scores: scores.as_deref(),
            run_dir: ctx.run_dir.clone(),
            progress: ctx.progress.clone(),
            ..*ctx
        };
        train(run, &ctx)
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(train_it)) {
        Ok(Ok(summary)) => RunEnd::Summary(summary),
        Ok(Err(error)) => match cause_of(&error) {
            (why, true) => RunEnd::Environment(why),
            (why, false) => RunEnd::Summary(RunSummary::failed(why)),
        },
        Err(panic) => RunEnd::Summary(RunSummary::failed(panic_message(&panic))),
    }
}

/// The EL2N scores `run` prunes by: read from its sweep's folder, or computed there first.
fn scores_of(
    run: &PlannedRun,
    upstream: &Upstream,
    run_dir: &Path,
    backend: Backend,
    progress: &ProgressMode,
    stop: &AtomicBool,
) -> Result<Option<Vec<f32>>> {
    let scoring = Scoring {
        sweep_dir: run_dir.parent().unwrap_or(Path::new(".")),
        upstream,
        backend,
        progress: progress.clone(),
        stop,
        say: &|line| eprintln!("{line}"),
    };
    scores_for(&run.spec, &scoring)
}

/// Why a run stopped with `error`, and whether the machine's storage is to blame (then the
/// message is the fault's, with its fix).
fn cause_of(error: &anyhow::Error) -> (String, bool) {
    match plateau_store::environment_fault(error.chain()) {
        Some(fault) => (fault.to_string(), true),
        None => (format!("{error:#}"), false),
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
/// `sweep` link). Whatever stops it (an error, a panic) is recorded in the run's folder and,
/// under a sweep, sent to the sweep on stdout.
pub fn train_one(
    config: &SweepConfig,
    run_id: &str,
    options: &SweepOptions,
    sweep: Option<&SweepLink>,
    stop: &AtomicBool,
) -> Result<RunSummary> {
    let run_dir = sweep_dir(config, options.out_dir.as_deref()).join(run_id);
    let to_sweep = sweep.is_some();
    // A panic (shapes, out-of-memory on a GPU allocator) is recorded like an error.
    let hook_dir = run_dir.clone();
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        record_failure(&hook_dir, &format!("panicked: {info}"), false, to_sweep);
        default_hook(info);
    }));
    let summary =
        train_planned(config, run_id, options, sweep, stop, &run_dir).inspect_err(|error| {
            let (why, environment) = cause_of(error);
            record_failure(&run_dir, &why, environment, to_sweep);
        })?;
    if summary.status == RunStatus::Diverged {
        bail!("diverged: {}", summary.error.as_deref().unwrap_or(""));
    }
    Ok(summary)
}

fn train_planned(
    config: &SweepConfig,
    run_id: &str,
    options: &SweepOptions,
    sweep: Option<&SweepLink>,
    stop: &AtomicBool,
    run_dir: &Path,
) -> Result<RunSummary> {
    let (upstream, runs) = plan(config, false)?;
    let run = runs.iter().find(|r| r.id == run_id).with_context(|| {
        format!(
            "no run {run_id} in sweep {}; `plateau sweep CONFIG --dry-run` lists the run ids",
            config.name
        )
    })?;
    let downstream = load_downstream(config, &upstream, false)?;
    let scores = scores_of(
        run,
        &upstream,
        run_dir,
        options.backend,
        &options.progress,
        stop,
    )?;
    let ctx = RunContext {
        upstream: &upstream,
        downstream: &downstream,
        el2n_scores: scores.as_deref(),
        backend: options.backend,
        run_dir: run_dir.to_path_buf(),
        progress: options.progress.clone(),
        sweep,
        stop,
        tensorboard: config.tracking.tensorboard,
    };
    train(run, &ctx)
}
