//! A run's spec: everything one training run needs, resolved (no grid, no defaults left), and
//! its id, a hash of everything that changes the result, so the same run is never trained twice.

use plateau_models::{InputSpec, ModelConfig};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::sweep::sections::{DownstreamConfig, TrainConfig, UpstreamConfig};

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
    /// The config file's folder, which relative paths of one's own data start from (kept for
    /// `plateau features`; not part of the id, so a study can move with its data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_dir: Option<std::path::PathBuf>,
    /// Set for a run that learns from a teacher instead of (or besides) the labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distill: Option<DistillSpec>,
}

/// How a distilled run learns: from which teacher, at which temperature, with how much of the
/// labels' cross-entropy.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DistillSpec {
    /// The teacher's identity: its run id in this sweep, or `weights-<hash>` of an external
    /// teacher's `model.safetensors`. Part of the run id: another teacher means other runs.
    pub teacher: String,
    /// An external teacher's run folder (absolute; not part of the id, so a study can move).
    /// `None`: the teacher is the run `teacher` of this sweep, beside this run's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher_dir: Option<std::path::PathBuf>,
    pub temperature: f64,
    pub ce_weight: f64,
}

impl RunSpec {
    /// Where relative paths of one's own data start.
    pub fn data_base(&self) -> &std::path::Path {
        self.config_dir
            .as_deref()
            .unwrap_or(std::path::Path::new("."))
    }
}

/// The run id: 12 hex digits of the SHA-256 of the spec's canonical JSON.
pub fn run_id(spec: &RunSpec) -> String {
    let identity = RunSpec {
        config_dir: None,
        distill: spec.distill.clone().map(|d| DistillSpec {
            teacher_dir: None,
            ..d
        }),
        ..spec.clone()
    };
    let json = serde_json::to_vec(&identity).expect("run specs serialise");
    let digest = Sha256::digest(json);
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}
