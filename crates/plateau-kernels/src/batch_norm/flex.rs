//! The flex backend's side: tensors in and out of the [`cpu`](super::cpu) kernels.

use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{DType, TensorMetadata};
use burn_flex::Flex;

use super::cpu::{self, NormGeometry};
use super::{BatchNormExtension, BatchNormGradients};
use crate::flex_io::{f32_tensor, f32_values};

fn geometry(x: &FloatTensor<Flex>) -> NormGeometry {
    let shape = x.shape();
    assert_eq!(shape.num_dims(), 4, "batch norm kernels take [B, C, H, W]");
    NormGeometry {
        batch: shape[0],
        channels: shape[1],
        plane: shape[2] * shape[3],
    }
}

impl BatchNormExtension for Flex {
    fn plateau_batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        // Half precision goes to burn's own implementation; these are written for f32.
        if x.dtype() != DType::F32 {
            let out = <Flex as ModuleOps<Flex>>::batch_norm_train(x, gamma, beta, epsilon);
            return (out.output, out.mean, out.variance);
        }
        let g = geometry(&x);
        let shape = x.shape();
        let (out, mean, variance) = cpu::forward(
            &g,
            &f32_values(&x),
            &f32_values(&gamma),
            &f32_values(&beta),
            epsilon,
        );
        let channels = [g.channels];
        (
            f32_tensor(out, shape),
            f32_tensor(mean, channels),
            f32_tensor(variance, channels),
        )
    }
}

impl BatchNormGradients for Flex {
    fn plateau_batch_norm_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        grad_out: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let g = geometry(&x);
        let shape = x.shape();
        let (grad_in, grad_gamma, grad_beta) = cpu::backward(
            &g,
            &f32_values(&x),
            &f32_values(&gamma),
            &f32_values(&mean),
            &f32_values(&variance),
            epsilon,
            &f32_values(&grad_out),
        );
        let channels = [g.channels];
        (
            f32_tensor(grad_in, shape),
            f32_tensor(grad_gamma, channels),
            f32_tensor(grad_beta, channels),
        )
    }
}
