//! The kernels through burn, on the flex backend with autodiff, against burn's own operations:
//! the same outputs, and the same gradients reach the same tensors.

use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::module::conv2d as burn_conv2d;
use burn::tensor::ops::ConvOptions;

fn assert_close<const D: usize>(ours: Tensor<D>, burns: Tensor<D>, what: &str) {
    let (a, b) = (
        ours.into_data().try_to_vec::<f32>().unwrap(),
        burns.into_data().try_to_vec::<f32>().unwrap(),
    );
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1.0);
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!((x - y).abs() <= 1e-4 * scale, "{what}[{i}]: {x} vs {y}");
    }
}

fn random<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::random(shape, Distribution::Uniform(-1.0, 1.0), device)
}

/// What an operation of an input and two parameters gives through autodiff: its output, and
/// the gradients of `Σ output · weights` with respect to the input and both parameters (each
/// call starts from fresh leaves, so ours and burn's do not share a graph).
type ForwardAndGradients<const D: usize, const E: usize, const P: usize> =
    (Tensor<E>, Tensor<D>, Tensor<P>, Tensor<1>);

fn forward_and_gradients<const D: usize, const E: usize, const P: usize>(
    (x, param, bias): (&Tensor<D>, &Tensor<P>, &Tensor<1>),
    weights: &Tensor<E>,
    op: impl Fn(Tensor<D>, Tensor<P>, Tensor<1>) -> Tensor<E>,
) -> ForwardAndGradients<D, E, P> {
    let (x, param, bias) = (
        x.clone().detach().require_grad(),
        param.clone().detach().require_grad(),
        bias.clone().detach().require_grad(),
    );
    let y = op(x.clone(), param.clone(), bias.clone());
    let grads = (y.clone() * weights.clone()).sum().backward();
    (
        y.inner(),
        x.grad(&grads).unwrap(),
        param.grad(&grads).unwrap(),
        bias.grad(&grads).unwrap(),
    )
}

/// [`forward_and_gradients`] of ours and burn's, compared element by element.
fn assert_same_forward_and_gradients<const D: usize, const E: usize, const P: usize>(
    ours: ForwardAndGradients<D, E, P>,
    burns: ForwardAndGradients<D, E, P>,
    what: &str,
) {
    assert_close(ours.0, burns.0, &format!("{what} output"));
    assert_close(ours.1, burns.1, &format!("{what} input gradient"));
    assert_close(ours.2, burns.2, &format!("{what} weight gradient"));
    assert_close(ours.3, burns.3, &format!("{what} bias gradient"));
}

#[test]
fn conv2d_forward_and_gradients_match_burn() {
    let device = Device::flex().autodiff();
    device.seed(3);
    for (x_shape, w_shape, stride, padding) in [
        ([4, 3, 9, 9], [5, 3, 3, 3], [1, 1], [1, 1]),
        ([3, 4, 8, 8], [6, 4, 3, 3], [2, 2], [1, 1]),
        ([2, 4, 6, 6], [3, 4, 1, 1], [2, 2], [0, 0]),
        ([2, 3, 8, 8], [7, 3, 4, 4], [4, 4], [0, 0]),
    ] {
        let x = random(x_shape, &device);
        let w = random(w_shape, &device);
        let out_grad_weights = random([x_shape[0], w_shape[0], x_shape[2], x_shape[3]], &device);
        let run = |ours: bool| {
            let (x, w) = (
                x.clone().detach().require_grad(),
                w.clone().detach().require_grad(),
            );
            let y = match ours {
                true => plateau_kernels::conv2d(x.clone(), w.clone(), stride, padding),
                false => burn_conv2d(
                    x.clone(),
                    w.clone(),
                    None,
                    ConvOptions::new(stride, padding, [1, 1], 1),
                ),
            };
            let [b, c, h, wd] = y.dims();
            let weights = out_grad_weights.clone().slice([0..b, 0..c, 0..h, 0..wd]);
            let grads = (y.clone() * weights).sum().backward();
            (y.inner(), x.grad(&grads).unwrap(), w.grad(&grads).unwrap())
        };
        let (ours, burns) = (run(true), run(false));
        let what = format!("{x_shape:?} {w_shape:?} stride {stride:?} padding {padding:?}");
        assert_close(ours.0, burns.0, &format!("output {what}"));
        assert_close(ours.1, burns.1, &format!("input gradient {what}"));
        assert_close(ours.2, burns.2, &format!("weight gradient {what}"));
    }
}

#[test]
fn conv2d_without_autodiff_matches_burn() {
    let device = Device::flex();
    device.seed(4);
    let (x, w) = (random([3, 2, 7, 7], &device), random([4, 2, 3, 3], &device));
    let ours = plateau_kernels::conv2d(x.clone(), w.clone(), [2, 2], [1, 1]);
    let burns = burn_conv2d(x, w, None, ConvOptions::new([2, 2], [1, 1], [1, 1], 1));
    assert_close(ours, burns, "output");
}

#[test]
fn batch_norm_forward_statistics_and_gradients_match_burn() {
    let device = Device::flex().autodiff();
    device.seed(5);
    let x = random([6, 4, 5, 5], &device)
        .mul_scalar(3.0)
        .add_scalar(1.0);
    let gamma = random([4], &device);
    let beta = random([4], &device);
    let out_grad_weights = random([6, 4, 5, 5], &device);
    let run = |ours: bool| {
        let (x, gamma, beta) = (
            x.clone().detach().require_grad(),
            gamma.clone().detach().require_grad(),
            beta.clone().detach().require_grad(),
        );
        let out = match ours {
            true => plateau_kernels::batch_norm_train(x.clone(), gamma.clone(), beta.clone(), 1e-5),
            false => {
                burn::tensor::module::batch_norm_train(x.clone(), gamma.clone(), beta.clone(), 1e-5)
            }
        };
        let grads = (out.output.clone() * out_grad_weights.clone())
            .sum()
            .backward();
        (
            out.output.inner(),
            out.mean.inner(),
            out.variance.inner(),
            x.grad(&grads).unwrap(),
            gamma.grad(&grads).unwrap(),
            beta.grad(&grads).unwrap(),
        )
    };
    let (ours, burns) = (run(true), run(false));
    assert_close(ours.0, burns.0, "output");
    assert_close(ours.1, burns.1, "mean");
    assert_close(ours.2, burns.2, "variance");
    assert_close(ours.3, burns.3, "input gradient");
    assert_close(ours.4, burns.4, "gamma gradient");
    assert_close(ours.5, burns.5, "beta gradient");
}

#[test]
fn gelu_forward_and_gradient_match_burn() {
    let device = Device::flex().autodiff();
    device.seed(5);
    // Wide enough to reach both tails; a strided view as an MLP's activations can be.
    let x = random([3, 40, 17], &device) * 6.0;
    let weights = random([3, 17, 40], &device);
    let run = |ours: bool| {
        let x = x.clone().detach().require_grad();
        let view = x.clone().swap_dims(1, 2);
        let y = match ours {
            true => plateau_kernels::gelu(view),
            false => burn::tensor::activation::gelu(view),
        };
        let grads = (y.clone() * weights.clone()).sum().backward();
        (y.inner(), x.grad(&grads).unwrap())
    };
    let (ours, burns) = (run(true), run(false));
    assert_close(ours.0, burns.0, "gelu output");
    assert_close(ours.1, burns.1, "gelu input gradient");

    // Without autodiff (evaluation) too.
    let plain = x.inner();
    assert_close(
        plateau_kernels::gelu(plain.clone()),
        burn::tensor::activation::gelu(plain),
        "gelu output without autodiff",
    );
}

#[test]
fn layer_norm_forward_and_gradients_match_burn() {
    let device = Device::flex().autodiff();
    device.seed(7);
    // Tokens × width as a transposed view, the way attention hands them on; 70 rows span
    // more than one of the kernel's row blocks.
    let x = (random([2, 24, 35], &device) * 4.0).add_scalar(1.5);
    let gamma = random([24], &device);
    let beta = random([24], &device);
    let weights = random([2, 35, 24], &device);
    let inputs = (&x, &gamma, &beta);
    let ours = forward_and_gradients(inputs, &weights, |x, gamma, beta| {
        plateau_kernels::layer_norm(x.swap_dims(1, 2), gamma, beta, 1e-6)
    });
    let burns = forward_and_gradients(inputs, &weights, |x, gamma, beta| {
        burn::tensor::module::layer_norm(x.swap_dims(1, 2), gamma, Some(beta), 1e-6)
    });
    assert_same_forward_and_gradients(ours, burns, "layer norm");
}

#[test]
fn linear_forward_and_gradients_match_burn() {
    let device = Device::flex().autodiff();
    device.seed(8);
    // Three leading axes folded into rows; the input a transposed view, as the Mixer's token
    // MLP reads it.
    let x = random([2, 3, 11, 5], &device);
    let weight = random([11, 7], &device);
    let bias = random([7], &device);
    let weights = random([2, 3, 5, 7], &device);
    let inputs = (&x, &weight, &bias);
    let ours = forward_and_gradients(inputs, &weights, |x, weight, bias| {
        plateau_kernels::linear(x.swap_dims(2, 3), weight, bias)
    });
    let burns = forward_and_gradients(inputs, &weights, |x, weight, bias| {
        burn::tensor::module::linear(x.swap_dims(2, 3), weight, Some(bias))
    });
    assert_same_forward_and_gradients(ours, burns, "linear");
}

#[test]
fn self_attention_forward_and_gradient_match_burn() {
    let device = Device::flex().autodiff();
    device.seed(9);
    // 3 images, 9 tokens, 2 heads of 4: qkv is [3, 9, 3 · 8]. Scaled up so that the softmax
    // is far from uniform.
    let qkv = random([3, 9, 24], &device) * 3.0;
    let weights = random([3, 9, 8], &device);
    let run = |ours: bool| {
        let qkv = qkv.clone().detach().require_grad();
        let y = match ours {
            true => plateau_kernels::self_attention(qkv.clone(), 2),
            false => plateau_kernels::attention::with_burn_ops(qkv.clone(), 2),
        };
        let grads = (y.clone() * weights.clone()).sum().backward();
        (y.inner(), qkv.grad(&grads).unwrap())
    };
    let (ours, burns) = (run(true), run(false));
    assert_close(ours.0, burns.0, "attention output");
    assert_close(ours.1, burns.1, "attention qkv gradient");

    // Without autodiff (evaluation) too.
    let plain = qkv.inner();
    assert_close(
        plateau_kernels::self_attention(plain.clone(), 2),
        plateau_kernels::attention::with_burn_ops(plain, 2),
        "attention output without autodiff",
    );
}

#[test]
fn linear_over_tokens_matches_burn_between_transposes() {
    let device = Device::flex().autodiff();
    device.seed(10);
    // x [3 images, 6 tokens, 5 channels], weight [6 tokens, 4 outputs].
    let x = random([3, 6, 5], &device);
    let weight = random([6, 4], &device);
    let bias = random([4], &device);
    let weights = random([3, 4, 5], &device);
    let inputs = (&x, &weight, &bias);
    let ours = forward_and_gradients(inputs, &weights, plateau_kernels::linear_over_tokens);
    let burns = forward_and_gradients(inputs, &weights, |x, weight, bias| {
        burn::tensor::module::linear(x.swap_dims(1, 2), weight, Some(bias)).swap_dims(1, 2)
    });
    assert_same_forward_and_gradients(ours, burns, "token linear");
}
