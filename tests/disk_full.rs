//! A full disk is the machine's fault, not the runs': a sweep whose output folder runs out of
//! space mid-sweep stops with one message that names the cause and the fix, records no run as
//! failed, and, once space is freed, a plain rerun finishes every run with the numbers and
//! weights of a sweep that never ran out.
//!
//! The small disk is a tmpfs of a fraction of what the sweep writes (mounting one needs root;
//! elsewhere that test says so and passes without running); the other path to the same fault,
//! a file-size limit (`ulimit -f`, EFBIG), needs no root. An output folder that stops taking
//! files (permission denied, as after a `chmod` or on a share whose rights changed) is the same
//! kind of fault.

#![cfg(target_os = "linux")]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{outcome, result_rows};
use plateau_train::trace::{MARKER, TRACE_ENV};

mod common;

/// Four small runs of two epochs each.
fn write_config(dir: &Path) -> PathBuf {
    let path = dir.join("full.toml");
    let text = r#"
name = "full"
seed = 3
[upstream]
dataset = "synthetic"
image_size = 16
train_examples = 400
val_examples = 100
test_examples = 100
[train]
optimizer = "adamw"
lr = 1e-2
batch_size = 50
epochs = 2
[[downstream]]
dataset = "synthetic"
name = "probe"
classes = [0, 1, 2, 3, 4]
shots = [1, 5]
seeds = 2
test_examples = 100
[[grid]]
preset = "mixer-tiny-p4"
width = [8, 16, 24, 32]
depth = [1]
"#;
    std::fs::write(&path, text).unwrap();
    path
}

fn sweep(config: &Path, out: &Path) -> Output {
    limited_sweep(config, out, None)
}

fn sweep_command(config: &Path, out: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_plateau"));
    command
        .arg("sweep")
        .arg(config)
        .arg("--out")
        .arg(out)
        .stdin(Stdio::null());
    command
}

/// `command` as a user whom permission bits stop: root's own bits are not checked, so as root it
/// runs as `nobody` (util-linux's `setpriv`); as anyone else, as is.
fn unprivileged(command: Command) -> Command {
    if !is_root() {
        return command;
    }
    let mut wrapped = Command::new("setpriv");
    wrapped
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(command.get_program())
        .args(command.get_args())
        .stdin(Stdio::null());
    wrapped
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The sweep, under a file-size limit of `kib` KiB when given (SIGXFSZ ignored, as a batch
/// system's limit would leave it, so a write past the limit fails with EFBIG).
fn limited_sweep(config: &Path, out: &Path, kib: Option<u64>) -> Output {
    let mut command = match kib {
        Some(kib) => {
            let mut shell = Command::new("bash");
            shell
                .arg("-c")
                .arg(format!("trap '' XFSZ; ulimit -f {kib}; exec \"$0\" \"$@\""))
                .arg(env!("CARGO_BIN_EXE_plateau"));
            shell
        }
        None => Command::new(env!("CARGO_BIN_EXE_plateau")),
    };
    command
        .arg("sweep")
        .arg(config)
        .arg("--out")
        .arg(out)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The size of every file under `dir`.
fn file_sizes(dir: &Path) -> Vec<u64> {
    let mut sizes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        match path.is_dir() {
            true => sizes.extend(file_sizes(&path)),
            false => sizes.push(std::fs::metadata(&path).unwrap().len()),
        }
    }
    sizes
}

/// Bytes a tmpfs needs to hold every file under `dir` (whole pages per file, and a page for
/// the folders).
fn footprint(dir: &Path) -> u64 {
    4096 + file_sizes(dir)
        .iter()
        .map(|s| s.div_ceil(4096) * 4096)
        .sum::<u64>()
}

/// A mounted tmpfs, unmounted on drop (also when the test fails).
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(at: &Path, bytes: u64) -> Self {
        std::fs::create_dir_all(at).unwrap();
        let options = format!("size={bytes}");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &options, "tmpfs"])
            .arg(at)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "mount -t tmpfs failed (root, but no CAP_SYS_ADMIN?)"
        );
        Self(at.to_path_buf())
    }

    fn grow(&self, bytes: u64) {
        let options = format!("remount,size={bytes}");
        let status = Command::new("mount")
            .args(["-o", &options])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn rows_by_id(sweep_dir: &Path) -> BTreeMap<String, serde_json::Value> {
    result_rows(sweep_dir)
        .into_iter()
        .map(|row| (row["run_id"].as_str().unwrap().to_string(), row))
        .collect()
}

#[test]
fn a_full_disk_stops_the_sweep_and_a_rerun_after_freeing_space_finishes_it() {
    if !is_root() {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let config = write_config(work.path());
    let straight = work.path().join("straight");
    assert!(sweep(&config, &straight).status.success());
    assert_eq!(rows_by_id(&straight.join("full")).len(), 4);

    // Room for about half of what the sweep writes: it runs out part-way.
    let disk = SmallDisk::mount(&work.path().join("small"), footprint(&straight) / 2);
    let out = disk.0.join("out");
    let full = sweep(&config, &out);
    assert_stopped_cleanly(&full, &out, "No space left on device");

    // Space freed: the same command finishes the sweep.
    disk.grow(256 << 20);
    assert_finishes_as(&config, &out, &straight);
}

/// What a stopped sweep must show: a non-zero exit, the cause once with the fix, no failed run.
fn assert_stopped_cleanly(stopped: &Output, out: &Path, cause: &str) {
    let fix = match cause {
        "Permission denied" => "fix: make that folder writable",
        _ => "fix: free space",
    };
    let stderr = String::from_utf8_lossy(&stopped.stderr);
    assert!(!stopped.status.success(), "{stderr}");
    assert_eq!(
        stderr.matches(cause).count(),
        1,
        "the cause is said once:\n{stderr}"
    );
    assert!(
        stderr.contains(fix) && stderr.contains("rerun the same command"),
        "{stderr}"
    );
    let results = out.join("full").join("results.jsonl");
    let recorded = std::fs::read_to_string(&results).unwrap_or_default();
    assert!(
        !recorded.contains("\"failed\""),
        "no run recorded as failed: {recorded}"
    );
}

/// The same command, rerun, finishes every run with the numbers and weights of `straight`.
fn assert_finishes_as(config: &Path, out: &Path, straight: &Path) {
    assert_finishes_as_run_by(sweep_command(config, out).output().unwrap(), out, straight);
}

fn assert_finishes_as_run_by(rerun: Output, out: &Path, straight: &Path) {
    let expected = rows_by_id(&straight.join("full"));
    let stderr = String::from_utf8_lossy(&rerun.stderr);
    assert!(rerun.status.success(), "{stderr}");
    let resumed = rows_by_id(&out.join("full"));
    assert_eq!(
        resumed.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (id, row) in &resumed {
        assert_eq!(row["status"], "ok", "{id}: {row}");
        assert_eq!(outcome(row), outcome(&expected[id]), "run {id}");
        let weights = std::fs::read(out.join("full").join(id).join("model.safetensors"));
        let reference = std::fs::read(straight.join("full").join(id).join("model.safetensors"));
        assert!(
            weights.unwrap() == reference.unwrap(),
            "{id}: weights differ"
        );
    }
    assert_eq!(
        result_rows(&out.join("full")).len(),
        4,
        "every run recorded once"
    );
}

#[test]
fn a_file_size_limit_stops_the_sweep_the_same_way() {
    let work = tempfile::tempdir().unwrap();
    let config = write_config(work.path());
    let straight = work.path().join("straight");
    assert!(sweep(&config, &straight).status.success());
    // Below the largest file the sweep writes: some write goes past it.
    let largest = file_sizes(&straight).into_iter().max().unwrap();
    let kib = (largest / 2 / 1024).max(1);
    let out = work.path().join("limited");
    let stopped = limited_sweep(&config, &out, Some(kib));
    assert_stopped_cleanly(&stopped, &out, "File too large");
    assert_finishes_as(&config, &out, &straight);
}

#[test]
fn an_output_folder_that_turns_read_only_stops_the_sweep_the_same_way() {
    let work = tempfile::tempdir().unwrap();
    let config = write_config(work.path());
    let straight = work.path().join("straight");
    assert!(sweep(&config, &straight).status.success());
    // The sweep may run as another user: it must reach its config and write its output.
    set_mode(work.path(), 0o777);
    let out = work.path().join("locked");

    // As the first run is recorded, its sweep's folder stops taking new files.
    let mut child = unprivileged(sweep_command(&config, &out))
        .env(TRACE_ENV, "1")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = Vec::new();
    let mut locked = false;
    for line in BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
    {
        if !locked && line.starts_with(&format!("{MARKER} append")) {
            set_mode(&out.join("full"), 0o555);
            locked = true;
        }
        if !line.starts_with(MARKER) {
            stderr.extend_from_slice(line.as_bytes());
            stderr.push(b'\n');
        }
    }
    let status = child.wait().unwrap();
    assert!(locked, "the sweep recorded no run");
    let stopped = Output {
        status,
        stdout: Vec::new(),
        stderr,
    };
    assert_stopped_cleanly(&stopped, &out, "Permission denied");

    // Writable again: the same command, by the same user, finishes the sweep.
    set_mode(&out.join("full"), 0o755);
    let rerun = unprivileged(sweep_command(&config, &out)).output().unwrap();
    assert_finishes_as_run_by(rerun, &out, &straight);
}
