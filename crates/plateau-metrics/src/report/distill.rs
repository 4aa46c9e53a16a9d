//! The report's section *Distilled against trained from scratch*: per family, upstream and
//! downstream accuracy against parameters for both curves, each with its size law, and the
//! teacher's level; per size, the gap (distilled − scratch) with the seeds' spread, and the size
//! of a scratch model that the distilled student matches.

use std::collections::BTreeMap;

use super::escape;
use super::plots::{Axis, Kind, Series, scatter};
use super::size_curves::{
    RESAMPLES, accuracy_and_law, curve_name, size_fits, target_name, targets,
};
use crate::axes::AxisMeaning;
use crate::fit::study::{SeriesFit, number};
use crate::results::{ResultRow, RunStatus};

pub fn distilled_against_scratch(
    rows: &[ResultRow],
    axes: &[AxisMeaning],
    tasks: &[(String, usize)],
) -> String {
    let ok: Vec<&ResultRow> = rows.iter().filter(|r| r.status == RunStatus::Ok).collect();
    let Some(record) = ok.iter().find_map(|r| r.distillation.as_ref()) else {
        return String::new();
    };
    let teacher_row = ok.iter().find(|r| r.run_id == record.teacher_run);
    let mut html = format!(
        "<h2>Distilled against trained from scratch</h2><p>Students learn from the teacher \
         <code>{}</code> ({} parameters, upstream test accuracy {:.3}) on the very batches they \
         train on; the loss is <code>ce_weight·CE + (1 − ce_weight)·T²·KL</code>. Each curve \
         has its size law <code>err = a·params^(−b) + c</code> ({RESAMPLES} resamples); the \
         dashed line is the teacher. The tables give, per size, the gap (distilled − scratch, \
         mean ± the seeds' spread) and the parameters a model trained from scratch needs to \
         match the student.</p><div class=\"plots\">",
        escape(&record.teacher_run),
        count(record.teacher_params as f64),
        record.teacher_test_accuracy
    );
    let mut tables = String::new();
    for target in targets(tasks) {
        let fits = size_fits(rows, axes, &target, |s| distilled(s).is_some());
        if !fits.iter().any(|f| distilled(&f.series) == Some(true)) {
            continue;
        }
        let what = target_name(&target);
        let teacher_level = match &target {
            None => Some(record.teacher_test_accuracy),
            Some((task, shots)) => teacher_row.and_then(|r| {
                r.downstream
                    .iter()
                    .find(|d| &d.task == task && d.shots == *shots && d.layer == "pre_logits")
                    .map(|d| d.accuracy_mean)
            }),
        };
        html.push_str(&plot(&fits, teacher_level, &what));
        tables.push_str(&gap_table(&fits, &what));
    }
    html.push_str("</div>");
    html.push_str(&tables);
    html
}

/// Whether a series is of distilled runs; `None` for one without the `distill` axis.
fn distilled(series: &crate::fit::study::Series) -> Option<bool> {
    series
        .condition
        .iter()
        .find(|(k, _)| k == "distill")
        .map(|(_, v)| v == "true")
}

fn plot(fits: &[SeriesFit], teacher: Option<f64>, what: &str) -> String {
    let mut series = Vec::new();
    let (mut low, mut high) = (f64::INFINITY, 0.0f64);
    for fit in fits {
        let (accuracy, curve) = accuracy_and_law(fit);
        for p in &accuracy {
            (low, high) = (low.min(p.0), high.max(p.0));
        }
        let kind = match distilled(&fit.series) {
            Some(true) => "distilled",
            _ => "scratch",
        };
        series.push(Series::points(
            curve_name(&fit.series, "distill", kind),
            accuracy,
        ));
        series.push(Series::points("", curve).with_kind(Kind::Curve));
    }
    if let Some(level) = teacher.filter(|_| low.is_finite()) {
        series.push(
            Series::points("teacher", vec![(low, level), (high, level)]).with_kind(Kind::Dashed),
        );
    }
    scatter(
        &format!("{what} accuracy against parameters"),
        "parameters",
        "accuracy",
        &series,
        Axis::Log,
        Axis::Unit,
    )
}

/// A parameter count as people write it: whole below a million, in e-notation above.
fn count(params: f64) -> String {
    match params < 1e6 {
        true => format!("{params:.0}"),
        false => number(params),
    }
}

/// Mean and spread (sample standard deviation; 0 for one seed) of accuracies.
fn mean_spread(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let spread = match values.len() {
        0 | 1 => 0.0,
        _ => (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt(),
    };
    (mean, spread)
}

/// Per family and size: scratch and distilled accuracy over seeds, their gap, and the scratch
/// size that the scratch curve's law needs for the student's error.
fn gap_table(fits: &[SeriesFit], what: &str) -> String {
    let mut html = format!(
        "<table><tr><th>{what}: family</th><th>params</th><th>scratch</th><th>distilled</th>\
         <th>gap</th><th>a scratch model matching the student</th></tr>"
    );
    // Curves pair up by family and by every other condition.
    let key = |f: &SeriesFit| curve_name(&f.series, "distill", "");
    for scratch in fits.iter().filter(|f| distilled(&f.series) == Some(false)) {
        let Some(student) = fits
            .iter()
            .find(|f| distilled(&f.series) == Some(true) && key(f) == key(scratch))
        else {
            continue;
        };
        let by_size = |fit: &SeriesFit| {
            let mut sizes: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
            for &(x, e) in &fit.series.points {
                sizes.entry(x as u64).or_default().push(1.0 - e);
            }
            sizes
        };
        let (ours, theirs) = (by_size(scratch), by_size(student));
        for (params, distilled_acc) in &theirs {
            let (d_mean, d_spread) = mean_spread(distilled_acc);
            let (scratch_cell, gap) = match ours.get(params) {
                Some(values) => {
                    let (s_mean, s_spread) = mean_spread(values);
                    (
                        format!("{s_mean:.3} ± {s_spread:.3} ({})", values.len()),
                        format!("{:+.3}", d_mean - s_mean),
                    )
                }
                None => ("—".into(), "—".into()),
            };
            // Outside the scratch runs' sizes the law extrapolates: say so.
            let (smallest, largest) = (
                *ours.keys().next().unwrap_or(&0) as f64,
                *ours.keys().last().unwrap_or(&0) as f64,
            );
            let matching = match scratch.fit.law.x_for(1.0 - d_mean) {
                None => "none at any size".to_string(),
                Some(x) if x < smallest => format!("{} (below the smallest run)", count(x)),
                Some(x) if x > largest => format!("{} (beyond the largest run)", count(x)),
                Some(x) => count(x),
            };
            html.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{scratch_cell}</td><td>{d_mean:.3} ± {d_spread:.3} \
                 ({})</td><td>{gap}</td><td>{matching}</td></tr>",
                escape(&key(scratch)),
                count(*params as f64),
                distilled_acc.len()
            ));
        }
    }
    html.push_str("</table>");
    html
}
