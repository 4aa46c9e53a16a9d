//! `plateau bench`: how fast a model trains and evaluates on a backend. Times full training
//! steps (forward, cross-entropy, backward, optimizer update: the sweep's own [`train_step`])
//! and evaluation forwards one by one, synchronising the device before every clock read, on a
//! fixed random batch so the data pipeline is not in the measurement.

use std::time::Instant;

use anyhow::{Context, Result};
use burn::module::Module;
use burn::prelude::*;
use burn::tensor::{Distribution, TensorData};
use plateau_models::{InputSpec, ModelConfig};
use serde::Serialize;

use crate::Backend;
use crate::run::step::{Objective, build_optimizer, loss_function, train_step};
use crate::sweep::sections::{OptimizerKind, TrainConfig};

/// What to measure and how often.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    pub backend: Backend,
    pub batch_size: usize,
    /// Timed steps (each of training and evaluation).
    pub steps: usize,
    /// Untimed steps first: allocations, kernel compilation, caches.
    pub warmup: usize,
    pub optimizer: OptimizerKind,
}

/// Statistics of one kind of step.
#[derive(Clone, Debug, Serialize)]
pub struct StepTiming {
    pub step_ms_median: f64,
    pub step_ms_min: f64,
    pub step_ms_max: f64,
    /// Batch size over the median step time.
    pub images_per_second: f64,
    /// FLOPs of a step (training: 3 × forward, the usual estimate of backward as twice the
    /// forward) over the median step time.
    pub gflops_per_second: f64,
}

/// One model's figures; the training ones also at the top level.
#[derive(Clone, Debug, Serialize)]
pub struct BenchResult {
    pub name: String,
    pub family: String,
    pub backend: String,
    /// CPU threads (the size of the pool the CPU backend computes on).
    pub threads: usize,
    pub batch_size: usize,
    pub optimizer: String,
    pub steps: usize,
    pub input: InputSpec,
    pub params: u64,
    /// Forward FLOPs per image (analytic).
    pub flops_per_image: u64,
    #[serde(flatten)]
    pub train: StepTiming,
    pub eval: StepTiming,
}

/// Sizes the CPU backend's thread pool; call before any tensor work. `None` keeps one thread
/// per core (or `RAYON_NUM_THREADS`).
pub fn set_cpu_threads(threads: Option<usize>) -> Result<()> {
    if let Some(threads) = threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .context("setting the number of CPU threads (it can be set once per process)")?;
    }
    Ok(())
}

/// The number of threads the CPU backend computes on.
pub fn cpu_threads() -> usize {
    rayon::current_num_threads()
}

/// Benchmarks `config` at `input`.
pub fn bench_model(
    name: &str,
    config: &ModelConfig,
    input: &InputSpec,
    options: &BenchOptions,
) -> Result<BenchResult> {
    anyhow::ensure!(options.batch_size > 0, "--batch-size must be at least 1");
    anyhow::ensure!(options.steps > 0, "--steps must be at least 1");
    let cost = config
        .cost(input)
        .with_context(|| format!("model {name}"))?;
    let device = options.backend.device()?;
    let train_device = device.clone().autodiff();
    train_device.seed(0);
    let (images, labels) = random_batch(input, options.batch_size);

    let train = bench_train_config(options);
    let mut model = Some(config.init(input, &train_device)?);
    let mut optimizer = build_optimizer(&train);
    let loss_fn = loss_function(&train, &train_device);
    let train_times = time_steps(options, &train_device, || {
        let (updated, _loss) = train_step(
            model
                .take()
                .expect("the model is put back after every step"),
            &mut optimizer,
            &Objective::Labels(&loss_fn),
            Tensor::from_data(images.clone(), &train_device),
            Tensor::from_data(labels.clone(), &train_device),
            train.lr,
        );
        model = Some(updated);
    })?;

    let eval_model = model.expect("trained model").valid();
    let eval_times = time_steps(options, &device, || {
        let logits = eval_model.forward(Tensor::from_data(images.clone(), &device));
        drop(logits);
    })?;

    let batch = options.batch_size as f64;
    let forward_flops = cost.flops as f64 * batch;
    Ok(BenchResult {
        name: name.to_string(),
        family: config.family().to_string(),
        backend: options.backend.name().to_string(),
        threads: cpu_threads(),
        batch_size: options.batch_size,
        optimizer: format!("{:?}", options.optimizer).to_lowercase(),
        steps: options.steps,
        input: *input,
        params: cost.params,
        flops_per_image: cost.flops,
        train: summarise(&train_times, batch, 3.0 * forward_flops),
        eval: summarise(&eval_times, batch, forward_flops),
    })
}

/// The optimizer settings of the PyTorch reference (`benches/reference/`): AdamW at lr 1e-3 or
/// SGD with momentum 0.9 at lr 0.1, weight decay 1e-4, no clipping.
fn bench_train_config(options: &BenchOptions) -> TrainConfig {
    TrainConfig {
        optimizer: options.optimizer,
        lr: match options.optimizer {
            OptimizerKind::Adamw => 1e-3,
            OptimizerKind::Sgd => 0.1,
        },
        weight_decay: 1e-4,
        head_weight_decay: None,
        momentum: 0.9,
        batch_size: options.batch_size,
        epochs: None,
        steps: Some(options.warmup + options.steps),
        warmup_steps: 0,
        schedule: Default::default(),
        label_smoothing: 0.0,
        grad_clip: None,
        augmentation: Default::default(),
        eval_batch_size: options.batch_size,
    }
}

/// A fixed batch of pixels in [-1, 1] and labels, as host data (moved to the device each step,
/// as a training batch is).
fn random_batch(input: &InputSpec, batch_size: usize) -> (TensorData, TensorData) {
    let host = Device::flex();
    host.seed(0);
    let shape = [
        batch_size,
        input.channels,
        input.image_size,
        input.image_size,
    ];
    let images = Tensor::<4>::random(shape, Distribution::Uniform(-1.0, 1.0), &host);
    let labels: Vec<i64> = (0..batch_size)
        .map(|i| (i % input.num_classes) as i64)
        .collect();
    (images.into_data(), TensorData::new(labels, [batch_size]))
}

/// Runs `step` `warmup` times, then times `steps` runs of it, each ended by a device sync.
fn time_steps(options: &BenchOptions, device: &Device, mut step: impl FnMut()) -> Result<Vec<f64>> {
    let sync = || device.sync().context("waiting for the device");
    for _ in 0..options.warmup {
        step();
        sync()?;
    }
    (0..options.steps)
        .map(|_| {
            let started = Instant::now();
            step();
            sync()?;
            Ok(started.elapsed().as_secs_f64() * 1e3)
        })
        .collect()
}

fn summarise(step_ms: &[f64], batch: f64, flops_per_step: f64) -> StepTiming {
    let mut sorted = step_ms.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = match n % 2 {
        1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    };
    StepTiming {
        step_ms_median: median,
        step_ms_min: sorted[0],
        step_ms_max: sorted[n - 1],
        images_per_second: batch / (median / 1e3),
        gflops_per_second: flops_per_step / (median / 1e3) / 1e9,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_rates() {
        let timing = summarise(&[30.0, 10.0, 20.0, 40.0], 128.0, 2e9);
        assert_eq!(timing.step_ms_median, 25.0);
        assert_eq!((timing.step_ms_min, timing.step_ms_max), (10.0, 40.0));
        assert!((timing.images_per_second - 128.0 / 0.025).abs() < 1e-9);
        assert!((timing.gflops_per_second - 80.0).abs() < 1e-9);
    }
}
