//! The difference NEW − BASE of one metric, with its interval and significance.

use serde::Serialize;
use stressor_core::{Estimate, LEVEL, normal_quantile};
use stressor_schema::{IntervalMethod, Metric};

/// The difference NEW − BASE of one metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Delta {
    /// NEW − BASE of the point estimates; NaN (`null` in JSON) when either is not a number.
    pub value: f64,
    /// The lower end of the 95 % interval of the difference, when both sides have an interval.
    pub lower: Option<f64>,
    /// The upper end of the 95 % interval of the difference.
    pub upper: Option<f64>,
    /// How the interval was computed; absent without an interval.
    pub method: Option<DeltaMethod>,
    /// Whether the interval excludes 0; absent (unknown) without an interval.
    pub significant: Option<bool>,
}

/// How the interval of a difference was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DeltaMethod {
    /// Newcombe's hybrid score interval for a difference of two proportions, from the counts
    /// `round(value · n)` of both sides.
    Newcombe,
    /// A normal approximation: each side's standard error is its interval's half-width divided
    /// by the normal quantile of its level.
    NormalFromIntervals,
}

impl DeltaMethod {
    /// The method's name as written in reports (`newcombe`, `normal-from-intervals`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeltaMethod::Newcombe => "newcombe",
            DeltaMethod::NormalFromIntervals => "normal-from-intervals",
        }
    }
}

/// The difference `new − base` with a 95 % interval: Newcombe's for two proportions (Wilson
/// intervals, values in [0, 1], n > 0), a normal approximation from the two intervals for other
/// metrics, none when either side has no usable interval. See the [crate docs](crate).
///
/// # Examples
///
/// ```
/// use stressor_compare::{DeltaMethod, difference};
/// use stressor_schema::{Interval, IntervalMethod, Metric};
/// let wilson = |value: f64| Some(Interval::new(value - 0.1, value + 0.1, 0.95, IntervalMethod::Wilson));
/// let delta = difference(&Metric::new(0.5, 100, wilson(0.5)), &Metric::new(0.3, 100, wilson(0.3)));
/// assert!((delta.value + 0.2).abs() < 1e-12);
/// assert_eq!(delta.method, Some(DeltaMethod::Newcombe));
/// assert_eq!(delta.significant, Some(true));
/// ```
pub fn difference(base: &Metric, new: &Metric) -> Delta {
    let value = new.value - base.value;
    let interval = if value.is_nan() {
        None
    } else if is_proportion(base) && is_proportion(new) {
        Some(newcombe(base, new))
    } else {
        normal_from_intervals(base, new, value)
    };
    match interval {
        Some((lower, upper, method)) => Delta {
            value,
            lower: Some(lower),
            upper: Some(upper),
            method: Some(method),
            // A difference at the level of rounding (a dial's mean written twice) is no
            // difference, even between two zero-width intervals.
            significant: Some(values_differ(base.value, new.value) && (lower > 0.0 || upper < 0.0)),
        },
        None => Delta { value, lower: None, upper: None, method: None, significant: None },
    }
}

/// Whether two values differ by more than rounding (a relative 1e-6: many metrics are computed
/// in `f32`); two NaNs do not.
pub(crate) fn values_differ(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() != b.is_nan();
    }
    (a - b).abs() > 1e-6 * a.abs().max(b.abs())
}

fn is_proportion(metric: &Metric) -> bool {
    metric.ci.is_some_and(|ci| ci.method == IntervalMethod::Wilson)
        && (0.0..=1.0).contains(&metric.value)
        && metric.n > 0
}

/// Newcombe's interval from the counts recovered from each proportion.
fn newcombe(base: &Metric, new: &Metric) -> (f64, f64, DeltaMethod) {
    let count = |metric: &Metric| {
        // `value` is in [0, 1], so the product is in [0, n] and the cast cannot overflow.
        ((metric.value * metric.n as f64).round() as u64).min(metric.n)
    };
    let estimate = Estimate::proportion_difference(count(new), new.n, count(base), base.n);
    match estimate.ci {
        Some(ci) => (ci.lower, ci.upper, DeltaMethod::Newcombe),
        // Unreachable with n > 0 on both sides; an empty interval at the value keeps it total.
        None => (estimate.value, estimate.value, DeltaMethod::Newcombe),
    }
}

fn normal_from_intervals(
    base: &Metric,
    new: &Metric,
    value: f64,
) -> Option<(f64, f64, DeltaMethod)> {
    let standard_error = |metric: &Metric| {
        let ci = metric.ci?;
        let usable = ci.lower.is_finite()
            && ci.upper.is_finite()
            && ci.upper >= ci.lower
            && ci.level > 0.0
            && ci.level < 1.0;
        usable.then(|| (ci.upper - ci.lower) / 2.0 / normal_quantile(0.5 + ci.level / 2.0))
    };
    let (base_se, new_se) = (standard_error(base)?, standard_error(new)?);
    let half_width = normal_quantile(0.5 + LEVEL / 2.0) * base_se.hypot(new_se);
    Some((value - half_width, value + half_width, DeltaMethod::NormalFromIntervals))
}

#[cfg(test)]
mod tests {
    use stressor_core::{newcombe_interval, wilson_interval};
    use stressor_schema::Interval;

    use super::*;

    /// A proportion metric as a report writes it: `successes / n` with its Wilson interval.
    fn proportion(successes: u64, n: u64) -> Metric {
        let ci = wilson_interval(successes, n, 0.95);
        Metric::new(
            successes as f64 / n as f64,
            n,
            Some(Interval::new(ci.lower, ci.upper, 0.95, IntervalMethod::Wilson)),
        )
    }

    #[test]
    fn proportions_get_newcombes_interval_from_their_counts() {
        // BASE 160/200, NEW 140/200: the core function on the same counts, NEW first.
        let delta = difference(&proportion(160, 200), &proportion(140, 200));
        let expected = newcombe_interval(140, 200, 160, 200, 0.95);
        assert!((delta.value - (-0.1)).abs() < 1e-12, "{delta:?}");
        assert_eq!(delta.method, Some(DeltaMethod::Newcombe));
        assert!((delta.lower.unwrap_or(f64::NAN) - expected.lower).abs() < 1e-12);
        assert!((delta.upper.unwrap_or(f64::NAN) - expected.upper).abs() < 1e-12);
        // By hand (Newcombe 1998, method 10): Wilson bounds of 0.7 and 0.8 over 200.
        let z = 1.959_963_984_540_054_f64;
        let wilson = |p: f64, n: f64| {
            let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
            let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / (1.0 + z * z / n);
            (centre - half, centre + half)
        };
        let ((l_new, u_new), (l_base, u_base)) = (wilson(0.7, 200.0), wilson(0.8, 200.0));
        let lower = -0.1 - ((0.7 - l_new).powi(2) + (u_base - 0.8).powi(2)).sqrt();
        let upper = -0.1 + ((u_new - 0.7).powi(2) + (0.8 - l_base).powi(2)).sqrt();
        assert!((delta.lower.unwrap_or(f64::NAN) - lower).abs() < 1e-6, "{delta:?} vs {lower}");
        assert!((delta.upper.unwrap_or(f64::NAN) - upper).abs() < 1e-6, "{delta:?} vs {upper}");
        assert!((lower - (-0.1832)).abs() < 1e-3 && (upper - (-0.0151)).abs() < 1e-3);
        assert_eq!(delta.significant, Some(true));
    }

    #[test]
    fn a_small_difference_on_few_samples_is_not_significant() {
        let delta = difference(&proportion(16, 20), &proportion(14, 20));
        assert_eq!(delta.method, Some(DeltaMethod::Newcombe));
        assert!(delta.lower.unwrap_or(f64::NAN) < 0.0 && delta.upper.unwrap_or(f64::NAN) > 0.0);
        assert_eq!(delta.significant, Some(false));
        // The same proportions on 20 times the samples are.
        assert_eq!(
            difference(&proportion(320, 400), &proportion(280, 400)).significant,
            Some(true)
        );
    }

    #[test]
    fn other_intervals_use_a_normal_approximation_from_their_half_widths() {
        let bootstrap = |value: f64, half: f64| {
            Metric::new(
                value,
                50,
                Some(Interval::new(value - half, value + half, 0.95, IntervalMethod::Bootstrap)),
            )
        };
        // Half-widths 0.3 and 0.4 at 95 %: the difference's half-width is √(0.3² + 0.4²) = 0.5.
        let delta = difference(&bootstrap(10.0, 0.3), &bootstrap(10.6, 0.4));
        assert_eq!(delta.method, Some(DeltaMethod::NormalFromIntervals));
        assert!((delta.lower.unwrap_or(f64::NAN) - 0.1).abs() < 1e-9, "{delta:?}");
        assert!((delta.upper.unwrap_or(f64::NAN) - 1.1).abs() < 1e-9, "{delta:?}");
        assert_eq!(delta.significant, Some(true));
        let delta = difference(&bootstrap(10.0, 0.3), &bootstrap(10.4, 0.4));
        assert_eq!(delta.significant, Some(false));
        // A Wilson interval around a value outside [0, 1] is not a proportion.
        let odd = Metric::new(1.5, 10, Some(Interval::new(1.4, 1.6, 0.95, IntervalMethod::Wilson)));
        // Two zero-width intervals around values that differ only by rounding.
        let exact = |value: f64| {
            Metric::new(
                value,
                9,
                Some(Interval::new(value, value, 0.95, IntervalMethod::Bootstrap)),
            )
        };
        let rounding = difference(&exact(8.0 / 255.0), &exact(8.0 / 255.0 + 1e-17));
        assert_eq!(rounding.significant, Some(false));
        assert_eq!(difference(&exact(0.5), &exact(0.6)).significant, Some(true));
        assert_eq!(difference(&odd, &odd).method, Some(DeltaMethod::NormalFromIntervals));
    }

    #[test]
    fn without_an_interval_significance_is_unknown() {
        let exact = Metric::new(3.0, 10, None);
        let delta = difference(&exact, &proportion(5, 10));
        assert!((delta.value - (0.5 - 3.0)).abs() < 1e-12);
        assert_eq!((delta.method, delta.significant, delta.lower), (None, None, None));
        let nan = Metric::new(f64::NAN, 0, None);
        let delta = difference(&proportion(5, 10), &nan);
        assert!(delta.value.is_nan());
        assert_eq!(delta.significant, None);
    }
}
