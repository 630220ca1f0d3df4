//! Ranking metrics of a confidence score: AUROC and the risk-coverage curve.

/// The area under the ROC curve of `scores` for telling `positive` samples from the rest.
///
/// # What it does
/// The probability that a random positive scores higher than a random negative, ties counted
/// as one half: the Mann–Whitney U statistic over `n₊·n₋`, computed from midranks in
/// `O(n log n)`. This equals scikit-learn's `roc_auc_score(positive, scores)` (trapezoidal
/// ROC area, where tied scores form one diagonal segment); the tests pin 1.9.1 to 1e-12.
///
/// # Why it matters
/// Used with the top-label confidence as `scores` and correctness as `positive` it measures
/// whether the model *knows when it is wrong* — how well its confidence ranks mistakes below
/// correct answers — independently of calibration. 0.5 is a confidence that carries no
/// information about errors.
///
/// # Parameters
/// - `scores`: one score per sample; higher means "more likely positive". `±∞` rank as usual.
/// - `positive`: the class of each sample.
///
/// NaN when the lengths differ, a score is NaN, or only one class is present (no pairs to
/// compare; scikit-learn raises an error there).
///
/// # Example
/// ```
/// use stressor_calibration::auroc;
/// let auc = auroc(&[0.9, 0.8, 0.8, 0.1], &[true, true, false, false]);
/// assert_eq!(auc, 0.875); // 3 pairs ordered, 1 tied
/// assert!(auroc(&[0.9, 0.8], &[true, true]).is_nan());
/// ```
///
/// # References
/// - Hanley, McNeil, *The Meaning and Use of the Area under a ROC Curve*, Radiology 143, 1982.
/// - Hendrycks, Gimpel, *A Baseline for Detecting Misclassified and Out-of-Distribution
///   Examples in Neural Networks*, ICLR 2017.
pub fn auroc(scores: &[f64], positive: &[bool]) -> f64 {
    if scores.len() != positive.len() || scores.iter().any(|s| s.is_nan()) {
        return f64::NAN;
    }
    let n_positive = positive.iter().filter(|&&p| p).count();
    let n_negative = positive.len() - n_positive;
    if n_positive == 0 || n_negative == 0 {
        return f64::NAN;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        // Ranks start..end (0-based) share their mean, (start + 1 + end) / 2 in 1-based ranks.
        let midrank = (start + 1 + end) as f64 / 2.0;
        let tied_positives = order[start..end].iter().filter(|&&i| positive[i]).count();
        rank_sum += midrank * tied_positives as f64;
        start = end;
    }
    let n_positive = n_positive as f64;
    (rank_sum - n_positive * (n_positive + 1.0) / 2.0) / (n_positive * n_negative as f64)
}

/// A risk-coverage curve of selective prediction and the area under it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RiskCoverage {
    /// The fraction of samples accepted, increasing, ending at 1: one point per distinct
    /// confidence, accepting every sample at or above it.
    pub coverage: Vec<f64>,
    /// The error rate among the accepted samples at each coverage.
    pub risk: Vec<f64>,
    /// The area under the risk-coverage curve: `(1/n) Σᵢ risk(i/n)` over every coverage `i/n`,
    /// in [0, 1], lower is better. Tied confidences are accepted in a random order, and
    /// `risk(i/n)` is its expected value, so the area does not depend on the input order.
    pub aurc: f64,
}

/// The risk-coverage curve of a model that abstains on its least confident inputs.
///
/// # What it does
/// Sorts the samples by `confidence`, highest first, and for each acceptance threshold
/// reports the coverage (the fraction accepted) and the selective risk (the error rate among
/// the accepted), plus the area under the curve (AURC).
///
/// # Why it matters
/// A model in production can hand its least confident inputs to a fallback or a human. The
/// curve answers "if we automate 80 % of the traffic, how many mistakes do we make?", and the
/// AURC summarises how good the confidence is for that purpose across all coverages. A
/// confidence that ranks errors last gives the minimum possible AURC for the model's accuracy.
///
/// For a chatbot that hands its least confident queries to a human this is the curve of risk
/// among answered queries against coverage, with `correct` the negation of "answering would be
/// an error" (a wrong intent, or any answer to an out-of-scope query). Each point is the answered
/// set `confidence ≥ t` of [`selective_risk`](crate::selective_risk) at the same `t`, which gives
/// one point with intervals; [`handoff_threshold`](crate::handoff_threshold) picks a point with a
/// guarantee.
///
/// # Parameters
/// - `confidence`: one score per sample, higher meaning more likely correct.
/// - `correct`: whether each prediction was right.
///
/// Empty curve and NaN AURC when there are no samples, the lengths differ or a confidence is
/// NaN.
///
/// # Example
/// ```
/// use stressor_calibration::risk_coverage;
/// let curve = risk_coverage(&[0.9, 0.8, 0.6, 0.3], &[true, true, false, true]);
/// assert_eq!(curve.coverage, vec![0.25, 0.5, 0.75, 1.0]);
/// assert_eq!(curve.risk, vec![0.0, 0.0, 1.0 / 3.0, 0.25]);
/// assert!((curve.aurc - (1.0 / 3.0 + 0.25) / 4.0).abs() < 1e-12);
/// ```
///
/// # References
/// - El-Yaniv, Wiener, *On the Foundations of Noise-free Selective Classification*, JMLR 2010.
/// - Geifman, El-Yaniv, *Selective Classification for Deep Neural Networks*, NeurIPS 2017.
/// - Geifman, Uziel, El-Yaniv, *Bias-Reduced Uncertainty Estimation for Deep Neural
///   Classifiers*, ICLR 2019 (AURC).
pub fn risk_coverage(confidence: &[f64], correct: &[bool]) -> RiskCoverage {
    let n = confidence.len();
    if n == 0 || n != correct.len() || confidence.iter().any(|c| c.is_nan()) {
        return RiskCoverage { coverage: Vec::new(), risk: Vec::new(), aurc: f64::NAN };
    }
    // Ascending, walked from the top: on input already sorted by confidence (as the bootstrap
    // in `summarize` provides) the stable sort is linear.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| confidence[a].total_cmp(&confidence[b]));
    let mut curve = RiskCoverage::default();
    let mut risk_sum = 0.0;
    let mut errors_before = 0_usize;
    let mut end = n;
    while end > 0 {
        let top = confidence[order[end - 1]];
        let mut start = end - 1;
        while start > 0 && confidence[order[start - 1]] == top {
            start -= 1;
        }
        let accepted_before = n - end;
        let group_errors = order[start..end].iter().filter(|&&i| !correct[i]).count();
        let group_size = (end - start) as f64;
        for j in 1..=end - start {
            let expected_errors =
                errors_before as f64 + j as f64 * group_errors as f64 / group_size;
            risk_sum += expected_errors / (accepted_before + j) as f64;
        }
        errors_before += group_errors;
        let accepted = n - start;
        curve.coverage.push(accepted as f64 / n as f64);
        curve.risk.push(errors_before as f64 / accepted as f64);
        end = start;
    }
    curve.aurc = risk_sum / n as f64;
    curve
}

/// The AURC alone (the bootstrap needs no curve).
pub(crate) fn aurc_of(confidence: &[f64], correct: &[bool]) -> f64 {
    risk_coverage(confidence, correct).aurc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auroc_extremes() {
        assert_eq!(auroc(&[0.9, 0.1], &[true, false]), 1.0);
        assert_eq!(auroc(&[0.1, 0.9], &[true, false]), 0.0);
        assert_eq!(auroc(&[0.5, 0.5], &[true, false]), 0.5);
        assert!(auroc(&[], &[]).is_nan());
        assert!(auroc(&[0.5], &[true, false]).is_nan());
        assert!(auroc(&[f64::NAN, 0.5], &[true, false]).is_nan());
        assert_eq!(auroc(&[f64::INFINITY, f64::NEG_INFINITY], &[true, false]), 1.0);
    }

    #[test]
    fn risk_coverage_ties_are_order_free() {
        let a = risk_coverage(&[0.5, 0.5, 0.5], &[true, false, true]);
        let b = risk_coverage(&[0.5, 0.5, 0.5], &[false, true, true]);
        assert_eq!(a, b);
        assert_eq!(a.coverage, vec![1.0]);
        // Expected risks at coverage 1/3, 2/3, 1 are all 1/3.
        assert!((a.aurc - 1.0 / 3.0).abs() < 1e-15);
        assert!(risk_coverage(&[], &[]).aurc.is_nan());
        assert!(risk_coverage(&[0.5], &[true, true]).coverage.is_empty());
    }
}
