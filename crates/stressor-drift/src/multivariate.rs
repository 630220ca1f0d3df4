//! Multivariate drift tests over whole rows (encoded features), which see changes no single
//! feature shows — a changed correlation, say:
//!
//! - [`mmd`]: the maximum mean discrepancy with a Gaussian kernel (unbiased MMD², Gretton et
//!   al., *A Kernel Two-Sample Test*, JMLR 2012), bandwidth by the median heuristic, p-value by
//!   a seeded permutation test;
//! - [`domain_classifier`]: a classifier trained to tell reference rows from current rows,
//!   scored out of fold; its AUROC is 0.5 without drift, and the p-value is the Mann–Whitney
//!   normal approximation of that AUROC (Rabanser et al., *Failing Loudly*, NeurIPS 2019).

use rand::seq::SliceRandom as _;
use statrs::distribution::{ContinuousCDF as _, Normal};
use stressor_core::Seed;
use stressor_tabular::{Logistic, Matrix};

use crate::DriftError;

/// An MMD permutation test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MmdResult {
    /// The unbiased MMD² estimate.
    pub mmd2: f64,
    /// The permutation p-value, `(1 + #{permuted ≥ observed}) / (1 + permutations)`.
    pub pvalue: f64,
    /// The Gaussian kernel's bandwidth σ in `exp(−‖x − y‖² / (2σ²))`.
    pub bandwidth: f64,
    /// Permutations drawn.
    pub permutations: usize,
}

fn check_rows(a: &Matrix, b: &Matrix) -> Result<(), DriftError> {
    if a.rows < 2 || b.rows < 2 {
        return Err(DriftError::Shape(
            "a multivariate test needs at least 2 rows in each sample".into(),
        ));
    }
    if a.cols != b.cols || a.cols == 0 {
        return Err(DriftError::Shape(format!(
            "the samples have {} and {} columns; they must be equal and not 0",
            a.cols, b.cols
        )));
    }
    if a.data.iter().chain(&b.data).any(|v| !v.is_finite()) {
        return Err(DriftError::NotFinite("pooled"));
    }
    Ok(())
}

fn squared_distance(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum()
}

/// The unbiased MMD² of the pooled rows' kernel matrix `k` (`n × n`) when the rows in `first`
/// form one sample and the others the second.
fn mmd2_of(k: &[f64], n: usize, first: &[bool]) -> f64 {
    let (mut xx, mut yy, mut xy) = (0.0, 0.0, 0.0);
    for i in 0..n {
        for j in 0..n {
            if i == j {
                continue;
            }
            let v = k[i * n + j];
            match (first[i], first[j]) {
                (true, true) => xx += v,
                (false, false) => yy += v,
                _ => xy += v,
            }
        }
    }
    let m = first.iter().filter(|&&f| f).count() as f64;
    let p = n as f64 - m;
    xx / (m * (m - 1.0)) + yy / (p * (p - 1.0)) - xy / (m * p)
}

/// The MMD two-sample test between the rows of `reference` and `current`. With a `bandwidth`
/// of `None`, σ is the median pairwise distance of the pooled rows. The kernel matrix is
/// `(n + m)²`: subsample large samples first.
///
/// # Errors
/// [`DriftError`] for fewer than 2 rows, mismatched columns or non-finite values.
pub fn mmd(
    reference: &Matrix,
    current: &Matrix,
    bandwidth: Option<f64>,
    permutations: usize,
    seed: Seed,
) -> Result<MmdResult, DriftError> {
    check_rows(reference, current)?;
    let n = reference.rows + current.rows;
    let row = |i: usize| {
        if i < reference.rows { reference.row(i) } else { current.row(i - reference.rows) }
    };
    let mut d2 = vec![0.0; n * n];
    for i in 0..n {
        for j in i + 1..n {
            let v = squared_distance(row(i), row(j));
            d2[i * n + j] = v;
            d2[j * n + i] = v;
        }
    }
    let sigma = match bandwidth {
        Some(s) if s > 0.0 && s.is_finite() => s,
        Some(s) => {
            return Err(DriftError::Shape(format!("the MMD bandwidth must be > 0, not {s}")));
        }
        None => {
            let mut upper: Vec<f64> = (0..n)
                .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
                .map(|(i, j)| d2[i * n + j])
                .collect();
            upper.sort_by(f64::total_cmp);
            let median = upper[upper.len() / 2].sqrt();
            if median > 0.0 { median } else { 1.0 }
        }
    };
    let k: Vec<f64> = d2.iter().map(|v| (-v / (2.0 * sigma * sigma)).exp()).collect();
    let mut first: Vec<bool> = (0..n).map(|i| i < reference.rows).collect();
    let observed = mmd2_of(&k, n, &first);
    let mut rng = seed.rng();
    let mut at_least = 0usize;
    for _ in 0..permutations {
        first.shuffle(&mut rng);
        if mmd2_of(&k, n, &first) >= observed {
            at_least += 1;
        }
    }
    Ok(MmdResult {
        mmd2: observed,
        pvalue: (1 + at_least) as f64 / (1 + permutations) as f64,
        bandwidth: sigma,
        permutations,
    })
}

/// A domain-classifier test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DomainClassifierResult {
    /// The out-of-fold AUROC of telling current rows from reference rows.
    pub auroc: f64,
    /// The one-sided p-value of `AUROC > 0.5` (Mann–Whitney normal approximation).
    pub pvalue: f64,
    /// Folds.
    pub folds: usize,
}

/// Trains an L2 logistic regression (scikit-learn's C = 1) to tell `current` rows (class 1)
/// from `reference` rows (class 0) in `folds` seeded folds, and scores every row out of fold.
///
/// # Errors
/// [`DriftError`] for fewer rows than folds in a sample, mismatched columns, non-finite values
/// or a fit that fails.
pub fn domain_classifier(
    reference: &Matrix,
    current: &Matrix,
    folds: usize,
    seed: Seed,
) -> Result<DomainClassifierResult, DriftError> {
    check_rows(reference, current)?;
    if folds < 2 || reference.rows < folds || current.rows < folds {
        return Err(DriftError::Shape(format!(
            "{folds} folds need at least 2 folds and that many rows in each sample"
        )));
    }
    let n = reference.rows + current.rows;
    let cols = reference.cols;
    let mut data = reference.data.clone();
    data.extend_from_slice(&current.data);
    let labels: Vec<u8> = (0..n).map(|i| u8::from(i >= reference.rows)).collect();
    let mut fold_of: Vec<usize> = (0..n).map(|i| i % folds).collect();
    fold_of.shuffle(&mut seed.rng());
    let mut scores = vec![0.0; n];
    for fold in 0..folds {
        let (train, test): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| fold_of[i] != fold);
        let take = |rows: &[usize]| Matrix {
            rows: rows.len(),
            cols,
            data: rows
                .iter()
                .flat_map(|&i| data[i * cols..(i + 1) * cols].iter().copied())
                .collect(),
        };
        let y: Vec<u8> = train.iter().map(|&i| labels[i]).collect();
        let model = Logistic::fit(&take(&train), &y, 1.0)
            .map_err(|e| DriftError::Shape(format!("domain classifier: {e}")))?;
        for (i, p) in test.iter().zip(model.predict(&take(&test))) {
            scores[*i] = p;
        }
    }
    let positive: Vec<bool> = labels.iter().map(|&y| y == 1).collect();
    let auroc = stressor_calibration::auroc(&scores, &positive);
    let (m, k) = (current.rows as f64, reference.rows as f64);
    // Under H0 the Mann–Whitney U = AUROC·m·k has mean m·k/2 and variance m·k(m + k + 1)/12.
    let z = (auroc - 0.5) * m * k / (m * k * (m + k + 1.0) / 12.0).sqrt();
    let pvalue = Normal::standard().sf(z);
    Ok(DomainClassifierResult { auroc, pvalue, folds })
}
