//! Progress for people. On a terminal: an indicatif bar for the sweep (runs done, ETA) above a
//! bar for the current run (step, epoch, loss, images/s). Elsewhere (CI logs, `nohup` files):
//! plain lines, one per run and one per epoch.
//!
//! A run trained in a child process cannot draw into its parent's bars, so the parent asks it
//! for [`ProgressMode::Events`]: JSON lines on stdout that the parent turns into its run bar.

use std::cell::Cell;
use std::io::{BufRead, IsTerminal};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

/// How a run reports its progress.
#[derive(Clone, Debug, Default)]
pub enum ProgressMode {
    /// Nothing (tests, library use).
    Off,
    /// A bar when stderr is a terminal, plain epoch lines when it is not.
    #[default]
    Auto,
    /// JSON lines on stdout for a parent sweep to draw (see [`follow_child`]).
    Events,
    /// A bar under the sweep's bars.
    Under(MultiProgress),
}

/// One progress message of a child run.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "progress", rename_all = "snake_case")]
enum Event {
    Step {
        step: u64,
        total: u64,
        epoch: usize,
        epochs: usize,
        loss: f64,
        images_per_second: f64,
    },
    Epoch {
        epoch: usize,
        epochs: usize,
        val_accuracy: f64,
    },
    Reached {
        milestone: Milestone,
    },
    /// The run failed (`environment`: because of the machine's storage, not of the run); sent
    /// before it exits, so the cause reaches the sweep even when no file can be written.
    Failed {
        error: String,
        environment: bool,
    },
}

/// Why a run process failed, as it told its sweep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub error: String,
    pub environment: bool,
}

/// What a run process tells its sweep about where it is (see [`crate::sweep::run_process`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Milestone {
    /// Data and model are loaded; the run trains once its sweep lets it.
    Ready,
    /// Training is over; evaluation and probes follow.
    Trained,
}

/// How often a child reports steps: often enough for a smooth bar, rarely enough to cost nothing.
const EVENT_EVERY: Duration = Duration::from_millis(200);

fn run_bar(total_steps: u64, label: &str) -> ProgressBar {
    let bar = ProgressBar::new(total_steps);
    bar.set_style(
        ProgressStyle::with_template("  {prefix} {bar:25} {pos}/{len} steps {msg} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_prefix(label.to_string());
    bar
}

enum Sink {
    Off,
    Bar(ProgressBar),
    Plain,
    Events { last: Cell<Option<Instant>> },
}

pub struct RunProgress {
    sink: Sink,
    label: String,
    started: Instant,
    total_steps: u64,
    step: Cell<u64>,
    images: Cell<u64>,
    last_loss: Cell<f64>,
}

impl RunProgress {
    pub fn new(mode: &ProgressMode, label: &str, total_steps: usize, done_steps: usize) -> Self {
        let bar = |bar: ProgressBar| {
            bar.set_position(done_steps as u64);
            Sink::Bar(bar)
        };
        let sink = match mode {
            ProgressMode::Off => Sink::Off,
            ProgressMode::Auto if std::io::stderr().is_terminal() => {
                bar(run_bar(total_steps as u64, label))
            }
            ProgressMode::Auto => Sink::Plain,
            ProgressMode::Events => Sink::Events {
                last: Cell::new(None),
            },
            ProgressMode::Under(multi) => bar(multi.add(run_bar(total_steps as u64, label))),
        };
        Self {
            sink,
            label: label.to_string(),
            started: Instant::now(),
            total_steps: total_steps as u64,
            step: Cell::new(done_steps as u64),
            images: Cell::new(0),
            last_loss: Cell::new(f64::NAN),
        }
    }

    pub fn loss(&self, loss: f64) {
        self.last_loss.set(loss);
    }

    fn rate(&self) -> f64 {
        self.images.get() as f64 / self.started.elapsed().as_secs_f64().max(1e-9)
    }

    /// One optimizer step of `images` images finished.
    pub fn step(&self, epoch: usize, epochs: usize, images: usize) {
        self.images.set(self.images.get() + images as u64);
        self.step.set(self.step.get() + 1);
        match &self.sink {
            Sink::Bar(bar) => {
                bar.set_message(step_message(
                    epoch,
                    epochs,
                    self.last_loss.get(),
                    self.rate(),
                ));
                bar.inc(1);
            }
            Sink::Events { last } => {
                let due = last.get().is_none_or(|t| t.elapsed() >= EVENT_EVERY);
                if due || self.step.get() == self.total_steps {
                    last.set(Some(Instant::now()));
                    emit(&Event::Step {
                        step: self.step.get(),
                        total: self.total_steps,
                        epoch,
                        epochs,
                        loss: self.last_loss.get(),
                        images_per_second: self.rate(),
                    });
                }
            }
            Sink::Off | Sink::Plain => {}
        }
    }

    pub fn epoch_done(&self, epoch: usize, epochs: usize, val_accuracy: f64) {
        match &self.sink {
            Sink::Plain => say(&format!(
                "  {} epoch {epoch}/{epochs}: loss {:.4}, val accuracy {val_accuracy:.4}, {:.0} img/s",
                self.label,
                self.last_loss.get(),
                self.rate()
            )),
            Sink::Events { .. } => emit(&Event::Epoch {
                epoch,
                epochs,
                val_accuracy,
            }),
            Sink::Off | Sink::Bar(_) => {}
        }
    }

    pub fn finish(&self) {
        if let Sink::Bar(bar) = &self.sink {
            bar.finish_and_clear();
        }
    }
}

fn step_message(epoch: usize, epochs: usize, loss: f64, rate: f64) -> String {
    format!("epoch {epoch}/{epochs} loss {loss:.4} {rate:.0} img/s")
}

/// Writes one line to stderr in a single write: `eprintln!` writes a formatted line piece by
/// piece (stderr is unbuffered), so lines of two threads could tear. (`eprint!` of one finished
/// string is one write, and the test harness still captures it.) A run process's stderr is a
/// pipe its sweep reads: once the sweep is gone, a line is lost rather than a panic raised.
pub fn say(line: &str) {
    let line = format!("{line}\n");
    if is_run_process() {
        use std::io::Write;
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    } else {
        eprint!("{line}");
    }
}

/// Set once this process is a sweep's run process (it reads the sweep's link on stdin).
static RUN_PROCESS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub(crate) fn mark_as_run_process() {
    RUN_PROCESS.store(true, std::sync::atomic::Ordering::SeqCst);
}

fn is_run_process() -> bool {
    RUN_PROCESS.load(std::sync::atomic::Ordering::SeqCst)
}

/// Writes a phase marker: a run process sends it on its stdout, in order with its milestones,
/// and its sweep prints it; so a harness sees the markers of all processes in the order the
/// sweep acted on them (one run's end of training before the next run's start).
pub(crate) fn say_marker(line: &str) {
    if is_run_process() {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}").and_then(|_| out.flush());
    } else {
        say(line);
    }
}

/// Tells the sweep that started this run process that it reached `milestone` (whatever the
/// progress mode: the sweep reads these from stdout to start and let train its next runs).
pub fn announce(milestone: Milestone) {
    emit(&Event::Reached { milestone });
}

/// Tells the sweep that started this run process why the run failed.
pub fn announce_failure(error: &str, environment: bool) {
    emit(&Event::Failed {
        error: error.to_string(),
        environment,
    });
}

fn emit(event: &Event) {
    // stdout is a pipe to the parent; a closed pipe only loses progress, never the run.
    use std::io::Write;
    let line = serde_json::to_string(event).expect("events serialise");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|_| out.flush());
}

/// The sweep's own progress: a bar of runs (with ETA) on a terminal, log lines elsewhere.
pub struct SweepProgress {
    multi: Option<MultiProgress>,
    runs: Option<ProgressBar>,
}

impl SweepProgress {
    pub fn new(enabled: bool, name: &str, runs_to_train: usize) -> Self {
        if !(enabled && std::io::stderr().is_terminal()) {
            return Self {
                multi: None,
                runs: None,
            };
        }
        let multi = MultiProgress::new();
        let runs = multi.add(ProgressBar::new(runs_to_train as u64));
        runs.set_style(
            ProgressStyle::with_template(
                "{prefix} {bar:25} {pos}/{len} runs, {elapsed} elapsed, eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        runs.set_prefix(format!("sweep {name}"));
        runs.tick();
        Self {
            multi: Some(multi),
            runs: Some(runs),
        }
    }

    /// A line above the bars (or on stderr when there are none).
    pub fn log(&self, line: &str) {
        match &self.multi {
            Some(multi) => {
                let _ = multi.println(line);
            }
            None => say(line),
        }
    }

    pub fn run_done(&self) {
        if let Some(runs) = &self.runs {
            runs.inc(1);
        }
    }

    /// How a run trained in this process should report.
    pub fn run_mode(&self) -> ProgressMode {
        match &self.multi {
            Some(multi) => ProgressMode::Under(multi.clone()),
            None => ProgressMode::Auto,
        }
    }

    /// Whether child runs should send events (only worth it when there are bars to draw).
    pub fn wants_events(&self) -> bool {
        self.multi.is_some()
    }

    /// Draws a child's progress events (its stdout) as a run bar until the child closes it;
    /// lines that are not events pass through as log lines. `milestone` is called when the child
    /// says it is ready to train and when its training is over.
    pub fn follow_child(
        &self,
        label: &str,
        stdout: impl std::io::Read,
        milestone: &mut dyn FnMut(Milestone),
    ) -> Option<Failure> {
        let mut failure = None;
        let mut bar: Option<ProgressBar> = None;
        let mut val = String::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            match (serde_json::from_str::<Event>(&line), &self.multi) {
                (Ok(Event::Reached { milestone: reached }), _) => {
                    if reached == Milestone::Trained {
                        // The run's bar has done its job; its evaluation shows no steps.
                        if let Some(bar) = bar.take() {
                            bar.finish_and_clear();
                        }
                    }
                    milestone(reached);
                }
                (
                    Ok(Event::Step {
                        step,
                        total,
                        epoch,
                        epochs,
                        loss,
                        images_per_second,
                    }),
                    Some(multi),
                ) => {
                    let bar = bar.get_or_insert_with(|| multi.add(run_bar(total, label)));
                    bar.set_length(total);
                    bar.set_position(step);
                    bar.set_message(format!(
                        "{}{val}",
                        step_message(epoch, epochs, loss, images_per_second)
                    ));
                }
                (Ok(Event::Epoch { val_accuracy, .. }), _) => {
                    val = format!(" val {val_accuracy:.4}");
                }
                (Ok(Event::Failed { error, environment }), _) => {
                    failure = Some(Failure { error, environment });
                }
                _ => self.log(&line),
            }
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        failure
    }

    pub fn finish(&self) {
        if let Some(runs) = &self.runs {
            runs.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_events_round_trip() {
        let event = Event::Step {
            step: 3,
            total: 10,
            epoch: 1,
            epochs: 2,
            loss: 0.5,
            images_per_second: 100.0,
        };
        let line = serde_json::to_string(&event).unwrap();
        assert!(line.starts_with("{\"progress\":\"step\""), "{line}");
        assert!(matches!(
            serde_json::from_str::<Event>(&line).unwrap(),
            Event::Step {
                step: 3,
                total: 10,
                ..
            }
        ));
        let reached = serde_json::to_string(&Event::Reached {
            milestone: Milestone::Trained,
        })
        .unwrap();
        assert!(matches!(
            serde_json::from_str::<Event>(&reached).unwrap(),
            Event::Reached {
                milestone: Milestone::Trained
            }
        ));
        // Anything else a child prints is not mistaken for an event.
        assert!(serde_json::from_str::<Event>("{\"run\":1}").is_err());
    }
}
