//! Curves through a sweep's results: the saturation law `e_DS = k·e_US^α + e_IR`, size laws
//! `err(N) = a·N^(−b) + c` and the bent law, fitted to all points, the Pareto frontier or its
//! convex hull, with bootstrap intervals over runs; and the answers read off them (predictions,
//! targets, held-out checks, whether the data pin a floor down).

mod answers;
mod bent;
mod bootstrap;
pub mod compute;
mod frontier;
mod law;
mod power_law;
pub mod study;

pub use answers::{
    FloorVerdict, Holdout, Prediction, Target, floor_verdict, holdout_check, predict, target,
};
pub use bent::{BentFitted, BentLaw, BentOptions, fit_bent};
pub use bootstrap::{BootstrapOptions, Interval};
pub use frontier::{PointSet, lower_hull, pareto_frontier};
pub use law::{Law, LawForm};
pub use power_law::{Exponent, FitError, FitOptions, Fitted, PowerLaw, fit_power_law};

/// A law of `form` fitted to all of `points`, and the rms of its log residuals.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LawFitted {
    pub law: Law,
    pub rms_log_residual: f64,
}

/// How a single fit of any form is made.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LawOptions {
    /// Fix the floor at 0.
    pub zero_floor: bool,
    /// Starts its search from this law too.
    pub start: Option<Law>,
    /// Follows fewer starts (bootstrap refits).
    pub quick: bool,
}

/// Fits a law of `form` to the points (x, y).
pub fn fit_law(
    points: &[(f64, f64)],
    form: LawForm,
    options: LawOptions,
) -> Result<LawFitted, FitError> {
    let (x, y): (Vec<f64>, Vec<f64>) = points.iter().copied().unzip();
    match form {
        LawForm::Saturation | LawForm::Size => {
            let sign = match form {
                LawForm::Saturation => Exponent::Positive,
                _ => Exponent::Negative,
            };
            let start = match options.start {
                Some(Law::Power(law)) => Some(law),
                _ => None,
            };
            let power = FitOptions {
                zero_floor: options.zero_floor,
                start,
                followed_starts: match options.quick {
                    true => REFIT_FOLLOWED_STARTS,
                    false => usize::MAX,
                },
                ..FitOptions::new(sign)
            };
            let fitted = fit_power_law(&x, &y, power)?;
            Ok(LawFitted {
                law: Law::Power(fitted.law),
                rms_log_residual: fitted.rms_log_residual,
            })
        }
        LawForm::Bent => {
            let start = match options.start {
                Some(Law::Bent(law)) => Some(law),
                _ => None,
            };
            let bent = BentOptions {
                zero_floor: options.zero_floor,
                start,
            };
            let fitted = fit_bent(&x, &y, bent)?;
            Ok(LawFitted {
                law: Law::Bent(fitted.law),
                rms_log_residual: fitted.rms_log_residual,
            })
        }
    }
}

/// A curve fitted to a point set, with a bootstrap interval for each of its parameters and the
/// resampled curves behind them (for the intervals of predictions and targets).
#[derive(Clone, Debug)]
pub struct CurveFit {
    pub law: Law,
    pub rms_log_residual: f64,
    pub point_set: PointSet,
    /// Indices (into the caller's points) of the points the curve was fitted to.
    pub used: Vec<usize>,
    /// One interval per parameter, in [`LawForm::parameter_names`] order.
    pub intervals: Vec<Interval>,
    /// Whether a parameter's interval was widened to hold its point estimate (which the
    /// resamples, each started from the point fit too, still left outside).
    pub widened: Vec<bool>,
    /// The resampled laws that fitted.
    pub draws: Vec<Law>,
    /// Resamples asked for.
    pub asked: usize,
    pub level: f64,
}

impl CurveFit {
    pub fn form(&self) -> LawForm {
        self.law.form()
    }

    /// The interval of the parameter `name`.
    pub fn interval(&self, name: &str) -> Interval {
        self.form()
            .parameter_names()
            .iter()
            .position(|n| *n == name)
            .map_or_else(Interval::unknown, |i| self.intervals[i])
    }

    /// The value of the parameter `name`.
    pub fn parameter(&self, name: &str) -> f64 {
        let names = self.form().parameter_names();
        names
            .iter()
            .position(|n| *n == name)
            .map_or(f64::NAN, |i| self.law.parameters()[i])
    }

    pub fn floor_interval(&self) -> Interval {
        self.interval(self.form().floor_name())
    }

    /// Whether there were enough successful resamples for intervals.
    pub fn has_intervals(&self) -> bool {
        self.draws.len() >= (self.asked / 2).max(2)
    }

    /// The band of the resampled curves at `x`: the interval of a prediction there.
    pub fn band(&self, x: f64) -> Interval {
        match self.has_intervals() {
            true => Interval::percentile(self.draws.iter().map(|law| law.predict(x)), self.level),
            false => Interval::unknown(),
        }
    }
}

/// Starts each bootstrap refit follows to convergence (the point fit follows all): a third of
/// the time, with intervals that differ from following every start only in the last digits.
const REFIT_FOLLOWED_STARTS: usize = 3;

/// Fits a curve to the chosen subset of `points` (x, y), then refits on resampled runs for the
/// intervals: each resample draws the runs with replacement and chooses its subset anew, so
/// the intervals include the uncertainty of which runs form the frontier. Each refit starts
/// from the point fit as well as from the usual grid.
pub fn fit_curve(
    points: &[(f64, f64)],
    point_set: PointSet,
    form: LawForm,
    boot: &BootstrapOptions,
) -> Result<CurveFit, FitError> {
    let sign = match form.falls() {
        true => Exponent::Negative,
        false => Exponent::Positive,
    };
    let fit_subset = |points: &[(f64, f64)], options: LawOptions| {
        let used = point_set.select(points, sign);
        let chosen: Vec<(f64, f64)> = used.iter().map(|&i| points[i]).collect();
        fit_law(&chosen, form, options).map(|fitted| (fitted, used))
    };
    let (fitted, used) = fit_subset(points, LawOptions::default())?;
    let refit = LawOptions {
        start: Some(fitted.law),
        quick: true,
        ..LawOptions::default()
    };
    let draws = bootstrap::resample(points, boot, |sample| {
        fit_subset(sample, refit).ok().map(|(fit, _)| fit.law)
    });
    let mut fit = CurveFit {
        law: fitted.law,
        rms_log_residual: fitted.rms_log_residual,
        point_set,
        used,
        intervals: Vec::new(),
        widened: Vec::new(),
        draws,
        asked: boot.resamples,
        level: boot.level,
    };
    // Too few successful refits (e.g. 3 runs: most resamples repeat a run and cannot be
    // fitted) leave the intervals unknown (NaN) rather than falsely narrow.
    let enough = fit.has_intervals();
    for (i, value) in fit.law.parameters().into_iter().enumerate() {
        let mut interval = match enough {
            true => Interval::percentile(fit.draws.iter().map(|d| d.parameters()[i]), boot.level),
            false => Interval::unknown(),
        };
        let outside = enough && !interval.contains(value);
        if outside {
            interval.low = interval.low.min(value);
            interval.high = interval.high.max(value);
        }
        fit.intervals.push(interval);
        fit.widened.push(outside);
    }
    Ok(fit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_runs_fit_but_give_no_interval() {
        // Three parameters through three points: the fit is exact, and almost every resample
        // repeats a run, so there is nothing to estimate an interval from.
        let points = [(1e4, 0.5), (1e5, 0.3), (1e6, 0.22)];
        let boot = BootstrapOptions::default();
        let fit = fit_curve(&points, PointSet::All, LawForm::Size, &boot).unwrap();
        assert!(fit.rms_log_residual < 1e-3, "{:?}", fit.law);
        assert!(
            fit.intervals
                .iter()
                .all(|i| i.low.is_nan() && i.high.is_nan())
        );
        assert!(fit.band(1e5).low.is_nan());
    }
}
