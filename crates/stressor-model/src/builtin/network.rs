//! The Fashion-MNIST CNN: architecture, forward pass, safetensors IO and the model traits.

use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};
use stressor_core::{Batch, Bounds, Dataset};

use crate::builtin::ops::conv2d_max_pool2x2;
use crate::{Differentiable, Model, ModelError, ModelInfo, ScoreKind, Scores};

/// The shape of one input sample: one grey channel of 28 × 28 pixels in `[0, 1]`.
pub const INPUT_SHAPE: [usize; 3] = [1, 28, 28];
/// The number of classes (logits per sample).
pub const N_CLASSES: usize = 10;
/// Samples per internal forward pass; larger batches are split into chunks of this size.
pub const CHUNK_SIZE: usize = 512;

const CONV1_CHANNELS: usize = 32;
const CONV2_CHANNELS: usize = 64;
const HIDDEN: usize = 128;
const FLAT: usize = CONV2_CHANNELS * 7 * 7;

/// The parameter names, in the order the forward pass takes them (PyTorch's names).
pub(crate) const PARAM_NAMES: [&str; 8] = [
    "conv1.weight",
    "conv1.bias",
    "conv2.weight",
    "conv2.bias",
    "fc1.weight",
    "fc1.bias",
    "fc2.weight",
    "fc2.bias",
];

/// The shape of every parameter, in [`PARAM_NAMES`] order, in PyTorch's layouts.
pub(crate) fn param_shapes() -> [Vec<usize>; 8] {
    [
        vec![CONV1_CHANNELS, INPUT_SHAPE[0], 3, 3],
        vec![CONV1_CHANNELS],
        vec![CONV2_CHANNELS, CONV1_CHANNELS, 3, 3],
        vec![CONV2_CHANNELS],
        vec![HIDDEN, FLAT],
        vec![HIDDEN],
        vec![N_CLASSES, HIDDEN],
        vec![N_CLASSES],
    ]
}

/// The built-in Fashion-MNIST classifier.
///
/// Input `[n, 1, 28, 28]` in `[0, 1]`; `conv(1→32, 3×3, pad 1)`-ReLU-maxpool 2 →
/// `conv(32→64, 3×3, pad 1)`-ReLU-maxpool 2 → flatten (64·7·7) → `linear(→128)`-ReLU →
/// `linear(→10)`, returning logits. The parameters carry PyTorch's names and layouts
/// (`conv1.weight` `[32, 1, 3, 3]`, `fc1.weight` `[128, 3136]`, …), so a PyTorch module with the
/// same layers loads the same safetensors file.
///
/// Train one with [`train`](crate::builtin::train), or load one with [`FashionCnn::load`].
#[derive(Debug, Clone)]
pub struct FashionCnn {
    info: ModelInfo,
    /// In [`PARAM_NAMES`] order; constant tensors that track no op.
    params: Vec<Tensor>,
}

impl FashionCnn {
    /// A model from its parameters in [`PARAM_NAMES`] order, checked against [`param_shapes`].
    pub(crate) fn from_params(params: Vec<Tensor>) -> Result<Self, ModelError> {
        let shapes = param_shapes();
        if params.len() != shapes.len()
            || params
                .iter()
                .zip(&shapes)
                .any(|(t, s)| t.dims() != s.as_slice() || t.dtype() != DType::F32)
        {
            return Err(backend("parameters do not match the architecture"));
        }
        let params = params.iter().map(Tensor::detach).collect();
        let info =
            ModelInfo::new("fashion-cnn", "builtin", INPUT_SHAPE.to_vec(), N_CLASSES, Bounds::UNIT);
        Ok(FashionCnn { info, params })
    }

    /// The parameters, in [`PARAM_NAMES`] order.
    pub(crate) fn params(&self) -> &[Tensor] {
        &self.params
    }

    /// Loads a model from a safetensors file.
    ///
    /// # Errors
    /// [`ModelError::Read`] when the file cannot be read, [`ModelError::Invalid`] when it is not
    /// safetensors or a tensor is missing or has the wrong dtype or shape (the message names the
    /// path and the tensor).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ModelError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .map_err(|source| ModelError::Read { path: path.display().to_string(), source })?;
        Self::parse(&bytes, &path.display().to_string())
    }

    /// Loads a model from safetensors bytes (for example a file embedded with `include_bytes!`).
    ///
    /// # Errors
    /// [`ModelError::Invalid`] (with the path `<memory>`) as for [`FashionCnn::load`].
    pub fn from_safetensors_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        Self::parse(bytes, "<memory>")
    }

    /// The parameters as safetensors bytes (`f32`, little-endian, PyTorch names and layouts).
    ///
    /// # Errors
    /// [`ModelError::Backend`] when a tensor cannot be read back from the backend.
    pub fn to_safetensors_bytes(&self) -> Result<Vec<u8>, ModelError> {
        let mut buffers = Vec::with_capacity(self.params.len());
        for param in &self.params {
            let values =
                param.flatten_all().and_then(|t| t.to_vec1::<f32>()).map_err(candle_error)?;
            buffers.push(values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>());
        }
        let mut views = Vec::with_capacity(self.params.len());
        for ((name, param), bytes) in PARAM_NAMES.iter().zip(&self.params).zip(&buffers) {
            let view = safetensors::tensor::TensorView::new(
                safetensors::Dtype::F32,
                param.dims().to_vec(),
                bytes,
            )
            .map_err(|error| backend(&format!("cannot describe tensor `{name}`: {error}")))?;
            views.push((*name, view));
        }
        safetensors::serialize(views, None)
            .map_err(|error| backend(&format!("cannot serialise: {error}")))
    }

    /// Saves the parameters to a safetensors file that [`FashionCnn::load`] (or PyTorch's
    /// `safetensors.torch.load_file`) reads.
    ///
    /// # Errors
    /// [`ModelError::Write`] when the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ModelError> {
        let path = path.as_ref();
        let bytes = self.to_safetensors_bytes()?;
        std::fs::write(path, bytes)
            .map_err(|source| ModelError::Write { path: path.display().to_string(), source })
    }

    /// The share of samples of `data` whose predicted class is their label (0 for an empty set).
    ///
    /// # Errors
    /// When the samples do not have the model's input shape or the backend fails.
    pub fn accuracy(&self, data: &Dataset) -> Result<f64, ModelError> {
        if data.is_empty() {
            return Ok(0.0);
        }
        let predictions = self.predict(&data.inputs)?.predictions();
        let correct = predictions.iter().zip(&data.labels).filter(|(p, l)| p == l).count();
        Ok(correct as f64 / data.len() as f64)
    }

    fn parse(bytes: &[u8], path: &str) -> Result<Self, ModelError> {
        let invalid = |reason: String| ModelError::Invalid { path: path.to_string(), reason };
        let tensors = safetensors::SafeTensors::deserialize(bytes)
            .map_err(|error| invalid(format!("not a safetensors file: {error}")))?;
        let mut params = Vec::with_capacity(PARAM_NAMES.len());
        for (name, shape) in PARAM_NAMES.iter().zip(param_shapes()) {
            let view =
                tensors.tensor(name).map_err(|_| invalid(format!("missing tensor `{name}`")))?;
            if view.dtype() != safetensors::Dtype::F32 {
                return Err(invalid(format!(
                    "tensor `{name}` has dtype {:?}, expected F32",
                    view.dtype()
                )));
            }
            if view.shape() != shape.as_slice() {
                return Err(invalid(format!(
                    "tensor `{name}` has shape {:?}, expected {shape:?}",
                    view.shape()
                )));
            }
            let values: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            params.push(Tensor::from_vec(values, shape, &Device::Cpu).map_err(candle_error)?);
        }
        Self::from_params(params)
    }

    fn input_tensor(inputs: &Batch, start: usize, end: usize) -> candle_core::Result<Tensor> {
        let len = inputs.sample_len();
        let data = &inputs.as_slice()[start * len..end * len];
        Tensor::from_slice(
            data,
            (end - start, INPUT_SHAPE[0], INPUT_SHAPE[1], INPUT_SHAPE[2]),
            &Device::Cpu,
        )
    }

    fn chunk_logits(
        &self,
        inputs: &Batch,
        start: usize,
        end: usize,
    ) -> candle_core::Result<Vec<f32>> {
        let x = Self::input_tensor(inputs, start, end)?;
        forward(&self.params, &x)?.flatten_all()?.to_vec1::<f32>()
    }

    /// The VJP of one chunk given its logits' graph.
    fn chunk_gradient(
        input: &Var,
        logits: &Tensor,
        cotangent: &[f32],
    ) -> candle_core::Result<Vec<f32>> {
        let cotangent = Tensor::from_slice(cotangent, logits.dims(), &Device::Cpu)?;
        let grads = logits.mul(&cotangent)?.sum_all()?.backward()?;
        match grads.get(input.as_tensor()) {
            Some(grad) => grad.flatten_all()?.to_vec1::<f32>(),
            None => candle_core::bail!("the logits do not depend on the input"),
        }
    }

    fn logits_and_gradient_inner(
        &self,
        inputs: &Batch,
        cotangent: &mut dyn FnMut(&[f32]) -> Vec<f32>,
    ) -> Result<(Vec<f32>, Batch), ModelError> {
        let n = inputs.len();
        let chunks: Vec<(usize, usize)> =
            (0..n).step_by(CHUNK_SIZE).map(|start| (start, (start + CHUNK_SIZE).min(n))).collect();
        // One chunk keeps its graph from the forward pass; several are run again after the
        // cotangent is known, so memory stays bounded by one chunk's activations.
        let mut kept = None;
        let mut logits = Vec::with_capacity(n * N_CLASSES);
        if let [(start, end)] = chunks.as_slice() {
            let input =
                Var::from_tensor(&Self::input_tensor(inputs, *start, *end).map_err(candle_error)?)
                    .map_err(candle_error)?;
            let chunk_logits = forward(&self.params, &input).map_err(candle_error)?;
            logits = chunk_logits
                .flatten_all()
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(candle_error)?;
            kept = Some((input, chunk_logits));
        } else {
            for &(start, end) in &chunks {
                logits.extend(self.chunk_logits(inputs, start, end).map_err(candle_error)?);
            }
        }
        let cotangent = cotangent(&logits);
        if cotangent.len() != logits.len() {
            return Err(backend(&format!(
                "the cotangent has {} values for {} logits",
                cotangent.len(),
                logits.len()
            )));
        }
        let mut gradient = Vec::with_capacity(inputs.as_slice().len());
        for &(start, end) in &chunks {
            let (input, chunk_logits) = match kept.take() {
                Some(pair) => pair,
                None => {
                    let tensor = Self::input_tensor(inputs, start, end).map_err(candle_error)?;
                    let input = Var::from_tensor(&tensor).map_err(candle_error)?;
                    let chunk_logits = forward(&self.params, &input).map_err(candle_error)?;
                    (input, chunk_logits)
                }
            };
            let chunk_cotangent = &cotangent[start * N_CLASSES..end * N_CLASSES];
            gradient.extend(
                Self::chunk_gradient(&input, &chunk_logits, chunk_cotangent)
                    .map_err(candle_error)?,
            );
        }
        let gradient = Batch::new(gradient, inputs.shape().to_vec())
            .map_err(|error| backend(&format!("gradient has the wrong size: {error}")))?;
        Ok((logits, gradient))
    }
}

impl Model for FashionCnn {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn predict(&self, inputs: &Batch) -> Result<Scores, ModelError> {
        self.info.check_input(inputs)?;
        let n = inputs.len();
        let mut logits = Vec::with_capacity(n * N_CLASSES);
        for start in (0..n).step_by(CHUNK_SIZE) {
            let end = (start + CHUNK_SIZE).min(n);
            logits.extend(self.chunk_logits(inputs, start, end).map_err(candle_error)?);
        }
        Ok(Scores::new(logits, N_CLASSES, ScoreKind::Logits))
    }

    fn differentiable(&self) -> Option<&dyn Differentiable> {
        Some(self)
    }
}

impl Differentiable for FashionCnn {
    /// Batches of up to [`CHUNK_SIZE`] samples take one forward and one backward pass; larger
    /// batches take a second forward pass per chunk after `cotangent` has been called.
    fn logits_and_gradient(
        &self,
        inputs: &Batch,
        cotangent: &mut dyn FnMut(&[f32]) -> Vec<f32>,
    ) -> Result<(Vec<f32>, Batch), ModelError> {
        self.info.check_input(inputs)?;
        if inputs.is_empty() {
            cotangent(&[]);
            return Ok((Vec::new(), inputs.clone()));
        }
        self.logits_and_gradient_inner(inputs, cotangent)
    }
}

/// The logits of the network with parameters `params` (in [`PARAM_NAMES`] order) on `x`
/// (`[n, 1, 28, 28]`); works in `f32` and `f64`.
///
/// Max pooling comes before the ReLU: the two commute (ReLU is monotone), and pooling first
/// runs the ReLU and its backward pass on a quarter of the values.
pub(crate) fn forward(params: &[Tensor], x: &Tensor) -> candle_core::Result<Tensor> {
    let [conv1_w, conv1_b, conv2_w, conv2_b, fc1_w, fc1_b, fc2_w, fc2_b] = params else {
        candle_core::bail!(
            "the network takes {} parameters, got {}",
            PARAM_NAMES.len(),
            params.len()
        );
    };
    let x = conv2d_max_pool2x2(x, conv1_w, conv1_b, 1)?.relu()?;
    let x = conv2d_max_pool2x2(&x, conv2_w, conv2_b, 1)?.relu()?;
    let x = x.flatten_from(1)?;
    let x = x.matmul(&fc1_w.t()?)?.broadcast_add(fc1_b)?.relu()?;
    x.matmul(&fc2_w.t()?)?.broadcast_add(fc2_b)
}

fn backend(message: &str) -> ModelError {
    ModelError::Backend { model: "fashion-cnn".to_string(), message: message.to_string() }
}

pub(crate) fn candle_error(error: candle_core::Error) -> ModelError {
    backend(&error.to_string())
}
