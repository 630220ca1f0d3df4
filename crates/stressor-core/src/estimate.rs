//! Metrics as estimates: a value, the sample size behind it, and a confidence interval.

use rand::Rng as _;

use crate::Seed;

/// A measured value with the number of samples it came from and, where it is an estimate of a
/// population quantity, a confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The point estimate.
    pub value: f64,
    /// The number of samples behind the value.
    pub n: u64,
    /// The confidence interval, absent for exact quantities or when `n` is 0.
    pub ci: Option<Interval>,
}

/// A two-sided confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
    /// Confidence level, e.g. 0.95.
    pub level: f64,
    /// How the interval was computed.
    pub method: IntervalMethod,
}

/// How an interval was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalMethod {
    /// Wilson score interval for a binomial proportion.
    Wilson,
    /// Percentile bootstrap.
    Bootstrap {
        /// Number of resamples.
        resamples: u32,
    },
    /// Distribution-free interval of a quantile from order statistics: the sample quantiles at
    /// ranks `n·q ± 1.96·√(n·q·(1−q))` (the normal approximation of the binomial).
    OrderStatistic,
    /// Newcombe's hybrid score interval for a difference of two proportions (method 10 of
    /// Newcombe 1998), built from the two Wilson intervals.
    Newcombe,
}

/// The confidence level every reported interval uses.
pub const LEVEL: f64 = 0.95;

impl Estimate {
    /// A proportion `successes / n` with its 95 % Wilson interval. With `n == 0` the value is NaN
    /// and there is no interval.
    pub fn proportion(successes: u64, n: u64) -> Estimate {
        if n == 0 {
            return Estimate { value: f64::NAN, n, ci: None };
        }
        Estimate {
            value: successes as f64 / n as f64,
            n,
            ci: Some(wilson_interval(successes, n, LEVEL)),
        }
    }

    /// The mean of `values` with a 95 % percentile-bootstrap interval (1000 resamples, seeded).
    pub fn mean(values: &[f64], seed: Seed) -> Estimate {
        let n = values.len() as u64;
        if values.is_empty() {
            return Estimate { value: f64::NAN, n, ci: None };
        }
        let ci = bootstrap_interval(values, mean, 1000, LEVEL, seed);
        Estimate { value: mean(values), n, ci: Some(ci) }
    }

    /// The median of `values` with a 95 % percentile-bootstrap interval (1000 resamples, seeded).
    pub fn median(values: &[f64], seed: Seed) -> Estimate {
        let n = values.len() as u64;
        if values.is_empty() {
            return Estimate { value: f64::NAN, n, ci: None };
        }
        let ci = bootstrap_interval(values, median, 1000, LEVEL, seed);
        Estimate { value: median(values), n, ci: Some(ci) }
    }

    /// An exact quantity (no interval), e.g. a count.
    pub fn exact(value: f64, n: u64) -> Estimate {
        Estimate { value, n, ci: None }
    }
}

impl Estimate {
    /// The difference `a/n_a − b/n_b` of two independent proportions with its 95 % Newcombe
    /// hybrid score interval; `n` is the smaller sample. NaN without an interval when either
    /// sample is empty.
    pub fn proportion_difference(a: u64, n_a: u64, b: u64, n_b: u64) -> Estimate {
        let n = n_a.min(n_b);
        if n == 0 {
            return Estimate { value: f64::NAN, n, ci: None };
        }
        let value = a as f64 / n_a as f64 - b as f64 / n_b as f64;
        Estimate { value, n, ci: Some(newcombe_interval(a, n_a, b, n_b, LEVEL)) }
    }
}

/// Newcombe's hybrid score interval (his method 10) for `a/n_a − b/n_b` at confidence `level`:
/// `d − √((p_a − l_a)² + (u_b − p_b)²)` to `d + √((u_a − p_a)² + (p_b − l_b)²)`, with `l`, `u`
/// the Wilson bounds of each proportion.
///
/// # Panics
/// As [`wilson_interval`], for either sample.
pub fn newcombe_interval(a: u64, n_a: u64, b: u64, n_b: u64, level: f64) -> Interval {
    let (wa, wb) = (wilson_interval(a, n_a, level), wilson_interval(b, n_b, level));
    let (pa, pb) = (a as f64 / n_a as f64, b as f64 / n_b as f64);
    let d = pa - pb;
    Interval {
        lower: d - ((pa - wa.lower).powi(2) + (wb.upper - pb).powi(2)).sqrt(),
        upper: d + ((wa.upper - pa).powi(2) + (pb - wb.lower).powi(2)).sqrt(),
        level,
        method: IntervalMethod::Newcombe,
    }
}

/// The Wilson score interval for `successes` out of `n` at confidence `level`.
///
/// # Panics
/// When `n == 0`, `successes > n` or `level` is not in (0, 1).
pub fn wilson_interval(successes: u64, n: u64, level: f64) -> Interval {
    assert!(n > 0 && successes <= n, "wilson interval needs 0 <= successes <= n, n > 0");
    assert!(level > 0.0 && level < 1.0, "confidence level must be in (0, 1)");
    let z = inverse_normal_cdf(0.5 + level / 2.0);
    let n_f = n as f64;
    let p = successes as f64 / n_f;
    let z2 = z * z;
    let denom = 1.0 + z2 / n_f;
    let centre = (p + z2 / (2.0 * n_f)) / denom;
    let half = z * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt() / denom;
    Interval {
        lower: (centre - half).max(0.0),
        upper: (centre + half).min(1.0),
        level,
        method: IntervalMethod::Wilson,
    }
}

/// A percentile-bootstrap interval for `statistic` over `values`.
///
/// # Panics
/// When `values` is empty or `resamples` is 0.
pub fn bootstrap_interval(
    values: &[f64],
    statistic: fn(&[f64]) -> f64,
    resamples: u32,
    level: f64,
    seed: Seed,
) -> Interval {
    assert!(!values.is_empty() && resamples > 0, "bootstrap needs values and resamples");
    let mut rng = seed.rng();
    let mut scratch = vec![0.0; values.len()];
    let mut stats: Vec<f64> = (0..resamples)
        .map(|_| {
            for slot in scratch.iter_mut() {
                *slot = values[rng.random_range(0..values.len())];
            }
            statistic(&scratch)
        })
        .collect();
    stats.sort_by(f64::total_cmp);
    let alpha = (1.0 - level) / 2.0;
    Interval {
        lower: quantile_sorted(&stats, alpha),
        upper: quantile_sorted(&stats, 1.0 - alpha),
        level,
        method: IntervalMethod::Bootstrap { resamples },
    }
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    quantile_sorted(&sorted, 0.5)
}

/// Linear-interpolation quantile (numpy's default) of sorted values.
fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    let weight = position - below as f64;
    sorted[below] * (1.0 - weight) + sorted[above] * weight
}

/// The standard normal distribution function Φ(x) (erfc-based; fractional error below about
/// 1.2e-7).
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// The standard normal quantile function Φ⁻¹(p) for p in (0, 1).
pub fn normal_quantile(p: f64) -> f64 {
    inverse_normal_cdf(p)
}

/// The standard normal quantile function (Acklam's rational approximation refined by one
/// Halley step). The tests compare it with scipy's `norm.ppf` to 1e-6 and the Wilson interval
/// built on it with statsmodels to 1e-8.
fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let low = 0.02425;
    let x = if p < low {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - low {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    // One Halley step against erfc-based cdf.
    let e = 0.5 * erfc(-x / std::f64::consts::SQRT_2) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

/// Complementary error function (the Chebyshev fit `erfcc` of Numerical Recipes, fractional
/// error below 1.2e-7 by its authors' account); used only for the Halley step above.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn normal_quantile_matches_reference() {
        // scipy.stats.norm.ppf(0.975), ppf(0.995), ppf(0.9)
        assert!(close(inverse_normal_cdf(0.975), 1.959_963_984_540_054, 1e-6));
        assert!(close(inverse_normal_cdf(0.995), 2.575_829_303_548_900_4, 1e-6));
        assert!(close(inverse_normal_cdf(0.9), 1.281_551_565_544_600_5, 1e-6));
    }

    #[test]
    fn newcombe_matches_the_paper() {
        // Newcombe (1998), Statistics in Medicine 17:873–890, Table II example (a): 56/70 − 48/80,
        // method 10 gives 0.0524 to 0.3339.
        let ci = newcombe_interval(56, 70, 48, 80, 0.95);
        assert!(close(ci.lower, 0.0524, 5e-5), "{ci:?}");
        assert!(close(ci.upper, 0.3339, 5e-5), "{ci:?}");
        let d = Estimate::proportion_difference(56, 70, 48, 80);
        assert!(close(d.value, 0.2, 1e-12));
        assert_eq!(d.n, 70);
        assert!(Estimate::proportion_difference(1, 0, 2, 3).value.is_nan());
    }

    #[test]
    fn wilson_matches_statsmodels() {
        // statsmodels 0.14: proportion_confint(87, 100, method="wilson")
        let ci = wilson_interval(87, 100, 0.95);
        assert!(close(ci.lower, 0.790_196_485_599_235_6, 1e-8), "{ci:?}");
        assert!(close(ci.upper, 0.922_428_325_727_594_9, 1e-8), "{ci:?}");
        // proportion_confint(0, 50, method="wilson")
        let ci = wilson_interval(0, 50, 0.95);
        assert!(close(ci.lower, 0.0, 1e-12));
        assert!(close(ci.upper, 0.071_347_599_133_358_74, 1e-8), "{ci:?}");
    }

    #[test]
    fn bootstrap_is_seeded_and_covers_the_mean() {
        let values: Vec<f64> = (0..200).map(|i| f64::from(i % 10)).collect();
        let a = Estimate::mean(&values, Seed::new(1));
        let b = Estimate::mean(&values, Seed::new(1));
        assert_eq!(a, b);
        let ci = a.ci.unwrap();
        assert!(ci.lower < 4.5 && 4.5 < ci.upper, "{ci:?}");
        assert!(ci.upper - ci.lower < 1.0);
    }

    #[test]
    fn empty_is_nan_without_interval() {
        let e = Estimate::proportion(0, 0);
        assert!(e.value.is_nan() && e.ci.is_none());
    }
}
