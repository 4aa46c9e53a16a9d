//! `plateau sweep --dry-run`: every run with its parameters, FLOPs and training compute.

use anyhow::Result;

use crate::run::data::Upstream;
use crate::sweep::config::SweepConfig;
use crate::sweep::plan::PlannedRun;
use crate::sweep::scoring::scoring_pass;

pub(crate) fn print_plan(
    config: &SweepConfig,
    upstream: &Upstream,
    runs: &[PlannedRun],
) -> Result<()> {
    println!(
        "{:<12}  {:<40}  {:>12}  {:>10}  {:>14}",
        "run", "model", "params", "GFLOPs/img", "train PFLOPs"
    );
    let teacher = teacher_flops(runs)?;
    let mut total = 0.0;
    for run in runs {
        let cost = run.spec.model.cost(&run.spec.input)?;
        let up = &run.spec.upstream;
        let examples = up.train_examples.unwrap_or(upstream.splits.train.len()) as f64;
        // Pruning trains on about `keep` of them.
        let examples = examples * up.keep.unwrap_or(1.0);
        let images = match (run.spec.train.steps, run.spec.train.epochs) {
            (Some(steps), _) => (steps * run.spec.train.batch_size) as f64,
            (None, Some(epochs)) => epochs as f64 * examples,
            _ => 0.0,
        };
        // A student also runs its teacher forward on every image it trains on.
        let teacher = match run.spec.distill {
            Some(_) => teacher,
            None => 0.0,
        };
        let train_flops = (3.0 * cost.flops as f64 + teacher) * images;
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
    let scoring = scoring_flops(upstream, runs)?;
    if scoring.passes > 0 {
        println!(
            "EL2N scoring: {} pass(es), {} scorer run(s), {:.6} PFLOPs",
            scoring.passes,
            scoring.runs,
            scoring.flops / 1e15
        );
    }
    println!(
        "{} runs of sweep {}; estimated training compute {:.4} PFLOPs",
        runs.len(),
        config.name,
        (total + scoring.flops) / 1e15
    );
    Ok(())
}

/// Forward FLOPs per image of the sweep's teacher (one `[distill]` table, so one teacher for
/// every student); 0 when nothing is distilled.
fn teacher_flops(runs: &[PlannedRun]) -> Result<f64> {
    let Some(distill) = runs.iter().find_map(|run| run.spec.distill.as_ref()) else {
        return Ok(0.0);
    };
    let teacher = match &distill.teacher_dir {
        None => runs
            .iter()
            .find(|run| run.id == distill.teacher)
            .map(|run| run.spec.clone()),
        Some(dir) => {
            let text = std::fs::read(dir.join("config.json"))?;
            Some(serde_json::from_slice::<crate::run::spec::RunSpec>(&text)?)
        }
    };
    Ok(match teacher {
        Some(t) => t.model.cost(&t.input)?.flops as f64,
        None => 0.0,
    })
}

struct ScoringCompute {
    passes: usize,
    runs: usize,
    flops: f64,
}

/// The compute of the EL2N scoring passes the runs need: each scorer's training, and its
/// forward pass over the training set.
fn scoring_flops(upstream: &Upstream, runs: &[PlannedRun]) -> Result<ScoringCompute> {
    let mut seen = std::collections::HashSet::new();
    let mut compute = ScoringCompute {
        passes: 0,
        runs: 0,
        flops: 0.0,
    };
    for run in runs {
        let Some(pass) = scoring_pass(&run.spec)? else {
            continue;
        };
        if !seen.insert(pass.key) {
            continue;
        }
        compute.passes += 1;
        for scorer in &pass.specs {
            let cost = scorer.model.cost(&scorer.input)?.flops as f64;
            let examples = scorer
                .upstream
                .train_examples
                .unwrap_or(upstream.splits.train.len()) as f64;
            let epochs = scorer.train.epochs.unwrap_or(1) as f64;
            compute.runs += 1;
            compute.flops += (3.0 * epochs + 1.0) * cost * examples;
        }
    }
    Ok(compute)
}
