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

use crate::run::distill::distillation_loss;
use crate::run::mixup::Labels;
use crate::sweep::sections::{OptimizerKind, TrainConfig};

/// The loss a run trains with (label smoothing as configured).
pub fn loss_function(train: &TrainConfig, device: &Device) -> CrossEntropyLoss {
    CrossEntropyLossConfig::new()
        .with_smoothing((train.label_smoothing > 0.0).then_some(train.label_smoothing as f32))
        .init(device)
}

/// What a training step minimises.
pub enum Objective<'a> {
    /// Cross-entropy on the labels.
    Labels(&'a CrossEntropyLoss),
    /// The distillation loss (`distill.rs`) against a frozen teacher, which runs on the very
    /// batch the student does (function matching).
    Distill {
        teacher: &'a Model,
        temperature: f64,
        ce_weight: f64,
        ce: &'a CrossEntropyLoss,
    },
}

impl Objective<'_> {
    fn loss(&self, model: &Model, images: Tensor<4>, labels: &Labels) -> Tensor<1> {
        match self {
            Objective::Labels(ce) => labels.cross_entropy(ce, model.forward(images)),
            Objective::Distill {
                teacher,
                temperature,
                ce_weight,
                ce,
            } => {
                // The teacher runs without autodiff: no graph, no gradients, nothing to update.
                let taught = teacher.forward(images.clone().inner());
                let student = model.forward(images);
                distillation_loss(
                    student,
                    taught.autodiff(),
                    labels,
                    *temperature,
                    *ce_weight,
                    ce,
                )
            }
        }
    }
}

/// One step on a batch. Returns the updated model and the batch's loss, still on the device:
/// reading it synchronises a GPU, so callers read it only now and then.
pub fn train_step(
    model: Model,
    optimizer: &mut ModuleOptimizer,
    objective: &Objective,
    images: Tensor<4>,
    labels: impl Into<Labels>,
    lr: f64,
) -> (Model, Tensor<1>) {
    let loss = objective.loss(&model, images, &labels.into());
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

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::loss::CrossEntropyLossConfig;

    fn device() -> Device {
        Device::flex()
    }

    /// A Mixer (LayerNorm only, so the same weights give the same outputs in training and
    /// evaluation mode), its optimizer, and a batch of images.
    fn student_and_batch() -> (
        Model,
        burn::optim::ModuleOptimizer,
        Tensor<4>,
        Tensor<1, Int>,
    ) {
        let ad = device().autodiff();
        ad.seed(3);
        let input = plateau_models::InputSpec::new(3, 16, 10);
        let config = plateau_models::preset("mixer-tiny-p4")
            .unwrap()
            .config()
            .with_width(8)
            .with_depth(1);
        let model = config.init(&input, &ad).unwrap();
        let train: crate::sweep::sections::TrainConfig =
            toml::from_str("optimizer = \"adamw\"\nlr = 0.01\nbatch_size = 4\nepochs = 1").unwrap();
        let images = Tensor::<4>::random(
            [4, 3, 16, 16],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &ad,
        );
        let labels = Tensor::<1, Int>::from_ints([1, 2, 3, 4], &ad);
        (model, build_optimizer(&train), images, labels)
    }

    #[test]
    fn the_teacher_sees_the_students_batch_and_stays_frozen() {
        let (student, mut optimizer, images, labels) = student_and_batch();
        // A teacher with the student's very weights: on the same batch the loss is zero, and
        // it would not be on any other images.
        let teacher = student.valid();
        let ce = CrossEntropyLossConfig::new().init(&images.device());
        let pure = Objective::Distill {
            teacher: &teacher,
            temperature: 2.0,
            ce_weight: 0.0,
            ce: &ce,
        };
        let probe = Tensor::<4>::ones([2, 3, 16, 16], &device());
        let before: Vec<f32> = teacher
            .forward(probe.clone())
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let (student, loss) = train_step(
            student,
            &mut optimizer,
            &pure,
            images.clone(),
            labels.clone(),
            0.01,
        );
        let loss = loss.into_scalar::<f32>();
        assert!(
            loss.abs() < 1e-6,
            "the teacher saw other images: loss {loss}"
        );
        // A step that moves the student (half cross-entropy) leaves the teacher as it was.
        let mixed = Objective::Distill {
            teacher: &teacher,
            temperature: 2.0,
            ce_weight: 0.5,
            ce: &ce,
        };
        let (student, _) = train_step(student, &mut optimizer, &mixed, images, labels, 0.01);
        let after: Vec<f32> = teacher
            .forward(probe.clone())
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(before, after, "the teacher changed");
        let moved: Vec<f32> = student
            .valid()
            .forward(probe)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_ne!(before, moved, "the student did not train");
    }
}
