//! The strongest point found so far for each sample.

use stressor_core::Batch;

use crate::AttackOutcome;
use crate::objective::Objective;

/// Per sample: the first successful point, or else the one with the highest loss.
pub(crate) struct Best {
    adversarial: Batch,
    success: Vec<bool>,
    losses: Vec<f32>,
    predictions: Vec<u32>,
    queries: Vec<u64>,
}

impl Best {
    /// Nothing found yet: the original inputs with the lowest possible loss.
    pub(crate) fn new(inputs: &Batch) -> Self {
        let n = inputs.len();
        Best {
            adversarial: inputs.clone(),
            success: vec![false; n],
            losses: vec![f32::NEG_INFINITY; n],
            predictions: vec![0; n],
            queries: vec![0; n],
        }
    }

    /// Offers the points `points` (samples `indices` of the batch, in that order) with their
    /// losses and predictions, and counts one query for each.
    pub(crate) fn offer(
        &mut self,
        points: &Batch,
        indices: &[usize],
        losses: &[f32],
        predictions: &[u32],
        objective: &Objective,
    ) {
        for (k, &index) in indices.iter().enumerate() {
            self.queries[index] += 1;
            if self.success[index] {
                continue;
            }
            let success = objective.is_success(index, predictions[k]);
            // NaN losses never win, so a diverging model cannot replace a finite attempt.
            if success || losses[k] > self.losses[index] {
                self.adversarial.sample_mut(index).copy_from_slice(points.sample(k));
                self.losses[index] = losses[k];
                self.predictions[index] = predictions[k];
                self.success[index] = success;
            }
        }
    }

    /// The samples not broken yet.
    pub(crate) fn unbroken(&self) -> Vec<usize> {
        (0..self.success.len()).filter(|&i| !self.success[i]).collect()
    }

    /// The outcome, with `loss_trace`.
    pub(crate) fn into_outcome(self, loss_trace: Vec<f64>) -> AttackOutcome {
        AttackOutcome {
            adversarial: self.adversarial,
            success: self.success,
            predictions: self.predictions,
            queries: self.queries,
            loss_trace,
        }
    }
}
