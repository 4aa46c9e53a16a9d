//! The flex backend's side: tensors in and out of the [`cpu`](super::cpu) kernels.

use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{DType, TensorMetadata};
use burn::tensor::ops::ConvOptions;
use burn_flex::Flex;

use super::cpu::{self, ConvGeometry};
use super::geometry;
use super::{Conv2dExtension, Conv2dGradients};
use crate::flex_io::{f32_tensor as tensor, f32_values as values};

impl Conv2dExtension for Flex {
    fn plateau_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride_h: usize,
        stride_w: usize,
        padding_h: usize,
        padding_w: usize,
    ) -> FloatTensor<Self> {
        let (stride, padding) = ([stride_h, stride_w], [padding_h, padding_w]);
        // Half precision goes to burn's own kernel; these are written for f32.
        if x.dtype() != DType::F32 || weight.dtype() != DType::F32 {
            let options = ConvOptions::new(stride, padding, [1, 1], 1);
            return <Flex as ModuleOps<Flex>>::conv2d(x, weight, None, options);
        }
        let g = geometry(&x.shape(), &weight.shape(), stride, padding);
        assert_eq!(
            x.shape()[1],
            weight.shape()[1],
            "conv2d: input channels differ"
        );
        let out = cpu::forward(&g, &values(&x), &values(&weight));
        tensor(out, [g.batch, g.c_out, g.out_height(), g.out_width()])
    }
}

impl Conv2dGradients for Flex {
    fn plateau_conv2d_input_grad(
        weight: FloatTensor<Self>,
        grad_out: FloatTensor<Self>,
        g: ConvGeometry,
    ) -> FloatTensor<Self> {
        let grad = cpu::backward_input(&g, &values(&weight), &values(&grad_out));
        tensor(grad, [g.batch, g.c_in, g.height, g.width])
    }

    fn plateau_conv2d_weight_grad(
        x: FloatTensor<Self>,
        grad_out: FloatTensor<Self>,
        g: ConvGeometry,
    ) -> FloatTensor<Self> {
        let grad = cpu::backward_weight(&g, &values(&x), &values(&grad_out));
        tensor(grad, [g.c_out, g.c_in, g.kernel[0], g.kernel[1]])
    }
}
