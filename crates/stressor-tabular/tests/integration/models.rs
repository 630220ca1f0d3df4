//! The models against scikit-learn on the vendored German credit data (tests/fixtures/make.py),
//! and on synthetic data with a known answer.

use rand::Rng as _;
use stressor_core::Seed;
use stressor_tabular::{
    BoostParams, Boosted, Column, Encoder, Logistic, ModelSpec, Pipeline, Regime, Synthetic, Table,
    bayes_accuracy, german_credit, labels,
};

fn reference() -> serde_json::Value {
    serde_json::from_str(include_str!("../fixtures/reference.json")).unwrap()
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn german_split() -> (Table, Table, Vec<String>) {
    let data = german_credit();
    let train = data.take(&(0..700).collect::<Vec<_>>());
    let test = data.take(&(700..1000).collect::<Vec<_>>());
    let features =
        data.columns.iter().map(|(n, _)| n.clone()).filter(|n| n != "creditability").collect();
    (train, test, features)
}

#[test]
fn german_credit_is_vendored_whole() {
    let data = german_credit();
    assert_eq!(data.rows, 1000);
    assert_eq!(data.columns.len(), 21);
    let numeric = data.columns.iter().filter(|(_, c)| matches!(c, Column::Numeric(_))).count();
    assert_eq!(numeric, 7);
    let y = labels(&data, "creditability", "bad").unwrap();
    assert_eq!(y.iter().filter(|&&v| v == 1).count(), 300);
}

#[test]
fn logistic_regression_equals_scikit_learn() {
    let reference = reference();
    let (train, test, features) = german_split();
    let encoder = Encoder::fit(&train, &features).unwrap();
    let (x, y) =
        (encoder.transform(&train).unwrap(), labels(&train, "creditability", "bad").unwrap());
    let x_test = encoder.transform(&test).unwrap();
    for (c, key) in [(1.0, "logistic_c1.0"), (0.1, "logistic_c0.1")] {
        let fit = Logistic::fit(&x, &y, c).unwrap();
        let expected = &reference[key];
        let coef = floats(&expected["coef"]);
        assert_eq!(fit.weights.len(), coef.len());
        let worst = fit.weights.iter().zip(&coef).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(worst < 1e-5, "C={c}: max |Δcoef| {worst}");
        let db = (fit.intercept - expected["intercept"].as_f64().unwrap()).abs();
        assert!(db < 1e-5, "C={c}: |Δintercept| {db}");
        let proba = fit.predict(&x_test);
        let dp = proba
            .iter()
            .zip(floats(&expected["test_proba"]))
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(dp < 1e-6, "C={c}: max |Δp| {dp}");
        assert!(fit.iterations < 30, "Newton took {} iterations", fit.iterations);
    }
}

fn accuracy(proba: &[f64], y: &[u8]) -> f64 {
    proba.iter().zip(y).filter(|(p, y)| u8::from(**p >= 0.5) == **y).count() as f64 / y.len() as f64
}

#[test]
fn boosted_trees_match_scikit_learns_accuracy_and_are_seeded() {
    let reference = reference();
    let (train, test, features) = german_split();
    let spec = ModelSpec::Boosted(BoostParams::default());
    let model =
        Pipeline::fit(&train, &features, "creditability", "bad", spec, Seed::new(5)).unwrap();
    let y_test = labels(&test, "creditability", "bad").unwrap();
    let ours = accuracy(&model.predict(&test).unwrap(), &y_test);
    let theirs = reference["hist_gradient_boosting_test_accuracy"].as_f64().unwrap();
    let majority = reference["majority_test_accuracy"].as_f64().unwrap();
    // 300 test rows: one standard error of an accuracy near 0.8 is 0.023.
    assert!(ours >= theirs - 0.04, "boosted {ours} vs scikit-learn {theirs}");
    assert!(ours > majority + 0.03, "boosted {ours} barely beats the majority class {majority}");
    let again =
        Pipeline::fit(&train, &features, "creditability", "bad", spec, Seed::new(5)).unwrap();
    assert_eq!(model.predict(&test).unwrap(), again.predict(&test).unwrap());
    let other =
        Pipeline::fit(&train, &features, "creditability", "bad", spec, Seed::new(6)).unwrap();
    assert_ne!(model.predict(&test).unwrap(), other.predict(&test).unwrap());
}

#[test]
fn trees_learn_an_interaction_a_linear_model_cannot() {
    // y = x0·x1 > 0 (XOR of signs): no linear boundary beats chance, depth-2 trees do.
    let n = 2000;
    let mut rng = Seed::new(3).rng();
    let mut data = Vec::with_capacity(n * 2);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let (a, b): (f64, f64) = (rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0));
        data.extend([a, b]);
        y.push(u8::from(a * b > 0.0));
    }
    let x = stressor_tabular::Matrix { rows: n, cols: 2, data };
    let trees = Boosted::fit(&x, &y, BoostParams::default(), Seed::new(1)).unwrap();
    let linear = Logistic::fit(&x, &y, 1.0).unwrap();
    let (t, l) = (accuracy(&trees.predict(&x), &y), accuracy(&linear.predict(&x), &y));
    assert!(t > 0.95, "trees {t}");
    assert!(l < 0.6, "linear {l}");
}

#[test]
fn bad_fits_are_errors_not_panics() {
    let x = stressor_tabular::Matrix { rows: 3, cols: 1, data: vec![0.0, 1.0, 2.0] };
    assert!(Logistic::fit(&x, &[0, 1], 1.0).is_err());
    assert!(Logistic::fit(&x, &[0, 1, 1], 0.0).is_err());
    assert!(Boosted::fit(&x, &[1, 1, 1], BoostParams::default(), Seed::new(0)).is_err());
    let params = BoostParams { bins: 1, ..BoostParams::default() };
    assert!(Boosted::fit(&x, &[0, 1, 1], params, Seed::new(0)).is_err());
    let data = german_credit();
    let err = labels(&data, "creditability", "maybe").unwrap_err().to_string();
    assert!(err.contains("never equals"), "{err}");
    let err = labels(&data, "no_such", "bad").unwrap_err().to_string();
    assert!(err.contains("no column `no_such`"), "{err}");
    let (train, _, features) = german_split();
    let model = Pipeline::fit(
        &train,
        &features,
        "creditability",
        "bad",
        ModelSpec::Logistic { c: 1.0 },
        Seed::new(0),
    )
    .unwrap();
    let mut wrong = train.clone();
    *wrong.column_mut("age_in_years").unwrap() = Column::Categorical(vec!["x".into(); 700]);
    let err = model.predict(&wrong).unwrap_err().to_string();
    assert!(err.contains("`age_in_years` is categorical"), "{err}");
}

#[test]
fn synthetic_data_knows_its_truth_and_drifts_on_request() {
    let generator = Synthetic { features: 4, sharpness: 4.0 };
    let (table, truth) = generator.sample(20_000, Regime::default(), Seed::new(1)).unwrap();
    let y = labels(&table, "label", "1").unwrap();
    let bayes = bayes_accuracy(&truth);
    // The labels are drawn from the truth: the Bayes rule's accuracy matches the expectation.
    let bayes_rule: Vec<f64> = truth.clone();
    let realised = accuracy(&bayes_rule, &y);
    assert!((realised - bayes).abs() < 0.01, "{realised} vs {bayes}");
    assert!(bayes > 0.8 && bayes < 0.95, "{bayes}");
    // A model fitted before a 90° rotation is near chance after it; the Bayes rule is not.
    let features: Vec<String> = ["x0", "x1", "x2", "x3", "segment"].map(String::from).to_vec();
    let spec = ModelSpec::Logistic { c: 1.0 };
    let model = Pipeline::fit(&table, &features, "label", "1", spec, Seed::new(0)).unwrap();
    let rotated = Regime { angle_degrees: 90.0, shift: 0.0 };
    let (after, truth_after) = generator.sample(20_000, rotated, Seed::new(2)).unwrap();
    let y_after = labels(&after, "label", "1").unwrap();
    let stale = accuracy(&model.predict(&after).unwrap(), &y_after);
    let fresh = accuracy(&model.predict(&table).unwrap(), &y);
    assert!(fresh > bayes - 0.02, "{fresh} vs Bayes {bayes}");
    assert!(stale < fresh - 0.1, "stale {stale} vs fresh {fresh}");
    assert!((bayes_accuracy(&truth_after) - bayes).abs() < 0.02);
    // Covariate drift moves x0's mean and nothing else.
    let shifted = Regime { angle_degrees: 0.0, shift: 1.5 };
    let (moved, _) = generator.sample(20_000, shifted, Seed::new(3)).unwrap();
    let mean = |t: &Table, c: &str| match t.column(c).unwrap() {
        Column::Numeric(v) => v.iter().sum::<f64>() / v.len() as f64,
        Column::Categorical(_) => unreachable!(),
    };
    assert!((mean(&moved, "x0") - 1.5).abs() < 0.05);
    assert!(mean(&moved, "x1").abs() < 0.05);
    assert_eq!(
        generator.sample(100, shifted, Seed::new(3)).unwrap(),
        generator.sample(100, shifted, Seed::new(3)).unwrap()
    );
}
