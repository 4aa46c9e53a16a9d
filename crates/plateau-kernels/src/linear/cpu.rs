//! A linear layer, `y = x·W + b`, on `f32` slices: every leading axis of `x` is one long row
//! axis, so each pass is one matrix product over the whole batch (burn multiplies image by
//! image), and transposed operands are read through strides, never copied.
//!
//! ```text
//! forward        Y  [n, out] = X [n, in] · W [in, out] + b
//! input grad     dX [n, in]  = dY [n, out] · Wᵀ
//! weight grad    dW [in, out] = Xᵀ · dY
//! bias grad      db [out]    = Σ over rows of dY
//! ```
//!
//! The products split their output among threads, never a sum, and the bias gradient adds
//! fixed blocks of rows in a fixed order, so results do not depend on the number of threads.

use gemm::Parallelism;
use rayon::prelude::*;

use crate::matrix::{Matrix, MatrixMut, Store, product};
use crate::vector_math::sum_in_order;

/// Rows per partial sum of the bias gradient: fixed, so the summation order is too.
const BIAS_ROWS_PER_TASK: usize = 256;

/// The sizes of one linear layer call: `rows` (all leading axes of `x`) × `d_in` → `d_out`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinearShape {
    pub rows: usize,
    pub d_in: usize,
    pub d_out: usize,
}

impl LinearShape {
    fn check(&self, x: &[f32], weight: &[f32]) {
        assert_eq!(
            x.len(),
            self.rows * self.d_in,
            "linear: input has the wrong size"
        );
        assert_eq!(
            weight.len(),
            self.d_in * self.d_out,
            "linear: weight has the wrong size"
        );
    }
}

/// `x [rows, d_in] · weight [d_in, d_out] + bias [d_out]`.
pub fn forward(shape: LinearShape, x: &[f32], weight: &[f32], bias: &[f32]) -> Vec<f32> {
    shape.check(x, weight);
    let LinearShape { rows, d_in, d_out } = shape;
    assert_eq!(bias.len(), d_out, "linear: bias has the wrong size");
    // Every row starts as the bias, and the product is added to it: one pass over the output.
    let mut out = bias.repeat(rows);
    product(
        MatrixMut::new(&mut out, rows, d_out),
        Matrix::new(x, rows, d_in),
        Matrix::new(weight, d_in, d_out),
        Store::Add,
        Parallelism::Rayon(0),
    );
    out
}

/// The gradients with respect to `x`, `weight` and `bias`, given `grad_out [rows, d_out]`.
pub fn backward(
    shape: LinearShape,
    x: &[f32],
    weight: &[f32],
    grad_out: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    shape.check(x, weight);
    let LinearShape { rows, d_in, d_out } = shape;
    assert_eq!(
        grad_out.len(),
        rows * d_out,
        "linear: gradient has the wrong size"
    );
    let grad_y = Matrix::new(grad_out, rows, d_out);
    let mut grad_x = vec![0.0; rows * d_in];
    product(
        MatrixMut::new(&mut grad_x, rows, d_in),
        grad_y,
        Matrix::new(weight, d_in, d_out).transposed(),
        Store::Scaled(1.0),
        Parallelism::Rayon(0),
    );
    let mut grad_weight = vec![0.0; d_in * d_out];
    product(
        MatrixMut::new(&mut grad_weight, d_in, d_out),
        Matrix::new(x, rows, d_in).transposed(),
        grad_y,
        Store::Scaled(1.0),
        Parallelism::Rayon(0),
    );
    (grad_x, grad_weight, column_sums(grad_out, d_out))
}

/// `Σ` over the rows of a row-major `[_, width]` matrix, in fixed blocks of rows.
fn column_sums(values: &[f32], width: usize) -> Vec<f32> {
    let add_rows = |block: &[f32]| {
        let mut sums = vec![0.0; width];
        for row in block.chunks_exact(width) {
            sums.iter_mut().zip(row).for_each(|(s, v)| *s += v);
        }
        sums
    };
    let partials: Vec<Vec<f32>> = values
        .par_chunks(BIAS_ROWS_PER_TASK * width)
        .map(add_rows)
        .collect();
    sum_in_order(partials)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_values::{on_threads, values};

    fn reference(shape: LinearShape, x: &[f32], weight: &[f32], bias: &[f32]) -> Vec<f64> {
        let LinearShape { rows, d_in, d_out } = shape;
        let mut out = vec![0.0; rows * d_out];
        for r in 0..rows {
            for o in 0..d_out {
                let dot: f64 = (0..d_in)
                    .map(|i| x[r * d_in + i] as f64 * weight[i * d_out + o] as f64)
                    .sum();
                out[r * d_out + o] = dot + bias[o] as f64;
            }
        }
        out
    }

    const SHAPE: LinearShape = LinearShape {
        rows: 9,
        d_in: 5,
        d_out: 7,
    };

    #[test]
    fn forward_matches_the_definition() {
        let (x, w, b) = (values(45, 1), values(35, 2), values(7, 3));
        let ours = forward(SHAPE, &x, &w, &b);
        for (i, (a, want)) in ours.iter().zip(reference(SHAPE, &x, &w, &b)).enumerate() {
            assert!(
                (*a as f64 - want).abs() <= 1e-5,
                "output {i}: {a} vs {want}"
            );
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let (x, w, b) = (values(45, 4), values(35, 5), values(7, 6));
        let weights = values(63, 7);
        let (dx, dw, db) = backward(SHAPE, &x, &w, &weights);
        // The output is linear in each argument, so a unit step gives the exact derivative.
        let loss = |x: &[f32], w: &[f32], b: &[f32]| -> f64 {
            reference(SHAPE, x, w, b)
                .iter()
                .zip(&weights)
                .map(|(y, &g)| y * g as f64)
                .sum()
        };
        let base = loss(&x, &w, &b);
        for (which, ours) in [(0, &dx), (1, &dw), (2, &db)] {
            for (i, &value) in ours.iter().enumerate() {
                let mut args = [x.clone(), w.clone(), b.clone()];
                args[which][i] += 1.0;
                let want = loss(&args[0], &args[1], &args[2]) - base;
                assert!(
                    (value as f64 - want).abs() <= 1e-4 * want.abs().max(1.0),
                    "argument {which}, element {i}: {value} vs {want}"
                );
            }
        }
    }

    #[test]
    fn gradients_do_not_depend_on_the_number_of_threads() {
        // Enough rows for several bias blocks, and products large enough that gemm splits
        // them among threads (the weight gradient's sum runs over all rows).
        let shape = LinearShape {
            rows: 8 * BIAS_ROWS_PER_TASK + 5,
            d_in: 96,
            d_out: 80,
        };
        let x = values(shape.rows * shape.d_in, 8);
        let w = values(shape.d_in * shape.d_out, 9);
        let b = values(shape.d_out, 10);
        let grad_out = values(shape.rows * shape.d_out, 11);
        let run = |threads| {
            on_threads(threads, || {
                (
                    forward(shape, &x, &w, &b),
                    backward(shape, &x, &w, &grad_out),
                )
            })
        };
        assert_eq!(run(1), run(3));
    }
}
