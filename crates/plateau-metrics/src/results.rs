//! The results store of a sweep: `results.jsonl`, one JSON line per finished run, appended with a
//! single write and fsync (a reader skips a torn last line), and `results.csv`, rewritten
//! atomically from it for spreadsheets and pandas.

use std::collections::BTreeMap;
use std::path::PathBuf;

use plateau_store::{Jsonl, StoreError, write_atomic};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Ok,
    /// The loss became NaN or infinite.
    Diverged,
    /// The run panicked, ran out of memory or was killed; `error` says how.
    Failed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UpstreamResult {
    pub test_accuracy: f64,
    pub val_accuracy: f64,
    pub test_loss: f64,
}

/// The `layer` of a downstream result measured by fine-tuning the whole model rather than by a
/// linear probe (its `shots` is the number of training examples per class).
pub const FINETUNE_LAYER: &str = "finetune";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DownstreamResult {
    pub task: String,
    pub shots: usize,
    /// `pre_logits`, a stage/block name (`stage2`, `block05`), or [`FINETUNE_LAYER`].
    pub layer: String,
    /// Depth of the layer as a fraction of the model's (pre-logits: 1).
    pub relative_depth: f64,
    pub accuracy_mean: f64,
    pub accuracy_std: f64,
    pub seeds: usize,
}

/// The training data a run actually saw, where a data-quality setting (label noise,
/// deduplication, pruning) changed it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingData {
    /// Training examples the run trained on: after deduplication, subsetting and pruning.
    pub examples: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_noise: Option<LabelNoise>,
    /// With `dedup = "exact"`: training images dropped as copies of another training image,
    /// and as copies of a test image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicates_dropped: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_copies_dropped: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pruning: Option<Pruning>,
}

/// What a distilled run learnt from, and how closely it follows its teacher on the upstream
/// test split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Distillation {
    /// The teacher's run id (or `weights-<hash>` of an external teacher).
    pub teacher_run: String,
    pub teacher_params: u64,
    pub teacher_flops_per_image: u64,
    /// The teacher's accuracy on this run's upstream test split.
    pub teacher_test_accuracy: f64,
    pub temperature: f64,
    pub ce_weight: f64,
    /// Share of test images where student and teacher predict the same class.
    pub agreement: f64,
    /// Mean `KL(teacher ‖ student)` over the test images, at temperature 1.
    pub kl: f64,
}

/// Pruning as applied: the metric, the fraction asked for and the examples it left.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pruning {
    /// `el2n` or `random`.
    pub metric: String,
    pub keep: f64,
    /// For a score: which end was kept (`hard` or `easy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_end: Option<String>,
    /// Examples before and after pruning (their ratio is the fraction actually kept).
    pub before: usize,
    pub after: usize,
}

/// Label noise as applied: the asked rate and kind, and what it did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelNoise {
    /// `symmetric` or `asymmetric`.
    pub kind: String,
    pub rate: f64,
    /// Examples whose label was redrawn or mapped.
    pub corrupted: usize,
    /// Labels that ended up different from the clean ones, and their share of the training set.
    pub flipped: usize,
    pub flipped_rate: f64,
}

/// One finished run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    pub run_id: String,
    pub family: String,
    #[serde(default)]
    pub preset: Option<String>,
    /// The axes that vary in the sweep (`width`, `lr`, `seed`, …).
    pub config: BTreeMap<String, serde_json::Value>,
    /// The full model config.
    pub model: serde_json::Value,
    pub params: u64,
    pub flops_per_image: u64,
    /// Forward + backward FLOPs of the whole training (≈ 3 × forward × images seen).
    pub train_flops: f64,
    pub backend: String,
    pub status: RunStatus,
    #[serde(default)]
    pub error: Option<String>,
    pub upstream: Option<UpstreamResult>,
    pub downstream: Vec<DownstreamResult>,
    pub train_seconds: f64,
    pub images_per_second: f64,
    pub epochs: usize,
    pub steps: usize,
    /// Set when a data-quality setting (label noise) changed the training data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_data: Option<TrainingData>,
    /// Set for a distilled run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distillation: Option<Distillation>,
}

/// `results.jsonl` and `results.csv` in a sweep folder.
pub struct ResultsStore {
    dir: PathBuf,
}

impl ResultsStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn jsonl_path(&self) -> PathBuf {
        self.dir.join("results.jsonl")
    }

    pub fn csv_path(&self) -> PathBuf {
        self.dir.join("results.csv")
    }

    fn jsonl(&self) -> Jsonl {
        Jsonl::new(self.jsonl_path())
    }

    /// Every complete row; a torn or unparsable line (an interrupted append) is skipped.
    pub fn read(&self) -> Result<Vec<ResultRow>, StoreError> {
        Ok(self.jsonl().read()?)
    }

    /// Every complete line of `results.jsonl`: its text, and its row when it parses.
    pub fn lines(&self) -> Result<Vec<plateau_store::Line<ResultRow>>, StoreError> {
        Ok(self.jsonl().read_lines()?)
    }

    /// Replaces `results.jsonl` with `lines` (rows as JSON text, kept byte for byte), then
    /// rewrites the CSV.
    pub fn rewrite(&self, lines: &[&str]) -> Result<(), StoreError> {
        self.jsonl().rewrite(lines)?;
        self.write_csv()
    }

    /// A row as the single line `results.jsonl` holds it.
    pub fn line_of(row: &ResultRow) -> String {
        serde_json::to_string(row).expect("rows serialise")
    }

    /// Cuts a torn last line (an append killed half-way) off `results.jsonl`, so that every
    /// line parses again. Call it only while holding the sweep's lock.
    pub fn repair(&self) -> Result<(), StoreError> {
        Ok(self.jsonl().repair()?)
    }

    /// The latest row of every run id.
    pub fn latest(&self) -> Result<BTreeMap<String, ResultRow>, StoreError> {
        Ok(self
            .read()?
            .into_iter()
            .map(|row| (row.run_id.clone(), row))
            .collect())
    }

    /// Appends one row in a single write, then rewrites the CSV.
    pub fn append(&self, row: &ResultRow) -> Result<(), StoreError> {
        self.jsonl().append(row)?;
        self.write_csv()
    }

    /// `results.csv`: one row per run (its latest result) and per downstream measurement.
    pub fn write_csv(&self) -> Result<(), StoreError> {
        let rows = self.latest()?;
        let axes: Vec<String> = rows
            .values()
            .flat_map(|r| r.config.keys().cloned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut csv = String::from("run_id,family,preset,");
        for axis in &axes {
            csv.push_str(axis);
            csv.push(',');
        }
        csv.push_str("params,flops_per_image,train_flops,backend,status,upstream_test_accuracy,upstream_val_accuracy,upstream_test_loss,task,shots,layer,relative_depth,accuracy_mean,accuracy_std,seeds,train_seconds,images_per_second\n");
        for row in rows.values() {
            let mut prefix = format!(
                "{},{},{},",
                row.run_id,
                row.family,
                row.preset.as_deref().unwrap_or("")
            );
            for axis in &axes {
                prefix.push_str(
                    &row.config
                        .get(axis)
                        .map(|v| v.to_string())
                        .unwrap_or_default(),
                );
                prefix.push(',');
            }
            let up = row.upstream.as_ref();
            prefix.push_str(&format!(
                "{},{},{},{},{:?},{},{},{},",
                row.params,
                row.flops_per_image,
                row.train_flops,
                row.backend,
                row.status,
                up.map(|u| u.test_accuracy.to_string()).unwrap_or_default(),
                up.map(|u| u.val_accuracy.to_string()).unwrap_or_default(),
                up.map(|u| u.test_loss.to_string()).unwrap_or_default(),
            ));
            let suffix = format!("{},{}", row.train_seconds, row.images_per_second);
            if row.downstream.is_empty() {
                csv.push_str(&format!("{prefix},,,,,,,{suffix}\n"));
            }
            for d in &row.downstream {
                csv.push_str(&format!(
                    "{prefix}{},{},{},{},{},{},{},{suffix}\n",
                    d.task,
                    d.shots,
                    d.layer,
                    d.relative_depth,
                    d.accuracy_mean,
                    d.accuracy_std,
                    d.seeds
                ));
            }
        }
        Ok(write_atomic(&self.csv_path(), csv.as_bytes())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn row(id: &str, status: RunStatus) -> ResultRow {
        ResultRow {
            run_id: id.into(),
            family: "vit".into(),
            preset: Some("vit-tiny-p4".into()),
            config: [("width".to_string(), serde_json::json!(64))].into(),
            model: serde_json::json!({"family": "vit"}),
            params: 1000,
            flops_per_image: 2000,
            train_flops: 6e9,
            backend: "flex".into(),
            status,
            error: None,
            upstream: Some(UpstreamResult {
                test_accuracy: 0.8,
                val_accuracy: 0.81,
                test_loss: 0.5,
            }),
            downstream: vec![DownstreamResult {
                task: "digits".into(),
                shots: 5,
                layer: "pre_logits".into(),
                relative_depth: 1.0,
                accuracy_mean: 0.7,
                accuracy_std: 0.02,
                seeds: 3,
            }],
            train_seconds: 1.5,
            images_per_second: 100.0,
            epochs: 1,
            steps: 10,
            training_data: None,
            distillation: None,
        }
    }

    #[test]
    fn appends_reads_and_skips_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let store = ResultsStore::new(dir.path());
        store.append(&row("a", RunStatus::Ok)).unwrap();
        // Simulate a crash in the middle of an append.
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(store.jsonl_path())
            .unwrap();
        file.write_all(b"{\"run_id\": \"b\", \"fam").unwrap();
        assert_eq!(store.read().unwrap().len(), 1);
        store.append(&row("c", RunStatus::Diverged)).unwrap();
        let rows = store.read().unwrap();
        assert_eq!(
            rows.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(),
            ["a", "c"]
        );
        assert_eq!(rows[1].status, RunStatus::Diverged);
        // The torn fragment sits on a line of its own; repair leaves only whole rows.
        file.write_all(b"{\"run_id\": \"d").unwrap();
        store.repair().unwrap();
        let text = std::fs::read_to_string(store.jsonl_path()).unwrap();
        assert!(text.ends_with('\n'));
        assert_eq!(text.lines().count(), 3, "{text}");
        let csv = std::fs::read_to_string(store.csv_path()).unwrap();
        assert_eq!(csv.lines().count(), 3, "{csv}");
        assert!(csv.lines().next().unwrap().contains(",width,"));
    }

    #[test]
    fn latest_row_wins() {
        let dir = tempfile::tempdir().unwrap();
        let store = ResultsStore::new(dir.path());
        store.append(&row("a", RunStatus::Failed)).unwrap();
        store.append(&row("a", RunStatus::Ok)).unwrap();
        assert_eq!(store.latest().unwrap()["a"].status, RunStatus::Ok);
    }
}
