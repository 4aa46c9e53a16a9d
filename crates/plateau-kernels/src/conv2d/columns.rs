//! Column matrices ("im2col"): the image patches a convolution multiplies, one row per input
//! channel and kernel offset, one column per output position; and their adjoint, which adds
//! such a matrix back onto the image. Several images may share one matrix, side by side.

use super::cpu::ConvGeometry;

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
#[derive(Clone, Copy)]
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

/// Where one image's `Ho·Wo` columns sit in a column matrix that several images share: row `r`
/// of the image is `cols[r·row_stride + offset ..][.. Ho·Wo]`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Placement {
    pub row_stride: usize,
    pub offset: usize,
}

impl Placement {
    /// Image `index` of `images` whose columns lie side by side, `plane` columns each.
    pub fn of_image(index: usize, images: usize, plane: usize) -> Self {
        Self {
            row_stride: images * plane,
            offset: index * plane,
        }
    }

    fn rows<'a>(&self, cols: &'a mut [f32], plane: usize) -> impl Iterator<Item = &'a mut [f32]> {
        cols[self.offset..]
            .chunks_mut(self.row_stride)
            .map(move |row| &mut row[..plane])
    }
}

/// One kernel offset `(ki, kj)`: a row of the column matrix per input channel. `rows` and
/// `cols` are the output rows `oh` and columns `ow` whose input pixel lies inside the image (the
/// others read padding); `shift` is set where the row is a shifted copy of the plane.
struct Tap {
    ki: usize,
    kj: usize,
    rows: (usize, usize),
    cols: (usize, usize),
    shift: Option<ShiftedPlane>,
}

/// The kernel offsets in the column matrix's row order (the same for each input channel).
/// Collected once per image, not per channel: recomputed per channel, their divisions cost
/// nearly as much as a narrow layer's copies (benches/RESULTS.md, session 11).
fn taps(g: &ConvGeometry) -> Vec<Tap> {
    let [kh, kw] = g.kernel;
    (0..kh)
        .flat_map(move |ki| {
            let rows = valid_outputs(g.out_height(), g.height, g.stride[0], ki, g.padding[0]);
            (0..kw).map(move |kj| Tap {
                ki,
                kj,
                rows,
                cols: valid_outputs(g.out_width(), g.width, g.stride[1], kj, g.padding[1]),
                shift: ShiftedPlane::new(g, ki, kj, rows),
            })
        })
        .collect()
}

/// Sets the columns outside `ow_first..ow_end` of every `wo`-wide line to zero: a strided walk
/// per column (with padding 1, a 3×3 kernel has at most one such column per tap), not two fills
/// per line.
fn zero_edge_columns(lines: &mut [f32], wo: usize, (ow_first, ow_end): (usize, usize)) {
    for ow in (0..ow_first).chain(ow_end..wo) {
        lines.iter_mut().skip(ow).step_by(wo).for_each(|v| *v = 0.0);
    }
}

/// The column matrix `[Ci·Kh·Kw, Ho·Wo]` of one image `[Ci, H, W]`, written at `at`; padding
/// reads as zero.
pub(super) fn im2col(g: &ConvGeometry, image: &[f32], cols: &mut [f32], at: Placement) {
    let wo = g.out_width();
    let ([sh, sw], [ph, pw]) = (g.stride, g.padding);
    let taps = taps(g);
    let mut rows = at.rows(cols, g.out_height() * wo);
    for plane in image.chunks_exact(g.height * g.width) {
        for tap in &taps {
            let out = rows.next().expect("cols holds Ci·Kh·Kw rows");
            let ((oh_first, oh_end), (ow_first, ow_end)) = (tap.rows, tap.cols);
            if let Some(shift) = tap.shift {
                out[..shift.start].fill(0.0);
                out[shift.start..shift.end].copy_from_slice(&plane[shift.source()]);
                out[shift.end..].fill(0.0);
                // Columns left or right of the image read a neighbouring row: zero them.
                zero_edge_columns(&mut out[oh_first * wo..oh_end * wo], wo, tap.cols);
                continue;
            }
            out[..oh_first * wo].fill(0.0);
            out[oh_end * wo..].fill(0.0);
            zero_edge_columns(&mut out[oh_first * wo..oh_end * wo], wo, tap.cols);
            for oh in oh_first..oh_end {
                let line = &mut out[oh * wo..(oh + 1) * wo];
                let ih = oh * sh + tap.ki - ph;
                let src = &plane[ih * g.width..(ih + 1) * g.width];
                let iw_first = ow_first * sw + tap.kj - pw;
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

/// Adds the column matrix at `at` back onto the image it was read from (the adjoint of
/// [`im2col`]). `cols` is scratch: entries that stand for padding may be zeroed on the way.
pub(super) fn col2im(g: &ConvGeometry, cols: &mut [f32], at: Placement, image: &mut [f32]) {
    let wo = g.out_width();
    let ([sh, sw], [ph, pw]) = (g.stride, g.padding);
    image.fill(0.0);
    let taps = taps(g);
    let mut rows = at.rows(cols, g.out_height() * wo);
    for plane in image.chunks_exact_mut(g.height * g.width) {
        for tap in &taps {
            let from = rows.next().expect("cols holds Ci·Kh·Kw rows");
            let ((oh_first, oh_end), (ow_first, ow_end)) = (tap.rows, tap.cols);
            if ow_first == ow_end {
                continue;
            }
            if let Some(shift) = tap.shift {
                // Padding columns would land in a neighbouring row: they add nothing.
                zero_edge_columns(&mut from[oh_first * wo..oh_end * wo], wo, tap.cols);
                let from = &from[shift.start..shift.end];
                let dst = &mut plane[shift.source()];
                dst.iter_mut().zip(from).for_each(|(x, value)| *x += value);
                continue;
            }
            for oh in oh_first..oh_end {
                let ih = oh * sh + tap.ki - ph;
                let dst = &mut plane[ih * g.width..(ih + 1) * g.width];
                let iw_first = ow_first * sw + tap.kj - pw;
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

/// `images` matrices `[rows, plane]`, one after another in `separate`, as the one matrix
/// `[rows, images·plane]` they make side by side in `joined`.
pub(super) fn join_images(separate: &[f32], joined: &mut [f32], rows: usize, plane: usize) {
    let images = separate.len() / (rows * plane);
    for (image, matrix) in separate.chunks_exact(rows * plane).enumerate() {
        let at = Placement::of_image(image, images, plane);
        for (row, from) in at.rows(joined, plane).zip(matrix.chunks_exact(plane)) {
            row.copy_from_slice(from);
        }
    }
}

/// The inverse of [`join_images`].
pub(super) fn split_images(joined: &[f32], separate: &mut [f32], rows: usize, plane: usize) {
    let images = separate.len() / (rows * plane);
    for (image, matrix) in separate.chunks_exact_mut(rows * plane).enumerate() {
        let at = Placement::of_image(image, images, plane);
        for (row, to) in matrix.chunks_exact_mut(plane).enumerate() {
            let start = row * at.row_stride + at.offset;
            to.copy_from_slice(&joined[start..start + plane]);
        }
    }
}
