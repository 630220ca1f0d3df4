//! Blur corruptions: defocus (disk), motion (one-sided line) and Gaussian.

use rand::Rng as _;
use stressor_core::Rng;

use crate::image::{Border, Geometry, blur_separable, convolve2d, gaussian_kernel};

/// ImageNet-C's defocus disk radii (pixels at 224×224) and anti-alias blur σ (pixels).
pub(crate) const DEFOCUS: [(f64, f64); 5] =
    [(3.0, 0.1), (4.0, 0.5), (6.0, 0.5), (8.0, 0.5), (10.0, 0.5)];
/// ImageNet-C's motion-blur kernel radius and Gaussian σ (pixels at 224×224).
pub(crate) const MOTION: [(f64, f64); 5] =
    [(10.0, 3.0), (15.0, 5.0), (15.0, 8.0), (15.0, 12.0), (20.0, 15.0)];
/// ImageNet-C's Gaussian-blur σ (pixels at 224×224).
pub(crate) const GAUSSIAN_SIGMA: [f64; 5] = [1.0, 2.0, 3.0, 4.0, 6.0];

/// A square kernel: the area coverage of a disk of `radius` pixels (4×4 supersampling per
/// pixel), smoothed by a Gaussian of σ `alias_sigma` and normalised. Returns `(weights, size)`.
pub(crate) fn defocus_kernel(radius: f64, alias_sigma: f64) -> (Vec<f32>, usize) {
    const SUB: usize = 4;
    let half = radius.ceil().max(0.0) as usize;
    let disk_size = 2 * half + 1;
    let mut disk = vec![0.0_f64; disk_size * disk_size];
    for ky in 0..disk_size {
        for kx in 0..disk_size {
            let mut inside = 0;
            for sy in 0..SUB {
                for sx in 0..SUB {
                    let dy = ky as f64 - half as f64 + (sy as f64 + 0.5) / SUB as f64 - 0.5;
                    let dx = kx as f64 - half as f64 + (sx as f64 + 0.5) / SUB as f64 - 0.5;
                    if dy * dy + dx * dx <= radius * radius {
                        inside += 1;
                    }
                }
            }
            disk[ky * disk_size + kx] = f64::from(inside);
        }
    }
    if disk.iter().all(|&weight| weight == 0.0) {
        disk[half * disk_size + half] = 1.0;
    }
    // ImageNet-C smooths the aliased disk with a 3-tap (5-tap beyond radius 8) Gaussian.
    let alias_half: usize = if radius > 8.0 { 2 } else { 1 };
    let alias: Vec<f64> = (0..=2 * alias_half)
        .map(|i| {
            let offset = i as f64 - alias_half as f64;
            if alias_sigma > 0.0 {
                (-offset * offset / (2.0 * alias_sigma * alias_sigma)).exp()
            } else {
                f64::from(u8::from(offset == 0.0))
            }
        })
        .collect();
    let size = disk_size + 2 * alias_half;
    let mut kernel = vec![0.0_f64; size * size];
    for dy in 0..disk_size {
        for dx in 0..disk_size {
            let weight = disk[dy * disk_size + dx];
            if weight == 0.0 {
                continue;
            }
            for (ay, alias_y) in alias.iter().enumerate() {
                for (ax, alias_x) in alias.iter().enumerate() {
                    kernel[(dy + ay) * size + dx + ax] += weight * alias_y * alias_x;
                }
            }
        }
    }
    let total: f64 = kernel.iter().sum();
    (kernel.iter().map(|weight| (weight / total) as f32).collect(), size)
}

/// Convolves every channel with the defocus kernel (OpenCV's `REFLECT_101` border).
pub(crate) fn defocus(sample: &mut [f32], geometry: Geometry, kernel: &[f32], size: usize) {
    let mut scratch = Vec::new();
    for plane in sample.chunks_exact_mut(geometry.plane_len()) {
        convolve2d(
            plane,
            geometry.height,
            geometry.width,
            kernel,
            size,
            Border::Reflect101,
            &mut scratch,
        );
    }
}

/// The one-sided motion kernel: `exp(−i²/2σ²)` for `i = 0..width`, normalised.
pub(crate) fn motion_kernel(radius: f64, sigma: f64) -> Vec<f32> {
    let width = 2 * radius.round().max(0.0) as usize + 1;
    let weights: Vec<f64> = (0..width)
        .map(|i| {
            if sigma > 0.0 {
                (-((i * i) as f64) / (2.0 * sigma * sigma)).exp()
            } else {
                f64::from(u8::from(i == 0))
            }
        })
        .collect();
    let total: f64 = weights.iter().sum();
    weights.iter().map(|weight| (weight / total) as f32).collect()
}

/// Sums copies of the image shifted by whole pixels along a random direction in ±45°,
/// weighted by `kernel`, with edge pixels repeated.
pub(crate) fn motion(sample: &mut [f32], geometry: Geometry, rng: &mut Rng, kernel: &[f32]) {
    let angle = rng.random_range(-45.0_f64..45.0).to_radians();
    let Geometry { height, width, .. } = geometry;
    let shifts: Vec<(isize, isize, f32)> = kernel
        .iter()
        .enumerate()
        .map(|(i, &weight)| {
            let dy = -((i as f64 * angle.sin()) - 0.5).ceil() as isize;
            let dx = -((i as f64 * angle.cos()) - 0.5).ceil() as isize;
            (dy, dx, weight)
        })
        // ImageNet-C stops once a shift leaves the image.
        .take_while(|&(dy, dx, _)| dy.unsigned_abs() < height && dx.unsigned_abs() < width)
        .collect();
    let mut source = Vec::with_capacity(geometry.plane_len());
    for plane in sample.chunks_exact_mut(geometry.plane_len()) {
        source.clear();
        source.extend_from_slice(plane);
        plane.fill(0.0);
        for &(dy, dx, weight) in &shifts {
            for y in 0..height {
                let from_y = (y as isize - dy).clamp(0, height as isize - 1) as usize;
                let row = &source[from_y * width..(from_y + 1) * width];
                let out = &mut plane[y * width..(y + 1) * width];
                for (x, value) in out.iter_mut().enumerate() {
                    let from_x = (x as isize - dx).clamp(0, width as isize - 1) as usize;
                    *value += weight * row[from_x];
                }
            }
        }
    }
}

/// Separable Gaussian blur of every channel, radius `4σ`, edge pixels repeated (scikit-image's
/// `gaussian` defaults).
pub(crate) fn gaussian(sample: &mut [f32], geometry: Geometry, kernel: &[f32]) {
    let mut scratch = Vec::new();
    for plane in sample.chunks_exact_mut(geometry.plane_len()) {
        blur_separable(
            plane,
            geometry.height,
            geometry.width,
            kernel,
            kernel,
            Border::Clamp,
            &mut scratch,
        );
    }
}

/// The Gaussian kernel for σ pixels, truncated at 4σ.
pub(crate) fn gaussian_blur_kernel(sigma: f64) -> Vec<f32> {
    gaussian_kernel(sigma, 4.0)
}
