//! Planar image helpers shared by the corruptions: batch checks, per-sample dispatch, borders,
//! separable and 2-D convolution, resampling and colour conversions.

use stressor_core::{Batch, Rng, Seed};

use crate::CorruptionError;

/// ImageNet-C's constants assume 224×224 images; lengths in pixels are multiplied by
/// `sqrt(h·w) / REFERENCE_SIDE`.
pub(crate) const REFERENCE_SIDE: f64 = 224.0;

/// Rec. 709 / sRGB luminance weights (linear light), also used as luma weights.
pub(crate) const LUMA_709: [f32; 3] = [0.2126, 0.7152, 0.0722];

/// The geometry of one sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    /// Channels: 1 or 3.
    pub(crate) channels: usize,
    /// Rows.
    pub(crate) height: usize,
    /// Columns.
    pub(crate) width: usize,
}

impl Geometry {
    /// Values in one channel plane.
    pub(crate) fn plane_len(self) -> usize {
        self.height * self.width
    }

    /// The factor that maps a length in pixels on a 224×224 image to this image.
    pub(crate) fn scale(self) -> f64 {
        ((self.height * self.width) as f64).sqrt() / REFERENCE_SIDE
    }
}

/// Checks the shape and values of a batch of images.
pub(crate) fn check(inputs: &Batch) -> Result<Geometry, CorruptionError> {
    let shape = inputs.shape();
    let geometry = match *shape {
        [_, channels @ (1 | 3), height, width] if height > 0 && width > 0 => {
            Geometry { channels, height, width }
        }
        _ => return Err(CorruptionError::Shape { shape: shape.to_vec() }),
    };
    let sample_len = inputs.sample_len().max(1);
    if let Some((index, &value)) =
        inputs.as_slice().iter().enumerate().find(|(_, value)| !value.is_finite())
    {
        return Err(CorruptionError::NonFinite { sample: index / sample_len, value });
    }
    Ok(geometry)
}

/// Copies the batch (clipped into `[0, 1]`), runs `corrupt` on every sample with that sample's
/// generator (`seed.derive_index(i)`), and clips the result into `[0, 1]`.
pub(crate) fn map_samples(
    inputs: &Batch,
    geometry: Geometry,
    seed: Seed,
    mut corrupt: impl FnMut(Geometry, &mut [f32], &mut Rng) -> Result<(), CorruptionError>,
) -> Result<Batch, CorruptionError> {
    let mut output = inputs.clone();
    for index in 0..output.len() {
        let mut rng = seed.derive_index(index as u64).rng();
        // Clipping per sample keeps each pass over the data in cache.
        let sample = output.sample_mut(index);
        clip_unit(sample);
        corrupt(geometry, sample, &mut rng)?;
        clip_unit(sample);
    }
    Ok(output)
}

/// Clips every value into `[0, 1]`.
pub(crate) fn clip_unit(values: &mut [f32]) {
    for value in values {
        *value = value.clamp(0.0, 1.0);
    }
}

/// How a filter reads outside the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Border {
    /// Repeat the edge pixel (`aaa|abcd|ddd`; scipy `nearest`).
    Clamp,
    /// Mirror including the edge pixel (`cba|abcd|dcb`; scipy `reflect`).
    Reflect,
    /// Mirror excluding the edge pixel (`dcb|abcd|cba`; OpenCV's default `REFLECT_101`).
    Reflect101,
}

/// The in-image index that `index` reads from, for any offset however far outside.
pub(crate) fn border_index(index: isize, len: usize, border: Border) -> usize {
    let n = len as isize;
    if (0..n).contains(&index) {
        return index as usize;
    }
    match border {
        Border::Clamp => index.clamp(0, n - 1) as usize,
        Border::Reflect => {
            let period = 2 * n;
            let folded = index.rem_euclid(period);
            (if folded < n { folded } else { period - 1 - folded }) as usize
        }
        Border::Reflect101 => {
            if n == 1 {
                return 0;
            }
            let period = 2 * n - 2;
            let folded = index.rem_euclid(period);
            (if folded < n { folded } else { period - folded }) as usize
        }
    }
}

/// A normalised 1-D Gaussian kernel of radius `ceil(truncate·sigma)` (at least 0).
pub(crate) fn gaussian_kernel(sigma: f64, truncate: f64) -> Vec<f32> {
    if sigma <= 0.0 {
        return vec![1.0];
    }
    let radius = (truncate * sigma).ceil().max(0.0) as isize;
    let weights: Vec<f64> = (-radius..=radius)
        .map(|offset| (-((offset * offset) as f64) / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    weights.iter().map(|weight| (weight / total) as f32).collect()
}

/// Convolves a `height × width` plane with odd-length kernels: `row_kernel` along each row
/// (horizontally), then `column_kernel` along each column.
pub(crate) fn blur_separable(
    plane: &mut [f32],
    height: usize,
    width: usize,
    row_kernel: &[f32],
    column_kernel: &[f32],
    border: Border,
    scratch: &mut Vec<f32>,
) {
    if row_kernel.len() <= 1 && column_kernel.len() <= 1 {
        return;
    }
    let kernel = row_kernel;
    let radius = (kernel.len() / 2) as isize;
    scratch.clear();
    scratch.resize(plane.len(), 0.0);
    // Rows: precompute the source column of each tap so the inner loop has no branches.
    let column_taps: Vec<Vec<usize>> = (0..width as isize)
        .map(|x| (-radius..=radius).map(|k| border_index(x + k, width, border)).collect())
        .collect();
    for y in 0..height {
        let row = &plane[y * width..(y + 1) * width];
        let out = &mut scratch[y * width..(y + 1) * width];
        for (x, taps) in column_taps.iter().enumerate() {
            out[x] = taps.iter().zip(kernel).map(|(&source, &weight)| row[source] * weight).sum();
        }
    }
    // Columns: accumulate whole rows, which keeps memory access sequential.
    plane.fill(0.0);
    let radius = (column_kernel.len() / 2) as isize;
    for y in 0..height as isize {
        let out = &mut plane[y as usize * width..(y as usize + 1) * width];
        for (k, &weight) in column_kernel.iter().enumerate() {
            let source = border_index(y + k as isize - radius, height, border);
            let row = &scratch[source * width..(source + 1) * width];
            for (value, &input) in out.iter_mut().zip(row) {
                *value += weight * input;
            }
        }
    }
}

/// Convolves (correlates) a plane with a square `size × size` kernel, `size` odd.
pub(crate) fn convolve2d(
    plane: &mut [f32],
    height: usize,
    width: usize,
    kernel: &[f32],
    size: usize,
    border: Border,
    scratch: &mut Vec<f32>,
) {
    let radius = size / 2;
    // Pad once so the inner loops read contiguous rows without border logic.
    let padded_width = width + 2 * radius;
    scratch.clear();
    for y in 0..height + 2 * radius {
        let source = border_index(y as isize - radius as isize, height, border) * width;
        for x in 0..padded_width {
            scratch.push(plane[source + border_index(x as isize - radius as isize, width, border)]);
        }
    }
    plane.fill(0.0);
    for y in 0..height {
        let out = &mut plane[y * width..(y + 1) * width];
        for ky in 0..size {
            let row = &scratch[(y + ky) * padded_width..(y + ky + 1) * padded_width];
            for (kx, &weight) in kernel[ky * size..(ky + 1) * size].iter().enumerate() {
                if weight == 0.0 {
                    continue;
                }
                for (value, &input) in out.iter_mut().zip(&row[kx..kx + width]) {
                    *value += weight * input;
                }
            }
        }
    }
}

/// Bilinear sample of a plane at fractional `(y, x)`, reading outside through `border`.
pub(crate) fn bilinear(
    plane: &[f32],
    height: usize,
    width: usize,
    y: f32,
    x: f32,
    border: Border,
) -> f32 {
    let y0 = y.floor();
    let x0 = x.floor();
    let fy = y - y0;
    let fx = x - x0;
    let (y0, x0) = (y0 as isize, x0 as isize);
    let row0 = border_index(y0, height, border) * width;
    let row1 = border_index(y0 + 1, height, border) * width;
    let col0 = border_index(x0, width, border);
    let col1 = border_index(x0 + 1, width, border);
    let top = plane[row0 + col0] * (1.0 - fx) + plane[row0 + col1] * fx;
    let bottom = plane[row1 + col0] * (1.0 - fx) + plane[row1 + col1] * fx;
    top * (1.0 - fy) + bottom * fy
}

/// Quantises `[0, 1]` to a byte as PIL does when ImageNet-C converts arrays to images.
pub(crate) fn to_byte(value: f32) -> u8 {
    (value.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// Runs `colour` on each pixel of an RGB sample (planar), or, for a 1-channel sample, on the
/// gray value replicated to RGB and keeps the result's Rec. 709 luma (weights on the encoded
/// values) — how every colour operation in this crate treats grayscale images.
pub(crate) fn for_each_rgb(
    sample: &mut [f32],
    geometry: Geometry,
    mut colour: impl FnMut([f32; 3]) -> [f32; 3],
) {
    let plane = geometry.plane_len();
    if geometry.channels == 3 {
        let (red, rest) = sample.split_at_mut(plane);
        let (green, blue) = rest.split_at_mut(plane);
        for ((r, g), b) in red.iter_mut().zip(green.iter_mut()).zip(blue.iter_mut()) {
            let [r2, g2, b2] = colour([*r, *g, *b]);
            (*r, *g, *b) = (r2, g2, b2);
        }
    } else {
        for value in sample.iter_mut() {
            let rgb = colour([*value; 3]).map(|channel| channel.clamp(0.0, 1.0));
            *value = LUMA_709[0] * rgb[0] + LUMA_709[1] * rgb[1] + LUMA_709[2] * rgb[2];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borders_fold_far_offsets() {
        let reflect: Vec<usize> = (-4..8).map(|i| border_index(i, 4, Border::Reflect)).collect();
        assert_eq!(reflect, [3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0]);
        let r101: Vec<usize> = (-4..8).map(|i| border_index(i, 4, Border::Reflect101)).collect();
        assert_eq!(r101, [2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1]);
        assert_eq!(border_index(-9, 1, Border::Reflect101), 0);
        assert_eq!(border_index(9, 3, Border::Clamp), 2);
    }

    #[test]
    fn blur_keeps_constants_and_mass() {
        let mut plane = vec![0.25_f32; 35];
        let kernel = gaussian_kernel(2.0, 4.0);
        blur_separable(&mut plane, 5, 7, &kernel, &kernel, Border::Reflect, &mut Vec::new());
        assert!(plane.iter().all(|v| (v - 0.25).abs() < 1e-6));
        let mut impulse = vec![0.0_f32; 81];
        impulse[40] = 1.0;
        let kernel = gaussian_kernel(1.0, 3.0);
        blur_separable(&mut impulse, 9, 9, &kernel, &kernel, Border::Clamp, &mut vec![]);
        let total: f32 = impulse.iter().sum();
        assert!((total - 1.0).abs() < 1e-5 && impulse[40] < 0.2, "{total}");
    }
}
