//! A config edited between two sweeps into the same folder plans other runs (a run's id is the
//! hash of its spec): the sweep says which folders are runs of the earlier version, keeps them,
//! and says how to keep the two studies apart.

use std::process::{Command, Stdio};

const CONFIG: &str = r#"
name = "edited"
[upstream]
dataset = "synthetic"
image_size = 8
train_examples = 100
val_examples = 20
test_examples = 20
[train]
optimizer = "adamw"
lr = 1e-2
batch_size = 50
epochs = 1
[[grid]]
preset = "mixer-tiny-p4"
width = [8]
depth = [1]
"#;

fn sweep(dir: &std::path::Path, set: &[&str]) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_plateau"));
    command
        .arg("sweep")
        .arg(dir.join("edited.toml"))
        .arg("--out")
        .arg(dir.join("out"));
    for assignment in set {
        command.arg("--set").arg(assignment);
    }
    let output = command.stdin(Stdio::null()).output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn runs_of_an_earlier_version_of_the_config_are_named_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("edited.toml"), CONFIG).unwrap();
    let (ok, first) = sweep(dir.path(), &[]);
    assert!(ok, "{first}");
    assert!(!first.contains("note:"), "{first}");
    let sweep_dir = dir.path().join("out").join("edited");
    let old: Vec<String> = std::fs::read_dir(&sweep_dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("config.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(old.len(), 1);

    let (ok, edited) = sweep(dir.path(), &["train.lr=3e-3"]);
    assert!(ok, "{edited}");
    assert!(
        edited.contains("note: 1 run folder(s)") && edited.contains(&old[0]),
        "{edited}"
    );
    assert!(edited.contains("another `name`"), "{edited}");
    assert!(
        sweep_dir.join(&old[0]).join("result.json").is_file(),
        "kept"
    );
}
