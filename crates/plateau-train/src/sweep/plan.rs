//! Grid expansion: a sweep config becomes one fully resolved [`RunSpec`] per grid point, each
//! with its run id and the axis values that tell it from its neighbours.

use std::collections::BTreeMap;

use plateau_models::{InputSpec, ModelError};
use serde::Serialize;

use crate::run::spec::{DistillSpec, RunSpec, run_id};
use crate::sweep::config::SweepConfig;
use crate::sweep::grid::GridEntry;
use crate::sweep::teacher::find_teacher;

/// A planned run: its spec, id and the axis values that distinguish it.
#[derive(Clone, Debug, Serialize)]
pub struct PlannedRun {
    pub id: String,
    pub spec: RunSpec,
    /// The varied axes of its grid entry (`width`, `lr`, …), for display and results.
    pub axes: BTreeMap<String, serde_json::Value>,
}

impl PlannedRun {
    /// A short human label: `vit-tiny-p4 width=64 seed=0`.
    pub fn label(&self) -> String {
        run_label(&self.spec, &self.axes)
    }
}

/// A run's label from its spec and axes (also for a run known only by its folder).
pub(crate) fn run_label(spec: &RunSpec, axes: &BTreeMap<String, serde_json::Value>) -> String {
    let name = spec
        .preset
        .clone()
        .unwrap_or_else(|| spec.model.family().to_string());
    let axes: Vec<String> = axes
        .iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(text) => format!("{k}={text}"),
            other => format!("{k}={other}"),
        })
        .collect();
    format!("{name} {}", axes.join(" ")).trim().to_string()
}

/// How many runs the grid expands to (saturating), without building them.
pub fn grid_size(config: &SweepConfig) -> usize {
    config
        .grid
        .iter()
        .map(GridEntry::size)
        .fold(0usize, usize::saturating_add)
}

/// Every run of the sweep, in grid order, except that the teacher of distilled runs comes
/// first (its weights must exist before they train). `input` is the dataset's (channels, size,
/// classes).
pub fn expand(config: &SweepConfig, input: InputSpec) -> Result<Vec<PlannedRun>, ModelError> {
    let mut runs = Vec::new();
    let mut planned = std::collections::HashSet::new();
    for (index, entry) in config.grid.iter().enumerate() {
        let base = match (&entry.preset, &entry.model) {
            (Some(name), _) => plateau_models::preset(name)?.config(),
            (None, Some(model)) => model.clone(),
            (None, None) => unreachable!("validated: a grid entry has a preset or a model"),
        };
        for point in entry.points() {
            let mut spec = RunSpec {
                preset: entry.preset.clone(),
                model: base.clone(),
                input,
                upstream: config.upstream.clone(),
                train: config.train.clone(),
                downstream: config.downstream.clone(),
                seed: 0,
                data_seed: config.seed,
                // Absolute, so `plateau features` finds the data from any folder.
                config_dir: config.uses_own_data().then(|| {
                    std::fs::canonicalize(config.base_dir()).unwrap_or_else(|_| config.base_dir())
                }),
                // Only an entry that sweeps `distill` distils (its `true` points); the teacher
                // is named once the whole grid is planned.
                distill: config
                    .distill
                    .as_ref()
                    .filter(|_| entry.axis("distill").is_some())
                    .map(|d| DistillSpec {
                        teacher: String::new(),
                        teacher_dir: None,
                        temperature: d.temperature,
                        ce_weight: d.ce_weight,
                    }),
            };
            for (axis, value) in &point {
                (axis.apply)(&mut spec, value);
            }
            spec.upstream = spec.upstream.without_unused_pruning();
            spec.model.validate(&spec.input).map_err(|e| match e {
                ModelError::Invalid { field, message } => ModelError::Invalid {
                    field: format!("grid[{index}] {field}"),
                    message,
                },
                other => other,
            })?;
            let axes = point
                .iter()
                // A fraction kept means nothing to an unpruned run, nor a temperature to a
                // run trained from scratch.
                .filter(|(axis, _)| match axis.meaning.name {
                    "keep" => spec.upstream.keep.is_some(),
                    "temperature" | "ce_weight" => spec.distill.is_some(),
                    _ => true,
                })
                .map(|(axis, value)| (axis.meaning.name.to_string(), (*value).clone()))
                .collect();
            runs.push(PlannedRun {
                id: run_id(&spec),
                spec,
                axes,
            });
        }
    }
    if let Some(distill) = &config.distill {
        name_the_teacher(config, distill, &mut runs, input)?;
    }
    // The unpruned point of `prune × keep` comes once per fraction (and a scratch run once per
    // temperature): train it once.
    runs.retain(|run| planned.insert(run.id.clone()));
    Ok(runs)
}

/// Gives every distilled run its teacher (and so its id), and moves the teacher first.
fn name_the_teacher(
    config: &SweepConfig,
    distill: &crate::sweep::sections::DistillConfig,
    runs: &mut Vec<PlannedRun>,
    input: InputSpec,
) -> Result<(), ModelError> {
    if runs.iter().all(|run| run.spec.distill.is_none()) {
        return Ok(());
    }
    let candidates: Vec<(String, RunSpec, String)> = runs
        .iter()
        .map(|run| (run.id.clone(), run.spec.clone(), run.label()))
        .collect();
    let teacher = find_teacher(config, &distill.teacher, &candidates, input)?;
    for run in runs.iter_mut() {
        if let Some(spec) = &mut run.spec.distill {
            spec.teacher = teacher.id.clone();
            spec.teacher_dir = teacher.dir.clone();
            run.id = run_id(&run.spec);
        }
    }
    if let Some(at) = runs.iter().position(|run| run.id == teacher.id) {
        let first = runs.remove(at);
        runs.insert(0, first);
    }
    Ok(())
}
