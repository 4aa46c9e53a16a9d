//! `plateau features`: the exact features, labels and few-shot draws a run's probe of one task
//! used, written as safetensors so anyone can re-check the probe with numpy or scikit-learn.
//!
//! File layout (all row-major):
//! - `pool_features` f32 `[n_pool, dim]`, `pool_labels` i64 `[n_pool]`, `pool_indices` i64
//!   `[n_pool]` (which examples of the task's few-shot pool these rows are);
//! - `test_features` f32 `[n_test, dim]`, `test_labels` i64 `[n_test]`;
//! - `fewshot.seed<S>.shots<K>` i64 `[K × classes]`: rows of `pool_features` of each draw;
//! - metadata: task, layer, run, the probe's settings, and the accuracies per draw.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::run::checkpoint::{canonical_safetensors, read_safetensors};
use anyhow::{Context, Result};
use burn::module::Module;
use plateau_metrics::fewshot::{ProbeConfig, STD_EPSILON};
use safetensors::tensor::{Dtype, TensorView};

use crate::Backend;
use crate::run::data::DownstreamTask;
use crate::run::measure::probe::{probe_accuracies, task_features};
use crate::run::spec::RunSpec;
use crate::run::summary::read_summary;

/// What an export wrote.
#[derive(Debug)]
pub struct Exported {
    pub path: PathBuf,
    pub task: String,
    pub layer: String,
    pub dim: usize,
    pub pool_rows: usize,
    pub test_rows: usize,
    /// Accuracy per seed, per shot count, recomputed from the exported arrays.
    pub accuracies: Vec<(usize, Vec<f64>)>,
    /// The accuracy the run reported (mean over seeds) per shot count, when recorded.
    pub reported: Vec<(usize, f64)>,
}

/// A finished run's spec and its trained model (in evaluation mode), from its folder.
pub(crate) fn load_trained(
    run_dir: &Path,
    backend: Backend,
) -> Result<(RunSpec, plateau_models::Model, burn::prelude::Device)> {
    let config_path = run_dir.join("config.json");
    let spec: RunSpec = serde_json::from_slice(
        &std::fs::read(&config_path)
            .with_context(|| format!("{}: not a run folder", run_dir.display()))?,
    )
    .with_context(|| format!("{}: corrupt run config", config_path.display()))?;
    let weights = run_dir.join("model.safetensors");
    anyhow::ensure!(
        weights.is_file(),
        "{}: the run has no model.safetensors yet; finish it with `plateau sweep`",
        run_dir.display()
    );
    let device = backend.device()?;
    let bytes = std::fs::read(&weights).with_context(|| weights.display().to_string())?;
    let model =
        read_safetensors(spec.model.init(&spec.input, &device)?, bytes).with_context(|| {
            format!(
                "{}: cannot load the weights (damaged or not this run's); delete the run's \
                 folder and rerun its sweep to train it again",
                weights.display()
            )
        })?;
    Ok((spec, model.valid(), device))
}

/// Exports the probe inputs of `task` at `layer` for the finished run in `run_dir`.
pub fn export_features(
    run_dir: &Path,
    task_name: &str,
    layer: &str,
    out: &Path,
    backend: Backend,
) -> Result<Exported> {
    let (spec, model, device) = load_trained(run_dir, backend)?;
    let task_config = spec
        .downstream
        .iter()
        .find(|t| t.task_name() == task_name)
        .with_context(|| {
            let names: Vec<&str> = spec.downstream.iter().map(|t| t.task_name()).collect();
            format!(
                "run {} has no downstream task `{task_name}`; its tasks: {}",
                run_dir.display(),
                names.join(", ")
            )
        })?;
    let task = DownstreamTask::load(
        task_config,
        spec.input,
        spec.data_base(),
        spec.data_seed,
        false,
    )?;

    let features = task_features(&model, &spec, &task, Some(layer), &device)?;
    let probed = &features.layers[0];

    let mut accuracies = Vec::new();
    for &shots in &features.shots {
        accuracies.push((shots, probe_accuracies(&features, probed, shots)?));
    }
    let reported: Vec<(usize, f64)> = read_summary(run_dir)
        .map(|summary| {
            summary
                .downstream
                .iter()
                .filter(|d| d.task == task_name && d.layer == layer)
                .map(|d| (d.shots, d.accuracy_mean))
                .collect()
        })
        .unwrap_or_default();

    // Tensors (as little-endian bytes) and metadata.
    let as_i64 = |values: &mut dyn Iterator<Item = usize>| -> Vec<u8> {
        values.flat_map(|v| (v as i64).to_le_bytes()).collect()
    };
    let as_f32 =
        |values: &[f32]| -> Vec<u8> { values.iter().flat_map(|v| v.to_le_bytes()).collect() };
    let (n_pool, n_test) = (features.pool_indices.len(), features.test_labels.len());
    let mut tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = vec![
        (
            "pool_features".into(),
            Dtype::F32,
            vec![n_pool, probed.dim],
            as_f32(&probed.pool),
        ),
        (
            "test_features".into(),
            Dtype::F32,
            vec![n_test, probed.dim],
            as_f32(&probed.test),
        ),
        (
            "pool_labels".into(),
            Dtype::I64,
            vec![n_pool],
            as_i64(&mut features.pool_labels.iter().map(|&l| l as usize)),
        ),
        (
            "test_labels".into(),
            Dtype::I64,
            vec![n_test],
            as_i64(&mut features.test_labels.iter().map(|&l| l as usize)),
        ),
        (
            "pool_indices".into(),
            Dtype::I64,
            vec![n_pool],
            as_i64(&mut features.pool_indices.iter().copied()),
        ),
    ];
    for &seed in &features.seeds {
        for &shots in &features.shots {
            let rows = features.few_shot_rows(seed, shots);
            tensors.push((
                format!("fewshot.seed{seed}.shots{shots}"),
                Dtype::I64,
                vec![rows.len()],
                as_i64(&mut rows.iter().copied()),
            ));
        }
    }
    let probe = ProbeConfig::default();
    let mut metadata: HashMap<String, String> = HashMap::from([
        ("task".into(), task_name.to_string()),
        ("layer".into(), layer.to_string()),
        ("relative_depth".into(), probed.relative_depth.to_string()),
        ("run_dir".into(), run_dir.display().to_string()),
        ("classes".into(), features.classes.to_string()),
        ("l2_reg".into(), features.l2_reg.to_string()),
        ("bias_value".into(), probe.bias_value.to_string()),
        ("std_epsilon".into(), STD_EPSILON.to_string()),
        (
            "protocol".into(),
            "standardise with the few-shot rows' mean and population std (+std_epsilon); append a \
             constant bias_value feature; ridge regression (penalty l2_reg on every weight, bias \
             included) onto 2*onehot-1 targets; predict argmax on test_features"
                .into(),
        ),
        ("seeds".into(), serde_json::to_string(&features.seeds)?),
        ("shots".into(), serde_json::to_string(&features.shots)?),
    ]);
    for (shots, per_seed) in &accuracies {
        metadata.insert(
            format!("accuracy.shots{shots}"),
            serde_json::to_string(per_seed)?,
        );
    }
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            Ok((name.clone(), TensorView::new(*dtype, shape.clone(), bytes)?))
        })
        .collect::<Result<_, safetensors::SafeTensorError>>()?;
    let bytes = safetensors::serialize(views, Some(metadata))?;
    plateau_store::write_atomic(out, &canonical_safetensors(bytes)?)?;

    Ok(Exported {
        path: out.to_path_buf(),
        task: task_name.to_string(),
        layer: layer.to_string(),
        dim: probed.dim,
        pool_rows: n_pool,
        test_rows: n_test,
        accuracies,
        reported,
    })
}
