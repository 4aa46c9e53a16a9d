//! Layer normalisation over the last dimension, `(x − μ) / √(σ² + ε) · γ + β` per row. burn's
//! flex backend has a fused forward, but autodiff records the normalisation as about nine
//! element-wise operations, each keeping its output and each with its own backward pass. Here
//! the forward is flex's fused one and the backward is one pass ([`cpu`]); elsewhere it is
//! burn's `layer_norm`.

mod autodiff;
pub mod cpu;
mod flex;

use burn::backend::tensor::FloatTensor;
use burn::backend::{Dispatch, backend_extension};
use burn::prelude::*;

/// Layer normalisation as a backend operation; what the flex and autodiff backends implement.
#[backend_extension(Flex, Autodiff)]
pub trait LayerNormExtension: burn::backend::Backend {
    /// `x [.., d]`, `gamma`, `beta` `[d]` → normalised `x`.
    fn plateau_layer_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self>;
}

/// The gradients of [`LayerNormExtension::plateau_layer_norm`]'s output with respect to its
/// input, γ and β, for its backward pass.
pub trait LayerNormGradients: burn::backend::Backend {
    fn plateau_layer_norm_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        epsilon: f64,
        grad_out: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// Normalises every row (the last dimension) of `x` to zero mean and unit variance, then
/// scales by `gamma` and shifts by `beta`.
pub fn layer_norm<const D: usize>(
    x: Tensor<D>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
) -> Tensor<D> {
    if x.device().inner() != Device::flex() {
        return burn::tensor::module::layer_norm(x, gamma, Some(beta), epsilon);
    }
    Tensor::from_dispatch(Dispatch::plateau_layer_norm(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        epsilon,
    ))
}
