//! Failure isolation, through the real `plateau` binary: in one sweep a run diverges (NaN loss),
//! one panics (an injected fault, as a bug would), one needs more memory than the process may
//! have (a real allocation failure under an address-space limit) and one is killed by SIGKILL
//! (as the kernel's out-of-memory killer does). The sweep records each with its cause (for a run
//! that could not say it, the end of its stderr), trains
//! the healthy runs, reports all of them, and exits non-zero; a rerun trains nothing.

#![cfg(target_os = "linux")]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use plateau_train::SweepConfig;
use plateau_train::trace::{FAULT_ENV, MARKER, TRACE_ENV};

const CONFIG: &str = r#"
name = "faults"
seed = 3
[upstream]
dataset = "synthetic"
image_size = 16
train_examples = 300
val_examples = 50
test_examples = 100
[train]
optimizer = "adamw"
lr = 1e-2
batch_size = 50
epochs = 2
[[downstream]]
dataset = "synthetic"
name = "probe"
shots = [1, 5]
seeds = 1
test_examples = 50
[[grid]]
preset = "mixer-tiny-p4"
width = [8]
depth = [1]
[[grid]]
preset = "mixer-tiny-p4"
width = [8]
depth = [1]
lr = [1e12]
[[grid]]
preset = "vit-tiny-p4"
width = [8]
depth = [1]
seed = [0, 1]
[[grid]]
preset = "vit-tiny-p4"
width = [16384]
depth = [1]
"#;

/// Run ids by label, as the sweep plans them.
fn run_ids(config: &Path) -> BTreeMap<String, String> {
    let config = SweepConfig::load(config, &[]).unwrap();
    let (_, runs) = plateau_train::plan(&config, false).unwrap();
    runs.into_iter().map(|run| (run.label(), run.id)).collect()
}

/// Process ids of the run processes training `run_id`.
fn run_pids(run_id: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            (cmdline.contains(" train ") && cmdline.contains(run_id))
                .then(|| entry.file_name().to_string_lossy().into_owned())
        })
        .collect()
}

fn rows(out: &Path) -> BTreeMap<String, serde_json::Value> {
    let text = std::fs::read_to_string(out.join("faults").join("results.jsonl")).unwrap();
    text.lines()
        .map(|line| {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            (row["run_id"].as_str().unwrap().to_string(), row)
        })
        .collect()
}

#[test]
fn each_failing_run_is_recorded_with_its_cause_and_the_sweep_goes_on() {
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("faults.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let out = work.path().join("out");
    let ids = run_ids(&config);
    let id = |label: &str| {
        ids.get(label)
            .unwrap_or_else(|| panic!("no run {label}: {ids:?}"))
            .clone()
    };
    let healthy = id("mixer-tiny-p4 depth=1 width=8");
    let diverging = id("mixer-tiny-p4 depth=1 lr=1000000000000.0 width=8");
    let panicking = id("vit-tiny-p4 depth=1 seed=0 width=8");
    let killed = id("vit-tiny-p4 depth=1 seed=1 width=8");
    let too_big = id("vit-tiny-p4 depth=1 width=16384");

    // An address-space limit the small runs live well within, and the 16384-wide ViT (3 GB
    // for one attention matrix alone) does not.
    let mut child = Command::new("prlimit")
        .arg(format!("--as={}", 3u64 << 30))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_plateau"))
        .arg("sweep")
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .env(TRACE_ENV, "1")
        .env(FAULT_ENV, format!("probe:panic:{panicking}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("prlimit (util-linux) runs the sweep");
    // Kill one run's process with SIGKILL as soon as it trains.
    let mut log = String::new();
    for line in BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
    {
        if line == format!("{MARKER} train {killed}") {
            for pid in run_pids(&killed) {
                Command::new("kill").args(["-9", &pid]).status().unwrap();
            }
        }
        log.push_str(&line);
        log.push('\n');
    }
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "failed runs make the sweep exit non-zero\n{log}"
    );

    let rows = rows(&out);
    assert_eq!(rows.len(), 5, "every run has a row\n{log}");
    let status_of = |id: &str| rows[id]["status"].as_str().unwrap().to_string();
    let error_of = |id: &str| rows[id]["error"].as_str().unwrap_or("").to_string();
    assert_eq!(status_of(&healthy), "ok", "{}", error_of(&healthy));
    assert!(
        rows[&healthy]["upstream"]["test_accuracy"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert_eq!(status_of(&diverging), "diverged");
    assert!(error_of(&diverging).contains("loss became"));
    assert_eq!(status_of(&panicking), "failed");
    assert!(
        error_of(&panicking).contains("panicked") && error_of(&panicking).contains("injected"),
        "{}",
        error_of(&panicking)
    );
    assert_eq!(status_of(&killed), "failed");
    assert!(
        error_of(&killed).contains("SIGKILL"),
        "{}",
        error_of(&killed)
    );
    assert_eq!(status_of(&too_big), "failed");
    assert!(
        error_of(&too_big).contains("SIGABRT") && error_of(&too_big).contains("memory"),
        "{}",
        error_of(&too_big)
    );
    assert!(
        log.contains("memory allocation of"),
        "the run's own output names the allocation"
    );
    // A run that died without saying why keeps the end of its stderr: here the allocator's line.
    assert!(
        error_of(&too_big).contains("its last lines on stderr")
            && error_of(&too_big).contains("memory allocation of"),
        "{}",
        error_of(&too_big)
    );
    // A run that said why is recorded with that cause alone, once.
    assert_eq!(
        error_of(&panicking).matches("injected panic").count(),
        1,
        "{}",
        error_of(&panicking)
    );

    // The report shows every run, failed and diverged ones with their causes.
    let report = std::fs::read_to_string(out.join("faults").join("report.html")).unwrap();
    assert!(
        report.contains("5 runs: 1 ok, 1 diverged, 3 failed"),
        "report summary"
    );
    for id in [&diverging, &panicking, &killed, &too_big] {
        assert!(report.contains(id.as_str()), "run {id} is in the report");
    }
    assert!(report.contains("SIGABRT") && report.contains("injected panic"));

    // Nothing is retrained on a plain rerun (without the fault or the limit), and the rerun
    // still exits non-zero: the sweep holds failed runs until they are retried.
    let rerun = Command::new(env!("CARGO_BIN_EXE_plateau"))
        .arg("sweep")
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&rerun.stderr);
    assert!(stderr.contains("5 done, 0 to train"), "{stderr}");
    assert!(!rerun.status.success(), "{stderr}");
    assert!(
        stderr.contains("3 run(s) of this sweep are recorded as failed")
            && stderr.contains("--rerun-failed"),
        "{stderr}"
    );
}
