//! Every metric against the values `tests/fixtures/make_fixtures.py` computed with
//! scikit-learn 1.9.1, numpy 2.4.6 and scipy 1.17.1.

use serde::Deserialize;
use stressor_calibration::{
    Binning, Conformal, HandoffConfig, ReliabilityBin, auroc, binomial_cdf, brier_score,
    confidence_histogram, energy_score, expected_calibration_error, fit_temperature, fpr_at_tpr,
    handoff_threshold, maximum_calibration_error, negative_log_likelihood, ood_auroc, reliability,
    risk_coverage, selective_risk,
};

const FIXTURES: &str = include_str!("../fixtures/reference.json");

/// Agreement required of closed-form metrics (they differ from numpy only in summation order).
const TOLERANCE: f64 = 1e-9;

#[derive(Deserialize)]
struct Fixtures {
    metrics: Vec<MetricCase>,
    auroc: Vec<AurocCase>,
    temperature: Vec<TemperatureCase>,
    conformal: Vec<ConformalCase>,
    binomial_cdf: Vec<BinomialCase>,
    handoff: Vec<HandoffCase>,
    ood: Vec<OodCase>,
    energy: Vec<EnergyCase>,
}

#[derive(Deserialize)]
struct BinomialCase {
    k: u64,
    n: u64,
    p: f64,
    cdf: f64,
}

#[derive(Deserialize)]
struct HandoffCase {
    name: String,
    alpha: f64,
    delta: f64,
    min_answered: u64,
    confidence: Vec<f64>,
    error: Vec<bool>,
    handoff: Option<HandoffExpected>,
    n_tested: u64,
    default_answered: u64,
    default_errors: u64,
}

#[derive(Deserialize)]
struct HandoffExpected {
    threshold: f64,
    p_value: f64,
    n_answered: u64,
    n_errors: u64,
}

#[derive(Deserialize)]
struct OodCase {
    name: String,
    in_scores: Vec<f64>,
    out_scores: Vec<f64>,
    auroc: f64,
    tpr: Vec<f64>,
    fpr_at_tpr: Vec<f64>,
    fpr_at_tpr_dropped: Vec<f64>,
}

#[derive(Deserialize)]
struct EnergyCase {
    name: String,
    k: usize,
    temperature: f64,
    logits: Vec<f64>,
    energy: Vec<f64>,
}

#[derive(Deserialize)]
struct MetricCase {
    name: String,
    k: usize,
    probs: Vec<f64>,
    labels: Vec<u32>,
    expected: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct Bin {
    lower: f64,
    upper: f64,
    count: u64,
    mean_confidence: Option<f64>,
    accuracy: Option<f64>,
}

#[derive(Deserialize)]
struct AurocCase {
    name: String,
    scores: Vec<f64>,
    positive: Vec<bool>,
    auroc: f64,
}

#[derive(Deserialize)]
struct TemperatureCase {
    name: String,
    k: usize,
    logits: Vec<f64>,
    labels: Vec<u32>,
    temperature: f64,
    nll_at_temperature: f64,
    nll_at_one: f64,
}

#[derive(Deserialize)]
struct ConformalCase {
    name: String,
    k: usize,
    alpha: f64,
    cal_probs: Vec<f64>,
    cal_labels: Vec<u32>,
    test_probs: Vec<f64>,
    test_labels: Vec<u32>,
    qhat: Option<f64>,
    set_sizes: Vec<usize>,
    coverage: f64,
    mean_set_size: f64,
    fallback_fraction: f64,
}

fn fixtures() -> Fixtures {
    serde_json::from_str(FIXTURES).expect("reference.json parses")
}

/// The fixtures hold float32 values as decimals; through f64 they convert back exactly.
fn to_f32(values: &[f64]) -> Vec<f32> {
    values.iter().map(|&v| v as f32).collect()
}

fn expected_f64(case: &MetricCase, key: &str) -> Option<f64> {
    let value = case.expected.get(key).unwrap_or_else(|| panic!("{}: no `{key}`", case.name));
    value.as_f64()
}

fn expected_of<T: for<'de> Deserialize<'de>>(case: &MetricCase, key: &str) -> T {
    let value = case.expected.get(key).unwrap_or_else(|| panic!("{}: no `{key}`", case.name));
    serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{}: `{key}`: {e}", case.name))
}

fn check(case: &str, what: &str, actual: f64, expected: Option<f64>, tolerance: f64) {
    match expected {
        Some(expected) => assert!(
            (actual - expected).abs() <= tolerance,
            "{case}: {what} = {actual}, reference {expected} (tolerance {tolerance})"
        ),
        None => assert!(actual.is_nan(), "{case}: {what} = {actual}, reference undefined"),
    }
}

fn check_bins(case: &str, what: &str, actual: &[ReliabilityBin], expected: &[Bin]) {
    assert_eq!(actual.len(), expected.len(), "{case}: {what} bin count");
    for (index, (a, e)) in actual.iter().zip(expected).enumerate() {
        let what = format!("{what}[{index}]");
        assert_eq!(a.count, e.count, "{case}: {what}.count");
        check(case, &format!("{what}.lower"), a.lower, Some(e.lower), 0.0);
        check(case, &format!("{what}.upper"), a.upper, Some(e.upper), 0.0);
        check(
            case,
            &format!("{what}.mean_confidence"),
            a.mean_confidence,
            e.mean_confidence,
            TOLERANCE,
        );
        check(case, &format!("{what}.accuracy"), a.accuracy, e.accuracy, TOLERANCE);
    }
}

#[test]
fn metrics_match_sklearn_and_numpy() {
    for case in fixtures().metrics {
        let (name, k) = (case.name.as_str(), case.k);
        let probs = to_f32(&case.probs);
        let labels = &case.labels;
        // sklearn brier_score_loss(..., scale_by_half=False) and log_loss.
        check(name, "brier", brier_score(&probs, k, labels), expected_f64(&case, "brier"), 1e-12);
        if k == 2 {
            // sklearn's default binary Brier score is half of the multiclass sum.
            let binary = expected_f64(&case, "brier_binary");
            check(name, "brier / 2", brier_score(&probs, k, labels) / 2.0, binary, 1e-12);
        }
        let nll = negative_log_likelihood(&probs, k, labels);
        check(name, "nll", nll, expected_f64(&case, "nll"), 1e-12);
        for bins in [15, 10] {
            for (binning, tag) in [(Binning::EqualWidth, "width"), (Binning::EqualMass, "mass")] {
                let ece = expected_calibration_error(&probs, k, labels, bins, binning);
                let key = format!("ece_{tag}_{bins}");
                check(name, &key, ece, expected_f64(&case, &key), TOLERANCE);
                let mce = maximum_calibration_error(&probs, k, labels, bins, binning);
                let key = format!("mce_{tag}_{bins}");
                check(name, &key, mce, expected_f64(&case, &key), TOLERANCE);
                let key = format!("reliability_{tag}_{bins}");
                let diagram = reliability(&probs, k, labels, bins, binning);
                check_bins(name, &key, &diagram, &expected_of::<Vec<Bin>>(&case, &key));
            }
            let key = format!("histogram_{bins}");
            let histogram = confidence_histogram(&probs, k, bins);
            assert_eq!(histogram, expected_of::<Vec<u64>>(&case, &key), "{name}: {key}");
        }
        let (confidence, correct) = top_label(&probs, k, labels);
        let error_auroc = auroc(&confidence, &correct);
        check(name, "error_auroc", error_auroc, expected_f64(&case, "error_auroc"), 1e-12);
        let curve = risk_coverage(&confidence, &correct);
        check(name, "aurc", curve.aurc, expected_f64(&case, "aurc"), TOLERANCE);
        let coverage: Vec<f64> = expected_of(&case, "coverage");
        let risk: Vec<f64> = expected_of(&case, "risk");
        assert_eq!(curve.coverage.len(), coverage.len(), "{name}: curve length");
        for (i, (a, e)) in curve.coverage.iter().zip(&coverage).enumerate() {
            check(name, &format!("coverage[{i}]"), *a, Some(*e), 1e-12);
        }
        for (i, (a, e)) in curve.risk.iter().zip(&risk).enumerate() {
            check(name, &format!("risk[{i}]"), *a, Some(*e), 1e-12);
        }
    }
}

#[test]
fn auroc_matches_roc_auc_score() {
    for case in fixtures().auroc {
        let value = auroc(&case.scores, &case.positive);
        check(&case.name, "auroc", value, Some(case.auroc), 1e-12);
    }
}

#[test]
fn temperature_matches_scipy() {
    for case in fixtures().temperature {
        let logits = to_f32(&case.logits);
        let t = fit_temperature(&logits, case.k, &case.labels).expect("valid fixture");
        // scipy's bounded Brent stops at xatol = 1e-11 on log T; both sit at the same optimum.
        let relative = (t - case.temperature).abs() / case.temperature;
        assert!(relative < 1e-6, "{}: T = {t}, scipy {}", case.name, case.temperature);
        let nll = nll_of_logits(&logits, case.k, &case.labels, t);
        check(&case.name, "nll(T)", nll, Some(case.nll_at_temperature), TOLERANCE);
        let at_one = nll_of_logits(&logits, case.k, &case.labels, 1.0);
        check(&case.name, "nll(1)", at_one, Some(case.nll_at_one), 1e-12);
    }
}

#[test]
fn conformal_matches_the_numpy_recipe() {
    for case in fixtures().conformal {
        let name = case.name.as_str();
        let cal = to_f32(&case.cal_probs);
        let test = to_f32(&case.test_probs);
        let fitted = Conformal::fit(&cal, case.k, &case.cal_labels, case.alpha).expect("valid");
        match case.qhat {
            // qhat is one of the scores: exact.
            Some(qhat) => assert_eq!(fitted.qhat(), qhat, "{name}: qhat"),
            None => assert_eq!(fitted.qhat(), f64::INFINITY, "{name}: qhat"),
        }
        assert_eq!(fitted.n_calibration(), case.cal_labels.len());
        let sizes: Vec<usize> =
            fitted.prediction_sets(&test, case.k).iter().map(Vec::len).collect();
        assert_eq!(sizes, case.set_sizes, "{name}: set sizes");
        let coverage = fitted.coverage(&test, case.k, &case.test_labels);
        check(name, "coverage", coverage, Some(case.coverage), 1e-12);
        let mean_size = fitted.mean_set_size(&test, case.k);
        check(name, "mean_set_size", mean_size, Some(case.mean_set_size), 1e-12);
        let fallback = fitted.fallback_fraction(&test, case.k);
        check(name, "fallback_fraction", fallback, Some(case.fallback_fraction), 1e-12);
    }
}

#[test]
fn binomial_cdf_matches_scipy() {
    let mut worst = (0.0, 0, 0, 0.0);
    for case in fixtures().binomial_cdf {
        let value = binomial_cdf(case.k, case.n, case.p);
        // Relative agreement, except where scipy's value is at the bottom of the f64 range.
        let error = (value - case.cdf).abs() / case.cdf.max(1e-290);
        if error > worst.0 {
            worst = (error, case.k, case.n, case.p);
        }
    }
    let (error, k, n, p) = worst;
    // The worst case, 1.7e-12, is at n = 10⁶, where rounding p alone moves the tail that much.
    assert!(error < 1e-11, "worst relative error {error:e} at k = {k}, n = {n}, p = {p}");
}

#[test]
fn handoff_matches_the_scipy_recipe() {
    for case in fixtures().handoff {
        let name = case.name.as_str();
        let config =
            HandoffConfig { alpha: case.alpha, delta: case.delta, min_answered: case.min_answered };
        let handoff = handoff_threshold(&case.confidence, &case.error, &config).expect("valid");
        match (&handoff, &case.handoff) {
            (Some(actual), Some(expected)) => {
                assert_eq!(actual.threshold, expected.threshold, "{name}: threshold");
                let counts = (actual.calibration.n_answered, actual.calibration.n_errors);
                assert_eq!(counts, (expected.n_answered, expected.n_errors), "{name}: counts");
                let relative = (actual.p_value - expected.p_value).abs() / expected.p_value;
                assert!(
                    relative < 1e-12,
                    "{name}: p = {}, scipy {}",
                    actual.p_value,
                    expected.p_value
                );
                assert_eq!(actual.n_tested, case.n_tested, "{name}: thresholds tested");
            }
            (None, None) => {}
            _ => panic!("{name}: handoff {handoff:?}, reference {}", case.handoff.is_some()),
        }
        let at_default = selective_risk(&case.confidence, &case.error, 0.3);
        let counts = (at_default.n_answered, at_default.n_errors);
        assert_eq!(counts, (case.default_answered, case.default_errors), "{name}: at 0.3");
    }
}

#[test]
fn ood_metrics_match_sklearn() {
    for case in fixtures().ood {
        let name = case.name.as_str();
        let value = ood_auroc(&case.in_scores, &case.out_scores);
        check(name, "auroc", value, Some(case.auroc), 1e-12);
        for (i, &tpr) in case.tpr.iter().enumerate() {
            // Both are a count over the same denominator: exact.
            let fpr = fpr_at_tpr(&case.in_scores, &case.out_scores, tpr);
            assert_eq!(fpr, case.fpr_at_tpr[i], "{name}: fpr at tpr {tpr}");
        }
    }
    // Where roc_curve's default drops the collinear points, its answer is a different one.
    let paired = fixtures().ood.into_iter().find(|case| case.name == "paired_ties");
    let paired = paired.expect("the paired_ties case");
    assert_ne!(paired.fpr_at_tpr, paired.fpr_at_tpr_dropped);
}

#[test]
fn energy_matches_scipy_logsumexp() {
    for case in fixtures().energy {
        let energy = energy_score(&to_f32(&case.logits), case.k, case.temperature);
        assert_eq!(energy.len(), case.energy.len(), "{}: rows", case.name);
        for (i, (a, e)) in energy.iter().zip(&case.energy).enumerate() {
            let relative = (a - e).abs() / e.abs().max(1.0);
            assert!(relative < 1e-12, "{}: energy[{i}] = {a}, scipy {e}", case.name);
        }
    }
}

/// Top-label confidence and correctness, first maximum wins (numpy's argmax).
fn top_label(probs: &[f32], k: usize, labels: &[u32]) -> (Vec<f64>, Vec<bool>) {
    probs
        .chunks_exact(k)
        .zip(labels)
        .map(|(row, &label)| {
            let mut best = 0;
            for (j, &p) in row.iter().enumerate() {
                if p > row[best] {
                    best = j;
                }
            }
            (f64::from(row[best]), best == label as usize)
        })
        .unzip()
}

/// Mean NLL of softmax(logits / t), in f64 throughout.
fn nll_of_logits(logits: &[f32], k: usize, labels: &[u32], t: f64) -> f64 {
    let total: f64 = logits
        .chunks_exact(k)
        .zip(labels)
        .map(|(row, &label)| {
            let scaled: Vec<f64> = row.iter().map(|&z| f64::from(z) / t).collect();
            let max = scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let log_sum = max + scaled.iter().map(|s| (s - max).exp()).sum::<f64>().ln();
            log_sum - scaled[label as usize]
        })
        .sum();
    total / labels.len() as f64
}
