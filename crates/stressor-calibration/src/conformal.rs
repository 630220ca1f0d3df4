//! Split conformal prediction sets.

use crate::CalibrationError;
use crate::input::check_probabilities;

/// A split conformal predictor fitted on a calibration set.
///
/// # What it does
/// Turns any classifier's probabilities into *prediction sets* that contain the true class with
/// probability at least `1 − alpha`, whatever the model, provided test and calibration samples
/// are exchangeable. [`Conformal::fit`] scores each calibration sample by `s = 1 − p_label`
/// (the LAC / "softmax score" of Sadinle et al.) and takes
/// `q̂ = the ⌈(n + 1)(1 − alpha)⌉-th smallest score`, i.e. the empirical quantile
/// `numpy.quantile(scores, ⌈(n + 1)(1 − alpha)⌉ / n, method="inverted_cdf")`. The set of a
/// new input is every class `j` with `1 − p_j ≤ q̂` (equivalently `p_j ≥ 1 − q̂`, the
/// [`threshold`](Conformal::threshold)).
///
/// This is the rank of the coverage theorem (Angelopoulos & Bates 2021, Theorem 1; Lei et al.
/// 2018), for which `1 − alpha ≤ P(label ∈ set) ≤ 1 − alpha + 1/(n + 1)` (the upper bound for
/// scores without ties). The paper's code snippet writes
/// `np.quantile(scores, level, method="higher")`, which numpy evaluates at index
/// `⌈level·(n − 1)⌉` — the *next* order statistic whenever the rank is below `n`: one step
/// more conservative, and without the upper bound. The fixtures record both values.
///
/// When `⌈(n + 1)(1 − alpha)⌉ > n` — fewer than `1/alpha − 1` calibration samples — the
/// guarantee can only be met by the set of all classes: `q̂ = +∞`, every set holds all `k`
/// classes (Angelopoulos & Bates 2021, §1).
///
/// # Why it matters
/// Coverage is the contract a downstream human or fallback system needs: "the answer is in this
/// set 90 % of the time". Under stress (noise, shift, attack) exchangeability breaks, so the
/// empirical [`coverage`](Conformal::coverage) on stressed inputs falls below `1 − alpha` and the
/// [`mean_set_size`](Conformal::mean_set_size) and
/// [`fallback_fraction`](Conformal::fallback_fraction) show how much work the uncertainty hands
/// on.
///
/// # Parameters
/// - `alpha`: the allowed miscoverage, in (0, 1); 0.1 asks for 90 % coverage.
/// - the calibration set: probabilities and labels never used for training.
///
/// # Example
/// ```
/// use stressor_calibration::Conformal;
/// // Ten calibration samples with p_label = 0.95, 0.9, …, 0.5.
/// let probs: Vec<f32> = (0..10).flat_map(|i| {
///     let p = 0.95 - 0.05 * i as f32;
///     [p, 1.0 - p]
/// }).collect();
/// let conformal = Conformal::fit(&probs, 2, &[0; 10], 0.2).unwrap();
/// // ⌈11 × 0.8⌉ = 9: q̂ is the 9th smallest score, 1 − 0.55.
/// assert!((conformal.qhat() - 0.45).abs() < 1e-6);
/// // A class needs p ≥ 0.55: a coin flip gets the empty set.
/// assert_eq!(conformal.prediction_sets(&[0.6, 0.4, 0.5, 0.5], 2), vec![vec![0], vec![]]);
/// // With alpha = 0.05 ten samples are too few: ⌈11 × 0.95⌉ = 11 > 10.
/// let all = Conformal::fit(&probs, 2, &[0; 10], 0.05).unwrap();
/// assert_eq!(all.qhat(), f64::INFINITY);
/// assert_eq!(all.mean_set_size(&[0.99, 0.01], 2), 2.0);
/// ```
///
/// # References
/// - Vovk, Gammerman, Shafer, *Algorithmic Learning in a Random World*, Springer 2005.
/// - Papadopoulos et al., *Inductive Confidence Machines for Regression*, ECML 2002 (split
///   conformal).
/// - Sadinle, Lei, Wasserman, *Least Ambiguous Set-Valued Classifiers with Bounded Error
///   Levels*, JASA 2019.
/// - Lei, G'Sell, Rinaldo, Tibshirani, Wasserman, *Distribution-Free Predictive Inference for
///   Regression*, JASA 2018 (the coverage upper bound).
/// - Angelopoulos, Bates, *A Gentle Introduction to Conformal Prediction and Distribution-Free
///   Uncertainty Quantification*, arXiv:2107.07511, 2021.
#[derive(Debug, Clone, PartialEq)]
pub struct Conformal {
    qhat: f64,
    alpha: f64,
    n_calibration: usize,
}

impl Conformal {
    /// Fits `q̂` on a calibration set at miscoverage `alpha`.
    ///
    /// `cal_probs` is row-major `[n, k]` with `n = cal_labels.len()`. The rank is computed in
    /// floating point exactly as written, `((n + 1) as f64 * (1.0 - alpha)).ceil()`, as numpy
    /// would.
    ///
    /// # Errors
    /// [`CalibrationError::InvalidAlpha`] unless `0 < alpha < 1`; [`CalibrationError::Empty`]
    /// without calibration samples; otherwise the errors of
    /// [`check_probabilities`](crate::check_probabilities).
    ///
    /// # Examples
    /// ```
    /// use stressor_calibration::{CalibrationError, Conformal};
    /// let fitted = Conformal::fit(&[0.7, 0.3], 2, &[0], 0.5).unwrap();
    /// assert!((fitted.qhat() - 0.3).abs() < 1e-7); // ⌈2 × 0.5⌉ = 1 ≤ n
    /// assert!(matches!(
    ///     Conformal::fit(&[0.7, 0.3], 2, &[0], 1.0),
    ///     Err(CalibrationError::InvalidAlpha { .. })
    /// ));
    /// ```
    pub fn fit(
        cal_probs: &[f32],
        k: usize,
        cal_labels: &[u32],
        alpha: f64,
    ) -> Result<Conformal, CalibrationError> {
        if !(alpha > 0.0 && alpha < 1.0) {
            return Err(CalibrationError::InvalidAlpha { alpha });
        }
        let n = check_probabilities(cal_probs, k, cal_labels)?;
        if n == 0 {
            return Err(CalibrationError::Empty);
        }
        let mut scores: Vec<f64> = cal_probs
            .chunks_exact(k)
            .zip(cal_labels)
            .map(|(row, &label)| score(row[label as usize]))
            .collect();
        let rank = ((n + 1) as f64 * (1.0 - alpha)).ceil();
        let qhat = if rank > n as f64 {
            f64::INFINITY
        } else {
            // `rank` is at least 1 since alpha < 1, and at most n here.
            let index = (rank as usize).max(1) - 1;
            let (_, qhat, _) = scores.select_nth_unstable_by(index, f64::total_cmp);
            *qhat
        };
        Ok(Conformal { qhat, alpha, n_calibration: n })
    }

    /// The fitted score quantile `q̂` (in [0, 1], or `+∞` when the calibration set is too small
    /// for `1 − alpha`).
    ///
    /// # Examples
    /// ```
    /// use stressor_calibration::Conformal;
    /// let fitted = Conformal::fit(&[0.5, 0.5], 2, &[1], 0.9).unwrap();
    /// assert_eq!(fitted.qhat(), 0.5);
    /// ```
    pub fn qhat(&self) -> f64 {
        self.qhat
    }

    /// The probability threshold `1 − q̂`: class `j` is in the set iff `p_j ≥ 1 − q̂`. `-∞` when
    /// `q̂` is infinite.
    ///
    /// Membership is decided on the score, `1 − p_j ≤ q̂`, the same computation as the
    /// calibration scores, so a probability equal to the one that set `q̂` is always included;
    /// comparing with this threshold instead can differ by one rounding at the boundary.
    ///
    /// # Examples
    /// ```
    /// use stressor_calibration::Conformal;
    /// let fitted = Conformal::fit(&[0.75, 0.25], 2, &[0], 0.5).unwrap();
    /// assert_eq!(fitted.threshold(), 0.75);
    /// ```
    pub fn threshold(&self) -> f64 {
        1.0 - self.qhat
    }

    /// The miscoverage level the predictor was fitted for.
    ///
    /// # Examples
    /// ```
    /// use stressor_calibration::Conformal;
    /// assert_eq!(Conformal::fit(&[1.0], 1, &[0], 0.1).unwrap().alpha(), 0.1);
    /// ```
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// The number of calibration samples.
    ///
    /// # Examples
    /// ```
    /// use stressor_calibration::Conformal;
    /// assert_eq!(Conformal::fit(&[1.0, 1.0], 1, &[0, 0], 0.1).unwrap().n_calibration(), 2);
    /// ```
    pub fn n_calibration(&self) -> usize {
        self.n_calibration
    }

    /// The prediction set of each row of `probs` (row-major `[n, k]`): the classes `j` with
    /// `1 − p_j ≤ q̂`, in increasing order. A set can be empty when no class is likely enough.
    ///
    /// Returns an empty vector when `k` is 0, `probs.len()` is not a multiple of `k` or a value
    /// is not in [0, 1].
    ///
    /// # Examples
    /// ```
    /// use stressor_calibration::Conformal;
    /// let fitted = Conformal::fit(&[0.6, 0.3, 0.1], 3, &[1], 0.5).unwrap(); // q̂ = 0.7
    /// let sets = fitted.prediction_sets(&[0.5, 0.4, 0.1, 0.1, 0.1, 0.8], 3);
    /// assert_eq!(sets, vec![vec![0, 1], vec![2]]);
    /// ```
    pub fn prediction_sets(&self, probs: &[f32], k: usize) -> Vec<Vec<u32>> {
        if !valid_table(probs, k) {
            return Vec::new();
        }
        probs
            .chunks_exact(k)
            .map(|row| (0..k as u32).filter(|&class| self.contains(row[class as usize])).collect())
            .collect()
    }

    /// The fraction of samples whose prediction set contains the label — the empirical
    /// coverage, to compare with `1 − alpha`.
    ///
    /// NaN for no samples or invalid input (see
    /// [`check_probabilities`](crate::check_probabilities)).
    ///
    /// # Examples
    /// ```
    /// use stressor_calibration::Conformal;
    /// let fitted = Conformal::fit(&[0.6, 0.4], 2, &[0], 0.5).unwrap(); // q̂ = 0.4
    /// assert_eq!(fitted.coverage(&[0.7, 0.3, 0.9, 0.1], 2, &[0, 1]), 0.5);
    /// ```
    pub fn coverage(&self, probs: &[f32], k: usize, labels: &[u32]) -> f64 {
        match check_probabilities(probs, k, labels) {
            Ok(n) if n > 0 => {
                let covered = probs
                    .chunks_exact(k)
                    .zip(labels)
                    .filter(|&(row, &label)| self.contains(row[label as usize]))
                    .count();
                covered as f64 / n as f64
            }
            _ => f64::NAN,
        }
    }

    /// The mean number of classes per prediction set; NaN for no samples or invalid input.
    ///
    /// # Examples
    /// ```
    /// use stressor_calibration::Conformal;
    /// let fitted = Conformal::fit(&[0.4, 0.6], 2, &[0], 0.5).unwrap(); // q̂ = 0.6
    /// assert_eq!(fitted.mean_set_size(&[0.7, 0.3, 0.5, 0.5], 2), 1.5);
    /// ```
    pub fn mean_set_size(&self, probs: &[f32], k: usize) -> f64 {
        self.mean_over_rows(probs, k, |size| size as f64)
    }

    /// The fraction of inputs whose prediction set is not exactly one class — empty or
    /// ambiguous — and so would be handed to a fallback or a human; NaN for no samples or
    /// invalid input.
    ///
    /// # Examples
    /// ```
    /// use stressor_calibration::Conformal;
    /// let fitted = Conformal::fit(&[0.4, 0.6], 2, &[0], 0.5).unwrap(); // q̂ = 0.6
    /// assert_eq!(fitted.fallback_fraction(&[0.7, 0.3, 0.5, 0.5], 2), 0.5);
    /// ```
    pub fn fallback_fraction(&self, probs: &[f32], k: usize) -> f64 {
        self.mean_over_rows(probs, k, |size| if size == 1 { 0.0 } else { 1.0 })
    }

    fn contains(&self, p: f32) -> bool {
        score(p) <= self.qhat
    }

    fn mean_over_rows(&self, probs: &[f32], k: usize, value: impl Fn(usize) -> f64) -> f64 {
        if !valid_table(probs, k) || probs.is_empty() {
            return f64::NAN;
        }
        let rows = probs.chunks_exact(k);
        let n = rows.len();
        let total: f64 =
            rows.map(|row| value(row.iter().filter(|&&p| self.contains(p)).count())).sum();
        total / n as f64
    }
}

/// The nonconformity score of a label with probability `p`.
fn score(p: f32) -> f64 {
    1.0 - f64::from(p)
}

fn valid_table(probs: &[f32], k: usize) -> bool {
    k > 0 && probs.len().is_multiple_of(k) && probs.iter().all(|p| (0.0..=1.0).contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_alpha_and_empty_are_errors() {
        for alpha in [0.0, 1.0, -0.1, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                Conformal::fit(&[1.0], 1, &[0], alpha),
                Err(CalibrationError::InvalidAlpha { .. })
            ));
        }
        assert_eq!(Conformal::fit(&[], 2, &[], 0.1), Err(CalibrationError::Empty));
        assert!(matches!(
            Conformal::fit(&[f32::NAN, 0.5], 2, &[0], 0.1),
            Err(CalibrationError::InvalidProbability { .. })
        ));
    }

    #[test]
    fn infinite_qhat_takes_every_class() {
        let fitted = Conformal::fit(&[0.9, 0.1], 2, &[0], 0.1).expect("valid input");
        assert_eq!(fitted.qhat(), f64::INFINITY);
        assert_eq!(fitted.threshold(), f64::NEG_INFINITY);
        assert_eq!(fitted.prediction_sets(&[1.0, 0.0], 2), vec![vec![0, 1]]);
        assert_eq!(fitted.fallback_fraction(&[1.0, 0.0], 2), 1.0);
        assert_eq!(fitted.coverage(&[1.0, 0.0], 2, &[1]), 1.0);
    }

    #[test]
    fn invalid_queries_are_nan_or_empty() {
        let fitted = Conformal::fit(&[0.9, 0.1], 2, &[0], 0.5).expect("valid input");
        assert!(fitted.coverage(&[], 2, &[]).is_nan());
        assert!(fitted.mean_set_size(&[0.5], 2).is_nan());
        assert!(fitted.fallback_fraction(&[], 2).is_nan());
        assert!(fitted.prediction_sets(&[0.5, 2.0], 2).is_empty());
    }
}
