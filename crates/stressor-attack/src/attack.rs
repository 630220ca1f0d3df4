//! The attack trait, its inputs and its outcome.

use stressor_core::{Batch, Seed};
use stressor_model::{Differentiable, Model, ModelError};

/// The norm that measures a perturbation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Norm {
    /// The largest absolute change of any input value.
    #[default]
    Linf,
    /// The Euclidean length of the change.
    L2,
}

/// What the attack tries to achieve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Goal {
    /// Any wrong class.
    Untargeted,
    /// A given class, one per sample.
    Targeted(Vec<u32>),
}

/// What an attack found for a batch.
///
/// Every vector has one entry per sample except `loss_trace`.
#[derive(Debug, Clone, PartialEq)]
pub struct AttackOutcome {
    /// The perturbed inputs, each within ε of its original (in the attack's norm) and within
    /// the model's bounds. A sample the attack could not break holds its strongest attempt.
    pub adversarial: Batch,
    /// Whether the goal was reached: a wrong class (untargeted) or the target class.
    pub success: Vec<bool>,
    /// The model's predicted class on `adversarial`.
    pub predictions: Vec<u32>,
    /// Model evaluations spent on each sample (forward passes; a gradient call counts as one).
    pub queries: Vec<u64>,
    /// The mean over the batch of the loss the attack maximises, one entry per iteration.
    ///
    /// A white-box attack that does not climb it points to gradient masking.
    pub loss_trace: Vec<f64>,
}

/// Why an attack could not run. An attack that finds nothing is not an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttackError {
    /// A white-box attack was given a model without input gradients.
    #[error("attack `{attack}` needs input gradients but model `{model}` does not provide them")]
    NotDifferentiable {
        /// The attack's name.
        attack: String,
        /// The model's name.
        model: String,
    },
    /// A parameter is out of range.
    #[error("attack `{attack}`: invalid `{parameter}`: {reason}")]
    InvalidParameter {
        /// The attack's name.
        attack: String,
        /// The parameter (`epsilon`, `steps`, …).
        parameter: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The inputs, labels or targets do not fit together or do not fit the model.
    #[error("attack `{attack}`: {reason}")]
    InvalidInput {
        /// The attack's name.
        attack: String,
        /// What is wrong.
        reason: String,
    },
    /// The attack cannot handle this configuration or input shape.
    #[error("attack `{attack}` does not support {what}")]
    Unsupported {
        /// The attack's name.
        attack: String,
        /// What it does not support.
        what: String,
    },
    /// The model failed.
    #[error("the model failed during the attack")]
    Model(#[from] ModelError),
}

/// An adversarial attack over the model traits.
pub trait Attack: Send + Sync {
    /// A short name (`pgd`).
    fn name(&self) -> &str;

    /// Attacks `inputs` (true classes `labels`) within `epsilon` of each sample.
    ///
    /// `progress` is called with (iterations done, iterations planned) as the attack goes.
    ///
    /// # Errors
    /// [`AttackError`] when a parameter is out of range, the inputs do not fit the model, the
    /// attack needs gradients the model lacks, or the model fails.
    #[expect(
        clippy::too_many_arguments,
        reason = "the dial, the goal and the seed are all per call"
    )]
    fn run(
        &self,
        model: &dyn Model,
        inputs: &Batch,
        labels: &[u32],
        goal: &Goal,
        epsilon: f32,
        seed: Seed,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<AttackOutcome, AttackError>;
}

/// Checks what every attack needs: ε, label and target counts and ranges, input shape and bounds.
pub(crate) fn check_run(
    attack: &str,
    model: &dyn Model,
    inputs: &Batch,
    labels: &[u32],
    goal: &Goal,
    epsilon: f32,
) -> Result<(), AttackError> {
    if !(epsilon.is_finite() && epsilon >= 0.0) {
        return Err(invalid_parameter(
            attack,
            "epsilon",
            format!("must be finite and ≥ 0, got {epsilon}"),
        ));
    }
    let invalid = |reason: String| AttackError::InvalidInput { attack: attack.to_string(), reason };
    let info = model.info();
    info.check_input(inputs)?;
    if labels.len() != inputs.len() {
        return Err(invalid(format!("{} samples but {} labels", inputs.len(), labels.len())));
    }
    let n_classes = info.n_classes;
    if let Some((index, label)) = labels.iter().enumerate().find(|(_, l)| **l as usize >= n_classes)
    {
        return Err(invalid(format!(
            "label {label} at sample {index} is not below the class count {n_classes}"
        )));
    }
    if let Goal::Targeted(targets) = goal {
        if targets.len() != inputs.len() {
            return Err(invalid(format!("{} samples but {} targets", inputs.len(), targets.len())));
        }
        if let Some((index, target)) =
            targets.iter().enumerate().find(|(_, t)| **t as usize >= n_classes)
        {
            return Err(invalid(format!(
                "target {target} at sample {index} is not below the class count {n_classes}"
            )));
        }
    }
    let bounds = info.bounds;
    if let Some((position, value)) =
        inputs.as_slice().iter().enumerate().find(|(_, v)| !(bounds.min..=bounds.max).contains(*v))
    {
        let index = position / inputs.sample_len().max(1);
        return Err(invalid(format!(
            "input value {value} of sample {index} lies outside the model's bounds [{}, {}]",
            bounds.min, bounds.max
        )));
    }
    Ok(())
}

/// The model's gradient capability, or [`AttackError::NotDifferentiable`].
pub(crate) fn white_box<'m>(
    attack: &str,
    model: &'m dyn Model,
) -> Result<&'m dyn Differentiable, AttackError> {
    model.differentiable().ok_or_else(|| AttackError::NotDifferentiable {
        attack: attack.to_string(),
        model: model.info().name.clone(),
    })
}

/// An [`AttackError::InvalidParameter`].
pub(crate) fn invalid_parameter(
    attack: &str,
    parameter: &'static str,
    reason: String,
) -> AttackError {
    AttackError::InvalidParameter { attack: attack.to_string(), parameter, reason }
}

/// An outcome for an empty batch.
pub(crate) fn empty_outcome(inputs: &Batch) -> AttackOutcome {
    AttackOutcome {
        adversarial: inputs.clone(),
        success: Vec::new(),
        predictions: Vec::new(),
        queries: Vec::new(),
        loss_trace: Vec::new(),
    }
}
