//! Progress for people: an indicatif bar per run when stderr is a terminal, plain log lines
//! (one per epoch) when it is not, so CI logs and `nohup` files stay readable.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

pub struct RunProgress {
    bar: Option<ProgressBar>,
    plain: bool,
    label: String,
    started: Instant,
    images: std::cell::Cell<u64>,
    last_loss: std::cell::Cell<f64>,
}

impl RunProgress {
    pub fn new(enabled: bool, label: &str, total_steps: usize, done_steps: usize) -> Self {
        let terminal = enabled && std::io::stderr().is_terminal();
        let bar = terminal.then(|| {
            let bar = ProgressBar::new(total_steps as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "  {prefix} {bar:25} {pos}/{len} steps {msg} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_prefix(label.to_string());
            bar.set_position(done_steps as u64);
            bar
        });
        Self {
            bar,
            plain: enabled && !terminal,
            label: label.to_string(),
            started: Instant::now(),
            images: std::cell::Cell::new(0),
            last_loss: std::cell::Cell::new(f64::NAN),
        }
    }

    pub fn loss(&self, loss: f64) {
        self.last_loss.set(loss);
    }

    pub fn step(&self, epoch: usize, epochs: usize, images: usize) {
        self.images.set(self.images.get() + images as u64);
        if let Some(bar) = &self.bar {
            let rate = self.images.get() as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!(
                "epoch {epoch}/{epochs} loss {:.4} {rate:.0} img/s",
                self.last_loss.get()
            ));
            bar.inc(1);
        }
    }

    pub fn epoch_done(&self, epoch: usize, epochs: usize, val_accuracy: f64) {
        if self.plain {
            let rate = self.images.get() as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
            eprintln!(
                "  {} epoch {epoch}/{epochs}: loss {:.4}, val accuracy {val_accuracy:.4}, {rate:.0} img/s",
                self.label,
                self.last_loss.get()
            );
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
