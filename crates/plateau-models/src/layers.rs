//! Building blocks shared by more than one family.

use burn::module::{Module, Param};
use burn::nn::{BatchNorm, Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;

/// Two linear layers with a GELU between them (the transformer and Mixer MLP).
#[derive(Module, Debug)]
pub struct Mlp {
    pub fc1: Linear,
    pub fc2: Linear,
}

impl Mlp {
    pub fn new(d_in: usize, d_hidden: usize, device: &Device) -> Self {
        Self {
            fc1: LinearConfig::new(d_in, d_hidden).init(device),
            fc2: LinearConfig::new(d_hidden, d_in).init(device),
        }
    }

    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        // plateau's fused GELU on the CPU (burn's elsewhere): see plateau-kernels.
        linear(&self.fc2, plateau_kernels::gelu(linear(&self.fc1, x)))
    }

    /// The same MLP along the token axis of `x [b, s, c]` (the Mixer's token mixing), as
    /// `forward(x.swap_dims(1, 2)).swap_dims(1, 2)` but without transposing the activations.
    pub fn forward_over_tokens(&self, x: Tensor<3>) -> Tensor<3> {
        let hidden = plateau_kernels::gelu(linear_over_tokens(&self.fc1, x)); // [b, hidden, c]
        linear_over_tokens(&self.fc2, hidden)
    }
}

/// `layer.forward(x)`, through plateau-kernels' linear layer when the layer has a bias (one
/// matrix product per pass over the whole batch on the CPU; burn's `linear` elsewhere).
/// burn's `Linear` keeps the parameters, so checkpoints are unchanged.
pub fn linear<const D: usize>(layer: &Linear, x: Tensor<D>) -> Tensor<D> {
    match &layer.bias {
        Some(bias) => plateau_kernels::linear(x, layer.weight.val(), bias.val()),
        None => layer.forward(x),
    }
}

/// `layer.forward(x.swap_dims(1, 2)).swap_dims(1, 2)` for `x [b, s, c]`: the layer along the
/// token axis, through plateau-kernels without the transposes when the layer has a bias.
fn linear_over_tokens(layer: &Linear, x: Tensor<3>) -> Tensor<3> {
    match &layer.bias {
        Some(bias) => plateau_kernels::linear_over_tokens(x, layer.weight.val(), bias.val()),
        None => layer.forward(x.swap_dims(1, 2)).swap_dims(1, 2),
    }
}

/// The LayerNorm epsilon of the ViT and Mixer reference code.
const LAYER_NORM_EPSILON: f64 = 1e-6;

/// LayerNorm with the epsilon of the ViT and Mixer reference code.
pub fn layer_norm(d: usize, device: &Device) -> LayerNorm {
    LayerNormConfig::new(d)
        .with_epsilon(LAYER_NORM_EPSILON)
        .init(device)
}

/// `norm.forward(x)` for a norm built by [`layer_norm`], with plateau-kernels' one-pass
/// backward when training (burn records about nine element-wise operations); burn's
/// `LayerNorm` keeps the parameters, so checkpoints are unchanged.
pub fn normalize<const D: usize>(norm: &LayerNorm, x: Tensor<D>) -> Tensor<D> {
    match (&norm.beta, x.device().is_autodiff()) {
        (Some(beta), true) => {
            plateau_kernels::layer_norm(x, norm.gamma.val(), beta.val(), LAYER_NORM_EPSILON)
        }
        _ => norm.forward(x),
    }
}

/// A square convolution with its weight as a plain, readable parameter (`<name>.weight`),
/// optionally weight-standardised (BiT's StdConv) and optionally with a bias.
#[derive(Module, Debug)]
pub struct Conv {
    pub weight: Param<Tensor<4>>,
    pub bias: Option<Param<Tensor<1>>>,
    pub stride: usize,
    pub padding: usize,
    pub standardize: bool,
}

impl Conv {
    /// He-normal initialisation (fan-out), as torchvision and BiT initialise ResNets.
    pub fn new(
        c_in: usize,
        c_out: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        device: &Device,
    ) -> Self {
        let fan_in = c_in * kernel * kernel;
        let fan_out = c_out * kernel * kernel;
        let weight = Initializer::KaimingNormal {
            gain: 2f64.sqrt(),
            fan_out_only: true,
        }
        .init_with(
            [c_out, c_in, kernel, kernel],
            Some(fan_in),
            Some(fan_out),
            device,
        );
        Self {
            weight,
            bias: None,
            stride,
            padding,
            standardize: false,
        }
    }

    /// A convolution whose kernel equals its stride (patch embedding), with a bias.
    pub fn patchify(c_in: usize, c_out: usize, patch: usize, device: &Device) -> Self {
        let fan_in = c_in * patch * patch;
        let init = Initializer::KaimingUniform {
            gain: 1.0 / 3f64.sqrt(),
            fan_out_only: false,
        };
        Self {
            weight: init.init_with([c_out, c_in, patch, patch], Some(fan_in), None, device),
            bias: Some(init.init_with([c_out], Some(fan_in), None, device)),
            stride: patch,
            padding: 0,
            standardize: false,
        }
    }

    pub fn standardized(mut self, standardize: bool) -> Self {
        self.standardize = standardize;
        self
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let weight = match self.standardize {
            true => standardize_weight(self.weight.val()),
            false => self.weight.val(),
        };
        // plateau-kernels' convolution: our own CPU kernels on flex, burn's elsewhere.
        let stride = [self.stride, self.stride];
        let y = plateau_kernels::conv2d(x, weight, stride, [self.padding, self.padding]);
        match &self.bias {
            // [Co] → [1, Co, 1, 1], broadcast over the batch and positions.
            Some(bias) => y + bias.val().reshape([1, -1, 1, 1]),
            None => y,
        }
    }
}

/// `norm.forward(x)`, with plateau-kernels' fused kernels when training: burn's `BatchNorm`
/// keeps the parameters and running statistics (so checkpoints are unchanged), and its
/// running averages are updated as burn updates them.
pub fn batch_norm(norm: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    if !(x.device().is_autodiff() && norm.training.is_enabled()) {
        return norm.forward(x);
    }
    let device = x.device();
    let batch =
        plateau_kernels::batch_norm_train(x, norm.gamma.val(), norm.beta.val(), norm.epsilon);
    let momentum = norm.momentum;
    let update = |running: &burn::module::RunningState<Tensor<1>>, batch: Tensor<1>| {
        let value = running
            .value_sync()
            .to_device(&device)
            .mul_scalar(1.0 - momentum);
        running.update(value.add(batch.detach().mul_scalar(momentum)).detach());
    };
    update(&norm.running_mean, batch.mean);
    update(&norm.running_var, batch.variance);
    batch.output
}

/// Zero mean, unit variance per output filter (Qiao et al.; BiT's StdConv2d).
fn standardize_weight(weight: Tensor<4>) -> Tensor<4> {
    let [c_out, c_in, kh, kw] = weight.dims();
    let flat = weight.reshape([c_out, c_in * kh * kw]);
    let (var, mean) = flat.clone().var_mean_bias(1);
    let standardized = (flat - mean).div(var.add_scalar(1e-8).sqrt());
    standardized.reshape([c_out, c_in, kh, kw])
}

/// Mean over the token axis: `[batch, tokens, dim]` → `[batch, dim]`.
pub fn mean_tokens(x: Tensor<3>) -> Tensor<2> {
    x.mean_dim(1).squeeze_dim(1)
}

/// Mean over the spatial axes: `[batch, channels, h, w]` → `[batch, channels]`.
pub fn mean_spatial(x: Tensor<4>) -> Tensor<2> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h * w]).mean_dim(2).reshape([b, c])
}
