//! Training on an image folder of one's own: writes a tiny folder (`root/<class>/<image>.png`,
//! four classes told apart by a bright corner), names it in a config, trains two widths on it
//! in this process and probes each model's features few-shot on a second folder.
//!
//! `cargo run --release --example own_folder [OUT_DIR]` (default `runs/examples`).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use plateau_train::{ResultsStore, SweepConfig, SweepOptions};

/// `per_class` 8×8 grey PNGs per class; class `c` is bright in corner `c`.
fn write_folder(root: &Path, per_class: usize, seed: usize) -> anyhow::Result<()> {
    for class in 0..4 {
        let dir = root.join(format!("corner{class}"));
        std::fs::create_dir_all(&dir)?;
        for i in 0..per_class {
            let image = image::GrayImage::from_fn(8, 8, |x, y| {
                let corner = (x / 4 + 2 * (y / 4)) as usize;
                let noise = ((seed + i * 31 + (x * 8 + y) as usize * 17) % 60) as u8;
                image::Luma([if corner == class { 180 } else { 20 } + noise])
            });
            image.save(dir.join(format!("{i:03}.png")))?;
        }
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let out = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("runs/examples"), PathBuf::from);
    let data = out.join("own-folder-data");
    write_folder(&data.join("train"), 40, 0)?;
    write_folder(&data.join("probe"), 20, 7)?;
    // Paths in a config are relative to the config file: here, the data folder itself.
    let text = r#"
name = "own-folder"
seed = 3
[upstream]
dataset = { folder = "train" }
val_fraction = 0.2
[train]
optimizer = "adamw"
lr = 1e-2
batch_size = 16
epochs = 3
[[downstream]]
dataset = { folder = "probe" }
shots = [1, 5]
seeds = 3
[[grid]]
preset = "mixer-tiny-p4"
width = [8, 16]
depth = [1]
"#;
    let config = SweepConfig::parse(&data.join("own.toml"), text, &[])?;
    let options = SweepOptions::quiet(Some(out.clone()));
    plateau_train::run_sweep(&config, &options, None, &AtomicBool::new(false))?;

    let dir = plateau_train::sweep_dir(&config, Some(&out));
    for row in ResultsStore::new(&dir).latest()?.values() {
        let upstream = row.upstream.as_ref().map_or(f64::NAN, |u| u.test_accuracy);
        print!(
            "{} (width {}): upstream {upstream:.3}",
            row.run_id, row.config["width"]
        );
        for probe in row.downstream.iter().filter(|d| d.layer == "pre_logits") {
            print!(
                ", {} {}-shot {:.3} ± {:.3}",
                probe.task, probe.shots, probe.accuracy_mean, probe.accuracy_std
            );
        }
        println!();
    }
    Ok(())
}
