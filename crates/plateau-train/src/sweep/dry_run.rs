//! `plateau sweep --dry-run`: every run with its parameters, FLOPs and training compute.

use anyhow::Result;

use crate::run::data::Upstream;
use crate::sweep::config::SweepConfig;
use crate::sweep::plan::PlannedRun;

pub(crate) fn print_plan(
    config: &SweepConfig,
    upstream: &Upstream,
    runs: &[PlannedRun],
) -> Result<()> {
    println!(
        "{:<12}  {:<40}  {:>12}  {:>10}  {:>14}",
        "run", "model", "params", "GFLOPs/img", "train PFLOPs"
    );
    let mut total = 0.0;
    for run in runs {
        let cost = run.spec.model.cost(&run.spec.input)?;
        let examples = run
            .spec
            .upstream
            .train_examples
            .unwrap_or(upstream.splits.train.len()) as f64;
        let images = match (run.spec.train.steps, run.spec.train.epochs) {
            (Some(steps), _) => (steps * run.spec.train.batch_size) as f64,
            (None, Some(epochs)) => epochs as f64 * examples,
            _ => 0.0,
        };
        let train_flops = 3.0 * cost.flops as f64 * images;
        total += train_flops;
        println!(
            "{:<12}  {:<40}  {:>12}  {:>10.4}  {:>14.6}",
            run.id,
            run.label(),
            cost.params,
            cost.flops as f64 / 1e9,
            train_flops / 1e15
        );
    }
    println!(
        "{} runs of sweep {}; estimated training compute {:.4} PFLOPs",
        runs.len(),
        config.name,
        total / 1e15
    );
    Ok(())
}
