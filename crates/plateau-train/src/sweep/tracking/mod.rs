//! Where a sweep's runs are shown besides its own files: TensorBoard event files (written by
//! each run, `run/tensorboard.rs`) and an MLflow tracking server, which the sweep process feeds.
//!
//! - `mod.rs`: the `[tracking]` section and which MLflow server and experiment it means.
//! - `mlflow_client.rs`: MLflow's REST API, with bounded retries.
//! - `mlflow_sync.rs`: one run folder mirrored into one MLflow run, idempotently.
//! - `tracker.rs`: the sweep's thread that mirrors its runs as they train, and `sync-tracking`.

pub(crate) mod mlflow_client;
pub(crate) mod mlflow_sync;
pub(crate) mod tracker;

use serde::{Deserialize, Serialize};

/// `[tracking]`: which trackers see the sweep's runs.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrackingConfig {
    /// Write TensorBoard event files in every run folder (on by default).
    #[serde(default = "on")]
    pub tensorboard: bool,
    /// An MLflow tracking server (`http://host:5000`); `MLFLOW_TRACKING_URI` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mlflow_uri: Option<String>,
    /// The MLflow experiment (default: the sweep's name); `MLFLOW_EXPERIMENT_NAME` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mlflow_experiment: Option<String>,
}

fn on() -> bool {
    true
}

impl Default for TrackingConfig {
    fn default() -> Self {
        Self {
            tensorboard: true,
            mlflow_uri: None,
            mlflow_experiment: None,
        }
    }
}

/// MLflow's own environment variables (the Python client reads the same).
pub const MLFLOW_URI_VAR: &str = "MLFLOW_TRACKING_URI";
pub const MLFLOW_EXPERIMENT_VAR: &str = "MLFLOW_EXPERIMENT_NAME";

/// An MLflow server and the experiment a sweep's runs go to.
#[derive(Clone, Debug, PartialEq)]
pub struct MlflowTarget {
    /// Without a trailing `/`.
    pub uri: String,
    pub experiment: String,
}

/// Why a URI cannot be an MLflow server plateau talks to, if it cannot.
pub(crate) fn unusable_uri(uri: &str) -> Option<String> {
    match uri.starts_with("http://") || uri.starts_with("https://") {
        true => None,
        false => Some(format!(
            "{uri:?} is not an http(s):// address: plateau talks to an MLflow tracking server \
             over its REST API; start one (`mlflow server --host 127.0.0.1 --port 5000`) and \
             give its address, e.g. http://127.0.0.1:5000"
        )),
    }
}

impl TrackingConfig {
    /// The MLflow server and experiment for the sweep `sweep_name`: the environment's
    /// (`MLFLOW_TRACKING_URI`, `MLFLOW_EXPERIMENT_NAME`) over the config's. `Ok(None)`: no
    /// MLflow. `Err`: the environment names a server plateau cannot talk to (the sweep warns
    /// and goes on without it; the config's own `mlflow_uri` is checked when it is read).
    pub fn mlflow(&self, sweep_name: &str) -> Result<Option<MlflowTarget>, String> {
        let from_env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let uri = match (from_env(MLFLOW_URI_VAR), &self.mlflow_uri) {
            (Some(uri), _) => {
                if let Some(why) = unusable_uri(&uri) {
                    return Err(format!("{MLFLOW_URI_VAR}: {why}"));
                }
                uri
            }
            (None, Some(uri)) => uri.clone(),
            (None, None) => return Ok(None),
        };
        let experiment = from_env(MLFLOW_EXPERIMENT_VAR)
            .or_else(|| self.mlflow_experiment.clone())
            .unwrap_or_else(|| sweep_name.to_string());
        Ok(Some(MlflowTarget {
            uri: uri.trim_end_matches('/').to_string(),
            experiment,
        }))
    }
}
