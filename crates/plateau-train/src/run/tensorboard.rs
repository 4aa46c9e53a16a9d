//! A run's scalars for TensorBoard, in `<run>/tensorboard/` (`tensorboard --logdir runs/<sweep>`
//! shows every run; TensorBoard names them by their folder, the run id):
//!
//! - `train/loss`, `train/lr` wherever the loop reads the loss (every few steps), at the count
//!   of steps done;
//! - `val/accuracy`, `val/loss` after every epoch;
//! - `test/accuracy`, `test/loss` and `downstream/<task>/<shots>-shot/<layer>` (few-shot
//!   accuracy, mean over draws) once, at the end.
//!
//! The file is put on disk before every checkpoint; a resumed run first cuts it to the steps of
//! its checkpoint (and drops end-of-run scalars), so it never holds a step twice.

use std::path::Path;

use anyhow::Result;
use plateau_metrics::results::DownstreamResult;
use plateau_store::{EventWriter, Scalar};

/// Tags written once, when the run ends.
const FINAL_PREFIXES: [&str; 2] = ["test/", "downstream/"];

pub(crate) struct RunEvents {
    writer: EventWriter,
}

impl RunEvents {
    /// Opens the run's event file for a run that has done `steps` steps (0 for a fresh one).
    pub fn open(run_dir: &Path, steps: usize) -> Result<Self> {
        let keep = |s: &Scalar| {
            s.step <= steps as i64 && !FINAL_PREFIXES.iter().any(|p| s.tag.starts_with(p))
        };
        Ok(Self {
            writer: EventWriter::open(&run_dir.join("tensorboard"), keep)?,
        })
    }

    /// The loss and learning rate after `steps` steps.
    pub fn train(&mut self, steps: usize, loss: f64, lr: f64) -> Result<()> {
        self.writer.scalar("train/loss", steps as i64, loss)?;
        Ok(self.writer.scalar("train/lr", steps as i64, lr)?)
    }

    pub fn epoch(&mut self, steps: usize, val_accuracy: f64, val_loss: f64) -> Result<()> {
        self.writer
            .scalar("val/accuracy", steps as i64, val_accuracy)?;
        Ok(self.writer.scalar("val/loss", steps as i64, val_loss)?)
    }

    pub fn finish(
        &mut self,
        steps: usize,
        test: (f64, f64),
        downstream: &[DownstreamResult],
    ) -> Result<()> {
        let step = steps as i64;
        self.writer.scalar("test/accuracy", step, test.0)?;
        self.writer.scalar("test/loss", step, test.1)?;
        for result in downstream {
            let tag = format!(
                "downstream/{}/{}-shot/{}",
                result.task, result.shots, result.layer
            );
            self.writer.scalar(&tag, step, result.accuracy_mean)?;
        }
        self.flush()
    }

    /// Puts every scalar so far on disk (before a checkpoint that says they happened).
    pub fn flush(&mut self) -> Result<()> {
        Ok(self.writer.flush()?)
    }
}
