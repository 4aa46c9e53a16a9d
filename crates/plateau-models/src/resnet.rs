//! ResNet at any width and depth: torchvision's ResNet v1 (BatchNorm, post-activation) and
//! BiT's ResNet v2 (GroupNorm + weight-standardised convs, pre-activation).
//!
//! Stage `i` has `base_width · width_multiplier · 2^i` channels inside its blocks; bottleneck
//! blocks expand that by 4 at their output. The first stage keeps the resolution, each later
//! stage halves it in its first block (on the 3×3 conv, as torchvision v1.5 and BiT).

use burn::module::Module;
use burn::nn::{BatchNorm, BatchNormConfig, GroupNorm, GroupNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use serde::{Deserialize, Serialize};

use crate::cost::{Cost, conv_out};
use crate::layers::{Conv, linear, mean_spatial};
use crate::{Features, InputSpec, ModelError, check_positive};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    /// Two 3×3 convs (ResNet-18/34).
    Basic,
    /// 1×1 → 3×3 → 1×1 with 4× expansion (ResNet-50 and up, BiT).
    Bottleneck,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stem {
    /// 7×7 stride-2 conv then 3×3 stride-2 max-pool (224 px inputs).
    #[default]
    Imagenet,
    /// 3×3 stride-1 conv, no pooling (28–32 px inputs).
    Cifar,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormKind {
    /// BatchNorm after every conv.
    #[default]
    Batch,
    /// GroupNorm with weight-standardised convs, as BiT.
    Group,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResNetConfig {
    pub block: BlockKind,
    /// Blocks per stage, e.g. `[3, 4, 6, 3]` for ResNet-50.
    pub stage_depths: Vec<usize>,
    /// Channels of the stem and of the first stage's blocks before the multiplier.
    #[serde(default = "default_base_width")]
    pub base_width: usize,
    /// BiT-style width factor (R50x3 has 3).
    #[serde(default = "default_one")]
    pub width_multiplier: usize,
    #[serde(default)]
    pub stem: Stem,
    #[serde(default)]
    pub norm: NormKind,
    /// Groups of each GroupNorm (only with `norm = "group"`).
    #[serde(default = "default_norm_groups")]
    pub norm_groups: usize,
    /// Pre-activation blocks (ResNet v2, as BiT) instead of post-activation (v1).
    #[serde(default)]
    pub preactivation: bool,
}

fn default_base_width() -> usize {
    64
}
fn default_one() -> usize {
    1
}
fn default_norm_groups() -> usize {
    32
}

impl ResNetConfig {
    /// torchvision's ResNet v1 with BatchNorm.
    pub fn v1(block: BlockKind, stage_depths: &[usize]) -> Self {
        Self {
            block,
            stage_depths: stage_depths.to_vec(),
            base_width: 64,
            width_multiplier: 1,
            stem: Stem::Imagenet,
            norm: NormKind::Batch,
            norm_groups: 32,
            preactivation: false,
        }
    }

    /// BiT: pre-activation bottleneck ResNet v2 with GroupNorm(32) and StdConv.
    pub fn bit(stage_depths: &[usize], width_multiplier: usize) -> Self {
        Self {
            width_multiplier,
            norm: NormKind::Group,
            preactivation: true,
            ..Self::v1(BlockKind::Bottleneck, stage_depths)
        }
    }

    fn stem_width(&self) -> usize {
        self.base_width * self.width_multiplier
    }

    fn expansion(&self) -> usize {
        match self.block {
            BlockKind::Basic => 1,
            BlockKind::Bottleneck => 4,
        }
    }

    /// `(inner width, output width)` of the blocks of stage `i`.
    fn stage_widths(&self, stage: usize) -> (usize, usize) {
        let inner = self.stem_width() << stage;
        (inner, inner * self.expansion())
    }

    /// The stride of block `block` of stage `stage`.
    fn block_stride(stage: usize, block: usize) -> usize {
        if stage > 0 && block == 0 { 2 } else { 1 }
    }

    pub fn layer_names(&self) -> Vec<String> {
        (1..=self.stage_depths.len())
            .map(|i| format!("stage{i}"))
            .collect()
    }

    pub fn feature_dim(&self) -> usize {
        self.stage_widths(self.stage_depths.len() - 1).1
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        check_positive("resnet.base_width", self.base_width)?;
        check_positive("resnet.width_multiplier", self.width_multiplier)?;
        if self.stage_depths.is_empty() || self.stage_depths.contains(&0) {
            return Err(ModelError::invalid(
                "resnet.stage_depths",
                format!(
                    "{:?} must list at least one stage, each with at least one block (e.g. [2, 2, 2, 2])",
                    self.stage_depths
                ),
            ));
        }
        if self.norm == NormKind::Group {
            check_positive("resnet.norm_groups", self.norm_groups)?;
            // Every normalised width is a multiple of the stem width.
            let width = self.stem_width();
            if !width.is_multiple_of(self.norm_groups) {
                return Err(ModelError::invalid(
                    "resnet.norm_groups",
                    format!(
                        "{} groups do not divide the stem width of {width} channels; choose norm_groups dividing {width} or a wider base_width",
                        self.norm_groups
                    ),
                ));
            }
        }
        Ok(())
    }

    pub fn cost(&self, input: &InputSpec) -> Cost {
        let mut cost = Cost::default();
        let norm = |cost: &mut Cost, c| cost.affine_norm(c);
        let stem_width = self.stem_width();
        let (kernel, stride, padding) = self.stem_conv();
        let mut hw = cost.conv2d(
            input.channels,
            stem_width,
            kernel,
            stride,
            padding,
            false,
            (input.image_size, input.image_size),
        );
        if !self.preactivation {
            norm(&mut cost, stem_width);
        }
        if self.stem == Stem::Imagenet {
            hw = (conv_out(hw.0, 3, 2, 1), conv_out(hw.1, 3, 2, 1));
        }
        let mut c_in = stem_width;
        for (stage, &depth) in self.stage_depths.iter().enumerate() {
            let (inner, out) = self.stage_widths(stage);
            for block in 0..depth {
                let stride = Self::block_stride(stage, block);
                let in_hw = hw;
                // Pre-activation blocks normalise their input; post-activation their outputs.
                if self.preactivation {
                    norm(&mut cost, c_in);
                }
                match self.block {
                    BlockKind::Basic => {
                        hw = cost.conv2d(c_in, inner, 3, stride, 1, false, hw);
                        norm(&mut cost, inner);
                        cost.conv2d(inner, out, 3, 1, 1, false, hw);
                    }
                    BlockKind::Bottleneck => {
                        cost.conv2d(c_in, inner, 1, 1, 0, false, hw);
                        norm(&mut cost, inner);
                        hw = cost.conv2d(inner, inner, 3, stride, 1, false, hw);
                        norm(&mut cost, inner);
                        cost.conv2d(inner, out, 1, 1, 0, false, hw);
                    }
                }
                if !self.preactivation {
                    norm(&mut cost, out);
                }
                if stride != 1 || c_in != out {
                    cost.conv2d(c_in, out, 1, stride, 0, false, in_hw);
                    if !self.preactivation {
                        norm(&mut cost, out);
                    }
                }
                c_in = out;
            }
        }
        if self.preactivation {
            norm(&mut cost, c_in);
        }
        cost.linear(c_in, input.num_classes, true, 1);
        cost
    }

    /// `(kernel, stride, padding)` of the stem convolution.
    fn stem_conv(&self) -> (usize, usize, usize) {
        match self.stem {
            Stem::Imagenet => (7, 2, 3),
            Stem::Cifar => (3, 1, 1),
        }
    }

    fn norm(&self, channels: usize, device: &Device) -> Norm {
        match self.norm {
            NormKind::Batch => Norm::Batch(BatchNormConfig::new(channels).init(device)),
            NormKind::Group => Norm::Group(
                GroupNormConfig::new(self.norm_groups, channels)
                    .with_epsilon(1e-5)
                    .init(device),
            ),
        }
    }

    fn conv(
        &self,
        c_in: usize,
        c_out: usize,
        kernel: usize,
        stride: usize,
        device: &Device,
    ) -> Conv {
        Conv::new(c_in, c_out, kernel, stride, kernel / 2, device)
            .standardized(self.norm == NormKind::Group)
    }

    pub fn init(&self, input: &InputSpec, device: &Device) -> ResNet {
        let post = |c| (!self.preactivation).then(|| self.norm(c, device));
        let pre = |c| self.preactivation.then(|| self.norm(c, device));
        let stem_width = self.stem_width();
        let (kernel, stride, padding) = self.stem_conv();
        let stem = StemBlock {
            conv: Conv::new(input.channels, stem_width, kernel, stride, padding, device)
                .standardized(self.norm == NormKind::Group),
            norm: post(stem_width),
            max_pool: self.stem == Stem::Imagenet,
        };
        let mut c_in = stem_width;
        let mut stages = Vec::new();
        for (stage, &depth) in self.stage_depths.iter().enumerate() {
            let (inner, out) = self.stage_widths(stage);
            let mut blocks = Vec::new();
            for block in 0..depth {
                let stride = Self::block_stride(stage, block);
                let (conv1, conv2, conv3) = match self.block {
                    BlockKind::Basic => (
                        self.conv(c_in, inner, 3, stride, device),
                        self.conv(inner, out, 3, 1, device),
                        None,
                    ),
                    BlockKind::Bottleneck => (
                        self.conv(c_in, inner, 1, 1, device),
                        self.conv(inner, inner, 3, stride, device),
                        Some(self.conv(inner, out, 1, 1, device)),
                    ),
                };
                let needs_projection = stride != 1 || c_in != out;
                blocks.push(Block {
                    pre_norm: pre(c_in),
                    conv1,
                    norm1: self.norm(inner, device),
                    conv2,
                    norm2: conv3.as_ref().map(|_| self.norm(inner, device)),
                    conv3,
                    out_norm: post(out),
                    shortcut: needs_projection.then(|| Shortcut {
                        conv: self.conv(c_in, out, 1, stride, device),
                        norm: post(out),
                    }),
                    preactivation: self.preactivation,
                });
                c_in = out;
            }
            stages.push(Stage { blocks });
        }
        ResNet {
            stem,
            stages,
            final_norm: pre(c_in),
            head: LinearConfig::new(c_in, input.num_classes).init(device),
        }
    }
}

/// BatchNorm or GroupNorm, chosen by the config.
#[derive(Module, Debug)]
pub enum Norm {
    Batch(BatchNorm),
    Group(GroupNorm),
}

impl Norm {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Norm::Batch(norm) => crate::layers::batch_norm(norm, x),
            Norm::Group(norm) => norm.forward(x),
        }
    }
}

fn norm_relu(norm: &Option<Norm>, x: Tensor<4>) -> Tensor<4> {
    match norm {
        Some(norm) => relu(norm.forward(x)),
        None => x,
    }
}

#[derive(Module, Debug)]
pub struct StemBlock {
    pub conv: Conv,
    /// Post-activation models normalise the stem; pre-activation ones leave it to the first block.
    pub norm: Option<Norm>,
    pub max_pool: bool,
}

impl StemBlock {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = norm_relu(&self.norm, self.conv.forward(x)); // [b, c, h', w']
        match self.max_pool {
            true => max_pool2d(
                x,
                MaxPoolOptions::new([3, 3])
                    .with_stride([2, 2])
                    .with_padding([1, 1]),
            ),
            false => x,
        }
    }
}

#[derive(Module, Debug)]
pub struct Shortcut {
    pub conv: Conv,
    pub norm: Option<Norm>,
}

/// A basic (`conv3 = None`) or bottleneck residual block, post- or pre-activation.
#[derive(Module, Debug)]
pub struct Block {
    /// Pre-activation only: normalises the block input.
    pub pre_norm: Option<Norm>,
    pub conv1: Conv,
    pub norm1: Norm,
    pub conv2: Conv,
    /// Bottleneck only: the norm between conv2 and conv3.
    pub norm2: Option<Norm>,
    pub conv3: Option<Conv>,
    /// Post-activation only: normalises the residual branch output.
    pub out_norm: Option<Norm>,
    pub shortcut: Option<Shortcut>,
    pub preactivation: bool,
}

impl Block {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        // v2 feeds the normalised input to both branches; v1 feeds the raw input.
        let branch_in = norm_relu(&self.pre_norm, x.clone());
        let identity = match &self.shortcut {
            Some(shortcut) => {
                let source = if self.preactivation {
                    branch_in.clone()
                } else {
                    x
                };
                let projected = shortcut.conv.forward(source);
                match &shortcut.norm {
                    Some(norm) => norm.forward(projected),
                    None => projected,
                }
            }
            None => x,
        };
        let mut y = relu(self.norm1.forward(self.conv1.forward(branch_in)));
        y = self.conv2.forward(y);
        if let (Some(norm2), Some(conv3)) = (&self.norm2, &self.conv3) {
            y = conv3.forward(relu(norm2.forward(y)));
        }
        match &self.out_norm {
            Some(norm) => relu(norm.forward(y) + identity),
            None => y + identity,
        }
    }
}

#[derive(Module, Debug)]
pub struct Stage {
    pub blocks: Vec<Block>,
}

#[derive(Module, Debug)]
pub struct ResNet {
    pub stem: StemBlock,
    pub stages: Vec<Stage>,
    /// Pre-activation only: the norm + ReLU before pooling.
    pub final_norm: Option<Norm>,
    pub head: Linear,
}

impl ResNet {
    /// Pooled pre-logits and, if asked, the pooled output of every stage.
    pub fn features(&self, images: Tensor<4>, keep_layers: bool) -> Features {
        let mut x = self.stem.forward(images); // [b, c0, h, w]
        let mut layers = Vec::new();
        for stage in &self.stages {
            for block in &stage.blocks {
                x = block.forward(x);
            }
            if keep_layers {
                layers.push(mean_spatial(x.clone())); // [b, c_stage]
            }
        }
        let x = norm_relu(&self.final_norm, x);
        Features {
            pre_logits: mean_spatial(x), // [b, c_last]
            layers,
        }
    }

    pub fn head(&self, pre_logits: Tensor<2>) -> Tensor<2> {
        linear(&self.head, pre_logits)
    }
}
