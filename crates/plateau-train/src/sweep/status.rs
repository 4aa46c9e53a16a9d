//! `plateau status DIR`: where a sweep stands, from its folder alone (what every shard of it
//! wrote there): runs done, failed, running (on which host, how recent its heartbeat), and left.

use std::path::Path;

use anyhow::Result;
use plateau_metrics::results::RunStatus;

use crate::sweep::claims::{ClaimInfo, current_claim};
use crate::sweep::folders::{read_record, read_sweep_config};
use crate::sweep::inputs::plan;

/// One run's state, as `plateau status` lists it.
#[derive(Debug)]
pub enum RunState {
    Done(RunStatus),
    /// Claimed by a live process (its claim), or by one whose heartbeat went stale (it may have
    /// died; another process will take the run over).
    Running {
        claim: ClaimInfo,
        stale: bool,
    },
    /// Started once (it has a folder, maybe a checkpoint), trained by no one now.
    Stopped,
    Left,
}

/// Every planned run of the sweep in `dir`, by id, in plan order, with its state and label.
pub struct SweepStatus {
    pub name: String,
    pub runs: Vec<(String, String, RunState)>,
}

pub fn sweep_status(dir: &Path) -> Result<SweepStatus> {
    let config = read_sweep_config(dir)?;
    let (_, planned) = plan(&config, false)?;
    let runs = planned
        .iter()
        .map(|run| {
            let run_dir = dir.join(&run.id);
            let state = match (read_record(&run_dir), current_claim(&run_dir)) {
                (Some(record), _) if record.row.status != RunStatus::Failed => {
                    RunState::Done(record.row.status)
                }
                (_, Some((_, claim))) => RunState::Running {
                    stale: claim.is_stale(),
                    claim,
                },
                (Some(record), None) => RunState::Done(record.row.status),
                (None, None) if run_dir.join("config.json").is_file() => RunState::Stopped,
                (None, None) => RunState::Left,
            };
            (run.id.clone(), run.label(), state)
        })
        .collect();
    Ok(SweepStatus {
        name: config.name,
        runs,
    })
}
