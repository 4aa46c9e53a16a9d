//! A sweep's output folder and its runs' folders: where they are, the locks that keep two
//! processes from writing one at a time, and what a finished run leaves in its folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use plateau_metrics::results::{ResultRow, RunStatus};

use crate::run::checkpoint;
use crate::run::summary::{RunSummary, read_summary};
use crate::run::tensorboard::EVENTS_DIR;
use crate::sweep::config::SweepConfig;
use crate::sweep::plan::PlannedRun;
use crate::sweep::shards::Shard;

/// `<out_dir>/<name>/`.
pub fn sweep_dir(config: &SweepConfig, out_dir: Option<&Path>) -> PathBuf {
    out_dir.unwrap_or(&config.out_dir).join(&config.name)
}

/// The time account of the latest invocation that trained something.
pub const TIMING_FILE: &str = "timing.json";

/// The lock file that keeps two sweeps from writing into one folder at once.
pub const LOCK_FILE: &str = "sweep.lock";

/// The lock of a sweep process: `sweep.lock`, or one per shard (`sweep.shard-1-of-4.lock`), so
/// that shards share the folder and a second process of one shard is refused.
fn lock_file(shard: Option<Shard>) -> String {
    match shard {
        None => LOCK_FILE.to_string(),
        Some(s) => format!("sweep.shard-{}-of-{}.lock", s.index, s.count),
    }
}

/// Takes `dir` for this sweep (or this shard of it): locks it against a second such process
/// running at the same time (the lock lasts as long as the returned file is open, and the OS
/// drops it if we are killed), and refuses a folder that holds another sweep's results.
pub(crate) fn claim_dir(
    dir: &Path,
    config: &SweepConfig,
    shard: Option<Shard>,
) -> Result<std::fs::File> {
    std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
    let lock_path = dir.join(lock_file(shard));
    let mut lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&lock_path)
        .with_context(|| lock_path.display().to_string())?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&lock_path).unwrap_or_default();
            bail!(
                "another sweep is writing to {} ({}); wait for it to finish, stop it, or pass \
                 another --out",
                dir.display(),
                match holder.trim() {
                    "" => format!("its process holds {}", lock_file(shard)),
                    pid => format!("process {pid} holds {}", lock_file(shard)),
                }
            );
        }
        Err(std::fs::TryLockError::Error(error)) => {
            return Err(error).with_context(|| format!("locking {}", lock_path.display()));
        }
    }
    {
        use std::io::{Seek, Write};
        lock.set_len(0)?;
        lock.seek(std::io::SeekFrom::Start(0))?;
        write!(lock, "{}", std::process::id())?;
        lock.flush()?;
    }
    let marker = dir.join(SWEEP_MARKER);
    if let Ok(text) = std::fs::read_to_string(&marker) {
        let owner: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{}: corrupt", marker.display()))?;
        if owner["name"] != serde_json::Value::String(config.name.clone()) {
            bail!(
                "{} holds the results of sweep {}, not {:?}; choose another --out or sweep name",
                dir.display(),
                owner["name"],
                config.name
            );
        }
    }
    let json = serde_json::to_string_pretty(config)?;
    plateau_store::write_atomic(&marker, json.as_bytes())?;
    Ok(lock)
}

/// The config a sweep folder belongs to, as its sweep wrote it (`claim_dir`).
pub(crate) const SWEEP_MARKER: &str = "sweep.json";

/// The config of the sweep in `dir`, from its `sweep.json`: what `plateau status` and
/// `plateau sync-tracking` know a sweep by, with nothing but its folder.
pub(crate) fn read_sweep_config(dir: &Path) -> Result<SweepConfig> {
    let marker = dir.join(SWEEP_MARKER);
    let text = std::fs::read_to_string(&marker).with_context(|| {
        format!(
            "{}: not a sweep folder (it has no {SWEEP_MARKER}); give the folder a sweep wrote, \
             e.g. runs/quickstart",
            dir.display()
        )
    })?;
    serde_json::from_str(&text).with_context(|| format!("{}: unreadable", marker.display()))
}

/// Holds `run.lock` for as long as the returned file lives. Only one process trains a run at a
/// time: one still exiting after its sweep was killed is waited for, not raced.
pub(crate) fn lock_run_dir(run_dir: &Path) -> Result<std::fs::File> {
    let path = run_dir.join("run.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| path.display().to_string())?;
    if let Err(std::fs::TryLockError::WouldBlock) = lock.try_lock() {
        eprintln!(
            "{}: another process is training this run; waiting for it to end",
            run_dir.display()
        );
        lock.lock()
            .with_context(|| format!("locking {}", path.display()))?;
    }
    Ok(lock)
}

/// A run's own copy of its row in `results.jsonl`, the same line byte for byte: the ground
/// truth that the sweep's results files are rebuilt from.
pub const RECORD_FILE: &str = "result.json";

/// A run's record: its row and the exact line of JSON that holds it.
pub(crate) struct Record {
    pub row: ResultRow,
    pub line: String,
}

/// Writes `line` (a row as `results.jsonl` holds it) into its run's folder, atomically.
pub(crate) fn write_record(run_dir: &Path, line: &str) -> Result<()> {
    Ok(plateau_store::write_atomic(
        &run_dir.join(RECORD_FILE),
        format!("{line}\n").as_bytes(),
    )?)
}

/// The record a run's folder holds, if it holds a readable one.
pub(crate) fn read_record(run_dir: &Path) -> Option<Record> {
    let text = std::fs::read_to_string(run_dir.join(RECORD_FILE)).ok()?;
    let line = text.trim_end().to_string();
    let row = serde_json::from_str(&line).ok()?;
    Some(Record { row, line })
}

/// The recorded row of every run of `runs` whose folder holds a record, by run id: where a
/// shard, which never reads the shared results file, learns what is done.
pub(crate) fn folder_rows(dir: &Path, runs: &[PlannedRun]) -> BTreeMap<String, ResultRow> {
    runs.iter()
        .filter_map(|run| Some((run.id.clone(), read_record(&dir.join(&run.id))?.row)))
        .collect()
}

/// The summary of a run that finished (ok or diverged) but whose folder has no record yet: it
/// was killed after its summary, or trained by a plateau that wrote no records. Tidies what
/// the run would have removed at its end.
pub(crate) fn finished_summary(run_dir: &Path) -> Option<RunSummary> {
    let summary = read_summary(run_dir)
        .ok()
        .filter(|s| s.status != RunStatus::Failed)?;
    checkpoint::remove(run_dir);
    plateau_store::remove_stale_temporaries(run_dir);
    Some(summary)
}

/// Every run folder of the sweep in `dir` (a folder with a run's `config.json` or its record),
/// by run id, in id order.
pub(crate) fn run_folders(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut folders: Vec<(String, PathBuf)> = entries
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(_, path)| path.join("config.json").is_file() || path.join(RECORD_FILE).is_file())
        .collect();
    folders.sort();
    folders
}

/// The run folders in `dir` that no planned run owns: runs of an earlier version of the config
/// (a run's id is the hash of its spec, so an edited TOML plans other ids).
pub(crate) fn stale_runs(dir: &Path, planned: &[PlannedRun]) -> Vec<String> {
    run_folders(dir)
        .into_iter()
        .map(|(id, _)| id)
        .filter(|id| planned.iter().all(|run| &run.id != id))
        .collect()
}

/// Where `tensorboard --logdir` finds a sweep's runs under readable names.
pub(crate) const TENSORBOARD_DIR: &str = "tensorboard";

/// `<sweep>/tensorboard/<label>` → `../<run-id>/tensorboard` for every planned run, so that
/// `tensorboard --logdir <sweep>/tensorboard` names runs by their axes
/// (`mixer-tiny-p4_depth=2_width=32`), not by their ids. Made anew on every invocation; a label
/// two runs share gets the run id appended. (Unix only: elsewhere, use `--logdir <sweep>`.)
///
/// Shards share the folder (`shared`): they leave the links there are alone and each makes the
/// ones missing, the same for all, since every shard plans the same runs.
pub(crate) fn link_tensorboard_names(dir: &Path, runs: &[PlannedRun], shared: bool) -> Result<()> {
    let links = dir.join(TENSORBOARD_DIR);
    std::fs::create_dir_all(&links).with_context(|| links.display().to_string())?;
    for entry in std::fs::read_dir(&links)?.flatten() {
        if !shared && entry.file_type().is_ok_and(|t| t.is_symlink()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    let name = |run: &PlannedRun| run.label().replace(' ', "_").replace(['/', '\\'], "-");
    for run in runs {
        let same_name = runs.iter().filter(|other| name(other) == name(run)).count() > 1;
        let link = match same_name {
            true => format!("{}_{}", name(run), run.id),
            false => name(run),
        };
        let target = Path::new("..").join(&run.id).join(EVENTS_DIR);
        #[cfg(unix)]
        match std::os::unix::fs::symlink(&target, links.join(&link)) {
            Err(e) if shared && e.kind() == std::io::ErrorKind::AlreadyExists => {}
            made => made.with_context(|| links.join(&link).display().to_string())?,
        }
        #[cfg(not(unix))]
        let _ = (target, link);
    }
    Ok(())
}
