//! `plateau fit FILE`: laws fitted to a sweep's results (or your own points), and what they
//! answer: predictions (`--at`), targets (`--target`), held-out checks (`--holdout`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};
use plateau_metrics::fit::compute::{self, Prices};
use plateau_metrics::fit::study::{self, LawChoice, Query, XAxis};
use plateau_metrics::fit::{BootstrapOptions, PointSet};

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

/// Fits a law to a sweep's results (or to your own points) and answers from it: the error at a
/// given x (--at), the x that reaches a given error (--target), or that none does (a target at
/// or below the fitted floor), and how well the curve foresees points it was not fitted to
/// (--holdout). Each fit says whether the data identify its floor at all.
#[derive(Args)]
pub struct FitArgs {
    /// A sweep folder, its results.jsonl, or a CSV with columns upstream_error,downstream_error
    /// (or x,y); a CSV's optional `training` column (1 fit, 0 held out) sets the holdout.
    file: PathBuf,
    /// x of the fit: upstream_error (saturation law), or params, flops, train_flops,
    /// train_examples (a size law of upstream error, or of downstream error with --task).
    #[arg(long, default_value = "upstream_error", value_parser = |s: &str| s.parse::<XAxis>())]
    x: XAxis,
    /// The law: saturation (k·x^α + e_ir, rising), size (a·x^(−b) + c, falling), bent
    /// ((y − e_inf)/(e0 − y)^α = β·x^(−c), falling, M4 of Alabdulmohsin et al. 2022), or auto
    /// (every law that applies, each checked on held-out points: 2 unless --holdout says; the
    /// best answers). Default: saturation for upstream_error, size otherwise.
    #[arg(long, value_parser = |s: &str| s.parse::<LawChoice>())]
    law: Option<LawChoice>,
    /// Predict y at this x, with the band of the resampled curves (repeatable).
    #[arg(long = "at", value_name = "X")]
    at: Vec<f64>,
    /// Find the x at which the curve reaches this y, with its interval and the share of
    /// resamples that reach it at all (repeatable).
    #[arg(long = "target", value_name = "Y")]
    targets: Vec<f64>,
    /// Fit on all but the K points furthest along the curve (largest x; smallest upstream
    /// error for the saturation law) and report how well it foresees them.
    #[arg(long, value_name = "K")]
    holdout: Option<usize>,
    /// The training compute that reaches each --target downstream error, per family: the
    /// saturation law of --task at --shots chained with the family's size law of upstream error
    /// in training FLOPs, in FLOPs and in device-hours at the throughput the sweep measured.
    #[arg(long)]
    compute: bool,
    /// With --compute: what an hour of the device costs, in US dollars.
    #[arg(long, value_name = "USD")]
    usd_per_hour: Option<f64>,
    /// With --compute: what the device draws while training, in watts.
    #[arg(long, value_name = "W")]
    watts: Option<f64>,
    /// With --compute and --watts: the grid's carbon intensity.
    #[arg(long, value_name = "KG")]
    kg_co2_per_kwh: Option<f64>,
    /// Only runs whose config has AXIS=VALUE (repeatable), e.g. --where label_noise=0.2.
    #[arg(long = "where", value_name = "AXIS=VALUE", value_parser = parse_where)]
    filters: Vec<(String, String)>,
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
    for y in &args.targets {
        anyhow::ensure!(
            *y > 0.0,
            "--target {y}: a target error must be above 0 (a law's floor is never below 0)"
        );
    }
    let query = Query {
        x: args.x,
        law: args.law.unwrap_or_default(),
        at: args.at.clone(),
        targets: args.targets.clone(),
        holdout: args.holdout,
        filters: args.filters.clone(),
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
    if args.compute {
        return compute(args, &query);
    }
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

fn compute(args: &FitArgs, query: &Query) -> Result<ExitCode> {
    let (Some(task), Some(shots)) = (&args.task, args.shots) else {
        anyhow::bail!("--compute needs --task and --shots: the downstream error to reach");
    };
    anyhow::ensure!(
        !args.targets.is_empty(),
        "--compute needs at least one --target (a downstream error, e.g. --target 0.3)"
    );
    anyhow::ensure!(
        args.kg_co2_per_kwh.is_none() || args.watts.is_some(),
        "--kg-co2-per-kwh needs --watts: the energy comes from the device's draw"
    );
    let rows = study::load_rows(&args.file)?;
    let curves = compute::compute_curves(
        &rows,
        &plateau_train::axis_meanings(),
        task,
        shots,
        &query.boot,
    )?;
    anyhow::ensure!(
        !curves.is_empty(),
        "{}: no family has both a size law and a saturation law to chain",
        args.file.display()
    );
    let prices = Prices {
        usd_per_hour: args.usd_per_hour,
        watts: args.watts,
        kg_co2_per_kwh: args.kg_co2_per_kwh,
    };
    match args.format {
        Format::Table => print!(
            "{}",
            compute::compute_table(&curves, &args.targets, &prices)
        ),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&compute::compute_json(&curves, &args.targets, &prices))?
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_where(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((axis, value)) if !axis.is_empty() && !value.is_empty() => {
            Ok((axis.to_string(), value.to_string()))
        }
        _ => Err(format!(
            "`{text}`: expected AXIS=VALUE, e.g. label_noise=0.2"
        )),
    }
}
