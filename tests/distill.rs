//! Distillation through the binary: a teacher of the grid is trained first and its students
//! record it (its accuracy as measured on their test split, their agreement and KL, and its
//! forward pass in their compute); the fits give one size law per curve; an external teacher is
//! named by the hash of its weights, never written to, kept out of its students' weights, and
//! refused when it does not fit the data.

use std::path::Path;
use std::process::{Command, Output};

use common::{fitted_conditions, result_rows};

mod common;

const CONFIG: &str = r#"
name = "distil"
seed = 1
[upstream]
dataset = "synthetic"
image_size = 16
train_examples = 500
val_examples = 100
test_examples = 200
[train]
optimizer = "adamw"
lr = 1e-2
batch_size = 50
epochs = 2
[distill]
TEACHER
temperature = 2.0
[[grid]]
preset = "mixer-tiny-p4"
width = WIDTHS
depth = [1]
distill = DISTILL
"#;

fn config(dir: &Path, teacher: &str, widths: &str, distill: &str) -> std::path::PathBuf {
    let path = dir.join("distil.toml");
    let text = CONFIG
        .replace("TEACHER", teacher)
        .replace("WIDTHS", widths)
        .replace("DISTILL", distill);
    std::fs::write(&path, text).unwrap();
    path
}

fn plateau(args: &[&str], config: &Path, out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plateau"))
        .args(args)
        .arg(config)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

fn sweep(config: &Path, out: &Path) -> Vec<serde_json::Value> {
    let output = plateau(&["sweep"], config, out);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    result_rows(&out.join("distil"))
}

/// Tensor names and shapes of a `.safetensors` file, from its JSON header.
fn tensors(path: &Path) -> Vec<(String, serde_json::Value)> {
    let bytes = std::fs::read(path).unwrap();
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
    let mut found: Vec<(String, serde_json::Value)> = header
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, _)| *name != "__metadata__")
        .map(|(name, t)| (name.clone(), t["shape"].clone()))
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

#[test]
fn students_of_a_grid_teacher_record_it_and_fit_a_curve_of_their_own() {
    let work = tempfile::tempdir().unwrap();
    let teacher = "teacher = { preset = \"mixer-tiny-p4\", width = 24, depth = 1 }";
    let config = config(work.path(), teacher, "[8, 16, 24]", "[false, true]");
    let rows = sweep(&config, &work.path().join("out"));
    assert_eq!(rows.len(), 6);
    // The teacher is trained first, whatever its place in the grid.
    let teacher = &rows[0];
    assert_eq!(teacher["config"]["width"], 24);
    assert_eq!(teacher["config"]["distill"], false);
    for row in &rows {
        let distilled = row["config"]["distill"] == true;
        let record = &row["distillation"];
        assert_eq!(record.is_null(), !distilled, "{row}");
        if !distilled {
            continue;
        }
        assert_eq!(record["teacher_run"], teacher["run_id"]);
        assert_eq!(record["teacher_params"], teacher["params"]);
        assert_eq!(record["temperature"], 2.0);
        assert_eq!(record["ce_weight"], 0.0);
        // Measured on the same test split as the teacher's own row.
        assert_eq!(
            record["teacher_test_accuracy"],
            teacher["upstream"]["test_accuracy"]
        );
        let agreement = record["agreement"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&agreement) && record["kl"].as_f64().unwrap() >= 0.0);
        // Every student step also ran the teacher forward.
        let own = 3.0 * row["flops_per_image"].as_f64().unwrap();
        let per_image = row["train_flops"].as_f64().unwrap() / 1000.0;
        let teacher_forward = record["teacher_flops_per_image"].as_f64().unwrap();
        assert!(
            (per_image - own - teacher_forward).abs() < 1e-6 * per_image,
            "{row}"
        );
    }
    // One size law per curve.
    let curves = fitted_conditions(&work.path().join("out/distil"), "distill");
    assert_eq!(curves, ["\"false\"", "\"true\""]);
}

#[test]
fn an_external_teacher_is_named_by_its_weights_left_untouched_and_checked_against_the_data() {
    let work = tempfile::tempdir().unwrap();
    let unused = "teacher = { preset = \"mixer-tiny-p4\", width = 16, depth = 1 }";
    // The teacher's own sweep: two sizes from scratch.
    let first = config(work.path(), unused, "[8, 16]", "[false]");
    let trained = sweep(&first, &work.path().join("a"));
    let big = trained.iter().find(|r| r["config"]["width"] == 16).unwrap();
    let small = trained.iter().find(|r| r["config"]["width"] == 8).unwrap();
    let teacher_dir = work
        .path()
        .join("a/distil")
        .join(big["run_id"].as_str().unwrap());
    let weights = std::fs::read(teacher_dir.join("model.safetensors")).unwrap();

    let external = format!("teacher = {{ run_dir = \"{}\" }}", teacher_dir.display());
    let second = config(work.path(), &external, "[8]", "[true]");
    let rows = sweep(&second, &work.path().join("b"));
    let student = &rows[0];
    let teacher_run = student["distillation"]["teacher_run"].as_str().unwrap();
    assert!(teacher_run.starts_with("weights-"), "{student}");
    assert_eq!(
        std::fs::read(teacher_dir.join("model.safetensors")).unwrap(),
        weights,
        "the teacher's weights were written to"
    );
    // The student's weights are a width-8 model's, with nothing of the teacher in them.
    let student_weights = work
        .path()
        .join("b/distil")
        .join(student["run_id"].as_str().unwrap());
    let scratch = work
        .path()
        .join("a/distil")
        .join(small["run_id"].as_str().unwrap());
    assert_eq!(
        tensors(&student_weights.join("model.safetensors")),
        tensors(&scratch.join("model.safetensors"))
    );

    // A teacher of other classes is refused before anything trains, naming the field.
    let fewer = std::fs::read_to_string(&second)
        .unwrap()
        .replace("image_size = 16", "image_size = 16\nclasses = [0, 1, 2]");
    std::fs::write(&second, fewer).unwrap();
    let refused = plateau(&["sweep"], &second, &work.path().join("c"));
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        error.contains("distill.teacher.run_dir") && error.contains("into 10 classes"),
        "{error}"
    );
    assert!(!work.path().join("c/distil").exists(), "nothing may train");
}
