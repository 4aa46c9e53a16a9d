//! The report's section per condition axis (label noise, …): upstream and downstream accuracy
//! against parameters, one curve per family and value, each with its size law, and what the
//! condition costs in size: how many parameters each value needs to match the best run of the
//! reference curve: the unpruned one (`none`) where there is one, else the first value (the
//! cleanest, when values are noise rates).

use super::escape;
use super::plots::{Axis, Kind, Series, scatter};
use super::size_curves::{
    RESAMPLES, accuracy_and_law, curve_name, size_fits, target_name, targets,
};
use crate::axes::{AxisMeaning, AxisRole};
use crate::fit::study::{SeriesFit, number};
use crate::results::ResultRow;

pub fn per_condition(
    rows: &[ResultRow],
    axes: &[AxisMeaning],
    tasks: &[(String, usize)],
) -> String {
    let mut html = String::new();
    // Distillation has a section of its own (`distill.rs`).
    let conditions = axes
        .iter()
        .filter(|a| a.role == AxisRole::Condition && a.name != "distill");
    for axis in conditions {
        let mut values: Vec<String> = rows
            .iter()
            .filter_map(|r| r.config.get(axis.name).map(|v| v.to_string()))
            .collect();
        values.sort();
        values.dedup();
        if values.len() < 2 {
            continue;
        }
        html.push_str(&format!(
            "<h2>Accuracy against size, per {label}</h2><p>One curve per family and {label}, \
             each with its size law <code>err = a·params^(−b) + c</code> (all runs of the curve; \
             {RESAMPLES} resamples). The table reads off what the {label} costs in size: the \
             parameters each curve needs to match the best run of its family's reference curve (the \
             unpruned one where there is one, else the first value).\
             </p><div class=\"plots\">",
            label = escape(axis.label)
        ));
        let mut tables = String::new();
        for target in targets(tasks) {
            let fits = size_fits(rows, axes, &target, |_| true);
            if fits.is_empty() {
                continue;
            }
            let what = target_name(&target);
            html.push_str(&plot(&fits, axis.name, &what));
            tables.push_str(&cost_table(&fits, axes, axis.name, &what));
        }
        html.push_str("</div>");
        html.push_str(&tables);
    }
    html
}

/// Accuracy against parameters: each curve's runs and its fitted law.
fn plot(fits: &[SeriesFit], axis: &str, what: &str) -> String {
    let mut series = Vec::new();
    for fit in fits {
        let (accuracy, curve) = accuracy_and_law(fit);
        // "mixer 0.4": the axis is in the section's title, so its value goes unnamed.
        let value = fit.series.condition.iter().find(|(k, _)| k == axis);
        let name = curve_name(&fit.series, axis, value.map_or("", |(_, v)| v.as_str()));
        series.push(Series::points(name, accuracy));
        series.push(Series::points("", curve).with_kind(Kind::Curve));
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

/// Per family: the best error of the reference curve, and the parameters each curve's law needs
/// for it.
fn cost_table(fits: &[SeriesFit], axes: &[AxisMeaning], axis: &str, what: &str) -> String {
    // The curve's value of this axis, and of any other condition that splits it.
    let value_of = |fit: &SeriesFit| {
        let condition = &fit.series.condition;
        match condition.as_slice() {
            [(k, v)] if k == axis => v.clone(),
            _ => {
                let pairs: Vec<String> =
                    condition.iter().map(|(k, v)| format!("{k}={v}")).collect();
                pairs.join(" ")
            }
        }
    };
    let mut families: Vec<&str> = fits
        .iter()
        .filter_map(|f| f.series.family.as_deref())
        .collect();
    families.dedup();
    let mut html = format!(
        "<table><tr><th>{what}: family</th><th>{axis}</th><th>best error of the reference</th>\
         <th>parameters needed for it</th><th>largest run</th></tr>"
    );
    for family in families {
        let curves: Vec<&SeriesFit> = fits
            .iter()
            .filter(|f| f.series.family.as_deref() == Some(family))
            .collect();
        // A curve at a condition's reference value (the unpruned one) where there is one,
        // else the first.
        let at_reference = curves.iter().find(|c| {
            c.series.condition.iter().any(|(k, v)| {
                axes.iter()
                    .any(|a| a.name == k && a.reference == Some(v.as_str()))
            })
        });
        let Some(base) = at_reference.or(curves.first()) else {
            continue;
        };
        let best = base
            .series
            .points
            .iter()
            .map(|p| p.1)
            .fold(f64::INFINITY, f64::min);
        for curve in &curves {
            let largest = curve.series.points.iter().map(|p| p.0).fold(0.0, f64::max);
            let needed = curve
                .fit
                .law
                .x_for(best)
                .map_or("unreachable at any size".to_string(), number);
            html.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{best:.3}</td><td>{needed}</td><td>{}</td></tr>",
                escape(family),
                escape(&value_of(curve)),
                number(largest)
            ));
        }
    }
    html.push_str("</table>");
    html
}
