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

/// The geometry of a 2-D convolution of one image (zero padding on every side, any stride).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConvGeometry {
    pub(crate) channels: usize,
    pub(crate) height: usize,
    pub(crate) width: usize,
    pub(crate) kernel_h: usize,
    pub(crate) kernel_w: usize,
    pub(crate) padding: usize,
    /// `[vertical, horizontal]`, each at least 1.
    pub(crate) stride: [usize; 2],
}

impl ConvGeometry {
    pub(crate) fn out_h(&self) -> usize {
        (self.height + 2 * self.padding - self.kernel_h) / self.stride[0] + 1
    }

    pub(crate) fn out_w(&self) -> usize {
        (self.width + 2 * self.padding - self.kernel_w) / self.stride[1] + 1
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

    /// Whether the column matrix is the image itself (a 1×1 kernel at stride 1 without
    /// padding), so that im2col and col2im are copies that can be skipped.
    pub(crate) fn is_pointwise(&self) -> bool {
        self.kernel_h == 1 && self.kernel_w == 1 && self.padding == 0 && self.stride == [1, 1]
    }

    /// For kernel offset `k` and output index `o`, the input index is `o·stride + k − padding`;
    /// this returns the output indices whose input index is inside `0..in_len`.
    fn valid_range(
        &self,
        offset: usize,
        stride: usize,
        out_len: usize,
        in_len: usize,
    ) -> (usize, usize) {
        let start = self.padding.saturating_sub(offset).div_ceil(stride).min(out_len);
        let end = (in_len + self.padding).saturating_sub(offset).div_ceil(stride).min(out_len);
        (start, end.max(start))
    }
}

/// Writes the column matrix (`col_rows × col_cols`, row-major) of one image into `cols`: one
/// column per output position, so a strided convolution reads only the pixels it uses.
pub(crate) fn im2col<T: Element>(image: &[T], geometry: &ConvGeometry, cols: &mut [T]) {
    let (oh, ow) = (geometry.out_h(), geometry.out_w());
    let (h, w, p) = (geometry.height, geometry.width, geometry.padding);
    let [sh, sw] = geometry.stride;
    let mut row = 0;
    for c in 0..geometry.channels {
        let plane = &image[c * h * w..(c + 1) * h * w];
        for ky in 0..geometry.kernel_h {
            let (y_start, y_end) = geometry.valid_range(ky, sh, oh, h);
            for kx in 0..geometry.kernel_w {
                let (x_start, x_end) = geometry.valid_range(kx, sw, ow, w);
                let dst = &mut cols[row * oh * ow..(row + 1) * oh * ow];
                for oy in 0..oh {
                    let out_row = &mut dst[oy * ow..(oy + 1) * ow];
                    if oy < y_start || oy >= y_end {
                        out_row.fill(T::ZERO);
                        continue;
                    }
                    let iy = oy * sh + ky - p;
                    out_row[..x_start].fill(T::ZERO);
                    out_row[x_end..].fill(T::ZERO);
                    if x_end > x_start {
                        let ix_start = x_start * sw + kx - p;
                        let in_row = &plane[iy * w..(iy + 1) * w];
                        let out_part = &mut out_row[x_start..x_end];
                        if sw == 1 {
                            out_part.copy_from_slice(&in_row[ix_start..ix_start + out_part.len()]);
                        } else {
                            for (d, s) in
                                out_part.iter_mut().zip(in_row[ix_start..].iter().step_by(sw))
                            {
                                *d = *s;
                            }
                        }
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
    let [sh, sw] = geometry.stride;
    image.fill(T::ZERO);
    let mut row = 0;
    for c in 0..geometry.channels {
        let plane = &mut image[c * h * w..(c + 1) * h * w];
        for ky in 0..geometry.kernel_h {
            let (y_start, y_end) = geometry.valid_range(ky, sh, oh, h);
            for kx in 0..geometry.kernel_w {
                let (x_start, x_end) = geometry.valid_range(kx, sw, ow, w);
                let src = &cols[row * oh * ow..(row + 1) * oh * ow];
                for oy in y_start..y_end {
                    let iy = oy * sh + ky - p;
                    let ix_start = x_start * sw + kx - p;
                    let src_part = &src[oy * ow + x_start..oy * ow + x_end];
                    let in_row = &mut plane[iy * w..(iy + 1) * w];
                    if sw == 1 {
                        let dst = &mut in_row[ix_start..ix_start + src_part.len()];
                        for (d, s) in dst.iter_mut().zip(src_part) {
                            *d += *s;
                        }
                    } else {
                        for (d, s) in in_row[ix_start..].iter_mut().step_by(sw).zip(src_part) {
                            *d += *s;
                        }
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

    fn geometry(
        (channels, height, width): (usize, usize, usize),
        (kernel_h, kernel_w): (usize, usize),
        padding: usize,
        stride: [usize; 2],
    ) -> ConvGeometry {
        ConvGeometry { channels, height, width, kernel_h, kernel_w, padding, stride }
    }

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
                                let iy = (oy * g.stride[0] + ky) as isize - g.padding as isize;
                                let ix = (ox * g.stride[1] + kx) as isize - g.padding as isize;
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
        for (padding, stride) in
            [(0, [1, 1]), (1, [1, 1]), (2, [1, 1]), (0, [2, 2]), (1, [2, 3]), (2, [3, 2])]
        {
            let g = geometry((2, 5, 4), (3, 2), padding, stride);
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
                assert!((a - b).abs() < 1e-12, "padding {padding} stride {stride:?}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), y> == <x, col2im(y)> for all x, y.
        for (padding, stride) in [(1, [1, 1]), (1, [2, 2]), (0, [2, 1]), (3, [2, 2])] {
            let g = geometry((3, 7, 6), (3, 3), padding, stride);
            adjoint(&g);
        }
        adjoint(&geometry((3, 9, 8), (7, 7), 3, [2, 2]));
    }

    fn adjoint(g: &ConvGeometry) {
        let x: Vec<f64> = (0..g.image_len()).map(|i| (i as f64 * 0.13).sin()).collect();
        let y: Vec<f64> =
            (0..g.col_rows() * g.col_cols()).map(|i| (i as f64 * 0.71).cos()).collect();
        let mut cols = vec![0.0; y.len()];
        im2col(&x, g, &mut cols);
        let mut back = vec![0.0; x.len()];
        col2im(&y, g, &mut back);
        let lhs: f64 = cols.iter().zip(&y).map(|(a, b)| a * b).sum();
        let rhs: f64 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-9 * lhs.abs().max(1.0), "{g:?}: {lhs} vs {rhs}");
    }
}
