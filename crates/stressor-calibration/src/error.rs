//! Why a calibration computation could not run.

/// Why a fit or a validation failed.
///
/// The metric functions return NaN instead of an error for invalid input (so a summary of a
/// broken model is still a result); [`check_probabilities`](crate::check_probabilities) says
/// why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CalibrationError {
    /// There are no samples.
    #[error("no samples")]
    Empty,
    /// The number of classes is 0.
    #[error("the number of classes must be at least 1")]
    NoClasses,
    /// The flat score buffer is not `n × k` for the `n` labels given, or a per-sample buffer is
    /// not as long as the scores.
    #[error("{what} has {len} values, expected {expected}")]
    ShapeMismatch {
        /// Which buffer (`probabilities`, `logits`, `error`).
        what: &'static str,
        /// Its length.
        len: usize,
        /// `labels.len() × k`, or the number of scores.
        expected: usize,
    },
    /// A label is not a class index below `k`.
    #[error("label {label} of sample {sample} is not below the number of classes {k}")]
    LabelOutOfRange {
        /// The sample index.
        sample: usize,
        /// The label.
        label: u32,
        /// The number of classes.
        k: usize,
    },
    /// A probability is NaN, infinite or outside [0, 1].
    #[error("probability {value} of sample {sample}, class {class} is not in [0, 1]")]
    InvalidProbability {
        /// The sample index.
        sample: usize,
        /// The class index.
        class: usize,
        /// The offending value.
        value: f32,
    },
    /// A logit is NaN or infinite.
    #[error("logit {value} of sample {sample}, class {class} is not finite")]
    NonFiniteLogit {
        /// The sample index.
        sample: usize,
        /// The class index.
        class: usize,
        /// The offending value.
        value: f32,
    },
    /// The miscoverage level or tolerated risk is not in (0, 1).
    #[error("alpha must be in (0, 1), got {alpha}")]
    InvalidAlpha {
        /// The value given.
        alpha: f64,
    },
    /// The allowed failure probability of a guarantee is not in (0, 1).
    #[error("delta must be in (0, 1), got {delta}")]
    InvalidDelta {
        /// The value given.
        delta: f64,
    },
    /// A score is NaN.
    #[error("{what} of sample {sample} is NaN")]
    NanScore {
        /// Which scores (`confidence`).
        what: &'static str,
        /// The sample index.
        sample: usize,
    },
}
