//! Softmax regression.

use stressor_core::{Batch, Bounds};
use stressor_model::{Differentiable, Model, ModelError, ModelInfo, ScoreKind, Scores};

/// A multinomial linear classifier: logits `W·x + b`, with `W` of shape `[classes, features]`.
///
/// Its input gradient is exact: for a cotangent `c` over the logits it is `cᵀ·W`.
#[derive(Debug, Clone)]
pub struct LinearModel {
    info: ModelInfo,
    weights: Vec<f32>,
    bias: Vec<f32>,
}

impl LinearModel {
    /// A model with `weights` (row-major `[classes, features]`) and one bias per class, taking
    /// samples of `input_shape` (whose product is `features`).
    ///
    /// # Panics
    /// When the sizes disagree or there is no class.
    pub fn new(weights: Vec<f32>, bias: Vec<f32>, input_shape: Vec<usize>, bounds: Bounds) -> Self {
        let n_classes = bias.len();
        let n_features: usize = input_shape.iter().product();
        assert!(n_classes > 0, "a model needs at least one class");
        assert_eq!(weights.len(), n_classes * n_features, "weights must be [classes, features]");
        let info = ModelInfo::new("linear", "toy", input_shape, n_classes, bounds);
        LinearModel { info, weights, bias }
    }

    /// A two-class model whose class-1 logit minus class-0 logit is `w·x + b`.
    ///
    /// The smallest perturbation that flips a sample `x` is `|w·x + b| / ‖w‖₁` in L∞ and
    /// `|w·x + b| / ‖w‖₂` in L2, when the bounds do not get in the way.
    pub fn binary(w: Vec<f32>, b: f32, bounds: Bounds) -> Self {
        let n_features = w.len();
        let mut weights = vec![0.0; n_features];
        weights.extend(w);
        LinearModel::new(weights, vec![0.0, b], vec![n_features], bounds)
    }

    /// The weights, row-major `[classes, features]`.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// The biases, one per class.
    pub fn bias(&self) -> &[f32] {
        &self.bias
    }

    fn logits(&self, inputs: &Batch) -> Vec<f32> {
        let n_classes = self.bias.len();
        let n_features = inputs.sample_len();
        let mut logits = Vec::with_capacity(inputs.len() * n_classes);
        for sample in inputs.as_slice().chunks(n_features.max(1)).take(inputs.len()) {
            for (row, b) in self.weights.chunks(n_features.max(1)).zip(&self.bias) {
                logits.push(row.iter().zip(sample).map(|(w, x)| w * x).sum::<f32>() + b);
            }
        }
        logits
    }
}

impl Model for LinearModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn predict(&self, inputs: &Batch) -> Result<Scores, ModelError> {
        self.info.check_input(inputs)?;
        Ok(Scores::new(self.logits(inputs), self.info.n_classes, ScoreKind::Logits))
    }

    fn differentiable(&self) -> Option<&dyn Differentiable> {
        Some(self)
    }
}

impl Differentiable for LinearModel {
    fn logits_and_gradient(
        &self,
        inputs: &Batch,
        cotangent: &mut dyn FnMut(&[f32]) -> Vec<f32>,
    ) -> Result<(Vec<f32>, Batch), ModelError> {
        self.info.check_input(inputs)?;
        let logits = self.logits(inputs);
        let cot = cotangent(&logits);
        let n_classes = self.bias.len();
        let n_features = inputs.sample_len();
        let mut gradient = Batch::zeros(inputs.len(), inputs.sample_shape());
        for (i, grad) in gradient.as_mut_slice().chunks_mut(n_features.max(1)).enumerate() {
            for (k, row) in self.weights.chunks(n_features.max(1)).enumerate() {
                let c = cot[i * n_classes + k];
                for (g, w) in grad.iter_mut().zip(row) {
                    *g += c * w;
                }
            }
        }
        Ok((logits, gradient))
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn binary_logit_difference_is_the_affine_function() {
        let model = LinearModel::binary(vec![2.0, -1.0], 0.5, Bounds::UNIT);
        let scores = model.predict(&Batch::new(vec![1.0, 3.0], vec![1, 2]).unwrap()).unwrap();
        assert_eq!(scores.row(0)[1] - scores.row(0)[0], 2.0 - 3.0 + 0.5);
    }
}
