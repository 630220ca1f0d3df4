//! AIF360's signed two-group metrics (`aif360.metrics.ClassificationMetric`): the
//! unprivileged group against the privileged one, both named by the caller.
//!
//! Unlike [`fairlearn`](crate::fairlearn)'s unsigned spreads, these keep the direction: a
//! negative difference (or a ratio below 1) means the unprivileged group fares worse. Each
//! side is a [`Confusion`], usually one group's counts or several groups pooled with
//! [`GroupCounts::pool`](crate::GroupCounts::pool) (AIF360's `privileged_groups=[{"sex": 1}]`
//! over intersectional groups is the pool of every group with that sex).
//!
//! The formulas are AIF360 0.6.1's (`classification_metric.py`, `dataset_metric.py`): rates as
//! plain quotients (`TPR = TP / P`), so a side without positives has a NaN true-positive rate
//! and NaN odds differences, and [`disparate_impact`] is ∞ when only the privileged side
//! selects no one (NaN when neither does), as numpy divides. The fixtures compare them with
//! AIF360 itself to 1e-12.
//!
//! # Example
//! ```
//! use stressor_fairness::{Confusion, aif360};
//! let unprivileged = Confusion { n: 100, positives: 50, selected: 30, true_positives: 25 };
//! let privileged = Confusion { n: 100, positives: 50, selected: 50, true_positives: 40 };
//! assert!((aif360::statistical_parity_difference(&unprivileged, &privileged) + 0.2).abs() < 1e-12);
//! assert!((aif360::disparate_impact(&unprivileged, &privileged) - 0.6).abs() < 1e-12);
//! // TPR 0.5 vs 0.8 and FPR 0.1 vs 0.2: ½((0.1 − 0.2) + (0.5 − 0.8)) = −0.2.
//! assert!((aif360::average_odds_difference(&unprivileged, &privileged) + 0.2).abs() < 1e-12);
//! ```

use crate::counts::Confusion;

/// `P(ŷ=1 | unprivileged) − P(ŷ=1 | privileged)`; 0 is parity, negative disfavours the
/// unprivileged group.
pub fn statistical_parity_difference(unprivileged: &Confusion, privileged: &Confusion) -> f64 {
    unprivileged.selection_rate() - privileged.selection_rate()
}

/// `P(ŷ=1 | unprivileged) / P(ŷ=1 | privileged)`; 1 is parity, below 0.8 fails the
/// four-fifths rule when the privileged group has the highest selection rate.
pub fn disparate_impact(unprivileged: &Confusion, privileged: &Confusion) -> f64 {
    unprivileged.selection_rate() / privileged.selection_rate()
}

/// `½[(FPR_u − FPR_p) + (TPR_u − TPR_p)]`; 0 is "equality of odds", but gaps of opposite sign
/// cancel.
pub fn average_odds_difference(unprivileged: &Confusion, privileged: &Confusion) -> f64 {
    0.5 * (false_positive_rate_difference(unprivileged, privileged)
        + true_positive_rate_difference(unprivileged, privileged))
}

/// `½[|FPR_u − FPR_p| + |TPR_u − TPR_p|]`; 0 is equality of odds, and gaps never cancel.
pub fn average_abs_odds_difference(unprivileged: &Confusion, privileged: &Confusion) -> f64 {
    0.5 * (false_positive_rate_difference(unprivileged, privileged).abs()
        + true_positive_rate_difference(unprivileged, privileged).abs())
}

/// `TPR_u − TPR_p` (AIF360's alias of `true_positive_rate_difference`); 0 is equal
/// opportunity.
pub fn equal_opportunity_difference(unprivileged: &Confusion, privileged: &Confusion) -> f64 {
    true_positive_rate_difference(unprivileged, privileged)
}

fn true_positive_rate_difference(unprivileged: &Confusion, privileged: &Confusion) -> f64 {
    unprivileged.true_positive_rate() - privileged.true_positive_rate()
}

fn false_positive_rate_difference(unprivileged: &Confusion, privileged: &Confusion) -> f64 {
    unprivileged.false_positive_rate() - privileged.false_positive_rate()
}
