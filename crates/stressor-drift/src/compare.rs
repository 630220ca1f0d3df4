//! Two tables compared column by column.

use stressor_tabular::{Column, Table};

use crate::{Bins, Correction, DriftError, SortedSample};

/// Why two tables cannot be compared.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompareError {
    /// The two tables do not match.
    #[error("{0}")]
    Mismatch(String),
    /// A statistic failed.
    #[error("column `{column}`: {source}")]
    Statistic {
        /// The column.
        column: String,
        /// The cause.
        #[source]
        source: DriftError,
    },
}

/// How one column drifted.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureDrift {
    /// The column.
    pub column: String,
    /// `numeric` or `categorical`.
    pub kind: &'static str,
    /// The test: `ks` (numeric) or `chi2` (categorical).
    pub test: &'static str,
    /// Its statistic.
    pub statistic: f64,
    /// Its p-value.
    pub pvalue: f64,
    /// The p-value after the multiple-testing correction over all columns.
    pub pvalue_adjusted: f64,
    /// PSI over 10 reference-quantile bins (numeric) or the categories.
    pub psi: f64,
    /// Jensen–Shannon distance over the same bins or categories.
    pub jensen_shannon: f64,
    /// Wasserstein distance (numeric only).
    pub wasserstein: Option<f64>,
    /// The share of missing values in the reference and in the current table (the tests
    /// use the present values).
    pub missing: (f64, f64),
    /// Whether the adjusted p-value is below the significance level.
    pub drifted: bool,
}

/// Compares every column of `current` with the same column of `reference`.
///
/// # Errors
/// [`CompareError::Mismatch`] naming the columns missing from `current` or whose type differs;
/// [`CompareError::Statistic`] when a statistic cannot be computed.
pub fn compare(
    reference: &Table,
    current: &Table,
    correction: Correction,
    alpha: f64,
) -> Result<Vec<FeatureDrift>, CompareError> {
    let mut problems = Vec::new();
    for (name, column) in &reference.columns {
        match current.columns.iter().find(|(n, _)| n == name) {
            None => {
                problems.push(format!("column `{name}` is missing from {}", current.path.display()))
            }
            Some((_, other)) if std::mem::discriminant(column) != std::mem::discriminant(other) => {
                problems.push(format!(
                    "column `{name}` is {} in {} but {} in {}",
                    column.kind(),
                    reference.path.display(),
                    other.kind(),
                    current.path.display()
                ));
            }
            Some(_) => {}
        }
    }
    if !problems.is_empty() {
        return Err(CompareError::Mismatch(problems.join("; ")));
    }
    let mut out = Vec::new();
    for (name, column) in &reference.columns {
        let Some((_, other)) = current.columns.iter().find(|(n, _)| n == name) else { continue };
        let wrap = |source: DriftError| CompareError::Statistic { column: name.clone(), source };
        let drift = match (column, other) {
            (Column::Numeric(a), Column::Numeric(b)) => {
                let present =
                    |v: &[f64]| -> Vec<f64> { v.iter().copied().filter(|x| !x.is_nan()).collect() };
                let (a, b) = (&present(a), &present(b));
                let (sa, sb) = (
                    SortedSample::new(a, "reference").map_err(wrap)?,
                    SortedSample::new(b, "current").map_err(wrap)?,
                );
                let ks = crate::ks_sorted(&sa, &sb);
                let bins = Bins::from_sorted(&sa, 10).map_err(wrap)?;
                let (ca, cb) = (bins.counts(a), bins.counts(b));
                FeatureDrift {
                    column: name.clone(),
                    kind: "numeric",
                    test: "ks",
                    statistic: ks.statistic,
                    pvalue: ks.pvalue,
                    pvalue_adjusted: ks.pvalue,
                    psi: crate::psi(&ca, &cb).map_err(wrap)?,
                    jensen_shannon: crate::jensen_shannon(&ca, &cb, None).map_err(wrap)?,
                    wasserstein: Some(crate::wasserstein_sorted(&sa, &sb)),
                    missing: (column.missing_share(), other.missing_share()),
                    drifted: false,
                }
            }
            (Column::Categorical(a), Column::Categorical(b)) => {
                let mut categories: Vec<&String> = a.iter().chain(b.iter()).collect();
                categories.sort();
                categories.dedup();
                let count = |values: &[String]| -> Vec<f64> {
                    categories
                        .iter()
                        .map(|c| values.iter().filter(|v| v == c).count() as f64)
                        .collect()
                };
                let (ca, cb) = (count(a), count(b));
                let (statistic, pvalue) = if categories.len() < 2 {
                    (0.0, 1.0)
                } else {
                    let chi2 = crate::chi2_contingency(&[ca.clone(), cb.clone()]).map_err(wrap)?;
                    (chi2.statistic, chi2.pvalue)
                };
                FeatureDrift {
                    column: name.clone(),
                    kind: "categorical",
                    test: "chi2",
                    statistic,
                    pvalue,
                    pvalue_adjusted: pvalue,
                    psi: crate::psi(&ca, &cb).map_err(wrap)?,
                    jensen_shannon: crate::jensen_shannon(&ca, &cb, None).map_err(wrap)?,
                    wasserstein: None,
                    missing: (column.missing_share(), other.missing_share()),
                    drifted: false,
                }
            }
            _ => continue,
        };
        out.push(drift);
    }
    let pvalues: Vec<f64> = out.iter().map(|d| d.pvalue).collect();
    let adjusted = crate::adjust(&pvalues, correction)
        .map_err(|source| CompareError::Statistic { column: "(all)".into(), source })?;
    for (drift, p) in out.iter_mut().zip(adjusted) {
        drift.pvalue_adjusted = p;
        drift.drifted = p < alpha;
    }
    Ok(out)
}
