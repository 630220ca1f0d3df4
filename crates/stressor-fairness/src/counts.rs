//! Per-group confusion counts and the rates read from them.

use std::iter::Sum;
use std::ops::{Add, AddAssign};

use crate::FairnessError;
use crate::groups::{GroupId, MAX_GROUPS};

/// The confusion counts of one group (or of all rows): everything the metrics of this crate
/// are computed from.
///
/// Rates with a zero denominator are NaN here (counts that are not
/// [consistent](Confusion::is_consistent) give meaningless rates, never a panic); the [`fairlearn`](crate::fairlearn) module
/// applies Fairlearn's own convention (0) where it matches Fairlearn.
///
/// # Example
/// ```
/// use stressor_fairness::Confusion;
/// let c = Confusion { n: 10, positives: 4, selected: 5, true_positives: 3 };
/// assert_eq!(c.false_positives(), 2);
/// assert_eq!(c.selection_rate(), 0.5);
/// assert_eq!(c.true_positive_rate(), 0.75);
/// assert_eq!(c.accuracy(), 0.7);
/// assert!(Confusion::default().selection_rate().is_nan());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Confusion {
    /// Rows.
    pub n: u64,
    /// Rows whose true label is positive (`y_true`).
    pub positives: u64,
    /// Rows the model selected (`y_pred`, the favourable decision).
    pub selected: u64,
    /// Rows both positive and selected.
    pub true_positives: u64,
}

/// The confusion counts of every group of a [`Groups`](crate::Groups) in one window, from
/// [`Groups::tally`](crate::Groups::tally).
///
/// Groups that do not occur in the window have `n == 0` and take no part in any metric.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupCounts {
    pub(crate) cells: Vec<Confusion>,
}

impl Confusion {
    /// Rows whose true label is negative.
    pub fn negatives(&self) -> u64 {
        self.n.saturating_sub(self.positives)
    }

    /// Negative rows the model selected.
    pub fn false_positives(&self) -> u64 {
        self.selected.saturating_sub(self.true_positives)
    }

    /// Positive rows the model did not select.
    pub fn false_negatives(&self) -> u64 {
        self.positives.saturating_sub(self.true_positives)
    }

    /// Negative rows the model did not select.
    pub fn true_negatives(&self) -> u64 {
        self.negatives().saturating_sub(self.false_positives())
    }

    /// `selected / n`: the share of rows selected, `P(ŷ = 1)`.
    pub fn selection_rate(&self) -> f64 {
        ratio(self.selected, self.n)
    }

    /// `TP / positives`: `P(ŷ = 1 | y = 1)`; NaN without positives.
    pub fn true_positive_rate(&self) -> f64 {
        ratio(self.true_positives, self.positives)
    }

    /// `FP / negatives`: `P(ŷ = 1 | y = 0)`; NaN without negatives.
    pub fn false_positive_rate(&self) -> f64 {
        ratio(self.false_positives(), self.negatives())
    }

    /// `FN / positives`: `P(ŷ = 0 | y = 1)`; NaN without positives.
    pub fn false_negative_rate(&self) -> f64 {
        ratio(self.false_negatives(), self.positives)
    }

    /// `(TP + TN) / n`; NaN without rows.
    pub fn accuracy(&self) -> f64 {
        ratio(self.true_positives.saturating_add(self.true_negatives()), self.n)
    }

    /// Whether the counts are consistent (`true_positives ≤ positives, selected ≤ n` and
    /// `false_positives ≤ negatives`), as every tally is. Counts built by hand should be.
    pub fn is_consistent(&self) -> bool {
        self.positives <= self.n
            && self.selected <= self.n
            && self.true_positives <= self.positives.min(self.selected)
            && self.selected - self.true_positives <= self.n.saturating_sub(self.positives)
    }

    /// Counts one row.
    #[inline]
    pub(crate) fn add_row(&mut self, truth: bool, decision: bool) {
        self.n += 1;
        self.positives += u64::from(truth);
        self.selected += u64::from(decision);
        self.true_positives += u64::from(truth & decision);
    }
}

impl GroupCounts {
    /// Counts from one [`Confusion`] per group, in group-index order: for callers that count
    /// themselves (a streaming monitor merging partial counts).
    ///
    /// # Errors
    /// [`FairnessError::TooManyGroups`] beyond [`MAX_GROUPS`] cells,
    /// [`FairnessError::Inconsistent`] for a group whose counts are not
    /// [consistent](Confusion::is_consistent), [`FairnessError::Empty`] when no group has rows.
    pub fn from_cells(cells: Vec<Confusion>) -> Result<GroupCounts, FairnessError> {
        if cells.len() > MAX_GROUPS {
            return Err(FairnessError::TooManyGroups {
                n_groups: cells.len() as u128,
                max: MAX_GROUPS,
            });
        }
        if let Some(group) = cells.iter().position(|cell| !cell.is_consistent()) {
            return Err(FairnessError::Inconsistent { group });
        }
        if cells.iter().all(|cell| cell.n == 0) {
            return Err(FairnessError::Empty);
        }
        Ok(GroupCounts { cells })
    }

    /// The number of groups, occurring or not.
    pub fn n_groups(&self) -> usize {
        self.cells.len()
    }

    /// Every group's counts, in group-index order.
    pub fn cells(&self) -> &[Confusion] {
        &self.cells
    }

    /// One group's counts; `None` for a group beyond [`GroupCounts::n_groups`].
    pub fn get(&self, group: GroupId) -> Option<&Confusion> {
        self.cells.get(group.index())
    }

    /// The groups that occur (`n > 0`), in group-index order, with their counts: the rows of
    /// Fairlearn's `MetricFrame.by_group`.
    pub fn observed(&self) -> impl Iterator<Item = (GroupId, &Confusion)> {
        self.cells
            .iter()
            .enumerate()
            .filter(|(_, cell)| cell.n > 0)
            .map(|(index, cell)| (GroupId::from_index(index), cell))
    }

    /// The counts of all rows: Fairlearn's `MetricFrame.overall`.
    pub fn overall(&self) -> Confusion {
        self.cells.iter().copied().sum()
    }

    /// The pooled counts of several groups, e.g. every age band of one sex (AIF360's
    /// privileged group given as a condition on one feature).
    ///
    /// # Errors
    /// [`FairnessError::UnknownGroup`] for a group beyond [`GroupCounts::n_groups`].
    pub fn pool(&self, groups: &[GroupId]) -> Result<Confusion, FairnessError> {
        let mut pooled = Confusion::default();
        for &group in groups {
            pooled += *self.get(group).ok_or(FairnessError::UnknownGroup {
                group: group.index(),
                n_groups: self.cells.len(),
            })?;
        }
        Ok(pooled)
    }
}

impl Add for Confusion {
    type Output = Confusion;

    fn add(self, other: Confusion) -> Confusion {
        Confusion {
            n: self.n.saturating_add(other.n),
            positives: self.positives.saturating_add(other.positives),
            selected: self.selected.saturating_add(other.selected),
            true_positives: self.true_positives.saturating_add(other.true_positives),
        }
    }
}

impl AddAssign for Confusion {
    fn add_assign(&mut self, other: Confusion) {
        *self = *self + other;
    }
}

impl Sum for Confusion {
    fn sum<I: Iterator<Item = Confusion>>(iter: I) -> Confusion {
        iter.fold(Confusion::default(), Add::add)
    }
}

/// `numerator / denominator` as `f64`, NaN for 0 / 0: the same single division as numpy's.
pub(crate) fn ratio(numerator: u64, denominator: u64) -> f64 {
    numerator as f64 / denominator as f64
}
