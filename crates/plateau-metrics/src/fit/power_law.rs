//! Fitting `y = k · x^p + c` to positive errors: the saturation law `e_DS = k·e_US^α + e_IR`
//! (p = α > 0) and the size law `err(N) = a·N^(−b) + c` (p = −b < 0) are the same curve with the
//! exponent's sign fixed.
//!
//! The fit minimises a Huber loss of log residuals, `log y − log ŷ`, so every point counts by its
//! relative error and one bad run does not drag the curve. Bounds hold by construction: the
//! optimiser moves `(ln k, logit(|p| / p_max), logit(c / c_max))`, never `(k, p, c)`
//! themselves. Nelder–Mead (argmin) starts from a small grid of exponents and offsets, and the
//! best end point wins, since the loss surface of a power law plus a constant has more than one
//! valley. Each start first runs a few iterations; the most promising are then followed on.

use argmin::core::{CostFunction, Error, Executor, State, TerminationReason, TerminationStatus};
use argmin::solver::neldermead::NelderMead;
use serde::{Deserialize, Serialize};

/// Which way the curve bends: the sign of its exponent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exponent {
    /// `p > 0`: y falls as x falls (downstream error against upstream error).
    Positive,
    /// `p < 0`: y falls as x grows (error against parameters, FLOPs or examples).
    Negative,
}

/// A fitted `y = k · x^p + c`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PowerLaw {
    pub k: f64,
    /// The exponent's magnitude: α of the saturation law, b of the size law.
    pub exponent: f64,
    pub sign: Exponent,
    /// The asymptote: e_IR, or the size law's irreducible error c.
    pub c: f64,
}

impl PowerLaw {
    pub fn p(&self) -> f64 {
        match self.sign {
            Exponent::Positive => self.exponent,
            Exponent::Negative => -self.exponent,
        }
    }

    pub fn predict(&self, x: f64) -> f64 {
        self.k * x.powf(self.p()) + self.c
    }
}

/// How a curve is fitted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FitOptions {
    pub sign: Exponent,
    /// The offset c lies in `[0, c_max)`; 1 for errors.
    pub c_max: f64,
    /// The exponent's magnitude lies in `(0, max_exponent)`: with few runs an unbounded exponent
    /// can run off to α ≈ 100 with k ≈ 10⁸⁰, which fits no better and means nothing.
    pub max_exponent: f64,
    /// Huber threshold on log residuals (0.05 ≈ 5 % relative error); below it the loss is squared.
    pub huber_delta: f64,
    /// Nelder–Mead iterations per start.
    pub max_iters: u64,
    /// How many starts are followed to convergence, the best by cost after a few scouting
    /// iterations (all by default). Bootstrap refits follow fewer: an occasional near-tie
    /// decided otherwise moves a percentile by less than the resampling does.
    pub followed_starts: usize,
    /// Fix the offset at 0 (to ask whether the data need a floor at all).
    pub zero_floor: bool,
    /// A law to start from besides the grid: a bootstrap refit starts from the point fit too,
    /// so a resample like the data ends where the point fit did.
    pub start: Option<PowerLaw>,
}

impl FitOptions {
    pub fn new(sign: Exponent) -> Self {
        Self {
            sign,
            c_max: 1.0,
            max_exponent: 10.0,
            huber_delta: 0.05,
            max_iters: 2000,
            followed_starts: usize::MAX,
            zero_floor: false,
            start: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitError {
    #[error(
        "a fit needs points at {needed} or more different x, with positive, finite x and y; got {found} (widen the point set with --points all, or train more sizes)"
    )]
    TooFewPoints { found: usize, needed: usize },
    #[error("the optimiser failed: {0}")]
    Optimiser(String),
}

/// A fitted curve and how well it fits.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fitted {
    pub law: PowerLaw,
    /// Mean Huber loss of the log residuals at the optimum.
    pub loss: f64,
    /// Root mean square of the log residuals (≈ typical relative error).
    pub rms_log_residual: f64,
}

/// The loss in the optimiser's coordinates, on x scaled by its geometric mean (so that
/// N ≈ 10⁷ and e ≈ 0.1 are equally well conditioned).
struct Problem<'a> {
    /// `ln x` and `ln y`, taken once: the optimiser evaluates the loss some 10⁵ times per fit
    /// with its bootstrap, and `x^p = exp(p · ln x)`.
    ln_x: &'a [f64],
    ln_y: &'a [f64],
    options: FitOptions,
}

fn sigmoid(u: f64) -> f64 {
    1.0 / (1.0 + (-u).exp())
}

fn logit(v: f64) -> f64 {
    (v / (1.0 - v)).ln()
}

fn huber(r: f64, delta: f64) -> f64 {
    match r.abs() <= delta {
        true => 0.5 * r * r,
        false => delta * (r.abs() - 0.5 * delta),
    }
}

impl Problem<'_> {
    fn decode(&self, theta: &[f64]) -> (f64, f64, f64) {
        let magnitude = sigmoid(theta[1]) * self.options.max_exponent;
        let p = match self.options.sign {
            Exponent::Positive => magnitude,
            Exponent::Negative => -magnitude,
        };
        let c = match self.options.zero_floor {
            true => 0.0,
            false => sigmoid(theta[2]) * self.options.c_max,
        };
        (theta[0].exp(), p, c)
    }

    fn log_residuals<'s>(&'s self, theta: &[f64]) -> impl Iterator<Item = f64> + 's {
        let (k, p, c) = self.decode(theta);
        self.ln_x
            .iter()
            .zip(self.ln_y)
            .map(move |(ln_x, ln_y)| ln_y - (k * (p * ln_x).exp() + c).ln())
    }
}

impl CostFunction for Problem<'_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, theta: &Self::Param) -> Result<f64, Error> {
        let total: f64 = self
            .log_residuals(theta)
            .map(|r| huber(r, self.options.huber_delta))
            .sum();
        // Runaway parameters (overflow) are simply bad points for Nelder–Mead.
        Ok(if total.is_finite() {
            total / self.ln_x.len() as f64
        } else {
            f64::MAX
        })
    }
}

/// Iterations every start gets before the starts are ranked.
const SCOUT_ITERS: u64 = 60;

/// Starting points in the optimiser's coordinates: a grid of exponents and offsets, with `k`
/// chosen so that each curve passes the median point.
fn starting_points(scaled_x: &[f64], y: &[f64], options: FitOptions) -> Vec<Vec<f64>> {
    let y_min = y.iter().copied().fold(f64::INFINITY, f64::min);
    let mut starts = Vec::new();
    for exponent in [0.25, 0.5, 1.0, 2.0] {
        for c_fraction in [0.0, 0.5, 0.9] {
            let c = (c_fraction * y_min).clamp(1e-6 * options.c_max, 0.999 * options.c_max);
            let p = match options.sign {
                Exponent::Positive => exponent,
                Exponent::Negative => -exponent,
            };
            // k so the curve passes the median point's height above c.
            let mut ratios: Vec<f64> = scaled_x
                .iter()
                .zip(y)
                .map(|(x, y)| ((y - c).max(1e-3 * y)) / x.powf(p))
                .collect();
            ratios.sort_by(f64::total_cmp);
            let k = ratios[ratios.len() / 2];
            starts.push(vec![
                k.ln(),
                logit(exponent / options.max_exponent),
                logit(c / options.c_max),
            ]);
        }
    }
    starts
}

/// The start and, for each coordinate, the start moved half a unit along it.
fn simplex_around(start: &[f64]) -> Vec<Vec<f64>> {
    (0..=start.len())
        .map(|i| {
            let mut vertex = start.to_vec();
            if i > 0 {
                vertex[i - 1] += 0.5;
            }
            vertex
        })
        .collect()
}

type Solver = NelderMead<Vec<f64>, f64>;

/// Where a Nelder–Mead run stopped, and the solver (holding its simplex) to go on from.
struct Descent {
    theta: Vec<f64>,
    cost: f64,
    converged: bool,
    solver: Solver,
}

fn new_solver(simplex: Vec<Vec<f64>>) -> Result<Solver, FitError> {
    NelderMead::new(simplex)
        .with_sd_tolerance(1e-12)
        .map_err(|e| FitError::Optimiser(e.to_string()))
}

/// Runs `solver` for at most `iters` more iterations.
fn nelder_mead(problem: Problem<'_>, solver: Solver, iters: u64) -> Result<Descent, FitError> {
    let result = Executor::new(problem, solver)
        .configure(|state| state.max_iters(iters))
        .run()
        .map_err(|e| FitError::Optimiser(e.to_string()))?;
    let state = result.state();
    let theta = state
        .get_best_param()
        .cloned()
        .ok_or_else(|| FitError::Optimiser("no parameters".into()))?;
    Ok(Descent {
        theta,
        cost: state.get_best_cost(),
        converged: matches!(
            state.get_termination_status(),
            TerminationStatus::Terminated(TerminationReason::SolverConverged)
        ),
        solver: result.solver,
    })
}

/// Fits `y = k · x^p + c` to the points; they must be positive (errors of 0 are clamped to a
/// tiny positive value by the caller if wanted).
pub fn fit_power_law(x: &[f64], y: &[f64], options: FitOptions) -> Result<Fitted, FitError> {
    let (x, y): (Vec<f64>, Vec<f64>) = x
        .iter()
        .zip(y)
        .filter(|(x, y)| x.is_finite() && y.is_finite() && **x > 0.0 && **y > 0.0)
        .map(|(x, y)| (*x, *y))
        .unzip();
    // Three parameters need three different x (bootstrap resamples repeat points).
    let mut distinct = x.clone();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    if distinct.len() < 3 {
        return Err(FitError::TooFewPoints {
            found: distinct.len(),
            needed: 3,
        });
    }
    let scale = (x.iter().map(|v| v.ln()).sum::<f64>() / x.len() as f64).exp();
    let scaled: Vec<f64> = x.iter().map(|v| v / scale).collect();
    let ln_x: Vec<f64> = scaled.iter().map(|v| v.ln()).collect();
    let ln_y: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let problem = || Problem {
        ln_x: &ln_x,
        ln_y: &ln_y,
        options,
    };

    // Every start is scouted for a few iterations; only the most promising are followed to
    // convergence. Nelder–Mead's next step depends on its simplex alone, so a followed start
    // ends exactly where an uninterrupted run would.
    let by_cost = |a: &Descent, b: &Descent| a.cost.total_cmp(&b.cost);
    let mut starts = starting_points(&scaled, &y, options);
    if let Some(law) = options.start {
        // In the optimiser's coordinates on the scaled x: k·x^p = (k·s^p)·(x/s)^p.
        let magnitude = (law.exponent / options.max_exponent).clamp(1e-6, 1.0 - 1e-6);
        let offset = (law.c / options.c_max).clamp(1e-6, 1.0 - 1e-6);
        starts.push(vec![
            (law.k * scale.powf(law.p())).ln(),
            logit(magnitude),
            logit(offset),
        ]);
    }
    let mut scouted = starts
        .iter()
        .map(|start| nelder_mead(problem(), new_solver(simplex_around(start))?, SCOUT_ITERS))
        .collect::<Result<Vec<_>, _>>()?;
    scouted.sort_by(by_cost);
    let followed = scouted
        .into_iter()
        .take(options.followed_starts.max(1))
        .map(|run| match run.converged {
            true => Ok(run),
            false => nelder_mead(
                problem(),
                run.solver,
                options.max_iters.saturating_sub(SCOUT_ITERS),
            ),
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Of equal costs, the first in scouting order wins.
    let best = followed
        .into_iter()
        .min_by(by_cost)
        .expect("the grid has starts");
    let (theta, loss) = (best.theta, best.cost);
    let fitted = problem();
    let (k_scaled, p, c) = fitted.decode(&theta);
    let residuals: Vec<f64> = fitted.log_residuals(&theta).collect();
    let rms = (residuals.iter().map(|r| r * r).sum::<f64>() / residuals.len() as f64).sqrt();
    Ok(Fitted {
        law: PowerLaw {
            // k · (x / s)^p = (k · s^−p) · x^p
            k: k_scaled * scale.powf(-p),
            exponent: p.abs(),
            sign: options.sign,
            c,
        },
        loss,
        rms_log_residual: rms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_points_give_back_their_law() {
        let law = PowerLaw {
            k: 0.8,
            exponent: 1.5,
            sign: Exponent::Positive,
            c: 0.2,
        };
        let x: Vec<f64> = (1..=12).map(|i| 0.05 * i as f64).collect();
        let y: Vec<f64> = x.iter().map(|&x| law.predict(x)).collect();
        let fit = fit_power_law(&x, &y, FitOptions::new(Exponent::Positive)).unwrap();
        assert!((fit.law.k - 0.8).abs() < 1e-3, "{fit:?}");
        assert!((fit.law.exponent - 1.5).abs() < 1e-3, "{fit:?}");
        assert!((fit.law.c - 0.2).abs() < 1e-4, "{fit:?}");
        assert!(fit.rms_log_residual < 1e-5);
    }

    #[test]
    fn size_laws_on_large_x_are_recovered() {
        let law = PowerLaw {
            k: 5.0,
            exponent: 0.3,
            sign: Exponent::Negative,
            c: 0.05,
        };
        let x: Vec<f64> = (0..10).map(|i| 1e4 * 3f64.powi(i)).collect();
        let y: Vec<f64> = x.iter().map(|&x| law.predict(x)).collect();
        let fit = fit_power_law(&x, &y, FitOptions::new(Exponent::Negative)).unwrap();
        assert!((fit.law.exponent - 0.3).abs() < 1e-3, "{fit:?}");
        assert!((fit.law.c - 0.05).abs() < 1e-4, "{fit:?}");
        assert!((fit.law.k / 5.0 - 1.0).abs() < 1e-2, "{fit:?}");
        assert!(fit.law.p() < 0.0);
    }

    #[test]
    fn one_outlier_does_not_drag_the_asymptote() {
        let law = PowerLaw {
            k: 1.0,
            exponent: 1.0,
            sign: Exponent::Positive,
            c: 0.3,
        };
        let x: Vec<f64> = (1..=15).map(|i| 0.04 * i as f64).collect();
        let mut y: Vec<f64> = x.iter().map(|&x| law.predict(x)).collect();
        y[7] *= 2.5; // a broken run
        let fit = fit_power_law(&x, &y, FitOptions::new(Exponent::Positive)).unwrap();
        assert!((fit.law.c - 0.3).abs() < 0.02, "{fit:?}");
    }

    #[test]
    fn a_scouted_start_goes_on_exactly_where_it_stopped() {
        // Ranking starts after a few iterations is only free if following one on is the same
        // as never having stopped it.
        let ln_x: Vec<f64> = (1..=8).map(|i| (0.1 * i as f64).ln()).collect();
        let ln_y: Vec<f64> = (1..=8)
            .map(|i| (0.5 * (0.1 * i as f64).powf(1.3) + 0.1 + 0.01 * (i % 3) as f64).ln())
            .collect();
        let problem = || Problem {
            ln_x: &ln_x,
            ln_y: &ln_y,
            options: FitOptions::new(Exponent::Positive),
        };
        let start = simplex_around(&[0.0, -1.0, -2.0]);
        let whole = nelder_mead(problem(), new_solver(start.clone()).unwrap(), 2000).unwrap();
        let scouted = nelder_mead(problem(), new_solver(start).unwrap(), SCOUT_ITERS).unwrap();
        assert!(!scouted.converged && scouted.cost > whole.cost);
        let followed = nelder_mead(problem(), scouted.solver, 2000 - SCOUT_ITERS).unwrap();
        assert_eq!(followed.theta, whole.theta);
        assert_eq!(followed.cost, whole.cost);
    }

    #[test]
    fn following_fewer_starts_finds_a_clear_optimum() {
        let law = PowerLaw {
            k: 0.6,
            exponent: 0.7,
            sign: Exponent::Positive,
            c: 0.15,
        };
        let x: Vec<f64> = (1..=9).map(|i| 0.06 * i as f64).collect();
        let y: Vec<f64> = x.iter().map(|&x| law.predict(x)).collect();
        let all = fit_power_law(&x, &y, FitOptions::new(Exponent::Positive)).unwrap();
        let options = FitOptions {
            followed_starts: 1,
            ..FitOptions::new(Exponent::Positive)
        };
        let one = fit_power_law(&x, &y, options).unwrap();
        assert!(
            (one.law.c - all.law.c).abs() < 1e-4,
            "{one:?} against {all:?}"
        );
        assert!((one.law.exponent - 0.7).abs() < 1e-3, "{one:?}");
    }

    #[test]
    fn bounds_hold_and_too_few_points_are_refused() {
        // Points that fall faster than any offset allows: c must stay at or above 0.
        let x = [0.1, 0.2, 0.4, 0.8];
        let y = [0.01, 0.04, 0.16, 0.64];
        let fit = fit_power_law(&x, &y, FitOptions::new(Exponent::Positive)).unwrap();
        assert!(fit.law.c >= 0.0 && fit.law.c < 1e-3, "{fit:?}");
        assert!((fit.law.exponent - 2.0).abs() < 1e-2, "{fit:?}");
        assert_eq!(
            fit_power_law(
                &[0.1, 0.2, 0.0],
                &[0.1, 0.2, 0.3],
                FitOptions::new(Exponent::Positive)
            ),
            Err(FitError::TooFewPoints {
                found: 2,
                needed: 3
            })
        );
    }
}
