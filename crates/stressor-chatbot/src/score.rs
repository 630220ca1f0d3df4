//! The graceful degradation score.
//!
//! Every query's outcome has a stated utility (see [`Utility`](crate::plan::Utility)): a right
//! answer 1, a handoff the query needed 0.7, a needless handoff 0.4, no answer 0.2, a wrong
//! answer 0 by default. At each dial value of a stress the chatbot's utility `U(s)` is the
//! mean over the queries. A stress's **retained utility** is the area under `U` over its
//! dial, normalised by the clean utility over the same span:
//!
//! ```text
//! R = ∫ U(s) ds / (U(s₀) · (s_max − s₀))      (trapezoids; s₀ the clean or lowest value)
//! ```
//!
//! so 1 means the stress cost nothing and 0.5 that half the utility was lost on average over
//! the dial. For the load surge the dial is the load multiple (1× before, N× during). The
//! **degradation score** is `100 · mean(R)` over the stresses, with a 95 % percentile bootstrap
//! interval: each replicate resamples every stress's queries (the same resample at each of
//! its dial values, so its points stay paired). A chatbot that hands off what it cannot
//! answer keeps more utility than one that answers it wrongly at the same accuracy, which is
//! the point of the score (the tests show it).
//!
//! It is to mCE (Hendrycks & Dietterich 2019: error under corruption relative to a reference
//! model, averaged over corruptions) what utility is to error: relative to the chatbot's own
//! clean run rather than a reference model, and counting handoffs as partial successes. Unlike
//! LitmusChaos's resilience score (a weighted mean of probe success percentages) it integrates
//! over how hard each stress pushes, not only whether a probe passed.

use stressor_core::{Estimate, Interval, IntervalMethod, Seed};

/// One stress's utilities over its dial.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// The stress (a step id).
    pub name: String,
    /// `(dial value, per-query utilities)`, dial increasing; the first is the reference.
    pub points: Vec<(f64, Vec<f64>)>,
    /// Whether every point scores the same queries in the same order (perturbations), so a
    /// bootstrap replicate resamples them together.
    pub paired: bool,
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// The retained utility of `(dial value, mean utility)` points.
pub fn retained(points: &[(f64, f64)]) -> f64 {
    let (Some(&(s0, u0)), Some(&(s1, _))) = (points.first(), points.last()) else {
        return f64::NAN;
    };
    if points.len() < 2 || u0 <= 0.0 || s1 <= s0 {
        return f64::NAN;
    }
    let area: f64 = points.windows(2).map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0).sum();
    area / (u0 * (s1 - s0))
}

fn curve_ratio(curve: &Curve) -> f64 {
    let points: Vec<(f64, f64)> = curve.points.iter().map(|(s, u)| (*s, mean(u))).collect();
    retained(&points)
}

/// The score and each stress's retained utility, with bootstrap intervals (`resamples`
/// replicates).
pub fn degradation_score(
    curves: &[Curve],
    resamples: usize,
    seed: Seed,
) -> (Estimate, Vec<(String, Estimate)>) {
    let usable: Vec<&Curve> = curves.iter().filter(|c| curve_ratio(c).is_finite()).collect();
    let ratios: Vec<f64> = usable.iter().map(|c| curve_ratio(c)).collect();
    let n: u64 = usable.iter().map(|c| c.points[0].1.len() as u64).sum();
    if usable.is_empty() {
        return (Estimate { value: f64::NAN, n: 0, ci: None }, Vec::new());
    }
    let score = 100.0 * mean(&ratios);
    let mut rng = seed.rng();
    let mut replicate_scores = Vec::with_capacity(resamples);
    let mut replicate_ratios: Vec<Vec<f64>> = vec![Vec::with_capacity(resamples); usable.len()];
    for _ in 0..resamples {
        let mut sum = 0.0;
        for (k, curve) in usable.iter().enumerate() {
            let draw = |len: usize, rng: &mut stressor_core::Rng| -> Vec<usize> {
                (0..len).map(|_| rand::Rng::random_range(rng, 0..len)).collect()
            };
            let shared = curve.paired.then(|| draw(curve.points[0].1.len(), &mut rng));
            let points: Vec<(f64, f64)> = curve
                .points
                .iter()
                .map(|(s, u)| {
                    let idx = shared.clone().unwrap_or_else(|| draw(u.len(), &mut rng));
                    let m = idx.iter().map(|&i| u[i.min(u.len() - 1)]).sum::<f64>()
                        / idx.len().max(1) as f64;
                    (*s, m)
                })
                .collect();
            let r = retained(&points);
            let r = if r.is_finite() { r } else { ratios[k] };
            replicate_ratios[k].push(r);
            sum += r;
        }
        replicate_scores.push(100.0 * sum / usable.len() as f64);
    }
    let interval = |mut values: Vec<f64>, point: f64| -> Option<Interval> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let at = |q: f64| {
            values[((q * (values.len() - 1) as f64).round() as usize).min(values.len() - 1)]
        };
        Some(Interval {
            lower: at(0.025).min(point),
            upper: at(0.975).max(point),
            level: 0.95,
            method: IntervalMethod::Bootstrap { resamples: values.len() as u32 },
        })
    };
    let components = usable
        .iter()
        .zip(ratios.iter().zip(replicate_ratios))
        .map(|(c, (&r, reps))| {
            let n = c.points[0].1.len() as u64;
            (c.name.clone(), Estimate { value: r, n, ci: interval(reps, r) })
        })
        .collect();
    (Estimate { value: score, n, ci: interval(replicate_scores, score) }, components)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Outcome;
    use crate::plan::Utility;

    #[test]
    fn retained_utility_is_the_normalised_area() {
        // Flat: nothing lost. Linear to zero: half lost. Uneven spacing uses trapezoids.
        assert!((retained(&[(0.0, 0.8), (1.0, 0.8)]) - 1.0).abs() < 1e-12);
        assert!((retained(&[(0.0, 1.0), (0.5, 0.5), (1.0, 0.0)]) - 0.5).abs() < 1e-12);
        let r = retained(&[(0.0, 1.0), (0.1, 0.9), (0.5, 0.5)]);
        let area = 0.1 * 0.95 + 0.4 * 0.7;
        assert!((r - area / 0.5).abs() < 1e-12);
        assert!(retained(&[(0.0, 0.0), (1.0, 0.0)]).is_nan());
    }

    #[test]
    fn handing_off_under_stress_scores_higher_than_answering_wrongly_at_the_same_accuracy() {
        let utility = Utility::default();
        let n = 200;
        // Clean: both chatbots answer 180 of 200 right and hand off the rest justly.
        let clean: Vec<f64> = (0..n)
            .map(|i| utility.of(if i < 180 { Outcome::Correct } else { Outcome::JustifiedHandoff }))
            .collect();
        // Under stress both answer 100 right; one hands the other 100 to a human, the other
        // answers them wrongly.
        let careful: Vec<f64> = (0..n)
            .map(|i| utility.of(if i < 100 { Outcome::Correct } else { Outcome::JustifiedHandoff }))
            .collect();
        let reckless: Vec<f64> = (0..n)
            .map(|i| utility.of(if i < 100 { Outcome::Correct } else { Outcome::Wrong }))
            .collect();
        let curve = |name: &str, stressed: &Vec<f64>| Curve {
            name: name.into(),
            points: vec![(0.0, clean.clone()), (0.2, stressed.clone())],
            paired: true,
        };
        let (careful_score, _) = degradation_score(&[curve("a", &careful)], 200, Seed::new(3));
        let (reckless_score, _) = degradation_score(&[curve("b", &reckless)], 200, Seed::new(3));
        assert!(careful_score.value > reckless_score.value + 10.0);
        // The intervals are apart too: the difference is not noise.
        assert!(
            careful_score.ci.expect("an interval").lower
                > reckless_score.ci.expect("an interval").upper
        );
        // And a chatbot that loses nothing scores 100.
        let (flat, parts) = degradation_score(&[curve("c", &clean)], 100, Seed::new(3));
        assert!((flat.value - 100.0).abs() < 1e-9);
        assert_eq!(parts[0].0, "c");
    }
}
