//! `plateau features RUN_DIR --task NAME`: export what a run's probe of one task used.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use plateau_train::Backend;
use plateau_train::features::export_features;

#[derive(Args)]
pub struct FeaturesArgs {
    /// A finished run's folder (`runs/<sweep>/<run-id>`).
    run_dir: PathBuf,
    /// Downstream task name, as in the sweep config (its `name`, else its `dataset`).
    #[arg(long)]
    task: String,
    /// Probed layer: pre_logits, or a stage/block name the task probes.
    #[arg(long, default_value = "pre_logits")]
    layer: String,
    /// Output file (safetensors).
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: &FeaturesArgs, backend: Backend) -> Result<ExitCode> {
    let exported = export_features(&args.run_dir, &args.task, &args.layer, &args.out, backend)?;
    println!(
        "{}: {} {} features of {} pool and {} test images ({} dims)",
        exported.path.display(),
        exported.task,
        exported.layer,
        exported.pool_rows,
        exported.test_rows,
        exported.dim
    );
    for (shots, per_seed) in &exported.accuracies {
        let mean = per_seed.iter().sum::<f64>() / per_seed.len().max(1) as f64;
        let reported = exported
            .reported
            .iter()
            .find(|(s, _)| s == shots)
            .map(|(_, a)| format!(" (reported {a:.4})"))
            .unwrap_or_default();
        println!("  {shots}-shot accuracy {mean:.4}{reported}, per seed {per_seed:.4?}");
    }
    Ok(ExitCode::SUCCESS)
}
