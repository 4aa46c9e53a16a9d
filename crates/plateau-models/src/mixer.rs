//! MLP-Mixer (Tolstikhin et al.), as in big_vision's `models/mlp_mixer.py`: a patch-embedding
//! conv, blocks of token mixing and channel mixing MLPs (pre-norm, residual), a final
//! LayerNorm, mean pooling over tokens and a linear head.

use burn::module::Module;
use burn::nn::{LayerNorm, Linear, LinearConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::cost::Cost;
use crate::layers::{Conv, Mlp, layer_norm, linear, mean_tokens, normalize};
use crate::{Features, InputSpec, ModelError, check_divides, check_positive};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixerConfig {
    pub patch_size: usize,
    /// Channels per token (C).
    pub hidden_dim: usize,
    /// Number of Mixer blocks.
    pub depth: usize,
    /// Hidden width of the token-mixing MLP (D_S).
    pub token_mlp_dim: usize,
    /// Hidden width of the channel-mixing MLP (D_C).
    pub channel_mlp_dim: usize,
}

impl MixerConfig {
    fn num_tokens(&self, input: &InputSpec) -> usize {
        (input.image_size / self.patch_size).pow(2)
    }

    pub fn layer_names(&self) -> Vec<String> {
        (0..self.depth).map(|i| format!("block{i:02}")).collect()
    }

    pub fn feature_dim(&self) -> usize {
        self.hidden_dim
    }

    pub fn validate(&self, input: &InputSpec) -> Result<(), ModelError> {
        check_positive("mixer.patch_size", self.patch_size)?;
        check_positive("mixer.hidden_dim", self.hidden_dim)?;
        check_positive("mixer.depth", self.depth)?;
        check_positive("mixer.token_mlp_dim", self.token_mlp_dim)?;
        check_positive("mixer.channel_mlp_dim", self.channel_mlp_dim)?;
        check_divides(
            "mixer.patch_size",
            self.patch_size,
            "image_size",
            input.image_size,
        )
    }

    pub fn cost(&self, input: &InputSpec) -> Cost {
        let mut cost = Cost::default();
        let (c, s) = (self.hidden_dim, self.num_tokens(input));
        let side = input.image_size;
        cost.conv2d(
            input.channels,
            c,
            self.patch_size,
            self.patch_size,
            0,
            true,
            (side, side),
        );
        for _ in 0..self.depth {
            cost.affine_norm(c);
            cost.linear(s, self.token_mlp_dim, true, c); // token mixing, per channel
            cost.linear(self.token_mlp_dim, s, true, c);
            cost.affine_norm(c);
            cost.linear(c, self.channel_mlp_dim, true, s); // channel mixing, per token
            cost.linear(self.channel_mlp_dim, c, true, s);
        }
        cost.affine_norm(c);
        cost.linear(c, input.num_classes, true, 1);
        cost
    }

    pub fn init(&self, input: &InputSpec, device: &Device) -> Mixer {
        let (c, s) = (self.hidden_dim, self.num_tokens(input));
        Mixer {
            stem: Conv::patchify(input.channels, c, self.patch_size, device),
            blocks: (0..self.depth)
                .map(|_| MixerBlock {
                    norm1: layer_norm(c, device),
                    token_mlp: Mlp::new(s, self.token_mlp_dim, device),
                    norm2: layer_norm(c, device),
                    channel_mlp: Mlp::new(c, self.channel_mlp_dim, device),
                })
                .collect(),
            norm: layer_norm(c, device),
            head: LinearConfig::new(c, input.num_classes).init(device),
        }
    }
}

#[derive(Module, Debug)]
pub struct MixerBlock {
    pub norm1: LayerNorm,
    pub token_mlp: Mlp,
    pub norm2: LayerNorm,
    pub channel_mlp: Mlp,
}

impl MixerBlock {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let mixed = self
            .token_mlp
            .forward_over_tokens(normalize(&self.norm1, x.clone())); // [b, s, c]
        let x = x + mixed;
        x.clone() + self.channel_mlp.forward(normalize(&self.norm2, x))
    }
}

#[derive(Module, Debug)]
pub struct Mixer {
    pub stem: Conv,
    pub blocks: Vec<MixerBlock>,
    pub norm: LayerNorm,
    pub head: Linear,
}

impl Mixer {
    /// Pooled pre-logits and, if asked, the token-mean of every block's output.
    pub fn features(&self, images: Tensor<4>, keep_layers: bool) -> Features {
        let patches = self.stem.forward(images); // [b, c, h/p, w/p]
        let [b, c, gh, gw] = patches.dims();
        let mut x = patches.reshape([b, c, gh * gw]).swap_dims(1, 2); // [b, s, c]
        let mut layers = Vec::new();
        for block in &self.blocks {
            x = block.forward(x);
            if keep_layers {
                layers.push(mean_tokens(x.clone())); // [b, c]
            }
        }
        Features {
            pre_logits: mean_tokens(normalize(&self.norm, x)), // [b, c]
            layers,
        }
    }

    pub fn head(&self, pre_logits: Tensor<2>) -> Tensor<2> {
        linear(&self.head, pre_logits)
    }
}
