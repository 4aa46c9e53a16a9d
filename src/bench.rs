//! `plateau bench`: training and evaluation speed of a preset, or of every model of a sweep.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};
use plateau_models::{InputSpec, ModelConfig, preset};
use plateau_train::OptimizerKind;
use plateau_train::bench::{BenchOptions, BenchResult, bench_model, set_cpu_threads};
use plateau_train::{Backend, SweepConfig};

#[derive(Args)]
#[command(group = clap::ArgGroup::new("model").required(true).args(["preset", "config"]))]
pub struct BenchArgs {
    /// A preset (see `plateau params`).
    #[arg(long)]
    preset: Option<String>,
    /// A sweep's TOML file: every distinct model of its grid, at its input and batch size.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The family's width knob (ResNet base_width, ViT width, Mixer hidden_dim).
    #[arg(long, requires = "preset")]
    width: Option<usize>,
    /// Blocks (ViT, Mixer) or blocks per stage (ResNet).
    #[arg(long, requires = "preset")]
    depth: Option<usize>,
    /// Side of the square input (default: the preset's).
    #[arg(long, requires = "preset")]
    image_size: Option<usize>,
    #[arg(long, requires = "preset")]
    in_channels: Option<usize>,
    #[arg(long, requires = "preset")]
    num_classes: Option<usize>,
    /// Images per step (default: 128, or the sweep's batch size).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Timed steps, of training and of evaluation each.
    #[arg(long, default_value_t = 20)]
    steps: usize,
    /// Untimed steps first.
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// CPU threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    #[arg(long, value_enum, default_value_t = Optimizer::Adamw)]
    optimizer: Optimizer,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
enum Optimizer {
    Adamw,
    Sgd,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Format {
    Table,
    Json,
}

/// A model to measure, with the batch size to measure it at.
struct Target {
    name: String,
    config: ModelConfig,
    input: InputSpec,
    batch_size: usize,
}

pub fn run(args: &BenchArgs, backend: Backend) -> Result<ExitCode> {
    set_cpu_threads(args.threads)?;
    let targets = match (&args.preset, &args.config) {
        (Some(name), _) => vec![preset_target(name, args)?],
        (None, Some(path)) => sweep_targets(path, args.batch_size)?,
        (None, None) => unreachable!("clap requires --preset or --config"),
    };
    let mut results = Vec::new();
    for target in &targets {
        if args.format == Format::Table {
            eprintln!("measuring {} …", target.name);
        }
        let options = BenchOptions {
            backend,
            batch_size: target.batch_size,
            steps: args.steps,
            warmup: args.warmup,
            optimizer: match args.optimizer {
                Optimizer::Adamw => OptimizerKind::Adamw,
                Optimizer::Sgd => OptimizerKind::Sgd,
            },
        };
        results.push(bench_model(
            &target.name,
            &target.config,
            &target.input,
            &options,
        )?);
    }
    match (args.format, args.preset.is_some()) {
        (Format::Json, true) => println!("{}", serde_json::to_string_pretty(&results[0])?),
        (Format::Json, false) => println!("{}", serde_json::to_string_pretty(&results)?),
        (Format::Table, _) => print_table(&results),
    }
    Ok(ExitCode::SUCCESS)
}

fn preset_target(name: &str, args: &BenchArgs) -> Result<Target> {
    let preset = preset(name)?;
    let mut config = preset.config();
    let mut label = preset.name.to_string();
    if let Some(width) = args.width {
        config = config.with_width(width);
        label.push_str(&format!(" width={width}"));
    }
    if let Some(depth) = args.depth {
        config = config.with_depth(depth);
        label.push_str(&format!(" depth={depth}"));
    }
    let input = InputSpec {
        channels: args.in_channels.unwrap_or(preset.input.channels),
        image_size: args.image_size.unwrap_or(preset.input.image_size),
        num_classes: args.num_classes.unwrap_or(preset.input.num_classes),
    };
    Ok(Target {
        name: label,
        config,
        input,
        batch_size: args.batch_size.unwrap_or(128),
    })
}

/// Every distinct architecture of the sweep (seeds and learning rates do not change speed).
fn sweep_targets(path: &std::path::Path, batch_size: Option<usize>) -> Result<Vec<Target>> {
    let config = SweepConfig::load(path, &[])?;
    let (_, runs) = plateau_train::plan(&config, false)?;
    let mut targets: Vec<Target> = Vec::new();
    for run in runs {
        let spec = &run.spec;
        let batch_size = batch_size.unwrap_or(spec.train.batch_size);
        let same = |t: &Target| {
            t.config == spec.model && t.input == spec.input && t.batch_size == batch_size
        };
        if targets.iter().any(same) {
            continue;
        }
        let shape: Vec<String> = run
            .axes
            .iter()
            .filter(|(axis, _)| matches!(axis.as_str(), "width" | "depth"))
            .map(|(axis, value)| format!("{axis}={value}"))
            .collect();
        let base = spec
            .preset
            .clone()
            .unwrap_or_else(|| spec.model.family().to_string());
        targets.push(Target {
            name: format!("{base} {}", shape.join(" ")).trim().to_string(),
            config: spec.model.clone(),
            input: spec.input,
            batch_size,
        });
    }
    Ok(targets)
}

fn print_table(results: &[BenchResult]) {
    let Some(first) = results.first() else {
        return;
    };
    println!(
        "backend {}, {} thread(s), {} optimizer, median of {} steps (min–max)",
        first.backend, first.threads, first.optimizer, first.steps
    );
    let name_width = results
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(4)
        .max(5);
    println!(
        "{:<name_width$}  {:>10}  {:>9}  {:>5}  {:>22}  {:>8}  {:>7}  {:>22}  {:>8}",
        "model",
        "params",
        "MFLOP/img",
        "batch",
        "train step ms",
        "img/s",
        "GFLOP/s",
        "eval step ms",
        "img/s"
    );
    for r in results {
        let span = |t: &plateau_train::bench::StepTiming| {
            format!(
                "{:.1} ({:.1}–{:.1})",
                t.step_ms_median, t.step_ms_min, t.step_ms_max
            )
        };
        println!(
            "{:<name_width$}  {:>10}  {:>9.1}  {:>5}  {:>22}  {:>8.0}  {:>7.1}  {:>22}  {:>8.0}",
            r.name,
            r.params,
            r.flops_per_image as f64 / 1e6,
            r.batch_size,
            span(&r.train),
            r.train.images_per_second,
            r.train.gflops_per_second,
            span(&r.eval),
            r.eval.images_per_second
        );
    }
}
