//! `plateau sweep --dry-run`: every run with its parameters, FLOPs and training compute.

use anyhow::Result;

use crate::run::data::Upstream;
use crate::sweep::compute::planned_train_flops;
use crate::sweep::config::SweepConfig;
use crate::sweep::plan::PlannedRun;
use crate::sweep::scoring::scoring_pass;
use crate::sweep::shards::assign;

/// Prints the plan; with `shards`, each run's shard and each shard's compute too.
pub(crate) fn print_plan(
    config: &SweepConfig,
    upstream: &Upstream,
    runs: &[PlannedRun],
    shards: Option<usize>,
) -> Result<()> {
    let flops = planned_train_flops(upstream, runs)?;
    let total: f64 = flops.iter().sum();
    let shard_of = shards.map(|count| assign(runs, &flops, count));
    let shard_column = |shard: String| match shards {
        Some(_) => format!("  {shard:>5}"),
        None => String::new(),
    };
    println!(
        "{:<12}  {:<40}  {:>12}  {:>10}  {:>14}{}",
        "run",
        "model",
        "params",
        "GFLOPs/img",
        "train PFLOPs",
        shard_column("shard".into())
    );
    for (i, (run, train_flops)) in runs.iter().zip(&flops).enumerate() {
        let cost = run.spec.model.cost(&run.spec.input)?;
        let shard = shard_of
            .as_ref()
            .map_or(String::new(), |s| s[i].to_string());
        println!(
            "{:<12}  {:<40}  {:>12}  {:>10.4}  {:>14.6}{}",
            run.id,
            run.label(),
            cost.params,
            cost.flops as f64 / 1e9,
            train_flops / 1e15,
            shard_column(shard)
        );
    }
    if let (Some(count), Some(shard_of)) = (shards, &shard_of) {
        for shard in 0..count {
            let mine: Vec<usize> = (0..runs.len()).filter(|&i| shard_of[i] == shard).collect();
            let compute: f64 = mine.iter().map(|&i| flops[i]).sum();
            println!(
                "shard {shard}/{count}: {} runs, {:.6} PFLOPs",
                mine.len(),
                compute / 1e15
            );
        }
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
