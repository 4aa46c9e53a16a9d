//! What a fitted curve answers: the error it predicts at an x, the x at which it reaches a
//! target error (or that no x does), how well it foresaw points it was not fitted to, and
//! whether the data pin its floor down at all.

use serde::Serialize;

use super::{CurveFit, Interval, LawOptions, fit_law};

/// The fitted y at `x`, with the band of the resampled curves there.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Prediction {
    pub x: f64,
    pub y: f64,
    pub y_ci: [f64; 2],
}

/// Where the curve reaches `y`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Target {
    pub y: f64,
    /// `None` when `y` is at or below the fitted floor: no x reaches it.
    pub x: Option<f64>,
    /// Over all resamples, counting one that never reaches `y` as needing an unbounded x (or,
    /// for the saturation law, an upstream error of 0): a bound may be infinite (`null`).
    pub x_ci: [Option<f64>; 2],
    /// Share of the resamples in which some x reaches `y`.
    pub reachable_share: f64,
    pub floor: f64,
    pub floor_ci: [f64; 2],
}

/// How the curve foresaw the points held out of its fit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Holdout {
    pub k: usize,
    /// Root mean square of `log y − log ŷ` over the held-out points.
    pub rmse_log: f64,
    /// How many held-out points lie inside the curve's bootstrap band at their x.
    pub inside_interval: usize,
    /// `[x, y, predicted y]` of each held-out point.
    pub points: Vec<[f64; 3]>,
}

/// Whether the data distinguish the fitted floor from no floor, and why not.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FloorVerdict {
    pub identified: bool,
    /// What the data cannot tell, and what would help (empty when identified).
    pub note: String,
}

fn pair(interval: Interval) -> [f64; 2] {
    [interval.low, interval.high]
}

pub fn predict(fit: &CurveFit, x: f64) -> Prediction {
    Prediction {
        x,
        y: fit.law.predict(x),
        y_ci: pair(fit.band(x)),
    }
}

pub fn target(fit: &CurveFit, y: f64) -> Target {
    let falls = fit.form().falls();
    let unreachable = match falls {
        true => f64::INFINITY,
        false => 0.0,
    };
    let needed: Vec<Option<f64>> = fit.draws.iter().map(|law| law.x_for(y)).collect();
    let reachable = needed.iter().flatten().count();
    let x_ci = match fit.has_intervals() {
        true => Interval::bounds(
            needed.iter().map(|x| x.unwrap_or(unreachable)).collect(),
            fit.level,
        ),
        false => [None, None],
    };
    Target {
        y,
        x: fit.law.x_for(y),
        x_ci,
        reachable_share: match fit.draws.is_empty() {
            true => f64::NAN,
            false => reachable as f64 / fit.draws.len() as f64,
        },
        floor: fit.law.floor(),
        floor_ci: pair(fit.floor_interval()),
    }
}

/// Checks the curve against `held` (x, y) points it was not fitted to.
pub fn holdout_check(fit: &CurveFit, held: &[(f64, f64)]) -> Holdout {
    let points: Vec<[f64; 3]> = held
        .iter()
        .map(|&(x, y)| [x, y, fit.law.predict(x)])
        .collect();
    let squares: f64 = points.iter().map(|p| (p[1].ln() - p[2].ln()).powi(2)).sum();
    Holdout {
        k: held.len(),
        rmse_log: (squares / held.len().max(1) as f64).sqrt(),
        inside_interval: held
            .iter()
            .filter(|&&(x, y)| fit.band(x).contains(y))
            .count(),
        points,
    }
}

/// What would help when the floor is not identified.
const MORE_DATA: &str = "larger models or longer training would tell: the largest runs have not \
                         bent the curve towards a floor";

/// Compares the fit to `used` (the points it was fitted to) with the same law with its floor
/// fixed at 0, by Akaike's criterion on the log residuals, and looks at the floor's interval.
pub fn floor_verdict(fit: &CurveFit, used: &[(f64, f64)]) -> FloorVerdict {
    let parameters = fit.form().parameter_names().len();
    let n = used.len();
    let no = |note: String| FloorVerdict {
        identified: false,
        note,
    };
    if n < parameters + 2 {
        return no(format!(
            "{n} points for {parameters} parameters cannot tell a floor from none; {MORE_DATA}"
        ));
    }
    let zero = LawOptions {
        zero_floor: true,
        ..LawOptions::default()
    };
    let Ok(without) = fit_law(used, fit.form(), zero) else {
        return no(format!(
            "the curve without a floor could not be fitted; {MORE_DATA}"
        ));
    };
    let squares = |rms: f64| (n as f64 * rms * rms).max(n as f64 * 1e-14);
    // AIC = n·ln(RSS/n) + 2·parameters; the floor costs one parameter.
    let gain =
        n as f64 * (squares(without.rms_log_residual) / squares(fit.rms_log_residual)).ln() - 2.0;
    if gain <= 2.0 {
        return no(format!(
            "a curve with no floor fits as well (AIC {gain:+.1} for the floor); {MORE_DATA}"
        ));
    }
    let floor = fit.floor_interval();
    let (low, high) = used.iter().fold((f64::INFINITY, 0.0f64), |(a, b), p| {
        (a.min(p.1), b.max(p.1))
    });
    if floor.high - floor.low > 0.5 * (high - low) {
        return no(format!(
            "the floor's interval [{:.3}, {:.3}] spans most of the observed errors \
             ({low:.3} to {high:.3}); {MORE_DATA}",
            floor.low, floor.high
        ));
    }
    FloorVerdict {
        identified: true,
        note: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{BootstrapOptions, LawForm, PointSet, PowerLaw, fit_curve};
    use super::super::{Exponent, Law};
    use super::*;

    /// `law` at x log-spread over `range`, with ±`noise` alternating relative noise.
    fn points(law: &Law, range: (f64, f64), n: usize, noise: f64) -> Vec<(f64, f64)> {
        (0..n)
            .map(|i| {
                let x = range.0 * (range.1 / range.0).powf(i as f64 / (n - 1) as f64);
                let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
                (x, law.predict(x) * (1.0 + sign * noise))
            })
            .collect()
    }

    fn boot() -> BootstrapOptions {
        BootstrapOptions {
            resamples: 200,
            level: 0.95,
            seed: 3,
        }
    }

    fn size_law(c: f64) -> Law {
        Law::Power(PowerLaw {
            k: 4.0,
            exponent: 0.35,
            sign: Exponent::Negative,
            c,
        })
    }

    #[test]
    fn predictions_and_targets_match_the_law_and_a_target_below_the_floor_is_unreachable() {
        let truth = size_law(0.08);
        let data = points(&truth, (1e4, 1e8), 16, 0.01);
        let fit = fit_curve(&data, PointSet::All, LawForm::Size, &boot()).unwrap();
        let at = predict(&fit, 3e6);
        assert!((at.y / truth.predict(3e6) - 1.0).abs() < 0.02, "{at:?}");
        assert!(at.y_ci[0] <= at.y && at.y <= at.y_ci[1], "{at:?}");

        let goal = truth.predict(2e7);
        let reached = target(&fit, goal);
        let x = reached.x.unwrap();
        assert!((x / 2e7).ln().abs() < 0.3, "{reached:?}");
        assert!(reached.reachable_share > 0.9, "{reached:?}");

        let below = target(&fit, 0.5 * 0.08);
        assert_eq!(below.x, None);
        assert!(below.reachable_share < 0.05, "{below:?}");
        assert_eq!(
            below.x_ci[1], None,
            "an unreachable target has no finite upper bound"
        );
        assert!((below.floor - 0.08).abs() < 0.01, "{below:?}");
    }

    #[test]
    fn a_held_out_tail_is_foreseen_by_the_right_law() {
        let truth = size_law(0.1);
        let data = points(&truth, (1e4, 1e9), 14, 0.01);
        let (train, held) = data.split_at(11);
        let fit = fit_curve(train, PointSet::All, LawForm::Size, &boot()).unwrap();
        let check = holdout_check(&fit, held);
        assert_eq!(check.k, 3);
        assert!(check.rmse_log < 0.05, "{check:?}");
        assert!(check.inside_interval >= 2, "{check:?}");
        // A curve that is far off is told so.
        let wrong = fit_curve(
            &points(&size_law(0.3), (1e4, 1e7), 11, 0.01),
            PointSet::All,
            LawForm::Size,
            &boot(),
        )
        .unwrap();
        let check = holdout_check(&wrong, held);
        assert!(
            check.rmse_log > 0.3 && check.inside_interval == 0,
            "{check:?}"
        );
    }

    #[test]
    fn a_pure_power_law_has_no_identified_floor_and_a_bent_one_has() {
        let pure = points(&size_law(0.0), (1e4, 1e8), 12, 0.01);
        let fit = fit_curve(&pure, PointSet::All, LawForm::Size, &boot()).unwrap();
        let verdict = floor_verdict(&fit, &pure);
        assert!(!verdict.identified, "{verdict:?}");
        assert!(verdict.note.contains("larger models"), "{verdict:?}");

        let bent = points(&size_law(0.15), (1e4, 1e10), 12, 0.01);
        let fit = fit_curve(&bent, PointSet::All, LawForm::Size, &boot()).unwrap();
        let verdict = floor_verdict(&fit, &bent);
        assert!(verdict.identified, "{verdict:?} {:?}", fit.law);
    }

    #[test]
    fn every_point_estimate_lies_inside_its_interval() {
        let data = points(&size_law(0.0), (1e4, 1e6), 7, 0.05);
        let fit = fit_curve(&data, PointSet::All, LawForm::Size, &boot()).unwrap();
        for (value, interval) in fit.law.parameters().iter().zip(&fit.intervals) {
            assert!(interval.contains(*value), "{value} {interval:?}");
        }
    }
}
