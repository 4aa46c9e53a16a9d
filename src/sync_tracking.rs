//! `plateau sync-tracking SWEEP_DIR`: sends a sweep's runs to MLflow, what the sweep could not
//! send while it ran (a server that was down) or all of them (a sweep run without MLflow).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

#[derive(Args)]
pub struct SyncTrackingArgs {
    /// A sweep folder (`runs/<name>`). The server is `MLFLOW_TRACKING_URI`'s, or the sweep's
    /// `[tracking] mlflow_uri`; the experiment `MLFLOW_EXPERIMENT_NAME`'s, or the sweep's.
    dir: PathBuf,
}

pub fn run(args: &SyncTrackingArgs) -> Result<ExitCode> {
    let report = plateau_train::sync_tracking(&args.dir)?;
    println!(
        "MLflow at {}: {} run(s) of {} in experiment {:?}, each once",
        report.uri,
        report.runs,
        args.dir.display(),
        report.experiment
    );
    Ok(ExitCode::SUCCESS)
}
