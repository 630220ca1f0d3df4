//! Tables of features from CSV files, and their column-by-column comparison.

use std::path::{Path, PathBuf};

use crate::{Bins, Correction, DriftError, SortedSample};

/// One column of a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Every value parsed as a number.
    Numeric(Vec<f64>),
    /// Anything else: categories as text.
    Categorical(Vec<String>),
}

/// A table of named columns, all the same length.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Where it was read from.
    pub path: PathBuf,
    /// Column names and values, in file order.
    pub columns: Vec<(String, Column)>,
    /// Rows.
    pub rows: usize,
}

/// Why a table cannot be read or compared.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// The file cannot be read or is not CSV.
    #[error("{}: {message}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong, with the line where there is one.
        message: String,
    },
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

impl Table {
    /// Reads a CSV file with a header row. A column whose every non-empty value parses as a
    /// finite number is numeric; any other column is categorical. Empty numeric cells are
    /// errors naming the line (missing values need an explicit category).
    ///
    /// # Errors
    /// [`TableError::Read`] naming the file and line: unreadable, no header, no rows, ragged
    /// rows.
    pub fn from_csv(path: &Path) -> Result<Table, TableError> {
        let error = |message: String| TableError::Read { path: path.to_path_buf(), message };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_path(path)
            .map_err(|e| error(e.to_string()))?;
        let names: Vec<String> = reader
            .headers()
            .map_err(|e| error(e.to_string()))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        if names.is_empty() || names.iter().all(String::is_empty) {
            return Err(error("no header row".into()));
        }
        let mut cells: Vec<Vec<String>> = vec![Vec::new(); names.len()];
        for (i, record) in reader.records().enumerate() {
            let record = record.map_err(|e| error(format!("line {}: {e}", i + 2)))?;
            if record.len() != names.len() {
                return Err(error(format!(
                    "line {}: {} fields, the header has {}",
                    i + 2,
                    record.len(),
                    names.len()
                )));
            }
            for (column, field) in cells.iter_mut().zip(record.iter()) {
                column.push(field.trim().to_string());
            }
        }
        let rows = cells.first().map_or(0, Vec::len);
        if rows == 0 {
            return Err(error("no data rows".into()));
        }
        let columns = names
            .into_iter()
            .zip(cells)
            .map(|(name, values)| {
                let numbers: Option<Vec<f64>> = values
                    .iter()
                    .map(|v| v.parse::<f64>().ok().filter(|x| x.is_finite()))
                    .collect();
                let column = match numbers {
                    Some(numbers) => Column::Numeric(numbers),
                    None => Column::Categorical(values),
                };
                (name, column)
            })
            .collect();
        Ok(Table { path: path.to_path_buf(), columns, rows })
    }
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
    /// Whether the adjusted p-value is below the significance level.
    pub drifted: bool,
}

/// Compares every column of `current` with the same column of `reference`.
///
/// # Errors
/// [`TableError::Mismatch`] naming the columns missing from `current` or whose type differs;
/// [`TableError::Statistic`] when a statistic cannot be computed.
pub fn compare(
    reference: &Table,
    current: &Table,
    correction: Correction,
    alpha: f64,
) -> Result<Vec<FeatureDrift>, TableError> {
    let mut problems = Vec::new();
    for (name, column) in &reference.columns {
        match current.columns.iter().find(|(n, _)| n == name) {
            None => {
                problems.push(format!("column `{name}` is missing from {}", current.path.display()))
            }
            Some((_, other)) if std::mem::discriminant(column) != std::mem::discriminant(other) => {
                let kind = |c: &Column| {
                    if matches!(c, Column::Numeric(_)) { "numeric" } else { "categorical" }
                };
                problems.push(format!(
                    "column `{name}` is {} in {} but {} in {}",
                    kind(column),
                    reference.path.display(),
                    kind(other),
                    current.path.display()
                ));
            }
            Some(_) => {}
        }
    }
    if !problems.is_empty() {
        return Err(TableError::Mismatch(problems.join("; ")));
    }
    let mut out = Vec::new();
    for (name, column) in &reference.columns {
        let Some((_, other)) = current.columns.iter().find(|(n, _)| n == name) else { continue };
        let wrap = |source: DriftError| TableError::Statistic { column: name.clone(), source };
        let drift = match (column, other) {
            (Column::Numeric(a), Column::Numeric(b)) => {
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
                    drifted: false,
                }
            }
            _ => continue,
        };
        out.push(drift);
    }
    let pvalues: Vec<f64> = out.iter().map(|d| d.pvalue).collect();
    let adjusted = crate::adjust(&pvalues, correction)
        .map_err(|source| TableError::Statistic { column: "(all)".into(), source })?;
    for (drift, p) in out.iter_mut().zip(adjusted) {
        drift.pvalue_adjusted = p;
        drift.drifted = p < alpha;
    }
    Ok(out)
}
