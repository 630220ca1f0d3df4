//! Evasion of a fraud model trained on stressor-tabular's synthetic stream, per budget.
//!
//! Trains logistic regression and boosted trees on 40 000 transactions (2 % fraud), prints
//! their AUROC against the Bayes rule's on 40 000 more, then attacks 200 frauds each model
//! flags at 0.5 with `stressor_attack::tabular::evade` at growing budgets, printing the
//! evasion rate, the queries per row and the oracle calls.
//!
//! ```text
//! cargo run --release -p stressor-attack --example fraud_evasion
//! ```

#![expect(clippy::print_stdout, reason = "an example prints its result")]
#![expect(clippy::unwrap_used, reason = "an example fails loudly")]

use stressor_attack::tabular::{EvasionConfig, Feature, Radius, evade};
use stressor_core::Seed;
use stressor_tabular::fraud::{self, FEATURES, FeatureKind, LABEL};
use stressor_tabular::{BoostParams, FraudConfig, FraudStream, ModelSpec, Pipeline, labels};

fn main() {
    let config = FraudConfig { fraud_rate: 0.02, ..FraudConfig::default() };
    let mut stream = FraudStream::new(config, Seed::new(21)).unwrap();
    let (train, _) = stream.sample(40_000).unwrap();
    let (test, truth) = stream.sample(40_000).unwrap();
    let y = labels(&test, LABEL, "1").unwrap();
    println!("Bayes rule (true probabilities): AUROC {:.4}", auroc(&truth, &y));
    let names = fraud::feature_names();
    let features = attacker_view();
    for spec in [ModelSpec::Logistic { c: 1.0 }, ModelSpec::Boosted(BoostParams::default())] {
        let model = Pipeline::fit(&train, &names, LABEL, "1", spec, Seed::new(1)).unwrap();
        println!("\n{}: AUROC {:.4}", spec.name(), auroc(&model.predict(&test).unwrap(), &y));
        let calls = std::cell::Cell::new(0u64);
        let mut oracle = |rows: &[Vec<f64>]| {
            calls.set(calls.get() + 1);
            model.predict(&fraud::rows_to_table(rows).unwrap()).unwrap()
        };
        let mut flagged = Vec::new();
        let mut frauds = 0;
        while flagged.len() < 200 {
            let t = stream.draw();
            if t.fraud {
                frauds += 1;
                let row = t.row();
                if oracle(std::slice::from_ref(&row))[0] >= 0.5 {
                    flagged.push(row);
                }
            }
        }
        println!("  flags {:.1} % of fraud at 0.5", 100.0 * flagged.len() as f64 / frauds as f64);
        println!("  ε     switches  queries  evaded   mean queries  median changes  oracle calls");
        for (epsilon, max_switches) in [(0.0, 0), (0.05, 0), (0.1, 1), (0.2, 1), (0.3, 2), (0.5, 3)]
        {
            for max_queries in [20, 100, 500] {
                let config = EvasionConfig {
                    epsilon,
                    max_switches,
                    max_queries,
                    batch: 16,
                    threshold: 0.5,
                    seed: Seed::new(5),
                };
                calls.set(0);
                let evasions = evade(&features, &flagged, &config, &mut oracle).unwrap();
                let n = evasions.len() as f64;
                let evaded = evasions.iter().filter(|e| e.evaded).count() as f64 / n;
                let queries = evasions.iter().map(|e| e.queries).sum::<u64>() as f64 / n;
                let mut changes: Vec<usize> =
                    evasions.iter().filter(|e| e.evaded).map(|e| e.changes.len()).collect();
                changes.sort_unstable();
                let median = changes.get(changes.len() / 2).map_or("-".into(), |c| c.to_string());
                println!(
                    "  {epsilon:<5} {max_switches:<9} {max_queries:<8} {:>5.1} %  {queries:>12.1}  {median:>14}  {:>12}",
                    100.0 * evaded,
                    calls.get()
                );
            }
        }
    }
}

/// Amount and distance ± ε × 100 %, hour ± ε × 12 hours, the merchant category and the
/// flags switchable, the card's history fixed.
fn attacker_view() -> Vec<Feature> {
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

/// The area under the ROC curve (ties count one half).
fn auroc(scores: &[f64], y: &[u8]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
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
