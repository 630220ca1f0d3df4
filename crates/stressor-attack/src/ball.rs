//! The ε-ball around each input: projection, steps and random starts, batched over samples.

use rand::Rng as _;
use stressor_core::{Bounds, Rng};

use crate::Norm;

/// Projects every sample of `x` into its ε-ball around `x0` intersected with `bounds`.
///
/// L∞ is the exact projection. L2 clips into the bounds first and then scales the change into
/// the ball; as `x0` lies within the bounds, the scaled point does too.
pub(crate) fn project(
    x: &mut [f32],
    x0: &[f32],
    sample_len: usize,
    epsilon: f32,
    norm: Norm,
    bounds: Bounds,
) {
    match norm {
        Norm::Linf => {
            for (v, o) in x.iter_mut().zip(x0) {
                *v = bounds.clip(v.clamp(o - epsilon, o + epsilon));
            }
        }
        Norm::L2 => {
            for (xs, os) in x.chunks_mut(sample_len).zip(x0.chunks(sample_len)) {
                for v in xs.iter_mut() {
                    *v = bounds.clip(*v);
                }
                let length = l2_distance(xs, os);
                if length > f64::from(epsilon) {
                    // A hair inside the ball, so the rounding of x0 + δ·scale cannot leave it.
                    let scale = (f64::from(epsilon) / length * (1.0 - 1e-6)) as f32;
                    for (v, o) in xs.iter_mut().zip(os) {
                        *v = bounds.clip(o + (*v - o) * scale);
                    }
                }
            }
        }
    }
}

/// Moves every sample of `x` by its own `step_sizes[i]` along the steepest ascent direction of
/// `gradient` for `norm`: the sign for L∞, the unit gradient for L2. A zero gradient does not move.
pub(crate) fn ascend(
    x: &mut [f32],
    gradient: &[f32],
    sample_len: usize,
    step_sizes: &[f32],
    norm: Norm,
) {
    for ((xs, gs), step) in
        x.chunks_mut(sample_len).zip(gradient.chunks(sample_len)).zip(step_sizes)
    {
        match norm {
            Norm::Linf => {
                for (v, g) in xs.iter_mut().zip(gs) {
                    if *g != 0.0 {
                        *v += step * g.signum();
                    }
                }
            }
            Norm::L2 => {
                let length = gs.iter().map(|g| f64::from(*g).powi(2)).sum::<f64>().sqrt();
                if length > 0.0 {
                    let scale = (f64::from(*step) / length) as f32;
                    for (v, g) in xs.iter_mut().zip(gs) {
                        *v += scale * g;
                    }
                }
            }
        }
    }
}

/// `x0` plus a uniform random point of the ε-ball (then clipped into the bounds).
pub(crate) fn random_start(
    x0: &[f32],
    sample_len: usize,
    epsilon: f32,
    norm: Norm,
    bounds: Bounds,
    rng: &mut Rng,
) -> Vec<f32> {
    let mut x = x0.to_vec();
    match norm {
        Norm::Linf => {
            for v in &mut x {
                *v += epsilon * (2.0 * rng.random::<f32>() - 1.0);
            }
        }
        Norm::L2 => {
            for xs in x.chunks_mut(sample_len) {
                let direction: Vec<f64> = (0..xs.len()).map(|_| standard_normal(rng)).collect();
                let length =
                    direction.iter().map(|d| d * d).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
                // Uniform in the ball: radius ε·u^(1/d).
                let radius =
                    f64::from(epsilon) * rng.random::<f64>().powf(1.0 / xs.len().max(1) as f64);
                for (v, d) in xs.iter_mut().zip(&direction) {
                    *v += (radius * d / length) as f32;
                }
            }
        }
    }
    project(&mut x, x0, sample_len, epsilon, norm, bounds);
    x
}

/// The L2 distance between two samples, in `f64`.
pub(crate) fn l2_distance(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2)).sum::<f64>().sqrt()
}

/// A standard normal draw (Box–Muller).
pub(crate) fn standard_normal(rng: &mut Rng) -> f64 {
    let u1 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use stressor_core::Seed;

    use super::*;

    #[test]
    fn projection_lands_in_ball_and_bounds() {
        let x0 = [0.5, 0.9, 0.1, 0.5];
        let mut x = [2.0, 0.0, 0.1, 0.4];
        project(&mut x, &x0, 2, 0.2, Norm::Linf, Bounds::UNIT);
        assert_eq!(x, [0.7, 0.7, 0.1, 0.4]);
        let mut x = [1.5, 0.9, 0.1, 0.5];
        project(&mut x, &x0, 2, 0.3, Norm::L2, Bounds { min: -5.0, max: 5.0 });
        assert!((l2_distance(&x[..2], &x0[..2]) - 0.3).abs() < 1e-5);
        assert_eq!(&x[2..], &x0[2..]);
    }

    #[test]
    fn random_starts_fill_the_ball() {
        let x0 = vec![0.0f32; 2 * 100];
        let mut rng = Seed::new(1).rng();
        let wide = Bounds { min: -1.0, max: 1.0 };
        let x = random_start(&x0, 100, 0.5, Norm::L2, wide, &mut rng);
        for xs in x.chunks(100) {
            let length = l2_distance(xs, &x0[..100]);
            // In 100 dimensions, almost all the volume is near the surface.
            assert!(length <= 0.5 && length > 0.4, "{length}");
        }
        let x = random_start(&x0, 100, 0.5, Norm::Linf, wide, &mut rng);
        assert!(x.iter().all(|v| v.abs() <= 0.5) && x.iter().any(|v| v.abs() > 0.45));
    }
}
