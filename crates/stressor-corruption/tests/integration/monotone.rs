//! Damage (mean |x' − x|) does not decrease with severity.

use stressor_core::Seed;
use stressor_corruption::Corruption;

use crate::{mean_abs_diff, natural_images};

/// Damage per severity 1–5 over 8 images of 64×64: mean |x' − x|, or for frost `1 − r`, r
/// the Pearson correlation of x' with x.
///
/// Frost is the documented exception to the mean absolute difference: at severity 1 it adds
/// 0.4 × a bright overlay to the full image, at 5 it adds 0.75 × overlay to 0.6 × image, so the
/// mean shift shrinks while the image signal is drowned more and more; the decorrelation
/// measures that. Saturate is not monotone at all (severities 1–2 desaturate, 3–5
/// oversaturate) and is only required to change colour images.
fn damage(corruption: Corruption, channels: usize) -> Vec<f64> {
    let images = natural_images(8, channels, 64, 64);
    (1..=5)
        .map(|severity| {
            let corrupted = corruption.apply(&images, severity, Seed::new(21)).unwrap();
            if corruption == Corruption::Frost {
                1.0 - correlation(images.as_slice(), corrupted.as_slice())
            } else {
                mean_abs_diff(&corrupted, &images)
            }
        })
        .collect()
}

fn correlation(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len() as f64;
    let mean_a = a.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let mean_b = b.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let (mut covariance, mut var_a, mut var_b) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (dx, dy) = (f64::from(x) - mean_a, f64::from(y) - mean_b);
        covariance += dx * dy;
        var_a += dx * dx;
        var_b += dy * dy;
    }
    covariance / (var_a * var_b).sqrt()
}

#[test]
fn damage_grows_with_severity() {
    let mut table = String::new();
    let mut failures = Vec::new();
    for corruption in Corruption::ALL {
        for channels in [1, 3] {
            let damage = damage(corruption, channels);
            table.push_str(&format!("{:18} c={channels} {damage:.4?}\n", corruption.name()));
            let exception = corruption == Corruption::Saturate;
            let grows = damage.windows(2).all(|pair| pair[1] >= pair[0] - 1e-4);
            if !exception && !grows {
                failures.push(format!("{} c={channels}", corruption.name()));
            }
            if !exception && channels == 3 && damage[0] <= 0.0 {
                failures.push(format!("{} does nothing at severity 1", corruption.name()));
            }
        }
    }
    assert!(failures.is_empty(), "not monotone: {failures:?}\n{table}");
}
