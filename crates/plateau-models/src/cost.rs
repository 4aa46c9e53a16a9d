//! Analytic parameter and FLOP counts, computed from a config without allocating a model.
//!
//! Conventions (those of the reference implementations and of fvcore/timm tables):
//! - parameters are the trainable ones: BatchNorm running statistics are buffers, not parameters;
//! - FLOPs are forward FLOPs per image, counted as 2 × multiply-accumulates of convolutions,
//!   linear layers and attention matmuls. Normalisation, activations, softmax, pooling and
//!   residual additions are not counted (well under 1 % of any model here).

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;

/// What one model costs: its trainable parameters and forward FLOPs for one image.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Cost {
    pub params: u64,
    pub flops: u64,
}

impl Cost {
    /// A 2-D convolution (no groups) applied to an `h × w` input; returns the output size.
    #[allow(clippy::too_many_arguments)]
    pub fn conv2d(
        &mut self,
        c_in: usize,
        c_out: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        bias: bool,
        (h, w): (usize, usize),
    ) -> (usize, usize) {
        let out = (
            conv_out(h, kernel, stride, padding),
            conv_out(w, kernel, stride, padding),
        );
        let weights = (c_in * c_out * kernel * kernel) as u64;
        self.params += weights + if bias { c_out as u64 } else { 0 };
        self.flops += 2 * weights * (out.0 * out.1) as u64;
        out
    }

    /// A linear layer applied independently to `tokens` vectors.
    pub fn linear(&mut self, d_in: usize, d_out: usize, bias: bool, tokens: usize) {
        let weights = (d_in * d_out) as u64;
        self.params += weights + if bias { d_out as u64 } else { 0 };
        self.flops += 2 * weights * tokens as u64;
    }

    /// A normalisation layer with a learned scale and shift per channel.
    pub fn affine_norm(&mut self, channels: usize) {
        self.params += 2 * channels as u64;
    }

    /// A product of an `m × k` and a `k × n` matrix with no parameters (attention).
    pub fn matmul(&mut self, m: usize, k: usize, n: usize) {
        self.flops += 2 * (m * k * n) as u64;
    }

    /// Learned tensors that are not layers (position embeddings, class tokens).
    pub fn learned(&mut self, elements: usize) {
        self.params += elements as u64;
    }
}

/// Output length of a convolution or pooling window along one axis.
pub fn conv_out(size: usize, kernel: usize, stride: usize, padding: usize) -> usize {
    (size + 2 * padding).saturating_sub(kernel) / stride + 1
}

/// Trainable parameters of a built module, as the reference implementations count them.
///
/// burn's `num_params()` also counts BatchNorm's `running_mean`/`running_var` buffers; they are
/// skipped here by their field names, which are burn's own.
pub fn trainable_params<M: Module>(module: &M) -> u64 {
    let mut counter = TrainableCounter::default();
    module.visit(&mut counter);
    counter.count
}

#[derive(Default)]
struct TrainableCounter {
    path: Vec<String>,
    count: u64,
}

impl ModuleVisitor for TrainableCounter {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let is_buffer = matches!(
            self.path.last().map(String::as_str),
            Some("running_mean" | "running_var")
        );
        if !is_buffer {
            self.count += param.lazy_shape().num_elements() as u64;
        }
    }
}
