//! One training run, from a resolved [`RunSpec`](crate::RunSpec) to its summary: the data it
//! reads, the loop (train step, schedule, validation, resume checkpoints), upstream test
//! accuracy, the exported weights and the downstream measurements.
//!
//! - `spec.rs`: the resolved spec of a run and its id.
//! - `train.rs`: the loop, start to summary.
//! - `data.rs`: upstream splits and downstream tasks, loaded at the model's input.
//! - `step.rs` + `schedule.rs`: the optimizer step and the learning rate; `distill.rs`: the
//!   distillation loss, the teacher and the student–teacher comparison; `mixup.rs`: mixup on
//!   a batch and its mixed labels.
//! - `pruning.rs`: random and EL2N pruning of the training set.
//! - `evaluate.rs`: accuracy and loss on a labelled set.
//! - `checkpoint.rs`: resume checkpoints and the `model.safetensors` export.
//! - `metrics_log.rs` + `summary.rs`: what the run's folder records; `tensorboard.rs`: its
//!   scalars as TensorBoard event files; `hparams.rs`: the hyper-parameters every tracker shows.
//! - `measure/`: downstream measurements (few-shot probes, fine-tuning), one file each.

pub(crate) mod checkpoint;
pub(crate) mod data;
pub(crate) mod distill;
pub(crate) mod evaluate;
pub(crate) mod hparams;
pub(crate) mod measure;
pub(crate) mod metrics_log;
pub(crate) mod mixup;
pub(crate) mod pruning;
pub(crate) mod schedule;
pub(crate) mod spec;
pub(crate) mod step;
pub(crate) mod summary;
pub(crate) mod tensorboard;
pub(crate) mod train;
