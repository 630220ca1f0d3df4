//! From raw arrays to the crate's tensors: axis layouts, value scales and the checks shared by
//! the NPY and CSV readers.

use std::path::Path;

use crate::DataError;

/// Where the channel axis of 4-D image arrays sits.
///
/// 3-D arrays `[n, h, w]` are grayscale whatever the layout. The loaders always return
/// `[n, c, h, w]`.
///
/// # Examples
/// ```
/// use stressor_data::Layout;
/// // Keras and most NumPy pipelines store `[n, h, w, c]`; PyTorch stores `[n, c, h, w]`.
/// let keras = Layout::Nhwc;
/// assert_ne!(keras, Layout::Nchw);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Layout {
    /// `[n, channels, height, width]` (PyTorch).
    #[default]
    Nchw,
    /// `[n, height, width, channels]` (Keras, TensorFlow, PIL-derived arrays).
    Nhwc,
}

/// How stored values map to inputs in `[0, 1]`.
///
/// Whatever the scale, every value must be finite and in `[0, 1]` once scaled; otherwise the
/// loader fails with [`DataError::ValueRange`] naming the minimum and maximum it read.
///
/// # Examples
/// ```
/// use stressor_data::Scale;
/// assert_eq!(Scale::default(), Scale::Auto);
/// assert_eq!(Scale::Byte.as_str(), "byte");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Scale {
    /// Values are already in `[0, 1]` and are kept as they are.
    Unit,
    /// Values are bytes, `0..=255`, and are divided by 255.
    Byte,
    /// Decided by the data: `u8` arrays are bytes, float arrays must already be in `[0, 1]`.
    /// Text (CSV) is taken as unit when every value is in `[0, 1]`, else as bytes when every
    /// value is an integer in `0..=255`.
    #[default]
    Auto,
}

impl Scale {
    /// The scale's name in options and messages: `unit`, `byte` or `auto`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scale::Unit => "unit",
            Scale::Byte => "byte",
            Scale::Auto => "auto",
        }
    }
}

/// How the raw values were stored, which decides what [`Scale::Auto`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stored {
    /// Unsigned bytes.
    Bytes,
    /// Floating point.
    Floats,
    /// Numbers parsed from text.
    Text,
}

/// Scales `values` in place into `[0, 1]`, checking every value.
///
/// `sample_len` turns a value's position into a sample index for messages.
pub(crate) fn apply_scale(
    values: &mut [f32],
    stored: Stored,
    scale: Scale,
    sample_len: usize,
    file: &str,
) -> Result<(), DataError> {
    if let Some(position) = values.iter().position(|value| !value.is_finite()) {
        return Err(DataError::NonFinite {
            file: file.to_string(),
            index: position.checked_div(sample_len).unwrap_or(0),
            value: values[position].to_string(),
        });
    }
    let (min, max) = values
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    if values.is_empty() {
        return Ok(());
    }
    let is_bytes = || min >= 0.0 && max <= 255.0 && values.iter().all(|v| v.fract() == 0.0);
    let divisor = match (scale, stored) {
        (Scale::Unit, _) => 1.0,
        (Scale::Byte, _) | (Scale::Auto, Stored::Bytes) => 255.0,
        (Scale::Auto, Stored::Floats) => 1.0,
        (Scale::Auto, Stored::Text) => {
            if min >= 0.0 && max <= 1.0 {
                1.0
            } else if is_bytes() {
                255.0
            } else {
                0.0
            }
        }
    };
    let in_range = divisor > 0.0 && min >= 0.0 && max <= divisor;
    if !in_range {
        let hint = if scale != Scale::Byte && is_bytes() {
            "use scale \"byte\" for 0-255 data"
        } else {
            "normalise the values to [0, 1] (or 0-255 with scale \"byte\") before loading"
        };
        return Err(DataError::ValueRange {
            file: file.to_string(),
            scale: scale.as_str(),
            min: f64::from(min),
            max: f64::from(max),
            hint,
        });
    }
    if divisor != 1.0 {
        values.iter_mut().for_each(|value| *value /= divisor);
    }
    Ok(())
}

/// `[n, h, w, c]` values reordered to `[n, c, h, w]`.
pub(crate) fn nhwc_to_nchw(values: &[f32], n: usize, h: usize, w: usize, c: usize) -> Vec<f32> {
    // With no values some dimension is zero and the others may be huge: nothing to move, and
    // `h * w` below could overflow. With values, every product fits.
    if values.is_empty() {
        return Vec::new();
    }
    let mut out = vec![0.0; values.len()];
    let plane = h * w;
    let sample = plane * c;
    for sample_idx in 0..n {
        let src = &values[sample_idx * sample..(sample_idx + 1) * sample];
        let dst = &mut out[sample_idx * sample..(sample_idx + 1) * sample];
        for (pixel, channels) in src.chunks_exact(c.max(1)).enumerate() {
            for (channel, &value) in channels.iter().enumerate() {
                dst[channel * plane + pixel] = value;
            }
        }
    }
    out
}

/// The product of `shape` computed left to right as `Batch::new` does, or `None` when an
/// intermediate product overflows (which would make `Batch::new` overflow).
pub(crate) fn checked_len(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &dim| acc.checked_mul(dim))
}

/// Class names `"0"`, `"1"`, … up to the largest label.
pub(crate) fn numbered_class_names(labels: &[u32]) -> Vec<String> {
    let n_classes = labels.iter().max().map_or(0, |&max| max + 1);
    (0..n_classes).map(|class| class.to_string()).collect()
}

/// A data set's default name: the last component of the path.
pub(crate) fn short_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(|| path.display().to_string(), |name| name.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nhwc_to_nchw_moves_the_channel_axis() {
        // One 1×2 image with 3 channels: pixel 0 = (1, 2, 3), pixel 1 = (4, 5, 6).
        let nhwc = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(nhwc_to_nchw(&nhwc, 1, 1, 2, 3), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }

    #[test]
    fn nhwc_to_nchw_with_no_channels_and_huge_planes() {
        assert!(nhwc_to_nchw(&[], 1, usize::MAX, usize::MAX, 0).is_empty());
    }

    #[test]
    fn scales() {
        let mut bytes = vec![0.0, 51.0, 255.0];
        apply_scale(&mut bytes, Stored::Text, Scale::Auto, 1, "f").expect("bytes");
        assert_eq!(bytes, vec![0.0, 0.2, 1.0]);
        let mut unit = vec![0.0, 0.5, 1.0];
        apply_scale(&mut unit, Stored::Text, Scale::Auto, 1, "f").expect("unit");
        assert_eq!(unit, vec![0.0, 0.5, 1.0]);
        let mut wide = vec![-1.0, 0.5, 1.0];
        let err = apply_scale(&mut wide, Stored::Floats, Scale::Auto, 1, "f").expect_err("-1");
        assert_eq!(
            err.to_string(),
            "values in f range from -1 to 1, outside [0, 1] with scale auto: normalise the \
             values to [0, 1] (or 0-255 with scale \"byte\") before loading"
        );
        let mut bytes_as_unit = vec![0.0, 200.0];
        let err =
            apply_scale(&mut bytes_as_unit, Stored::Floats, Scale::Unit, 1, "f").expect_err("200");
        assert!(err.to_string().ends_with("use scale \"byte\" for 0-255 data"), "{err}");
        let mut nan = vec![0.0, 0.0, f32::NAN];
        let err = apply_scale(&mut nan, Stored::Floats, Scale::Auto, 2, "f").expect_err("NaN");
        assert_eq!(err.to_string(), "non-finite value NaN at sample 1 in f");
    }

    #[test]
    fn checked_len_catches_overflow_before_a_zero() {
        assert_eq!(checked_len(&[usize::MAX, 2, 0]), None);
        assert_eq!(checked_len(&[0, usize::MAX, 2]), Some(0));
        assert_eq!(checked_len(&[2, 3]), Some(6));
    }
}
