//! Built-in tabular models: an encoder and a classifier fitted together, so retraining refits
//! both on the new rows.

use stressor_core::Seed;

use crate::{BoostParams, Boosted, Encoder, Logistic, Table, TableError, labels};

/// Which classifier, with its settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ModelSpec {
    /// [`Logistic`] with inverse regularisation strength `c`.
    Logistic {
        /// scikit-learn's `C`.
        c: f64,
    },
    /// [`Boosted`] trees.
    Boosted(BoostParams),
}

impl ModelSpec {
    /// `logistic` or `boosted`.
    pub fn name(&self) -> &'static str {
        match self {
            ModelSpec::Logistic { .. } => "logistic",
            ModelSpec::Boosted(_) => "boosted",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Fitted {
    Logistic(Logistic),
    Boosted(Boosted),
}

/// A binary classifier over named feature columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    encoder: Encoder,
    model: Fitted,
    /// The feature columns, in order.
    pub features: Vec<String>,
    /// Training rows.
    pub trained_on: usize,
}

impl Pipeline {
    /// Fits the encoder and the classifier on `table`, the label being `target == positive`.
    ///
    /// # Errors
    /// [`TableError`] naming the missing column, a missing label, or a degenerate fit.
    pub fn fit(
        table: &Table,
        features: &[String],
        target: &str,
        positive: &str,
        spec: ModelSpec,
        seed: Seed,
    ) -> Result<Pipeline, TableError> {
        let y = labels(table, target, positive)?;
        let encoder = Encoder::fit(table, features)?;
        let x = encoder.transform(table)?;
        let model = match spec {
            ModelSpec::Logistic { c } => Fitted::Logistic(Logistic::fit(&x, &y, c)?),
            ModelSpec::Boosted(params) => Fitted::Boosted(Boosted::fit(&x, &y, params, seed)?),
        };
        Ok(Pipeline { encoder, model, features: features.to_vec(), trained_on: table.rows })
    }

    /// The probability of the positive class for each row.
    ///
    /// # Errors
    /// [`TableError`] naming a feature that is missing or of another kind.
    pub fn predict(&self, table: &Table) -> Result<Vec<f64>, TableError> {
        let x = self.encoder.transform(table)?;
        Ok(match &self.model {
            Fitted::Logistic(m) => m.predict(&x),
            Fitted::Boosted(m) => m.predict(&x),
        })
    }
}

/// Anything that gives the probability of the positive class for a table's rows: a fitted
/// [`Pipeline`], or a user's model (an ONNX graph, say) wrapped by the caller.
pub trait Scorer: std::fmt::Debug + Send + Sync {
    /// The probability of the positive class for each row.
    ///
    /// # Errors
    /// [`TableError`] naming a feature that is missing or cannot be fed to the model.
    fn score(&self, table: &Table) -> Result<Vec<f64>, TableError>;
}

impl Scorer for Pipeline {
    fn score(&self, table: &Table) -> Result<Vec<f64>, TableError> {
        self.predict(table)
    }
}
