//! Claims: which process trains a run, when several share one sweep folder (shards on a
//! cluster's shared file system, a task Slurm requeued or started twice).
//!
//! A `run.lock` file lock is not enough there: a lock (or a pid) of another host means nothing
//! here, and file locks on network file systems are unreliable. A claim is a file made with an
//! exclusive create, which NFS keeps atomic: `<run>/claim-<n>.json`, holding the claimer's host,
//! pid, Slurm job and task, and a heartbeat time its sweep process refreshes every
//! [`HEARTBEAT`]. The highest `n` is the claim in force. A claim whose heartbeat is older than
//! [`STALE_AFTER`] (or whose process is gone, on this host) may be taken over by making
//! `claim-<n+1>.json`: the exclusive create lets one taker win, and the taker resumes from the
//! run's checkpoint. A claimer that finds a higher claim at its next heartbeat has lost the run
//! and stops it without a checkpoint. The sweep process, not the run process, holds the claim:
//! the claim must last from before the run starts until its record is written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use plateau_store::unix_now as now;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// How often a claimer says it is alive.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(30);

/// How old a heartbeat may be before another process takes the run over.
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(300);

/// What a claim file says.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ClaimInfo {
    pub host: String,
    pub pid: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm_job: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm_task: Option<String>,
    /// `I/N` of the claiming sweep, if sharded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// Seconds since the Unix epoch.
    pub heartbeat: f64,
}

impl ClaimInfo {
    fn mine(shard: Option<String>) -> Self {
        Self {
            host: host_name(),
            pid: std::process::id(),
            // An array task's job is the array's (its own SLURM_JOB_ID changes on requeue).
            slurm_job: std::env::var("SLURM_ARRAY_JOB_ID")
                .or_else(|_| std::env::var("SLURM_JOB_ID"))
                .ok(),
            slurm_task: std::env::var("SLURM_ARRAY_TASK_ID").ok(),
            shard,
            heartbeat: now(),
        }
    }

    /// Seconds since its last heartbeat.
    pub fn age(&self) -> f64 {
        (now() - self.heartbeat).max(0.0)
    }

    /// Whether the claimer is gone: its heartbeat is stale, it was a process of this host that
    /// no longer runs, or it was an earlier run of this very Slurm task (Slurm runs one at a
    /// time: a requeued task takes its runs back at once, on whichever node it lands).
    pub fn is_stale(&self) -> bool {
        let me = Self::mine(None);
        let earlier_self = self.slurm_job.is_some()
            && (&self.slurm_job, &self.slurm_task) == (&me.slurm_job, &me.slurm_task)
            && (&self.host, self.pid) != (&me.host, me.pid);
        self.age() > STALE_AFTER.as_secs_f64()
            || (self.host == me.host && !process_runs(self.pid))
            || earlier_self
    }
}

/// The claim in force on the run in `run_dir`: its number and what it says.
pub fn current_claim(run_dir: &Path) -> Option<(u64, ClaimInfo)> {
    let number = claim_numbers(run_dir).into_iter().max()?;
    let path = claim_path(run_dir, number);
    let text = std::fs::read_to_string(&path).ok()?;
    // Claims are linked whole, so one that does not parse was damaged: it counts as made when
    // the file was, by no process of this host.
    let info = serde_json::from_str(&text).unwrap_or_else(|_| ClaimInfo {
        host: "(unreadable claim)".into(),
        pid: 0,
        slurm_job: None,
        slurm_task: None,
        shard: None,
        heartbeat: std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .map_or(0.0, plateau_store::unix_seconds),
    });
    Some((number, info))
}

/// A claim this process holds.
#[derive(Debug)]
pub(crate) struct Claim {
    run_dir: PathBuf,
    number: u64,
    info: ClaimInfo,
}

/// How a claim attempt went.
pub(crate) enum Claimed {
    Mine(Claim),
    /// Another live process trains the run.
    Elsewhere(ClaimInfo),
}

/// Claims the run in `run_dir` (made if missing) for this process, taking over a stale claim.
pub(crate) fn claim(run_dir: &Path, shard: Option<String>) -> Result<Claimed> {
    std::fs::create_dir_all(run_dir).with_context(|| run_dir.display().to_string())?;
    loop {
        let next = match current_claim(run_dir) {
            Some((_, info)) if !info.is_stale() => return Ok(Claimed::Elsewhere(info)),
            Some((number, _)) => number + 1,
            None => 0,
        };
        let info = ClaimInfo::mine(shard.clone());
        let path = claim_path(run_dir, next);
        // Written whole under a name of its own, then linked to the claim's name: the link is
        // the exclusive create (it fails if the name exists, atomically, NFS included), and a
        // claim is never seen half-written, even after a kill.
        let draft = run_dir.join(format!(".claim-draft-{}-{}", info.host, info.pid));
        plateau_store::write_atomic(&draft, serde_json::to_string(&info)?.as_bytes())?;
        let linked = std::fs::hard_link(&draft, &path);
        let _ = std::fs::remove_file(&draft);
        match linked {
            Ok(()) => {
                return Ok(Claimed::Mine(Claim {
                    run_dir: run_dir.to_path_buf(),
                    number: next,
                    info,
                }));
            }
            // Another process made that number first: look again.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| path.display().to_string()),
        }
    }
}

impl Claim {
    /// Says this process is alive. `Ok(false)`: another process took the run over (this one's
    /// heartbeat went stale), and this one must stop it.
    pub fn beat(&mut self) -> Result<bool> {
        if claim_numbers(&self.run_dir).into_iter().max() != Some(self.number) {
            return Ok(false);
        }
        self.info.heartbeat = now();
        let path = claim_path(&self.run_dir, self.number);
        plateau_store::write_atomic(&path, serde_json::to_string(&self.info)?.as_bytes())?;
        Ok(true)
    }

    /// Gives the run up (it has its record, or it stopped and resumes later): this claim and
    /// those it took over go, so the next claimer starts afresh.
    pub fn release(self) {
        for number in claim_numbers(&self.run_dir) {
            if number <= self.number {
                let _ = std::fs::remove_file(claim_path(&self.run_dir, number));
            }
        }
    }
}

/// The claims a sweep process holds, kept alive by a thread of their own (a run in this process
/// blocks the sweep's loop for as long as it trains).
#[derive(Default)]
pub(crate) struct ClaimKeeper {
    held: Mutex<BTreeMap<String, Claim>>,
    lost: Mutex<BTreeSet<String>>,
}

impl ClaimKeeper {
    pub fn hold(&self, id: &str, claim: Claim) {
        lock(&self.held).insert(id.to_string(), claim);
    }

    /// Gives up the claim on run `id`, unless another process took it over.
    pub fn release(&self, id: &str) {
        if let Some(claim) = lock(&self.held).remove(id)
            && !self.is_lost(id)
        {
            claim.release();
        }
    }

    /// Whether another process took run `id` over from this one.
    pub fn is_lost(&self, id: &str) -> bool {
        lock(&self.lost).contains(id)
    }

    /// Beats every [`HEARTBEAT`] until `until` closes (or sends).
    pub fn keep_alive(&self, until: &Receiver<()>) {
        while let Err(RecvTimeoutError::Timeout) = until.recv_timeout(HEARTBEAT) {
            let mut held = lock(&self.held);
            for (id, claim) in held.iter_mut() {
                // A heartbeat that cannot be written is tried again next time; a stale claim
                // is the worst that comes of it.
                if let Ok(false) = claim.beat() {
                    lock(&self.lost).insert(id.clone());
                }
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn claim_path(run_dir: &Path, number: u64) -> PathBuf {
    run_dir.join(format!("claim-{number}.json"))
}

fn claim_numbers(run_dir: &Path) -> Vec<u64> {
    let Ok(entries) = std::fs::read_dir(run_dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_prefix("claim-")?
                .strip_suffix(".json")?
                .parse()
                .ok()
        })
        .collect()
}

/// This machine's name, as claims and `plateau status` show it.
pub(crate) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Whether process `pid` of this host runs (Linux's /proc; elsewhere, assumed to).
fn process_runs(pid: u32) -> bool {
    match Path::new("/proc/self").exists() {
        true => Path::new(&format!("/proc/{pid}")).exists(),
        false => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_claimer_wins_a_run_and_a_stale_claim_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("r");
        let Claimed::Mine(mut mine) = claim(&run, None).unwrap() else {
            panic!("a fresh run is claimable")
        };
        // This process is alive: a second claim attempt finds it.
        assert!(matches!(claim(&run, None).unwrap(), Claimed::Elsewhere(_)));
        assert!(mine.beat().unwrap());
        // Its heartbeat goes stale (as a frozen or unreachable host's would).
        let mut stale = mine.info.clone();
        stale.heartbeat -= STALE_AFTER.as_secs_f64() + 1.0;
        std::fs::write(claim_path(&run, 0), serde_json::to_string(&stale).unwrap()).unwrap();
        let Claimed::Mine(taker) = claim(&run, None).unwrap() else {
            panic!("a stale claim is taken over")
        };
        assert_eq!(taker.number, 1);
        // The first claimer learns at its next heartbeat that it lost the run.
        assert!(!mine.beat().unwrap());
        taker.release();
        assert!(current_claim(&run).is_none());
    }

    #[test]
    fn a_damaged_claim_counts_from_when_its_file_was_made() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(claim_path(dir.path(), 0), "{\"host\": \"no").unwrap();
        let (number, info) = current_claim(dir.path()).unwrap();
        assert_eq!(number, 0);
        // Made just now by no process of this host: fresh, so not taken over yet.
        assert!(info.age() < 60.0 && !info.is_stale());
    }

    #[test]
    fn a_claim_of_a_dead_process_on_this_host_is_stale_at_once() {
        let info = ClaimInfo {
            pid: u32::MAX - 1,
            ..ClaimInfo::mine(None)
        };
        assert!(info.is_stale());
        assert!(!ClaimInfo::mine(None).is_stale());
    }
}
