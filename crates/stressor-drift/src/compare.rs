//! Two tables compared column by column.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rayon::prelude::*;
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
    /// The test: `ks` (numeric), `ks+missing` (numeric with missing values: KS on the present
    /// values and χ² on missingness, Bonferroni-combined), `missing` (no value left in the
    /// current table), or `chi2` (categorical; missing is a category).
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
    /// Hellinger distance over the same bins or categories.
    pub hellinger: f64,
    /// Wasserstein distance (numeric only).
    pub wasserstein: Option<f64>,
    /// The share of missing values in the reference and in the current table (the tests
    /// use the present values).
    pub missing: (f64, f64),
    /// Whether the adjusted p-value is below the significance level.
    pub drifted: bool,
}

/// One reference column's statistics, computed once.
#[derive(Debug, Clone)]
enum ColumnSketch {
    Numeric { sorted: SortedSample, bins: Bins, reference_counts: Vec<f64>, missing: f64 },
    Categorical { counts: BTreeMap<String, f64>, missing: f64 },
}

/// A reference table's per-column statistics — sorted values and quantile bins for numeric
/// columns, category counts for categorical ones — computed once and compared with any number
/// of current tables.
#[derive(Debug, Clone)]
pub struct Reference {
    path: PathBuf,
    rows: usize,
    columns: Vec<(String, ColumnSketch)>,
}

impl Reference {
    /// Precomputes `table`'s statistics.
    ///
    /// # Errors
    /// [`CompareError::Statistic`] for a numeric column with no values.
    pub fn new(table: &Table) -> Result<Reference, CompareError> {
        // Columns sketched on rayon's threads; the first error in column order wins.
        let sketched: Vec<Result<(String, ColumnSketch), CompareError>> = table
            .columns
            .par_iter()
            .map(|(name, column)| {
                let wrap =
                    |source: DriftError| CompareError::Statistic { column: name.clone(), source };
                let sketch = match column {
                    Column::Numeric(values) => {
                        let present = present(values);
                        let sorted = SortedSample::new(&present, "reference").map_err(wrap)?;
                        let bins = Bins::from_sorted(&sorted, 10).map_err(wrap)?;
                        let reference_counts = bins.counts(&present);
                        ColumnSketch::Numeric {
                            sorted,
                            bins,
                            reference_counts,
                            missing: column.missing_share(),
                        }
                    }
                    Column::Categorical(values) => {
                        let mut counts = BTreeMap::new();
                        for v in values {
                            *counts.entry(v.clone()).or_insert(0.0) += 1.0;
                        }
                        ColumnSketch::Categorical { counts, missing: column.missing_share() }
                    }
                };
                Ok((name.clone(), sketch))
            })
            .collect();
        let columns = sketched.into_iter().collect::<Result<Vec<_>, _>>()?;
        Ok(Reference { path: table.path.clone(), rows: table.rows, columns })
    }

    /// Rows in the reference.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Compares every reference column with the same column of `current`: KS (numeric) or χ²
    /// (categorical), PSI and Jensen–Shannon over the reference's bins or the categories,
    /// Wasserstein for numbers; p-values corrected across columns with `correction`, and a
    /// column drifted when its corrected p-value is below `alpha`.
    ///
    /// # Errors
    /// [`CompareError::Mismatch`] naming the columns missing from `current` or whose type
    /// differs; [`CompareError::Statistic`] when a statistic cannot be computed.
    pub fn compare(
        &self,
        current: &Table,
        correction: Correction,
        alpha: f64,
    ) -> Result<Vec<FeatureDrift>, CompareError> {
        let mut problems = Vec::new();
        for (name, sketch) in &self.columns {
            let kind = match sketch {
                ColumnSketch::Numeric { .. } => "numeric",
                ColumnSketch::Categorical { .. } => "categorical",
            };
            match current.column(name) {
                None => problems
                    .push(format!("column `{name}` is missing from {}", current.path.display())),
                Some(other) if other.kind() != kind => problems.push(format!(
                    "column `{name}` is {kind} in {} but {} in {}",
                    self.path.display(),
                    other.kind(),
                    current.path.display()
                )),
                Some(_) => {}
            }
        }
        if !problems.is_empty() {
            return Err(CompareError::Mismatch(problems.join("; ")));
        }
        // Columns compared on rayon's threads; the first error in column order wins.
        let compared: Vec<Result<Option<FeatureDrift>, CompareError>> = self
            .columns
            .par_iter()
            .map(|(name, sketch)| {
                let Some(other) = current.column(name) else { return Ok(None) };
                let wrap =
                    |source: DriftError| CompareError::Statistic { column: name.clone(), source };
                let drift = match (sketch, other) {
                    (
                        ColumnSketch::Numeric { sorted, bins, reference_counts, missing },
                        Column::Numeric(b),
                    ) => {
                        let current_missing = other.missing_share();
                        let b = present(b);
                        // Missingness as a 2×2 table (present, missing) × (reference, current).
                        let missing_test = (*missing > 0.0 || current_missing > 0.0).then(|| {
                            missingness_pvalue(
                                (self.rows as f64, *missing),
                                (other.len() as f64, current_missing),
                            )
                        });
                        if b.is_empty() {
                            // Nothing left to compare but the missingness itself.
                            FeatureDrift {
                                column: name.clone(),
                                kind: "numeric",
                                test: "missing",
                                statistic: (current_missing - missing).abs(),
                                pvalue: missing_test.unwrap_or(1.0),
                                pvalue_adjusted: missing_test.unwrap_or(1.0),
                                psi: f64::NAN,
                                jensen_shannon: f64::NAN,
                                hellinger: f64::NAN,
                                wasserstein: None,
                                missing: (*missing, current_missing),
                                drifted: false,
                            }
                        } else {
                            let sb = SortedSample::new(&b, "current").map_err(wrap)?;
                            let ks = crate::ks_sorted(sorted, &sb);
                            let cb = bins.counts(&b);
                            // With missing values, the KS test on the present values and the χ²
                            // test on missingness, Bonferroni-combined.
                            let (test, pvalue) = match missing_test {
                                None => ("ks", ks.pvalue),
                                Some(p) => ("ks+missing", (2.0 * ks.pvalue.min(p)).min(1.0)),
                            };
                            FeatureDrift {
                                column: name.clone(),
                                kind: "numeric",
                                test,
                                statistic: ks.statistic,
                                pvalue,
                                pvalue_adjusted: pvalue,
                                psi: crate::psi(reference_counts, &cb).map_err(wrap)?,
                                jensen_shannon: crate::jensen_shannon(reference_counts, &cb, None)
                                    .map_err(wrap)?,
                                hellinger: crate::hellinger(reference_counts, &cb).map_err(wrap)?,
                                wasserstein: Some(crate::wasserstein_sorted(sorted, &sb)),
                                missing: (*missing, current_missing),
                                drifted: false,
                            }
                        }
                    }
                    (ColumnSketch::Categorical { counts, missing }, Column::Categorical(b)) => {
                        let mut current_counts: BTreeMap<&str, f64> = BTreeMap::new();
                        for v in b {
                            *current_counts.entry(v.as_str()).or_insert(0.0) += 1.0;
                        }
                        categorical_drift(
                            name,
                            counts,
                            &current_counts,
                            (*missing, other.missing_share()),
                        )?
                    }
                    _ => return Ok(None),
                };
                Ok(Some(drift))
            })
            .collect();
        let mut out = Vec::with_capacity(self.columns.len());
        for drift in compared {
            out.extend(drift?);
        }
        correct(&mut out, correction, alpha)?;
        Ok(out)
    }
}

/// A current table fed in chunks against a [`Reference`]: exact KS statistics from counts
/// ([`crate::streaming::StreamingKs`]), bin and category counts, missing counts — memory
/// bounded by the reference, not the current data. Wasserstein needs the current values
/// themselves and is left out.
#[derive(Debug, Clone)]
pub struct Accumulator<'r> {
    reference: &'r Reference,
    columns: Vec<Accumulated>,
    rows: usize,
}

#[derive(Debug, Clone)]
enum Accumulated {
    Numeric { ks: crate::streaming::StreamingKs, bins: Vec<f64>, missing: u64 },
    Categorical { counts: BTreeMap<String, f64> },
}

impl Reference {
    /// The columns and kinds a current table must have, for chunked reading.
    pub fn kinds(&self) -> Vec<(String, &'static str)> {
        self.columns
            .iter()
            .map(|(name, sketch)| {
                let kind = match sketch {
                    ColumnSketch::Numeric { .. } => "numeric",
                    ColumnSketch::Categorical { .. } => "categorical",
                };
                (name.clone(), kind)
            })
            .collect()
    }

    /// An accumulator for a current table read in chunks.
    pub fn accumulator(&self) -> Accumulator<'_> {
        let columns = self
            .columns
            .iter()
            .map(|(_, sketch)| match sketch {
                ColumnSketch::Numeric { sorted, reference_counts, .. } => Accumulated::Numeric {
                    ks: crate::streaming::StreamingKs::new(sorted),
                    bins: vec![0.0; reference_counts.len()],
                    missing: 0,
                },
                ColumnSketch::Categorical { .. } => {
                    Accumulated::Categorical { counts: BTreeMap::new() }
                }
            })
            .collect();
        Accumulator { reference: self, columns, rows: 0 }
    }
}

impl Accumulator<'_> {
    /// Adds a chunk of the current table.
    ///
    /// # Errors
    /// [`CompareError::Mismatch`] naming a missing column or one of another kind.
    pub fn push(&mut self, chunk: &Table) -> Result<(), CompareError> {
        for ((name, sketch), acc) in self.reference.columns.iter().zip(&mut self.columns) {
            let column = chunk.column(name).ok_or_else(|| {
                CompareError::Mismatch(format!(
                    "column `{name}` is missing from {}",
                    chunk.path.display()
                ))
            })?;
            match (acc, column, sketch) {
                (
                    Accumulated::Numeric { ks, bins, missing },
                    Column::Numeric(values),
                    ColumnSketch::Numeric { bins: edges, .. },
                ) => {
                    let present = present(values);
                    *missing += (values.len() - present.len()) as u64;
                    ks.push(&present).map_err(|source| CompareError::Statistic {
                        column: name.clone(),
                        source,
                    })?;
                    for (total, count) in bins.iter_mut().zip(edges.counts(&present)) {
                        *total += count;
                    }
                }
                (Accumulated::Categorical { counts }, Column::Categorical(values), _) => {
                    for v in values {
                        *counts.entry(v.clone()).or_insert(0.0) += 1.0;
                    }
                }
                (_, other, _) => {
                    return Err(CompareError::Mismatch(format!(
                        "column `{name}` is {} in {}, not as in {}",
                        other.kind(),
                        chunk.path.display(),
                        self.reference.path.display()
                    )));
                }
            }
        }
        self.rows += chunk.rows;
        Ok(())
    }

    /// Rows pushed.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The comparison over every chunk pushed: as [`Reference::compare`] on the whole current
    /// table, without Wasserstein.
    ///
    /// # Errors
    /// [`CompareError::Statistic`] when a numeric column had no value.
    pub fn finish(
        &self,
        correction: Correction,
        alpha: f64,
    ) -> Result<Vec<FeatureDrift>, CompareError> {
        let mut out = Vec::with_capacity(self.columns.len());
        for ((name, sketch), acc) in self.reference.columns.iter().zip(&self.columns) {
            let wrap =
                |source: DriftError| CompareError::Statistic { column: name.clone(), source };
            match (sketch, acc) {
                (
                    ColumnSketch::Numeric { reference_counts, missing, .. },
                    Accumulated::Numeric { ks, bins, missing: current_missing },
                ) => {
                    let result = ks.finish().map_err(wrap)?;
                    let current_missing = *current_missing as f64 / self.rows.max(1) as f64;
                    let (test, pvalue) = if *missing > 0.0 || current_missing > 0.0 {
                        let p = missingness_pvalue(
                            (self.reference.rows as f64, *missing),
                            (self.rows as f64, current_missing),
                        );
                        ("ks+missing", (2.0 * result.pvalue.min(p)).min(1.0))
                    } else {
                        ("ks", result.pvalue)
                    };
                    out.push(FeatureDrift {
                        column: name.clone(),
                        kind: "numeric",
                        test,
                        statistic: result.statistic,
                        pvalue,
                        pvalue_adjusted: pvalue,
                        psi: crate::psi(reference_counts, bins).map_err(wrap)?,
                        jensen_shannon: crate::jensen_shannon(reference_counts, bins, None)
                            .map_err(wrap)?,
                        hellinger: crate::hellinger(reference_counts, bins).map_err(wrap)?,
                        wasserstein: None,
                        missing: (*missing, current_missing),
                        drifted: false,
                    });
                }
                (
                    ColumnSketch::Categorical { counts, missing },
                    Accumulated::Categorical { counts: current },
                ) => {
                    let current_missing =
                        current.get("").copied().unwrap_or(0.0) / self.rows.max(1) as f64;
                    let current: BTreeMap<&str, f64> =
                        current.iter().map(|(k, v)| (k.as_str(), *v)).collect();
                    out.push(categorical_drift(
                        name,
                        counts,
                        &current,
                        (*missing, current_missing),
                    )?);
                }
                _ => {}
            }
        }
        correct(&mut out, correction, alpha)?;
        Ok(out)
    }
}

/// The χ² test of missingness, (present, missing) × (reference, current), from each side's
/// rows and missing share; 1 when nothing or everything is missing on both sides.
fn missingness_pvalue((nr, missing_r): (f64, f64), (nc, missing_c): (f64, f64)) -> f64 {
    let table = [
        vec![nr * (1.0 - missing_r), nr * missing_r],
        vec![nc * (1.0 - missing_c), nc * missing_c],
    ];
    if table[0][1] + table[1][1] > 0.0 && table[0][0] + table[1][0] > 0.0 {
        crate::chi2_contingency(&table).map_or(1.0, |c| c.pvalue)
    } else {
        1.0
    }
}

/// A categorical column's drift: χ², PSI, JS and Hellinger over the union of categories
/// (missing, "", is a category).
fn categorical_drift(
    name: &str,
    reference: &BTreeMap<String, f64>,
    current: &BTreeMap<&str, f64>,
    missing: (f64, f64),
) -> Result<FeatureDrift, CompareError> {
    let wrap = |source: DriftError| CompareError::Statistic { column: name.to_string(), source };
    let mut categories: Vec<&str> = reference.keys().map(String::as_str).collect();
    categories.extend(current.keys());
    categories.sort_unstable();
    categories.dedup();
    let ca: Vec<f64> =
        categories.iter().map(|c| reference.get(*c).copied().unwrap_or(0.0)).collect();
    let cb: Vec<f64> = categories.iter().map(|c| current.get(c).copied().unwrap_or(0.0)).collect();
    let (statistic, pvalue) = if categories.len() < 2 {
        (0.0, 1.0)
    } else {
        let chi2 = crate::chi2_contingency(&[ca.clone(), cb.clone()]).map_err(wrap)?;
        (chi2.statistic, chi2.pvalue)
    };
    Ok(FeatureDrift {
        column: name.to_string(),
        kind: "categorical",
        test: "chi2",
        statistic,
        pvalue,
        pvalue_adjusted: pvalue,
        psi: crate::psi(&ca, &cb).map_err(wrap)?,
        jensen_shannon: crate::jensen_shannon(&ca, &cb, None).map_err(wrap)?,
        hellinger: crate::hellinger(&ca, &cb).map_err(wrap)?,
        wasserstein: None,
        missing,
        drifted: false,
    })
}

/// Corrects the p-values across columns and marks the drifted ones.
fn correct(
    out: &mut [FeatureDrift],
    correction: Correction,
    alpha: f64,
) -> Result<(), CompareError> {
    let pvalues: Vec<f64> = out.iter().map(|d| d.pvalue).collect();
    let adjusted = crate::adjust(&pvalues, correction)
        .map_err(|source| CompareError::Statistic { column: "(all)".into(), source })?;
    for (drift, p) in out.iter_mut().zip(adjusted) {
        drift.pvalue_adjusted = p;
        drift.drifted = p < alpha;
    }
    Ok(())
}

fn present(values: &[f64]) -> Vec<f64> {
    values.iter().copied().filter(|x| !x.is_nan()).collect()
}

/// Compares every column of `current` with the same column of `reference`; see
/// [`Reference::compare`].
///
/// # Errors
/// As [`Reference::new`] and [`Reference::compare`].
pub fn compare(
    reference: &Table,
    current: &Table,
    correction: Correction,
    alpha: f64,
) -> Result<Vec<FeatureDrift>, CompareError> {
    Reference::new(reference)?.compare(current, correction, alpha)
}
