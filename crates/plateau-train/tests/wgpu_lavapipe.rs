//! The wgpu backend computes what the CPU backend computes. Built only with `--features wgpu`;
//! on a machine without a GPU it runs through Mesa's software Vulkan driver (lavapipe), which
//! compiles every kernel slowly, so the models here are tiny and the steps few.
//!
//! Run: `XDG_RUNTIME_DIR=<0700 dir> cargo test --release -p plateau-train --features wgpu
//! --test wgpu_lavapipe` (`.ci/run` does this after installing `mesa-vulkan-drivers`).
#![cfg(feature = "wgpu")]

mod common;

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::prelude::*;
use burn::tensor::{DeviceKind, Distribution};
use plateau_models::presets::preset;
use plateau_models::{InputSpec, Model};

/// The CPU adapter, so the test picks lavapipe even where a real GPU exists.
fn wgpu() -> Device {
    Device::wgpu(DeviceKind::Cpu)
}

fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor.into_data().iter::<f32>().collect()
}

/// Largest |a - b| relative to the largest |a| (so tolerances do not depend on scale).
fn relative_gap(expected: &[f32], actual: &[f32]) -> f32 {
    assert_eq!(expected.len(), actual.len(), "different sizes");
    let scale = expected.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
    let gap = expected
        .iter()
        .zip(actual)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    gap / scale
}

/// Largest |a - b|.
fn absolute_gap(expected: &[f32], actual: &[f32]) -> f32 {
    expected
        .iter()
        .zip(actual)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()))
}

/// Every float parameter of a module, in visiting order, named by its path.
#[derive(Default)]
struct Collect {
    path: Vec<String>,
    params: Vec<(String, Vec<f32>)>,
}

impl ModuleVisitor for Collect {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.params.push((self.path.join("."), values(param.val())));
    }
}

fn parameters<M: Module>(module: &M) -> Vec<(String, Vec<f32>)> {
    let mut collect = Collect::default();
    module.visit(&mut collect);
    collect.params
}

#[test]
fn matmul_matches_flex() {
    let _turn = common::one_at_a_time();
    let flex = Device::flex();
    flex.seed(1);
    let a = Tensor::<2>::random([17, 33], Distribution::Normal(0.0, 1.0), &flex);
    let b = Tensor::<2>::random([33, 9], Distribution::Normal(0.0, 1.0), &flex);
    let expected = values(a.clone().matmul(b.clone()));
    let gpu = wgpu();
    let actual = values(a.to_device(&gpu).matmul(b.to_device(&gpu)));
    let gap = relative_gap(&expected, &actual);
    assert!(gap < 1e-4, "matmul differs from flex by {gap}");
}

#[test]
fn conv_forward_and_backward_match_flex() {
    let _turn = common::one_at_a_time();
    let flex = Device::flex().autodiff();
    flex.seed(2);
    let conv = Conv2dConfig::new([3, 4], [3, 3])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init(&flex);
    let input = Tensor::<4>::random([2, 3, 6, 6], Distribution::Normal(0.0, 1.0), &flex);

    let run = |device: &Device| {
        let conv = conv.clone().fork(device);
        let input = input.clone().to_device(device).require_grad();
        let output = conv.forward(input.clone());
        let mut grads = (output.clone() * output.clone()).sum().backward();
        let input_grad = input.grad_remove(&mut grads).expect("input gradient");
        let weight_grad = GradientsParams::from_grads(grads, &conv)
            .remove::<4>(conv.weight.id)
            .expect("weight gradient");
        (values(output), values(weight_grad), values(input_grad))
    };
    let (out_cpu, weight_cpu, input_cpu) = run(&flex);
    let (out_gpu, weight_gpu, input_gpu) = run(&wgpu().autodiff());
    for (what, cpu, gpu) in [
        ("output", out_cpu, out_gpu),
        ("weight gradient", weight_cpu, weight_gpu),
        ("input gradient", input_cpu, input_gpu),
    ] {
        let gap = relative_gap(&cpu, &gpu);
        assert!(gap < 1e-4, "conv {what} differs from flex by {gap}");
    }
}

/// A few plain-SGD steps of a tiny model on one fixed batch: the losses of every step and the
/// parameters at the end agree between flex and wgpu.
fn training_steps_match_flex(preset_name: &str, width: usize) {
    let input = InputSpec::new(1, 8, 4);
    let config = preset(preset_name).unwrap().config().with_width(width);
    // No random draws here: burn's device RNG is shared by the test threads.
    let pixels: Vec<f32> = (0..4 * 64).map(|i| (i as f32 * 0.37).sin()).collect();
    let images = TensorData::new(pixels, [4, 1, 8, 8]);
    let labels = TensorData::new(vec![0i64, 1, 2, 3], [4]);
    // One set of initial weights, loaded into a new module per backend: clones of a module
    // share BatchNorm's running statistics, so one must not train after the other.
    let plain = Device::flex();
    let record = config.init(&input, &plain).unwrap().into_record();

    let train = |device: &Device| {
        let device = device.clone().autodiff();
        let model = config.init(&input, &plain).unwrap();
        // Loaded on a plain device, then moved: `train()` makes the weights tracked leaves.
        let mut model: Model = model.load_record(record.clone()).to_device(&device).train();
        let images = Tensor::<4>::from_data(images.clone(), &device);
        let labels = Tensor::<1, Int>::from_data(labels.clone(), &device);
        let loss_fn = CrossEntropyLossConfig::new().init(&device);
        let mut optimizer = SgdConfig::new().init();
        let mut losses = Vec::new();
        for _ in 0..3 {
            let loss = loss_fn.forward(model.forward(images.clone()), labels.clone());
            losses.push(loss.clone().into_scalar::<f32>());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(0.05, model, grads);
        }
        (losses, parameters(&model))
    };
    let (losses_cpu, params_cpu) = train(&Device::flex());
    let (losses_gpu, params_gpu) = train(&wgpu());

    let gap = relative_gap(&losses_cpu, &losses_gpu);
    assert!(
        gap < 1e-3,
        "{preset_name}: losses {losses_cpu:?} on flex, {losses_gpu:?} on wgpu"
    );
    assert!(
        losses_cpu[2] < losses_cpu[0],
        "{preset_name}: three steps on one batch should lower the loss: {losses_cpu:?}"
    );
    assert_eq!(params_cpu.len(), params_gpu.len());
    let differing: Vec<String> = params_cpu
        .iter()
        .zip(&params_gpu)
        .map(|((name, cpu), (_, gpu))| (name, relative_gap(cpu, gpu), absolute_gap(cpu, gpu)))
        // Relative to the tensor's scale, with an absolute floor for tensors still near zero
        // (a LayerNorm bias after three small steps): summation order differs between backends.
        .filter(|(_, relative, absolute)| *relative >= 1e-3 && *absolute >= 1e-5)
        .map(|(name, relative, _)| (name, relative))
        .map(|(name, gap)| format!("{name} by {gap:.2e}"))
        .collect();
    assert!(
        differing.is_empty(),
        "{preset_name}: parameters differ after 3 steps: {}",
        differing.join(", ")
    );
}

#[test]
fn resnet_trains_the_same_on_wgpu() {
    let _turn = common::one_at_a_time();
    training_steps_match_flex("resnet-cifar", 4);
}

#[test]
fn vit_trains_the_same_on_wgpu() {
    let _turn = common::one_at_a_time();
    training_steps_match_flex("vit-tiny-p4", 16);
}

#[test]
fn mixer_trains_the_same_on_wgpu() {
    let _turn = common::one_at_a_time();
    training_steps_match_flex("mixer-tiny-p4", 16);
}

/// The whole run path (data, training loop, evaluation, probes, checkpoint export) on wgpu.
#[test]
fn a_tiny_sweep_runs_on_wgpu() {
    let _turn = common::one_at_a_time();
    use plateau_metrics::results::RunStatus;
    use plateau_train::Backend;

    let out = tempfile::tempdir().unwrap();
    let text = format!(
        r#"
name = "wgpu"
out_dir = "{}"
[upstream]
dataset = "synthetic"
image_size = 8
train_examples = 200
val_examples = 50
test_examples = 100
[train]
optimizer = "adamw"
lr = 1e-2
batch_size = 25
epochs = 2
[[downstream]]
dataset = "synthetic"
name = "probe"
classes = [0, 1, 2, 3, 4]
shots = [5]
seeds = 2
test_examples = 50
[[grid]]
preset = "mixer-tiny-p4"
width = [8]
depth = [1]
"#,
        out.path().display()
    );
    let rows = common::sweep_on(Backend::Wgpu, &text);
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.status, RunStatus::Ok, "{:?}", row.error);
    assert_eq!(row.backend, "wgpu");
    let accuracy = row.upstream.as_ref().unwrap().test_accuracy;
    assert!(accuracy > 0.2, "above chance (0.1): {accuracy}");
    assert_eq!(row.downstream.len(), 1);
    let run_dir = out.path().join("wgpu").join(&row.run_id);
    assert!(run_dir.join("model.safetensors").is_file());
}

/// `plateau bench --backend wgpu`: timed training and evaluation steps with device syncs.
#[test]
fn bench_runs_on_wgpu() {
    let _turn = common::one_at_a_time();
    use plateau_train::Backend;
    use plateau_train::OptimizerKind;
    use plateau_train::bench::{BenchOptions, bench_model};

    let config = preset("resnet-cifar")
        .unwrap()
        .config()
        .with_width(4)
        .with_depth(1);
    let options = BenchOptions {
        backend: Backend::Wgpu,
        batch_size: 4,
        steps: 2,
        warmup: 1,
        optimizer: OptimizerKind::Sgd,
    };
    let result = bench_model("resnet", &config, &InputSpec::new(3, 8, 10), &options).unwrap();
    assert_eq!(result.backend, "wgpu");
    for timing in [&result.train, &result.eval] {
        assert!(timing.step_ms_min > 0.0 && timing.step_ms_min <= timing.step_ms_median);
        assert!(timing.images_per_second > 0.0 && timing.gflops_per_second > 0.0);
    }
}
