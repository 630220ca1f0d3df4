//! An ONNX graph read into stressor's own form: constants, and nodes whose operators and
//! attributes have been checked and parsed, ready for `eval`.

use std::collections::{HashMap, HashSet};

use candle_core::{Device, Tensor};

use crate::error::OnnxError;
use crate::pool::{Pool2d, PoolKind};
use crate::proto::{self, attribute_type};

/// A value flowing through the graph: a float tensor on the gradient path, or integers (shapes,
/// indices, axes) computed on the side.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    /// A float tensor (`f32`, or `f64` in gradient checks).
    Float(Tensor),
    /// An integer tensor, row-major.
    Int(Ints),
}

/// A small integer tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ints {
    pub(crate) dims: Vec<usize>,
    pub(crate) data: Vec<i64>,
}

/// One dimension of the graph's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dim {
    Fixed(usize),
    Symbolic,
}

/// How a convolution pads its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AutoPad {
    /// Explicit `[top, left, bottom, right]`.
    Explicit([usize; 4]),
    /// `SAME_UPPER` (`true`, extra padding at the end) or `SAME_LOWER`.
    Same { upper: bool },
}

/// A `Conv`'s attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConvAttrs {
    pub(crate) pads: AutoPad,
    pub(crate) strides: [usize; 2],
    pub(crate) group: usize,
}

/// A checked operator with its attributes.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Conv(ConvAttrs),
    /// `Conv` (group 1, stride 1, symmetric padding) then an optional `Relu` then a 2×2 stride-2
    /// `MaxPool`, fused (see [`fuse`]).
    ConvPool {
        padding: usize,
        relu: bool,
    },
    Gemm {
        alpha: f32,
        beta: f32,
        trans_a: bool,
        trans_b: bool,
    },
    MatMul,
    /// `MatMul` by a constant matrix, stored transposed (`[out, in]`, contiguous) at load so
    /// that the linear op does not copy it on every call (see `fold`).
    MatMulByWeight,
    Relu,
    LeakyRelu {
        alpha: f32,
    },
    Sigmoid,
    Tanh,
    Pool(Pool2d),
    /// 2×2, stride-2, unpadded max pool (`stressor_model::builtin::ops::max_pool2x2`).
    MaxPool2x2,
    GlobalAveragePool,
    BatchNormalization {
        epsilon: f32,
    },
    Add,
    Sub,
    Mul,
    Div,
    Flatten {
        axis: i64,
    },
    Reshape {
        allow_zero: bool,
    },
    Transpose {
        perm: Option<Vec<i64>>,
    },
    Concat {
        axis: i64,
    },
    /// `pads` and `value` from attributes (opset < 11) or inputs.
    Pad {
        pads: Option<Vec<i64>>,
        value: f32,
    },
    /// `legacy`: opset < 13, softmax over the flattened dimensions from `axis` on.
    Softmax {
        axis: i64,
        legacy: bool,
    },
    /// Bounds from attributes (opset < 11) or inputs.
    Clip {
        min: Option<f32>,
        max: Option<f32>,
    },
    Identity,
    Constant(Value),
    Shape {
        start: i64,
        end: Option<i64>,
    },
    Gather {
        axis: i64,
    },
    /// `axes` from the attribute (opset < 13) or the second input.
    Unsqueeze {
        axes: Option<Vec<i64>>,
    },
    Squeeze {
        axes: Option<Vec<i64>>,
    },
    /// To a float type, to an integer type, or to bool (integers as 0 or 1).
    Cast {
        to_float: bool,
        to_bool: bool,
    },
    /// `max(0, min(1, alpha·x + beta))`.
    HardSigmoid {
        alpha: f32,
        beta: f32,
    },
    /// `x · HardSigmoid(x)` with `alpha = 1/6`, `beta = 1/2`.
    HardSwish,
    Erf,
    /// `tanh`: the tanh approximation (opset 20's `approximate = "tanh"`).
    Gelu {
        tanh: bool,
    },
    Sqrt,
    Exp,
    Log,
    Abs,
    Neg,
    /// `x` where positive, `slope · x` elsewhere, `slope` broadcast.
    PRelu,
    /// Elementwise maximum (`true`) or minimum of any number of broadcast inputs.
    Extremum {
        max: bool,
    },
    Reciprocal,
    Pow,
    /// Integer remainder; `fmod` takes the dividend's sign (C), otherwise the divisor's (Python).
    Mod {
        fmod: bool,
    },
    /// Normalises over the axes from `axis` on, then scales and shifts.
    LayerNormalization {
        axis: i64,
        epsilon: f32,
    },
    /// `ReduceMean`, `ReduceSum` or `ReduceMax`; `axes` from the attribute (older opsets) or
    /// the second input.
    Reduce {
        kind: ReduceKind,
        axes: Option<Vec<i64>>,
        keep_dims: bool,
        noop_with_empty_axes: bool,
    },
    /// `split` from the attribute (opset < 13) or the second input; otherwise equal parts.
    Split {
        axis: i64,
        split: Option<Vec<i64>>,
    },
    /// `starts`, `ends`, `axes` from attributes (opset < 10) or inputs.
    Slice {
        attrs: Option<SliceAttrs>,
    },
    Expand,
    Where,
    Equal,
    /// A tensor of the input shape filled with one value.
    ConstantOfShape(Value),
    Range,
    /// Resizes the two spatial axes of an `[n, c, h, w]` tensor (opset ≥ 11).
    Resize(ResizeAttrs),
}

/// How `Resize` maps output positions to input positions and interpolates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ResizeAttrs {
    /// Bilinear (`linear`) rather than `nearest`.
    pub(crate) linear: bool,
    pub(crate) coordinates: Coordinates,
    pub(crate) nearest: NearestMode,
}

/// `coordinate_transformation_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coordinates {
    HalfPixel,
    PytorchHalfPixel,
    AlignCorners,
    Asymmetric,
    TfHalfPixelForNn,
}

/// `nearest_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NearestMode {
    RoundPreferFloor,
    RoundPreferCeil,
    Floor,
    Ceil,
}

/// What a `Reduce*` computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReduceKind {
    Mean,
    Sum,
    Max,
}

/// The attributes of an opset < 10 `Slice`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SliceAttrs {
    pub(crate) starts: Vec<i64>,
    pub(crate) ends: Vec<i64>,
    pub(crate) axes: Option<Vec<i64>>,
}

/// A node of the graph.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// The node's name, or its first output when it has none.
    pub(crate) name: String,
    pub(crate) op_type: String,
    /// Input names; `""` is an absent optional input.
    pub(crate) inputs: Vec<String>,
    pub(crate) outputs: Vec<String>,
    pub(crate) op: Op,
}

/// A checked graph.
#[derive(Debug, Clone)]
pub(crate) struct Graph {
    /// The model's file name or given name, for messages.
    pub(crate) model: String,
    pub(crate) input: String,
    pub(crate) input_dims: Vec<Dim>,
    pub(crate) output: String,
    pub(crate) constants: HashMap<String, Value>,
    pub(crate) nodes: Vec<Node>,
    /// How many values one more sample adds to a forward pass (all intermediate values
    /// together), measured by `fold`'s probe runs; `None` when they could not run.
    pub(crate) values_per_sample: Option<usize>,
}

impl Graph {
    /// Decodes and checks an ONNX model.
    pub(crate) fn parse(model_name: &str, bytes: &[u8]) -> Result<Graph, OnnxError> {
        let model: proto::ModelProto = prost::Message::decode(bytes).map_err(|error| {
            OnnxError::Decode { model: model_name.to_string(), message: error.to_string() }
        })?;
        let invalid = |reason: String| OnnxError::Invalid { model: model_name.to_string(), reason };
        let Some(opset) = default_opset(&model) else {
            return Err(invalid("the model imports no version of the default opset".to_string()));
        };
        let Some(graph) = model.graph else {
            return Err(invalid("the model has no graph".to_string()));
        };

        let mut constants = HashMap::new();
        for tensor in &graph.initializer {
            let value = tensor_value(tensor)
                .map_err(|reason| invalid(format!("initializer `{}`: {reason}", tensor.name)))?;
            constants.insert(tensor.name.clone(), value);
        }
        let inputs: Vec<&proto::ValueInfoProto> =
            graph.input.iter().filter(|i| !constants.contains_key(&i.name)).collect();
        let [input] = inputs.as_slice() else {
            return Err(invalid(format!(
                "the graph has {} inputs besides its initializers; stressor feeds exactly one",
                inputs.len()
            )));
        };
        let [output] = graph.output.as_slice() else {
            return Err(invalid(format!(
                "the graph has {} outputs; stressor reads exactly one",
                graph.output.len()
            )));
        };
        let input_dims = input_dims(model_name, input)?;
        let mut nodes = Vec::with_capacity(graph.node.len());
        for node in &graph.node {
            nodes.push(parse_node(model_name, node, opset)?);
        }
        let mut graph = Graph {
            model: model_name.to_string(),
            input: input.name.clone(),
            input_dims,
            output: output.name.clone(),
            constants,
            nodes,
            values_per_sample: None,
        };
        graph.check_wiring()?;
        crate::fold::fold(&mut graph);
        fuse(&mut graph);
        Ok(graph)
    }

    /// Checks that every node input is produced before it is used.
    fn check_wiring(&self) -> Result<(), OnnxError> {
        let mut known: HashSet<&str> = self.constants.keys().map(String::as_str).collect();
        known.insert(&self.input);
        for node in &self.nodes {
            for input in &node.inputs {
                if !input.is_empty() && !known.contains(input.as_str()) {
                    return Err(OnnxError::Invalid {
                        model: self.model.clone(),
                        reason: format!(
                            "node `{}` ({}) reads `{input}`, which no earlier node, input or initializer produces",
                            node.name, node.op_type
                        ),
                    });
                }
            }
            known.extend(node.outputs.iter().map(String::as_str));
        }
        if !known.contains(self.output.as_str()) {
            return Err(OnnxError::Invalid {
                model: self.model.clone(),
                reason: format!("nothing produces the graph output `{}`", self.output),
            });
        }
        Ok(())
    }
}

/// How often a model uses one operator, and whether stressor can evaluate it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpUse {
    /// The operator (`op_type`, with its domain when not the default one).
    pub op: String,
    /// How many nodes use it.
    pub count: usize,
    /// Why stressor cannot evaluate it, naming the first node that failed (an operator
    /// stressor does not have, or an attribute value it does not support); `None` when every
    /// node of this operator is supported.
    pub problem: Option<String>,
}

/// The operators of an ONNX model, in order of first use, each with its count and whether
/// stressor supports it: what `stressor check` prints before a run starts. Only the nodes are
/// read; weights are not checked against the data.
///
/// # Errors
/// [`OnnxError::Read`] and [`OnnxError::Decode`], and [`OnnxError::Invalid`] for a model
/// without a graph or a default opset.
///
/// # Examples
/// ```no_run
/// let ops = stressor_onnx::list_ops(std::path::Path::new("model.onnx"))?;
/// for op in ops.iter().filter(|op| op.problem.is_some()) {
///     println!("{} ×{}: {}", op.op, op.count, op.problem.as_deref().unwrap_or(""));
/// }
/// # Ok::<(), stressor_onnx::OnnxError>(())
/// ```
pub fn list_ops(path: &std::path::Path) -> Result<Vec<OpUse>, OnnxError> {
    let label = path.display().to_string();
    let bytes =
        std::fs::read(path).map_err(|source| OnnxError::Read { path: label.clone(), source })?;
    let model: proto::ModelProto = prost::Message::decode(bytes.as_slice())
        .map_err(|error| OnnxError::Decode { model: label.clone(), message: error.to_string() })?;
    let invalid = |reason: &str| OnnxError::Invalid { model: label.clone(), reason: reason.into() };
    let graph = model.graph.as_ref().ok_or_else(|| invalid("the model has no graph"))?;
    let opset =
        default_opset(&model).ok_or_else(|| invalid("the model imports no default opset"))?;
    let mut uses: Vec<OpUse> = Vec::new();
    for node in &graph.node {
        let op = if node.domain.is_empty() || node.domain == "ai.onnx" {
            node.op_type.clone()
        } else {
            format!("{}.{}", node.domain, node.op_type)
        };
        let problem = parse_node(&label, node, opset).err().map(|error| match error {
            OnnxError::UnsupportedOp { node, .. } => format!("not supported (node `{node}`)"),
            other => other.to_string(),
        });
        match uses.iter_mut().find(|u| u.op == op) {
            Some(u) => {
                u.count += 1;
                if u.problem.is_none() {
                    u.problem = problem;
                }
            }
            None => uses.push(OpUse { op, count: 1, problem }),
        }
    }
    Ok(uses)
}

/// The version of the default opset a model imports.
fn default_opset(model: &proto::ModelProto) -> Option<i64> {
    model
        .opset_import
        .iter()
        .filter(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .max()
        .filter(|&v| v > 0)
}

/// The dimensions of the graph's input, which must be a float tensor.
fn input_dims(model: &str, input: &proto::ValueInfoProto) -> Result<Vec<Dim>, OnnxError> {
    let dynamic = |reason: String| OnnxError::DynamicShape { model: model.to_string(), reason };
    let Some(tensor_type) = input.r#type.as_ref().and_then(|t| t.tensor_type.as_ref()) else {
        return Err(OnnxError::Invalid {
            model: model.to_string(),
            reason: format!("the input `{}` is not a tensor", input.name),
        });
    };
    if tensor_type.elem_type != proto::FLOAT {
        return Err(OnnxError::Invalid {
            model: model.to_string(),
            reason: format!(
                "the input `{}` has element type {}; stressor feeds float32 (type 1)",
                input.name, tensor_type.elem_type
            ),
        });
    }
    let Some(shape) = tensor_type.shape.as_ref() else {
        return Err(dynamic(format!("the input `{}` has no shape", input.name)));
    };
    shape
        .dim
        .iter()
        .map(|d| match &d.value {
            Some(proto::DimensionValue::DimValue(v)) if *v > 0 => Ok(Dim::Fixed(*v as usize)),
            Some(proto::DimensionValue::DimValue(v)) if *v < 0 => {
                Err(dynamic(format!("the input `{}` has dimension {v}", input.name)))
            }
            _ => Ok(Dim::Symbolic),
        })
        .collect()
}

/// The value of a `TensorProto` (float32/float64 as float tensors, int32/int64 as integers).
pub(crate) fn tensor_value(tensor: &proto::TensorProto) -> Result<Value, String> {
    if tensor.data_location == 1 || !tensor.external_data.is_empty() {
        return Err(
            "external data is not supported; save the model with its weights inside".to_string()
        );
    }
    let dims: Vec<usize> = tensor
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("negative dimension {d}")))
        .collect::<Result<_, _>>()?;
    let Some(count) = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)) else {
        return Err(format!("shape {dims:?} is too large"));
    };
    let raw = &tensor.raw_data;
    let check = |len: usize| {
        if len == count { Ok(()) } else { Err(format!("holds {len} values for shape {dims:?}")) }
    };
    match tensor.data_type {
        proto::FLOAT | proto::DOUBLE => {
            let values: Vec<f32> = if !raw.is_empty() {
                if tensor.data_type == proto::FLOAT {
                    raw.chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect()
                } else {
                    raw.chunks_exact(8)
                        .map(|b| {
                            f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
                                as f32
                        })
                        .collect()
                }
            } else if tensor.data_type == proto::FLOAT {
                tensor.float_data.clone()
            } else {
                tensor.double_data.iter().map(|&v| v as f32).collect()
            };
            check(values.len())?;
            let tensor = Tensor::from_vec(values, dims, &Device::Cpu).map_err(|e| e.to_string())?;
            Ok(Value::Float(tensor))
        }
        proto::INT64 | proto::INT32 => {
            let data: Vec<i64> = if !raw.is_empty() {
                if tensor.data_type == proto::INT64 {
                    raw.chunks_exact(8)
                        .map(|b| {
                            i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
                        })
                        .collect()
                } else {
                    raw.chunks_exact(4)
                        .map(|b| i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                        .collect()
                }
            } else if tensor.data_type == proto::INT64 {
                tensor.int64_data.clone()
            } else {
                tensor.int32_data.iter().map(|&v| i64::from(v)).collect()
            };
            check(data.len())?;
            Ok(Value::Int(Ints { dims, data }))
        }
        proto::BOOL => {
            let data: Vec<i64> = if raw.is_empty() {
                tensor.int32_data.iter().map(|&v| i64::from(v != 0)).collect()
            } else {
                raw.iter().map(|&b| i64::from(b != 0)).collect()
            };
            check(data.len())?;
            Ok(Value::Int(Ints { dims, data }))
        }
        other => Err(format!(
            "element type {other} is not supported (float32, float64, int32, int64 and bool are)"
        )),
    }
}

/// The largest kernel size, stride or padding accepted; larger values are malformed files
/// (and would overflow size arithmetic).
const MAX_EXTENT: i64 = 1 << 20;

/// Reads the attributes of one node.
struct Attributes<'a> {
    model: &'a str,
    node: &'a proto::NodeProto,
    name: String,
}

impl Attributes<'_> {
    fn get(&self, name: &str) -> Option<&proto::AttributeProto> {
        self.node.attribute.iter().find(|a| a.name == name)
    }

    fn bad(&self, attribute: &str, reason: impl Into<String>) -> OnnxError {
        OnnxError::BadAttribute {
            model: self.model.to_string(),
            op: self.node.op_type.clone(),
            node: self.name.clone(),
            attribute: attribute.to_string(),
            reason: reason.into(),
        }
    }

    fn expect_type(&self, attribute: &proto::AttributeProto, want: i32) -> Result<(), OnnxError> {
        // Type 0 (undefined) comes from old writers; trust the field then.
        if attribute.r#type != want && attribute.r#type != 0 {
            return Err(self
                .bad(&attribute.name, format!("has type {}, expected {want}", attribute.r#type)));
        }
        Ok(())
    }

    fn int(&self, name: &str, default: i64) -> Result<i64, OnnxError> {
        match self.get(name) {
            None => Ok(default),
            Some(a) => {
                self.expect_type(a, attribute_type::INT)?;
                Ok(a.i)
            }
        }
    }

    fn float(&self, name: &str, default: f32) -> Result<f32, OnnxError> {
        match self.get(name) {
            None => Ok(default),
            Some(a) => {
                self.expect_type(a, attribute_type::FLOAT)?;
                Ok(a.f)
            }
        }
    }

    fn ints(&self, name: &str) -> Result<Option<Vec<i64>>, OnnxError> {
        match self.get(name) {
            None => Ok(None),
            Some(a) => {
                self.expect_type(a, attribute_type::INTS)?;
                Ok(Some(a.ints.clone()))
            }
        }
    }

    fn string(&self, name: &str, default: &str) -> Result<String, OnnxError> {
        match self.get(name) {
            None => Ok(default.to_string()),
            Some(a) => {
                self.expect_type(a, attribute_type::STRING)?;
                String::from_utf8(a.s.clone()).map_err(|_| self.bad(name, "is not UTF-8"))
            }
        }
    }

    /// A non-negative pair (`kernel_shape`, `strides`), default `default`.
    fn pair(&self, name: &str, default: usize) -> Result<[usize; 2], OnnxError> {
        match self.ints(name)? {
            None => Ok([default, default]),
            Some(v) => match v.as_slice() {
                [a, b] if (0..=MAX_EXTENT).contains(a) && (0..=MAX_EXTENT).contains(b) => {
                    Ok([*a as usize, *b as usize])
                }
                _ => Err(self.bad(
                    name,
                    format!("is {v:?}; stressor supports 2-D images (two non-negative values)"),
                )),
            },
        }
    }

    /// ONNX's `pads` `[top, left, bottom, right]`.
    fn pads(&self) -> Result<[usize; 4], OnnxError> {
        match self.ints("pads")? {
            None => Ok([0; 4]),
            Some(v) => match v.as_slice() {
                [a, b, c, d] if v.iter().all(|p| (0..=MAX_EXTENT).contains(p)) => {
                    Ok([*a as usize, *b as usize, *c as usize, *d as usize])
                }
                _ => Err(self.bad("pads", format!("is {v:?}; expected four non-negative values"))),
            },
        }
    }

    /// Rejects dilations other than 1.
    fn no_dilation(&self) -> Result<(), OnnxError> {
        if let Some(d) = self.ints("dilations")?
            && d.iter().any(|&v| v != 1)
        {
            return Err(self.bad("dilations", format!("is {d:?}; only 1 is supported")));
        }
        Ok(())
    }

    /// `auto_pad` with explicit `pads`.
    fn auto_pad(&self) -> Result<AutoPad, OnnxError> {
        match self.string("auto_pad", "NOTSET")?.as_str() {
            "NOTSET" | "" => Ok(AutoPad::Explicit(self.pads()?)),
            "VALID" => Ok(AutoPad::Explicit([0; 4])),
            "SAME_UPPER" => Ok(AutoPad::Same { upper: true }),
            "SAME_LOWER" => Ok(AutoPad::Same { upper: false }),
            other => Err(self.bad("auto_pad", format!("is `{other}`"))),
        }
    }

    fn pool(&self, kind: PoolKind) -> Result<Pool2d, OnnxError> {
        self.no_dilation()?;
        let Some(kernel) = self.ints("kernel_shape")? else {
            return Err(self.bad("kernel_shape", "is missing"));
        };
        let kernel = match kernel.as_slice() {
            [a, b] if (1..=MAX_EXTENT).contains(a) && (1..=MAX_EXTENT).contains(b) => {
                [*a as usize, *b as usize]
            }
            _ => {
                return Err(
                    self.bad("kernel_shape", format!("is {kernel:?}; stressor supports 2-D pools"))
                );
            }
        };
        let strides = self.pair("strides", 1)?;
        if strides.contains(&0) {
            return Err(self.bad("strides", "has a zero"));
        }
        let pads = match self.auto_pad()? {
            AutoPad::Explicit(pads) => pads,
            AutoPad::Same { .. } => {
                return Err(
                    self.bad("auto_pad", "SAME_* is not supported for pools; use explicit pads")
                );
            }
        };
        if self.int("storage_order", 0)? != 0 {
            return Err(self.bad("storage_order", "only row-major (0) is supported"));
        }
        if self.node.output.len() > 1 {
            return Err(self.bad("outputs", "the indices output of MaxPool is not supported"));
        }
        let ceil_mode = self.int("ceil_mode", 0)? != 0;
        Ok(Pool2d { kind, kernel, strides, pads, ceil_mode })
    }
}

fn parse_node(model: &str, node: &proto::NodeProto, opset: i64) -> Result<Node, OnnxError> {
    let name = if node.name.is_empty() {
        node.output.first().cloned().unwrap_or_default()
    } else {
        node.name.clone()
    };
    let unsupported = || OnnxError::UnsupportedOp {
        model: model.to_string(),
        op: if node.domain.is_empty() || node.domain == "ai.onnx" {
            node.op_type.clone()
        } else {
            format!("{}.{}", node.domain, node.op_type)
        },
        node: name.clone(),
    };
    if !(node.domain.is_empty() || node.domain == "ai.onnx") {
        return Err(unsupported());
    }
    let attrs = Attributes { model, node, name: name.clone() };
    let op = match node.op_type.as_str() {
        "Conv" => {
            attrs.no_dilation()?;
            let strides = attrs.pair("strides", 1)?;
            if strides.contains(&0) {
                return Err(attrs.bad("strides", "has a zero"));
            }
            let group = attrs.int("group", 1)?;
            if group < 1 {
                return Err(attrs.bad("group", format!("is {group}")));
            }
            if let Some(k) = attrs.ints("kernel_shape")?
                && k.len() != 2
            {
                return Err(attrs
                    .bad("kernel_shape", format!("is {k:?}; stressor supports 2-D convolutions")));
            }
            Op::Conv(ConvAttrs { pads: attrs.auto_pad()?, strides, group: group as usize })
        }
        "Gemm" => Op::Gemm {
            alpha: attrs.float("alpha", 1.0)?,
            beta: attrs.float("beta", 1.0)?,
            trans_a: attrs.int("transA", 0)? != 0,
            trans_b: attrs.int("transB", 0)? != 0,
        },
        "MatMul" => Op::MatMul,
        "Relu" => Op::Relu,
        "LeakyRelu" => Op::LeakyRelu { alpha: attrs.float("alpha", 0.01)? },
        "Sigmoid" => Op::Sigmoid,
        "Tanh" => Op::Tanh,
        "MaxPool" => {
            let pool = attrs.pool(PoolKind::Max)?;
            if pool.kernel == [2, 2]
                && pool.strides == [2, 2]
                && pool.pads == [0; 4]
                && !pool.ceil_mode
            {
                Op::MaxPool2x2
            } else {
                Op::Pool(pool)
            }
        }
        "AveragePool" => {
            let count_include_pad = attrs.int("count_include_pad", 0)? != 0;
            Op::Pool(attrs.pool(PoolKind::Average { count_include_pad })?)
        }
        "GlobalAveragePool" => Op::GlobalAveragePool,
        "BatchNormalization" => {
            if attrs.int("training_mode", 0)? != 0 {
                return Err(attrs.bad("training_mode", "only inference (0) is supported"));
            }
            Op::BatchNormalization { epsilon: attrs.float("epsilon", 1e-5)? }
        }
        "Add" => Op::Add,
        "Sub" => Op::Sub,
        "Mul" => Op::Mul,
        "Div" => Op::Div,
        "Flatten" => Op::Flatten { axis: attrs.int("axis", 1)? },
        "Reshape" => Op::Reshape { allow_zero: attrs.int("allowzero", 0)? != 0 },
        "Transpose" => Op::Transpose { perm: attrs.ints("perm")? },
        "Concat" => match attrs.get("axis") {
            Some(_) => Op::Concat { axis: attrs.int("axis", 0)? },
            None => return Err(attrs.bad("axis", "is missing")),
        },
        "Pad" => {
            let mode = attrs.string("mode", "constant")?;
            if mode != "constant" {
                return Err(attrs.bad("mode", format!("is `{mode}`; only `constant` is supported")));
            }
            if opset < 11 {
                Op::Pad { pads: attrs.ints("pads")?, value: attrs.float("value", 0.0)? }
            } else {
                if node.input.get(3).is_some_and(|a| !a.is_empty()) {
                    return Err(attrs.bad("axes", "the axes input of Pad is not supported"));
                }
                Op::Pad { pads: None, value: 0.0 }
            }
        }
        "Softmax" => {
            let legacy = opset < 13;
            Op::Softmax { axis: attrs.int("axis", if legacy { 1 } else { -1 })?, legacy }
        }
        "Clip" => {
            if opset < 11 {
                let min = attrs.get("min").map(|_| attrs.float("min", 0.0)).transpose()?;
                let max = attrs.get("max").map(|_| attrs.float("max", 0.0)).transpose()?;
                Op::Clip { min, max }
            } else {
                Op::Clip { min: None, max: None }
            }
        }
        "Dropout" | "Identity" => Op::Identity,
        "Constant" => {
            let value = if let Some(a) = attrs.get("value") {
                attrs.expect_type(a, attribute_type::TENSOR)?;
                let Some(t) = a.t.as_ref() else {
                    return Err(attrs.bad("value", "holds no tensor"));
                };
                tensor_value(t).map_err(|reason| attrs.bad("value", reason))?
            } else if let Some(a) = attrs.get("value_float") {
                attrs.expect_type(a, attribute_type::FLOAT)?;
                Value::Float(scalar_tensor(a.f, &[]).map_err(|e| attrs.bad("value_float", e))?)
            } else if let Some(a) = attrs.get("value_floats") {
                attrs.expect_type(a, attribute_type::FLOATS)?;
                let t = Tensor::from_vec(a.floats.clone(), a.floats.len(), &Device::Cpu)
                    .map_err(|e| attrs.bad("value_floats", e.to_string()))?;
                Value::Float(t)
            } else if let Some(a) = attrs.get("value_int") {
                attrs.expect_type(a, attribute_type::INT)?;
                Value::Int(Ints { dims: vec![], data: vec![a.i] })
            } else if let Some(a) = attrs.get("value_ints") {
                attrs.expect_type(a, attribute_type::INTS)?;
                Value::Int(Ints { dims: vec![a.ints.len()], data: a.ints.clone() })
            } else {
                return Err(attrs.bad(
                    "value",
                    "no supported value attribute (value, value_float(s), value_int(s))",
                ));
            };
            Op::Constant(value)
        }
        "Shape" => Op::Shape {
            start: attrs.int("start", 0)?,
            end: attrs.get("end").map(|_| attrs.int("end", 0)).transpose()?,
        },
        "Gather" => Op::Gather { axis: attrs.int("axis", 0)? },
        "Unsqueeze" => Op::Unsqueeze {
            axes: if opset < 13 { Some(attrs.ints("axes")?.unwrap_or_default()) } else { None },
        },
        "Squeeze" => Op::Squeeze { axes: if opset < 13 { attrs.ints("axes")? } else { None } },
        "Cast" => {
            let to = attrs.int("to", 0)?;
            match to as i32 {
                proto::FLOAT | proto::DOUBLE => Op::Cast { to_float: true, to_bool: false },
                proto::INT64 | proto::INT32 => Op::Cast { to_float: false, to_bool: false },
                proto::BOOL => Op::Cast { to_float: false, to_bool: true },
                _ => return Err(attrs.bad("to", format!("casting to type {to} is not supported"))),
            }
        }
        "HardSigmoid" => {
            Op::HardSigmoid { alpha: attrs.float("alpha", 0.2)?, beta: attrs.float("beta", 0.5)? }
        }
        "HardSwish" => Op::HardSwish,
        "Erf" => Op::Erf,
        "Gelu" => match attrs.string("approximate", "none")?.as_str() {
            "none" => Op::Gelu { tanh: false },
            "tanh" => Op::Gelu { tanh: true },
            other => return Err(attrs.bad("approximate", format!("is `{other}`"))),
        },
        "Sqrt" => Op::Sqrt,
        "Exp" => Op::Exp,
        "Log" => Op::Log,
        "Abs" => Op::Abs,
        "PRelu" => Op::PRelu,
        "Max" => Op::Extremum { max: true },
        "Min" => Op::Extremum { max: false },
        "Neg" => Op::Neg,
        "Reciprocal" => Op::Reciprocal,
        "Pow" => Op::Pow,
        "Mod" => Op::Mod { fmod: attrs.int("fmod", 0)? != 0 },
        "LayerNormalization" => {
            if node.output.iter().skip(1).any(|o| !o.is_empty()) {
                return Err(attrs.bad(
                    "outputs",
                    "only the first output (Y) of LayerNormalization is supported",
                ));
            }
            Op::LayerNormalization {
                axis: attrs.int("axis", -1)?,
                epsilon: attrs.float("epsilon", 1e-5)?,
            }
        }
        "ReduceMean" | "ReduceSum" | "ReduceMax" => {
            let kind = match node.op_type.as_str() {
                "ReduceMean" => ReduceKind::Mean,
                "ReduceSum" => ReduceKind::Sum,
                _ => ReduceKind::Max,
            };
            // The axes moved from an attribute to an input in opset 18 (ReduceSum: 13).
            let axes_input = opset >= if kind == ReduceKind::Sum { 13 } else { 18 };
            Op::Reduce {
                kind,
                axes: if axes_input { None } else { attrs.ints("axes")? },
                keep_dims: attrs.int("keepdims", 1)? != 0,
                noop_with_empty_axes: attrs.int("noop_with_empty_axes", 0)? != 0,
            }
        }
        "Split" => Op::Split {
            axis: attrs.int("axis", 0)?,
            split: if opset < 13 { attrs.ints("split")? } else { None },
        },
        "Slice" => Op::Slice {
            attrs: if opset < 10 {
                let (Some(starts), Some(ends)) = (attrs.ints("starts")?, attrs.ints("ends")?)
                else {
                    return Err(attrs.bad("starts", "starts and ends are required"));
                };
                Some(SliceAttrs { starts, ends, axes: attrs.ints("axes")? })
            } else {
                None
            },
        },
        "Expand" => Op::Expand,
        "Where" => Op::Where,
        "Equal" => Op::Equal,
        "ConstantOfShape" => {
            let value = match attrs.get("value") {
                None => Value::Float(scalar_tensor(0.0, &[1]).map_err(|e| attrs.bad("value", e))?),
                Some(a) => {
                    attrs.expect_type(a, attribute_type::TENSOR)?;
                    let Some(t) = a.t.as_ref() else {
                        return Err(attrs.bad("value", "holds no tensor"));
                    };
                    tensor_value(t).map_err(|reason| attrs.bad("value", reason))?
                }
            };
            Op::ConstantOfShape(value)
        }
        "Range" => Op::Range,
        "Resize" => {
            if opset < 11 {
                return Err(attrs.bad(
                    "opset",
                    format!(
                        "Resize of opset {opset} is not supported; export with opset 11 or later"
                    ),
                ));
            }
            let linear = match attrs.string("mode", "nearest")?.as_str() {
                "nearest" => false,
                "linear" => true,
                other => {
                    return Err(attrs
                        .bad("mode", format!("is `{other}`; nearest and linear are supported")));
                }
            };
            if attrs.int("antialias", 0)? != 0 {
                return Err(attrs.bad("antialias", "antialiased resizing is not supported"));
            }
            if attrs.get("axes").is_some() {
                return Err(attrs.bad("axes", "is not supported; resize all axes"));
            }
            let coordinates =
                match attrs.string("coordinate_transformation_mode", "half_pixel")?.as_str() {
                    "half_pixel" => Coordinates::HalfPixel,
                    "pytorch_half_pixel" => Coordinates::PytorchHalfPixel,
                    "align_corners" => Coordinates::AlignCorners,
                    "asymmetric" => Coordinates::Asymmetric,
                    "tf_half_pixel_for_nn" => Coordinates::TfHalfPixelForNn,
                    other => {
                        return Err(
                            attrs.bad("coordinate_transformation_mode", format!("is `{other}`"))
                        );
                    }
                };
            let nearest = match attrs.string("nearest_mode", "round_prefer_floor")?.as_str() {
                "round_prefer_floor" => NearestMode::RoundPreferFloor,
                "round_prefer_ceil" => NearestMode::RoundPreferCeil,
                "floor" => NearestMode::Floor,
                "ceil" => NearestMode::Ceil,
                other => return Err(attrs.bad("nearest_mode", format!("is `{other}`"))),
            };
            Op::Resize(ResizeAttrs { linear, coordinates, nearest })
        }
        _ => return Err(unsupported()),
    };
    Ok(Node {
        name,
        op_type: node.op_type.clone(),
        inputs: node.input.clone(),
        outputs: node.output.clone(),
        op,
    })
}

/// A float scalar or small tensor.
fn scalar_tensor(value: f32, dims: &[usize]) -> Result<Tensor, String> {
    Tensor::from_vec(vec![value], dims, &Device::Cpu).map_err(|e| e.to_string())
}

/// Folds batch normalisations into convolutions (see [`fold_batch_norms`]), then fuses
/// `Conv → [Relu →] MaxPool 2×2/2` into one `ConvPool` node where the convolution has
/// group 1, stride 1, symmetric explicit padding, and its intermediate results feed nothing
/// else. The fused op (`stressor_model::builtin::ops::conv2d_max_pool2x2`) keeps the
/// full-resolution convolution in the cache; the ReLU moves after the pool, with which it
/// commutes (both are monotone and the ReLU is elementwise).
pub(crate) fn fuse(graph: &mut Graph) {
    fold_batch_norms(graph);
    let uses = use_counts(graph);
    let single_use = |name: &str| uses.get(name).copied() == Some(1);
    let mut index = 0;
    while index < graph.nodes.len() {
        let fused = fusion_at(&graph.nodes, index, &single_use);
        if let Some((node, consumed)) = fused {
            graph.nodes.splice(index..index + consumed, [node]);
        }
        index += 1;
    }
}

/// How often each value is read (the graph output counts as a read).
fn use_counts(graph: &Graph) -> HashMap<String, usize> {
    let mut uses: HashMap<String, usize> = HashMap::new();
    for node in &graph.nodes {
        for input in &node.inputs {
            *uses.entry(input.clone()).or_default() += 1;
        }
    }
    *uses.entry(graph.output.clone()).or_default() += 1;
    uses
}

/// Folds each `BatchNormalization` that directly follows a `Conv` with constant weights (and
/// reads nothing else) into the convolution's weights and bias: `w'[o] = w[o]·a[o]`,
/// `b'[o] = (b[o] − mean[o])·a[o] + beta[o]` with `a = scale / √(var + ε)`. Exact in real
/// arithmetic; it saves a pass over the activations forward and backward.
fn fold_batch_norms(graph: &mut Graph) {
    let uses = use_counts(graph);
    let mut index = 0;
    while index + 1 < graph.nodes.len() {
        if let Some((weight, bias)) = folded(graph, index, &uses) {
            let conv_name = graph.nodes[index].name.clone();
            let (weight_name, bias_name) =
                (format!("{conv_name}::folded_weight"), format!("{conv_name}::folded_bias"));
            graph.constants.insert(weight_name.clone(), Value::Float(weight));
            graph.constants.insert(bias_name.clone(), Value::Float(bias));
            let bn = graph.nodes.remove(index + 1);
            let conv = &mut graph.nodes[index];
            conv.inputs.truncate(1);
            conv.inputs.extend([weight_name, bias_name]);
            conv.outputs = bn.outputs;
        }
        index += 1;
    }
}

/// The folded weight and bias for the `Conv` at `index` and the `BatchNormalization` after it.
fn folded(graph: &Graph, index: usize, uses: &HashMap<String, usize>) -> Option<(Tensor, Tensor)> {
    let (conv, bn) = (&graph.nodes[index], &graph.nodes[index + 1]);
    let (Op::Conv(_), Op::BatchNormalization { epsilon }) = (&conv.op, &bn.op) else {
        return None;
    };
    let conv_out = conv.outputs.first()?;
    if conv.outputs.len() != 1
        || bn.inputs.first() != Some(conv_out)
        || uses.get(conv_out) != Some(&1)
        || bn.outputs.len() != 1
    {
        return None;
    }
    let constant = |name: &str| -> Option<Vec<f32>> {
        match graph.constants.get(name)? {
            Value::Float(t) => t.flatten_all().ok()?.to_vec1::<f32>().ok(),
            Value::Int(_) => None,
        }
    };
    let Value::Float(weight) = graph.constants.get(conv.inputs.get(1)?)? else {
        return None;
    };
    let dims = weight.dims().to_vec();
    let out_channels = *dims.first()?;
    let weights = constant(conv.inputs.get(1)?)?;
    if out_channels == 0 || weights.is_empty() {
        return None;
    }
    let bias = match conv.inputs.get(2).filter(|b| !b.is_empty()) {
        Some(name) => constant(name)?,
        None => vec![0.0; out_channels],
    };
    let [scale, beta, mean, var] =
        [1, 2, 3, 4].map(|i| bn.inputs.get(i).and_then(|name| constant(name)));
    let (scale, beta, mean, var) = (scale?, beta?, mean?, var?);
    if [bias.len(), scale.len(), beta.len(), mean.len(), var.len()]
        .iter()
        .any(|&l| l != out_channels)
    {
        return None;
    }
    let a: Vec<f32> = scale.iter().zip(&var).map(|(s, v)| s / (v + epsilon).sqrt()).collect();
    let per_output = weights.len() / out_channels;
    let new_weights: Vec<f32> =
        weights.iter().enumerate().map(|(i, w)| w * a[i / per_output]).collect();
    let new_bias: Vec<f32> =
        (0..out_channels).map(|o| (bias[o] - mean[o]) * a[o] + beta[o]).collect();
    let weight = Tensor::from_vec(new_weights, dims, &Device::Cpu).ok()?;
    let bias = Tensor::from_vec(new_bias, out_channels, &Device::Cpu).ok()?;
    Some((weight, bias))
}

/// The fused node starting at `index` and how many nodes it replaces.
fn fusion_at(
    nodes: &[Node],
    index: usize,
    single_use: &dyn Fn(&str) -> bool,
) -> Option<(Node, usize)> {
    let conv = &nodes[index];
    let Op::Conv(ConvAttrs { pads: AutoPad::Explicit(pads), strides: [1, 1], group: 1 }) = conv.op
    else {
        return None;
    };
    if pads.iter().any(|&p| p != pads[0]) || conv.outputs.len() != 1 {
        return None;
    }
    let mut next = index + 1;
    let mut current = conv.outputs[0].as_str();
    let mut relu = false;
    if let Some(node) = nodes.get(next)
        && matches!(node.op, Op::Relu)
        && node.inputs.first().map(String::as_str) == Some(current)
        && single_use(current)
    {
        relu = true;
        current = node.outputs.first()?.as_str();
        next += 1;
    }
    let pool = nodes.get(next)?;
    if !matches!(pool.op, Op::MaxPool2x2)
        || pool.inputs.first().map(String::as_str) != Some(current)
        || !single_use(current)
    {
        return None;
    }
    let node = Node {
        name: conv.name.clone(),
        op_type: "Conv".to_string(),
        inputs: conv.inputs.clone(),
        outputs: pool.outputs.clone(),
        op: Op::ConvPool { padding: pads[0], relu },
    };
    Some((node, next + 1 - index))
}
