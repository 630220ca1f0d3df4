//! Every metric against the values `tests/fixtures/make_fixtures.py` computed with Fairlearn
//! 0.15.0 and AIF360 0.6.1 (numpy 2.4.6, pandas 3.1.2, scikit-learn 1.9.1).

use std::collections::BTreeMap;

use serde::Deserialize;
use stressor_core::Seed;
use stressor_fairness::fairlearn::Agg;
use stressor_fairness::{
    Confusion, Feature, GroupCounts, GroupId, Groups, aif360, fairlearn, impact_ratios,
    summarize_between_groups, summarize_two_groups,
};

const FIXTURES: &str = include_str!("../fixtures/reference.json");

/// Agreement required: the crate divides the same integers as numpy and pandas, so only the
/// order of the odds differences' additions could differ.
const TOLERANCE: f64 = 1e-12;

#[derive(Deserialize)]
struct Fixtures {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    features: Vec<FeatureSpec>,
    codes: Vec<Vec<u32>>,
    y_true: Vec<u8>,
    y_pred: Vec<u8>,
    fairlearn: BTreeMap<String, Number>,
    by_group: Vec<GroupRow>,
    overall: BTreeMap<String, Number>,
    unprivileged: Option<Vec<Option<u32>>>,
    privileged: Option<Vec<Option<u32>>>,
    aif360: Option<BTreeMap<String, Number>>,
    four_fifths: Vec<FourFifthsRow>,
}

#[derive(Deserialize)]
struct FeatureSpec {
    name: String,
    levels: Vec<String>,
}

#[derive(Deserialize)]
struct GroupRow {
    codes: Vec<u32>,
    #[serde(flatten)]
    rates: BTreeMap<String, Number>,
}

#[derive(Deserialize)]
struct FourFifthsRow {
    group: usize,
    impact_ratio: Number,
    adverse: bool,
}

/// A float, or "nan"/"inf"/"-inf" (JSON has no non-finite numbers).
#[derive(Deserialize, Clone, Copy)]
#[serde(from = "NumberRepr")]
struct Number(f64);

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberRepr {
    Finite(f64),
    Named(String),
}

impl From<NumberRepr> for Number {
    fn from(repr: NumberRepr) -> Number {
        Number(match repr {
            NumberRepr::Finite(value) => value,
            NumberRepr::Named(name) => match name.as_str() {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                _ => f64::NAN,
            },
        })
    }
}

fn check(what: &str, ours: f64, theirs: f64) {
    let same =
        (ours.is_nan() && theirs.is_nan()) || ours == theirs || (ours - theirs).abs() <= TOLERANCE;
    assert!(same, "{what}: stressor {ours}, reference {theirs}");
}

struct Loaded {
    groups: Groups,
    counts: GroupCounts,
}

fn load(case: &Case) -> Loaded {
    let features = case
        .features
        .iter()
        .map(|feature| Feature::new(&feature.name, feature.levels.iter().cloned()))
        .collect();
    let groups = Groups::new(features).expect("valid features");
    let columns: Vec<&[u32]> = case.codes.iter().map(Vec::as_slice).collect();
    let y_true: Vec<bool> = case.y_true.iter().map(|&v| v == 1).collect();
    let y_pred: Vec<bool> = case.y_pred.iter().map(|&v| v == 1).collect();
    let counts = groups.tally(&columns, &y_true, &y_pred).expect("valid rows");
    Loaded { groups, counts }
}

fn fixtures() -> Fixtures {
    serde_json::from_str(FIXTURES).expect("fixture parses")
}

/// Fairlearn's rates of one group, keyed as in the fixture (MetricFrame's column names).
fn fairlearn_rates(group: &Confusion) -> BTreeMap<&'static str, f64> {
    BTreeMap::from([
        ("selection_rate", fairlearn::selection_rate(group)),
        ("true_positive_rate", fairlearn::true_positive_rate(group)),
        ("false_positive_rate", fairlearn::false_positive_rate(group)),
        // scikit-learn's normalised confusion matrix: 0 for an empty row.
        (
            "false_negative_rate",
            if group.positives == 0 { 0.0 } else { group.false_negative_rate() },
        ),
        ("accuracy", group.accuracy()),
        ("count", group.n as f64),
    ])
}

fn check_rates(what: &str, group: &Confusion, expected: &BTreeMap<String, Number>) {
    let ours = fairlearn_rates(group);
    assert_eq!(ours.len(), expected.len(), "{what}: rate names");
    for (name, theirs) in expected {
        check(&format!("{what} {name}"), ours[name.as_str()], theirs.0);
    }
}

#[test]
fn fairlearn_metrics_match() {
    for case in fixtures().cases {
        let Loaded { counts, .. } = load(&case);
        let ours = BTreeMap::from([
            ("demographic_parity_difference", fairlearn::demographic_parity_difference(&counts)),
            ("demographic_parity_ratio", fairlearn::demographic_parity_ratio(&counts)),
            (
                "equalized_odds_difference",
                fairlearn::equalized_odds_difference(&counts, Agg::WorstCase),
            ),
            ("equalized_odds_ratio", fairlearn::equalized_odds_ratio(&counts, Agg::WorstCase)),
            (
                "equalized_odds_difference_mean",
                fairlearn::equalized_odds_difference(&counts, Agg::Mean),
            ),
            ("equalized_odds_ratio_mean", fairlearn::equalized_odds_ratio(&counts, Agg::Mean)),
            ("equal_opportunity_difference", fairlearn::equal_opportunity_difference(&counts)),
            ("equal_opportunity_ratio", fairlearn::equal_opportunity_ratio(&counts)),
        ]);
        assert_eq!(ours.len(), case.fairlearn.len());
        for (name, theirs) in &case.fairlearn {
            check(&format!("{} {name}", case.name), ours[name.as_str()], theirs.0);
        }
    }
}

#[test]
fn metric_frame_by_group_and_overall_match() {
    for case in fixtures().cases {
        let Loaded { groups, counts } = load(&case);
        let observed: Vec<GroupId> = counts.observed().map(|(group, _)| group).collect();
        let expected: Vec<GroupId> = case
            .by_group
            .iter()
            .map(|row| groups.group(&row.codes).expect("a declared group"))
            .collect();
        assert_eq!(observed, expected, "{}: the groups that occur", case.name);
        for row in &case.by_group {
            let group = groups.group(&row.codes).expect("a declared group");
            let what = format!("{} {}", case.name, groups.name(group));
            check_rates(&what, counts.get(group).expect("counted"), &row.rates);
        }
        check_rates(&format!("{} overall", case.name), &counts.overall(), &case.overall);
    }
}

/// The groups whose codes meet a condition (`None` = any level of that feature).
fn side(groups: &Groups, condition: &[Option<u32>]) -> Vec<GroupId> {
    groups
        .ids()
        .filter(|&group| {
            groups
                .codes(group)
                .zip(condition)
                .all(|(code, wanted)| wanted.is_none_or(|w| w == code))
        })
        .collect()
}

#[test]
fn aif360_metrics_match() {
    let mut compared = 0;
    for case in fixtures().cases {
        let (Some(expected), Some(unprivileged), Some(privileged)) =
            (&case.aif360, &case.unprivileged, &case.privileged)
        else {
            continue;
        };
        let Loaded { groups, counts } = load(&case);
        let (u_ids, p_ids) = (side(&groups, unprivileged), side(&groups, privileged));
        let u = counts.pool(&u_ids).expect("known groups");
        let p = counts.pool(&p_ids).expect("known groups");
        let summary =
            summarize_two_groups(&counts, &u_ids, &p_ids, 50, Seed::new(0)).expect("known groups");
        let ours = BTreeMap::from([
            (
                "statistical_parity_difference",
                (
                    aif360::statistical_parity_difference(&u, &p),
                    summary.statistical_parity_difference,
                ),
            ),
            ("disparate_impact", (aif360::disparate_impact(&u, &p), summary.disparate_impact)),
            (
                "average_odds_difference",
                (aif360::average_odds_difference(&u, &p), summary.average_odds_difference),
            ),
            (
                "average_abs_odds_difference",
                (aif360::average_abs_odds_difference(&u, &p), summary.average_abs_odds_difference),
            ),
            (
                "equal_opportunity_difference",
                (
                    aif360::equal_opportunity_difference(&u, &p),
                    summary.equal_opportunity_difference,
                ),
            ),
        ]);
        assert_eq!(ours.len(), expected.len());
        for (name, theirs) in expected {
            let (value, estimate) = ours[name.as_str()];
            check(&format!("{} {name}", case.name), value, theirs.0);
            assert_eq!(value.to_bits(), estimate.value.to_bits(), "{} {name} summary", case.name);
            assert_eq!(estimate.n, u.n.min(p.n));
        }
        compared += 1;
    }
    assert_eq!(compared, 11);
}

#[test]
fn four_fifths_matches() {
    for case in fixtures().cases {
        let Loaded { counts, .. } = load(&case);
        let ours: Vec<_> = impact_ratios(&counts).collect();
        assert_eq!(ours.len(), case.four_fifths.len(), "{}", case.name);
        for (ratio, expected) in ours.iter().zip(&case.four_fifths) {
            let what = format!("{} group {}", case.name, expected.group);
            assert_eq!(ratio.group.index(), expected.group, "{what}");
            check(&what, ratio.impact_ratio, expected.impact_ratio.0);
            assert_eq!(ratio.adverse, expected.adverse, "{what}");
        }
        let smallest = ours.iter().map(|ratio| ratio.impact_ratio).reduce(f64::min);
        let dp_ratio = fairlearn::demographic_parity_ratio(&counts);
        if let Some(smallest) = smallest.filter(|value| !value.is_nan()) {
            assert_eq!(smallest.to_bits(), dp_ratio.to_bits(), "{}", case.name);
        }
    }
}

#[test]
fn the_boundary_case_is_exact() {
    // group_without_positives: group 3's ratio rounds to 0.7999999999999999 as floats but is
    // exactly 4/5 as fractions, so it is not adverse.
    let case = fixtures().cases.into_iter().find(|case| case.name == "group_without_positives");
    let Loaded { groups, counts } = load(&case.expect("the case exists"));
    let ratio = impact_ratios(&counts).find(|ratio| ratio.group.index() == 3).expect("group 3");
    assert!(ratio.impact_ratio < 0.8 && !ratio.adverse, "{} {ratio:?}", groups.name(ratio.group));
}

#[test]
fn summaries_carry_the_fairlearn_values() {
    for case in fixtures().cases {
        let Loaded { counts, .. } = load(&case);
        let summary = summarize_between_groups(&counts, 50, Seed::new(1));
        let pairs = [
            (summary.demographic_parity_difference, "demographic_parity_difference"),
            (summary.demographic_parity_ratio, "demographic_parity_ratio"),
            (summary.equalized_odds_difference, "equalized_odds_difference"),
            (summary.equalized_odds_ratio, "equalized_odds_ratio"),
            (summary.equalized_odds_difference_mean, "equalized_odds_difference_mean"),
            (summary.equalized_odds_ratio_mean, "equalized_odds_ratio_mean"),
            (summary.equal_opportunity_difference, "equal_opportunity_difference"),
            (summary.equal_opportunity_ratio, "equal_opportunity_ratio"),
        ];
        let smallest = counts.observed().map(|(_, cell)| cell.n).min();
        for (estimate, name) in pairs {
            check(&format!("{} {name}", case.name), estimate.value, case.fairlearn[name].0);
            assert_eq!(Some(estimate.n), smallest);
            assert_eq!(estimate.ci.is_some(), estimate.value.is_finite(), "{} {name}", case.name);
        }
    }
}
