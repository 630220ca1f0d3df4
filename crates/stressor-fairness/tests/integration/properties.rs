//! Invariants of the metrics, the counting and the intervals, on random counts and rows.

use proptest::prelude::*;
use stressor_core::Seed;
use stressor_fairness::fairlearn::{self, Agg};
use stressor_fairness::{
    Confusion, Feature, GroupCounts, Groups, aif360, estimate, impact_ratios,
    summarize_between_groups,
};

/// One group's consistent counts from four free numbers.
fn cell() -> impl Strategy<Value = Confusion> {
    (0_u64..300, any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(n, a, b, c)| {
        let positives = a % (n + 1);
        let selected = b % (n + 1);
        let low = (positives + selected).saturating_sub(n);
        let high = positives.min(selected);
        let true_positives = low + c % (high - low + 1);
        Confusion { n, positives, selected, true_positives }
    })
}

/// Counts of 1 to 6 groups, at least one of which occurs.
fn counts() -> impl Strategy<Value = GroupCounts> {
    prop::collection::vec(cell(), 1..7)
        .prop_filter_map("a group occurs", |cells| GroupCounts::from_cells(cells).ok())
}

fn all_fairlearn(counts: &GroupCounts) -> [f64; 8] {
    [
        fairlearn::demographic_parity_difference(counts),
        fairlearn::demographic_parity_ratio(counts),
        fairlearn::equalized_odds_difference(counts, Agg::WorstCase),
        fairlearn::equalized_odds_ratio(counts, Agg::WorstCase),
        fairlearn::equalized_odds_difference(counts, Agg::Mean),
        fairlearn::equalized_odds_ratio(counts, Agg::Mean),
        fairlearn::equal_opportunity_difference(counts),
        fairlearn::equal_opportunity_ratio(counts),
    ]
}

proptest! {
    #[test]
    fn differences_and_ratios_stay_in_the_unit_interval(counts in counts()) {
        for (i, value) in all_fairlearn(&counts).into_iter().enumerate() {
            let is_difference = i % 2 == 0;
            if is_difference {
                prop_assert!((0.0..=1.0).contains(&value), "metric {i}: {value}");
            } else {
                prop_assert!(value.is_nan() || (0.0..=1.0).contains(&value), "metric {i}: {value}");
            }
        }
    }

    #[test]
    fn group_order_does_not_matter(counts in counts()) {
        let reversed: Vec<Confusion> = counts.cells().iter().rev().copied().collect();
        let reversed = GroupCounts::from_cells(reversed).expect("a group occurs");
        let (a, b) = (all_fairlearn(&counts), all_fairlearn(&reversed));
        prop_assert_eq!(a.map(f64::to_bits), b.map(f64::to_bits));
        let mut ratios: Vec<u64> = impact_ratios(&counts).map(|r| r.impact_ratio.to_bits()).collect();
        let mut again: Vec<u64> = impact_ratios(&reversed).map(|r| r.impact_ratio.to_bits()).collect();
        ratios.sort_unstable();
        again.sort_unstable();
        prop_assert_eq!(ratios, again);
    }

    #[test]
    fn swapping_the_two_sides_flips_the_signed_metrics(u in cell(), p in cell()) {
        let spd = aif360::statistical_parity_difference(&u, &p);
        let back = aif360::statistical_parity_difference(&p, &u);
        prop_assert!(spd.is_nan() && back.is_nan() || spd == -back);
        let (aod, aod_back) = (aif360::average_odds_difference(&u, &p), aif360::average_odds_difference(&p, &u));
        prop_assert!(aod.is_nan() && aod_back.is_nan() || (aod + aod_back).abs() < 1e-15);
        let (aaod, aaod_back) = (aif360::average_abs_odds_difference(&u, &p), aif360::average_abs_odds_difference(&p, &u));
        prop_assert!(aaod.is_nan() && aaod_back.is_nan() || aaod == aaod_back);
        prop_assert!(aaod.is_nan() || aaod >= aod.abs() - 1e-15);
        let (eod, eod_back) = (aif360::equal_opportunity_difference(&u, &p), aif360::equal_opportunity_difference(&p, &u));
        prop_assert!(eod.is_nan() && eod_back.is_nan() || eod == -eod_back);
        let (di, di_back) = (aif360::disparate_impact(&u, &p), aif360::disparate_impact(&p, &u));
        if di.is_finite() && di > 0.0 {
            prop_assert!((di * di_back - 1.0).abs() < 1e-12, "{di} {di_back}");
        }
    }

    #[test]
    fn identical_groups_are_at_parity(c in cell(), k in 1_usize..6) {
        prop_assume!(c.n > 0);
        let counts = GroupCounts::from_cells(vec![c; k]).expect("a group occurs");
        let values = all_fairlearn(&counts);
        for (i, value) in values.into_iter().enumerate() {
            let parity = if i % 2 == 0 { 0.0 } else { 1.0 };
            prop_assert!(value == parity || (i % 2 == 1 && value.is_nan()), "metric {i}: {value}");
        }
        prop_assert!(impact_ratios(&counts).all(|ratio| !ratio.adverse));
        prop_assert_eq!(aif360::statistical_parity_difference(&c, &c), 0.0);
    }

    #[test]
    fn the_smallest_impact_ratio_is_the_parity_ratio(counts in counts()) {
        let dp_ratio = fairlearn::demographic_parity_ratio(&counts);
        let ratios: Vec<_> = impact_ratios(&counts).collect();
        let smallest = ratios.iter().map(|r| r.impact_ratio).reduce(f64::min).expect("a group");
        prop_assert!(smallest.to_bits() == dp_ratio.to_bits() || smallest.is_nan() && dp_ratio.is_nan());
        for ratio in ratios {
            if ratio.impact_ratio < 0.8 - 1e-12 {
                prop_assert!(ratio.adverse);
            } else if ratio.impact_ratio >= 0.8 + 1e-12 {
                prop_assert!(!ratio.adverse);
            }
        }
    }

    #[test]
    fn intervals_are_ordered_and_in_range(counts in counts(), seed in any::<u64>()) {
        let summary = summarize_between_groups(&counts, 40, Seed::new(seed));
        let estimates = [
            summary.demographic_parity_difference,
            summary.demographic_parity_ratio,
            summary.equalized_odds_difference,
            summary.equalized_odds_ratio,
            summary.equal_opportunity_difference,
            summary.equal_opportunity_ratio,
        ];
        for estimate in estimates {
            if let Some(ci) = estimate.ci {
                prop_assert!(ci.lower <= ci.upper, "{ci:?}");
                prop_assert!(ci.lower >= 0.0 && ci.upper <= 1.0, "{ci:?}");
            }
        }
    }

    /// Counting rows gives the counts they were made from, for crossed features too.
    #[test]
    fn tally_counts_what_the_rows_hold(cells in prop::collection::vec(cell(), 6)) {
        let groups = Groups::new(vec![
            Feature::new("sex", ["f", "m"]),
            Feature::new("age", ["young", "middle", "old"]),
        ]).expect("valid features");
        let (mut sex, mut age, mut y_true, mut y_pred) = (vec![], vec![], vec![], vec![]);
        for (index, cell) in cells.iter().enumerate() {
            for row in 0..cell.n {
                sex.push(index as u32 / 3);
                age.push(index as u32 % 3);
                // Rows in the order TP, FN, FP, TN.
                let tp = row < cell.true_positives;
                let fn_ = !tp && row < cell.positives;
                let fp = !tp && !fn_ && row < cell.positives + cell.false_positives();
                y_true.push(tp || fn_);
                y_pred.push(tp || fp);
            }
        }
        match groups.tally(&[&sex, &age], &y_true, &y_pred) {
            Ok(counts) => prop_assert_eq!(counts.cells(), &cells[..]),
            Err(error) => prop_assert!(y_true.is_empty(), "{error}"),
        }
    }

    /// Any shapes and codes give counts or an error, never a panic.
    #[test]
    fn any_input_is_a_result(
        sex in prop::collection::vec(0_u32..4, 0..20),
        age in prop::collection::vec(0_u32..4, 0..20),
        y_true in prop::collection::vec(any::<bool>(), 0..20),
        y_pred in prop::collection::vec(any::<bool>(), 0..20),
    ) {
        let groups = Groups::new(vec![
            Feature::new("sex", ["f", "m"]),
            Feature::new("age", ["young", "middle", "old"]),
        ]).expect("valid features");
        if let Ok(counts) = groups.tally(&[&sex, &age], &y_true, &y_pred) {
            prop_assert_eq!(counts.overall().n, y_true.len() as u64);
            let _ = summarize_between_groups(&counts, 5, Seed::new(0));
        }
        let single = Groups::single("sex", ["f", "m"]).expect("valid feature");
        let _ = single.tally(&[&sex], &y_true, &y_pred);
    }
}

/// Drawing each group's cells as a multinomial has the distribution of resampling its rows:
/// the replicate demographic parity differences of both agree in mean and spread.
#[test]
fn count_resampling_matches_row_resampling() {
    let cells = [
        Confusion { n: 300, positives: 140, selected: 120, true_positives: 90 },
        Confusion { n: 200, positives: 110, selected: 110, true_positives: 80 },
    ];
    let counts = GroupCounts::from_cells(cells.to_vec()).expect("groups occur");
    let replicates = 4000;
    let mut ours = Vec::new();
    estimate(
        &counts,
        |c| {
            let value = fairlearn::demographic_parity_difference(c);
            ours.push(value);
            value
        },
        replicates,
        Seed::new(11),
    );
    ours.remove(0); // the statistic of the sample itself
    let mut rows = Vec::new();
    let stream = Seed::new(12);
    let mut draw = 0_u64;
    for _ in 0..replicates {
        let mut resampled = Vec::new();
        for cell in &cells {
            // Resample the group's rows (selected first) with replacement.
            let mut selected = 0;
            for _ in 0..cell.n {
                draw += 1;
                let index =
                    (u128::from(stream.derive_index(draw).value()) * u128::from(cell.n)) >> 64;
                selected += u64::from((index as u64) < cell.selected);
            }
            resampled.push(Confusion { n: cell.n, positives: 0, selected, true_positives: 0 });
        }
        let resampled = GroupCounts::from_cells(resampled).expect("groups occur");
        rows.push(fairlearn::demographic_parity_difference(&resampled));
    }
    let moments = |values: &[f64]| {
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
        (mean, variance.sqrt())
    };
    let ((mean_ours, sd_ours), (mean_rows, sd_rows)) = (moments(&ours), moments(&rows));
    // Theory: mean 0.15 (|d| hardly folds at 0 here), sd sqrt(.4·.6/300 + .55·.45/200) ≈ 0.0448.
    assert!((mean_ours - mean_rows).abs() < 0.004, "{mean_ours} {mean_rows}");
    assert!((sd_ours / sd_rows - 1.0).abs() < 0.06, "{sd_ours} {sd_rows}");
    assert!((sd_ours - 0.0448).abs() < 0.003, "{sd_ours}");
}
