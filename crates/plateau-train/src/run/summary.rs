//! What a run reports when it ends (`summary.json` in its folder): its status, upstream and
//! downstream results, and where its time went.

use std::path::Path;

use anyhow::{Context, Result};
use plateau_metrics::results::{DownstreamResult, RunStatus, UpstreamResult};
use serde::{Deserialize, Serialize};

use crate::sweep::timing::PhaseSeconds;

/// The file in a run's folder.
const SUMMARY_FILE: &str = "summary.json";

/// What a finished (or diverged) run reports; written to `summary.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunSummary {
    pub status: RunStatus,
    pub error: Option<String>,
    pub upstream: Option<UpstreamResult>,
    pub downstream: Vec<DownstreamResult>,
    pub train_seconds: f64,
    pub images_per_second: f64,
    pub images_seen: u64,
    pub epochs: usize,
    pub steps: usize,
    /// Where this process's time went (a resumed run counts only what it did after resuming).
    #[serde(default)]
    pub seconds: PhaseSeconds,
    /// The training data as changed by a data-quality setting (label noise), when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_data: Option<plateau_metrics::results::TrainingData>,
    /// Set for a distilled run: its teacher and how closely it follows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distillation: Option<plateau_metrics::results::Distillation>,
}

impl RunSummary {
    /// A run that ended without a result, and why.
    pub fn failed(error: String) -> Self {
        Self {
            status: RunStatus::Failed,
            error: Some(error),
            upstream: None,
            downstream: Vec::new(),
            train_seconds: 0.0,
            images_per_second: 0.0,
            images_seen: 0,
            epochs: 0,
            steps: 0,
            seconds: Default::default(),
            training_data: None,
            distillation: None,
        }
    }
}

pub fn write_summary(run_dir: &Path, summary: &RunSummary) -> Result<()> {
    let json = serde_json::to_string_pretty(summary)?;
    Ok(plateau_store::write_atomic(
        &run_dir.join(SUMMARY_FILE),
        json.as_bytes(),
    )?)
}

pub fn read_summary(run_dir: &Path) -> Result<RunSummary> {
    let path = run_dir.join(SUMMARY_FILE);
    serde_json::from_slice(&std::fs::read(&path).with_context(|| path.display().to_string())?)
        .with_context(|| format!("{}: corrupt summary", path.display()))
}
