//! Evaluates a checked [`Graph`] on candle tensors, so candle's autograd gives input gradients.
//!
//! Float values run in the input's dtype (`f32`, or `f64` in gradient checks; constants are
//! stored as `f32` and converted on use). Integer values (shapes, indices, axes) are computed on
//! the side as plain vectors and never carry gradients. Convolutions, linear layers and max
//! pools go to `stressor_model::builtin::ops` (im2col + gemm at any stride, with backward passes
//! that skip the gradients of constant weights) or to this crate's [`Pool2d`]; depthwise
//! convolutions, layer norms, clamped activations, sigmoids and same-shape arithmetic to this
//! crate's own parallel ops.

use std::collections::HashMap;
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use stressor_model::builtin::ops;

use crate::activation::{Clamp, Sigmoid};
use crate::binary::Binary;
use crate::depthwise::Depthwise;
use crate::graph::{AutoPad, ConvAttrs, Graph, Ints, Node, Op, ReduceKind, Value};
use crate::norm::LayerNorm;

/// Why a node failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EvalError {
    pub(crate) node: String,
    pub(crate) op: String,
    pub(crate) message: String,
}

pub(crate) type Result<T> = std::result::Result<T, String>;

impl Graph {
    /// The value `output` (the graph's output, or an intermediate float value) for `input` (the
    /// graph's own input tensor, already laid out and normalised).
    pub(crate) fn run(
        &self,
        input: &Tensor,
        output: &str,
    ) -> std::result::Result<Tensor, EvalError> {
        let dtype = input.dtype();
        let value = self.evaluate(input, output, None)?;
        let fail = |message: &str| EvalError {
            node: output.to_string(),
            op: "output".to_string(),
            message: message.to_string(),
        };
        match value {
            Some(value) => float(&value, dtype).map_err(|e| fail(&e)),
            None => Err(fail("the graph output was not computed")),
        }
    }

    /// The dimensions of every value computed for `input`, by name (for load-time folding).
    pub(crate) fn value_dims(
        &self,
        input: &Tensor,
    ) -> std::result::Result<HashMap<String, Vec<usize>>, EvalError> {
        let mut dims = HashMap::new();
        self.evaluate(input, &self.output, Some(&mut dims))?;
        Ok(dims)
    }

    /// Evaluates nodes in order until `output` is computed, dropping each value after its last
    /// reader so that a forward pass holds few activations at once (autograd keeps what the
    /// backward pass needs). Records every value's dimensions into `record` when given.
    fn evaluate(
        &self,
        input: &Tensor,
        output: &str,
        mut record: Option<&mut HashMap<String, Vec<usize>>>,
    ) -> std::result::Result<Option<Value>, EvalError> {
        let dtype = input.dtype();
        let mut last_use: HashMap<&str, usize> = HashMap::new();
        for (index, node) in self.nodes.iter().enumerate() {
            for name in &node.inputs {
                last_use.insert(name.as_str(), index);
            }
        }
        let mut values: HashMap<&str, Value> = HashMap::new();
        values.insert(self.input.as_str(), Value::Float(input.clone()));
        if output == self.input {
            return Ok(values.remove(output));
        }
        for (index, node) in self.nodes.iter().enumerate() {
            let error = |message: String| EvalError {
                node: node.name.clone(),
                op: node.op_type.clone(),
                message,
            };
            let args: Vec<Option<&Value>> = node
                .inputs
                .iter()
                .map(|name| {
                    if name.is_empty() {
                        None
                    } else {
                        values.get(name.as_str()).or_else(|| self.constants.get(name))
                    }
                })
                .collect();
            let outs = if crate::profile::enabled() {
                let (key, start) = (crate::profile::key(node, &args), std::time::Instant::now());
                let outs = eval_outputs(node, &args, dtype);
                crate::profile::record(key, start.elapsed());
                outs
            } else {
                eval_outputs(node, &args, dtype)
            }
            .map_err(error)?;
            let mut done = false;
            for (name, out) in node.outputs.iter().zip(outs) {
                if name.is_empty() {
                    continue;
                }
                if let Some(record) = record.as_deref_mut() {
                    record.insert(name.clone(), value_dims(&out));
                }
                done |= name == output;
                values.insert(name.as_str(), out);
            }
            if done {
                return Ok(values.remove(output));
            }
            for name in &node.inputs {
                if last_use.get(name.as_str()) == Some(&index) && name != output {
                    values.remove(name.as_str());
                }
            }
        }
        Ok(values.remove(output).or_else(|| self.constants.get(output).cloned()))
    }
}

/// The values of a node's outputs, in order (fewer than its outputs when it computes only the
/// first, as `Dropout` without its mask).
pub(crate) fn eval_outputs(
    node: &Node,
    args: &[Option<&Value>],
    dtype: DType,
) -> Result<Vec<Value>> {
    match &node.op {
        Op::Split { axis, split } => crate::indexing::split(
            arg(args, 0)?,
            args.get(1).copied().flatten(),
            split.as_deref(),
            *axis,
            node.outputs.len(),
            dtype,
        ),
        _ => eval_node(node, args, dtype).map(|v| vec![v]),
    }
}

pub(crate) fn candle<T>(result: candle_core::Result<T>) -> Result<T> {
    result.map_err(|e| e.to_string())
}

/// A value as a float tensor of `dtype`.
pub(crate) fn float(value: &Value, dtype: DType) -> Result<Tensor> {
    match value {
        Value::Float(t) if t.dtype() == dtype => Ok(t.clone()),
        Value::Float(t) => candle(t.to_dtype(dtype)),
        Value::Int(ints) => {
            let data: Vec<f64> = ints.data.iter().map(|&v| v as f64).collect();
            candle(
                Tensor::from_vec(data, ints.dims.clone(), &Device::Cpu)
                    .and_then(|t| t.to_dtype(dtype)),
            )
        }
    }
}

/// Argument `index`, which must be present.
pub(crate) fn arg<'a>(args: &[Option<&'a Value>], index: usize) -> Result<&'a Value> {
    match args.get(index) {
        Some(Some(v)) => Ok(v),
        _ => Err(format!("input {index} is missing")),
    }
}

fn float_arg(args: &[Option<&Value>], index: usize, dtype: DType) -> Result<Tensor> {
    float(arg(args, index)?, dtype)
}

fn optional_float(args: &[Option<&Value>], index: usize, dtype: DType) -> Result<Option<Tensor>> {
    match args.get(index) {
        Some(Some(v)) => float(v, dtype).map(Some),
        _ => Ok(None),
    }
}

pub(crate) fn ints_arg<'a>(args: &[Option<&'a Value>], index: usize) -> Result<&'a Ints> {
    match arg(args, index)? {
        Value::Int(ints) => Ok(ints),
        Value::Float(_) => Err(format!("input {index} must be an integer tensor")),
    }
}

/// A scalar float argument (a one-element tensor).
fn scalar_arg(args: &[Option<&Value>], index: usize) -> Result<Option<f32>> {
    match args.get(index) {
        Some(Some(Value::Float(t))) => {
            let values = candle(
                t.flatten_all()
                    .and_then(|t| t.to_dtype(DType::F32))
                    .and_then(|t| t.to_vec1::<f32>()),
            )?;
            match values.as_slice() {
                [v] => Ok(Some(*v)),
                _ => Err(format!("input {index} must be a scalar")),
            }
        }
        Some(Some(Value::Int(ints))) => match ints.data.as_slice() {
            [v] => Ok(Some(*v as f32)),
            _ => Err(format!("input {index} must be a scalar")),
        },
        _ => Ok(None),
    }
}

/// Resolves a possibly negative axis against `rank` (`rank_extra` extra positions allowed, for
/// Unsqueeze).
pub(crate) fn axis(axis: i64, rank: usize) -> Result<usize> {
    let resolved = if axis < 0 { axis + rank as i64 } else { axis };
    if resolved < 0 || resolved >= rank as i64 {
        return Err(format!("axis {axis} is out of range for rank {rank}"));
    }
    Ok(resolved as usize)
}

fn eval_node(node: &Node, args: &[Option<&Value>], dtype: DType) -> Result<Value> {
    let x = || float_arg(args, 0, dtype);
    let out = match &node.op {
        Op::Conv(attrs) => {
            let bias = optional_float(args, 2, dtype)?;
            conv(&x()?, &float_arg(args, 1, dtype)?, bias.as_ref(), attrs)?
        }
        Op::ConvPool { padding, relu } => {
            let input = x()?;
            let weight = float_arg(args, 1, dtype)?;
            let bias = match optional_float(args, 2, dtype)? {
                Some(b) => b,
                None => candle(Tensor::zeros(candle(weight.dim(0))?, dtype, &Device::Cpu))?,
            };
            check_conv(&input, &weight, 1)?;
            let pooled = candle(ops::conv2d_max_pool2x2(&input, &weight, &bias, *padding))?;
            if *relu { candle(Clamp::RELU.apply(&pooled))? } else { pooled }
        }
        Op::Gemm { alpha, beta, trans_a, trans_b } => {
            gemm(args, dtype, *alpha, *beta, *trans_a, *trans_b)?
        }
        Op::MatMul => matmul(&x()?, &float_arg(args, 1, dtype)?)?,
        Op::MatMulByWeight => {
            let (x, weight) = (x()?, float_arg(args, 1, dtype)?);
            let (o, k) = candle(weight.dims2())?;
            let dims = x.dims().to_vec();
            if dims.len() < 2 || dims[dims.len() - 1] != k {
                return Err(format!("cannot multiply {dims:?} by a {k}×{o} matrix"));
            }
            let rows: usize = dims[..dims.len() - 1].iter().product();
            let zero = candle(Tensor::zeros(o, dtype, &Device::Cpu))?;
            let y = candle(x.reshape((rows, k)).and_then(|x| ops::linear(&x, &weight, &zero)))?;
            let mut out_dims = dims;
            let last = out_dims.len() - 1;
            out_dims[last] = o;
            candle(y.reshape(out_dims))?
        }
        Op::Relu => candle(Clamp::RELU.apply(&x()?))?,
        Op::LeakyRelu { alpha } => {
            let x = x()?;
            // relu(x) − α·relu(−x): x for x > 0, αx for x < 0.
            candle(x.relu().and_then(|pos| pos - x.neg()?.relu()?.affine(f64::from(*alpha), 0.0)?))?
        }
        // σ(x) = (1 + tanh(x/2)) / 2, which saturates without overflowing in either direction.
        Op::Sigmoid => candle(Sigmoid::apply(&x()?))?,
        Op::Tanh => candle(x()?.tanh())?,
        Op::Pool(pool) => {
            let x = x()?;
            candle(x.dims4())?;
            candle(pool.apply(&x))?
        }
        Op::MaxPool2x2 => candle(ops::max_pool2x2(&x()?))?,
        Op::GlobalAveragePool => {
            let x = x()?;
            let rank = x.rank();
            if rank < 3 {
                return Err(format!("input has rank {rank}; expected [n, c, spatial...]"));
            }
            let dims: Vec<usize> = (2..rank).collect();
            candle(x.mean_keepdim(dims))?
        }
        Op::BatchNormalization { epsilon } => {
            let x = x()?;
            let (scale, bias, mean, var) = (
                float_arg(args, 1, dtype)?,
                float_arg(args, 2, dtype)?,
                float_arg(args, 3, dtype)?,
                float_arg(args, 4, dtype)?,
            );
            let rank = x.rank();
            let channels = candle(x.dim(1))?;
            let mut shape = vec![1; rank];
            shape[1] = channels;
            // y = x·a + b with a = scale / √(var + ε), b = bias − mean·a.
            let a =
                candle(var.affine(1.0, f64::from(*epsilon)).and_then(|v| scale.div(&v.sqrt()?)))?;
            let b = candle(mean.mul(&a).and_then(|m| bias.sub(&m)))?;
            let (a, b) = (candle(a.reshape(shape.clone()))?, candle(b.reshape(shape))?);
            candle(x.broadcast_mul(&a).and_then(|t| t.broadcast_add(&b)))?
        }
        Op::Add | Op::Sub | Op::Mul | Op::Div => {
            return binary(&node.op, arg(args, 0)?, arg(args, 1)?, dtype);
        }
        Op::Flatten { axis: a } => {
            let x = x()?;
            let dims = x.dims().to_vec();
            let split = if *a < 0 { *a + dims.len() as i64 } else { *a };
            if split < 0 || split > dims.len() as i64 {
                return Err(format!("axis {a} is out of range for rank {}", dims.len()));
            }
            let split = split as usize;
            let outer: usize = dims[..split].iter().product();
            let inner: usize = dims[split..].iter().product();
            candle(x.reshape((outer, inner)))?
        }
        Op::Reshape { allow_zero } => {
            let target = ints_arg(args, 1)?;
            return match arg(args, 0)? {
                Value::Float(t) => {
                    let t = float(&Value::Float(t.clone()), dtype)?;
                    let dims = reshape_dims(t.dims(), &target.data, *allow_zero)?;
                    Ok(Value::Float(candle(t.reshape(dims))?))
                }
                Value::Int(ints) => {
                    let dims = reshape_dims(&ints.dims, &target.data, *allow_zero)?;
                    Ok(Value::Int(Ints { dims, data: ints.data.clone() }))
                }
            };
        }
        Op::Transpose { perm } => {
            let x = x()?;
            let rank = x.rank();
            let perm: Vec<usize> = match perm {
                Some(p) => p.iter().map(|&a| axis(a, rank)).collect::<Result<_>>()?,
                None => (0..rank).rev().collect(),
            };
            let mut seen = perm.clone();
            seen.sort_unstable();
            if seen != (0..rank).collect::<Vec<_>>() {
                return Err(format!("perm {perm:?} is not a permutation of 0..{rank}"));
            }
            candle(x.permute(perm))?
        }
        Op::Concat { axis: a } => return concat(args, *a, dtype),
        Op::Pad { pads, value } => {
            let x = x()?;
            let pads = match pads {
                Some(p) => p.clone(),
                None => ints_arg(args, 1)?.data.clone(),
            };
            let value = match pads_value(args, node)? {
                Some(v) => v,
                None => *value,
            };
            pad(&x, &pads, value)?
        }
        Op::Softmax { axis: a, legacy } => {
            let x = x()?;
            let rank = x.rank();
            let a = axis(*a, rank)?;
            if *legacy {
                let dims = x.dims().to_vec();
                let outer: usize = dims[..a].iter().product();
                let inner: usize = dims[a..].iter().product();
                let flat = candle(x.reshape((outer, inner)))?;
                candle(softmax(&flat, 1)?.reshape(dims))?
            } else {
                softmax(&x, a)?
            }
        }
        Op::Clip { min, max } => {
            let (min, max) = if node_has_clip_inputs(node) {
                (scalar_arg(args, 1)?, scalar_arg(args, 2)?)
            } else {
                (*min, *max)
            };
            clip(&x()?, min, max)?
        }
        Op::Identity => return arg(args, 0).cloned(),
        Op::Constant(value) => return Ok(value.clone()),
        Op::Shape { start, end } => {
            let dims: Vec<i64> = match arg(args, 0)? {
                Value::Float(t) => t.dims().iter().map(|&d| d as i64).collect(),
                Value::Int(ints) => ints.dims.iter().map(|&d| d as i64).collect(),
            };
            let rank = dims.len() as i64;
            let clamp = |v: i64| (if v < 0 { v + rank } else { v }).clamp(0, rank) as usize;
            let (s, e) = (clamp(*start), clamp(end.unwrap_or(rank)));
            let data = if s < e { dims[s..e].to_vec() } else { Vec::new() };
            return Ok(Value::Int(Ints { dims: vec![data.len()], data }));
        }
        Op::Gather { axis: a } => return gather(arg(args, 0)?, ints_arg(args, 1)?, *a, dtype),
        Op::Unsqueeze { axes } => {
            let axes = match axes {
                Some(a) => a.clone(),
                None => ints_arg(args, 1)?.data.clone(),
            };
            let value = arg(args, 0)?;
            let dims = value_dims(value);
            let new_rank = dims.len() + axes.len();
            let mut resolved: Vec<usize> =
                axes.iter().map(|&a| axis(a, new_rank)).collect::<Result<_>>()?;
            resolved.sort_unstable();
            let mut new_dims = dims.clone();
            for a in resolved {
                new_dims.insert(a, 1);
            }
            return reshape_value(value, new_dims, dtype);
        }
        Op::Squeeze { axes } => {
            let value = arg(args, 0)?;
            let dims = value_dims(value);
            let axes: Vec<usize> = match axes {
                Some(a) => a.iter().map(|&a| axis(a, dims.len())).collect::<Result<_>>()?,
                None => match args.get(1) {
                    Some(Some(_)) => ints_arg(args, 1)?
                        .data
                        .iter()
                        .map(|&a| axis(a, dims.len()))
                        .collect::<Result<_>>()?,
                    _ => (0..dims.len()).filter(|&i| dims[i] == 1).collect(),
                },
            };
            if axes.iter().any(|&a| dims[a] != 1) {
                return Err(format!("cannot squeeze axes {axes:?} of shape {dims:?}"));
            }
            let new_dims: Vec<usize> = dims
                .iter()
                .enumerate()
                .filter(|(i, _)| !axes.contains(i))
                .map(|(_, &d)| d)
                .collect();
            return reshape_value(value, new_dims, dtype);
        }
        Op::Cast { to_float, to_bool } => {
            let value = arg(args, 0)?;
            let ints = match (value, to_float) {
                (_, true) => return Ok(Value::Float(float(value, dtype)?)),
                (Value::Int(ints), false) => ints.clone(),
                (Value::Float(t), false) => {
                    let data = candle(
                        t.flatten_all()
                            .and_then(|t| t.to_dtype(DType::F64))
                            .and_then(|t| t.to_vec1::<f64>()),
                    )?;
                    Ints { dims: t.dims().to_vec(), data: data.iter().map(|&v| v as i64).collect() }
                }
            };
            let data = if *to_bool {
                ints.data.iter().map(|&v| i64::from(v != 0)).collect()
            } else {
                ints.data
            };
            return Ok(Value::Int(Ints { dims: ints.dims, data }));
        }
        Op::HardSigmoid { alpha, beta } => {
            hard_sigmoid(&x()?, f64::from(*alpha), f64::from(*beta))?
        }
        Op::HardSwish => {
            let op = Clamp { alpha: 1.0 / 6.0, beta: 0.5, lo: 0.0, hi: 1.0, times_input: true };
            candle(op.apply(&x()?))?
        }
        Op::Erf => candle(x()?.erf())?,
        Op::Gelu { tanh } => {
            let x = x()?;
            candle(if *tanh { x.gelu() } else { x.gelu_erf() })?
        }
        Op::Sqrt => candle(x()?.sqrt())?,
        Op::Exp => candle(x()?.exp())?,
        Op::Log => candle(x()?.log())?,
        Op::Abs => candle(x()?.abs())?,
        Op::PRelu => {
            let (x, slope) = (x()?, float_arg(args, 1, dtype)?);
            candle(
                x.relu()
                    .and_then(|pos| pos.broadcast_sub(&x.neg()?.relu()?.broadcast_mul(&slope)?)),
            )?
        }
        Op::Extremum { max } => {
            if args.iter().all(|a| matches!(a, Some(Value::Int(_)))) {
                let mut ints = ints_arg(args, 0)?.clone();
                for index in 1..args.len() {
                    let pick = |a: i64, b: i64| Ok(if *max { a.max(b) } else { a.min(b) });
                    ints = crate::indexing::int_zip(&ints, ints_arg(args, index)?, pick)?;
                }
                return Ok(Value::Int(ints));
            }
            let mut y = x()?;
            for index in 1..args.len() {
                let other = float_arg(args, index, dtype)?;
                y = candle(if *max {
                    y.broadcast_maximum(&other)
                } else {
                    y.broadcast_minimum(&other)
                })?;
            }
            y
        }
        Op::Neg => match arg(args, 0)? {
            Value::Int(ints) => {
                return Ok(Value::Int(Ints {
                    dims: ints.dims.clone(),
                    data: ints.data.iter().map(|v| v.wrapping_neg()).collect(),
                }));
            }
            Value::Float(_) => candle(x()?.neg())?,
        },
        Op::Reciprocal => candle(x()?.recip())?,
        Op::Pow => return pow(arg(args, 0)?, arg(args, 1)?, dtype),
        Op::Mod { fmod } => {
            let (Value::Int(a), Value::Int(b)) = (arg(args, 0)?, arg(args, 1)?) else {
                return Err("Mod of float tensors is not supported".to_string());
            };
            let fmod = *fmod;
            return crate::indexing::int_zip(a, b, |x, y| {
                if y == 0 {
                    return Err("integer modulo by zero".to_string());
                }
                Ok(if fmod { x % y } else { (x % y + y) % y })
            })
            .map(Value::Int);
        }
        Op::LayerNormalization { axis: a, epsilon } => {
            let x = x()?;
            let rank = x.rank();
            let first = axis(*a, rank)?;
            let scale = float_arg(args, 1, dtype)?;
            let bias = optional_float(args, 2, dtype)?;
            if let Some(op) = layer_norm_op(&x, first, &scale, bias.as_ref(), *epsilon)? {
                return candle(op.apply(&x)).map(Value::Float);
            }
            let dims: Vec<usize> = (first..rank).collect();
            let mean = candle(x.mean_keepdim(dims.clone()))?;
            let centred = candle(x.broadcast_sub(&mean))?;
            let var = candle(centred.sqr().and_then(|t| t.mean_keepdim(dims)))?;
            let normed = candle(
                var.affine(1.0, f64::from(*epsilon))
                    .and_then(|v| v.sqrt())
                    .and_then(|s| centred.broadcast_div(&s)),
            )?;
            let scaled = candle(normed.broadcast_mul(&scale))?;
            match bias {
                Some(bias) => candle(scaled.broadcast_add(&bias))?,
                None => scaled,
            }
        }
        Op::Reduce { kind, axes, keep_dims, noop_with_empty_axes } => {
            let x = x()?;
            let axes: Vec<i64> = match axes {
                Some(a) => a.clone(),
                None => match args.get(1) {
                    Some(Some(_)) => ints_arg(args, 1)?.data.clone(),
                    _ => Vec::new(),
                },
            };
            let rank = x.rank();
            let mut dims: Vec<usize> = if axes.is_empty() {
                if *noop_with_empty_axes {
                    return Ok(Value::Float(x));
                }
                (0..rank).collect()
            } else {
                axes.iter().map(|&a| axis(a, rank)).collect::<Result<_>>()?
            };
            dims.sort_unstable();
            dims.dedup();
            let reduced = match kind {
                ReduceKind::Mean => candle(x.mean_keepdim(dims.clone()))?,
                ReduceKind::Sum => candle(x.sum_keepdim(dims.clone()))?,
                ReduceKind::Max => {
                    let mut y = x;
                    for &d in &dims {
                        y = candle(y.max_keepdim(d))?;
                    }
                    y
                }
            };
            if *keep_dims {
                reduced
            } else {
                let kept: Vec<usize> = reduced
                    .dims()
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !dims.contains(i))
                    .map(|(_, &d)| d)
                    .collect();
                candle(reduced.reshape(kept))?
            }
        }
        Op::Split { .. } => return Err("Split has several outputs".to_string()),
        Op::Slice { attrs } => return crate::indexing::slice(args, attrs.as_ref(), dtype),
        Op::Expand => return crate::indexing::expand(arg(args, 0)?, ints_arg(args, 1)?, dtype),
        Op::Where => {
            return crate::indexing::select(
                ints_arg(args, 0)?,
                arg(args, 1)?,
                arg(args, 2)?,
                dtype,
            );
        }
        Op::Equal => return crate::indexing::equal(arg(args, 0)?, arg(args, 1)?),
        Op::ConstantOfShape(value) => {
            return crate::indexing::constant_of_shape(ints_arg(args, 0)?, value);
        }
        Op::Resize(attrs) => crate::indexing::resize(&x()?, args, attrs)?,
        Op::Range => return crate::indexing::range(arg(args, 0)?, arg(args, 1)?, arg(args, 2)?),
    };
    Ok(Value::Float(out))
}

/// `max(0, min(1, alpha·x + beta))`, with the clip's gradient (1 inside, 0 outside).
/// The fused [`LayerNorm`] when the scale and bias are constants of the full trailing shape
/// (as exporters write them); `None` for the composed form.
fn layer_norm_op(
    x: &Tensor,
    first: usize,
    scale: &Tensor,
    bias: Option<&Tensor>,
    epsilon: f32,
) -> Result<Option<LayerNorm>> {
    let trailing = &x.dims()[first..];
    let fits = |t: &Tensor| {
        !t.track_op()
            && t.elem_count() == trailing.iter().product::<usize>()
            && t.dims().iter().rev().zip(trailing.iter().rev()).all(|(a, b)| a == b)
    };
    if !fits(scale) || bias.is_some_and(|b| !fits(b)) {
        return Ok(None);
    }
    let values = |t: &Tensor| {
        candle(
            t.flatten_all().and_then(|t| t.to_dtype(DType::F64)).and_then(|t| t.to_vec1::<f64>()),
        )
    };
    let scale = values(scale)?;
    let bias = match bias {
        Some(b) => values(b)?,
        None => vec![0.0; scale.len()],
    };
    Ok(Some(LayerNorm {
        scale: Arc::new(scale),
        bias: Arc::new(bias),
        epsilon: f64::from(epsilon),
    }))
}

fn hard_sigmoid(x: &Tensor, alpha: f64, beta: f64) -> Result<Tensor> {
    candle(Clamp { alpha, beta, lo: 0.0, hi: 1.0, times_input: false }.apply(x))
}

/// `base ^ exponent`; a constant scalar exponent that is a small integer or one half is computed
/// by multiplication or a square root, so negative bases work (as `x - mean` squared).
fn pow(base: &Value, exponent: &Value, dtype: DType) -> Result<Value> {
    if let (Value::Int(b), Value::Int(e)) = (base, exponent) {
        return crate::indexing::int_zip(b, e, |x, y| {
            u32::try_from(y).map(|y| x.wrapping_pow(y)).map_err(|_| format!("integer power {y}"))
        })
        .map(Value::Int);
    }
    let x = float(base, dtype)?;
    let scalar = match exponent {
        Value::Int(ints) if ints.data.len() == 1 => Some(ints.data[0] as f64),
        Value::Float(t) if t.elem_count() == 1 => Some(
            candle(
                t.flatten_all()
                    .and_then(|t| t.to_dtype(DType::F64))
                    .and_then(|t| t.to_vec1::<f64>()),
            )?[0],
        ),
        _ => None,
    };
    let out = match scalar {
        Some(0.5) => candle(x.sqrt())?,
        Some(e) if e.fract() == 0.0 && (1.0..=8.0).contains(&e) => {
            let mut y = x.clone();
            for _ in 1..(e as usize) {
                y = candle(y.mul(&x))?;
            }
            y
        }
        Some(e) => candle(x.powf(e))?,
        None => {
            let e = float(exponent, dtype)?;
            candle(x.log().and_then(|l| l.broadcast_mul(&e)).and_then(|t| t.exp()))?
        }
    };
    Ok(Value::Float(out))
}

fn node_has_clip_inputs(node: &Node) -> bool {
    node.inputs.len() > 1
}

/// The constant value input of `Pad` (opset ≥ 11), when there is one.
fn pads_value(args: &[Option<&Value>], node: &Node) -> Result<Option<f32>> {
    if node.inputs.len() > 2 { scalar_arg(args, 2) } else { Ok(None) }
}

pub(crate) fn value_dims(value: &Value) -> Vec<usize> {
    match value {
        Value::Float(t) => t.dims().to_vec(),
        Value::Int(ints) => ints.dims.clone(),
    }
}

fn reshape_value(value: &Value, dims: Vec<usize>, dtype: DType) -> Result<Value> {
    match value {
        Value::Float(_) => Ok(Value::Float(candle(float(value, dtype)?.reshape(dims))?)),
        Value::Int(ints) => Ok(Value::Int(Ints { dims, data: ints.data.clone() })),
    }
}

/// ONNX `Reshape` target dimensions: `0` copies the input's dimension (unless `allow_zero`),
/// `-1` takes what is left.
fn reshape_dims(input: &[usize], target: &[i64], allow_zero: bool) -> Result<Vec<usize>> {
    let total: usize = input.iter().product();
    let mut dims = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &t) in target.iter().enumerate() {
        match t {
            -1 if infer.is_none() => {
                infer = Some(i);
                dims.push(1);
            }
            0 if !allow_zero => match input.get(i) {
                Some(&d) => dims.push(d),
                None => {
                    return Err(format!(
                        "target {target:?} copies dimension {i} of shape {input:?}"
                    ));
                }
            },
            t if t >= 0 => {
                dims.push(usize::try_from(t).map_err(|_| format!("bad reshape target {target:?}"))?)
            }
            _ => return Err(format!("bad reshape target {target:?}")),
        }
    }
    if let Some(i) = infer {
        let known = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).unwrap_or(0);
        if known == 0 || !total.is_multiple_of(known) {
            return Err(format!("cannot reshape {input:?} to {target:?}"));
        }
        dims[i] = total / known;
    }
    if dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)) != Some(total) {
        return Err(format!("cannot reshape {input:?} ({total} values) to {target:?}"));
    }
    Ok(dims)
}

/// Checks a convolution's shapes up front, so a mismatch names the shapes.
fn check_conv(input: &Tensor, weight: &Tensor, group: usize) -> Result<()> {
    let (_, c, _, _) = candle(input.dims4())
        .map_err(|_| format!("input has shape {:?}; expected [n, c, h, w]", input.dims()))?;
    let (o, cg, _, _) = candle(weight.dims4()).map_err(|_| {
        format!("weight has shape {:?}; expected [o, c/group, kh, kw]", weight.dims())
    })?;
    if cg * group != c || o % group != 0 {
        return Err(format!(
            "weight of shape {:?} does not fit input of shape {:?} with group {group}",
            weight.dims(),
            input.dims()
        ));
    }
    Ok(())
}

fn conv(
    input: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    attrs: &ConvAttrs,
) -> Result<Tensor> {
    check_conv(input, weight, attrs.group)?;
    let (_, _, h, w) = candle(input.dims4())?;
    let (o, _, kh, kw) = candle(weight.dims4())?;
    let bias = match bias {
        Some(b) => {
            if b.dims() != [o] {
                return Err(format!("bias has shape {:?}; expected [{o}]", b.dims()));
            }
            b.clone()
        }
        None => candle(Tensor::zeros(o, input.dtype(), &Device::Cpu))?,
    };
    let pads = match attrs.pads {
        AutoPad::Explicit(pads) => pads,
        AutoPad::Same { upper } => {
            // max((⌈len/s⌉ − 1)·s + k − len, 0).
            let total = |len: usize, k: usize, s: usize| {
                (len.div_ceil(s).saturating_sub(1) * s + k).saturating_sub(len)
            };
            let (th, tw) = (total(h, kh, attrs.strides[0]), total(w, kw, attrs.strides[1]));
            let split = |t: usize| if upper { (t / 2, t - t / 2) } else { (t - t / 2, t / 2) };
            let ((top, bottom), (left, right)) = (split(th), split(tw));
            [top, left, bottom, right]
        }
    };
    if h + pads[0] + pads[2] < kh || w + pads[1] + pads[3] < kw {
        return Err(format!("kernel {kh}×{kw} does not fit input {h}×{w} with pads {pads:?}"));
    }
    let group = attrs.group;
    if group > 1 && group == o && candle(weight.dim(1))? == 1 {
        return depthwise(input, weight, &bias, pads, attrs.strides);
    }
    // Symmetric padding goes to the op; otherwise the input is padded first.
    let (input, padding) = if pads.iter().all(|&p| p == pads[0]) {
        (input.clone(), pads[0])
    } else {
        let padded = input
            .pad_with_zeros(2, pads[0], pads[2])
            .and_then(|t| t.pad_with_zeros(3, pads[1], pads[3]));
        (candle(padded)?, 0)
    };
    let per_group_in = candle(input.dim(1))? / group;
    let per_group_out = o / group;
    let mut outputs = Vec::with_capacity(group);
    for g in 0..group {
        let (x, wt, b) = if group == 1 {
            (input.clone(), weight.clone(), bias.clone())
        } else {
            (
                candle(input.narrow(1, g * per_group_in, per_group_in))?,
                candle(weight.narrow(0, g * per_group_out, per_group_out))?,
                candle(bias.narrow(0, g * per_group_out, per_group_out))?,
            )
        };
        outputs.push(candle(ops::conv2d_strided(&x, &wt, &b, padding, attrs.strides))?);
    }
    if outputs.len() == 1 { Ok(outputs.remove(0)) } else { candle(Tensor::cat(&outputs, 1)) }
}

/// A depthwise convolution (one filter per channel, as MobileNets and EfficientNets use) by
/// this crate's own op ([`Depthwise`]), rather than one small convolution per channel.
fn depthwise(
    input: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    pads: [usize; 4],
    strides: [usize; 2],
) -> Result<Tensor> {
    let (_, _, kh, kw) = candle(weight.dims4())?;
    let values = |t: &Tensor| {
        candle(
            t.detach()
                .flatten_all()
                .and_then(|t| t.to_dtype(DType::F64))
                .and_then(|t| t.to_vec1::<f64>()),
        )
    };
    let op = Depthwise {
        weight: Arc::new(values(weight)?),
        bias: Arc::new(values(bias)?),
        kernel: [kh, kw],
        strides,
        pads,
    };
    candle(op.apply(input))
}

fn gemm(
    args: &[Option<&Value>],
    dtype: DType,
    alpha: f32,
    beta: f32,
    trans_a: bool,
    trans_b: bool,
) -> Result<Tensor> {
    let a = float_arg(args, 0, dtype)?;
    let b = float_arg(args, 1, dtype)?;
    let c = optional_float(args, 2, dtype)?;
    let a = if trans_a { candle(a.t())? } else { a };
    let (_, k) =
        candle(a.dims2()).map_err(|_| format!("A has shape {:?}; expected a matrix", a.dims()))?;
    let (b_rows, b_cols) =
        candle(b.dims2()).map_err(|_| format!("B has shape {:?}; expected a matrix", b.dims()))?;
    // The linear op takes the weight as [out, in].
    let weight = if trans_b { b } else { candle(b.t())? };
    let (o, weight_k) = (candle(weight.dim(0))?, candle(weight.dim(1))?);
    if weight_k != k {
        return Err(format!("A has {k} columns but B is {b_rows}×{b_cols} (transB {trans_b})"));
    }
    let weight = if alpha == 1.0 { weight } else { candle(weight.affine(f64::from(alpha), 0.0))? };
    match c {
        None => candle(ops::linear(&a, &weight, &candle(Tensor::zeros(o, dtype, &Device::Cpu))?)),
        Some(c) if c.elem_count() == o && c.dims().last() == Some(&o) => {
            let bias = candle(c.reshape(o).and_then(|c| c.affine(f64::from(beta), 0.0)))?;
            candle(ops::linear(&a, &weight, &bias))
        }
        Some(c) => {
            let zero = candle(Tensor::zeros(o, dtype, &Device::Cpu))?;
            let y = candle(ops::linear(&a, &weight, &zero))?;
            candle(y.broadcast_add(&c.affine(f64::from(beta), 0.0).map_err(|e| e.to_string())?))
        }
    }
}

fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if a.rank() == 2 && b.rank() == 2 {
        let (_, k) = candle(a.dims2())?;
        let (bk, o) = candle(b.dims2())?;
        if k != bk {
            return Err(format!("cannot multiply {:?} by {:?}", a.dims(), b.dims()));
        }
        let zero = candle(Tensor::zeros(o, a.dtype(), &Device::Cpu))?;
        return candle(ops::linear(a, &candle(b.t())?, &zero));
    }
    if a.rank() > 2 && b.rank() == 2 {
        // [..., m, k] × [k, o] as one [prod(...)·m, k] × [k, o] product: broadcasting the
        // weight over the leading dimensions would copy it once per leading index.
        let dims = a.dims().to_vec();
        let k = dims[dims.len() - 1];
        let rows: usize = dims[..dims.len() - 1].iter().product();
        let flat = candle(a.reshape((rows, k)))?;
        let y = matmul(&flat, b)?;
        let mut out_dims = dims;
        let last = out_dims.len() - 1;
        out_dims[last] = candle(b.dim(1))?;
        return candle(y.reshape(out_dims));
    }
    if a.rank() < 2 || b.rank() < 2 {
        return Err(format!(
            "MatMul of shapes {:?} and {:?} (1-D operands) is not supported",
            a.dims(),
            b.dims()
        ));
    }
    candle(a.broadcast_matmul(b))
}

fn binary(op: &Op, lhs: &Value, rhs: &Value, dtype: DType) -> Result<Value> {
    if let (Value::Int(a), Value::Int(b)) = (lhs, rhs) {
        return int_binary(op, a, b).map(Value::Int);
    }
    let (a, b) = (float(lhs, dtype)?, float(rhs, dtype)?);
    if a.dims() == b.dims() {
        let kind = match op {
            Op::Add => Binary::Add,
            Op::Sub => Binary::Sub,
            Op::Mul => Binary::Mul,
            _ => Binary::Div,
        };
        return candle(kind.apply(&a, &b)).map(Value::Float);
    }
    let out = match op {
        Op::Add => a.broadcast_add(&b),
        Op::Sub => a.broadcast_sub(&b),
        Op::Mul => a.broadcast_mul(&b),
        _ => a.broadcast_div(&b),
    };
    candle(out).map(Value::Float)
}

/// Integer arithmetic on shapes, broadcasting.
fn int_binary(op: &Op, a: &Ints, b: &Ints) -> Result<Ints> {
    crate::indexing::int_zip(a, b, |x, y| {
        Ok(match op {
            Op::Add => x.wrapping_add(y),
            Op::Sub => x.wrapping_sub(y),
            Op::Mul => x.wrapping_mul(y),
            _ => {
                if y == 0 {
                    return Err("integer division by zero".to_string());
                }
                // ONNX integer division truncates, as C does.
                x.wrapping_div(y)
            }
        })
    })
}

fn concat(args: &[Option<&Value>], a: i64, dtype: DType) -> Result<Value> {
    let values: Vec<&Value> = args.iter().flatten().copied().collect();
    if values.is_empty() {
        return Err("no inputs".to_string());
    }
    if values.iter().all(|v| matches!(v, Value::Int(_))) {
        let mut data = Vec::new();
        for v in &values {
            if let Value::Int(ints) = v {
                if ints.dims.len() > 1 {
                    return Err(
                        "integer Concat of tensors of rank above 1 is not supported".to_string()
                    );
                }
                data.extend_from_slice(&ints.data);
            }
        }
        return Ok(Value::Int(Ints { dims: vec![data.len()], data }));
    }
    let tensors: Vec<Tensor> = values.iter().map(|v| float(v, dtype)).collect::<Result<_>>()?;
    let rank = tensors[0].rank();
    let a = axis(a, rank)?;
    candle(Tensor::cat(&tensors, a)).map(Value::Float)
}

fn gather(data: &Value, indices: &Ints, a: i64, dtype: DType) -> Result<Value> {
    let dims = value_dims(data);
    let a = axis(a, dims.len())?;
    let len = dims[a] as i64;
    let resolved: Vec<usize> = indices
        .data
        .iter()
        .map(|&i| {
            let r = if i < 0 { i + len } else { i };
            if r < 0 || r >= len {
                Err(format!("index {i} is out of range for size {len}"))
            } else {
                Ok(r as usize)
            }
        })
        .collect::<Result<_>>()?;
    match data {
        Value::Int(ints) => {
            if dims.len() != 1 {
                return Err(
                    "integer Gather of tensors of rank above 1 is not supported".to_string()
                );
            }
            let data = resolved.iter().map(|&i| ints.data[i]).collect();
            Ok(Value::Int(Ints { dims: indices.dims.clone(), data }))
        }
        Value::Float(_) => {
            let t = float(data, dtype)?;
            if indices.dims.len() > 1 {
                return Err("Gather with indices of rank above 1 is not supported".to_string());
            }
            let index: Vec<u32> = resolved.iter().map(|&i| i as u32).collect();
            let n = index.len();
            let index = candle(Tensor::from_vec(index, n, &Device::Cpu))?;
            let out = candle(t.index_select(&index, a))?;
            if indices.dims.is_empty() {
                candle(out.squeeze(a)).map(Value::Float)
            } else {
                Ok(Value::Float(out))
            }
        }
    }
}

/// Constant padding; `pads` is `[begin_0, …, begin_r, end_0, …, end_r]`, negative values crop.
fn pad(x: &Tensor, pads: &[i64], value: f32) -> Result<Tensor> {
    let rank = x.rank();
    if pads.len() != 2 * rank {
        return Err(format!("pads {pads:?} do not fit rank {rank}"));
    }
    if pads.iter().any(|p| p.unsigned_abs() > 1 << 20) {
        return Err(format!("pads {pads:?} are too large"));
    }
    let mut y = x.clone();
    for d in 0..rank {
        let (begin, end) = (pads[d], pads[d + rank]);
        if begin < 0 || end < 0 {
            let len = candle(y.dim(d))? as i64;
            let start = (-begin).max(0);
            let keep = len - start - (-end).max(0);
            if keep < 0 {
                return Err(format!("pads {pads:?} crop more than the input has"));
            }
            y = candle(y.narrow(d, start as usize, keep as usize))?;
        }
        let (begin, end) = (begin.max(0) as usize, end.max(0) as usize);
        if begin == 0 && end == 0 {
            continue;
        }
        if value == 0.0 {
            y = candle(y.pad_with_zeros(d, begin, end))?;
        } else {
            let fill = |len: usize| -> Result<Tensor> {
                let mut dims = y.dims().to_vec();
                dims[d] = len;
                candle(Tensor::full(value, dims, &Device::Cpu).and_then(|t| t.to_dtype(y.dtype())))
            };
            let mut parts = Vec::with_capacity(3);
            if begin > 0 {
                parts.push(fill(begin)?);
            }
            parts.push(y.clone());
            if end > 0 {
                parts.push(fill(end)?);
            }
            y = candle(Tensor::cat(&parts, d))?;
        }
    }
    Ok(y)
}

/// Softmax along `axis`, shifted by the (constant) maximum for stability.
fn softmax(x: &Tensor, axis: usize) -> Result<Tensor> {
    let max = candle(x.max_keepdim(axis))?.detach();
    let e = candle(x.broadcast_sub(&max).and_then(|t| t.exp()))?;
    let sum = candle(e.sum_keepdim(axis))?;
    candle(e.broadcast_div(&sum))
}

/// Clamps to `[min, max]` with gradient 1 inside the closed interval and 0 outside (as PyTorch's
/// `clamp`); candle's `clamp` halves the gradient at the bounds.
fn clip(x: &Tensor, min: Option<f32>, max: Option<f32>) -> Result<Tensor> {
    let lo = f64::from(min.unwrap_or(f32::NEG_INFINITY));
    let hi = f64::from(max.unwrap_or(f32::INFINITY));
    if lo > hi {
        let full = candle(x.ones_like().and_then(|t| t.affine(0.0, hi)))?;
        return Ok(full);
    }
    candle(Clamp { alpha: 1.0, beta: 0.0, lo, hi, times_input: false }.apply(x))
}
