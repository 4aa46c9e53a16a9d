//! The sweep config: one TOML file describing the data, the training recipe, the downstream
//! tasks and a grid of model sizes. Unknown keys are errors; every error names the file and,
//! for TOML, the line and column. See `configs/README.md` for the field reference.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plateau_data::batch::Augmentation;
use plateau_models::ModelConfig;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{path}: invalid `{field}`: {message}")]
    Invalid {
        path: PathBuf,
        field: String,
        message: String,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SweepConfig {
    /// Names the output folder `<out_dir>/<name>/`.
    pub name: String,
    #[serde(default = "default_out_dir")]
    pub out_dir: PathBuf,
    /// Seeds data splits and few-shot draws (model seeds are a grid axis).
    #[serde(default)]
    pub seed: u64,
    pub upstream: UpstreamConfig,
    pub train: TrainConfig,
    #[serde(default)]
    pub downstream: Vec<DownstreamConfig>,
    /// One entry per model family or preset, each with its own axes.
    pub grid: Vec<GridEntry>,
    /// The file this config was read from, for error messages (not part of the config).
    #[serde(skip)]
    pub source: PathBuf,
}

fn default_out_dir() -> PathBuf {
    PathBuf::from("runs")
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// A known dataset name (`plateau datasets list`).
    pub dataset: String,
    /// A folder holding the dataset's files, searched before the usual places.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Model input side in pixels (default: the dataset's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_size: Option<usize>,
    /// Model input channels (default: the dataset's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<usize>,
    /// Train on these classes only (original label numbers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<usize>>,
    /// Use this many training examples (stratified, seeded); default all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_examples: Option<usize>,
    /// Fraction of the training set held out for validation.
    #[serde(default = "default_val_fraction")]
    pub val_fraction: f64,
    /// Validate on at most this many held-out examples (stratified); default all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_examples: Option<usize>,
    /// Fraction carved out as test when the dataset has no test split.
    #[serde(default = "default_test_fraction")]
    pub test_fraction: f64,
    /// Evaluate on at most this many test examples (stratified); default all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_examples: Option<usize>,
}

fn default_val_fraction() -> f64 {
    0.1
}
fn default_test_fraction() -> f64 {
    0.2
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    Adamw,
    Sgd,
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// Linear warm-up, then cosine decay to zero.
    #[default]
    Cosine,
    /// Linear warm-up, then constant.
    Constant,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub optimizer: OptimizerKind,
    pub lr: f64,
    #[serde(default)]
    pub weight_decay: f64,
    /// Weight decay of the classification head (default: `weight_decay`). A larger value can
    /// trade upstream for downstream accuracy (Abnar et al. §4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_weight_decay: Option<f64>,
    /// SGD momentum.
    #[serde(default = "default_momentum")]
    pub momentum: f64,
    pub batch_size: usize,
    /// Passes over the training set; or give `steps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<usize>,
    #[serde(default)]
    pub warmup_steps: usize,
    #[serde(default)]
    pub schedule: Schedule,
    #[serde(default)]
    pub label_smoothing: f64,
    /// Clip the global gradient norm to this value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grad_clip: Option<f64>,
    #[serde(default)]
    pub augmentation: Augmentation,
    #[serde(default = "default_eval_batch")]
    pub eval_batch_size: usize,
}

fn default_momentum() -> f64 {
    0.9
}
fn default_eval_batch() -> usize {
    256
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Layers {
    /// `"all"`: every stage/block plus the pre-logits.
    Named(String),
    List(Vec<String>),
}

impl Default for Layers {
    fn default() -> Self {
        Layers::List(vec!["pre_logits".to_string()])
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DownstreamConfig {
    pub dataset: String,
    /// Task name in results (default: the dataset name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<usize>>,
    #[serde(default = "default_shots")]
    pub shots: Vec<usize>,
    /// Number of few-shot draws (seeds 0..seeds).
    #[serde(default = "default_seeds")]
    pub seeds: u64,
    #[serde(default)]
    pub layers: Layers,
    /// Closed-form ridge regulariser.
    #[serde(default = "default_l2")]
    pub l2_reg: f64,
    /// Fraction carved out as test when the dataset has no test split.
    #[serde(default = "default_downstream_test_fraction")]
    pub test_fraction: f64,
    /// Probe accuracy on at most this many test examples (stratified); default all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_examples: Option<usize>,
    /// A second protocol: a short full fine-tune on the task's train split (off by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finetune: Option<FinetuneConfig>,
}

/// A short fine-tune of the whole model, with a new head, on a downstream task (BiT-HyperRule
/// style: SGD with momentum 0.9, warm-up then cosine decay).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FinetuneConfig {
    #[serde(default = "default_finetune_steps")]
    pub steps: usize,
    #[serde(default = "default_finetune_lr")]
    pub lr: f64,
    #[serde(default = "default_finetune_batch_size")]
    pub batch_size: usize,
    /// Fine-tune on this many examples per class of the train split (default: all of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub examples_per_class: Option<usize>,
}

fn default_finetune_steps() -> usize {
    100
}
fn default_finetune_lr() -> f64 {
    0.003
}
fn default_finetune_batch_size() -> usize {
    64
}

fn default_shots() -> Vec<usize> {
    vec![1, 5, 10, 25]
}
fn default_seeds() -> u64 {
    3
}
fn default_l2() -> f64 {
    1024.0
}
fn default_downstream_test_fraction() -> f64 {
    0.5
}

impl DownstreamConfig {
    pub fn task_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.dataset)
    }
}

/// A model (a preset or a full config) and the axes to sweep it along.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GridEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelConfig>,
    /// The family's width knob (ResNet base_width, ViT width, Mixer hidden_dim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<Vec<usize>>,
    /// ViT/Mixer blocks; for ResNet, blocks in every stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<Vec<usize>>,
    /// Model initialisation and data-order seeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<Vec<u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_decay: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_weight_decay: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_examples: Option<Vec<usize>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<Vec<usize>>,
}

impl SweepConfig {
    /// Prefixes an error found after parsing (a model shape, a data size) with this config's
    /// file, so it reads like the parser's own.
    pub fn error_in(&self, field: &str, message: impl std::fmt::Display) -> ConfigError {
        ConfigError::Invalid {
            path: self.source.clone(),
            field: field.to_string(),
            message: message.to_string(),
        }
    }

    /// Reads `path`, applies `key=value` overrides (dotted keys, TOML values), and validates.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::parse(path, &text, overrides)
    }

    pub fn parse(path: &Path, text: &str, overrides: &[String]) -> Result<Self, ConfigError> {
        let read_error = |message: String| ConfigError::Read {
            path: path.to_path_buf(),
            message,
        };
        let config: Self = if overrides.is_empty() {
            // Straight from the text, so errors carry line and column.
            toml::from_str(text).map_err(|e| read_error(e.to_string()))?
        } else {
            let mut table: toml::Table =
                toml::from_str(text).map_err(|e| read_error(e.to_string()))?;
            for assignment in overrides {
                apply_override(&mut table, assignment).map_err(read_error)?;
            }
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| read_error(format!("after --set: {e}")))?
        };
        config.validate(path)?;
        Ok(Self {
            source: path.to_path_buf(),
            ..config
        })
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |field: &str, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            field: field.to_string(),
            message,
        };
        if self.name.is_empty() || self.name.contains(['/', '\\']) {
            return Err(invalid(
                "name",
                format!("{:?} must be a non-empty folder name", self.name),
            ));
        }
        let known_dataset = |field: &str, name: &str| {
            plateau_data::registry::spec(name)
                .map(|_| ())
                .map_err(|e| invalid(field, e.to_string()))
        };
        known_dataset("upstream.dataset", &self.upstream.dataset)?;
        for (i, task) in self.downstream.iter().enumerate() {
            known_dataset(&format!("downstream[{i}].dataset"), &task.dataset)?;
        }
        let t = &self.train;
        if t.batch_size == 0 || t.eval_batch_size == 0 {
            return Err(invalid("train.batch_size", "must be at least 1".into()));
        }
        if t.epochs.is_some() == t.steps.is_some() {
            return Err(invalid(
                "train.epochs",
                "give exactly one of `epochs` and `steps`".into(),
            ));
        }
        if t.epochs == Some(0) || t.steps == Some(0) {
            return Err(invalid("train.epochs", "must be at least 1".into()));
        }
        if !(t.lr > 0.0 && t.lr.is_finite()) {
            return Err(invalid(
                "train.lr",
                format!("{} must be a positive number", t.lr),
            ));
        }
        if !(0.0..1.0).contains(&t.label_smoothing) {
            return Err(invalid(
                "train.label_smoothing",
                format!("{} must lie in [0, 1)", t.label_smoothing),
            ));
        }
        if !(0.0..1.0).contains(&self.upstream.val_fraction) || self.upstream.val_fraction == 0.0 {
            return Err(invalid(
                "upstream.val_fraction",
                format!("{} must lie in (0, 1)", self.upstream.val_fraction),
            ));
        }
        if self.grid.is_empty() {
            return Err(invalid(
                "grid",
                "is empty: add at least one [[grid]] entry with a `preset` or `model`".into(),
            ));
        }
        for (i, entry) in self.grid.iter().enumerate() {
            if entry.preset.is_some() == entry.model.is_some() {
                return Err(invalid(
                    &format!("grid[{i}]"),
                    "give exactly one of `preset` and `model`".into(),
                ));
            }
            if let Some(name) = &entry.preset {
                plateau_models::preset(name)
                    .map_err(|e| invalid(&format!("grid[{i}].preset"), e.to_string()))?;
            }
            for (axis, len) in entry.axis_lengths() {
                if len == Some(0) {
                    return Err(invalid(
                        &format!("grid[{i}].{axis}"),
                        "is an empty list: give at least one value or remove the key".into(),
                    ));
                }
            }
        }
        for (i, task) in self.downstream.iter().enumerate() {
            if task.shots.is_empty() || task.shots.contains(&0) {
                return Err(invalid(
                    &format!("downstream[{i}].shots"),
                    "must list shot counts of at least 1".into(),
                ));
            }
            if task.seeds == 0 {
                return Err(invalid(
                    &format!("downstream[{i}].seeds"),
                    "must be at least 1".into(),
                ));
            }
            if let Some(finetune) = &task.finetune {
                let field = |name: &str| format!("downstream[{i}].finetune.{name}");
                if finetune.steps == 0 || finetune.batch_size == 0 {
                    return Err(invalid(
                        &field("steps"),
                        "steps and batch_size must be at least 1".into(),
                    ));
                }
                if !(finetune.lr.is_finite() && finetune.lr > 0.0) {
                    return Err(invalid(&field("lr"), "must be a positive number".into()));
                }
                if finetune.examples_per_class == Some(0) {
                    return Err(invalid(
                        &field("examples_per_class"),
                        "must be at least 1 (or left out for the whole train split)".into(),
                    ));
                }
            }
            if let Layers::Named(name) = &task.layers
                && name != "all"
            {
                return Err(invalid(
                    &format!("downstream[{i}].layers"),
                    format!("{name:?}: use \"all\" or a list of layer names"),
                ));
            }
        }
        Ok(())
    }
}

impl GridEntry {
    /// Each axis and its number of values (`None`: not swept).
    pub fn axis_lengths(&self) -> [(&'static str, Option<usize>); 8] {
        [
            ("width", self.width.as_ref().map(Vec::len)),
            ("depth", self.depth.as_ref().map(Vec::len)),
            ("seed", self.seed.as_ref().map(Vec::len)),
            ("lr", self.lr.as_ref().map(Vec::len)),
            ("weight_decay", self.weight_decay.as_ref().map(Vec::len)),
            (
                "head_weight_decay",
                self.head_weight_decay.as_ref().map(Vec::len),
            ),
            ("train_examples", self.train_examples.as_ref().map(Vec::len)),
            ("epochs", self.epochs.as_ref().map(Vec::len)),
        ]
    }
}

/// Sets `a.b.c = value` in `table`; the value is read as TOML (`3`, `1e-3`, `[8, 16]`, `"x"`),
/// or taken as a plain string when it does not parse.
fn apply_override(table: &mut toml::Table, assignment: &str) -> Result<(), String> {
    let (key, raw) = assignment
        .split_once('=')
        .ok_or_else(|| format!("--set {assignment:?}: expected key=value"))?;
    let value: toml::Value = toml::from_str::<BTreeMap<String, toml::Value>>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut m| m.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let parts: Vec<&str> = key.trim().split('.').collect();
    let mut current = table;
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            current.insert(part.to_string(), value);
            return Ok(());
        }
        current = match current
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(Default::default()))
        {
            toml::Value::Table(t) => t,
            toml::Value::Array(items) => {
                let index: usize = parts[i + 1].parse().map_err(|_| {
                    format!("--set {key}: `{part}` is a list; index it like {part}.0.field")
                })?;
                return set_in_array(items, index, &parts[i + 2..], value, key);
            }
            _ => return Err(format!("--set {key}: `{part}` is not a table")),
        };
    }
    Ok(())
}

fn set_in_array(
    items: &mut [toml::Value],
    index: usize,
    rest: &[&str],
    value: toml::Value,
    key: &str,
) -> Result<(), String> {
    let item = items
        .get_mut(index)
        .ok_or_else(|| format!("--set {key}: index {index} is out of range"))?;
    if rest.is_empty() {
        *item = value;
        return Ok(());
    }
    let toml::Value::Table(table) = item else {
        return Err(format!("--set {key}: item {index} is not a table"));
    };
    apply_override(
        table,
        &format!("{}={}", rest.join("."), toml_literal(&value)),
    )
}

fn toml_literal(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}
