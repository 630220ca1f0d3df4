//! Depthwise convolution (one filter per channel, as MobileNets and EfficientNets use) as a
//! candle custom op, forward and backward, with the bias added in the same pass.
//!
//! Each `[h, w]` plane runs on its own rayon task. A plane is first copied into a zero-padded
//! scratch buffer split by column phase (`column mod horizontal stride`), so that every kernel
//! tap reads a contiguous run of that buffer for a whole output row: the inner loop is
//! `out_row += weight · row_slice`, which LLVM vectorises, with no bounds tests per tap and the
//! strides applied by choosing rows and phases (never by subsampling a stride-1 result). The
//! backward pass runs the same loops the other way (`scratch_row += weight · grad_row`) and
//! folds the scratch buffer back into the plane.
//!
//! The weights are the model's constants, so the backward pass gives the gradient with respect
//! to the input only (what attacks need), as `stressor_model::builtin::ops` does.

use std::sync::Arc;

use candle_core::backend::BackendStorage as _;
use candle_core::{CpuStorage, CustomOp1, DType, Layout, Shape, Storage, Tensor, WithDType, bail};
use rayon::prelude::*;

/// A depthwise convolution plus a per-channel bias: `weight` is `[c, 1, kh, kw]` flattened,
/// `bias` `[c]`.
#[derive(Debug, Clone)]
pub(crate) struct Depthwise {
    pub(crate) weight: Arc<Vec<f64>>,
    pub(crate) bias: Arc<Vec<f64>>,
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
    /// Rows of the padded plane.
    padded_h: usize,
    /// Columns of each phase of the padded plane: `⌈padded width / horizontal stride⌉`.
    phase_w: usize,
}

impl Sizes {
    /// Where padded pixel `(y, x)` lies in the scratch buffer (phase-major).
    fn scratch_index(&self, y: usize, x: usize, stride_w: usize) -> usize {
        ((x % stride_w) * self.padded_h + y) * self.phase_w + x / stride_w
    }
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
        if ph < kh || pw < kw || self.weight.len() != c * kh * kw || self.bias.len() != c {
            bail!("depthwise: kernel {kh}×{kw} does not fit {c} channels of {h}×{w}");
        }
        if self.strides.contains(&0) {
            bail!("depthwise: strides {:?} must be at least 1", self.strides);
        }
        let (oh, ow) = ((ph - kh) / self.strides[0] + 1, (pw - kw) / self.strides[1] + 1);
        let phase_w = pw.div_ceil(self.strides[1]);
        Ok((n, Sizes { c, h, w, oh, ow, padded_h: ph, phase_w }))
    }

    fn scratch_len(&self, s: Sizes) -> usize {
        self.strides[1] * s.padded_h * s.phase_w
    }

    /// Copies `plane` into the zeroed, padded, phase-split `scratch`.
    fn spread<T: WithDType>(&self, plane: &[T], s: Sizes, scratch: &mut [T]) {
        let (top, left, sw) = (self.pads[0], self.pads[1], self.strides[1]);
        scratch.fill(T::zero());
        for (y, row) in plane.chunks_exact(s.w).enumerate() {
            if sw == 1 {
                let start = s.scratch_index(y + top, left, 1);
                scratch[start..start + s.w].copy_from_slice(row);
            } else {
                for (x, &v) in row.iter().enumerate() {
                    scratch[s.scratch_index(y + top, x + left, sw)] = v;
                }
            }
        }
    }

    /// The inverse of [`Depthwise::spread`] on the image's pixels: reads `plane` back out of
    /// `scratch`, dropping the padding.
    fn gather<T: WithDType>(&self, scratch: &[T], s: Sizes, plane: &mut [T]) {
        let (top, left, sw) = (self.pads[0], self.pads[1], self.strides[1]);
        for (y, row) in plane.chunks_exact_mut(s.w).enumerate() {
            if sw == 1 {
                let start = s.scratch_index(y + top, left, 1);
                row.copy_from_slice(&scratch[start..start + s.w]);
            } else {
                for (x, v) in row.iter_mut().enumerate() {
                    *v = scratch[s.scratch_index(y + top, x + left, sw)];
                }
            }
        }
    }

    /// The scratch offset of the run that kernel tap `(ky, kx)` reads for output row `oy`.
    fn tap_start(&self, s: Sizes, oy: usize, ky: usize, kx: usize) -> usize {
        s.scratch_index(oy * self.strides[0] + ky, kx, self.strides[1])
    }

    fn forward<T: WithDType + Send + Sync>(&self, input: &[T], n: usize, s: Sizes) -> Vec<T> {
        let weight: Vec<T> = self.weight.iter().map(|&w| T::from_f64(w)).collect();
        let bias: Vec<T> = self.bias.iter().map(|&b| T::from_f64(b)).collect();
        let mut out = vec![T::zero(); n * s.c * s.oh * s.ow];
        if s.oh * s.ow == 0 || s.h * s.w == 0 {
            return out;
        }
        let [kh, kw] = self.kernel;
        out.par_chunks_mut(s.oh * s.ow).zip(input.par_chunks(s.h * s.w)).enumerate().for_each_init(
            || vec![T::zero(); self.scratch_len(s)],
            |scratch, (plane, (out_plane, in_plane))| {
                let channel = plane % s.c;
                let taps = &weight[channel * kh * kw..(channel + 1) * kh * kw];
                self.spread(in_plane, s, scratch);
                for (oy, out_row) in out_plane.chunks_exact_mut(s.ow).enumerate() {
                    out_row.fill(bias[channel]);
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let start = self.tap_start(s, oy, ky, kx);
                            let src = &scratch[start..start + s.ow];
                            let tap = taps[ky * kw + kx];
                            for (o, &v) in out_row.iter_mut().zip(src) {
                                *o += tap * v;
                            }
                        }
                    }
                }
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
        let [kh, kw] = self.kernel;
        grad_in
            .par_chunks_mut(s.h * s.w)
            .zip(grad_out.par_chunks(s.oh * s.ow))
            .enumerate()
            .for_each_init(
                || vec![T::zero(); self.scratch_len(s)],
                |scratch, (plane, (grad_plane, out_plane))| {
                    let channel = plane % s.c;
                    let taps = &weight[channel * kh * kw..(channel + 1) * kh * kw];
                    scratch.fill(T::zero());
                    for (oy, grad_row) in out_plane.chunks_exact(s.ow).enumerate() {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let start = self.tap_start(s, oy, ky, kx);
                                let dst = &mut scratch[start..start + s.ow];
                                let tap = taps[ky * kw + kx];
                                for (d, &g) in dst.iter_mut().zip(grad_row) {
                                    *d += tap * g;
                                }
                            }
                        }
                    }
                    self.gather(scratch, s, grad_plane);
                },
            );
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

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// The definition: every tap that falls inside the image, bounds-tested one at a time.
    fn naive(op: &Depthwise, x: &[f64], (n, c, h, w): (usize, usize, usize, usize)) -> Vec<f64> {
        let [kh, kw] = op.kernel;
        let (ph, pw) = (h + op.pads[0] + op.pads[2], w + op.pads[1] + op.pads[3]);
        let (oh, ow) = ((ph - kh) / op.strides[0] + 1, (pw - kw) / op.strides[1] + 1);
        let mut out = vec![0.0; n * c * oh * ow];
        for plane in 0..n * c {
            let ch = plane % c;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = op.bias[ch];
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let iy = (oy * op.strides[0] + ky) as isize - op.pads[0] as isize;
                            let ix = (ox * op.strides[1] + kx) as isize - op.pads[1] as isize;
                            if iy >= 0 && ix >= 0 && iy < h as isize && ix < w as isize {
                                acc += x[(plane * h + iy as usize) * w + ix as usize]
                                    * op.weight[(ch * kh + ky) * kw + kx];
                            }
                        }
                    }
                    out[(plane * oh + oy) * ow + ox] = acc;
                }
            }
        }
        out
    }

    fn cases() -> Vec<(Depthwise, (usize, usize, usize, usize))> {
        let op = |kernel: [usize; 2], strides, pads, c: usize| Depthwise {
            weight: Arc::new(
                (0..c * kernel[0] * kernel[1]).map(|i| (i as f64 * 0.7).sin()).collect(),
            ),
            bias: Arc::new((0..c).map(|i| i as f64 * 0.1 - 0.2).collect()),
            kernel,
            strides,
            pads,
        };
        vec![
            (op([3, 3], [1, 1], [1, 1, 1, 1], 3), (2, 3, 6, 5)),
            (op([3, 3], [2, 2], [1, 1, 1, 1], 3), (2, 3, 7, 6)),
            (op([5, 5], [2, 2], [2, 2, 2, 2], 2), (1, 2, 9, 8)),
            (op([5, 5], [1, 1], [2, 2, 2, 2], 2), (1, 2, 6, 7)),
            (op([3, 3], [2, 2], [0, 0, 1, 1], 2), (2, 2, 6, 6)),
            (op([3, 2], [1, 3], [1, 0, 2, 2], 2), (1, 2, 5, 7)),
            (op([1, 1], [2, 2], [0, 0, 0, 0], 2), (1, 2, 5, 5)),
        ]
    }

    #[test]
    fn forward_matches_the_definition() {
        for (op, dims) in cases() {
            let len = dims.0 * dims.1 * dims.2 * dims.3;
            let x: Vec<f64> = (0..len).map(|i| (i as f64 * 0.37).cos()).collect();
            let t = Tensor::from_vec(x.clone(), dims, &Device::Cpu).unwrap();
            let got = op.apply(&t).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
            let want = naive(&op, &x, dims);
            assert_eq!(got.len(), want.len(), "{op:?}");
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() < 1e-12, "{op:?}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn backward_is_the_adjoint_of_forward() {
        // <conv(x) − bias, g> == <x, backward(g)> for all x, g.
        for (op, dims) in cases() {
            let len = dims.0 * dims.1 * dims.2 * dims.3;
            let x: Vec<f64> = (0..len).map(|i| (i as f64 * 0.13).sin()).collect();
            let var = Var::from_vec(x.clone(), dims, &Device::Cpu).unwrap();
            let y = op.apply(var.as_tensor()).unwrap();
            let g: Vec<f64> = (0..y.elem_count()).map(|i| (i as f64 * 0.71).cos()).collect();
            let g_t = Tensor::from_vec(g.clone(), y.dims(), &Device::Cpu).unwrap();
            let grads = y.mul(&g_t).unwrap().sum_all().unwrap().backward().unwrap();
            let back = grads.get(var.as_tensor()).unwrap();
            let back = back.flatten_all().unwrap().to_vec1::<f64>().unwrap();
            let without_bias = Depthwise { bias: Arc::new(vec![0.0; dims.1]), ..op.clone() };
            let y0 = naive(&without_bias, &x, dims);
            let lhs: f64 = y0.iter().zip(&g).map(|(a, b)| a * b).sum();
            let rhs: f64 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() < 1e-9 * lhs.abs().max(1.0), "{op:?}: {lhs} vs {rhs}");
        }
    }
}
