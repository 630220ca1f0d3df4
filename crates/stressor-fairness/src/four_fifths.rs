//! The four-fifths rule of the US Uniform Guidelines on Employee Selection Procedures.

use crate::counts::{Confusion, GroupCounts};
use crate::groups::GroupId;

/// The four-fifths threshold: a group whose selection rate is below 0.8 of the highest group's
/// shows adverse impact.
pub const FOUR_FIFTHS: f64 = 0.8;

/// One group's standing under the four-fifths rule.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct ImpactRatio {
    /// The group.
    pub group: GroupId,
    /// Its rows.
    pub n: u64,
    /// Its selection rate.
    pub selection_rate: f64,
    /// Its selection rate over the highest group selection rate; NaN when no group is
    /// selected.
    pub impact_ratio: f64,
    /// Whether the ratio is below four fifths ([`FOUR_FIFTHS`]), decided exactly on the counts.
    pub adverse: bool,
}

/// The impact ratio of every group that occurs, in group-index order.
///
/// # What it does
/// Finds the highest group selection rate and divides each group's rate by it; a group is
/// `adverse` when `selected_g / n_g < 4/5 · selected_max / n_max`, compared exactly in integers
/// (`5 · selected_g · n_max < 4 · selected_max · n_g`), so a ratio of exactly 0.8 is never
/// flagged by rounding. When no group is selected every ratio is NaN and none is adverse
/// (nobody is selected, so no group is selected less). The smallest ratio is
/// [`demographic_parity_ratio`](crate::fairlearn::demographic_parity_ratio), bit for bit.
///
/// # Why it matters
/// "A selection rate for any race, sex, or ethnic group which is less than four-fifths (4/5)
/// (or eighty percent) of the rate for the group with the highest rate will generally be
/// regarded by the Federal enforcement agencies as evidence of adverse impact" (29 CFR
/// 1607.4(D); the same rule is 41 CFR 60-3.4). It is a screening rule of thumb: small groups
/// give extreme ratios, so read it with the intervals of
/// [`summarize_between_groups`](crate::summarize_between_groups).
///
/// # Parameters
/// - `counts`: a window's counts from [`Groups::tally`](crate::Groups::tally).
///
/// # Example
/// ```
/// use stressor_fairness::{Groups, impact_ratios};
/// let groups = Groups::single("sex", ["female", "male"])?;
/// let sex = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1];
/// let granted = [true, true, true, false, false, true, true, true, true, false];
/// let counts = groups.tally(&[&sex], &granted, &granted)?;
/// let ratios: Vec<_> = impact_ratios(&counts).collect();
/// assert_eq!(ratios[0].impact_ratio, 0.6 / 0.8);
/// assert!(ratios[0].adverse && !ratios[1].adverse);
/// # Ok::<(), stressor_fairness::FairnessError>(())
/// ```
///
/// # References
/// - 29 CFR § 1607.4(D), Uniform Guidelines on Employee Selection Procedures (1978).
pub fn impact_ratios(counts: &GroupCounts) -> impl Iterator<Item = ImpactRatio> + '_ {
    let highest = counts
        .cells
        .iter()
        .filter(|cell| cell.n > 0)
        .copied()
        .reduce(|best, cell| if rate_above(&cell, &best) { cell } else { best })
        .unwrap_or_default();
    let highest_rate = highest.selection_rate();
    counts.observed().map(move |(group, cell)| {
        let adverse = highest.selected > 0
            && (u128::from(cell.selected) * u128::from(highest.n)).saturating_mul(5)
                < (u128::from(highest.selected) * u128::from(cell.n)).saturating_mul(4);
        ImpactRatio {
            group,
            n: cell.n,
            selection_rate: cell.selection_rate(),
            impact_ratio: cell.selection_rate() / highest_rate,
            adverse,
        }
    })
}

/// Whether `a`'s selection rate is above `b`'s, compared exactly.
fn rate_above(a: &Confusion, b: &Confusion) -> bool {
    u128::from(a.selected) * u128::from(b.n) > u128::from(b.selected) * u128::from(a.n)
}
