//! Occlusion: a mid-gray square pasted at a random position.

use rand::Rng as _;
use stressor_core::Rng;

use crate::image::Geometry;

/// Side of the occluding square as a fraction of each image side (area 4 %, 9 %, 16 %, 25 %,
/// 36 %).
pub(crate) const SIDE_FRACTION: [f64; 5] = [0.2, 0.3, 0.4, 0.5, 0.6];
/// The fill value: mid-gray stands out on dark and light backgrounds alike.
pub(crate) const FILL: f32 = 0.5;

/// Fills a `fraction·h × fraction·w` rectangle, placed uniformly where it fits, with [`FILL`].
pub(crate) fn occlude(sample: &mut [f32], geometry: Geometry, rng: &mut Rng, fraction: f64) {
    let Geometry { channels, height, width } = geometry;
    let box_height = ((height as f64 * fraction).round() as usize).clamp(1, height);
    let box_width = ((width as f64 * fraction).round() as usize).clamp(1, width);
    let top = rng.random_range(0..=height - box_height);
    let left = rng.random_range(0..=width - box_width);
    for channel in 0..channels {
        let plane = &mut sample[channel * height * width..(channel + 1) * height * width];
        for row in plane.chunks_exact_mut(width).skip(top).take(box_height) {
            row[left..left + box_width].fill(FILL);
        }
    }
}
