//! What the attacks optimise: losses over logits, their gradients, and success.

use stressor_core::Batch;
use stressor_model::{Differentiable, Model, ModelError, ScoreKind, Scores};

use crate::Goal;

/// The per-sample goal of an attack: true labels and, when targeted, the target classes.
#[derive(Debug, Clone)]
pub(crate) struct Objective {
    labels: Vec<u32>,
    targets: Option<Vec<u32>>,
    n_classes: usize,
}

/// A white-box evaluation of a batch: loss, prediction and loss gradient per sample.
pub(crate) struct Evaluation {
    /// The loss the attack maximises (see [`Objective::cross_entropy`]).
    pub(crate) losses: Vec<f32>,
    /// The predicted classes.
    pub(crate) predictions: Vec<u32>,
    /// ∂loss/∂inputs, shaped like the inputs.
    pub(crate) gradient: Batch,
}

impl Objective {
    /// The objective for `labels` under `goal` (already checked for lengths and ranges).
    pub(crate) fn new(labels: &[u32], goal: &Goal, n_classes: usize) -> Self {
        let targets = match goal {
            Goal::Untargeted => None,
            Goal::Targeted(targets) => Some(targets.clone()),
        };
        Objective { labels: labels.to_vec(), targets, n_classes }
    }

    /// The objective for the samples at `indices`.
    pub(crate) fn select(&self, indices: &[usize]) -> Objective {
        Objective {
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            targets: self.targets.as_ref().map(|t| indices.iter().map(|&i| t[i]).collect()),
            n_classes: self.n_classes,
        }
    }

    /// Whether predicting `prediction` for sample `index` reaches the goal.
    pub(crate) fn is_success(&self, index: usize, prediction: u32) -> bool {
        match &self.targets {
            None => prediction != self.labels[index],
            Some(targets) => prediction == targets[index],
        }
    }

    /// The cross-entropy loss to maximise per sample and its gradient with respect to the
    /// logits: `CE(label)` untargeted, `−CE(target)` targeted.
    pub(crate) fn cross_entropy(&self, logits: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let n_classes = self.n_classes;
        let mut losses = Vec::with_capacity(logits.len() / n_classes);
        let mut cotangent = Vec::with_capacity(logits.len());
        for (index, row) in logits.chunks(n_classes).enumerate() {
            let log_probs = log_softmax(row);
            let (class, sign) = match &self.targets {
                None => (self.labels[index] as usize, 1.0),
                Some(targets) => (targets[index] as usize, -1.0),
            };
            losses.push(-sign * log_probs[class]);
            for (k, lp) in log_probs.iter().enumerate() {
                let onehot = if k == class { 1.0 } else { 0.0 };
                cotangent.push(sign * (lp.exp() - onehot));
            }
        }
        (losses, cotangent)
    }

    /// Square's loss to minimise per sample, from log-probabilities: the margin
    /// `log p_label − max_{k≠label} log p_k` untargeted, `CE(target)` targeted.
    pub(crate) fn black_box_loss(&self, log_probs: &[f32]) -> Vec<f32> {
        log_probs
            .chunks(self.n_classes)
            .enumerate()
            .map(|(index, row)| match &self.targets {
                None => {
                    let label = self.labels[index] as usize;
                    let other = row
                        .iter()
                        .enumerate()
                        .filter(|(k, _)| *k != label)
                        .map(|(_, v)| *v)
                        .fold(f32::NEG_INFINITY, f32::max);
                    row[label] - other
                }
                Some(targets) => -row[targets[index] as usize],
            })
            .collect()
    }

    /// Runs the model with the cross-entropy cotangent on `inputs`.
    pub(crate) fn evaluate(
        &self,
        model: &dyn Differentiable,
        inputs: &Batch,
    ) -> Result<Evaluation, ModelError> {
        let mut losses = Vec::new();
        let (logits, gradient) = model.logits_and_gradient(inputs, &mut |logits| {
            let (l, cotangent) = self.cross_entropy(logits);
            losses = l;
            cotangent
        })?;
        let predictions = Scores::new(logits, self.n_classes, ScoreKind::Logits).predictions();
        Ok(Evaluation { losses, predictions, gradient })
    }

    /// The losses and predictions on `inputs` from a forward pass alone, for an iterate whose
    /// gradient nobody will use (the last one of a run).
    pub(crate) fn score(
        &self,
        model: &dyn Model,
        inputs: &Batch,
    ) -> Result<(Vec<f32>, Vec<u32>), ModelError> {
        let scores = model.predict(inputs)?;
        let logits = match scores.kind() {
            ScoreKind::Logits => scores.as_slice().to_vec(),
            // Cross-entropy is shift-invariant per row, so log-probabilities serve as logits.
            ScoreKind::Probabilities => {
                scores.as_slice().iter().map(|p| p.max(f32::MIN_POSITIVE).ln()).collect()
            }
        };
        let (losses, _) = self.cross_entropy(&logits);
        let predictions = Scores::new(logits, self.n_classes, ScoreKind::Logits).predictions();
        Ok((losses, predictions))
    }
}

/// The log-softmax of one row of logits.
fn log_softmax(row: &[f32]) -> Vec<f32> {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let log_sum = row.iter().map(|v| (v - max).exp()).sum::<f32>().ln() + max;
    row.iter().map(|v| v - log_sum).collect()
}

/// The mean of `values` as `f64`; 0 for none.
pub(crate) fn mean(values: &[f32]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.iter().map(|v| f64::from(*v)).sum::<f64>() / values.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_entropy_gradient_matches_finite_differences() {
        let logits = [1.0f32, -0.5, 2.0, 0.3, 0.0, -1.0];
        for goal in [Goal::Untargeted, Goal::Targeted(vec![0, 2])] {
            let objective = Objective::new(&[2, 1], &goal, 3);
            let (_, cotangent) = objective.cross_entropy(&logits);
            for j in 0..logits.len() {
                let mut plus = logits;
                plus[j] += 1e-2;
                let mut minus = logits;
                minus[j] -= 1e-2;
                let sum = |l: &[f32]| objective.cross_entropy(l).0.iter().sum::<f32>();
                let finite = (sum(&plus) - sum(&minus)) / 2e-2;
                assert!(
                    (finite - cotangent[j]).abs() < 1e-3,
                    "{goal:?} {j}: {finite} vs {}",
                    cotangent[j]
                );
            }
        }
    }

    #[test]
    fn margin_is_negative_exactly_when_misclassified() {
        let objective = Objective::new(&[0, 0], &Goal::Untargeted, 2);
        let loss = objective.black_box_loss(&[-0.1, -2.0, -2.0, -0.1]);
        assert!(loss[0] > 0.0 && loss[1] < 0.0);
        assert!(!objective.is_success(0, 0) && objective.is_success(1, 1));
    }
}
