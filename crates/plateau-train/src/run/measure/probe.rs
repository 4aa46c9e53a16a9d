//! Downstream few-shot probes of a trained model: which layers a task probes, the pooled
//! features of the rows it needs, and the ridge probes per shot count and seed. The same
//! [`TaskFeatures`] feed the sweep's probes and `plateau features`, so an export holds exactly
//! what the reported accuracies were computed from.

use std::collections::HashMap;

use anyhow::{Context, Result};
use burn::prelude::*;
use plateau_data::ImageSet;
use plateau_data::batch::batch_tensors;
use plateau_data::split::few_shot_indices;
use plateau_metrics::fewshot::{FeatureMatrix, ProbeConfig, few_shot_accuracy, mean_std};
use plateau_metrics::results::DownstreamResult;
use plateau_models::Model;

use crate::run::data::DownstreamTask;
use crate::run::measure::Measurement;
use crate::run::spec::RunSpec;
use crate::sweep::sections::Layers;
use crate::sweep::timing::PhaseSeconds;

/// One probed layer.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbedLayer {
    /// `pre_logits`, or a stage/block name.
    pub name: String,
    /// Depth as a fraction of the model's (pre-logits: 1).
    pub relative_depth: f64,
    /// Pooled features, row-major: of the pool rows the probes use, and of the test split.
    pub pool: Vec<f32>,
    pub test: Vec<f32>,
    pub dim: usize,
}

/// What a task's probes read.
pub struct TaskFeatures {
    pub layers: Vec<ProbedLayer>,
    /// Indices into the task's pool of the rows in `ProbedLayer::pool`, ascending.
    pub pool_indices: Vec<usize>,
    pub pool_labels: Vec<u16>,
    pub test_labels: Vec<u16>,
    pub classes: usize,
    /// Seeds of the few-shot draws.
    pub seeds: Vec<u64>,
    pub shots: Vec<usize>,
    pub l2_reg: f64,
    few_shot: HashMap<(u64, usize), Vec<usize>>,
}

impl TaskFeatures {
    /// Rows (into `ProbedLayer::pool`) of the `shots`-per-class draw of `seed`.
    pub fn few_shot_rows(&self, seed: u64, shots: usize) -> &[usize] {
        &self.few_shot[&(seed, shots)]
    }
}

/// The layers of `task` to probe: `(name, relative depth, index in the extracted features)`,
/// where index 0 is the pre-logits and `i + 1` the i-th of `Model::layer_names`.
fn probed_layers(spec: &RunSpec, task: &DownstreamTask) -> Result<Vec<(String, f64, usize)>> {
    let config = &task.config;
    let names = spec.model.layer_names();
    let wanted: Vec<String> = match &config.layers {
        Layers::Named(_) => std::iter::once("pre_logits".to_string())
            .chain(names.iter().cloned())
            .collect(),
        Layers::List(list) => list.clone(),
    };
    wanted
        .into_iter()
        .map(|name| {
            if name == "pre_logits" {
                return Ok((name, 1.0, 0));
            }
            let position = names.iter().position(|n| *n == name).with_context(|| {
                format!(
                    "downstream `{}`: unknown layer `{name}`; this model has pre_logits, {}",
                    config.task_name(),
                    names.join(", ")
                )
            })?;
            Ok((
                name,
                (position + 1) as f64 / names.len() as f64,
                position + 1,
            ))
        })
        .collect()
}

/// Pooled features of `indices` of `set`: `[pre_logits, layer 0, layer 1, …]`, each row-major.
fn extract(
    model: &Model,
    set: &ImageSet,
    indices: &[usize],
    keep_layers: bool,
    batch_size: usize,
    device: &Device,
) -> Vec<Vec<f32>> {
    let mut out: Vec<Vec<f32>> = Vec::new();
    for batch in indices.chunks(batch_size) {
        let (images, _) = batch_tensors(set, batch, None, device);
        let features = model.features(images, keep_layers);
        let all = std::iter::once(features.pre_logits).chain(features.layers);
        for (i, tensor) in all.enumerate() {
            let values: Vec<f32> = tensor.into_data().iter::<f32>().collect();
            match out.get_mut(i) {
                Some(column) => column.extend(values),
                None => out.push(values),
            }
        }
    }
    out
}

/// Features of every layer `task` probes, for the pool rows its few-shot draws use and for its
/// test split; `only_layer` keeps one layer (by name).
pub fn task_features(
    model: &Model,
    spec: &RunSpec,
    task: &DownstreamTask,
    only_layer: Option<&str>,
    device: &Device,
) -> Result<TaskFeatures> {
    let config = &task.config;
    let classes = task.pool.num_classes();
    let mut layers = probed_layers(spec, task)?;
    if let Some(only) = only_layer {
        let all: Vec<String> = layers.iter().map(|l| l.0.clone()).collect();
        layers.retain(|l| l.0 == only);
        anyhow::ensure!(
            !layers.is_empty(),
            "task `{}` probes no layer `{only}`; it probes {}",
            config.task_name(),
            all.join(", ")
        );
    }
    let seeds: Vec<u64> = (0..config.seeds)
        .map(|s| spec.data_seed.wrapping_add(s))
        .collect();
    // Shot sets are nested, so the largest one per seed covers every shot count.
    let max_shots = *config.shots.iter().max().expect("validated: shots");
    let mut pool_indices: Vec<usize> = Vec::new();
    for &seed in &seeds {
        pool_indices.extend(few_shot_indices(
            &task.pool.labels,
            classes,
            max_shots,
            seed,
        )?);
    }
    pool_indices.sort_unstable();
    pool_indices.dedup();
    let row_of: HashMap<usize, usize> = pool_indices
        .iter()
        .enumerate()
        .map(|(row, &i)| (i, row))
        .collect();
    let mut few_shot = HashMap::new();
    for &seed in &seeds {
        for &shots in &config.shots {
            let rows = few_shot_indices(&task.pool.labels, classes, shots, seed)?
                .iter()
                .map(|i| row_of[i])
                .collect();
            few_shot.insert((seed, shots), rows);
        }
    }

    let keep_layers = layers.iter().any(|l| l.2 > 0);
    let batch = spec.train.eval_batch_size;
    let mut pool = extract(model, &task.pool, &pool_indices, keep_layers, batch, device);
    let test_indices: Vec<usize> = (0..task.test.len()).collect();
    let mut test = extract(model, &task.test, &test_indices, keep_layers, batch, device);
    let layers = layers
        .into_iter()
        .map(|(name, relative_depth, column)| ProbedLayer {
            name,
            relative_depth,
            dim: pool[column].len() / pool_indices.len(),
            pool: std::mem::take(&mut pool[column]),
            test: std::mem::take(&mut test[column]),
        })
        .collect();
    Ok(TaskFeatures {
        layers,
        pool_labels: pool_indices.iter().map(|&i| task.pool.labels[i]).collect(),
        pool_indices,
        test_labels: task.test.labels.clone(),
        classes,
        seeds,
        shots: config.shots.clone(),
        l2_reg: config.l2_reg,
        few_shot,
    })
}

/// Accuracy of each seed's probe of `layer` at `shots` per class.
pub fn probe_accuracies(
    features: &TaskFeatures,
    layer: &ProbedLayer,
    shots: usize,
) -> Result<Vec<f64>> {
    let probe = ProbeConfig {
        l2_reg: features.l2_reg,
        ..ProbeConfig::default()
    };
    let pool = FeatureMatrix::new(&layer.pool, layer.dim)?;
    let test = FeatureMatrix::new(&layer.test, layer.dim)?;
    features
        .seeds
        .iter()
        .map(|&seed| {
            Ok(few_shot_accuracy(
                pool,
                &features.pool_labels,
                test,
                &features.test_labels,
                features.classes,
                features.few_shot_rows(seed, shots),
                &probe,
            )?)
        })
        .collect()
}

/// Few-shot probes of every downstream task at every asked layer, shot count and seed.
/// Few-shot ridge probes of the frozen features, per task, layer, shot count and seed.
pub(crate) struct FewShotProbes;

impl Measurement for FewShotProbes {
    fn seconds<'a>(&self, seconds: &'a mut PhaseSeconds) -> &'a mut f64 {
        &mut seconds.probes
    }

    fn measure(
        &self,
        model: &Model,
        spec: &RunSpec,
        tasks: &[DownstreamTask],
        device: &Device,
    ) -> Result<Vec<DownstreamResult>> {
        probe_all(model, spec, tasks, device)
    }
}

fn probe_all(
    model: &Model,
    spec: &RunSpec,
    tasks: &[DownstreamTask],
    device: &Device,
) -> Result<Vec<DownstreamResult>> {
    let mut results = Vec::new();
    for task in tasks {
        let features = task_features(model, spec, task, None, device)?;
        for layer in &features.layers {
            for &shots in &features.shots {
                let accuracies = probe_accuracies(&features, layer, shots)?;
                let (mean, std) = mean_std(&accuracies);
                results.push(DownstreamResult {
                    task: task.config.task_name().to_string(),
                    shots,
                    layer: layer.name.clone(),
                    relative_depth: layer.relative_depth,
                    accuracy_mean: mean,
                    accuracy_std: std,
                    seeds: features.seeds.len(),
                });
            }
        }
    }
    Ok(results)
}
