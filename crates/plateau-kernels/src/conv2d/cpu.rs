//! 2-D convolution on the CPU as im2col + one matrix product per image, for the forward pass
//! and both gradients. NCHW `f32`, no groups, no dilation, any kernel, stride and padding.
//!
//! Why our own: burn's generic backward computes the weight gradient as a convolution whose
//! kernel is the whole output map and the input gradient as a transposed convolution, with
//! layout changes around each; on narrow channels that is most of a CNN's training step. Here
//! every pass is a dense product with the batch's spatial positions as one long dimension:
//!
//! ```text
//! forward        Y_b  [Co, HWo]     = W [Co, CiKK] · cols(X_b) [CiKK, HWo]
//! input grad     dX_b               = col2im(Wᵀ [CiKK, Co] · dY_b [Co, HWo])
//! weight grad    dW   [Co, CiKK]    = Σ_b dY_b [Co, HWo] · cols(X_b)ᵀ [HWo, CiKK]
//! ```
//!
//! Images are spread over rayon's pool; the weight gradient sums fixed chunks of the batch in a
//! fixed order, so results do not depend on the number of threads.

use rayon::prelude::*;

use crate::matrix::{Matrix, MatrixMut, Store, per_image_parallelism, product};
use crate::vector_math::sum_in_order;

/// The shapes of one convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    pub batch: usize,
    pub c_in: usize,
    pub height: usize,
    pub width: usize,
    pub c_out: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
}

impl ConvGeometry {
    pub fn out_height(&self) -> usize {
        (self.height + 2 * self.padding[0] - self.kernel[0]) / self.stride[0] + 1
    }

    pub fn out_width(&self) -> usize {
        (self.width + 2 * self.padding[1] - self.kernel[1]) / self.stride[1] + 1
    }

    /// Rows of an image's column matrix: `Ci · Kh · Kw`.
    fn col_rows(&self) -> usize {
        self.c_in * self.kernel[0] * self.kernel[1]
    }

    /// Output positions of one image: `Ho · Wo`.
    fn out_plane(&self) -> usize {
        self.out_height() * self.out_width()
    }

    fn in_image(&self) -> usize {
        self.c_in * self.height * self.width
    }

    fn out_image(&self) -> usize {
        self.c_out * self.out_plane()
    }

    /// A 1×1 kernel at stride 1 without padding reads the image itself as its column matrix.
    fn is_pointwise(&self) -> bool {
        self.kernel == [1, 1] && self.stride == [1, 1] && self.padding == [0, 0]
    }

    pub fn input_len(&self) -> usize {
        self.batch * self.in_image()
    }

    pub fn weight_len(&self) -> usize {
        self.c_out * self.col_rows()
    }

    pub fn output_len(&self) -> usize {
        self.batch * self.out_image()
    }
}

/// Images per partial sum of the weight gradient: fixed, so the summation order is too.
const WEIGHT_GRAD_CHUNK: usize = 8;

/// The output columns `ow` whose input column `ow·stride + offset − padding` lies inside
/// `0..size`: a contiguous range, so the inner loops need no bounds checks.
fn valid_outputs(
    out: usize,
    size: usize,
    stride: usize,
    offset: usize,
    padding: usize,
) -> (usize, usize) {
    // ow·s + offset ≥ padding  ⇔  ow ≥ ⌈(padding − offset) / s⌉
    let first = padding.saturating_sub(offset).div_ceil(stride).min(out);
    // ow·s + offset − padding < size  ⇔  ow·s < size + padding − offset
    let end = match (size + padding).checked_sub(offset) {
        Some(limit) => limit.div_ceil(stride).min(out),
        None => 0,
    };
    (first, end.max(first))
}

/// For stride 1 with the output as wide as the input (the usual "same" padding), the row of
/// the column matrix for kernel offset `(ki, kj)` is the image plane itself shifted by one flat
/// offset: `cols[oh·W + ow] = plane[oh·W + ow + offset]`, except where the shifted read leaves
/// the image at its left or right edge and lands in a neighbouring row. Copying (or adding)
/// that whole range at once replaces one short copy per output row.
struct ShiftedPlane {
    /// `plane index − cols index`
    offset: isize,
    /// The range of `cols` indices whose shifted read lies inside the plane.
    start: usize,
    end: usize,
}

impl ShiftedPlane {
    fn new(g: &ConvGeometry, ki: usize, kj: usize, valid_rows: (usize, usize)) -> Option<Self> {
        if g.stride != [1, 1] || g.out_width() != g.width {
            return None;
        }
        let offset = (ki as isize - g.padding[0] as isize) * g.width as isize + kj as isize
            - g.padding[1] as isize;
        let plane = (g.height * g.width) as isize;
        let (lo, hi) = (valid_rows.0 * g.width, valid_rows.1 * g.width);
        let start = lo.max((-offset).max(0) as usize).min(hi);
        let end = hi.min((plane - offset).max(0) as usize).max(start);
        Some(Self { offset, start, end })
    }

    /// The plane indices read by `cols[start..end]` (none when that range is empty: the
    /// offset may then point before the plane).
    fn source(&self) -> std::ops::Range<usize> {
        match self.start < self.end {
            true => {
                let shifted = |i: usize| (i as isize + self.offset) as usize;
                shifted(self.start)..shifted(self.end)
            }
            false => 0..0,
        }
    }
}

/// The column matrix `[Ci·Kh·Kw, Ho·Wo]` of one image `[Ci, H, W]`; padding reads as zero.
fn im2col(g: &ConvGeometry, image: &[f32], cols: &mut [f32]) {
    let (ho, wo) = (g.out_height(), g.out_width());
    let [kh, kw] = g.kernel;
    let [sh, sw] = g.stride;
    let [ph, pw] = g.padding;
    let mut rows = cols.chunks_exact_mut(ho * wo);
    for plane in image.chunks_exact(g.height * g.width) {
        for ki in 0..kh {
            let (oh_first, oh_end) = valid_outputs(ho, g.height, sh, ki, ph);
            for kj in 0..kw {
                let out = rows.next().expect("cols holds Ci·Kh·Kw rows");
                let (ow_first, ow_end) = valid_outputs(wo, g.width, sw, kj, pw);
                if let Some(shift) = ShiftedPlane::new(g, ki, kj, (oh_first, oh_end)) {
                    out[..shift.start].fill(0.0);
                    out[shift.start..shift.end].copy_from_slice(&plane[shift.source()]);
                    out[shift.end..].fill(0.0);
                    // Columns left or right of the image read a neighbouring row: zero them.
                    for line in out[oh_first * wo..oh_end * wo].chunks_exact_mut(wo) {
                        line[..ow_first].fill(0.0);
                        line[ow_end..].fill(0.0);
                    }
                    continue;
                }
                out[..oh_first * wo].fill(0.0);
                out[oh_end * wo..].fill(0.0);
                for oh in oh_first..oh_end {
                    let line = &mut out[oh * wo..(oh + 1) * wo];
                    let ih = oh * sh + ki - ph;
                    let src = &plane[ih * g.width..(ih + 1) * g.width];
                    line[..ow_first].fill(0.0);
                    line[ow_end..].fill(0.0);
                    let iw_first = ow_first * sw + kj - pw;
                    let line = &mut line[ow_first..ow_end];
                    match sw {
                        1 => line.copy_from_slice(&src[iw_first..iw_first + line.len()]),
                        _ => line
                            .iter_mut()
                            .zip(src[iw_first..].iter().step_by(sw))
                            .for_each(|(value, x)| *value = *x),
                    }
                }
            }
        }
    }
}

/// Adds a column matrix back onto the image it was read from (the adjoint of [`im2col`]).
/// `cols` is scratch: entries that stand for padding may be zeroed on the way.
fn col2im(g: &ConvGeometry, cols: &mut [f32], image: &mut [f32]) {
    let (ho, wo) = (g.out_height(), g.out_width());
    let [kh, kw] = g.kernel;
    let [sh, sw] = g.stride;
    let [ph, pw] = g.padding;
    image.fill(0.0);
    let mut rows = cols.chunks_exact_mut(ho * wo);
    for plane in image.chunks_exact_mut(g.height * g.width) {
        for ki in 0..kh {
            let (oh_first, oh_end) = valid_outputs(ho, g.height, sh, ki, ph);
            for kj in 0..kw {
                let from = rows.next().expect("cols holds Ci·Kh·Kw rows");
                let (ow_first, ow_end) = valid_outputs(wo, g.width, sw, kj, pw);
                if ow_first == ow_end {
                    continue;
                }
                if let Some(shift) = ShiftedPlane::new(g, ki, kj, (oh_first, oh_end)) {
                    // Padding columns would land in a neighbouring row: they add nothing.
                    for line in from[oh_first * wo..oh_end * wo].chunks_exact_mut(wo) {
                        line[..ow_first].fill(0.0);
                        line[ow_end..].fill(0.0);
                    }
                    let from = &from[shift.start..shift.end];
                    let dst = &mut plane[shift.source()];
                    dst.iter_mut().zip(from).for_each(|(x, value)| *x += value);
                    continue;
                }
                for oh in oh_first..oh_end {
                    let ih = oh * sh + ki - ph;
                    let dst = &mut plane[ih * g.width..(ih + 1) * g.width];
                    let iw_first = ow_first * sw + kj - pw;
                    let line = &from[oh * wo + ow_first..oh * wo + ow_end];
                    dst[iw_first..]
                        .iter_mut()
                        .step_by(sw)
                        .zip(line)
                        .for_each(|(x, value)| *x += value);
                }
            }
        }
    }
}

/// `Y = conv(X, W)`: `x [B, Ci, H, W]`, `weight [Co, Ci, Kh, Kw]` → `[B, Co, Ho, Wo]`.
pub fn forward(g: &ConvGeometry, x: &[f32], weight: &[f32]) -> Vec<f32> {
    assert_eq!((x.len(), weight.len()), (g.input_len(), g.weight_len()));
    let mut out = vec![0.0; g.output_len()];
    let parallelism = per_image_parallelism(g.batch);
    out.par_chunks_mut(g.out_image())
        .zip(x.par_chunks(g.in_image()))
        .for_each_init(
            || {
                vec![
                    0.0;
                    if g.is_pointwise() {
                        0
                    } else {
                        g.col_rows() * g.out_plane()
                    }
                ]
            },
            |cols, (y, image)| {
                let cols: &[f32] = match g.is_pointwise() {
                    true => image,
                    false => {
                        im2col(g, image, cols);
                        cols
                    }
                };
                let (m, n, k) = (g.c_out, g.out_plane(), g.col_rows());
                product(
                    MatrixMut::new(y, m, n),
                    Matrix::new(weight, m, k),
                    Matrix::new(cols, k, n),
                    Store::Scaled(1.0),
                    parallelism,
                );
            },
        );
    out
}

/// `dL/dX` from `dL/dY` `[B, Co, Ho, Wo]`.
pub fn backward_input(g: &ConvGeometry, weight: &[f32], grad_out: &[f32]) -> Vec<f32> {
    assert_eq!(
        (weight.len(), grad_out.len()),
        (g.weight_len(), g.output_len())
    );
    let mut grad_in = vec![0.0; g.input_len()];
    let parallelism = per_image_parallelism(g.batch);
    let (m, n, k) = (g.col_rows(), g.out_plane(), g.c_out);
    grad_in
        .par_chunks_mut(g.in_image())
        .zip(grad_out.par_chunks(g.out_image()))
        .for_each_init(
            || vec![0.0; if g.is_pointwise() { 0 } else { m * n }],
            |cols, (dx, dy)| {
                // Wᵀ [CiKK, Co] · dY_b [Co, HWo], W stored as [Co, CiKK].
                let (weight_t, dy) = (
                    Matrix::new(weight, k, m).transposed(),
                    Matrix::new(dy, k, n),
                );
                match g.is_pointwise() {
                    // Wᵀ · dY_b is the image gradient itself.
                    true => product(
                        MatrixMut::new(dx, m, n),
                        weight_t,
                        dy,
                        Store::Scaled(1.0),
                        parallelism,
                    ),
                    false => {
                        product(
                            MatrixMut::new(cols, m, n),
                            weight_t,
                            dy,
                            Store::Scaled(1.0),
                            parallelism,
                        );
                        col2im(g, cols, dx);
                    }
                }
            },
        );
    grad_in
}

/// `dL/dW` `[Co, Ci, Kh, Kw]` from the input and `dL/dY`.
pub fn backward_weight(g: &ConvGeometry, x: &[f32], grad_out: &[f32]) -> Vec<f32> {
    assert_eq!((x.len(), grad_out.len()), (g.input_len(), g.output_len()));
    let (m, n, k) = (g.c_out, g.col_rows(), g.out_plane());
    let parallelism = per_image_parallelism(g.batch);
    let images = WEIGHT_GRAD_CHUNK;
    let partials: Vec<Vec<f32>> = x
        .par_chunks(images * g.in_image())
        .zip(grad_out.par_chunks(images * g.out_image()))
        .map(|(xs, dys)| {
            let mut partial = vec![0.0; m * n];
            let mut cols = vec![0.0; if g.is_pointwise() { 0 } else { n * k }];
            for (i, (image, dy)) in xs
                .chunks(g.in_image())
                .zip(dys.chunks(g.out_image()))
                .enumerate()
            {
                let cols: &[f32] = match g.is_pointwise() {
                    true => image,
                    false => {
                        im2col(g, image, &mut cols);
                        &cols
                    }
                };
                // dW += dY_b [Co, HWo] · cols_bᵀ, cols_b stored as [CiKK, HWo].
                product(
                    MatrixMut::new(&mut partial, m, n),
                    Matrix::new(dy, m, k),
                    Matrix::new(cols, n, k).transposed(),
                    Store::term(i),
                    parallelism,
                );
            }
            partial
        })
        .collect();
    sum_in_order(partials)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_values::{on_threads, values};

    /// The definition, one output at a time.
    fn naive(g: &ConvGeometry, x: &[f32], w: &[f32]) -> Vec<f32> {
        let (ho, wo) = (g.out_height(), g.out_width());
        let mut y = vec![0.0; g.output_len()];
        for b in 0..g.batch {
            for co in 0..g.c_out {
                for oh in 0..ho {
                    for ow in 0..wo {
                        let mut sum = 0.0f64;
                        for ci in 0..g.c_in {
                            for ki in 0..g.kernel[0] {
                                for kj in 0..g.kernel[1] {
                                    let ih =
                                        (oh * g.stride[0] + ki) as isize - g.padding[0] as isize;
                                    let iw =
                                        (ow * g.stride[1] + kj) as isize - g.padding[1] as isize;
                                    if ih < 0
                                        || iw < 0
                                        || ih >= g.height as isize
                                        || iw >= g.width as isize
                                    {
                                        continue;
                                    }
                                    let xi = ((b * g.c_in + ci) * g.height + ih as usize) * g.width
                                        + iw as usize;
                                    let wi =
                                        ((co * g.c_in + ci) * g.kernel[0] + ki) * g.kernel[1] + kj;
                                    sum += x[xi] as f64 * w[wi] as f64;
                                }
                            }
                        }
                        y[((b * g.c_out + co) * ho + oh) * wo + ow] = sum as f32;
                    }
                }
            }
        }
        y
    }

    fn dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
    }

    fn geometries() -> Vec<ConvGeometry> {
        let g = |batch, c_in, size: [usize; 2], c_out, kernel, stride, padding| ConvGeometry {
            batch,
            c_in,
            height: size[0],
            width: size[1],
            c_out,
            kernel,
            stride,
            padding,
        };
        vec![
            g(3, 2, [7, 6], 4, [3, 3], [1, 1], [1, 1]),
            g(9, 3, [8, 8], 5, [3, 3], [2, 2], [1, 1]),
            g(2, 4, [5, 5], 3, [1, 1], [1, 1], [0, 0]),
            g(17, 4, [6, 6], 6, [1, 1], [2, 2], [0, 0]),
            g(1, 3, [9, 7], 2, [7, 5], [2, 3], [3, 2]),
            g(4, 1, [8, 8], 8, [4, 4], [4, 4], [0, 0]),
            // "Same" padding at stride 1 (shifted planes), with uneven kernel sides and a taller
            // output than input.
            g(2, 3, [6, 9], 4, [5, 3], [1, 1], [3, 1]),
            g(3, 2, [4, 5], 3, [5, 5], [1, 1], [2, 2]),
            // Images smaller than the kernel: some kernel rows see no image row at all.
            g(2, 2, [1, 1], 3, [3, 3], [1, 1], [1, 1]),
            g(2, 1, [2, 2], 2, [5, 5], [1, 1], [2, 2]),
        ]
    }

    #[test]
    fn forward_matches_the_definition() {
        for g in geometries() {
            let x = values(g.input_len(), 1);
            let w = values(g.weight_len(), 2);
            let fast = forward(&g, &x, &w);
            let slow = naive(&g, &x, &w);
            for (a, b) in fast.iter().zip(&slow) {
                assert!((a - b).abs() < 1e-4, "{g:?}: {a} vs {b}");
            }
        }
    }

    /// ⟨dY, conv(X, W)⟩ is linear in X and in W, so its gradients are exactly the adjoints:
    /// ⟨dX, X'⟩ = ⟨dY, conv(X', W)⟩ and ⟨dW, W'⟩ = ⟨dY, conv(X, W')⟩ for any X', W'.
    #[test]
    fn gradients_are_the_adjoints_of_the_forward_pass() {
        for g in geometries() {
            let x = values(g.input_len(), 3);
            let w = values(g.weight_len(), 4);
            let dy = values(g.output_len(), 5);
            let probe_x = values(g.input_len(), 6);
            let probe_w = values(g.weight_len(), 7);
            let dx = backward_input(&g, &w, &dy);
            let dw = backward_weight(&g, &x, &dy);
            let lhs = dot(&dx, &probe_x);
            let rhs = dot(&dy, &naive(&g, &probe_x, &w));
            assert!(
                (lhs - rhs).abs() < 1e-3 * (1.0 + rhs.abs()),
                "{g:?} dX: {lhs} vs {rhs}"
            );
            let lhs = dot(&dw, &probe_w);
            let rhs = dot(&dy, &naive(&g, &x, &probe_w));
            assert!(
                (lhs - rhs).abs() < 1e-3 * (1.0 + rhs.abs()),
                "{g:?} dW: {lhs} vs {rhs}"
            );
        }
    }

    #[test]
    fn results_do_not_depend_on_the_number_of_threads() {
        let g = geometries()[3];
        let x = values(g.input_len(), 8);
        let dy = values(g.output_len(), 9);
        let a = on_threads(1, || backward_weight(&g, &x, &dy));
        let b = on_threads(3, || backward_weight(&g, &x, &dy));
        assert!(a == b, "bit for bit");
    }
}
