//! Tabular evasion against a hand-computed linear scorer, random scorers and a fraud model.

use std::cell::Cell;

use proptest::prelude::*;
use stressor_attack::tabular::{
    Evasion, EvasionConfig, Feature, Oracle, Radius, TabularError, evade,
};
use stressor_core::Seed;
use stressor_tabular::fraud::{self, FEATURES, FeatureKind, LABEL};
use stressor_tabular::{BoostParams, FraudConfig, FraudStream, ModelSpec, Pipeline};

/// amount (± ε × 100 %), hour (± ε × 10, whole), a 4-way category, a flag, a fixed history.
const FEATURES_LINEAR: [Feature; 5] = [
    Feature::Continuous { low: 0.0, high: 1e4, radius: Radius::Relative(1.0) },
    Feature::Integer { low: 0.0, high: 23.0, radius: Radius::Absolute(10.0) },
    Feature::Categorical { categories: 4 },
    Feature::Categorical { categories: 2 },
    Feature::Fixed,
];
const CATEGORY_WEIGHTS: [f64; 4] = [0.0, 1.0, -0.5, 2.0];

/// z = 0.02 amount + 0.3 hour + w[category] + 1.5 flag + 0.1 history − 5; the score is σ(z).
fn linear_z(row: &[f64]) -> f64 {
    0.02 * row[0] + 0.3 * row[1] + CATEGORY_WEIGHTS[row[2] as usize] + 1.5 * row[3] + 0.1 * row[4]
        - 5.0
}

fn linear_scores(rows: &[Vec<f64>]) -> Vec<f64> {
    rows.iter().map(|r| 1.0 / (1.0 + (-linear_z(r)).exp())).collect()
}

fn attack(
    features: &[Feature],
    rows: &[Vec<f64>],
    config: &EvasionConfig,
    oracle: &mut Oracle<'_>,
) -> Vec<Evasion> {
    evade(features, rows, config, oracle).unwrap()
}

#[test]
fn a_linear_scorer_is_evaded_exactly_when_the_budget_allows() {
    // z = 4 + 0.9 + 2 + 1.5 + 1 − 5 = 4.4 at the row. The best moves: amount down by ε × 200
    // (−4ε in z), hour down by min(10ε, 3) (−0.3 each), category 3 → 2 (−2.5), flag 1 → 0
    // (−1.5). So z_min = 4.4 − 0.8 − 0.6 − 2.5 = 0.5 at ε 0.2 and 1 switch (no evasion), −1.0
    // with a second switch, and 4.4 − 2 − 0.9 − 2.5 = −1.0 at ε 0.5 and 1 switch.
    let row = vec![200.0, 3.0, 3.0, 1.0, 10.0];
    // Probes: 2 + 2 + 3 + 1, then the original and one combination.
    let enough = 10;
    for (epsilon, max_switches, evadable) in
        [(0.2, 1, false), (0.2, 2, true), (0.5, 1, true), (0.0, 0, false), (0.5, 0, false)]
    {
        let config = EvasionConfig {
            epsilon,
            max_switches,
            max_queries: enough,
            ..EvasionConfig::default()
        };
        let evasion =
            &attack(&FEATURES_LINEAR, std::slice::from_ref(&row), &config, &mut linear_scores)[0];
        assert!(evasion.flagged);
        assert_eq!(evasion.evaded, evadable, "ε {epsilon}, {max_switches} switches");
        assert!(evasion.queries <= enough);
        assert_eq!(evasion.adversarial[4], 10.0);
        if evadable {
            assert!(linear_z(&evasion.adversarial) < 0.0);
            assert_eq!(evasion.score, linear_scores(std::slice::from_ref(&evasion.adversarial))[0]);
        }
    }
    // At ε 0.2 with 2 switches the only evasion uses every move, so the row is the corner.
    let config =
        EvasionConfig { epsilon: 0.2, max_switches: 2, max_queries: 10, ..Default::default() };
    let evasion =
        &attack(&FEATURES_LINEAR, std::slice::from_ref(&row), &config, &mut linear_scores)[0];
    assert_eq!(evasion.adversarial, vec![160.0, 1.0, 2.0, 0.0, 10.0]);
    let changed: Vec<usize> = evasion.changes.iter().map(|c| c.feature).collect();
    assert_eq!(changed, [0, 1, 2, 3]);
    assert_eq!((evasion.changes[0].from, evasion.changes[0].to), (200.0, 160.0));
}

#[test]
fn rows_not_flagged_cost_one_query_and_queries_are_counted_exactly() {
    let rows = vec![
        vec![10.0, 3.0, 0.0, 0.0, 0.0],   // z = −4.9 + 0.2: let through
        vec![200.0, 3.0, 3.0, 1.0, 10.0], // flagged
        vec![400.0, 20.0, 3.0, 1.0, 0.0], // flagged, far from evadable
    ];
    let sent = Cell::new(0u64);
    let calls = Cell::new(0u64);
    let mut oracle = |batch: &[Vec<f64>]| {
        sent.set(sent.get() + batch.len() as u64);
        calls.set(calls.get() + 1);
        linear_scores(batch)
    };
    let config = EvasionConfig {
        epsilon: 0.1,
        max_switches: 1,
        max_queries: 57,
        batch: 8,
        ..Default::default()
    };
    let evasions = attack(&FEATURES_LINEAR, &rows, &config, &mut oracle);
    assert!(!evasions[0].flagged && !evasions[0].evaded);
    assert_eq!(evasions[0].queries, 1);
    assert!(evasions[0].changes.is_empty());
    assert!(evasions[2].flagged && !evasions[2].evaded);
    assert_eq!(evasions[2].queries, 57);
    assert_eq!(evasions.iter().map(|e| e.queries).sum::<u64>(), sent.get());
    // The original, the probes, the combinations, then ⌈(57 − 10) / 8⌉ rounds.
    assert!(calls.get() <= 3 + 6, "{} calls", calls.get());
    // The same seed gives the same result.
    assert_eq!(attack(&FEATURES_LINEAR, &rows, &config, &mut linear_scores), evasions);
}

#[test]
fn bad_settings_rows_and_oracles_are_errors() {
    let row = vec![200.0, 3.0, 3.0, 1.0, 10.0];
    let config = EvasionConfig::default();
    let error = |features: &[Feature], rows: &[Vec<f64>], config: &EvasionConfig| {
        evade(features, rows, config, &mut linear_scores).unwrap_err()
    };
    for bad in [
        EvasionConfig { epsilon: -0.1, ..config },
        EvasionConfig { epsilon: f64::INFINITY, ..config },
        EvasionConfig { max_queries: 0, ..config },
        EvasionConfig { batch: 0, ..config },
        EvasionConfig { threshold: f64::NAN, ..config },
    ] {
        let e = error(&FEATURES_LINEAR, std::slice::from_ref(&row), &bad);
        assert!(matches!(e, TabularError::InvalidParameter { .. }), "{e}");
    }
    let mut features = FEATURES_LINEAR;
    features[0] = Feature::Continuous { low: 5.0, high: 1.0, radius: Radius::Relative(1.0) };
    assert!(matches!(
        error(&features, std::slice::from_ref(&row), &config),
        TabularError::InvalidFeature { feature: 0, .. }
    ));
    features[0] = Feature::Continuous { low: 0.0, high: 1e4, radius: Radius::Absolute(f64::NAN) };
    assert!(matches!(
        error(&features, std::slice::from_ref(&row), &config),
        TabularError::InvalidFeature { feature: 0, .. }
    ));
    features[0] = Feature::Categorical { categories: 0 };
    assert!(matches!(
        error(&features, std::slice::from_ref(&row), &config),
        TabularError::InvalidFeature { feature: 0, .. }
    ));
    for (index, value) in [(0, -1.0), (0, f64::NAN), (1, 2.5), (2, 4.0), (3, 0.5)] {
        let mut bad = row.clone();
        bad[index] = value;
        let e = error(&FEATURES_LINEAR, &[row.clone(), bad], &config);
        assert!(matches!(e, TabularError::InvalidRow { row: 1, .. }), "{e}");
    }
    let e = error(&FEATURES_LINEAR, &[row[..4].to_vec()], &config);
    assert!(matches!(e, TabularError::InvalidRow { row: 0, .. }), "{e}");
    let mut short = |rows: &[Vec<f64>]| vec![0.9; rows.len().saturating_sub(1)];
    let e = evade(&FEATURES_LINEAR, std::slice::from_ref(&row), &config, &mut short).unwrap_err();
    assert_eq!(e, TabularError::AnswerCount { asked: 1, got: 0 });
    let mut nan = |rows: &[Vec<f64>]| {
        rows.iter().map(|r| if r[0] == 200.0 && r[2] == 3.0 { 0.9 } else { f64::NAN }).collect()
    };
    let e = evade(&FEATURES_LINEAR, std::slice::from_ref(&row), &config, &mut nan).unwrap_err();
    assert_eq!(e, TabularError::NanScore { row: 0 });
    // No rows, no features, a fixed NaN and infinite scores are fine.
    assert!(evade(&FEATURES_LINEAR, &[], &config, &mut linear_scores).unwrap().is_empty());
    let mut infinite = |rows: &[Vec<f64>]| vec![f64::INFINITY; rows.len()];
    let mut with_nan = row.clone();
    with_nan[4] = f64::NAN;
    let evasions = evade(&FEATURES_LINEAR, &[with_nan], &config, &mut infinite).unwrap();
    assert!(evasions[0].flagged && !evasions[0].evaded);
    assert_eq!(evasions[0].queries, config.max_queries);
    assert!(evasions[0].changes.is_empty());
}

/// Random features, a row inside them, and linear weights (one per category for categories).
fn linear_case() -> impl Strategy<Value = (Vec<Feature>, Vec<f64>, Vec<Vec<f64>>)> {
    prop::collection::vec(
        (0u8..4, 0.0f64..1.0, -2.0f64..2.0, 1usize..5, prop::collection::vec(-2.0f64..2.0, 4)),
        1..6,
    )
    .prop_map(|specs| {
        let mut features = Vec::new();
        let mut row = Vec::new();
        let mut weights = Vec::new();
        for (kind, position, weight, categories, category_weights) in specs {
            match kind {
                0 => {
                    features.push(Feature::Continuous {
                        low: -3.0,
                        high: 3.0,
                        radius: Radius::Relative(1.0),
                    });
                    row.push(-3.0 + 6.0 * position);
                    weights.push(vec![weight]);
                }
                1 => {
                    features.push(Feature::Integer {
                        low: 0.0,
                        high: 20.0,
                        radius: Radius::Absolute(8.0),
                    });
                    row.push((20.0 * position).round());
                    weights.push(vec![weight]);
                }
                2 => {
                    features.push(Feature::Categorical { categories });
                    row.push(((categories as f64 - 1.0) * position).round());
                    weights.push(category_weights[..categories].to_vec());
                }
                _ => {
                    features.push(Feature::Fixed);
                    row.push(position);
                    weights.push(vec![weight]);
                }
            }
        }
        (features, row, weights)
    })
}

fn linear(features: &[Feature], weights: &[Vec<f64>], row: &[f64]) -> f64 {
    features
        .iter()
        .zip(weights)
        .zip(row)
        .map(|((feature, w), x)| match feature {
            Feature::Categorical { .. } => w[*x as usize],
            _ => w[0] * x,
        })
        .sum()
}

/// The lowest linear score in the budget set, by brute force over the corners and categories.
fn lowest(
    features: &[Feature],
    weights: &[Vec<f64>],
    row: &[f64],
    epsilon: f64,
    max_switches: usize,
) -> f64 {
    let mut base = 0.0;
    let mut gains = Vec::new();
    for ((feature, w), &x) in features.iter().zip(weights).zip(row) {
        match *feature {
            Feature::Fixed => base += w[0] * x,
            Feature::Continuous { low, high, radius: Radius::Relative(r) } => {
                let reach = epsilon * r * x.abs();
                let (lo, hi) = ((x - reach).max(low), (x + reach).min(high));
                base += (w[0] * lo).min(w[0] * hi).min(w[0] * x);
            }
            Feature::Integer { low, high, radius: Radius::Absolute(r) } => {
                let (lo, hi) =
                    ((x - epsilon * r).max(low).ceil(), (x + epsilon * r).min(high).floor());
                base += (w[0] * lo).min(w[0] * hi).min(w[0] * x);
            }
            Feature::Categorical { .. } => {
                let here = w[x as usize];
                base += here;
                let best = w.iter().copied().fold(here, f64::min);
                gains.push(best - here);
            }
            _ => unreachable!("the strategy makes no other features"),
        }
    }
    gains.sort_by(f64::total_cmp);
    base + gains.iter().take(max_switches).sum::<f64>()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn a_linear_score_is_evaded_iff_its_minimum_is_below_the_threshold(
        (features, row, weights) in linear_case(),
        epsilon in 0.0f64..1.0,
        max_switches in 0usize..3,
        margin in 0.05f64..2.0,
        seed in any::<u64>(),
    ) {
        let score_of = |r: &[f64]| linear(&features, &weights, r);
        let minimum = lowest(&features, &weights, &row, epsilon, max_switches);
        // A threshold just above or below the minimum, below the original's score.
        let original = score_of(&row);
        prop_assume!(original - minimum > 2.0 * margin);
        for (threshold, evadable) in [(minimum + margin, true), (minimum - 1e-9, false)] {
            let probes: u64 = features.iter().map(|f| match f {
                Feature::Categorical { categories } => *categories as u64 - 1,
                Feature::Fixed => 0,
                _ => 2,
            }).sum();
            let config = EvasionConfig {
                epsilon, max_switches, threshold, max_queries: probes + 2 + 5, batch: 3,
                seed: Seed::new(seed),
            };
            let mut oracle = |rows: &[Vec<f64>]| rows.iter().map(|r| score_of(r)).collect();
            let evasion = &evade(&features, std::slice::from_ref(&row), &config, &mut oracle).unwrap()[0];
            prop_assert!(evasion.flagged);
            prop_assert_eq!(evasion.evaded, evadable, "minimum {} threshold {}", minimum, threshold);
            prop_assert!(evasion.score >= minimum - 1e-9);
        }
    }

    #[test]
    fn any_scorer_stays_in_the_budget_set_and_the_query_budget(
        (features, row, weights) in linear_case(),
        epsilon in 0.0f64..1.0,
        max_switches in 0usize..3,
        max_queries in 1u64..60,
        batch in 1usize..10,
        seed in any::<u64>(),
    ) {
        // A non-monotone score: sin of the linear one, flagged above −0.5.
        let sent = Cell::new(0u64);
        let mut oracle = |rows: &[Vec<f64>]| {
            sent.set(sent.get() + rows.len() as u64);
            rows.iter().map(|r| linear(&features, &weights, r).sin()).collect()
        };
        let config = EvasionConfig { epsilon, max_switches, max_queries, batch, threshold: -0.5, seed: Seed::new(seed) };
        let evasion = &evade(&features, &[row.clone(), row.clone()], &config, &mut oracle).unwrap()[1];
        prop_assert!(evasion.queries <= max_queries);
        prop_assert!(sent.get() <= 2 * max_queries);
        let mut switches = 0;
        for ((feature, &x), &a) in features.iter().zip(&row).zip(&evasion.adversarial) {
            match *feature {
                Feature::Fixed => prop_assert_eq!(a, x),
                Feature::Continuous { low, high, radius: Radius::Relative(r) } => {
                    prop_assert!((low..=high).contains(&a));
                    prop_assert!((a - x).abs() <= epsilon * r * x.abs() * (1.0 + 1e-12) + 1e-12);
                }
                Feature::Integer { low, high, radius: Radius::Absolute(r) } => {
                    prop_assert!((low..=high).contains(&a) && a.fract() == 0.0);
                    prop_assert!((a - x).abs() <= epsilon * r + 1e-12);
                }
                Feature::Categorical { categories } => {
                    prop_assert!(a.fract() == 0.0 && a >= 0.0 && (a as usize) < categories);
                    switches += usize::from(a != x);
                }
                _ => prop_assert!(false, "the strategy makes no other features"),
            }
        }
        prop_assert!(switches <= max_switches);
        prop_assert_eq!(evasion.evaded, evasion.flagged && evasion.score < -0.5);
        prop_assert_eq!(evasion.changes.len(), row.iter().zip(&evasion.adversarial).filter(|(x, a)| x != a).count());
    }
}

/// The attacker's view of the fraud table: amount and distance ± ε × 100 %, hour ± ε × 12
/// hours, merchant category and the flags switchable, the card's history fixed.
fn fraud_features() -> Vec<Feature> {
    FEATURES
        .iter()
        .map(|spec| match (spec.actionable, spec.kind) {
            (false, _) => Feature::Fixed,
            (true, FeatureKind::Continuous) => Feature::Continuous {
                low: spec.low,
                high: spec.high,
                radius: Radius::Relative(1.0),
            },
            (true, FeatureKind::Integer) => {
                Feature::Integer { low: spec.low, high: spec.high, radius: Radius::Absolute(12.0) }
            }
            (true, FeatureKind::Binary) => Feature::Categorical { categories: 2 },
            (true, FeatureKind::Categorical(names)) => {
                Feature::Categorical { categories: names.len() }
            }
        })
        .collect()
}

#[test]
fn evasion_of_a_trained_fraud_model_rises_with_the_budget() {
    let config = FraudConfig { fraud_rate: 0.02, ..FraudConfig::default() };
    let mut stream = FraudStream::new(config, Seed::new(3)).unwrap();
    let (train, _) = stream.sample(20_000).unwrap();
    let names = fraud::feature_names();
    let spec = ModelSpec::Boosted(BoostParams { trees: 60, ..BoostParams::default() });
    let model = Pipeline::fit(&train, &names, LABEL, "1", spec, Seed::new(1)).unwrap();
    let mut oracle =
        |rows: &[Vec<f64>]| model.predict(&fraud::rows_to_table(rows).unwrap()).unwrap();
    // Fraud the model flags at 0.5.
    let mut flagged = Vec::new();
    while flagged.len() < 40 {
        let t = stream.draw();
        if t.fraud {
            let row = t.row();
            if oracle(std::slice::from_ref(&row))[0] >= 0.5 {
                flagged.push(row);
            }
        }
    }
    let features = fraud_features();
    let mut rates = Vec::new();
    for (epsilon, max_switches) in [(0.0, 0), (0.1, 1), (0.3, 2), (0.6, 3)] {
        let config = EvasionConfig {
            epsilon,
            max_switches,
            max_queries: 100,
            batch: 10,
            threshold: 0.5,
            seed: Seed::new(5),
        };
        let evasions = evade(&features, &flagged, &config, &mut oracle).unwrap();
        assert!(evasions.iter().all(|e| e.flagged && e.queries <= 100));
        let evaded = evasions.iter().filter(|e| e.evaded).count() as f64 / flagged.len() as f64;
        rates.push(evaded);
    }
    assert_eq!(rates[0], 0.0);
    assert!(rates.windows(2).all(|w| w[1] >= w[0]), "{rates:?}");
    assert!(rates[3] > 0.5, "{rates:?}");
}
