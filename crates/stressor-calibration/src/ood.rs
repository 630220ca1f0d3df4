//! Out-of-distribution detection: how well a score separates in-distribution inputs from
//! out-of-distribution ones (AUROC, FPR at a TPR), and the energy score of logits.
//!
//! Every function here takes scores where **larger means more in-distribution** (a softmax
//! confidence, the negative energy `−E(x)`), and treats the in-distribution inputs as the
//! positives: the TPR is the share of in-distribution inputs kept, the FPR the share of
//! out-of-distribution inputs wrongly kept. Negate a score of the opposite polarity (an energy,
//! a distance) before passing it.

use stressor_core::{Estimate, Seed};

use crate::ranking::auroc;
use crate::summary::{percentile_interval, uniform_index};

/// The AUROC and the FPR at 95 % TPR of an OOD score, with bootstrap intervals.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct OodSummary {
    /// [`ood_auroc`]; its `n` is the smaller of the two samples.
    pub auroc: Estimate,
    /// [`fpr_at_tpr`] at TPR 0.95; its `n` is the number of out-of-distribution inputs.
    pub fpr_at_95_tpr: Estimate,
}

/// The AUROC of `in_scores` against `out_scores`: the probability that a random
/// in-distribution input scores higher than a random out-of-distribution one, ties counting
/// one half.
///
/// # What it does
/// [`auroc`](crate::auroc) with the in-distribution inputs as positives: scikit-learn's
/// `roc_auc_score(y, s)` with `y = 1` for in-distribution and `s` the scores of both, in that
/// order (the tests pin 1.9.1 to 1e-12, ties included).
///
/// # Why it matters
/// The threshold-free measure of an OOD detector (Hendrycks & Gimpel 2017): 1 separates
/// perfectly, 0.5 is chance. A chatbot's out-of-scope queries should score below its in-scope
/// ones.
///
/// # Parameters
/// - `in_scores`, `out_scores`: the scores of in- and out-of-distribution inputs, larger
///   meaning more in-distribution.
///
/// NaN when either is empty or a score is NaN.
///
/// # Example
/// ```
/// use stressor_calibration::ood_auroc;
/// assert_eq!(ood_auroc(&[0.9, 0.8, 0.6], &[0.7, 0.1]), 5.0 / 6.0);
/// assert!(ood_auroc(&[0.9], &[]).is_nan());
/// ```
///
/// # References
/// - Hendrycks, Gimpel, *A Baseline for Detecting Misclassified and Out-of-Distribution
///   Examples in Neural Networks*, ICLR 2017.
pub fn ood_auroc(in_scores: &[f64], out_scores: &[f64]) -> f64 {
    let (scores, positive) = pooled(in_scores, out_scores);
    auroc(&scores, &positive)
}

/// The false-positive rate at the first threshold whose true-positive rate reaches `tpr`
/// (`fpr_at_tpr(.., 0.95)` is the usual "FPR at 95 % TPR", FPR95).
///
/// # What it does
/// Keeping every input with score `≥ t` keeps `TPR(t)` of the in-distribution inputs and
/// `FPR(t)` of the out-of-distribution ones. Lowering `t` through the distinct scores (tied
/// scores enter together), this returns `FPR(t)` at the highest `t` with `TPR(t) ≥ tpr` — no
/// interpolation between points. That is, with scikit-learn,
///
/// ```text
/// fpr, tpr_curve, _ = roc_curve(y, s, drop_intermediate=False)   # y = 1 for in-distribution
/// fpr[np.searchsorted(tpr_curve, tpr, side="left")]
/// ```
///
/// which the tests pin (1.9.1, exactly). `drop_intermediate=False` matters: the default drops
/// collinear points of the curve, and when tied scores mix in- and out-of-distribution inputs
/// the first point reaching `tpr` can be one of them, giving a larger FPR. Some OOD benchmarks
/// interpolate the curve at `tpr` instead; on a few hundred inputs the two differ by at most one
/// step of the curve.
///
/// # Why it matters
/// AUROC averages over all thresholds; a deployed detector has one. FPR95 answers "if we keep
/// 95 % of the legitimate queries, how many out-of-scope ones slip through?".
///
/// # Parameters
/// - `in_scores`, `out_scores`: as in [`ood_auroc`].
/// - `tpr`: the target true-positive rate, in [0, 1]; 0 gives 0 (the curve's origin).
///
/// NaN when either set is empty, a score is NaN or `tpr` is outside [0, 1].
///
/// # Example
/// ```
/// use stressor_calibration::fpr_at_tpr;
/// let in_scores = [0.9, 0.8, 0.7, 0.6];
/// let out_scores = [0.85, 0.5, 0.4];
/// // Keeping 3 of 4 in-distribution inputs (t = 0.7) lets 1 of 3 OOD inputs through.
/// assert_eq!(fpr_at_tpr(&in_scores, &out_scores, 0.75), 1.0 / 3.0);
/// assert_eq!(fpr_at_tpr(&in_scores, &out_scores, 0.95), 1.0 / 3.0);
/// assert_eq!(fpr_at_tpr(&in_scores, &[0.95, 0.5], 1.0), 0.5);
/// ```
///
/// # References
/// - Liang, Li, Srikant, *Enhancing the Reliability of Out-of-Distribution Image Detection in
///   Neural Networks*, ICLR 2018 (FPR at 95 % TPR).
pub fn fpr_at_tpr(in_scores: &[f64], out_scores: &[f64], tpr: f64) -> f64 {
    let valid = !in_scores.is_empty()
        && !out_scores.is_empty()
        && (0.0..=1.0).contains(&tpr)
        && !in_scores.iter().chain(out_scores).any(|s| s.is_nan());
    if !valid {
        return f64::NAN;
    }
    let (scores, positive) = pooled(in_scores, out_scores);
    fpr_at_tpr_pooled(&scores, &positive, tpr)
}

/// The energy score of each row of `logits` (row-major `[n, k]`):
/// `E(x) = −T · logsumexp(f(x) / T)`.
///
/// # What it does
/// Computes `logsumexp` in `f64` with the row maximum factored out, so logits of any size do
/// not overflow; matches `-T * scipy.special.logsumexp(z / T, axis=1)` on the logits promoted to
/// `f64` (the tests pin scipy 1.17.1 to 1e-12 relative). Lower energy means more
/// in-distribution: pass `−E` to [`ood_auroc`] and [`fpr_at_tpr`].
///
/// A row with a NaN logit has NaN energy; a `+∞` logit gives `−∞`; a row of `−∞` gives `+∞`.
///
/// # Why it matters
/// Liu et al. show the energy, a free by-product of the logits, separates OOD inputs better than
/// the softmax confidence, which saturates: two very different logit vectors can have the same
/// top probability but very different energies.
///
/// # Parameters
/// - `logits`: row-major `[n, k]` logits.
/// - `k`: the number of classes.
/// - `temperature`: `T`, finite and positive (Liu et al. use 1).
///
/// An empty vector when `k` is 0, `logits.len()` is not a multiple of `k`, or the temperature is
/// not finite and positive.
///
/// # Example
/// ```
/// use stressor_calibration::energy_score;
/// let energy = energy_score(&[0.0, 0.0, 1000.0, 1000.0], 2, 1.0);
/// assert!((energy[0] + 2.0_f64.ln()).abs() < 1e-12);
/// assert!((energy[1] + 1000.0 + 2.0_f64.ln()).abs() < 1e-9);
/// assert!(energy_score(&[1.0], 1, 0.0).is_empty());
/// ```
///
/// # References
/// - Liu, Wang, Owens, Li, *Energy-based Out-of-distribution Detection*, NeurIPS 2020.
pub fn energy_score(logits: &[f32], k: usize, temperature: f64) -> Vec<f64> {
    let valid_temperature = temperature.is_finite() && temperature > 0.0;
    if k == 0 || !logits.len().is_multiple_of(k) || !valid_temperature {
        return Vec::new();
    }
    logits.chunks_exact(k).map(|row| -temperature * log_sum_exp(row, temperature)).collect()
}

/// [`ood_auroc`] and [`fpr_at_tpr`] at 0.95 with seeded 95 % bootstrap intervals.
///
/// # What it does
/// Draws `resamples` stratified bootstrap resamples (the in- and out-of-distribution inputs
/// resampled separately, so each keeps its size) from `seed` and takes the bias-corrected
/// percentiles of each metric, as [`summarize`](crate::summarize) does. 0 resamples gives no
/// intervals.
///
/// # Why it matters
/// FPR95 rests on the few out-of-distribution inputs above one threshold and moves a lot
/// between samples; compare detectors by interval, not by point.
///
/// # Parameters
/// - `in_scores`, `out_scores`: as in [`ood_auroc`].
/// - `resamples`: bootstrap resamples (200 is the crate's default elsewhere).
/// - `seed`: the bootstrap's randomness.
///
/// NaN estimates without intervals when either set is empty or a score is NaN.
///
/// # Example
/// ```
/// use stressor_calibration::summarize_ood;
/// use stressor_core::Seed;
/// let in_scores: Vec<f64> = (0..100).map(|i| f64::from(i) / 100.0 + 0.3).collect();
/// let out_scores: Vec<f64> = (0..50).map(|i| f64::from(i) / 100.0).collect();
/// let summary = summarize_ood(&in_scores, &out_scores, 200, Seed::new(1));
/// let ci = summary.auroc.ci.expect("an interval");
/// assert!(ci.lower <= summary.auroc.value && summary.auroc.value <= ci.upper);
/// assert_eq!(summary.fpr_at_95_tpr.n, 50);
/// ```
pub fn summarize_ood(
    in_scores: &[f64],
    out_scores: &[f64],
    resamples: u32,
    seed: Seed,
) -> OodSummary {
    let (n_in, n_out) = (in_scores.len(), out_scores.len());
    let auroc_value = ood_auroc(in_scores, out_scores);
    let fpr_value = fpr_at_tpr(in_scores, out_scores, 0.95);
    let (auroc_n, fpr_n) = (n_in.min(n_out) as u64, n_out as u64);
    if auroc_value.is_nan() {
        return OodSummary {
            auroc: Estimate { value: f64::NAN, n: auroc_n, ci: None },
            fpr_at_95_tpr: Estimate { value: f64::NAN, n: fpr_n, ci: None },
        };
    }
    let stream = seed.derive("calibration/ood-bootstrap");
    let mut resample_in = Vec::with_capacity(n_in);
    let mut resample_out = Vec::with_capacity(n_out);
    let mut auroc_replicates = Vec::with_capacity(resamples as usize);
    let mut fpr_replicates = Vec::with_capacity(resamples as usize);
    for replicate in 0..resamples {
        let replicate_seed = stream.derive_index(u64::from(replicate));
        let (in_seed, out_seed) = (replicate_seed.derive("in"), replicate_seed.derive("out"));
        resample_in.clear();
        resample_in.extend(
            (0..n_in).map(|draw| in_scores[uniform_index(in_seed.derive_index(draw as u64), n_in)]),
        );
        resample_out.clear();
        resample_out.extend(
            (0..n_out)
                .map(|draw| out_scores[uniform_index(out_seed.derive_index(draw as u64), n_out)]),
        );
        let (scores, positive) = pooled(&resample_in, &resample_out);
        auroc_replicates.push(auroc(&scores, &positive));
        fpr_replicates.push(fpr_at_tpr_pooled(&scores, &positive, 0.95));
    }
    OodSummary {
        auroc: Estimate {
            value: auroc_value,
            n: auroc_n,
            ci: percentile_interval(auroc_value, auroc_replicates, resamples),
        },
        fpr_at_95_tpr: Estimate {
            value: fpr_value,
            n: fpr_n,
            ci: percentile_interval(fpr_value, fpr_replicates, resamples),
        },
    }
}

/// The scores of both sets in one buffer, in-distribution first, with their labels.
fn pooled(in_scores: &[f64], out_scores: &[f64]) -> (Vec<f64>, Vec<bool>) {
    let scores = in_scores.iter().chain(out_scores).copied().collect();
    let positive = std::iter::repeat_n(true, in_scores.len())
        .chain(std::iter::repeat_n(false, out_scores.len()));
    (scores, positive.collect())
}

/// [`fpr_at_tpr`] of validated, pooled scores with both classes present.
fn fpr_at_tpr_pooled(scores: &[f64], positive: &[bool], tpr: f64) -> f64 {
    let n_positive = positive.iter().filter(|&&p| p).count();
    let n_negative = positive.len() - n_positive;
    if tpr <= 0.0 {
        return 0.0;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut true_positives, mut false_positives) = (0_usize, 0_usize);
    let mut end = order.len();
    while end > 0 {
        let top = scores[order[end - 1]];
        let mut start = end - 1;
        while start > 0 && scores[order[start - 1]] == top {
            start -= 1;
        }
        let group_positives = order[start..end].iter().filter(|&&i| positive[i]).count();
        true_positives += group_positives;
        false_positives += end - start - group_positives;
        // The same division as scikit-learn's `tps / tps[-1]`, so the comparison with `tpr`
        // rounds the same way.
        if true_positives as f64 / n_positive as f64 >= tpr {
            return false_positives as f64 / n_negative as f64;
        }
        end = start;
    }
    // Unreachable for tpr ≤ 1: the last group brings the TPR to 1.
    f64::NAN
}

/// `logsumexp(row / temperature)` in `f64`.
fn log_sum_exp(row: &[f32], temperature: f64) -> f64 {
    if row.iter().any(|z| z.is_nan()) {
        return f64::NAN;
    }
    let max = row.iter().map(|&z| f64::from(z) / temperature).fold(f64::NEG_INFINITY, f64::max);
    if max.is_infinite() {
        // +∞ dominates; a row of −∞ (or an empty one) sums to 0.
        return max;
    }
    let sum: f64 = row.iter().map(|&z| (f64::from(z) / temperature - max).exp()).sum();
    max + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fpr_at_tpr_edges() {
        assert!(fpr_at_tpr(&[], &[0.5], 0.95).is_nan());
        assert!(fpr_at_tpr(&[0.5], &[], 0.95).is_nan());
        assert!(fpr_at_tpr(&[0.5], &[0.4], 1.5).is_nan());
        assert!(fpr_at_tpr(&[f64::NAN], &[0.4], 0.5).is_nan());
        assert_eq!(fpr_at_tpr(&[0.5], &[0.6], 0.0), 0.0);
        // Perfect separation, and a tie that takes the OOD input along.
        assert_eq!(fpr_at_tpr(&[0.9, 0.8], &[0.1], 1.0), 0.0);
        assert_eq!(fpr_at_tpr(&[0.9, 0.8], &[0.8], 1.0), 1.0);
        assert_eq!(fpr_at_tpr(&[0.9, 0.8], &[0.8], 0.5), 0.0);
    }

    #[test]
    fn energy_of_infinite_and_nan_logits() {
        let energy =
            energy_score(&[f32::INFINITY, 0.0, f32::NEG_INFINITY, f32::NEG_INFINITY], 2, 1.0);
        assert_eq!(energy, vec![f64::NEG_INFINITY, f64::INFINITY]);
        assert!(energy_score(&[f32::NAN, 0.0], 2, 1.0)[0].is_nan());
        // One −∞ logit contributes nothing.
        assert!((energy_score(&[f32::NEG_INFINITY, 0.0], 2, 2.0)[0]).abs() < 1e-15);
        assert!(energy_score(&[1.0, 2.0, 3.0], 2, 1.0).is_empty());
        assert!(energy_score(&[1.0], 0, 1.0).is_empty());
        assert!(energy_score(&[1.0], 1, f64::INFINITY).is_empty());
    }

    #[test]
    fn summary_of_invalid_input_is_nan() {
        let summary = summarize_ood(&[0.5], &[], 10, Seed::new(0));
        assert!(summary.auroc.value.is_nan() && summary.fpr_at_95_tpr.ci.is_none());
    }
}
