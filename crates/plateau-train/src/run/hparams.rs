//! A run's hyper-parameters as trackers show them (TensorBoard's hparams dashboard, MLflow's
//! params): what a user filters and compares runs by. One list for every tracker, so a run reads
//! the same in each.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::run::spec::RunSpec;

/// The sweep's axes under their own names (`width`, `seed`, `lr`, …), the model's config as
/// `model.<field>` (lists as their JSON text), its preset, and its parameter count and forward
/// FLOPs per image, so runs can be filtered by size.
pub(crate) fn hyperparameters(
    axes: &BTreeMap<String, Value>,
    spec: &RunSpec,
) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    if let Ok(Value::Object(model)) = serde_json::to_value(&spec.model) {
        for (field, value) in model {
            let value = match value {
                Value::Array(_) | Value::Object(_) => Value::String(value.to_string()),
                scalar => scalar,
            };
            out.insert(format!("model.{field}"), value);
        }
    }
    if let Some(preset) = &spec.preset {
        out.insert("preset".into(), Value::String(preset.clone()));
    }
    if let Ok(cost) = spec.model.cost(&spec.input) {
        out.insert("params".into(), cost.params.into());
        out.insert("flops_per_image".into(), cost.flops.into());
    }
    out.extend(axes.iter().map(|(k, v)| (k.clone(), v.clone())));
    out
}

/// A hyper-parameter as text, as MLflow stores params: strings bare, the rest as JSON.
pub(crate) fn as_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
