//! plateau-kernels against burn's own operations, forward and backward through autodiff on
//! the flex backend, at the shapes of a ViT (width 128, 4 heads, MLP 512; the 64 4×4 patches
//! of a 32×32 image and a class token; batch 128). Run: `cargo bench --bench kernels`.
//! Results: benches/RESULTS.md.

use burn::prelude::*;
use burn::tensor::Distribution;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SHAPE: [usize; 3] = [128, 65, 128];

/// Forward, then backward of `Σ y · w`, returning the input's gradient.
fn step(x: &Tensor<3>, w: &Tensor<3>, op: &dyn Fn(Tensor<3>) -> Tensor<3>) -> Tensor<3> {
    let x = x.clone().require_grad();
    let grads = (op(x.clone()) * w.clone()).sum().backward();
    x.grad(&grads).unwrap()
}

fn kernels(c: &mut Criterion) {
    let device = Device::flex().autodiff();
    let random = |shape: [usize; 3]| Tensor::<3>::random(shape, Distribution::Default, &device);
    let (x, w) = (random(SHAPE), random(SHAPE));
    let gamma = Tensor::<1>::ones([SHAPE[2]], &device).require_grad();
    let beta = Tensor::<1>::zeros([SHAPE[2]], &device).require_grad();

    let mut group = c.benchmark_group("layer_norm_128x65x128_forward_backward");
    group.throughput(Throughput::Elements(SHAPE.iter().product::<usize>() as u64));
    group.bench_function("plateau", |b| {
        let op = |x| plateau_kernels::layer_norm(x, gamma.clone(), beta.clone(), 1e-6);
        b.iter(|| step(&x, &w, &op))
    });
    group.bench_function("burn", |b| {
        let op = |x| burn::tensor::module::layer_norm(x, gamma.clone(), Some(beta.clone()), 1e-6);
        b.iter(|| step(&x, &w, &op))
    });
    group.finish();

    let hidden = [SHAPE[0], SHAPE[1], 4 * SHAPE[2]];
    let (x, w) = (random(hidden), random(hidden));
    let mut group = c.benchmark_group("gelu_128x65x512_forward_backward");
    group.throughput(Throughput::Elements(hidden.iter().product::<usize>() as u64));
    group.bench_function("plateau", |b| {
        b.iter(|| step(&x, &w, &plateau_kernels::gelu))
    });
    group.bench_function("burn", |b| {
        b.iter(|| step(&x, &w, &burn::tensor::activation::gelu))
    });
    group.finish();

    // The MLP's first layer, 128 → 512, with the weight's and bias's gradients as well.
    let (x, w) = (random(SHAPE), random(hidden));
    let weight =
        Tensor::<2>::random([SHAPE[2], hidden[2]], Distribution::Default, &device).require_grad();
    let bias = Tensor::<1>::zeros([hidden[2]], &device).require_grad();
    let mut group = c.benchmark_group("linear_128x65x128_to_512_forward_backward");
    group.throughput(Throughput::Elements(hidden.iter().product::<usize>() as u64));
    group.bench_function("plateau", |b| {
        let op = |x| plateau_kernels::linear(x, weight.clone(), bias.clone());
        b.iter(|| step(&x, &w, &op))
    });
    group.bench_function("burn", |b| {
        let op = |x| burn::tensor::module::linear(x, weight.clone(), Some(bias.clone()));
        b.iter(|| step(&x, &w, &op))
    });
    group.finish();

    // Attention of 4 heads from the fused q/k/v projection, [128, 65, 3·128] → [128, 65, 128].
    let (qkv, w) = (random([SHAPE[0], SHAPE[1], 3 * SHAPE[2]]), random(SHAPE));
    let mut group = c.benchmark_group("self_attention_128x65x384_4_heads_forward_backward");
    group.throughput(Throughput::Elements(SHAPE.iter().product::<usize>() as u64));
    group.bench_function("plateau", |b| {
        let op = |qkv| plateau_kernels::self_attention(qkv, 4);
        b.iter(|| step(&qkv, &w, &op))
    });
    group.bench_function("burn", |b| {
        let op = |qkv| plateau_kernels::attention::with_burn_ops(qkv, 4);
        b.iter(|| step(&qkv, &w, &op))
    });
    group.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);
