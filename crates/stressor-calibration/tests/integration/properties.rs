//! Properties that hold for every input: ranges, calibration of calibrated data, conformal
//! coverage, and temperature scaling never making the fit-set NLL worse.

use proptest::prelude::*;
use stressor_calibration::{
    Binning, Conformal, SummaryConfig, auroc, brier_score, expected_calibration_error,
    fit_temperature, maximum_calibration_error, negative_log_likelihood, risk_coverage, summarize,
};
use stressor_core::Seed;

use crate::Uniform;

/// A probability table: `n` rows of `k` normalised positive weights (some exactly 0), labels.
fn table() -> impl Strategy<Value = (Vec<f32>, usize, Vec<u32>)> {
    (1_usize..6, 1_usize..60).prop_flat_map(|(k, n)| {
        (
            prop::collection::vec(prop_oneof![Just(0.0_f32), 0.0_f32..10.0], n * k),
            Just(k),
            prop::collection::vec(0..k as u32, n),
        )
            .prop_map(|(mut weights, k, labels)| {
                for row in weights.chunks_exact_mut(k) {
                    let total: f32 = row.iter().sum();
                    if total == 0.0 {
                        row.fill(1.0 / k as f32);
                    } else {
                        row.iter_mut().for_each(|w| *w = (*w / total).min(1.0));
                    }
                }
                (weights, k, labels)
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn metrics_stay_in_range((probs, k, labels) in table(), bins in 1_usize..20) {
        for binning in [Binning::EqualWidth, Binning::EqualMass] {
            let ece = expected_calibration_error(&probs, k, &labels, bins, binning);
            let mce = maximum_calibration_error(&probs, k, &labels, bins, binning);
            prop_assert!((0.0..=1.0).contains(&ece), "ece {}", ece);
            prop_assert!((0.0..=1.0).contains(&mce), "mce {}", mce);
            prop_assert!(ece <= mce + 1e-12, "ece {} > mce {}", ece, mce);
        }
        let brier = brier_score(&probs, k, &labels);
        prop_assert!((0.0..=2.0 + 1e-6).contains(&brier), "brier {}", brier);
        let nll = negative_log_likelihood(&probs, k, &labels);
        prop_assert!((0.0..=-f64::EPSILON.ln() + 1e-9).contains(&nll), "nll {}", nll);
    }

    #[test]
    fn auroc_is_a_probability_and_flips(
        pairs in prop::collection::vec((-3_i32..4, any::<bool>()), 2..80)
    ) {
        let scores: Vec<f64> = pairs.iter().map(|&(s, _)| f64::from(s) / 2.0).collect();
        let positive: Vec<bool> = pairs.iter().map(|&(_, p)| p).collect();
        let value = auroc(&scores, &positive);
        if positive.iter().all(|&p| p) || positive.iter().all(|&p| !p) {
            prop_assert!(value.is_nan());
        } else {
            prop_assert!((0.0..=1.0).contains(&value));
            let negated: Vec<f64> = scores.iter().map(|s| -s).collect();
            prop_assert!((value + auroc(&negated, &positive) - 1.0).abs() < 1e-12);
        }
        let curve = risk_coverage(&scores, &positive);
        prop_assert!((0.0..=1.0).contains(&curve.aurc));
        prop_assert_eq!(curve.coverage.last().copied(), Some(1.0));
    }

    #[test]
    fn temperature_scaling_never_increases_fit_nll(
        (logits, k, labels) in (2_usize..6, 2_usize..40).prop_flat_map(|(k, n)| (
            prop::collection::vec(-8.0_f32..8.0, n * k),
            Just(k),
            prop::collection::vec(0..k as u32, n),
        ))
    ) {
        let t = fit_temperature(&logits, k, &labels).expect("valid logits");
        prop_assert!(t.is_finite() && t > 0.0);
        let fitted = nll_of_logits(&logits, k, &labels, t);
        let unscaled = nll_of_logits(&logits, k, &labels, 1.0);
        prop_assert!(fitted <= unscaled + 1e-12, "T = {}: {} > {}", t, fitted, unscaled);
    }
}

#[test]
fn a_calibrated_sample_has_a_small_ece() {
    for seed in 0..8 {
        let mut uniform = Uniform::new(seed);
        let n = 20_000;
        let mut probs = Vec::with_capacity(2 * n);
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            // P(label = 1) = p exactly: calibrated by construction.
            let p = uniform.next() as f32;
            probs.extend([1.0 - p, p]);
            labels.push(u32::from(uniform.next() < f64::from(p)));
        }
        for binning in [Binning::EqualWidth, Binning::EqualMass] {
            let ece = expected_calibration_error(&probs, 2, &labels, 15, binning);
            assert!(ece < 0.02, "seed {seed}, {binning:?}: ece {ece}");
        }
        // A model twice as sharp (in logit) on the same labels is visibly miscalibrated.
        let sharp: Vec<f32> = probs
            .chunks_exact(2)
            .flat_map(|row| {
                let (a, b) = (row[0] * row[0], row[1] * row[1]);
                [a / (a + b), b / (a + b)]
            })
            .collect();
        let ece = expected_calibration_error(&sharp, 2, &labels, 15, Binning::EqualWidth);
        assert!(ece > 0.05, "seed {seed}: sharpened ece {ece}");
    }
}

#[test]
fn conformal_covers_exchangeable_data() {
    let (k, n_cal, n_test, alpha) = (5, 500, 500, 0.1);
    let runs: u32 = 60;
    let mut coverage_sum = 0.0;
    for seed in 0..runs {
        let mut uniform = Uniform::new(1000 + u64::from(seed));
        let mut draw = |n: usize| {
            let mut probs = Vec::with_capacity(n * k);
            let mut labels = Vec::with_capacity(n);
            for _ in 0..n {
                // Random sharp-ish rows; the label is drawn from the row itself.
                let weights: Vec<f64> = (0..k).map(|_| uniform.next().powi(3)).collect();
                let total: f64 = weights.iter().sum();
                let row: Vec<f32> = weights.iter().map(|w| (w / total) as f32).collect();
                let u = uniform.next() as f32;
                let mut cumulative = 0.0;
                let label = row
                    .iter()
                    .position(|&p| {
                        cumulative += p;
                        u < cumulative
                    })
                    .unwrap_or(k - 1);
                probs.extend(row);
                labels.push(label as u32);
            }
            (probs, labels)
        };
        let (cal_probs, cal_labels) = draw(n_cal);
        let (test_probs, test_labels) = draw(n_test);
        let fitted = Conformal::fit(&cal_probs, k, &cal_labels, alpha).expect("valid");
        coverage_sum += fitted.coverage(&test_probs, k, &test_labels);
    }
    let mean = coverage_sum / f64::from(runs);
    // Marginal guarantee: 1 − α ≤ E[coverage] ≤ 1 − α + 1/(n + 1). The mean over 60 runs has a
    // standard error of about 0.002; the tolerance is five of them.
    assert!(mean >= 1.0 - alpha - 0.01, "mean coverage {mean}");
    assert!(mean <= 1.0 - alpha + 1.0 / (n_cal as f64 + 1.0) + 0.01, "mean coverage {mean}");
}

#[test]
fn summary_intervals_bracket_their_values() {
    let mut uniform = Uniform::new(77);
    let (n, k) = (2_000, 4);
    let mut probs = Vec::with_capacity(n * k);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let weights: Vec<f64> = (0..k).map(|_| uniform.next() + 0.05).collect();
        let total: f64 = weights.iter().sum();
        probs.extend(weights.iter().map(|w| (w / total) as f32));
        labels.push((i % k) as u32);
    }
    let summary = summarize(&probs, k, &labels, &SummaryConfig::default(), Seed::new(5));
    for (name, estimate) in [
        ("mean_confidence", summary.mean_confidence),
        ("ece", summary.ece),
        ("brier", summary.brier),
        ("nll", summary.nll),
        ("error_auroc", summary.error_auroc),
        ("aurc", summary.aurc),
    ] {
        let ci = estimate.ci.unwrap_or_else(|| panic!("{name} has an interval"));
        assert!(ci.lower < ci.upper, "{name}: {ci:?}");
        assert!(ci.lower <= estimate.value && estimate.value <= ci.upper, "{name}: {estimate:?}");
    }
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
