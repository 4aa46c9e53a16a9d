//! 2-D convolution without bias, groups or dilation (what ResNets and patch embeddings use).
//! On the flex backend it runs [`cpu`]'s im2col + matrix-product kernels for the forward pass
//! and both gradients; elsewhere it is burn's `conv2d`.

mod autodiff;
mod columns;
pub mod cpu;
mod flex;

use burn::backend::tensor::FloatTensor;
use burn::backend::{Dispatch, backend_extension};
use burn::prelude::*;
use burn::tensor::module::conv2d as burn_conv2d;
use burn::tensor::ops::ConvOptions;

pub use cpu::ConvGeometry;

/// The convolution as a backend operation; what the flex and autodiff backends implement.
#[backend_extension(Flex, Autodiff)]
pub trait Conv2dExtension: burn::backend::Backend {
    /// `x [B, Ci, H, W]`, `weight [Co, Ci, Kh, Kw]` → `[B, Co, Ho, Wo]`.
    fn plateau_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride_h: usize,
        stride_w: usize,
        padding_h: usize,
        padding_w: usize,
    ) -> FloatTensor<Self>;
}

/// The two gradients of [`Conv2dExtension::plateau_conv2d`], for its backward pass.
pub trait Conv2dGradients: burn::backend::Backend {
    fn plateau_conv2d_input_grad(
        weight: FloatTensor<Self>,
        grad_out: FloatTensor<Self>,
        geometry: ConvGeometry,
    ) -> FloatTensor<Self>;

    fn plateau_conv2d_weight_grad(
        x: FloatTensor<Self>,
        grad_out: FloatTensor<Self>,
        geometry: ConvGeometry,
    ) -> FloatTensor<Self>;
}

/// The shapes of a convolution of `x [B, Ci, H, W]` with `weight [Co, Ci, Kh, Kw]`.
fn geometry(
    x: &burn::backend::Shape,
    weight: &burn::backend::Shape,
    stride: [usize; 2],
    padding: [usize; 2],
) -> ConvGeometry {
    ConvGeometry {
        batch: x[0],
        c_in: x[1],
        height: x[2],
        width: x[3],
        c_out: weight[0],
        kernel: [weight[2], weight[3]],
        stride,
        padding,
    }
}

/// `x [B, Ci, H, W]` convolved with `weight [Co, Ci, Kh, Kw]`: `[B, Co, Ho, Wo]`.
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    stride: [usize; 2],
    padding: [usize; 2],
) -> Tensor<4> {
    if x.device().inner() != Device::flex() {
        return burn_conv2d(
            x,
            weight,
            None,
            ConvOptions::new(stride, padding, [1, 1], 1),
        );
    }
    Tensor::from_dispatch(Dispatch::plateau_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        stride[0],
        stride[1],
        padding[0],
        padding[1],
    ))
}
