//! `plateau params` as a user runs it.

use std::process::{Command, Output};

fn plateau(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plateau"))
        .args(args)
        .output()
        .expect("the plateau binary runs")
}

#[test]
fn vit_b16_json_gives_the_published_count() {
    let out = plateau(&[
        "params",
        "--preset",
        "vit-b16",
        "--image-size",
        "224",
        "--num-classes",
        "1000",
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = &rows.as_array().unwrap()[0];
    assert_eq!(row["name"], "vit-b16");
    assert_eq!(row["family"], "vit");
    assert_eq!(row["params"], 86_567_656);
    assert!(row["flops"].as_u64().unwrap() > 35_000_000_000);
}

#[test]
fn lists_every_preset_and_honours_the_input_flags() {
    let out = plateau(&["params", "--format", "json"]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        rows.as_array().unwrap().len(),
        plateau_models::PRESETS.len()
    );

    let out = plateau(&[
        "params",
        "--preset",
        "resnet-cifar,mixer-tiny-p4",
        "--in-channels",
        "1",
        "--image-size",
        "28",
        "--num-classes",
        "7",
        "--width",
        "32",
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["input"]["channels"], 1);
    assert_eq!(rows[0]["input"]["num_classes"], 7);
    assert_eq!(rows[1]["config"]["hidden_dim"], 32);
}

#[test]
fn table_shows_counts_with_separators() {
    let out = plateau(&["params", "--preset", "resnet50"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("25,557,032"), "{text}");
}

#[test]
fn unknown_preset_exits_2_with_the_valid_names() {
    let out = plateau(&["params", "--preset", "vit-h14"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("vit-h14") && stderr.contains("mixer-b16"),
        "{stderr}"
    );
}

#[test]
fn impossible_shape_exits_2_naming_the_field() {
    let out = plateau(&["params", "--preset", "vit-tiny-p4", "--image-size", "30"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("vit.patch_size") && stderr.contains("image_size = 30"),
        "{stderr}"
    );
}

#[test]
fn a_backend_not_compiled_in_names_its_feature() {
    if cfg!(feature = "cuda") {
        return;
    }
    let out = plateau(&["--backend", "cuda", "params", "--preset", "resnet18"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--features cuda"), "{stderr}");
}

#[test]
fn depth_sets_the_number_of_blocks() {
    let output = plateau(&[
        "params",
        "--preset",
        "vit-tiny-p4",
        "--depth",
        "2",
        "--format",
        "json",
    ]);
    assert!(output.status.success());
    let rows: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(rows[0]["config"]["depth"], 2);
    assert_eq!(rows[0]["name"], "vit-tiny-p4@depth=2");
    let full = plateau(&["params", "--preset", "vit-tiny-p4", "--format", "json"]);
    let full: serde_json::Value = serde_json::from_slice(&full.stdout).unwrap();
    assert!(
        rows[0]["params"].as_u64() < full[0]["params"].as_u64(),
        "fewer blocks, fewer params"
    );
}
