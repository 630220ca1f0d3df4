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

#[path = "common/protocol.rs"]
mod protocol;
use protocol::{Score, Scored, best_threshold, joint_accuracy};

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
    let of = |queries: &[Query]| {
        Scored::from_replies(queries.iter().map(|q| model.reply_one(&q.text)), queries)
    };
    let test = of(&corpus.test);
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "predicted {} queries in {seconds:.3} s ({:.0} queries/s)",
        test.len(),
        test.len() as f64 / seconds
    );
    let oos_test = of(&corpus.oos_test);
    let val = of(&corpus.val);
    let oos_val = of(&corpus.oos_val);
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
