//! The bent law `(y − e∞)/(e₀ − y)^α = β·x^(−c)` (Alabdulmohsin, Neyshabur and Zhai, *Revisiting
//! Neural Scaling Laws in Language and Vision*, NeurIPS 2022: their M4). Error falls from the
//! initial error `e₀` through a power-law middle to the floor `e∞`; in their benchmark it
//! extrapolates few-shot error curves better than `a·x^(−b) + c`.
//!
//! The law gives `x` from `y` in closed form but `y` from `x` only implicitly. The fit works in
//! two steps: on the law's own side first (for chosen `(e∞, e₀, α)` the left side's log is linear
//! in `ln x`, so `(ln β, c)` follow by least squares, and Nelder–Mead searches the other three
//! from a grid), then the best of those is polished on the squared log residuals of `y` itself
//! (each prediction solved by Newton's method), the loss the other laws are judged by. Bounds
//! hold by construction: `e∞ ∈ [0, min y)`, `e₀ ∈ (max y, 1)`, `α ∈ (0, 10)`, `c > 0`.

use argmin::core::{CostFunction, Error, Executor, State};
use argmin::solver::neldermead::NelderMead;
use serde::{Deserialize, Serialize};

use super::power_law::FitError;

/// A fitted bent law.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BentLaw {
    /// The error the curve starts from (at x → 0).
    pub e0: f64,
    /// The floor (at x → ∞).
    pub e_inf: f64,
    pub alpha: f64,
    pub beta: f64,
    /// The exponent of x.
    pub c: f64,
}

impl BentLaw {
    /// `ln((y − e∞)/(e₀ − y)^α)`, increasing in y on `(e∞, e₀)`.
    fn left(&self, y: f64) -> f64 {
        (y - self.e_inf).ln() - self.alpha * (self.e0 - y).ln()
    }

    /// The y on `(e∞, e₀)` where the law holds at `x`: Newton's method on the left side (which
    /// rises monotonically in y), kept inside a shrinking bracket by bisection.
    pub fn predict(&self, x: f64) -> f64 {
        let right = self.beta.ln() - self.c * x.ln();
        let (mut low, mut high) = (self.e_inf, self.e0);
        let mut y = 0.5 * (low + high);
        for _ in 0..100 {
            let gap = self.left(y) - right;
            if gap < 0.0 {
                low = y;
            } else {
                high = y;
            }
            let slope = 1.0 / (y - self.e_inf) + self.alpha / (self.e0 - y);
            let newton = y - gap / slope;
            let next = match newton > low && newton < high {
                true => newton,
                false => 0.5 * (low + high),
            };
            if (next - y).abs() <= 1e-14 * y.abs().max(1e-300) || high - low <= 1e-15 {
                return next;
            }
            y = next;
        }
        y
    }

    /// The x at which the law reaches `y`: none at or below the floor, 0 at or above `e₀`.
    pub fn x_for(&self, y: f64) -> Option<f64> {
        if y <= self.e_inf {
            return None;
        }
        if y >= self.e0 {
            return Some(0.0);
        }
        Some(((self.beta.ln() - self.left(y)) / self.c).exp())
    }
}

/// How a bent law is fitted.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BentOptions {
    /// Fix the floor at 0 (to ask whether the data need one).
    pub zero_floor: bool,
    /// A law to start from besides the grid (a bootstrap refit starts from the point fit).
    pub start: Option<BentLaw>,
}

/// A fitted bent law and how well it fits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BentFitted {
    pub law: BentLaw,
    pub rms_log_residual: f64,
}

/// The points as the search sees them.
struct Problem<'a> {
    /// `ln x`, centred on its mean `mean_ln_x`.
    t: &'a [f64],
    y: &'a [f64],
    y_min: f64,
    y_max: f64,
    options: BentOptions,
}

const ALPHA_MAX: f64 = 10.0;
/// Points the bent law needs: five parameters, two of them solved for.
const MIN_POINTS: usize = 5;

fn sigmoid(u: f64) -> f64 {
    1.0 / (1.0 + (-u).exp())
}

fn logit(v: f64) -> f64 {
    let v = v.clamp(1e-6, 1.0 - 1e-6);
    (v / (1.0 - v)).ln()
}

impl Problem<'_> {
    /// `(e∞, e₀, α)` from the search's coordinates.
    fn decode(&self, u: &[f64]) -> (f64, f64, f64) {
        let e_inf = match self.options.zero_floor {
            true => 0.0,
            false => sigmoid(u[0]) * self.y_min * (1.0 - 1e-9),
        };
        let e0 = self.y_max + sigmoid(u[1]) * (1.0 - self.y_max);
        (e_inf, e0, sigmoid(u[2]) * ALPHA_MAX)
    }

    fn encode(&self, law: &BentLaw) -> Vec<f64> {
        vec![
            logit(law.e_inf / self.y_min),
            logit((law.e0 - self.y_max) / (1.0 - self.y_max)),
            logit(law.alpha / ALPHA_MAX),
        ]
    }

    /// `(ln β at the mean ln x, c, mean squared residual)` for `(e∞, e₀, α)`, on the law's side.
    fn solve(&self, e_inf: f64, e0: f64, alpha: f64) -> (f64, f64, f64) {
        let points = self.t.iter().zip(self.y).map(|(&t, &y)| {
            let z = (y - e_inf).ln() - alpha * (e0 - y).ln();
            (t, z, 1.0)
        });
        let points: Vec<(f64, f64, f64)> = points.collect();
        let total: f64 = points.iter().map(|p| p.2).sum();
        let t_mean = points.iter().map(|p| p.2 * p.0).sum::<f64>() / total;
        let z_mean = points.iter().map(|p| p.2 * p.1).sum::<f64>() / total;
        let (mut covariance, mut variance) = (0.0, 0.0);
        for &(t, z, w) in &points {
            covariance += w * (t - t_mean) * (z - z_mean);
            variance += w * (t - t_mean) * (t - t_mean);
        }
        // z = A − c·t with c > 0: the law falls with x.
        let c = (-covariance / variance).max(1e-9);
        let a = z_mean + c * t_mean;
        let cost = points
            .iter()
            .map(|&(t, z, w)| w * (z - a + c * t).powi(2))
            .sum::<f64>()
            / points.len() as f64;
        (a, c, cost)
    }
}

impl CostFunction for Problem<'_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, u: &Self::Param) -> Result<f64, Error> {
        let (e_inf, e0, alpha) = self.decode(u);
        let cost = self.solve(e_inf, e0, alpha).2;
        Ok(if cost.is_finite() { cost } else { f64::MAX })
    }
}

/// The polish: all five parameters, `(u_e∞, u_e₀, u_α, ln β at the mean ln x, ln c)`, on the
/// squared log residuals of y.
struct Polish<'a> {
    side: Problem<'a>,
    mean_ln_x: f64,
    x: &'a [f64],
}

impl Polish<'_> {
    fn law(&self, v: &[f64]) -> BentLaw {
        let (e_inf, e0, alpha) = self.side.decode(v);
        let c = v[4].exp();
        BentLaw {
            e0,
            e_inf,
            alpha,
            beta: (v[3] + c * self.mean_ln_x).exp(),
            c,
        }
    }

    fn squares(&self, law: &BentLaw) -> f64 {
        self.x
            .iter()
            .zip(self.side.y)
            .map(|(&x, &y)| (y.ln() - law.predict(x).ln()).powi(2))
            .sum::<f64>()
            / self.x.len() as f64
    }
}

impl CostFunction for Polish<'_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, v: &Self::Param) -> Result<f64, Error> {
        let cost = self.squares(&self.law(v));
        Ok(if cost.is_finite() { cost } else { f64::MAX })
    }
}

/// Runs Nelder–Mead on `problem` from `start` for at most `iters` iterations; `(best, cost)`.
fn descend<P>(problem: P, start: &[f64], iters: u64) -> Result<(Vec<f64>, f64), FitError>
where
    P: CostFunction<Param = Vec<f64>, Output = f64>,
{
    let simplex: Vec<Vec<f64>> = (0..=start.len())
        .map(|i| {
            let mut vertex = start.to_vec();
            if i > 0 {
                vertex[i - 1] += 0.5;
            }
            vertex
        })
        .collect();
    let solver = NelderMead::new(simplex)
        .with_sd_tolerance(1e-12)
        .map_err(|e| FitError::Optimiser(e.to_string()))?;
    let result = Executor::new(problem, solver)
        .configure(|state| state.max_iters(iters))
        .run()
        .map_err(|e| FitError::Optimiser(e.to_string()))?;
    let state = result.state();
    let best = state
        .get_best_param()
        .cloned()
        .ok_or_else(|| FitError::Optimiser("no parameters".into()))?;
    Ok((best, state.get_best_cost()))
}

/// Starts polished on the real loss: the best of the grid, and the start given (a refit).
const POLISHED: usize = 3;

/// Fits the bent law to points with errors in (0, 1).
pub fn fit_bent(x: &[f64], y: &[f64], options: BentOptions) -> Result<BentFitted, FitError> {
    let (x, y): (Vec<f64>, Vec<f64>) = x
        .iter()
        .zip(y)
        .filter(|(x, y)| x.is_finite() && **x > 0.0 && y.is_finite() && **y > 0.0 && **y < 1.0)
        .map(|(x, y)| (*x, *y))
        .unzip();
    let mut distinct = x.clone();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    if distinct.len() < MIN_POINTS {
        return Err(FitError::TooFewPoints {
            found: distinct.len(),
            needed: MIN_POINTS,
        });
    }
    let ln_x: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let mean_ln_x = ln_x.iter().sum::<f64>() / ln_x.len() as f64;
    let t: Vec<f64> = ln_x.iter().map(|v| v - mean_ln_x).collect();
    let problem = || Problem {
        t: &t,
        y: &y,
        y_min: y.iter().copied().fold(f64::INFINITY, f64::min),
        y_max: y.iter().copied().fold(0.0, f64::max),
        options,
    };
    let mut starts = Vec::new();
    for floor in [0.01, 0.5, 0.9] {
        for start in [0.05, 0.5, 0.95] {
            for alpha in [0.3, 1.0, 3.0] {
                starts.push(vec![logit(floor), logit(start), logit(alpha / ALPHA_MAX)]);
            }
        }
    }
    if let Some(law) = options.start {
        starts.push(problem().encode(&law));
    }
    // The law's side, from every start.
    let mut ends = starts
        .iter()
        .map(|start| descend(problem(), start, 400))
        .collect::<Result<Vec<_>, _>>()?;
    ends.sort_by(|a, b| a.1.total_cmp(&b.1));
    let side = problem();
    let polish = || Polish {
        side: problem(),
        mean_ln_x,
        x: &x,
    };
    // y's own loss, from the best few (and from the start given, which a refit trusts most).
    let mut candidates: Vec<Vec<f64>> = ends
        .into_iter()
        .take(POLISHED)
        .map(|(u, _)| {
            let (e_inf, e0, alpha) = side.decode(&u);
            let (a, c, _) = side.solve(e_inf, e0, alpha);
            vec![u[0], u[1], u[2], a, c.ln()]
        })
        .collect();
    if let Some(law) = options.start {
        let mut u = side.encode(&law);
        u.push(law.beta.ln() - law.c * mean_ln_x);
        u.push(law.c.ln());
        candidates.push(u);
    }
    let mut best: Option<(Vec<f64>, f64)> = None;
    for start in candidates {
        let (v, cost) = descend(polish(), &start, 600)?;
        if best.as_ref().is_none_or(|b| cost < b.1) {
            best = Some((v, cost));
        }
    }
    let (v, cost) = best.ok_or_else(|| FitError::Optimiser("no parameters".into()))?;
    Ok(BentFitted {
        law: polish().law(&v),
        rms_log_residual: cost.sqrt(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn truth() -> BentLaw {
        BentLaw {
            e0: 0.85,
            e_inf: 0.12,
            alpha: 1.5,
            beta: 400.0,
            c: 0.5,
        }
    }

    #[test]
    fn predictions_solve_the_law() {
        let law = truth();
        for x in [1e2, 1e4, 1e6, 1e8] {
            let y = law.predict(x);
            assert!(law.e_inf < y && y < law.e0);
            let left = (y - law.e_inf) / (law.e0 - y).powf(law.alpha);
            assert!((left / (law.beta * x.powf(-law.c)) - 1.0).abs() < 1e-9);
        }
        assert!(law.predict(1e3) > law.predict(1e5), "falls with x");
    }

    #[test]
    fn exact_points_give_back_their_law() {
        let law = truth();
        let x: Vec<f64> = (0..14).map(|i| 10f64.powf(2.0 + 0.5 * i as f64)).collect();
        let y: Vec<f64> = x.iter().map(|&x| law.predict(x)).collect();
        let fit = fit_bent(&x, &y, BentOptions::default()).unwrap();
        assert!(fit.rms_log_residual < 1e-3, "{fit:?}");
        assert!((fit.law.e_inf - law.e_inf).abs() < 0.01, "{fit:?}");
        for x in [1e1, 1e9] {
            assert!(
                (fit.law.predict(x) / law.predict(x) - 1.0).abs() < 0.02,
                "{fit:?}"
            );
        }
    }

    #[test]
    fn too_few_points_are_refused() {
        let x = [1.0, 2.0, 3.0, 4.0];
        let y = [0.5, 0.4, 0.35, 0.33];
        assert_eq!(
            fit_bent(&x, &y, BentOptions::default()).unwrap_err(),
            FitError::TooFewPoints {
                found: 4,
                needed: 5
            }
        );
    }
}
