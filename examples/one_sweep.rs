//! A sweep from a TOML string, trained in this process, its results read back through the
//! library and a saturation law fitted to them: `plateau sweep` without the command line.
//!
//! `cargo run --release --example one_sweep [OUT_DIR]` (default `runs/examples`; a rerun trains
//! nothing, as with `plateau sweep`).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use plateau_metrics::fit::study::{self, Query};
use plateau_train::{ResultsStore, SweepConfig, SweepOptions};

const CONFIG: &str = r#"
name = "one-sweep"
seed = 1

[upstream]
dataset = "synthetic"   # generated in memory: no download
image_size = 16
train_examples = 1000
val_examples = 100
test_examples = 200

[train]
optimizer = "adamw"
lr = 3e-3
batch_size = 50
epochs = 2

[[downstream]]
dataset = "synthetic"
name = "probe"
classes = [0, 1, 2, 3, 4]
shots = [1, 5]
seeds = 2
test_examples = 200

[[grid]]
preset = "mixer-tiny-p4"
width = [8, 16, 32]
depth = [1]
"#;

fn main() -> anyhow::Result<()> {
    let out = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("runs/examples"), PathBuf::from);
    // The path only names the config in error messages (and anchors relative data paths).
    let config = SweepConfig::parse(Path::new("one_sweep.toml"), CONFIG, &[])?;
    let options = SweepOptions::quiet(Some(out.clone()));
    // A signal handler would set this to stop at the next step; nothing does here.
    let stop = AtomicBool::new(false);
    // `None`: every run trains in this process, not in a process of its own.
    let outcome = plateau_train::run_sweep(&config, &options, None, &stop)?;
    println!(
        "{} run(s) trained now, {} failed",
        outcome.trained.len(),
        outcome.failed.len()
    );

    let dir = plateau_train::sweep_dir(&config, Some(&out));
    let rows: Vec<_> = ResultsStore::new(&dir).latest()?.into_values().collect();
    for row in &rows {
        let upstream = row.upstream.as_ref().map_or(f64::NAN, |u| u.test_accuracy);
        println!(
            "{} {:>7} params: upstream test accuracy {upstream:.3}",
            row.run_id, row.params
        );
    }

    // The saturation law over the runs, as `plateau fit` prints it.
    let query = Query {
        shots: Some(5),
        ..Query::default()
    };
    let series = study::series_from_rows(&rows, &query, &plateau_train::axis_meanings())?;
    match study::fit_series(series, &query) {
        Ok(fits) => print!("{}", study::fits_table(&fits)),
        Err(error) => println!("no fit: {error}"),
    }
    Ok(())
}
