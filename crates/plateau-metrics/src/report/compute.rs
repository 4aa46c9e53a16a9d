//! The report's *What would it take?* section: for each task at its largest shot count, the
//! training compute (and device-hours) that reaches a few downstream errors per family, a
//! log–log plot of error against compute with the chained curve, its band and its
//! extrapolation dashed, and how each family's size law foresees its own largest runs.

use rayon::prelude::*;

use super::escape;
use super::plots::{Axis, Kind, Series, scatter};
use crate::axes::AxisMeaning;
use crate::fit::BootstrapOptions;
use crate::fit::compute::{ComputeCurve, Prices, SaturationFit, chain_families};
use crate::fit::study::{Query, SeriesFit, XAxis, fit_series, number, series_from_rows};
use crate::results::ResultRow;

/// Sizes a family needs before the report holds some of them out of its size law.
const HOLDOUT_MIN_SIZES: usize = 5;
/// How many of a family's largest runs the report holds out.
const HOLDOUT_K: usize = 2;
/// How far beyond the largest run the dashed extrapolation reaches (in compute).
const EXTRAPOLATE: f64 = 100.0;

/// The targets the report asks of a curve: halfway from its best run to its floor, and one
/// point above its floor.
fn default_targets(curve: &ComputeCurve) -> Vec<f64> {
    let best = curve.runs.iter().map(|r| r.1).fold(f64::INFINITY, f64::min);
    let floor = curve.floor();
    let mut targets = vec![0.5 * (best + floor), floor + 0.01];
    targets.retain(|t| t.is_finite() && *t > 0.0);
    targets
}

/// The section for each task at `shots`, chaining the report's own saturation fits (fitted
/// with `resamples`) with each family's size law.
pub fn what_would_it_take(
    rows: &[ResultRow],
    axes: &[AxisMeaning],
    tasks: &[(String, usize)],
    saturation_fits: &[SeriesFit],
    resamples: usize,
) -> String {
    let boot = BootstrapOptions {
        resamples,
        ..BootstrapOptions::default()
    };
    let curves: Vec<ComputeCurve> = tasks
        .par_iter()
        .flat_map(|(task, shots)| {
            let saturations: Vec<SaturationFit> = saturation_fits
                .iter()
                .filter(|f| {
                    f.series.task.as_deref() == Some(task) && f.series.shots == Some(*shots)
                })
                .map(|f| (f.series.condition.clone(), f.fit.clone()))
                .collect();
            chain_families(rows, axes, task, *shots, &saturations, &boot).unwrap_or_default()
        })
        .collect();
    let mut html = String::from(
        "<h2>What would it take?</h2><p>The training compute that reaches a downstream error: \
         each task's saturation law (at its largest shot count) chained with each family's size \
         law of upstream error in training FLOPs, converted to device-hours at the throughput \
         this sweep measured. The targets: halfway from the family's best run to what it \
         reaches at any compute, and one point above that. Intervals from ",
    );
    html.push_str(&format!(
        "{resamples} paired resamples (<code>plateau fit --compute</code> uses 500, and prices \
         hours with <code>--usd-per-hour</code> and <code>--watts</code>). Beyond the largest \
         run the curve is dashed: an extrapolation.</p>"
    ));
    if curves.is_empty() {
        html.push_str(
            "<p>No family has both a size law (3 or more sizes) and a saturation law to chain.</p>",
        );
        return html;
    }
    html.push_str(
        "<table><tr><th>family</th><th>task</th><th>downstream error</th><th>upstream error \
         needed</th><th>training FLOPs (95%)</th><th>device-hours (95%)</th><th>reachable in \
         resamples</th></tr>",
    );
    for curve in &curves {
        for y in default_targets(curve) {
            html.push_str(&target_row(curve, y));
        }
    }
    html.push_str("</table>");
    let unidentified: Vec<String> = curves
        .iter()
        .filter(|c| !c.size_floor.identified)
        .map(|c| escape(&c.label()))
        .collect();
    if !unidentified.is_empty() {
        html.push_str(&format!(
            "<p>The size law's floor is <b>not identified</b> for {}: what those families reach \
             at any compute, and the targets near it, are guesses the runs cannot check \
             ({}).</p>",
            unidentified.join(", "),
            escape(&curves[0].size_floor.note)
        ));
    }
    html.push_str("<div class=\"plots\">");
    for curve in &curves {
        html.push_str(&plot(curve));
    }
    html.push_str("</div>");
    html.push_str(&holdouts(rows, axes, &boot));
    html
}

fn target_row(curve: &ComputeCurve, y: f64) -> String {
    let target = curve.target(y, &Prices::default());
    let range = |bounds: [Option<f64>; 2]| match curve.has_intervals() {
        true => {
            let show = |b: Option<f64>| b.map_or("unbounded".to_string(), number);
            format!(" [{}, {}]", show(bounds[0]), show(bounds[1]))
        }
        false => String::new(),
    };
    let share = match curve.has_intervals() {
        true => format!("{:.0}%", 100.0 * target.reachable_share),
        false => "too few runs".to_string(),
    };
    let (flops, hours) = match (target.train_flops, target.hours) {
        (Some(flops), Some(hours)) => (
            format!("{}{}", number(flops), range(target.train_flops_ci)),
            format!("{}{}", number(hours), range(target.hours_ci)),
        ),
        _ => ("unreachable at any compute".to_string(), "—".to_string()),
    };
    format!(
        "<tr><td>{}</td><td>{} {}-shot</td><td>{:.3}</td><td>{}</td><td>{flops}</td><td>{hours}</td><td>{share}</td></tr>",
        escape(&curve.family),
        escape(&curve.task),
        curve.shots,
        y,
        target
            .upstream_error
            .map_or("below e_IR".to_string(), |e| format!("{e:.3}")),
    )
}

/// Downstream error against training compute: the runs, the chain (solid over the runs,
/// dashed beyond), and its band.
fn plot(curve: &ComputeCurve) -> String {
    let (low, high) = curve
        .runs
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(a, b), r| {
            (a.min(r.0), b.max(r.0))
        });
    let far = high * EXTRAPOLATE;
    let along = |from: f64, to: f64| -> Vec<f64> {
        (0..=30)
            .map(|i| from * (to / from).powf(i as f64 / 30.0))
            .collect()
    };
    let curve_points = |xs: Vec<f64>| -> Vec<(f64, f64)> {
        xs.into_iter()
            .map(|c| (c, curve.predict(c)))
            .filter(|p| p.1.is_finite() && p.1 > 0.0)
            .collect()
    };
    let mut series = vec![
        Series::points(curve.family.clone(), curve.runs.clone()),
        Series::points("fit", curve_points(along(low, high))).with_kind(Kind::Curve),
        Series::points("extrapolation", curve_points(along(high, far))).with_kind(Kind::Dashed),
    ];
    if curve.has_intervals() {
        let xs = along(low, far);
        let bands: Vec<_> = xs.iter().map(|&c| (c, curve.band(c))).collect();
        let mut edge: Vec<(f64, f64)> = bands.iter().map(|(c, b)| (*c, b.high)).collect();
        edge.extend(bands.iter().rev().map(|(c, b)| (*c, b.low)));
        edge.retain(|p| p.1.is_finite() && p.1 > 0.0);
        series.insert(0, Series::points("95% band", edge).with_kind(Kind::Band));
    }
    scatter(
        &format!("{}: error against compute", curve.label()),
        "training FLOPs",
        "downstream error",
        &series,
        Axis::Log,
        Axis::Log,
    )
}

/// Each family's size law fitted without its largest runs, and how it foresees them.
fn holdouts(rows: &[ResultRow], axes: &[AxisMeaning], boot: &BootstrapOptions) -> String {
    let query = Query {
        x: XAxis::TrainFlops,
        holdout: Some(HOLDOUT_K),
        boot: *boot,
        ..Query::default()
    };
    let Ok(all) = series_from_rows(rows, &query, axes) else {
        return String::new();
    };
    let sizes = |points: &[(f64, f64)]| {
        let mut xs: Vec<f64> = points.iter().map(|p| p.0).collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        xs.len()
    };
    let fits: Vec<_> = all
        .into_par_iter()
        .filter(|s| sizes(&s.points) >= HOLDOUT_MIN_SIZES)
        .filter_map(|s| fit_series(vec![s], &query).ok()?.pop())
        .collect();
    if fits.is_empty() {
        return format!(
            "<p>No family has {HOLDOUT_MIN_SIZES} or more sizes, so no size law is checked on \
             runs it was not fitted to.</p>"
        );
    }
    let mut html = format!(
        "<h3>Do the size laws foresee the largest runs?</h3><p>Each family's size law (upstream \
         error against training FLOPs) fitted without its {HOLDOUT_K} largest runs.</p><table>\
         <tr><th>family</th><th>sizes</th><th>rms log error on the held-out runs</th><th>inside \
         the 95% band</th><th>floor</th></tr>"
    );
    for fit in fits {
        let Some(check) = &fit.holdout else { continue };
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{:.3}</td><td>{} of {}</td><td>{}</td></tr>",
            escape(&fit.series.label()),
            fit.series.points.len(),
            check.rmse_log,
            check.inside_interval,
            check.k,
            match fit.floor.identified {
                true => "identified",
                false => "not identified",
            }
        ));
    }
    html.push_str("</table>");
    html
}
