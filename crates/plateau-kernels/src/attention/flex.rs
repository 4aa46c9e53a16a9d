//! The flex backend's side: tensors in and out of the [`cpu`](super::cpu) kernels.

use burn::backend::tensor::FloatTensor;
use burn::backend::{DType, TensorMetadata};
use burn_flex::{Flex, FlexTensor};

use super::cpu::{self, AttentionShape};
use super::{AttentionExtension, AttentionGradients};
use crate::flex_io::{f32_tensor, f32_values};

/// The sizes of an attention call on `qkv [b, t, 3·d]`.
fn shape_of(qkv: &FlexTensor, heads: usize) -> AttentionShape {
    assert_eq!(
        qkv.dtype(),
        DType::F32,
        "plateau's attention kernel is written for f32"
    );
    let shape = qkv.shape();
    assert_eq!(
        shape.num_dims(),
        3,
        "attention: qkv must be [batch, tokens, 3·width]"
    );
    let width = shape[2] / 3;
    assert!(
        heads > 0 && width * 3 == shape[2] && width.is_multiple_of(heads),
        "attention: the last axis, {}, is not 3 × heads ({heads}) × head size",
        shape[2]
    );
    AttentionShape {
        batch: shape[0],
        tokens: shape[1],
        heads,
        head_dim: width / heads,
    }
}

impl AttentionExtension for Flex {
    fn plateau_self_attention(qkv: FloatTensor<Self>, heads: usize) -> FloatTensor<Self> {
        let shape = shape_of(&qkv, heads);
        let out = cpu::forward(shape, &f32_values(&qkv));
        f32_tensor(out, [shape.batch, shape.tokens, shape.width()])
    }
}

impl AttentionGradients for Flex {
    fn plateau_self_attention_backward(
        qkv: FloatTensor<Self>,
        heads: usize,
        grad_out: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let shape = shape_of(&qkv, heads);
        let grad = cpu::backward(shape, &f32_values(&qkv), &f32_values(&grad_out));
        f32_tensor(grad, qkv.shape())
    }
}
