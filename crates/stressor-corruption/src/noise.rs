//! Noise corruptions: Gaussian, shot (Poisson) and impulse (salt and pepper).

use rand::Rng as _;
use rand_distr::{Distribution, Poisson, StandardNormal};
use stressor_core::Rng;

/// ImageNet-C's standard deviations of additive Gaussian noise.
pub(crate) const GAUSSIAN_SIGMA: [f32; 5] = [0.08, 0.12, 0.18, 0.26, 0.38];
/// ImageNet-C's photon counts at full scale for shot noise.
pub(crate) const SHOT_PHOTONS: [f32; 5] = [60.0, 25.0, 12.0, 5.0, 3.0];
/// ImageNet-C's fractions of values replaced by salt or pepper.
pub(crate) const IMPULSE_AMOUNT: [f32; 5] = [0.03, 0.06, 0.09, 0.17, 0.27];

/// `x + N(0, σ²)` per value.
pub(crate) fn gaussian(sample: &mut [f32], rng: &mut Rng, sigma: f32) {
    for value in sample {
        let noise: f32 = StandardNormal.sample(rng);
        *value += sigma * noise;
    }
}

/// `Poisson(λ·x) / λ` per value.
pub(crate) fn shot(sample: &mut [f32], rng: &mut Rng, photons: f32) {
    for value in sample {
        let rate = f64::from(*value * photons);
        *value = (poisson(rate, rng) as f32) / photons;
    }
}

/// A Poisson draw: inversion by sequential search for small rates (one uniform and one `exp`
/// per draw, exact), rand_distr's rejection sampler above [`INVERSION_MAX_RATE`].
fn poisson(rate: f64, rng: &mut Rng) -> f64 {
    if rate <= 0.0 {
        // A black pixel receives no photon (and Poisson::new rejects a zero rate).
        return 0.0;
    }
    if rate > INVERSION_MAX_RATE {
        return Poisson::new(rate).map_or(0.0, |poisson| poisson.sample(rng));
    }
    let uniform: f64 = rng.random();
    let mut probability = (-rate).exp();
    let mut cumulative = probability;
    let mut count = 0.0;
    // The cap guards against a uniform within rounding of 1; its tail probability is nil.
    while uniform > cumulative && count < 10.0 * INVERSION_MAX_RATE {
        count += 1.0;
        probability *= rate / count;
        cumulative += probability;
    }
    count
}

/// Above this rate the sequential search costs more than rejection sampling.
const INVERSION_MAX_RATE: f64 = 30.0;

/// Each value independently becomes 0 or 1 (equally likely) with probability `amount`.
pub(crate) fn impulse(sample: &mut [f32], rng: &mut Rng, amount: f32) {
    for value in sample {
        let draw: f32 = rng.random();
        if draw < amount {
            *value = if draw < amount * 0.5 { 1.0 } else { 0.0 };
        }
    }
}
