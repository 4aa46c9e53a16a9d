//! A linear layer, `x·W + b`, over the last axis of `x` or over its token axis (the Mixer's
//! token mixing, [`tokens`]). burn's flex backend multiplies the batch image by image,
//! zero-fills each output and copies it again to align it, adds the bias in a pass of its own,
//! and transposes operands for the backward products (and, for token mixing, the activations
//! themselves); here every pass is one matrix product over all rows (per image over the token
//! axis), transposes are strides and the bias rides along ([`cpu`]). Elsewhere it is burn's
//! `linear`.

mod autodiff;
pub mod cpu;
mod flex;
pub mod tokens;

use burn::backend::tensor::FloatTensor;
use burn::backend::{Dispatch, backend_extension};
use burn::prelude::*;

/// The axis of `x` a linear layer maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Axis {
    /// `x [.., d_in]` → `[.., d_out]`
    Last,
    /// `x [b, d_in, c]` → `[b, d_out, c]`
    Tokens,
}

/// The linear layer as a backend operation; what the flex and autodiff backends implement.
#[backend_extension(Flex, Autodiff)]
pub trait LinearExtension: burn::backend::Backend {
    /// `x` with `d_in` along `axis`, `weight [d_in, d_out]`, `bias [d_out]` → `d_out` along it.
    fn plateau_linear(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        axis: Axis,
    ) -> FloatTensor<Self>;
}

/// The gradients of [`LinearExtension::plateau_linear`]'s output with respect to its input,
/// weight and bias, for its backward pass.
pub trait LinearGradients: burn::backend::Backend {
    fn plateau_linear_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad_out: FloatTensor<Self>,
        axis: Axis,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// `x·weight + bias` over the last axis of `x` (burn's `Linear` layout: `weight [d_in, d_out]`).
pub fn linear<const D: usize>(x: Tensor<D>, weight: Tensor<2>, bias: Tensor<1>) -> Tensor<D> {
    if x.device().inner() != Device::flex() {
        return burn::tensor::module::linear(x, weight, Some(bias));
    }
    dispatch(x, weight, bias, Axis::Last)
}

/// The same layer over the token axis: `x [b, s, c]`, `weight [s, h]` → `[b, h, c]`, equal to
/// `linear(x.swap_dims(1, 2), weight, bias).swap_dims(1, 2)` without the transposes.
pub fn linear_over_tokens(x: Tensor<3>, weight: Tensor<2>, bias: Tensor<1>) -> Tensor<3> {
    if x.device().inner() != Device::flex() {
        return burn::tensor::module::linear(x.swap_dims(1, 2), weight, Some(bias)).swap_dims(1, 2);
    }
    dispatch(x, weight, bias, Axis::Tokens)
}

fn dispatch<const D: usize>(
    x: Tensor<D>,
    weight: Tensor<2>,
    bias: Tensor<1>,
    axis: Axis,
) -> Tensor<D> {
    Tensor::from_dispatch(Dispatch::plateau_linear(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        axis,
    ))
}
