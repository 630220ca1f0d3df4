//! Exemplar images: `[c, h, w]` tensors in [0, 1] rendered as PNG.

/// An 8-bit image, grayscale (one channel) or RGB (three), rows top to bottom.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Picture {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) channels: u8,
    pub(crate) pixels: Vec<u8>,
}

/// The picture of a `[c, h, w]` (or `[h, w]`) tensor with values in [0, 1]; values outside are
/// clamped and NaN is black. Three channels are RGB; any other channel count shows the first
/// channel in grayscale. `None` when the shape does not describe an image or the data does
/// not fit it.
pub(crate) fn from_tensor(shape: &[usize], data: &[f32]) -> Option<Picture> {
    let (channels, height, width) = match *shape {
        [height, width] => (1, height, width),
        [channels, height, width] => (channels, height, width),
        _ => return None,
    };
    if channels == 0 || height == 0 || width == 0 || channels * height * width != data.len() {
        return None;
    }
    let plane = height * width;
    let shown = if channels == 3 { 3 } else { 1 };
    let mut pixels = Vec::with_capacity(plane * shown);
    for pixel in 0..plane {
        for channel in 0..shown {
            pixels.push(to_byte(data[channel * plane + pixel]));
        }
    }
    Some(Picture {
        width: u32::try_from(width).ok()?,
        height: u32::try_from(height).ok()?,
        channels: shown as u8,
        pixels,
    })
}

/// The amplified difference `|stressed − clean|`, scaled so the largest difference is white.
pub(crate) fn difference(shape: &[usize], clean: &[f32], stressed: &[f32]) -> Option<Picture> {
    if clean.len() != stressed.len() {
        return None;
    }
    let diff: Vec<f32> = clean.iter().zip(stressed).map(|(a, b)| (b - a).abs()).collect();
    let largest = diff.iter().copied().filter(|d| d.is_finite()).fold(0.0_f32, f32::max);
    let scale = if largest > 0.0 { 1.0 / largest } else { 0.0 };
    let scaled: Vec<f32> = diff.iter().map(|d| d * scale).collect();
    from_tensor(shape, &scaled)
}

/// The picture enlarged `factor` times with nearest-neighbour sampling.
pub(crate) fn upscale(picture: &Picture, factor: u32) -> Picture {
    let factor = factor.max(1);
    let channels = usize::from(picture.channels);
    let (width, height) = (picture.width as usize, picture.height as usize);
    let big_width = width * factor as usize;
    let mut pixels = Vec::with_capacity(picture.pixels.len() * (factor * factor) as usize);
    for row in 0..height * factor as usize {
        let source_row = row / factor as usize;
        for column in 0..big_width {
            let start = (source_row * width + column / factor as usize) * channels;
            pixels.extend_from_slice(&picture.pixels[start..start + channels]);
        }
    }
    Picture {
        width: picture.width * factor,
        height: picture.height * factor,
        channels: picture.channels,
        pixels,
    }
}

/// The picture as PNG bytes.
pub(crate) fn to_png(picture: &Picture) -> Result<Vec<u8>, png::EncodingError> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, picture.width, picture.height);
    encoder.set_color(if picture.channels == 3 {
        png::ColorType::Rgb
    } else {
        png::ColorType::Grayscale
    });
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&picture.pixels)?;
    writer.finish()?;
    Ok(bytes)
}

fn to_byte(value: f32) -> u8 {
    if value.is_nan() { 0 } else { (value.clamp(0.0, 1.0) * 255.0).round() as u8 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rgb_is_interleaved_and_upscaled() {
        // A 1×2 RGB image: red, then blue.
        let data = [1.0, 0.0, 0.0, 0.0, 0.0, 1.0];
        let picture = from_tensor(&[3, 1, 2], &data).expect("an image");
        assert_eq!(picture.pixels, vec![255, 0, 0, 0, 0, 255]);
        let big = upscale(&picture, 3);
        assert_eq!((big.width, big.height), (6, 3));
        assert_eq!(&big.pixels[..9], &[255, 0, 0, 255, 0, 0, 255, 0, 0]);
        assert_eq!(&big.pixels[9..12], &[0, 0, 255]);
    }

    #[test]
    fn difference_is_amplified_to_full_range() {
        let picture = difference(&[1, 1, 3], &[0.5, 0.5, 0.5], &[0.5, 0.52, 0.49]).expect("image");
        assert_eq!(picture.pixels, vec![0, 255, 128]);
    }

    #[test]
    fn shapes_that_are_not_images_are_refused() {
        assert!(from_tensor(&[784], &[0.0; 784]).is_none());
        assert!(from_tensor(&[1, 2, 2], &[0.0; 3]).is_none());
    }
}
