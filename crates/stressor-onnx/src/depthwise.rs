//! Depthwise convolution (one filter per channel, as MobileNets and EfficientNets use) as a
//! candle custom op: direct loops over each `[h, w]` plane in parallel, forward and backward,
//! with the strides applied in the loop rather than by subsampling a stride-1 result.
//!
//! The weights are the model's constants, so the backward pass gives the gradient with respect
//! to the input only (what attacks need), as `stressor_model::builtin::ops` does.

use std::sync::Arc;

use candle_core::backend::BackendStorage as _;
use candle_core::{CpuStorage, CustomOp1, DType, Layout, Shape, Storage, Tensor, WithDType, bail};
use rayon::prelude::*;

/// A depthwise convolution without bias: `weight` is `[c, 1, kh, kw]` flattened.
#[derive(Debug, Clone)]
pub(crate) struct Depthwise {
    pub(crate) weight: Arc<Vec<f64>>,
    pub(crate) kernel: [usize; 2],
    pub(crate) strides: [usize; 2],
    /// `[top, left, bottom, right]`.
    pub(crate) pads: [usize; 4],
}

/// The sizes of one call.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    c: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
}

impl Depthwise {
    /// Applies the convolution to `[n, c, h, w]`.
    pub(crate) fn apply(&self, input: &Tensor) -> candle_core::Result<Tensor> {
        input.contiguous()?.apply_op1(self.clone())
    }

    fn sizes(&self, shape: &Shape) -> candle_core::Result<(usize, Sizes)> {
        let (n, c, h, w) = shape.dims4()?;
        let [kh, kw] = self.kernel;
        let (ph, pw) = (h + self.pads[0] + self.pads[2], w + self.pads[1] + self.pads[3]);
        if ph < kh || pw < kw || self.weight.len() != c * kh * kw {
            bail!("depthwise: kernel {kh}×{kw} does not fit {c} channels of {h}×{w}");
        }
        let (oh, ow) = ((ph - kh) / self.strides[0] + 1, (pw - kw) / self.strides[1] + 1);
        Ok((n, Sizes { c, h, w, oh, ow }))
    }

    /// Calls `f(out_index, in_index, weight_index)` for every tap of output plane `plane`
    /// that falls inside the image.
    fn for_each_tap(&self, plane: usize, s: Sizes, mut f: impl FnMut(usize, usize, usize)) {
        let [kh, kw] = self.kernel;
        let channel = plane % s.c;
        for oy in 0..s.oh {
            for ky in 0..kh {
                let iy = (oy * self.strides[0] + ky) as isize - self.pads[0] as isize;
                if iy < 0 || iy >= s.h as isize {
                    continue;
                }
                for ox in 0..s.ow {
                    for kx in 0..kw {
                        let ix = (ox * self.strides[1] + kx) as isize - self.pads[1] as isize;
                        if ix < 0 || ix >= s.w as isize {
                            continue;
                        }
                        f(
                            oy * s.ow + ox,
                            iy as usize * s.w + ix as usize,
                            (channel * kh + ky) * kw + kx,
                        );
                    }
                }
            }
        }
    }

    fn forward<T: WithDType + Send + Sync>(&self, input: &[T], n: usize, s: Sizes) -> Vec<T> {
        let weight: Vec<T> = self.weight.iter().map(|&w| T::from_f64(w)).collect();
        let mut out = vec![T::zero(); n * s.c * s.oh * s.ow];
        if s.oh * s.ow == 0 || s.h * s.w == 0 {
            return out;
        }
        out.par_chunks_mut(s.oh * s.ow).zip(input.par_chunks(s.h * s.w)).enumerate().for_each(
            |(plane, (out_plane, in_plane))| {
                self.for_each_tap(plane, s, |o, i, k| out_plane[o] += in_plane[i] * weight[k]);
            },
        );
        out
    }

    fn backward<T: WithDType + Send + Sync>(&self, grad_out: &[T], n: usize, s: Sizes) -> Vec<T> {
        let weight: Vec<T> = self.weight.iter().map(|&w| T::from_f64(w)).collect();
        let mut grad_in = vec![T::zero(); n * s.c * s.h * s.w];
        if s.oh * s.ow == 0 || s.h * s.w == 0 {
            return grad_in;
        }
        grad_in
            .par_chunks_mut(s.h * s.w)
            .zip(grad_out.par_chunks(s.oh * s.ow))
            .enumerate()
            .for_each(|(plane, (grad_plane, out_plane))| {
                self.for_each_tap(plane, s, |o, i, k| grad_plane[i] += out_plane[o] * weight[k]);
            });
        grad_in
    }
}

impl CustomOp1 for Depthwise {
    fn name(&self) -> &'static str {
        "stressor-onnx-depthwise"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (n, s) = self.sizes(layout.shape())?;
        let Some((start, end)) = layout.contiguous_offsets() else {
            bail!("depthwise: the input is not contiguous");
        };
        let out = match storage.dtype() {
            DType::F32 => {
                CpuStorage::F32(self.forward(&storage.as_slice::<f32>()?[start..end], n, s))
            }
            DType::F64 => {
                CpuStorage::F64(self.forward(&storage.as_slice::<f64>()?[start..end], n, s))
            }
            other => bail!("depthwise: unsupported dtype {other:?}"),
        };
        Ok((out, Shape::from((n, s.c, s.oh, s.ow))))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let (n, s) = self.sizes(arg.shape())?;
        let grad_res = grad_res.contiguous()?;
        let (storage, layout) = grad_res.storage_and_layout();
        let Storage::Cpu(cpu) = &*storage else {
            bail!("depthwise: runs on the CPU only");
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            bail!("depthwise: the gradient is not contiguous");
        };
        let grad = match cpu.dtype() {
            DType::F32 => Tensor::from_vec(
                self.backward(&cpu.as_slice::<f32>()?[start..end], n, s),
                arg.shape(),
                arg.device(),
            )?,
            DType::F64 => Tensor::from_vec(
                self.backward(&cpu.as_slice::<f64>()?[start..end], n, s),
                arg.shape(),
                arg.device(),
            )?,
            other => bail!("depthwise: unsupported dtype {other:?}"),
        };
        Ok(Some(grad))
    }
}
