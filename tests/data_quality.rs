//! Data quality as sweep axes, through the binary: each noisy run records how many labels were
//! corrupted and how many changed, the numbers are the same in a second sweep (a pure function of
//! the data seed), the clean run records nothing, and the fits split one curve per noise rate;
//! deduplication counts planted copies; pruning keeps the same count per class by EL2N and at
//! random, scores once per sweep and reads the scores back on resume.

use std::path::Path;
use std::process::Command;

use common::{fitted_conditions, result_rows};

mod common;

const CONFIG: &str = r#"
name = "noise"
seed = 6
[upstream]
dataset = "synthetic"
image_size = 16
train_examples = 500
val_examples = 100
test_examples = 200
[train]
optimizer = "adamw"
lr = 1e-2
batch_size = 50
epochs = 1
[[grid]]
preset = "mixer-tiny-p4"
width = [8, 16, 24]
depth = [1]
label_noise = [0.0, 0.4]
"#;

fn sweep(config: &Path, out: &Path) -> Vec<serde_json::Value> {
    sweep_saying(config, out).0
}

/// The sweep's rows, sorted by run id, and what it said on stderr.
fn sweep_saying(config: &Path, out: &Path) -> (Vec<serde_json::Value>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_plateau"))
        .arg("sweep")
        .arg(config)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{stderr}");
    let mut rows = result_rows(&out.join("noise"));
    rows.sort_by_key(|r| r["run_id"].as_str().unwrap().to_string());
    (rows, stderr)
}

#[test]
fn noisy_runs_record_what_the_noise_did_and_the_same_noise_comes_back() {
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("noise.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let first = sweep(&config, &work.path().join("a"));
    assert_eq!(first.len(), 6);
    for row in &first {
        let rate = row["config"]["label_noise"].as_f64().unwrap();
        match rate {
            0.0 => assert!(row.get("training_data").is_none(), "{row}"),
            _ => {
                let noise = &row["training_data"]["label_noise"];
                assert_eq!(noise["kind"], "symmetric");
                assert_eq!(noise["corrupted"], 200, "⌊0.4 · 500⌋ labels redrawn: {row}");
                let flipped = noise["flipped"].as_u64().unwrap();
                // Drawn over all 10 classes, about 9 in 10 redrawn labels change.
                assert!((150..=200).contains(&flipped), "{row}");
                assert_eq!(row["training_data"]["examples"], 500);
            }
        }
    }
    // Another sweep (other planner, other process) corrupts the same labels.
    let second = sweep(&config, &work.path().join("b"));
    let noise = |rows: &[serde_json::Value]| -> Vec<serde_json::Value> {
        rows.iter().map(|r| r["training_data"].clone()).collect()
    };
    assert_eq!(noise(&first), noise(&second));
    // One size law per noise rate.
    let conditions = fitted_conditions(&work.path().join("a").join("noise"), "label_noise");
    assert_eq!(conditions, ["\"0.0\"", "\"0.4\""]);
}

#[test]
fn exact_deduplication_drops_planted_copies_and_says_how_many() {
    use common::write_png;
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    // 4 classes × 12 distinct images (each one grey value), test 4 × 5 more.
    for class in 0..4u8 {
        for i in 0..12u8 {
            let value = class * 60 + i * 4;
            write_png(&data.join(format!("train/c{class}/{i:02}.png")), 8, value);
        }
        for i in 0..5u8 {
            let value = class * 60 + 50 + i;
            write_png(&data.join(format!("test/c{class}/{i:02}.png")), 8, value);
        }
    }
    // Three copies inside the training set, two training images that are test images.
    write_png(&data.join("train/c0/copy-a.png"), 8, 0);
    write_png(&data.join("train/c1/copy-b.png"), 8, 64);
    write_png(&data.join("train/c2/copy-c.png"), 8, 120);
    write_png(&data.join("train/c3/leak-a.png"), 8, 3 * 60 + 50);
    write_png(&data.join("train/c3/leak-b.png"), 8, 3 * 60 + 51);
    let config = work.path().join("dedup.toml");
    std::fs::write(
        &config,
        r#"
name = "noise"
seed = 2
[upstream]
dataset = { folder = "data/train", test = { folder = "data/test" } }
dedup = "exact"
val_fraction = 0.25
[train]
optimizer = "adamw"
lr = 1e-2
batch_size = 8
epochs = 1
[[grid]]
preset = "mixer-tiny-p4"
width = [8]
depth = [1]
"#,
    )
    .unwrap();
    let rows = sweep(&config, &work.path().join("out"));
    let data = &rows[0]["training_data"];
    assert_eq!(data["duplicates_dropped"], 3, "{data}");
    assert_eq!(data["test_copies_dropped"], 2, "{data}");
    // 48 unique training images, a quarter held out for validation.
    assert_eq!(data["examples"], 36, "{data}");
}

#[test]
fn pruning_keeps_as_many_per_class_by_el2n_as_at_random_and_scores_once() {
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("prune.toml");
    let text = CONFIG
        .replace("width = [8, 16, 24]", "width = [8]")
        .replace(
            "label_noise = [0.0, 0.4]",
            "prune = [\"none\", \"el2n\", \"random\"]\nkeep = [0.3, 0.6]",
        )
        .replace(
            "test_examples = 200",
            "test_examples = 200\nprune_scorer = { preset = \"mixer-tiny-p4\", width = 8, depth = 1, epochs = 1, seeds = 2 }",
        );
    std::fs::write(&config, text).unwrap();
    let out = work.path().join("out");
    let (rows, said) = sweep_saying(&config, &out);
    // The unpruned point is one run, whatever the fractions; EL2N and random at each fraction.
    assert_eq!(rows.len(), 5, "{rows:?}");
    let pruning = |metric: &str, keep: f64| -> &serde_json::Value {
        rows.iter()
            .find(|r| r["config"]["prune"] == metric && r["config"]["keep"].as_f64() == Some(keep))
            .map(|r| &r["training_data"])
            .unwrap_or_else(|| panic!("no {metric} run at {keep}: {rows:?}"))
    };
    let none = rows
        .iter()
        .find(|r| r["config"]["prune"] == "none")
        .unwrap();
    assert!(none["config"].get("keep").is_none() && none.get("training_data").is_none());
    for keep in [0.3, 0.6] {
        let (el2n, random) = (pruning("el2n", keep), pruning("random", keep));
        assert_eq!(el2n["pruning"]["kept_end"], "hard");
        assert_eq!(el2n["pruning"]["before"], 500);
        assert_eq!(el2n["examples"], el2n["pruning"]["after"]);
        assert_eq!(el2n["examples"], random["examples"], "{el2n} {random}");
        let after = el2n["examples"].as_f64().unwrap();
        assert!((after / 500.0 - keep).abs() < 0.02, "{el2n}");
    }
    // One scoring pass for both fractions; its file is read back by a second invocation, which
    // trains nothing and scores nothing.
    let files: Vec<_> = std::fs::read_dir(out.join("noise/pruning"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(
        said.matches("scoring 500 training examples").count(),
        1,
        "{said}"
    );
    let (again, said) = sweep_saying(&config, &out);
    assert_eq!(again, rows);
    assert!(!said.contains("scoring"), "{said}");
}
