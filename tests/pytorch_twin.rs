//! PyTorch reproduces plateau's models: for a run of each family (and a BiT-style ResNet:
//! bottleneck blocks, pre-activation, GroupNorm, weight-standardised convs), `model.safetensors`
//! loaded into the PyTorch twin of `benches/reference/torch_models.py` gives the logits plateau
//! gives on the run's own test images (`plateau logits`), within 1e-4 relative or 1e-5 absolute,
//! and the same test accuracy as the run recorded.
//!
//! PyTorch is Debian's (`apt-get install python3-torch`) under Debian's `/usr/bin/python3`.
//! Without it the test says so and passes, unless `PLATEAU_REQUIRE_TORCH=1` (CI sets it).

use std::path::Path;
use std::process::Command;

use common::result_rows;

mod common;

const PYTHON: &str = "/usr/bin/python3";

const CONFIG: &str = r#"
name = "twins"
seed = 4
[upstream]
dataset = "synthetic"
image_size = 16
train_examples = 400
val_examples = 100
test_examples = 200
[train]
optimizer = "adamw"
lr = 3e-3
batch_size = 50
epochs = 1
[[grid]]
preset = "resnet-cifar"
width = [4]
[[grid]]
model = { family = "resnet", block = "bottleneck", stage_depths = [1, 1], base_width = 4, norm = "group", norm_groups = 2, preactivation = true }
[[grid]]
preset = "vit-tiny-p4"
width = [16]
depth = [1]
[[grid]]
model = { family = "vit", patch_size = 4, width = 16, depth = 1, heads = 2, mlp_dim = 32, pool = "cls" }
[[grid]]
preset = "mixer-tiny-p4"
width = [16]
depth = [1]
"#;

fn torch_available() -> bool {
    Command::new(PYTHON)
        .args(["-c", "import torch"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn pytorch_twins_give_plateau_s_logits_and_accuracy_for_every_family() {
    if !torch_available() {
        assert!(
            std::env::var_os("PLATEAU_REQUIRE_TORCH").is_none(),
            "PLATEAU_REQUIRE_TORCH is set but {PYTHON} cannot import torch \
             (apt-get install python3-torch)"
        );
        eprintln!("skipped: {PYTHON} has no torch (apt-get install python3-torch)");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("twins.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let out = work.path().join("out");
    let sweep = Command::new(env!("CARGO_BIN_EXE_plateau"))
        .arg("sweep")
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        sweep.status.success(),
        "{}",
        String::from_utf8_lossy(&sweep.stderr)
    );
    let rows = result_rows(&out.join("twins"));
    assert_eq!(rows.len(), 5);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/reference/reproduce.py");
    let mut families = std::collections::BTreeSet::new();
    for row in &rows {
        let run = out.join("twins").join(row["run_id"].as_str().unwrap());
        let exported = work.path().join("logits.safetensors");
        let logits = Command::new(env!("CARGO_BIN_EXE_plateau"))
            .arg("logits")
            .arg(&run)
            .arg("--out")
            .arg(&exported)
            .output()
            .unwrap();
        assert!(
            logits.status.success(),
            "{}",
            String::from_utf8_lossy(&logits.stderr)
        );
        let twin = Command::new(PYTHON)
            .arg(&script)
            .arg(&run)
            .arg(&exported)
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&twin.stdout);
        assert!(
            twin.status.success(),
            "{}: {report}\n{}",
            run.display(),
            String::from_utf8_lossy(&twin.stderr)
        );
        let report: serde_json::Value = serde_json::from_str(report.trim()).unwrap();
        assert_eq!(report["mismatched_logits"], 0, "{report}");
        assert_eq!(
            report["twin_accuracy"], row["upstream"]["test_accuracy"],
            "{report}"
        );
        families.insert(report["family"].as_str().unwrap().to_string());
    }
    assert_eq!(families.len(), 3, "{families:?}");
}
