//! `Add`, `Sub`, `Mul` and `Div` of two tensors of the same shape as one candle custom op that
//! splits the work over rayon's threads (candle's CPU binary ops run on one thread). Broadcasting
//! operands go to candle's `broadcast_*` ops instead (see `eval`).

use candle_core::backend::BackendStorage as _;
use candle_core::{CpuStorage, CustomOp2, DType, Layout, Shape, Tensor, WithDType, bail};
use rayon::prelude::*;

/// Values per rayon task.
const CHUNK: usize = 1 << 14;

/// Which arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Binary {
    Add,
    Sub,
    Mul,
    Div,
}

impl Binary {
    /// `lhs ∘ rhs` for two tensors of the same shape.
    pub(crate) fn apply(self, lhs: &Tensor, rhs: &Tensor) -> candle_core::Result<Tensor> {
        lhs.contiguous()?.apply_op2(&rhs.contiguous()?, self)
    }

    fn forward<T: WithDType>(self, a: &[T], b: &[T]) -> Vec<T> {
        // Collected, not written into a zeroed vector: one pass over the output, not two.
        let mut out = Vec::new();
        let pairs = a.par_iter().zip(b).with_min_len(CHUNK);
        match self {
            Binary::Add => pairs.map(|(&x, &y)| x + y).collect_into_vec(&mut out),
            Binary::Sub => pairs.map(|(&x, &y)| x - y).collect_into_vec(&mut out),
            Binary::Mul => pairs.map(|(&x, &y)| x * y).collect_into_vec(&mut out),
            Binary::Div => pairs.map(|(&x, &y)| x / y).collect_into_vec(&mut out),
        }
        out
    }
}

fn slice<'a, T: WithDType>(
    storage: &'a CpuStorage,
    layout: &Layout,
) -> candle_core::Result<&'a [T]> {
    let Some((start, end)) = layout.contiguous_offsets() else {
        bail!("binary: the operands must be contiguous");
    };
    Ok(&storage.as_slice::<T>()?[start..end])
}

impl CustomOp2 for Binary {
    fn name(&self) -> &'static str {
        "stressor-onnx-binary"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        if l1.shape() != l2.shape() {
            bail!("binary: shapes {:?} and {:?} differ", l1.shape(), l2.shape());
        }
        let out = match (s1.dtype(), s2.dtype()) {
            (DType::F32, DType::F32) => {
                CpuStorage::F32(self.forward(slice::<f32>(s1, l1)?, slice::<f32>(s2, l2)?))
            }
            (DType::F64, DType::F64) => {
                CpuStorage::F64(self.forward(slice::<f64>(s1, l1)?, slice::<f64>(s2, l2)?))
            }
            (a, b) => bail!("binary: unsupported dtypes {a:?} and {b:?}"),
        };
        Ok((out, l1.shape().clone()))
    }

    fn bwd(
        &self,
        lhs: &Tensor,
        rhs: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (want_lhs, want_rhs) = (lhs.track_op(), rhs.track_op());
        let (grad_lhs, grad_rhs) = match self {
            Binary::Add => (want_lhs.then(|| Ok(grad.clone())), want_rhs.then(|| Ok(grad.clone()))),
            Binary::Sub => (want_lhs.then(|| Ok(grad.clone())), want_rhs.then(|| grad.neg())),
            Binary::Mul => (want_lhs.then(|| grad.mul(rhs)), want_rhs.then(|| grad.mul(lhs))),
            // d(a/b)/db = −a/b² = −(a/b)/b.
            Binary::Div => {
                (want_lhs.then(|| grad.div(rhs)), want_rhs.then(|| grad.mul(res)?.div(rhs)?.neg()))
            }
        };
        Ok((grad_lhs.transpose()?, grad_rhs.transpose()?))
    }
}
