//! [`OnnxModel`]: an ONNX image classifier behind stressor's model traits.

use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};
use stressor_core::{Batch, Bounds};
use stressor_model::{Differentiable, Model, ModelError, ModelInfo, ScoreKind, Scores};

use crate::error::OnnxError;
use crate::eval::EvalError;
use crate::graph::{Dim, Graph, Op};

/// Samples per internal pass when the graph takes any batch size and its samples are small
/// (up to [`CHUNK_VALUES`] input values per pass; 512 CIFAR-sized images).
pub const CHUNK_SIZE: usize = 512;

/// Input values per internal pass: larger samples (a 224×224 image) go in smaller chunks, so
/// the activations of one forward pass stay bounded however large the batch.
pub const CHUNK_VALUES: usize = 512 * 3 * 32 * 32;

/// Intermediate values per gradient pass (all of a forward pass's values together, as measured
/// at load): a gradient pass keeps every activation for the backward pass (several times this
/// many bytes in all, with candle's autograd), so models with large activations (ViT-B/16:
/// ~120 M values per image) take their gradients a few samples at a time.
pub const GRADIENT_CHUNK_VALUES: usize = 1 << 27;

/// The memory layout a graph expects for its image input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// `[batch, channels, height, width]` (PyTorch).
    #[default]
    Nchw,
    /// `[batch, height, width, channels]` (TensorFlow/Keras).
    Nhwc,
}

/// What a graph's output rows hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputKind {
    /// Unnormalised log-probabilities.
    #[default]
    Logits,
    /// Probabilities (the graph ends in a `Softmax`).
    Probabilities,
}

/// How stressor's inputs (`[n, c, h, w]`, values in `[0, 1]`) become the graph's input tensor.
///
/// Each value `x` of channel `k` becomes `(x · scale − mean[k]) / std[k]`, then the batch is laid
/// out as [`layout`](InputSpec::layout) says. Gradients are taken through this transform, so
/// they are with respect to stressor's `[0, 1]` inputs.
///
/// # Examples
/// ```
/// use stressor_onnx::{InputSpec, Layout, OutputKind};
/// // An ImageNet-style PyTorch export.
/// let spec = InputSpec {
///     layout: Layout::Nchw,
///     scale: 1.0,
///     mean: vec![0.485, 0.456, 0.406],
///     std: vec![0.229, 0.224, 0.225],
///     output: OutputKind::Logits,
/// };
/// assert_eq!(spec.mean.len(), 3);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct InputSpec {
    /// The layout the graph expects.
    pub layout: Layout,
    /// `1.0` for graphs that take values in `[0, 1]`, `255.0` for `[0, 255]`.
    pub scale: f32,
    /// Per-channel mean subtracted after scaling (one value, or one per channel); empty for none.
    pub mean: Vec<f32>,
    /// Per-channel standard deviation divided by after the mean (one value, or one per channel);
    /// empty for none.
    pub std: Vec<f32>,
    /// What the graph's output holds.
    pub output: OutputKind,
}

impl Default for InputSpec {
    /// NCHW, `[0, 1]` inputs, no normalisation, logits.
    fn default() -> Self {
        InputSpec {
            layout: Layout::Nchw,
            scale: 1.0,
            mean: Vec::new(),
            std: Vec::new(),
            output: OutputKind::Logits,
        }
    }
}

/// An ONNX image classifier, evaluated by stressor on candle so that it has input gradients.
///
/// [`Model::predict`] returns the graph's output (logits or probabilities, as the
/// [`InputSpec`] says). [`Differentiable::logits_and_gradient`] returns logits: for a graph
/// that ends in `Softmax` over its classes, the softmax's input; for another graph declared to
/// output probabilities, their logarithm.
///
/// # Examples
/// ```no_run
/// use std::path::Path;
/// use stressor_model::Model as _;
/// use stressor_onnx::{InputSpec, OnnxModel};
/// let model = OnnxModel::load(Path::new("model.onnx"), InputSpec::default(), None)?;
/// println!("{} classes, input {:?}", model.info().n_classes, model.info().input_shape);
/// # Ok::<(), stressor_onnx::OnnxError>(())
/// ```
#[derive(Debug, Clone)]
pub struct OnnxModel {
    info: ModelInfo,
    graph: Graph,
    spec: InputSpec,
    class_names: Option<Vec<String>>,
    /// Per-channel factor and offset of the input transform, `[1, c, 1, 1]`; `None` when it is
    /// the identity.
    affine: Option<(Tensor, Tensor)>,
    /// The batch size the graph fixes, if any.
    fixed_batch: Option<usize>,
    /// The value whose rows are the logits.
    logits: LogitsSource,
}

/// Where logits come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LogitsSource {
    /// The graph's output (or the named value: the input of a final softmax).
    Value(String),
    /// The logarithm of the graph's output (probabilities without a final softmax).
    LogOfOutput,
}

impl OnnxModel {
    /// Loads an ONNX model from a file.
    ///
    /// # Errors
    /// [`OnnxError::Read`] when the file cannot be read, and any error of
    /// [`OnnxModel::from_bytes`].
    pub fn load(
        path: &Path,
        spec: InputSpec,
        class_names: Option<Vec<String>>,
    ) -> Result<OnnxModel, OnnxError> {
        let bytes = std::fs::read(path)
            .map_err(|source| OnnxError::Read { path: path.display().to_string(), source })?;
        let name = path
            .file_stem()
            .map_or_else(|| path.display().to_string(), |s| s.to_string_lossy().into_owned());
        Self::build(&name, &path.display().to_string(), &bytes, spec, class_names)
    }

    /// Loads an ONNX model from bytes; `name` names it in messages and in its
    /// [`ModelInfo`].
    ///
    /// # Errors
    /// [`OnnxError::Decode`] when the bytes are not an ONNX model, [`OnnxError::UnsupportedOp`]
    /// (naming the op and the node), [`OnnxError::BadAttribute`], [`OnnxError::Invalid`],
    /// [`OnnxError::DynamicShape`] when the input is not `[batch, c, h, w]` with fixed `c, h, w`
    /// (or, for a tabular graph, `[batch, features]` with fixed `features`),
    /// [`OnnxError::Node`] when a trial run on zeros fails (weights that do not fit the data),
    /// [`OnnxError::Output`] when the output is not `[batch, classes]`, [`OnnxError::Spec`] when
    /// the spec's mean/std or the class names do not fit.
    pub fn from_bytes(
        name: &str,
        bytes: &[u8],
        spec: InputSpec,
        class_names: Option<Vec<String>>,
    ) -> Result<OnnxModel, OnnxError> {
        Self::build(name, name, bytes, spec, class_names)
    }

    /// The class names given at load time.
    pub fn class_names(&self) -> Option<&[String]> {
        self.class_names.as_deref()
    }

    /// The input spec.
    pub fn spec(&self) -> &InputSpec {
        &self.spec
    }

    fn build(
        name: &str,
        label: &str,
        bytes: &[u8],
        spec: InputSpec,
        class_names: Option<Vec<String>>,
    ) -> Result<OnnxModel, OnnxError> {
        let graph = Graph::parse(label, bytes)?;
        let dynamic = |reason: String| OnnxError::DynamicShape { model: label.to_string(), reason };
        let tabular = graph.input_dims.len() == 2;
        if !tabular && graph.input_dims.len() != 4 {
            return Err(dynamic(format!(
                "the input `{}` has rank {}; stressor feeds images as [batch, c, h, w] or [batch, h, w, c], and tabular rows as [batch, features]",
                graph.input,
                graph.input_dims.len()
            )));
        }
        let fixed = |index: usize| match graph.input_dims[index] {
            Dim::Fixed(d) => Ok(d),
            Dim::Symbolic => Err(dynamic(format!(
                "dimension {index} of the input `{}` is symbolic; only the batch dimension may be",
                graph.input
            ))),
        };
        // A tabular graph takes rows of features; its "channels" for the affine are features.
        let (input_shape, channels) = if tabular {
            let features = fixed(1)?;
            (vec![features], features)
        } else {
            let (c, h, w) = match spec.layout {
                Layout::Nchw => (fixed(1)?, fixed(2)?, fixed(3)?),
                Layout::Nhwc => (fixed(3)?, fixed(1)?, fixed(2)?),
            };
            (vec![c, h, w], c)
        };
        let fixed_batch = match graph.input_dims[0] {
            Dim::Fixed(b) => Some(b),
            Dim::Symbolic => None,
        };
        let spec_error = |reason: String| OnnxError::Spec { model: label.to_string(), reason };
        let affine = input_affine(&spec, channels, tabular).map_err(spec_error)?;
        let logits = match spec.output {
            OutputKind::Logits => LogitsSource::Value(graph.output.clone()),
            OutputKind::Probabilities => match graph.nodes.last() {
                Some(node)
                    if matches!(node.op, Op::Softmax { .. })
                        && node.outputs.first() == Some(&graph.output)
                        && node.inputs.first().is_some_and(|i| !i.is_empty()) =>
                {
                    LogitsSource::Value(node.inputs[0].clone())
                }
                _ => LogitsSource::LogOfOutput,
            },
        };
        // Tabular features have no natural range; images live in [0, 1].
        let bounds = if tabular { Bounds { min: f32::MIN, max: f32::MAX } } else { Bounds::UNIT };
        let info = ModelInfo::new(name, "onnx", input_shape.clone(), 1, bounds);
        let mut model =
            OnnxModel { info, graph, spec, class_names: None, affine, fixed_batch, logits };
        // A trial run on zeros finds weights that do not fit the data, and the class count.
        let probe_n = fixed_batch.unwrap_or(1);
        let probe_shape: Vec<usize> = std::iter::once(probe_n).chain(input_shape).collect();
        let probe = Tensor::zeros(probe_shape, DType::F32, &Device::Cpu)
            .map_err(|e| OnnxError::Invalid { model: label.to_string(), reason: e.to_string() })?;
        let output =
            model.graph_output(&probe, &model.graph.output).map_err(|e| node_error(label, e))?;
        let n_classes = output_classes(output.dims(), probe_n)
            .map_err(|reason| OnnxError::Output { model: label.to_string(), reason })?;
        if model.spec.output == OutputKind::Probabilities
            && let LogitsSource::Value(logits_name) = &model.logits
        {
            let logits =
                model.graph_output(&probe, logits_name).map_err(|e| node_error(label, e))?;
            if output_classes(logits.dims(), probe_n) != Ok(n_classes) {
                model.logits = LogitsSource::LogOfOutput;
            }
        }
        if let Some(names) = &class_names
            && names.len() != n_classes
        {
            return Err(spec_error(format!("{} class names for {n_classes} classes", names.len())));
        }
        model.info.n_classes = n_classes;
        model.class_names = class_names;
        Ok(model)
    }

    /// The graph's input for stressor inputs `x` (`[m, c, h, w]`, `f32` or `f64`).
    fn graph_input(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut x = x.clone();
        if let Some((a, b)) = &self.affine {
            let (a, b) = (a.to_dtype(x.dtype())?, b.to_dtype(x.dtype())?);
            x = x.broadcast_mul(&a)?.broadcast_add(&b)?;
        }
        match self.spec.layout {
            Layout::Nhwc if self.info.input_shape.len() == 3 => {
                x.permute((0, 2, 3, 1))?.contiguous()
            }
            _ => Ok(x),
        }
    }

    /// The value `output` of the graph for stressor inputs `x`.
    fn graph_output(&self, x: &Tensor, output: &str) -> Result<Tensor, EvalError> {
        let input = self.graph_input(x).map_err(|e| EvalError {
            node: self.graph.input.clone(),
            op: "input".to_string(),
            message: e.to_string(),
        })?;
        self.graph.run(&input, output)
    }

    /// The logits (`[m, classes]`) for stressor inputs `x` (`f32` or `f64`).
    pub(crate) fn logits_tensor(&self, x: &Tensor) -> Result<Tensor, EvalError> {
        let m = x.dim(0).unwrap_or(0);
        let flat = |t: Tensor| {
            t.reshape((m, self.info.n_classes)).map_err(|e| EvalError {
                node: self.graph.output.clone(),
                op: "output".to_string(),
                message: e.to_string(),
            })
        };
        match &self.logits {
            LogitsSource::Value(name) => flat(self.graph_output(x, name)?),
            LogitsSource::LogOfOutput => {
                let p = flat(self.graph_output(x, &self.graph.output)?)?;
                p.maximum(1e-30).and_then(|p| p.log()).map_err(|e| EvalError {
                    node: self.graph.output.clone(),
                    op: "log".to_string(),
                    message: e.to_string(),
                })
            }
        }
    }

    /// The graph's output rows (`[m, classes]`) for stressor inputs `x`.
    pub(crate) fn output_tensor(&self, x: &Tensor) -> Result<Tensor, EvalError> {
        let m = x.dim(0).unwrap_or(0);
        self.graph_output(x, &self.graph.output)?.reshape((m, self.info.n_classes)).map_err(|e| {
            EvalError {
                node: self.graph.output.clone(),
                op: "output".to_string(),
                message: e.to_string(),
            }
        })
    }

    /// Chunks of `n` samples: `(start, end, padded_len)`; a fixed-batch graph gets chunks of its
    /// batch size, the last one padded with zeros.
    fn chunks(&self, n: usize, gradient: bool) -> Vec<(usize, usize, usize)> {
        let sample_len = self.info.input_shape.iter().product::<usize>().max(1);
        let mut free = (CHUNK_VALUES / sample_len).clamp(1, CHUNK_SIZE);
        if gradient && let Some(values) = self.graph.values_per_sample {
            free = free.min((GRADIENT_CHUNK_VALUES / values.max(1)).max(1));
        }
        let size = self.fixed_batch.unwrap_or(free);
        (0..n)
            .step_by(size)
            .map(|start| {
                let end = (start + size).min(n);
                (start, end, if self.fixed_batch.is_some() { size } else { end - start })
            })
            .collect()
    }

    fn chunk_input(
        &self,
        inputs: &Batch,
        start: usize,
        end: usize,
        padded: usize,
    ) -> Result<Tensor, ModelError> {
        let len = inputs.sample_len();
        let mut data = inputs.as_slice()[start * len..end * len].to_vec();
        data.resize(padded * len, 0.0);
        let shape: Vec<usize> =
            std::iter::once(padded).chain(self.info.input_shape.iter().copied()).collect();
        Tensor::from_vec(data, shape, &Device::Cpu).map_err(|e| self.backend(&e.to_string()))
    }

    fn rows(&self, t: &Tensor, rows: usize) -> Result<Vec<f32>, ModelError> {
        t.narrow(0, 0, rows)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|e| self.backend(&e.to_string()))
    }

    fn backend(&self, message: &str) -> ModelError {
        ModelError::Backend { model: self.info.name.clone(), message: message.to_string() }
    }

    fn eval_error(&self, error: EvalError) -> ModelError {
        self.backend(&format!("node `{}` ({}): {}", error.node, error.op, error.message))
    }

    /// One chunk's input variable and logits graph.
    fn chunk_forward(
        &self,
        inputs: &Batch,
        chunk: (usize, usize, usize),
    ) -> Result<(Var, Tensor), ModelError> {
        let tensor = self.chunk_input(inputs, chunk.0, chunk.1, chunk.2)?;
        let input = Var::from_tensor(&tensor).map_err(|e| self.backend(&e.to_string()))?;
        let logits = self.logits_tensor(input.as_tensor()).map_err(|e| self.eval_error(e))?;
        Ok((input, logits))
    }
}

impl Model for OnnxModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn predict(&self, inputs: &Batch) -> Result<Scores, ModelError> {
        self.info.check_input(inputs)?;
        let mut values = Vec::with_capacity(inputs.len() * self.info.n_classes);
        for (start, end, padded) in self.chunks(inputs.len(), false) {
            let x = self.chunk_input(inputs, start, end, padded)?;
            let out = self.output_tensor(&x).map_err(|e| self.eval_error(e))?;
            values.extend(self.rows(&out, end - start)?);
        }
        let kind = match self.spec.output {
            OutputKind::Logits => ScoreKind::Logits,
            OutputKind::Probabilities => ScoreKind::Probabilities,
        };
        Ok(Scores::new(values, self.info.n_classes, kind))
    }

    fn differentiable(&self) -> Option<&dyn Differentiable> {
        Some(self)
    }
}

impl Differentiable for OnnxModel {
    /// Batches of up to one chunk ([`CHUNK_SIZE`] samples, fewer for large samples: see
    /// [`CHUNK_VALUES`]; or the graph's fixed batch size) take one
    /// forward and one backward pass; larger batches take a second forward pass per chunk after
    /// `cotangent` has been called, so memory stays bounded by one chunk's activations.
    fn logits_and_gradient(
        &self,
        inputs: &Batch,
        cotangent: &mut dyn FnMut(&[f32]) -> Vec<f32>,
    ) -> Result<(Vec<f32>, Batch), ModelError> {
        self.info.check_input(inputs)?;
        let k = self.info.n_classes;
        let chunks = self.chunks(inputs.len(), true);
        let mut kept = None;
        let mut logits = Vec::with_capacity(inputs.len() * k);
        if let [chunk] = chunks.as_slice() {
            let (input, chunk_logits) = self.chunk_forward(inputs, *chunk)?;
            logits = self.rows(&chunk_logits, chunk.1 - chunk.0)?;
            kept = Some((input, chunk_logits));
        } else {
            for &(start, end, padded) in &chunks {
                let x = self.chunk_input(inputs, start, end, padded)?;
                let out = self.logits_tensor(&x).map_err(|e| self.eval_error(e))?;
                logits.extend(self.rows(&out, end - start)?);
            }
        }
        let cotangent = cotangent(&logits);
        if cotangent.len() != logits.len() {
            return Err(self.backend(&format!(
                "the cotangent has {} values for {} logits",
                cotangent.len(),
                logits.len()
            )));
        }
        let mut gradient = Vec::with_capacity(inputs.as_slice().len());
        for &chunk in &chunks {
            let (start, end, padded) = chunk;
            let (input, chunk_logits) = match kept.take() {
                Some(pair) => pair,
                None => self.chunk_forward(inputs, chunk)?,
            };
            let mut weights = cotangent[start * k..end * k].to_vec();
            weights.resize(padded * k, 0.0);
            let grad = Tensor::from_vec(weights, (padded, k), &Device::Cpu)
                .and_then(|w| chunk_logits.mul(&w)?.sum_all()?.backward())
                .map_err(|e| self.backend(&e.to_string()))?;
            let values = match grad.get(input.as_tensor()) {
                Some(g) => self.rows(g, end - start)?,
                // Logits that do not depend on the input have a zero gradient.
                None => vec![0.0; (end - start) * inputs.sample_len()],
            };
            gradient.extend(values);
        }
        let gradient = Batch::new(gradient, inputs.shape().to_vec())
            .map_err(|error| self.backend(&format!("gradient has the wrong size: {error}")))?;
        Ok((logits, gradient))
    }
}

/// The per-channel factor and offset `(scale / std, −mean / std)` as `[1, c, 1, 1]` tensors, or
/// `None` for the identity.
fn input_affine(
    spec: &InputSpec,
    channels: usize,
    tabular: bool,
) -> Result<Option<(Tensor, Tensor)>, String> {
    if !(spec.scale.is_finite() && spec.scale > 0.0) {
        return Err(format!("scale {} is not a positive number", spec.scale));
    }
    let per_channel = |values: &[f32], default: f32, what: &str| -> Result<Vec<f32>, String> {
        match values.len() {
            0 => Ok(vec![default; channels]),
            1 => Ok(vec![values[0]; channels]),
            n if n == channels => Ok(values.to_vec()),
            n => Err(format!("{n} {what} values for {channels} channels")),
        }
    };
    let mean = per_channel(&spec.mean, 0.0, "mean")?;
    let std = per_channel(&spec.std, 1.0, "std")?;
    if let Some(s) = std.iter().find(|s| !(s.is_finite() && **s != 0.0)) {
        return Err(format!("std {s} is not a non-zero number"));
    }
    let a: Vec<f32> = std.iter().map(|s| spec.scale / s).collect();
    let b: Vec<f32> = mean.iter().zip(&std).map(|(m, s)| -m / s).collect();
    if a.iter().all(|&v| v == 1.0) && b.iter().all(|&v| v == 0.0) {
        return Ok(None);
    }
    let tensor = |v: Vec<f32>| {
        let shape = if tabular { vec![1, channels] } else { vec![1, channels, 1, 1] };
        Tensor::from_vec(v, shape, &Device::Cpu).map_err(|e| e.to_string())
    };
    Ok(Some((tensor(a)?, tensor(b)?)))
}

/// The number of classes of an output of shape `dims` for `n` samples: `[n, k]`, or `[n, k]`
/// followed by ones.
fn output_classes(dims: &[usize], n: usize) -> Result<usize, String> {
    match dims {
        [rows, k, rest @ ..] if *rows == n && *k > 0 && rest.iter().all(|&d| d == 1) => Ok(*k),
        _ => Err(format!("the output has shape {dims:?} for {n} samples")),
    }
}

fn node_error(model: &str, error: EvalError) -> OnnxError {
    OnnxError::Node {
        model: model.to_string(),
        op: error.op,
        node: error.node,
        message: error.message,
    }
}
