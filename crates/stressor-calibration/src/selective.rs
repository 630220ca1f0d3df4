//! Selective prediction with a guarantee: the handoff threshold certified by Learn-then-Test,
//! and the selective risk at a fixed threshold.

use stressor_core::Estimate;

use crate::CalibrationError;
use crate::binomial::binomial_cdf;

/// What answering the queries at or above a confidence threshold gives.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct SelectiveRisk {
    /// The threshold: a query is answered iff its confidence is `≥ threshold`.
    pub threshold: f64,
    /// The number of queries.
    pub n: u64,
    /// The number answered.
    pub n_answered: u64,
    /// The number of errors among the answered.
    pub n_errors: u64,
    /// The fraction answered, `n_answered / n`, with its 95 % Wilson interval.
    pub coverage: Estimate,
    /// The selective risk, `n_errors / n_answered`, with its 95 % Wilson interval; NaN when
    /// nothing is answered.
    pub risk: Estimate,
}

/// How [`handoff_threshold`] certifies a threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HandoffConfig {
    /// The largest tolerated selective risk (error rate among answered queries), in (0, 1).
    pub alpha: f64,
    /// The allowed probability that the certified threshold is wrong, in (0, 1).
    pub delta: f64,
    /// Thresholds that answer fewer calibration queries than this are skipped rather than
    /// tested (default 0). Thresholds answering fewer than `⌈ln δ / ln(1 − α)⌉` queries can
    /// never be certified, even without errors, and are always skipped; a larger value starts
    /// the test sequence lower, so that one confidently wrong answer among the very top does not
    /// end it.
    pub min_answered: u64,
}

impl HandoffConfig {
    /// Risk `alpha` with probability at least `1 − delta`, no extra skipping.
    ///
    /// # Examples
    /// ```
    /// use stressor_calibration::HandoffConfig;
    /// assert_eq!(HandoffConfig::new(0.1, 0.05).min_answered, 0);
    /// ```
    pub fn new(alpha: f64, delta: f64) -> HandoffConfig {
        HandoffConfig { alpha, delta, min_answered: 0 }
    }
}

/// A confidence threshold certified by [`handoff_threshold`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Handoff {
    /// λ̂: answer a query iff its confidence is `≥ threshold`, hand it to a human otherwise.
    pub threshold: f64,
    /// The binomial p-value at λ̂, `P(Binomial(n_answered, alpha) ≤ n_errors)`, `≤ delta`.
    pub p_value: f64,
    /// The number of thresholds tested, the last one included when it ended the sequence.
    pub n_tested: u64,
    /// The calibration set answered at λ̂.
    pub calibration: SelectiveRisk,
}

/// The selective risk, coverage and counts of answering every query with `confidence ≥
/// threshold`.
///
/// # What it does
/// Counts the answered queries and the errors among them; the coverage and the risk are
/// proportions with Wilson intervals. The answered set is the one of [`risk_coverage`] at the
/// same threshold, so the two agree at every point of the curve.
///
/// # Why it matters
/// A deployed chatbot has one threshold, often a framework's default (Rasa's fallback and
/// Dialogflow's classification threshold are both 0.3). This says what that threshold does on a
/// set of queries, stressed or not: how much is answered and how often the answer is wrong.
///
/// # Parameters
/// - `confidence`: one score per query, higher meaning more likely right.
/// - `error`: whether answering the query would be an error (a wrong intent, or any answer to an
///   out-of-scope query). Note the polarity: [`risk_coverage`] takes `correct`.
/// - `threshold`: the confidence at and above which queries are answered.
///
/// Counts 0 and NaN estimates without intervals when the lengths differ, a confidence or the
/// threshold is NaN, or there are no queries.
///
/// # Example
/// ```
/// use stressor_calibration::selective_risk;
/// let confidence = [0.95, 0.9, 0.5, 0.35, 0.2];
/// let error = [false, false, true, false, true];
/// let at_default = selective_risk(&confidence, &error, 0.3);
/// assert_eq!((at_default.n_answered, at_default.n_errors), (4, 1));
/// assert_eq!(at_default.coverage.value, 0.8);
/// assert_eq!(at_default.risk.value, 0.25);
/// assert!(selective_risk(&confidence, &error, 0.99).risk.value.is_nan());
/// ```
///
/// [`risk_coverage`]: crate::risk_coverage
pub fn selective_risk(confidence: &[f64], error: &[bool], threshold: f64) -> SelectiveRisk {
    let n = confidence.len() as u64;
    let valid = confidence.len() == error.len()
        && !threshold.is_nan()
        && !confidence.iter().any(|c| c.is_nan());
    if !valid || n == 0 {
        let nan = Estimate { value: f64::NAN, n: 0, ci: None };
        return SelectiveRisk {
            threshold,
            n,
            n_answered: 0,
            n_errors: 0,
            coverage: nan,
            risk: nan,
        };
    }
    let (n_answered, n_errors) = confidence
        .iter()
        .zip(error)
        .filter(|&(&c, _)| c >= threshold)
        .fold((0, 0), |(answered, errors), (_, &e)| (answered + 1, errors + u64::from(e)));
    outcome(threshold, n, n_answered, n_errors)
}

/// The lowest confidence threshold whose selective risk is certified `≤ alpha` with
/// probability `≥ 1 − delta`, by Learn-then-Test with fixed-sequence testing; `None` when no
/// threshold can be certified.
///
/// # What it does
/// For each candidate threshold λ — the distinct calibration confidences, from the highest
/// (most conservative) down — let `n_λ` be the number of calibration queries with
/// `confidence ≥ λ` and `k_λ` the errors among them. The null hypothesis `H_λ: R(λ) > alpha`,
/// with `R(λ)` the selective risk, has the exact binomial p-value
/// `p_λ = P(Binomial(n_λ, alpha) ≤ k_λ)` ([`binomial_cdf`](crate::binomial_cdf)). Walking down,
/// `H_λ` is rejected while `p_λ ≤ delta` and the walk stops at the first threshold where it is
/// not; λ̂ is the lowest rejected threshold. Testing a fixed sequence and stopping at the first
/// non-rejection keeps the family-wise error rate at `delta` with no multiplicity correction
/// (Angelopoulos et al. 2021, Proposition 3), because a wrong rejection requires rejecting the
/// first true null of the sequence.
///
/// Thresholds answering too few queries to be rejected at all — fewer than
/// [`min_answered`](HandoffConfig::min_answered), or so few that `(1 − alpha)^{n_λ} > delta`
/// (no errors still gives `p_λ > delta`) — are skipped, not tested: as in the authors' code,
/// the sequence starts at the first threshold with enough answered queries. Otherwise the single
/// highest-confidence query would always end the walk.
///
/// # The guarantee
/// Let the calibration pairs `(cᵢ, eᵢ)` be independent draws from one distribution `D`, and
/// `R(λ) = P(e = 1 | c ≥ λ)` the selective risk of a fresh query from `D`. Then, over the draw
/// of the calibration set,
///
/// `P( R(λ̂) ≤ alpha ) ≥ 1 − delta`.
///
/// It is a statement about the calibration draw: in at most a `delta` share of calibration sets
/// is the certified threshold too low. It is not a bound on the error rate of one batch of test
/// queries: test queries from `D` (exchangeable with the calibration set) have an error rate
/// among the answered that concentrates around `R(λ̂)` but can exceed `alpha` by sampling
/// noise. When `D` shifts — new intents, new phrasings, stress — nothing is guaranteed; measure
/// the stressed queries with [`selective_risk`] at λ̂.
///
/// LTT's theorem is stated for thresholds fixed before the data are seen. The candidates here
/// are what a fine fixed grid reduces to: between two consecutive calibration confidences the
/// answered calibration set, and so the p-value, does not change, and λ̂ is the most
/// conservative point of its stretch. The start of the sequence depends on the confidences
/// (not on the errors), as in the authors' code; the tests check the `1 − delta` guarantee by
/// simulation, for a risk that falls with confidence and for one that does not.
///
/// `None` means no threshold is certified: hand every query to a human (λ̂ = +∞, nothing is
/// answered, and the guarantee holds trivially). It happens when the calibration set is too
/// small (fewer than `⌈ln δ / ln(1 − α)⌉` queries: 22 for α = δ = 0.1), or when the most
/// confident queries already make too many errors.
///
/// # Why it matters
/// Picking the threshold where the *empirical* risk on the calibration set reaches `alpha`
/// overshoots about half the time, since the calibration risk is a noisy estimate; the test
/// suite shows that rule failing the guarantee. LTT pays for the guarantee with coverage: the
/// certified threshold answers fewer queries.
///
/// # Parameters
/// - `confidence`, `error`: the calibration set, as in [`selective_risk`]; never used for
///   training.
/// - `config`: `alpha`, `delta` and the optional start of the sequence.
///
/// # Errors
/// [`CalibrationError::InvalidAlpha`] or [`CalibrationError::InvalidDelta`] unless both are in
/// (0, 1); [`CalibrationError::ShapeMismatch`] when the lengths differ;
/// [`CalibrationError::Empty`] without queries; [`CalibrationError::NanScore`] for a NaN
/// confidence.
///
/// # Example
/// ```
/// use stressor_calibration::{HandoffConfig, handoff_threshold, selective_risk};
/// // 200 queries with confidence i/200; every answer below 0.4 is wrong.
/// let confidence: Vec<f64> = (0..200).map(|i| f64::from(i) / 200.0).collect();
/// let error: Vec<bool> = (0..200).map(|i| i < 80).collect();
/// let handoff = handoff_threshold(&confidence, &error, &HandoffConfig::new(0.1, 0.1))
///     .unwrap()
///     .expect("the top 120 queries are all right");
/// assert!(handoff.threshold < 0.4 && handoff.p_value <= 0.1);
/// assert!(handoff.calibration.risk.value <= 0.1);
/// // Rasa's default of 0.3 answers more, and more wrongly, on the same queries.
/// assert!(selective_risk(&confidence, &error, 0.3).risk.value > 0.1);
/// // Twenty queries cannot certify anything at alpha = delta = 0.1.
/// let few = handoff_threshold(&confidence[180..], &error[180..], &HandoffConfig::new(0.1, 0.1));
/// assert_eq!(few, Ok(None));
/// ```
///
/// # References
/// - Angelopoulos, Bates, Candès, Jordan, Lei, *Learn then Test: Calibrating Predictive
///   Algorithms to Achieve Risk Control*, arXiv:2110.01052, 2021.
/// - Geifman, El-Yaniv, *Selective Classification for Deep Neural Networks*, NeurIPS 2017 (the
///   same binomial bound, with a union bound instead of a fixed sequence).
pub fn handoff_threshold(
    confidence: &[f64],
    error: &[bool],
    config: &HandoffConfig,
) -> Result<Option<Handoff>, CalibrationError> {
    let HandoffConfig { alpha, delta, min_answered } = *config;
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(CalibrationError::InvalidAlpha { alpha });
    }
    if !(delta > 0.0 && delta < 1.0) {
        return Err(CalibrationError::InvalidDelta { delta });
    }
    if error.len() != confidence.len() {
        return Err(CalibrationError::ShapeMismatch {
            what: "error",
            len: error.len(),
            expected: confidence.len(),
        });
    }
    if confidence.is_empty() {
        return Err(CalibrationError::Empty);
    }
    if let Some(sample) = confidence.iter().position(|c| c.is_nan()) {
        return Err(CalibrationError::NanScore { what: "confidence", sample });
    }
    let n = confidence.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| confidence[a].total_cmp(&confidence[b]));
    let mut certified = None;
    let mut n_tested = 0;
    let (mut n_answered, mut n_errors) = (0_u64, 0_u64);
    // Walk the ascending order from the top, one group of tied confidences at a time.
    let mut end = n;
    while end > 0 {
        let threshold = confidence[order[end - 1]];
        let mut start = end - 1;
        while start > 0 && confidence[order[start - 1]] == threshold {
            start -= 1;
        }
        n_answered += (end - start) as u64;
        n_errors += order[start..end].iter().filter(|&&i| error[i]).count() as u64;
        end = start;
        let testable = n_answered >= min_answered && binomial_cdf(0, n_answered, alpha) <= delta;
        if !testable {
            continue;
        }
        n_tested += 1;
        let p_value = binomial_cdf(n_errors, n_answered, alpha);
        if p_value > delta {
            break;
        }
        certified = Some((threshold, p_value, n_answered, n_errors));
    }
    Ok(certified.map(|(threshold, p_value, n_answered, n_errors)| Handoff {
        threshold,
        p_value,
        n_tested,
        calibration: outcome(threshold, n as u64, n_answered, n_errors),
    }))
}

fn outcome(threshold: f64, n: u64, n_answered: u64, n_errors: u64) -> SelectiveRisk {
    SelectiveRisk {
        threshold,
        n,
        n_answered,
        n_errors,
        coverage: Estimate::proportion(n_answered, n),
        risk: Estimate::proportion(n_errors, n_answered),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_configs_and_inputs_are_errors() {
        let config = HandoffConfig::new(0.1, 0.1);
        for alpha in [0.0, 1.0, f64::NAN] {
            let config = HandoffConfig { alpha, ..config };
            assert!(matches!(
                handoff_threshold(&[0.5], &[false], &config),
                Err(CalibrationError::InvalidAlpha { .. })
            ));
        }
        for delta in [0.0, 1.0, f64::NAN] {
            let config = HandoffConfig { delta, ..config };
            assert!(matches!(
                handoff_threshold(&[0.5], &[false], &config),
                Err(CalibrationError::InvalidDelta { .. })
            ));
        }
        assert_eq!(handoff_threshold(&[], &[], &config), Err(CalibrationError::Empty));
        assert!(matches!(
            handoff_threshold(&[0.5], &[], &config),
            Err(CalibrationError::ShapeMismatch { what: "error", len: 0, expected: 1 })
        ));
        assert_eq!(
            handoff_threshold(&[0.5, f64::NAN], &[false, false], &config),
            Err(CalibrationError::NanScore { what: "confidence", sample: 1 })
        );
    }

    #[test]
    fn the_sequence_starts_where_a_rejection_is_possible_and_stops_at_the_first_failure() {
        // α = δ = 0.1: 0.9²¹ = 0.109 > 0.1 ≥ 0.9²² = 0.098, so 22 answers are the minimum.
        let config = HandoffConfig::new(0.1, 0.1);
        let confidence: Vec<f64> = (0..40).map(|i| f64::from(40 - i)).collect();
        let mut error = vec![false; 40];
        let all_right = handoff_threshold(&confidence, &error, &config).expect("valid");
        let all_right = all_right.expect("40 right answers certify");
        assert_eq!((all_right.threshold, all_right.calibration.n_answered), (1.0, 40));
        assert_eq!(all_right.n_tested, 19);
        // One error in the top 22: p = P(Bin(22, 0.1) ≤ 1) = 0.33 ends the walk at once.
        error[3] = true;
        assert_eq!(handoff_threshold(&confidence, &error, &config), Ok(None));
        // Starting at 30 answers: P(Bin(30, 0.1) ≤ 1) = 0.18 still fails, 40 answers (0.08)
        // would pass but the walk has stopped.
        let late = HandoffConfig { min_answered: 30, ..config };
        assert_eq!(handoff_threshold(&confidence, &error, &late), Ok(None));
        let later = HandoffConfig { min_answered: 40, ..config };
        let handoff = handoff_threshold(&confidence, &error, &later).expect("valid");
        let handoff = handoff.expect("1 error in 40 certifies");
        assert_eq!((handoff.threshold, handoff.n_tested), (1.0, 1));
        assert!((handoff.p_value - binomial_cdf(1, 40, 0.1)).abs() < 1e-15);
    }

    #[test]
    fn ties_enter_together() {
        // δ just above the p-value 1/2, which is computed to within rounding.
        let config = HandoffConfig::new(0.5, 0.51);
        // One group of three: answered together or not at all.
        let handoff = handoff_threshold(&[0.7, 0.7, 0.7], &[false, false, true], &config);
        let handoff = handoff.expect("valid").expect("p = P(Bin(3, 0.5) ≤ 1) = 0.5");
        assert_eq!(handoff.calibration.n_answered, 3);
        assert!((handoff.p_value - 0.5).abs() < 1e-15);
    }

    #[test]
    fn selective_risk_of_invalid_input_is_nan() {
        let nan_threshold = selective_risk(&[0.5], &[true], f64::NAN);
        assert!(nan_threshold.coverage.value.is_nan() && nan_threshold.risk.ci.is_none());
        assert!(selective_risk(&[0.5], &[], 0.3).risk.value.is_nan());
        assert!(selective_risk(&[], &[], 0.3).coverage.value.is_nan());
        let everything =
            selective_risk(&[0.5, f64::NEG_INFINITY], &[true, false], f64::NEG_INFINITY);
        assert_eq!((everything.n_answered, everything.risk.value), (2, 0.5));
    }
}
