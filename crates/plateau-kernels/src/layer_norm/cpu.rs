//! The backward pass of layer normalisation on `f32` rows, in one parallel pass: per row, with
//! `x̂ = (x − μ) · r`, `r = 1 / √(σ² + ε)` and `g = ∂L/∂y · γ`,
//!
//! `∂L/∂x = r · (g − mean(g) − x̂ · mean(g · x̂))`, `∂L/∂γ = Σ_rows ∂L/∂y · x̂`, `∂L/∂β = Σ_rows ∂L/∂y`.
//!
//! Rows are split into fixed blocks of [`ROWS_PER_TASK`]; the γ and β sums of each block are
//! added in block order, so results do not depend on the number of threads.

use rayon::prelude::*;

/// Rows per parallel task (and per partial sum of the γ and β gradients).
const ROWS_PER_TASK: usize = 64;

/// `(μ, r)` of one row: its mean and `1 / √(σ² + ε)`, the variance taken about the mean.
fn row_statistics(row: &[f32], epsilon: f64) -> (f32, f32) {
    let n = row.len() as f32;
    let mean = row.iter().sum::<f32>() / n;
    let variance = row.iter().map(|&v| (v - mean) * (v - mean)).sum::<f32>() / n;
    (mean, 1.0 / (variance + epsilon as f32).sqrt())
}

/// The gradients with respect to the input, γ and β of `y = layer_norm(x) · γ + β` over rows
/// of `width`, given `grad_out = ∂L/∂y`.
pub fn backward(
    width: usize,
    x: &[f32],
    gamma: &[f32],
    epsilon: f64,
    grad_out: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    assert!(
        width > 0 && x.len().is_multiple_of(width),
        "layer norm: rows of {width}"
    );
    assert_eq!((gamma.len(), grad_out.len()), (width, x.len()));
    let block = ROWS_PER_TASK * width;
    let mut grad_in = vec![0.0; x.len()];
    // Per block: Σ ∂L/∂y · x̂ and Σ ∂L/∂y, for each column.
    let partial: Vec<(Vec<f32>, Vec<f32>)> = grad_in
        .par_chunks_mut(block)
        .zip(x.par_chunks(block).zip(grad_out.par_chunks(block)))
        .map(|(grad_in, (x, grad_out))| {
            let mut sums = (vec![0.0f32; width], vec![0.0f32; width]);
            let mut normalised = vec![0.0f32; width];
            let rows = grad_in
                .chunks_mut(width)
                .zip(x.chunks(width).zip(grad_out.chunks(width)));
            for (dx, (x, dy)) in rows {
                let (mean, r) = row_statistics(x, epsilon);
                let (mut g_sum, mut gx_sum) = (0.0f32, 0.0f32);
                for i in 0..width {
                    let x_hat = (x[i] - mean) * r;
                    normalised[i] = x_hat;
                    let g = dy[i] * gamma[i];
                    g_sum += g;
                    gx_sum += g * x_hat;
                    sums.0[i] += dy[i] * x_hat;
                    sums.1[i] += dy[i];
                }
                let (g_mean, gx_mean) = (g_sum / width as f32, gx_sum / width as f32);
                for i in 0..width {
                    dx[i] = r * (dy[i] * gamma[i] - g_mean - normalised[i] * gx_mean);
                }
            }
            sums
        })
        .collect();
    let mut grad_gamma = vec![0.0f64; width];
    let mut grad_beta = vec![0.0f64; width];
    for (gamma_part, beta_part) in &partial {
        for i in 0..width {
            grad_gamma[i] += gamma_part[i] as f64;
            grad_beta[i] += beta_part[i] as f64;
        }
    }
    let narrow = |v: Vec<f64>| v.into_iter().map(|s| s as f32).collect();
    (grad_in, narrow(grad_gamma), narrow(grad_beta))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_values::{on_threads, values};

    /// Layer norm of one row in f64, for finite differences.
    fn forward_row(x: &[f64], gamma: &[f64], beta: &[f64], epsilon: f64) -> Vec<f64> {
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let variance = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let r = 1.0 / (variance + epsilon).sqrt();
        (0..x.len())
            .map(|i| (x[i] - mean) * r * gamma[i] + beta[i])
            .collect()
    }

    #[test]
    fn gradients_match_finite_differences() {
        let (rows, width, epsilon) = (5, 7, 1e-6);
        let x: Vec<f32> = values(rows * width, 1)
            .iter()
            .map(|v| 3.0 * v + 0.5)
            .collect();
        let gamma = values(width, 2);
        let beta = values(width, 3);
        let weights = values(rows * width, 4);
        let (dx, dgamma, dbeta) = backward(width, &x, &gamma, epsilon, &weights);

        // L = Σ weights · y, in f64.
        let widen = |v: &[f32]| v.iter().map(|&a| a as f64).collect::<Vec<f64>>();
        let loss = |x: &[f64], gamma: &[f64], beta: &[f64]| -> f64 {
            x.chunks(width)
                .zip(weights.chunks(width))
                .map(|(row, w)| {
                    forward_row(row, gamma, beta, epsilon)
                        .iter()
                        .zip(w)
                        .map(|(y, &w)| y * w as f64)
                        .sum::<f64>()
                })
                .sum()
        };
        let (x64, gamma64, beta64) = (widen(&x), widen(&gamma), widen(&beta));
        let h = 1e-6;
        let numeric = |which: usize, i: usize| {
            let mut args = [x64.clone(), gamma64.clone(), beta64.clone()];
            args[which][i] += h;
            let up = loss(&args[0], &args[1], &args[2]);
            args[which][i] -= 2.0 * h;
            let down = loss(&args[0], &args[1], &args[2]);
            (up - down) / (2.0 * h)
        };
        for (which, ours) in [(0, &dx), (1, &dgamma), (2, &dbeta)] {
            for (i, &value) in ours.iter().enumerate() {
                let want = numeric(which, i);
                assert!(
                    (value as f64 - want).abs() <= 1e-4 * want.abs().max(1.0),
                    "argument {which}, element {i}: {value} vs {want}"
                );
            }
        }
    }

    #[test]
    fn gradients_do_not_depend_on_the_number_of_threads() {
        // More rows than one block, and a ragged last block.
        let (rows, width) = (3 * ROWS_PER_TASK + 5, 12);
        let x = values(rows * width, 5);
        let gamma = values(width, 6);
        let grad_out = values(rows * width, 7);
        let run = |threads| on_threads(threads, || backward(width, &x, &gamma, 1e-5, &grad_out));
        assert_eq!(run(1), run(3));
    }

    #[test]
    fn input_gradients_sum_to_zero_along_each_row() {
        // Shifting a whole row changes nothing after normalisation: Σ ∂L/∂x over a row is 0.
        let (rows, width) = (4, 16);
        let x = values(rows * width, 8);
        let gamma = values(width, 9);
        let grad_out = values(rows * width, 10);
        let (dx, _, _) = backward(width, &x, &gamma, 1e-6, &grad_out);
        for row in dx.chunks(width) {
            assert!(row.iter().sum::<f32>().abs() < 1e-4, "{row:?}");
        }
    }
}
