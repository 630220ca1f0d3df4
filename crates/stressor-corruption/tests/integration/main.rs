//! Integration tests of stressor-corruption: shape and range properties, determinism,
//! severity monotonicity, known values and errors.

#![expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]

mod determinism;
mod errors;
mod known;
mod monotone;
mod properties;

use stressor_core::Batch;

/// `n` synthetic "natural" images `[n, channels, height, width]`: smooth gradients, a few
/// sinusoidal textures and a bright blob, different per sample, values in `[0.05, 0.95]`.
pub(crate) fn natural_images(n: usize, channels: usize, height: usize, width: usize) -> Batch {
    let mut data = Vec::with_capacity(n * channels * height * width);
    for sample in 0..n {
        let phase = sample as f32 * 0.7;
        for channel in 0..channels {
            let tint = channel as f32 * 0.9 + phase;
            for y in 0..height {
                for x in 0..width {
                    let (fy, fx) = (y as f32 / height as f32, x as f32 / width as f32);
                    let gradient = 0.3 * fx + 0.2 * fy;
                    let texture = 0.15 * (fx * 23.0 + tint).sin() * (fy * 17.0 - tint).cos();
                    let blob_y = fy - 0.5 - 0.2 * phase.sin();
                    let blob_x = fx - 0.4 - 0.2 * (phase + tint).cos();
                    let blob = 0.3 * (-(blob_y * blob_y + blob_x * blob_x) * 20.0).exp();
                    let value = 0.2 + gradient + texture + blob;
                    data.push(value.clamp(0.05, 0.95));
                }
            }
        }
    }
    Batch::new(data, vec![n, channels, height, width]).expect("the shape matches the data")
}

/// Mean absolute difference between two batches of the same shape.
pub(crate) fn mean_abs_diff(a: &Batch, b: &Batch) -> f64 {
    let total: f64 =
        a.as_slice().iter().zip(b.as_slice()).map(|(x, y)| f64::from((x - y).abs())).sum();
    total / a.as_slice().len() as f64
}
