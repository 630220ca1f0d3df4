//! Photometric corruptions: brightness, contrast and saturation, in HSV as ImageNet-C does.

use crate::image::{Geometry, for_each_rgb};

/// ImageNet-C's increments of the HSV value channel.
pub(crate) const BRIGHTNESS: [f32; 5] = [0.1, 0.2, 0.3, 0.4, 0.5];
/// ImageNet-C's contrast factors (1 is the identity).
pub(crate) const CONTRAST: [f32; 5] = [0.4, 0.3, 0.2, 0.1, 0.05];
/// ImageNet-C's saturation factor and offset: `S' = clip(S·a + b)`.
pub(crate) const SATURATE: [(f32, f32); 5] =
    [(0.3, 0.0), (0.1, 0.0), (2.0, 0.0), (5.0, 0.1), (20.0, 0.2)];

/// Adds `delta` to HSV V (clipped) keeping H and S: every channel scales by `V'/V`; a black
/// pixel becomes gray `V'`. For one channel, V is the value itself.
pub(crate) fn brightness(sample: &mut [f32], geometry: Geometry, delta: f32) {
    if geometry.channels == 1 {
        for value in sample {
            *value = (*value + delta).min(1.0);
        }
        return;
    }
    for_each_rgb(sample, geometry, |rgb| {
        let value = rgb[0].max(rgb[1]).max(rgb[2]);
        let shifted = (value + delta).min(1.0);
        if value > 0.0 { rgb.map(|channel| channel * shifted / value) } else { [shifted; 3] }
    });
}

/// `(x − mean)·factor + mean`, the mean taken per channel over the image.
pub(crate) fn contrast(sample: &mut [f32], geometry: Geometry, factor: f32) {
    for plane in sample.chunks_exact_mut(geometry.plane_len()) {
        let mean = (plane.iter().map(|&v| f64::from(v)).sum::<f64>() / plane.len() as f64) as f32;
        for value in plane {
            *value = (*value - mean) * factor + mean;
        }
    }
}

/// HSV saturation `S' = clip(S·factor + offset, 0, 1)`; gray pixels have hue 0 (red), as in
/// scikit-image.
pub(crate) fn saturate(sample: &mut [f32], geometry: Geometry, factor: f32, offset: f32) {
    for_each_rgb(sample, geometry, |rgb| {
        let [hue, saturation, value] = rgb_to_hsv(rgb);
        hsv_to_rgb([hue, (saturation * factor + offset).clamp(0.0, 1.0), value])
    });
}

/// RGB to HSV with scikit-image's conventions (hue in `[0, 1)`, hue and saturation 0 for gray).
pub(crate) fn rgb_to_hsv([r, g, b]: [f32; 3]) -> [f32; 3] {
    let value = r.max(g).max(b);
    let delta = value - r.min(g).min(b);
    if delta <= 0.0 {
        return [0.0, 0.0, value];
    }
    let saturation = delta / value;
    let hue = if r == value {
        (g - b) / delta
    } else if g == value {
        2.0 + (b - r) / delta
    } else {
        4.0 + (r - g) / delta
    };
    [(hue / 6.0).rem_euclid(1.0), saturation, value]
}

/// HSV to RGB (hue in `[0, 1)`).
pub(crate) fn hsv_to_rgb([hue, saturation, value]: [f32; 3]) -> [f32; 3] {
    let sector = (hue * 6.0).rem_euclid(6.0);
    let index = (sector.floor() as usize).min(5);
    let fraction = sector - index as f32;
    let p = value * (1.0 - saturation);
    let q = value * (1.0 - saturation * fraction);
    let t = value * (1.0 - saturation * (1.0 - fraction));
    match index {
        0 => [value, t, p],
        1 => [q, value, p],
        2 => [p, value, t],
        3 => [p, q, value],
        4 => [t, p, value],
        _ => [value, p, q],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsv_round_trips() {
        for rgb in
            [[0.2, 0.5, 0.9], [0.9, 0.1, 0.1], [0.3, 0.3, 0.3], [0.0, 0.0, 0.0], [0.5, 0.9, 0.2]]
        {
            let back = hsv_to_rgb(rgb_to_hsv(rgb));
            for (a, b) in rgb.iter().zip(back) {
                assert!((a - b).abs() < 1e-6, "{rgb:?} -> {back:?}");
            }
        }
    }
}
