//! Auto-PGD on the cross-entropy loss.

use stressor_core::{Batch, Seed};
use stressor_model::Model;

use crate::attack::{check_run, empty_outcome, invalid_parameter, white_box};
use crate::ball::{ascend, project, random_start};
use crate::best::Best;
use crate::objective::{Objective, mean};
use crate::{Attack, AttackError, AttackOutcome, Goal, Norm};

/// The momentum weight of the current step (α in the paper).
const MOMENTUM: f32 = 0.75;

/// Auto-PGD with the cross-entropy loss (APGD-CE), the first attack of AutoAttack.
///
/// # What it does
/// PGD with momentum and a step size that adapts per sample, so it needs no tuning. It starts
/// from a random point of the ε-ball with step size 2ε. At checkpoints placed at fractions
/// `p₀ = 0`, `p₁ = 0.22`, `pⱼ₊₁ = pⱼ + max(pⱼ − pⱼ₋₁ − 0.03, 0.06)` of the budget, a sample's
/// step size is halved, and its search restarted from the best point found, when its loss rose
/// in fewer than a fraction `rho` of the steps since the last checkpoint, or when its best loss
/// did not improve while its step size stayed the same. Each step mixes the projected gradient
/// step with the previous move (`x + α(z − x) + (1 − α)(x − x_prev)`, α = 0.75).
/// Untargeted, it maximises the cross-entropy of the true class; targeted, it minimises the
/// cross-entropy of the target. With `restarts > 1`, unbroken samples are attacked again from
/// new random starts; each sample keeps its first successful point, or else its highest-loss
/// point.
///
/// # Why it matters
/// Fixed-step PGD under-reports vulnerability when its step size is badly tuned; APGD reaches
/// a higher loss with the same budget, so robust accuracy measured with it is a tighter upper
/// bound. Comparing it with PGD exposes evaluations that only looked robust.
///
/// # Parameters
/// - `norm`: [`Norm::Linf`] or [`Norm::L2`].
/// - `steps` (≥ 1, default 100): iterations per restart.
/// - `restarts` (≥ 1, default 1): attempts per sample.
/// - `rho` (in (0, 1], default 0.75): the fraction of loss increases between checkpoints below
///   which the step size is halved.
/// - ε, the dial: the radius of the ball, in the input's units.
///
/// `loss_trace` holds the mean loss of the first restart at each of its `steps + 1` iterates.
///
/// # Example
/// ```
/// use stressor_attack::{Apgd, Attack, Goal};
/// use stressor_core::{Batch, Bounds, Seed};
/// use stressor_test_support::LinearModel;
/// let model = LinearModel::binary(vec![1.0, 1.0], -1.0, Bounds::UNIT);
/// let inputs = Batch::new(vec![0.4, 0.4], vec![1, 2]).unwrap();
/// let apgd = Apgd { steps: 20, ..Apgd::default() };
/// let outcome = apgd.run(&model, &inputs, &[0], &Goal::Untargeted, 0.11, Seed::new(1), &mut |_, _| {});
/// assert_eq!(outcome.unwrap().success, vec![true]);
/// ```
///
/// # References
/// - Croce, Hein, *Reliable Evaluation of Adversarial Robustness with an Ensemble of Diverse
///   Parameter-free Attacks*, ICML 2020 (Algorithm 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Apgd {
    /// The norm of the ball.
    pub norm: Norm,
    /// Iterations per restart.
    pub steps: u32,
    /// Attempts per sample.
    pub restarts: u32,
    /// The fraction of loss increases below which the step size is halved at a checkpoint.
    pub rho: f32,
}

impl Default for Apgd {
    fn default() -> Self {
        Apgd { norm: Norm::Linf, steps: 100, restarts: 1, rho: 0.75 }
    }
}

impl Apgd {
    fn check(&self) -> Result<(), AttackError> {
        let name = self.name();
        if self.steps == 0 {
            return Err(invalid_parameter(name, "steps", "must be at least 1".into()));
        }
        if self.restarts == 0 {
            return Err(invalid_parameter(name, "restarts", "must be at least 1".into()));
        }
        if !(self.rho > 0.0 && self.rho <= 1.0) {
            return Err(invalid_parameter(
                name,
                "rho",
                format!("must be in (0, 1], got {}", self.rho),
            ));
        }
        Ok(())
    }
}

impl Attack for Apgd {
    fn name(&self) -> &str {
        "apgd-ce"
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
        self.check()?;
        check_run(self.name(), model, inputs, labels, goal, epsilon)?;
        let differentiable = white_box(self.name(), model)?;
        if inputs.is_empty() {
            return Ok(empty_outcome(inputs));
        }
        let objective = Objective::new(labels, goal, model.info().n_classes);
        let mut search = Search {
            attack: self,
            model,
            differentiable,
            inputs,
            objective: &objective,
            epsilon,
            best: Best::new(inputs),
            loss_trace: Vec::with_capacity(self.steps as usize + 1),
            checkpoints: checkpoints(self.steps),
            done: 0,
            total: u64::from(self.steps) * u64::from(self.restarts),
        };
        for restart in 0..self.restarts {
            let indices =
                if restart == 0 { (0..inputs.len()).collect() } else { search.best.unbroken() };
            if indices.is_empty() {
                break;
            }
            search.restart(
                &indices,
                seed.derive("apgd").derive_index(u64::from(restart)),
                restart == 0,
                progress,
            )?;
        }
        progress(search.total, search.total);
        Ok(search.best.into_outcome(search.loss_trace))
    }
}

/// The state shared by the restarts of one run.
struct Search<'a> {
    attack: &'a Apgd,
    model: &'a dyn Model,
    differentiable: &'a dyn stressor_model::Differentiable,
    inputs: &'a Batch,
    objective: &'a Objective,
    epsilon: f32,
    best: Best,
    loss_trace: Vec<f64>,
    checkpoints: Vec<u32>,
    done: u64,
    total: u64,
}

impl Search<'_> {
    /// One APGD run over the samples at `indices`.
    fn restart(
        &mut self,
        indices: &[usize],
        seed: Seed,
        trace: bool,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(), AttackError> {
        let norm = self.attack.norm;
        let bounds = self.model.info().bounds;
        let sample_len = self.inputs.sample_len();
        let n = indices.len();
        let origin = self.inputs.select(indices);
        let objective = self.objective.select(indices);
        let mut rng = seed.rng();
        let mut x = origin.clone();
        let start =
            random_start(origin.as_slice(), sample_len, self.epsilon, norm, bounds, &mut rng);
        x.as_mut_slice().copy_from_slice(&start);

        let evaluation = objective.evaluate(self.differentiable, &x)?;
        self.best.offer(&x, indices, &evaluation.losses, &evaluation.predictions, self.objective);
        if trace {
            self.loss_trace.push(mean(&evaluation.losses));
        }
        let mut step_sizes = vec![2.0 * self.epsilon; n];
        let mut loss = evaluation.losses;
        let mut gradient = evaluation.gradient;
        let mut previous = x.clone();
        // The highest-loss point of this restart, with its loss and gradient.
        let mut x_max = x.clone();
        let mut loss_max = loss.clone();
        let mut gradient_max = gradient.clone();
        // Per sample since the last checkpoint: loss increases, the best loss then, whether
        // the step size was halved then.
        let mut increases = vec![0u32; n];
        let mut loss_max_at_checkpoint = loss_max.clone();
        let mut halved_at_checkpoint = vec![false; n];
        let mut last_checkpoint = 0;
        let mut z = x.clone();

        for k in 0..self.attack.steps {
            z.as_mut_slice().copy_from_slice(x.as_slice());
            ascend(z.as_mut_slice(), gradient.as_slice(), sample_len, &step_sizes, norm);
            project(z.as_mut_slice(), origin.as_slice(), sample_len, self.epsilon, norm, bounds);
            // The first step has no previous move to carry.
            let alpha = if k == 0 { 1.0 } else { MOMENTUM };
            for ((zv, xv), pv) in
                z.as_mut_slice().iter_mut().zip(x.as_mut_slice()).zip(previous.as_mut_slice())
            {
                let next = *xv + alpha * (*zv - *xv) + (1.0 - alpha) * (*xv - *pv);
                *pv = *xv;
                *zv = next;
            }
            std::mem::swap(&mut x, &mut z);
            project(x.as_mut_slice(), origin.as_slice(), sample_len, self.epsilon, norm, bounds);

            let evaluation = objective.evaluate(self.differentiable, &x)?;
            self.best.offer(
                &x,
                indices,
                &evaluation.losses,
                &evaluation.predictions,
                self.objective,
            );
            if trace {
                self.loss_trace.push(mean(&evaluation.losses));
            }
            gradient = evaluation.gradient;
            for j in 0..n {
                let new_loss = evaluation.losses[j];
                if new_loss > loss[j] {
                    increases[j] += 1;
                }
                loss[j] = new_loss;
                if new_loss > loss_max[j] {
                    loss_max[j] = new_loss;
                    x_max.sample_mut(j).copy_from_slice(x.sample(j));
                    gradient_max.sample_mut(j).copy_from_slice(gradient.sample(j));
                }
            }

            let iteration = k + 1;
            if self.checkpoints.contains(&iteration) {
                let since = (iteration - last_checkpoint) as f32;
                for j in 0..n {
                    let oscillating = (increases[j] as f32) < self.attack.rho * since;
                    let stalled =
                        !halved_at_checkpoint[j] && loss_max[j] <= loss_max_at_checkpoint[j];
                    let halve = oscillating || stalled;
                    if halve {
                        step_sizes[j] /= 2.0;
                        x.sample_mut(j).copy_from_slice(x_max.sample(j));
                        previous.sample_mut(j).copy_from_slice(x_max.sample(j));
                        gradient.sample_mut(j).copy_from_slice(gradient_max.sample(j));
                        loss[j] = loss_max[j];
                    }
                    halved_at_checkpoint[j] = halve;
                    increases[j] = 0;
                    loss_max_at_checkpoint[j] = loss_max[j];
                }
                last_checkpoint = iteration;
            }
            self.done += 1;
            progress(self.done, self.total);
        }
        Ok(())
    }
}

/// The checkpoint iterations `⌈pⱼ·steps⌉` for `j ≥ 1`, increasing and at most `steps`.
fn checkpoints(steps: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let (mut previous, mut current) = (0.0f64, 0.22f64);
    while current <= 1.0 {
        // The tolerance keeps 0.22·100 at 22 despite rounding.
        let iteration = (current * f64::from(steps) - 1e-9).ceil() as u32;
        if iteration > 0 && found.last() != Some(&iteration) {
            found.push(iteration);
        }
        let next = current + (current - previous - 0.03).max(0.06);
        previous = current;
        current = next;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_follow_the_paper() {
        // p = 0, 0.22, 0.41, 0.57, 0.7, 0.8, 0.87, 0.93, 0.99 for 100 iterations.
        assert_eq!(checkpoints(100), vec![22, 41, 57, 70, 80, 87, 93, 99]);
        assert_eq!(checkpoints(1), vec![1]);
    }
}
