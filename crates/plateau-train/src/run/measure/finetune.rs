//! The second transfer protocol: a short fine-tune of the whole model, with a fresh head, on a
//! downstream task's train split, then its accuracy on the task's test split. Recorded as a
//! downstream result of layer [`FINETUNE_LAYER`] next to the few-shot probes.

use anyhow::Result;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::SgdConfig;
use burn::optim::momentum::MomentumConfig;
use burn::prelude::*;
use plateau_data::batch::{batch_tensors, epoch_order};
use plateau_data::split::few_shot_indices;
use plateau_metrics::results::{DownstreamResult, FINETUNE_LAYER};
use plateau_models::Model;

use crate::run::data::DownstreamTask;
use crate::run::evaluate::evaluate;
use crate::run::measure::Measurement;
use crate::run::schedule::learning_rate;
use crate::run::spec::RunSpec;
use crate::run::step::{Objective, train_step};
use crate::sweep::sections::{FinetuneConfig, Schedule};
use crate::sweep::timing::PhaseSeconds;

/// A short fine-tune of a copy of the model on each task that configures one (`finetune`).
pub(crate) struct FineTune;

impl Measurement for FineTune {
    fn seconds<'a>(&self, seconds: &'a mut PhaseSeconds) -> &'a mut f64 {
        &mut seconds.finetune
    }

    fn measure(
        &self,
        model: &Model,
        spec: &RunSpec,
        tasks: &[DownstreamTask],
        device: &Device,
    ) -> Result<Vec<DownstreamResult>> {
        let mut results = Vec::new();
        for task in tasks {
            if let Some(config) = &task.config.finetune {
                results.extend(finetune(model, spec, task, config, device)?);
            }
        }
        Ok(results)
    }
}

/// Fine-tunes a copy of `model` (left untouched) on `task`; `None` when the loss diverged.
fn finetune(
    model: &Model,
    spec: &RunSpec,
    task: &DownstreamTask,
    config: &FinetuneConfig,
    device: &Device,
) -> Result<Option<DownstreamResult>> {
    let classes = task.pool.num_classes();
    let examples: Vec<usize> = match config.examples_per_class {
        Some(k) => few_shot_indices(&task.pool.labels, classes, k, spec.data_seed)?,
        None => (0..task.pool.len()).collect(),
    };
    // A separate module with the same weights (clones share BatchNorm statistics), a new head
    // seeded from the run's seed, moved to the autodiff device as tracked leaves.
    device.seed(spec.seed.wrapping_add(1));
    let copy = spec
        .model
        .init(&spec.input, device)?
        .load_record(model.clone().into_record())
        .with_new_head(classes, device);
    let train_device = device.clone().autodiff();
    let mut model = copy.to_device(&train_device).train();
    let mut optimizer = SgdConfig::new()
        .with_momentum(Some(
            MomentumConfig::new().with_momentum(0.9).with_dampening(0.0),
        ))
        .init();
    let loss_fn = CrossEntropyLossConfig::new().init(&train_device);
    let batch_size = config.batch_size.min(examples.len());
    let warmup = config.steps / 10;
    let mut step = 0;
    'epochs: for epoch in 0u64.. {
        let order = epoch_order(examples.len(), spec.seed, 1_000 + epoch);
        for batch in order.chunks(batch_size) {
            if step == config.steps {
                break 'epochs;
            }
            let indices: Vec<usize> = batch.iter().map(|&i| examples[i]).collect();
            let (images, labels) = batch_tensors(&task.pool, &indices, None, &train_device);
            let lr = learning_rate(config.lr, step, config.steps, warmup, Schedule::Cosine);
            let loss;
            (model, loss) = train_step(
                model,
                &mut optimizer,
                &Objective::Labels(&loss_fn),
                images,
                labels,
                lr,
            );
            if step % 10 == 0 && !loss.into_scalar::<f32>().is_finite() {
                eprintln!(
                    "  fine-tune on {} diverged at step {step}; no fine-tune result recorded",
                    task.config.task_name()
                );
                return Ok(None);
            }
            step += 1;
        }
    }
    let (accuracy, loss) = evaluate(
        &model.valid(),
        &task.test,
        spec.train.eval_batch_size,
        device,
    );
    if !loss.is_finite() {
        return Ok(None);
    }
    Ok(Some(DownstreamResult {
        task: task.config.task_name().to_string(),
        shots: examples.len() / classes.max(1),
        layer: FINETUNE_LAYER.to_string(),
        relative_depth: 1.0,
        accuracy_mean: accuracy,
        accuracy_std: 0.0,
        seeds: 1,
    }))
}
