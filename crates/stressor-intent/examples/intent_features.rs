//! The stressor side of `bench/intent-vs-sklearn`: trains the built-in classifier on CLINC150's
//! in-scope training queries, predicts the in-scope test queries (features included, one query
//! at a time, single-threaded), and prints one JSON object with the times and the accuracy.
//! With `--dump DIR` it also writes the same hashed TF-IDF rows as svmlight files
//! (`DIR/train.svm`, `DIR/test.svm`, zero-based), with the buckets renumbered to the columns
//! that occur in training — exactly the columns the classifier has weights for — so that
//! scikit-learn fits a model of the same size on the same features.
//!
//! Usage: `intent_features [--dump DIR] [--seed 0] [--epochs 10] [--l2 1e-5]`
#![expect(clippy::print_stdout, reason = "a benchmark binary reports on stdout")]

use std::fmt::Write as _;
use std::time::Instant;

use stressor_core::Seed;
use stressor_intent::{Classifier, Featurizer, Query, TrainConfig, clinc150};

fn main() -> Result<(), String> {
    let mut config = TrainConfig::default();
    let mut seed = Seed::new(0);
    let mut dump = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let bad = || format!("bad value {value} for {flag}");
        match flag.as_str() {
            "--dump" => dump = Some(std::path::PathBuf::from(value)),
            "--seed" => seed = Seed::new(value.parse().map_err(|_| bad())?),
            "--epochs" => config.epochs = value.parse().map_err(|_| bad())?,
            "--l2" => config.l2 = value.parse().map_err(|_| bad())?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    let corpus = clinc150().map_err(|err| err.to_string())?;
    let start = Instant::now();
    let model = Classifier::train(&corpus.train, &corpus.intents, &config, seed)
        .map_err(|err| err.to_string())?;
    let train_seconds = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let correct = corpus
        .test
        .iter()
        .filter(|query| model.reply_one(&query.text).intent().map(|(k, _)| k) == query.intent)
        .count();
    let predict_seconds = start.elapsed().as_secs_f64();
    // The featurisation alone, which scikit-learn's prediction time leaves out.
    let start = Instant::now();
    let nnz: usize = corpus
        .test
        .iter()
        .map(|query| model.featurizer().transform(&query.text).indices.len())
        .sum();
    let features_seconds = start.elapsed().as_secs_f64();
    let n_columns = match &dump {
        Some(dir) => write_svmlight(model.featurizer(), &corpus.train, &corpus.test, dir)?,
        None => 0,
    };
    println!(
        "{{\"train_seconds\": {train_seconds}, \"predict_seconds\": {predict_seconds}, \
         \"features_seconds\": {features_seconds}, \"test_nnz\": {nnz}, \
         \"n_train\": {}, \"n_test\": {}, \"accuracy\": {}, \"l2\": {}, \"epochs\": {}, \
         \"n_columns\": {n_columns}}}",
        corpus.train.len(),
        corpus.test.len(),
        correct as f64 / corpus.test.len() as f64,
        config.l2,
        config.epochs,
    );
    Ok(())
}

/// Writes both splits; returns the number of columns.
fn write_svmlight(
    featurizer: &Featurizer,
    train: &[Query],
    test: &[Query],
    dir: &std::path::Path,
) -> Result<usize, String> {
    let train_rows: Vec<_> = train.iter().map(|query| featurizer.transform(&query.text)).collect();
    let mut column_of = vec![u32::MAX; featurizer.config().n_buckets()];
    for row in &train_rows {
        for &bucket in &row.indices {
            column_of[bucket as usize] = 0;
        }
    }
    let mut n_columns = 0u32;
    for column in column_of.iter_mut().filter(|column| **column == 0) {
        *column = n_columns;
        n_columns += 1;
    }
    let test_rows: Vec<_> = test.iter().map(|query| featurizer.transform(&query.text)).collect();
    for (name, queries, rows) in [("train", train, &train_rows), ("test", test, &test_rows)] {
        let mut out = String::new();
        for (query, row) in queries.iter().zip(rows) {
            let _ = write!(out, "{}", query.intent.map_or(-1, i64::from));
            for (&bucket, &value) in row.indices.iter().zip(&row.values) {
                // Buckets no training row has get no weight in either model.
                if column_of[bucket as usize] != u32::MAX {
                    let _ = write!(out, " {}:{value}", column_of[bucket as usize]);
                }
            }
            out.push('\n');
        }
        let path = dir.join(format!("{name}.svm"));
        std::fs::write(&path, out)
            .map_err(|err| format!("failed to write {}: {err}", path.display()))?;
    }
    Ok(n_columns as usize)
}
