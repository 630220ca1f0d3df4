//! The fraud model's world: stressor-tabular's card-transaction stream (a known fraud process,
//! so every transaction's truth is known), the model trained on it, and what a fraudster may
//! change when crafting a transaction against it (stressor-attack's tabular evasion).

use stressor_attack::tabular::{Feature, Radius};
use stressor_core::Seed;
use stressor_tabular::fraud::{
    FEATURES, FeatureKind, FraudConfig, FraudStream, LABEL, Transaction,
};
use stressor_tabular::{ModelSpec, Pipeline, Table};

/// The stream's settings and seed; each game draws its own stream from them, so both blue
/// teams see the same transactions.
#[derive(Debug, Clone)]
pub(crate) struct FraudWorld {
    config: FraudConfig,
    seed: Seed,
}

/// One tick's transactions.
#[derive(Debug, Clone)]
pub(crate) struct FraudBatch {
    /// As a table (features and label).
    pub(crate) table: Table,
    /// As rows in the stream's feature order (what the attack edits).
    pub(crate) rows: Vec<Vec<f64>>,
    /// Which are fraud.
    pub(crate) fraud: Vec<bool>,
    /// Their amounts.
    pub(crate) amount: Vec<f64>,
}

impl FraudWorld {
    /// Fraud at `rate`, from `seed`.
    pub(crate) fn new(rate: f64, seed: Seed) -> FraudWorld {
        FraudWorld { config: FraudConfig { fraud_rate: rate, ..FraudConfig::default() }, seed }
    }

    /// A fresh stream labelled `label`.
    pub(crate) fn stream(&self, label: &str) -> Result<FraudStream, String> {
        FraudStream::new(self.config, self.seed.derive(label))
            .map_err(|e| format!("the fraud stream: {e}"))
    }

    /// The model's features.
    pub(crate) fn features(&self) -> Vec<String> {
        stressor_tabular::fraud::feature_names()
    }

    /// Trains a fraud model on `table`.
    pub(crate) fn train(&self, table: &Table, seed: Seed) -> Result<Pipeline, String> {
        Pipeline::fit(table, &self.features(), LABEL, "1", ModelSpec::Logistic { c: 1.0 }, seed)
            .map_err(|e| format!("training the fraud model: {e}"))
    }

    /// What the attacker may change: the actionable features within `budget` (relative for
    /// amount and distance, ± 24 × budget hours for the hour), categories and flags freely.
    pub(crate) fn attack_features(budget: f64) -> Vec<Feature> {
        FEATURES
            .iter()
            .map(|f| {
                if !f.actionable {
                    return Feature::Fixed;
                }
                match f.kind {
                    FeatureKind::Continuous => Feature::Continuous {
                        low: f.low,
                        high: f.high,
                        radius: Radius::Relative(1.0),
                    },
                    FeatureKind::Integer => Feature::Integer {
                        low: f.low,
                        high: f.high,
                        radius: Radius::Absolute(24.0),
                    },
                    FeatureKind::Binary => Feature::Categorical { categories: 2 },
                    FeatureKind::Categorical(names) => {
                        Feature::Categorical { categories: names.len() }
                    }
                }
            })
            .map(|f| if budget > 0.0 { f } else { Feature::Fixed })
            .collect()
    }
}

/// The next `n` transactions of `stream` (at least one is drawn when `n` is 0, and dropped).
pub(crate) fn batch(stream: &mut FraudStream, n: usize) -> Result<FraudBatch, String> {
    let transactions: Vec<Transaction> = (0..n).map(|_| stream.draw()).collect();
    from_transactions(&transactions)
}

pub(crate) fn from_transactions(transactions: &[Transaction]) -> Result<FraudBatch, String> {
    if transactions.is_empty() {
        return Ok(FraudBatch {
            table: empty(),
            rows: Vec::new(),
            fraud: Vec::new(),
            amount: Vec::new(),
        });
    }
    let table = stressor_tabular::fraud::to_table(transactions).map_err(|e| e.to_string())?;
    Ok(FraudBatch {
        table,
        rows: transactions.iter().map(Transaction::row).collect(),
        fraud: transactions.iter().map(|t| t.fraud).collect(),
        amount: transactions.iter().map(|t| t.amount).collect(),
    })
}

/// Rows (the stream's layout) as a table without labels.
pub(crate) fn rows_table(rows: &[Vec<f64>]) -> Result<Table, String> {
    stressor_tabular::fraud::rows_to_table(rows).map_err(|e| e.to_string())
}

fn empty() -> Table {
    Table { path: "fraud".into(), columns: Vec::new(), rows: 0 }
}
