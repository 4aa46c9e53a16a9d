//! What training compute reaches a downstream error: the saturation law `e_DS(e_US)` of a task
//! and shot count chained with a family's size law `e_US(training FLOPs)`, with intervals from
//! pairing the two fits' resamples; converted to device-hours at the training throughput the
//! sweep itself measured for the family, and to cost and energy when their prices are given.
//!
//! The chain's floor is the saturation law at the size law's floor: what this family reaches at
//! any compute, which lies at or above the task's `e_IR`.

use serde::Serialize;

use super::study::{Query, Series, StudyError, XAxis, number, series_from_rows};
use super::{
    BootstrapOptions, CurveFit, FloorVerdict, Interval, LawForm, PointSet, fit_curve, floor_verdict,
};
use crate::axes::AxisMeaning;
use crate::results::{ResultRow, RunStatus};

/// What an hour of the device costs, and what it draws (each optional).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Prices {
    pub usd_per_hour: Option<f64>,
    pub watts: Option<f64>,
    pub kg_co2_per_kwh: Option<f64>,
}

/// Downstream error against training compute for one family, task and shot count.
#[derive(Clone, Debug)]
pub struct ComputeCurve {
    pub task: String,
    pub shots: usize,
    pub family: String,
    /// The condition axes both fits hold (`label_noise=0.2`).
    pub condition: Vec<(String, String)>,
    pub saturation: CurveFit,
    pub size: CurveFit,
    /// Whether the size law's runs pin its floor (and so the chain's) down.
    pub size_floor: FloorVerdict,
    /// Training FLOPs per second the family's runs achieved on the sweep's device.
    pub flops_per_second: f64,
    /// The family's runs: (training FLOPs, downstream error).
    pub runs: Vec<(f64, f64)>,
}

/// The compute (and time, cost, energy) to reach a downstream error.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ComputeTarget {
    pub y: f64,
    /// The upstream error the saturation law needs for `y` (`None`: `y` is at or below e_IR).
    pub upstream_error: Option<f64>,
    /// Training FLOPs (`None`: unreachable for this family at any compute).
    pub train_flops: Option<f64>,
    /// Unreachable resamples count as needing unbounded compute: a bound may be `null`.
    pub train_flops_ci: [Option<f64>; 2],
    pub reachable_share: f64,
    pub hours: Option<f64>,
    pub hours_ci: [Option<f64>; 2],
    pub usd: Option<f64>,
    pub kwh: Option<f64>,
    pub kg_co2: Option<f64>,
}

impl ComputeCurve {
    pub fn label(&self) -> String {
        let mut parts = vec![self.family.clone()];
        parts.extend(self.condition.iter().map(|(k, v)| format!("{k}={v}")));
        parts.push(format!("{} {}-shot", self.task, self.shots));
        parts.join(" ")
    }

    /// Downstream error at `train_flops`.
    pub fn predict(&self, train_flops: f64) -> f64 {
        self.saturation
            .law
            .predict(self.size.law.predict(train_flops))
    }

    /// What the family reaches at any compute.
    pub fn floor(&self) -> f64 {
        self.saturation.law.predict(self.size.law.floor())
    }

    /// The resampled chains: the i-th resample of one fit with the i-th of the other.
    fn paired(&self) -> impl Iterator<Item = (&super::Law, &super::Law)> {
        self.saturation.draws.iter().zip(&self.size.draws)
    }

    pub fn has_intervals(&self) -> bool {
        self.saturation.has_intervals() && self.size.has_intervals()
    }

    /// The band of the resampled chains at `train_flops`.
    pub fn band(&self, train_flops: f64) -> Interval {
        match self.has_intervals() {
            true => Interval::percentile(
                self.paired()
                    .map(|(sat, size)| sat.predict(size.predict(train_flops))),
                self.saturation.level,
            ),
            false => Interval::unknown(),
        }
    }

    pub fn target(&self, y: f64, prices: &Prices) -> ComputeTarget {
        let chain = |sat: &super::Law, size: &super::Law| size.x_for(sat.x_for(y)?);
        let train_flops = chain(&self.saturation.law, &self.size.law);
        let needed: Vec<f64> = self
            .paired()
            .map(|(sat, size)| chain(sat, size).unwrap_or(f64::INFINITY))
            .collect();
        let reachable = needed.iter().filter(|v| v.is_finite()).count();
        let train_flops_ci = match self.has_intervals() {
            true => Interval::bounds(needed.clone(), self.saturation.level),
            false => [None, None],
        };
        let hours_of = |flops: f64| flops / self.flops_per_second / 3600.0;
        let hours = train_flops.map(hours_of);
        let kwh = hours.zip(prices.watts).map(|(h, w)| h * w / 1000.0);
        ComputeTarget {
            y,
            upstream_error: self.saturation.law.x_for(y),
            train_flops,
            train_flops_ci,
            reachable_share: match needed.is_empty() {
                true => f64::NAN,
                false => reachable as f64 / needed.len() as f64,
            },
            hours,
            hours_ci: train_flops_ci.map(|b| b.map(hours_of)),
            usd: hours.zip(prices.usd_per_hour).map(|(h, p)| h * p),
            kwh,
            kg_co2: kwh.zip(prices.kg_co2_per_kwh).map(|(e, k)| e * k),
        }
    }
}

/// JSON for `plateau fit --compute`: per curve, its throughput, floor and targets.
pub fn compute_json(
    curves: &[ComputeCurve],
    targets: &[f64],
    prices: &Prices,
) -> serde_json::Value {
    let all: Vec<serde_json::Value> = curves
        .iter()
        .map(|curve| {
            serde_json::json!({
                "task": curve.task,
                "shots": curve.shots,
                "family": curve.family,
                "condition": curve.condition.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
                "flops_per_second": curve.flops_per_second,
                "floor": curve.floor(),
                "floor_identified": curve.size_floor.identified,
                "e_ir": curve.saturation.law.floor(),
                "targets": targets.iter().map(|&y| curve.target(y, prices)).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({ "prices": prices, "compute": all })
}

/// The table `plateau fit --compute` prints.
pub fn compute_table(curves: &[ComputeCurve], targets: &[f64], prices: &Prices) -> String {
    let mut out = String::new();
    let Some(first) = curves.first() else {
        return out;
    };
    out.push_str(&format!(
        "training compute to reach a downstream error on {} {}-shot: the saturation law \
         chained with each family's size law (upstream error against training FLOPs); {:.0}% \
         intervals over paired resamples\n",
        first.task,
        first.shots,
        first.saturation.level * 100.0
    ));
    for curve in curves {
        let range = |bounds: [Option<f64>; 2]| match curve.has_intervals() {
            true => format!(
                "[{}, {}]",
                bounds[0].map_or("unbounded".to_string(), number),
                bounds[1].map_or("unbounded".to_string(), number)
            ),
            false => "[n/a]".to_string(),
        };
        out.push_str(&format!(
            "\n{}: {} training FLOP/s measured; reaches {:.4} at any compute (e_IR {:.4})\n",
            curve.label(),
            number(curve.flops_per_second),
            curve.floor(),
            curve.saturation.law.floor()
        ));
        if !curve.size_floor.identified {
            out.push_str(&format!(
                "  note: the size law's floor is not identified ({}), so neither is what this \
                 family reaches at any compute\n",
                curve.size_floor.note
            ));
        }
        for &y in targets {
            let t = curve.target(y, prices);
            let Some(flops) = t.train_flops else {
                out.push_str(&format!(
                    "  y = {y:.4}: unreachable for this family at any compute (its floor {:.4})",
                    curve.floor(),
                ));
                out.push_str(&match curve.has_intervals() {
                    true => format!(
                        "; reachable in {:.0}% of resamples\n",
                        100.0 * t.reachable_share
                    ),
                    false => "\n".to_string(),
                });
                continue;
            };
            let mut line = format!(
                "  y = {y:.4}: upstream error {}, {} FLOPs {}, {} h {}",
                number(t.upstream_error.unwrap_or(f64::NAN)),
                number(flops),
                range(t.train_flops_ci),
                number(t.hours.unwrap_or(f64::NAN)),
                range(t.hours_ci),
            );
            if let Some(usd) = t.usd {
                line.push_str(&format!(", ${}", number(usd)));
            }
            if let Some(kwh) = t.kwh {
                line.push_str(&format!(", {} kWh", number(kwh)));
            }
            if let Some(co2) = t.kg_co2 {
                line.push_str(&format!(", {} kg CO2", number(co2)));
            }
            line.push_str(&match curve.has_intervals() {
                true => format!(
                    "; reachable in {:.0}% of resamples\n",
                    100.0 * t.reachable_share
                ),
                false => "; too few runs for intervals\n".to_string(),
            });
            out.push_str(&line);
        }
    }
    out
}

/// Training FLOPs per second over the finished runs of `family`.
fn throughput(rows: &[ResultRow], family: &str) -> f64 {
    let (flops, seconds) = rows
        .iter()
        .filter(|r| r.family == family && r.status == RunStatus::Ok && r.train_seconds > 0.0)
        .fold((0.0, 0.0), |(f, s), r| {
            (f + r.train_flops, s + r.train_seconds)
        });
    flops / seconds
}

/// A fitted saturation law of one condition (`[]` when the sweep has no condition axis).
pub type SaturationFit = (Vec<(String, String)>, CurveFit);

/// One compute curve per family (and condition) for `task` at `shots`; a family whose size law
/// cannot be fitted is left out, and no saturation fit is an error.
pub fn compute_curves(
    rows: &[ResultRow],
    axes: &[AxisMeaning],
    task: &str,
    shots: usize,
    boot: &BootstrapOptions,
) -> Result<Vec<ComputeCurve>, StudyError> {
    let saturation_query = Query {
        x: XAxis::UpstreamError,
        task: Some(task.to_string()),
        shots: Some(shots),
        boot: *boot,
        ..Query::default()
    };
    let mut saturations = Vec::new();
    let mut first_error = None;
    for series in series_from_rows(rows, &saturation_query, axes)? {
        match fit_frontier(&series, LawForm::Saturation, boot) {
            Ok(fit) => saturations.push((series.condition, fit)),
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    match (saturations.is_empty(), first_error) {
        (true, Some(error)) => Err(error),
        _ => chain_families(rows, axes, task, shots, &saturations, boot),
    }
}

/// The frontier fit of one series, its error naming the series.
fn fit_frontier(
    series: &Series,
    form: LawForm,
    boot: &BootstrapOptions,
) -> Result<CurveFit, StudyError> {
    fit_curve(&series.points, PointSet::Frontier, form, boot).map_err(|cause| StudyError::Fit {
        series: series.label(),
        cause,
    })
}

/// Chains saturation laws already fitted (the report has them) with each family's size law.
pub fn chain_families(
    rows: &[ResultRow],
    axes: &[AxisMeaning],
    task: &str,
    shots: usize,
    saturations: &[SaturationFit],
    boot: &BootstrapOptions,
) -> Result<Vec<ComputeCurve>, StudyError> {
    let size_query = Query {
        x: XAxis::TrainFlops,
        boot: *boot,
        ..Query::default()
    };
    let mut curves = Vec::new();
    let mut first_error = None;
    for size_series in series_from_rows(rows, &size_query, axes)? {
        let Some(family) = size_series.family.clone() else {
            continue;
        };
        let Some((_, saturation)) = saturations
            .iter()
            .find(|(condition, _)| *condition == size_series.condition)
        else {
            continue;
        };
        let size = match fit_frontier(&size_series, LawForm::Size, boot) {
            Ok(size) => size,
            Err(error) => {
                first_error.get_or_insert(error);
                continue;
            }
        };
        let runs = rows
            .iter()
            .filter(|r| r.family == family && r.status == RunStatus::Ok)
            .filter_map(|r| {
                let d = r
                    .downstream
                    .iter()
                    .find(|d| d.task == task && d.shots == shots && d.layer == "pre_logits")?;
                Some((r.train_flops, 1.0 - d.accuracy_mean))
            })
            .collect();
        let used: Vec<(f64, f64)> = size.used.iter().map(|&i| size_series.points[i]).collect();
        curves.push(ComputeCurve {
            size_floor: floor_verdict(&size, &used),
            task: task.to_string(),
            shots,
            flops_per_second: throughput(rows, &family),
            family,
            condition: size_series.condition.clone(),
            saturation: saturation.clone(),
            size,
            runs,
        });
    }
    match (curves.is_empty(), first_error) {
        (true, Some(error)) => Err(error),
        _ => Ok(curves),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::axes::testing::AXES;
    use crate::results::{DownstreamResult, UpstreamResult};

    /// A family whose upstream error follows `2·C^(−0.3) + 0.05` in training FLOPs C, and
    /// whose downstream error follows `0.8·e_US^1.2 + 0.2`; 1e12 FLOPs take a second.
    fn rows() -> Vec<ResultRow> {
        (0..8)
            .map(|i| {
                let flops = 1e9 * 4f64.powi(i);
                let up = 2.0 * (flops / 1e9).powf(-0.3) + 0.05;
                let down = 0.8 * up.powf(1.2) + 0.2;
                ResultRow {
                    run_id: format!("r{i}"),
                    family: "vit".into(),
                    preset: None,
                    config: [("width".to_string(), serde_json::json!(8 << i))].into(),
                    model: serde_json::Value::Null,
                    params: 1000 << i,
                    flops_per_image: 1,
                    train_flops: flops,
                    backend: "flex".into(),
                    status: RunStatus::Ok,
                    error: None,
                    upstream: Some(UpstreamResult {
                        test_accuracy: 1.0 - up,
                        val_accuracy: 1.0 - up,
                        test_loss: 0.0,
                    }),
                    downstream: vec![DownstreamResult {
                        task: "digits".into(),
                        shots: 10,
                        layer: "pre_logits".into(),
                        relative_depth: 1.0,
                        accuracy_mean: 1.0 - down,
                        accuracy_std: 0.0,
                        seeds: 1,
                    }],
                    train_seconds: flops / 1e12,
                    images_per_second: 1.0,
                    epochs: 1,
                    steps: 1,
                    training_data: None,
                    distillation: None,
                }
            })
            .collect()
    }

    #[test]
    fn the_chain_inverts_both_laws_and_prices_the_hours() {
        let boot = BootstrapOptions {
            resamples: 100,
            ..BootstrapOptions::default()
        };
        let curves = compute_curves(&rows(), &AXES, "digits", 10, &boot).unwrap();
        assert_eq!(curves.len(), 1);
        let curve = &curves[0];
        assert!((curve.flops_per_second / 1e12 - 1.0).abs() < 1e-9);
        // The analytic answer: e_US from the saturation law, then C from the size law.
        let y = 0.3;
        let up = ((y - 0.2) / 0.8f64).powf(1.0 / 1.2);
        let flops = 1e9 * ((up - 0.05) / 2.0).powf(-1.0 / 0.3);
        let prices = Prices {
            usd_per_hour: Some(2.0),
            watts: Some(500.0),
            kg_co2_per_kwh: Some(0.4),
        };
        let target = curve.target(y, &prices);
        let found = target.train_flops.unwrap();
        assert!((found / flops).ln().abs() < 0.05, "{found} for {flops}");
        let hours = target.hours.unwrap();
        assert!((hours - found / 1e12 / 3600.0).abs() < 1e-9 * hours);
        assert!((target.usd.unwrap() - 2.0 * hours).abs() < 1e-9 * hours);
        assert!((target.kg_co2.unwrap() - 0.4 * 0.5 * hours).abs() < 1e-9 * hours);
        assert!(target.reachable_share > 0.9);
        assert!((curve.predict(flops) - y).abs() < 0.005);
        // Below what the family reaches at any compute: unreachable.
        let floor = curve.floor();
        assert!(
            (floor - (0.8 * 0.05f64.powf(1.2) + 0.2)).abs() < 0.005,
            "{floor}"
        );
        let below = curve.target(floor - 0.005, &prices);
        assert_eq!(below.train_flops, None);
        assert_eq!(below.usd, None);
    }
}
