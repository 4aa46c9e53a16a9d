//! GELU, `x · Φ(x)` with the exact normal CDF (not the tanh approximation). burn computes it
//! as five element-wise passes with a scalar `erf` from libm, and autodiff keeps each pass's
//! output; on the flex backend this is one vectorised pass forward and one backward, through
//! [`cpu`]. Elsewhere it is burn's `gelu`.

mod autodiff;
pub mod cpu;
mod flex;

use burn::backend::tensor::FloatTensor;
use burn::backend::{Dispatch, backend_extension};
use burn::prelude::*;

/// GELU as a backend operation; what the flex and autodiff backends implement.
#[backend_extension(Flex, Autodiff)]
pub trait GeluExtension: burn::backend::Backend {
    fn plateau_gelu(x: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// The gradient of [`GeluExtension::plateau_gelu`] with respect to its input.
pub trait GeluGradients: burn::backend::Backend {
    fn plateau_gelu_backward(
        x: FloatTensor<Self>,
        grad_out: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

/// `x · Φ(x)`, element-wise.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if x.device().inner() != Device::flex() {
        return burn::tensor::activation::gelu(x);
    }
    Tensor::from_dispatch(Dispatch::plateau_gelu(x.into_dispatch()))
}
