//! The exported checkpoint is readable outside plateau: Python's `safetensors` package (PyPI)
//! loads it, with readable names, the shapes of the model, and the values plateau trained.

mod common;

use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::Device;
use plateau_models::{InputSpec, Model};

const READ: &str = r#"
import json, sys
from safetensors.numpy import load_file
tensors = load_file(sys.argv[1])
print(json.dumps({name: [list(t.shape), float(t.astype("float64").sum())] for name, t in tensors.items()}))
"#;

#[test]
fn python_reads_names_shapes_and_values() {
    let out = tempfile::tempdir().unwrap();
    let text = format!(
        r#"
name = "st"
out_dir = "{}"
[upstream]
dataset = "synthetic"
image_size = 8
train_examples = 100
val_examples = 50
test_examples = 50
[train]
optimizer = "adamw"
lr = 1e-3
batch_size = 50
epochs = 1
[[grid]]
model = {{ family = "vit", patch_size = 4, width = 16, depth = 2, heads = 2, mlp_dim = 32 }}
"#,
        out.path().display()
    );
    let rows = common::sweep_on_flex(&text);
    let file = out
        .path()
        .join("st")
        .join(&rows[0].run_id)
        .join("model.safetensors");

    common::ensure_python_safetensors();
    let tensors = common::python_json(READ, &[&file]);
    assert_eq!(
        tensors["blocks.0.attn.qkv.weight"][0],
        serde_json::json!([16, 48]),
        "{tensors}"
    );
    assert_eq!(
        tensors["blocks.1.mlp.fc1.weight"][0],
        serde_json::json!([16, 32])
    );
    assert_eq!(
        tensors["pos_embed"][0],
        serde_json::json!([1, 5, 16]),
        "4 patches + the class token"
    );
    assert_eq!(tensors["cls_token"][0], serde_json::json!([1, 1, 16]));
    assert_eq!(tensors["head.weight"][0], serde_json::json!([16, 10]));

    // The values Python sees are the ones plateau reads back.
    let config = rows[0].model.clone();
    let config: plateau_models::ModelConfig = serde_json::from_value(config).unwrap();
    let device = Device::flex();
    let mut model: Model = config.init(&InputSpec::new(1, 8, 10), &device).unwrap();
    model
        .load_from(&mut SafetensorsStore::from_file(&file).skip_enum_variants(true))
        .unwrap();
    let Model::Vit(vit) = &model else {
        panic!("a ViT")
    };
    let rust_sum: f64 = vit
        .head
        .weight
        .val()
        .into_data()
        .iter::<f32>()
        .map(f64::from)
        .sum();
    let python_sum = tensors["head.weight"][1].as_f64().unwrap();
    assert!(
        (rust_sum - python_sum).abs() < 1e-4,
        "rust {rust_sum} vs python {python_sum}"
    );
    assert!(python_sum != 0.0);
}
