//! The crate's error type.

use stressor_core::BatchError;

/// Why data could not be loaded.
///
/// Every variant names the file (or embedded source) it is about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A file could not be read (missing, unreadable).
    #[error("failed to read data file {file}")]
    Read {
        /// The path.
        file: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The data starts with the gzip magic but does not decompress.
    #[error("corrupt gzip data in {file}")]
    Gzip {
        /// The file or embedded source.
        file: String,
        /// The decompressor's error.
        source: std::io::Error,
    },
    /// The first four bytes are not the magic number of the expected kind of IDX file.
    #[error(
        "{file} is not an IDX {kind} file: magic number {found:#010x}, expected {expected:#010x}"
    )]
    BadMagic {
        /// The file or embedded source.
        file: String,
        /// What was expected: `images` or `labels`.
        kind: &'static str,
        /// The magic number found.
        found: u32,
        /// The magic number expected.
        expected: u32,
    },
    /// The IDX element type is not unsigned bytes (`0x08`), the only type supported.
    #[error(
        "unsupported IDX element type {code:#04x} in {file}: only unsigned bytes (0x08) are supported"
    )]
    UnsupportedType {
        /// The file or embedded source.
        file: String,
        /// The type code found (third byte of the magic number).
        code: u8,
    },
    /// The data is shorter than its header declares.
    #[error(
        "truncated IDX file {file}: the header declares {expected} bytes but there are {found}"
    )]
    Truncated {
        /// The file or embedded source.
        file: String,
        /// The length the header declares (or the header's own length), decompressed.
        expected: u128,
        /// The length present, decompressed.
        found: usize,
    },
    /// The data is longer than its header declares.
    #[error("IDX file {file} has {} trailing bytes: the header declares {expected} bytes but there are {found}", found - expected)]
    TrailingBytes {
        /// The file or embedded source.
        file: String,
        /// The length the header declares, decompressed.
        expected: usize,
        /// The length present, decompressed.
        found: usize,
    },
    /// The images and labels files hold different numbers of samples.
    #[error("{images} holds {n_images} images but {labels} holds {n_labels} labels")]
    CountMismatch {
        /// The images file or source.
        images: String,
        /// The labels file or source.
        labels: String,
        /// The number of images.
        n_images: usize,
        /// The number of labels.
        n_labels: usize,
    },
    /// A label has no class name.
    #[error("label {label} at index {index} in {file} has no class name: {n_classes} names given")]
    LabelRange {
        /// The labels file or source.
        file: String,
        /// The sample's position.
        index: usize,
        /// The label found.
        label: u32,
        /// The number of class names.
        n_classes: usize,
    },
    /// The data set could not be assembled.
    #[error("inconsistent data set {name}")]
    Dataset {
        /// The data set's name.
        name: String,
        /// What is inconsistent.
        source: BatchError,
    },
}
