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

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]
mod tests {
    use super::*;
    use crate::Goal;

    #[test]
    fn the_first_success_is_kept_over_a_later_higher_loss() {
        let inputs = Batch::new(vec![0.0, 0.0], vec![2, 1]).unwrap();
        let objective = Objective::new(&[0, 0], &Goal::Untargeted, 3);
        let mut best = Best::new(&inputs);
        let first = Batch::new(vec![1.0, 1.0], vec![2, 1]).unwrap();
        // Sample 0 is broken (class 2), sample 1 is not.
        best.offer(&first, &[0, 1], &[0.5, 0.5], &[2, 0], &objective);
        let second = Batch::new(vec![2.0, 2.0], vec![2, 1]).unwrap();
        best.offer(&second, &[0, 1], &[3.0, 3.0], &[0, 0], &objective);
        let nan = Batch::new(vec![9.0], vec![1, 1]).unwrap();
        best.offer(&nan, &[1], &[f32::NAN], &[0], &objective);
        assert_eq!(best.unbroken(), vec![1]);
        let outcome = best.into_outcome(Vec::new());
        assert_eq!(outcome.adversarial.as_slice(), &[1.0, 2.0]);
        assert_eq!(outcome.success, vec![true, false]);
        assert_eq!(outcome.predictions, vec![2, 0]);
        assert_eq!(outcome.queries, vec![2, 3]);
    }

    #[test]
    fn a_success_beats_a_higher_loss_failure() {
        let inputs = Batch::new(vec![0.0], vec![1, 1]).unwrap();
        let objective = Objective::new(&[0], &Goal::Untargeted, 2);
        let mut best = Best::new(&inputs);
        best.offer(&Batch::new(vec![1.0], vec![1, 1]).unwrap(), &[0], &[5.0], &[0], &objective);
        best.offer(&Batch::new(vec![2.0], vec![1, 1]).unwrap(), &[0], &[1.0], &[1], &objective);
        let outcome = best.into_outcome(Vec::new());
        assert_eq!(outcome.adversarial.as_slice(), &[2.0]);
        assert_eq!(outcome.success, vec![true]);
    }
}
