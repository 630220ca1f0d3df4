//! The metrics as [`Estimate`]s: stratified bootstrap intervals drawn on the counts.
//!
//! # Why resampling counts is resampling rows
//! The stratified bootstrap resamples each group's `n_g` rows with replacement. Every metric
//! here is a function of the groups' confusion cells (TP, FN, FP, TN) alone, and the cells of
//! `n_g` rows drawn uniformly with replacement are multinomial with `n_g` trials and the
//! observed cell shares as probabilities. So drawing that multinomial (as three sequential
//! binomials: `TP ~ Bin(n, tp/n)`, then FN among the rest, then FP) gives each replicate
//! statistic exactly the distribution a row resample gives, at a cost that depends on the
//! number of groups, not of rows: a 1000-replicate interval of a million-row window takes
//! about as long as one of a hundred rows.

use rand_distr::{Binomial, Distribution as _};
use stressor_core::{
    Estimate, Interval, IntervalMethod, LEVEL, Rng, Seed, normal_cdf, normal_quantile,
};

use crate::FairnessError;
use crate::aif360;
use crate::counts::{Confusion, GroupCounts};
use crate::fairlearn::{self, Agg};
use crate::groups::GroupId;

/// The number of bootstrap resamples the summaries use by default.
pub const RESAMPLES: u32 = 1000;

/// Fairlearn's between-group metrics of one window as estimates.
///
/// Each `n` is the size of the smallest group that occurs, which bounds how precise the
/// spread can be; the intervals are 95 % bias-corrected percentile bootstrap intervals,
/// stratified by group.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct BetweenGroupsSummary {
    /// [`fairlearn::demographic_parity_difference`].
    pub demographic_parity_difference: Estimate,
    /// [`fairlearn::demographic_parity_ratio`].
    pub demographic_parity_ratio: Estimate,
    /// [`fairlearn::equalized_odds_difference`] with [`Agg::WorstCase`].
    pub equalized_odds_difference: Estimate,
    /// [`fairlearn::equalized_odds_ratio`] with [`Agg::WorstCase`].
    pub equalized_odds_ratio: Estimate,
    /// [`fairlearn::equalized_odds_difference`] with [`Agg::Mean`].
    pub equalized_odds_difference_mean: Estimate,
    /// [`fairlearn::equalized_odds_ratio`] with [`Agg::Mean`].
    pub equalized_odds_ratio_mean: Estimate,
    /// [`fairlearn::equal_opportunity_difference`].
    pub equal_opportunity_difference: Estimate,
    /// [`fairlearn::equal_opportunity_ratio`].
    pub equal_opportunity_ratio: Estimate,
}

/// AIF360's signed two-group metrics of one window as estimates.
///
/// Each `n` is the size of the smaller side; the intervals are as in
/// [`BetweenGroupsSummary`], stratified by group (not by side) when a side pools groups.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct TwoGroupSummary {
    /// [`aif360::statistical_parity_difference`].
    pub statistical_parity_difference: Estimate,
    /// [`aif360::disparate_impact`].
    pub disparate_impact: Estimate,
    /// [`aif360::average_odds_difference`].
    pub average_odds_difference: Estimate,
    /// [`aif360::average_abs_odds_difference`].
    pub average_abs_odds_difference: Estimate,
    /// [`aif360::equal_opportunity_difference`].
    pub equal_opportunity_difference: Estimate,
}

/// Every Fairlearn between-group metric of `counts` with a bootstrap interval.
///
/// # What it does
/// Computes the eight metrics of [`BetweenGroupsSummary`], then `resamples` stratified
/// bootstrap replicates of the counts (each group keeps its size; its cells are redrawn, see
/// the module docs) and the 95 % bias-corrected percentile interval of each metric over the
/// replicates whose value is finite. Replicate `r` draws from
/// `seed.derive("fairness/bootstrap").derive_index(r)`, so the same seed gives the same
/// intervals, and [`summarize_two_groups`] with the same seed sees the same replicates.
///
/// A metric that is NaN on the window (a ratio with a zero maximum) has no interval; nor has
/// any metric with `resamples == 0` or counts without rows.
///
/// # Why it matters
/// A monitor compares a window's disparity with a threshold; with a few dozen applicants in
/// the smallest group, a difference of 0.15 is well within noise. The interval says whether
/// an alarm is evidence.
///
/// # Parameters
/// - `counts`: a window's counts.
/// - `resamples`: bootstrap replicates ([`RESAMPLES`] is a sound default).
/// - `seed`: the stream the replicates draw from.
///
/// # Example
/// ```
/// use stressor_core::Seed;
/// use stressor_fairness::{Confusion, GroupCounts, summarize_between_groups};
/// let counts = GroupCounts::from_cells(vec![
///     Confusion { n: 400, positives: 200, selected: 120, true_positives: 100 },
///     Confusion { n: 600, positives: 300, selected: 300, true_positives: 240 },
/// ])?;
/// let summary = summarize_between_groups(&counts, 500, Seed::new(7));
/// let dp = summary.demographic_parity_difference;
/// assert!((dp.value - 0.2).abs() < 1e-12);
/// assert_eq!(dp.n, 400);
/// let ci = dp.ci.expect("an interval");
/// assert!(ci.lower < 0.2 && 0.2 < ci.upper && ci.upper - ci.lower < 0.15);
/// # Ok::<(), stressor_fairness::FairnessError>(())
/// ```
///
/// # References
/// - Efron, *Nonparametric standard errors and confidence intervals*, Canadian Journal of
///   Statistics 9 (1981): the bias-corrected percentile interval.
pub fn summarize_between_groups(
    counts: &GroupCounts,
    resamples: u32,
    seed: Seed,
) -> BetweenGroupsSummary {
    let statistics: [fn(&GroupCounts) -> f64; 8] = [
        fairlearn::demographic_parity_difference,
        fairlearn::demographic_parity_ratio,
        |c| fairlearn::equalized_odds_difference(c, Agg::WorstCase),
        |c| fairlearn::equalized_odds_ratio(c, Agg::WorstCase),
        |c| fairlearn::equalized_odds_difference(c, Agg::Mean),
        |c| fairlearn::equalized_odds_ratio(c, Agg::Mean),
        fairlearn::equal_opportunity_difference,
        fairlearn::equal_opportunity_ratio,
    ];
    let n = smallest_group(counts);
    let [dpd, dpr, eod, eor, eod_mean, eor_mean, eopd, eopr] =
        bootstrap(counts, resamples, seed, n, |c| statistics.map(|statistic| statistic(c)));
    BetweenGroupsSummary {
        demographic_parity_difference: dpd,
        demographic_parity_ratio: dpr,
        equalized_odds_difference: eod,
        equalized_odds_ratio: eor,
        equalized_odds_difference_mean: eod_mean,
        equalized_odds_ratio_mean: eor_mean,
        equal_opportunity_difference: eopd,
        equal_opportunity_ratio: eopr,
    }
}

/// Every AIF360 two-group metric of the `unprivileged` against the `privileged` groups of
/// `counts`, each side pooled, with a bootstrap interval.
///
/// As [`summarize_between_groups`], with AIF360's metrics on the pooled sides. A side that
/// does not occur gives NaN metrics without intervals.
///
/// # Errors
/// [`FairnessError::UnknownGroup`] for a group beyond the counts' groups.
///
/// # Example
/// ```
/// use stressor_core::Seed;
/// use stressor_fairness::{Groups, summarize_two_groups};
/// let groups = Groups::single("sex", ["female", "male"])?;
/// let sex: Vec<u32> = (0..200).map(|i| i % 2).collect();
/// let y_true: Vec<bool> = (0..200).map(|i| i % 3 == 0).collect();
/// let y_pred: Vec<bool> = (0..200).map(|i| i % 2 == 1 || i % 3 == 0).collect();
/// let counts = groups.tally(&[&sex], &y_true, &y_pred)?;
/// let (female, male) = (groups.find(&["female"]).unwrap(), groups.find(&["male"]).unwrap());
/// let summary = summarize_two_groups(&counts, &[female], &[male], 200, seed_of_test())?;
/// assert!(summary.statistical_parity_difference.value < 0.0);
/// # fn seed_of_test() -> Seed { Seed::new(1) }
/// # Ok::<(), stressor_fairness::FairnessError>(())
/// ```
pub fn summarize_two_groups(
    counts: &GroupCounts,
    unprivileged: &[GroupId],
    privileged: &[GroupId],
    resamples: u32,
    seed: Seed,
) -> Result<TwoGroupSummary, FairnessError> {
    let sides = |c: &GroupCounts| -> (Confusion, Confusion) {
        // The groups were checked against these counts, whose replicates keep their groups.
        (c.pool(unprivileged).unwrap_or_default(), c.pool(privileged).unwrap_or_default())
    };
    let (u, p) = (counts.pool(unprivileged)?, counts.pool(privileged)?);
    let n = u.n.min(p.n);
    let [spd, di, aod, aaod, eod] = bootstrap(counts, resamples, seed, n, |c| {
        let (u, p) = sides(c);
        [
            aif360::statistical_parity_difference(&u, &p),
            aif360::disparate_impact(&u, &p),
            aif360::average_odds_difference(&u, &p),
            aif360::average_abs_odds_difference(&u, &p),
            aif360::equal_opportunity_difference(&u, &p),
        ]
    });
    Ok(TwoGroupSummary {
        statistical_parity_difference: spd,
        disparate_impact: di,
        average_odds_difference: aod,
        average_abs_odds_difference: aaod,
        equal_opportunity_difference: eod,
    })
}

/// Any count-based `statistic` of `counts` as an estimate, with the stratified bootstrap of
/// [`summarize_between_groups`]; `n` is the smallest group's size.
///
/// # Example
/// ```
/// use stressor_core::Seed;
/// use stressor_fairness::{Confusion, GroupCounts, estimate};
/// let counts = GroupCounts::from_cells(vec![
///     Confusion { n: 300, positives: 150, selected: 90, true_positives: 80 },
///     Confusion { n: 300, positives: 150, selected: 150, true_positives: 120 },
/// ])?;
/// let accuracy_gap = |c: &GroupCounts| c.cells()[1].accuracy() - c.cells()[0].accuracy();
/// let gap = estimate(&counts, accuracy_gap, 300, Seed::new(3));
/// assert!(gap.ci.is_some());
/// # Ok::<(), stressor_fairness::FairnessError>(())
/// ```
pub fn estimate(
    counts: &GroupCounts,
    mut statistic: impl FnMut(&GroupCounts) -> f64,
    resamples: u32,
    seed: Seed,
) -> Estimate {
    let n = smallest_group(counts);
    let [value] = bootstrap(counts, resamples, seed, n, |c| [statistic(c)]);
    value
}

/// The size of the smallest group that occurs; 0 when none does.
fn smallest_group(counts: &GroupCounts) -> u64 {
    counts.observed().map(|(_, cell)| cell.n).min().unwrap_or(0)
}

/// `K` statistics of `counts` with bias-corrected percentile intervals over `resamples`
/// stratified replicates.
fn bootstrap<const K: usize>(
    counts: &GroupCounts,
    resamples: u32,
    seed: Seed,
    n: u64,
    mut statistics: impl FnMut(&GroupCounts) -> [f64; K],
) -> [Estimate; K] {
    let values = statistics(counts);
    let bare = values.map(|value| Estimate { value, n, ci: None });
    if resamples == 0 || n == 0 || values.iter().all(|value| !value.is_finite()) {
        return bare;
    }
    let stream = seed.derive("fairness/bootstrap");
    let mut replicates: [Vec<f64>; K] =
        std::array::from_fn(|_| Vec::with_capacity(resamples as usize));
    let mut scratch = counts.clone();
    for replicate in 0..resamples {
        let mut rng = stream.derive_index(u64::from(replicate)).rng();
        for (draw, cell) in scratch.cells.iter_mut().zip(&counts.cells) {
            *draw = resample(cell, &mut rng);
        }
        for (column, value) in replicates.iter_mut().zip(statistics(&scratch)) {
            column.push(value);
        }
    }
    let mut replicates = replicates.into_iter();
    bare.map(|estimate| {
        let column = replicates.next().unwrap_or_default();
        Estimate { ci: percentile_interval(estimate.value, column, resamples), ..estimate }
    })
}

/// One stratified bootstrap draw of a group's cells: the multinomial of `n` rows over the
/// observed shares of TP, FN, FP and TN, drawn as sequential binomials.
fn resample(cell: &Confusion, rng: &mut Rng) -> Confusion {
    let (tp, fn_, fp) = (cell.true_positives, cell.false_negatives(), cell.false_positives());
    let n = cell.n;
    let drawn_tp = binomial(rng, n, tp, n);
    let drawn_fn = binomial(rng, n - drawn_tp, fn_, n - tp);
    let drawn_fp = binomial(rng, n - drawn_tp - drawn_fn, fp, n - tp - fn_);
    Confusion {
        n,
        positives: drawn_tp + drawn_fn,
        selected: drawn_tp + drawn_fp,
        true_positives: drawn_tp,
    }
}

/// A draw from `Bin(trials, successes / total)`, exact at the ends.
fn binomial(rng: &mut Rng, trials: u64, successes: u64, total: u64) -> u64 {
    if trials == 0 || successes == 0 {
        0
    } else if successes >= total {
        trials
    } else {
        // p is in (0, 1), which `Binomial::new` always accepts.
        Binomial::new(trials, successes as f64 / total as f64).map_or(0, |b| b.sample(rng))
    }
}

/// The 95 % bias-corrected percentile interval of the finite replicate values (as
/// stressor-calibration's summaries compute it).
fn percentile_interval(value: f64, mut values: Vec<f64>, resamples: u32) -> Option<Interval> {
    values.retain(|v| v.is_finite());
    if !value.is_finite() || values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    // Bias-corrected percentiles (Efron 1981): a spread over groups is biased upwards in
    // resamples (noise widens max − min), so plain percentiles can sit above the estimate
    // itself. z0 measures the shift; it is 0, and the interval the plain percentile one, when
    // half the replicates fall below the estimate.
    let b = values.len() as f64;
    let below = values.iter().filter(|v| **v < value).count() as f64;
    let ties = values.iter().filter(|v| **v == value).count() as f64;
    let share = ((below + ties / 2.0) / b).clamp(0.5 / b, 1.0 - 0.5 / b);
    let z0 = normal_quantile(share);
    let z = normal_quantile(1.0 - (1.0 - LEVEL) / 2.0);
    Some(Interval {
        lower: quantile_sorted(&values, normal_cdf(2.0 * z0 - z)),
        upper: quantile_sorted(&values, normal_cdf(2.0 * z0 + z)),
        level: LEVEL,
        method: IntervalMethod::Bootstrap { resamples },
    })
}

/// Linear-interpolation quantile (numpy's default) of sorted, non-empty values.
fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    let weight = position - below as f64;
    sorted[below] * (1.0 - weight) + sorted[above] * weight
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use super::*;

    #[test]
    fn a_resample_keeps_the_group_size_and_is_consistent() {
        let cell = Confusion { n: 1000, positives: 400, selected: 300, true_positives: 200 };
        let mut rng = Seed::new(5).rng();
        let (mut tp_sum, draws) = (0, 2000);
        for _ in 0..draws {
            let drawn = resample(&cell, &mut rng);
            assert_eq!(drawn.n, 1000);
            assert!(drawn.is_consistent());
            tp_sum += drawn.true_positives;
        }
        let mean = tp_sum as f64 / f64::from(draws);
        assert!((mean - 200.0).abs() < 2.0, "{mean}");
        let degenerate = Confusion { n: 7, positives: 7, selected: 7, true_positives: 7 };
        assert_eq!(resample(&degenerate, &mut rng), degenerate);
    }

    #[test]
    fn summaries_are_seeded() {
        let counts = GroupCounts::from_cells(vec![
            Confusion { n: 50, positives: 20, selected: 20, true_positives: 12 },
            Confusion { n: 80, positives: 40, selected: 50, true_positives: 30 },
        ])
        .unwrap();
        let a = summarize_between_groups(&counts, 100, Seed::new(1));
        assert_eq!(a, summarize_between_groups(&counts, 100, Seed::new(1)));
        assert_ne!(a, summarize_between_groups(&counts, 100, Seed::new(2)));
        assert_eq!(a.demographic_parity_difference.n, 50);
        let none = summarize_between_groups(&counts, 0, Seed::new(1));
        assert!(none.demographic_parity_ratio.ci.is_none());
        assert_eq!(none.demographic_parity_ratio.value, a.demographic_parity_ratio.value);
        let empty = summarize_between_groups(&GroupCounts::default(), 10, Seed::new(1));
        assert!(empty.equalized_odds_difference.value.is_nan());
        assert_eq!(empty.equalized_odds_difference.n, 0);
    }

    #[test]
    fn unknown_groups_are_errors() {
        let counts = GroupCounts::from_cells(vec![Confusion {
            n: 5,
            positives: 2,
            selected: 2,
            true_positives: 1,
        }])
        .unwrap();
        let res = summarize_two_groups(
            &counts,
            &[GroupId::from_index(0)],
            &[GroupId::from_index(3)],
            10,
            Seed::new(0),
        );
        assert_eq!(res.unwrap_err(), FairnessError::UnknownGroup { group: 3, n_groups: 1 });
    }
}
