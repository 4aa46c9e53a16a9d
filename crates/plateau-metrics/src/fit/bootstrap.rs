//! Percentile bootstrap: refit on the runs drawn with replacement, and read each parameter's
//! interval off the spread of the refits.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BootstrapOptions {
    /// Number of resamples (0: no intervals).
    pub resamples: usize,
    /// Coverage of the intervals, e.g. 0.95.
    pub level: f64,
    pub seed: u64,
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        Self {
            resamples: 500,
            level: 0.95,
            seed: 0,
        }
    }
}

/// A two-sided interval; NaN bounds when there were too few successful resamples.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

impl Interval {
    /// The central `level` of `values` (linear interpolation between order statistics).
    pub fn percentile(values: impl Iterator<Item = f64>, level: f64) -> Self {
        let mut sorted: Vec<f64> = values.filter(|v| v.is_finite()).collect();
        if sorted.len() < 2 {
            return Self::unknown();
        }
        sorted.sort_by(f64::total_cmp);
        let quantile = |q: f64| {
            let position = q * (sorted.len() - 1) as f64;
            let (below, above) = (position.floor() as usize, position.ceil() as usize);
            let weight = position - below as f64;
            sorted[below] * (1.0 - weight) + sorted[above] * weight
        };
        let tail = (1.0 - level) / 2.0;
        Self {
            low: quantile(tail),
            high: quantile(1.0 - tail),
        }
    }

    /// Bounds that could not be estimated.
    pub fn unknown() -> Self {
        Self {
            low: f64::NAN,
            high: f64::NAN,
        }
    }

    /// The central `level` of `values` that may be infinite (a resample that never reaches a
    /// target needs unbounded x): nearest-rank bounds, an infinite one as `None`.
    pub fn bounds(mut values: Vec<f64>, level: f64) -> [Option<f64>; 2] {
        if values.is_empty() {
            return [None, None];
        }
        values.sort_by(f64::total_cmp);
        let tail = (1.0 - level) / 2.0;
        let at = |q: f64| values[(q * (values.len() - 1) as f64).round() as usize];
        [at(tail), at(1.0 - tail)].map(|v| v.is_finite().then_some(v))
    }

    pub fn contains(&self, value: f64) -> bool {
        self.low <= value && value <= self.high
    }
}

/// Calls `fit` on `options.resamples` resamples of `points` (same size, with replacement) and
/// collects what it returns; failed fits (too few distinct points) are skipped. The resamples are
/// drawn in order from one seeded stream and fitted in parallel, so the result does not depend
/// on the number of threads.
pub(super) fn resample<T: Send, P: Clone + Sync + Send>(
    points: &[P],
    options: &BootstrapOptions,
    fit: impl Fn(&[P]) -> Option<T> + Sync,
) -> Vec<T> {
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let samples: Vec<Vec<P>> = (0..options.resamples)
        .map(|_| {
            (0..points.len())
                .map(|_| points[rng.random_range(0..points.len())].clone())
                .collect()
        })
        .collect();
    samples
        .par_iter()
        .filter_map(|sample| fit(sample))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_interval_of_a_known_spread() {
        let interval = Interval::percentile((0..=100).map(f64::from), 0.9);
        assert!((interval.low - 5.0).abs() < 1e-12 && (interval.high - 95.0).abs() < 1e-12);
        assert!(interval.contains(50.0) && !interval.contains(99.0));
        assert!(Interval::percentile([1.0].into_iter(), 0.9).low.is_nan());
    }

    #[test]
    fn resamples_are_seeded_and_drawn_from_the_points() {
        let points = [1.0, 2.0, 3.0, 4.0];
        let options = BootstrapOptions {
            resamples: 50,
            level: 0.95,
            seed: 7,
        };
        let means = |seed| {
            resample(&points, &BootstrapOptions { seed, ..options }, |s| {
                Some(s.iter().sum::<f64>() / s.len() as f64)
            })
        };
        assert_eq!(means(7), means(7));
        assert_ne!(means(7), means(8));
        assert!(means(7).iter().all(|m| (1.0..=4.0).contains(m)));
        assert_eq!(means(7).len(), 50);
    }
}
