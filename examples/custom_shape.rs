//! A model of one's own shape: a ResNet with chosen stage depths and widths, counted exactly,
//! then trained in this process through a sweep whose grid names the shape rather than a preset.
//!
//! `cargo run --release --example custom_shape [OUT_DIR]` (default `runs/examples`).
//!
//! A whole new family (not just a new shape) takes three steps, listed in plateau-models' crate
//! docs: its file, its variants in `Family`/`ModelConfig`/`Model`, its presets and tests.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use plateau_models::{InputSpec, trainable_params};
use plateau_train::{Backend, ResultsStore, SweepConfig, SweepOptions};

/// Two stages of basic blocks, one and two deep, from 8 channels: a shape no preset has.
const CONFIG: &str = r#"
name = "custom-shape"
seed = 5
[upstream]
dataset = "synthetic"
image_size = 16
train_examples = 500
val_examples = 100
test_examples = 200
[train]
optimizer = "adamw"
lr = 3e-3
batch_size = 50
epochs = 1
[[grid]]
model = { family = "resnet", block = "basic", stage_depths = [1, 2], base_width = 8 }
"#;

fn main() -> anyhow::Result<()> {
    let out = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("runs/examples"), PathBuf::from);
    let config = SweepConfig::parse(Path::new("custom_shape.toml"), CONFIG, &[])?;
    let model = config.grid[0]
        .model
        .clone()
        .expect("the grid names a model");

    // Counted analytically, and built on the CPU and counted by burn: the two agree.
    let input = InputSpec::new(1, 16, 10);
    let cost = model.cost(&input)?;
    let built = model.init(&input, &Backend::Flex.device()?)?;
    println!(
        "ResNet stages [1, 2] from 8 channels on 16×16 grey images of 10 classes: {} parameters \
         ({} by burn's count), {} FLOPs per image",
        cost.params,
        trainable_params(&built),
        cost.flops
    );

    let options = SweepOptions::quiet(Some(out.clone()));
    plateau_train::run_sweep(&config, &options, None, &AtomicBool::new(false))?;
    let dir = plateau_train::sweep_dir(&config, Some(&out));
    for row in ResultsStore::new(&dir).latest()?.values() {
        println!(
            "{}: {} parameters, upstream test accuracy {:.3}",
            row.run_id,
            row.params,
            row.upstream.as_ref().map_or(f64::NAN, |u| u.test_accuracy)
        );
    }
    Ok(())
}
