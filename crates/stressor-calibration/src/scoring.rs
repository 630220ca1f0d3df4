//! Proper scoring rules: the Brier score and the negative log-likelihood.

use crate::input::Samples;

/// The multiclass Brier score.
///
/// # What it does
/// `(1/n) Σᵢ Σⱼ (pᵢⱼ − yᵢⱼ)²` with `yᵢⱼ` the one-hot label: the mean squared distance between
/// the probability vector and the label, in [0, 2].
///
/// This is scikit-learn's `brier_score_loss(y, probs, labels=range(k), scale_by_half=False)`
/// (scikit-learn ≥ 1.7 takes `[n, k]` probabilities; the tests pin 1.9.1 to 1e-12). With
/// scikit-learn's default `scale_by_half="auto"` the score is halved when `k = 2` only: for a
/// binary problem this function returns twice `brier_score_loss(y, probs[:, 1])`, the
/// customary binary Brier score in [0, 1].
///
/// # Why it matters
/// It is a strictly proper scoring rule: it rewards calibration and sharpness together, and,
/// unlike ECE, it needs no binning. Unlike the log-likelihood it stays bounded when a model
/// is confidently wrong, so one bad sample cannot dominate it.
///
/// # Parameters
/// - `probs`: row-major `[n, k]` class probabilities, `n = labels.len()`.
/// - `k`: the number of classes.
/// - `labels`: the true class of each sample.
///
/// NaN for no samples or invalid input (see
/// [`check_probabilities`](crate::check_probabilities)).
///
/// # Example
/// ```
/// use stressor_calibration::brier_score;
/// // (0.2² + 0.2²) and (0.6² + 0.6²), averaged.
/// let score = brier_score(&[0.8, 0.2, 0.6, 0.4], 2, &[0, 1]);
/// assert!((score - 0.4).abs() < 1e-6);
/// ```
///
/// # References
/// - Brier, *Verification of Forecasts Expressed in Terms of Probability*, Monthly Weather
///   Review 78, 1950.
/// - Gneiting, Raftery, *Strictly Proper Scoring Rules, Prediction, and Estimation*, JASA 2007.
pub fn brier_score(probs: &[f32], k: usize, labels: &[u32]) -> f64 {
    Samples::new(probs, k, labels).map_or(f64::NAN, |samples| mean(&samples.brier))
}

/// The negative log-likelihood (cross-entropy, log loss) of the labels.
///
/// # What it does
/// `−(1/n) Σᵢ ln clip(pᵢ,yᵢ, ε, 1 − ε)` with ε = `f64::EPSILON` (2.22e-16), natural log.
///
/// This is scikit-learn's `log_loss(y, probs, labels=range(k))` on `float64` probabilities
/// (the tests pin 1.9.1 to 1e-12). That version clips to the machine epsilon of the input's
/// dtype and does not renormalise rows that do not sum to 1 (it only warns); this function does
/// the same on the probabilities converted to `f64`. Older releases differed (an `eps`
/// argument, renormalised rows). Pass `float32` arrays to scikit-learn and it clips at 1.19e-7
/// instead, so a sample with `p_label = 0` costs 15.9 there and 36.0 here.
///
/// # Why it matters
/// It is the loss most models are trained on and the objective of temperature scaling. It
/// punishes confident mistakes without bound (up to the clip), so it is the most sensitive of
/// the calibration metrics to a few overconfident errors — for example on adversarial inputs.
///
/// # Parameters
/// As [`brier_score`]. NaN for no samples or invalid input.
///
/// # Example
/// ```
/// use stressor_calibration::negative_log_likelihood;
/// let nll = negative_log_likelihood(&[0.5, 0.5, 0.25, 0.75], 2, &[0, 1]);
/// assert!((nll - (2.0_f64.ln() + (4.0_f64 / 3.0).ln()) / 2.0).abs() < 1e-7);
/// ```
///
/// # References
/// - Good, *Rational Decisions*, JRSS B 14, 1952.
/// - Quiñonero-Candela et al., *Evaluating Predictive Uncertainty Challenge*, 2006.
pub fn negative_log_likelihood(probs: &[f32], k: usize, labels: &[u32]) -> f64 {
    Samples::new(probs, k, labels).map_or(f64::NAN, |samples| mean(&samples.nll))
}

/// The mean, NaN when empty.
pub(crate) fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.iter().sum::<f64>() / values.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_and_worst() {
        assert_eq!(brier_score(&[1.0, 0.0, 0.0, 1.0], 2, &[0, 1]), 0.0);
        assert_eq!(brier_score(&[0.0, 1.0, 1.0, 0.0], 2, &[0, 1]), 2.0);
        let worst = negative_log_likelihood(&[0.0, 1.0], 2, &[0]);
        assert!((worst + f64::EPSILON.ln()).abs() < 1e-12);
        assert!(negative_log_likelihood(&[1.0, 0.0], 2, &[0]) < 1e-15);
    }

    #[test]
    fn empty_and_invalid_are_nan() {
        assert!(brier_score(&[], 2, &[]).is_nan());
        assert!(negative_log_likelihood(&[], 2, &[]).is_nan());
        assert!(brier_score(&[0.5, 0.5], 2, &[0, 1]).is_nan());
        assert!(negative_log_likelihood(&[0.5, -0.5], 2, &[0]).is_nan());
        assert!(brier_score(&[0.5, 0.5], 0, &[0]).is_nan());
    }
}
