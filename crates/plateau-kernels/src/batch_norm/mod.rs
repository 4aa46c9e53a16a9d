//! Batch normalisation with batch statistics (training mode), for NCHW images. On the flex
//! backend it runs [`cpu`]'s fused kernels forward and backward; elsewhere it is burn's
//! `batch_norm_train`.

mod autodiff;
pub mod cpu;
mod flex;

use burn::backend::tensor::FloatTensor;
use burn::backend::{Dispatch, backend_extension};
use burn::prelude::*;
use burn::tensor::module::BatchNormTrainOutput;

pub use cpu::NormGeometry;

/// Batch normalisation as a backend operation; what the flex and autodiff backends implement.
#[backend_extension(Flex, Autodiff)]
pub trait BatchNormExtension: burn::backend::Backend {
    /// `x [B, C, H, W]`, `gamma`, `beta` `[C]` → output, batch mean, biased batch variance.
    fn plateau_batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// The gradients of [`BatchNormExtension::plateau_batch_norm_train`]'s output with respect to
/// its input, γ and β, for its backward pass.
pub trait BatchNormGradients: burn::backend::Backend {
    fn plateau_batch_norm_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        grad_out: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// Normalises `x [B, C, H, W]` with its own batch statistics, which it also returns (for the
/// running averages).
pub fn batch_norm_train(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
) -> BatchNormTrainOutput<4> {
    if x.device().inner() != Device::flex() {
        return burn::tensor::module::batch_norm_train(x, gamma, beta, epsilon);
    }
    let (output, mean, variance) = Dispatch::plateau_batch_norm_train(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        epsilon,
    );
    BatchNormTrainOutput {
        output: Tensor::from_dispatch(output),
        mean: Tensor::from_dispatch(mean),
        variance: Tensor::from_dispatch(variance),
    }
}
