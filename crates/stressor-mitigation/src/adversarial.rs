//! PGD adversarial training (Madry et al. 2018).

use rand::Rng as _;
use stressor_core::{Batch, Bounds, Dataset, Seed};
use stressor_model::builtin::{FashionCnn, TrainConfig, TrainProgress, train_with};
use stressor_model::{Differentiable, Model as _, ModelError};

use crate::MitigationError;
use crate::error::invalid;

const NAME: &str = "adversarial-training";

/// How to train the built-in CNN adversarially.
///
/// # What it does
/// Before every optimiser step, replaces the first `mix` share of the batch (the batch is a
/// random draw, so these are random samples) by untargeted PGD-L∞ examples against the model
/// at its current weights: a uniform random start in the ε-ball, then `steps` steps of
/// `step_size·ε` along the sign of the cross-entropy gradient, each projected back into the
/// ε-ball and the input bounds. The step trains on the final iterate (as Madry et al. do, not
/// on the first iterate that fools the model), with the original labels.
///
/// # Why it matters
/// PGD adversarial training is the standard defence that holds up under strong white-box
/// attacks; measuring a model trained this way next to a normally trained one shows what
/// robustness costs in clean accuracy and training time.
///
/// # Parameters
/// - `epsilon` (finite, ≥ 0, default 0.1): the L∞ radius, in input units.
/// - `steps` (≥ 1, default 3): PGD iterations per batch; each costs one forward and backward
///   pass of the attacked samples, so training takes about `1 + mix·steps` times as long.
/// - `step_size` (finite, > 0, default 0.5): the step length as a multiple of ε.
/// - `mix` (in `[0, 1]`, default 1.0): the share of each batch replaced by adversarial
///   examples, rounded to whole samples; 1.0 is Madry's PGD-AT, 0.5 trains on half clean, half
///   adversarial samples, 0.0 is normal training (bit-identical to
///   [`train`](stressor_model::builtin::train)).
/// - `train`: the underlying training run (epochs, batch size, learning rate).
///
/// # Example
/// ```
/// use stressor_mitigation::AdversarialTraining;
/// let mut config = AdversarialTraining::default();
/// config.epsilon = 8.0 / 255.0;
/// config.steps = 5;
/// assert_eq!(config.mix, 1.0);
/// ```
///
/// # References
/// - Madry, Makelov, Schmidt, Tsipras, Vladu, *Towards Deep Learning Models Resistant to
///   Adversarial Attacks*, ICLR 2018.
/// - Goodfellow, Shlens, Szegedy, *Explaining and Harnessing Adversarial Examples*, ICLR 2015
///   (training on a clean/adversarial mix).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AdversarialTraining {
    /// The L∞ radius of the training attack.
    pub epsilon: f32,
    /// PGD iterations per batch.
    pub steps: u32,
    /// The PGD step length as a multiple of ε.
    pub step_size: f32,
    /// The share of each batch replaced by adversarial examples (1.0 = Madry's PGD-AT).
    pub mix: f32,
    /// The training run.
    pub train: TrainConfig,
}

impl Default for AdversarialTraining {
    fn default() -> Self {
        AdversarialTraining {
            epsilon: 0.1,
            steps: 3,
            step_size: 0.5,
            mix: 1.0,
            train: TrainConfig::default(),
        }
    }
}

impl AdversarialTraining {
    fn check(&self) -> Result<(), MitigationError> {
        if !(self.epsilon.is_finite() && self.epsilon >= 0.0) {
            return Err(invalid(
                NAME,
                "epsilon",
                format!("must be finite and ≥ 0, got {}", self.epsilon),
            ));
        }
        if self.steps == 0 {
            return Err(invalid(NAME, "steps", "must be at least 1".to_string()));
        }
        if !(self.step_size.is_finite() && self.step_size > 0.0) {
            return Err(invalid(
                NAME,
                "step_size",
                format!("must be a finite multiple of ε above 0, got {}", self.step_size),
            ));
        }
        if !(0.0..=1.0).contains(&self.mix) {
            return Err(invalid(NAME, "mix", format!("must be in [0, 1], got {}", self.mix)));
        }
        Ok(())
    }
}

/// Trains a [`FashionCnn`] on `data` with PGD adversarial training (see
/// [`AdversarialTraining`]).
///
/// Deterministic: the same data, configuration and seed give bit-identical weights. The
/// initialisation and batch order are those of [`train`](stressor_model::builtin::train) with
/// the same seed; the random starts derive from the seed too. `progress` is called after every
/// optimiser step, with the cross-entropy of the (partly adversarial) batch.
///
/// # Errors
/// [`MitigationError::InvalidParameter`] for a parameter out of range (checked before
/// training), [`MitigationError::Model`] when training fails (wrong input shape, empty data,
/// bad [`TrainConfig`], backend error).
///
/// # Examples
/// ```
/// use stressor_core::{Batch, Bounds, Dataset, Seed};
/// use stressor_mitigation::{AdversarialTraining, adversarial_training};
///
/// let names = vec!["a".to_string(), "b".to_string()];
/// let data = Dataset::new("toy", Batch::zeros(8, &[1, 28, 28]), vec![0, 1, 0, 1, 0, 1, 0, 1], names, Bounds::UNIT).unwrap();
/// let mut config = AdversarialTraining::default();
/// config.train.epochs = 1;
/// let model = adversarial_training(&data, &config, Seed::new(7), &mut |_| {}).unwrap();
/// # let _ = model;
/// ```
pub fn adversarial_training(
    data: &Dataset,
    config: &AdversarialTraining,
    seed: Seed,
    progress: &mut dyn FnMut(TrainProgress),
) -> Result<FashionCnn, MitigationError> {
    config.check()?;
    let mut augment = |model: &FashionCnn, inputs: &Batch, labels: &[u32], step_seed: Seed| {
        adversarial_batch(model, inputs, labels, config, step_seed)
    };
    Ok(train_with(data, &config.train, seed, progress, &mut augment)?)
}

/// `inputs` with the first `mix` share of samples replaced by PGD examples.
fn adversarial_batch(
    model: &FashionCnn,
    inputs: &Batch,
    labels: &[u32],
    config: &AdversarialTraining,
    seed: Seed,
) -> Result<Batch, ModelError> {
    let n_adversarial = ((config.mix * inputs.len() as f32).round() as usize).min(inputs.len());
    if n_adversarial == 0 || config.epsilon == 0.0 {
        return Ok(inputs.clone());
    }
    let attack = LinfPgd {
        epsilon: config.epsilon,
        steps: config.steps,
        step: config.step_size * config.epsilon,
        bounds: model.info().bounds,
    };
    let adversarial = attack.run(
        model,
        &inputs.slice(0, n_adversarial),
        &labels[..n_adversarial],
        seed.derive("pgd"),
    )?;
    let mut out = inputs.clone();
    out.as_mut_slice()[..adversarial.as_slice().len()].copy_from_slice(adversarial.as_slice());
    Ok(out)
}

/// Untargeted PGD-L∞ on the cross-entropy, returning the final iterate.
///
/// `stressor_attack::Pgd` keeps each sample's first successful iterate, which suits measuring
/// robustness; training wants the highest-loss point the budget reaches, the final iterate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LinfPgd {
    pub(crate) epsilon: f32,
    pub(crate) steps: u32,
    /// The step length, in input units.
    pub(crate) step: f32,
    pub(crate) bounds: Bounds,
}

impl LinfPgd {
    pub(crate) fn run(
        &self,
        model: &dyn Differentiable,
        origin: &Batch,
        labels: &[u32],
        seed: Seed,
    ) -> Result<Batch, ModelError> {
        let mut rng = seed.rng();
        let mut x = origin.clone();
        for (value, &start) in x.as_mut_slice().iter_mut().zip(origin.as_slice()) {
            let offset = rng.random_range(-self.epsilon..=self.epsilon);
            *value = self.project(start + offset, start);
        }
        for _ in 0..self.steps {
            let (_, gradient) = model.logits_and_gradient(&x, &mut |logits: &[f32]| {
                cross_entropy_cotangent(logits, labels)
            })?;
            for ((value, &start), &g) in
                x.as_mut_slice().iter_mut().zip(origin.as_slice()).zip(gradient.as_slice())
            {
                let direction = if g > 0.0 {
                    1.0
                } else if g < 0.0 {
                    -1.0
                } else {
                    0.0
                };
                *value = self.project(*value + self.step * direction, start);
            }
        }
        Ok(x)
    }

    /// `value` moved into the ε-ball around `start` and then into the bounds; never panics,
    /// even for a `start` outside the bounds.
    fn project(&self, value: f32, start: f32) -> f32 {
        value
            .max(start - self.epsilon)
            .min(start + self.epsilon)
            .max(self.bounds.min)
            .min(self.bounds.max)
    }
}

/// `∂/∂logits Σᵢ CE(logitsᵢ, labelᵢ) = softmax(logits) − onehot(label)`, row by row.
///
/// A label outside the row (impossible after training's checks) contributes no one-hot term.
fn cross_entropy_cotangent(logits: &[f32], labels: &[u32]) -> Vec<f32> {
    let mut out = logits.to_vec();
    if labels.is_empty() {
        return out;
    }
    let n_classes = logits.len() / labels.len();
    if n_classes == 0 {
        return out;
    }
    for (row, &label) in out.chunks_mut(n_classes).zip(labels) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        for v in row.iter_mut() {
            *v /= sum;
        }
        if let Some(v) = row.get_mut(label as usize) {
            *v -= 1.0;
        }
    }
    out
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use stressor_model::{ModelInfo, ScoreKind, Scores};

    use super::*;

    /// Two classes, logits `[0, w·x]`.
    struct Affine {
        info: ModelInfo,
        w: Vec<f32>,
    }

    impl stressor_model::Model for Affine {
        fn info(&self) -> &ModelInfo {
            &self.info
        }

        fn predict(&self, inputs: &Batch) -> Result<Scores, ModelError> {
            let logits = (0..inputs.len())
                .flat_map(|i| [0.0, inputs.sample(i).iter().zip(&self.w).map(|(x, w)| x * w).sum()])
                .collect();
            Ok(Scores::new(logits, 2, ScoreKind::Logits))
        }
    }

    impl Differentiable for Affine {
        fn logits_and_gradient(
            &self,
            inputs: &Batch,
            cotangent: &mut dyn FnMut(&[f32]) -> Vec<f32>,
        ) -> Result<(Vec<f32>, Batch), ModelError> {
            let logits = self.predict(inputs)?.as_slice().to_vec();
            let c = cotangent(&logits);
            let mut gradient = inputs.clone();
            for i in 0..inputs.len() {
                for (g, w) in gradient.sample_mut(i).iter_mut().zip(&self.w) {
                    *g = c[2 * i + 1] * w;
                }
            }
            Ok((logits, gradient))
        }
    }

    #[test]
    fn pgd_climbs_the_loss_and_stays_in_the_ball_and_bounds() {
        let w = vec![1.0, -2.0, 0.0, 3.0];
        let model = Affine { info: ModelInfo::new("affine", "toy", vec![4], 2, Bounds::UNIT), w };
        let origin =
            Batch::new(vec![0.0, 0.5, 0.5, 1.0, 0.3, 0.3, 0.95, 0.05], vec![2, 4]).unwrap();
        let pgd = LinfPgd { epsilon: 0.1, steps: 4, step: 0.05, bounds: Bounds::UNIT };
        // Label 1: the loss rises as w·x falls, so every input with a non-zero weight moves
        // by ε against its weight's sign, unless a bound stops it.
        let x = pgd.run(&model, &origin, &[1, 1], Seed::new(3)).unwrap();
        for (i, (&v, &o)) in x.as_slice().iter().zip(origin.as_slice()).enumerate() {
            assert!((v - o).abs() <= 0.1 + 1e-6 && (0.0..=1.0).contains(&v), "{i}: {v} from {o}");
        }
        // Index 2 and 6 have weight 0: the gradient leaves them at their random start.
        let expected = [0.0, 0.6, f32::NAN, 0.9, 0.2, 0.4, f32::NAN, 0.0];
        for k in [0, 1, 3, 4, 5, 7] {
            assert!((x.as_slice()[k] - expected[k]).abs() < 1e-6, "{k}: {}", x.as_slice()[k]);
        }
        assert_eq!(x, pgd.run(&model, &origin, &[1, 1], Seed::new(3)).unwrap());
        // Inputs outside the bounds are projected, not a panic.
        let outside = Batch::new(vec![1.5, -0.5, 0.5, 0.5], vec![1, 4]).unwrap();
        let x = pgd.run(&model, &outside, &[0], Seed::new(4)).unwrap();
        assert!(x.as_slice().iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn cross_entropy_cotangent_is_softmax_minus_one_hot() {
        let c = cross_entropy_cotangent(&[0.0, 0.0, 2.0_f32.ln(), 0.0], &[0, 1]);
        let expected = [0.5 - 1.0, 0.5, 2.0 / 3.0, 1.0 / 3.0 - 1.0];
        for (a, b) in c.iter().zip(expected) {
            assert!((a - b).abs() < 1e-6, "{c:?}");
        }
    }
}
