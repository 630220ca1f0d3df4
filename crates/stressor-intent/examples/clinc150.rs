//! The built-in classifier on CLINC150, measured as the paper measures it: trains on the
//! in-scope training queries, prints the in-scope test accuracy and the out-of-scope recall
//! with the max-softmax threshold chosen on the validation set ("the value which yielded the
//! highest validation score across all intents, treating out-of-scope as its own intent";
//! Larson et al. 2019, the "oos-threshold" setting), the same for the distance score, and the
//! training time.
//!
//! Usage: `cargo run --release -p stressor-intent --example clinc150 -- [--seed 0] [--epochs 10]
//! [--l2 1e-5] [--learning-rate 1.0] [--hash-bits 18]`
#![expect(clippy::print_stdout, reason = "an example reports on stdout")]

use std::time::Instant;

use stressor_core::Seed;
use stressor_intent::{Classifier, Query, TrainConfig, clinc150};

fn main() -> Result<(), String> {
    let (config, seed) = parse_options()?;
    let corpus = clinc150().map_err(|err| err.to_string())?;
    let start = Instant::now();
    let model = Classifier::train(&corpus.train, &corpus.intents, &config, seed)
        .map_err(|err| err.to_string())?;
    let train_seconds = start.elapsed().as_secs_f64();
    println!(
        "trained on {} in-scope queries ({} intents) in {train_seconds:.2} s ({config:?}, seed {})",
        corpus.train.len(),
        corpus.intents.len(),
        seed.value()
    );
    let start = Instant::now();
    let test = Scored::of(&model, &corpus.test);
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "predicted {} queries in {seconds:.3} s ({:.0} queries/s)",
        test.len(),
        test.len() as f64 / seconds
    );
    let oos_test = Scored::of(&model, &corpus.oos_test);
    let val = Scored::of(&model, &corpus.val);
    let oos_val = Scored::of(&model, &corpus.oos_val);
    println!("in-scope test accuracy (argmax, no threshold): {:.1} %", 100.0 * test.accuracy(None));
    for (name, score) in
        [("max softmax", Score::Confidence), ("centroid distance", Score::Distance)]
    {
        let threshold = best_threshold(&val, &oos_val, score);
        println!(
            "{name}: threshold {threshold:.4} (chosen on val, accuracy {:.1} % over 151 classes): \
             in-scope test accuracy {:.1} %, out-of-scope test recall {:.1} %",
            100.0 * joint_accuracy(&val, &oos_val, score, threshold),
            100.0 * test.accuracy(Some((score, threshold))),
            100.0 * oos_test.oos_recall(score, threshold),
        );
    }
    println!(
        "paper (Table 2, oos-threshold, Full), in-scope accuracy / OOS recall: \
         SVM 88.2 / 18.0, FastText 88.6 / 28.3, MLP 93.4 / 49.1, BERT 96.2 / 52.3"
    );
    Ok(())
}

/// Which score flags a query as out of scope.
#[derive(Debug, Clone, Copy)]
enum Score {
    /// Out of scope when the max softmax probability is below the threshold.
    Confidence,
    /// Out of scope when the distance is above the threshold.
    Distance,
}

/// Each query's prediction, confidence, distance and true intent.
struct Scored {
    rows: Vec<(u32, f32, f32, Option<u32>)>,
}

impl Scored {
    fn of(model: &Classifier, queries: &[Query]) -> Scored {
        let rows = queries
            .iter()
            .map(|query| {
                let reply = model.reply_one(&query.text);
                let (intent, confidence) = reply.intent().unwrap_or((u32::MAX, 0.0));
                let distance = match &reply {
                    stressor_intent::Reply::Intent { scores: Some(scores), .. } => {
                        scores.distance.unwrap_or(1.0)
                    }
                    _ => 1.0,
                };
                (intent, confidence, distance, query.intent)
            })
            .collect();
        Scored { rows }
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    /// The predicted intent, `None` when flagged out of scope.
    fn predicted(row: &(u32, f32, f32, Option<u32>), rule: Option<(Score, f32)>) -> Option<u32> {
        match rule {
            Some((Score::Confidence, threshold)) if row.1 < threshold => None,
            Some((Score::Distance, threshold)) if row.2 > threshold => None,
            _ => Some(row.0),
        }
    }

    fn accuracy(&self, rule: Option<(Score, f32)>) -> f64 {
        self.correct(rule) as f64 / self.rows.len().max(1) as f64
    }

    fn correct(&self, rule: Option<(Score, f32)>) -> usize {
        self.rows.iter().filter(|row| Scored::predicted(row, rule) == row.3).count()
    }

    fn oos_recall(&self, score: Score, threshold: f32) -> f64 {
        self.accuracy(Some((score, threshold)))
    }
}

fn joint_accuracy(in_scope: &Scored, oos: &Scored, score: Score, threshold: f32) -> f64 {
    let rule = Some((score, threshold));
    (in_scope.correct(rule) + oos.correct(rule)) as f64 / (in_scope.len() + oos.len()).max(1) as f64
}

/// The threshold with the best validation accuracy over the intents plus out of scope, among
/// the observed scores (the first one on ties).
fn best_threshold(in_scope: &Scored, oos: &Scored, score: Score) -> f32 {
    let mut candidates: Vec<f32> = in_scope
        .rows
        .iter()
        .chain(&oos.rows)
        .map(|row| match score {
            Score::Confidence => row.1,
            Score::Distance => row.2,
        })
        .collect();
    candidates.sort_by(f32::total_cmp);
    candidates.dedup();
    let mut best = (f64::NEG_INFINITY, 0.0);
    for threshold in candidates {
        let accuracy = joint_accuracy(in_scope, oos, score, threshold);
        if accuracy > best.0 {
            best = (accuracy, threshold);
        }
    }
    best.1
}

fn parse_options() -> Result<(TrainConfig, Seed), String> {
    let mut config = TrainConfig::default();
    let mut seed = Seed::new(0);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let bad = || format!("bad value {value} for {flag}");
        match flag.as_str() {
            "--seed" => seed = Seed::new(value.parse().map_err(|_| bad())?),
            "--epochs" => config.epochs = value.parse().map_err(|_| bad())?,
            "--l2" => config.l2 = value.parse().map_err(|_| bad())?,
            "--learning-rate" => config.learning_rate = value.parse().map_err(|_| bad())?,
            "--hash-bits" => config.features.hash_bits = value.parse().map_err(|_| bad())?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok((config, seed))
}
