//! Downstream measurements: what a run measures on its trained model besides upstream test
//! accuracy. Each is a file in this folder and one line in [`MEASUREMENTS`]; the run calls them
//! in that order and records their results as downstream rows (`task`, `shots`, `layer`, …).

pub(crate) mod finetune;
pub(crate) mod probe;

use anyhow::Result;
use burn::prelude::*;
use plateau_metrics::results::DownstreamResult;
use plateau_models::Model;

use crate::run::data::DownstreamTask;
use crate::run::spec::RunSpec;
use crate::sweep::timing::PhaseSeconds;

/// One way of measuring a trained model on the downstream tasks.
pub(crate) trait Measurement: Sync {
    /// The entry of the run's time account (`timing.json`) that its seconds go to.
    fn seconds<'a>(&self, seconds: &'a mut PhaseSeconds) -> &'a mut f64;

    /// Measures `model` (left unchanged) on every task that asks for this measurement.
    fn measure(
        &self,
        model: &Model,
        spec: &RunSpec,
        tasks: &[DownstreamTask],
        device: &Device,
    ) -> Result<Vec<DownstreamResult>>;
}

/// Every measurement, in the order a run takes them.
pub(crate) static MEASUREMENTS: &[&dyn Measurement] = &[&probe::FewShotProbes, &finetune::FineTune];
