//! The synthetic fraud stream: its rates, its truth, its determinism and its learnability.

use stressor_core::Seed;
use stressor_tabular::fraud::{self, FEATURES, FeatureKind, LABEL};
use stressor_tabular::{BoostParams, FraudConfig, FraudStream, ModelSpec, Pipeline, labels};

/// The area under the ROC curve of `scores` for the positives in `y` (ties count one half).
fn auroc(scores: &[f64], y: &[u8]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Mid-ranks over tied scores, then the Mann–Whitney U of the positives.
    let mut ranks = vec![0.0; scores.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end + 1 < order.len() && scores[order[end + 1]] == scores[order[start]] {
            end += 1;
        }
        for &i in &order[start..=end] {
            ranks[i] = (start + end) as f64 / 2.0 + 1.0;
        }
        start = end + 1;
    }
    let positives = y.iter().filter(|&&v| v == 1).count() as f64;
    let negatives = y.len() as f64 - positives;
    let rank_sum: f64 = ranks.iter().zip(y).filter(|(_, v)| **v == 1).map(|(r, _)| r).sum();
    (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}

fn stream(fraud_rate: f64, drift: f64, seed: u64) -> FraudStream {
    let config = FraudConfig { fraud_rate, drift, ..FraudConfig::default() };
    FraudStream::new(config, Seed::new(seed)).unwrap()
}

#[test]
fn the_fraud_rate_matches_the_config_and_the_truth() {
    for (rate, drift) in [(0.005, 0.0), (0.02, 0.5)] {
        let n = 100_000;
        let (table, truth) = stream(rate, drift, 11).sample(n).unwrap();
        let y = labels(&table, LABEL, "1").unwrap();
        let frauds = y.iter().filter(|&&v| v == 1).count() as f64;
        // Within 4.5 binomial standard deviations of the configured rate.
        let sd = (n as f64 * rate * (1.0 - rate)).sqrt();
        assert!((frauds - n as f64 * rate).abs() < 4.5 * sd, "{frauds} frauds at rate {rate}");
        // The labels are drawn with the true probabilities: E[p] = the rate, and among rows
        // the truth calls likely fraud, the share of fraud is what the truth says.
        let expected: f64 = truth.iter().sum();
        assert!((expected - n as f64 * rate).abs() < 4.5 * sd, "{expected} expected frauds");
        let likely: Vec<usize> = (0..n).filter(|&i| truth[i] > 0.5).collect();
        let said: f64 = likely.iter().map(|&i| truth[i]).sum();
        let found = likely.iter().filter(|&&i| y[i] == 1).count() as f64;
        assert!((said - found).abs() < 4.5 * said.sqrt() + 1.0, "{said} vs {found}");
    }
}

#[test]
fn same_seed_same_rows() {
    let a = stream(0.01, 0.3, 5).sample(2_000).unwrap();
    let b = stream(0.01, 0.3, 5).sample(2_000).unwrap();
    assert_eq!(a, b);
    let bits = |t: &(stressor_tabular::Table, Vec<f64>)| -> Vec<u64> {
        t.1.iter().map(|p| p.to_bits()).collect()
    };
    assert_eq!(bits(&a), bits(&b));
    assert_ne!(a.1, stream(0.01, 0.3, 6).sample(2_000).unwrap().1);
}

#[test]
fn transactions_agree_with_their_card_and_the_feature_spec() {
    let mut stream = stream(0.02, 0.5, 9);
    let mut last_time: Vec<Option<f64>> = vec![None; stream.config().customers];
    for _ in 0..20_000 {
        let t = stream.draw();
        assert_eq!(f64::from(t.hour), (t.time_hours.rem_euclid(24.0)).floor());
        assert!(t.hours_since_last > 0.0);
        if let Some(previous) = last_time[t.customer] {
            assert!((t.time_hours - previous - t.hours_since_last).abs() < 1e-9);
        }
        last_time[t.customer] = Some(t.time_hours);
        assert_eq!(usize::from(t.merchant_category), t.merchant % 8);
        assert!((0.0..=1.0).contains(&t.fraud_probability));
        for (spec, value) in FEATURES.iter().zip(t.row()) {
            assert!((spec.low..=spec.high).contains(&value), "{} = {value}", spec.name);
            if matches!(spec.kind, FeatureKind::Integer | FeatureKind::Categorical(_)) {
                assert_eq!(value.fract(), 0.0, "{}", spec.name);
            }
        }
    }
    let actionable: Vec<&str> = FEATURES.iter().filter(|f| f.actionable).map(|f| f.name).collect();
    assert_eq!(
        actionable,
        ["amount", "hour", "merchant_category", "distance_km", "card_present", "foreign"]
    );
}

#[test]
fn the_known_process_is_learnable_and_drift_hurts_a_stale_model() {
    let mut stream = stream(0.02, 0.0, 21);
    let (train, _) = stream.sample(40_000).unwrap();
    let (test, truth) = stream.sample(40_000).unwrap();
    let y = labels(&test, LABEL, "1").unwrap();
    let bayes = auroc(&truth, &y);
    let features = fraud::feature_names();
    let fit = |spec| Pipeline::fit(&train, &features, LABEL, "1", spec, Seed::new(1)).unwrap();
    let logistic = fit(ModelSpec::Logistic { c: 1.0 });
    let boosted = fit(ModelSpec::Boosted(BoostParams::default()));
    let logistic_auroc = auroc(&logistic.predict(&test).unwrap(), &y);
    let boosted_auroc = auroc(&boosted.predict(&test).unwrap(), &y);
    // Measured at this seed: Bayes 0.975, logistic 0.961, boosted 0.970.
    assert!(bayes > 0.95 && bayes < 0.99, "{bayes}");
    assert!(logistic_auroc > 0.93 && logistic_auroc <= bayes + 0.005, "{logistic_auroc}");
    assert!(boosted_auroc > bayes - 0.02, "{boosted_auroc} vs {bayes}");

    // Fraud that moved to the low-and-slow pattern is harder, even for the Bayes rule, and
    // the stale model loses more.
    stream.set_drift(1.0).unwrap();
    let (drifted, truth_drifted) = stream.sample(40_000).unwrap();
    let y_drifted = labels(&drifted, LABEL, "1").unwrap();
    let bayes_drifted = auroc(&truth_drifted, &y_drifted);
    let stale = auroc(&boosted.predict(&drifted).unwrap(), &y_drifted);
    // Measured: Bayes 0.756, the stale boosted model 0.610.
    assert!(bayes_drifted < bayes - 0.1, "{bayes_drifted} vs {bayes}");
    assert!(stale < bayes_drifted - 0.08, "{stale} vs {bayes_drifted}");
}

#[test]
fn rows_round_trip_and_bad_input_is_an_error() {
    let mut stream = stream(0.01, 0.0, 2);
    let transactions: Vec<_> = (0..50).map(|_| stream.draw()).collect();
    let table = fraud::to_table(&transactions).unwrap();
    let rows: Vec<Vec<f64>> = transactions.iter().map(|t| t.row()).collect();
    let mut from_rows = fraud::rows_to_table(&rows).unwrap();
    from_rows.columns.push(table.columns.last().unwrap().clone());
    assert_eq!(from_rows, table);

    let bad = |config: FraudConfig| FraudStream::new(config, Seed::new(0)).unwrap_err().to_string();
    let base = FraudConfig::default();
    assert!(bad(FraudConfig { fraud_rate: 0.0, ..base }).contains("fraud rate"));
    assert!(bad(FraudConfig { fraud_rate: f64::NAN, ..base }).contains("fraud rate"));
    assert!(bad(FraudConfig { customers: 0, ..base }).contains("customer"));
    assert!(bad(FraudConfig { merchants: 7, ..base }).contains("merchants"));
    assert!(bad(FraudConfig { drift: 1.5, ..base }).contains("drift"));
    assert!(stream.set_drift(-0.1).is_err());
    assert_eq!(stream.config().drift, 0.0);
    assert!(stream.sample(0).is_err());

    let mut row = rows[0].clone();
    assert!(fraud::rows_to_table(&[]).is_err());
    assert!(fraud::rows_to_table(&[row[..3].to_vec()]).is_err());
    for (index, value) in [(2, 8.0), (2, 1.5), (2, -1.0), (4, 0.5), (0, f64::NAN)] {
        row.clone_from(&rows[0]);
        row[index] = value;
        let message = fraud::rows_to_table(&[row.clone()]).unwrap_err().to_string();
        assert!(message.contains(FEATURES[index].name), "{message}");
    }
}
