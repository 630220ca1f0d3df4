//! Custom candle ops: a 2-D convolution (im2col + gemm) and a 2×2 max pool, each with its
//! backward pass.
//!
//! Both run on contiguous CPU tensors of `f32` or `f64` (the latter for gradient checks). Work is
//! spread over the batch with rayon, one single-threaded gemm per image, which on small images
//! keeps both cores busy without gemm's per-call synchronisation.
//!
//! candle's own `max_pool2d` is not used: in candle 0.11 its backward pass returns 1/k² of the
//! true input gradient.

use candle_core::backend::BackendStorage as _;
use candle_core::{
    CpuStorage, CustomOp1, CustomOp3, DType, Layout, Shape, Storage, Tensor, WithDType, bail,
};
use std::sync::Mutex;

use rayon::prelude::*;

use crate::builtin::kernel::{ConvGeometry, Element, MatRef, col2im, im2col, matmul};

/// Images per task when the weight gradient is summed over a batch. Fixed, so that the order of
/// the floating-point sums, and with it the trained weights, does not depend on the thread count.
const WEIGHT_GRAD_GROUP: usize = 16;

/// A stride-1 2-D convolution with zero padding, plus a per-channel bias.
///
/// # Errors
/// When the shapes do not fit together, the dtype is not `f32` or `f64`, or the tensors are not
/// on the CPU.
///
/// `input` is `[n, c, h, w]`, `weight` `[o, c, kh, kw]` (PyTorch's layout), `bias` `[o]`; the
/// result is `[n, o, h + 2·padding − kh + 1, w + 2·padding − kw + 1]`.
///
/// The backward pass computes the gradient of an argument only when it tracks ops, so with
/// constant weights (attack time) it costs one product and one col2im per image.
pub fn conv2d(
    input: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    padding: usize,
) -> candle_core::Result<Tensor> {
    conv2d_strided(input, weight, bias, padding, [1, 1])
}

/// [`conv2d`] with a stride (`[vertical, horizontal]`, each at least 1), computed at the output
/// positions only (im2col takes every stride-th window), with the backward pass to match.
///
/// The result is `[n, o, (h + 2·padding − kh) / stride[0] + 1, (w + 2·padding − kw) /
/// stride[1] + 1]`.
///
/// # Errors
/// As [`conv2d`], and when a stride is 0.
pub fn conv2d_strided(
    input: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    padding: usize,
    stride: [usize; 2],
) -> candle_core::Result<Tensor> {
    if stride.contains(&0) {
        bail!("conv2d: stride {stride:?} must be at least 1");
    }
    let input = input.contiguous()?;
    let weight = weight.contiguous()?;
    let bias = bias.contiguous()?;
    input.apply_op3(&weight, &bias, Conv2d { padding, stride })
}

/// [`conv2d`] followed by [`max_pool2x2`], fused per image so the full-resolution convolution
/// output never leaves the cache; the backward pass recomputes it per image.
///
/// Equal to `max_pool2x2(&conv2d(input, weight, bias, padding)?)` in value and gradient.
///
/// # Errors
/// As [`conv2d`].
pub fn conv2d_max_pool2x2(
    input: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    padding: usize,
) -> candle_core::Result<Tensor> {
    let input = input.contiguous()?;
    let weight = weight.contiguous()?;
    let bias = bias.contiguous()?;
    input.apply_op3(&weight, &bias, Conv2dMaxPool { padding, argmax: Mutex::new(Vec::new()) })
}

/// A linear layer, `input · weightᵀ + bias`, with `input` `[n, k]`, `weight` `[o, k]` (PyTorch's
/// layout) and `bias` `[o]`.
///
/// The same values as candle's `matmul` + `broadcast_add`, but the backward pass skips the weight
/// and bias gradients when they track no op (candle's computes both sides of every product),
/// which at attack time saves a product as large as the forward one.
///
/// # Errors
/// When the shapes do not fit together, the dtype is not `f32` or `f64`, or the tensors are not
/// on the CPU.
pub fn linear(input: &Tensor, weight: &Tensor, bias: &Tensor) -> candle_core::Result<Tensor> {
    let input = input.contiguous()?;
    let weight = weight.contiguous()?;
    let bias = bias.contiguous()?;
    input.apply_op3(&weight, &bias, Linear)
}

/// A 2×2 max pool with stride 2 over `[n, c, h, w]`; odd trailing rows and columns are dropped.
///
/// Ties go to the first maximum in row-major window order, in the forward and backward pass
/// alike.
///
/// # Errors
/// When the input is not 4-D, not `f32` or `f64`, or not on the CPU.
pub fn max_pool2x2(input: &Tensor) -> candle_core::Result<Tensor> {
    input.contiguous()?.apply_op1(MaxPool2x2)
}

struct Conv2d {
    padding: usize,
    stride: [usize; 2],
}

/// The sizes of one convolution call, checked.
struct ConvShape {
    batch: usize,
    out_channels: usize,
    geometry: ConvGeometry,
}

impl ConvShape {
    fn new(
        input: &Shape,
        weight: &Shape,
        bias: &Shape,
        padding: usize,
        stride: [usize; 2],
    ) -> candle_core::Result<Self> {
        let (batch, channels, height, width) = input.dims4()?;
        let (out_channels, weight_channels, kernel_h, kernel_w) = weight.dims4()?;
        let bias_len = bias.dims1()?;
        if weight_channels != channels || bias_len != out_channels {
            bail!(
                "conv2d: input {input:?}, weight {weight:?} and bias {bias:?} do not fit together"
            );
        }
        if kernel_h == 0
            || kernel_w == 0
            || height + 2 * padding < kernel_h
            || width + 2 * padding < kernel_w
        {
            bail!(
                "conv2d: kernel {kernel_h}×{kernel_w} does not fit input {height}×{width} with padding {padding}"
            );
        }
        let geometry =
            ConvGeometry { channels, height, width, kernel_h, kernel_w, padding, stride };
        Ok(ConvShape { batch, out_channels, geometry })
    }

    fn out_shape(&self) -> Shape {
        Shape::from((self.batch, self.out_channels, self.geometry.out_h(), self.geometry.out_w()))
    }
}

impl CustomOp3 for Conv2d {
    fn name(&self) -> &'static str {
        "stressor-conv2d"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let shape = ConvShape::new(l1.shape(), l2.shape(), l3.shape(), self.padding, self.stride)?;
        let out = match s1.dtype() {
            DType::F32 => CpuStorage::F32(conv_forward(
                contiguous::<f32>(s1, l1)?,
                contiguous::<f32>(s2, l2)?,
                contiguous::<f32>(s3, l3)?,
                &shape,
            )),
            DType::F64 => CpuStorage::F64(conv_forward(
                contiguous::<f64>(s1, l1)?,
                contiguous::<f64>(s2, l2)?,
                contiguous::<f64>(s3, l3)?,
                &shape,
            )),
            other => bail!("conv2d: unsupported dtype {other:?}"),
        };
        Ok((out, shape.out_shape()))
    }

    fn bwd(
        &self,
        input: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let shape =
            ConvShape::new(input.shape(), weight.shape(), bias.shape(), self.padding, self.stride)?;
        let grad_res = grad_res.contiguous()?;
        let want_input = input.track_op();
        let want_params = weight.track_op() || bias.track_op();
        let device = input.device();
        let mut grad_input = None;
        let mut grad_weight = None;
        let mut grad_bias = None;
        if want_input {
            let grad = match input.dtype() {
                DType::F32 => with_slices::<f32, _>(&grad_res, weight, |g, w| {
                    Tensor::from_vec(conv_input_grad(g, w, &shape), input.shape(), device)
                })?,
                DType::F64 => with_slices::<f64, _>(&grad_res, weight, |g, w| {
                    Tensor::from_vec(conv_input_grad(g, w, &shape), input.shape(), device)
                })?,
                other => bail!("conv2d: unsupported dtype {other:?}"),
            }?;
            grad_input = Some(grad);
        }
        if want_params {
            let (w, b) = match input.dtype() {
                DType::F32 => with_slices::<f32, _>(&grad_res, input, |g, x| {
                    let (w, b) = conv_param_grads(g, x, &shape);
                    Ok::<_, candle_core::Error>((
                        Tensor::from_vec(w, weight.shape(), device)?,
                        Tensor::from_vec(b, bias.shape(), device)?,
                    ))
                })?,
                DType::F64 => with_slices::<f64, _>(&grad_res, input, |g, x| {
                    let (w, b) = conv_param_grads(g, x, &shape);
                    Ok::<_, candle_core::Error>((
                        Tensor::from_vec(w, weight.shape(), device)?,
                        Tensor::from_vec(b, bias.shape(), device)?,
                    ))
                })?,
                other => bail!("conv2d: unsupported dtype {other:?}"),
            }?;
            grad_weight = weight.track_op().then_some(w);
            grad_bias = bias.track_op().then_some(b);
        }
        Ok((grad_input, grad_weight, grad_bias))
    }
}

struct Conv2dMaxPool {
    padding: usize,
    /// Where each pooled value came from (0..4, row-major in its window), written by the forward
    /// pass so that the backward pass need not recompute the convolution to route gradients.
    argmax: Mutex<Vec<u8>>,
}

impl CustomOp3 for Conv2dMaxPool {
    fn name(&self) -> &'static str {
        "stressor-conv2d-max-pool-2x2"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let shape = ConvShape::new(l1.shape(), l2.shape(), l3.shape(), self.padding, [1, 1])?;
        let mut argmax = self.argmax.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let out = match s1.dtype() {
            DType::F32 => CpuStorage::F32(conv_pool_forward(
                contiguous::<f32>(s1, l1)?,
                contiguous::<f32>(s2, l2)?,
                contiguous::<f32>(s3, l3)?,
                &shape,
                &mut argmax,
            )),
            DType::F64 => CpuStorage::F64(conv_pool_forward(
                contiguous::<f64>(s1, l1)?,
                contiguous::<f64>(s2, l2)?,
                contiguous::<f64>(s3, l3)?,
                &shape,
                &mut argmax,
            )),
            other => bail!("conv2d_max_pool2x2: unsupported dtype {other:?}"),
        };
        let (oh, ow) = (shape.geometry.out_h() / 2, shape.geometry.out_w() / 2);
        Ok((out, Shape::from((shape.batch, shape.out_channels, oh, ow))))
    }

    fn bwd(
        &self,
        input: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let shape =
            ConvShape::new(input.shape(), weight.shape(), bias.shape(), self.padding, [1, 1])?;
        let grad_res = grad_res.contiguous()?;
        let wanted =
            Wanted { input: input.track_op(), params: weight.track_op() || bias.track_op() };
        let device = input.device();
        let argmax = self.argmax.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let argmax = (argmax.len() == grad_res.elem_count()).then_some(argmax.as_slice());
        let (grad_input, grad_weight, grad_bias) = match input.dtype() {
            DType::F32 => with_slices::<f32, _>(&grad_res, input, |g, x| {
                with_slices::<f32, _>(weight, bias, |w, b| {
                    conv_pool_backward(g, x, w, b, argmax, &shape, wanted)
                })
            })??,
            DType::F64 => with_slices::<f64, _>(&grad_res, input, |g, x| {
                with_slices::<f64, _>(weight, bias, |w, b| {
                    conv_pool_backward(g, x, w, b, argmax, &shape, wanted)
                })
            })??,
            other => bail!("conv2d_max_pool2x2: unsupported dtype {other:?}"),
        };
        let grad_input = match grad_input {
            Some(values) => Some(values.into_tensor(input.shape(), device)?),
            None => None,
        };
        let (grad_weight, grad_bias) = match (grad_weight, grad_bias) {
            (Some(w), Some(b)) => (
                weight.track_op().then(|| w.into_tensor(weight.shape(), device)).transpose()?,
                bias.track_op().then(|| b.into_tensor(bias.shape(), device)).transpose()?,
            ),
            _ => (None, None),
        };
        Ok((grad_input, grad_weight, grad_bias))
    }
}

/// Which gradients a backward pass computes.
#[derive(Clone, Copy)]
struct Wanted {
    input: bool,
    params: bool,
}

/// Values of either float type on their way into a tensor.
enum Values {
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Values {
    fn into_tensor(
        self,
        shape: &Shape,
        device: &candle_core::Device,
    ) -> candle_core::Result<Tensor> {
        match self {
            Values::F32(values) => Tensor::from_vec(values, shape, device),
            Values::F64(values) => Tensor::from_vec(values, shape, device),
        }
    }
}

/// An element type that can be wrapped into [`Values`].
trait IntoValues: Element {
    fn into_values(values: Vec<Self>) -> Values;
}

impl IntoValues for f32 {
    fn into_values(values: Vec<Self>) -> Values {
        Values::F32(values)
    }
}

impl IntoValues for f64 {
    fn into_values(values: Vec<Self>) -> Values {
        Values::F64(values)
    }
}

struct Linear;

fn linear_dims(
    input: &Shape,
    weight: &Shape,
    bias: &Shape,
) -> candle_core::Result<(usize, usize, usize)> {
    let (n, k) = input.dims2()?;
    let (o, weight_k) = weight.dims2()?;
    if weight_k != k || bias.dims1()? != o {
        bail!("linear: input {input:?}, weight {weight:?} and bias {bias:?} do not fit together");
    }
    Ok((n, k, o))
}

fn linear_forward<T: Element>(
    input: &[T],
    weight: &[T],
    bias: &[T],
    n: usize,
    k: usize,
    o: usize,
) -> Vec<T> {
    let mut out: Vec<T> = std::iter::repeat_n(bias, n).flatten().copied().collect();
    matmul(&mut out, true, MatRef::row_major(input, n, k), MatRef::transposed(weight, k, o), true);
    out
}

impl CustomOp3 for Linear {
    fn name(&self) -> &'static str {
        "stressor-linear"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (n, k, o) = linear_dims(l1.shape(), l2.shape(), l3.shape())?;
        let out = match s1.dtype() {
            DType::F32 => CpuStorage::F32(linear_forward(
                contiguous::<f32>(s1, l1)?,
                contiguous::<f32>(s2, l2)?,
                contiguous::<f32>(s3, l3)?,
                n,
                k,
                o,
            )),
            DType::F64 => CpuStorage::F64(linear_forward(
                contiguous::<f64>(s1, l1)?,
                contiguous::<f64>(s2, l2)?,
                contiguous::<f64>(s3, l3)?,
                n,
                k,
                o,
            )),
            other => bail!("linear: unsupported dtype {other:?}"),
        };
        Ok((out, Shape::from((n, o))))
    }

    fn bwd(
        &self,
        input: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (n, k, o) = linear_dims(input.shape(), weight.shape(), bias.shape())?;
        let grad_res = grad_res.contiguous()?;
        // grad_input = grad · weight, grad_weight = gradᵀ · input, grad_bias = Σₙ grad.
        let grad_input = if input.track_op() { Some(grad_res.matmul(weight)?) } else { None };
        let grad_weight = if weight.track_op() { Some(grad_res.t()?.matmul(input)?) } else { None };
        let grad_bias = if bias.track_op() { Some(grad_res.sum(0)?) } else { None };
        debug_assert!(grad_res.dims() == [n, o] && input.dims() == [n, k]);
        Ok((grad_input, grad_weight, grad_bias))
    }
}

struct MaxPool2x2;

impl CustomOp1 for MaxPool2x2 {
    fn name(&self) -> &'static str {
        "stressor-max-pool-2x2"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = layout.shape().dims4()?;
        let out_shape = Shape::from((n, c, h / 2, w / 2));
        let out = match storage.dtype() {
            DType::F32 => {
                CpuStorage::F32(pool_forward(contiguous::<f32>(storage, layout)?, n * c, h, w))
            }
            DType::F64 => {
                CpuStorage::F64(pool_forward(contiguous::<f64>(storage, layout)?, n * c, h, w))
            }
            other => bail!("max_pool2x2: unsupported dtype {other:?}"),
        };
        Ok((out, out_shape))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let (n, c, h, w) = arg.dims4()?;
        let grad_res = grad_res.contiguous()?;
        let device = arg.device();
        let grad = match arg.dtype() {
            DType::F32 => with_slices::<f32, _>(arg, &grad_res, |x, g| {
                Tensor::from_vec(pool_backward(x, g, n * c, h, w), arg.shape(), device)
            })?,
            DType::F64 => with_slices::<f64, _>(arg, &grad_res, |x, g| {
                Tensor::from_vec(pool_backward(x, g, n * c, h, w), arg.shape(), device)
            })?,
            other => bail!("max_pool2x2: unsupported dtype {other:?}"),
        }?;
        Ok(Some(grad))
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
        None => bail!("stressor ops need contiguous tensors"),
    }
}

/// Calls `f` with the contiguous CPU values of two tensors.
fn with_slices<T: WithDType, R>(
    a: &Tensor,
    b: &Tensor,
    f: impl FnOnce(&[T], &[T]) -> R,
) -> candle_core::Result<R> {
    let a = a.contiguous()?;
    let b = b.contiguous()?;
    let (storage_a, layout_a) = a.storage_and_layout();
    let (storage_b, layout_b) = b.storage_and_layout();
    let (Storage::Cpu(cpu_a), Storage::Cpu(cpu_b)) = (&*storage_a, &*storage_b) else {
        bail!("stressor ops run on the CPU only");
    };
    Ok(f(contiguous(cpu_a, layout_a)?, contiguous(cpu_b, layout_b)?))
}

fn conv_forward<T: Element>(input: &[T], weight: &[T], bias: &[T], shape: &ConvShape) -> Vec<T> {
    let geometry = shape.geometry;
    let (k, p, o) = (geometry.col_rows(), geometry.col_cols(), shape.out_channels);
    let mut out = vec![T::ZERO; shape.batch * o * p];
    let pointwise = geometry.is_pointwise();
    out.par_chunks_mut(o * p).zip(input.par_chunks(geometry.image_len())).for_each_init(
        || if pointwise { Vec::new() } else { vec![T::ZERO; k * p] },
        |cols, (out_image, image)| {
            let cols = if pointwise {
                image
            } else {
                im2col(image, &geometry, cols);
                cols.as_slice()
            };
            for (row, &b) in out_image.chunks_mut(p).zip(bias) {
                row.fill(b);
            }
            let lhs = MatRef::row_major(weight, o, k);
            matmul(out_image, true, lhs, MatRef::row_major(cols, k, p), false);
        },
    );
    out
}

fn conv_input_grad<T: Element>(grad_out: &[T], weight: &[T], shape: &ConvShape) -> Vec<T> {
    let geometry = shape.geometry;
    let (k, p, o) = (geometry.col_rows(), geometry.col_cols(), shape.out_channels);
    let mut grad_in = vec![T::ZERO; shape.batch * geometry.image_len()];
    let pointwise = geometry.is_pointwise();
    grad_in.par_chunks_mut(geometry.image_len()).zip(grad_out.par_chunks(o * p)).for_each_init(
        || if pointwise { Vec::new() } else { vec![T::ZERO; k * p] },
        |cols, (grad_image, grad_out_image)| {
            let lhs = MatRef::transposed(weight, k, o);
            let rhs = MatRef::row_major(grad_out_image, o, p);
            if pointwise {
                matmul(grad_image, false, lhs, rhs, false);
            } else {
                matmul(cols, false, lhs, rhs, false);
                col2im(cols, &geometry, grad_image);
            }
        },
    );
    grad_in
}

fn conv_param_grads<T: Element>(
    grad_out: &[T],
    input: &[T],
    shape: &ConvShape,
) -> (Vec<T>, Vec<T>) {
    let geometry = shape.geometry;
    let (k, p, o) = (geometry.col_rows(), geometry.col_cols(), shape.out_channels);
    let partials: Vec<(Vec<T>, Vec<T>)> = grad_out
        .par_chunks(WEIGHT_GRAD_GROUP * o * p)
        .zip(input.par_chunks(WEIGHT_GRAD_GROUP * geometry.image_len()))
        .map(|(grad_group, input_group)| {
            let mut grad_weight = vec![T::ZERO; o * k];
            let mut grad_bias = vec![T::ZERO; o];
            let mut cols = vec![T::ZERO; k * p];
            for (grad_image, image) in
                grad_group.chunks(o * p).zip(input_group.chunks(geometry.image_len()))
            {
                im2col(image, &geometry, &mut cols);
                let lhs = MatRef::row_major(grad_image, o, p);
                matmul(&mut grad_weight, true, lhs, MatRef::transposed(&cols, p, k), false);
                for (acc, row) in grad_bias.iter_mut().zip(grad_image.chunks(p)) {
                    *acc += row.iter().fold(T::ZERO, |sum, &v| sum + v);
                }
            }
            (grad_weight, grad_bias)
        })
        .collect();
    let mut grad_weight = vec![T::ZERO; o * k];
    let mut grad_bias = vec![T::ZERO; o];
    for (w, b) in partials {
        grad_weight.iter_mut().zip(w).for_each(|(acc, v)| *acc += v);
        grad_bias.iter_mut().zip(b).for_each(|(acc, v)| *acc += v);
    }
    (grad_weight, grad_bias)
}

/// The convolution of one image into `out` (`[o, p]`), with `cols` as scratch.
fn conv_image<T: Element>(
    image: &[T],
    weight: &[T],
    bias: &[T],
    shape: &ConvShape,
    cols: &mut [T],
    out: &mut [T],
) {
    let geometry = shape.geometry;
    let (k, p, o) = (geometry.col_rows(), geometry.col_cols(), shape.out_channels);
    im2col(image, &geometry, cols);
    for (row, &b) in out.chunks_mut(p).zip(bias) {
        row.fill(b);
    }
    matmul(out, true, MatRef::row_major(weight, o, k), MatRef::row_major(cols, k, p), false);
}

fn conv_pool_forward<T: Element>(
    input: &[T],
    weight: &[T],
    bias: &[T],
    shape: &ConvShape,
    argmax: &mut Vec<u8>,
) -> Vec<T> {
    let geometry = shape.geometry;
    let (k, p, o) = (geometry.col_rows(), geometry.col_cols(), shape.out_channels);
    let (h, w) = (geometry.out_h(), geometry.out_w());
    let pooled = (h / 2) * (w / 2);
    let mut out = vec![T::ZERO; shape.batch * o * pooled];
    argmax.clear();
    argmax.resize(out.len(), 0);
    if pooled == 0 {
        return out;
    }
    out.par_chunks_mut(o * pooled)
        .zip(argmax.par_chunks_mut(o * pooled))
        .zip(input.par_chunks(geometry.image_len()))
        .for_each_init(
            || (vec![T::ZERO; k * p], vec![T::ZERO; o * p]),
            |(cols, conv), ((out_image, argmax_image), image)| {
                conv_image(image, weight, bias, shape, cols, conv);
                for ((out_plane, argmax_plane), plane) in out_image
                    .chunks_mut(pooled)
                    .zip(argmax_image.chunks_mut(pooled))
                    .zip(conv.chunks(p))
                {
                    pool_plane_argmax(plane, h, w, out_plane, argmax_plane);
                }
            },
        );
    out
}

type ConvGrads = (Option<Values>, Option<Values>, Option<Values>);

fn conv_pool_backward<T: IntoValues>(
    grad_out: &[T],
    input: &[T],
    weight: &[T],
    bias: &[T],
    argmax: Option<&[u8]>,
    shape: &ConvShape,
    wanted: Wanted,
) -> ConvGrads {
    let geometry = shape.geometry;
    let (k, p, o) = (geometry.col_rows(), geometry.col_cols(), shape.out_channels);
    let (h, w) = (geometry.out_h(), geometry.out_w());
    let pooled = (h / 2) * (w / 2);
    let image_len = geometry.image_len();
    let mut grad_input =
        if wanted.input { vec![T::ZERO; shape.batch * image_len] } else { Vec::new() };
    // Without an input gradient, each group writes into an empty slice.
    let input_group_len = if wanted.input { WEIGHT_GRAD_GROUP * image_len } else { 1 };
    let n_groups = shape.batch.div_ceil(WEIGHT_GRAD_GROUP);
    let mut input_groups: Vec<&mut [T]> = grad_input.chunks_mut(input_group_len).collect();
    input_groups.resize_with(n_groups, || &mut []);
    let partials: Vec<Option<(Vec<T>, Vec<T>)>> = input_groups
        .into_par_iter()
        .zip(grad_out.par_chunks(WEIGHT_GRAD_GROUP * o * pooled))
        .zip(input.par_chunks(WEIGHT_GRAD_GROUP * image_len))
        .enumerate()
        .map(|(group_index, ((grad_input_group, grad_group), input_group))| {
            let mut params = wanted.params.then(|| (vec![T::ZERO; o * k], vec![T::ZERO; o]));
            let mut cols = vec![T::ZERO; k * p];
            let mut conv = vec![T::ZERO; o * p];
            let mut grad_conv = vec![T::ZERO; o * p];
            let mut grad_cols = if wanted.input { vec![T::ZERO; k * p] } else { Vec::new() };
            for (index, (grad_image, image)) in
                grad_group.chunks(o * pooled).zip(input_group.chunks(image_len)).enumerate()
            {
                let image_index = group_index * WEIGHT_GRAD_GROUP + index;
                let image_argmax =
                    argmax.map(|a| &a[image_index * o * pooled..(image_index + 1) * o * pooled]);
                grad_conv.fill(T::ZERO);
                if let Some(image_argmax) = image_argmax {
                    if wanted.params {
                        im2col(image, &geometry, &mut cols);
                    }
                    for ((grad_plane, codes), grad_out_plane) in grad_conv
                        .chunks_mut(p)
                        .zip(image_argmax.chunks(pooled))
                        .zip(grad_image.chunks(pooled))
                    {
                        unpool_plane_argmax(codes, grad_out_plane, w, grad_plane);
                    }
                } else {
                    conv_image(image, weight, bias, shape, &mut cols, &mut conv);
                    for ((grad_plane, plane), grad_out_plane) in
                        grad_conv.chunks_mut(p).zip(conv.chunks(p)).zip(grad_image.chunks(pooled))
                    {
                        unpool_plane(plane, grad_out_plane, h, w, grad_plane);
                    }
                }
                if wanted.input {
                    let lhs = MatRef::transposed(weight, k, o);
                    matmul(&mut grad_cols, false, lhs, MatRef::row_major(&grad_conv, o, p), false);
                    col2im(
                        &grad_cols,
                        &geometry,
                        &mut grad_input_group[index * image_len..(index + 1) * image_len],
                    );
                }
                if let Some((grad_weight, grad_bias)) = params.as_mut() {
                    let lhs = MatRef::row_major(&grad_conv, o, p);
                    matmul(grad_weight, true, lhs, MatRef::transposed(&cols, p, k), false);
                    for (acc, row) in grad_bias.iter_mut().zip(grad_conv.chunks(p)) {
                        *acc += row.iter().fold(T::ZERO, |sum, &v| sum + v);
                    }
                }
            }
            params
        })
        .collect();
    let grad_input = wanted.input.then(|| T::into_values(grad_input));
    if !wanted.params {
        return (grad_input, None, None);
    }
    let mut grad_weight = vec![T::ZERO; o * k];
    let mut grad_bias = vec![T::ZERO; o];
    for (w, b) in partials.into_iter().flatten() {
        grad_weight.iter_mut().zip(w).for_each(|(acc, v)| *acc += v);
        grad_bias.iter_mut().zip(b).for_each(|(acc, v)| *acc += v);
    }
    (grad_input, Some(T::into_values(grad_weight)), Some(T::into_values(grad_bias)))
}

/// Pools one `h × w` plane into `out` (`h/2 × w/2`).
fn pool_plane<T: Element>(plane: &[T], h: usize, w: usize, out: &mut [T]) {
    let ow = w / 2;
    for oy in 0..h / 2 {
        let top = &plane[2 * oy * w..2 * oy * w + w];
        let bottom = &plane[(2 * oy + 1) * w..(2 * oy + 1) * w + w];
        for (ox, value) in out[oy * ow..(oy + 1) * ow].iter_mut().enumerate() {
            let mut best = top[2 * ox];
            for candidate in [top[2 * ox + 1], bottom[2 * ox], bottom[2 * ox + 1]] {
                if candidate > best {
                    best = candidate;
                }
            }
            *value = best;
        }
    }
}

/// [`pool_plane`], also recording where each maximum came from (0..4, row-major).
fn pool_plane_argmax<T: Element>(
    plane: &[T],
    h: usize,
    w: usize,
    out: &mut [T],
    argmax: &mut [u8],
) {
    let ow = w / 2;
    for oy in 0..h / 2 {
        let top = &plane[2 * oy * w..2 * oy * w + w];
        let bottom = &plane[(2 * oy + 1) * w..(2 * oy + 1) * w + w];
        for ox in 0..ow {
            let mut best = top[2 * ox];
            let mut code = 0;
            for (candidate_code, candidate) in
                [(1, top[2 * ox + 1]), (2, bottom[2 * ox]), (3, bottom[2 * ox + 1])]
            {
                if candidate > best {
                    best = candidate;
                    code = candidate_code;
                }
            }
            out[oy * ow + ox] = best;
            argmax[oy * ow + ox] = code;
        }
    }
}

/// Adds `grad_out` to the positions recorded by [`pool_plane_argmax`].
fn unpool_plane_argmax<T: Element>(argmax: &[u8], grad_out: &[T], w: usize, grad_plane: &mut [T]) {
    let ow = w / 2;
    for (index, (&code, &grad)) in argmax.iter().zip(grad_out).enumerate() {
        let (oy, ox) = (index / ow, index % ow);
        let (dy, dx) = (usize::from(code / 2), usize::from(code % 2));
        grad_plane[(2 * oy + dy) * w + 2 * ox + dx] += grad;
    }
}

/// Adds `grad_out` (`h/2 × w/2`) to the first maximum of each window of `grad_plane`.
fn unpool_plane<T: Element>(plane: &[T], grad_out: &[T], h: usize, w: usize, grad_plane: &mut [T]) {
    let ow = w / 2;
    for oy in 0..h / 2 {
        for ox in 0..ow {
            let (best, _) = window_argmax(plane, w, oy, ox);
            grad_plane[best] += grad_out[oy * ow + ox];
        }
    }
}

/// Position (0..4, row-major) of the first maximum of a 2×2 window.
fn window_argmax<T: Element>(plane: &[T], w: usize, oy: usize, ox: usize) -> (usize, T) {
    // The same comparisons, in the same order, as `pool_plane`.
    let base = 2 * oy * w + 2 * ox;
    let candidates = [base, base + 1, base + w, base + w + 1];
    let mut best = candidates[0];
    for &index in &candidates[1..] {
        if plane[index] > plane[best] {
            best = index;
        }
    }
    (best, plane[best])
}

fn pool_forward<T: Element>(input: &[T], planes: usize, h: usize, w: usize) -> Vec<T> {
    let (oh, ow) = (h / 2, w / 2);
    let mut out = vec![T::ZERO; planes * oh * ow];
    if oh * ow == 0 {
        return out;
    }
    out.par_chunks_mut(oh * ow)
        .zip(input.par_chunks(h * w))
        .for_each(|(out_plane, plane)| pool_plane(plane, h, w, out_plane));
    out
}

fn pool_backward<T: Element>(
    input: &[T],
    grad_out: &[T],
    planes: usize,
    h: usize,
    w: usize,
) -> Vec<T> {
    let (oh, ow) = (h / 2, w / 2);
    let mut grad_in = vec![T::ZERO; planes * h * w];
    if oh * ow == 0 {
        return grad_in;
    }
    grad_in
        .par_chunks_mut(h * w)
        .zip(input.par_chunks(h * w))
        .zip(grad_out.par_chunks(oh * ow))
        .for_each(|((grad_plane, plane), grad_out_plane)| {
            unpool_plane(plane, grad_out_plane, h, w, grad_plane);
        });
    grad_in
}
