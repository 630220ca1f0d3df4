//! The Fashion-MNIST CNN: architecture, forward pass, safetensors IO and the model traits.

use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};
use stressor_core::{Batch, Bounds, Dataset};

use crate::builtin::ops::{conv2d_max_pool2x2, linear};
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
    let x = linear(&x, fc1_w, fc1_b)?.relu()?;
    linear(&x, fc2_w, fc2_b)
}

fn backend(message: &str) -> ModelError {
    ModelError::Backend { model: "fashion-cnn".to_string(), message: message.to_string() }
}

pub(crate) fn candle_error(error: candle_core::Error) -> ModelError {
    backend(&error.to_string())
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    clippy::field_reassign_with_default,
    reason = "a failed unwrap fails the test; TrainConfig is non-exhaustive"
)]
mod tests {
    use rand::Rng as _;
    use stressor_core::{Dataset, Seed};

    use super::*;
    use crate::builtin::train::{TrainConfig, initial_params, train};

    fn untrained() -> FashionCnn {
        FashionCnn::from_params(initial_params(Seed::new(5)).unwrap()).unwrap()
    }

    fn random_batch(n: usize, seed: u64) -> Batch {
        let mut rng = Seed::new(seed).rng();
        Batch::new((0..n * 784).map(|_| rng.random::<f32>()).collect(), vec![n, 1, 28, 28]).unwrap()
    }

    /// Ten classes, each a bright 6×6 square at its own place on a noisy background.
    fn toy_data(n: usize, seed: u64) -> Dataset {
        let mut rng = Seed::new(seed).rng();
        let mut pixels = Vec::with_capacity(n * 784);
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let label = rng.random_range(0..10u32);
            let (top, left) = (2 + (label as usize / 5) * 12, 1 + (label as usize % 5) * 5);
            for y in 0..28 {
                for x in 0..28 {
                    let inside = (top..top + 6).contains(&y) && (left..left + 6).contains(&x);
                    let noise: f32 = rng.random_range(0.0..0.3);
                    pixels.push(if inside { 0.7 + noise } else { noise });
                }
            }
            labels.push(label);
        }
        let names = (0..10).map(|i| format!("square {i}")).collect();
        Dataset::new(
            "toy",
            Batch::new(pixels, vec![n, 1, 28, 28]).unwrap(),
            labels,
            names,
            Bounds::UNIT,
        )
        .unwrap()
    }

    #[test]
    fn learns_a_toy_problem() {
        let mut config = TrainConfig::default();
        config.epochs = 2;
        config.batch_size = 32;
        let mut losses = Vec::new();
        let model =
            train(&toy_data(640, 1), &config, Seed::new(9), &mut |p| losses.push(p.loss)).unwrap();
        assert_eq!(losses.len(), 40);
        let accuracy = model.accuracy(&toy_data(500, 2)).unwrap();
        assert!(accuracy > 0.95, "held-out accuracy {accuracy}");
        assert!(losses[losses.len() - 1] < losses[0] / 4.0, "{losses:?}");
    }

    #[test]
    fn training_is_bit_identical_for_a_seed() {
        let data = toy_data(48, 3);
        let mut config = TrainConfig::default();
        config.epochs = 2;
        config.batch_size = 20;
        let run = |seed| {
            train(&data, &config, Seed::new(seed), &mut |_| {})
                .unwrap()
                .to_safetensors_bytes()
                .unwrap()
        };
        assert_eq!(run(11), run(11));
        assert_ne!(run(11), run(12));
    }

    #[test]
    fn trained_weights_track_no_op() {
        let data = toy_data(8, 4);
        let model = train(&data, &TrainConfig::default(), Seed::new(1), &mut |_| {}).unwrap();
        assert!(model.params().iter().all(|p| !p.track_op()));
    }

    #[test]
    fn training_rejects_bad_input() {
        let mut config = TrainConfig::default();
        config.batch_size = 0;
        let err = train(&toy_data(4, 5), &config, Seed::new(1), &mut |_| {}).unwrap_err();
        assert!(matches!(err, ModelError::Training { .. }), "{err}");
        let names = vec!["a".to_string()];
        let wrong =
            Dataset::new("w", Batch::zeros(2, &[3, 4]), vec![0, 0], names, Bounds::UNIT).unwrap();
        let err = train(&wrong, &TrainConfig::default(), Seed::new(1), &mut |_| {}).unwrap_err();
        assert!(matches!(err, ModelError::InputShape { .. }), "{err}");
    }

    #[test]
    fn save_and_load_round_trip() {
        let model = untrained();
        let dir = std::env::temp_dir().join(format!("stressor-model-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cnn.safetensors");
        model.save(&path).unwrap();
        let loaded = FashionCnn::load(&path).unwrap();
        let inputs = random_batch(5, 6);
        assert_eq!(model.predict(&inputs).unwrap(), loaded.predict(&inputs).unwrap());
        let bytes = std::fs::read(&path).unwrap();
        let from_bytes = FashionCnn::from_safetensors_bytes(&bytes).unwrap();
        assert_eq!(from_bytes.to_safetensors_bytes().unwrap(), bytes);
        // PyTorch's names and layouts.
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(file.tensor("conv2.weight").unwrap().shape(), &[64, 32, 3, 3]);
        assert_eq!(file.tensor("fc1.weight").unwrap().shape(), &[128, 3136]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_file_is_a_read_error_naming_it() {
        let err = FashionCnn::load("/nonexistent/stressor/cnn.safetensors").unwrap_err();
        assert!(matches!(err, ModelError::Read { .. }), "{err}");
        assert!(err.to_string().contains("/nonexistent/stressor/cnn.safetensors"), "{err}");
    }

    #[test]
    fn missing_or_misshaped_tensors_are_invalid_and_named() {
        let model = untrained();
        let tensors: Vec<(String, Vec<usize>, Vec<u8>)> = PARAM_NAMES
            .iter()
            .zip(model.params())
            .map(|(name, t)| {
                let values = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                (
                    name.to_string(),
                    t.dims().to_vec(),
                    values.iter().flat_map(|v| v.to_le_bytes()).collect(),
                )
            })
            .collect();
        let serialise = |tensors: &[(String, Vec<usize>, Vec<u8>)]| {
            let views: Vec<_> = tensors
                .iter()
                .map(|(name, shape, bytes)| {
                    (
                        name.clone(),
                        safetensors::tensor::TensorView::new(
                            safetensors::Dtype::F32,
                            shape.clone(),
                            bytes,
                        )
                        .unwrap(),
                    )
                })
                .collect();
            safetensors::serialize(views, None).unwrap()
        };
        let without_fc2_bias: Vec<_> =
            tensors.iter().filter(|t| t.0 != "fc2.bias").cloned().collect();
        let err = FashionCnn::from_safetensors_bytes(&serialise(&without_fc2_bias)).unwrap_err();
        assert!(matches!(err, ModelError::Invalid { .. }), "{err}");
        assert!(
            err.to_string().contains("`fc2.bias`") && err.to_string().contains("<memory>"),
            "{err}"
        );

        let mut misshaped = tensors.clone();
        misshaped[0].1 = vec![32, 1, 9, 1];
        let err = FashionCnn::from_safetensors_bytes(&serialise(&misshaped)).unwrap_err();
        assert!(err.to_string().contains("`conv1.weight` has shape [32, 1, 9, 1]"), "{err}");

        let err = FashionCnn::from_safetensors_bytes(b"not a model").unwrap_err();
        assert!(matches!(err, ModelError::Invalid { .. }), "{err}");
    }

    #[test]
    fn any_batch_size_gives_the_same_answers() {
        // Chunking must not change results: CHUNK_SIZE + 3 samples against each one alone.
        let model = untrained();
        let n = CHUNK_SIZE + 3;
        let inputs = random_batch(n, 7);
        let all = model.predict(&inputs).unwrap();
        let mut seen_len = 0;
        let (logits, gradient) = model
            .logits_and_gradient(&inputs, &mut |l: &[f32]| {
                seen_len = l.len();
                vec![1.0; l.len()]
            })
            .unwrap();
        assert_eq!(seen_len, n * N_CLASSES);
        assert_eq!(logits, all.as_slice());
        assert_eq!(gradient.shape(), inputs.shape());
        for i in [0, CHUNK_SIZE - 1, CHUNK_SIZE, n - 1] {
            let one = inputs.select(&[i]);
            let single = model.predict(&one).unwrap();
            for (a, b) in single.row(0).iter().zip(all.row(i)) {
                assert!((a - b).abs() < 1e-5, "sample {i}: {a} vs {b}");
            }
            let (_, g) =
                model.logits_and_gradient(&one, &mut |l: &[f32]| vec![1.0; l.len()]).unwrap();
            for (a, b) in g.as_slice().iter().zip(gradient.sample(i)) {
                assert!((a - b).abs() < 1e-5, "sample {i}: {a} vs {b}");
            }
        }
        let empty = Batch::zeros(0, &INPUT_SHAPE);
        assert!(model.predict(&empty).unwrap().is_empty());
        let err = model.predict(&Batch::zeros(1, &[28, 28])).unwrap_err();
        assert!(matches!(err, ModelError::InputShape { .. }), "{err}");
    }

    #[test]
    fn a_wrong_cotangent_is_an_error() {
        let err = untrained()
            .logits_and_gradient(&random_batch(2, 8), &mut |_| vec![1.0; 3])
            .unwrap_err();
        assert!(err.to_string().contains("3 values for 20 logits"), "{err}");
    }
}
