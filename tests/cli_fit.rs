//! `plateau fit` as a user runs it: on a CSV of points and on a sweep's results.jsonl.

use std::path::Path;
use std::process::{Command, Output};

fn plateau(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plateau"))
        .args(args)
        .output()
        .expect("the plateau binary runs")
}

fn stdout_json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// e_DS = 0.9 · e_US^1.4 + 0.3 at 25 upstream errors, with ±2 % alternating noise.
fn law_csv(path: &Path, header: &str) {
    let mut text = format!("{header}\n");
    for i in 0..25 {
        let up = 0.04 + 0.025 * i as f64;
        let noise = if i % 2 == 0 { 1.02 } else { 0.98 };
        let down = (0.9 * up.powf(1.4) + 0.3) * noise;
        text.push_str(&format!("{up},{down}\n"));
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn fit_json_gives_k_alpha_and_e_ir_with_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("points.csv");
    law_csv(&csv, "upstream_error,downstream_error");
    let csv = csv.to_str().unwrap();
    let fit = stdout_json(&plateau(&[
        "fit", csv, "--points", "all", "--format", "json",
    ]));
    for (name, truth) in [("k", 0.9), ("alpha", 1.4), ("e_ir", 0.3)] {
        let value = fit[name]
            .as_f64()
            .unwrap_or_else(|| panic!("{name} in {fit}"));
        let [low, high] = [0, 1].map(|i| fit[format!("{name}_ci")][i].as_f64().unwrap());
        assert!(
            low <= value && value <= high,
            "{name} {value} outside [{low}, {high}]"
        );
        assert!(
            low <= truth && truth <= high,
            "{name}: truth {truth} outside [{low}, {high}]"
        );
    }
    assert_eq!(fit["points"], 25);
    assert_eq!(fit["points_used"], 25);

    // x,y headers work too, and the table names the law and the parameters.
    let xy = dir.path().join("xy.csv");
    law_csv(&xy, "x,y");
    let out = plateau(&["fit", xy.to_str().unwrap(), "--bootstrap", "50"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains("e_DS = k * e_US^alpha + e_ir") && table.contains("frontier"),
        "{table}"
    );
}

#[test]
fn bad_input_names_the_file_the_line_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("bad.csv");
    std::fs::write(&csv, "upstream_error,downstream_error\n0.1,0.5\n0.2,oops\n").unwrap();
    let out = plateau(&["fit", csv.to_str().unwrap()]);
    assert!(!out.status.success());
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(
        error.contains("bad.csv") && error.contains("line 3") && error.contains("downstream_error"),
        "{error}"
    );

    std::fs::write(&csv, "a,b\n0.1,0.5\n").unwrap();
    let error =
        String::from_utf8_lossy(&plateau(&["fit", csv.to_str().unwrap()]).stderr).to_string();
    assert!(error.contains("upstream_error,downstream_error"), "{error}");

    let error = String::from_utf8_lossy(&plateau(&["fit", dir.path().to_str().unwrap()]).stderr)
        .to_string();
    assert!(error.contains("no results.jsonl"), "{error}");
}

/// A results.jsonl row as a sweep writes it.
fn row(id: &str, family: &str, params: u64, up_error: f64, down_error: f64) -> String {
    serde_json::json!({
        "run_id": id, "family": family, "preset": null, "config": {"width": params},
        "model": {}, "params": params, "flops_per_image": params * 20, "train_flops": params as f64 * 1e7,
        "backend": "flex", "status": "ok", "error": null,
        "upstream": {"test_accuracy": 1.0 - up_error, "val_accuracy": 1.0 - up_error, "test_loss": 1.0},
        "downstream": [{"task": "digits", "shots": 10, "layer": "pre_logits", "relative_depth": 1.0,
                        "accuracy_mean": 1.0 - down_error, "accuracy_std": 0.01, "seeds": 3}],
        "train_seconds": 1.0, "images_per_second": 10.0, "epochs": 1, "steps": 1
    })
    .to_string()
}

#[test]
fn fit_reads_a_sweep_and_fits_size_laws_per_family() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    for (family, offset) in [("resnet", 0.0), ("vit", 0.02)] {
        for i in 0..6 {
            let params = 10_000u64 * 2u64.pow(i);
            let up = 2.0 * (params as f64).powf(-0.3) + 0.05 + offset;
            let down = 0.8 * up.powf(1.2) + 0.2;
            lines.push(row(&format!("{family}{i}"), family, params, up, down));
        }
    }
    std::fs::write(dir.path().join("results.jsonl"), lines.join("\n") + "\n").unwrap();
    let sweep = dir.path().to_str().unwrap();

    let saturation = stdout_json(&plateau(&[
        "fit", sweep, "--task", "digits", "--shots", "10", "--points", "all", "--format", "json",
    ]));
    assert!(
        (saturation["e_ir"].as_f64().unwrap() - 0.2).abs() < 0.01,
        "{saturation}"
    );
    assert_eq!(saturation["runs_used"].as_array().unwrap().len(), 12);

    let sizes = stdout_json(&plateau(&[
        "fit", sweep, "--x", "params", "--points", "all", "--format", "json",
    ]));
    let fits = sizes["fits"].as_array().unwrap();
    assert_eq!(fits.len(), 2, "one size law per family");
    for (fit, c) in fits.iter().zip([0.05, 0.07]) {
        assert!((fit["b"].as_f64().unwrap() - 0.3).abs() < 0.01, "{fit}");
        assert!((fit["c"].as_f64().unwrap() - c).abs() < 0.005, "{fit}");
    }

    let error =
        String::from_utf8_lossy(&plateau(&["fit", sweep, "--task", "cifar"]).stderr).to_string();
    assert!(
        error.contains("digits (shots 10, layer pre_logits)"),
        "{error}"
    );
}
