//! Helpers shared by the integration tests (each test crate uses some of them).
#![allow(dead_code)]

use std::process::Command;
use std::sync::atomic::AtomicBool;

use plateau_metrics::results::ResultRow;
use plateau_train::ProgressMode;
use plateau_train::{Backend, SweepConfig};
use plateau_train::{SweepOptions, run_sweep};

/// burn seeds a device's random generator globally: tests that draw random tensors in parallel
/// threads would draw from each other's streams, so the tests of one binary that train or
/// initialise models take turns.
pub fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static TRAINING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TRAINING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs the sweep of a TOML text in this process on the CPU backend, quietly.
pub fn sweep_on_flex(toml: &str) -> Vec<ResultRow> {
    sweep_on(Backend::Flex, toml)
}

/// Runs the sweep of a TOML text in this process on `backend`, quietly.
pub fn sweep_on(backend: Backend, toml: &str) -> Vec<ResultRow> {
    let config = SweepConfig::parse(std::path::Path::new("test.toml"), toml, &[]).unwrap();
    let options = SweepOptions {
        backend,
        out_dir: None,
        dry_run: false,
        rerun_failed: false,
        progress: ProgressMode::Off,
        overlap: false,
        shard: None,
        workers: Vec::new(),
    };
    run_sweep(&config, &options, None, &AtomicBool::new(false))
        .unwrap()
        .trained
}

/// The README's test command sets up what it needs: Python's `safetensors` and `numpy` come
/// from PyPI when missing.
pub fn ensure_python_safetensors() {
    let has_reader = Command::new("python3")
        .args(["-c", "import safetensors.numpy"])
        .status()
        .is_ok_and(|s| s.success());
    if has_reader {
        return;
    }
    let install = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "safetensors",
            "numpy",
        ])
        .status()
        .expect("python3 runs");
    assert!(
        install.success(),
        "could not install Python's safetensors package from PyPI"
    );
}

/// Runs a Python script with arguments; returns its stdout parsed as JSON.
pub fn python_json(script: &str, args: &[&std::path::Path]) -> serde_json::Value {
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "python failed (install with `python3 -m pip install safetensors numpy`): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}
