//! Helpers shared by the binary's integration tests.
// Each test binary compiles this module and uses a part of it.
#![allow(dead_code)]

use std::path::Path;

/// The rows of a sweep folder's `results.jsonl`, in file order; a line that does not parse
/// fails the test with its number.
pub fn result_rows(sweep_dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(sweep_dir.join("results.jsonl")).unwrap();
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("results.jsonl line {}: {e}: {line}", i + 1))
        })
        .collect()
}

/// A sweep of tiny Mixers (`widths`, a TOML list) on synthetic images, three epochs each, with
/// one few-shot probe: seconds per run.
pub fn tiny_mixer_sweep(name: &str, widths: &str, train_examples: usize) -> String {
    format!(
        r#"
name = "{name}"
seed = 3
[upstream]
dataset = "synthetic"
image_size = 16
train_examples = {train_examples}
val_examples = 100
test_examples = 100
[train]
optimizer = "adamw"
lr = 1e-2
batch_size = 40
epochs = 3
[[downstream]]
dataset = "synthetic"
shots = [2]
seeds = 2
[[grid]]
preset = "mixer-tiny-p4"
width = {widths}
depth = [1]
"#
    )
}

/// The numbers of a result row that must not depend on how the sweep ran (interrupted and
/// resumed, overlapped or one run at a time): not timings, not the backend's name.
pub fn outcome(row: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "status": row["status"], "upstream": row["upstream"], "downstream": row["downstream"],
        "epochs": row["epochs"], "steps": row["steps"], "params": row["params"],
        "train_flops": row["train_flops"], "config": row["config"],
        "distillation": row["distillation"],
    })
}

/// The [`outcome`] of every run of a sweep folder's results, by run id (the latest row of each).
pub fn outcomes(sweep_dir: &Path) -> std::collections::BTreeMap<String, serde_json::Value> {
    result_rows(sweep_dir)
        .iter()
        .map(|row| (row["run_id"].as_str().unwrap().to_string(), outcome(row)))
        .collect()
}

/// The value of condition `axis` of each curve `plateau fit --x params` fits to the sweep in
/// `sweep_dir`, as JSON text (`"0.4"`), in the order printed.
pub fn fitted_conditions(sweep_dir: &Path, axis: &str) -> Vec<String> {
    let fit = std::process::Command::new(env!("CARGO_BIN_EXE_plateau"))
        .arg("fit")
        .arg(sweep_dir)
        .args(["--x", "params", "--points", "all", "--bootstrap", "0"])
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        fit.status.success(),
        "{}",
        String::from_utf8_lossy(&fit.stderr)
    );
    let fits: serde_json::Value = serde_json::from_slice(&fit.stdout).unwrap();
    fits["fits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["condition"][axis].to_string())
        .collect()
}

pub use plateau_data::formats::npy::encode as npy;

/// An `.npz` of `images` (uint8, `shape`) and `labels` (int64), as `numpy.savez` writes it.
pub fn write_npz(path: &Path, shape: &[usize], pixels: &[u8], labels: &[i64]) {
    let labels: Vec<u8> = labels.iter().flat_map(|l| l.to_le_bytes()).collect();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    for (name, bytes) in [
        ("images.npy", npy("|u1", shape, pixels)),
        ("labels.npy", npy("<i8", &[shape[0]], &labels)),
    ] {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut zip, &bytes).unwrap();
    }
    zip.finish().unwrap();
}

/// A `size`×`size` grey PNG of one value.
pub fn write_png(path: &Path, size: u32, value: u8) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    image::GrayImage::from_pixel(size, size, image::Luma([value]))
        .save(path)
        .unwrap();
}
