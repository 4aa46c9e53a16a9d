//! The flex backend's side: burn's fused forward, and [`cpu`](super::cpu)'s backward.

use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{DType, TensorMetadata};
use burn_flex::Flex;

use super::cpu;
use super::{LayerNormExtension, LayerNormGradients};
use crate::flex_io::{f32_tensor, f32_values};

impl LayerNormExtension for Flex {
    fn plateau_layer_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        <Flex as ModuleOps<Flex>>::layer_norm(x, gamma, Some(beta), epsilon)
    }
}

impl LayerNormGradients for Flex {
    fn plateau_layer_norm_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        epsilon: f64,
        grad_out: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        assert_eq!(
            x.dtype(),
            DType::F32,
            "plateau's layer norm backward is written for f32"
        );
        let shape = x.shape();
        let width = shape[shape.num_dims() - 1];
        let (grad_in, grad_gamma, grad_beta) = cpu::backward(
            width,
            &f32_values(&x),
            &f32_values(&gamma),
            epsilon,
            &f32_values(&grad_out),
        );
        (
            f32_tensor(grad_in, shape),
            f32_tensor(grad_gamma, [width]),
            f32_tensor(grad_beta, [width]),
        )
    }
}
