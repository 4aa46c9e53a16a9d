//! `plateau report SWEEP_DIR`: merges the run folders' records into results.jsonl and
//! results.csv (what the shards of a sweep leave), then writes report.html from them.

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
    if !args.dir.join("sweep.json").is_file() && !args.dir.join("results.jsonl").is_file() {
        bail!(
            "{}: no sweep here (no sweep.json, no results.jsonl); give the sweep folder, e.g. \
             runs/quickstart",
            args.dir.display()
        );
    }
    match plateau_train::merge_results(&args.dir)? {
        Some(added) if !added.is_empty() => {
            eprintln!("merged {} run(s) from their folders", added.len())
        }
        Some(_) => {}
        None => eprintln!(
            "note: a sweep is running in {}; the report shows the results so far",
            args.dir.display()
        ),
    }
    let path = plateau_metrics::report::write_report(&args.dir, &plateau_train::axis_meanings())?;
    println!("{}", path.display());
    Ok(ExitCode::SUCCESS)
}
