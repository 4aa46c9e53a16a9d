//! The run folders are the ground truth of a sweep; `results.jsonl` and `results.csv` are views
//! of them. Before a sweep trains anything it brings the views back in line: a line that no
//! longer parses is dropped (never left in place), and every run whose folder records a result
//! that the file lacks (a damaged line, a lost append, a kill between the two writes) gets its
//! row back from its folder. Rows whose folder is gone (results copied without their folders)
//! are kept as they are.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use plateau_metrics::results::{ResultRow, ResultsStore};

use crate::Backend;
use crate::sweep::folders::{
    LOCK_FILE, RECORD_FILE, Record, finished_summary, read_record, run_folders, write_record,
};
use crate::sweep::plan::PlannedRun;
use crate::sweep::record::result_row;
use crate::trace;

/// What reconciling changed: the runs given back their row from their folder.
#[derive(Debug, Default)]
pub(crate) struct Reconciled {
    pub restored: Vec<String>,
}

/// Reconciles the results files of the sweep in `dir` with its run folders, saying on stderr
/// what it dropped and (with `warn_restored`) restored. Call it while holding the sweep's lock.
pub(crate) fn reconcile(
    dir: &Path,
    store: &ResultsStore,
    runs: &[PlannedRun],
    backend: Backend,
    warn_restored: bool,
) -> Result<Reconciled> {
    store.repair()?;
    let path = store.jsonl_path();
    let lines = store.lines()?;
    // The latest line of every run id: what a reader of the file takes as its result.
    let latest: BTreeMap<&str, (&ResultRow, &str)> = lines
        .iter()
        .filter_map(|l| {
            let row = l.record.as_ref()?;
            Some((row.run_id.as_str(), (row, l.text.as_str())))
        })
        .collect();
    let records = folder_records(dir, runs, &latest, backend)?;
    let missing: Vec<&Record> = records
        .iter()
        .filter(|record| {
            latest
                .get(record.row.run_id.as_str())
                .map(|(_, line)| *line)
                != Some(&record.line)
        })
        .collect();
    let mut kept: Vec<&str> = Vec::new();
    let mut damaged: Vec<&str> = Vec::new();
    for line in &lines {
        if line.record.is_some() {
            kept.push(&line.text);
            continue;
        }
        let is_json = serde_json::from_str::<serde_json::Value>(&line.text).is_ok();
        match serde_json::from_str::<ResultRow>(&line.text) {
            // JSON, but not a row this plateau reads: another version wrote it. Kept.
            Err(why) if is_json => {
                eprintln!(
                    "warning: {} line {}: not a result this plateau reads ({why}); written by \
                     another version? Kept as it is, left out of reports and fits",
                    path.display(),
                    line.number
                );
                kept.push(&line.text);
            }
            _ => {
                let run = run_id_in(&line.text)
                    .map(|id| format!(" (run {id})"))
                    .unwrap_or_default();
                eprintln!(
                    "warning: {} line {}{run} is damaged; moved it to {} (a run that finished \
                     gets its row back from its folder)",
                    path.display(),
                    line.number,
                    damaged_path(&path).display()
                );
                damaged.push(&line.text);
            }
        }
    }
    for record in missing.iter().filter(|_| warn_restored) {
        eprintln!(
            "warning: {} lacked the result of run {}; restored it from {}",
            path.display(),
            record.row.run_id,
            dir.join(&record.row.run_id).join(RECORD_FILE).display()
        );
    }
    if damaged.is_empty() && missing.is_empty() {
        return Ok(Reconciled::default());
    }
    if !damaged.is_empty() {
        // Set aside, not deleted: nothing a sweep wrote is lost, even half a line.
        let aside = damaged_path(&path);
        let mut text = std::fs::read_to_string(&aside).unwrap_or_default();
        for line in &damaged {
            text.push_str(line);
            text.push('\n');
        }
        plateau_store::write_atomic(&aside, text.as_bytes())?;
    }
    kept.extend(missing.iter().map(|r| r.line.as_str()));
    // Writing a restored row is appending it by other means: the kill harness aims here too.
    for record in &missing {
        trace::phase("append", &record.row.run_id);
    }
    store.rewrite(&kept)?;
    Ok(Reconciled {
        restored: missing.iter().map(|r| r.row.run_id.clone()).collect(),
    })
}

/// `plateau report DIR`: brings `results.jsonl` and `results.csv` in line with the run folders
/// (the shards of a sweep write only their runs' records; this merges them, one row per run,
/// the latest record winning). Returns the runs whose rows were added. Skipped, with `None`,
/// while a sweep process holds the folder's `sweep.lock`: that one reconciles as it goes.
pub fn merge_results(dir: &Path) -> Result<Option<Vec<String>>> {
    let lock_path = dir.join(LOCK_FILE);
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| lock_path.display().to_string())?;
    if let Err(std::fs::TryLockError::WouldBlock) = lock.try_lock() {
        return Ok(None);
    }
    let store = ResultsStore::new(dir);
    // Rows the file lacks are what merging is for: no warning for them.
    let reconciled = reconcile(dir, &store, &[], Backend::default(), false)?;
    Ok(Some(reconciled.restored))
}

/// Where damaged lines of `results.jsonl` are set aside.
fn damaged_path(jsonl: &Path) -> PathBuf {
    jsonl.with_extension("jsonl.damaged")
}

/// The record of every run folder in `dir` that has one. A planned run that finished without
/// writing its record gets one now: its line in the results file when it has one (folders of a
/// plateau that wrote no records), else a row built from its summary (killed in between).
fn folder_records(
    dir: &Path,
    runs: &[PlannedRun],
    latest: &BTreeMap<&str, (&ResultRow, &str)>,
    backend: Backend,
) -> Result<Vec<Record>> {
    let mut records = Vec::new();
    for (id, folder) in run_folders(dir) {
        // A record in a folder not named after its run is not that run's.
        if let Some(record) = read_record(&folder).filter(|r| r.row.run_id == id) {
            records.push(record);
            continue;
        }
        let Some(run) = runs.iter().find(|run| run.id == id) else {
            continue;
        };
        let Some(summary) = finished_summary(&folder) else {
            continue;
        };
        let line = match latest.get(id.as_str()) {
            Some((row, line)) if row.status == summary.status => line.to_string(),
            _ => ResultsStore::line_of(&result_row(run, &summary, backend)?),
        };
        write_record(&folder, &line)?;
        records.extend(read_record(&folder));
    }
    Ok(records)
}

/// The run id a damaged line names, if its `"run_id"` field is still readable.
fn run_id_in(text: &str) -> Option<&str> {
    let rest = text.split_once("\"run_id\":\"")?.1;
    let id = rest.split_once('"')?.0;
    (id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::run_id_in;

    #[test]
    fn the_run_id_of_a_damaged_line_is_read_when_it_survived() {
        assert_eq!(
            run_id_in(r#"{"run_id":"0123456789ab","fam\u0000ly":"#),
            Some("0123456789ab")
        );
        assert_eq!(run_id_in(r#"{"run_id":"01234"#), None);
        assert_eq!(run_id_in("garbage"), None);
    }
}
