//! What every run of a sweep reads: the upstream data and the planned runs, and the downstream
//! tasks (loaded, and checked against the config, before anything trains).

use anyhow::Result;

use crate::run::data::{DownstreamTask, Upstream};
use crate::sweep::config::SweepConfig;
use crate::sweep::plan::{PlannedRun, expand};
use crate::trace;

/// Loads the upstream data and expands the grid.
pub fn plan(config: &SweepConfig, progress: bool) -> Result<(Upstream, Vec<PlannedRun>)> {
    trace::phase("load-data", &config.name);
    let upstream = Upstream::load(&config.upstream, &config.base_dir(), config.seed, progress)?;
    let runs = expand(config, upstream.input).map_err(|e| match e {
        plateau_models::ModelError::Invalid { field, message } => config.error_in(&field, message),
        other => config.error_in("grid", other),
    })?;
    Ok((upstream, runs))
}

/// Loads every downstream task at the model input of the sweep.
pub fn load_downstream(
    config: &SweepConfig,
    upstream: &Upstream,
    progress: bool,
) -> Result<Vec<DownstreamTask>> {
    config
        .downstream
        .iter()
        .enumerate()
        .map(|(i, task)| {
            let loaded = DownstreamTask::load(
                task,
                upstream.input,
                &config.base_dir(),
                config.seed,
                progress,
            )?;
            // Refused now rather than after the first run has trained.
            let (class, smallest) = loaded
                .pool
                .class_counts()
                .into_iter()
                .enumerate()
                .min_by_key(|&(_, count)| count)
                .unwrap_or((0, 0));
            if let Some(&shots) = task.shots.iter().max().filter(|&&s| s > smallest) {
                return Err(config
                    .error_in(
                        &format!("downstream[{i}].shots"),
                        format!(
                            "{shots} shots per class, but class {class} of {} has only {smallest} \
                             examples in the few-shot pool; use at most {smallest}",
                            task.task_name()
                        ),
                    )
                    .into());
            }
            Ok(loaded)
        })
        .collect()
}
