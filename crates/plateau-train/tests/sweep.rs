//! Sweeps end to end on the synthetic dataset, in process: results, skipping finished runs,
//! resuming an interrupted one, and recording diverged and failed runs.

mod common;

use std::path::Path;
use std::sync::atomic::AtomicBool;

use plateau_metrics::results::{ResultsStore, RunStatus};
use plateau_train::OptimizerKind;
use plateau_train::ProgressMode;
use plateau_train::expand;
use plateau_train::{Backend, SweepConfig};
use plateau_train::{RunContext, train};
use plateau_train::{SweepOptions, load_downstream, plan, run_sweep};

/// A Mixer at two widths (no BatchNorm).
const MIXERS: &str = r#"
[[grid]]
preset = "mixer-tiny-p4"
width = [8, 16]
depth = [1]
"#;

/// A ResNet (BatchNorm, whose running statistics a checkpoint must carry exactly).
const RESNET: &str = r#"
[[grid]]
preset = "resnet-cifar"
width = [4]
depth = [1]
"#;

fn config(out: &Path, extra: &str) -> SweepConfig {
    config_of(out, MIXERS, extra)
}

fn config_of(out: &Path, grid: &str, extra: &str) -> SweepConfig {
    let text = format!(
        r#"
name = "test"
out_dir = "{}"
[upstream]
dataset = "synthetic"
image_size = 16
train_examples = 1000
val_examples = 100
test_examples = 200
[train]
optimizer = "adamw"
lr = 1e-2
batch_size = 50
epochs = 2
warmup_steps = 5
[[downstream]]
dataset = "synthetic"
name = "synthetic-probe"
classes = [0, 1, 2, 3, 4]
shots = [1, 5]
seeds = 2
layers = "all"
test_examples = 100
{grid}
{extra}
"#,
        out.display()
    );
    SweepConfig::parse(Path::new("test.toml"), &text, &[]).unwrap()
}

fn options() -> SweepOptions {
    SweepOptions {
        backend: Backend::Flex,
        out_dir: None,
        dry_run: false,
        rerun_failed: false,
        progress: ProgressMode::Off,
        overlap: false,
        shard: None,
        workers: Vec::new(),
    }
}

#[test]
fn a_sweep_records_every_run_and_a_rerun_trains_nothing() {
    let _turn = common::one_at_a_time();
    let out = tempfile::tempdir().unwrap();
    let config = config(out.path(), "");
    let stop = AtomicBool::new(false);
    let rows = run_sweep(&config, &options(), None, &stop).unwrap().trained;
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(row.status, RunStatus::Ok, "{:?}", row.error);
        let up = row.upstream.as_ref().unwrap();
        assert!(
            up.test_accuracy > 0.2,
            "above chance (0.1): {}",
            up.test_accuracy
        );
        // pre_logits + 1 block, × 2 shot counts.
        assert_eq!(row.downstream.len(), 4);
        assert!(
            row.downstream
                .iter()
                .all(|d| d.seeds == 2 && (0.0..=1.0).contains(&d.accuracy_mean))
        );
        let run_dir = out.path().join("test").join(&row.run_id);
        for file in [
            "config.json",
            "metrics.jsonl",
            "summary.json",
            "model.safetensors",
        ] {
            assert!(run_dir.join(file).is_file(), "{file} missing");
        }
        assert_eq!(
            std::fs::read_to_string(run_dir.join("metrics.jsonl"))
                .unwrap()
                .lines()
                .count(),
            2
        );
        assert!(row.params > 0 && row.train_flops > 0.0);
    }
    let store = ResultsStore::new(out.path().join("test"));
    assert_eq!(store.read().unwrap().len(), 2);
    assert!(store.csv_path().is_file());

    let again = run_sweep(&config, &options(), None, &stop).unwrap().trained;
    assert!(again.is_empty(), "finished runs are skipped");
    assert_eq!(store.read().unwrap().len(), 2);
}

#[test]
fn an_interrupted_run_resumes_from_its_checkpoint() {
    resumes_from_inside_an_epoch(MIXERS);
}

#[test]
fn a_batchnorm_model_resumes_from_inside_an_epoch_with_its_running_statistics() {
    resumes_from_inside_an_epoch(RESNET);
}

fn resumes_from_inside_an_epoch(grid: &str) {
    let _turn = common::one_at_a_time();
    let out = tempfile::tempdir().unwrap();
    let config = config_of(out.path(), grid, "");
    let (upstream, runs) = plan(&config, false).unwrap();
    let downstream = load_downstream(&config, &upstream, false).unwrap();
    let run_dir = out.path().join("test").join(&runs[0].id);
    // As if a stop signal came during the first epoch: the run stops at its next step, with a
    // checkpoint of where it is inside the epoch.
    let stop = AtomicBool::new(true);
    let ctx = RunContext {
        upstream: &upstream,
        downstream: &downstream,
        el2n_scores: None,
        backend: Backend::Flex,
        run_dir: run_dir.clone(),
        progress: ProgressMode::Off,
        sweep: None,
        stop: &stop,
        tensorboard: true,
    };
    let error = train(&runs[0], &ctx).unwrap_err().to_string();
    assert!(
        error.contains("stopped at step 1 (batch 1 of 20 in epoch 1 of 2)"),
        "{error}"
    );
    let state = std::fs::read_to_string(run_dir.join("checkpoint").join("state.json")).unwrap();
    assert!(state.contains("within_epoch"), "{state}");
    let logged = std::fs::read_to_string(run_dir.join("metrics.jsonl")).unwrap_or_default();
    assert_eq!(logged.lines().count(), 0, "no epoch finished");

    let rows = run_sweep(&config, &options(), None, &AtomicBool::new(false))
        .unwrap()
        .trained;
    assert_eq!(rows.len(), runs.len());
    assert!(rows.iter().all(|r| r.status == RunStatus::Ok));
    let resumed = rows.iter().find(|r| r.run_id == runs[0].id).unwrap();
    assert_eq!((resumed.epochs, resumed.steps), (2, 2 * 1000 / 50));
    // Resuming restores weights, optimizer moments, BatchNorm statistics, data order and
    // augmentation exactly: the result equals that of an uninterrupted run.
    let other = tempfile::tempdir().unwrap();
    let uninterrupted = run_sweep(
        &config_of(other.path(), grid, ""),
        &options(),
        None,
        &AtomicBool::new(false),
    )
    .unwrap()
    .trained;
    let straight = uninterrupted
        .iter()
        .find(|r| r.run_id == runs[0].id)
        .unwrap();
    assert_eq!(resumed.upstream, straight.upstream);
    assert_eq!(resumed.downstream, straight.downstream);
    // Each epoch logged once, with the losses, accuracies and learning rates of the run that
    // never stopped (the first epoch's loss sum went on from where it stopped).
    let log = |dir: &Path| -> Vec<serde_json::Value> {
        std::fs::read_to_string(dir.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let mut line: serde_json::Value = serde_json::from_str(l).unwrap();
                line.as_object_mut().unwrap().remove("train_seconds");
                line.as_object_mut().unwrap().remove("wall_time");
                line
            })
            .collect()
    };
    let resumed_log = log(&run_dir);
    let epochs: Vec<u64> = resumed_log
        .iter()
        .map(|l| l["epoch"].as_u64().unwrap())
        .collect();
    assert_eq!(epochs, vec![1, 2]);
    assert_eq!(
        resumed_log,
        log(&other.path().join("test").join(&runs[0].id))
    );
    assert!(
        !run_dir.join("checkpoint").exists(),
        "the resume checkpoint is removed once finished"
    );
}

#[test]
fn diverged_and_failed_runs_are_recorded_and_the_sweep_goes_on() {
    let _turn = common::one_at_a_time();
    let out = tempfile::tempdir().unwrap();
    // lr 1e12 makes the loss NaN; an unknown probe layer makes the second entry fail.
    let extra = r#"
[[grid]]
preset = "vit-tiny-p4"
width = [8]
depth = [1]
lr = [1e12]
"#;
    let mut config = config(out.path(), extra);
    config.grid[0].set_axis("width", &[8]);
    let rows = run_sweep(&config, &options(), None, &AtomicBool::new(false))
        .unwrap()
        .trained;
    let statuses: Vec<RunStatus> = rows.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        vec![RunStatus::Ok, RunStatus::Diverged],
        "{:?}",
        rows.iter().map(|r| &r.error).collect::<Vec<_>>()
    );
    assert!(rows[1].error.as_deref().unwrap().contains("loss became"));

    let mut failing = config.clone();
    failing.name = "failing".into();
    failing.downstream[0].layers = plateau_train::Layers::List(vec!["block99".into()]);
    let rows = run_sweep(&failing, &options(), None, &AtomicBool::new(false))
        .unwrap()
        .trained;
    assert_eq!(rows[0].status, RunStatus::Failed);
    assert!(
        rows[0].error.as_deref().unwrap().contains("block99"),
        "{:?}",
        rows[0].error
    );
    assert_eq!(rows.len(), 2, "the sweep went on after a failure");

    // Failed runs are retried only when asked; an invocation that trains nothing still reports
    // the failed run it finds in the results.
    let again = run_sweep(&failing, &options(), None, &AtomicBool::new(false)).unwrap();
    assert!(again.trained.is_empty());
    assert_eq!(again.failed.len(), 1);
    assert!(
        again.failed[0]
            .error
            .as_deref()
            .unwrap()
            .contains("block99")
    );
    let retry = SweepOptions {
        rerun_failed: true,
        ..options()
    };
    assert_eq!(
        run_sweep(&failing, &retry, None, &AtomicBool::new(false))
            .unwrap()
            .trained
            .len(),
        1
    );
}

#[test]
fn grid_expansion_and_run_ids() {
    let out = tempfile::tempdir().unwrap();
    let mut config = config(out.path(), "");
    config.grid[0].set_axis("lr", &[1e-3, 3e-3]);
    config.grid[0].set_axis("seed", &[0, 1, 2]);
    let input = plateau_models::InputSpec::new(1, 16, 10);
    let runs = expand(&config, input).unwrap();
    assert_eq!(runs.len(), 2 * 2 * 3, "width × lr × seed");
    let ids: std::collections::HashSet<&str> = runs.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), runs.len(), "every run has its own id");
    let again = expand(&config, input).unwrap();
    assert_eq!(
        runs.iter().map(|r| &r.id).collect::<Vec<_>>(),
        again.iter().map(|r| &r.id).collect::<Vec<_>>()
    );
    assert_eq!(runs[0].axes["width"], serde_json::json!(8));
    // Renaming the sweep does not change what a run is.
    config.name = "renamed".into();
    assert_eq!(expand(&config, input).unwrap()[0].id, runs[0].id);
    // A shape that cannot work is refused before any training, naming the grid entry.
    config.grid[0].set_axis("width", &[6]);
    let mut vit = config.clone();
    vit.grid[0].preset = Some("vit-tiny-p4".into());
    let error = expand(&vit, input).unwrap_err().to_string();
    assert!(
        error.contains("grid[0]") && error.contains("vit.heads"),
        "{error}"
    );
}

#[test]
fn a_second_sweep_cannot_write_into_a_folder_in_use() {
    let out = tempfile::tempdir().unwrap();
    let config = config(out.path(), "");
    let dir = out.path().join("test");
    std::fs::create_dir_all(&dir).unwrap();
    // As if another `plateau sweep` held the folder (flock conflicts across open files).
    let other = std::fs::File::create(dir.join("sweep.lock")).unwrap();
    other.lock().unwrap();
    let error = run_sweep(&config, &options(), None, &AtomicBool::new(false))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("another sweep is writing to") && error.contains("--out"),
        "{error}"
    );
    assert!(
        !dir.join("results.jsonl").exists(),
        "nothing trained or written"
    );
    // Once the other sweep is gone, the folder is free again (checked without training).
    other.unlock().unwrap();
    let dry = SweepOptions {
        dry_run: true,
        ..options()
    };
    run_sweep(&config, &dry, None, &AtomicBool::new(false)).unwrap();
}

/// The largest absolute value of the first weight tensor under `name` in a run's `model.safetensors`.
fn max_abs(run_dir: &Path, name: &str) -> f32 {
    let bytes = std::fs::read(run_dir.join("model.safetensors")).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let name = tensors
        .names()
        .into_iter()
        .filter(|n| n.starts_with(name) && n.ends_with("weight"))
        .min()
        .unwrap_or_else(|| panic!("no tensor {name}*weight in {:?}", tensors.names()))
        .to_string();
    let view = tensors.tensor(&name).unwrap();
    view.data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]).abs())
        .fold(0.0, f32::max)
}

#[test]
fn sgd_trains_and_the_head_gets_its_own_weight_decay() {
    let _turn = common::one_at_a_time();
    let out = tempfile::tempdir().unwrap();
    let sgd = |name: &str, head_decay: Option<f64>| {
        let mut config = config(out.path(), "");
        config.name = name.into();
        config.grid[0].set_axis("width", &[16]);
        config.train.optimizer = OptimizerKind::Sgd;
        config.train.lr = 0.05;
        config.train.momentum = 0.9;
        config.train.head_weight_decay = head_decay;
        let rows = run_sweep(&config, &options(), None, &AtomicBool::new(false))
            .unwrap()
            .trained;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].status, RunStatus::Ok, "{:?}", rows[0].error);
        let accuracy = rows[0].upstream.as_ref().unwrap().test_accuracy;
        (out.path().join(name).join(&rows[0].run_id), accuracy)
    };
    let (plain, accuracy) = sgd("plain", None);
    assert!(accuracy > 0.2, "SGD learns (chance 0.1): {accuracy}");
    let (decayed, _) = sgd("decayed", Some(0.3));
    // Decay 0.3 at an effective step of lr / (1 − momentum) = 0.5 shrinks the head by ~15 % a
    // step: it ends far smaller, while the body (decay 0 in both) keeps a comparable scale.
    let (head_plain, head_decayed) = (max_abs(&plain, "head."), max_abs(&decayed, "head."));
    assert!(
        head_decayed < 0.5 * head_plain,
        "head max |w|: {head_decayed} with decay, {head_plain} without"
    );
    let body = "stem.";
    let (body_plain, body_decayed) = (max_abs(&plain, body), max_abs(&decayed, body));
    assert!(
        body_decayed > 0.5 * body_plain,
        "body max |w|: {body_decayed} vs {body_plain}"
    );
}

#[test]
fn layer_probes_run_on_every_family() {
    let _turn = common::one_at_a_time();
    let out = tempfile::tempdir().unwrap();
    let extra = r#"
[[grid]]
preset = "resnet-cifar"
width = [4]
depth = [1]

[[grid]]
preset = "vit-tiny-p4"
width = [8]
depth = [2]
"#;
    let mut config = config(out.path(), extra);
    config.grid[0].set_axis("width", &[8]);
    config.train.epochs = Some(1);
    let rows = run_sweep(&config, &options(), None, &AtomicBool::new(false))
        .unwrap()
        .trained;
    let families: Vec<&str> = rows.iter().map(|r| r.family.as_str()).collect();
    assert_eq!(families, ["mixer", "resnet", "vit"]);
    for row in &rows {
        assert_eq!(row.status, RunStatus::Ok, "{:?}", row.error);
        let model: plateau_models::ModelConfig = serde_json::from_value(row.model.clone()).unwrap();
        let mut expected = vec!["pre_logits".to_string()];
        expected.extend(model.layer_names());
        // One result per layer and shot count (1 and 5), layers in model order.
        let layers: Vec<String> = row
            .downstream
            .iter()
            .filter(|d| d.shots == 1)
            .map(|d| d.layer.clone())
            .collect();
        assert_eq!(layers, expected, "{}", row.family);
        let depths: Vec<f64> = row
            .downstream
            .iter()
            .filter(|d| d.shots == 1 && d.layer != "pre_logits")
            .map(|d| d.relative_depth)
            .collect();
        assert!(depths.windows(2).all(|w| w[0] < w[1]), "{depths:?}");
        assert_eq!(depths.last(), Some(&1.0));
        assert!(
            row.downstream
                .iter()
                .all(|d| (0.0..=1.0).contains(&d.accuracy_mean))
        );
    }
}

#[test]
fn a_task_can_also_be_measured_by_fine_tuning() {
    let _turn = common::one_at_a_time();
    let out = tempfile::tempdir().unwrap();
    let mut plain = config(out.path(), "");
    plain.grid[0].set_axis("width", &[16]);
    plain.downstream[0].layers = plateau_train::Layers::default();
    let mut tuned = plain.clone();
    tuned.name = "tuned".into();
    tuned.downstream[0].finetune = Some(plateau_train::FinetuneConfig {
        steps: 40,
        lr: 0.03,
        batch_size: 32,
        examples_per_class: Some(20),
    });
    let probe_only = run_sweep(&plain, &options(), None, &AtomicBool::new(false))
        .unwrap()
        .trained;
    let with_finetune = run_sweep(&tuned, &options(), None, &AtomicBool::new(false))
        .unwrap()
        .trained;
    let row = &with_finetune[0];
    assert_eq!(row.status, RunStatus::Ok, "{:?}", row.error);
    let finetuned: Vec<_> = row
        .downstream
        .iter()
        .filter(|d| d.layer == plateau_metrics::results::FINETUNE_LAYER)
        .collect();
    assert_eq!(finetuned.len(), 1);
    assert_eq!(
        (finetuned[0].task.as_str(), finetuned[0].shots),
        ("synthetic-probe", 20)
    );
    assert!(
        finetuned[0].accuracy_mean > 0.3,
        "5 classes, chance 0.2 (± 0.04 over 100 test images): {}",
        finetuned[0].accuracy_mean
    );
    // Fine-tuning a copy leaves the probes of the trained model as they were.
    let probes = |rows: &[plateau_metrics::results::ResultRow]| -> Vec<f64> {
        rows[0]
            .downstream
            .iter()
            .filter(|d| d.layer == "pre_logits")
            .map(|d| d.accuracy_mean)
            .collect()
    };
    assert_eq!(probes(&probe_only), probes(&with_finetune));

    let error = SweepConfig::parse(
        Path::new("ft.toml"),
        &toml::to_string(&tuned).unwrap(),
        &["downstream.0.finetune.lr=-1".to_string()],
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("downstream[0].finetune.lr"), "{error}");
}

#[test]
fn results_files_are_rebuilt_from_the_run_folders_without_training_again() {
    let _turn = common::one_at_a_time();
    let out = tempfile::tempdir().unwrap();
    let config = config(out.path(), "");
    let first = run_sweep(&config, &options(), None, &AtomicBool::new(false)).unwrap();
    assert_eq!(first.trained.len(), 2);
    let dir = out.path().join("test");
    let jsonl = dir.join("results.jsonl");
    let intact = std::fs::read_to_string(&jsonl).unwrap();
    for run in &first.trained {
        assert!(dir.join(&run.run_id).join("result.json").is_file());
    }

    // A damaged first line (the second run's row stays): restored from its folder, not trained.
    let lines: Vec<&str> = intact.lines().collect();
    std::fs::write(&jsonl, format!("{{\"run_id\": 12, garbage\n{}\n", lines[1])).unwrap();
    let again = run_sweep(&config, &options(), None, &AtomicBool::new(false)).unwrap();
    assert!(again.trained.is_empty(), "nothing is trained again");
    assert_eq!(again.recorded, [first.trained[0].run_id.clone()]);
    let rows = ResultsStore::new(&dir).read().unwrap();
    assert_eq!(rows.len(), 2);
    let text = std::fs::read_to_string(&jsonl).unwrap();
    assert!(
        !text.contains("garbage"),
        "the unreadable line is not left in place"
    );
    let aside = std::fs::read_to_string(dir.join("results.jsonl.damaged")).unwrap();
    assert!(aside.contains("garbage"), "but set aside: {aside}");
    // Restored byte for byte: the same line as before the damage (now after the other one).
    let restored = text.lines().find(|l| l.contains(&first.trained[0].run_id));
    assert_eq!(restored, Some(lines[0]));

    // A lost file: both rows come back; a row whose folder is gone stays as it is.
    std::fs::remove_file(&jsonl).unwrap();
    let again = run_sweep(&config, &options(), None, &AtomicBool::new(false)).unwrap();
    assert!(again.trained.is_empty());
    assert_eq!(again.recorded.len(), 2);
    let mut copied = first.trained[1].clone();
    copied.run_id = "0123456789ab".into();
    ResultsStore::new(&dir).append(&copied).unwrap();
    // So does a line from another plateau version (JSON, but not a row this one reads).
    let foreign = "{\"run_id\": \"from-the-future\", \"kind\": \"new\"}";
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&jsonl)
        .unwrap();
    std::io::Write::write_all(&mut file, format!("{foreign}\n").as_bytes()).unwrap();
    let again = run_sweep(&config, &options(), None, &AtomicBool::new(false)).unwrap();
    assert!(again.trained.is_empty() && again.recorded.is_empty());
    assert_eq!(ResultsStore::new(&dir).read().unwrap().len(), 3);
    assert!(std::fs::read_to_string(&jsonl).unwrap().contains(foreign));
    let csv = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    assert!(csv.contains("0123456789ab"));
}
