//! Group fairness metrics for stressor.
//!
//! A credit model can stay accurate and still grant credit unequally. This crate measures how
//! a binary classifier's decisions differ between groups of a sensitive feature (sex, age
//! band, or their intersection), fast enough for a monitor to compute per time window:
//!
//! - groups: [`Groups`] declares sensitive [`Feature`]s once (names kept for reports) and
//!   forms every combination of their levels, as Fairlearn's `MetricFrame` does;
//!   [`Groups::tally`] counts a window's rows per group in one pass into [`GroupCounts`]
//!   (a [`Confusion`] per group: rows, positives, selections, true positives), from which
//!   every metric is read without touching the rows again;
//! - [`fairlearn`]: Fairlearn's unsigned between-group metrics (demographic parity, equalized
//!   odds with both aggregations, equal opportunity; differences and ratios), equal to
//!   Fairlearn 0.15.0 on edge cases too;
//! - [`aif360`]: AIF360's signed two-group metrics (statistical parity difference, disparate
//!   impact, average (absolute) odds difference, equal opportunity difference) of an
//!   unprivileged against a privileged group named by the caller;
//! - [`impact_ratios`]: the four-fifths rule (29 CFR 1607.4(D)) per group;
//! - [`summarize_between_groups`], [`summarize_two_groups`] and [`estimate`]: the metrics as
//!   [`Estimate`](stressor_core::Estimate)s with seeded, stratified bootstrap intervals drawn
//!   on the counts rather than the rows (equivalent for count-based metrics; see
//!   [`summarize_between_groups`]).
//!
//! `true` is the positive label in `y_true` and the favourable decision in `y_pred` (the
//! credit is granted). Bad input (no rows, slices of different lengths, a code that is not a
//! level) is a [`FairnessError`], never a panic; the metrics themselves always return a
//! number, following the source library's convention where a rate is undefined. Checked
//! against Fairlearn 0.15.0 and AIF360 0.6.1 to 1e-12 (`tests/fixtures/make_fixtures.py`).
//!
//! Non-goals: sample weights, Fairlearn's `method="to_overall"` and control features,
//! mitigation (reweighing, threshold optimisation), IO.
//!
//! ```
//! use stressor_core::Seed;
//! use stressor_fairness::{Feature, Groups, fairlearn, impact_ratios, summarize_between_groups};
//! let groups = Groups::new(vec![
//!     Feature::new("sex", ["female", "male"]),
//!     Feature::new("age", ["<40", "40+"]),
//! ])?;
//! let sex = [0, 0, 0, 0, 1, 1, 1, 1];
//! let age = [0, 1, 0, 1, 0, 1, 0, 1];
//! let repaid = [true, true, false, true, true, false, true, true];
//! let granted = [true, false, false, true, true, true, true, true];
//! let counts = groups.tally(&[&sex, &age], &repaid, &granted)?;
//! assert_eq!(fairlearn::demographic_parity_difference(&counts), 0.5);
//! let worst = impact_ratios(&counts).find(|ratio| ratio.adverse).expect("an adverse group");
//! assert_eq!(groups.name(worst.group).to_string(), "sex=female, age=<40");
//! let summary = summarize_between_groups(&counts, 200, Seed::new(1));
//! assert_eq!(summary.demographic_parity_difference.n, 2);
//! # Ok::<(), stressor_fairness::FairnessError>(())
//! ```

#![warn(missing_docs)]

mod counts;
mod error;
mod four_fifths;
mod groups;
mod summary;

pub mod aif360;
pub mod fairlearn;

pub use counts::{Confusion, GroupCounts};
pub use error::FairnessError;
pub use four_fifths::{FOUR_FIFTHS, ImpactRatio, impact_ratios};
pub use groups::{Feature, GroupId, GroupName, Groups, MAX_GROUPS};
pub use summary::{
    BetweenGroupsSummary, RESAMPLES, TwoGroupSummary, estimate, summarize_between_groups,
    summarize_two_groups,
};
