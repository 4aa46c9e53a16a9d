//! A sweep on the CPU starts each run process early and lets it train as soon as the run before
//! it has finished training, beside that run's last validation, test and probes. This checks,
//! from the phase markers of a real sweep, that the overlap happens, that no two runs ever
//! train (or load their data) at once, that results are recorded in the order of the plan, and that the numbers are
//! exactly those of `--sequential`.

#![cfg(unix)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{outcome, result_rows};
use plateau_train::trace::{MARKER, TRACE_ENV};

mod common;

fn write_config(dir: &Path) -> PathBuf {
    let path = dir.join("overlap.toml");
    let text = r#"
name = "overlap"
seed = 3
[upstream]
dataset = "synthetic"
image_size = 16
train_examples = 4500
val_examples = 100
test_examples = 300
[train]
optimizer = "adamw"
lr = 1e-2
batch_size = 50
epochs = 3
[[downstream]]
dataset = "synthetic"
name = "probe"
classes = [0, 1, 2, 3, 4]
shots = [1, 5, 10]
seeds = 3
layers = "all"
test_examples = 300
[[grid]]
preset = "mixer-tiny-p4"
width = [8, 16]
depth = [1]
[[grid]]
preset = "vit-tiny-p4"
width = [8, 16]
depth = [1]
"#;
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs the sweep and returns its phase markers, `(phase, what)` in the order they came.
fn sweep(config: &Path, out: &Path, extra: &[&str]) -> Vec<(String, String)> {
    let output = Command::new(env!("CARGO_BIN_EXE_plateau"))
        .arg("sweep")
        .arg(config)
        .arg("--out")
        .arg(out)
        .args(extra)
        .env(TRACE_ENV, "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    stderr
        .lines()
        .filter_map(|line| line.strip_prefix(MARKER))
        .map(|rest| {
            let mut words = rest.split_whitespace();
            let phase = words.next().unwrap_or("").to_string();
            (phase, words.next().unwrap_or("").to_string())
        })
        .collect()
}

/// Position of the first (or last) marker of `phase` for `run`.
fn first(markers: &[(String, String)], phase: &str, run: &str) -> usize {
    markers
        .iter()
        .position(|(p, w)| p == phase && w == run)
        .unwrap_or_else(|| panic!("no {phase} marker of {run}: {markers:?}"))
}

fn last(markers: &[(String, String)], phase: &str, run: &str) -> usize {
    markers
        .iter()
        .rposition(|(p, w)| p == phase && w == run)
        .unwrap_or_else(|| panic!("no {phase} marker of {run}: {markers:?}"))
}

fn rows(out: &Path) -> Vec<serde_json::Value> {
    result_rows(&out.join("overlap"))
}

fn outcomes(rows: &[serde_json::Value]) -> BTreeMap<String, serde_json::Value> {
    rows.iter()
        .map(|row| (row["run_id"].as_str().unwrap().to_string(), outcome(row)))
        .collect()
}

#[test]
fn runs_overlap_one_training_at_a_time_with_the_results_of_a_sequential_sweep() {
    let work = tempfile::tempdir().unwrap();
    let config = write_config(work.path());
    let overlapped_out = work.path().join("overlapped");
    let overlapped = sweep(&config, &overlapped_out, &[]);
    let sequential_out = work.path().join("sequential");
    let sequential = sweep(&config, &sequential_out, &["--sequential"]);

    let overlapped_rows = rows(&overlapped_out);
    let plan: Vec<String> = overlapped_rows
        .iter()
        .map(|row| row["run_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(plan.len(), 4);
    let sequential_plan: Vec<String> = rows(&sequential_out)
        .iter()
        .map(|row| row["run_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        plan, sequential_plan,
        "rows are recorded in the plan's order"
    );

    // Whether a run was ready ahead and trained beside its predecessor's probes depends on
    // timing (a tiny run can finish training before the next process has loaded its data), so
    // these are counted; the order of training and recording is asserted for every run.
    let (mut ready_ahead, mut beside_probes) = (0, 0);
    for pair in plan.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        // Never two trainings at once: the next run trains only once the previous one says
        // its training is over.
        assert!(
            first(&overlapped, "train", after) > last(&overlapped, "trained", before),
            "{after} trained before {before} had finished training: {overlapped:?}"
        );
        if first(&overlapped, "ready", after) < last(&overlapped, "trained", before) {
            ready_ahead += 1;
        }
        if first(&overlapped, "train", after) < last(&overlapped, "summary", before) {
            beside_probes += 1;
        }
        // `--sequential` starts a run only once the previous one is recorded.
        assert!(
            first(&sequential, "ready", after) > last(&sequential, "append", before),
            "{after} started before {before} was recorded with --sequential: {sequential:?}"
        );
    }
    // One run process loads its data at a time: after the sweep's own load, each process's
    // load is followed by its ready before the next process loads.
    let loads_and_readies: Vec<&str> = overlapped
        .iter()
        .filter(|(phase, _)| phase == "load-data" || phase == "ready")
        .skip(1)
        .map(|(phase, _)| phase.as_str())
        .collect();
    let alternating = ["load-data", "ready"].repeat(plan.len());
    assert_eq!(
        loads_and_readies, alternating,
        "two run processes loaded at once: {overlapped:?}"
    );
    eprintln!("of 3 runs, {ready_ahead} ready ahead, {beside_probes} trained beside probes");
    assert!(
        ready_ahead >= 1,
        "no run was ready before its predecessor finished training: {overlapped:?}"
    );
    assert!(
        beside_probes >= 1,
        "no run trained beside its predecessor's probes: {overlapped:?}"
    );

    assert_eq!(
        outcomes(&overlapped_rows),
        outcomes(&rows(&sequential_out)),
        "overlapped and sequential sweeps give the same numbers"
    );
    let timing: serde_json::Value = serde_json::from_slice(
        &std::fs::read(overlapped_out.join("overlap").join("timing.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(timing["overlapped"], true);
    assert_eq!(timing["runs_trained"], 4);
}
