//! 2-D convolution on the CPU as im2col + one matrix product per group of images, for the
//! forward pass and both gradients. NCHW `f32`, no groups, no dilation, any kernel, stride and
//! padding.
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
//! A small output map (a ResNet's last stages: 2×2 to 8×8) gives one image's product too few
//! columns for the matrix kernel to run near its peak, and the weight gradient then rewrites
//! all of `dW` for a handful of multiply-adds per element. So the images of a group share one
//! product, their columns side by side (`HWo` becomes `G·HWo` above), with `G` fixed by the
//! shapes alone ([`ConvGeometry::images_per_product`]).
//!
//! Groups are spread over rayon's pool; the weight gradient sums fixed chunks of the batch in a
//! fixed order, so results do not depend on the number of threads.

use rayon::prelude::*;

use super::columns::{Placement, col2im, im2col, join_images, split_images};
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

    /// Images per matrix product: enough for [`MIN_PRODUCT_COLUMNS`] output positions, at most
    /// the batch. Depends on the shapes only, so the sums (and results) do too.
    fn images_per_product(&self) -> usize {
        MIN_PRODUCT_COLUMNS
            .div_ceil(self.out_plane().max(1))
            .clamp(1, self.batch.max(1))
    }
}

/// Output positions a product should have at least: the 2×2 to 8×8 maps of the 64 px ResNets
/// (4 to 64 positions) trained 1.8–1.9× faster grouped to 256 (benches/RESULTS.md, session 10);
/// 512 and 1024 were no faster, and slower in evaluation (session 11). 16×16 maps (256) stay one
/// product per image.
const MIN_PRODUCT_COLUMNS: usize = 256;

/// Images per partial sum of the weight gradient: fixed, so the summation order is too.
const WEIGHT_GRAD_CHUNK: usize = 8;

/// Reusable buffers of one worker.
#[derive(Default)]
struct Scratch {
    cols: Vec<f32>,
    joined: Vec<f32>,
}

/// `buffer` as exactly `len` values (their contents are whatever was there).
fn sized(buffer: &mut Vec<f32>, len: usize) -> &mut [f32] {
    buffer.resize(len, 0.0);
    &mut buffer[..len]
}

/// The column matrix `[Ci·Kh·Kw, G·Ho·Wo]` of a group of images `[G, Ci, H, W]`: the images
/// themselves when that is what it would hold (one image, a pointwise kernel).
fn group_columns<'a>(g: &ConvGeometry, images: &'a [f32], buffer: &'a mut Vec<f32>) -> &'a [f32] {
    let count = images.len() / g.in_image();
    if count == 1 && g.is_pointwise() {
        return images;
    }
    let cols = sized(buffer, g.col_rows() * count * g.out_plane());
    for (index, image) in images.chunks_exact(g.in_image()).enumerate() {
        im2col(
            g,
            image,
            cols,
            Placement::of_image(index, count, g.out_plane()),
        );
    }
    cols
}

/// The output maps (or their gradients) of a group of images `[G, Co, Ho, Wo]` as the one
/// matrix `[Co, G·Ho·Wo]` its product makes: the images' own when there is one.
fn group_output<'a>(g: &ConvGeometry, maps: &'a [f32], buffer: &'a mut Vec<f32>) -> &'a [f32] {
    if maps.len() == g.out_image() {
        return maps;
    }
    let joined = sized(buffer, maps.len());
    join_images(maps, joined, g.c_out, g.out_plane());
    joined
}

/// `Y = conv(X, W)`: `x [B, Ci, H, W]`, `weight [Co, Ci, Kh, Kw]` → `[B, Co, Ho, Wo]`.
pub fn forward(g: &ConvGeometry, x: &[f32], weight: &[f32]) -> Vec<f32> {
    assert_eq!((x.len(), weight.len()), (g.input_len(), g.weight_len()));
    let mut out = vec![0.0; g.output_len()];
    let group = g.images_per_product();
    let parallelism = per_image_parallelism(g.batch.div_ceil(group));
    let (m, k, plane) = (g.c_out, g.col_rows(), g.out_plane());
    out.par_chunks_mut(group * g.out_image())
        .zip(x.par_chunks(group * g.in_image()))
        .for_each_init(Scratch::default, |scratch, (y, images)| {
            let count = images.len() / g.in_image();
            let n = count * plane;
            let cols = group_columns(g, images, &mut scratch.cols);
            let (weight, cols) = (Matrix::new(weight, m, k), Matrix::new(cols, k, n));
            let store = Store::Scaled(1.0);
            match count {
                // One image's product is its output map.
                1 => product(MatrixMut::new(y, m, n), weight, cols, store, parallelism),
                _ => {
                    let joined = sized(&mut scratch.joined, m * n);
                    product(
                        MatrixMut::new(joined, m, n),
                        weight,
                        cols,
                        store,
                        parallelism,
                    );
                    split_images(joined, y, m, plane);
                }
            }
        });
    out
}

/// `dL/dX` from `dL/dY` `[B, Co, Ho, Wo]`.
pub fn backward_input(g: &ConvGeometry, weight: &[f32], grad_out: &[f32]) -> Vec<f32> {
    assert_eq!(
        (weight.len(), grad_out.len()),
        (g.weight_len(), g.output_len())
    );
    let mut grad_in = vec![0.0; g.input_len()];
    let group = g.images_per_product();
    let parallelism = per_image_parallelism(g.batch.div_ceil(group));
    let (m, k, plane) = (g.col_rows(), g.c_out, g.out_plane());
    grad_in
        .par_chunks_mut(group * g.in_image())
        .zip(grad_out.par_chunks(group * g.out_image()))
        .for_each_init(Scratch::default, |scratch, (dx, dy)| {
            let count = dy.len() / g.out_image();
            let n = count * plane;
            let dy = group_output(g, dy, &mut scratch.joined);
            // Wᵀ [CiKK, Co] · dY [Co, G·HWo], W stored as [Co, CiKK].
            let (weight_t, dy) = (
                Matrix::new(weight, k, m).transposed(),
                Matrix::new(dy, k, n),
            );
            let store = Store::Scaled(1.0);
            if count == 1 && g.is_pointwise() {
                // Wᵀ · dY_b is the image gradient itself.
                return product(MatrixMut::new(dx, m, n), weight_t, dy, store, parallelism);
            }
            let cols = sized(&mut scratch.cols, m * n);
            product(MatrixMut::new(cols, m, n), weight_t, dy, store, parallelism);
            for (index, image) in dx.chunks_exact_mut(g.in_image()).enumerate() {
                col2im(g, cols, Placement::of_image(index, count, plane), image);
            }
        });
    grad_in
}

/// `dL/dW` `[Co, Ci, Kh, Kw]` from the input and `dL/dY`.
pub fn backward_weight(g: &ConvGeometry, x: &[f32], grad_out: &[f32]) -> Vec<f32> {
    assert_eq!((x.len(), grad_out.len()), (g.input_len(), g.output_len()));
    let (m, n, plane) = (g.c_out, g.col_rows(), g.out_plane());
    let group = g.images_per_product();
    // Whole groups, at least WEIGHT_GRAD_CHUNK images.
    let chunk = group * WEIGHT_GRAD_CHUNK.div_ceil(group);
    let parallelism = per_image_parallelism(g.batch.div_ceil(chunk));
    let partials: Vec<Vec<f32>> = x
        .par_chunks(chunk * g.in_image())
        .zip(grad_out.par_chunks(chunk * g.out_image()))
        .map(|(xs, dys)| {
            let mut partial = vec![0.0; m * n];
            let mut scratch = Scratch::default();
            let groups = xs
                .chunks(group * g.in_image())
                .zip(dys.chunks(group * g.out_image()));
            for (i, (images, dy)) in groups.enumerate() {
                let count = images.len() / g.in_image();
                let k = count * plane;
                let cols = group_columns(g, images, &mut scratch.cols);
                let dy = group_output(g, dy, &mut scratch.joined);
                // dW += dY [Co, G·HWo] · colsᵀ, cols stored as [CiKK, G·HWo].
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
            // Output maps of at least MIN_PRODUCT_COLUMNS positions: one product per image.
            g(3, 2, [16, 17], 3, [3, 3], [1, 1], [1, 1]),
            g(2, 3, [16, 16], 4, [1, 1], [1, 1], [0, 0]),
            // Groups of 7 images (42 positions each), the last one of 3.
            g(10, 2, [7, 6], 3, [3, 3], [1, 1], [1, 1]),
            g(10, 3, [7, 6], 2, [1, 1], [1, 1], [0, 0]),
        ]
    }

    #[test]
    fn small_maps_share_products_and_large_ones_do_not() {
        let sizes: Vec<_> = geometries()
            .iter()
            .map(|g| (g.out_plane(), g.batch, g.images_per_product()))
            .collect();
        assert!(sizes.contains(&(272, 3, 1)), "{sizes:?}");
        assert!(sizes.contains(&(256, 2, 1)), "{sizes:?}");
        assert!(sizes.contains(&(42, 10, 7)), "{sizes:?}");
        assert!(
            sizes.contains(&(42, 3, 3)),
            "capped at the batch: {sizes:?}"
        );
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
        // Several groups, the last one short.
        let grouped = geometries()
            .into_iter()
            .find(|g| g.images_per_product() > 1 && g.batch % g.images_per_product() != 0)
            .expect("a test geometry with uneven groups");
        for g in [geometries()[3], grouped] {
            let x = values(g.input_len(), 8);
            let w = values(g.weight_len(), 10);
            let dy = values(g.output_len(), 9);
            let passes = || {
                (
                    forward(&g, &x, &w),
                    backward_input(&g, &w, &dy),
                    backward_weight(&g, &x, &dy),
                )
            };
            let (a, b) = (on_threads(1, passes), on_threads(3, passes));
            assert!(a == b, "{g:?}: bit for bit");
        }
    }
}
