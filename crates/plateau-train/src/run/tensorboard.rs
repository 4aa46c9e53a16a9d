//! A run's scalars for TensorBoard, in `<run>/tensorboard/` (`tensorboard --logdir runs/<sweep>`
//! shows every run; TensorBoard names them by their folder, the run id):
//!
//! - `train/loss`, `train/lr` wherever the loop reads the loss (every few steps), at the count
//!   of steps done;
//! - `val/accuracy`, `val/loss` after every epoch;
//! - `test/accuracy`, `test/loss` and `downstream/<task>/<shots>-shot/<layer>` (few-shot
//!   accuracy, mean over draws) once, at the end;
//! - the run's hyper-parameters (its axes, model config and size; `hparams.rs`) for the hparams
//!   dashboard, as a session that starts when the run opens its file and ends with the run.
//!
//! The file is put on disk before every checkpoint; a resumed run first cuts it to the steps of
//! its checkpoint (and drops end-of-run values and its session start, which it writes anew), so
//! it never holds a step twice. `[tracking] tensorboard = false` writes nothing.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use plateau_metrics::results::DownstreamResult;
use plateau_store::{EventWriter, SESSION_END_TAG, SESSION_START_TAG, Scalar};

/// Tags written once, when the run ends (or, for the session start, when it opens).
const ONCE_PREFIXES: [&str; 4] = ["test/", "downstream/", SESSION_START_TAG, SESSION_END_TAG];

/// The folder of a run's event file.
pub(crate) const EVENTS_DIR: &str = "tensorboard";

/// A run's event file, or nothing when TensorBoard is off.
pub(crate) struct RunEvents {
    writer: Option<EventWriter>,
}

impl RunEvents {
    /// Opens the run's event file for a run that has done `steps` steps (0 for a fresh one),
    /// and starts its hparams session (`group`: the run id). `None` writes nothing.
    pub fn open(
        run_dir: &Path,
        steps: usize,
        hparams: Option<(&str, &BTreeMap<String, serde_json::Value>)>,
    ) -> Result<Self> {
        let Some((group, hparams)) = hparams else {
            return Ok(Self { writer: None });
        };
        let keep = |s: &Scalar| {
            s.step <= steps as i64 && !ONCE_PREFIXES.iter().any(|p| s.tag.starts_with(p))
        };
        let mut writer = EventWriter::open(&run_dir.join(EVENTS_DIR), keep)?;
        writer.hparams(group, hparams)?;
        Ok(Self {
            writer: Some(writer),
        })
    }

    /// The loss and learning rate after `steps` steps.
    pub fn train(&mut self, steps: usize, loss: f64, lr: f64) -> Result<()> {
        self.scalars(steps, &[("train/loss", loss), ("train/lr", lr)])
    }

    pub fn epoch(&mut self, steps: usize, val_accuracy: f64, val_loss: f64) -> Result<()> {
        self.scalars(
            steps,
            &[("val/accuracy", val_accuracy), ("val/loss", val_loss)],
        )
    }

    pub fn finish(
        &mut self,
        steps: usize,
        test: (f64, f64),
        downstream: &[DownstreamResult],
    ) -> Result<()> {
        self.scalars(steps, &[("test/accuracy", test.0), ("test/loss", test.1)])?;
        for result in downstream {
            let tag = format!(
                "downstream/{}/{}-shot/{}",
                result.task, result.shots, result.layer
            );
            self.scalars(steps, &[(&tag, result.accuracy_mean)])?;
        }
        self.end(steps, true)
    }

    /// Ends the run's hparams session (`success`: finished, not diverged) and flushes.
    pub fn end(&mut self, steps: usize, success: bool) -> Result<()> {
        if let Some(writer) = &mut self.writer {
            writer.session_end(steps as i64, success)?;
        }
        self.flush()
    }

    fn scalars(&mut self, steps: usize, values: &[(&str, f64)]) -> Result<()> {
        if let Some(writer) = &mut self.writer {
            for (tag, value) in values {
                writer.scalar(tag, steps as i64, *value)?;
            }
        }
        Ok(())
    }

    /// Puts every scalar so far on disk (before a checkpoint that says they happened).
    pub fn flush(&mut self) -> Result<()> {
        match &mut self.writer {
            Some(writer) => Ok(writer.flush()?),
            None => Ok(()),
        }
    }
}
