//! The guarantee of `handoff_threshold`, by simulation: over many calibration sets drawn from a
//! known distribution, the true selective risk at the certified threshold exceeds α in at most
//! about δ of them — and the plug-in rule "lowest threshold with calibration risk ≤ α" does not
//! pass the same check.

use stressor_calibration::{HandoffConfig, handoff_threshold, risk_coverage, selective_risk};

use crate::Uniform;

/// Confidence uniform on [0, 1]; a wrong answer with probability `slope · (1 − c)`, plus `bump`
/// on `[band_low, band_high)` (confidently wrong answers, say out-of-scope queries that look
/// like an intent).
#[derive(Clone, Copy)]
struct Population {
    slope: f64,
    bump: f64,
    band_low: f64,
    band_high: f64,
}

impl Population {
    fn error_probability(&self, c: f64) -> f64 {
        let in_band = (self.band_low..self.band_high).contains(&c);
        self.slope * (1.0 - c) + if in_band { self.bump } else { 0.0 }
    }

    /// `R(λ) = P(error | c ≥ λ)`, in closed form.
    fn selective_risk(&self, threshold: f64) -> f64 {
        let answered = 1.0 - threshold;
        let band = (self.band_high - threshold.max(self.band_low)).max(0.0);
        (self.slope * answered * answered / 2.0 + self.bump * band) / answered
    }

    fn draw(&self, uniform: &mut Uniform, n: usize) -> (Vec<f64>, Vec<bool>) {
        (0..n)
            .map(|_| {
                let c = uniform.next();
                (c, uniform.next() < self.error_probability(c))
            })
            .unzip()
    }
}

/// `R(λ) = 0.25 (1 − λ)`: at most 0.1 exactly for `λ ≥ 0.6`.
const FALLING: Population = Population { slope: 0.5, bump: 0.0, band_low: 0.0, band_high: 0.0 };

/// `R(λ) ≤ 0.1` on [0.561, 0.772] and above about 0.87 only: the confidently wrong band makes
/// the risk not monotone, so a sequence that walks through the band must stop there.
const BUMP: Population = Population { slope: 0.3, bump: 0.3, band_low: 0.85, band_high: 0.9 };

const ALPHA: f64 = 0.1;
const DELTA: f64 = 0.1;
const N_CALIBRATION: usize = 500;
const RUNS: u64 = 1000;

/// At most `DELTA` of the runs may fail; three binomial standard deviations of slack for the
/// simulation noise, `3 √(δ(1 − δ)/runs)` ≈ 0.028.
fn allowed_failure_rate() -> f64 {
    DELTA + 3.0 * (DELTA * (1.0 - DELTA) / RUNS as f64).sqrt()
}

/// A way to pick a threshold from a calibration set (confidence, error).
type ThresholdRule<'a> = dyn Fn(&[f64], &[bool]) -> Option<f64> + 'a;

struct Simulated {
    /// The share of runs whose threshold has a true risk above α (no threshold: not a failure).
    failure_rate: f64,
    /// The share of runs with a threshold.
    certified_rate: f64,
    /// The mean true coverage `1 − λ̂` over the runs (0 without a threshold).
    mean_coverage: f64,
}

fn simulate(population: Population, seed: u64, rule: &ThresholdRule<'_>) -> Simulated {
    let mut uniform = Uniform::new(seed);
    let (mut failures, mut certified, mut coverage) = (0_u32, 0_u32, 0.0);
    for _ in 0..RUNS {
        let (confidence, error) = population.draw(&mut uniform, N_CALIBRATION);
        if let Some(threshold) = rule(&confidence, &error) {
            certified += 1;
            coverage += 1.0 - threshold;
            if population.selective_risk(threshold) > ALPHA {
                failures += 1;
            }
        }
    }
    let runs = RUNS as f64;
    Simulated {
        failure_rate: f64::from(failures) / runs,
        certified_rate: f64::from(certified) / runs,
        mean_coverage: coverage / runs,
    }
}

fn learn_then_test(config: HandoffConfig, confidence: &[f64], error: &[bool]) -> Option<f64> {
    let handoff = handoff_threshold(confidence, error, &config).expect("valid calibration set");
    handoff.map(|handoff| handoff.threshold)
}

/// The plug-in rule: the lowest threshold whose calibration risk is at most α.
fn plug_in(confidence: &[f64], error: &[bool]) -> Option<f64> {
    let mut thresholds = confidence.to_vec();
    thresholds.sort_by(f64::total_cmp);
    thresholds
        .into_iter()
        .find(|&threshold| selective_risk(confidence, error, threshold).risk.value <= ALPHA)
}

#[test]
fn the_certified_threshold_is_too_low_in_at_most_delta_of_calibration_sets() {
    // Measured with these seeds: LTT fails in 0.024 (falling) and 0.038 (bump) of the runs,
    // certifies a threshold in 0.76 and 0.86 of them with a mean coverage of 0.13 and 0.09
    // (0.4 and 0.44 are the most a threshold can have); the plug-in rule fails in 0.58 and 0.62.
    let allowed = allowed_failure_rate();
    let config = HandoffConfig::new(ALPHA, DELTA);
    for (name, population, seed) in [("falling", FALLING, 11), ("bump", BUMP, 12)] {
        let ltt = simulate(population, seed, &|c, e| learn_then_test(config, c, e));
        assert!(
            ltt.failure_rate <= allowed,
            "{name}: LTT fails in {:.3} of runs",
            ltt.failure_rate
        );
        // Not vacuous: "never certify" would pass the check above. One error among the ~22
        // most confident queries ends the sequence, hence the modest rates.
        assert!(ltt.certified_rate > 0.7, "{name}: certified in {:.3}", ltt.certified_rate);
        assert!(ltt.mean_coverage > 0.05, "{name}: mean coverage {:.3}", ltt.mean_coverage);
        // The check can fail: the plug-in rule, on the same calibration sets, fails it.
        let naive = simulate(population, seed, &plug_in);
        assert!(
            naive.failure_rate > 3.0 * allowed,
            "{name}: the plug-in rule fails in only {:.3} of runs",
            naive.failure_rate
        );
    }
}

#[test]
fn a_later_start_keeps_the_guarantee() {
    // The start depends on the calibration confidences; through the confidently wrong band it
    // must still stop in all but about δ of the runs (measured: 0.02).
    let config = HandoffConfig { min_answered: 100, ..HandoffConfig::new(ALPHA, DELTA) };
    let ltt = simulate(BUMP, 11, &|c, e| learn_then_test(config, c, e));
    assert!(ltt.failure_rate <= allowed_failure_rate(), "LTT fails in {:.3}", ltt.failure_rate);
}

#[test]
fn risk_coverage_is_the_selective_risk_of_every_threshold() {
    // The chatbot's "risk among answered vs coverage" is `risk_coverage` with correct = !error.
    let mut uniform = Uniform::new(5);
    let (confidence, error) = BUMP.draw(&mut uniform, 300);
    let rounded: Vec<f64> = confidence.iter().map(|c| (c * 20.0).round() / 20.0).collect();
    let correct: Vec<bool> = error.iter().map(|e| !e).collect();
    let curve = risk_coverage(&rounded, &correct);
    let mut thresholds = rounded.clone();
    thresholds.sort_by(|a, b| b.total_cmp(a));
    thresholds.dedup();
    assert_eq!(thresholds.len(), curve.coverage.len());
    for (i, &threshold) in thresholds.iter().enumerate() {
        let at = selective_risk(&rounded, &error, threshold);
        assert_eq!(at.coverage.value, curve.coverage[i], "coverage at {threshold}");
        assert!((at.risk.value - curve.risk[i]).abs() < 1e-15, "risk at {threshold}");
    }
}
