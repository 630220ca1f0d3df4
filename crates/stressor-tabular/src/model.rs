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

/// The first bytes of a serialised [`Pipeline`].
const PIPELINE_MAGIC: &[u8; 8] = b"STRPIPE1";

impl Pipeline {
    /// The pipeline as bytes (a model artefact a registry stores): the encoder's columns and
    /// the classifier's weights, little-endian, after a magic header. Only logistic pipelines
    /// are serialised; `None` for boosted trees.
    pub fn to_bytes(&self) -> Option<Vec<u8>> {
        let Fitted::Logistic(model) = &self.model else {
            return None;
        };
        let mut out = PIPELINE_MAGIC.to_vec();
        put_u64(&mut out, self.trained_on as u64);
        self.encoder.write(&mut out);
        put_u64(&mut out, model.weights.len() as u64);
        for w in &model.weights {
            out.extend(w.to_le_bytes());
        }
        out.extend(model.intercept.to_le_bytes());
        put_u64(&mut out, model.iterations as u64);
        Some(out)
    }

    /// A pipeline from [`Pipeline::to_bytes`].
    ///
    /// # Errors
    /// [`TableError::Shape`] saying what is wrong when the bytes are not a whole, consistent
    /// pipeline (a tampered or truncated artefact).
    pub fn from_bytes(bytes: &[u8]) -> Result<Pipeline, TableError> {
        let bad = |what: &str| TableError::Shape(format!("not a stressor pipeline: {what}"));
        let rest = bytes
            .strip_prefix(PIPELINE_MAGIC.as_slice())
            .ok_or_else(|| bad("missing magic bytes"))?;
        let mut reader = Reader(rest);
        let trained_on = reader.u64().ok_or_else(|| bad("truncated"))? as usize;
        let encoder = Encoder::read(&mut reader).ok_or_else(|| bad("unreadable encoder"))?;
        let n = reader.u64().ok_or_else(|| bad("truncated"))? as usize;
        if n != encoder.width() {
            return Err(bad(&format!("{n} weights for {} encoded columns", encoder.width())));
        }
        let weights = (0..n)
            .map(|_| reader.f64())
            .collect::<Option<Vec<f64>>>()
            .ok_or_else(|| bad("truncated weights"))?;
        let intercept = reader.f64().ok_or_else(|| bad("truncated"))?;
        let iterations = reader.u64().ok_or_else(|| bad("truncated"))? as usize;
        if !reader.0.is_empty() {
            return Err(bad("trailing bytes"));
        }
        if !intercept.is_finite() || weights.iter().any(|w| !w.is_finite()) {
            return Err(bad("a weight is not finite"));
        }
        let features = encoder.feature_names();
        Ok(Pipeline {
            encoder,
            model: Fitted::Logistic(Logistic { weights, intercept, iterations }),
            features,
            trained_on,
        })
    }
}

pub(crate) fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend(value.to_le_bytes());
}

pub(crate) fn put_str(out: &mut Vec<u8>, value: &str) {
    put_u64(out, value.len() as u64);
    out.extend(value.as_bytes());
}

/// Reads what `put_*` wrote; `None` when the bytes run out or are not UTF-8.
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    pub(crate) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    pub(crate) fn f64(&mut self) -> Option<f64> {
        Some(f64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    pub(crate) fn str(&mut self) -> Option<String> {
        let n = usize::try_from(self.u64()?).ok()?;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logistic_pipeline_survives_bytes_and_a_cut_one_is_refused() -> Result<(), TableError> {
        let table = crate::german_credit();
        let features: Vec<String> =
            ["duration_in_month", "credit_amount", "purpose", "personal_status_and_sex"]
                .iter()
                .map(|s| (*s).to_string())
                .collect();
        let pipeline = Pipeline::fit(
            &table,
            &features,
            crate::GERMAN_CREDIT_TARGET,
            crate::GERMAN_CREDIT_POSITIVE,
            ModelSpec::Logistic { c: 1.0 },
            Seed::new(1),
        )?;
        let bytes =
            pipeline.to_bytes().ok_or_else(|| TableError::Shape("not serialised".into()))?;
        let back = Pipeline::from_bytes(&bytes)?;
        assert_eq!(back, pipeline);
        assert_eq!(back.predict(&table)?, pipeline.predict(&table)?);
        assert!(Pipeline::from_bytes(&bytes[..bytes.len() - 3]).is_err());
        assert!(Pipeline::from_bytes(b"STRPIPE1").is_err());
        assert!(Pipeline::from_bytes(b"").is_err());
        Ok(())
    }
}
