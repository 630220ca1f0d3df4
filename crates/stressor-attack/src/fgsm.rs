//! The fast gradient sign method.

use stressor_core::{Batch, Seed};
use stressor_model::Model;

use crate::attack::{check_run, empty_outcome, white_box};
use crate::ball::{ascend, project};
use crate::best::Best;
use crate::objective::{Objective, mean};
use crate::{Attack, AttackError, AttackOutcome, Goal, Norm};

/// Fast gradient sign method (L∞) and fast gradient method (L2).
///
/// # What it does
/// Takes one step of length ε from each input along the steepest ascent direction of the
/// cross-entropy loss: `x + ε·sign(∇ₓL)` for L∞, `x + ε·∇ₓL/‖∇ₓL‖₂` for L2, then clips into
/// the model's bounds. Targeted, it descends the cross-entropy of the target class instead.
///
/// # Why it matters
/// It costs one gradient per sample, so it is the cheapest white-box probe of robustness. It
/// is also the weakest: robustness to FGSM alone says little, and a model that resists FGSM but
/// falls to PGD has a loss surface that is not locally linear.
///
/// # Parameters
/// - `norm`: [`Norm::Linf`] (FGSM) or [`Norm::L2`] (FGM).
/// - ε, the dial: the step length, in the input's units.
///
/// # Example
/// ```
/// use stressor_attack::{Attack, Fgsm, Goal, Norm};
/// use stressor_core::{Batch, Bounds, Seed};
/// use stressor_test_support::LinearModel;
/// // Class 1 when x₀ + x₁ > 1; the sample sits 0.2 below the boundary.
/// let model = LinearModel::binary(vec![1.0, 1.0], -1.0, Bounds::UNIT);
/// let inputs = Batch::new(vec![0.4, 0.4], vec![1, 2]).unwrap();
/// let outcome = Fgsm { norm: Norm::Linf }
///     .run(&model, &inputs, &[0], &Goal::Untargeted, 0.11, Seed::new(0), &mut |_, _| {})
///     .unwrap();
/// assert_eq!(outcome.success, vec![true]);
/// ```
///
/// # References
/// - Goodfellow, Shlens, Szegedy, *Explaining and Harnessing Adversarial Examples*, ICLR 2015.
/// - Miyato et al., *Distributional Smoothing with Virtual Adversarial Training*, 2016 (L2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fgsm {
    /// The norm of the step.
    pub norm: Norm,
}

impl Attack for Fgsm {
    fn name(&self) -> &str {
        match self.norm {
            Norm::Linf => "fgsm",
            Norm::L2 => "fgm",
        }
    }

    fn run(
        &self,
        model: &dyn Model,
        inputs: &Batch,
        labels: &[u32],
        goal: &Goal,
        epsilon: f32,
        _seed: Seed,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<AttackOutcome, AttackError> {
        let name = self.name();
        check_run(name, model, inputs, labels, goal, epsilon)?;
        let differentiable = white_box(name, model)?;
        if inputs.is_empty() {
            return Ok(empty_outcome(inputs));
        }
        let info = model.info();
        let objective = Objective::new(labels, goal, info.n_classes);
        let indices: Vec<usize> = (0..inputs.len()).collect();
        let mut best = Best::new(inputs);
        let start = objective.evaluate(differentiable, inputs)?;
        best.offer(inputs, &indices, &start.losses, &start.predictions, &objective);
        let mut adversarial = inputs.clone();
        let sample_len = inputs.sample_len();
        let steps = vec![epsilon; inputs.len()];
        ascend(
            adversarial.as_mut_slice(),
            start.gradient.as_slice(),
            sample_len,
            &steps,
            self.norm,
        );
        project(
            adversarial.as_mut_slice(),
            inputs.as_slice(),
            sample_len,
            epsilon,
            self.norm,
            info.bounds,
        );
        let scores = model.predict(&adversarial)?;
        let (losses, _) = objective.cross_entropy(&scores.log_probabilities());
        best.offer(&adversarial, &indices, &losses, &scores.predictions(), &objective);
        progress(1, 1);
        Ok(best.into_outcome(vec![mean(&start.losses), mean(&losses)]))
    }
}
