//! A sweep on data of one's own, named in its config by where it lies: an image folder upstream
//! (relative to the config file), an `.npz` downstream. The sweep trains, probes and records as on
//! a registry set, and `plateau features` finds the data again from another folder.

use std::path::Path;
use std::process::Command;

use common::{result_rows, write_npz};

mod common;

/// `classes` folders of `per_class` 8×8 grey PNGs; each class a brighter square at its own corner.
fn image_folder(root: &Path, classes: usize, per_class: usize) {
    for class in 0..classes {
        let dir = root.join(format!("class{class}"));
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..per_class {
            let image = image::GrayImage::from_fn(8, 8, |x, y| {
                let corner = (x / 4 + 2 * (y / 4)) as usize;
                let noise = ((i * 37 + (x * 8 + y) as usize * 11) % 40) as u8;
                image::Luma([if corner == class { 200 } else { 30 } + noise])
            });
            image.save(dir.join(format!("{i:03}.png"))).unwrap();
        }
    }
}

/// An `.npz` with `images` (N×8×8 uint8) and `labels`, each class a brighter corner.
fn npz(path: &Path, classes: usize, per_class: usize) {
    let n = classes * per_class;
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for i in 0..n {
        let class = i % classes;
        for p in 0..64usize {
            let corner = (p % 8) / 4 + 2 * ((p / 8) / 4);
            pixels.push(if corner == class { 190 } else { 40 } + ((i * 13 + p * 7) % 30) as u8);
        }
        labels.push(class as i64);
    }
    write_npz(path, &[n, 8, 8], &pixels, &labels);
}

const CONFIG: &str = r#"
name = "own"
seed = 2
[upstream]
dataset = { folder = "data/corners" }
val_fraction = 0.2
test_fraction = 0.25
[train]
optimizer = "adamw"
lr = 1e-2
batch_size = 16
epochs = 3
[[downstream]]
dataset = { npz = "data/probe.npz" }
shots = [1, 5]
seeds = 2
[[grid]]
preset = "mixer-tiny-p4"
width = [8, 16]
depth = [1]
"#;

#[test]
fn a_sweep_trains_and_probes_on_an_image_folder_and_an_npz_named_in_its_config() {
    let work = tempfile::tempdir().unwrap();
    let study = work.path().join("study");
    image_folder(&study.join("data/corners"), 4, 30);
    npz(&study.join("data/probe.npz"), 4, 20);
    std::fs::write(study.join("own.toml"), CONFIG).unwrap();
    let out = work.path().join("out");

    // Run from another folder: the config's paths start at the config, not at the shell.
    let sweep = Command::new(env!("CARGO_BIN_EXE_plateau"))
        .arg("sweep")
        .arg(study.join("own.toml"))
        .arg("--out")
        .arg(&out)
        .current_dir(work.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&sweep.stderr);
    assert!(sweep.status.success(), "{stderr}");
    let rows = result_rows(&out.join("own"));
    assert_eq!(rows.len(), 2, "{stderr}");
    for row in &rows {
        assert_eq!(row["status"], "ok", "{row}");
        let accuracy = row["upstream"]["test_accuracy"].as_f64().unwrap();
        assert!(
            accuracy > 0.4,
            "4 classes told apart by a bright corner: {accuracy}"
        );
        let tasks: Vec<&str> = row["downstream"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["task"].as_str().unwrap())
            .collect();
        assert!(
            tasks.contains(&"probe"),
            "the task is named after its file: {tasks:?}"
        );
    }

    // `plateau features` reads the same npz back, from yet another folder.
    let run = out.join("own").join(rows[0]["run_id"].as_str().unwrap());
    let features = Command::new(env!("CARGO_BIN_EXE_plateau"))
        .arg("features")
        .arg(&run)
        .args(["--task", "probe", "--out"])
        .arg(work.path().join("f.safetensors"))
        .current_dir("/")
        .output()
        .unwrap();
    assert!(
        features.status.success(),
        "{}",
        String::from_utf8_lossy(&features.stderr)
    );
}
