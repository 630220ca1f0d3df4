//! Drift generators with a dial in [0, 1], so "50 % drift" means one thing:
//!
//! - [`mix_shift`]: a share `dial` of the rows (chosen by the seed) comes from a shifted
//!   population (`x + shift`); 0.5 is a half-and-half mixture.
//! - [`scale_shift`]: every row's deviation from the reference mean is stretched by
//!   `1 + dial·(factor − 1)`.
//! - [`prior_shift`]: class proportions move from the reference's to `target`'s, linearly in
//!   `dial`; the result is a resample (indices) of the same size.
//! - [`category_shift`]: a share `dial` of the rows in category `from` become `to`.
//! - [`missing`]: a share `dial` of the rows lose their value.
//!
//! Every choice is seeded; the same seed and dial give the same rows, and a larger dial keeps
//! the rows a smaller one chose (the choices are nested), so curves over the dial are smooth.

use rand::Rng as _;
use rand::seq::SliceRandom as _;
use stressor_core::Seed;

use crate::DriftError;

fn check_dial(dial: f64) -> Result<(), DriftError> {
    if (0.0..=1.0).contains(&dial) {
        Ok(())
    } else {
        Err(DriftError::Shape(format!("the drift dial must lie in [0, 1], not {dial}")))
    }
}

/// The rows a dial picks: a seeded permutation's first `round(dial·n)`, so a larger dial's
/// rows include a smaller one's. Shared by the column generators here and the stream's mix.
pub fn chosen(n: usize, dial: f64, seed: Seed) -> Vec<bool> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut seed.rng());
    let k = (dial * n as f64).round() as usize;
    let mut picked = vec![false; n];
    for &i in &order[..k.min(n)] {
        picked[i] = true;
    }
    picked
}

/// A share `dial` of the rows shifted by `shift`.
///
/// # Errors
/// [`DriftError`] for a dial outside [0, 1].
pub fn mix_shift(
    values: &[f64],
    dial: f64,
    shift: f64,
    seed: Seed,
) -> Result<Vec<f64>, DriftError> {
    check_dial(dial)?;
    let picked = chosen(values.len(), dial, seed);
    Ok(values.iter().zip(picked).map(|(&v, p)| if p { v + shift } else { v }).collect())
}

/// Deviations from `reference_mean` stretched by `1 + dial·(factor − 1)`.
///
/// # Errors
/// [`DriftError`] for a dial outside [0, 1].
pub fn scale_shift(
    values: &[f64],
    dial: f64,
    factor: f64,
    reference_mean: f64,
) -> Result<Vec<f64>, DriftError> {
    check_dial(dial)?;
    let stretch = 1.0 + dial * (factor - 1.0);
    Ok(values.iter().map(|v| reference_mean + (v - reference_mean) * stretch).collect())
}

/// Indices of a same-size resample of `labels` whose class proportions are
/// `(1 − dial)·reference + dial·target` (rounded to whole rows, drawn with replacement within
/// each class).
///
/// # Errors
/// [`DriftError`] for a dial outside [0, 1], a target of the wrong length or not summing to 1,
/// or a class the target wants that has no rows.
pub fn prior_shift(
    labels: &[u32],
    target: &[f64],
    dial: f64,
    seed: Seed,
) -> Result<Vec<usize>, DriftError> {
    check_dial(dial)?;
    let k = target.len();
    if (target.iter().sum::<f64>() - 1.0).abs() > 1e-9 || target.iter().any(|p| *p < 0.0) {
        return Err(DriftError::Shape(
            "the target class proportions must be ≥ 0 and sum to 1".into(),
        ));
    }
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (i, &label) in labels.iter().enumerate() {
        let class = label as usize;
        if class >= k {
            return Err(DriftError::Shape(format!(
                "label {label} has no target proportion ({k} classes)"
            )));
        }
        by_class[class].push(i);
    }
    let n = labels.len();
    let mixed: Vec<f64> = by_class
        .iter()
        .zip(target)
        .map(|(rows, &t)| (1.0 - dial) * rows.len() as f64 / n as f64 + dial * t)
        .collect();
    // Whole rows per class by largest remainder, so the counts sum to n.
    let mut counts: Vec<usize> = mixed.iter().map(|p| (p * n as f64).floor() as usize).collect();
    let mut remainders: Vec<(usize, f64)> =
        mixed.iter().enumerate().map(|(c, p)| (c, p * n as f64 - counts[c] as f64)).collect();
    remainders.sort_by(|a, b| b.1.total_cmp(&a.1));
    let short = n - counts.iter().sum::<usize>();
    for &(c, _) in remainders.iter().take(short) {
        counts[c] += 1;
    }
    let mut rng = seed.rng();
    let mut out = Vec::with_capacity(n);
    for (class, &count) in counts.iter().enumerate() {
        if count == 0 {
            continue;
        }
        let rows = &by_class[class];
        if rows.is_empty() {
            return Err(DriftError::Shape(format!("class {class} has no rows to draw from")));
        }
        out.extend((0..count).map(|_| rows[rng.random_range(0..rows.len())]));
    }
    out.shuffle(&mut rng);
    Ok(out)
}

/// A share `dial` of the rows in category `from` relabelled `to`.
///
/// # Errors
/// [`DriftError`] for a dial outside [0, 1].
pub fn category_shift(
    values: &[String],
    dial: f64,
    from: &str,
    to: &str,
    seed: Seed,
) -> Result<Vec<String>, DriftError> {
    check_dial(dial)?;
    let rows: Vec<usize> =
        values.iter().enumerate().filter(|(_, v)| *v == from).map(|(i, _)| i).collect();
    let picked = chosen(rows.len(), dial, seed);
    let mut out = values.to_vec();
    for (&row, p) in rows.iter().zip(picked) {
        if p {
            out[row] = to.to_string();
        }
    }
    Ok(out)
}

/// A share `dial` of the rows without a value.
///
/// # Errors
/// [`DriftError`] for a dial outside [0, 1].
pub fn missing(values: &[f64], dial: f64, seed: Seed) -> Result<Vec<Option<f64>>, DriftError> {
    check_dial(dial)?;
    let picked = chosen(values.len(), dial, seed);
    Ok(values.iter().zip(picked).map(|(&v, p)| (!p).then_some(v)).collect())
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use super::*;

    fn sample(n: usize) -> Vec<f64> {
        (0..n).map(|i| ((i as f64 + 0.5) * 0.618_033_988_75).fract()).collect()
    }

    #[test]
    fn half_drift_shifts_exactly_half_the_rows_and_dials_nest() {
        let values = sample(1000);
        let seed = Seed::new(5);
        let half = mix_shift(&values, 0.5, 10.0, seed).unwrap();
        let shifted = |v: &[f64]| v.iter().zip(&values).filter(|(a, b)| a != b).count();
        assert_eq!(shifted(&half), 500);
        assert_eq!(mix_shift(&values, 0.0, 10.0, seed).unwrap(), values);
        assert_eq!(shifted(&mix_shift(&values, 1.0, 10.0, seed).unwrap()), 1000);
        // A larger dial keeps the smaller one's rows; the same seed gives the same rows.
        let quarter = mix_shift(&values, 0.25, 10.0, seed).unwrap();
        assert!(quarter.iter().zip(&half).zip(&values).all(|((q, h), v)| q == v || q == h));
        assert_eq!(half, mix_shift(&values, 0.5, 10.0, seed).unwrap());
        assert!(mix_shift(&values, 1.5, 1.0, seed).is_err());
    }

    #[test]
    fn detected_drift_grows_with_the_dial() {
        let reference = sample(2000);
        let current: Vec<f64> = sample(2000).iter().map(|v| v + 0.0001).collect();
        let mut last = -1.0;
        for step in 0..=10 {
            let dial = f64::from(step) / 10.0;
            let drifted = mix_shift(&current, dial, 0.5, Seed::new(1)).unwrap();
            let d = crate::ks_2samp(&reference, &drifted).unwrap().statistic;
            assert!(d >= last - 1e-12, "KS fell from {last} to {d} at dial {dial}");
            last = d;
        }
        assert!(last > 0.45, "{last}");
    }

    #[test]
    fn prior_shift_moves_class_proportions_by_the_dial() {
        let labels: Vec<u32> = (0..1000).map(|i| u32::from(i % 10 < 8)).collect(); // 20 % / 80 %
        let rows = prior_shift(&labels, &[0.8, 0.2], 0.5, Seed::new(3)).unwrap();
        assert_eq!(rows.len(), 1000);
        let zeros = rows.iter().filter(|&&r| labels[r] == 0).count();
        assert_eq!(zeros, 500, "halfway from 20 % to 80 %");
        assert!(prior_shift(&labels, &[0.5, 0.6], 0.5, Seed::new(3)).is_err());
        assert!(
            prior_shift(&[0, 0], &[0.5, 0.5], 1.0, Seed::new(3)).is_err(),
            "class 1 has no rows"
        );
    }

    #[test]
    fn category_and_missing_drift_touch_the_dialled_share() {
        let values: Vec<String> =
            (0..100).map(|i| if i % 2 == 0 { "a".into() } else { "b".into() }).collect();
        let shifted = category_shift(&values, 0.5, "a", "c", Seed::new(2)).unwrap();
        assert_eq!(shifted.iter().filter(|v| *v == "c").count(), 25);
        assert_eq!(shifted.iter().filter(|v| *v == "b").count(), 50);
        let holes = missing(&sample(200), 0.3, Seed::new(2)).unwrap();
        assert_eq!(holes.iter().filter(|v| v.is_none()).count(), 60);
        let scaled = scale_shift(&[0.0, 2.0], 0.5, 3.0, 1.0).unwrap();
        assert_eq!(scaled, vec![-1.0, 3.0]);
    }
}
