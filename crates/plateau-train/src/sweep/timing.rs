//! Where a sweep's time goes: the seconds each run spends per phase, and the share of the
//! sweep's wall time spent outside training steps — what evaluation, probes, checkpoints and
//! process start-up cost on top of the compute a user asked for.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Seconds one run spent in each phase.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PhaseSeconds {
    /// Forward, backward and optimizer updates (with the occasional loss read).
    pub steps: f64,
    /// Assembling training batches: augmentation and the copy to the device.
    pub batches: f64,
    /// The validation pass after every epoch.
    pub validation: f64,
    /// Upstream test accuracy.
    pub test: f64,
    /// Feature extraction and few-shot probes.
    pub probes: f64,
    /// Fine-tuning transfer, where configured.
    pub finetune: f64,
    /// Resume checkpoints and the safetensors export.
    pub checkpoints: f64,
}

impl PhaseSeconds {
    pub fn total(&self) -> f64 {
        self.steps
            + self.batches
            + self.validation
            + self.test
            + self.probes
            + self.finetune
            + self.checkpoints
    }

    fn add(&mut self, other: &PhaseSeconds) {
        self.steps += other.steps;
        self.batches += other.batches;
        self.validation += other.validation;
        self.test += other.test;
        self.probes += other.probes;
        self.finetune += other.finetune;
        self.checkpoints += other.checkpoints;
    }
}

/// Runs `work`, adding the seconds it took to `total`.
pub fn timed<T>(total: &mut f64, work: impl FnOnce() -> T) -> T {
    let started = std::time::Instant::now();
    let result = work();
    *total += started.elapsed().as_secs_f64();
    result
}

/// The time of one `plateau sweep` invocation (`timing.json` in the sweep folder).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SweepTiming {
    pub wall_seconds: f64,
    pub runs_trained: usize,
    /// Summed over the runs trained by this invocation.
    pub phases: PhaseSeconds,
    /// Loading the sweep's data and planning, before the first run.
    pub setup_seconds: f64,
    /// The part of each run's wall time outside its phases: starting its process, loading its
    /// data, writing its summary.
    pub run_startup_seconds: f64,
    pub report_seconds: f64,
    /// Share of the workers' time (wall time × workers) outside training steps. With one
    /// worker runs never train at the same time, so this is the share of the sweep's time in
    /// which no run was training.
    pub overhead_share: f64,
    /// Whether each run's evaluation ran beside the next run's training (`--sequential` off):
    /// the phases then add up to more than the wall time.
    #[serde(default)]
    pub overlapped: bool,
    /// Runs that could train at once (`--jobs`, `--devices`); 1 otherwise.
    #[serde(default = "one")]
    pub workers: usize,
}

fn one() -> usize {
    1
}

impl SweepTiming {
    /// Adds a run that took `wall` from start to its recorded result.
    pub fn add_run(&mut self, wall: Duration, phases: &PhaseSeconds) {
        self.runs_trained += 1;
        self.phases.add(phases);
        self.run_startup_seconds += (wall.as_secs_f64() - phases.total()).max(0.0);
    }

    /// Closes the account once the sweep is over.
    pub fn finish(&mut self, wall: Duration) {
        self.wall_seconds = wall.as_secs_f64();
        let capacity = self.wall_seconds * self.workers.max(1) as f64;
        self.overhead_share = match capacity > 0.0 {
            true => (1.0 - self.phases.steps / capacity).clamp(0.0, 1.0),
            false => 0.0,
        };
    }

    /// Wall time not in any phase above: appending results, logging.
    pub fn other_seconds(&self) -> f64 {
        let known = self.phases.total()
            + self.setup_seconds
            + self.run_startup_seconds
            + self.report_seconds;
        (self.wall_seconds - known).max(0.0)
    }

    /// One paragraph for the end of a sweep.
    pub fn describe(&self) -> String {
        // Shares of what the workers could have done in the wall time.
        let capacity = self.wall_seconds * self.workers.max(1) as f64;
        let share = |seconds: f64| 100.0 * seconds / capacity.max(1e-9);
        let p = &self.phases;
        let parts = [
            ("batches", p.batches),
            ("validation", p.validation),
            ("test", p.test),
            ("probes", p.probes),
            ("fine-tuning", p.finetune),
            ("checkpoints", p.checkpoints),
            ("run start-up and data", self.run_startup_seconds),
            ("sweep set-up", self.setup_seconds),
            ("report", self.report_seconds),
            ("other", self.other_seconds()),
        ];
        let rest: Vec<String> = parts
            .iter()
            // Phases under 0.05 % would print as 0.0 %.
            .filter(|(_, seconds)| share(*seconds) >= 0.05)
            .map(|(name, seconds)| format!("{name} {:.1} %", share(*seconds)))
            .collect();
        let besides = match self.overlapped {
            true => "; work besides the steps, much of it beside the next run's training",
            false => "",
        };
        let of_whom = match self.workers {
            0 | 1 => String::new(),
            n => format!(" of {n} workers' time"),
        };
        format!(
            "time: {:.1} s for {} run(s); {:.1} %{of_whom} in training steps, {:.1} % outside them{besides} \
             ({})",
            self.wall_seconds,
            self.runs_trained,
            share(p.steps),
            100.0 * self.overhead_share,
            rest.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overhead_is_what_is_not_training_steps() {
        let mut timing = SweepTiming {
            setup_seconds: 1.0,
            workers: 1,
            ..Default::default()
        };
        let run = PhaseSeconds {
            steps: 40.0,
            probes: 3.0,
            validation: 2.0,
            ..Default::default()
        };
        timing.add_run(Duration::from_secs(46), &run);
        timing.add_run(Duration::from_secs(46), &run);
        timing.report_seconds = 0.5;
        timing.finish(Duration::from_secs(100));
        assert_eq!(timing.runs_trained, 2);
        assert!((timing.run_startup_seconds - 2.0).abs() < 1e-9);
        assert!((timing.overhead_share - 0.2).abs() < 1e-9);
        assert!((timing.other_seconds() - 6.5).abs() < 1e-9);
        let text = timing.describe();
        assert!(text.contains("80.0 % in training steps"), "{text}");
        assert!(text.contains("probes 6.0 %"), "{text}");
        assert!(
            !text.contains("fine-tuning"),
            "phases that took no time are left out: {text}"
        );
    }

    #[test]
    fn with_several_workers_shares_are_of_their_time_together() {
        // Two runs side by side (`--jobs 2`) trained 170 s in a 100 s sweep: 85 % of the two
        // workers' 200 s, not 170 % of the wall time.
        let mut timing = SweepTiming {
            workers: 2,
            ..Default::default()
        };
        let run = PhaseSeconds {
            steps: 85.0,
            test: 10.0,
            ..Default::default()
        };
        timing.add_run(Duration::from_secs(95), &run);
        timing.add_run(Duration::from_secs(95), &run);
        timing.finish(Duration::from_secs(100));
        assert!((timing.overhead_share - 0.15).abs() < 1e-9);
        let text = timing.describe();
        assert!(
            text.contains("85.0 % of 2 workers' time in training steps, 15.0 % outside them"),
            "{text}"
        );
        assert!(text.contains("test 10.0 %"), "{text}");
    }
}
