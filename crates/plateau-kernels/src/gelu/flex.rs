//! The flex backend's side: tensors in and out of the [`cpu`](super::cpu) kernels.

use burn::backend::DType;
use burn::backend::TensorMetadata;
use burn::backend::ops::ActivationOps;
use burn::backend::tensor::FloatTensor;
use burn_flex::Flex;

use super::cpu;
use super::{GeluExtension, GeluGradients};
use crate::flex_io::{f32_tensor, f32_values};

impl GeluExtension for Flex {
    fn plateau_gelu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        // Half precision goes to burn's own implementation; these are written for f32.
        if x.dtype() != DType::F32 {
            return <Flex as ActivationOps<Flex>>::gelu(x);
        }
        let shape = x.shape();
        f32_tensor(cpu::forward(&f32_values(&x)), shape)
    }
}

impl GeluGradients for Flex {
    fn plateau_gelu_backward(
        x: FloatTensor<Self>,
        grad_out: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        if x.dtype() != DType::F32 {
            return <Flex as ActivationOps<Flex>>::gelu_backward(x, grad_out);
        }
        let shape = x.shape();
        f32_tensor(
            cpu::backward(&f32_values(&x), &f32_values(&grad_out)),
            shape,
        )
    }
}
