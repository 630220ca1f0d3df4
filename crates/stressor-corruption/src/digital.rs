//! Digital corruptions: JPEG compression, pixelation and the elastic transform.

use jpeg_encoder::{ColorType, Encoder};
use rand::Rng as _;
use stressor_core::Rng;
use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

use crate::CorruptionError;
use crate::image::{Border, Geometry, blur_separable, border_index, gaussian_kernel, to_byte};

/// ImageNet-C's JPEG qualities.
pub(crate) const JPEG_QUALITY: [u8; 5] = [25, 18, 15, 10, 7];
/// ImageNet-C's pixelation factors: the image is reduced to this fraction of each side.
pub(crate) const PIXELATE: [f64; 5] = [0.6, 0.5, 0.4, 0.3, 0.25];
/// ImageNet-C (`imagecorruptions` 1.1.2) elastic displacement gains α.
pub(crate) const ELASTIC_ALPHA: [f32; 5] = [12.5, 16.25, 21.25, 25.0, 30.0];

/// Encodes the sample as 8-bit JPEG at `quality` (RGB with 4:2:0 chroma subsampling, or
/// grayscale) and decodes it back.
pub(crate) fn jpeg(
    sample: &mut [f32],
    geometry: Geometry,
    quality: u8,
) -> Result<(), CorruptionError> {
    let Geometry { channels, height, width } = geometry;
    let plane = geometry.plane_len();
    let codec_error = |message: String| CorruptionError::Codec { height, width, message };
    let (Ok(width_u16), Ok(height_u16)) = (u16::try_from(width), u16::try_from(height)) else {
        return Err(codec_error("sides must be at most 65535 pixels".to_string()));
    };
    let mut pixels = vec![0_u8; plane * channels];
    for (index, pixel) in pixels.chunks_exact_mut(channels).enumerate() {
        for (channel, byte) in pixel.iter_mut().enumerate() {
            *byte = to_byte(sample[channel * plane + index]);
        }
    }
    let (colour_type, colour_space) = if channels == 3 {
        (ColorType::Rgb, ColorSpace::RGB)
    } else {
        (ColorType::Luma, ColorSpace::Luma)
    };
    let mut encoded = Vec::with_capacity(plane * channels / 4 + 1024);
    Encoder::new(&mut encoded, quality)
        .encode(&pixels, width_u16, height_u16, colour_type)
        .map_err(|error| codec_error(error.to_string()))?;
    let options = DecoderOptions::default().jpeg_set_out_colorspace(colour_space);
    let decoded = JpegDecoder::new_with_options(encoded.as_slice(), options)
        .decode()
        .map_err(|error| codec_error(format!("{error:?}")))?;
    if decoded.len() != pixels.len() {
        return Err(codec_error(format!(
            "decoded {} bytes, expected {}",
            decoded.len(),
            pixels.len()
        )));
    }
    for (index, pixel) in decoded.chunks_exact(channels).enumerate() {
        for (channel, &byte) in pixel.iter().enumerate() {
            sample[channel * plane + index] = f32::from(byte) / 255.0;
        }
    }
    Ok(())
}

/// Box-filters each side down to `floor(side·factor)` (at least 1) pixels, averaging the input
/// pixels whose centres fall in each output cell (PIL's `BOX`), then scales back up with
/// nearest-neighbour sampling (PIL's `NEAREST`).
pub(crate) fn pixelate(sample: &mut [f32], geometry: Geometry, factor: f64) {
    let Geometry { height, width, .. } = geometry;
    let small_height = ((height as f64 * factor).floor() as usize).max(1);
    let small_width = ((width as f64 * factor).floor() as usize).max(1);
    let rows = box_cells(height, small_height);
    let columns = box_cells(width, small_width);
    let mut small = vec![0.0_f32; small_height * small_width];
    let nearest = |len: usize, small_len: usize| -> Vec<usize> {
        (0..len)
            .map(|i| {
                (((i as f64 + 0.5) * small_len as f64 / len as f64) as usize).min(small_len - 1)
            })
            .collect()
    };
    let (nearest_rows, nearest_columns) =
        (nearest(height, small_height), nearest(width, small_width));
    for plane in sample.chunks_exact_mut(geometry.plane_len()) {
        for (small_y, &(y_start, y_end)) in rows.iter().enumerate() {
            for (small_x, &(x_start, x_end)) in columns.iter().enumerate() {
                let mut total = 0.0;
                for y in y_start..y_end {
                    total += plane[y * width + x_start..y * width + x_end].iter().sum::<f32>();
                }
                small[small_y * small_width + small_x] =
                    total / ((y_end - y_start) * (x_end - x_start)) as f32;
            }
        }
        for (y, &small_y) in nearest_rows.iter().enumerate() {
            let small_row = &small[small_y * small_width..(small_y + 1) * small_width];
            let row = &mut plane[y * width..(y + 1) * width];
            for (value, &small_x) in row.iter_mut().zip(&nearest_columns) {
                *value = small_row[small_x];
            }
        }
    }
}

/// The input index range `[start, end)` each of `cells` output cells averages (never empty).
fn box_cells(len: usize, cells: usize) -> Vec<(usize, usize)> {
    let step = len as f64 / cells as f64;
    (0..cells)
        .map(|cell| {
            let start = ((cell as f64 * step - 0.5).ceil().max(0.0) as usize).min(len - 1);
            let end = (((cell + 1) as f64 * step - 0.5).ceil() as usize).clamp(start + 1, len);
            (start, end)
        })
        .collect()
}

/// Displaces every pixel by a smooth random field and resamples bilinearly (mirrored border).
///
/// Each displacement component is `α · G_σ * U(−m, m)`: uniform noise with `m = 0.005·h`,
/// smoothed by a Gaussian of σ = 1 % of the side along each axis (truncated at 3σ, mirrored
/// border), times α.
pub(crate) fn elastic(sample: &mut [f32], geometry: Geometry, rng: &mut Rng, alpha: f32) {
    let Geometry { height, width, .. } = geometry;
    let max_shift = 0.005 * height as f32;
    let row_kernel = gaussian_kernel(0.01 * width as f64, 3.0);
    let column_kernel = gaussian_kernel(0.01 * height as f64, 3.0);
    let mut scratch = Vec::new();
    let mut field = |rng: &mut Rng| {
        let mut component: Vec<f32> =
            (0..geometry.plane_len()).map(|_| rng.random_range(-max_shift..=max_shift)).collect();
        blur_separable(
            &mut component,
            height,
            width,
            &row_kernel,
            &column_kernel,
            Border::Reflect,
            &mut scratch,
        );
        component.iter_mut().for_each(|shift| *shift *= alpha);
        component
    };
    let shift_x = field(rng);
    let shift_y = field(rng);
    // The four source pixels and weights of each output pixel, shared by all channels.
    let taps: Vec<([usize; 4], [f32; 4])> = (0..geometry.plane_len())
        .map(|index| {
            let y = (index / width) as f32 + shift_y[index];
            let x = (index % width) as f32 + shift_x[index];
            let (y0, x0) = (y.floor(), x.floor());
            let (fy, fx) = (y - y0, x - x0);
            let (y0, x0) = (y0 as isize, x0 as isize);
            let row0 = border_index(y0, height, Border::Reflect) * width;
            let row1 = border_index(y0 + 1, height, Border::Reflect) * width;
            let col0 = border_index(x0, width, Border::Reflect);
            let col1 = border_index(x0 + 1, width, Border::Reflect);
            (
                [row0 + col0, row0 + col1, row1 + col0, row1 + col1],
                [(1.0 - fy) * (1.0 - fx), (1.0 - fy) * fx, fy * (1.0 - fx), fy * fx],
            )
        })
        .collect();
    let mut source = Vec::with_capacity(geometry.plane_len());
    for plane in sample.chunks_exact_mut(geometry.plane_len()) {
        source.clear();
        source.extend_from_slice(plane);
        for (value, (indices, weights)) in plane.iter_mut().zip(&taps) {
            *value = indices.iter().zip(weights).map(|(&i, &w)| source[i] * w).sum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_cells_cover_the_input() {
        assert_eq!(box_cells(4, 2), [(0, 2), (2, 4)]);
        assert_eq!(box_cells(32, 12).len(), 12);
        assert!(box_cells(3, 3).iter().all(|&(start, end)| end == start + 1));
        assert_eq!(box_cells(1, 1), [(0, 1)]);
    }
}
