//! Seeded, deterministic training of [`FashionCnn`] with Adam.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::optim::{AdamW, Optimizer, ParamsAdamW};
use rand::Rng as _;
use rand::seq::SliceRandom as _;
use stressor_core::{Batch, Dataset, Seed};

use crate::builtin::network::{
    FashionCnn, INPUT_SHAPE, N_CLASSES, PARAM_NAMES, candle_error, forward, param_shapes,
};
use crate::{Model as _, ModelError};

/// How to train the built-in CNN.
///
/// `#[non_exhaustive]`: start from [`TrainConfig::default`] and set fields.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TrainConfig {
    /// Passes over the training data.
    pub epochs: usize,
    /// Samples per optimiser step (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// Adam's step size at the start of training.
    pub learning_rate: f64,
    /// The step size at the end of training, reached by cosine decay from `learning_rate`
    /// (equal to `learning_rate` for a constant step size).
    pub final_learning_rate: f64,
}

impl Default for TrainConfig {
    /// Two epochs of batches of 64 with a step size decaying from 2e-3 to 1e-4: 88.3 % on
    /// the Fashion-MNIST test set from the first 30 000 training images (seed 0).
    fn default() -> Self {
        TrainConfig { epochs: 2, batch_size: 64, learning_rate: 2e-3, final_learning_rate: 1e-4 }
    }
}

/// Where training stands, reported after every optimiser step.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct TrainProgress {
    /// The epoch, from 0.
    pub epoch: usize,
    /// The number of epochs.
    pub n_epochs: usize,
    /// The step within the epoch, from 0.
    pub step: usize,
    /// Steps per epoch.
    pub n_steps: usize,
    /// The mean cross-entropy of this step's batch.
    pub loss: f32,
}

/// Trains a [`FashionCnn`] on `data` (samples `[1, 28, 28]` in `[0, 1]`, at most 10 classes).
///
/// Deterministic: the initialisation (Kaiming-uniform, as PyTorch's defaults) and the shuffling
/// derive from `seed`, and every reduction runs in a fixed order, so the same seed, data and
/// configuration give bit-identical weights on any machine with the same float behaviour.
/// `progress` is called after every optimiser step.
///
/// # Errors
/// [`ModelError::InputShape`] when the samples have another shape, [`ModelError::Training`] when
/// the data set is empty or has more than 10 classes, or `batch_size` is 0,
/// [`ModelError::Backend`] when the tensor backend fails.
pub fn train(
    data: &Dataset,
    config: &TrainConfig,
    seed: Seed,
    progress: &mut dyn FnMut(TrainProgress),
) -> Result<FashionCnn, ModelError> {
    train_with(data, config, seed, progress, &mut |_, batch, _, _| Ok(batch.clone()))
}

/// Trains a [`FashionCnn`] as [`train`] does, letting `augment` replace each batch's inputs
/// before its optimiser step.
///
/// `augment` is called once per step with the model at its current weights, the batch's inputs
/// (drawn as in [`train`]), their labels and a seed of its own for this step (derived from
/// `seed`, so the shuffling and initialisation are those of [`train`]); the step trains on the
/// batch it returns, with the same labels. This is the hook for training-time mitigations:
/// adversarial training replaces inputs by attacks on the current model, augmentation by
/// corrupted copies. With an `augment` that returns its batch unchanged, the weights are
/// bit-identical to [`train`]'s.
///
/// The model handed to `augment` shares its parameter tensors with the optimiser (making it
/// costs no copy), so it is valid for the call only: a clone of it keeps sharing the
/// parameters, which the next step updates in place. Save a snapshot with
/// [`FashionCnn::to_safetensors_bytes`] instead.
///
/// # Errors
/// As [`train`]; [`ModelError::Training`] when `augment` returns a batch of another shape, and
/// any error `augment` returns, which stops training.
///
/// # Examples
/// ```
/// use stressor_core::{Batch, Bounds, Dataset, Seed};
/// use stressor_model::builtin::{TrainConfig, train_with};
///
/// let names = vec!["a".to_string(), "b".to_string()];
/// let data = Dataset::new("toy", Batch::zeros(8, &[1, 28, 28]), vec![0, 1, 0, 1, 0, 1, 0, 1], names, Bounds::UNIT).unwrap();
/// let mut config = TrainConfig::default();
/// config.epochs = 1;
/// // Train on inverted images.
/// let mut invert = |_: &_, batch: &Batch, _: &[u32], _: Seed| {
///     let mut inverted = batch.clone();
///     inverted.as_mut_slice().iter_mut().for_each(|v| *v = 1.0 - *v);
///     Ok(inverted)
/// };
/// let model = train_with(&data, &config, Seed::new(7), &mut |_| {}, &mut invert).unwrap();
/// # let _ = model;
/// ```
#[expect(
    clippy::type_complexity,
    reason = "the hook's signature is its documentation; an alias would hide it"
)]
pub fn train_with(
    data: &Dataset,
    config: &TrainConfig,
    seed: Seed,
    progress: &mut dyn FnMut(TrainProgress),
    augment: &mut dyn FnMut(&FashionCnn, &Batch, &[u32], Seed) -> Result<Batch, ModelError>,
) -> Result<FashionCnn, ModelError> {
    let params = initial_params(seed.derive("fashion-cnn/init")).map_err(candle_error)?;
    let model = FashionCnn::from_params(params)?;
    model.info().check_input(&data.inputs)?;
    let training_error = |reason: &str| ModelError::Training {
        model: "fashion-cnn".to_string(),
        reason: reason.to_string(),
    };
    if data.is_empty() {
        return Err(training_error("the training set is empty"));
    }
    if data.n_classes() > N_CLASSES {
        return Err(training_error(&format!(
            "the data has {} classes, the model {N_CLASSES}",
            data.n_classes()
        )));
    }
    if config.batch_size == 0 {
        return Err(training_error("the batch size is 0"));
    }
    let vars: Vec<Var> = model
        .params()
        .iter()
        .map(Var::from_tensor)
        .collect::<Result<_, _>>()
        .map_err(candle_error)?;
    let adam = ParamsAdamW {
        lr: config.learning_rate,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.0,
    };
    let mut optimiser = AdamW::new(vars.clone(), adam).map_err(candle_error)?;
    let tensors: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let n_steps = data.len().div_ceil(config.batch_size);
    let total_steps = (n_steps * config.epochs).max(1);
    let shuffle_seed = seed.derive("fashion-cnn/shuffle");
    let augment_seed = seed.derive("fashion-cnn/augment");
    let mut order: Vec<usize> = (0..data.len()).collect();
    for epoch in 0..config.epochs {
        order.sort_unstable();
        order.shuffle(&mut shuffle_seed.derive_index(epoch as u64).rng());
        for (step, indices) in order.chunks(config.batch_size).enumerate() {
            let done = (epoch * n_steps + step) as f64 / total_steps as f64;
            let cosine = 0.5 * (1.0 + (std::f64::consts::PI * done).cos());
            optimiser.set_learning_rate(
                config.final_learning_rate
                    + (config.learning_rate - config.final_learning_rate) * cosine,
            );
            let inputs = data.inputs.select(indices);
            let labels: Vec<u32> = indices.iter().map(|&i| data.labels[i]).collect();
            // `from_params` detaches: new tensor handles on the same storage, no copy.
            let current = FashionCnn::from_params(tensors.clone())?;
            let step_seed = augment_seed.derive_index((epoch * n_steps + step) as u64);
            let inputs = augment(&current, &inputs, &labels, step_seed)?;
            if inputs.shape() != [indices.len(), INPUT_SHAPE[0], INPUT_SHAPE[1], INPUT_SHAPE[2]] {
                return Err(training_error(&format!(
                    "the augmented batch has shape {:?}, expected {:?}",
                    inputs.shape(),
                    [indices.len(), INPUT_SHAPE[0], INPUT_SHAPE[1], INPUT_SHAPE[2]]
                )));
            }
            let loss =
                train_step(&tensors, &mut optimiser, inputs, &labels).map_err(candle_error)?;
            progress(TrainProgress { epoch, n_epochs: config.epochs, step, n_steps, loss });
        }
    }
    FashionCnn::from_params(vars.iter().map(|v| v.as_tensor().detach()).collect())
}

fn train_step(
    params: &[Tensor],
    optimiser: &mut AdamW,
    inputs: Batch,
    labels: &[u32],
) -> candle_core::Result<f32> {
    let x = Tensor::from_vec(
        inputs.into_parts().0,
        (labels.len(), INPUT_SHAPE[0], INPUT_SHAPE[1], INPUT_SHAPE[2]),
        &Device::Cpu,
    )?;
    let labels = Tensor::from_slice(labels, labels.len(), &Device::Cpu)?;
    let logits = forward(params, &x)?;
    let loss = candle_nn::loss::cross_entropy(&logits, &labels)?;
    optimiser.backward_step(&loss)?;
    loss.to_scalar::<f32>()
}

/// PyTorch's default initialisation: weights and biases uniform in `±1/√fan_in` (Kaiming-uniform
/// with `a = √5` for the weights), each tensor from its own seeded stream.
pub(crate) fn initial_params(seed: Seed) -> candle_core::Result<Vec<Tensor>> {
    let shapes = param_shapes();
    let mut params = Vec::with_capacity(shapes.len());
    for (index, (name, shape)) in PARAM_NAMES.iter().zip(&shapes).enumerate() {
        // Weights come first in each pair; the bias takes its layer's weight fan-in.
        let weight_shape = &shapes[index - index % 2];
        let fan_in: usize = weight_shape[1..].iter().product();
        let bound = 1.0 / (fan_in as f32).sqrt();
        let mut rng = seed.derive(name).rng();
        let len: usize = shape.iter().product();
        let values: Vec<f32> = (0..len).map(|_| rng.random_range(-bound..bound)).collect();
        params
            .push(Tensor::from_vec(values, shape.as_slice(), &Device::Cpu)?.to_dtype(DType::F32)?);
    }
    Ok(params)
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    clippy::field_reassign_with_default,
    reason = "a failed unwrap fails the test; TrainConfig is non-exhaustive"
)]
mod tests {
    use stressor_core::Bounds;

    use super::*;

    fn data(n: usize) -> Dataset {
        let labels: Vec<u32> = (0..n as u32).map(|i| i % 2).collect();
        let inputs =
            Batch::new((0..n * 784).map(|i| (i % 7) as f32 / 7.0).collect(), vec![n, 1, 28, 28])
                .unwrap();
        Dataset::new("toy", inputs, labels, vec!["a".into(), "b".into()], Bounds::UNIT).unwrap()
    }

    #[test]
    fn augment_sees_the_current_weights_and_a_seed_per_step() {
        let mut config = TrainConfig::default();
        config.epochs = 2;
        config.batch_size = 4;
        let mut seen = Vec::new();
        let model = train_with(&data(8), &config, Seed::new(1), &mut |_| {}, &mut |m, b, l, s| {
            assert_eq!(b.len(), l.len());
            seen.push((m.to_safetensors_bytes().unwrap(), s));
            Ok(b.clone())
        })
        .unwrap();
        assert_eq!(seen.len(), 4);
        let initial = FashionCnn::from_params(
            initial_params(Seed::new(1).derive("fashion-cnn/init")).unwrap(),
        )
        .unwrap();
        assert_eq!(seen[0].0, initial.to_safetensors_bytes().unwrap());
        for pair in seen.windows(2) {
            assert_ne!(pair[0].0, pair[1].0);
            assert_ne!(pair[0].1, pair[1].1);
        }
        assert_ne!(seen[3].0, model.to_safetensors_bytes().unwrap());
        let plain = train(&data(8), &config, Seed::new(1), &mut |_| {}).unwrap();
        assert_eq!(plain.to_safetensors_bytes().unwrap(), model.to_safetensors_bytes().unwrap());
    }

    #[test]
    fn a_misshaped_or_failed_augmentation_stops_training() {
        let config = TrainConfig::default();
        let err = train_with(&data(4), &config, Seed::new(1), &mut |_| {}, &mut |_, b, _, _| {
            Ok(b.slice(0, 1))
        })
        .unwrap_err();
        assert!(err.to_string().contains("the augmented batch has shape [1, 1, 28, 28]"), "{err}");
        let err = train_with(&data(4), &config, Seed::new(1), &mut |_| {}, &mut |_, _, _, _| {
            Err(ModelError::Training { model: "x".into(), reason: "no".into() })
        })
        .unwrap_err();
        assert!(err.to_string().contains("no"), "{err}");
    }
}
