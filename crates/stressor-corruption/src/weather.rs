//! Weather corruptions: fog (a plasma fractal) and frost (a vendored ice overlay).

use std::sync::OnceLock;

use rand::Rng as _;
use stressor_core::Rng;

use crate::image::{Border, Geometry, LUMA_709, bilinear};

/// ImageNet-C's fog gain and fractal roughness decay.
pub(crate) const FOG: [(f32, f64); 5] =
    [(1.5, 2.0), (2.0, 2.0), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4)];
/// ImageNet-C's frost weights: `c₀·x + c₁·frost`.
pub(crate) const FROST: [(f32, f32); 5] =
    [(1.0, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75)];

/// `(x + c·plasma) · max(x) / (max(x) + c)`, with `plasma` a diamond-square fractal in
/// `[0, 1]` over the next power of two at or above the longer side, cropped to the image.
pub(crate) fn fog(sample: &mut [f32], geometry: Geometry, rng: &mut Rng, gain: f32, decay: f64) {
    let Geometry { height, width, .. } = geometry;
    let map_size = height.max(width).next_power_of_two();
    let plasma = plasma_fractal(map_size, decay, rng);
    let max_value = sample.iter().copied().fold(0.0_f32, f32::max);
    let scale = max_value / (max_value + gain);
    for plane in sample.chunks_exact_mut(geometry.plane_len()) {
        for (y, row) in plane.chunks_exact_mut(width).enumerate() {
            let fractal = &plasma[y * map_size..y * map_size + width];
            for (value, &haze) in row.iter_mut().zip(fractal) {
                *value = (*value + gain * haze) * scale;
            }
        }
    }
}

/// A `size × size` (power of two) diamond-square height map, wrapped at the edges and
/// normalised into `[0, 1]`: the random offset starts at ±100² and its scale divides by
/// `decay` at each halving of the step, as in ImageNet-C.
pub(crate) fn plasma_fractal(size: usize, decay: f64, rng: &mut Rng) -> Vec<f32> {
    let mut map = vec![0.0_f64; size * size];
    let mut step = size;
    let mut wibble = 100.0_f64;
    let at = |y: usize, x: usize| (y % size) * size + (x % size);
    while step >= 2 {
        let half = step / 2;
        let cells = size / step;
        let noise = |rng: &mut Rng| wibble * rng.random_range(-wibble..wibble);
        // Squares: each cell centre is the mean of its four corners plus noise.
        for i in 0..cells {
            for j in 0..cells {
                let (y, x) = (i * step, j * step);
                let corners = map[at(y, x)]
                    + map[at(y + step, x)]
                    + map[at(y, x + step)]
                    + map[at(y + step, x + step)];
                map[at(y + half, x + half)] = corners / 4.0 + noise(rng);
            }
        }
        // Diamonds: each edge midpoint is the mean of its two corners and two centres.
        for i in 0..cells {
            for j in 0..cells {
                let (y, x) = (i * step, j * step);
                let centre = map[at(y + half, x + half)];
                let centre_above = map[at(y + size - half, x + half)];
                let top = centre + centre_above + map[at(y, x)] + map[at(y, x + step)];
                map[at(y, x + half)] = top / 4.0 + noise(rng);
                let centre_left = map[at(y + half, x + size - half)];
                let left = centre + centre_left + map[at(y, x)] + map[at(y + step, x)];
                map[at(y + half, x)] = left / 4.0 + noise(rng);
            }
        }
        step = half;
        wibble /= decay;
    }
    let min = map.iter().copied().fold(f64::INFINITY, f64::min);
    let max = map.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let range = if max > min { max - min } else { 1.0 };
    map.iter().map(|value| ((value - min) / range) as f32).collect()
}

/// Side of the vendored frost tiles, in pixels.
const TILE_SIDE: usize = 128;
/// One tile pixel is this many pixels of the original overlay.
const TILE_DOWNSCALE: f64 = 2.0;
/// ImageNet-C enlarges the overlay by 1.1 before cropping.
const OVERLAY_ZOOM: f64 = 1.1;

/// `c₀·x + c₁·frost`, with `frost` a random crop of one of the vendored overlays resized to
/// the image (for one channel, the overlay's Rec. 709 luma).
///
/// # Panics
/// If an embedded overlay is not a valid RGB PNG; a test decodes both.
pub(crate) fn frost(
    sample: &mut [f32],
    geometry: Geometry,
    rng: &mut Rng,
    image_weight: f32,
    frost_weight: f32,
) {
    let Geometry { channels, height, width } = geometry;
    let tiles = frost_tiles();
    let tile = &tiles[rng.random_range(0..tiles.len())];
    // The crop covers what ImageNet-C's crop would cover on the reference-sized image.
    let reference_px_per_pixel = 1.0 / geometry.scale();
    let tile_px_per_pixel = reference_px_per_pixel / (TILE_DOWNSCALE * OVERLAY_ZOOM);
    let max_crop = (TILE_SIDE - 1) as f64;
    let crop_height = (height as f64 * tile_px_per_pixel).min(max_crop);
    let crop_width = (width as f64 * tile_px_per_pixel).min(max_crop);
    let top = rng.random_range(0.0..=(TILE_SIDE as f64 - crop_height - 1.0).max(0.0));
    let left = rng.random_range(0.0..=(TILE_SIDE as f64 - crop_width - 1.0).max(0.0));
    let plane_len = geometry.plane_len();
    for y in 0..height {
        let tile_y = (top + (y as f64 + 0.5) * crop_height / height as f64 - 0.5) as f32;
        for x in 0..width {
            let tile_x = (left + (x as f64 + 0.5) * crop_width / width as f64 - 0.5) as f32;
            let rgb: [f32; 3] = std::array::from_fn(|channel| {
                bilinear(&tile[channel], TILE_SIDE, TILE_SIDE, tile_y, tile_x, Border::Clamp)
            });
            let index = y * width + x;
            if channels == 3 {
                for (channel, overlay) in rgb.iter().enumerate() {
                    let value = &mut sample[channel * plane_len + index];
                    *value = image_weight * *value + frost_weight * overlay;
                }
            } else {
                let overlay = LUMA_709[0] * rgb[0] + LUMA_709[1] * rgb[1] + LUMA_709[2] * rgb[2];
                sample[index] = image_weight * sample[index] + frost_weight * overlay;
            }
        }
    }
}

/// The vendored overlays as planar RGB in `[0, 1]`, decoded once.
fn frost_tiles() -> &'static [[Vec<f32>; 3]] {
    static TILES: OnceLock<Vec<[Vec<f32>; 3]>> = OnceLock::new();
    TILES.get_or_init(|| {
        [&include_bytes!("../assets/frost-1.png")[..], &include_bytes!("../assets/frost-5.png")[..]]
            .iter()
            .map(|bytes| decode_tile(bytes).expect("the embedded frost overlays are 128x128 PNGs"))
            .collect()
    })
}

/// Decodes a `TILE_SIDE`² 8-bit RGB or RGBA PNG into planar RGB.
fn decode_tile(bytes: &[u8]) -> Result<[Vec<f32>; 3], String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().map_err(|error| error.to_string())?;
    let size = reader.output_buffer_size().ok_or("overlay too large")?;
    let mut buffer = vec![0_u8; size];
    let info = reader.next_frame(&mut buffer).map_err(|error| error.to_string())?;
    let samples = info.color_type.samples();
    if info.width as usize != TILE_SIDE
        || info.height as usize != TILE_SIDE
        || samples < 3
        || info.bit_depth != png::BitDepth::Eight
    {
        return Err(format!("unexpected overlay format {info:?}"));
    }
    let pixels = &buffer[..info.buffer_size()];
    Ok(std::array::from_fn(|channel| {
        pixels.chunks_exact(samples).map(|pixel| f32::from(pixel[channel]) / 255.0).collect()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use stressor_core::Seed;

    #[test]
    fn overlays_decode() {
        let tiles = frost_tiles();
        assert_eq!(tiles.len(), 2);
        for tile in tiles {
            let mean: f32 = tile[2].iter().sum::<f32>() / tile[2].len() as f32;
            // Frost is bright and bluish.
            assert!(mean > 0.3, "{mean}");
        }
    }

    #[test]
    fn plasma_spans_the_unit_interval() {
        let map = plasma_fractal(32, 2.0, &mut Seed::new(1).rng());
        let min = map.iter().copied().fold(1.0, f32::min);
        let max = map.iter().copied().fold(0.0, f32::max);
        assert_eq!((min, max), (0.0, 1.0));
    }
}
