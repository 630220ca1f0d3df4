//! A seeded synthetic credit-like stream with known ground truth.
//!
//! Features `x0 … x{d−1}` are standard normal (plus `shift` on `x0` for covariate drift) and
//! `segment` is `a`, `b` or `c` (50/30/20 %). The label is drawn from
//! `P(y = 1 | x) = σ(sharpness · (w(θ)·x + bias[segment]))`, where `w(θ)` is the unit weight
//! vector `w(0)` rotated by `θ` in the `x0`–`x1` plane. Rotating the boundary is concept
//! drift; the true probabilities come with every row, so the Bayes accuracy is known.

use rand::Rng as _;
use rand_distr::{Distribution as _, StandardNormal};
use stressor_core::Seed;

use crate::logistic::sigmoid;
use crate::{Column, Table, TableError};

/// The generator's fixed part.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Synthetic {
    /// Numeric features (at least 2).
    pub features: usize,
    /// How sharp the boundary is; larger means a higher Bayes accuracy.
    pub sharpness: f64,
}

/// What the generator draws now: the concept and the covariate shift.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Regime {
    /// The boundary's rotation in degrees (concept drift).
    pub angle_degrees: f64,
    /// The mean shift of `x0` in standard deviations (covariate drift).
    pub shift: f64,
}

/// The segment biases: `a`, `b`, `c`.
const SEGMENTS: [(&str, f64, f64); 3] = [("a", 0.5, 0.0), ("b", 0.3, 0.5), ("c", 0.2, -0.5)];

impl Synthetic {
    /// Draws `rows` rows under `regime`; returns the table (label column `label`, 0/1) and
    /// each row's true probability of class 1.
    ///
    /// # Errors
    /// [`TableError::Shape`] for fewer than 2 features or no rows.
    pub fn sample(
        &self,
        rows: usize,
        regime: Regime,
        seed: Seed,
    ) -> Result<(Table, Vec<f64>), TableError> {
        if self.features < 2 || rows == 0 {
            return Err(TableError::Shape(format!(
                "synthetic data needs ≥ 2 features and ≥ 1 row, not {} and {rows}",
                self.features
            )));
        }
        let mut rng = seed.rng();
        let theta = regime.angle_degrees.to_radians();
        // w(0) weighs x0 and x1 equally and the rest lightly; only the x0–x1 part rotates.
        let mut w = vec![0.2; self.features];
        let (w0, w1) = (std::f64::consts::FRAC_1_SQRT_2, std::f64::consts::FRAC_1_SQRT_2);
        w[0] = w0 * theta.cos() - w1 * theta.sin();
        w[1] = w0 * theta.sin() + w1 * theta.cos();
        let mut x = vec![Vec::with_capacity(rows); self.features];
        let mut segment = Vec::with_capacity(rows);
        let mut label = Vec::with_capacity(rows);
        let mut truth = Vec::with_capacity(rows);
        for _ in 0..rows {
            let mut z = 0.0;
            for (j, column) in x.iter_mut().enumerate() {
                let mut v: f64 = StandardNormal.sample(&mut rng);
                if j == 0 {
                    v += regime.shift;
                }
                z += w[j] * v;
                column.push(v);
            }
            let u: f64 = rng.random();
            let (name, bias) = if u < SEGMENTS[0].1 {
                (SEGMENTS[0].0, SEGMENTS[0].2)
            } else if u < SEGMENTS[0].1 + SEGMENTS[1].1 {
                (SEGMENTS[1].0, SEGMENTS[1].2)
            } else {
                (SEGMENTS[2].0, SEGMENTS[2].2)
            };
            let p = sigmoid(self.sharpness * (z + bias));
            segment.push(name.to_string());
            label.push(if rng.random::<f64>() < p { 1.0 } else { 0.0 });
            truth.push(p);
        }
        let mut columns: Vec<(String, Column)> =
            x.into_iter().enumerate().map(|(j, v)| (format!("x{j}"), Column::Numeric(v))).collect();
        columns.push(("segment".into(), Column::Categorical(segment)));
        columns.push(("label".into(), Column::Numeric(label)));
        Ok((Table::new("synthetic".into(), columns)?, truth))
    }
}

/// The Bayes-optimal accuracy of rows with true probabilities `truth`: the mean of
/// `max(p, 1 − p)`.
pub fn bayes_accuracy(truth: &[f64]) -> f64 {
    truth.iter().map(|p| p.max(1.0 - p)).sum::<f64>() / truth.len().max(1) as f64
}
