//! Reliability diagrams and the calibration errors read off them (ECE, MCE).

use crate::input::{Samples, confidences};

/// How the top-label confidences are grouped into bins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Binning {
    /// `bins` intervals of equal width on [0, 1]: bin `m` (0-based) holds the confidences in
    /// `(m/bins, (m+1)/bins]`, the first bin also holds 0 (Guo et al. 2017). Edges are computed
    /// as `m as f64 / bins as f64`.
    #[default]
    EqualWidth,
    /// `bins` groups of (almost) equal size: samples sorted by confidence (ties kept in input
    /// order) and split like `numpy.array_split`, the first `n % bins` groups one larger. With
    /// fewer samples than bins there are `n` bins of one. Also called adaptive binning; it
    /// avoids the near-empty high-variance bins of equal-width binning (Nixon et al. 2019).
    EqualMass,
}

/// One bin of a reliability diagram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReliabilityBin {
    /// The lower edge: `m/bins` for equal-width bins, the smallest confidence in the bin for
    /// equal-mass bins.
    pub lower: f64,
    /// The upper edge: `(m+1)/bins` for equal-width bins, the largest confidence in the bin for
    /// equal-mass bins.
    pub upper: f64,
    /// The number of samples in the bin.
    pub count: u64,
    /// The mean top-label confidence of the samples in the bin; NaN when the bin is empty.
    pub mean_confidence: f64,
    /// The fraction of the samples in the bin whose top label is correct; NaN when the bin is
    /// empty.
    pub accuracy: f64,
}

/// The reliability diagram of the top-label confidence.
///
/// # What it does
/// Takes each sample's top-label confidence (its largest probability; the predicted class is
/// the first class with that probability, as numpy's `argmax`), groups the samples into bins
/// by confidence ([`Binning`]) and reports each bin's size, mean confidence and accuracy.
///
/// # Why it matters
/// A calibrated model is right 80 % of the time when it says 80 %: its bins lie on the
/// diagonal `accuracy = mean_confidence`. Bins below the diagonal are overconfidence, the
/// usual failure of modern networks and one that adversarial or shifted inputs make worse.
///
/// # Parameters
/// - `probs`: row-major `[n, k]` class probabilities, `n = labels.len()`.
/// - `k`: the number of classes.
/// - `labels`: the true class of each sample.
/// - `bins`: the number of bins (15 is the common choice).
/// - `binning`: equal width or equal mass.
///
/// Equal-width diagrams have exactly `bins` entries, empty ones included (count 0, NaN means);
/// equal-mass diagrams have `min(bins, n)` entries. Invalid input (see
/// [`check_probabilities`](crate::check_probabilities)) or `bins == 0` gives an empty vector.
///
/// # Example
/// ```
/// use stressor_calibration::{Binning, reliability};
/// let probs = [0.9, 0.1, 0.75, 0.25, 0.3, 0.7, 0.45, 0.55];
/// let diagram = reliability(&probs, 2, &[0, 1, 1, 1], 5, Binning::EqualWidth);
/// assert_eq!(diagram.len(), 5);
/// let top = diagram[4]; // (0.8, 1.0]
/// assert_eq!(top.count, 1); // 0.9; 0.75 and 0.7 fall into (0.6, 0.8]
/// assert_eq!(top.accuracy, 1.0);
/// assert_eq!(diagram[3].count, 2);
/// assert_eq!(diagram[3].accuracy, 0.5);
/// ```
///
/// # References
/// - Guo, Pleiss, Sun, Weinberger, *On Calibration of Modern Neural Networks*, ICML 2017.
/// - Niculescu-Mizil, Caruana, *Predicting Good Probabilities with Supervised Learning*,
///   ICML 2005.
pub fn reliability(
    probs: &[f32],
    k: usize,
    labels: &[u32],
    bins: usize,
    binning: Binning,
) -> Vec<ReliabilityBin> {
    match Samples::new(probs, k, labels) {
        Some(samples) => bin_samples(&samples.confidence, &samples.correct, bins, binning),
        None => Vec::new(),
    }
}

/// The expected calibration error of the top label.
///
/// # What it does
/// `ECE = Σ_b (|B_b| / n) · |accuracy(B_b) − confidence(B_b)|` over the bins of
/// [`reliability`]: the mean gap between confidence and accuracy, weighted by bin size.
///
/// # Why it matters
/// It is the standard one-number summary of miscalibration, in the units of accuracy: an ECE
/// of 0.05 means confidence is off by five points on average. It depends on the binning, so
/// compare values only at the same `bins` and [`Binning`].
///
/// # Parameters
/// As [`reliability`]. Returns a value in [0, 1]; NaN for no samples, invalid input or
/// `bins == 0`.
///
/// # Example
/// ```
/// use stressor_calibration::{Binning, expected_calibration_error};
/// // Two samples at confidence 0.9, one right and one wrong: |0.5 − 0.9| = 0.4.
/// let probs = [0.9, 0.1, 0.9, 0.1];
/// let ece = expected_calibration_error(&probs, 2, &[0, 1], 10, Binning::EqualWidth);
/// assert!((ece - 0.4).abs() < 1e-7);
/// ```
///
/// # References
/// - Naeini, Cooper, Hauskrecht, *Obtaining Well Calibrated Probabilities Using Bayesian
///   Binning*, AAAI 2015.
/// - Guo, Pleiss, Sun, Weinberger, *On Calibration of Modern Neural Networks*, ICML 2017.
/// - Nixon et al., *Measuring Calibration in Deep Learning*, CVPR Workshops 2019
///   (equal-mass bins).
pub fn expected_calibration_error(
    probs: &[f32],
    k: usize,
    labels: &[u32],
    bins: usize,
    binning: Binning,
) -> f64 {
    match Samples::new(probs, k, labels) {
        Some(samples) => ece_of(&samples.confidence, &samples.correct, bins, binning),
        None => f64::NAN,
    }
}

/// The maximum calibration error of the top label.
///
/// # What it does
/// `MCE = max_b |accuracy(B_b) − confidence(B_b)|` over the non-empty bins of
/// [`reliability`].
///
/// # Why it matters
/// The worst-case gap matters where one confidence range drives a decision (auto-accept above
/// 0.95, say). It is noisy: a bin of one sample can set it, so read it with the bin counts.
///
/// # Parameters
/// As [`reliability`]. Returns a value in [0, 1]; NaN for no samples, invalid input or
/// `bins == 0`.
///
/// # Example
/// ```
/// use stressor_calibration::{Binning, maximum_calibration_error};
/// let probs = [0.9, 0.1, 0.6, 0.4];
/// let mce = maximum_calibration_error(&probs, 2, &[0, 1], 10, Binning::EqualWidth);
/// assert!((mce - 0.6).abs() < 1e-7); // the 0.6 bin is 0 % accurate
/// ```
///
/// # References
/// - Naeini, Cooper, Hauskrecht, *Obtaining Well Calibrated Probabilities Using Bayesian
///   Binning*, AAAI 2015.
pub fn maximum_calibration_error(
    probs: &[f32],
    k: usize,
    labels: &[u32],
    bins: usize,
    binning: Binning,
) -> f64 {
    match Samples::new(probs, k, labels) {
        Some(samples) => mce_of(&samples.confidence, &samples.correct, bins, binning),
        None => f64::NAN,
    }
}

/// Counts of the top-label confidence in `bins` equal-width bins on [0, 1].
///
/// The bins are those of [`Binning::EqualWidth`]. Labels are not needed: this is the
/// confidence distribution drawn under a reliability diagram, where a shift towards 1 on
/// perturbed inputs shows overconfidence even without labels.
///
/// Returns an empty vector when `k` is 0, `probs.len()` is not a multiple of `k`, a value is
/// not in [0, 1], or `bins` is 0.
///
/// # Examples
/// ```
/// use stressor_calibration::confidence_histogram;
/// let probs = [0.9, 0.1, 0.45, 0.55, 0.5, 0.5];
/// assert_eq!(confidence_histogram(&probs, 2, 2), vec![1, 2]);
/// ```
pub fn confidence_histogram(probs: &[f32], k: usize, bins: usize) -> Vec<u64> {
    match confidences(probs, k) {
        Some(confidence) if bins > 0 => histogram_of(&confidence, bins),
        _ => Vec::new(),
    }
}

/// Equal-width histogram of confidences.
pub(crate) fn histogram_of(confidence: &[f64], bins: usize) -> Vec<u64> {
    let mut counts = vec![0; bins];
    for &c in confidence {
        counts[equal_width_bin(c, bins)] += 1;
    }
    counts
}

/// The reliability bins of per-sample confidences and correctness.
/// The reliability diagram of scored answers given directly: each answer's `confidence` and
/// whether it was `correct` (a chatbot's replies, where an answer may also be a decline with
/// confidence 0). Invalid input (unequal lengths, a NaN) gives no bins.
pub fn reliability_of(
    confidence: &[f64],
    correct: &[bool],
    bins: usize,
    binning: Binning,
) -> Vec<ReliabilityBin> {
    if confidence.len() != correct.len() || confidence.iter().any(|c| c.is_nan()) {
        return Vec::new();
    }
    bin_samples(confidence, correct, bins, binning)
}

pub(crate) fn bin_samples(
    confidence: &[f64],
    correct: &[bool],
    bins: usize,
    binning: Binning,
) -> Vec<ReliabilityBin> {
    if bins == 0 {
        return Vec::new();
    }
    match binning {
        Binning::EqualWidth => {
            let mut sums = vec![(0_u64, 0.0_f64, 0_u64); bins];
            for (&c, &right) in confidence.iter().zip(correct) {
                let slot = &mut sums[equal_width_bin(c, bins)];
                slot.0 += 1;
                slot.1 += c;
                slot.2 += u64::from(right);
            }
            sums.iter()
                .enumerate()
                .map(|(m, &(count, sum_confidence, n_correct))| {
                    bin_of(edge(m, bins), edge(m + 1, bins), count, sum_confidence, n_correct)
                })
                .collect()
        }
        Binning::EqualMass => {
            let n = confidence.len();
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| confidence[a].total_cmp(&confidence[b]));
            let n_bins = bins.min(n);
            let mut start = 0;
            (0..n_bins)
                .map(|b| {
                    let size = n / n_bins + usize::from(b < n % n_bins);
                    let group = &order[start..start + size];
                    start += size;
                    let sum_confidence: f64 = group.iter().map(|&i| confidence[i]).sum();
                    let n_correct = group.iter().filter(|&&i| correct[i]).count() as u64;
                    bin_of(
                        confidence[group[0]],
                        confidence[group[size - 1]],
                        size as u64,
                        sum_confidence,
                        n_correct,
                    )
                })
                .collect()
        }
    }
}

/// ECE of per-sample confidences and correctness.
pub(crate) fn ece_of(confidence: &[f64], correct: &[bool], bins: usize, binning: Binning) -> f64 {
    let n = confidence.len();
    if n == 0 || bins == 0 {
        return f64::NAN;
    }
    bin_samples(confidence, correct, bins, binning)
        .iter()
        .filter(|bin| bin.count > 0)
        .map(|bin| bin.count as f64 / n as f64 * (bin.accuracy - bin.mean_confidence).abs())
        .sum()
}

/// MCE of per-sample confidences and correctness.
pub(crate) fn mce_of(confidence: &[f64], correct: &[bool], bins: usize, binning: Binning) -> f64 {
    if confidence.is_empty() || bins == 0 {
        return f64::NAN;
    }
    bin_samples(confidence, correct, bins, binning)
        .iter()
        .filter(|bin| bin.count > 0)
        .map(|bin| (bin.accuracy - bin.mean_confidence).abs())
        .fold(0.0, f64::max)
}

fn bin_of(
    lower: f64,
    upper: f64,
    count: u64,
    sum_confidence: f64,
    n_correct: u64,
) -> ReliabilityBin {
    let (mean_confidence, accuracy) = if count == 0 {
        (f64::NAN, f64::NAN)
    } else {
        (sum_confidence / count as f64, n_correct as f64 / count as f64)
    };
    ReliabilityBin { lower, upper, count, mean_confidence, accuracy }
}

/// The `m`-th of `bins + 1` equal-width edges on [0, 1].
fn edge(m: usize, bins: usize) -> f64 {
    m as f64 / bins as f64
}

/// The equal-width bin of a confidence in [0, 1]: `(edge(m), edge(m + 1)]`, 0 in the first.
///
/// The first guess `⌈c·bins⌉ − 1` can be off by one where `c·bins` rounds across an edge, so it
/// is corrected against the edges themselves.
fn equal_width_bin(c: f64, bins: usize) -> usize {
    let guess = (c * bins as f64).ceil();
    let mut m = if guess >= 1.0 { (guess as usize - 1).min(bins - 1) } else { 0 };
    while m > 0 && c <= edge(m, bins) {
        m -= 1;
    }
    while m + 1 < bins && c > edge(m + 1, bins) {
        m += 1;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_width_bins_are_right_closed() {
        assert_eq!(equal_width_bin(0.0, 10), 0);
        assert_eq!(equal_width_bin(0.1, 10), 0);
        assert_eq!(equal_width_bin(0.3, 10), 2);
        assert_eq!(equal_width_bin(0.300_000_000_000_000_04, 10), 3);
        assert_eq!(equal_width_bin(1.0, 10), 9);
        assert_eq!(equal_width_bin(0.5, 1), 0);
    }

    #[test]
    fn equal_mass_splits_like_array_split() {
        let confidence = [0.9, 0.5, 0.7, 0.6, 0.8];
        let correct = [true, false, true, true, false];
        let bins = bin_samples(&confidence, &correct, 2, Binning::EqualMass);
        assert_eq!(bins.iter().map(|b| b.count).collect::<Vec<_>>(), vec![3, 2]);
        assert_eq!((bins[0].lower, bins[0].upper), (0.5, 0.7));
        assert_eq!(bins[1].accuracy, 0.5);
        assert_eq!(bin_samples(&confidence, &correct, 9, Binning::EqualMass).len(), 5);
    }

    #[test]
    fn empty_and_invalid_are_nan_or_empty() {
        assert!(expected_calibration_error(&[], 3, &[], 15, Binning::EqualWidth).is_nan());
        assert!(maximum_calibration_error(&[], 3, &[], 15, Binning::EqualMass).is_nan());
        assert!(expected_calibration_error(&[0.5, 0.5], 2, &[0], 0, Binning::EqualWidth).is_nan());
        assert!(expected_calibration_error(&[0.5, 0.5], 2, &[2], 3, Binning::EqualWidth).is_nan());
        assert!(reliability(&[0.5, f32::INFINITY], 2, &[0], 3, Binning::EqualWidth).is_empty());
        assert_eq!(reliability(&[], 2, &[], 3, Binning::EqualWidth).len(), 3);
        assert!(reliability(&[], 2, &[], 3, Binning::EqualMass).is_empty());
        assert_eq!(confidence_histogram(&[], 2, 4), vec![0; 4]);
        assert!(confidence_histogram(&[0.5, 0.5, 0.5], 2, 4).is_empty());
    }
}
