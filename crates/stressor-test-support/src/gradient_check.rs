//! Finite-difference gradient check.

use stressor_core::Batch;
use stressor_model::{Model, ModelError};

/// The largest difference between `model`'s gradient of `Σ cotangent·logits` and central
/// finite differences with step `h`, relative to `max(1, |finite difference|)`.
///
/// Uses [`Model::predict`] for the finite differences and
/// [`Differentiable::logits_and_gradient`](stressor_model::Differentiable::logits_and_gradient)
/// for the gradient; returns `None` when the model has no gradient.
///
/// # Errors
/// When the model fails.
pub fn gradient_error(
    model: &dyn Model,
    inputs: &Batch,
    cotangent: &[f32],
    h: f32,
) -> Result<Option<f64>, ModelError> {
    let Some(differentiable) = model.differentiable() else {
        return Ok(None);
    };
    let (_, gradient) = differentiable.logits_and_gradient(inputs, &mut |_| cotangent.to_vec())?;
    let objective = |batch: &Batch| -> Result<f64, ModelError> {
        let scores = model.predict(batch)?;
        Ok(scores.as_slice().iter().zip(cotangent).map(|(s, c)| f64::from(s * c)).sum())
    };
    let mut worst: f64 = 0.0;
    let mut shifted = inputs.clone();
    for j in 0..inputs.as_slice().len() {
        let original = inputs.as_slice()[j];
        shifted.as_mut_slice()[j] = original + h;
        let plus = objective(&shifted)?;
        shifted.as_mut_slice()[j] = original - h;
        let minus = objective(&shifted)?;
        shifted.as_mut_slice()[j] = original;
        let finite = (plus - minus) / (2.0 * f64::from(h));
        let analytic = f64::from(gradient.as_slice()[j]);
        worst = worst.max((finite - analytic).abs() / finite.abs().max(1.0));
    }
    Ok(Some(worst))
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]
mod tests {
    use stressor_core::{Bounds, Seed};

    use stressor_model::Differentiable;

    use super::*;
    use crate::{LinearModel, MlpModel};

    fn inputs(n: usize, d: usize) -> Batch {
        let data = (0..n * d).map(|v| ((v * 37 % 11) as f32) / 11.0 - 0.5).collect();
        Batch::new(data, vec![n, d]).unwrap()
    }

    #[test]
    fn linear_gradient_matches_finite_differences() {
        let weights = vec![0.5, -1.0, 2.0, 0.1, 0.3, -0.7, 1.2, -0.4, 0.0];
        let model = LinearModel::new(weights, vec![0.1, 0.0, -0.2], vec![3], Bounds::UNIT);
        let cotangent = vec![0.3, -1.0, 0.7, 1.5, 0.2, -0.4];
        let error = gradient_error(&model, &inputs(2, 3), &cotangent, 1e-2).unwrap().unwrap();
        assert!(error < 1e-3, "{error}");
    }

    #[test]
    fn mlp_gradient_matches_finite_differences() {
        let model = MlpModel::random(5, 8, 3, 2.0, Bounds::UNIT, Seed::new(3));
        let cotangent = vec![0.3, -1.0, 0.7, 1.5, 0.2, -0.4, 0.0, 1.0, -2.0];
        let error = gradient_error(&model, &inputs(3, 5), &cotangent, 1e-2).unwrap().unwrap();
        assert!(error < 1e-2, "{error}");
    }

    /// A linear model whose gradient is twice the true one.
    struct Doubled(LinearModel);

    impl Model for Doubled {
        fn info(&self) -> &stressor_model::ModelInfo {
            self.0.info()
        }
        fn predict(&self, inputs: &Batch) -> Result<stressor_model::Scores, ModelError> {
            self.0.predict(inputs)
        }
        fn differentiable(&self) -> Option<&dyn Differentiable> {
            Some(self)
        }
    }

    impl Differentiable for Doubled {
        fn logits_and_gradient(
            &self,
            inputs: &Batch,
            cotangent: &mut dyn FnMut(&[f32]) -> Vec<f32>,
        ) -> Result<(Vec<f32>, Batch), ModelError> {
            let (logits, mut gradient) = self.0.logits_and_gradient(inputs, cotangent)?;
            gradient.as_mut_slice().iter_mut().for_each(|g| *g *= 2.0);
            Ok((logits, gradient))
        }
    }

    #[test]
    fn a_wrong_gradient_is_caught() {
        let model = Doubled(LinearModel::binary(vec![1.0, -2.0, 0.5], 0.0, Bounds::UNIT));
        let error = gradient_error(&model, &inputs(2, 3), &[0.0, 1.0, 1.0, 0.0], 1e-2);
        assert!(error.unwrap().unwrap() > 0.4);
    }

    #[test]
    fn a_model_without_gradient_gives_none() {
        let info = stressor_model::ModelInfo::new("f", "fn", vec![3], 2, Bounds::UNIT);
        let model = stressor_model::FnModel::new(info, |x: &[f32]| vec![x[0], x[1]]);
        assert!(gradient_error(&model, &inputs(1, 3), &[1.0, 0.0], 1e-2).unwrap().is_none());
    }
}
