//! plateau-models: ResNet, ViT and MLP-Mixer at any width and depth, named presets that match the
//! published architectures to the parameter, and analytic parameter/FLOP counts.
//!
//! Every model answers the same three questions: its logits, its pooled pre-logit features (what
//! the downstream probes read) and the pooled output of every stage or block (for layer-wise
//! probes). Input channels, image size and class count come from the dataset ([`InputSpec`]),
//! never from the preset.
//!
//! A new architecture:
//! 1. one file (`myfamily.rs`) with its config (serde, `deny_unknown_fields`), module, presets
//!    and analytic counts, in the style of `vit.rs`;
//! 2. a variant in [`Family`], [`ModelConfig`] and [`Model`], and their arms in the shared interface
//!    (`init`, `forward`, `features`, `cost`, `with_width`, `with_depth`, `validate`);
//! 3. its presets in `presets.rs`, and a test in `tests/families.rs` that its counts equal
//!    burn's `num_params` and that it trains a step.
//!
//! Sweeps, probes and reports then take it with no change outside this crate.

pub mod cost;
mod layers;
pub mod mixer;
pub mod presets;
pub mod resnet;
pub mod vit;

use burn::module::Module;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

pub use cost::{Cost, trainable_params};
pub use mixer::{Mixer, MixerConfig};
pub use presets::{PRESETS, Preset, preset};
pub use resnet::{ResNet, ResNetConfig};
pub use vit::{Vit, VitConfig};

/// What the data looks like to a model: set by the dataset, not by the architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSpec {
    pub channels: usize,
    /// Side of the square input image, in pixels.
    pub image_size: usize,
    pub num_classes: usize,
}

impl InputSpec {
    /// ImageNet-1k at 224 px, the setting of the published parameter counts.
    pub const IMAGENET: Self = Self::new(3, 224, 1000);
    /// CIFAR-10-like 32 px RGB images.
    pub const CIFAR10: Self = Self::new(3, 32, 10);

    pub const fn new(channels: usize, image_size: usize, num_classes: usize) -> Self {
        Self {
            channels,
            image_size,
            num_classes,
        }
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        check_positive("in_channels", self.channels)?;
        check_positive("image_size", self.image_size)?;
        check_positive("num_classes", self.num_classes)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Resnet,
    Vit,
    Mixer,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Resnet => "resnet",
            Family::Vit => "vit",
            Family::Mixer => "mixer",
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One architecture of any family, as plain data (TOML/JSON: `family = "vit"` plus its fields).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "snake_case")]
pub enum ModelConfig {
    Resnet(ResNetConfig),
    Vit(VitConfig),
    Mixer(MixerConfig),
}

impl ModelConfig {
    pub fn family(&self) -> Family {
        match self {
            ModelConfig::Resnet(_) => Family::Resnet,
            ModelConfig::Vit(_) => Family::Vit,
            ModelConfig::Mixer(_) => Family::Mixer,
        }
    }

    /// Checks every shape constraint, naming the field at fault and how to fix it.
    pub fn validate(&self, input: &InputSpec) -> Result<(), ModelError> {
        input.validate()?;
        match self {
            ModelConfig::Resnet(config) => config.validate(),
            ModelConfig::Vit(config) => config.validate(input),
            ModelConfig::Mixer(config) => config.validate(input),
        }
    }

    /// Trainable parameters and forward FLOPs per image, without building the model.
    pub fn cost(&self, input: &InputSpec) -> Result<Cost, ModelError> {
        self.validate(input)?;
        Ok(match self {
            ModelConfig::Resnet(config) => config.cost(input),
            ModelConfig::Vit(config) => config.cost(input),
            ModelConfig::Mixer(config) => config.cost(input),
        })
    }

    /// Names of the probe-able layers, shallowest first (`stage1`…, `block00`…).
    pub fn layer_names(&self) -> Vec<String> {
        match self {
            ModelConfig::Resnet(config) => config.layer_names(),
            ModelConfig::Vit(config) => config.layer_names(),
            ModelConfig::Mixer(config) => config.layer_names(),
        }
    }

    /// Dimension of the pooled pre-logit features.
    pub fn feature_dim(&self) -> usize {
        match self {
            ModelConfig::Resnet(config) => config.feature_dim(),
            ModelConfig::Vit(config) => config.feature_dim(),
            ModelConfig::Mixer(config) => config.feature_dim(),
        }
    }

    /// The family's main width knob: ResNet `base_width`, ViT `width`, Mixer `hidden_dim`.
    /// MLP widths scale by the same factor (rounded), so the preset's shape ratios are kept;
    /// ViT keeps its number of heads.
    pub fn with_width(&self, width: usize) -> Self {
        let scale = |dim: usize, from: usize| {
            ((dim * width) as f64 / from as f64).round().max(1.0) as usize
        };
        match self.clone() {
            ModelConfig::Resnet(config) => ModelConfig::Resnet(ResNetConfig {
                base_width: width,
                ..config
            }),
            ModelConfig::Vit(config) => ModelConfig::Vit(VitConfig {
                mlp_dim: scale(config.mlp_dim, config.width),
                width,
                ..config
            }),
            ModelConfig::Mixer(config) => ModelConfig::Mixer(MixerConfig {
                token_mlp_dim: scale(config.token_mlp_dim, config.hidden_dim),
                channel_mlp_dim: scale(config.channel_mlp_dim, config.hidden_dim),
                hidden_dim: width,
                ..config
            }),
        }
    }

    /// ViT and Mixer: the number of blocks. ResNet: the blocks of every stage.
    pub fn with_depth(&self, depth: usize) -> Self {
        let mut model = self.clone();
        match &mut model {
            ModelConfig::Resnet(c) => c.stage_depths.iter_mut().for_each(|d| *d = depth),
            ModelConfig::Vit(c) => c.depth = depth,
            ModelConfig::Mixer(c) => c.depth = depth,
        }
        model
    }

    /// Builds the model on `device` after validating its shapes.
    pub fn init(&self, input: &InputSpec, device: &Device) -> Result<Model, ModelError> {
        self.validate(input)?;
        Ok(match self {
            ModelConfig::Resnet(config) => Model::Resnet(config.init(input, device)),
            ModelConfig::Vit(config) => Model::Vit(config.init(input, device)),
            ModelConfig::Mixer(config) => Model::Mixer(config.init(input, device)),
        })
    }
}

/// Pooled representations of a batch: `[batch, dim]` each.
#[derive(Debug, Clone)]
pub struct Features {
    /// The representation the head reads (and the downstream probes).
    pub pre_logits: Tensor<2>,
    /// Pooled output of every stage/block, in the order of [`ModelConfig::layer_names`];
    /// empty unless asked for.
    pub layers: Vec<Tensor<2>>,
}

/// A built model of any family.
#[derive(Module, Debug)]
pub enum Model {
    Resnet(ResNet),
    Vit(Vit),
    Mixer(Mixer),
}

impl Model {
    /// Logits `[batch, classes]` of images `[batch, channels, size, size]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let features = self.features(images, false);
        self.head(features.pre_logits)
    }

    /// Pooled features; `keep_layers` also returns every stage's/block's pooled output.
    pub fn features(&self, images: Tensor<4>, keep_layers: bool) -> Features {
        match self {
            Model::Resnet(model) => model.features(images, keep_layers),
            Model::Vit(model) => model.features(images, keep_layers),
            Model::Mixer(model) => model.features(images, keep_layers),
        }
    }

    /// The classification head applied to pre-logit features.
    pub fn head(&self, pre_logits: Tensor<2>) -> Tensor<2> {
        match self {
            Model::Resnet(model) => model.head(pre_logits),
            Model::Vit(model) => model.head(pre_logits),
            Model::Mixer(model) => model.head(pre_logits),
        }
    }

    /// The same body with a freshly initialised head for `num_classes` classes: the start of a
    /// fine-tune on another task.
    pub fn with_new_head(self, num_classes: usize, device: &Device) -> Self {
        let fresh = |head: &burn::nn::Linear| {
            burn::nn::LinearConfig::new(head.weight.dims()[0], num_classes).init(device)
        };
        match self {
            Model::Resnet(mut model) => {
                model.head = fresh(&model.head);
                Model::Resnet(model)
            }
            Model::Vit(mut model) => {
                model.head = fresh(&model.head);
                Model::Vit(model)
            }
            Model::Mixer(mut model) => {
                model.head = fresh(&model.head);
                Model::Mixer(model)
            }
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ModelError {
    #[error("invalid model field `{field}`: {message}")]
    Invalid { field: String, message: String },
    #[error("unknown preset `{name}`; valid presets: {}", valid.join(", "))]
    UnknownPreset { name: String, valid: Vec<String> },
}

impl ModelError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

pub(crate) fn check_positive(field: &str, value: usize) -> Result<(), ModelError> {
    match value {
        0 => Err(ModelError::invalid(field, "must be at least 1")),
        _ => Ok(()),
    }
}

/// `divisor` (named `divisor_field`) must divide `value` (named `value_field`).
pub(crate) fn check_divides(
    divisor_field: &str,
    divisor: usize,
    value_field: &str,
    value: usize,
) -> Result<(), ModelError> {
    if value.is_multiple_of(divisor) {
        return Ok(());
    }
    Err(ModelError::invalid(
        divisor_field,
        format!(
            "{divisor} does not divide {value_field} = {value}; choose {divisor_field} among the divisors of {value}: {:?}",
            (1..=value)
                .filter(|d| value.is_multiple_of(*d))
                .collect::<Vec<_>>()
        ),
    ))
}
