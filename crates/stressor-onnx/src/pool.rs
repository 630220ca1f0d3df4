//! A general 2-D pooling op (max or average, any kernel, stride and padding) with its backward
//! pass, as a candle custom op.
//!
//! candle's own `max_pool2d` is not used: in candle 0.11 its backward pass returns 1/k² of the
//! true input gradient; its `avg_pool2d` supports neither padding nor overlapping windows in the
//! backward pass. The common 2×2, stride-2, unpadded max pool goes to
//! `stressor_model::builtin::ops::max_pool2x2` instead (see `eval`).

use candle_core::backend::BackendStorage as _;
use candle_core::{CpuStorage, CustomOp1, DType, Layout, Shape, Storage, Tensor, WithDType, bail};
use rayon::prelude::*;

/// What a pooling window computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PoolKind {
    /// The maximum; ties go to the first maximum in row-major window order.
    Max,
    /// The mean; padding counts in the divisor when `count_include_pad`.
    Average {
        /// ONNX's `count_include_pad`.
        count_include_pad: bool,
    },
}

/// The geometry of a pooling op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pool2d {
    pub(crate) kind: PoolKind,
    /// `[kh, kw]`.
    pub(crate) kernel: [usize; 2],
    /// `[sh, sw]`.
    pub(crate) strides: [usize; 2],
    /// `[top, left, bottom, right]`.
    pub(crate) pads: [usize; 4],
    /// ONNX's `ceil_mode`: the last window may start inside the image and run past its end.
    pub(crate) ceil_mode: bool,
}

impl Pool2d {
    /// The output size along one axis.
    fn out_len(&self, len: usize, axis: usize) -> candle_core::Result<usize> {
        let (k, s) = (self.kernel[axis], self.strides[axis]);
        let padded = len + self.pads[axis] + self.pads[axis + 2];
        if k == 0 || s == 0 || padded < k {
            bail!(
                "pool: kernel {:?} does not fit input of size {len} with pads {:?}",
                self.kernel,
                self.pads
            );
        }
        let span = padded - k;
        let mut out = if self.ceil_mode { span.div_ceil(s) + 1 } else { span / s + 1 };
        // A window starting in the end padding is dropped (as in onnxruntime and PyTorch).
        if self.ceil_mode && (out - 1) * s >= len + self.pads[axis] {
            out -= 1;
        }
        Ok(out)
    }

    /// The input rows (or columns) of window `index` along `axis`, clipped to the image, and the
    /// number of positions the window covers inside the image plus its padding.
    fn window(&self, index: usize, len: usize, axis: usize) -> (usize, usize, usize) {
        let start = (index * self.strides[axis]) as isize - self.pads[axis] as isize;
        let end = start + self.kernel[axis] as isize;
        let padded_end = end.min((len + self.pads[axis + 2]) as isize);
        let lo = start.max(0) as usize;
        let hi = (end.min(len as isize)).max(lo as isize) as usize;
        (lo, hi, (padded_end - start).max(0) as usize)
    }

    /// Applies the pool to `[n, c, h, w]`.
    pub(crate) fn apply(&self, input: &Tensor) -> candle_core::Result<Tensor> {
        input.contiguous()?.apply_op1(*self)
    }
}

impl CustomOp1 for Pool2d {
    fn name(&self) -> &'static str {
        "stressor-onnx-pool2d"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = layout.shape().dims4()?;
        let (oh, ow) = (self.out_len(h, 0)?, self.out_len(w, 1)?);
        let out = match storage.dtype() {
            DType::F32 => CpuStorage::F32(self.forward(
                contiguous::<f32>(storage, layout)?,
                n * c,
                h,
                w,
                oh,
                ow,
            )),
            DType::F64 => CpuStorage::F64(self.forward(
                contiguous::<f64>(storage, layout)?,
                n * c,
                h,
                w,
                oh,
                ow,
            )),
            other => bail!("pool: unsupported dtype {other:?}"),
        };
        Ok((out, Shape::from((n, c, oh, ow))))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let (n, c, h, w) = arg.dims4()?;
        let (oh, ow) = (self.out_len(h, 0)?, self.out_len(w, 1)?);
        let arg = arg.contiguous()?;
        let grad_res = grad_res.contiguous()?;
        let device = arg.device();
        let grad = match arg.dtype() {
            DType::F32 => {
                let (x, g) = (to_vec::<f32>(&arg)?, to_vec::<f32>(&grad_res)?);
                Tensor::from_vec(self.backward(&x, &g, n * c, h, w, oh, ow), arg.shape(), device)?
            }
            DType::F64 => {
                let (x, g) = (to_vec::<f64>(&arg)?, to_vec::<f64>(&grad_res)?);
                Tensor::from_vec(self.backward(&x, &g, n * c, h, w, oh, ow), arg.shape(), device)?
            }
            other => bail!("pool: unsupported dtype {other:?}"),
        };
        Ok(Some(grad))
    }
}

/// The float types the pool runs on.
trait Float:
    WithDType + Copy + PartialOrd + Send + Sync + std::ops::AddAssign + std::ops::Div<Output = Self>
{
    fn from_count(count: usize) -> Self;
}

impl Float for f32 {
    fn from_count(count: usize) -> Self {
        count as f32
    }
}

impl Float for f64 {
    fn from_count(count: usize) -> Self {
        count as f64
    }
}

impl Pool2d {
    /// The input position of the first maximum of window `(oy, ox)` of one plane (`None` for a
    /// window entirely in the padding) and the value it takes.
    fn window_max<T: Float>(
        &self,
        plane: &[T],
        h: usize,
        w: usize,
        oy: usize,
        ox: usize,
    ) -> Option<(usize, T)> {
        let (y0, y1, _) = self.window(oy, h, 0);
        let (x0, x1, _) = self.window(ox, w, 1);
        let mut best: Option<(usize, T)> = None;
        for y in y0..y1 {
            for x in x0..x1 {
                let v = plane[y * w + x];
                if best.is_none_or(|(_, b)| v > b) {
                    best = Some((y * w + x, v));
                }
            }
        }
        best
    }

    /// The divisor of window `(oy, ox)` of an average pool.
    fn divisor(&self, h: usize, w: usize, oy: usize, ox: usize, count_include_pad: bool) -> usize {
        let (y0, y1, py) = self.window(oy, h, 0);
        let (x0, x1, px) = self.window(ox, w, 1);
        if count_include_pad { py * px } else { (y1 - y0) * (x1 - x0) }
    }

    fn forward<T: Float>(
        &self,
        input: &[T],
        planes: usize,
        h: usize,
        w: usize,
        oh: usize,
        ow: usize,
    ) -> Vec<T> {
        let mut out = vec![T::zero(); planes * oh * ow];
        if oh * ow == 0 || h * w == 0 {
            return out;
        }
        out.par_chunks_mut(oh * ow).zip(input.par_chunks(h * w)).for_each(|(out_plane, plane)| {
            for oy in 0..oh {
                for ox in 0..ow {
                    out_plane[oy * ow + ox] = match self.kind {
                        PoolKind::Max => {
                            self.window_max(plane, h, w, oy, ox).map_or(T::zero(), |(_, v)| v)
                        }
                        PoolKind::Average { count_include_pad } => {
                            let (y0, y1, _) = self.window(oy, h, 0);
                            let (x0, x1, _) = self.window(ox, w, 1);
                            let mut sum = T::zero();
                            for y in y0..y1 {
                                for x in x0..x1 {
                                    sum += plane[y * w + x];
                                }
                            }
                            let divisor = self.divisor(h, w, oy, ox, count_include_pad);
                            if divisor == 0 { T::zero() } else { sum / T::from_count(divisor) }
                        }
                    };
                }
            }
        });
        out
    }

    #[expect(clippy::too_many_arguments, reason = "the sizes of one call")]
    fn backward<T: Float>(
        &self,
        input: &[T],
        grad_out: &[T],
        planes: usize,
        h: usize,
        w: usize,
        oh: usize,
        ow: usize,
    ) -> Vec<T> {
        let mut grad_in = vec![T::zero(); planes * h * w];
        if oh * ow == 0 || h * w == 0 {
            return grad_in;
        }
        grad_in
            .par_chunks_mut(h * w)
            .zip(input.par_chunks(h * w))
            .zip(grad_out.par_chunks(oh * ow))
            .for_each(|((grad_plane, plane), grad_out_plane)| {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let g = grad_out_plane[oy * ow + ox];
                        match self.kind {
                            PoolKind::Max => {
                                if let Some((index, _)) = self.window_max(plane, h, w, oy, ox) {
                                    grad_plane[index] += g;
                                }
                            }
                            PoolKind::Average { count_include_pad } => {
                                let divisor = self.divisor(h, w, oy, ox, count_include_pad);
                                if divisor == 0 {
                                    continue;
                                }
                                let share = g / T::from_count(divisor);
                                let (y0, y1, _) = self.window(oy, h, 0);
                                let (x0, x1, _) = self.window(ox, w, 1);
                                for y in y0..y1 {
                                    for x in x0..x1 {
                                        grad_plane[y * w + x] += share;
                                    }
                                }
                            }
                        }
                    }
                }
            });
        grad_in
    }
}

/// The contiguous values of a storage under `layout`.
fn contiguous<'a, T: WithDType>(
    storage: &'a CpuStorage,
    layout: &Layout,
) -> candle_core::Result<&'a [T]> {
    let data = storage.as_slice::<T>()?;
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => bail!("pool: the input is not contiguous"),
    }
}

/// The values of a contiguous CPU tensor.
fn to_vec<T: WithDType>(tensor: &Tensor) -> candle_core::Result<Vec<T>> {
    let (storage, layout) = tensor.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        bail!("pool: runs on the CPU only");
    };
    Ok(contiguous::<T>(cpu, layout)?.to_vec())
}
