//! Input validation, the top-label view of a probability table, and softmax.

use crate::CalibrationError;

/// Checks a probability table and its labels and returns the number of samples `n`.
///
/// `probs` is row-major `[n, k]` with `n = labels.len()`; every value must be finite and in
/// [0, 1] and every label below `k`. Rows are not required to sum to 1 (scikit-learn only warns
/// about that too); the metrics use the values as given. An empty table is valid (`Ok(0)`).
///
/// Every metric in this crate returns NaN where this function returns an error, so call it to
/// learn why a metric is NaN.
///
/// # Errors
/// [`CalibrationError::NoClasses`], [`CalibrationError::ShapeMismatch`],
/// [`CalibrationError::InvalidProbability`] or [`CalibrationError::LabelOutOfRange`].
///
/// # Examples
/// ```
/// use stressor_calibration::{CalibrationError, check_probabilities};
/// assert_eq!(check_probabilities(&[0.25, 0.75], 2, &[1]), Ok(1));
/// assert!(matches!(
///     check_probabilities(&[0.25, f32::NAN], 2, &[1]),
///     Err(CalibrationError::InvalidProbability { sample: 0, class: 1, .. })
/// ));
/// ```
pub fn check_probabilities(
    probs: &[f32],
    k: usize,
    labels: &[u32],
) -> Result<usize, CalibrationError> {
    check_shape("probabilities", probs.len(), k, labels)?;
    for (index, &value) in probs.iter().enumerate() {
        if !(0.0..=1.0).contains(&value) {
            return Err(CalibrationError::InvalidProbability {
                sample: index / k,
                class: index % k,
                value,
            });
        }
    }
    Ok(labels.len())
}

/// Softmax of each row of `logits` (row-major `[n, k]`) divided by `temperature`.
///
/// Computed in `f64` with the maximum subtracted first, so large logits do not overflow, and
/// returned as `f32` to match the probability convention of this crate.
///
/// Returns an empty vector when `k` is 0, `logits.len()` is not a multiple of `k`, or
/// `temperature` is not finite and positive. A row with a NaN or `+∞` logit, or only `-∞`
/// logits, becomes a row of NaN; other `-∞` logits get probability 0.
///
/// # Examples
/// ```
/// use stressor_calibration::softmax;
/// let probs = softmax(&[0.0, 0.0, 2.0_f32.ln()], 3, 1.0);
/// assert!((probs[2] - 0.5).abs() < 1e-7);
/// // A higher temperature flattens the distribution.
/// let flat = softmax(&[0.0, 0.0, 2.0_f32.ln()], 3, 1e6);
/// assert!((flat[2] - 1.0 / 3.0).abs() < 1e-5);
/// ```
pub fn softmax(logits: &[f32], k: usize, temperature: f64) -> Vec<f32> {
    let valid_temperature = temperature.is_finite() && temperature > 0.0;
    if k == 0 || !logits.len().is_multiple_of(k) || !valid_temperature {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(logits.len());
    let mut row_f64 = vec![0.0_f64; k];
    for row in logits.chunks_exact(k) {
        softmax_row(row, temperature.recip(), &mut row_f64);
        out.extend(row_f64.iter().map(|&p| p as f32));
    }
    out
}

/// The top-label view of a validated probability table, one entry per sample.
///
/// Every metric is a function of these per-sample quantities, so the bootstrap resamples them
/// instead of re-validating the table.
#[derive(Debug, Clone, Default)]
pub(crate) struct Samples {
    /// The largest probability of the row.
    pub(crate) confidence: Vec<f64>,
    /// Whether the first class with the largest probability is the label.
    pub(crate) correct: Vec<bool>,
    /// `Σⱼ (pⱼ − yⱼ)²` of the row.
    pub(crate) brier: Vec<f64>,
    /// `−ln clip(p_label, ε, 1 − ε)` with ε the `f64` machine epsilon.
    pub(crate) nll: Vec<f64>,
}

impl Samples {
    /// The view of `probs`, or `None` when [`check_probabilities`] fails.
    pub(crate) fn new(probs: &[f32], k: usize, labels: &[u32]) -> Option<Samples> {
        let n = check_probabilities(probs, k, labels).ok()?;
        let mut samples = Samples {
            confidence: Vec::with_capacity(n),
            correct: Vec::with_capacity(n),
            brier: Vec::with_capacity(n),
            nll: Vec::with_capacity(n),
        };
        for (row, &label) in probs.chunks_exact(k).zip(labels) {
            let label = label as usize;
            let (prediction, confidence) = top_label(row);
            samples.confidence.push(confidence);
            samples.correct.push(prediction == label);
            let brier = row
                .iter()
                .enumerate()
                .map(|(class, &p)| {
                    let target = if class == label { 1.0 } else { 0.0 };
                    let diff = f64::from(p) - target;
                    diff * diff
                })
                .sum();
            samples.brier.push(brier);
            let p_true = f64::from(row[label]).clamp(f64::EPSILON, 1.0 - f64::EPSILON);
            samples.nll.push(-p_true.ln());
        }
        Some(samples)
    }

    /// The number of samples.
    pub(crate) fn len(&self) -> usize {
        self.confidence.len()
    }

    /// The samples at `indices` (a bootstrap replicate).
    pub(crate) fn gather_into(&self, indices: &[usize], out: &mut Samples) {
        out.confidence.clear();
        out.correct.clear();
        out.brier.clear();
        out.nll.clear();
        for &index in indices {
            out.confidence.push(self.confidence[index]);
            out.correct.push(self.correct[index]);
            out.brier.push(self.brier[index]);
            out.nll.push(self.nll[index]);
        }
    }
}

/// Checks that `len` values make `labels.len()` rows of `k`.
pub(crate) fn check_shape(
    what: &'static str,
    len: usize,
    k: usize,
    labels: &[u32],
) -> Result<(), CalibrationError> {
    if k == 0 {
        return Err(CalibrationError::NoClasses);
    }
    let expected = labels.len().saturating_mul(k);
    if len != expected {
        return Err(CalibrationError::ShapeMismatch { what, len, expected });
    }
    if let Some((sample, &label)) =
        labels.iter().enumerate().find(|&(_, &label)| label as usize >= k)
    {
        return Err(CalibrationError::LabelOutOfRange { sample, label, k });
    }
    Ok(())
}

/// The first index of the largest value of a row and that value, as numpy's `argmax`.
pub(crate) fn top_label(row: &[f32]) -> (usize, f64) {
    let mut best = 0;
    for (class, &p) in row.iter().enumerate() {
        if p > row[best] {
            best = class;
        }
    }
    (best, row.first().map_or(f64::NAN, |_| f64::from(row[best])))
}

/// The top-label confidence of every row of a probability table whose values are finite and in
/// [0, 1], or `None`.
pub(crate) fn confidences(probs: &[f32], k: usize) -> Option<Vec<f64>> {
    if k == 0 || !probs.len().is_multiple_of(k) || probs.iter().any(|p| !(0.0..=1.0).contains(p)) {
        return None;
    }
    Some(probs.chunks_exact(k).map(|row| top_label(row).1).collect())
}

/// Softmax of `row × inverse_temperature` into `out`, in `f64`.
pub(crate) fn softmax_row(row: &[f32], inverse_temperature: f64, out: &mut [f64]) {
    let max = row.iter().map(|&z| f64::from(z)).fold(f64::NEG_INFINITY, f64::max);
    let mut total = 0.0;
    for (slot, &z) in out.iter_mut().zip(row) {
        *slot = ((f64::from(z) - max) * inverse_temperature).exp();
        total += *slot;
    }
    for slot in out.iter_mut() {
        *slot /= total;
    }
}
