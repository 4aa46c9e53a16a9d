//! `plateau fit FILE`: the saturation law or size laws fitted to a sweep's results.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};
use plateau_metrics::fit::study::{self, Query, XAxis};
use plateau_metrics::fit::{BootstrapOptions, PointSet};

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(Args)]
pub struct FitArgs {
    /// A sweep folder, its results.jsonl, or a CSV with columns upstream_error,downstream_error
    /// (or x,y).
    file: PathBuf,
    /// x of the fit: upstream_error (saturation law), or params, flops, train_flops,
    /// train_examples (size law of upstream error, or of downstream error with --task).
    #[arg(long, default_value = "upstream_error", value_parser = |s: &str| s.parse::<XAxis>())]
    x: XAxis,
    /// Downstream task (default: every task in the results).
    #[arg(long)]
    task: Option<String>,
    /// Shot count (default: every shot count in the results).
    #[arg(long)]
    shots: Option<usize>,
    /// Probed layer.
    #[arg(long, default_value = "pre_logits")]
    layer: String,
    /// Only runs of this family (resnet, vit, mixer).
    #[arg(long)]
    family: Option<String>,
    /// Points to fit: frontier (Pareto, default), hull (its convex part) or all.
    #[arg(long, default_value = "frontier", value_parser = |s: &str| s.parse::<PointSet>())]
    points: PointSet,
    /// Bootstrap resamples for the intervals (0: none).
    #[arg(long, default_value_t = 500)]
    bootstrap: usize,
    /// Coverage of the intervals.
    #[arg(long, default_value_t = 0.95)]
    level: f64,
    /// Seed of the bootstrap resampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

pub fn run(args: &FitArgs) -> Result<ExitCode> {
    anyhow::ensure!(
        args.level > 0.0 && args.level < 1.0,
        "--level {} must lie between 0 and 1 (e.g. 0.95)",
        args.level
    );
    let query = Query {
        x: args.x,
        task: args.task.clone(),
        shots: args.shots,
        layer: args.layer.clone(),
        family: args.family.clone(),
        point_set: args.points,
        boot: BootstrapOptions {
            resamples: args.bootstrap,
            level: args.level,
            seed: args.seed,
        },
    };
    let series = study::load_series(&args.file, &query, &plateau_train::axis_meanings())?;
    let fits = study::fit_series(series, &query)?;
    match args.format {
        Format::Table => print!("{}", study::fits_table(&fits)),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&study::fits_json(&fits))?
        ),
    }
    Ok(ExitCode::SUCCESS)
}
