//! `plateau features` exports exactly what the probes used: numpy, re-implementing the probe
//! from the file alone, reproduces every accuracy the sweep reported.

mod common;

use plateau_train::Backend;
use plateau_train::features::export_features;

/// The probe of the file's metadata, in numpy: per shot count, the accuracy of every seed.
const PROBE: &str = r#"
import json, sys
import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file
path = sys.argv[1]
t = load_file(path)
with safe_open(path, "np") as f:
    meta = f.metadata()
l2, bias, eps = float(meta["l2_reg"]), float(meta["bias_value"]), float(meta["std_epsilon"])
classes = int(meta["classes"])
pool, test = t["pool_features"].astype(np.float64), t["test_features"].astype(np.float64)
out = {}
for k in json.loads(meta["shots"]):
    accuracies = []
    for seed in json.loads(meta["seeds"]):
        rows = t[f"fewshot.seed{seed}.shots{k}"]
        x, y = pool[rows], t["pool_labels"][rows]
        mean, std = x.mean(0), x.std(0)
        prep = lambda a: np.hstack([(a - mean) / (std + eps), np.full((len(a), 1), bias)])
        xs, targets = prep(x), 2 * np.eye(classes)[y] - 1
        n, d = xs.shape
        if n >= d:
            w = np.linalg.solve(xs.T @ xs + l2 * np.eye(d), xs.T @ targets)
        else:
            w = xs.T @ np.linalg.solve(xs @ xs.T + l2 * np.eye(n), targets)
        accuracies.append(float(((prep(test) @ w).argmax(1) == t["test_labels"]).mean()))
    out[str(k)] = accuracies
print(json.dumps(out))
"#;

#[test]
fn numpy_reproduces_the_reported_probe_accuracies_from_the_export() {
    let out = tempfile::tempdir().unwrap();
    let text = format!(
        r#"
name = "feat"
out_dir = "{}"
[upstream]
dataset = "synthetic"
image_size = 8
train_examples = 300
val_examples = 50
test_examples = 50
[train]
optimizer = "adamw"
lr = 3e-3
batch_size = 50
epochs = 1
[[downstream]]
dataset = "synthetic"
name = "probe"
classes = [0, 1, 2, 3, 4, 5]
shots = [1, 5, 10]
seeds = 3
layers = "all"
test_examples = 120
[[grid]]
preset = "mixer-tiny-p4"
width = [16]
depth = [2]
"#,
        out.path().display()
    );
    let rows = common::sweep_on_flex(&text);
    let run_dir = out.path().join("feat").join(&rows[0].run_id);
    common::ensure_python_safetensors();

    for layer in ["pre_logits", "block01"] {
        let file = out.path().join(format!("{layer}.safetensors"));
        let exported = export_features(&run_dir, "probe", layer, &file, Backend::Flex).unwrap();
        assert_eq!((exported.pool_rows > 0, exported.test_rows), (true, 120));
        let numpy = common::python_json(PROBE, &[&file]);
        for (shots, per_seed) in &exported.accuracies {
            let reported = rows[0]
                .downstream
                .iter()
                .find(|d| d.task == "probe" && d.layer == layer && d.shots == *shots)
                .unwrap();
            let from_numpy: Vec<f64> = numpy[shots.to_string()]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            assert_eq!(
                &from_numpy, per_seed,
                "{layer} {shots}-shot: numpy vs plateau"
            );
            let mean = from_numpy.iter().sum::<f64>() / from_numpy.len() as f64;
            assert!(
                (mean - reported.accuracy_mean).abs() < 1e-12,
                "{layer} {shots}-shot: numpy {mean} vs reported {}",
                reported.accuracy_mean
            );
        }
    }

    let error = export_features(
        &run_dir,
        "cifar",
        "pre_logits",
        &out.path().join("x"),
        Backend::Flex,
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("no downstream task `cifar`") && error.contains("probe"),
        "{error}"
    );
}
