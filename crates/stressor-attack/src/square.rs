//! The Square attack.

use rand::Rng as _;
use stressor_core::{Batch, Seed};
use stressor_model::Model;

use crate::attack::{check_run, empty_outcome, invalid_parameter};
use crate::objective::{Objective, mean};
use crate::{Attack, AttackError, AttackOutcome, Goal, Norm};

/// How often a proposal that changes nothing is redrawn before it is queried anyway.
const REDRAWS: u32 = 10;

/// The Square attack: score-based black-box random search (L∞).
///
/// # What it does
/// Uses only [`Model::predict`]. It starts from vertical stripes of ±ε (one random sign per
/// channel and column), then repeatedly proposes to set a random square window of the
/// perturbation to ±ε (one random sign per channel) and keeps the proposal when it lowers the
/// loss: the margin `log p_label − max_{k≠label} log p_k` untargeted, the cross-entropy of the
/// target targeted. The window covers a fraction `p` of the image, halved at iterations 10, 50,
/// 200, 500, 1000, 2000, 4000, 6000 and 8000 (scaled by `n_queries / 10000`). Only samples not
/// yet broken are queried, and every query is counted per sample.
///
/// Samples are images `[channels, height, width]`; `[height, width]` and `[features]` are
/// taken as one channel (`[features]` as a single row).
///
/// # Why it matters
/// It needs no gradients, so it attacks any model, remote ones included, and it is not fooled
/// by gradient masking: when Square breaks a model that white-box attacks could not, the
/// white-box evaluation was wrong.
///
/// # Parameters
/// - `norm`: only [`Norm::Linf`].
/// - `n_queries` (≥ 1, default 1000): the query budget per sample, the initial query included.
/// - `p_init` (in (0, 1], default 0.05): the initial fraction of the image a window covers.
/// - ε, the dial: the radius of the L∞ ball, in the input's units.
///
/// `loss_trace` holds, per iteration, the mean over the batch of the best negated loss so far
/// (so that it rises as the attack progresses).
///
/// # Example
/// ```
/// use stressor_attack::{Attack, Goal, Square};
/// use stressor_core::{Batch, Bounds, Seed};
/// use stressor_test_support::LinearModel;
/// let model = LinearModel::binary(vec![1.0, 1.0, 1.0, 1.0], -2.0, Bounds::UNIT);
/// let inputs = Batch::new(vec![0.45; 4], vec![1, 4]).unwrap();
/// let square = Square { n_queries: 200, ..Square::default() };
/// let outcome = square.run(&model, &inputs, &[0], &Goal::Untargeted, 0.1, Seed::new(1), &mut |_, _| {});
/// let outcome = outcome.unwrap();
/// assert_eq!(outcome.success, vec![true]);
/// assert!(outcome.queries[0] <= 200);
/// ```
///
/// # References
/// - Andriushchenko, Croce, Flammarion, Hein, *Square Attack: a query-efficient black-box
///   adversarial attack via random search*, ECCV 2020.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Square {
    /// The norm of the ball; only [`Norm::Linf`] is implemented.
    pub norm: Norm,
    /// The query budget per sample.
    pub n_queries: u64,
    /// The initial fraction of the image a window covers.
    pub p_init: f32,
}

impl Default for Square {
    fn default() -> Self {
        Square { norm: Norm::Linf, n_queries: 1000, p_init: 0.05 }
    }
}

/// The image layout a sample is read as.
#[derive(Debug, Clone, Copy)]
struct Layout {
    channels: usize,
    height: usize,
    width: usize,
}

impl Square {
    fn check(&self, sample_shape: &[usize]) -> Result<Layout, AttackError> {
        let name = self.name();
        if self.norm != Norm::Linf {
            return Err(AttackError::Unsupported {
                attack: name.into(),
                what: "the L2 norm".into(),
            });
        }
        if self.n_queries == 0 {
            return Err(invalid_parameter(name, "n_queries", "must be at least 1".into()));
        }
        if !(self.p_init > 0.0 && self.p_init <= 1.0) {
            return Err(invalid_parameter(
                name,
                "p_init",
                format!("must be in (0, 1], got {}", self.p_init),
            ));
        }
        let layout = match *sample_shape {
            [width] => Layout { channels: 1, height: 1, width },
            [height, width] => Layout { channels: 1, height, width },
            [channels, height, width] => Layout { channels, height, width },
            _ => {
                return Err(AttackError::Unsupported {
                    attack: name.into(),
                    what: format!(
                        "samples of shape {sample_shape:?} (expected [c, h, w], [h, w] or [d])"
                    ),
                });
            }
        };
        Ok(layout)
    }

    /// The window fraction at iteration `iteration`.
    fn fraction(&self, iteration: u64) -> f32 {
        let scaled = (iteration as f64 / self.n_queries as f64 * 10_000.0) as u64;
        let halvings = match scaled {
            0..=10 => 0,
            11..=50 => 1,
            51..=200 => 2,
            201..=500 => 3,
            501..=1000 => 4,
            1001..=2000 => 5,
            2001..=4000 => 6,
            4001..=6000 => 7,
            6001..=8000 => 8,
            _ => 9,
        };
        self.p_init / (1u32 << halvings) as f32
    }
}

impl Attack for Square {
    fn name(&self) -> &str {
        "square"
    }

    fn run(
        &self,
        model: &dyn Model,
        inputs: &Batch,
        labels: &[u32],
        goal: &Goal,
        epsilon: f32,
        seed: Seed,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<AttackOutcome, AttackError> {
        let layout = self.check(inputs.sample_shape())?;
        check_run(self.name(), model, inputs, labels, goal, epsilon)?;
        if inputs.is_empty() {
            return Ok(empty_outcome(inputs));
        }
        let bounds = model.info().bounds;
        let objective = Objective::new(labels, goal, model.info().n_classes);
        let n = inputs.len();
        let sample_len = inputs.sample_len();
        let mut rng = seed.derive("square").rng();

        // The perturbation before clipping: ±ε everywhere, in vertical stripes.
        let mut delta = vec![0.0f32; n * sample_len];
        for sample in delta.chunks_mut(sample_len) {
            for channel in sample.chunks_mut(layout.height * layout.width) {
                for column in 0..layout.width {
                    let value = if rng.random::<bool>() { epsilon } else { -epsilon };
                    for row in 0..layout.height {
                        channel[row * layout.width + column] = value;
                    }
                }
            }
        }
        let mut adversarial = inputs.clone();
        apply(adversarial.as_mut_slice(), inputs.as_slice(), &delta, bounds);
        let scores = model.predict(&adversarial)?;
        let mut losses = objective.black_box_loss(&scores.log_probabilities());
        let mut predictions = scores.predictions();
        let mut success: Vec<bool> =
            (0..n).map(|i| objective.is_success(i, predictions[i])).collect();
        let mut queries = vec![1u64; n];
        let negated_mean = |losses: &[f32]| -mean(losses);
        let mut loss_trace = vec![negated_mean(&losses)];

        let n_iterations = self.n_queries - 1;
        // With ε = 0 every proposal is the input itself.
        let n_iterations = if epsilon == 0.0 { 0 } else { n_iterations };
        for iteration in 1..=n_iterations {
            let active: Vec<usize> = (0..n).filter(|&i| !success[i]).collect();
            if active.is_empty() {
                break;
            }
            let p = self.fraction(iteration);
            let area = (layout.height * layout.width) as f32;
            let side =
                ((p * area).sqrt().round() as usize).clamp(1, layout.height.min(layout.width));
            let mut proposal_deltas = Vec::with_capacity(active.len() * sample_len);
            for &i in &active {
                let current = &delta[i * sample_len..(i + 1) * sample_len];
                let origin = inputs.sample(i);
                let mut proposal = current.to_vec();
                let top = rng.random_range(0..=layout.height - side);
                let left = rng.random_range(0..=layout.width - side);
                for _ in 0..REDRAWS {
                    for channel in 0..layout.channels {
                        let value = if rng.random::<bool>() { epsilon } else { -epsilon };
                        for row in top..top + side {
                            let start = (channel * layout.height + row) * layout.width + left;
                            proposal[start..start + side].fill(value);
                        }
                    }
                    let changes =
                        proposal.iter().zip(current).zip(origin).any(|((new, old), o)| {
                            (bounds.clip(o + new) - bounds.clip(o + old)).abs() > 1e-7
                        });
                    if changes {
                        break;
                    }
                }
                proposal_deltas.extend_from_slice(&proposal);
            }
            let origin = inputs.select(&active);
            let mut candidates = origin.clone();
            apply(candidates.as_mut_slice(), origin.as_slice(), &proposal_deltas, bounds);
            let scores = model.predict(&candidates)?;
            let active_objective = objective.select(&active);
            let new_losses = active_objective.black_box_loss(&scores.log_probabilities());
            let new_predictions = scores.predictions();
            for (k, &i) in active.iter().enumerate() {
                queries[i] += 1;
                let reached = objective.is_success(i, new_predictions[k]);
                if new_losses[k] < losses[i] || reached {
                    losses[i] = new_losses[k];
                    predictions[i] = new_predictions[k];
                    success[i] = reached;
                    delta[i * sample_len..(i + 1) * sample_len]
                        .copy_from_slice(&proposal_deltas[k * sample_len..(k + 1) * sample_len]);
                    adversarial.sample_mut(i).copy_from_slice(candidates.sample(k));
                }
            }
            loss_trace.push(negated_mean(&losses));
            progress(iteration, n_iterations);
        }
        progress(n_iterations, n_iterations);
        Ok(AttackOutcome { adversarial, success, predictions, queries, loss_trace })
    }
}

/// `x = clip(origin + delta)`, element by element.
fn apply(x: &mut [f32], origin: &[f32], delta: &[f32], bounds: stressor_core::Bounds) {
    for ((v, o), d) in x.iter_mut().zip(origin).zip(delta) {
        *v = bounds.clip(o + d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fraction_halves_on_schedule() {
        let square = Square { n_queries: 10_000, p_init: 0.8, ..Square::default() };
        assert_eq!(square.fraction(10), 0.8);
        assert_eq!(square.fraction(11), 0.4);
        assert_eq!(square.fraction(500), 0.1);
        assert_eq!(square.fraction(9000), 0.8 / 512.0);
        let short = Square { n_queries: 1000, p_init: 0.8, ..Square::default() };
        assert_eq!(short.fraction(2), 0.4);
    }
}
