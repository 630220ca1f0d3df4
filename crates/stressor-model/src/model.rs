//! The model traits and the closure adapter.

use stressor_core::{Batch, Bounds};

use crate::{ScoreKind, Scores};

/// Why a model could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The input does not have the shape the model takes.
    #[error("model `{model}` takes samples of shape {expected:?}, got {got:?}")]
    InputShape {
        /// The model's name.
        model: String,
        /// The sample shape the model takes.
        expected: Vec<usize>,
        /// The sample shape given.
        got: Vec<usize>,
    },
    /// A model file could not be read.
    #[error("failed to read model file {path}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A model file could not be written.
    #[error("failed to write model file {path}")]
    Write {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Training could not start: bad configuration or data the model cannot take.
    #[error("cannot train model `{model}`: {reason}")]
    Training {
        /// The model's name.
        model: String,
        /// What is wrong.
        reason: String,
    },
    /// A model file was read but is not a valid model of the expected architecture.
    #[error("invalid model file {path}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Models that cannot form an ensemble: too few, or disagreeing on input shape, class
    /// count or bounds.
    #[error("cannot build ensemble `{ensemble}`: {reason}")]
    Ensemble {
        /// The ensemble's name.
        ensemble: String,
        /// What is wrong, naming the member.
        reason: String,
    },
    /// A remote model's endpoint failed or answered something unusable.
    #[error("remote model {endpoint}: {reason}")]
    Remote {
        /// The endpoint (URL without credentials).
        endpoint: String,
        /// What went wrong.
        reason: String,
    },
    /// The tensor backend failed.
    #[error("tensor backend error in model `{model}`: {message}")]
    Backend {
        /// The model's name.
        model: String,
        /// The backend's message.
        message: String,
    },
}

/// What a model is and what it takes.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// A short name (`fashion-cnn`).
    pub name: String,
    /// The adapter kind (`builtin`, `safetensors`, `fn`, …).
    pub kind: String,
    /// The shape of one input sample (`[1, 28, 28]`).
    pub input_shape: Vec<usize>,
    /// The number of output classes.
    pub n_classes: usize,
    /// The valid range of input values.
    pub bounds: Bounds,
}

impl ModelInfo {
    /// Model information from its parts.
    pub fn new(
        name: impl Into<String>,
        kind: impl Into<String>,
        input_shape: Vec<usize>,
        n_classes: usize,
        bounds: Bounds,
    ) -> Self {
        ModelInfo { name: name.into(), kind: kind.into(), input_shape, n_classes, bounds }
    }

    /// Checks that `inputs` hold samples of this model's input shape.
    ///
    /// # Errors
    /// [`ModelError::InputShape`] otherwise.
    pub fn check_input(&self, inputs: &Batch) -> Result<(), ModelError> {
        if inputs.sample_shape() != self.input_shape.as_slice() {
            return Err(ModelError::InputShape {
                model: self.name.clone(),
                expected: self.input_shape.clone(),
                got: inputs.sample_shape().to_vec(),
            });
        }
        Ok(())
    }
}

/// A classifier: a batch in, one row of class scores per sample out.
///
/// Implementations are synchronous and work on whole batches; they may split a batch internally.
pub trait Model: Send + Sync {
    /// What the model is.
    fn info(&self) -> &ModelInfo;

    /// Class scores for every sample.
    ///
    /// # Errors
    /// When the input has the wrong shape or the backend fails.
    fn predict(&self, inputs: &Batch) -> Result<Scores, ModelError>;

    /// The white-box capability, when the model has one.
    fn differentiable(&self) -> Option<&dyn Differentiable> {
        None
    }
}

/// A model that can return input gradients.
pub trait Differentiable: Send + Sync {
    /// Runs the model on `inputs`, calls `cotangent` with the logits (row-major `[n, classes]`)
    /// and returns the logits with the gradient with respect to `inputs` of
    /// `Σᵢₖ cotangent[i,k] · logits[i,k]` (a vector–Jacobian product), shaped like `inputs`.
    ///
    /// With `cotangent = ∂L/∂logits` this is `∂L/∂inputs` for any loss `L` of the logits, so
    /// attacks choose their loss (cross-entropy, DLR, targeted) without the model knowing it.
    ///
    /// # Errors
    /// When the input has the wrong shape or the backend fails.
    fn logits_and_gradient(
        &self,
        inputs: &Batch,
        cotangent: &mut dyn FnMut(&[f32]) -> Vec<f32>,
    ) -> Result<(Vec<f32>, Batch), ModelError>;
}

/// A model from a per-sample closure returning logits; for tests and toy models.
pub struct FnModel<F> {
    info: ModelInfo,
    logits: F,
}

impl<F> FnModel<F>
where
    F: Fn(&[f32]) -> Vec<f32> + Send + Sync,
{
    /// A model whose logits for one sample are `logits(sample)`.
    pub fn new(info: ModelInfo, logits: F) -> Self {
        FnModel { info, logits }
    }
}

impl<F> Model for FnModel<F>
where
    F: Fn(&[f32]) -> Vec<f32> + Send + Sync,
{
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn predict(&self, inputs: &Batch) -> Result<Scores, ModelError> {
        self.info.check_input(inputs)?;
        let mut values = Vec::with_capacity(inputs.len() * self.info.n_classes);
        for i in 0..inputs.len() {
            values.extend((self.logits)(inputs.sample(i)));
        }
        Ok(Scores::new(values, self.info.n_classes, ScoreKind::Logits))
    }
}
