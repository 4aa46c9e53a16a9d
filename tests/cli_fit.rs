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

/// `y = a·x^(−b) + c` at `n` sizes from 1e4 up by factors of 3, with ±1 % alternating noise.
fn size_law_csv(path: &Path, c: f64, n: usize, training: Option<usize>) {
    let mut text = String::from(match training {
        Some(_) => "x,y,training\n",
        None => "x,y\n",
    });
    for i in 0..n {
        let x = 1e4 * 3f64.powi(i as i32);
        let noise = if i % 2 == 0 { 1.01 } else { 0.99 };
        let y = (4.0 * x.powf(-0.35) + c) * noise;
        match training {
            Some(kept) => text.push_str(&format!("{x},{y},{}\n", u8::from(i < kept))),
            None => text.push_str(&format!("{x},{y}\n")),
        }
    }
    std::fs::write(path, text).unwrap();
}

fn law(x: f64, c: f64) -> f64 {
    4.0 * x.powf(-0.35) + c
}

#[test]
fn predictions_and_targets_answer_with_intervals_and_a_target_below_the_floor_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("size.csv");
    size_law_csv(&csv, 0.1, 14, None);
    let csv = csv.to_str().unwrap();
    let reachable = law(3e7, 0.1);
    let fit = stdout_json(&plateau(&[
        "fit",
        csv,
        "--law",
        "size",
        "--points",
        "all",
        "--at",
        "1e6",
        "--at",
        "1e9",
        "--target",
        &reachable.to_string(),
        "--target",
        "0.05",
        "--format",
        "json",
        "--bootstrap",
        "200",
    ]));
    let predictions = fit["predictions"].as_array().unwrap();
    assert_eq!(predictions.len(), 2);
    for p in predictions {
        let (x, y) = (p["x"].as_f64().unwrap(), p["y"].as_f64().unwrap());
        assert!((y / law(x, 0.1) - 1.0).abs() < 0.02, "{p}");
        let [low, high] = [0, 1].map(|i| p["y_ci"][i].as_f64().unwrap());
        assert!(low <= y && y <= high && high - low < 0.05, "{p}");
    }
    let targets = fit["targets"].as_array().unwrap();
    let x = targets[0]["x"].as_f64().unwrap();
    assert!(
        (x / 3e7).ln().abs() < 0.25,
        "the analytic inverse: {}",
        targets[0]
    );
    assert!(targets[0]["reachable_share"].as_f64().unwrap() > 0.9);
    // 0.05 is below the floor of 0.1: no size reaches it.
    assert!(targets[1]["x"].is_null(), "{}", targets[1]);
    assert!(targets[1]["reachable_share"].as_f64().unwrap() < 0.05);
    assert!((targets[1]["floor"].as_f64().unwrap() - 0.1).abs() < 0.01);
    assert_eq!(fit["floor_identified"], true, "{fit}");

    let table = String::from_utf8(
        plateau(&[
            "fit",
            csv,
            "--law",
            "size",
            "--target",
            "0.05",
            "--bootstrap",
            "50",
        ])
        .stdout,
    )
    .unwrap();
    assert!(table.contains("unreachable at any scale"), "{table}");
}

#[test]
fn a_held_out_tail_is_checked_and_auto_picks_the_law_that_foresees_it() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("size.csv");
    size_law_csv(&csv, 0.1, 14, None);
    let csv = csv.to_str().unwrap();
    let fit = stdout_json(&plateau(&[
        "fit",
        csv,
        "--law",
        "size",
        "--points",
        "all",
        "--holdout",
        "3",
        "--format",
        "json",
        "--bootstrap",
        "200",
    ]));
    let holdout = &fit["holdout"];
    assert_eq!(holdout["k"], 3, "{fit}");
    assert!(holdout["rmse_log"].as_f64().unwrap() < 0.05, "{holdout}");
    assert!(
        holdout["inside_interval"].as_u64().unwrap() >= 2,
        "{holdout}"
    );
    assert_eq!(fit["points_used"], 11);

    // The same split from a `training` column; a --holdout that disagrees is an error.
    let marked = dir.path().join("marked.csv");
    size_law_csv(&marked, 0.1, 14, Some(11));
    let marked = marked.to_str().unwrap();
    let same = stdout_json(&plateau(&[
        "fit",
        marked,
        "--law",
        "size",
        "--points",
        "all",
        "--format",
        "json",
        "--bootstrap",
        "200",
    ]));
    assert_eq!(same["holdout"]["k"], 3);
    assert_eq!(same["holdout"]["rmse_log"], holdout["rmse_log"]);
    let out = plateau(&["fit", marked, "--law", "size", "--holdout", "2"]);
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && error.contains("--holdout 3"),
        "{error}"
    );

    // auto: every law fitted to the CSV, each checked on the held-out points.
    let auto = stdout_json(&plateau(&[
        "fit",
        csv,
        "--law",
        "auto",
        "--points",
        "all",
        "--format",
        "json",
        "--bootstrap",
        "100",
    ]));
    let tried = auto["laws_tried"].as_array().unwrap();
    assert_eq!(tried.len(), 3, "{auto}");
    let best = tried
        .iter()
        .min_by(|a, b| {
            let e = |v: &serde_json::Value| v["holdout_rmse_log"].as_f64().unwrap();
            e(a).total_cmp(&e(b))
        })
        .unwrap();
    assert_eq!(auto["law_form"], best["law_form"], "{auto}");
    assert_ne!(
        auto["law_form"], "saturation",
        "a falling curve is not a saturation law"
    );
}

#[test]
fn a_pure_power_law_does_not_identify_a_floor() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("pure.csv");
    size_law_csv(&csv, 0.0, 10, None);
    let csv = csv.to_str().unwrap();
    let fit = stdout_json(&plateau(&[
        "fit",
        csv,
        "--law",
        "size",
        "--points",
        "all",
        "--format",
        "json",
        "--bootstrap",
        "100",
    ]));
    assert_eq!(fit["floor_identified"], false, "{fit}");
    assert!(
        fit["floor_note"]
            .as_str()
            .unwrap()
            .contains("larger models")
    );
    let [low, high] = [0, 1].map(|i| fit["c_ci"][i].as_f64().unwrap());
    let c = fit["c"].as_f64().unwrap();
    assert!(
        low <= c && c <= high,
        "the estimate lies in its interval: {fit}"
    );
}

#[test]
fn laws_and_x_must_agree_and_where_names_unknown_axes() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (0..6)
        .map(|i| {
            let params = 10_000u64 * 2u64.pow(i);
            let up = 2.0 * (params as f64).powf(-0.3) + 0.05;
            row(&format!("r{i}"), "vit", params, up, 0.8 * up + 0.1)
        })
        .collect();
    std::fs::write(dir.path().join("results.jsonl"), lines.join("\n") + "\n").unwrap();
    let sweep = dir.path().to_str().unwrap();
    let error = |args: &[&str]| {
        let out = plateau(args);
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let mismatch = error(&["fit", sweep, "--law", "size"]);
    assert!(
        mismatch.contains("--law size") && mismatch.contains("--x upstream_error"),
        "{mismatch}"
    );
    let mismatch = error(&["fit", sweep, "--x", "params", "--law", "saturation"]);
    assert!(
        mismatch.contains("--law saturation") && mismatch.contains("--x params"),
        "{mismatch}"
    );
    let unknown = error(&["fit", sweep, "--x", "params", "--where", "label_noise=0.2"]);
    assert!(
        unknown.contains("label_noise") && unknown.contains("width"),
        "{unknown}"
    );
    // A known axis filters: one run of six is left, too few to fit, and the error says so.
    let one = error(&["fit", sweep, "--x", "params", "--where", "width=10000"]);
    assert!(one.contains("3 or more") && one.contains("got 1"), "{one}");
}

#[test]
fn a_curve_that_bends_from_its_initial_error_is_foreseen_best_by_the_bent_law() {
    // (y − 0.15)/(0.9 − y)^1.5 = 400·x^(−0.5): x for each y in closed form, ±0.5 % noise on y.
    let (e0, e_inf, alpha, beta, c) = (0.9f64, 0.15f64, 1.5f64, 400.0f64, 0.5f64);
    let mut text = String::from("x,y\n");
    for i in 0..12 {
        let y = 0.85 - 0.055 * i as f64;
        let left = (y - e_inf).ln() - alpha * (e0 - y).ln();
        let x = ((beta.ln() - left) / c).exp();
        let noise = if i % 2 == 0 { 1.005 } else { 0.995 };
        text.push_str(&format!("{x},{}\n", y * noise));
    }
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("bent.csv");
    std::fs::write(&csv, text).unwrap();
    let auto = stdout_json(&plateau(&[
        "fit",
        csv.to_str().unwrap(),
        "--law",
        "auto",
        "--holdout",
        "3",
        "--points",
        "all",
        "--bootstrap",
        "50",
        "--format",
        "json",
    ]));
    let error_of = |law: &str| {
        auto["laws_tried"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["law_form"] == law)
            .and_then(|t| t["holdout_rmse_log"].as_f64())
            .unwrap()
    };
    assert!(error_of("bent") < error_of("size"), "{auto}");
    assert_eq!(auto["law_form"], "bent", "{auto}");
    assert!(
        auto["holdout"]["inside_interval"].as_u64().unwrap() >= 2,
        "{auto}"
    );
}
