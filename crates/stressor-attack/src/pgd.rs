//! Projected gradient descent.

use stressor_core::{Batch, Seed};
use stressor_model::Model;

use crate::attack::{check_run, empty_outcome, invalid_parameter, white_box};
use crate::ball::{ascend, project, random_start};
use crate::best::Best;
use crate::objective::{Objective, mean};
use crate::{Attack, AttackError, AttackOutcome, Goal, Norm};

/// Projected gradient descent on the cross-entropy loss (Madry et al.).
///
/// # What it does
/// From a random point of the ε-ball (or the input itself), takes `steps` steps of length
/// `step_size·ε` along the steepest ascent direction of the loss (the gradient's sign for L∞,
/// its unit vector for L2), projecting back into the ε-ball and the model's bounds after each.
/// Untargeted, it maximises the cross-entropy of the true class; targeted, it minimises the
/// cross-entropy of the target. With `restarts > 1`, samples still unbroken are attacked again
/// from new random starts; each sample keeps its first successful point, or else the one with
/// the highest loss.
///
/// # Why it matters
/// PGD is the standard first-order adversary: robustness against it is the usual baseline for
/// robust accuracy. A fixed step size makes it sensitive to tuning, which [`Apgd`](crate::Apgd)
/// removes.
///
/// # Parameters
/// - `norm`: [`Norm::Linf`] or [`Norm::L2`].
/// - `steps` (≥ 1, default 10): iterations per restart.
/// - `step_size` (> 0, default `2.5 / steps`): the step length as a multiple of ε.
/// - `restarts` (≥ 1, default 1): attempts per sample; without `random_start` there is one
///   attempt, as further ones would retrace it.
/// - `random_start` (default true): start uniformly in the ε-ball instead of at the input.
/// - ε, the dial: the radius of the ball, in the input's units.
///
/// `loss_trace` holds the mean loss of the first restart at each of its `steps + 1` iterates.
///
/// # Example
/// ```
/// use stressor_attack::{Attack, Goal, Pgd};
/// use stressor_core::{Batch, Bounds, Seed};
/// use stressor_test_support::LinearModel;
/// let model = LinearModel::binary(vec![1.0, 1.0], -1.0, Bounds::UNIT);
/// let inputs = Batch::new(vec![0.4, 0.4], vec![1, 2]).unwrap();
/// let pgd = Pgd::default();
/// let run = |epsilon| pgd.run(&model, &inputs, &[0], &Goal::Untargeted, epsilon, Seed::new(1), &mut |_, _| {});
/// assert_eq!(run(0.11).unwrap().success, vec![true]);
/// assert_eq!(run(0.09).unwrap().success, vec![false]);
/// ```
///
/// # References
/// - Madry, Makelov, Schmidt, Tsipras, Vladu, *Towards Deep Learning Models Resistant to
///   Adversarial Attacks*, ICLR 2018.
/// - Kurakin, Goodfellow, Bengio, *Adversarial Examples in the Physical World*, 2017 (BIM).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pgd {
    /// The norm of the ball.
    pub norm: Norm,
    /// Iterations per restart.
    pub steps: u32,
    /// Step length as a multiple of ε.
    pub step_size: f32,
    /// Attempts per sample.
    pub restarts: u32,
    /// Whether to start at a random point of the ball.
    pub random_start: bool,
}

impl Default for Pgd {
    fn default() -> Self {
        Pgd { norm: Norm::Linf, steps: 10, step_size: 0.25, restarts: 1, random_start: true }
    }
}

impl Pgd {
    fn check(&self) -> Result<(), AttackError> {
        let name = self.name();
        if self.steps == 0 {
            return Err(invalid_parameter(name, "steps", "must be at least 1".into()));
        }
        if !(self.step_size.is_finite() && self.step_size > 0.0) {
            return Err(invalid_parameter(
                name,
                "step_size",
                format!("must be a finite multiple of ε above 0, got {}", self.step_size),
            ));
        }
        if self.restarts == 0 {
            return Err(invalid_parameter(name, "restarts", "must be at least 1".into()));
        }
        Ok(())
    }
}

impl Attack for Pgd {
    fn name(&self) -> &str {
        "pgd"
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
        let info = model.info();
        let sample_len = inputs.sample_len();
        let objective = Objective::new(labels, goal, info.n_classes);
        let mut best = Best::new(inputs);
        let mut loss_trace = Vec::with_capacity(self.steps as usize + 1);
        // Without a random start every restart would retrace the first one.
        let restarts = if self.random_start { self.restarts } else { 1 };
        let total = u64::from(self.steps) * u64::from(restarts);
        let mut done = 0;
        for restart in 0..restarts {
            let indices = if restart == 0 { (0..inputs.len()).collect() } else { best.unbroken() };
            if indices.is_empty() {
                break;
            }
            let origin = inputs.select(&indices);
            let restart_objective = objective.select(&indices);
            let mut rng = seed.derive("pgd").derive_index(u64::from(restart)).rng();
            let mut x = origin.clone();
            if self.random_start {
                let start = random_start(
                    origin.as_slice(),
                    sample_len,
                    epsilon,
                    self.norm,
                    info.bounds,
                    &mut rng,
                );
                x.as_mut_slice().copy_from_slice(&start);
            }
            let step_sizes = vec![self.step_size * epsilon; indices.len()];
            for step in 0..=self.steps {
                if step == self.steps {
                    // The last iterate is only scored: a forward pass, no gradient.
                    let (losses, predictions) = restart_objective.score(model, &x)?;
                    best.offer(&x, &indices, &losses, &predictions, &objective);
                    if restart == 0 {
                        loss_trace.push(mean(&losses));
                    }
                    break;
                }
                let evaluation = restart_objective.evaluate(differentiable, &x)?;
                best.offer(&x, &indices, &evaluation.losses, &evaluation.predictions, &objective);
                if restart == 0 {
                    loss_trace.push(mean(&evaluation.losses));
                }
                ascend(
                    x.as_mut_slice(),
                    evaluation.gradient.as_slice(),
                    sample_len,
                    &step_sizes,
                    self.norm,
                );
                project(
                    x.as_mut_slice(),
                    origin.as_slice(),
                    sample_len,
                    epsilon,
                    self.norm,
                    info.bounds,
                );
                done += 1;
                progress(done, total);
            }
        }
        progress(total, total);
        Ok(best.into_outcome(loss_trace))
    }
}
