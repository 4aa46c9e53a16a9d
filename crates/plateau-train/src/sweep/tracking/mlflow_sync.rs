//! One plateau run mirrored into one MLflow run, from its folder alone (the folder is the
//! ground truth; MLflow holds a copy):
//!
//! - the MLflow run is found by its tag `plateau.run_id`, or made (named by the run's axes), so
//!   a resumed run, a second sweep invocation or `plateau sync-tracking` continue it;
//! - params: the hyper-parameters of `run/hparams.rs` (axes, model config, size);
//! - per epoch, from `metrics.jsonl`: `train/loss` (the epoch's mean), `train/lr`,
//!   `val/accuracy`, `val/loss` and `epoch`, at the steps done, timed as the run logged them;
//! - at the end, from its record: `test/accuracy`, `test/loss`, every
//!   `downstream/<task>/<shots>-shot/<layer>`, `train_seconds`, `images_per_second` and
//!   `train_flops`; `config.json`, `summary.json`, `metrics.jsonl` and `result.json` as
//!   artifacts (where the server takes them over REST); and the status, FINISHED or FAILED.
//!
//! Sending twice stores once: a point keeps the time the run logged it, and MLflow keeps one
//! point per (key, step, time, value); params are sent with the values they already have.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use plateau_metrics::results::{ResultRow, RunStatus};
use plateau_store::Jsonl;
use serde_json::Value;

use crate::run::hparams::{as_text, hyperparameters};
use crate::run::spec::RunSpec;
use crate::sweep::folders::RECORD_FILE;
use crate::sweep::plan::run_label;
use crate::sweep::tracking::MlflowTarget;
use crate::sweep::tracking::mlflow_client::{Metric, MlflowClient, RemoteRun};

/// The tag that ties an MLflow run to its plateau run.
pub(crate) const RUN_ID_TAG: &str = "plateau.run_id";

/// A run the tracker follows: its folder and what names it.
#[derive(Clone, Debug)]
pub(crate) struct TrackedRun {
    pub id: String,
    pub dir: PathBuf,
    /// Its axes; empty when not known (a folder without its plan or record).
    pub axes: BTreeMap<String, Value>,
}

/// What of one run has reached MLflow, kept between passes so each sends only what is new.
#[derive(Debug, Default)]
pub(crate) struct Sent {
    /// The run's spec, read from its `config.json` once it has one.
    spec: Option<RunSpec>,
    run: Option<RemoteRun>,
    params: usize,
    metric_lines: usize,
    /// Everything, the final status included.
    pub done: bool,
}

/// A sweep's experiment on one MLflow server.
pub(crate) struct Mirror {
    client: MlflowClient,
    experiment: String,
    sweep: String,
    /// Set once the server turned out not to take artifacts over REST.
    pub artifacts_refused: bool,
}

impl Mirror {
    /// Finds (or makes) the experiment of `target` on its server.
    pub fn connect(target: &MlflowTarget, sweep: &str) -> Result<Self> {
        let client = MlflowClient::new(&target.uri);
        let experiment = client
            .experiment_id(&target.experiment)
            .with_context(|| format!("MLflow experiment {:?}", target.experiment))?;
        Ok(Self {
            client,
            experiment,
            sweep: sweep.to_string(),
            artifacts_refused: false,
        })
    }

    /// Sends what `run`'s folder holds that MLflow lacks. `record`: the run's row once it has
    /// ended (the caller decides when a record counts: a rerun's old one does not). A run not
    /// started yet (no `config.json`) sends nothing.
    pub fn sync(
        &mut self,
        run: &TrackedRun,
        record: Option<&ResultRow>,
        sent: &mut Sent,
    ) -> Result<()> {
        if sent.done {
            return Ok(());
        }
        if sent.spec.is_none() {
            sent.spec = read_spec(&run.dir).ok();
        }
        let Some(spec) = sent.spec.clone() else {
            return Ok(());
        };
        let axes = match (&run.axes, record) {
            (axes, Some(row)) if axes.is_empty() => &row.config,
            (axes, _) => axes,
        };
        let mut remote = match sent.run.clone() {
            Some(remote) => remote,
            None => self.find_or_create(run, &spec, axes)?,
        };
        let expected = record.map_or("RUNNING", |row| mlflow_status(row.status));
        if remote.is_ended() && record.is_some() && remote.status == expected {
            // Mirrored whole by an earlier sweep or sync.
            sent.run = Some(remote);
            sent.done = true;
            return Ok(());
        }
        if remote.is_ended() && record.is_none() {
            // Trained again (a rerun of a failed run): running once more.
            self.client.set_status(&remote.id, "RUNNING", now_ms())?;
            remote.status = "RUNNING".into();
        }
        sent.run = Some(remote.clone());

        let params: Vec<(String, String)> = hyperparameters(axes, &spec)
            .iter()
            .map(|(k, v)| (k.clone(), as_text(v)))
            .collect();
        if params.len() > sent.params {
            self.client.log_batch(&remote.id, &params, &[])?;
            sent.params = params.len();
        }

        let lines = epoch_lines(&run.dir);
        if lines.len() > sent.metric_lines {
            let metrics: Vec<Metric> = lines[sent.metric_lines..]
                .iter()
                .flat_map(epoch_metrics)
                .collect();
            self.client.log_batch(&remote.id, &[], &metrics)?;
            sent.metric_lines = lines.len();
        }

        let Some(row) = record else {
            return Ok(());
        };
        let ended = modified_ms(&run.dir.join(RECORD_FILE));
        self.client
            .log_batch(&remote.id, &[], &final_metrics(row, ended))?;
        for name in ["config.json", "summary.json", "metrics.jsonl", RECORD_FILE] {
            if self.artifacts_refused {
                break;
            }
            let Ok(bytes) = std::fs::read(run.dir.join(name)) else {
                continue;
            };
            if !self.client.upload_artifact(&remote, name, &bytes)? {
                self.artifacts_refused = true;
            }
        }
        self.client
            .set_status(&remote.id, mlflow_status(row.status), ended)?;
        sent.done = true;
        Ok(())
    }

    /// Marks a run that stopped before its end (a signal, a full disk) as KILLED; it runs
    /// again when the run resumes.
    pub fn interrupted(&self, sent: &Sent) -> Result<()> {
        match &sent.run {
            Some(remote) if !sent.done => self.client.set_status(&remote.id, "KILLED", now_ms()),
            _ => Ok(()),
        }
    }

    /// The MLflow run that mirrors `run`: the one tagged with its id, or a new one named by its
    /// axes (`resnet-cifar width=16 seed=0`).
    fn find_or_create(
        &self,
        run: &TrackedRun,
        spec: &RunSpec,
        axes: &BTreeMap<String, Value>,
    ) -> Result<RemoteRun> {
        if let Some(found) = self
            .client
            .find_run(&self.experiment, RUN_ID_TAG, &run.id)?
        {
            return Ok(found);
        }
        let tags = [
            (RUN_ID_TAG, run.id.as_str()),
            ("plateau.sweep", self.sweep.as_str()),
            ("plateau.family", spec.model.family().name()),
            ("mlflow.source.name", "plateau"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let started = modified_ms(&run.dir.join("config.json")).min(now_ms());
        self.client
            .create_run(&self.experiment, &run_label(spec, axes), started, &tags)
    }
}

fn mlflow_status(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Ok => "FINISHED",
        RunStatus::Diverged | RunStatus::Failed => "FAILED",
    }
}

fn read_spec(dir: &Path) -> Result<RunSpec> {
    let text = std::fs::read_to_string(dir.join("config.json"))?;
    Ok(serde_json::from_str(&text)?)
}

/// The complete lines of a run's `metrics.jsonl` (a torn last line waits for the next pass).
fn epoch_lines(dir: &Path) -> Vec<Value> {
    Jsonl::new(dir.join("metrics.jsonl"))
        .read::<Value>()
        .unwrap_or_default()
}

fn epoch_metrics(line: &Value) -> Vec<Metric> {
    let step = line["step"].as_i64().unwrap_or(0);
    // Lines written before `wall_time` existed all share time 0, which still sends once.
    let timestamp = line["wall_time"]
        .as_f64()
        .map_or(0, |seconds| (seconds * 1000.0) as i64);
    [
        ("train/loss", "train_loss"),
        ("train/lr", "lr"),
        ("val/accuracy", "val_accuracy"),
        ("val/loss", "val_loss"),
        ("epoch", "epoch"),
    ]
    .iter()
    .filter_map(|(key, field)| {
        Some(Metric {
            key: key.to_string(),
            value: line[*field].as_f64()?,
            timestamp,
            step,
        })
    })
    .collect()
}

fn final_metrics(row: &ResultRow, timestamp: i64) -> Vec<Metric> {
    let step = row.steps as i64;
    let metric = |key: String, value: f64| Metric {
        key: metric_key(&key),
        value,
        timestamp,
        step,
    };
    let mut metrics = vec![
        metric("train_seconds".into(), row.train_seconds),
        metric("images_per_second".into(), row.images_per_second),
        metric("train_flops".into(), row.train_flops),
    ];
    if let Some(up) = &row.upstream {
        metrics.push(metric("test/accuracy".into(), up.test_accuracy));
        metrics.push(metric("test/loss".into(), up.test_loss));
    }
    for d in &row.downstream {
        let key = format!("downstream/{}/{}-shot/{}", d.task, d.shots, d.layer);
        metrics.push(metric(key, d.accuracy_mean));
    }
    metrics.retain(|m| m.value.is_finite());
    metrics
}

/// A metric name MLflow accepts: letters, digits and `_ - . / ` only.
fn metric_key(key: &str) -> String {
    key.chars()
        .map(|c| match c.is_ascii_alphanumeric() || "_-./ ".contains(c) {
            true => c,
            false => '_',
        })
        .collect()
}

/// When `path` was last written, in MLflow's milliseconds (now, if it cannot be told).
fn modified_ms(path: &Path) -> i64 {
    let seconds = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map_or_else(|_| plateau_store::unix_now(), plateau_store::unix_seconds);
    (seconds * 1000.0) as i64
}

fn now_ms() -> i64 {
    (plateau_store::unix_now() * 1000.0) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_epoch_line_becomes_its_metrics_at_its_step_and_time() {
        let line = serde_json::json!({
            "epoch": 2, "step": 20, "train_loss": 0.5, "val_accuracy": 0.75, "val_loss": 0.6,
            "lr": 0.01, "train_seconds": 3.0, "wall_time": 1700000000.25
        });
        let metrics = epoch_metrics(&line);
        let keys: Vec<&str> = metrics.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "train/loss",
                "train/lr",
                "val/accuracy",
                "val/loss",
                "epoch"
            ]
        );
        assert!(
            metrics
                .iter()
                .all(|m| m.step == 20 && m.timestamp == 1_700_000_000_250)
        );
        assert_eq!(metrics[2].value, 0.75);
    }

    #[test]
    fn metric_keys_keep_only_what_mlflow_accepts() {
        assert_eq!(
            metric_key("downstream/mnist-10k/5-shot/stage1"),
            "downstream/mnist-10k/5-shot/stage1"
        );
        assert_eq!(
            metric_key("downstream/a+b/1-shot/x:y"),
            "downstream/a_b/1-shot/x_y"
        );
    }
}
