//! Knowledge distillation in a run: the loss, the teacher it reads, and how closely the student
//! follows it.
//!
//! - The loss (Hinton et al. 2015; as big_vision's and timm's distillation use it):
//!   `ce_weight·CE(student, labels) + (1 − ce_weight)·T²·KL(softmax(t/T) ‖ softmax(s/T))`,
//!   the KL summed over classes and averaged over the batch; `T²` keeps the gradient's scale
//!   independent of T.
//! - Function matching (Beyer et al. 2022): the teacher runs on the very batch the student trains
//!   on, after augmentation, inside the training step (`step.rs`), never from precomputed logits.
//! - The teacher is loaded from its run folder in evaluation mode, on the inner (non-autodiff)
//!   device: it has no gradients, the optimizer never sees it, and the student's checkpoints
//!   hold only the student; a resumed run loads the teacher again.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use burn::nn::loss::CrossEntropyLoss;
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, softmax};
use plateau_data::ImageSet;
use plateau_data::batch::batch_tensors;
use plateau_metrics::results::Distillation;
use plateau_models::Model;

use crate::Backend;
use crate::features::load_trained;
use crate::run::mixup::Labels;
use crate::run::spec::{DistillSpec, RunSpec};
use crate::run::summary::read_summary;
use crate::sweep::run_process::ERROR_LOG;

/// The distillation loss of a batch (see the module's doc), on the student's device.
pub fn distillation_loss(
    student: Tensor<2>,
    teacher: Tensor<2>,
    labels: &Labels,
    temperature: f64,
    ce_weight: f64,
    ce: &CrossEntropyLoss,
) -> Tensor<1> {
    let t = temperature;
    let teacher = teacher / t;
    let log_student = log_softmax(student.clone() / t, 1);
    let kl = (softmax(teacher.clone(), 1) * (log_softmax(teacher, 1) - log_student))
        .sum_dim(1)
        .mean()
        * (t * t);
    if ce_weight == 0.0 {
        return kl;
    }
    labels.cross_entropy(ce, student) * ce_weight + kl * (1.0 - ce_weight)
}

/// A loaded teacher and what the student's record says of it.
pub(crate) struct Teacher {
    pub model: Model,
    pub spec: DistillSpec,
    pub params: u64,
    pub flops_per_image: u64,
}

/// The folder of a run's teacher: an external one's, or its sibling in the sweep folder.
pub(crate) fn teacher_dir(distill: &DistillSpec, run_dir: &Path) -> PathBuf {
    distill.teacher_dir.clone().unwrap_or_else(|| {
        run_dir
            .parent()
            .unwrap_or(Path::new("."))
            .join(&distill.teacher)
    })
}

/// How long a student waits between looks at its teacher's folder.
const TEACHER_POLL: Duration = Duration::from_millis(100);

/// Loads the teacher of `spec` once its weights exist: a teacher of this sweep may still be
/// exporting them (a run's training ends before its export, and the next run starts then).
pub(crate) fn load_teacher(
    spec: &RunSpec,
    run_dir: &Path,
    backend: Backend,
    stop: &AtomicBool,
) -> Result<Option<Teacher>> {
    let Some(distill) = &spec.distill else {
        return Ok(None);
    };
    let dir = teacher_dir(distill, run_dir);
    if !dir.join("config.json").is_file() {
        bail!(
            "{}: the teacher run {} has not started; train it first (`plateau sweep` trains \
             it before its students)",
            dir.display(),
            distill.teacher
        );
    }
    let weights = dir.join("model.safetensors");
    let started = Instant::now();
    let mut said = false;
    while !weights.is_file() {
        if let Ok(error) = std::fs::read_to_string(dir.join(ERROR_LOG)) {
            bail!(
                "the teacher run {} failed, so its students cannot train: {}",
                distill.teacher,
                error.trim()
            );
        }
        if read_summary(&dir).is_ok() {
            bail!(
                "the teacher run {} ended without weights (it diverged); see {}",
                distill.teacher,
                dir.join("summary.json").display()
            );
        }
        if stop.load(Ordering::SeqCst) {
            bail!("stopped while waiting for the teacher's weights; rerun the sweep to resume");
        }
        if !said && started.elapsed() > Duration::from_secs(10) {
            eprintln!("waiting for the teacher's weights in {}", dir.display());
            said = true;
        }
        std::thread::sleep(TEACHER_POLL);
    }
    let (teacher_spec, model, _) = load_trained(&dir, backend)
        .with_context(|| format!("loading the teacher {}", dir.display()))?;
    if teacher_spec.input != spec.input {
        bail!(
            "{}: the teacher takes {:?}, the student {:?}; distil from a teacher trained on \
             this data",
            dir.join("config.json").display(),
            teacher_spec.input,
            spec.input
        );
    }
    let cost = teacher_spec.model.cost(&teacher_spec.input)?;
    Ok(Some(Teacher {
        model,
        spec: distill.clone(),
        params: cost.params,
        flops_per_image: cost.flops,
    }))
}

/// Student–teacher agreement (top-1) and mean `KL(teacher ‖ student)` at temperature 1 on
/// `set`, with the teacher's own accuracy there: the record of a distilled run.
pub(crate) fn compare_with_teacher(
    student: &Model,
    teacher: &Teacher,
    set: &ImageSet,
    batch_size: usize,
    device: &Device,
) -> Distillation {
    let (mut agree, mut teacher_correct, mut kl_sum) = (0usize, 0usize, 0.0f64);
    let indices: Vec<usize> = (0..set.len()).collect();
    for batch in indices.chunks(batch_size) {
        let (images, labels) = batch_tensors(set, batch, None, device);
        let s = student.forward(images.clone());
        let t = teacher.model.forward(images);
        let (s_top, t_top) = (s.clone().argmax(1), t.clone().argmax(1));
        agree += s_top.equal(t_top.clone()).int().sum().into_scalar::<i64>() as usize;
        let t_top = t_top.reshape([batch.len()]);
        teacher_correct += t_top.equal(labels).int().sum().into_scalar::<i64>() as usize;
        let kl = (softmax(t.clone(), 1) * (log_softmax(t, 1) - log_softmax(s, 1))).sum();
        kl_sum += kl.into_scalar::<f32>() as f64;
    }
    let n = set.len().max(1) as f64;
    Distillation {
        teacher_run: teacher.spec.teacher.clone(),
        teacher_params: teacher.params,
        teacher_flops_per_image: teacher.flops_per_image,
        teacher_test_accuracy: teacher_correct as f64 / n,
        temperature: teacher.spec.temperature,
        ce_weight: teacher.spec.ce_weight,
        agreement: agree as f64 / n,
        kl: kl_sum / n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::loss::CrossEntropyLossConfig;

    fn device() -> Device {
        Device::flex()
    }

    fn logits(values: &[f32], rows: usize, device: &Device) -> Tensor<2> {
        Tensor::<1>::from_floats(values, device).reshape([rows, values.len() / rows])
    }

    /// `T²·Σ p_t (log p_t − log p_s)`, averaged over rows, in f64.
    fn direct(student: &[f32], teacher: &[f32], classes: usize, t: f64) -> f64 {
        let soft = |row: &[f32]| -> Vec<f64> {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
            let e: Vec<f64> = row.iter().map(|&z| ((z as f64 - max) / t).exp()).collect();
            let total: f64 = e.iter().sum();
            e.iter().map(|x| x / total).collect()
        };
        let rows = student.len() / classes;
        let mut sum = 0.0;
        for (s, te) in student.chunks(classes).zip(teacher.chunks(classes)) {
            let (ps, pt) = (soft(s), soft(te));
            sum += pt
                .iter()
                .zip(&ps)
                .map(|(a, b)| a * (a.ln() - b.ln()))
                .sum::<f64>();
        }
        t * t * sum / rows as f64
    }

    const STUDENT: [f32; 6] = [0.3, -1.2, 2.0, 1.5, 0.1, -0.4];
    const TEACHER: [f32; 6] = [1.0, 0.5, -0.5, 0.2, 2.2, -1.0];

    #[test]
    fn the_loss_is_t_squared_kl_at_every_temperature_with_its_gradient() {
        let device = device();
        let ce = CrossEntropyLossConfig::new().init(&device);
        let labels = Tensor::<1, Int>::from_ints([2, 0], &device);
        for t in [0.5, 1.0, 2.0, 4.0] {
            let loss = distillation_loss(
                logits(&STUDENT, 2, &device),
                logits(&TEACHER, 2, &device),
                &labels.clone().into(),
                t,
                0.0,
                &ce,
            );
            let got = loss.into_scalar::<f32>() as f64;
            let want = direct(&STUDENT, &TEACHER, 3, t);
            assert!((got - want).abs() < 1e-5, "T = {t}: {got} vs {want}");

            // The gradient with respect to the student's logits, against finite differences.
            let ad = device.clone().autodiff();
            let student = logits(&STUDENT, 2, &ad).require_grad();
            let loss = distillation_loss(
                student.clone(),
                logits(&TEACHER, 2, &ad),
                &Tensor::<1, Int>::from_ints([2, 0], &ad).into(),
                t,
                0.0,
                &CrossEntropyLossConfig::new().init(&ad),
            );
            let grads = loss.backward();
            let grad: Vec<f32> = student
                .grad(&grads)
                .unwrap()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            for i in 0..STUDENT.len() {
                let step = 1e-3f32;
                let (mut up, mut down) = (STUDENT, STUDENT);
                up[i] += step;
                down[i] -= step;
                let numeric = (direct(&up, &TEACHER, 3, t) - direct(&down, &TEACHER, 3, t))
                    / (2.0 * step as f64);
                assert!(
                    (grad[i] as f64 - numeric).abs() < 1e-3,
                    "T = {t}, logit {i}: {} vs {numeric}",
                    grad[i]
                );
            }
        }
    }

    #[test]
    fn ce_weight_mixes_cross_entropy_and_distillation_as_documented() {
        let device = device();
        let ce = CrossEntropyLossConfig::new().init(&device);
        let labels = Tensor::<1, Int>::from_ints([2, 0], &device);
        let at = |w: f64| {
            distillation_loss(
                logits(&STUDENT, 2, &device),
                logits(&TEACHER, 2, &device),
                &labels.clone().into(),
                2.0,
                w,
                &ce,
            )
            .into_scalar::<f32>() as f64
        };
        let cross_entropy = ce
            .forward(logits(&STUDENT, 2, &device), labels.clone())
            .into_scalar::<f32>() as f64;
        let kd = direct(&STUDENT, &TEACHER, 3, 2.0);
        assert!((at(1.0) - cross_entropy).abs() < 1e-5);
        for w in [0.0, 0.25, 0.5] {
            let want = w * cross_entropy + (1.0 - w) * kd;
            assert!(
                (at(w) - want).abs() < 1e-5,
                "ce_weight {w}: {} vs {want}",
                at(w)
            );
        }
    }
}
