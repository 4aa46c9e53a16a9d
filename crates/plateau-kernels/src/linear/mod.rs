//! A linear layer, `x·W + b` over the last axis of `x`. burn's flex backend multiplies the
//! batch image by image, zero-fills each output and copies it again to align it, adds the bias
//! in a pass of its own, and transposes operands for the backward products; here every pass is
//! one matrix product over all rows, transposes are strides and the bias rides along ([`cpu`]).
//! Elsewhere it is burn's `linear`.

mod autodiff;
pub mod cpu;
mod flex;

use burn::backend::tensor::FloatTensor;
use burn::backend::{Dispatch, backend_extension};
use burn::prelude::*;

/// The linear layer as a backend operation; what the flex and autodiff backends implement.
#[backend_extension(Flex, Autodiff)]
pub trait LinearExtension: burn::backend::Backend {
    /// `x [.., d_in]`, `weight [d_in, d_out]`, `bias [d_out]` → `[.., d_out]`.
    fn plateau_linear(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

/// The gradients of [`LinearExtension::plateau_linear`]'s output with respect to its input,
/// weight and bias, for its backward pass.
pub trait LinearGradients: burn::backend::Backend {
    fn plateau_linear_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad_out: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// `x·weight + bias` over the last axis of `x` (burn's `Linear` layout: `weight [d_in, d_out]`).
pub fn linear<const D: usize>(x: Tensor<D>, weight: Tensor<2>, bias: Tensor<1>) -> Tensor<D> {
    if x.device().inner() != Device::flex() {
        return burn::tensor::module::linear(x, weight, Some(bias));
    }
    Tensor::from_dispatch(Dispatch::plateau_linear(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
    ))
}
