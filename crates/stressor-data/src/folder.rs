//! Folders of PNG and JPEG images, one subfolder per class.
//!
//! The layout is torchvision's `ImageFolder`: `root/<class name>/<image>.png|.jpg|.jpeg`. Classes
//! are the subfolders sorted by name (label 0 is the first); files within a class are sorted by
//! name. Files directly in `root` and hidden entries (names starting with `.`) are ignored; any
//! other file in a class folder must have a PNG or JPEG extension (any case).
//!
//! Samples are ordered round-robin across classes (the first image of every class, then the
//! second, …), so that a `limit` gives a class-balanced subset rather than the first classes.
//!
//! Pixels are converted to 8-bit RGB, or to 8-bit grayscale with Pillow's `convert("L")`
//! weights (ITU-R 601-2 luma: `(19595 R + 38470 G + 7471 B + 2^15) >> 16`), so values match
//! what a Python pipeline built on Pillow sees. Alpha is dropped, palettes are expanded and
//! 16-bit PNGs are reduced to 8 bits. PNGs are decoded by the `png` crate and JPEGs by
//! `zune-jpeg`, chosen by the file's signature rather than its extension.

use std::path::{Path, PathBuf};

use stressor_core::{Batch, Dataset};

use crate::DataError;
use crate::idx;
use crate::tensor::short_name;

/// A data set from a folder of class folders of PNG or JPEG images: shape `[n, channels, h, w]`,
/// values `byte / 255`, bounds `[0, 1]`, classes named after the folders, the data set named
/// after `root`.
///
/// `channels` is 1 (grayscale) or 3 (RGB). With `size = Some((height, width))` every image is
/// resized to it (bilinear with Pillow's taps, widened when shrinking, computed in `f32`;
/// images already of that size are untouched); without it every image must share the first
/// image's size. With
/// `limit`, only the first `limit` samples (in the round-robin order) are decoded.
///
/// # Errors
/// [`DataError::Read`] when a folder or file cannot be read, [`DataError::EmptyFolder`] when
/// there is no class folder or a class folder has no image, [`DataError::NotAnImage`] for a file
/// without a PNG or JPEG extension, [`DataError::Decode`] when an image does not decode,
/// [`DataError::ImageSize`] naming the first image whose size differs, [`DataError::BadOption`]
/// for `channels` other than 1 or 3 or a zero size.
///
/// # Examples
/// ```no_run
/// use std::path::Path;
/// let parts = stressor_data::folder::load_image_folder(
///     Path::new("inspection/"), // inspection/ok/*.png, inspection/scratch/*.jpg
///     3,
///     Some((64, 64)),
///     None,
/// )?;
/// assert_eq!(parts.class_names, ["ok", "scratch"]);
/// assert_eq!(parts.inputs.sample_shape(), &[3, 64, 64]);
/// # Ok::<(), stressor_data::DataError>(())
/// ```
pub fn load_image_folder(
    root: &Path,
    channels: u8,
    size: Option<(u32, u32)>,
    limit: Option<usize>,
) -> Result<Dataset, DataError> {
    let root_name = root.display().to_string();
    let option_err = |problem: String| DataError::BadOption { file: root_name.clone(), problem };
    if !matches!(channels, 1 | 3) {
        return Err(option_err(format!("channels must be 1 or 3, not {channels}")));
    }
    if let Some((height, width)) = size
        && (height == 0 || width == 0)
    {
        return Err(option_err(format!("the size {height}x{width} has a zero side")));
    }
    let classes = list(root, true)?;
    if classes.is_empty() {
        return Err(DataError::EmptyFolder { folder: root_name, what: "class folders" });
    }
    let mut class_names = Vec::with_capacity(classes.len());
    let mut files_by_class = Vec::with_capacity(classes.len());
    for (name, folder) in classes {
        let files = list(&folder, false)?;
        if files.is_empty() {
            return Err(DataError::EmptyFolder {
                folder: folder.display().to_string(),
                what: "PNG or JPEG images",
            });
        }
        for (file_name, path) in &files {
            let extension = Path::new(file_name)
                .extension()
                .map(|ext| ext.to_string_lossy().to_ascii_lowercase());
            if !matches!(extension.as_deref(), Some("png" | "jpg" | "jpeg")) || path.is_dir() {
                return Err(DataError::NotAnImage { file: path.display().to_string() });
            }
        }
        class_names.push(name);
        files_by_class.push(files);
    }

    let n_total: usize = files_by_class.iter().map(Vec::len).sum();
    let n = limit.map_or(n_total, |limit| limit.min(n_total));
    let longest = files_by_class.iter().map(Vec::len).max().unwrap_or(0);
    let order = (0..longest).flat_map(|rank| {
        files_by_class
            .iter()
            .enumerate()
            .filter_map(move |(label, files)| files.get(rank).map(|(_, path)| (label, path)))
    });

    let mut values = Vec::new();
    let mut labels = Vec::with_capacity(n);
    // The first image's path and (height, width), which the others must match.
    let mut first: Option<(&PathBuf, (u32, u32))> = None;
    for (label, path) in order.take(n) {
        let file = path.display().to_string();
        let bytes =
            std::fs::read(path).map_err(|source| DataError::Read { file: file.clone(), source })?;
        let image = decode_image(&bytes, &file)?;
        let found = (image.height, image.width);
        let target = match (size, first) {
            (Some(size), _) => size,
            (None, Some((first_path, expected))) if expected != found => {
                return Err(DataError::ImageSize {
                    file,
                    found_height: found.0,
                    found_width: found.1,
                    first: first_path.display().to_string(),
                    expected_height: expected.0,
                    expected_width: expected.1,
                });
            }
            _ => found,
        };
        if first.is_none() {
            first = Some((path, found));
        }
        push_planes(&image, channels, target, &mut values);
        labels.push(label as u32);
    }
    let (height, width) = size.or(first.map(|(_, size)| size)).unwrap_or((0, 0));
    let shape = vec![labels.len(), usize::from(channels), height as usize, width as usize];
    let inputs = Batch::new(values, shape).expect("push_planes appends channels * h * w values");
    idx::to_dataset(&short_name(root), inputs, labels, class_names, &root_name)
}

/// A decoder's error.
type BoxedError = Box<dyn std::error::Error + Send + Sync>;

/// Decoded 8-bit pixels, interleaved: one channel (gray) or three (RGB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pixels {
    pub(crate) width: u32,
    pub(crate) height: u32,
    /// Three channels (RGB) rather than one (gray).
    pub(crate) color: bool,
    pub(crate) data: Vec<u8>,
}

/// An image decoded from PNG or JPEG bytes (the format is read from the signature), alpha
/// dropped, palettes expanded, 16-bit samples reduced to 8 bits.
pub(crate) fn decode_image(bytes: &[u8], file: &str) -> Result<Pixels, DataError> {
    let decode_err =
        |source: BoxedError| DataError::Decode { file: file.to_string(), format: "image", source };
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        decode_png(bytes).map_err(decode_err)
    } else if bytes.starts_with(&[0xff, 0xd8]) {
        decode_jpeg(bytes).map_err(decode_err)
    } else {
        Err(decode_err("no PNG or JPEG signature".into()))
    }
}

fn decode_png(bytes: &[u8]) -> Result<Pixels, BoxedError> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info()?;
    let len = reader.output_buffer_size().ok_or("the image is too large to decode")?;
    let mut buffer = vec![0; len];
    let info = reader.next_frame(&mut buffer)?;
    buffer.truncate(info.buffer_size());
    let (color, data) = match info.color_type {
        png::ColorType::Grayscale => (false, buffer),
        png::ColorType::GrayscaleAlpha => (false, buffer.chunks_exact(2).map(|ga| ga[0]).collect()),
        png::ColorType::Rgb => (true, buffer),
        png::ColorType::Rgba => {
            (true, buffer.chunks_exact(4).flat_map(|rgba| [rgba[0], rgba[1], rgba[2]]).collect())
        }
        // `normalize_to_color8` expands palettes to RGB(A).
        png::ColorType::Indexed => return Err("a palette image was not expanded".into()),
    };
    Ok(Pixels { width: info.width, height: info.height, color, data })
}

fn decode_jpeg(bytes: &[u8]) -> Result<Pixels, BoxedError> {
    // RGB out whatever the JPEG holds: a grayscale JPEG gives r = g = b, which the gray
    // conversion maps back to the same value exactly.
    let options = zune_jpeg::zune_core::options::DecoderOptions::default()
        .jpeg_set_out_colorspace(zune_jpeg::zune_core::colorspace::ColorSpace::RGB);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(bytes, options);
    let data = decoder.decode()?;
    let info = decoder.info().ok_or("the JPEG has no frame header")?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    if data.len() != width as usize * height as usize * 3 {
        return Err("the decoder returned an unexpected number of pixels".into());
    }
    Ok(Pixels { width, height, color: true, data })
}

/// Appends the image's planes (`[channels, h, w]`, values in `[0, 1]`), resized to
/// `(height, width)` when it differs.
pub(crate) fn push_planes(
    image: &Pixels,
    channels: u8,
    (height, width): (u32, u32),
    values: &mut Vec<f32>,
) {
    let plane_len = image.width as usize * image.height as usize;
    let mut planes: Vec<Vec<f32>> = if channels == 1 {
        let gray = if image.color {
            image
                .data
                .chunks_exact(3)
                .map(|rgb| {
                    let (r, g, b) = (u32::from(rgb[0]), u32::from(rgb[1]), u32::from(rgb[2]));
                    let luma = (r * 19_595 + g * 38_470 + b * 7_471 + 0x8000) >> 16;
                    luma as f32 / 255.0
                })
                .collect()
        } else {
            image.data.iter().map(|&v| f32::from(v) / 255.0).collect()
        };
        vec![gray]
    } else {
        let stride = if image.color { 3 } else { 1 };
        (0..3)
            .map(|channel| {
                let channel = if image.color { channel } else { 0 };
                (0..plane_len)
                    .map(|i| f32::from(image.data[i * stride + channel]) / 255.0)
                    .collect()
            })
            .collect()
    };
    if (image.height, image.width) != (height, width) {
        planes = planes
            .iter()
            .map(|plane| {
                resize(
                    plane,
                    (image.height as usize, image.width as usize),
                    (height as usize, width as usize),
                )
            })
            .collect();
    }
    for plane in planes {
        values.extend(plane.into_iter().map(|v| v.clamp(0.0, 1.0)));
    }
}

/// Resizes a row-major plane with a triangle (bilinear) filter whose support widens when
/// shrinking, as Pillow's `Image.resize(…, BILINEAR)` does, separably: rows, then columns.
fn resize(plane: &[f32], (in_h, in_w): (usize, usize), (out_h, out_w): (usize, usize)) -> Vec<f32> {
    if in_h == 0 || in_w == 0 || plane.len() != in_h * in_w {
        return vec![0.0; out_h * out_w];
    }
    let columns = weights(in_w, out_w);
    let mut wide = vec![0.0; in_h * out_w];
    for y in 0..in_h {
        let row = &plane[y * in_w..(y + 1) * in_w];
        for (x, (start, taps)) in columns.iter().enumerate() {
            wide[y * out_w + x] = taps.iter().zip(&row[*start..]).map(|(w, v)| w * v).sum();
        }
    }
    let rows = weights(in_h, out_h);
    let mut out = vec![0.0; out_h * out_w];
    for (y, (start, taps)) in rows.iter().enumerate() {
        for x in 0..out_w {
            out[y * out_w + x] =
                taps.iter().enumerate().map(|(k, w)| w * wide[(start + k) * out_w + x]).sum();
        }
    }
    out
}

/// For each output index, the first input index and the normalised filter taps.
fn weights(in_len: usize, out_len: usize) -> Vec<(usize, Vec<f32>)> {
    let scale = in_len as f64 / out_len as f64;
    let filter_scale = scale.max(1.0);
    let support = filter_scale; // the triangle's radius is 1
    (0..out_len)
        .map(|out| {
            let center = (out as f64 + 0.5) * scale;
            let first = ((center - support + 0.5).floor().max(0.0) as usize).min(in_len - 1);
            let end = ((center + support + 0.5).floor() as usize).clamp(first + 1, in_len);
            let taps: Vec<f64> = (first..end)
                .map(|i| (1.0 - ((i as f64 - center + 0.5) / filter_scale).abs()).max(0.0))
                .collect();
            let sum: f64 = taps.iter().sum();
            let taps = if sum > 0.0 {
                taps.iter().map(|w| (w / sum) as f32).collect()
            } else {
                // Cannot happen for in_len >= 1 (the nearest tap has weight > 0); kept total.
                let mut taps = vec![0.0; taps.len()];
                taps[0] = 1.0;
                taps
            };
            (first, taps)
        })
        .collect()
}

/// The non-hidden entries of a folder, sorted by name: folders when `dirs`, else everything
/// else (files, and folders to be reported).
fn list(folder: &Path, dirs: bool) -> Result<Vec<(String, PathBuf)>, DataError> {
    let read_err = |source| DataError::Read { file: folder.display().to_string(), source };
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(folder).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        if dirs && !path.is_dir() {
            continue;
        }
        entries.push((name, path));
    }
    entries.sort();
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn pillow_luma_weights() {
        let image = Pixels { width: 2, height: 1, color: true, data: vec![255, 0, 0, 10, 200, 30] };
        let mut values = Vec::new();
        push_planes(&image, 1, (1, 2), &mut values);
        // Pillow: Image.new("RGB", (1, 1), (255, 0, 0)).convert("L").getpixel((0, 0)) == 76.
        assert_eq!(values, vec![76.0 / 255.0, 124.0 / 255.0]);
    }

    #[test]
    fn resize_keeps_a_flat_image_flat() {
        let data = [51u8, 102, 255].repeat(7 * 5);
        let image = Pixels { width: 7, height: 5, color: true, data };
        let mut values = Vec::new();
        push_planes(&image, 3, (3, 4), &mut values);
        assert_eq!(values.len(), 3 * 3 * 4);
        for (channel, expected) in [0.2f32, 0.4, 1.0].iter().enumerate() {
            let plane = &values[channel * 12..(channel + 1) * 12];
            assert!(plane.iter().all(|v| (v - expected).abs() < 1e-6), "{plane:?}");
        }
        // Upsampling a gray 1x1 image, and a 2x1 ramp to 4 columns (Pillow: 0, 64, 191, 255).
        let mut values = Vec::new();
        push_planes(
            &Pixels { width: 1, height: 1, color: false, data: vec![9] },
            3,
            (2, 3),
            &mut values,
        );
        assert!(values.iter().all(|&v| (v - 9.0 / 255.0).abs() < 1e-6));
        let ramp = resize(&[0.0, 1.0], (1, 2), (1, 4));
        assert_eq!(ramp, vec![0.0, 0.25, 0.75, 1.0]);
    }

    proptest! {
        #[test]
        fn no_byte_input_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256), png in any::<bool>()) {
            // Start from a real signature so the decoders get past their magic.
            let mut input = if png { b"\x89PNG\r\n\x1a\n".to_vec() } else { vec![0xff, 0xd8, 0xff] };
            input.extend(bytes);
            if let Ok(image) = decode_image(&input, "fuzz") {
                let mut values = Vec::new();
                push_planes(&image, 3, (2, 2), &mut values);
                prop_assert_eq!(values.len(), 12);
            }
        }

        #[test]
        fn resize_stays_in_range(
            (in_h, in_w, data) in (1usize..6, 1usize..6).prop_flat_map(|(h, w)| {
                (Just(h), Just(w), proptest::collection::vec(0.0f32..=1.0, h * w))
            }),
            out_h in 1usize..9,
            out_w in 1usize..9,
        ) {
            let out = resize(&data, (in_h, in_w), (out_h, out_w));
            prop_assert_eq!(out.len(), out_h * out_w);
            prop_assert!(out.iter().all(|v| (-1e-5..=1.0 + 1e-5).contains(v)));
        }
    }
}
