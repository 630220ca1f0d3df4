//! Drift statistics between a reference sample and a current one.
//!
//! Per numeric feature: the two-sample Kolmogorov–Smirnov statistic ([`ks_2samp`]) and the
//! 1-D Wasserstein distance ([`wasserstein`]); between two distributions over the same bins or
//! categories: Jensen–Shannon distance ([`jensen_shannon`]), Hellinger distance
//! ([`hellinger`]) and the population stability index ([`psi`]); for categorical features the
//! χ² test of a contingency table ([`chi2_contingency`]); p-values over many features are
//! adjusted with [`adjust`] (Bonferroni, Holm, Benjamini–Hochberg/Yekutieli). Numeric features become
//! distributions with [`Bins::quantiles`] of the reference.
//!
//! Every value is checked against scipy (`ks_2samp`, `wasserstein_distance`,
//! `jensenshannon`, `chi2_contingency`) and numpy on committed fixtures
//! (`tests/fixtures/make.py`).
//!
//! [`inject`] makes drift with a dial in [0, 1] (mixtures, scale, prior, category and missing
//! values), seeded and nested so a larger dial keeps a smaller one's rows.
//!
//! Non-goals (yet): streaming sketches and the multivariate tests.
//!
//! ```
//! let reference = [0.1, 0.4, 0.35, 0.8];
//! let current = [0.6, 0.9, 0.7, 1.2];
//! let ks = stressor_drift::ks_2samp(&reference, &current).unwrap();
//! assert_eq!(ks.statistic, 0.75);
//! ```

#![warn(missing_docs)]

pub mod compare;
pub mod inject;
mod kstwo;
pub mod multivariate;
pub mod recovery;
pub mod stream;
pub mod streaming;

use statrs::distribution::{ChiSquared, ContinuousCDF as _};

/// Why a statistic cannot be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DriftError {
    /// A sample is empty.
    #[error("the {0} sample is empty")]
    Empty(&'static str),
    /// A value is NaN or infinite.
    #[error("the {0} sample holds a value that is not a finite number")]
    NotFinite(&'static str),
    /// Two distributions or table rows differ in length, or a table is too small.
    #[error("{0}")]
    Shape(String),
}

fn check(values: &[f64], which: &'static str) -> Result<(), DriftError> {
    if values.is_empty() {
        return Err(DriftError::Empty(which));
    }
    if values.iter().any(|v| !v.is_finite()) {
        return Err(DriftError::NotFinite(which));
    }
    Ok(())
}

/// `values` in increasing order. The floats are mapped to integers with the same order
/// (IEEE 754 bits, negatives flipped), sorted as integers — cheaper to compare than
/// `f64::total_cmp` — and mapped back.
fn sorted(values: &[f64]) -> Vec<f64> {
    const SIGN: u64 = 1 << 63;
    let mut keys: Vec<u64> = values
        .iter()
        .map(|v| {
            let bits = v.to_bits();
            if bits & SIGN != 0 { !bits } else { bits | SIGN }
        })
        .collect();
    keys.sort_unstable();
    keys.into_iter().map(|k| f64::from_bits(if k & SIGN != 0 { k & !SIGN } else { !k })).collect()
}

/// A sample sorted once, so a reference can be compared with many current samples (or one
/// sample with several statistics) without sorting it again.
#[derive(Debug, Clone, PartialEq)]
pub struct SortedSample {
    values: Vec<f64>,
}

impl SortedSample {
    /// Sorts `values`.
    ///
    /// # Errors
    /// [`DriftError`] for an empty sample or a non-finite value.
    pub fn new(values: &[f64], which: &'static str) -> Result<SortedSample, DriftError> {
        check(values, which)?;
        Ok(SortedSample { values: sorted(values) })
    }

    /// The sorted values.
    pub fn values(&self) -> &[f64] {
        &self.values
    }
}

/// A two-sample Kolmogorov–Smirnov test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KsResult {
    /// The largest distance between the two empirical CDFs (scipy's `ks_2samp` statistic).
    pub statistic: f64,
    /// The p-value as scipy's `ks_2samp` gives it by default: exact (lattice-path count) for
    /// samples up to [`KS_EXACT_MAX`], beyond that the finite-n Kolmogorov distribution
    /// `kstwo.sf(D, round(n·m/(n+m)))`.
    pub pvalue: f64,
    /// Whether `pvalue` is exact.
    pub exact: bool,
    /// The asymptotic p-value: the Kolmogorov distribution's survival function at
    /// `√(n·m/(n+m))·D` (scipy's `kstwobign.sf`).
    pub pvalue_asymptotic: f64,
}

/// Samples up to this size get the exact p-value (scipy's `ks_2samp` threshold).
pub const KS_EXACT_MAX: usize = 10_000;

/// The exact two-sided p-value `P(D ≥ d)` for samples of sizes `m` and `n` under the null:
/// the share of the `C(m+n, m)` monotone lattice paths from `(0, 0)` to `(m, n)` that leave
/// the band `|i/m − j/n| < d` (Hodges 1957). O(m·n) time, O(n) memory.
pub fn ks_exact_pvalue(m: usize, n: usize, d: f64) -> f64 {
    if d <= 0.0 {
        return 1.0;
    }
    let (mi, ni) = (m as i128, n as i128);
    // d·m·n is an integer for an observed statistic; a hair of tolerance absorbs rounding.
    let h = (d * (m * n) as f64 - 1e-7).ceil() as i128;
    let inside = |i: usize, j: usize| (i as i128 * ni - j as i128 * mi).abs() < h;
    // u[j]: the share of paths to (i, j) that stayed inside, of all C(i+j, i) paths there.
    let mut u = vec![0.0f64; n + 1];
    u[0] = 1.0;
    for j in 1..=n {
        u[j] = if inside(0, j) { u[j - 1] } else { 0.0 };
    }
    for i in 1..=m {
        u[0] = if inside(i, 0) { u[0] } else { 0.0 };
        for j in 1..=n {
            u[j] = if inside(i, j) {
                let total = (i + j) as f64;
                (i as f64 / total) * u[j] + (j as f64 / total) * u[j - 1]
            } else {
                0.0
            };
        }
    }
    (1.0 - u[n]).clamp(0.0, 1.0)
}

/// The two-sample Kolmogorov–Smirnov statistic (two-sided) and its asymptotic p-value.
///
/// # Errors
/// [`DriftError`] for an empty sample or a non-finite value.
pub fn ks_2samp(reference: &[f64], current: &[f64]) -> Result<KsResult, DriftError> {
    Ok(ks_sorted(
        &SortedSample::new(reference, "reference")?,
        &SortedSample::new(current, "current")?,
    ))
}

/// Walks the distinct values of two sorted samples in increasing order, yielding each value
/// with the counts of `a` and `b` at or below it (both empirical CDFs include every tie).
fn merged_steps<'s>(a: &'s [f64], b: &'s [f64]) -> impl Iterator<Item = (f64, usize, usize)> + 's {
    let (mut i, mut j) = (0usize, 0usize);
    std::iter::from_fn(move || {
        let value = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => return None,
        };
        while i < a.len() && a[i] <= value {
            i += 1;
        }
        while j < b.len() && b[j] <= value {
            j += 1;
        }
        Some((value, i, j))
    })
}

/// [`ks_2samp`] on samples sorted already.
pub fn ks_sorted(reference: &SortedSample, current: &SortedSample) -> KsResult {
    let (a, b) = (&reference.values, &current.values);
    let (n, m) = (a.len() as f64, b.len() as f64);
    let statistic = merged_steps(a, b)
        .map(|(_, i, j)| (i as f64 / n - j as f64 / m).abs())
        .fold(0.0f64, f64::max);
    ks_result(statistic, a.len(), b.len())
}

/// The KS result for `statistic` between samples of sizes `n` and `m`: scipy's default
/// p-value and the asymptotic one.
fn ks_result(statistic: f64, n_a: usize, n_b: usize) -> KsResult {
    let (a, b) = (n_a, n_b);
    let (n, m) = (a as f64, b as f64);
    let en = n * m / (n + m);
    let asymptotic = kolmogorov_sf(en.sqrt() * statistic);
    let exact = a.max(b) <= KS_EXACT_MAX;
    let pvalue = if exact {
        ks_exact_pvalue(a, b, statistic)
    } else {
        kstwo::kstwo_sf(statistic, en.round() as u64)
    };
    KsResult { statistic, pvalue, exact, pvalue_asymptotic: asymptotic }
}

/// The survival function of the Kolmogorov distribution, `2 Σ (−1)^(k−1) e^(−2k²x²)`, with
/// the Jacobi theta form for small `x` where the alternating series converges slowly.
pub fn kolmogorov_sf(x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    if x < 1.0 {
        // CDF = √(2π)/x Σ_{k≥1} e^{−(2k−1)²π²/(8x²)}.
        let mut sum = 0.0;
        for k in 1..=50 {
            let term = (-((2 * k - 1) as f64).powi(2) * std::f64::consts::PI.powi(2)
                / (8.0 * x * x))
                .exp();
            sum += term;
            if term < 1e-300 {
                break;
            }
        }
        return (1.0 - (2.0 * std::f64::consts::PI).sqrt() / x * sum).clamp(0.0, 1.0);
    }
    let mut sum = 0.0;
    for k in 1..=100 {
        let k = f64::from(k);
        let term = (-2.0 * k * k * x * x).exp();
        sum += if k as u64 % 2 == 1 { term } else { -term };
        if term < 1e-300 {
            break;
        }
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

/// The 1-D Wasserstein (earth mover's) distance between the two samples' empirical
/// distributions: `∫ |F_ref − F_cur|` (scipy's `wasserstein_distance`).
///
/// # Errors
/// [`DriftError`] for an empty sample or a non-finite value.
pub fn wasserstein(reference: &[f64], current: &[f64]) -> Result<f64, DriftError> {
    Ok(wasserstein_sorted(
        &SortedSample::new(reference, "reference")?,
        &SortedSample::new(current, "current")?,
    ))
}

/// [`wasserstein`] on samples sorted already: one merge, no further sort.
pub fn wasserstein_sorted(reference: &SortedSample, current: &SortedSample) -> f64 {
    let (a, b) = (&reference.values, &current.values);
    let (n, m) = (a.len() as f64, b.len() as f64);
    // Between consecutive distinct values x < next the CDFs hold their values at x.
    let mut total = 0.0;
    let mut previous: Option<(f64, f64)> = None;
    for (value, i, j) in merged_steps(a, b) {
        if let Some((x, gap)) = previous {
            total += gap * (value - x);
        }
        previous = Some((value, (i as f64 / n - j as f64 / m).abs()));
    }
    total
}

/// Normalises non-negative weights to probabilities.
fn normalise(weights: &[f64], which: &'static str) -> Result<Vec<f64>, DriftError> {
    check(weights, which)?;
    if weights.iter().any(|w| *w < 0.0) {
        return Err(DriftError::Shape(format!("the {which} distribution has a negative weight")));
    }
    let total: f64 = weights.iter().sum();
    if total <= 0.0 {
        return Err(DriftError::Shape(format!("the {which} distribution sums to 0")));
    }
    Ok(weights.iter().map(|w| w / total).collect())
}

fn pair(reference: &[f64], current: &[f64]) -> Result<(Vec<f64>, Vec<f64>), DriftError> {
    if reference.len() != current.len() {
        return Err(DriftError::Shape(format!(
            "the distributions have {} and {} bins",
            reference.len(),
            current.len()
        )));
    }
    Ok((normalise(reference, "reference")?, normalise(current, "current")?))
}

/// The Jensen–Shannon *distance* (the square root of the divergence) between two distributions
/// given as non-negative weights over the same bins (normalised first), in natural log units,
/// or in bits with `base = 2.0` (scipy's `jensenshannon(p, q, base)`).
///
/// # Errors
/// [`DriftError`] for different lengths, negative weights or a zero total.
pub fn jensen_shannon(
    reference: &[f64],
    current: &[f64],
    base: Option<f64>,
) -> Result<f64, DriftError> {
    let (p, q) = pair(reference, current)?;
    let rel = |x: f64, y: f64| if x > 0.0 { x * (x / y).ln() } else { 0.0 };
    let divergence: f64 = p
        .iter()
        .zip(&q)
        .map(|(&x, &y)| {
            let m = (x + y) / 2.0;
            rel(x, m) + rel(y, m)
        })
        .sum::<f64>()
        / 2.0;
    let divergence = match base {
        Some(base) => divergence / base.ln(),
        None => divergence,
    };
    Ok(divergence.max(0.0).sqrt())
}

/// The Hellinger distance `√(½ Σ (√p − √q)²)` between two distributions (normalised first).
///
/// # Errors
/// [`DriftError`] for different lengths, negative weights or a zero total.
pub fn hellinger(reference: &[f64], current: &[f64]) -> Result<f64, DriftError> {
    let (p, q) = pair(reference, current)?;
    let sum: f64 = p.iter().zip(&q).map(|(x, y)| (x.sqrt() - y.sqrt()).powi(2)).sum();
    Ok((0.5 * sum).sqrt())
}

/// The share every bin is floored at in [`psi`], so an empty bin does not make it infinite.
pub const PSI_FLOOR: f64 = 1e-4;

/// The population stability index `Σ (c − r)·ln(c / r)` of the current distribution against
/// the reference (both normalised, each share floored at [`PSI_FLOOR`]). Rule of thumb: < 0.1
/// stable, 0.1–0.25 moderate shift, > 0.25 major shift.
///
/// # Errors
/// [`DriftError`] for different lengths, negative weights or a zero total.
pub fn psi(reference: &[f64], current: &[f64]) -> Result<f64, DriftError> {
    let (r, c) = pair(reference, current)?;
    Ok(r.iter()
        .zip(&c)
        .map(|(&r, &c)| {
            let (r, c) = (r.max(PSI_FLOOR), c.max(PSI_FLOOR));
            (c - r) * (c / r).ln()
        })
        .sum())
}

/// The χ² test of independence of a contingency table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chi2Result {
    /// Pearson's χ² statistic (with Yates' continuity correction for one degree of freedom,
    /// as scipy's `chi2_contingency` does by default).
    pub statistic: f64,
    /// Its p-value.
    pub pvalue: f64,
    /// Degrees of freedom.
    pub dof: usize,
}

/// The χ² test of a contingency table given as rows of counts (for drift: one row for the
/// reference and one for the current sample, a column per category).
///
/// # Errors
/// [`DriftError::Shape`] for ragged rows, fewer than 2 rows or columns, or a row or column
/// summing to 0.
pub fn chi2_contingency(table: &[Vec<f64>]) -> Result<Chi2Result, DriftError> {
    let rows = table.len();
    let cols = table.first().map_or(0, Vec::len);
    if rows < 2 || cols < 2 || table.iter().any(|r| r.len() != cols) {
        return Err(DriftError::Shape(
            "a contingency table needs at least 2 × 2 cells and equal rows".into(),
        ));
    }
    if table.iter().flatten().any(|v| !v.is_finite() || *v < 0.0) {
        return Err(DriftError::Shape("a contingency table holds counts ≥ 0".into()));
    }
    let row_sums: Vec<f64> = table.iter().map(|r| r.iter().sum()).collect();
    let col_sums: Vec<f64> = (0..cols).map(|c| table.iter().map(|r| r[c]).sum()).collect();
    let total: f64 = row_sums.iter().sum();
    if row_sums.contains(&0.0) || col_sums.contains(&0.0) {
        return Err(DriftError::Shape("a row or column of the contingency table sums to 0".into()));
    }
    let dof = (rows - 1) * (cols - 1);
    let mut statistic = 0.0;
    for (r, row) in table.iter().enumerate() {
        for (c, &observed) in row.iter().enumerate() {
            let expected = row_sums[r] * col_sums[c] / total;
            let mut observed = observed;
            if dof == 1 {
                // Yates: move each observation half a count towards its expectation.
                let diff = expected - observed;
                observed += diff.signum() * diff.abs().min(0.5);
            }
            statistic += (observed - expected).powi(2) / expected;
        }
    }
    let pvalue = ChiSquared::new(dof as f64).map_or(f64::NAN, |d| d.sf(statistic));
    Ok(Chi2Result { statistic, pvalue, dof })
}

/// Bin edges for turning a numeric feature into a distribution.
#[derive(Debug, Clone, PartialEq)]
pub struct Bins {
    /// Inner edges, increasing; bin `i` holds values in `(edges[i-1], edges[i]]`, the first
    /// everything up to `edges[0]`, the last everything above the last edge.
    pub edges: Vec<f64>,
}

impl Bins {
    /// `k` bins at the reference's quantiles (ties merge bins).
    ///
    /// # Errors
    /// [`DriftError`] for an empty reference, a non-finite value or `k < 2`.
    pub fn quantiles(reference: &[f64], k: usize) -> Result<Bins, DriftError> {
        Bins::from_sorted(&SortedSample::new(reference, "reference")?, k)
    }

    /// [`Bins::quantiles`] of a reference sorted already.
    ///
    /// # Errors
    /// [`DriftError::Shape`] for `k < 2`.
    pub fn from_sorted(reference: &SortedSample, k: usize) -> Result<Bins, DriftError> {
        if k < 2 {
            return Err(DriftError::Shape("quantile bins need k ≥ 2".into()));
        }
        let values = &reference.values;
        let mut edges: Vec<f64> =
            (1..k).map(|i| values[((i * values.len()) / k).min(values.len() - 1)]).collect();
        edges.dedup();
        Ok(Bins { edges })
    }

    /// Counts per bin.
    pub fn counts(&self, values: &[f64]) -> Vec<f64> {
        let mut counts = vec![0.0; self.edges.len() + 1];
        for v in values {
            let bin = self.edges.partition_point(|edge| edge < v);
            counts[bin] += 1.0;
        }
        counts
    }
}

/// How p-values over many features are adjusted for testing them all at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Correction {
    /// None: each feature on its own.
    None,
    /// Bonferroni: `min(1, k·p)`; controls the family-wise error rate.
    Bonferroni,
    /// Holm's step-down; controls the family-wise error rate, never worse than Bonferroni.
    Holm,
    /// Benjamini–Hochberg; controls the false discovery rate for independent or positively
    /// dependent tests (scipy's `false_discovery_control(method="bh")`).
    BenjaminiHochberg,
    /// Benjamini–Yekutieli; the false discovery rate under any dependence (`method="by"`).
    BenjaminiYekutieli,
}

/// Adjusted p-values, in the input order.
///
/// # Errors
/// [`DriftError`] for a p-value outside [0, 1] or not a number.
pub fn adjust(pvalues: &[f64], correction: Correction) -> Result<Vec<f64>, DriftError> {
    if pvalues.iter().any(|p| !(0.0..=1.0).contains(p)) {
        return Err(DriftError::Shape("p-values must lie in [0, 1]".into()));
    }
    let k = pvalues.len();
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| pvalues[a].total_cmp(&pvalues[b]));
    let mut out = vec![0.0; k];
    match correction {
        Correction::None => out.copy_from_slice(pvalues),
        Correction::Bonferroni => {
            for (o, p) in out.iter_mut().zip(pvalues) {
                *o = (p * k as f64).min(1.0);
            }
        }
        Correction::Holm => {
            let mut running = 0.0f64;
            for (rank, &index) in order.iter().enumerate() {
                running = running.max(((k - rank) as f64 * pvalues[index]).min(1.0));
                out[index] = running;
            }
        }
        Correction::BenjaminiHochberg | Correction::BenjaminiYekutieli => {
            let harmonic: f64 = if correction == Correction::BenjaminiYekutieli {
                (1..=k).map(|i| 1.0 / i as f64).sum()
            } else {
                1.0
            };
            // Step-up: from the largest p down, the running minimum of p·k·c / rank.
            let mut running = 1.0f64;
            for (rank, &index) in order.iter().enumerate().rev() {
                running = running.min(pvalues[index] * k as f64 * harmonic / (rank + 1) as f64);
                out[index] = running.min(1.0);
            }
        }
    }
    Ok(out)
}
