//! Adversarial attacks over stressor's model traits.
//!
//! An [`Attack`] takes a model, a batch with its labels, a [`Goal`] and the dial value ε, and
//! returns an [`AttackOutcome`]: perturbed inputs within ε of the originals (in the attack's
//! [`Norm`]) and within the model's bounds, per-sample success, predictions and query counts,
//! and a loss trace for spotting gradient masking. White-box attacks ([`Fgsm`], [`Pgd`],
//! [`Apgd`]) need [`Differentiable`](stressor_model::Differentiable) and choose their own loss
//! through its cotangent; the black-box [`Square`] uses only the scores of
//! [`Model::predict`](stressor_model::Model::predict), and the decision-based [`HopSkipJump`]
//! only the predicted labels (a minimum-norm search whose result counts when it lies within ε).
//! [`tabular`] evades a tabular scorer behind any batched score oracle (a fraud model over
//! HTTP, say), changing only actionable features within per-feature bounds and a query budget.
//! Every random choice derives from the given [`Seed`](stressor_core::Seed), so a run is
//! reproducible.
//!
//! An attack that breaks nothing is a result (all `success` false), not an error;
//! [`AttackError`] means the attack could not run.
//!
//! Non-goals: spawning tasks, printing, reading files, choosing which samples to attack.
//!
//! ```
//! use stressor_attack::{Attack, Goal, Pgd};
//! use stressor_core::{Batch, Bounds, Seed};
//! use stressor_test_support::LinearModel;
//! // Class 1 when x₀ + x₁ > 1. The sample is 0.2 below the boundary, so an L∞ attack needs
//! // ε > 0.2 / ‖w‖₁ = 0.1 to flip it.
//! let model = LinearModel::binary(vec![1.0, 1.0], -1.0, Bounds::UNIT);
//! let inputs = Batch::new(vec![0.4, 0.4], vec![1, 2]).unwrap();
//! let outcome = Pgd::default()
//!     .run(&model, &inputs, &[0], &Goal::Untargeted, 0.12, Seed::new(7), &mut |_, _| {})
//!     .unwrap();
//! assert_eq!(outcome.success, vec![true]);
//! assert_eq!(outcome.predictions, vec![1]);
//! ```

#![warn(missing_docs)]

mod attack;
mod ball;
mod best;
mod objective;

mod apgd;
mod fgsm;
mod hop_skip_jump;
mod pgd;
mod square;
pub mod tabular;

pub use apgd::Apgd;
pub use attack::{Attack, AttackError, AttackOutcome, Goal, Norm};
pub use fgsm::Fgsm;
pub use hop_skip_jump::{HopSkipJump, MinimumNorm};
pub use pgd::Pgd;
pub use square::Square;
