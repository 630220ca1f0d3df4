//! Training on corrupted copies of the training images.

use rand::Rng as _;
use stressor_core::{Batch, Dataset, Seed};
use stressor_corruption::{Corruption, CorruptionError};
use stressor_model::ModelError;
use stressor_model::builtin::{FashionCnn, TrainConfig, TrainProgress, train_with};

use crate::MitigationError;
use crate::error::invalid;

const NAME: &str = "augmented-training";

/// How to train the built-in CNN on corrupted images.
///
/// # What it does
/// Before every optimiser step, replaces the first `fraction` share of the batch (the batch is
/// a random draw, so these are random samples) by corrupted copies: each sample gets one
/// corruption drawn uniformly from `corruptions` at a severity drawn uniformly from
/// `1..=max_severity`, with its own seed. The labels stay.
///
/// # Why it matters
/// Data augmentation with the corruptions a model will meet is the cheapest defence against
/// them; measuring it against the corruption catalogue shows which corruptions it covers and
/// whether it transfers to unseen ones (Hendrycks & Dietterich hold some out for this reason).
///
/// # Parameters
/// - `corruptions`: the corruptions to draw from; may be empty only when `fraction` is 0.
/// - `max_severity` (1–5, default 5): the highest severity drawn.
/// - `fraction` (in `[0, 1]`, default 0.5): the share of each batch corrupted, rounded to whole
///   samples; the rest stays clean, which keeps clean accuracy.
/// - `train`: the underlying training run (epochs, batch size, learning rate).
///
/// # Example
/// ```
/// use stressor_corruption::Corruption;
/// use stressor_mitigation::AugmentedTraining;
/// let mut config = AugmentedTraining::default();
/// config.corruptions = vec![Corruption::GaussianNoise, Corruption::GaussianBlur];
/// config.max_severity = 3;
/// ```
///
/// # References
/// - Hendrycks, Dietterich, *Benchmarking Neural Network Robustness to Common Corruptions and
///   Perturbations*, ICLR 2019.
/// - Rusak et al., *A Simple Way to Make Neural Networks Robust Against Diverse Image
///   Corruptions*, ECCV 2020 (Gaussian-noise augmentation).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AugmentedTraining {
    /// The corruptions to draw from.
    pub corruptions: Vec<Corruption>,
    /// The highest severity drawn (1–5).
    pub max_severity: u8,
    /// The share of each batch corrupted.
    pub fraction: f32,
    /// The training run.
    pub train: TrainConfig,
}

impl Default for AugmentedTraining {
    /// Every corruption of [`Corruption::ALL`], severities 1–5, half of each batch.
    fn default() -> Self {
        AugmentedTraining {
            corruptions: Corruption::ALL.to_vec(),
            max_severity: 5,
            fraction: 0.5,
            train: TrainConfig::default(),
        }
    }
}

impl AugmentedTraining {
    fn check(&self) -> Result<(), MitigationError> {
        if !(1..=5).contains(&self.max_severity) {
            return Err(invalid(
                NAME,
                "max_severity",
                format!("must be in 1..=5, got {}", self.max_severity),
            ));
        }
        if !(0.0..=1.0).contains(&self.fraction) {
            return Err(invalid(
                NAME,
                "fraction",
                format!("must be in [0, 1], got {}", self.fraction),
            ));
        }
        if self.corruptions.is_empty() && self.fraction > 0.0 {
            return Err(invalid(
                NAME,
                "corruptions",
                "must name at least one corruption when `fraction` is above 0".to_string(),
            ));
        }
        Ok(())
    }
}

/// Trains a [`FashionCnn`] on `data` with corruption augmentation (see [`AugmentedTraining`]).
///
/// Deterministic: the same data, configuration and seed give bit-identical weights; the
/// initialisation and batch order are those of [`train`](stressor_model::builtin::train) with
/// the same seed. `progress` is called after every optimiser step, with the cross-entropy of
/// the (partly corrupted) batch.
///
/// # Errors
/// [`MitigationError::InvalidParameter`] for a parameter out of range (checked before
/// training), [`MitigationError::Corruption`] when a corruption rejects a training image (a
/// non-finite value), [`MitigationError::Model`] when training fails (wrong input shape, empty
/// data, bad [`TrainConfig`], backend error).
///
/// # Examples
/// ```
/// use stressor_core::{Batch, Bounds, Dataset, Seed};
/// use stressor_corruption::Corruption;
/// use stressor_mitigation::{AugmentedTraining, augmented_training};
///
/// let names = vec!["a".to_string(), "b".to_string()];
/// let data = Dataset::new("toy", Batch::zeros(8, &[1, 28, 28]), vec![0, 1, 0, 1, 0, 1, 0, 1], names, Bounds::UNIT).unwrap();
/// let mut config = AugmentedTraining::default();
/// config.corruptions = vec![Corruption::GaussianNoise];
/// config.train.epochs = 1;
/// let model = augmented_training(&data, &config, Seed::new(7), &mut |_| {}).unwrap();
/// # let _ = model;
/// ```
pub fn augmented_training(
    data: &Dataset,
    config: &AugmentedTraining,
    seed: Seed,
    progress: &mut dyn FnMut(TrainProgress),
) -> Result<FashionCnn, MitigationError> {
    config.check()?;
    // `train_with` takes `ModelError`s from the hook; a corruption's error waits here and
    // replaces the placeholder that stops training.
    let mut failure = None;
    let mut augment = |_: &FashionCnn, inputs: &Batch, _: &[u32], step_seed: Seed| {
        corrupted_batch(inputs, config, step_seed).map_err(|error| {
            failure = Some(error);
            ModelError::Training {
                model: "fashion-cnn".to_string(),
                reason: "a corruption failed".to_string(),
            }
        })
    };
    let result = train_with(data, &config.train, seed, progress, &mut augment);
    match (result, failure) {
        (Ok(model), _) => Ok(model),
        (Err(_), Some(error)) => Err(error.into()),
        (Err(error), None) => Err(error.into()),
    }
}

/// `inputs` with the first `fraction` share of samples corrupted.
fn corrupted_batch(
    inputs: &Batch,
    config: &AugmentedTraining,
    seed: Seed,
) -> Result<Batch, CorruptionError> {
    let n_corrupted = ((config.fraction * inputs.len() as f32).round() as usize).min(inputs.len());
    let mut out = inputs.clone();
    if n_corrupted == 0 || config.corruptions.is_empty() {
        return Ok(out);
    }
    let mut rng = seed.derive("choice").rng();
    let corruption_seed = seed.derive("corruption");
    for index in 0..n_corrupted {
        let corruption = config.corruptions[rng.random_range(0..config.corruptions.len())];
        let severity = rng.random_range(1..=config.max_severity);
        let corrupted = corruption.apply(
            &inputs.slice(index, index + 1),
            severity,
            corruption_seed.derive_index(index as u64),
        )?;
        out.sample_mut(index).copy_from_slice(corrupted.as_slice());
    }
    Ok(out)
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use super::*;

    fn config(fraction: f32) -> AugmentedTraining {
        AugmentedTraining {
            corruptions: vec![Corruption::GaussianNoise, Corruption::ShotNoise],
            max_severity: 5,
            fraction,
            train: TrainConfig::default(),
        }
    }

    #[test]
    fn corrupts_the_requested_share_reproducibly() {
        let inputs = Batch::new(vec![0.5; 8 * 64], vec![8, 1, 8, 8]).unwrap();
        let out = corrupted_batch(&inputs, &config(0.25), Seed::new(1)).unwrap();
        let changed: Vec<bool> = (0..8).map(|i| out.sample(i) != inputs.sample(i)).collect();
        assert_eq!(changed, [true, true, false, false, false, false, false, false]);
        assert_eq!(out, corrupted_batch(&inputs, &config(0.25), Seed::new(1)).unwrap());
        assert_ne!(out, corrupted_batch(&inputs, &config(0.25), Seed::new(2)).unwrap());
        assert_eq!(corrupted_batch(&inputs, &config(0.0), Seed::new(1)).unwrap(), inputs);
        let all = corrupted_batch(&inputs, &config(1.0), Seed::new(1)).unwrap();
        assert!((0..8).all(|i| all.sample(i) != inputs.sample(i)));
    }
}
