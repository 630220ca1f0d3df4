//! Why a mitigation could not train.

use stressor_corruption::CorruptionError;
use stressor_model::ModelError;

/// Why a mitigation could not train a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MitigationError {
    /// A parameter is out of range.
    #[error("{mitigation}: invalid `{parameter}`: {reason}")]
    InvalidParameter {
        /// The mitigation's name (`adversarial-training`, `augmented-training`).
        mitigation: &'static str,
        /// The parameter (`epsilon`, `steps`, …).
        parameter: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Training or the model failed (bad data, bad training configuration, backend error).
    #[error("training failed")]
    Model(#[from] ModelError),
    /// A corruption could not be applied to a training batch.
    #[error("failed to corrupt a training batch")]
    Corruption(#[from] CorruptionError),
}

/// A [`MitigationError::InvalidParameter`].
pub(crate) fn invalid(
    mitigation: &'static str,
    parameter: &'static str,
    reason: String,
) -> MitigationError {
    MitigationError::InvalidParameter { mitigation, parameter, reason }
}
