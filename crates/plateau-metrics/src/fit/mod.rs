//! Curves through a sweep's results: the saturation law `e_DS = k·e_US^α + e_IR` and size laws
//! `err(N) = a·N^(−b) + c`, fitted to all points, the Pareto frontier or its convex hull, with
//! bootstrap intervals over runs.

mod bootstrap;
mod frontier;
mod power_law;
pub mod study;

pub use bootstrap::{BootstrapOptions, Interval};
pub use frontier::{PointSet, lower_hull, pareto_frontier};
pub use power_law::{Exponent, FitError, FitOptions, Fitted, PowerLaw, fit_power_law};

use serde::Serialize;

/// A curve fitted to a point set, with bootstrap intervals for each of its three parameters.
#[derive(Clone, Debug, Serialize)]
pub struct CurveFit {
    pub fitted: Fitted,
    pub point_set: PointSet,
    /// Indices (into the caller's points) of the points the curve was fitted to.
    pub used: Vec<usize>,
    pub k: Interval,
    pub exponent: Interval,
    pub c: Interval,
    /// Resamples whose fit succeeded (of those asked for).
    pub resamples: usize,
}

/// Starts each bootstrap refit follows to convergence (the point fit follows all): a third of
/// the time, with intervals that differ from following every start only in the last digits.
const REFIT_FOLLOWED_STARTS: usize = 3;

/// Fits a curve to the chosen subset of `points` (x, y), then refits on resampled runs for the
/// intervals: each resample draws the runs with replacement and chooses its subset anew, so
/// the intervals include the uncertainty of which runs form the frontier.
pub fn fit_curve(
    points: &[(f64, f64)],
    point_set: PointSet,
    options: FitOptions,
    boot: &BootstrapOptions,
) -> Result<CurveFit, FitError> {
    let fit_subset = |points: &[(f64, f64)], options: FitOptions| {
        let used = point_set.select(points, options.sign);
        let (x, y): (Vec<f64>, Vec<f64>) = used.iter().map(|&i| points[i]).unzip();
        fit_power_law(&x, &y, options).map(|fitted| (fitted, used))
    };
    let (fitted, used) = fit_subset(points, options)?;
    let refit_options = FitOptions {
        followed_starts: REFIT_FOLLOWED_STARTS,
        ..options
    };
    let draws = bootstrap::resample(points, boot, |sample| {
        fit_subset(sample, refit_options)
            .ok()
            .map(|(fit, _)| [fit.law.k, fit.law.exponent, fit.law.c])
    });
    // Too few successful refits (e.g. 3 runs: most resamples repeat a run and cannot be
    // fitted) leave the intervals unknown (NaN) rather than falsely narrow.
    let enough = draws.len() >= (boot.resamples / 2).max(2);
    let interval = |i: usize| match enough {
        true => Interval::percentile(draws.iter().map(|d| d[i]), boot.level),
        false => Interval::unknown(),
    };
    Ok(CurveFit {
        fitted,
        point_set,
        used,
        k: interval(0),
        exponent: interval(1),
        c: interval(2),
        resamples: draws.len(),
    })
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
        let fit = fit_curve(
            &points,
            PointSet::All,
            FitOptions::new(Exponent::Negative),
            &boot,
        )
        .unwrap();
        assert!(fit.fitted.rms_log_residual < 1e-3, "{:?}", fit.fitted);
        assert!(fit.k.low.is_nan() && fit.exponent.high.is_nan() && fit.c.low.is_nan());
    }
}
