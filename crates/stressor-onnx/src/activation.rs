//! Clamped activations (`Relu`, `Clip`, `HardSigmoid`, `HardSwish`) as one candle custom op:
//! one parallel pass forward and one backward, where composing candle ops (clamp, two
//! comparisons, a product and a select) took six passes and as many allocations.
//!
//! The gradient passes where the clamped value `alpha·x + beta` is inside `[lo, hi]`, ends
//! included, as the composed form's did.

use candle_core::backend::BackendStorage as _;
use candle_core::{CpuStorage, CustomOp1, DType, Layout, Shape, Storage, Tensor, WithDType, bail};
use rayon::prelude::*;

/// Values per rayon task.
const CHUNK: usize = 1 << 14;

/// The float types, with the functions the ops need.
trait Float: WithDType {
    fn maximum(self, other: Self) -> Self;
    fn minimum(self, other: Self) -> Self;
    fn exp(self) -> Self;
}

macro_rules! float {
    ($t:ty) => {
        impl Float for $t {
            fn maximum(self, other: Self) -> Self {
                <$t>::max(self, other)
            }
            fn minimum(self, other: Self) -> Self {
                <$t>::min(self, other)
            }
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
        }
    };
}

float!(f32);
float!(f64);

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
        let Some((start, end)) = layout.contiguous_offsets() else {
            bail!("clamp: the input is not contiguous");
        };
        let out = match storage.dtype() {
            DType::F32 => CpuStorage::F32(self.forward(&storage.as_slice::<f32>()?[start..end])),
            DType::F64 => CpuStorage::F64(self.forward(&storage.as_slice::<f64>()?[start..end])),
            other => bail!("clamp: unsupported dtype {other:?}"),
        };
        Ok((out, layout.shape().clone()))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let arg_c = arg.contiguous()?;
        let grad_res = grad_res.contiguous()?;
        let (x_storage, x_layout) = arg_c.storage_and_layout();
        let (g_storage, g_layout) = grad_res.storage_and_layout();
        let (Storage::Cpu(x), Storage::Cpu(g)) = (&*x_storage, &*g_storage) else {
            bail!("clamp: runs on the CPU only");
        };
        let (Some((xs, xe)), Some((gs, ge))) =
            (x_layout.contiguous_offsets(), g_layout.contiguous_offsets())
        else {
            bail!("clamp: the gradient is not contiguous");
        };
        let grad = match (x, g) {
            (CpuStorage::F32(x), CpuStorage::F32(g)) => {
                Tensor::from_vec(self.backward(&x[xs..xe], &g[gs..ge]), arg.shape(), arg.device())?
            }
            (CpuStorage::F64(x), CpuStorage::F64(g)) => {
                Tensor::from_vec(self.backward(&x[xs..xe], &g[gs..ge]), arg.shape(), arg.device())?
            }
            _ => bail!("clamp: unsupported dtypes {:?} and {:?}", x.dtype(), g.dtype()),
        };
        Ok(Some(grad))
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

fn sigmoid_forward<T: Float>(x: &[T]) -> Vec<T> {
    let mut out = vec![T::zero(); x.len()];
    out.par_chunks_mut(CHUNK).zip(x.par_chunks(CHUNK)).for_each(|(out, x)| {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = T::one() / (T::one() + (T::zero() - v).exp());
        }
    });
    out
}

fn sigmoid_backward<T: WithDType + Send + Sync>(y: &[T], grad: &[T]) -> Vec<T> {
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

impl CustomOp1 for Sigmoid {
    fn name(&self) -> &'static str {
        "stressor-onnx-sigmoid"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let Some((start, end)) = layout.contiguous_offsets() else {
            bail!("sigmoid: the input is not contiguous");
        };
        let out = match storage.dtype() {
            DType::F32 => CpuStorage::F32(sigmoid_forward(&storage.as_slice::<f32>()?[start..end])),
            DType::F64 => CpuStorage::F64(sigmoid_forward(&storage.as_slice::<f64>()?[start..end])),
            other => bail!("sigmoid: unsupported dtype {other:?}"),
        };
        Ok((out, layout.shape().clone()))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let res = res.contiguous()?;
        let grad_res = grad_res.contiguous()?;
        let (y_storage, y_layout) = res.storage_and_layout();
        let (g_storage, g_layout) = grad_res.storage_and_layout();
        let (Storage::Cpu(y), Storage::Cpu(g)) = (&*y_storage, &*g_storage) else {
            bail!("sigmoid: runs on the CPU only");
        };
        let (Some((ys, ye)), Some((gs, ge))) =
            (y_layout.contiguous_offsets(), g_layout.contiguous_offsets())
        else {
            bail!("sigmoid: the gradient is not contiguous");
        };
        let grad = match (y, g) {
            (CpuStorage::F32(y), CpuStorage::F32(g)) => Tensor::from_vec(
                sigmoid_backward(&y[ys..ye], &g[gs..ge]),
                arg.shape(),
                arg.device(),
            )?,
            (CpuStorage::F64(y), CpuStorage::F64(g)) => Tensor::from_vec(
                sigmoid_backward(&y[ys..ye], &g[gs..ge]),
                arg.shape(),
                arg.device(),
            )?,
            _ => bail!("sigmoid: unsupported dtypes {:?} and {:?}", y.dtype(), g.dtype()),
        };
        Ok(Some(grad))
    }
}
