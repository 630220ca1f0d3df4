//! Clamped activations (`Relu`, `Clip`, `HardSigmoid`, `HardSwish`) as one candle custom op:
//! one parallel pass forward and one backward, where composing candle ops (clamp, two
//! comparisons, a product and a select) took six passes and as many allocations.
//!
//! The gradient passes where the clamped value `alpha·x + beta` is inside `[lo, hi]`, ends
//! included, as the composed form's did.

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};
use rayon::prelude::*;

use crate::slice_op::{self, Float, SliceOp};

/// Values per rayon task.
const CHUNK: usize = 1 << 14;

/// `y = clamp(alpha·x + beta, lo, hi)`, times `x` when `times_input` (`HardSwish`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clamp {
    pub(crate) alpha: f64,
    pub(crate) beta: f64,
    pub(crate) lo: f64,
    pub(crate) hi: f64,
    pub(crate) times_input: bool,
}

impl Clamp {
    /// `max(x, 0)`.
    pub(crate) const RELU: Clamp =
        Clamp { alpha: 1.0, beta: 0.0, lo: 0.0, hi: f64::INFINITY, times_input: false };

    /// Applies the activation to a tensor of any shape.
    pub(crate) fn apply(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.contiguous()?.apply_op1(*self)
    }
}

impl SliceOp for Clamp {
    const LABEL: &'static str = "clamp";

    fn forward<T: Float>(&self, x: &[T]) -> Vec<T> {
        let (alpha, beta) = (T::from_f64(self.alpha), T::from_f64(self.beta));
        let (lo, hi) = (T::from_f64(self.lo), T::from_f64(self.hi));
        // `max` and `min` rather than comparisons: they vectorise, where branches on the sign of
        // noisy activations mispredict half the time.
        let clamp = move |v: T| (alpha * v + beta).maximum(lo).minimum(hi);
        // Collected, not written into a zeroed vector: one pass over the output, not two.
        let mut out = Vec::new();
        let values = x.par_iter().with_min_len(CHUNK);
        if self.times_input {
            values.map(|&v| v * clamp(v)).collect_into_vec(&mut out);
        } else {
            values.map(|&v| clamp(v)).collect_into_vec(&mut out);
        }
        out
    }

    fn backward<T: Float>(&self, x: &[T], grad: &[T]) -> Vec<T> {
        let (alpha, beta) = (T::from_f64(self.alpha), T::from_f64(self.beta));
        let (lo, hi) = (T::from_f64(self.lo), T::from_f64(self.hi));
        let times_input = self.times_input;
        let mut out = vec![T::zero(); x.len()];
        out.par_chunks_mut(CHUNK).zip(x.par_chunks(CHUNK)).zip(grad.par_chunks(CHUNK)).for_each(
            |((out, x), grad)| {
                for ((o, &v), &g) in out.iter_mut().zip(x).zip(grad) {
                    let a = alpha * v + beta;
                    let inside = (a >= lo) & (a <= hi);
                    let slope = if inside { alpha } else { T::zero() };
                    *o = if times_input {
                        // d/dx x·clamp(αx + β) = clamp(αx + β) + x·α·[inside].
                        g * (a.maximum(lo).minimum(hi) + v * slope)
                    } else {
                        g * slope
                    };
                }
            },
        );
        out
    }
}

impl CustomOp1 for Clamp {
    fn name(&self) -> &'static str {
        "stressor-onnx-clamp"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        slice_op::cpu_fwd(self, storage, layout)
    }

    fn bwd(
        &self,
        arg: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        slice_op::bwd(self, arg, res, grad_res)
    }
}

/// The logistic function `σ(x) = 1 / (1 + e^−x)` in one parallel pass (`exp` is several times
/// cheaper than `tanh`; for very negative `x`, `e^−x` is infinite and `σ` is 0, not NaN); the
/// backward pass reads the output: `σ' = σ·(1 − σ)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sigmoid;

impl Sigmoid {
    /// Applies `σ` to a tensor of any shape.
    pub(crate) fn apply(x: &Tensor) -> candle_core::Result<Tensor> {
        x.contiguous()?.apply_op1(Sigmoid)
    }
}

impl SliceOp for Sigmoid {
    const LABEL: &'static str = "sigmoid";
    const BACKWARD_FROM_OUTPUT: bool = true;

    fn forward<T: Float>(&self, x: &[T]) -> Vec<T> {
        let mut out = vec![T::zero(); x.len()];
        out.par_chunks_mut(CHUNK).zip(x.par_chunks(CHUNK)).for_each(|(out, x)| {
            for (o, &v) in out.iter_mut().zip(x) {
                *o = T::one() / (T::one() + (T::zero() - v).exp());
            }
        });
        out
    }

    /// From the output `y = σ(x)`: `σ' = y·(1 − y)`.
    fn backward<T: Float>(&self, y: &[T], grad: &[T]) -> Vec<T> {
        let mut out = vec![T::zero(); y.len()];
        out.par_chunks_mut(CHUNK).zip(y.par_chunks(CHUNK)).zip(grad.par_chunks(CHUNK)).for_each(
            |((out, y), grad)| {
                for ((o, &s), &g) in out.iter_mut().zip(y).zip(grad) {
                    *o = g * s * (T::one() - s);
                }
            },
        );
        out
    }
}

impl CustomOp1 for Sigmoid {
    fn name(&self) -> &'static str {
        "stressor-onnx-sigmoid"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        slice_op::cpu_fwd(self, storage, layout)
    }

    fn bwd(
        &self,
        arg: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        slice_op::bwd(self, arg, res, grad_res)
    }
}
