//! All calibration metrics of a probability table at once, with bootstrap intervals.

use stressor_core::{Estimate, Interval, IntervalMethod, Seed, normal_cdf, normal_quantile};

use crate::input::Samples;
use crate::ranking::{aurc_of, auroc};
use crate::reliability::{Binning, ReliabilityBin, bin_samples, ece_of, histogram_of};
use crate::scoring::mean;

/// The confidence level of every interval in a [`CalibrationSummary`].
pub const LEVEL: f64 = 0.95;

/// How [`summarize`] bins and resamples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SummaryConfig {
    /// Bins of the reliability diagram, the confidence histogram and every ECE/MCE
    /// (default 15, as Guo et al. 2017).
    pub bins: usize,
    /// Bootstrap resamples per interval (default 200). 0 gives no intervals.
    pub resamples: u32,
}

impl Default for SummaryConfig {
    fn default() -> Self {
        SummaryConfig { bins: 15, resamples: 200 }
    }
}

/// Every calibration metric of one probability table, each with a 95 % interval.
///
/// Intervals are seeded bias-corrected percentile bootstraps over samples (one resample of the rows feeds
/// every metric) except `accuracy`, which has a Wilson interval. A replicate where a metric is
/// undefined (say, AUROC of a resample with no errors) is left out of that metric's interval.
/// Metrics that are NaN have no interval.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CalibrationSummary {
    /// The number of samples.
    pub n: u64,
    /// Top-label accuracy (Wilson interval).
    pub accuracy: Estimate,
    /// Mean top-label confidence; above `accuracy` means overconfident on average.
    pub mean_confidence: Estimate,
    /// [`expected_calibration_error`](crate::expected_calibration_error), equal-width bins.
    pub ece: Estimate,
    /// [`expected_calibration_error`](crate::expected_calibration_error), equal-mass bins.
    pub ece_equal_mass: Estimate,
    /// [`maximum_calibration_error`](crate::maximum_calibration_error), equal-width bins.
    pub mce: Estimate,
    /// [`brier_score`](crate::brier_score), in [0, 2].
    pub brier: Estimate,
    /// [`negative_log_likelihood`](crate::negative_log_likelihood).
    pub nll: Estimate,
    /// [`auroc`](crate::auroc) of the top-label confidence for telling correct predictions
    /// from errors; NaN when every prediction is right or every one is wrong.
    pub error_auroc: Estimate,
    /// The area under the [`risk_coverage`](crate::risk_coverage) curve of the top-label
    /// confidence.
    pub aurc: Estimate,
    /// The equal-width reliability diagram (`bins` entries, empty bins included).
    pub reliability: Vec<ReliabilityBin>,
    /// Counts of the top-label confidence in the same equal-width bins.
    pub confidence_histogram: Vec<u64>,
}

/// Computes every calibration metric of `probs` with seeded bootstrap intervals.
///
/// # What it does
/// Validates the table once, reduces it to per-sample top-label confidence, correctness,
/// Brier and NLL terms, computes each metric, then draws `config.resamples` bootstrap
/// resamples of the samples (indices from `seed`, so the same seed gives the same intervals)
/// and takes bias-corrected percentiles (Efron 1981; the plain 2.5 % and 97.5 % ones when half
/// the replicates fall below the estimate; linear interpolation, numpy's default) of each
/// metric over them. Plain percentiles would often exclude the estimate of an upward-biased
/// metric such as ECE.
///
/// # Why it matters
/// Calibration metrics on a few hundred samples are noisy: ECE in particular is biased upwards
/// on small samples and its spread is large. Gates on calibration should compare intervals,
/// not point values.
///
/// # Parameters
/// - `probs`, `k`, `labels`: the probability table, as everywhere in this crate.
/// - `config`: bins and resamples.
/// - `seed`: the bootstrap's randomness.
///
/// Invalid input (see [`check_probabilities`](crate::check_probabilities)) or no samples gives
/// NaN metrics without intervals, `n = labels.len()` and empty diagrams; call
/// `check_probabilities` to learn why.
///
/// # Example
/// ```
/// use stressor_calibration::{SummaryConfig, summarize};
/// use stressor_core::Seed;
/// let probs = [0.9, 0.1, 0.8, 0.2, 0.3, 0.7, 0.6, 0.4];
/// let summary = summarize(&probs, 2, &[0, 0, 1, 1], &SummaryConfig::default(), Seed::new(1));
/// assert_eq!(summary.n, 4);
/// assert_eq!(summary.accuracy.value, 0.75);
/// assert_eq!(summary.reliability.len(), 15);
/// let ci = summary.brier.ci.expect("four samples give an interval");
/// assert!(ci.lower <= summary.brier.value && summary.brier.value <= ci.upper);
/// ```
///
/// # References
/// - Efron, Tibshirani, *An Introduction to the Bootstrap*, Chapman & Hall 1993.
/// - Guo, Pleiss, Sun, Weinberger, *On Calibration of Modern Neural Networks*, ICML 2017.
pub fn summarize(
    probs: &[f32],
    k: usize,
    labels: &[u32],
    config: &SummaryConfig,
    seed: Seed,
) -> CalibrationSummary {
    let n = labels.len() as u64;
    let samples = match Samples::new(probs, k, labels) {
        Some(samples) if samples.len() > 0 => samples,
        _ => return empty_summary(n),
    };
    let bins = config.bins;
    let point = Metrics::of(&samples, bins);
    let mut replicates: Vec<Metrics> = Vec::with_capacity(config.resamples as usize);
    let stream = seed.derive("calibration/bootstrap");
    // A resample is a multiset of the samples: draw how often each is taken, then lay the
    // copies out in confidence order. Every metric sorts by confidence, and a stable sort of
    // sorted input is linear, so a replicate costs O(n) instead of three O(n log n) sorts.
    let n_samples = samples.len();
    let mut by_confidence: Vec<usize> = (0..n_samples).collect();
    by_confidence.sort_by(|&a, &b| samples.confidence[a].total_cmp(&samples.confidence[b]));
    let mut multiplicity = vec![0_u32; n_samples];
    let mut indices = Vec::with_capacity(n_samples);
    let mut resample = Samples::default();
    for replicate in 0..config.resamples {
        let replicate_seed = stream.derive_index(u64::from(replicate));
        multiplicity.fill(0);
        for draw in 0..n_samples {
            multiplicity[uniform_index(replicate_seed.derive_index(draw as u64), n_samples)] += 1;
        }
        indices.clear();
        for &index in &by_confidence {
            indices.extend(std::iter::repeat_n(index, multiplicity[index] as usize));
        }
        samples.gather_into(&indices, &mut resample);
        replicates.push(Metrics::of(&resample, bins));
    }
    let estimate = |metric: fn(&Metrics) -> f64| {
        let value = metric(&point);
        let values: Vec<f64> = replicates.iter().map(metric).collect();
        Estimate { value, n, ci: percentile_interval(value, values, config.resamples) }
    };
    let n_correct = samples.correct.iter().filter(|&&c| c).count() as u64;
    CalibrationSummary {
        n,
        accuracy: Estimate::proportion(n_correct, n),
        mean_confidence: estimate(|m| m.mean_confidence),
        ece: estimate(|m| m.ece),
        ece_equal_mass: estimate(|m| m.ece_equal_mass),
        mce: estimate(|m| m.mce),
        brier: estimate(|m| m.brier),
        nll: estimate(|m| m.nll),
        error_auroc: estimate(|m| m.error_auroc),
        aurc: estimate(|m| m.aurc),
        reliability: bin_samples(&samples.confidence, &samples.correct, bins, Binning::EqualWidth),
        confidence_histogram: if bins > 0 {
            histogram_of(&samples.confidence, bins)
        } else {
            Vec::new()
        },
    }
}

/// The bootstrapped metrics of one (re)sample.
struct Metrics {
    mean_confidence: f64,
    ece: f64,
    ece_equal_mass: f64,
    mce: f64,
    brier: f64,
    nll: f64,
    error_auroc: f64,
    aurc: f64,
}

impl Metrics {
    fn of(samples: &Samples, bins: usize) -> Metrics {
        let n = samples.len() as f64;
        // ECE and MCE share one equal-width binning.
        let diagram = bin_samples(&samples.confidence, &samples.correct, bins, Binning::EqualWidth);
        let filled = diagram.iter().filter(|bin| bin.count > 0);
        let (ece, mce) = if diagram.is_empty() {
            (f64::NAN, f64::NAN)
        } else {
            filled.fold((0.0, 0.0_f64), |(ece, mce), bin| {
                let gap = (bin.accuracy - bin.mean_confidence).abs();
                (ece + bin.count as f64 / n * gap, mce.max(gap))
            })
        };
        Metrics {
            mean_confidence: mean(&samples.confidence),
            ece,
            ece_equal_mass: ece_of(&samples.confidence, &samples.correct, bins, Binning::EqualMass),
            mce,
            brier: mean(&samples.brier),
            nll: mean(&samples.nll),
            error_auroc: auroc(&samples.confidence, &samples.correct),
            aurc: aurc_of(&samples.confidence, &samples.correct),
        }
    }
}

fn empty_summary(n: u64) -> CalibrationSummary {
    let nan = Estimate { value: f64::NAN, n, ci: None };
    CalibrationSummary {
        n,
        accuracy: nan,
        mean_confidence: nan,
        ece: nan,
        ece_equal_mass: nan,
        mce: nan,
        brier: nan,
        nll: nan,
        error_auroc: nan,
        aurc: nan,
        reliability: Vec::new(),
        confidence_histogram: Vec::new(),
    }
}

/// A uniform index below `n` from a seed: the seed's 64 bits scaled by `n` (Lemire's
/// multiply-shift; the bias is below `n / 2⁶⁴`). Seeds are splitmix64 outputs, so one derived
/// seed per draw is a counter-based generator and needs no `rand` dependency.
pub(crate) fn uniform_index(seed: Seed, n: usize) -> usize {
    ((u128::from(seed.value()) * n as u128) >> 64) as usize
}

/// The 95 % bias-corrected percentile interval of the finite replicate values.
pub(crate) fn percentile_interval(
    value: f64,
    mut values: Vec<f64>,
    resamples: u32,
) -> Option<Interval> {
    values.retain(|v| v.is_finite());
    if !value.is_finite() || values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    // Bias-corrected percentiles (Efron 1981): calibration errors are biased upwards in
    // resamples (a resample's ECE is rarely below the sample's), so plain percentiles can
    // exclude the estimate itself. z0 measures the shift; it is 0, and the interval the plain
    // percentile one, when half the replicates fall below the estimate.
    let b = values.len() as f64;
    let below = values.iter().filter(|v| **v < value).count() as f64;
    let ties = values.iter().filter(|v| **v == value).count() as f64;
    let share = ((below + ties / 2.0) / b).clamp(0.5 / b, 1.0 - 0.5 / b);
    let z0 = normal_quantile(share);
    let tail = (1.0 - LEVEL) / 2.0;
    let z = normal_quantile(1.0 - tail);
    let lower = normal_cdf(2.0 * z0 - z);
    let upper = normal_cdf(2.0 * z0 + z);
    Some(Interval {
        lower: quantile_sorted(&values, lower),
        upper: quantile_sorted(&values, upper),
        level: LEVEL,
        method: IntervalMethod::Bootstrap { resamples },
    })
}

/// Linear-interpolation quantile (numpy's default) of sorted, non-empty values.
fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    let weight = position - below as f64;
    sorted[below] * (1.0 - weight) + sorted[above] * weight
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_invalid_give_nan_without_intervals() {
        let config = SummaryConfig::default();
        let empty = summarize(&[], 3, &[], &config, Seed::new(0));
        assert_eq!(empty.n, 0);
        assert!(empty.ece.value.is_nan() && empty.ece.ci.is_none());
        let invalid = summarize(&[0.5, f32::NAN], 2, &[0], &config, Seed::new(0));
        assert_eq!(invalid.n, 1);
        assert!(invalid.brier.value.is_nan() && invalid.reliability.is_empty());
    }

    #[test]
    fn seeded_and_consistent_with_the_functions() {
        let probs: Vec<f32> = (0..60)
            .flat_map(|i| {
                let p = 0.5 + (i % 10) as f32 / 20.0;
                [p, 1.0 - p]
            })
            .collect();
        let labels: Vec<u32> = (0..60).map(|i| u32::from(i % 3 == 0)).collect();
        let config = SummaryConfig { bins: 10, resamples: 50 };
        let a = summarize(&probs, 2, &labels, &config, Seed::new(3));
        // Empty reliability bins hold NaN, so compare the printed form.
        let again = summarize(&probs, 2, &labels, &config, Seed::new(3));
        assert_eq!(format!("{a:?}"), format!("{again:?}"));
        assert_ne!(a.ece.ci, summarize(&probs, 2, &labels, &config, Seed::new(4)).ece.ci);
        let ece = crate::expected_calibration_error(&probs, 2, &labels, 10, Binning::EqualWidth);
        assert_eq!(a.ece.value, ece);
        let mce = crate::maximum_calibration_error(&probs, 2, &labels, 10, Binning::EqualWidth);
        assert_eq!(a.mce.value, mce);
        assert_eq!(a.brier.value, crate::brier_score(&probs, 2, &labels));
        assert_eq!(a.confidence_histogram.iter().sum::<u64>(), 60);
        assert_eq!(a.ece.ci.map(|ci| ci.method), Some(IntervalMethod::Bootstrap { resamples: 50 }));
    }

    #[test]
    fn uniform_index_stays_in_range() {
        for i in 0..1000 {
            assert!(uniform_index(Seed::new(9).derive_index(i), 7) < 7);
        }
        assert_eq!(uniform_index(Seed::new(u64::MAX), 1), 0);
    }
}
