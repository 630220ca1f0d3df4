//! Sensitive features, their intersectional groups, and the one-pass count of a window's rows.

use std::fmt;

use crate::FairnessError;
use crate::counts::{Confusion, GroupCounts};

/// The most intersectional groups one [`Groups`] may declare (the product of the features'
/// level counts): 2²⁴, so the counts of one window take at most 512 MiB however many features
/// are crossed. Real sensitive features cross to a few hundred groups.
pub const MAX_GROUPS: usize = 1 << 24;

/// One sensitive feature: its name and the names of its levels, in code order (a row with code
/// `c` belongs to `levels[c]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feature {
    /// The feature's name, e.g. `sex`.
    pub name: String,
    /// The level names, e.g. `["female", "male"]`; code `c` is `levels[c]`.
    pub levels: Vec<String>,
}

impl Feature {
    /// A feature from its name and level names.
    ///
    /// # Example
    /// ```
    /// use stressor_fairness::Feature;
    /// let age = Feature::new("age", ["<25", "25-60", ">60"]);
    /// assert_eq!(age.levels.len(), 3);
    /// ```
    pub fn new<S: Into<String>>(name: &str, levels: impl IntoIterator<Item = S>) -> Feature {
        Feature { name: name.to_owned(), levels: levels.into_iter().map(Into::into).collect() }
    }
}

/// The groups of one or more sensitive features: every combination of their levels, as
/// Fairlearn's `MetricFrame` forms them from several sensitive features.
///
/// Declared once (names are kept for reports); each window's rows then carry one `u32` code per
/// feature and are counted by [`Groups::tally`]. A group is a [`GroupId`]: the mixed-radix
/// number of its codes, the first feature most significant, so with features `sex` (female,
/// male) and `age` (young, old) the groups are, in order, female/young, female/old, male/young,
/// male/old. Only groups that occur in a window take part in the metrics (Fairlearn's
/// `MetricFrame` fills combinations that do not occur with NaN, which its `group_min` and
/// `group_max` skip).
///
/// # Example
/// ```
/// use stressor_fairness::{Feature, Groups};
/// let groups = Groups::new(vec![
///     Feature::new("sex", ["female", "male"]),
///     Feature::new("age", ["young", "old"]),
/// ])?;
/// assert_eq!(groups.n_groups(), 4);
/// let id = groups.find(&["male", "young"]).expect("declared");
/// assert_eq!(id.index(), 2);
/// assert_eq!(groups.name(id).to_string(), "sex=male, age=young");
/// # Ok::<(), stressor_fairness::FairnessError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Groups {
    features: Vec<Feature>,
    /// `strides[f]`: the group-index weight of feature `f`'s code.
    strides: Vec<usize>,
    n_groups: usize,
}

/// A group of a [`Groups`]: an index below [`Groups::n_groups`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupId(u32);

/// A group's name for reports: each feature with the group's level, `sex=female, age=young`
/// when displayed.
#[derive(Debug, Clone, Copy)]
pub struct GroupName<'a> {
    groups: &'a Groups,
    group: GroupId,
}

impl Groups {
    /// The groups of `features` (one feature gives one group per level; several give every
    /// combination of their levels).
    ///
    /// # Errors
    /// [`FairnessError::NoFeatures`] without features, [`FairnessError::NoLevels`] for a
    /// feature without levels, [`FairnessError::DuplicateLevel`] for a level named twice, and
    /// [`FairnessError::TooManyGroups`] beyond [`MAX_GROUPS`] combinations.
    pub fn new(features: Vec<Feature>) -> Result<Groups, FairnessError> {
        if features.is_empty() {
            return Err(FairnessError::NoFeatures);
        }
        let mut product: u128 = 1;
        for feature in &features {
            if feature.levels.is_empty() {
                return Err(FairnessError::NoLevels { feature: feature.name.clone() });
            }
            for (i, level) in feature.levels.iter().enumerate() {
                if feature.levels[..i].contains(level) {
                    return Err(FairnessError::DuplicateLevel {
                        feature: feature.name.clone(),
                        level: level.clone(),
                    });
                }
            }
            product = product.saturating_mul(feature.levels.len() as u128);
        }
        if product > MAX_GROUPS as u128 {
            return Err(FairnessError::TooManyGroups { n_groups: product, max: MAX_GROUPS });
        }
        let mut strides = vec![1; features.len()];
        for f in (0..features.len().saturating_sub(1)).rev() {
            strides[f] = strides[f + 1] * features[f + 1].levels.len();
        }
        Ok(Groups { features, strides, n_groups: product as usize })
    }

    /// The groups of one feature.
    ///
    /// # Errors
    /// As [`Groups::new`].
    pub fn single<S: Into<String>>(
        name: &str,
        levels: impl IntoIterator<Item = S>,
    ) -> Result<Groups, FairnessError> {
        Groups::new(vec![Feature::new(name, levels)])
    }

    /// The declared features, in order.
    pub fn features(&self) -> &[Feature] {
        &self.features
    }

    /// The number of groups: the product of the features' level counts, whether or not they
    /// occur in a window.
    pub fn n_groups(&self) -> usize {
        self.n_groups
    }

    /// The group of one level code per feature; `None` when a code is not a level.
    pub fn group(&self, codes: &[u32]) -> Option<GroupId> {
        if codes.len() != self.features.len() {
            return None;
        }
        let mut index = 0;
        for ((code, feature), stride) in codes.iter().zip(&self.features).zip(&self.strides) {
            let code = *code as usize;
            if code >= feature.levels.len() {
                return None;
            }
            index += code * stride;
        }
        Some(GroupId(index as u32))
    }

    /// The group of one level name per feature; `None` when a name is not a level.
    pub fn find(&self, levels: &[&str]) -> Option<GroupId> {
        if levels.len() != self.features.len() {
            return None;
        }
        let mut index = 0;
        for ((level, feature), stride) in levels.iter().zip(&self.features).zip(&self.strides) {
            let code = feature.levels.iter().position(|name| name == level)?;
            index += code * stride;
        }
        Some(GroupId(index as u32))
    }

    /// The level code of each feature for `group`, in feature order.
    pub fn codes(&self, group: GroupId) -> impl Iterator<Item = u32> + '_ {
        self.features
            .iter()
            .zip(&self.strides)
            .map(move |(feature, stride)| ((group.index() / stride) % feature.levels.len()) as u32)
    }

    /// The group's name for reports.
    pub fn name(&self, group: GroupId) -> GroupName<'_> {
        GroupName { groups: self, group }
    }

    /// Every group, in index order.
    pub fn ids(&self) -> impl Iterator<Item = GroupId> {
        (0..self.n_groups as u32).map(GroupId)
    }

    /// Counts `y_true`/`y_pred` per group in one pass over the rows.
    ///
    /// `codes` holds one column per declared feature, in order: `codes[f][row]` is the row's
    /// level code for feature `f`. `true` is the positive label and the favourable decision
    /// (e.g. `y_pred[row]`: the credit is granted; `y_true[row]`: the applicant repays).
    ///
    /// # Errors
    /// [`FairnessError::FeatureCount`] when `codes` has the wrong number of columns,
    /// [`FairnessError::LengthMismatch`] when a slice is not as long as `y_true`,
    /// [`FairnessError::Empty`] without rows and [`FairnessError::CodeOutOfRange`] for the
    /// first code that is not a level.
    ///
    /// # Example
    /// ```
    /// use stressor_fairness::{Groups, fairlearn};
    /// let groups = Groups::single("sex", ["female", "male"])?;
    /// let sex = [0, 0, 1, 1];
    /// let counts = groups.tally(&[&sex], &[true, false, true, false], &[true, false, true, true])?;
    /// assert_eq!(fairlearn::demographic_parity_difference(&counts), 0.5);
    /// # Ok::<(), stressor_fairness::FairnessError>(())
    /// ```
    pub fn tally(
        &self,
        codes: &[&[u32]],
        y_true: &[bool],
        y_pred: &[bool],
    ) -> Result<GroupCounts, FairnessError> {
        let mut counts = GroupCounts::default();
        self.tally_into(codes, y_true, y_pred, &mut counts)?;
        Ok(counts)
    }

    /// [`Groups::tally`] into existing counts, so a monitor that counts window after window
    /// reuses one buffer. On error the counts are left empty.
    ///
    /// # Errors
    /// As [`Groups::tally`].
    pub fn tally_into(
        &self,
        codes: &[&[u32]],
        y_true: &[bool],
        y_pred: &[bool],
        counts: &mut GroupCounts,
    ) -> Result<(), FairnessError> {
        counts.cells.clear();
        self.check_shapes(codes, y_true, y_pred)?;
        counts.cells.resize(self.n_groups, Confusion::default());
        let outcome = match codes {
            [column] => tally_one(&self.features[0], column, y_true, y_pred, &mut counts.cells),
            _ => self.tally_crossed(codes, y_true, y_pred, &mut counts.cells),
        };
        if outcome.is_err() {
            counts.cells.clear();
        }
        outcome
    }

    fn check_shapes(
        &self,
        codes: &[&[u32]],
        y_true: &[bool],
        y_pred: &[bool],
    ) -> Result<(), FairnessError> {
        if codes.len() != self.features.len() {
            return Err(FairnessError::FeatureCount {
                expected: self.features.len(),
                got: codes.len(),
            });
        }
        let expected = y_true.len();
        let mismatch = |what: &str, len: usize| FairnessError::LengthMismatch {
            what: what.to_owned(),
            len,
            expected,
        };
        if y_pred.len() != expected {
            return Err(mismatch("y_pred", y_pred.len()));
        }
        for (column, feature) in codes.iter().zip(&self.features) {
            if column.len() != expected {
                return Err(mismatch(&feature.name, column.len()));
            }
        }
        if expected == 0 {
            return Err(FairnessError::Empty);
        }
        Ok(())
    }

    fn tally_crossed(
        &self,
        codes: &[&[u32]],
        y_true: &[bool],
        y_pred: &[bool],
        cells: &mut [Confusion],
    ) -> Result<(), FairnessError> {
        for (row, (&truth, &decision)) in y_true.iter().zip(y_pred).enumerate() {
            let mut index = 0;
            for ((column, feature), stride) in codes.iter().zip(&self.features).zip(&self.strides) {
                let code = column[row];
                if code as usize >= feature.levels.len() {
                    return Err(out_of_range(feature, row, code));
                }
                index += code as usize * stride;
            }
            cells[index].add_row(truth, decision);
        }
        Ok(())
    }
}

impl GroupId {
    /// The group's index, below [`Groups::n_groups`].
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// The id of the group at `index`, an index of a `Groups` or of its counts (below
    /// [`MAX_GROUPS`], so it fits in `u32`).
    pub(crate) fn from_index(index: usize) -> GroupId {
        GroupId(index as u32)
    }
}

impl fmt::Display for GroupName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let features = &self.groups.features;
        for (i, (feature, code)) in features.iter().zip(self.groups.codes(self.group)).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}={}", feature.name, feature.levels[code as usize])?;
        }
        Ok(())
    }
}

/// The single-feature count: the code is the group index.
fn tally_one(
    feature: &Feature,
    column: &[u32],
    y_true: &[bool],
    y_pred: &[bool],
    cells: &mut [Confusion],
) -> Result<(), FairnessError> {
    for (row, ((&code, &truth), &decision)) in column.iter().zip(y_true).zip(y_pred).enumerate() {
        match cells.get_mut(code as usize) {
            Some(cell) => cell.add_row(truth, decision),
            None => return Err(out_of_range(feature, row, code)),
        }
    }
    Ok(())
}

fn out_of_range(feature: &Feature, row: usize, code: u32) -> FairnessError {
    FairnessError::CodeOutOfRange {
        feature: feature.name.clone(),
        row,
        code,
        n_levels: feature.levels.len(),
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use super::*;

    fn sex_age() -> Groups {
        Groups::new(vec![
            Feature::new("sex", ["female", "male"]),
            Feature::new("age", ["young", "middle", "old"]),
        ])
        .unwrap()
    }

    #[test]
    fn crossed_groups_are_mixed_radix_first_feature_major() {
        let groups = sex_age();
        assert_eq!(groups.n_groups(), 6);
        let id = groups.group(&[1, 2]).unwrap();
        assert_eq!(id.index(), 5);
        assert_eq!(groups.codes(id).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(groups.find(&["male", "old"]), Some(id));
        assert_eq!(groups.name(id).to_string(), "sex=male, age=old");
        assert_eq!(groups.group(&[2, 0]), None);
        assert_eq!(groups.find(&["male"]), None);
        assert_eq!(groups.ids().count(), 6);
    }

    #[test]
    fn crossed_tally_counts_each_combination() {
        let groups = sex_age();
        let sex = [0, 0, 1, 1, 1];
        let age = [0, 2, 2, 2, 1];
        let y_true = [true, false, true, true, false];
        let y_pred = [true, true, false, true, false];
        let counts = groups.tally(&[&sex, &age], &y_true, &y_pred).unwrap();
        let male_old = counts.get(groups.find(&["male", "old"]).unwrap()).unwrap();
        assert_eq!(*male_old, Confusion { n: 2, positives: 2, selected: 1, true_positives: 1 });
        assert_eq!(counts.observed().count(), 4);
        assert_eq!(counts.overall().n, 5);
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let groups = sex_age();
        let err = |codes: &[&[u32]], t: &[bool], p: &[bool]| groups.tally(codes, t, p).unwrap_err();
        assert_eq!(
            err(&[&[0]], &[true], &[true]),
            FairnessError::FeatureCount { expected: 2, got: 1 }
        );
        assert_eq!(err(&[&[], &[]], &[], &[]), FairnessError::Empty);
        assert!(matches!(err(&[&[0], &[0]], &[true], &[]), FairnessError::LengthMismatch { .. }));
        assert_eq!(
            err(&[&[0, 0], &[0]], &[true, true], &[true, true]),
            FairnessError::LengthMismatch { what: "age".into(), len: 1, expected: 2 }
        );
        assert_eq!(
            err(&[&[0, 1], &[0, 3]], &[true, true], &[true, true]),
            FairnessError::CodeOutOfRange { feature: "age".into(), row: 1, code: 3, n_levels: 3 }
        );
        let single = Groups::single("sex", ["f", "m"]).unwrap();
        let mut counts = GroupCounts::default();
        let res = single.tally_into(&[&[0, 7]], &[true, true], &[true, true], &mut counts);
        assert!(matches!(res, Err(FairnessError::CodeOutOfRange { row: 1, code: 7, .. })));
        assert_eq!(counts.n_groups(), 0);
    }

    #[test]
    fn bad_declarations_are_typed_errors() {
        assert_eq!(Groups::new(vec![]).unwrap_err(), FairnessError::NoFeatures);
        assert!(matches!(
            Groups::single("sex", Vec::<String>::new()),
            Err(FairnessError::NoLevels { .. })
        ));
        assert!(matches!(
            Groups::single("sex", ["f", "f"]),
            Err(FairnessError::DuplicateLevel { .. })
        ));
        let wide = Feature::new("id", (0..5000).map(|i| i.to_string()));
        assert!(matches!(
            Groups::new(vec![wide.clone(), wide]),
            Err(FairnessError::TooManyGroups { n_groups: 25_000_000, .. })
        ));
    }
}
