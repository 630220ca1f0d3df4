//! Model outputs.

/// What a model's output rows hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreKind {
    /// Unnormalised log-probabilities.
    Logits,
    /// Probabilities summing to one per row.
    Probabilities,
}

/// One row of class scores per sample, row-major `[n, n_classes]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    values: Vec<f32>,
    n_classes: usize,
    kind: ScoreKind,
}

impl Scores {
    /// Scores from row-major values.
    ///
    /// # Panics
    /// When `n_classes` is 0 or does not divide `values.len()`.
    pub fn new(values: Vec<f32>, n_classes: usize, kind: ScoreKind) -> Self {
        assert!(
            n_classes > 0 && values.len().is_multiple_of(n_classes),
            "scores must be [n, n_classes]"
        );
        Scores { values, n_classes, kind }
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.values.len() / self.n_classes
    }

    /// Whether there is no row.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The number of classes.
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// What the rows hold.
    pub fn kind(&self) -> ScoreKind {
        self.kind
    }

    /// All values, row-major.
    pub fn as_slice(&self) -> &[f32] {
        &self.values
    }

    /// Row `index`.
    ///
    /// # Panics
    /// When `index >= self.len()`.
    pub fn row(&self, index: usize) -> &[f32] {
        &self.values[index * self.n_classes..(index + 1) * self.n_classes]
    }

    /// The predicted class of row `index` (the first maximum).
    ///
    /// # Panics
    /// When `index >= self.len()`.
    pub fn argmax(&self, index: usize) -> u32 {
        argmax(self.row(index))
    }

    /// Predicted classes of every row.
    pub fn predictions(&self) -> Vec<u32> {
        (0..self.len()).map(|i| self.argmax(i)).collect()
    }

    /// Probabilities (softmax of logits, or the values as given), row-major.
    pub fn probabilities(&self) -> Vec<f32> {
        match self.kind {
            ScoreKind::Probabilities => self.values.clone(),
            ScoreKind::Logits => {
                let mut out = self.values.clone();
                for row in out.chunks_mut(self.n_classes) {
                    softmax_in_place(row);
                }
                out
            }
        }
    }

    /// Log-probabilities (log-softmax of logits, or the log of the values), row-major.
    pub fn log_probabilities(&self) -> Vec<f32> {
        match self.kind {
            ScoreKind::Probabilities => {
                self.values.iter().map(|p| p.max(f32::MIN_POSITIVE).ln()).collect()
            }
            ScoreKind::Logits => {
                let mut out = self.values.clone();
                for row in out.chunks_mut(self.n_classes) {
                    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let log_sum = row.iter().map(|v| (v - max).exp()).sum::<f32>().ln() + max;
                    for v in row.iter_mut() {
                        *v -= log_sum;
                    }
                }
                out
            }
        }
    }
}

/// The index of the first maximum.
pub(crate) fn argmax(row: &[f32]) -> u32 {
    let mut best = 0;
    for (i, v) in row.iter().enumerate() {
        if *v > row[best] {
            best = i;
        }
    }
    best as u32
}

/// Numerically stable softmax of one row.
pub(crate) fn softmax_in_place(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in row.iter_mut() {
        *v /= sum;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_and_log_softmax_agree() {
        let scores = Scores::new(vec![1.0, 2.0, 3.0, 0.0, 0.0, 0.0], 3, ScoreKind::Logits);
        let p = scores.probabilities();
        let lp = scores.log_probabilities();
        for (a, b) in p.iter().zip(&lp) {
            assert!((a.ln() - b).abs() < 1e-6);
        }
        assert!((p[0..3].iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(scores.predictions(), vec![2, 0]);
    }
}
