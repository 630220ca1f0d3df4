//! The candle plumbing shared by this crate's one-pass custom ops (clamped activations,
//! sigmoid, layer norm): take the contiguous CPU slice of the input, run the op's `forward` on
//! it as `f32` or `f64`, and for the gradient run its `backward` on the input (or the output)
//! and the incoming gradient. Each op only writes its two slice functions.

use candle_core::backend::BackendStorage as _;
use candle_core::{CpuStorage, DType, Layout, Shape, Storage, Tensor, WithDType, bail};

/// The float types the ops run on, with the functions they need.
pub(crate) trait Float: WithDType {
    fn maximum(self, other: Self) -> Self;
    fn minimum(self, other: Self) -> Self;
    fn exp(self) -> Self;
    fn sqrt(self) -> Self;
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
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
        }
    };
}

float!(f32);
float!(f64);

/// An op computed in one pass over a contiguous slice.
pub(crate) trait SliceOp {
    /// The op's name in error messages (`"sigmoid"`).
    const LABEL: &'static str;
    /// Whether `backward` reads the op's output (sigmoid) rather than its input.
    const BACKWARD_FROM_OUTPUT: bool = false;
    /// The output for input `x`.
    fn forward<T: Float>(&self, x: &[T]) -> Vec<T>;
    /// The input gradient, from the input (or the output) and the output gradient.
    fn backward<T: Float>(&self, x: &[T], grad: &[T]) -> Vec<T>;
}

/// `CustomOp1::cpu_fwd` for a [`SliceOp`].
pub(crate) fn cpu_fwd<O: SliceOp>(
    op: &O,
    storage: &CpuStorage,
    layout: &Layout,
) -> candle_core::Result<(CpuStorage, Shape)> {
    let Some((start, end)) = layout.contiguous_offsets() else {
        bail!("{}: the input is not contiguous", O::LABEL);
    };
    let out = match storage.dtype() {
        DType::F32 => CpuStorage::F32(op.forward(&storage.as_slice::<f32>()?[start..end])),
        DType::F64 => CpuStorage::F64(op.forward(&storage.as_slice::<f64>()?[start..end])),
        other => bail!("{}: unsupported dtype {other:?}", O::LABEL),
    };
    Ok((out, layout.shape().clone()))
}

/// `CustomOp1::bwd` for a [`SliceOp`].
pub(crate) fn bwd<O: SliceOp>(
    op: &O,
    arg: &Tensor,
    res: &Tensor,
    grad_res: &Tensor,
) -> candle_core::Result<Option<Tensor>> {
    let read = if O::BACKWARD_FROM_OUTPUT { res } else { arg }.contiguous()?;
    let grad_res = grad_res.contiguous()?;
    let (x_storage, x_layout) = read.storage_and_layout();
    let (g_storage, g_layout) = grad_res.storage_and_layout();
    let (Storage::Cpu(x), Storage::Cpu(g)) = (&*x_storage, &*g_storage) else {
        bail!("{}: runs on the CPU only", O::LABEL);
    };
    let (Some((xs, xe)), Some((gs, ge))) =
        (x_layout.contiguous_offsets(), g_layout.contiguous_offsets())
    else {
        bail!("{}: the gradient is not contiguous", O::LABEL);
    };
    let grad = match (x, g) {
        (CpuStorage::F32(x), CpuStorage::F32(g)) => {
            Tensor::from_vec(op.backward(&x[xs..xe], &g[gs..ge]), arg.shape(), arg.device())?
        }
        (CpuStorage::F64(x), CpuStorage::F64(g)) => {
            Tensor::from_vec(op.backward(&x[xs..xe], &g[gs..ge]), arg.shape(), arg.device())?
        }
        _ => bail!("{}: unsupported dtypes {:?} and {:?}", O::LABEL, x.dtype(), g.dtype()),
    };
    Ok(Some(grad))
}
