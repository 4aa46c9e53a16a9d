//! What the report's per-condition and distillation sections share: accuracy against
//! parameters, one size law per curve, upstream and per downstream task.

use rayon::prelude::*;

use crate::axes::AxisMeaning;
use crate::fit::study::{Query, Series, SeriesFit, XAxis, fit_series, series_from_rows};
use crate::fit::{BootstrapOptions, PointSet};
use crate::results::ResultRow;

/// Resamples for these fits: their curves and point answers are shown, not their intervals.
pub(super) const RESAMPLES: usize = 50;

/// What a curve measures: upstream error, or a downstream task at a shot count.
pub(super) type Target = Option<(String, usize)>;

/// Upstream first, then each task at its shots.
pub(super) fn targets(tasks: &[(String, usize)]) -> impl Iterator<Item = Target> + '_ {
    std::iter::once(None).chain(tasks.iter().map(|(t, s)| Some((t.clone(), *s))))
}

/// "upstream" or "digits 25-shot".
pub(super) fn target_name(target: &Target) -> String {
    match target {
        None => "upstream".to_string(),
        Some((task, shots)) => format!("{task} {shots}-shot"),
    }
}

/// The size law of every curve (family × conditions) of `target` that `keep` accepts, fitted to
/// all its runs.
pub(super) fn size_fits(
    rows: &[ResultRow],
    axes: &[AxisMeaning],
    target: &Target,
    keep: impl Fn(&Series) -> bool + Sync,
) -> Vec<SeriesFit> {
    let query = Query {
        x: XAxis::Params,
        task: target.as_ref().map(|t| t.0.clone()),
        shots: target.as_ref().map(|t| t.1),
        point_set: PointSet::All,
        boot: BootstrapOptions {
            resamples: RESAMPLES,
            ..BootstrapOptions::default()
        },
        ..Query::default()
    };
    let Ok(all) = series_from_rows(rows, &query, axes) else {
        return Vec::new();
    };
    all.into_par_iter()
        .filter(|s| keep(s))
        .filter_map(|s| fit_series(vec![s], &query).ok()?.pop())
        .collect()
}

/// A curve's runs as accuracy against parameters, and its law drawn over their range.
pub(super) fn accuracy_and_law(fit: &SeriesFit) -> (Vec<(f64, f64)>, Vec<(f64, f64)>) {
    let accuracy: Vec<(f64, f64)> = fit
        .series
        .points
        .iter()
        .map(|&(x, e)| (x, 1.0 - e))
        .collect();
    let (low, high) = accuracy.iter().fold((f64::INFINITY, 0.0f64), |(a, b), p| {
        (a.min(p.0), b.max(p.0))
    });
    let law = (0..=30)
        .map(|i| low * (high / low).powf(i as f64 / 30.0))
        .map(|x| (x, 1.0 - fit.fit.law.predict(x)))
        .filter(|p| p.1.is_finite())
        .collect();
    (accuracy, law)
}

/// A curve's name in legends and tables: its family, `shown` (what the section's own `axis`
/// says of it), then its other conditions as `k=v` ("mixer el2n keep=0.5 label_noise=0.0").
pub(super) fn curve_name(series: &Series, axis: &str, shown: &str) -> String {
    let mut parts = vec![series.family.clone().unwrap_or_default(), shown.to_string()];
    parts.extend(
        series
            .condition
            .iter()
            .filter(|(k, _)| k != axis)
            .map(|(k, v)| format!("{k}={v}")),
    );
    parts.retain(|part| !part.is_empty());
    parts.join(" ")
}
