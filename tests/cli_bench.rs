//! `plateau bench`: every family benchmarks on the CPU backend and reports its figures as JSON.

use std::process::Command;

fn bench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_plateau"))
        .arg("bench")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn every_family_reports_its_speed_as_json() {
    for (preset, family) in [
        ("resnet-cifar", "resnet"),
        ("vit-tiny-p4", "vit"),
        ("mixer-tiny-p4", "mixer"),
    ] {
        let output = bench(&[
            "--preset",
            preset,
            "--width",
            "8",
            "--depth",
            "1",
            "--image-size",
            "16",
            "--batch-size",
            "4",
            "--steps",
            "3",
            "--warmup",
            "1",
            "--threads",
            "1",
            "--format",
            "json",
        ]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{preset}: {stderr}");
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(json["family"], family);
        assert_eq!(json["backend"], "flex");
        assert_eq!(json["threads"], 1);
        assert_eq!(json["batch_size"], 4);
        assert_eq!(json["steps"], 3);
        assert!(json["params"].as_u64().unwrap() > 0);
        for timing in [&json, &json["eval"]] {
            let median = timing["step_ms_median"].as_f64().unwrap();
            let (min, max) = (
                timing["step_ms_min"].as_f64().unwrap(),
                timing["step_ms_max"].as_f64().unwrap(),
            );
            assert!(min > 0.0 && min <= median && median <= max, "{timing}");
            let rate = timing["images_per_second"].as_f64().unwrap();
            assert!(
                (rate - 4.0 / (median / 1e3)).abs() < 1e-6 * rate,
                "{timing}"
            );
            assert!(timing["gflops_per_second"].as_f64().unwrap() > 0.0);
        }
        // A training step is costed at three forward passes.
        let train_flops =
            json["gflops_per_second"].as_f64().unwrap() * json["step_ms_median"].as_f64().unwrap();
        let expected = 3.0 * json["flops_per_image"].as_f64().unwrap() * 4.0 / 1e6;
        assert!((train_flops - expected).abs() < 1e-6 * expected);
    }
}

#[test]
fn a_sweep_config_benchmarks_each_distinct_model_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bench.toml");
    std::fs::write(
        &config,
        r#"
name = "b"
[upstream]
dataset = "synthetic"
image_size = 16
train_examples = 100
[train]
optimizer = "adamw"
lr = 1e-3
batch_size = 8
epochs = 1
[[grid]]
preset = "mixer-tiny-p4"
width = [8, 16]
depth = [1]
seed = [0, 1, 2]
"#,
    )
    .unwrap();
    let output = bench(&[
        "--config",
        config.to_str().unwrap(),
        "--steps",
        "2",
        "--warmup",
        "0",
        "--format",
        "json",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "mixer-tiny-p4 depth=1 width=8",
            "mixer-tiny-p4 depth=1 width=16"
        ]
    );
    assert!(
        json.as_array()
            .unwrap()
            .iter()
            .all(|r| r["batch_size"] == 8)
    );
}

#[test]
fn bench_needs_a_model() {
    let output = bench(&["--steps", "1"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--preset") && stderr.contains("--config"),
        "{stderr}"
    );
}
