//! `plateau report SWEEP_DIR`: writes report.html from the sweep's results.jsonl.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;

#[derive(Args)]
pub struct ReportArgs {
    /// A sweep folder (`runs/<name>`), the one holding results.jsonl.
    dir: PathBuf,
}

pub fn run(args: &ReportArgs) -> Result<ExitCode> {
    if !args.dir.join("results.jsonl").is_file() {
        bail!(
            "{}: no results.jsonl here; give the sweep folder, e.g. runs/quickstart",
            args.dir.display()
        );
    }
    let path = plateau_metrics::report::write_report(&args.dir, &plateau_train::axis_meanings())?;
    println!("{}", path.display());
    Ok(ExitCode::SUCCESS)
}
