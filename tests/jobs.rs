//! Several runs at once on one machine (`--jobs N` on the CPU backend: one run process each,
//! the cores split between them): the runs train side by side, and their results equal those
//! of the same runs trained one at a time with the same threads per run. What makes that hold
//! is what the CPU backend guarantees across thread counts, checked here too: plateau's
//! kernels split work between threads without changing any sum's order, so a run's numbers are
//! the same bit for bit on 1 thread and on 2, for every family.

use std::path::Path;
use std::process::Command;

use common::outcomes;

mod common;

/// One small run of each family on synthetic images.
const CONFIG: &str = r#"
name = "jobs"
seed = 4
[upstream]
dataset = "synthetic"
image_size = 16
train_examples = 300
val_examples = 100
test_examples = 100
[train]
optimizer = "adamw"
lr = 3e-3
batch_size = 30
epochs = 2
[[downstream]]
dataset = "synthetic"
shots = [2]
seeds = 2
[[grid]]
preset = "resnet-cifar"
width = [4]
depth = [1]
[[grid]]
preset = "vit-tiny-p4"
width = [16]
depth = [1]
[[grid]]
preset = "mixer-tiny-p4"
width = [8, 16]
depth = [1]
"#;

/// Sweeps CONFIG into `out` with `args` and `threads` CPU threads per run; its stderr.
fn sweep(config: &Path, out: &Path, args: &[&str], threads: usize) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_plateau"))
        .arg("sweep")
        .arg(config)
        .arg("--out")
        .arg(out)
        .args(args)
        .env("RAYON_NUM_THREADS", threads.to_string())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    stderr
}

#[test]
fn two_jobs_train_side_by_side_and_equal_runs_trained_one_at_a_time() {
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("jobs.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let one_thread = work.path().join("one-thread");
    sweep(&config, &one_thread, &["--sequential"], 1);
    let two_threads = work.path().join("two-threads");
    sweep(&config, &two_threads, &["--sequential"], 2);
    assert_eq!(
        outcomes(&one_thread.join("jobs")),
        outcomes(&two_threads.join("jobs")),
        "the same numbers on 1 and 2 threads"
    );

    // `--jobs 2` gives each run process one of this machine's cores (at least one thread).
    let jobs = work.path().join("jobs");
    let log = sweep(&config, &jobs, &["--jobs", "2"], 2);
    assert_eq!(
        outcomes(&jobs.join("jobs")),
        outcomes(&one_thread.join("jobs"))
    );
    // The second run was let train before the first one's result came in.
    let second_started = log.find("[2/4").expect("a start line for the second run");
    let first_done = log.find(": ok: test accuracy").expect("a result line");
    assert!(second_started < first_done, "{log}");
}
