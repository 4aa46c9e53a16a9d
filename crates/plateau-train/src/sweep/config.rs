//! The sweep config: one TOML file describing the data, the training recipe, the downstream
//! tasks and a grid of model sizes. Unknown keys are errors; every error names the file and,
//! for TOML, the line and column. See `configs/README.md` for the field reference.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::sweep::grid::GridEntry;
use crate::sweep::overrides::apply_override;
pub use crate::sweep::sections::{
    Dedup, DistillConfig, DownstreamConfig, FinetuneConfig, Layers, NoiseKind, OptimizerKind,
    PruneKeep, PruneMetric, Schedule, ScorerConfig, TeacherConfig, TrainConfig, UpstreamConfig,
};
pub use crate::sweep::tracking::TrackingConfig;
use crate::sweep::tracking::unusable_uri;

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
    /// The teacher of distilled runs (`distill = [false, true]` in a grid entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distill: Option<DistillConfig>,
    /// Trackers besides the sweep's own files: TensorBoard (on by default) and MLflow.
    #[serde(default)]
    pub tracking: TrackingConfig,
    /// The file this config was read from, for error messages (not part of the config).
    #[serde(skip)]
    pub source: PathBuf,
}

fn default_out_dir() -> PathBuf {
    PathBuf::from("runs")
}

impl SweepConfig {
    /// The folder relative paths in this config start from: the config file's own.
    pub fn base_dir(&self) -> PathBuf {
        match self.source.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// Whether any dataset is one's own (named by a path rather than by the registry).
    pub fn uses_own_data(&self) -> bool {
        self.upstream.dataset.is_own() || self.downstream.iter().any(|t| t.dataset.is_own())
    }

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
        let known_dataset = |field: &str, source: &crate::sweep::source::DatasetSource| {
            source.check().map_err(|message| invalid(field, message))
        };
        known_dataset("upstream.dataset", &self.upstream.dataset)?;
        for (i, task) in self.downstream.iter().enumerate() {
            known_dataset(&format!("downstream[{i}].dataset"), &task.dataset)?;
        }
        // `path` points at a registry set's files; one's own data names its paths itself.
        let sections = std::iter::once((
            "upstream".to_string(),
            &self.upstream.dataset,
            &self.upstream.path,
        ))
        .chain(
            self.downstream
                .iter()
                .enumerate()
                .map(|(i, t)| (format!("downstream[{i}]"), &t.dataset, &t.path)),
        );
        for (section, dataset, path) in sections {
            if dataset.is_own() && path.is_some() {
                return Err(invalid(
                    &format!("{section}.path"),
                    "is for registry datasets; your own data gives its paths in `dataset = { … }`"
                        .into(),
                ));
            }
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
        let mixup = t.augmentation.mixup;
        if !(mixup >= 0.0 && mixup.is_finite()) {
            return Err(invalid(
                "train.augmentation.mixup",
                format!("{mixup} must be 0 (off) or the positive α of Beta(α, α), e.g. 1.0"),
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
        let rate_ok = |rate: f64| (0.0..1.0).contains(&rate);
        if let Some(rate) = self.upstream.label_noise.filter(|r| !rate_ok(*r)) {
            return Err(invalid(
                "upstream.label_noise",
                format!("{rate} must lie in [0, 1): the share of training labels corrupted"),
            ));
        }
        match (self.upstream.noise, &self.upstream.noise_map) {
            (Some(NoiseKind::Asymmetric), None) => {
                return Err(invalid(
                    "upstream.noise_map",
                    "asymmetric noise needs a class map, e.g. noise_map = { cat = \"dog\", dog = \"cat\" }".into(),
                ));
            }
            (None | Some(NoiseKind::Symmetric), Some(_)) => {
                return Err(invalid(
                    "upstream.noise_map",
                    "a class map is for noise = \"asymmetric\"; symmetric noise draws from every class".into(),
                ));
            }
            _ => {}
        }
        self.validate_pruning(&invalid)?;
        self.validate_distillation(&invalid)?;
        if let Some(why) = self.tracking.mlflow_uri.as_deref().and_then(unusable_uri) {
            return Err(invalid("tracking.mlflow_uri", why));
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
            for (axis, values) in &entry.axes {
                if values.is_empty() {
                    return Err(invalid(
                        &format!("grid[{i}].{axis}"),
                        "is an empty list: give at least one value or remove the key".into(),
                    ));
                }
            }
            for rate in entry.axis("label_noise").unwrap_or_default() {
                let rate = rate.as_f64().unwrap_or(f64::NAN);
                if !rate_ok(rate) {
                    return Err(invalid(
                        &format!("grid[{i}].label_noise"),
                        format!(
                            "{rate} must lie in [0, 1): the share of training labels corrupted"
                        ),
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

    /// A `distill` axis has a `[distill]` table; temperatures are positive, CE weights in [0, 1].
    fn validate_distillation(
        &self,
        invalid: &dyn Fn(&str, String) -> ConfigError,
    ) -> Result<(), ConfigError> {
        let temperature = |field: &str, t: f64| match t > 0.0 && t.is_finite() {
            true => Ok(()),
            false => Err(invalid(
                field,
                format!("{t} must be a positive number (the softmax temperature; 1 is plain)"),
            )),
        };
        let weight = |field: &str, w: f64| match (0.0..=1.0).contains(&w) {
            true => Ok(()),
            false => Err(invalid(
                field,
                format!("{w} must lie in [0, 1]: the loss is ce_weight·CE + (1 − ce_weight)·T²·KL"),
            )),
        };
        if let Some(distill) = &self.distill {
            temperature("distill.temperature", distill.temperature)?;
            weight("distill.ce_weight", distill.ce_weight)?;
        }
        for (i, entry) in self.grid.iter().enumerate() {
            if entry.axis("distill").is_some() && self.distill.is_none() {
                return Err(invalid(
                    &format!("grid[{i}].distill"),
                    "needs a [distill] table naming the teacher, e.g. [distill] teacher = { \
                     preset = \"resnet-cifar\", width = 32, depth = 1, seed = 0 }"
                        .into(),
                ));
            }
            // Only distilled runs have these: swept without `distill`, they would collapse.
            for name in ["temperature", "ce_weight"] {
                if entry.axis(name).is_some() && entry.axis("distill").is_none() {
                    return Err(invalid(
                        &format!("grid[{i}].{name}"),
                        "sets how distilled runs learn, but this entry has no `distill` axis: \
                         add `distill = [true]` (or `[false, true]`) to it"
                            .into(),
                    ));
                }
            }
            let values = |name: &str| -> Vec<f64> {
                entry
                    .axis(name)
                    .unwrap_or_default()
                    .iter()
                    .map(|v| v.as_f64().unwrap_or(f64::NAN))
                    .collect()
            };
            for t in values("temperature") {
                temperature(&format!("grid[{i}].temperature"), t)?;
            }
            for w in values("ce_weight") {
                weight(&format!("grid[{i}].ce_weight"), w)?;
            }
        }
        Ok(())
    }

    /// Fractions kept lie in (0, 1]; pruning has a fraction; EL2N has a scorer that exists.
    fn validate_pruning(
        &self,
        invalid: &dyn Fn(&str, String) -> ConfigError,
    ) -> Result<(), ConfigError> {
        let up = &self.upstream;
        let keep_ok = |keep: f64| keep > 0.0 && keep <= 1.0;
        let keep_message = |keep: f64| {
            format!("{keep} must lie in (0, 1]: the fraction of training examples kept")
        };
        if let Some(keep) = up.keep.filter(|k| !keep_ok(*k)) {
            return Err(invalid("upstream.keep", keep_message(keep)));
        }
        let mut wants_scorer = up.prune == Some(PruneMetric::El2n);
        for (i, entry) in self.grid.iter().enumerate() {
            let keeps = entry.axis("keep").unwrap_or_default();
            if let Some(bad) = keeps
                .iter()
                .map(|v| v.as_f64().unwrap_or(f64::NAN))
                .find(|k| !keep_ok(*k))
            {
                return Err(invalid(&format!("grid[{i}].keep"), keep_message(bad)));
            }
            let metrics: Vec<&str> = match entry.axis("prune") {
                Some(values) => values.iter().filter_map(|v| v.as_str()).collect(),
                None => up.prune.map(PruneMetric::name).into_iter().collect(),
            };
            wants_scorer |= metrics.contains(&"el2n");
            let prunes = metrics.iter().any(|m| *m != "none");
            if prunes && keeps.is_empty() && up.keep.is_none() {
                return Err(invalid(
                    &format!("grid[{i}].keep"),
                    "pruning needs the fraction of training examples to keep: add `keep = [0.5]` \
                     to this entry, or `keep = 0.5` to [upstream]"
                        .into(),
                ));
            }
        }
        match &up.prune_scorer {
            None if wants_scorer => Err(invalid(
                "upstream.prune_scorer",
                "EL2N pruning needs a model to score examples, e.g. prune_scorer = { preset = \
                 \"mixer-tiny-p4\", width = 32, epochs = 2, seeds = 2 }"
                    .into(),
            )),
            Some(scorer) => {
                plateau_models::preset(&scorer.preset)
                    .map_err(|e| invalid("upstream.prune_scorer.preset", e.to_string()))?;
                if scorer.epochs == 0
                    || scorer.seeds == 0
                    || scorer.width == Some(0)
                    || scorer.depth == Some(0)
                {
                    return Err(invalid(
                        "upstream.prune_scorer",
                        "epochs, seeds, width and depth must be at least 1".into(),
                    ));
                }
                Ok(())
            }
            None => Ok(()),
        }
    }
}
