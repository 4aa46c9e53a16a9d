//! A linear layer along the middle axis of `x [b, s, c]`: the token-mixing layer of an
//! MLP-Mixer, `y[b, j, :] = Σ_i W[i, j] · x[b, i, :] + bias[j]`, giving `y [b, h, c]`. Written
//! with burn's operations it is `linear(x.swap_dims(1, 2), W, bias).swap_dims(1, 2)`: a
//! transposing copy on each side, forward and backward. Per image it is one product with `W`
//! read transposed, and no copy:
//!
//! ```text
//! forward        Y_b  [h, c] = Wᵀ [h, s] · X_b [s, c] + bias (row j plus bias[j])
//! input grad     dX_b [s, c] = W [s, h] · dY_b [h, c]
//! weight grad    dW   [s, h] = Σ_b X_b [s, c] · dY_bᵀ [c, h]
//! bias grad      db   [h]    = Σ_b Σ over columns of dY_b
//! ```
//!
//! Images are spread over rayon's pool; the weight and bias gradients sum fixed chunks of the
//! batch in a fixed order, so results do not depend on the number of threads.

use rayon::prelude::*;

use crate::matrix::{Matrix, MatrixMut, Store, per_image_parallelism, product};
use crate::vector_math::{lanes_sum, sum_in_order};

/// Images per partial sum of the weight and bias gradients: fixed, so the summation order is too.
const IMAGES_PER_TASK: usize = 8;

/// The sizes of one call: `x [batch, tokens, channels]`, `weight [tokens, d_out]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenLinearShape {
    pub batch: usize,
    pub tokens: usize,
    pub channels: usize,
    pub d_out: usize,
}

impl TokenLinearShape {
    fn in_image(&self) -> usize {
        self.tokens * self.channels
    }

    fn out_image(&self) -> usize {
        self.d_out * self.channels
    }

    fn check(&self, x: &[f32], weight: &[f32]) {
        assert_eq!(
            x.len(),
            self.batch * self.in_image(),
            "token linear: input size"
        );
        assert_eq!(
            weight.len(),
            self.tokens * self.d_out,
            "token linear: weight size"
        );
    }
}

/// `y [b, d_out, c]` from `x [b, s, c]`, `weight [s, d_out]` and `bias [d_out]`.
pub fn forward(shape: TokenLinearShape, x: &[f32], weight: &[f32], bias: &[f32]) -> Vec<f32> {
    shape.check(x, weight);
    assert_eq!(bias.len(), shape.d_out, "token linear: bias size");
    let (s, c, h) = (shape.tokens, shape.channels, shape.d_out);
    let weight_t = Matrix::new(weight, s, h).transposed();
    let parallelism = per_image_parallelism(shape.batch);
    // Every image starts as its bias (row j all bias[j]), and the product is added to it.
    let image: Vec<f32> = bias
        .iter()
        .flat_map(|&b| std::iter::repeat_n(b, c))
        .collect();
    let mut out = image.repeat(shape.batch);
    out.par_chunks_mut(shape.out_image())
        .zip(x.par_chunks(shape.in_image()))
        .for_each(|(y, x)| {
            let y = MatrixMut::new(y, h, c);
            product(y, weight_t, Matrix::new(x, s, c), Store::Add, parallelism);
        });
    out
}

/// The gradients with respect to `x`, `weight` and `bias`, given `grad_out [b, d_out, c]`.
pub fn backward(
    shape: TokenLinearShape,
    x: &[f32],
    weight: &[f32],
    grad_out: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    shape.check(x, weight);
    assert_eq!(
        grad_out.len(),
        shape.batch * shape.out_image(),
        "token linear: gradient size"
    );
    let (s, c, h) = (shape.tokens, shape.channels, shape.d_out);
    let parallelism = per_image_parallelism(shape.batch);
    let mut grad_x = vec![0.0; x.len()];
    grad_x
        .par_chunks_mut(shape.in_image())
        .zip(grad_out.par_chunks(shape.out_image()))
        .for_each(|(dx, dy)| {
            let (w, dy) = (Matrix::new(weight, s, h), Matrix::new(dy, h, c));
            product(
                MatrixMut::new(dx, s, c),
                w,
                dy,
                Store::Scaled(1.0),
                parallelism,
            );
        });
    let partials: Vec<(Vec<f32>, Vec<f32>)> = x
        .par_chunks(IMAGES_PER_TASK * shape.in_image())
        .zip(grad_out.par_chunks(IMAGES_PER_TASK * shape.out_image()))
        .map(|(xs, dys)| {
            let (mut grad_weight, mut grad_bias) = (vec![0.0; s * h], vec![0.0; h]);
            let images = xs
                .chunks(shape.in_image())
                .zip(dys.chunks(shape.out_image()));
            for (i, (x, dy)) in images.enumerate() {
                product(
                    MatrixMut::new(&mut grad_weight, s, h),
                    Matrix::new(x, s, c),
                    Matrix::new(dy, h, c).transposed(),
                    Store::term(i),
                    parallelism,
                );
                for (sum, row) in grad_bias.iter_mut().zip(dy.chunks_exact(c)) {
                    *sum += lanes_sum(row);
                }
            }
            (grad_weight, grad_bias)
        })
        .collect();
    let (weights, biases): (Vec<_>, Vec<_>) = partials.into_iter().unzip();
    (grad_x, sum_in_order(weights), sum_in_order(biases))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linear::cpu::{self as last_axis, LinearShape};
    use crate::test_values::{on_threads, values};

    const SHAPE: TokenLinearShape = TokenLinearShape {
        batch: 3,
        tokens: 5,
        channels: 4,
        d_out: 6,
    };

    /// `[b, r, c]` → `[b, c, r]`.
    fn swap_last_two(values: &[f32], b: usize, r: usize, c: usize) -> Vec<f32> {
        let mut out = vec![0.0; values.len()];
        for img in 0..b {
            for i in 0..r {
                for j in 0..c {
                    out[img * r * c + j * r + i] = values[img * r * c + i * c + j];
                }
            }
        }
        out
    }

    /// The same layer through the last-axis kernel, with explicit transposes (burn's way).
    #[test]
    fn equals_the_last_axis_layer_between_transposes() {
        let TokenLinearShape {
            batch: b,
            tokens: s,
            channels: c,
            d_out: h,
        } = SHAPE;
        let (x, w, bias) = (values(b * s * c, 1), values(s * h, 2), values(h, 3));
        let grad_out = values(b * h * c, 4);
        let last = LinearShape {
            rows: b * c,
            d_in: s,
            d_out: h,
        };

        let ours = forward(SHAPE, &x, &w, &bias);
        let theirs = last_axis::forward(last, &swap_last_two(&x, b, s, c), &w, &bias);
        let close = |a: &[f32], b: &[f32], what: &str| {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert!((x - y).abs() <= 1e-5, "{what}[{i}]: {x} vs {y}");
            }
        };
        close(&ours, &swap_last_two(&theirs, b, c, h), "output");

        let (dx, dw, db) = backward(SHAPE, &x, &w, &grad_out);
        let (tdx, tdw, tdb) = last_axis::backward(
            last,
            &swap_last_two(&x, b, s, c),
            &w,
            &swap_last_two(&grad_out, b, h, c),
        );
        close(&dx, &swap_last_two(&tdx, b, c, s), "input gradient");
        close(&dw, &tdw, "weight gradient");
        close(&db, &tdb, "bias gradient");
    }

    #[test]
    fn results_do_not_depend_on_the_number_of_threads() {
        // More images than one task, and a ragged last task.
        let shape = TokenLinearShape {
            batch: 2 * IMAGES_PER_TASK + 3,
            ..SHAPE
        };
        let x = values(shape.batch * shape.in_image(), 5);
        let w = values(shape.tokens * shape.d_out, 6);
        let bias = values(shape.d_out, 7);
        let grad_out = values(shape.batch * shape.out_image(), 8);
        let run = |threads| {
            on_threads(threads, || {
                (
                    forward(shape, &x, &w, &bias),
                    backward(shape, &x, &w, &grad_out),
                )
            })
        };
        assert_eq!(run(1), run(3));
    }
}
