//! The report's analysis sections: saturation fits per task and shot count, the irreducible
//! error against shots, layer-wise probes, and the cheapest run close to the best.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;

use super::escape;
use super::plots::{Axis, Kind, Series, scatter};
use crate::axes::{AxisMeaning, AxisRole, role_of};
use crate::fit::study::{Query, SeriesFit, XAxis, fit_series, series_from_rows};
use crate::fit::{BootstrapOptions, PointSet};
use crate::results::{FINETUNE_LAYER, ResultRow};

/// Bootstrap resamples for the report's intervals (`plateau fit` defaults to more).
pub const REPORT_RESAMPLES: usize = 200;

/// The saturation law fitted to the frontier of every (task, shot count) of pre-logit probes;
/// series that cannot be fitted (fewer than 3 frontier runs) are left out.
pub fn saturation_fits(rows: &[ResultRow], axes: &[AxisMeaning]) -> Vec<SeriesFit> {
    let query = Query {
        x: XAxis::UpstreamError,
        point_set: PointSet::Frontier,
        boot: BootstrapOptions {
            resamples: REPORT_RESAMPLES,
            ..BootstrapOptions::default()
        },
        ..Query::default()
    };
    let Ok(all) = series_from_rows(rows, &query, axes) else {
        return Vec::new();
    };
    // Each series is fitted on its own; rayon keeps their order.
    all.into_par_iter()
        .filter_map(|series| fit_series(vec![series], &query).ok()?.pop())
        .collect()
}

/// The fitted curve (in accuracy space, over the measured upstream range and a little beyond)
/// and rings on the frontier runs it was fitted to.
pub fn curve_and_frontier(fit: &SeriesFit) -> [Series; 2] {
    let law = fit.fit.law;
    let (low, high) = fit
        .series
        .points
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(a, b), p| {
            (a.min(p.0), b.max(p.0))
        });
    let low = low * 0.7;
    let curve = (0..=40)
        .map(|i| low + (high - low) * i as f64 / 40.0)
        .map(|e_us| (1.0 - e_us, 1.0 - law.predict(e_us)))
        .filter(|(_, acc)| acc.is_finite() && (0.0..=1.0).contains(acc))
        .collect();
    let frontier = fit
        .fit
        .used
        .iter()
        .map(|&i| {
            let (e_us, e_ds) = fit.series.points[i];
            (1.0 - e_us, 1.0 - e_ds)
        })
        .collect();
    [
        Series::points("fit", curve).with_kind(Kind::Curve),
        Series::points("frontier", frontier).with_kind(Kind::Rings),
    ]
}

/// `e_IR` against shots per task (plot and table with intervals).
pub fn irreducible_error(fits: &[SeriesFit]) -> String {
    if fits.is_empty() {
        return "<p>No saturation fit: each needs at least 3 runs on the frontier of a task \
                and shot count.</p>"
            .into();
    }
    // Each parameter against shots, with its bootstrap interval as a bar.
    let per_task = |name: &str| -> Vec<Series> {
        let mut by_task: BTreeMap<&str, (Vec<(f64, f64)>, Vec<(f64, f64)>)> = BTreeMap::new();
        for fit in fits {
            if let (Some(task), Some(shots)) = (&fit.series.task, fit.series.shots) {
                let (points, bars) = by_task.entry(task).or_default();
                let interval = fit.fit.interval(name);
                points.push((shots as f64, fit.fit.parameter(name)));
                bars.push((interval.low, interval.high));
            }
        }
        by_task
            .into_iter()
            .map(|(task, (points, bars))| Series::points(task, points).with_bars(bars))
            .collect()
    };
    let mut html = String::from(
        "<h2>Saturation parameters against shots</h2><p>The fitted <code>e_IR</code>: \
         the downstream error no upstream accuracy removes, per task and shot count, and the \
         curve's scale k and exponent α, each with its 95% bootstrap interval over runs (bars, cut to \
         the plot).</p>\
         <div class=\"plots\">",
    );
    html.push_str(&scatter(
        "Fitted e_IR",
        "shots per class",
        "e_IR",
        &per_task("e_ir"),
        Axis::Log,
        Axis::Unit,
    ));
    html.push_str(&scatter(
        "Fitted k",
        "shots per class",
        "k",
        &per_task("k"),
        Axis::Log,
        Axis::Linear,
    ));
    html.push_str(&scatter(
        "Fitted α",
        "shots per class",
        "α",
        &per_task("alpha"),
        Axis::Log,
        Axis::Linear,
    ));
    html.push_str("</div><table><tr><th>task</th><th>shots</th><th>frontier runs</th><th>k</th><th>α</th><th>e_IR</th><th>95% interval of e_IR</th><th>floor</th><th>rms log residual</th></tr>");
    for fit in fits {
        let floor = fit.fit.floor_interval();
        let verdict = match fit.floor.identified {
            true => "identified".to_string(),
            false => format!("<b>not identified</b>: {}", escape(&fit.floor.note)),
        };
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}/{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>[{:.3}, {:.3}]</td><td>{verdict}</td><td>{:.3}</td></tr>",
            escape(fit.series.task.as_deref().unwrap_or("")),
            fit.series.shots.unwrap_or(0),
            fit.fit.used.len(),
            fit.series.points.len(),
            fit.fit.parameter("k"),
            fit.fit.parameter("alpha"),
            fit.fit.parameter("e_ir"),
            floor.low,
            floor.high,
            fit.fit.rms_log_residual
        ));
    }
    html.push_str("</table>");
    if fits.iter().any(|f| !f.floor.identified) {
        html.push_str(
            "<p>Where the floor is <b>not identified</b>, the runs cannot tell a floor from none: \
             the e_IR plotted there is one of many values that fit as well.</p>",
        );
    }
    html
}

/// Probe accuracy against relative depth, per task at its largest shot count, for the best
/// run (upstream) of each family; empty when only pre-logits were probed.
pub fn layer_wise(families: &BTreeMap<&str, Vec<&ResultRow>>, tasks: &BTreeSet<&str>) -> String {
    let mut plots = String::new();
    for task in tasks {
        let mut series = Vec::new();
        for (family, rows) in families {
            let best = rows.iter().max_by(|a, b| {
                let acc = |r: &ResultRow| r.upstream.as_ref().map_or(0.0, |u| u.test_accuracy);
                acc(a).total_cmp(&acc(b))
            });
            let Some(best) = best else { continue };
            let Some(shots) = best
                .downstream
                .iter()
                .filter(|d| d.task == *task && d.layer != FINETUNE_LAYER)
                .map(|d| d.shots)
                .max()
            else {
                continue;
            };
            let points: Vec<(f64, f64)> = best
                .downstream
                .iter()
                .filter(|d| d.task == *task && d.shots == shots && d.layer != FINETUNE_LAYER)
                .map(|d| (d.relative_depth, d.accuracy_mean))
                .collect();
            if points.len() > 1 {
                series.push(Series::points(
                    format!("{family} {} ({shots}-shot)", best.params),
                    points,
                ));
            }
        }
        if !series.is_empty() {
            plots.push_str(&scatter(
                &format!("{task}: probe by layer"),
                "relative depth",
                "few-shot accuracy",
                &series,
                Axis::Unit,
                Axis::Unit,
            ));
        }
    }
    match plots.is_empty() {
        true => String::new(),
        false => format!(
            "<h2>Layer-wise probes</h2><p>The same probe on the pooled output of each stage or \
             block of each family's best run: where in the network the transferable features \
             are.</p><div class=\"plots\">{plots}</div>"
        ),
    }
}

/// The run with the fewest training FLOPs whose upstream test accuracy is within `margin` of
/// the best, and the best run.
pub fn cheapest_near_best<'a>(
    rows: &[&'a ResultRow],
    margin: f64,
) -> Option<(&'a ResultRow, &'a ResultRow)> {
    let acc = |r: &ResultRow| r.upstream.as_ref().map(|u| u.test_accuracy);
    let finished: Vec<(&'a ResultRow, f64)> =
        rows.iter().filter_map(|r| Some((*r, acc(r)?))).collect();
    let (best, best_accuracy) = *finished.iter().max_by(|a, b| a.1.total_cmp(&b.1))?;
    let (cheapest, _) = *finished
        .iter()
        .filter(|(_, a)| *a >= best_accuracy - margin)
        .min_by(|a, b| a.0.train_flops.total_cmp(&b.0.train_flops))?;
    Some((cheapest, best))
}

/// Downstream accuracy against parameters, per task at its largest shot count, per family.
pub fn downstream_against_size(
    families: &BTreeMap<&str, Vec<&ResultRow>>,
    tasks: &BTreeSet<&str>,
) -> String {
    let mut plots = String::new();
    for task in tasks {
        let shots = families
            .values()
            .flatten()
            .flat_map(|r| r.downstream.iter())
            .filter(|d| d.task == *task && d.layer == "pre_logits")
            .map(|d| d.shots)
            .max();
        let Some(shots) = shots else { continue };
        let series: Vec<Series> = families
            .iter()
            .map(|(family, rows)| {
                let points = rows
                    .iter()
                    .filter_map(|r| {
                        let d = r.downstream.iter().find(|d| {
                            d.task == *task && d.shots == shots && d.layer == "pre_logits"
                        })?;
                        Some((r.params as f64, d.accuracy_mean))
                    })
                    .collect();
                Series::points(*family, points)
            })
            .collect();
        plots.push_str(&scatter(
            &format!("{task}, {shots}-shot"),
            "parameters",
            "downstream accuracy",
            &series,
            Axis::Log,
            Axis::Unit,
        ));
    }
    match plots.is_empty() {
        true => String::new(),
        false => {
            format!("<h2>Downstream accuracy against size</h2><div class=\"plots\">{plots}</div>")
        }
    }
}

/// Upstream accuracy against a budget axis (`train_examples`, `epochs`), when the sweep varies
/// it: one curve per family and model size (seeds and other repeats pooled).
pub fn against_axis(rows: &[&ResultRow], axis: &AxisMeaning, axes: &[AxisMeaning]) -> String {
    let (label, axis) = (axis.label, axis.name);
    let values: BTreeSet<String> = rows
        .iter()
        .filter_map(|r| r.config.get(axis).map(|v| v.to_string()))
        .collect();
    if values.len() < 2 {
        return String::new();
    }
    // One curve per model: its family and every other axis except seeds.
    let mut curves: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for row in rows {
        let (Some(x), Some(up)) = (
            row.config.get(axis).and_then(|v| v.as_f64()),
            row.upstream.as_ref(),
        ) else {
            continue;
        };
        let others: Vec<String> = row
            .config
            .iter()
            .filter(|(k, _)| *k != axis && role_of(axes, k) != AxisRole::Repeat)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        curves
            .entry(format!("{} {}", row.family, others.join(" ")))
            .or_default()
            .push((x, up.test_accuracy));
    }
    let series: Vec<Series> = curves
        .into_iter()
        .map(|(name, points)| Series::points(name.trim(), points))
        .collect();
    format!(
        "<h2>Upstream accuracy against {label}</h2><div class=\"plots\">{}</div>",
        scatter(
            &format!("Upstream test accuracy against {label}"),
            label,
            "accuracy",
            &series,
            Axis::Log,
            Axis::Unit
        )
    )
}

/// The paper's head weight-decay finding: when the sweep varies `head_weight_decay`, upstream
/// and downstream accuracy against it (every run, not only those chosen on validation).
pub fn head_weight_decay(rows: &[ResultRow]) -> String {
    let finished: Vec<&ResultRow> = rows
        .iter()
        .filter(|r| r.upstream.is_some() && r.config.contains_key("head_weight_decay"))
        .collect();
    let decays: BTreeSet<String> = finished
        .iter()
        .map(|r| r.config["head_weight_decay"].to_string())
        .collect();
    if decays.len() < 2 {
        return String::new();
    }
    let decay = |r: &ResultRow| r.config["head_weight_decay"].as_f64().unwrap_or(0.0);
    let mut series = vec![Series::points(
        "upstream",
        finished
            .iter()
            .map(|r| {
                (
                    decay(r),
                    r.upstream.as_ref().map_or(0.0, |u| u.test_accuracy),
                )
            })
            .collect(),
    )];
    let pairs: BTreeSet<(String, usize)> = finished
        .iter()
        .flat_map(|r| r.downstream.iter())
        .filter(|d| d.layer == "pre_logits")
        .map(|d| (d.task.clone(), d.shots))
        .collect();
    let largest: BTreeMap<&str, usize> = pairs
        .iter()
        .map(|(task, shots)| (task.as_str(), *shots))
        .collect();
    for (task, shots) in largest {
        series.push(Series::points(
            format!("{task} {shots}-shot"),
            finished
                .iter()
                .filter_map(|r| {
                    let d = r
                        .downstream
                        .iter()
                        .find(|d| d.task == task && d.shots == shots && d.layer == "pre_logits")?;
                    Some((decay(r), d.accuracy_mean))
                })
                .collect(),
        ));
    }
    format!(
        "<h2>Head weight decay: the upstream–downstream trade-off</h2><p>A larger weight decay \
         on the upstream head can lower upstream accuracy and raise downstream accuracy.</p>\
         <div class=\"plots\">{}</div>",
        scatter(
            "Accuracy against head weight decay",
            "head weight decay",
            "accuracy",
            &series,
            Axis::Linear,
            Axis::Unit
        )
    )
}
