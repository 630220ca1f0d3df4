//! Known values: ImageNet-C constants, colour-science identities, codec round trips.

use stressor_core::{Batch, Seed};
use stressor_corruption::{Corruption, Lighting};

use crate::{mean_abs_diff, natural_images};

fn srgb_to_linear(value: f64) -> f64 {
    if value <= 0.040_45 { value / 12.92 } else { ((value + 0.055) / 1.055).powf(2.4) }
}

fn channel_means(batch: &Batch) -> [f64; 3] {
    let plane = batch.shape()[2] * batch.shape()[3];
    let mut means = [0.0; 3];
    for sample in 0..batch.len() {
        for (channel, mean) in means.iter_mut().enumerate() {
            let values = &batch.sample(sample)[channel * plane..(channel + 1) * plane];
            *mean += values.iter().map(|&v| f64::from(v)).sum::<f64>();
        }
    }
    means.map(|total| total / (batch.len() * plane) as f64)
}

#[test]
fn brightness_adds_the_imagenet_c_constant_to_hsv_value() {
    let constants = [0.1, 0.2, 0.3, 0.4, 0.5];
    for channels in [1, 3] {
        let gray = Batch::new(vec![0.3; channels * 16], vec![1, channels, 4, 4]).unwrap();
        for (severity, constant) in (1..=5).zip(constants) {
            let out = Corruption::Brightness.apply(&gray, severity, Seed::new(0)).unwrap();
            for &value in out.as_slice() {
                assert!(
                    (value - (0.3 + constant)).abs() < 1e-6,
                    "{severity} c={channels}: {value}"
                );
            }
        }
    }
    // A coloured pixel keeps hue and saturation: every channel scales by V'/V.
    let pixel = Batch::new(vec![0.6, 0.3, 0.15], vec![1, 3, 1, 1]).unwrap();
    let out = Corruption::Brightness.apply(&pixel, 2, Seed::new(0)).unwrap();
    let expected = [0.8, 0.4, 0.2];
    for (value, expected) in out.as_slice().iter().zip(expected) {
        assert!((value - expected).abs() < 1e-6, "{value} vs {expected}");
    }
}

#[test]
fn contrast_scales_around_the_channel_mean() {
    let images = Batch::new(vec![0.2, 0.6], vec![1, 1, 1, 2]).unwrap();
    let out = Corruption::Contrast.apply(&images, 5, Seed::new(0)).unwrap();
    assert!((out.as_slice()[0] - 0.39).abs() < 1e-6 && (out.as_slice()[1] - 0.41).abs() < 1e-6);
}

#[test]
fn colour_temperature_6500_is_the_identity() {
    for channels in [1, 3] {
        let images = natural_images(3, channels, 16, 16);
        let out = Lighting::ColourTemperature.apply(&images, 6500.0, Seed::new(0)).unwrap();
        for (a, b) in images.as_slice().iter().zip(out.as_slice()) {
            assert!((a - b).abs() <= 1e-6, "c={channels}: {a} -> {b}");
        }
    }
}

#[test]
fn lower_kelvin_is_redder() {
    let images = natural_images(2, 3, 16, 16);
    let ratio = |kelvin: f64| {
        let out = Lighting::ColourTemperature.apply(&images, kelvin, Seed::new(0)).unwrap();
        let [red, _, blue] = channel_means(&out);
        red / blue
    };
    let ratios: Vec<f64> = [2000.0, 3000.0, 4500.0, 6500.0, 9000.0, 20_000.0].map(ratio).to_vec();
    assert!(ratios.windows(2).all(|pair| pair[0] > pair[1]), "{ratios:?}");
    // A gray image is untouched where no channel clips (luminance-preserving gains).
    let gray = Batch::new(vec![0.2; 16], vec![1, 1, 4, 4]).unwrap();
    let out = Lighting::ColourTemperature.apply(&gray, 3000.0, Seed::new(0)).unwrap();
    assert!(out.as_slice().iter().all(|v| (v - 0.2).abs() < 1e-6), "{:?}", out.as_slice());
}

#[test]
fn one_ev_doubles_linear_light() {
    let images = natural_images(2, 3, 16, 16);
    let out = Lighting::Exposure.apply(&images, 1.0, Seed::new(0)).unwrap();
    let mut checked = 0;
    for (before, after) in images.as_slice().iter().zip(out.as_slice()) {
        let (before, after) =
            (srgb_to_linear(f64::from(*before)), srgb_to_linear(f64::from(*after)));
        if before < 0.45 {
            assert!((after / before - 2.0).abs() < 1e-5, "{before} -> {after}");
            checked += 1;
        } else if before > 0.5 {
            assert_eq!(after, 1.0);
        }
    }
    assert!(checked > 100);
    let identity = Lighting::Exposure.apply(&images, 0.0, Seed::new(0)).unwrap();
    assert!(mean_abs_diff(&identity, &images) < 1e-7);
}

#[test]
fn zero_strength_is_the_identity() {
    let images = natural_images(2, 3, 16, 16);
    for lighting in [Lighting::Vignette, Lighting::Shadow] {
        let out = lighting.apply(&images, 0.0, Seed::new(3)).unwrap();
        assert!(mean_abs_diff(&out, &images) < 1e-7, "{lighting:?}");
    }
}

#[test]
fn vignette_darkens_corners_by_the_cos4_law() {
    let white = Batch::new(vec![1.0; 101 * 101], vec![1, 1, 101, 101]).unwrap();
    let out = Lighting::Vignette.apply(&white, 1.0, Seed::new(0)).unwrap();
    let centre = srgb_to_linear(f64::from(out.as_slice()[50 * 101 + 50]));
    assert!((centre - 1.0).abs() < 1e-6, "{centre}");
    // The corner pixel's centre sits at r = 0.99: cos⁴θ = 1/(1 + 3r²)².
    let corner = srgb_to_linear(f64::from(out.as_slice()[0]));
    let r_squared = 2.0 * (0.5 - 0.5 / 101.0_f64).powi(2) / 0.5;
    assert!((corner - 1.0 / (1.0 + 3.0 * r_squared).powi(2)).abs() < 1e-5, "{corner}");
}

#[test]
fn shadow_darkens_one_side_by_its_strength() {
    let images = Batch::new(vec![1.0; 3 * 64 * 64], vec![1, 3, 64, 64]).unwrap();
    let out = Lighting::Shadow.apply(&images, 0.75, Seed::new(8)).unwrap();
    let linear: Vec<f64> = out.as_slice().iter().map(|&v| srgb_to_linear(f64::from(v))).collect();
    let darkest = linear.iter().copied().fold(1.0, f64::min);
    assert!((darkest - 0.25).abs() < 1e-5, "{darkest}");
    let lit = linear.iter().filter(|&&v| v > 1.0 - 1e-6).count();
    let shaded = linear.iter().filter(|&&v| (v - 0.25).abs() < 1e-5).count();
    assert!(lit > linear.len() / 8 && shaded > linear.len() / 8, "{lit} {shaded}");
}

#[test]
fn pixelate_averages_cells() {
    // 4 wide at factor 0.5: two cells of two pixels each.
    let images = Batch::new(vec![0.0, 0.4, 0.6, 1.0], vec![1, 1, 1, 4]).unwrap();
    let out = Corruption::Pixelate.apply(&images, 2, Seed::new(0)).unwrap();
    let expected = [0.2, 0.2, 0.8, 0.8];
    for (value, expected) in out.as_slice().iter().zip(expected) {
        assert!((value - expected).abs() < 1e-6, "{:?}", out.as_slice());
    }
}

#[test]
fn occlusion_covers_the_documented_area() {
    let images = Batch::new(vec![0.0; 3 * 20 * 20], vec![1, 3, 20, 20]).unwrap();
    for (severity, side) in (1..=5).zip([4, 6, 8, 10, 12]) {
        let out =
            Corruption::Occlusion.apply(&images, severity, Seed::new(u64::from(severity))).unwrap();
        let covered = out.as_slice().iter().filter(|&&v| v == 0.5).count();
        assert_eq!(covered, 3 * side * side, "severity {severity}");
    }
}

#[test]
fn saturate_on_gray_follows_the_luma_rule() {
    let gray = Batch::new(vec![0.5; 16], vec![1, 1, 4, 4]).unwrap();
    for (severity, expected) in
        [(1, 0.5), (3, 0.5), (4, 0.5 * (1.0 - 0.7874 * 0.1)), (5, 0.5 * (1.0 - 0.7874 * 0.2))]
    {
        let out = Corruption::Saturate.apply(&gray, severity, Seed::new(0)).unwrap();
        assert!(
            out.as_slice().iter().all(|v| (v - expected).abs() < 1e-5),
            "{severity}: {:?}",
            out.as_slice()[0]
        );
    }
}

#[test]
fn jpeg_is_deterministic_and_lossy_but_close() {
    let images = natural_images(2, 3, 32, 32);
    let mild = Corruption::JpegCompression.apply(&images, 1, Seed::new(0)).unwrap();
    let harsh = Corruption::JpegCompression.apply(&images, 5, Seed::new(1)).unwrap();
    let (mild_error, harsh_error) = (mean_abs_diff(&mild, &images), mean_abs_diff(&harsh, &images));
    assert!(mild_error > 0.001 && mild_error < 0.08, "{mild_error}");
    assert!(harsh_error > mild_error, "{mild_error} {harsh_error}");
}
