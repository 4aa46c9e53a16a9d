//! Multi-head self-attention on `f32` slices, read straight from the fused q/k/v projection and
//! written straight into the layout the output projection reads, so no head is ever copied.
//!
//! `qkv [b, t, 3·d]` holds, along its last axis, q, k and v, each `[heads, dh]`; head `h` of
//! image `b` is then a `[t, dh]` matrix with row stride `3·d`, and its output a `[t, dh]` block
//! of `out [b, t, d]` with row stride `d`. With `s = 1/√dh`:
//!
//! ```text
//! forward    S = s · Q Kᵀ     P = softmax over each row of S     O = P V
//! backward   dV = Pᵀ dO       dP = dO Vᵀ      dS = P ⊙ (dP − rowsum(P ⊙ dP))
//!            dQ = s · dS K    dK = s · dSᵀ Q
//! ```
//!
//! The backward pass recomputes P from q and k (one small product per head) instead of keeping
//! a `t × t` matrix per head and image between the passes. Images are spread over rayon's pool
//! and each is computed the same way whatever the number of threads.

use gemm::Parallelism;
use rayon::prelude::*;

use crate::matrix::{Matrix, MatrixMut, Store, product};
use crate::vector_math::{exp_non_positive, has_fma, lanes_dot, lanes_max, lanes_sum};

/// The sizes of one attention call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionShape {
    pub batch: usize,
    pub tokens: usize,
    pub heads: usize,
    pub head_dim: usize,
}

impl AttentionShape {
    /// `d`, the model width: the output's last axis.
    pub fn width(&self) -> usize {
        self.heads * self.head_dim
    }

    fn qkv_image(&self) -> usize {
        self.tokens * 3 * self.width()
    }

    fn out_image(&self) -> usize {
        self.tokens * self.width()
    }

    pub fn qkv_len(&self) -> usize {
        self.batch * self.qkv_image()
    }

    pub fn out_len(&self) -> usize {
        self.batch * self.out_image()
    }

    fn scale(&self) -> f32 {
        (self.head_dim as f32).sqrt().recip()
    }

    /// Head `head` of part `part` (0 = q, 1 = k, 2 = v) of one image's `qkv`, as `[t, dh]`.
    fn qkv_head<'a>(&self, qkv: &'a [f32], part: usize, head: usize) -> Matrix<'a> {
        let offset = part * self.width() + head * self.head_dim;
        Matrix::with_row_stride(&qkv[offset..], self.tokens, self.head_dim, 3 * self.width())
    }

    /// The same place in a mutable `[t, 3·d]` image (the gradient of `qkv`).
    fn qkv_head_mut<'a>(&self, qkv: &'a mut [f32], part: usize, head: usize) -> MatrixMut<'a> {
        let offset = part * self.width() + head * self.head_dim;
        MatrixMut::with_row_stride(
            &mut qkv[offset..],
            self.tokens,
            self.head_dim,
            3 * self.width(),
        )
    }

    /// Head `head` of one image's `[t, d]` output (or its gradient).
    fn out_head<'a>(&self, out: &'a [f32], head: usize) -> Matrix<'a> {
        let offset = head * self.head_dim;
        Matrix::with_row_stride(&out[offset..], self.tokens, self.head_dim, self.width())
    }

    fn out_head_mut<'a>(&self, out: &'a mut [f32], head: usize) -> MatrixMut<'a> {
        let offset = head * self.head_dim;
        MatrixMut::with_row_stride(&mut out[offset..], self.tokens, self.head_dim, self.width())
    }
}

/// The attention output `[b, t, d]` of `qkv [b, t, 3·d]`.
pub fn forward(shape: AttentionShape, qkv: &[f32]) -> Vec<f32> {
    assert_eq!(
        qkv.len(),
        shape.qkv_len(),
        "attention: qkv has the wrong size"
    );
    let t = shape.tokens;
    let mut out = vec![0.0; shape.out_len()];
    out.par_chunks_mut(shape.out_image())
        .zip(qkv.par_chunks(shape.qkv_image()))
        .for_each_init(
            || vec![0.0; t * t],
            |probs, (out, qkv)| {
                for head in 0..shape.heads {
                    attention_probabilities(shape, qkv, head, probs);
                    let probs = Matrix::new(probs, t, t);
                    product(
                        shape.out_head_mut(out, head),
                        probs,
                        shape.qkv_head(qkv, 2, head),
                        Store::Scaled(1.0),
                        Parallelism::None,
                    );
                }
            },
        );
    out
}

/// The gradient of the loss with respect to `qkv [b, t, 3·d]`, given that with respect to the
/// output, `grad_out [b, t, d]`.
pub fn backward(shape: AttentionShape, qkv: &[f32], grad_out: &[f32]) -> Vec<f32> {
    assert_eq!(
        qkv.len(),
        shape.qkv_len(),
        "attention: qkv has the wrong size"
    );
    assert_eq!(
        grad_out.len(),
        shape.out_len(),
        "attention: gradient has the wrong size"
    );
    let t = shape.tokens;
    let scale = shape.scale();
    let mut grad_qkv = vec![0.0; shape.qkv_len()];
    grad_qkv
        .par_chunks_mut(shape.qkv_image())
        .zip(qkv.par_chunks(shape.qkv_image()))
        .zip(grad_out.par_chunks(shape.out_image()))
        .for_each_init(
            || (vec![0.0; t * t], vec![0.0; t * t]),
            |(probs, grad_scores), ((grad_qkv, qkv), grad_out)| {
                for head in 0..shape.heads {
                    attention_probabilities(shape, qkv, head, probs);
                    let grad_head = shape.out_head(grad_out, head);
                    // dV = Pᵀ dO
                    product(
                        shape.qkv_head_mut(grad_qkv, 2, head),
                        Matrix::new(probs, t, t).transposed(),
                        grad_head,
                        Store::Scaled(1.0),
                        Parallelism::None,
                    );
                    // dP = dO Vᵀ, then dS in place.
                    product(
                        MatrixMut::new(grad_scores, t, t),
                        grad_head,
                        shape.qkv_head(qkv, 2, head).transposed(),
                        Store::Scaled(1.0),
                        Parallelism::None,
                    );
                    match has_fma() {
                        // SAFETY: `has_fma` checked that the CPU has AVX2 and FMA.
                        #[cfg(target_arch = "x86_64")]
                        true => unsafe {
                            fma_kernels::softmax_backward_rows(probs, grad_scores, t)
                        },
                        _ => softmax_backward_rows(probs, grad_scores, t),
                    }
                    let grad_scores = Matrix::new(grad_scores, t, t);
                    // dQ = s · dS K, dK = s · dSᵀ Q
                    product(
                        shape.qkv_head_mut(grad_qkv, 0, head),
                        grad_scores,
                        shape.qkv_head(qkv, 1, head),
                        Store::Scaled(scale),
                        Parallelism::None,
                    );
                    product(
                        shape.qkv_head_mut(grad_qkv, 1, head),
                        grad_scores.transposed(),
                        shape.qkv_head(qkv, 0, head),
                        Store::Scaled(scale),
                        Parallelism::None,
                    );
                }
            },
        );
    grad_qkv
}

/// `probs [t, t]` = softmax over each row of `s · Q Kᵀ` for one head of one image.
fn attention_probabilities(shape: AttentionShape, qkv: &[f32], head: usize, probs: &mut [f32]) {
    let t = shape.tokens;
    product(
        MatrixMut::new(probs, t, t),
        shape.qkv_head(qkv, 0, head),
        shape.qkv_head(qkv, 1, head).transposed(),
        Store::Scaled(shape.scale()),
        Parallelism::None,
    );
    match has_fma() {
        // SAFETY: `has_fma` checked that the CPU has AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        true => unsafe { fma_kernels::softmax_rows(probs, t) },
        _ => softmax_rows(probs, t),
    }
}

/// Softmax over each row of length `t`, in place.
#[inline(always)]
fn softmax_rows(values: &mut [f32], t: usize) {
    for row in values.chunks_exact_mut(t) {
        let max = lanes_max(row);
        for v in row.iter_mut() {
            let shifted = *v - max;
            // `exp_non_positive` maps a NaN to a number; keep it a NaN, as a diverged run's
            // scores must stay visible in its loss.
            *v = match shifted.is_nan() {
                true => shifted,
                false => exp_non_positive(shifted),
            };
        }
        let inverse = lanes_sum(row).recip();
        row.iter_mut().for_each(|v| *v *= inverse);
    }
}

/// `dS = P ⊙ (dP − rowsum(P ⊙ dP))`, each row of length `t`, written over `dP`.
#[inline(always)]
fn softmax_backward_rows(probs: &[f32], grads: &mut [f32], t: usize) {
    for (p, g) in probs.chunks_exact(t).zip(grads.chunks_exact_mut(t)) {
        let dot = lanes_dot(p, g);
        for (g, p) in g.iter_mut().zip(p) {
            *g = p * (*g - dot);
        }
    }
}

/// The row loops compiled with AVX2 and FMA (the `inline(always)` bodies inline here).
#[cfg(target_arch = "x86_64")]
mod fma_kernels {
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn softmax_rows(values: &mut [f32], t: usize) {
        super::softmax_rows(values, t)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn softmax_backward_rows(probs: &[f32], grads: &mut [f32], t: usize) {
        super::softmax_backward_rows(probs, grads, t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_values::{on_threads, values};

    /// Attention in f64, by the definition, one image and head at a time.
    fn reference(shape: AttentionShape, qkv: &[f64]) -> Vec<f64> {
        let (t, dh, d) = (shape.tokens, shape.head_dim, shape.width());
        let at = |b: usize, i: usize, part: usize, h: usize, c: usize| {
            qkv[b * t * 3 * d + i * 3 * d + part * d + h * dh + c]
        };
        let mut out = vec![0.0; shape.out_len()];
        for b in 0..shape.batch {
            for h in 0..shape.heads {
                for i in 0..t {
                    let scores: Vec<f64> = (0..t)
                        .map(|j| {
                            let dot: f64 =
                                (0..dh).map(|c| at(b, i, 0, h, c) * at(b, j, 1, h, c)).sum();
                            dot / (dh as f64).sqrt()
                        })
                        .collect();
                    let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let exps: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                    let sum: f64 = exps.iter().sum();
                    for c in 0..dh {
                        let value: f64 = (0..t).map(|j| exps[j] / sum * at(b, j, 2, h, c)).sum();
                        out[b * t * d + i * d + h * dh + c] = value;
                    }
                }
            }
        }
        out
    }

    const SHAPE: AttentionShape = AttentionShape {
        batch: 2,
        tokens: 5,
        heads: 3,
        head_dim: 4,
    };

    fn widen(v: &[f32]) -> Vec<f64> {
        v.iter().map(|&a| a as f64).collect()
    }

    #[test]
    fn forward_matches_the_definition() {
        let qkv: Vec<f32> = values(SHAPE.qkv_len(), 1).iter().map(|v| 3.0 * v).collect();
        let ours = forward(SHAPE, &qkv);
        let want = reference(SHAPE, &widen(&qkv));
        for (i, (a, b)) in ours.iter().zip(&want).enumerate() {
            assert!((*a as f64 - b).abs() <= 1e-5, "output {i}: {a} vs {b}");
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let qkv: Vec<f32> = values(SHAPE.qkv_len(), 2).iter().map(|v| 2.0 * v).collect();
        let weights = values(SHAPE.out_len(), 3);
        let ours = backward(SHAPE, &qkv, &weights);
        // L = Σ weights · out, in f64.
        let loss = |qkv: &[f64]| -> f64 {
            reference(SHAPE, qkv)
                .iter()
                .zip(&weights)
                .map(|(o, &w)| o * w as f64)
                .sum()
        };
        let qkv64 = widen(&qkv);
        let h = 1e-6;
        for (i, &value) in ours.iter().enumerate() {
            let (mut up, mut down) = (qkv64.clone(), qkv64.clone());
            up[i] += h;
            down[i] -= h;
            let want = (loss(&up) - loss(&down)) / (2.0 * h);
            assert!(
                (value as f64 - want).abs() <= 1e-4 * want.abs().max(1.0),
                "qkv element {i}: {value} vs {want}"
            );
        }
    }

    #[test]
    fn results_do_not_depend_on_the_number_of_threads() {
        let shape = AttentionShape { batch: 7, ..SHAPE };
        let qkv = values(shape.qkv_len(), 4);
        let grad_out = values(shape.out_len(), 5);
        let run = |threads| {
            on_threads(threads, || {
                (forward(shape, &qkv), backward(shape, &qkv, &grad_out))
            })
        };
        assert_eq!(run(1), run(3));
    }

    #[test]
    fn a_nan_score_stays_a_nan() {
        let mut qkv = values(SHAPE.qkv_len(), 6);
        qkv[0] = f32::NAN; // a query of image 0, head 0, token 0
        let out = forward(SHAPE, &qkv);
        let d = SHAPE.width();
        assert!(
            out[..SHAPE.head_dim].iter().all(|v| v.is_nan()),
            "{:?}",
            &out[..d]
        );
        // Other images are untouched.
        assert!(out[SHAPE.out_len() / 2..].iter().all(|v| v.is_finite()));
    }
}
