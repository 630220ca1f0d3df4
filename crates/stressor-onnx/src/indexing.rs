//! Broadcasting, slicing and selection on both kinds of [`Value`]: the ops exporters emit to
//! compute shapes (`Slice`, `Split`, `Expand`, `Where`, `Equal`, `ConstantOfShape`, `Range`)
//! and that also move float tensors on the gradient path.
//!
//! Integer values are small (shapes, indices), so they are materialised element by element;
//! float values go through candle ops that have backward passes (`narrow`, `index_select`,
//! `broadcast_as`, `where_cond`).

use candle_core::{DType, Device, Tensor};

use crate::eval::{Result, arg, axis, candle, float, value_dims};
use crate::graph::{Coordinates, Ints, NearestMode, ResizeAttrs, SliceAttrs, Value};

/// The shape two shapes broadcast to (numpy rules).
pub(crate) fn broadcast_dims(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let at = |dims: &[usize], i: usize| {
        let offset = rank - dims.len();
        if i < offset { 1 } else { dims[i - offset] }
    };
    (0..rank)
        .map(|i| match (at(a, i), at(b, i)) {
            (x, y) if x == y => Ok(x),
            (1, y) => Ok(y),
            (x, 1) => Ok(x),
            _ => Err(format!("shapes {a:?} and {b:?} do not broadcast")),
        })
        .collect()
}

/// The values of `ints` broadcast to `dims` (which must be a broadcast of its shape), row-major.
fn broadcast_ints(ints: &Ints, dims: &[usize]) -> Vec<i64> {
    let total: usize = dims.iter().product();
    if ints.data.len() == total {
        return ints.data.clone();
    }
    let offset = dims.len() - ints.dims.len();
    // The stride of each output axis in the input (0 where the input is broadcast).
    let mut strides = vec![0usize; dims.len()];
    let mut stride = 1;
    for i in (0..ints.dims.len()).rev() {
        if ints.dims[i] != 1 {
            strides[i + offset] = stride;
        }
        stride *= ints.dims[i];
    }
    (0..total)
        .map(|mut flat| {
            let mut source = 0;
            for i in (0..dims.len()).rev() {
                source += (flat % dims[i]) * strides[i];
                flat /= dims[i];
            }
            ints.data[source]
        })
        .collect()
}

/// `f` applied elementwise to two broadcast integer tensors.
pub(crate) fn int_zip(a: &Ints, b: &Ints, f: impl Fn(i64, i64) -> Result<i64>) -> Result<Ints> {
    let dims = broadcast_dims(&a.dims, &b.dims)?;
    let (x, y) = (broadcast_ints(a, &dims), broadcast_ints(b, &dims));
    let data = x.iter().zip(&y).map(|(&x, &y)| f(x, y)).collect::<Result<_>>()?;
    Ok(Ints { dims, data })
}

/// The elements of `ints` at the given indices along each axis.
fn select_ints(ints: &Ints, per_axis: &[Vec<usize>]) -> Ints {
    let dims: Vec<usize> = per_axis.iter().map(Vec::len).collect();
    let total: usize = dims.iter().product();
    let mut strides = vec![1usize; ints.dims.len()];
    for i in (0..ints.dims.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * ints.dims[i + 1];
    }
    let data = (0..total)
        .map(|mut flat| {
            let mut source = 0;
            for i in (0..dims.len()).rev() {
                source += per_axis[i][flat % dims[i]] * strides[i];
                flat /= dims[i];
            }
            ints.data[source]
        })
        .collect();
    Ints { dims, data }
}

/// The entries `indices` of float tensor `t` along `axis`: a `narrow` when they are a run.
fn take(t: &Tensor, axis: usize, indices: &[usize]) -> Result<Tensor> {
    let len = candle(t.dim(axis))?;
    if indices.len() == len && indices.iter().enumerate().all(|(i, &j)| i == j) {
        return Ok(t.clone());
    }
    if let Some(&first) = indices.first()
        && indices.iter().enumerate().all(|(i, &j)| j == first + i)
    {
        return candle(t.narrow(axis, first, indices.len()));
    }
    let index: Vec<u32> = indices.iter().map(|&i| i as u32).collect();
    let n = index.len();
    candle(Tensor::from_vec(index, n, &Device::Cpu).and_then(|i| t.index_select(&i, axis)))
}

/// `value` restricted to the given indices along each axis.
fn take_value(value: &Value, per_axis: &[Vec<usize>], dtype: DType) -> Result<Value> {
    match value {
        Value::Int(ints) => Ok(Value::Int(select_ints(ints, per_axis))),
        Value::Float(_) => {
            let mut t = float(value, dtype)?;
            for (a, indices) in per_axis.iter().enumerate() {
                t = take(&t, a, indices)?;
            }
            Ok(Value::Float(t))
        }
    }
}

/// ONNX `Slice` (opset ≥ 10 inputs `data, starts, ends, axes?, steps?`, or opset < 10
/// attributes): negative indices count from the end, out-of-range ones are clamped, negative
/// steps walk backwards.
pub(crate) fn slice(
    args: &[Option<&Value>],
    attrs: Option<&SliceAttrs>,
    dtype: DType,
) -> Result<Value> {
    let data = arg(args, 0)?;
    let dims = value_dims(data);
    let ints_at = |index: usize| -> Result<Option<Vec<i64>>> {
        match args.get(index) {
            Some(Some(Value::Int(ints))) => Ok(Some(ints.data.clone())),
            Some(Some(Value::Float(_))) => Err(format!("input {index} must be integers")),
            _ => Ok(None),
        }
    };
    let (starts, ends, axes, steps) = match attrs {
        Some(a) => (a.starts.clone(), a.ends.clone(), a.axes.clone(), None),
        None => (
            ints_at(1)?.ok_or("the starts input is missing")?,
            ints_at(2)?.ok_or("the ends input is missing")?,
            ints_at(3)?,
            ints_at(4)?,
        ),
    };
    let axes = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
    let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return Err("starts, ends, axes and steps differ in length".to_string());
    }
    let mut per_axis: Vec<Vec<usize>> = dims.iter().map(|&d| (0..d).collect()).collect();
    for (((&start, &end), &a), &step) in starts.iter().zip(&ends).zip(&axes).zip(&steps) {
        let a = axis(a, dims.len())?;
        let len = dims[a] as i64;
        if step == 0 {
            return Err("a step of 0".to_string());
        }
        let resolve = |v: i64| if v < 0 { v.saturating_add(len) } else { v };
        let (start, end) = (resolve(start), resolve(end));
        per_axis[a] = if step > 0 {
            let (start, end) = (start.clamp(0, len), end.clamp(0, len));
            (start..end).step_by(step as usize).map(|i| i as usize).collect()
        } else {
            let (start, end) = (start.clamp(0, len - 1), end.clamp(-1, len - 1));
            let mut indices = Vec::new();
            let mut i = start;
            while i > end {
                indices.push(i as usize);
                i += step;
            }
            indices
        };
    }
    take_value(data, &per_axis, dtype)
}

/// ONNX `Split` into `outputs` parts along `axis`: sizes from the `split` input or attribute,
/// else equal parts (the last one smaller when the length does not divide).
pub(crate) fn split(
    data: &Value,
    split_input: Option<&Value>,
    split_attr: Option<&[i64]>,
    a: i64,
    outputs: usize,
    dtype: DType,
) -> Result<Vec<Value>> {
    let dims = value_dims(data);
    let a = axis(a, dims.len())?;
    let len = dims[a];
    let sizes: Vec<usize> = match (split_input, split_attr) {
        (Some(Value::Int(ints)), _) => ints.data.iter().map(|&s| s.max(0) as usize).collect(),
        (Some(Value::Float(_)), _) => return Err("the split input must be integers".to_string()),
        (None, Some(sizes)) => sizes.iter().map(|&s| s.max(0) as usize).collect(),
        (None, None) => {
            let part = len.div_ceil(outputs.max(1));
            (0..outputs).map(|i| part.min(len.saturating_sub(i * part))).collect()
        }
    };
    if sizes.iter().sum::<usize>() != len || sizes.len() != outputs {
        return Err(format!("split sizes {sizes:?} do not fit length {len} in {outputs} parts"));
    }
    let mut start = 0;
    let mut parts = Vec::with_capacity(outputs);
    for size in sizes {
        let mut per_axis: Vec<Vec<usize>> = dims.iter().map(|&d| (0..d).collect()).collect();
        per_axis[a] = (start..start + size).collect();
        parts.push(take_value(data, &per_axis, dtype)?);
        start += size;
    }
    Ok(parts)
}

/// ONNX `Expand`: `value` broadcast with `shape` (both ways, so a 1 in `shape` keeps the
/// input's dimension).
pub(crate) fn expand(value: &Value, shape: &Ints, dtype: DType) -> Result<Value> {
    let target: Vec<usize> = shape
        .data
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("bad Expand shape {:?}", shape.data)))
        .collect::<Result<_>>()?;
    let dims = broadcast_dims(&value_dims(value), &target)?;
    match value {
        Value::Int(ints) => Ok(Value::Int(Ints { data: broadcast_ints(ints, &dims), dims })),
        Value::Float(_) => Ok(Value::Float(candle(float(value, dtype)?.broadcast_as(dims))?)),
    }
}

/// ONNX `Where`: `x` where `condition` is non-zero, else `y`, all three broadcast.
pub(crate) fn select(condition: &Ints, x: &Value, y: &Value, dtype: DType) -> Result<Value> {
    if let (Value::Int(x), Value::Int(y)) = (x, y) {
        let dims = broadcast_dims(&broadcast_dims(&condition.dims, &x.dims)?, &y.dims)?;
        let (c, a, b) =
            (broadcast_ints(condition, &dims), broadcast_ints(x, &dims), broadcast_ints(y, &dims));
        let data = c.iter().zip(a.iter().zip(&b)).map(|(&c, (&a, &b))| if c != 0 { a } else { b });
        return Ok(Value::Int(Ints { data: data.collect(), dims }));
    }
    let (x, y) = (float(x, dtype)?, float(y, dtype)?);
    let dims = broadcast_dims(&broadcast_dims(&condition.dims, x.dims())?, y.dims())?;
    let mask: Vec<u8> =
        broadcast_ints(condition, &dims).iter().map(|&c| u8::from(c != 0)).collect();
    let mask = candle(Tensor::from_vec(mask, dims.clone(), &Device::Cpu))?;
    let (x, y) = (candle(x.broadcast_as(dims.clone()))?, candle(y.broadcast_as(dims))?);
    candle(mask.where_cond(&x, &y)).map(Value::Float)
}

/// ONNX `Equal` as integers 0 and 1 (stressor's booleans).
pub(crate) fn equal(a: &Value, b: &Value) -> Result<Value> {
    let as_ints = |v: &Value| -> Result<(Ints, bool)> {
        match v {
            Value::Int(ints) => Ok((ints.clone(), false)),
            Value::Float(t) => {
                let data = candle(
                    t.detach()
                        .flatten_all()
                        .and_then(|t| t.to_dtype(DType::F64))
                        .and_then(|t| t.to_vec1::<f64>()),
                )?;
                // Compared through their bit patterns as i64, exactly.
                let data = data.iter().map(|v| v.to_bits() as i64).collect();
                Ok((Ints { dims: t.dims().to_vec(), data }, true))
            }
        }
    };
    let ((a, a_float), (b, b_float)) = (as_ints(a)?, as_ints(b)?);
    if a_float != b_float {
        return Err("Equal of an integer and a float tensor".to_string());
    }
    int_zip(&a, &b, |x, y| Ok(i64::from(x == y))).map(Value::Int)
}

/// ONNX `ConstantOfShape`: a tensor of `shape` filled with the one value of `value`.
pub(crate) fn constant_of_shape(shape: &Ints, value: &Value) -> Result<Value> {
    let dims: Vec<usize> = shape
        .data
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("bad shape {:?}", shape.data)))
        .collect::<Result<_>>()?;
    let total: usize = dims.iter().product();
    if total > 1 << 28 {
        return Err(format!("shape {dims:?} is too large"));
    }
    match value {
        Value::Int(ints) => {
            let &[v] = ints.data.as_slice() else {
                return Err("the value attribute must hold one element".to_string());
            };
            Ok(Value::Int(Ints { dims, data: vec![v; total] }))
        }
        Value::Float(t) => {
            let v = candle(t.flatten_all().and_then(|t| t.to_vec1::<f32>()))?;
            let &[v] = v.as_slice() else {
                return Err("the value attribute must hold one element".to_string());
            };
            candle(Tensor::full(v, dims, &Device::Cpu)).map(Value::Float)
        }
    }
}

/// ONNX `Range`: `start, start + delta, …` up to `limit` (excluded).
pub(crate) fn range(start: &Value, limit: &Value, delta: &Value) -> Result<Value> {
    if let (Value::Int(s), Value::Int(l), Value::Int(d)) = (start, limit, delta) {
        let (&[s], &[l], &[d]) = (s.data.as_slice(), l.data.as_slice(), d.data.as_slice()) else {
            return Err("Range takes scalars".to_string());
        };
        if d == 0 {
            return Err("Range with delta 0".to_string());
        }
        let n = ((l - s) as f64 / d as f64).ceil().max(0.0) as usize;
        let data: Vec<i64> = (0..n as i64).map(|i| s + i * d).collect();
        return Ok(Value::Int(Ints { dims: vec![data.len()], data }));
    }
    let scalar = |v: &Value| -> Result<f64> {
        let t = float(v, DType::F64)?;
        let values = candle(t.flatten_all().and_then(|t| t.to_vec1::<f64>()))?;
        match values.as_slice() {
            [v] => Ok(*v),
            _ => Err("Range takes scalars".to_string()),
        }
    };
    let (s, l, d) = (scalar(start)?, scalar(limit)?, scalar(delta)?);
    if d == 0.0 {
        return Err("Range with delta 0".to_string());
    }
    let n = ((l - s) / d).ceil().max(0.0) as usize;
    if n > 1 << 28 {
        return Err("Range is too long".to_string());
    }
    let data: Vec<f32> = (0..n).map(|i| (s + i as f64 * d) as f32).collect();
    candle(Tensor::from_vec(data, n, &Device::Cpu)).map(Value::Float)
}

/// ONNX `Resize` (opset ≥ 11; inputs `X, roi, scales, sizes`) of an `[n, c, h, w]` tensor over
/// its two spatial axes, one axis at a time: nearest neighbours by `index_select`, bilinear as
/// two `index_select`s weighted by constants, so the gradient flows through candle's ops.
pub(crate) fn resize(x: &Tensor, args: &[Option<&Value>], attrs: &ResizeAttrs) -> Result<Tensor> {
    let dims = x.dims().to_vec();
    if dims.len() != 4 {
        return Err(format!("Resize of shape {dims:?}; stressor resizes [n, c, h, w]"));
    }
    let floats = |index: usize| -> Result<Option<Vec<f64>>> {
        match args.get(index) {
            Some(Some(v)) if !value_dims(v).contains(&0) => {
                let t = float(v, DType::F64)?;
                Ok(Some(candle(t.flatten_all().and_then(|t| t.to_vec1::<f64>()))?))
            }
            _ => Ok(None),
        }
    };
    // Output length and scale per axis.
    let (lengths, scales): (Vec<usize>, Vec<f64>) = match (floats(3)?, floats(2)?) {
        (Some(sizes), _) if sizes.len() == 4 => {
            let lengths: Vec<usize> = sizes.iter().map(|&s| s.max(0.0) as usize).collect();
            let scales = lengths.iter().zip(&dims).map(|(&o, &i)| o as f64 / i as f64).collect();
            (lengths, scales)
        }
        (None, Some(scales)) if scales.len() == 4 => {
            let lengths =
                scales.iter().zip(&dims).map(|(&s, &i)| (s * i as f64).floor() as usize).collect();
            (lengths, scales)
        }
        _ => return Err("Resize needs four scales or four sizes".to_string()),
    };
    if lengths[0] != dims[0] || lengths[1] != dims[1] {
        return Err(format!("Resize to {lengths:?} changes the batch or channels of {dims:?}"));
    }
    let mut y = x.clone();
    for a in [2, 3] {
        let (in_len, out_len, scale) = (dims[a], lengths[a], scales[a]);
        if in_len == out_len && scale == 1.0 {
            continue;
        }
        if out_len == 0 || in_len == 0 || out_len > 1 << 16 {
            return Err(format!("Resize of length {in_len} to {out_len}"));
        }
        let source = |o: usize| -> f64 {
            let o = o as f64;
            match attrs.coordinates {
                Coordinates::HalfPixel => (o + 0.5) / scale - 0.5,
                Coordinates::PytorchHalfPixel if out_len > 1 => (o + 0.5) / scale - 0.5,
                Coordinates::PytorchHalfPixel => 0.0,
                Coordinates::AlignCorners if out_len > 1 => {
                    o * (in_len - 1) as f64 / (out_len - 1) as f64
                }
                Coordinates::AlignCorners => 0.0,
                Coordinates::Asymmetric => o / scale,
                Coordinates::TfHalfPixelForNn => (o + 0.5) / scale,
            }
        };
        let last = (in_len - 1) as f64;
        if attrs.linear {
            let mut low = Vec::with_capacity(out_len);
            let mut high = Vec::with_capacity(out_len);
            let mut weight = Vec::with_capacity(out_len);
            for o in 0..out_len {
                let s = source(o).clamp(0.0, last);
                let l = s.floor();
                low.push(l as usize);
                high.push(((l + 1.0).min(last)) as usize);
                weight.push(s - l);
            }
            let mut shape = vec![1usize; 4];
            shape[a] = out_len;
            let w_high = candle(
                Tensor::from_vec(weight.clone(), shape.clone(), &Device::Cpu)
                    .and_then(|t| t.to_dtype(x.dtype())),
            )?;
            let w_low = candle(
                Tensor::from_vec(
                    weight.iter().map(|w| 1.0 - w).collect::<Vec<f64>>(),
                    shape,
                    &Device::Cpu,
                )
                .and_then(|t| t.to_dtype(x.dtype())),
            )?;
            let (lo, hi) = (take(&y, a, &low)?, take(&y, a, &high)?);
            y = candle(lo.broadcast_mul(&w_low).and_then(|l| l.add(&hi.broadcast_mul(&w_high)?)))?;
        } else {
            let index: Vec<usize> = (0..out_len)
                .map(|o| {
                    let s = source(o);
                    let i = match attrs.nearest {
                        NearestMode::Floor => s.floor(),
                        NearestMode::Ceil => s.ceil(),
                        NearestMode::RoundPreferFloor if s.fract() == 0.5 => s.floor(),
                        NearestMode::RoundPreferCeil if s.fract() == 0.5 => s.ceil(),
                        _ => s.round(),
                    };
                    i.clamp(0.0, last) as usize
                })
                .collect();
            y = take(&y, a, &index)?;
        }
    }
    Ok(y)
}
