//! Why a fairness computation could not run.

/// Why groups could not be declared or rows could not be counted.
///
/// The metrics themselves never fail: a rate with a zero denominator follows the convention of
/// the library the metric comes from (documented on each function), so a window of a broken
/// model still gives a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FairnessError {
    /// No sensitive feature was declared.
    #[error("no sensitive feature")]
    NoFeatures,
    /// A sensitive feature has no levels.
    #[error("sensitive feature `{feature}` has no levels")]
    NoLevels {
        /// The feature's name.
        feature: String,
    },
    /// A sensitive feature names the same level twice.
    #[error("sensitive feature `{feature}` names level `{level}` twice")]
    DuplicateLevel {
        /// The feature's name.
        feature: String,
        /// The repeated level.
        level: String,
    },
    /// The product of the features' level counts exceeds [`MAX_GROUPS`](crate::MAX_GROUPS).
    #[error("{n_groups} intersectional groups exceed the limit of {max}")]
    TooManyGroups {
        /// The product of the level counts (saturating).
        n_groups: u128,
        /// The limit.
        max: usize,
    },
    /// The number of code columns differs from the number of declared features.
    #[error("{got} code columns given for {expected} sensitive features")]
    FeatureCount {
        /// The number of declared features.
        expected: usize,
        /// The number of code columns.
        got: usize,
    },
    /// A per-row slice is not as long as `y_true`.
    #[error("{what} has {len} rows, expected {expected}")]
    LengthMismatch {
        /// Which slice (`y_pred`, or the feature's name).
        what: String,
        /// Its length.
        len: usize,
        /// The length of `y_true`.
        expected: usize,
    },
    /// There are no rows.
    #[error("no rows")]
    Empty,
    /// A row's code is not below its feature's number of levels.
    #[error("code {code} of row {row} is not a level of `{feature}` ({n_levels} levels)")]
    CodeOutOfRange {
        /// The feature's name.
        feature: String,
        /// The row index.
        row: usize,
        /// The code.
        code: u32,
        /// The feature's number of levels.
        n_levels: usize,
    },
    /// A group's counts given to [`GroupCounts::from_cells`](crate::GroupCounts::from_cells)
    /// are not consistent (more true positives than positives, …).
    #[error("the counts of group {group} are inconsistent")]
    Inconsistent {
        /// The group's index.
        group: usize,
    },
    /// A group id is not a group of these counts.
    #[error("group {group} is not one of the {n_groups} groups")]
    UnknownGroup {
        /// The group's index.
        group: usize,
        /// The number of groups.
        n_groups: usize,
    },
}
