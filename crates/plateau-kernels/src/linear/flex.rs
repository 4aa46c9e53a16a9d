//! The flex backend's side: tensors in and out of the [`cpu`](super::cpu) and
//! [`tokens`](super::tokens) kernels.

use burn::backend::tensor::FloatTensor;
use burn::backend::{DType, Shape, TensorMetadata};
use burn_flex::{Flex, FlexTensor};

use super::cpu::{self, LinearShape};
use super::tokens::{self, TokenLinearShape};
use super::{Axis, LinearExtension, LinearGradients};
use crate::flex_io::{f32_tensor, f32_values};

/// The index of the axis of a rank-`rank` input that a linear layer along `axis` maps.
fn mapped_axis(axis: Axis, rank: usize) -> usize {
    match axis {
        Axis::Last => rank - 1,
        Axis::Tokens => 1,
    }
}

/// A call's sizes, by axis.
enum Sizes {
    Last(LinearShape),
    Tokens(TokenLinearShape),
}

impl Sizes {
    fn of(x: &FlexTensor, weight: &FlexTensor, axis: Axis) -> Self {
        for tensor in [x, weight] {
            assert_eq!(
                tensor.dtype(),
                DType::F32,
                "plateau's linear kernel is written for f32"
            );
        }
        let (x_shape, w_shape) = (x.shape(), weight.shape());
        let (d_in, d_out) = (w_shape[0], w_shape[1]);
        let mapped = mapped_axis(axis, x_shape.num_dims());
        assert_eq!(
            x_shape[mapped], d_in,
            "linear: input {x_shape:?} has not {d_in} values along axis {mapped} (weight {w_shape:?})"
        );
        match axis {
            Axis::Last => Sizes::Last(LinearShape {
                rows: x_shape.num_elements() / d_in.max(1),
                d_in,
                d_out,
            }),
            Axis::Tokens => {
                assert_eq!(
                    x_shape.num_dims(),
                    3,
                    "token linear: input must be [batch, tokens, channels]"
                );
                Sizes::Tokens(TokenLinearShape {
                    batch: x_shape[0],
                    tokens: d_in,
                    channels: x_shape[2],
                    d_out,
                })
            }
        }
    }
}

impl LinearExtension for Flex {
    fn plateau_linear(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        axis: Axis,
    ) -> FloatTensor<Self> {
        let (x_values, w, b) = (f32_values(&x), f32_values(&weight), f32_values(&bias));
        let out = match Sizes::of(&x, &weight, axis) {
            Sizes::Last(shape) => cpu::forward(shape, &x_values, &w, &b),
            Sizes::Tokens(shape) => tokens::forward(shape, &x_values, &w, &b),
        };
        // The mapped axis of `x` becomes `d_out` long.
        let mut out_shape: Shape = x.shape();
        let mapped = mapped_axis(axis, out_shape.num_dims());
        out_shape[mapped] = weight.shape()[1];
        f32_tensor(out, out_shape)
    }
}

impl LinearGradients for Flex {
    fn plateau_linear_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad_out: FloatTensor<Self>,
        axis: Axis,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let (x_values, w, dy) = (f32_values(&x), f32_values(&weight), f32_values(&grad_out));
        let (grad_x, grad_weight, grad_bias) = match Sizes::of(&x, &weight, axis) {
            Sizes::Last(shape) => cpu::backward(shape, &x_values, &w, &dy),
            Sizes::Tokens(shape) => tokens::backward(shape, &x_values, &w, &dy),
        };
        let d_out = weight.shape()[1];
        (
            f32_tensor(grad_x, x.shape()),
            f32_tensor(grad_weight, weight.shape()),
            f32_tensor(grad_bias, [d_out]),
        )
    }
}
