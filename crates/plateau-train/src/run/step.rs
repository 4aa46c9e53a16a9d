//! One optimisation step — forward, cross-entropy, backward, update — and the optimizer it
//! uses. Training runs and `plateau bench` both call this, so the benchmark times exactly what
//! a sweep spends its compute on.

use burn::grad_clipping::GradientClippingConfig;
use burn::module::ParamGroup;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer, Optimizer, SgdConfig};
use burn::prelude::*;
use plateau_models::Model;

use crate::sweep::sections::{OptimizerKind, TrainConfig};

/// The loss a run trains with (label smoothing as configured).
pub fn loss_function(train: &TrainConfig, device: &Device) -> CrossEntropyLoss {
    CrossEntropyLossConfig::new()
        .with_smoothing((train.label_smoothing > 0.0).then_some(train.label_smoothing as f32))
        .init(device)
}

/// One step on a batch. Returns the updated model and the batch's loss, still on the device:
/// reading it synchronises a GPU, so callers read it only now and then.
pub fn train_step(
    model: Model,
    optimizer: &mut ModuleOptimizer,
    loss_fn: &CrossEntropyLoss,
    images: Tensor<4>,
    labels: Tensor<1, Int>,
    lr: f64,
) -> (Model, Tensor<1>) {
    let loss = loss_fn.forward(model.forward(images), labels);
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    (optimizer.step(lr, model, grads), loss)
}

/// AdamW or SGD with momentum, global-norm clipping, and the head's own weight decay.
pub fn build_optimizer(train: &TrainConfig) -> ModuleOptimizer {
    let clip = train
        .grad_clip
        .map(|c| GradientClippingConfig::Norm(c as f32));
    match train.optimizer {
        OptimizerKind::Adamw => {
            let adamw = |wd: f64| AdamWConfig::new().with_weight_decay(wd as f32);
            let whole = adamw(train.weight_decay)
                .with_grad_clipping(clip.clone())
                .init();
            with_head_decay(whole, train, clip, |wd| adamw(wd).build())
        }
        OptimizerKind::Sgd => {
            let sgd = |wd: f64| {
                SgdConfig::new()
                    .with_momentum(Some(
                        MomentumConfig::new()
                            .with_momentum(train.momentum)
                            .with_dampening(0.0),
                    ))
                    .with_weight_decay((wd > 0.0).then(|| WeightDecayConfig::new(wd as f32)))
            };
            let whole = sgd(train.weight_decay)
                .with_gradient_clipping(clip.clone())
                .init();
            with_head_decay(whole, train, clip, |wd| sgd(wd).build())
        }
    }
}

/// Gives the head its own weight decay, when the config asks for one: its parameters live under
/// `head.`, and the last matching group wins.
fn with_head_decay<O: Optimizer + 'static>(
    whole: ModuleOptimizer,
    train: &TrainConfig,
    clip: Option<GradientClippingConfig>,
    optimizer_with_decay: impl Fn(f64) -> O,
) -> ModuleOptimizer {
    match train.head_weight_decay {
        Some(head_wd) => whole.with_group(
            ParamGroup::from_predicate("head."),
            optimizer_with_decay(head_wd),
            clip.map(|c| c.init()),
        ),
        None => whole,
    }
}
