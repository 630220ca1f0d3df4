//! A two-layer perceptron with `tanh`.

use rand::Rng as _;
use stressor_core::{Batch, Bounds, Seed};
use stressor_model::{Differentiable, Model, ModelError, ModelInfo, ScoreKind, Scores};

/// A small nonlinear classifier: logits `W₂·tanh(W₁·x + b₁) + b₂`.
///
/// The weights are drawn from a seed, so tests get the same model every time. Its input
/// gradient is exact (backpropagation by hand).
#[derive(Debug, Clone)]
pub struct MlpModel {
    info: ModelInfo,
    n_hidden: usize,
    w1: Vec<f32>,
    b1: Vec<f32>,
    w2: Vec<f32>,
    b2: Vec<f32>,
}

impl MlpModel {
    /// A random model with `n_features` inputs, `n_hidden` hidden units and `n_classes`
    /// classes, weights uniform in `±scale / √fan_in`.
    ///
    /// # Panics
    /// When a size is zero.
    pub fn random(
        n_features: usize,
        n_hidden: usize,
        n_classes: usize,
        scale: f32,
        bounds: Bounds,
        seed: Seed,
    ) -> Self {
        assert!(n_features > 0 && n_hidden > 0 && n_classes > 0, "sizes must be positive");
        let mut rng = seed.rng();
        let mut draw = |n: usize, fan_in: usize| -> Vec<f32> {
            let limit = scale / (fan_in as f32).sqrt();
            (0..n).map(|_| rng.random_range(-limit..=limit)).collect()
        };
        let w1 = draw(n_hidden * n_features, n_features);
        let b1 = draw(n_hidden, n_features);
        let w2 = draw(n_classes * n_hidden, n_hidden);
        let b2 = draw(n_classes, n_hidden);
        let info = ModelInfo::new("mlp", "toy", vec![n_features], n_classes, bounds);
        MlpModel { info, n_hidden, w1, b1, w2, b2 }
    }

    /// Hidden activations `[n, hidden]` and logits `[n, classes]`.
    fn forward(&self, inputs: &Batch) -> (Vec<f32>, Vec<f32>) {
        let n_features = inputs.sample_len();
        let n_classes = self.info.n_classes;
        let mut hidden = Vec::with_capacity(inputs.len() * self.n_hidden);
        let mut logits = Vec::with_capacity(inputs.len() * n_classes);
        for sample in inputs.as_slice().chunks(n_features).take(inputs.len()) {
            let start = hidden.len();
            for (row, b) in self.w1.chunks(n_features).zip(&self.b1) {
                let pre: f32 = row.iter().zip(sample).map(|(w, x)| w * x).sum::<f32>() + b;
                hidden.push(pre.tanh());
            }
            let h = &hidden[start..];
            for (row, b) in self.w2.chunks(self.n_hidden).zip(&self.b2) {
                logits.push(row.iter().zip(h).map(|(w, a)| w * a).sum::<f32>() + b);
            }
        }
        (hidden, logits)
    }
}

impl Model for MlpModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn predict(&self, inputs: &Batch) -> Result<Scores, ModelError> {
        self.info.check_input(inputs)?;
        Ok(Scores::new(self.forward(inputs).1, self.info.n_classes, ScoreKind::Logits))
    }

    fn differentiable(&self) -> Option<&dyn Differentiable> {
        Some(self)
    }
}

impl Differentiable for MlpModel {
    fn logits_and_gradient(
        &self,
        inputs: &Batch,
        cotangent: &mut dyn FnMut(&[f32]) -> Vec<f32>,
    ) -> Result<(Vec<f32>, Batch), ModelError> {
        self.info.check_input(inputs)?;
        let (hidden, logits) = self.forward(inputs);
        let cot = cotangent(&logits);
        let n_features = inputs.sample_len();
        let n_classes = self.info.n_classes;
        let mut gradient = Batch::zeros(inputs.len(), inputs.sample_shape());
        let mut g_pre = vec![0.0f32; self.n_hidden];
        for (i, grad) in gradient.as_mut_slice().chunks_mut(n_features).enumerate() {
            g_pre.fill(0.0);
            for (k, row) in self.w2.chunks(self.n_hidden).enumerate() {
                let c = cot[i * n_classes + k];
                for (g, w) in g_pre.iter_mut().zip(row) {
                    *g += c * w;
                }
            }
            let h = &hidden[i * self.n_hidden..(i + 1) * self.n_hidden];
            for (g, a) in g_pre.iter_mut().zip(h) {
                *g *= 1.0 - a * a;
            }
            for (row, g) in self.w1.chunks(n_features).zip(&g_pre) {
                for (gx, w) in grad.iter_mut().zip(row) {
                    *gx += g * w;
                }
            }
        }
        Ok((logits, gradient))
    }
}
