//! The training loop of one run: epochs of forward → loss → backward → step, validation and a
//! resume checkpoint after every epoch, then upstream test accuracy, the exported weights and
//! the downstream measurements.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use burn::module::Module;
use plateau_data::batch::{batch_tensors, epoch_order, epoch_rng};
use plateau_metrics::results::{RunStatus, UpstreamResult};

use crate::Backend;
use crate::run::checkpoint::{self, EpochPosition, TrainState};
use crate::run::data::{DownstreamTask, Upstream};
use crate::run::distill::{compare_with_teacher, load_teacher};
use crate::run::evaluate::evaluate;
use crate::run::hparams::hyperparameters;
use crate::run::measure::MEASUREMENTS;
use crate::run::metrics_log::open_metrics;
use crate::run::mixup::{Labels, mix};
use crate::run::pruning::prune;
use crate::run::schedule::learning_rate;
use crate::run::step::{Objective, build_optimizer, loss_function, train_step};
use crate::run::summary::{RunSummary, write_summary};
use crate::run::tensorboard::RunEvents;
use crate::sweep::folders::lock_run_dir;
use crate::sweep::plan::PlannedRun;
use crate::sweep::progress::{self, Milestone, ProgressMode, RunProgress};
use crate::sweep::run_process::SweepLink;
use crate::sweep::timing::{PhaseSeconds, timed};
use crate::trace;

/// Everything a run reads besides its spec.
pub struct RunContext<'a> {
    pub upstream: &'a Upstream,
    pub downstream: &'a [DownstreamTask],
    /// The EL2N scores of the run's training set, when it prunes by them (the sweep's
    /// `scoring.rs` computes them before the run).
    pub el2n_scores: Option<&'a [f32]>,
    pub backend: Backend,
    pub run_dir: PathBuf,
    pub progress: ProgressMode,
    /// The sweep this run process belongs to: it says when to train, and hears when training
    /// is over (it then lets its next run train).
    pub sweep: Option<&'a SweepLink>,
    /// Set by a stop signal (SIGINT, SIGTERM, SIGHUP, SIGUSR1), or by the sweep on its own
    /// signal: the run stops at its next step, with a checkpoint of where it stopped.
    pub stop: &'a AtomicBool,
    /// Write TensorBoard event files (`[tracking] tensorboard`, on by default).
    pub tensorboard: bool,
}

/// How often the loss is read back from the device (each read synchronises a GPU).
const LOSS_EVERY: usize = 10;

pub fn train(run: &PlannedRun, ctx: &RunContext) -> Result<RunSummary> {
    let spec = &run.spec;
    std::fs::create_dir_all(&ctx.run_dir)?;
    let _run_lock = lock_run_dir(&ctx.run_dir)?;
    plateau_store::remove_stale_temporaries(&ctx.run_dir);
    plateau_store::write_atomic(
        &ctx.run_dir.join("config.json"),
        serde_json::to_string_pretty(&spec)?.as_bytes(),
    )?;
    let device = ctx.backend.device()?;
    let train_device = device.clone().autodiff();
    train_device.seed(spec.seed);

    let (train_set, training_data) = ctx.upstream.train_set(&spec.upstream, spec.data_seed)?;
    let (train_set, training_data) = prune(spec, train_set, training_data, ctx.el2n_scores)?;
    let batch_size = spec.train.batch_size.min(train_set.len());
    let steps_per_epoch = train_set.len().div_ceil(batch_size);
    let total_steps = match (spec.train.steps, spec.train.epochs) {
        (Some(steps), _) => steps,
        (None, Some(epochs)) => epochs * steps_per_epoch,
        (None, None) => unreachable!("validated: epochs or steps"),
    };
    let epochs = total_steps.div_ceil(steps_per_epoch);

    let model = spec.model.init(&spec.input, &train_device)?;
    let optimizer = build_optimizer(&spec.train);
    let fresh = || spec.model.init(&spec.input, &device);
    let (mut model, mut optimizer, mut state) =
        match checkpoint::load(&ctx.run_dir, fresh()?, optimizer.clone(), &train_device)? {
            Some(resumed) => resumed,
            None => (model, optimizer, TrainState::default()),
        };
    let loss_fn = loss_function(&spec.train, &train_device);
    let mut seconds = PhaseSeconds::default();
    trace::phase("ready", &run.id);
    if let Some(sweep) = ctx.sweep {
        progress::announce(Milestone::Ready);
        sweep.wait_to_train();
    }
    // Loaded once the sweep lets this run train: by then a teacher of this sweep has finished
    // training, and this waits for its export if that is still being written.
    let teacher = load_teacher(spec, &ctx.run_dir, ctx.backend, ctx.stop)?;
    let objective = match &teacher {
        None => Objective::Labels(&loss_fn),
        Some(teacher) => Objective::Distill {
            teacher: &teacher.model,
            temperature: teacher.spec.temperature,
            ce_weight: teacher.spec.ce_weight,
            ce: &loss_fn,
        },
    };
    let progress = RunProgress::new(&ctx.progress, &run.label(), total_steps, state.step);
    let metrics = open_metrics(&ctx.run_dir, state.epoch)?;
    let hparams = hyperparameters(&run.axes, spec);
    let session = ctx.tensorboard.then_some((run.id.as_str(), &hparams));
    let mut events = RunEvents::open(&ctx.run_dir, state.step, session)?;
    // Once, when the last epoch's steps are done (before the loop if a resumed run had
    // finished them): its last validation, test and probes may run beside the next run.
    let announce_trained = || {
        trace::phase("trained", &run.id);
        if ctx.sweep.is_some() {
            progress::announce(Milestone::Trained);
        }
    };
    if state.epoch >= epochs {
        announce_trained();
    }

    for epoch in state.epoch..epochs {
        let started = Instant::now();
        // Seeded per epoch, so a resumed epoch draws what the uninterrupted one would have.
        trace::phase("train", &run.id);
        train_device.seed(spec.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ epoch as u64);
        let order = epoch_order(train_set.len(), spec.seed, epoch as u64);
        let batches_in_epoch = order.len().div_ceil(batch_size);
        let mut augment_rng = epoch_rng(spec.seed, epoch as u64, 1);
        let (mut loss_sum, mut loss_reads) = (0.0, 0);
        // A run stopped inside this epoch goes on from its next batch, its augmentation stream
        // where it was: the same batches, draws and sums as if it had never stopped.
        let position = state.within_epoch.take().unwrap_or_default();
        if position.batches > 0 {
            let word_pos = position.augment_word_pos.parse().with_context(|| {
                format!(
                    "{}: the resume checkpoint's augment_word_pos is not a number; delete the \
                     checkpoint folder to train this run from its start",
                    ctx.run_dir.display()
                )
            })?;
            augment_rng.set_word_pos(word_pos);
            (loss_sum, loss_reads) = (position.loss_sum, position.loss_reads);
        }
        let chunks = order.chunks(batch_size).enumerate().skip(position.batches);
        for (batch_index, batch) in chunks {
            if state.step >= total_steps {
                break;
            }
            let lr = learning_rate(
                spec.train.lr,
                state.step,
                total_steps,
                spec.train.warmup_steps,
                spec.train.schedule,
            );
            let (images, labels) = timed(&mut seconds.batches, || {
                let (images, labels) = batch_tensors(
                    &train_set,
                    batch,
                    Some((&spec.train.augmentation, &mut augment_rng)),
                    &train_device,
                );
                // Mixed after the crops and flips; a teacher then sees the mixed batch too.
                match spec.train.augmentation.mixup_weight(&mut augment_rng) {
                    Some(weight) => mix(images, labels, weight),
                    None => (images, Labels::from(labels)),
                }
            });
            // The loss is read inside the timed span: on a GPU that read is where the queued
            // work is waited for.
            let read_loss = state.step % LOSS_EVERY == 0 || state.step + 1 == total_steps;
            let loss_value;
            (model, loss_value) = timed(&mut seconds.steps, || {
                let (model, loss) =
                    train_step(model, &mut optimizer, &objective, images, labels, lr);
                (model, read_loss.then(|| loss.into_scalar::<f32>() as f64))
            });
            if let Some(value) = loss_value {
                if !value.is_finite() {
                    let _ = events.end(state.step, false);
                    return Ok(diverged(
                        &ctx.run_dir,
                        &state,
                        seconds,
                        format!("training loss became {value} at step {}", state.step),
                    ));
                }
                loss_sum += value;
                loss_reads += 1;
                progress.loss(value);
                events.train(state.step + 1, value, lr)?;
            }
            state.step += 1;
            state.images_seen += batch.len() as u64;
            progress.step(epoch + 1, epochs, batch.len());
            // A signal stops the run at the next step, not at the epoch's end (an epoch of a
            // large set outlasts the grace a scheduler gives).
            let batches = batch_index + 1;
            if ctx.stop.load(Ordering::SeqCst)
                && batches < batches_in_epoch
                && state.step < total_steps
            {
                state.train_seconds += started.elapsed().as_secs_f64();
                state.within_epoch = Some(EpochPosition {
                    batches,
                    augment_word_pos: augment_rng.get_word_pos().to_string(),
                    loss_sum,
                    loss_reads,
                });
                trace::phase("checkpoint", &run.id);
                events.flush()?;
                timed(&mut seconds.checkpoints, || {
                    checkpoint::save(&ctx.run_dir, &model, &optimizer, &state)
                })?;
                anyhow::bail!(
                    "stopped at step {} (batch {batches} of {batches_in_epoch} in epoch {} of \
                     {epochs}); rerun the sweep to resume from there",
                    state.step,
                    epoch + 1
                );
            }
        }
        state.train_seconds += started.elapsed().as_secs_f64();
        state.epoch = epoch + 1;
        if state.epoch == epochs {
            announce_trained();
        }
        let (val_accuracy, val_loss) = timed(&mut seconds.validation, || {
            evaluate(
                &model.valid(),
                &ctx.upstream.splits.val,
                spec.train.eval_batch_size,
                &device,
            )
        });
        if !val_loss.is_finite() {
            let _ = events.end(state.step, false);
            return Ok(diverged(
                &ctx.run_dir,
                &state,
                seconds,
                format!(
                    "validation loss became {val_loss} after epoch {}",
                    state.epoch
                ),
            ));
        }
        state.val_accuracy = val_accuracy;
        let line = serde_json::json!({
            "epoch": state.epoch, "step": state.step, "train_loss": loss_sum / loss_reads.max(1) as f64,
            "val_accuracy": val_accuracy, "val_loss": val_loss,
            "lr": learning_rate(spec.train.lr, state.step.saturating_sub(1), total_steps, spec.train.warmup_steps, spec.train.schedule),
            "train_seconds": state.train_seconds, "wall_time": plateau_store::unix_now(),
        });
        metrics.append(&line)?;
        events.epoch(state.step, val_accuracy, val_loss)?;
        trace::phase("checkpoint", &run.id);
        events.flush()?;
        timed(&mut seconds.checkpoints, || {
            checkpoint::save(&ctx.run_dir, &model, &optimizer, &state)
        })?;
        progress.epoch_done(state.epoch, epochs, val_accuracy);
        if ctx.stop.load(Ordering::SeqCst) && state.epoch < epochs {
            anyhow::bail!(
                "interrupted after epoch {} of {epochs}; rerun the sweep to resume",
                state.epoch
            );
        }
    }
    progress.finish();

    let eval_model = model.valid();
    trace::phase("export", &run.id);
    timed(&mut seconds.checkpoints, || {
        checkpoint::export_safetensors(&ctx.run_dir.join("model.safetensors"), &eval_model)
    })?;
    let (test_accuracy, test_loss) = timed(&mut seconds.test, || {
        evaluate(
            &eval_model,
            &ctx.upstream.splits.test,
            spec.train.eval_batch_size,
            &device,
        )
    });
    let distillation = teacher.as_ref().map(|teacher| {
        timed(&mut seconds.test, || {
            compare_with_teacher(
                &eval_model,
                teacher,
                &ctx.upstream.splits.test,
                spec.train.eval_batch_size,
                &device,
            )
        })
    });
    trace::phase("probe", &run.id);
    let mut downstream = Vec::new();
    for measurement in MEASUREMENTS {
        let results = timed(measurement.seconds(&mut seconds), || {
            measurement.measure(&eval_model, &run.spec, ctx.downstream, &device)
        })?;
        downstream.extend(results);
    }
    events.finish(state.step, (test_accuracy, test_loss), &downstream)?;
    let summary = RunSummary {
        status: RunStatus::Ok,
        error: None,
        upstream: Some(UpstreamResult {
            test_accuracy,
            val_accuracy: state.val_accuracy,
            test_loss,
        }),
        downstream,
        train_seconds: state.train_seconds,
        images_per_second: state.images_seen as f64 / state.train_seconds.max(1e-9),
        images_seen: state.images_seen,
        epochs: state.epoch,
        steps: state.step,
        seconds,
        training_data,
        distillation,
    };
    trace::phase("summary", &run.id);
    write_summary(&ctx.run_dir, &summary)?;
    checkpoint::remove(&ctx.run_dir);
    Ok(summary)
}

fn diverged(run_dir: &Path, state: &TrainState, seconds: PhaseSeconds, why: String) -> RunSummary {
    let summary = RunSummary {
        status: RunStatus::Diverged,
        error: Some(why),
        upstream: None,
        downstream: Vec::new(),
        train_seconds: state.train_seconds,
        images_per_second: state.images_seen as f64 / state.train_seconds.max(1e-9),
        images_seen: state.images_seen,
        epochs: state.epoch,
        steps: state.step,
        seconds,
        training_data: None,
        distillation: None,
    };
    let _ = write_summary(run_dir, &summary);
    summary
}
