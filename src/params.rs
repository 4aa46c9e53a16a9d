//! `plateau params`: parameter and FLOP counts of presets, computed without building models.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};
use plateau_models::{InputSpec, ModelConfig, ModelError, PRESETS, preset};
use serde::Serialize;

#[derive(Args)]
pub struct ParamsArgs {
    /// Preset(s) to count (repeat or separate with commas); every preset when omitted.
    #[arg(long, value_delimiter = ',')]
    preset: Vec<String>,
    /// Side of the square input image (default: the size the preset was published for).
    #[arg(long)]
    image_size: Option<usize>,
    /// Number of classes of the head (default: the preset's).
    #[arg(long)]
    num_classes: Option<usize>,
    /// Input channels (default: the preset's, 3).
    #[arg(long)]
    in_channels: Option<usize>,
    /// The family's width knob: ResNet base_width, ViT width, Mixer hidden_dim.
    #[arg(long)]
    width: Option<usize>,
    /// Blocks (ViT, Mixer) or blocks per stage (ResNet), as `plateau bench --depth`.
    #[arg(long)]
    depth: Option<usize>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Serialize)]
struct Row {
    name: String,
    family: String,
    params: u64,
    /// Forward FLOPs per image (2 × multiply-accumulates).
    flops: u64,
    input: InputSpec,
    config: ModelConfig,
}

pub fn run(args: &ParamsArgs) -> Result<ExitCode> {
    let presets = match args.preset.is_empty() {
        true => PRESETS.to_vec(),
        false => match args.preset.iter().map(|name| preset(name)).collect() {
            Ok(presets) => presets,
            Err(error) => return Ok(bad_input(&error)),
        },
    };
    let mut rows = Vec::new();
    for preset in presets {
        let input = InputSpec {
            channels: args.in_channels.unwrap_or(preset.input.channels),
            image_size: args.image_size.unwrap_or(preset.input.image_size),
            num_classes: args.num_classes.unwrap_or(preset.input.num_classes),
        };
        let mut config = preset.config();
        let mut name = preset.name.to_string();
        if let Some(width) = args.width {
            config = config.with_width(width);
            name = format!("{name}@width={width}");
        }
        if let Some(depth) = args.depth {
            config = config.with_depth(depth);
            name = format!("{name}@depth={depth}");
        }
        let cost = match config.cost(&input) {
            Ok(cost) => cost,
            Err(error) => return Ok(bad_input(&error)),
        };
        rows.push(Row {
            name,
            family: config.family().to_string(),
            params: cost.params,
            flops: cost.flops,
            input,
            config,
        });
    }
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        Format::Table => print_table(&rows),
    }
    Ok(ExitCode::SUCCESS)
}

/// Bad names or shapes exit with 2, like other usage errors.
fn bad_input(error: &ModelError) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::from(2)
}

fn print_table(rows: &[Row]) {
    let name_width = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    println!(
        "{:<name_width$}  {:<6}  {:>9}  {:>7}  {:>15}  {:>12}",
        "name", "family", "input", "classes", "params", "GFLOPs/image"
    );
    for row in rows {
        let input = format!(
            "{}x{}x{}",
            row.input.channels, row.input.image_size, row.input.image_size
        );
        println!(
            "{:<name_width$}  {:<6}  {:>9}  {:>7}  {:>15}  {:>12.4}",
            row.name,
            row.family,
            input,
            row.input.num_classes,
            thousands(row.params),
            row.flops as f64 / 1e9
        );
    }
}

/// `86567656` → `86,567,656`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
