//! Dense CPU kernels behind the custom ops: a safe `gemm` wrapper, im2col and col2im.
//!
//! Everything here works on contiguous row-major slices and is generic over the two float types
//! the ops support, `f32` (the model) and `f64` (finite-difference gradient checks).

use std::ops::{Add, AddAssign, Mul};

/// A float type the kernels work on.
pub(crate) trait Element:
    Copy
    + Default
    + PartialOrd
    + Add<Output = Self>
    + AddAssign
    + Mul<Output = Self>
    + Send
    + Sync
    + 'static
{
    /// Zero.
    const ZERO: Self;
    /// One.
    const ONE: Self;
}

impl Element for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
}

impl Element for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
}

/// A strided matrix view over a slice.
#[derive(Clone, Copy)]
pub(crate) struct MatRef<'a, T> {
    pub(crate) data: &'a [T],
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) row_stride: usize,
    pub(crate) col_stride: usize,
}

impl<'a, T> MatRef<'a, T> {
    /// A row-major `rows × cols` matrix.
    pub(crate) fn row_major(data: &'a [T], rows: usize, cols: usize) -> Self {
        MatRef { data, rows, cols, row_stride: cols, col_stride: 1 }
    }

    /// The transpose of the row-major `cols × rows` matrix in `data` (no copy).
    pub(crate) fn transposed(data: &'a [T], rows: usize, cols: usize) -> Self {
        MatRef { data, rows, cols, row_stride: 1, col_stride: rows }
    }

    fn fits(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride
                < self.data.len()
    }
}

/// `dst = lhs × rhs` (or `dst += lhs × rhs` with `accumulate`), `dst` row-major `m × n`.
///
/// `parallel` lets gemm split the product over rayon's threads; callers that already run one
/// product per thread pass `false`.
///
/// # Panics
/// When the shapes disagree or a view reaches past its slice; that is a bug in the caller.
pub(crate) fn matmul<T: Element>(
    dst: &mut [T],
    accumulate: bool,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    parallel: bool,
) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(rhs.rows, k, "inner dimensions of a product must agree");
    assert_eq!(dst.len(), m * n, "product destination must be m × n");
    assert!(lhs.fits() && rhs.fits(), "matrix view reaches past its data");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst.fill(T::ZERO);
        }
        return;
    }
    let parallelism = if parallel {
        gemm::Parallelism::Rayon(rayon::current_num_threads())
    } else {
        gemm::Parallelism::None
    };
    let (dst_rs, lhs_rs, lhs_cs, rhs_rs, rhs_cs) = (
        n as isize,
        lhs.row_stride as isize,
        lhs.col_stride as isize,
        rhs.row_stride as isize,
        rhs.col_stride as isize,
    );
    gemm_raw(
        dst,
        dst_rs,
        accumulate,
        lhs.data,
        lhs_rs,
        lhs_cs,
        rhs.data,
        rhs_rs,
        rhs_cs,
        m,
        n,
        k,
        parallelism,
    );
}

#[expect(clippy::too_many_arguments, reason = "a thin wrapper over gemm's own signature")]
#[expect(unsafe_code, reason = "gemm takes raw pointers; `matmul` checked every access above")]
fn gemm_raw<T: Element>(
    dst: &mut [T],
    dst_rs: isize,
    accumulate: bool,
    lhs: &[T],
    lhs_rs: isize,
    lhs_cs: isize,
    rhs: &[T],
    rhs_rs: isize,
    rhs_cs: isize,
    m: usize,
    n: usize,
    k: usize,
    parallelism: gemm::Parallelism,
) {
    // SAFETY: `matmul` asserted that `dst` holds exactly m × n row-major values and that the
    // largest offset each strided view reaches lies inside its slice; `T` is f32 or f64, which
    // gemm supports, and the three slices cannot alias (one is borrowed mutably).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs,
            accumulate,
            lhs.as_ptr(),
            lhs_cs,
            lhs_rs,
            rhs.as_ptr(),
            rhs_cs,
            rhs_rs,
            T::ONE,
            T::ONE,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// The geometry of a stride-1 2-D convolution of one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConvGeometry {
    pub(crate) channels: usize,
    pub(crate) height: usize,
    pub(crate) width: usize,
    pub(crate) kernel_h: usize,
    pub(crate) kernel_w: usize,
    pub(crate) padding: usize,
}

impl ConvGeometry {
    pub(crate) fn out_h(&self) -> usize {
        self.height + 2 * self.padding + 1 - self.kernel_h
    }

    pub(crate) fn out_w(&self) -> usize {
        self.width + 2 * self.padding + 1 - self.kernel_w
    }

    /// Rows of the column matrix: `channels · kernel_h · kernel_w`.
    pub(crate) fn col_rows(&self) -> usize {
        self.channels * self.kernel_h * self.kernel_w
    }

    /// Columns of the column matrix: output positions.
    pub(crate) fn col_cols(&self) -> usize {
        self.out_h() * self.out_w()
    }

    pub(crate) fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// For kernel offset `kx` and output column `ox`, the input column is `ox + kx - padding`;
    /// this returns the output columns whose input column is inside the image.
    fn valid_range(&self, offset: usize, out_len: usize, in_len: usize) -> (usize, usize) {
        let start = self.padding.saturating_sub(offset).min(out_len);
        let end = (in_len + self.padding).saturating_sub(offset).min(out_len);
        (start, end.max(start))
    }
}

/// Writes the column matrix (`col_rows × col_cols`, row-major) of one image into `cols`.
pub(crate) fn im2col<T: Element>(image: &[T], geometry: &ConvGeometry, cols: &mut [T]) {
    let (oh, ow) = (geometry.out_h(), geometry.out_w());
    let (h, w, p) = (geometry.height, geometry.width, geometry.padding);
    let mut row = 0;
    for c in 0..geometry.channels {
        let plane = &image[c * h * w..(c + 1) * h * w];
        for ky in 0..geometry.kernel_h {
            let (y_start, y_end) = geometry.valid_range(ky, oh, h);
            for kx in 0..geometry.kernel_w {
                let (x_start, x_end) = geometry.valid_range(kx, ow, w);
                let dst = &mut cols[row * oh * ow..(row + 1) * oh * ow];
                for oy in 0..oh {
                    let out_row = &mut dst[oy * ow..(oy + 1) * ow];
                    if oy < y_start || oy >= y_end {
                        out_row.fill(T::ZERO);
                        continue;
                    }
                    let iy = oy + ky - p;
                    out_row[..x_start].fill(T::ZERO);
                    out_row[x_end..].fill(T::ZERO);
                    if x_end > x_start {
                        let ix_start = x_start + kx - p;
                        out_row[x_start..x_end].copy_from_slice(
                            &plane[iy * w + ix_start..iy * w + ix_start + (x_end - x_start)],
                        );
                    }
                }
                row += 1;
            }
        }
    }
}

/// Adds the column matrix `cols` back into one image (the adjoint of [`im2col`]).
pub(crate) fn col2im<T: Element>(cols: &[T], geometry: &ConvGeometry, image: &mut [T]) {
    let (oh, ow) = (geometry.out_h(), geometry.out_w());
    let (h, w, p) = (geometry.height, geometry.width, geometry.padding);
    image.fill(T::ZERO);
    let mut row = 0;
    for c in 0..geometry.channels {
        let plane = &mut image[c * h * w..(c + 1) * h * w];
        for ky in 0..geometry.kernel_h {
            let (y_start, y_end) = geometry.valid_range(ky, oh, h);
            for kx in 0..geometry.kernel_w {
                let (x_start, x_end) = geometry.valid_range(kx, ow, w);
                let src = &cols[row * oh * ow..(row + 1) * oh * ow];
                for oy in y_start..y_end {
                    let iy = oy + ky - p;
                    let ix_start = x_start + kx - p;
                    let dst = &mut plane[iy * w + ix_start..iy * w + ix_start + (x_end - x_start)];
                    for (d, s) in dst.iter_mut().zip(&src[oy * ow + x_start..oy * ow + x_end]) {
                        *d += *s;
                    }
                }
                row += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_conv(
        image: &[f64],
        weight: &[f64],
        g: &ConvGeometry,
        out_channels: usize,
    ) -> Vec<f64> {
        let (oh, ow) = (g.out_h(), g.out_w());
        let mut out = vec![0.0; out_channels * oh * ow];
        for o in 0..out_channels {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = 0.0;
                    for c in 0..g.channels {
                        for ky in 0..g.kernel_h {
                            for kx in 0..g.kernel_w {
                                let iy = oy as isize + ky as isize - g.padding as isize;
                                let ix = ox as isize + kx as isize - g.padding as isize;
                                if iy < 0
                                    || ix < 0
                                    || iy >= g.height as isize
                                    || ix >= g.width as isize
                                {
                                    continue;
                                }
                                let value =
                                    image[(c * g.height + iy as usize) * g.width + ix as usize];
                                acc += value
                                    * weight[((o * g.channels + c) * g.kernel_h + ky) * g.kernel_w
                                        + kx];
                            }
                        }
                    }
                    out[(o * oh + oy) * ow + ox] = acc;
                }
            }
        }
        out
    }

    #[test]
    fn im2col_product_is_the_naive_convolution() {
        for padding in 0..3 {
            let g = ConvGeometry {
                channels: 2,
                height: 5,
                width: 4,
                kernel_h: 3,
                kernel_w: 2,
                padding,
            };
            let image: Vec<f64> = (0..g.image_len()).map(|i| (i as f64 * 0.37).sin()).collect();
            let weight: Vec<f64> = (0..3 * g.col_rows()).map(|i| (i as f64 * 0.91).cos()).collect();
            let mut cols = vec![0.0; g.col_rows() * g.col_cols()];
            im2col(&image, &g, &mut cols);
            let mut out = vec![0.0; 3 * g.col_cols()];
            let lhs = MatRef::row_major(&weight, 3, g.col_rows());
            let rhs = MatRef::row_major(&cols, g.col_rows(), g.col_cols());
            matmul(&mut out, false, lhs, rhs, false);
            let expected = naive_conv(&image, &weight, &g, 3);
            for (a, b) in out.iter().zip(&expected) {
                assert!((a - b).abs() < 1e-12, "padding {padding}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), y> == <x, col2im(y)> for all x, y.
        let g =
            ConvGeometry { channels: 3, height: 6, width: 5, kernel_h: 3, kernel_w: 3, padding: 1 };
        let x: Vec<f64> = (0..g.image_len()).map(|i| (i as f64 * 0.13).sin()).collect();
        let y: Vec<f64> =
            (0..g.col_rows() * g.col_cols()).map(|i| (i as f64 * 0.71).cos()).collect();
        let mut cols = vec![0.0; y.len()];
        im2col(&x, &g, &mut cols);
        let mut back = vec![0.0; x.len()];
        col2im(&y, &g, &mut back);
        let lhs: f64 = cols.iter().zip(&y).map(|(a, b)| a * b).sum();
        let rhs: f64 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-9 * lhs.abs().max(1.0), "{lhs} vs {rhs}");
    }
}
