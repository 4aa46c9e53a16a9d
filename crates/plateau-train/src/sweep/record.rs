//! A run's row in `results.jsonl`, built from its plan and its summary, and the line that
//! describes it in the sweep's log.

use anyhow::Result;
use plateau_metrics::results::{ResultRow, RunStatus};

use crate::Backend;
use crate::run::summary::RunSummary;
use crate::sweep::plan::PlannedRun;

pub(crate) fn result_row(
    run: &PlannedRun,
    summary: &RunSummary,
    backend: Backend,
) -> Result<ResultRow> {
    let cost = run.spec.model.cost(&run.spec.input)?;
    let teacher_flops = summary
        .distillation
        .as_ref()
        .map_or(0.0, |d| d.teacher_flops_per_image as f64);
    Ok(ResultRow {
        run_id: run.id.clone(),
        family: run.spec.model.family().to_string(),
        preset: run.spec.preset.clone(),
        config: run.axes.clone(),
        model: serde_json::to_value(&run.spec.model)?,
        params: cost.params,
        flops_per_image: cost.flops,
        // A distilled run also pays its teacher's forward pass on every image.
        train_flops: (3.0 * cost.flops as f64 + teacher_flops) * summary.images_seen as f64,
        backend: backend.name().to_string(),
        status: summary.status,
        error: summary.error.clone(),
        upstream: summary.upstream.clone(),
        downstream: summary.downstream.clone(),
        train_seconds: summary.train_seconds,
        images_per_second: summary.images_per_second,
        epochs: summary.epochs,
        steps: summary.steps,
        training_data: summary.training_data.clone(),
        distillation: summary.distillation.clone(),
    })
}

pub(crate) fn describe(row: &ResultRow) -> String {
    match (&row.status, &row.upstream) {
        (RunStatus::Ok, Some(up)) => {
            let best = row
                .downstream
                .iter()
                .filter(|d| d.layer == "pre_logits")
                .map(|d| format!("{} {}-shot {:.3}", d.task, d.shots, d.accuracy_mean))
                .collect::<Vec<_>>();
            format!(
                "ok: test accuracy {:.4}, {:.0} s, {:.0} img/s{}",
                up.test_accuracy,
                row.train_seconds,
                row.images_per_second,
                if best.is_empty() {
                    String::new()
                } else {
                    format!("; {}", best.join(", "))
                }
            )
        }
        (status, _) => format!("{status:?}: {}", row.error.as_deref().unwrap_or("")),
    }
}
