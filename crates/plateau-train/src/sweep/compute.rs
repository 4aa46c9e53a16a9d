//! What a planned run will cost before it trains: analytic training FLOPs (forward + backward ≈
//! 3 × forward per image seen, plus a teacher's forward for a distilled run). `--dry-run`
//! prints it; sharding balances by it.

use anyhow::Result;

use crate::run::data::Upstream;
use crate::sweep::plan::PlannedRun;

/// The training FLOPs of every run of `runs`, in order.
pub(crate) fn planned_train_flops(upstream: &Upstream, runs: &[PlannedRun]) -> Result<Vec<f64>> {
    let teacher = teacher_flops(runs)?;
    runs.iter()
        .map(|run| {
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
            Ok((3.0 * cost.flops as f64 + teacher) * images)
        })
        .collect()
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
