//! `plateau logits RUN_DIR --out FILE`: a run's upstream test images, labels and logits.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use plateau_train::Backend;
use plateau_train::logits::export_logits;

#[derive(Args)]
pub struct LogitsArgs {
    /// A finished run's folder (`runs/<sweep>/<run-id>`).
    run_dir: PathBuf,
    /// Output file (safetensors: `images`, `labels`, `logits`).
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: &LogitsArgs, backend: Backend) -> Result<ExitCode> {
    let exported = export_logits(&args.run_dir, &args.out, backend)?;
    let reported = exported
        .reported
        .map(|a| format!(" (recorded {a:.4})"))
        .unwrap_or_default();
    println!(
        "{}: logits of {} test images, accuracy {:.4}{reported}",
        exported.path.display(),
        exported.images,
        exported.accuracy
    );
    Ok(ExitCode::SUCCESS)
}
