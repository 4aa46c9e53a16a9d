//! `metrics.jsonl`: one line per finished epoch of a run (loss, validation, learning rate).

use std::path::Path;

use plateau_store::Jsonl;

/// The per-epoch log of the run in `run_dir`, after dropping the lines of epochs past `epoch`
/// (the checkpoint resumed from): a run killed after logging an epoch but before its checkpoint
/// would otherwise log that epoch twice. A torn last line is dropped too.
pub(crate) fn open_metrics(run_dir: &Path, epoch: usize) -> plateau_store::Result<Jsonl> {
    let log = Jsonl::new(run_dir.join("metrics.jsonl"));
    log.retain(|line| line["epoch"].as_u64().is_some_and(|e| e as usize <= epoch))?;
    Ok(log)
}
