//! The flex backend's side: tensors in and out of the [`cpu`](super::cpu) kernels.

use burn::backend::tensor::FloatTensor;
use burn::backend::{DType, Shape, TensorMetadata};
use burn_flex::{Flex, FlexTensor};

use super::cpu::{self, LinearShape};
use super::{LinearExtension, LinearGradients};
use crate::flex_io::{f32_tensor, f32_values};

/// The sizes of `x [.., d_in] · weight [d_in, d_out]`.
fn shape_of(x: &FlexTensor, weight: &FlexTensor) -> LinearShape {
    for tensor in [x, weight] {
        assert_eq!(
            tensor.dtype(),
            DType::F32,
            "plateau's linear kernel is written for f32"
        );
    }
    let (x_shape, w_shape) = (x.shape(), weight.shape());
    let d_in = x_shape[x_shape.num_dims() - 1];
    assert_eq!(
        w_shape[0], d_in,
        "linear: input width {d_in} but weight {w_shape:?}"
    );
    LinearShape {
        rows: x_shape.num_elements() / d_in.max(1),
        d_in,
        d_out: w_shape[1],
    }
}

impl LinearExtension for Flex {
    fn plateau_linear(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let shape = shape_of(&x, &weight);
        let out = cpu::forward(
            shape,
            &f32_values(&x),
            &f32_values(&weight),
            &f32_values(&bias),
        );
        let mut out_shape: Shape = x.shape();
        let last = out_shape.num_dims() - 1;
        out_shape[last] = shape.d_out;
        f32_tensor(out, out_shape)
    }
}

impl LinearGradients for Flex {
    fn plateau_linear_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad_out: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let shape = shape_of(&x, &weight);
        let (grad_x, grad_weight, grad_bias) = cpu::backward(
            shape,
            &f32_values(&x),
            &f32_values(&weight),
            &f32_values(&grad_out),
        );
        (
            f32_tensor(grad_x, x.shape()),
            f32_tensor(grad_weight, weight.shape()),
            f32_tensor(grad_bias, [shape.d_out]),
        )
    }
}
