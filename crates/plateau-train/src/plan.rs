//! Grid expansion: a sweep config becomes one fully resolved `RunSpec` per grid point. The run
//! id is a hash of everything that changes the result, so the same run is never trained twice.

use std::collections::BTreeMap;

use plateau_models::{InputSpec, ModelConfig, ModelError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{DownstreamConfig, SweepConfig, TrainConfig, UpstreamConfig};

/// Everything one training run needs, resolved.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunSpec {
    /// The preset the model came from, if any (display only).
    pub preset: Option<String>,
    pub model: ModelConfig,
    pub input: InputSpec,
    pub upstream: UpstreamConfig,
    pub train: TrainConfig,
    pub downstream: Vec<DownstreamConfig>,
    /// Seeds model initialisation, data order and augmentation.
    pub seed: u64,
    /// Seeds data splits and few-shot draws (shared by the whole sweep).
    pub data_seed: u64,
}

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
        let name = self
            .spec
            .preset
            .clone()
            .unwrap_or_else(|| self.spec.model.family().to_string());
        let axes: Vec<String> = self.axes.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{name} {}", axes.join(" ")).trim().to_string()
    }
}

/// The run id: 12 hex digits of the SHA-256 of the spec's canonical JSON.
pub fn run_id(spec: &RunSpec) -> String {
    let json = serde_json::to_vec(spec).expect("run specs serialise");
    let digest = Sha256::digest(json);
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// How many runs the grid expands to (saturating), without building them.
pub fn grid_size(config: &SweepConfig) -> usize {
    config
        .grid
        .iter()
        .map(|entry| {
            entry
                .axis_lengths()
                .into_iter()
                .filter_map(|(_, len)| len)
                .fold(1usize, usize::saturating_mul)
        })
        .fold(0usize, usize::saturating_add)
}

/// Every run of the sweep, in grid order. `input` is the dataset's (channels, size, classes).
pub fn expand(config: &SweepConfig, input: InputSpec) -> Result<Vec<PlannedRun>, ModelError> {
    let mut runs = Vec::new();
    for (index, entry) in config.grid.iter().enumerate() {
        let base = match (&entry.preset, &entry.model) {
            (Some(name), _) => plateau_models::preset(name)?.config(),
            (None, Some(model)) => model.clone(),
            (None, None) => unreachable!("validated: a grid entry has a preset or a model"),
        };
        // Axes in a fixed order; each point is one value per axis.
        let axes: Vec<(&str, Vec<serde_json::Value>)> = [
            ("width", to_values(&entry.width)),
            ("depth", to_values(&entry.depth)),
            ("train_examples", to_values(&entry.train_examples)),
            ("epochs", to_values(&entry.epochs)),
            ("lr", to_values(&entry.lr)),
            ("weight_decay", to_values(&entry.weight_decay)),
            ("head_weight_decay", to_values(&entry.head_weight_decay)),
            ("seed", to_values(&entry.seed)),
        ]
        .into_iter()
        .filter_map(|(name, values)| values.map(|v| (name, v)))
        .collect();
        for point in cartesian(&axes) {
            let mut spec = RunSpec {
                preset: entry.preset.clone(),
                model: base.clone(),
                input,
                upstream: config.upstream.clone(),
                train: config.train.clone(),
                downstream: config.downstream.clone(),
                seed: 0,
                data_seed: config.seed,
            };
            for (axis, value) in &point {
                apply_axis(&mut spec, axis, value);
            }
            spec.model.validate(&spec.input).map_err(|e| match e {
                ModelError::Invalid { field, message } => ModelError::Invalid {
                    field: format!("grid[{index}] {field}"),
                    message,
                },
                other => other,
            })?;
            let axes = point
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            runs.push(PlannedRun {
                id: run_id(&spec),
                spec,
                axes,
            });
        }
    }
    Ok(runs)
}

fn to_values<T: Serialize>(values: &Option<Vec<T>>) -> Option<Vec<serde_json::Value>> {
    values.as_ref().map(|v| {
        v.iter()
            .map(|x| serde_json::to_value(x).expect("plain values"))
            .collect()
    })
}

fn cartesian<'a>(
    axes: &[(&'a str, Vec<serde_json::Value>)],
) -> Vec<Vec<(&'a str, serde_json::Value)>> {
    let mut points = vec![Vec::new()];
    for (name, values) in axes {
        points = points
            .into_iter()
            .flat_map(|point| {
                values.iter().map(move |v| {
                    let mut next = point.clone();
                    next.push((*name, v.clone()));
                    next
                })
            })
            .collect();
    }
    points
}

fn apply_axis(spec: &mut RunSpec, axis: &str, value: &serde_json::Value) {
    let as_usize = || value.as_u64().expect("integer axis") as usize;
    let as_f64 = || value.as_f64().expect("number axis");
    match axis {
        "width" => spec.model = spec.model.with_width(as_usize()),
        "depth" => spec.model = spec.model.with_depth(as_usize()),
        "train_examples" => spec.upstream.train_examples = Some(as_usize()),
        "epochs" => {
            spec.train.epochs = Some(as_usize());
            spec.train.steps = None;
        }
        "lr" => spec.train.lr = as_f64(),
        "weight_decay" => spec.train.weight_decay = as_f64(),
        "head_weight_decay" => spec.train.head_weight_decay = Some(as_f64()),
        "seed" => spec.seed = value.as_u64().expect("integer seed"),
        other => unreachable!("unknown axis {other}"),
    }
}
