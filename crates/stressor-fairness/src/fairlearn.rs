//! Fairlearn's parity metrics (`fairlearn.metrics`, `method="between_groups"`): unsigned
//! spreads over every group that occurs.
//!
//! Each function equals its namesake in Fairlearn 0.15.0 (with scikit-learn 1.9.1, pandas
//! 3.1.2) to 1e-12 on the fixtures of `tests/fixtures/make_fixtures.py`, edge cases included:
//!
//! - Only groups that occur take part (`MetricFrame` fills combinations of several features
//!   that do not occur with NaN, and `group_min`/`group_max` skip NaN).
//! - A group without positive rows has true-positive rate **0**, and one without negative rows
//!   false-positive rate 0: Fairlearn reads the rates from scikit-learn's
//!   `confusion_matrix(normalize="true")`, which turns the 0/0 of an empty row into 0
//!   (`nan_to_num`). [`true_positive_rate`] and [`false_positive_rate`] are those rates; the
//!   [`Confusion`] methods of the same names are NaN instead.
//! - A ratio whose largest group rate is 0 is 0/0 = NaN (pandas divides without raising).
//! - With one group, differences are 0 and ratios 1 (or NaN when the one rate is 0).
//! - [`Agg::WorstCase`] takes Python's built-in `max`/`min` over the pair (TPR, FPR) in that
//!   order, so a NaN TPR ratio makes the equalized-odds ratio NaN while a NaN FPR ratio is
//!   passed over; [`Agg::Mean`] is pandas' `Series.mean`, which skips NaN.
//! - Fairlearn raises on empty input; this crate refuses it earlier
//!   ([`FairnessError::Empty`](crate::FairnessError::Empty)), and counts without rows give
//!   NaN.
//!
//! The differences are ≥ 0 and the ratios in [0, 1]; 0 and 1 mean parity.

use crate::counts::{Confusion, GroupCounts};

/// How [`equalized_odds_difference`] and [`equalized_odds_ratio`] combine the true- and
/// false-positive-rate spreads: Fairlearn's `agg`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Agg {
    /// The larger difference, the smaller ratio (`agg="worst_case"`, Fairlearn's default).
    #[default]
    WorstCase,
    /// The mean of the two (`agg="mean"`): AIF360's average odds, unsigned and over all
    /// groups. A low false-positive gap can hide a high true-positive gap; report both.
    Mean,
}

/// Fairlearn's `selection_rate`: `selected / n`.
pub fn selection_rate(group: &Confusion) -> f64 {
    group.selection_rate()
}

/// Fairlearn's `true_positive_rate`: `TP / positives`, 0 without positives.
pub fn true_positive_rate(group: &Confusion) -> f64 {
    if group.positives == 0 { 0.0 } else { group.true_positive_rate() }
}

/// Fairlearn's `false_positive_rate`: `FP / negatives`, 0 without negatives.
pub fn false_positive_rate(group: &Confusion) -> f64 {
    if group.negatives() == 0 { 0.0 } else { group.false_positive_rate() }
}

/// Fairlearn's `demographic_parity_difference`: the largest minus the smallest group selection
/// rate, `max_a P(ŷ=1 | A=a) − min_a P(ŷ=1 | A=a)`.
///
/// # Example
/// ```
/// use stressor_fairness::{Confusion, GroupCounts, fairlearn};
/// let counts = GroupCounts::from_cells(vec![
///     Confusion { n: 10, positives: 5, selected: 6, true_positives: 4 },
///     Confusion { n: 20, positives: 10, selected: 6, true_positives: 5 },
/// ])?;
/// assert!((fairlearn::demographic_parity_difference(&counts) - 0.3).abs() < 1e-15);
/// assert_eq!(fairlearn::demographic_parity_ratio(&counts), 0.3 / 0.6);
/// # Ok::<(), stressor_fairness::FairnessError>(())
/// ```
pub fn demographic_parity_difference(counts: &GroupCounts) -> f64 {
    difference(spread(counts, selection_rate))
}

/// Fairlearn's `demographic_parity_ratio`: the smallest over the largest group selection
/// rate; NaN when no group is selected. It is the four-fifths rule's impact ratio of the
/// worst group ([`impact_ratios`](crate::impact_ratios)).
pub fn demographic_parity_ratio(counts: &GroupCounts) -> f64 {
    ratio(spread(counts, selection_rate))
}

/// Fairlearn's `equalized_odds_difference`: the true-positive-rate and false-positive-rate
/// spreads (largest minus smallest group rate), combined by `agg`.
pub fn equalized_odds_difference(counts: &GroupCounts, agg: Agg) -> f64 {
    let tpr = difference(spread(counts, true_positive_rate));
    let fpr = difference(spread(counts, false_positive_rate));
    match agg {
        Agg::WorstCase => python_max(tpr, fpr),
        Agg::Mean => pandas_mean(tpr, fpr),
    }
}

/// Fairlearn's `equalized_odds_ratio`: the true-positive-rate and false-positive-rate ratios
/// (smallest over largest group rate), combined by `agg`.
pub fn equalized_odds_ratio(counts: &GroupCounts, agg: Agg) -> f64 {
    let tpr = ratio(spread(counts, true_positive_rate));
    let fpr = ratio(spread(counts, false_positive_rate));
    match agg {
        Agg::WorstCase => python_min(tpr, fpr),
        Agg::Mean => pandas_mean(tpr, fpr),
    }
}

/// Fairlearn's `equal_opportunity_difference`: the largest minus the smallest group
/// true-positive rate.
pub fn equal_opportunity_difference(counts: &GroupCounts) -> f64 {
    difference(spread(counts, true_positive_rate))
}

/// Fairlearn's `equal_opportunity_ratio`: the smallest over the largest group true-positive
/// rate; NaN when every group's is 0.
pub fn equal_opportunity_ratio(counts: &GroupCounts) -> f64 {
    ratio(spread(counts, true_positive_rate))
}

/// The smallest and largest `rate` over the groups that occur; NaN for both when none does.
pub(crate) fn spread(counts: &GroupCounts, rate: fn(&Confusion) -> f64) -> (f64, f64) {
    let mut observed = counts.cells.iter().filter(|cell| cell.n > 0).map(rate);
    let Some(first) = observed.next() else {
        return (f64::NAN, f64::NAN);
    };
    observed.fold((first, first), |(low, high), value| (low.min(value), high.max(value)))
}

fn difference((low, high): (f64, f64)) -> f64 {
    high - low
}

fn ratio((low, high): (f64, f64)) -> f64 {
    low / high
}

/// Python's `max([a, b])`: `b` replaces `a` only when `b > a`, so a NaN `a` stays.
fn python_max(a: f64, b: f64) -> f64 {
    if b > a { b } else { a }
}

/// Python's `min([a, b])`: `b` replaces `a` only when `b < a`, so a NaN `a` stays.
fn python_min(a: f64, b: f64) -> f64 {
    if b < a { b } else { a }
}

/// pandas' `Series([a, b]).mean()`: the mean of the values that are not NaN.
fn pandas_mean(a: f64, b: f64) -> f64 {
    match (a.is_nan(), b.is_nan()) {
        (false, false) => (a + b) / 2.0,
        (false, true) => a,
        (true, false) => b,
        (true, true) => f64::NAN,
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use super::*;

    fn counts(cells: &[(u64, u64, u64, u64)]) -> GroupCounts {
        GroupCounts::from_cells(
            cells
                .iter()
                .map(|&(n, positives, selected, true_positives)| Confusion {
                    n,
                    positives,
                    selected,
                    true_positives,
                })
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn a_group_without_positives_has_tpr_zero() {
        let c = counts(&[(4, 0, 2, 0), (4, 2, 2, 1)]);
        assert_eq!(equal_opportunity_difference(&c), 0.5);
        assert_eq!(equal_opportunity_ratio(&c), 0.0);
    }

    #[test]
    fn unobserved_groups_are_skipped_and_zero_maxima_are_nan() {
        let c = counts(&[(4, 2, 0, 0), (0, 0, 0, 0), (6, 3, 0, 0)]);
        assert_eq!(demographic_parity_difference(&c), 0.0);
        assert!(demographic_parity_ratio(&c).is_nan());
        // TPR ratio NaN first: worst case stays NaN; the mean skips it.
        assert!(equalized_odds_ratio(&c, Agg::WorstCase).is_nan());
        assert!(equalized_odds_ratio(&c, Agg::Mean).is_nan());
        let c = counts(&[(4, 2, 2, 2), (6, 6, 3, 3)]);
        // FPR ratio 0/0 (no false positives, and no negatives in group 1): passed over.
        assert_eq!(equalized_odds_ratio(&c, Agg::WorstCase), 0.5);
        assert_eq!(equalized_odds_ratio(&c, Agg::Mean), 0.5);
    }

    #[test]
    fn python_min_max_keep_a_leading_nan() {
        assert!(python_max(f64::NAN, 1.0).is_nan());
        assert_eq!(python_max(1.0, f64::NAN), 1.0);
        assert!(python_min(f64::NAN, 1.0).is_nan());
        assert_eq!(python_min(1.0, f64::NAN), 1.0);
    }
}
