//! Multi-head self-attention from a fused q/k/v projection, `softmax(q·kᵀ/√dh)·v` per head.
//! On burn's flex backend the heads are separated by permutes and copies, the softmax is five
//! element-wise passes with a scalar `exp` from libm, and autodiff keeps every intermediate;
//! here each image's heads are read in place by strided matrix products, the softmax is one
//! vectorised pass, and the backward pass is one hand-written pass ([`cpu`]). Elsewhere it is
//! burn's operations ([`with_burn_ops`]).

mod autodiff;
pub mod cpu;
mod flex;

use burn::backend::tensor::FloatTensor;
use burn::backend::{Dispatch, backend_extension};
use burn::prelude::*;
use burn::tensor::activation::softmax;

/// Self-attention as a backend operation; what the flex and autodiff backends implement.
#[backend_extension(Flex, Autodiff)]
pub trait AttentionExtension: burn::backend::Backend {
    /// `qkv [b, t, 3·d]` (q, k, v along the last axis, each `[heads, dh]`) → `[b, t, d]`.
    fn plateau_self_attention(qkv: FloatTensor<Self>, heads: usize) -> FloatTensor<Self>;
}

/// The gradient of [`AttentionExtension::plateau_self_attention`] with respect to `qkv`.
pub trait AttentionGradients: burn::backend::Backend {
    fn plateau_self_attention_backward(
        qkv: FloatTensor<Self>,
        heads: usize,
        grad_out: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

/// Scaled dot-product self-attention of every head, without a mask. `qkv [b, t, 3·d]` is a
/// fused projection: along its last axis q, then k, then v, each `heads` blocks of `d / heads`.
/// Returns the heads' outputs side by side, `[b, t, d]`, ready for the output projection.
pub fn self_attention(qkv: Tensor<3>, heads: usize) -> Tensor<3> {
    if qkv.device().inner() != Device::flex() {
        return with_burn_ops(qkv, heads);
    }
    Tensor::from_dispatch(Dispatch::plateau_self_attention(qkv.into_dispatch(), heads))
}

/// [`self_attention`] through burn's own operations: what other backends run, and what the
/// tests compare the kernel with.
pub fn with_burn_ops(qkv: Tensor<3>, heads: usize) -> Tensor<3> {
    let [b, t, d3] = qkv.dims();
    let (d, dh) = (d3 / 3, d3 / 3 / heads);
    let qkv = qkv.reshape([b, t, 3, heads, dh]).permute([2, 0, 3, 1, 4]); // [3, b, heads, t, dh]
    let take = |i: usize| -> Tensor<4> { qkv.clone().narrow(0, i, 1).reshape([b, heads, t, dh]) };
    let (q, k, v) = (take(0), take(1), take(2));
    let scores = q.matmul(k.swap_dims(2, 3)) * (dh as f64).powf(-0.5); // [b, heads, t, t]
    let attended = softmax(scores, 3).matmul(v); // [b, heads, t, dh]
    attended.swap_dims(1, 2).reshape([b, t, d])
}
