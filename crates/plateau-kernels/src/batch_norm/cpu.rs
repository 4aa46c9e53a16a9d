//! Batch normalisation with batch statistics, forward and backward, over NCHW `f32` in as few
//! passes as the maths allows: two reads of the input for the statistics, one pass to
//! normalise; one pass for the gradient sums, one to write the input gradient. burn's generic
//! version transposes to channels-first and composes about a dozen element-wise passes.
//!
//! Channels are independent and spread over rayon's pool; within a channel the sums run in a
//! fixed order (f32 per image plane, f64 across planes), so results do not depend on threads.

use rayon::prelude::*;

/// `[batch, channels, plane]` of an NCHW tensor, `plane = H · W`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NormGeometry {
    pub batch: usize,
    pub channels: usize,
    pub plane: usize,
}

impl NormGeometry {
    pub fn len(&self) -> usize {
        self.batch * self.channels * self.plane
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Values per channel.
    fn count(&self) -> f64 {
        (self.batch * self.plane) as f64
    }
}

/// Per-channel sums over the batch of `f(plane, plane_index)` where `f` sums one plane.
fn per_channel(g: &NormGeometry, f: impl Fn(usize, usize) -> f64 + Sync) -> Vec<f64> {
    (0..g.channels)
        .into_par_iter()
        .map(|c| (0..g.batch).map(|b| f(c, b)).sum())
        .collect()
}

/// Writes `out[p] = f(channel of p, input planes …)` plane by plane.
fn map_planes(g: &NormGeometry, out: &mut [f32], f: impl Fn(usize, usize, &mut [f32]) + Sync) {
    out.par_chunks_mut(g.plane)
        .enumerate()
        .for_each(|(p, plane)| f(p % g.channels, p * g.plane, plane));
}

/// Output, batch mean and biased batch variance (per channel).
pub fn forward(
    g: &NormGeometry,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    epsilon: f64,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    assert_eq!(
        (x.len(), gamma.len(), beta.len()),
        (g.len(), g.channels, g.channels)
    );
    let plane_sum = |c: usize, b: usize, f: &dyn Fn(f32) -> f32| -> f64 {
        let start = (b * g.channels + c) * g.plane;
        x[start..start + g.plane].iter().map(|&v| f(v)).sum::<f32>() as f64
    };
    let mean: Vec<f64> = per_channel(g, |c, b| plane_sum(c, b, &|v| v))
        .into_iter()
        .map(|s| s / g.count())
        .collect();
    // Two passes: the centred sum of squares does not cancel catastrophically.
    let variance: Vec<f64> = per_channel(g, |c, b| {
        let m = mean[c] as f32;
        plane_sum(c, b, &|v| (v - m) * (v - m))
    })
    .into_iter()
    .map(|s| s / g.count())
    .collect();
    // y = x · scale + shift, scale = γ / √(σ² + ε), shift = β − μ · scale.
    let scale: Vec<f32> = (0..g.channels)
        .map(|c| (gamma[c] as f64 / (variance[c] + epsilon).sqrt()) as f32)
        .collect();
    let shift: Vec<f32> = (0..g.channels)
        .map(|c| (beta[c] as f64 - mean[c] * scale[c] as f64) as f32)
        .collect();
    let mut out = vec![0.0; g.len()];
    map_planes(g, &mut out, |c, start, plane| {
        let (a, b) = (scale[c], shift[c]);
        for (y, &v) in plane.iter_mut().zip(&x[start..start + g.plane]) {
            *y = v * a + b;
        }
    });
    let to_f32 = |v: Vec<f64>| v.into_iter().map(|s| s as f32).collect();
    (out, to_f32(mean), to_f32(variance))
}

/// Gradients of the input, γ and β, given the output gradient and the forward statistics.
pub fn backward(
    g: &NormGeometry,
    x: &[f32],
    gamma: &[f32],
    mean: &[f32],
    variance: &[f32],
    epsilon: f64,
    grad_out: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    assert_eq!((x.len(), grad_out.len()), (g.len(), g.len()));
    let inv_std: Vec<f32> = variance
        .iter()
        .map(|&v| (1.0 / (v as f64 + epsilon).sqrt()) as f32)
        .collect();
    // dβ = Σ dy, dγ = Σ dy · x̂ with x̂ = (x − μ) / σ.
    let grad_beta = per_channel(g, |c, b| {
        let start = (b * g.channels + c) * g.plane;
        grad_out[start..start + g.plane].iter().sum::<f32>() as f64
    });
    let grad_gamma = per_channel(g, |c, b| {
        let start = (b * g.channels + c) * g.plane;
        let (m, s) = (mean[c], inv_std[c]);
        let dy = &grad_out[start..start + g.plane];
        let xs = &x[start..start + g.plane];
        dy.iter()
            .zip(xs)
            .map(|(&d, &v)| d * (v - m) * s)
            .sum::<f32>() as f64
    });
    // dx = γ σ⁻¹ (dy − dβ/N − x̂ · dγ/N)
    let n = g.count();
    let mut grad_in = vec![0.0; g.len()];
    map_planes(g, &mut grad_in, |c, start, plane| {
        let (m, s) = (mean[c], inv_std[c]);
        let k = gamma[c] * s;
        let mean_dy = (grad_beta[c] / n) as f32;
        let mean_dy_xhat = (grad_gamma[c] / n) as f32;
        let dy = &grad_out[start..start + g.plane];
        let xs = &x[start..start + g.plane];
        for ((dx, &d), &v) in plane.iter_mut().zip(dy).zip(xs) {
            *dx = k * (d - mean_dy - (v - m) * s * mean_dy_xhat);
        }
    });
    let to_f32 = |v: Vec<f64>| v.into_iter().map(|s| s as f32).collect();
    (grad_in, to_f32(grad_gamma), to_f32(grad_beta))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u32, scale: f32, offset: f32) -> Vec<f32> {
        let unit = crate::test_values::values(n, seed);
        unit.into_iter().map(|v| v * scale + offset).collect()
    }

    const G: NormGeometry = NormGeometry {
        batch: 5,
        channels: 3,
        plane: 7,
    };

    impl NormGeometry {
        /// The image planes of channel `c`.
        fn planes<'a>(&self, data: &'a [f32], c: usize) -> impl Iterator<Item = &'a [f32]> {
            (0..self.batch).map(move |b| {
                let start = (b * self.channels + c) * self.plane;
                &data[start..start + self.plane]
            })
        }
    }

    /// ⟨dy, y(x, γ, β)⟩ as a function of its inputs, in f64.
    fn objective(x: &[f32], gamma: &[f32], beta: &[f32], dy: &[f32]) -> f64 {
        let (y, _, _) = forward(&G, x, gamma, beta, 1e-5);
        y.iter().zip(dy).map(|(a, b)| *a as f64 * *b as f64).sum()
    }

    #[test]
    fn normalises_each_channel() {
        let x = values(G.len(), 1, 3.0, 10.0);
        let (y, mean, var) = forward(&G, &x, &[1.0; 3], &[0.0; 3], 1e-5);
        for c in 0..G.channels {
            let ys: Vec<f32> = G.planes(&y, c).flatten().copied().collect();
            let xs: Vec<f32> = G.planes(&x, c).flatten().copied().collect();
            let m = xs.iter().sum::<f32>() / xs.len() as f32;
            assert!((mean[c] - m).abs() < 1e-4);
            let v = xs.iter().map(|a| (a - m) * (a - m)).sum::<f32>() / xs.len() as f32;
            assert!((var[c] - v).abs() < 1e-3);
            let ym = ys.iter().sum::<f32>() / ys.len() as f32;
            let yv = ys.iter().map(|a| (a - ym) * (a - ym)).sum::<f32>() / ys.len() as f32;
            assert!(ym.abs() < 1e-4 && (yv - 1.0).abs() < 1e-3, "{ym} {yv}");
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = values(G.len(), 2, 1.5, 0.3);
        let gamma = values(3, 3, 1.0, 1.0);
        let beta = values(3, 4, 1.0, 0.0);
        let dy = values(G.len(), 5, 1.0, 0.0);
        let (_, mean, var) = forward(&G, &x, &gamma, &beta, 1e-5);
        let (dx, dgamma, dbeta) = backward(&G, &x, &gamma, &mean, &var, 1e-5, &dy);
        let h = 1e-2f32;
        let check = |analytic: f32, plus: f64, minus: f64, what: &str| {
            let numeric = (plus - minus) / (2.0 * h as f64);
            assert!(
                (analytic as f64 - numeric).abs() < 2e-2 * (1.0 + numeric.abs()),
                "{what}: {analytic} vs {numeric}"
            );
        };
        for i in [0, 4, 17, 50, G.len() - 1] {
            let (mut up, mut down) = (x.clone(), x.clone());
            up[i] += h;
            down[i] -= h;
            check(
                dx[i],
                objective(&up, &gamma, &beta, &dy),
                objective(&down, &gamma, &beta, &dy),
                "dx",
            );
        }
        for c in 0..3 {
            let (mut up, mut down) = (gamma.clone(), gamma.clone());
            up[c] += h;
            down[c] -= h;
            check(
                dgamma[c],
                objective(&x, &up, &beta, &dy),
                objective(&x, &down, &beta, &dy),
                "dγ",
            );
            let (mut up, mut down) = (beta.clone(), beta.clone());
            up[c] += h;
            down[c] -= h;
            check(
                dbeta[c],
                objective(&x, &gamma, &up, &dy),
                objective(&x, &gamma, &down, &dy),
                "dβ",
            );
        }
    }
}
