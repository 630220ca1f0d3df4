//! Why a corruption or lighting shift could not be applied.

/// Why a corruption or lighting shift could not be applied.
///
/// A corruption that barely changes an image is a result, not an error: these variants mean the
/// request itself was malformed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CorruptionError {
    /// The severity is not in `1..=5`.
    #[error("severity {severity} of {corruption} is not in 1..=5")]
    Severity {
        /// The corruption's name.
        corruption: &'static str,
        /// The severity given.
        severity: u8,
    },
    /// A lighting dial value is NaN, infinite or outside the shift's valid range.
    #[error("{dial} {value} of {lighting} is not in {min}..={max}")]
    Value {
        /// The lighting shift's name.
        lighting: &'static str,
        /// The dial's name (`kelvin`, `ev`, `strength`).
        dial: &'static str,
        /// The value given.
        value: f64,
        /// The smallest valid value.
        min: f64,
        /// The largest valid value.
        max: f64,
    },
    /// The batch is not `[n, c, h, w]` with `c` 1 or 3 and non-zero `h` and `w`.
    #[error(
        "unsupported batch shape {shape:?}: expected [n, c, h, w] with c = 1 or 3 and h, w > 0"
    )]
    Shape {
        /// The shape given.
        shape: Vec<usize>,
    },
    /// An input value is NaN or infinite.
    #[error("input value {value} at sample {sample} is not finite")]
    NonFinite {
        /// The sample's position in the batch.
        sample: usize,
        /// The offending value.
        value: f32,
    },
    /// The JPEG codec rejected the image (for example a side longer than 65 535 pixels).
    #[error("jpeg codec failed on a {height}x{width} image: {message}")]
    Codec {
        /// Image height.
        height: usize,
        /// Image width.
        width: usize,
        /// The codec's message.
        message: String,
    },
}
