//! Vision Transformer (Dosovitskiy et al.), as in big_vision's `models/vit.py`: patch embedding
//! by a strided conv, learned position embedding, pre-norm encoder blocks, a class token or
//! global average pooling, a final LayerNorm and a linear head.

use burn::module::{Module, Param};
use burn::nn::{Initializer, LayerNorm, Linear, LinearConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::cost::Cost;
use crate::layers::{Conv, Mlp, layer_norm, linear, mean_tokens, normalize};
use crate::{Features, InputSpec, ModelError, check_divides, check_positive};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// A learned class token, read out after the final norm.
    #[default]
    Cls,
    /// Mean of all tokens after the final norm; no class token.
    Gap,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VitConfig {
    pub patch_size: usize,
    /// Token dimension (hidden size).
    pub width: usize,
    /// Number of encoder blocks.
    pub depth: usize,
    pub heads: usize,
    pub mlp_dim: usize,
    #[serde(default)]
    pub pool: Pooling,
}

impl VitConfig {
    pub fn new(
        patch_size: usize,
        width: usize,
        depth: usize,
        heads: usize,
        mlp_dim: usize,
    ) -> Self {
        Self {
            patch_size,
            width,
            depth,
            heads,
            mlp_dim,
            pool: Pooling::Cls,
        }
    }

    fn num_patches(&self, input: &InputSpec) -> usize {
        (input.image_size / self.patch_size).pow(2)
    }

    fn num_tokens(&self, input: &InputSpec) -> usize {
        self.num_patches(input) + usize::from(self.pool == Pooling::Cls)
    }

    pub fn layer_names(&self) -> Vec<String> {
        (0..self.depth).map(|i| format!("block{i:02}")).collect()
    }

    pub fn feature_dim(&self) -> usize {
        self.width
    }

    pub fn validate(&self, input: &InputSpec) -> Result<(), ModelError> {
        check_positive("vit.patch_size", self.patch_size)?;
        check_positive("vit.width", self.width)?;
        check_positive("vit.depth", self.depth)?;
        check_positive("vit.heads", self.heads)?;
        check_positive("vit.mlp_dim", self.mlp_dim)?;
        check_divides("vit.heads", self.heads, "vit.width", self.width)?;
        check_divides(
            "vit.patch_size",
            self.patch_size,
            "image_size",
            input.image_size,
        )
    }

    pub fn cost(&self, input: &InputSpec) -> Cost {
        let mut cost = Cost::default();
        let d = self.width;
        let tokens = self.num_tokens(input);
        let side = input.image_size;
        cost.conv2d(
            input.channels,
            d,
            self.patch_size,
            self.patch_size,
            0,
            true,
            (side, side),
        );
        if self.pool == Pooling::Cls {
            cost.learned(d);
        }
        cost.learned(tokens * d);
        for _ in 0..self.depth {
            cost.affine_norm(d);
            cost.linear(d, 3 * d, true, tokens); // qkv
            cost.matmul(tokens, d, tokens); // q·kᵀ over all heads
            cost.matmul(tokens, tokens, d); // attention·v over all heads
            cost.linear(d, d, true, tokens); // output projection
            cost.affine_norm(d);
            cost.linear(d, self.mlp_dim, true, tokens);
            cost.linear(self.mlp_dim, d, true, tokens);
        }
        cost.affine_norm(d);
        cost.linear(d, input.num_classes, true, 1);
        cost
    }

    pub fn init(&self, input: &InputSpec, device: &Device) -> Vit {
        let d = self.width;
        let tokens = self.num_tokens(input);
        let embedding = Initializer::Normal {
            mean: 0.0,
            std: 0.02,
        };
        Vit {
            patch_embed: Conv::patchify(input.channels, d, self.patch_size, device),
            cls_token: (self.pool == Pooling::Cls)
                .then(|| Initializer::Zeros.init([1, 1, d], device)),
            pos_embed: embedding.init([1, tokens, d], device),
            blocks: (0..self.depth)
                .map(|_| EncoderBlock {
                    norm1: layer_norm(d, device),
                    attn: Attention {
                        qkv: LinearConfig::new(d, 3 * d).init(device),
                        proj: LinearConfig::new(d, d).init(device),
                        heads: self.heads,
                    },
                    norm2: layer_norm(d, device),
                    mlp: Mlp::new(d, self.mlp_dim, device),
                })
                .collect(),
            norm: layer_norm(d, device),
            head: LinearConfig::new(d, input.num_classes).init(device),
        }
    }
}

/// Multi-head self-attention with one fused q/k/v projection (`attn.qkv.weight`).
#[derive(Module, Debug)]
pub struct Attention {
    pub qkv: Linear,
    pub proj: Linear,
    pub heads: usize,
}

impl Attention {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        // plateau-kernels' attention reads the heads in place on the CPU (burn's elsewhere).
        let qkv = linear(&self.qkv, x); // [b, t, 3d]: q, k, v, each [heads, dh]
        linear(&self.proj, plateau_kernels::self_attention(qkv, self.heads))
    }
}

#[derive(Module, Debug)]
pub struct EncoderBlock {
    pub norm1: LayerNorm,
    pub attn: Attention,
    pub norm2: LayerNorm,
    pub mlp: Mlp,
}

impl EncoderBlock {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let x = x.clone() + self.attn.forward(normalize(&self.norm1, x));
        x.clone() + self.mlp.forward(normalize(&self.norm2, x))
    }
}

#[derive(Module, Debug)]
pub struct Vit {
    pub patch_embed: Conv,
    pub cls_token: Option<Param<Tensor<3>>>,
    pub pos_embed: Param<Tensor<3>>,
    pub blocks: Vec<EncoderBlock>,
    pub norm: LayerNorm,
    pub head: Linear,
}

impl Vit {
    /// Pooled pre-logits and, if asked, the token-mean of every block's output.
    pub fn features(&self, images: Tensor<4>, keep_layers: bool) -> Features {
        let patches = self.patch_embed.forward(images); // [b, d, h/p, w/p]
        let [b, d, gh, gw] = patches.dims();
        let mut x = patches.reshape([b, d, gh * gw]).swap_dims(1, 2); // [b, n, d]
        if let Some(cls) = &self.cls_token {
            x = Tensor::cat(vec![cls.val().expand([b, 1, d]), x], 1); // [b, 1 + n, d]
        }
        x = x + self.pos_embed.val();
        let mut layers = Vec::new();
        for block in &self.blocks {
            x = block.forward(x);
            if keep_layers {
                layers.push(mean_tokens(x.clone())); // [b, d]
            }
        }
        let x = normalize(&self.norm, x);
        let pre_logits = match &self.cls_token {
            Some(_) => x.narrow(1, 0, 1).reshape([b, d]), // class token
            None => mean_tokens(x),
        };
        Features { pre_logits, layers }
    }

    pub fn head(&self, pre_logits: Tensor<2>) -> Tensor<2> {
        linear(&self.head, pre_logits)
    }
}
