//! The parts of a sweep config that every run of it shares and that a run's spec holds: the
//! upstream data, the training recipe and the downstream tasks. (The grid, which varies them,
//! is in `grid.rs`; the whole file in `config.rs`.)

use std::path::PathBuf;

use crate::sweep::source::DatasetSource;

use plateau_data::batch::Augmentation;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// A known dataset name (`plateau datasets list`), or data of one's own (`{ folder = … }`).
    pub dataset: DatasetSource,
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
    /// Corrupt this share of the training labels (also the grid axis `label_noise`); validation
    /// and test labels stay clean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_noise: Option<f64>,
    /// How labels are corrupted: `symmetric` (the default) or `asymmetric` with `noise_map`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<NoiseKind>,
    /// For asymmetric noise: class → class, by class name (or number), e.g.
    /// `{ truck = "automobile", cat = "dog", dog = "cat" }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_map: Option<std::collections::BTreeMap<String, String>>,
    /// `"exact"`: before any split, drop training images that are byte-identical to another
    /// training image or to a test image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup: Option<Dedup>,
    /// Prune the training set (also the grid axis `prune`): `"none"`, `"el2n"` or `"random"`.
    /// Pruning comes last, after the subset and the label noise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<PruneMetric>,
    /// The fraction of training examples pruning keeps, in (0, 1] (also the grid axis `keep`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<f64>,
    /// The model that scores examples for `prune = "el2n"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune_scorer: Option<ScorerConfig>,
    /// Which examples EL2N pruning keeps: `"hard"` (the default; best when data is plentiful)
    /// or `"easy"` (best when it is scarce; Sorscher et al. 2022).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune_keep: Option<PruneKeep>,
}

impl UpstreamConfig {
    /// The same data settings without the pruning settings a run does not use: an unpruned
    /// run's id does not change with the scorer, nor a random one's with `prune_keep`.
    pub fn without_unused_pruning(mut self) -> Self {
        match self.prune {
            None | Some(PruneMetric::None) => {
                self.prune = None;
                self.keep = None;
                self.prune_scorer = None;
                self.prune_keep = None;
            }
            Some(PruneMetric::Random) => {
                self.prune_scorer = None;
                self.prune_keep = None;
            }
            Some(PruneMetric::El2n) => {}
        }
        self
    }
}

/// How examples are chosen for pruning (see plateau-data's `prune.rs`).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PruneMetric {
    None,
    /// Keep by EL2N score of a briefly trained scorer (Paul et al. 2021).
    El2n,
    /// Keep a seeded random share of each class.
    Random,
}

impl PruneMetric {
    pub const NAMES: [&str; 3] = ["none", "el2n", "random"];

    pub fn name(self) -> &'static str {
        match self {
            PruneMetric::None => "none",
            PruneMetric::El2n => "el2n",
            PruneMetric::Random => "random",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "none" => Some(PruneMetric::None),
            "el2n" => Some(PruneMetric::El2n),
            "random" => Some(PruneMetric::Random),
            _ => None,
        }
    }
}

/// Which end of the EL2N order pruning keeps.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PruneKeep {
    #[default]
    Hard,
    Easy,
}

impl PruneKeep {
    pub fn name(self) -> &'static str {
        match self {
            PruneKeep::Hard => "hard",
            PruneKeep::Easy => "easy",
        }
    }
}

/// The scorer of EL2N pruning: a preset (at a width and depth), trained `epochs` on the training set
/// with the sweep's recipe, once per seed `0..seeds`; its scores are averaged over the seeds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScorerConfig {
    pub preset: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<usize>,
    #[serde(default = "default_scorer_epochs")]
    pub epochs: usize,
    #[serde(default = "default_scorer_seeds")]
    pub seeds: u64,
}

fn default_scorer_epochs() -> usize {
    2
}
fn default_scorer_seeds() -> u64 {
    2
}

/// How duplicate images are found.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Dedup {
    /// Byte-identical pixels (after loading, before resizing).
    Exact,
}

/// How label noise is drawn (see plateau-data's `noise.rs`).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum NoiseKind {
    /// A share of the examples gets a label drawn uniformly over all classes.
    #[default]
    Symmetric,
    /// A share of the examples of mapped classes takes the mapped class.
    Asymmetric,
}

impl NoiseKind {
    pub fn name(self) -> &'static str {
        match self {
            NoiseKind::Symmetric => "symmetric",
            NoiseKind::Asymmetric => "asymmetric",
        }
    }
}

fn default_val_fraction() -> f64 {
    0.1
}
fn default_test_fraction() -> f64 {
    0.2
}

/// `[distill]`: the teacher the runs of a `distill = [true]` grid entry learn from, and how.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DistillConfig {
    pub teacher: TeacherConfig,
    /// Softmax temperature T of the distillation loss `T²·KL(teacher/T ‖ student/T)` (also a
    /// grid axis).
    #[serde(default = "default_temperature")]
    pub temperature: f64,
    /// Weight of the cross-entropy on the labels, in [0, 1]: the loss is
    /// `ce_weight·CE + (1 − ce_weight)·T²·KL` (default 0: pure distillation; also a grid axis).
    #[serde(default)]
    pub ce_weight: f64,
}

fn default_temperature() -> f64 {
    1.0
}

/// Which model teaches.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(untagged, deny_unknown_fields)]
pub enum TeacherConfig {
    /// A point of this sweep's grid (not distilled itself), trained first like any run.
    Point {
        preset: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        width: Option<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        depth: Option<usize>,
        #[serde(default)]
        seed: u64,
    },
    /// A finished run folder of another sweep (its `config.json` and `model.safetensors`),
    /// relative to the config's folder.
    RunDir { run_dir: PathBuf },
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
    pub dataset: DatasetSource,
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
        self.name.as_deref().unwrap_or(self.dataset.short_name())
    }
}
