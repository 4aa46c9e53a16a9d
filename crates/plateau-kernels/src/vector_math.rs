//! Pieces of the kernels that several of them share: an `exp` the compiler can vectorise,
//! whether the loops may be compiled for AVX2 and FMA, and reductions in a fixed order.

/// `e^x` for `x ≤ 0` (what GELU and softmax need), to about 2 ulp; 0 below −87.
#[inline(always)]
pub(crate) fn exp_non_positive(x: f32) -> f32 {
    // `max` and `min` return the bound for a NaN (`clamp` would keep the NaN), so x is finite
    // from here on.
    #[allow(clippy::manual_clamp)]
    let x = x.max(-87.0).min(0.0);
    // e^x = 2^n · e^r with n = round(x / ln 2), |r| ≤ ln 2 / 2.
    let n = (x * std::f32::consts::LOG2_E).round();
    let r = n.mul_add(-0.693_145_75, x);
    let r = n.mul_add(-1.428_606_8e-6, r);
    // Taylor series of e^r to degree 6 (error below 2e-8 on |r| ≤ 0.347).
    let p = 1.0 / 720.0;
    let p = p * r + 1.0 / 120.0;
    let p = p * r + 1.0 / 24.0;
    let p = p * r + 1.0 / 6.0;
    let p = p * r + 0.5;
    let p = p * r + 1.0;
    let p = p * r + 1.0;
    // 2^n through the exponent bits. `as i32` would be scalar code here (it must saturate
    // and map NaN to 0), and this loop's slowest part.
    // SAFETY: x is finite in [−87, 0], so n is an integer in [−126, 0].
    let n = unsafe { n.to_int_unchecked::<i32>() };
    let scale = f32::from_bits(((n + 127) as u32) << 23);
    p * scale
}

/// Whether the loops can run compiled for AVX2 and FMA. Baseline x86-64 has neither, and
/// without them `mul_add` and `round` are library calls that keep the loops scalar. The
/// results are the same either way (`mul_add` rounds once in both).
pub(crate) fn has_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Partial results kept side by side by the reductions below: a single running sum cannot be
/// vectorised (float addition does not reassociate), eight interleaved ones can, and their
/// order is fixed, so results do not depend on the CPU.
const LANES: usize = 8;

/// Reduces `values` with `combine` into [`LANES`] interleaved partial results, then those and
/// the ragged tail in order.
#[inline(always)]
fn reduce_lanes(values: &[f32], start: f32, combine: impl Fn(f32, f32) -> f32) -> f32 {
    let mut lanes = [start; LANES];
    let chunks = values.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane = combine(*lane, v);
        }
    }
    lanes
        .into_iter()
        .chain(tail.iter().copied())
        .fold(start, combine)
}

/// `Σ values`.
#[inline(always)]
pub(crate) fn lanes_sum(values: &[f32]) -> f32 {
    reduce_lanes(values, 0.0, |a, b| a + b)
}

/// The largest of `values` (−∞ for none); NaNs are passed over, as by `f32::max`.
#[inline(always)]
pub(crate) fn lanes_max(values: &[f32]) -> f32 {
    reduce_lanes(values, f32::NEG_INFINITY, f32::max)
}

/// `Σ a·b`.
#[inline(always)]
pub(crate) fn lanes_dot(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(
        a.len(),
        b.len(),
        "dot product of slices of different lengths"
    );
    let mut lanes = [0.0; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (a, b) in a_chunks.zip(b_chunks) {
        for ((lane, x), y) in lanes.iter_mut().zip(a).zip(b) {
            *lane += x * y;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// The element-wise sum of equally long vectors, added in their order (partial results of
/// parallel tasks, so that the total does not depend on how many threads made them).
pub(crate) fn sum_in_order(parts: Vec<Vec<f32>>) -> Vec<f32> {
    let mut parts = parts.into_iter();
    let mut total = parts.next().unwrap_or_default();
    for part in parts {
        assert_eq!(part.len(), total.len(), "partial sums of different lengths");
        total.iter_mut().zip(&part).for_each(|(t, p)| *t += p);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_std_for_non_positive_arguments() {
        for i in 0..=8700 {
            let x = -(i as f32) / 100.0;
            let (ours, std) = (exp_non_positive(x), x.exp());
            assert!(
                (ours - std).abs() <= 3.0 * f32::EPSILON * std,
                "exp({x}) = {ours}, std {std}"
            );
        }
    }

    #[test]
    fn lane_reductions_match_plain_ones() {
        for len in [0, 1, 7, 8, 9, 65] {
            let a: Vec<f32> = (0..len).map(|i| ((i * 37) % 11) as f32 - 5.0).collect();
            let b: Vec<f32> = (0..len).map(|i| ((i * 13) % 7) as f32 * 0.5).collect();
            // Small integers and halves: every order of summation gives the exact result.
            assert_eq!(lanes_sum(&a), a.iter().sum::<f32>(), "sum of {len}");
            let dot: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert_eq!(lanes_dot(&a, &b), dot, "dot of {len}");
            let max = a.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            assert_eq!(lanes_max(&a), max, "max of {len}");
        }
        assert_eq!(lanes_max(&[1.0, f32::NAN, 3.0]), 3.0);
    }
}
