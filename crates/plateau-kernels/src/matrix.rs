//! Matrices inside `f32` slices, read through strides, and their product through the `gemm`
//! crate (what burn's flex backend multiplies with). A transpose is a swap of strides, and a
//! block of a wider matrix (one head of a fused projection, say) is a view with a larger row
//! stride, so no operand is ever copied into shape.

use gemm::Parallelism;

/// A read-only matrix inside a slice: element `(i, j)` at `i · row_stride + j · col_stride`.
#[derive(Clone, Copy)]
pub(crate) struct Matrix<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Matrix<'a> {
    /// `rows × cols`, row-major and contiguous.
    pub(crate) fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::with_row_stride(data, rows, cols, cols)
    }

    /// `rows × cols`, row by row, `row_stride` elements apart.
    pub(crate) fn with_row_stride(
        data: &'a [f32],
        rows: usize,
        cols: usize,
        row_stride: usize,
    ) -> Self {
        assert_fits(data.len(), rows, cols, row_stride);
        Self {
            data,
            rows,
            cols,
            row_stride,
            col_stride: 1,
        }
    }

    /// The same elements read as the transpose: strides swap, nothing moves.
    pub(crate) fn transposed(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }
}

/// A matrix to write, row by row (`row_stride` apart), inside a slice.
pub(crate) struct MatrixMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
}

impl<'a> MatrixMut<'a> {
    /// `rows × cols`, row-major and contiguous.
    pub(crate) fn new(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        Self::with_row_stride(data, rows, cols, cols)
    }

    pub(crate) fn with_row_stride(
        data: &'a mut [f32],
        rows: usize,
        cols: usize,
        row_stride: usize,
    ) -> Self {
        assert_fits(data.len(), rows, cols, row_stride);
        Self {
            data,
            rows,
            cols,
            row_stride,
        }
    }
}

/// Panics unless every element of a row-major `rows × cols` matrix, rows `row_stride` apart,
/// lies below `len`.
fn assert_fits(len: usize, rows: usize, cols: usize, row_stride: usize) {
    let fits = rows == 0 || cols == 0 || (rows - 1) * row_stride + cols - 1 < len;
    assert!(
        fits,
        "a {rows}×{cols} matrix with row stride {row_stride} does not fit in {len} values"
    );
}

/// For one product per image: single-threaded products spread over rayon's pool when there
/// are at least as many images as threads, else each product split among the threads.
pub(crate) fn per_image_parallelism(images: usize) -> Parallelism {
    match images >= rayon::current_num_threads() {
        true => Parallelism::None,
        false => Parallelism::Rayon(0),
    }
}

/// How a product is stored into `dst`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Store {
    /// `dst = scale · lhs · rhs`
    Scaled(f32),
    /// `dst += lhs · rhs`
    Add,
}

impl Store {
    /// For term `index` of a sum of products into one `dst`: the first overwrites, the rest add.
    pub(crate) fn term(index: usize) -> Self {
        match index {
            0 => Store::Scaled(1.0),
            _ => Store::Add,
        }
    }
}

/// `dst = scale · lhs · rhs` or `dst += lhs · rhs`, as `store` says.
pub(crate) fn product(
    dst: MatrixMut,
    lhs: Matrix,
    rhs: Matrix,
    store: Store,
    parallelism: Parallelism,
) {
    assert!(
        dst.rows == lhs.rows && lhs.cols == rhs.rows && dst.cols == rhs.cols,
        "matrix shapes do not chain: [{}, {}] = [{}, {}] · [{}, {}]",
        dst.rows,
        dst.cols,
        lhs.rows,
        lhs.cols,
        rhs.rows,
        rhs.cols
    );
    let (accumulate, scale) = match store {
        Store::Scaled(scale) => (false, scale),
        Store::Add => (true, 1.0),
    };
    if lhs.cols == 0 {
        // An empty sum (gemm is not asked to handle it).
        if !accumulate {
            for row in dst.data.chunks_mut(dst.row_stride.max(1)).take(dst.rows) {
                row[..dst.cols].fill(0.0);
            }
        }
        return;
    }
    // SAFETY: the constructors checked that every element the strides reach lies inside its
    // slice, and `dst` is a unique borrow, so it aliases neither operand.
    unsafe {
        gemm::gemm(
            dst.rows,
            dst.cols,
            lhs.cols,
            dst.data.as_mut_ptr(),
            1,
            dst.row_stride as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            1.0,
            scale,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strided_and_transposed_operands_multiply_as_the_matrices_they_view() {
        // lhs: the 2×3 block at columns 1..4 of a 2×5 matrix; rhs: the transpose of a 2×3.
        let wide = [0., 1., 2., 3., 0., 0., 4., 5., 6., 0.];
        let lhs = Matrix::with_row_stride(&wide[1..], 2, 3, 5);
        let stored = [1., 0., 2., 0., 1., 1.]; // [[1, 0, 2], [0, 1, 1]]
        let rhs = Matrix::new(&stored, 2, 3).transposed(); // [[1, 0], [0, 1], [2, 1]]
        let mut out = [9.0; 4];
        let want = [7., 5., 16., 11.]; // [[1+6, 2+3], [4+12, 5+6]]
        let overwrite = Store::Scaled(1.0);
        product(
            MatrixMut::new(&mut out, 2, 2),
            lhs,
            rhs,
            overwrite,
            Parallelism::None,
        );
        assert_eq!(out, want);
        product(
            MatrixMut::new(&mut out, 2, 2),
            lhs,
            rhs,
            Store::Add,
            Parallelism::None,
        );
        assert_eq!(out, want.map(|v| 2.0 * v));
        let half = Store::Scaled(0.5);
        product(
            MatrixMut::new(&mut out, 2, 2),
            lhs,
            rhs,
            half,
            Parallelism::None,
        );
        assert_eq!(out, want.map(|v| 0.5 * v));
    }

    #[test]
    fn an_empty_sum_is_zero() {
        let mut out = [3.0; 4];
        let empty: [f32; 0] = [];
        let (lhs, rhs) = (Matrix::new(&empty, 2, 0), Matrix::new(&empty, 0, 2));
        let overwrite = Store::Scaled(1.0);
        product(
            MatrixMut::new(&mut out, 2, 2),
            lhs,
            rhs,
            overwrite,
            Parallelism::None,
        );
        assert_eq!(out, [0.0; 4]);
    }

    #[test]
    #[should_panic(expected = "does not fit")]
    fn a_view_past_its_slice_is_refused() {
        Matrix::with_row_stride(&[0.0; 5], 2, 3, 3);
    }
}
