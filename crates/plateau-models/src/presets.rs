//! Named architectures. The ImageNet presets are the published models at 224 px and 1000
//! classes (torchvision ResNets, BiT-M ResNet v2, big_vision/timm ViT and Mixer); the small
//! presets are starting points for CPU sweeps on 28–32 px images, meant to be scaled with
//! [`ModelConfig::with_width`].

use crate::mixer::MixerConfig;
use crate::resnet::{BlockKind, ResNetConfig, Stem};
use crate::vit::{Pooling, VitConfig};
use crate::{InputSpec, ModelConfig, ModelError};

/// A named architecture and the input it was published for.
#[derive(Clone, Copy)]
pub struct Preset {
    pub name: &'static str,
    pub description: &'static str,
    /// The input the preset was published for (used unless the dataset says otherwise).
    pub input: InputSpec,
    build: fn() -> ModelConfig,
}

impl Preset {
    pub fn config(&self) -> ModelConfig {
        (self.build)()
    }
}

impl std::fmt::Debug for Preset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Preset").field("name", &self.name).finish()
    }
}

const fn imagenet(
    name: &'static str,
    description: &'static str,
    build: fn() -> ModelConfig,
) -> Preset {
    Preset {
        name,
        description,
        input: InputSpec::IMAGENET,
        build,
    }
}

const fn small(
    name: &'static str,
    description: &'static str,
    build: fn() -> ModelConfig,
) -> Preset {
    Preset {
        name,
        description,
        input: InputSpec::CIFAR10,
        build,
    }
}

fn resnet_v1(block: BlockKind, depths: &[usize]) -> ModelConfig {
    ModelConfig::Resnet(ResNetConfig::v1(block, depths))
}

fn bit(depths: &[usize], width_multiplier: usize) -> ModelConfig {
    ModelConfig::Resnet(ResNetConfig::bit(depths, width_multiplier))
}

fn vit(patch: usize, width: usize, depth: usize, heads: usize, mlp_dim: usize) -> ModelConfig {
    ModelConfig::Vit(VitConfig::new(patch, width, depth, heads, mlp_dim))
}

fn mixer(
    patch: usize,
    hidden: usize,
    depth: usize,
    token_mlp: usize,
    channel_mlp: usize,
) -> ModelConfig {
    ModelConfig::Mixer(MixerConfig {
        patch_size: patch,
        hidden_dim: hidden,
        depth,
        token_mlp_dim: token_mlp,
        channel_mlp_dim: channel_mlp,
    })
}

const R18: &[usize] = &[2, 2, 2, 2];
const R34_50: &[usize] = &[3, 4, 6, 3];
const R101: &[usize] = &[3, 4, 23, 3];
const R152: &[usize] = &[3, 8, 36, 3];

/// Every preset, in the order `plateau params` lists them.
pub const PRESETS: &[Preset] = &[
    imagenet("resnet18", "ResNet-18 v1, BatchNorm (torchvision)", || {
        resnet_v1(BlockKind::Basic, R18)
    }),
    imagenet("resnet34", "ResNet-34 v1, BatchNorm (torchvision)", || {
        resnet_v1(BlockKind::Basic, R34_50)
    }),
    imagenet(
        "resnet50",
        "ResNet-50 v1.5, BatchNorm (torchvision)",
        || resnet_v1(BlockKind::Bottleneck, R34_50),
    ),
    imagenet(
        "resnet101",
        "ResNet-101 v1.5, BatchNorm (torchvision)",
        || resnet_v1(BlockKind::Bottleneck, R101),
    ),
    imagenet(
        "resnet152",
        "ResNet-152 v1.5, BatchNorm (torchvision)",
        || resnet_v1(BlockKind::Bottleneck, R152),
    ),
    imagenet("r50x1", "BiT ResNet-50x1 v2, GroupNorm + StdConv", || {
        bit(R34_50, 1)
    }),
    imagenet("r50x3", "BiT ResNet-50x3 v2, GroupNorm + StdConv", || {
        bit(R34_50, 3)
    }),
    imagenet("r101x1", "BiT ResNet-101x1 v2, GroupNorm + StdConv", || {
        bit(R101, 1)
    }),
    imagenet(
        "vit-ti16",
        "ViT-Ti/16: width 192, depth 12, 3 heads, MLP 768",
        || vit(16, 192, 12, 3, 768),
    ),
    imagenet(
        "vit-s16",
        "ViT-S/16: width 384, depth 12, 6 heads, MLP 1536",
        || vit(16, 384, 12, 6, 1536),
    ),
    imagenet(
        "vit-b16",
        "ViT-B/16: width 768, depth 12, 12 heads, MLP 3072",
        || vit(16, 768, 12, 12, 3072),
    ),
    imagenet(
        "vit-s32",
        "ViT-S/32: width 384, depth 12, 6 heads, MLP 1536",
        || vit(32, 384, 12, 6, 1536),
    ),
    imagenet(
        "vit-b32",
        "ViT-B/32: width 768, depth 12, 12 heads, MLP 3072",
        || vit(32, 768, 12, 12, 3072),
    ),
    imagenet(
        "mixer-s16",
        "Mixer-S/16: hidden 512, 8 blocks, token MLP 256, channel MLP 2048",
        || mixer(16, 512, 8, 256, 2048),
    ),
    imagenet(
        "mixer-b16",
        "Mixer-B/16: hidden 768, 12 blocks, token MLP 384, channel MLP 3072",
        || mixer(16, 768, 12, 384, 3072),
    ),
    imagenet(
        "mixer-l16",
        "Mixer-L/16: hidden 1024, 24 blocks, token MLP 512, channel MLP 4096",
        || mixer(16, 1024, 24, 512, 4096),
    ),
    small(
        "resnet-cifar",
        "CIFAR ResNet-20 layout (He et al.): 3 stages of 3 basic blocks, widths 16/32/64, 1×1 projection shortcuts; width knob = base_width",
        || {
            ModelConfig::Resnet(ResNetConfig {
                base_width: 16,
                stem: Stem::Cifar,
                ..ResNetConfig::v1(BlockKind::Basic, &[3, 3, 3])
            })
        },
    ),
    small(
        "vit-tiny-p4",
        "ViT with 4 px patches: width 128, depth 6, 4 heads, MLP 512, mean pooling; width knob = width",
        || {
            ModelConfig::Vit(VitConfig {
                pool: Pooling::Gap,
                ..VitConfig::new(4, 128, 6, 4, 512)
            })
        },
    ),
    small(
        "mixer-tiny-p4",
        "Mixer with 4 px patches: hidden 128, 6 blocks, token MLP 64, channel MLP 512; width knob = hidden_dim",
        || mixer(4, 128, 6, 64, 512),
    ),
];

/// The preset named `name`, or an error listing every valid name.
pub fn preset(name: &str) -> Result<Preset, ModelError> {
    PRESETS
        .iter()
        .find(|preset| preset.name == name)
        .copied()
        .ok_or_else(|| ModelError::UnknownPreset {
            name: name.to_string(),
            valid: PRESETS.iter().map(|p| p.name.to_string()).collect(),
        })
}
