//! Fits recover known laws from noisy points, within their bootstrap intervals.

use plateau_metrics::fit::{BootstrapOptions, Exponent, LawForm, PointSet, PowerLaw, fit_curve};

/// Seeded standard normal draws (SplitMix64 + Box–Muller), so the test is reproducible.
struct Normal(u64);

impl Normal {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn draw(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-12), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// `n` points of `law` at x spread log-uniformly over `range`, with multiplicative noise.
fn noisy_points(
    law: &PowerLaw,
    range: (f64, f64),
    n: usize,
    noise: f64,
    seed: u64,
) -> Vec<(f64, f64)> {
    let mut normal = Normal(seed);
    (0..n)
        .map(|i| {
            let t = i as f64 / (n - 1) as f64;
            let x = range.0 * (range.1 / range.0).powf(t);
            (x, law.predict(x) * (noise * normal.draw()).exp())
        })
        .collect()
}

fn boot() -> BootstrapOptions {
    BootstrapOptions {
        resamples: 300,
        level: 0.95,
        seed: 1,
    }
}

#[test]
fn saturation_parameters_are_recovered_within_their_intervals() {
    let truth = PowerLaw {
        k: 0.8,
        exponent: 1.2,
        sign: Exponent::Positive,
        c: 0.25,
    };
    for seed in [1, 2, 3] {
        let points = noisy_points(&truth, (0.03, 0.7), 40, 0.02, seed);
        let fit = fit_curve(&points, PointSet::All, LawForm::Saturation, &boot()).unwrap();
        let law = fit.law;
        assert!(
            fit.draws.len() > 250,
            "most resamples fit: {}",
            fit.draws.len()
        );
        let [k, alpha, e_ir] = ["k", "alpha", "e_ir"].map(|name| fit.interval(name));
        assert!(k.contains(truth.k), "k in {k:?}: {law:?}");
        assert!(
            alpha.contains(truth.exponent),
            "alpha in {alpha:?}: {law:?}"
        );
        assert!(e_ir.contains(truth.c), "e_ir in {e_ir:?}: {law:?}");
        // And the intervals are informative, not [0, ∞).
        assert!(e_ir.high - e_ir.low < 0.1, "{e_ir:?}");
        assert!((law.floor() - truth.c).abs() < 0.03, "{law:?}");
    }
}

#[test]
fn a_size_law_is_recovered_within_its_intervals() {
    let truth = PowerLaw {
        k: 3.0,
        exponent: 0.35,
        sign: Exponent::Negative,
        c: 0.08,
    };
    let points = noisy_points(&truth, (1e4, 1e8), 30, 0.02, 9);
    let fit = fit_curve(&points, PointSet::All, LawForm::Size, &boot()).unwrap();
    let [a, b, c] = ["a", "b", "c"].map(|name| fit.interval(name));
    assert!(a.contains(truth.k), "{:?} {a:?}", fit.law);
    assert!(b.contains(truth.exponent), "{b:?}");
    assert!(c.contains(truth.c), "{c:?}");
}

#[test]
fn the_frontier_fit_ignores_dominated_runs() {
    let truth = PowerLaw {
        k: 1.0,
        exponent: 1.0,
        sign: Exponent::Positive,
        c: 0.2,
    };
    let mut points = noisy_points(&truth, (0.05, 0.6), 12, 0.0, 0);
    // Under-trained runs: far worse downstream than the law at the same upstream error.
    points.extend([(0.1, 0.6), (0.2, 0.7), (0.3, 0.8)]);
    let form = LawForm::Saturation;
    let frontier = fit_curve(&points, PointSet::Frontier, form, &boot()).unwrap();
    assert_eq!(frontier.used.len(), 12);
    assert!(
        (frontier.law.floor() - 0.2).abs() < 1e-3,
        "{:?}",
        frontier.law
    );
    let all = fit_curve(&points, PointSet::All, form, &boot()).unwrap();
    assert_eq!(all.used.len(), 15);
}
