//! `LayerNormalization` over the trailing axes with constant scale and bias, as one candle
//! custom op: one parallel pass over the rows forward and one backward, where the composed
//! candle form took eight passes and allocations.
//!
//! Each row of `d` values becomes `x̂·γ + β` with `x̂ = (x − mean) / √(var + ε)`. The scale and
//! bias are the model's constants, so the backward pass gives the input gradient only:
//! `dx = (ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) / √(var + ε)` with `ĝ = g·γ`.

use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor, bail};
use rayon::prelude::*;

use crate::slice_op::{self, Float, SliceOp};

/// A layer normalisation over rows of `scale.len()` values.
#[derive(Debug, Clone)]
pub(crate) struct LayerNorm {
    pub(crate) scale: Arc<Vec<f64>>,
    pub(crate) bias: Arc<Vec<f64>>,
    pub(crate) epsilon: f64,
}

/// Rows per rayon task at least.
const MIN_ROWS: usize = 16;

/// The mean and `1 / √(var + ε)` of one row.
fn moments<T: Float>(row: &[T], epsilon: T) -> (T, T) {
    let d = T::from_f64(row.len() as f64);
    let mean = row.iter().fold(T::zero(), |acc, &v| acc + v) / d;
    let var = row.iter().fold(T::zero(), |acc, &v| acc + (v - mean) * (v - mean)) / d;
    (mean, T::one() / (var + epsilon).sqrt())
}

impl LayerNorm {
    /// Applies the normalisation to the trailing `scale.len()` values of `x`.
    pub(crate) fn apply(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.contiguous()?.apply_op1(self.clone())
    }

    fn check(&self, shape: &Shape) -> candle_core::Result<()> {
        let d = self.scale.len();
        if d == 0 || !shape.elem_count().is_multiple_of(d) {
            bail!("layer norm: rows of {d} do not fit shape {shape:?}");
        }
        if self.bias.len() != d {
            bail!("layer norm: {} bias values for rows of {d}", self.bias.len());
        }
        Ok(())
    }
}

impl SliceOp for LayerNorm {
    const LABEL: &'static str = "layer norm";

    fn forward<T: Float>(&self, x: &[T]) -> Vec<T> {
        let d = self.scale.len();
        let scale: Vec<T> = self.scale.iter().map(|&v| T::from_f64(v)).collect();
        let bias: Vec<T> = self.bias.iter().map(|&v| T::from_f64(v)).collect();
        let epsilon = T::from_f64(self.epsilon);
        let mut out = vec![T::zero(); x.len()];
        out.par_chunks_mut(d).zip(x.par_chunks(d)).with_min_len(MIN_ROWS).for_each(|(out, row)| {
            let (mean, inv_std) = moments(row, epsilon);
            for (((o, &v), &s), &b) in out.iter_mut().zip(row).zip(&scale).zip(&bias) {
                *o = (v - mean) * inv_std * s + b;
            }
        });
        out
    }

    fn backward<T: Float>(&self, x: &[T], grad: &[T]) -> Vec<T> {
        let d = self.scale.len();
        let scale: Vec<T> = self.scale.iter().map(|&v| T::from_f64(v)).collect();
        let epsilon = T::from_f64(self.epsilon);
        let n = T::from_f64(d as f64);
        let mut out = vec![T::zero(); x.len()];
        out.par_chunks_mut(d)
            .zip(x.par_chunks(d))
            .zip(grad.par_chunks(d))
            .with_min_len(MIN_ROWS)
            .for_each(|((out, row), g)| {
                let (mean, inv_std) = moments(row, epsilon);
                let (mut sum_g, mut sum_gx) = (T::zero(), T::zero());
                for ((&v, &g), &s) in row.iter().zip(g).zip(&scale) {
                    let gh = g * s;
                    sum_g += gh;
                    sum_gx += gh * (v - mean) * inv_std;
                }
                let (mean_g, mean_gx) = (sum_g / n, sum_gx / n);
                for (((o, &v), &g), &s) in out.iter_mut().zip(row).zip(g).zip(&scale) {
                    let xhat = (v - mean) * inv_std;
                    *o = (g * s - mean_g - xhat * mean_gx) * inv_std;
                }
            });
        out
    }
}

impl CustomOp1 for LayerNorm {
    fn name(&self) -> &'static str {
        "stressor-onnx-layer-norm"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        self.check(layout.shape())?;
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
