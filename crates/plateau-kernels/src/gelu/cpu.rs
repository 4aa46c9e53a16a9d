//! GELU and its derivative on `f32` slices, written so the compiler vectorises them: `erf` and
//! `exp` are polynomials here rather than calls into libm (which cannot be vectorised).
//!
//! - `gelu(x) = x · Φ(x)`, `Φ(x) = (1 + erf(x / √2)) / 2`;
//! - `gelu'(x) = Φ(x) + x · φ(x)`, `φ(x) = exp(−x² / 2) / √(2π)`.

use rayon::prelude::*;

use crate::vector_math::{exp_non_positive, has_fma};

/// Elements per parallel task: large enough that scheduling costs nothing.
const CHUNK: usize = 1 << 14;

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// 1 / √(2π)
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

/// `erfc(z)` for `z ≥ 0`, with a relative error below 1.2e-7 in exact arithmetic (the
/// Chebyshev fit of Numerical Recipes' `erfcc`): relative, so the far left tail of Φ, where
/// GELU's values are tiny, keeps its digits.
#[inline(always)]
fn erfc_non_negative(z: f32) -> f32 {
    let t = 1.0 / 0.5f32.mul_add(z, 1.0);
    let p = 0.170_872_77f32;
    let p = p.mul_add(t, -0.822_152_23);
    let p = p.mul_add(t, 1.488_515_9);
    let p = p.mul_add(t, -1.135_204);
    let p = p.mul_add(t, 0.278_868_07);
    let p = p.mul_add(t, -0.186_288_06);
    let p = p.mul_add(t, 0.096_784_18);
    let p = p.mul_add(t, 0.374_091_96);
    let p = p.mul_add(t, 1.000_023_7);
    let p = p.mul_add(t, -1.265_512_2);
    t * exp_non_positive((-z).mul_add(z, p).min(0.0))
}

/// Φ(x), the standard normal CDF.
#[inline(always)]
fn normal_cdf(x: f32) -> f32 {
    let tail = 0.5 * erfc_non_negative(x.abs() * FRAC_1_SQRT_2);
    if x < 0.0 { tail } else { 1.0 - tail }
}

/// Φ(x) and φ(x).
#[inline(always)]
fn normal_cdf_and_pdf(x: f32) -> (f32, f32) {
    let pdf = FRAC_1_SQRT_2PI * exp_non_positive(-0.5 * x * x);
    (normal_cdf(x), pdf)
}

/// `gelu(x)` for every element.
pub fn forward(x: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; x.len()];
    let fma = has_fma();
    out.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(out, x)| match fma {
            // SAFETY: `has_fma` checked that the CPU has AVX2 and FMA.
            #[cfg(target_arch = "x86_64")]
            true => unsafe { fma_kernels::forward(out, x) },
            _ => forward_chunk(out, x),
        });
    out
}

/// `grad_out · gelu'(x)` for every element.
pub fn backward(x: &[f32], grad_out: &[f32]) -> Vec<f32> {
    assert_eq!(x.len(), grad_out.len(), "gelu backward: shapes differ");
    let mut out = vec![0.0; x.len()];
    let fma = has_fma();
    out.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK).zip(grad_out.par_chunks(CHUNK)))
        .for_each(|(out, (x, grad))| match fma {
            // SAFETY: `has_fma` checked that the CPU has AVX2 and FMA.
            #[cfg(target_arch = "x86_64")]
            true => unsafe { fma_kernels::backward(out, x, grad) },
            _ => backward_chunk(out, x, grad),
        });
    out
}

#[inline(always)]
fn forward_chunk(out: &mut [f32], x: &[f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = v * normal_cdf(v);
    }
}

#[inline(always)]
fn backward_chunk(out: &mut [f32], x: &[f32], grad: &[f32]) {
    for ((o, &v), &g) in out.iter_mut().zip(x).zip(grad) {
        let (cdf, pdf) = normal_cdf_and_pdf(v);
        *o = g * v.mul_add(pdf, cdf);
    }
}

/// The same loops, compiled with AVX2 and FMA (the `inline(always)` bodies inline here).
#[cfg(target_arch = "x86_64")]
mod fma_kernels {
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn forward(out: &mut [f32], x: &[f32]) {
        super::forward_chunk(out, x)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn backward(out: &mut [f32], x: &[f32], grad: &[f32]) {
        super::backward_chunk(out, x, grad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GELU and its slope in f64, with `erfc` accurate to relative ~1e-12 in both tails: the
    /// Maclaurin series of erf near 0, the continued fraction of erfc beyond.
    fn reference(x: f64) -> (f64, f64) {
        fn erfc(z: f64) -> f64 {
            if z < 0.0 {
                return 2.0 - erfc(-z);
            }
            if z < 2.0 {
                let (mut term, mut sum, mut n) = (z, z, 0.0);
                while term.abs() > 1e-18 {
                    n += 1.0;
                    term *= -z * z / n;
                    sum += term / (2.0 * n + 1.0);
                }
                return 1.0 - 2.0 / std::f64::consts::PI.sqrt() * sum;
            }
            // erfc(z) = e^(−z²) / √π · 1 / (z + (1/2) / (z + 1 / (z + (3/2) / (z + …))))
            let mut fraction = z;
            for n in (1..=200).rev() {
                fraction = z + (n as f64 / 2.0) / fraction;
            }
            (-z * z).exp() / (std::f64::consts::PI.sqrt() * fraction)
        }
        let cdf = 0.5 * erfc(-x / std::f64::consts::SQRT_2);
        let pdf = (-x * x / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
        (x * cdf, cdf + x * pdf)
    }

    #[test]
    fn gelu_and_its_derivative_match_the_definition() {
        let xs: Vec<f32> = (-1200..=1200).map(|i| i as f32 / 100.0).collect();
        let ones = vec![1.0; xs.len()];
        let (values, slopes) = (forward(&xs), backward(&xs, &ones));
        for ((&x, &value), &slope) in xs.iter().zip(&values).zip(&slopes) {
            let (want, want_slope) = reference(x as f64);
            // Relative everywhere, the far left tail included (values down to ~1e-32); there the
            // f32 rounding of exp's argument, −x²/2, grows the error with x².
            let x64 = x as f64;
            let tolerance = (1e-6 + 2e-7 * x64 * x64) * want.abs() + 1e-37;
            assert!(
                (value as f64 - want).abs() <= tolerance,
                "gelu({x}) = {value}, want {want}"
            );
            assert!(
                (slope as f64 - want_slope).abs() <= 1e-6,
                "gelu'({x}) = {slope}, want {want_slope}"
            );
        }
        // Far tails: zero and the identity, and no NaN or infinity from exp's range.
        let tails = forward(&[-200.0, 200.0, f32::MIN, 0.0]);
        assert!(tails[0].abs() < 1e-30 && tails[1] == 200.0, "{tails:?}");
        assert!(tails[2].abs() < 1e-30 && tails[3] == 0.0, "{tails:?}");
        // A NaN stays a NaN (a diverged run must be seen as such), forward and backward.
        assert!(forward(&[f32::NAN])[0].is_nan());
        assert!(backward(&[f32::NAN], &[1.0])[0].is_nan());
    }
}
