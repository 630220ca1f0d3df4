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
    /// A record-based file (CIFAR binary) ends inside a record.
    #[error(
        "truncated {format} file {file}: record {record} at byte {offset} has {found} of its {expected} bytes"
    )]
    TruncatedRecord {
        /// The file.
        file: String,
        /// The format, for the message: `CIFAR-10 binary`.
        format: &'static str,
        /// The index of the incomplete record in its file.
        record: usize,
        /// The record's byte offset in its file.
        offset: u64,
        /// The bytes a record needs.
        expected: usize,
        /// The bytes present.
        found: usize,
    },
    /// The array data is shorter than its header declares.
    #[error(
        "truncated {format} data in {file}: the header declares {expected} bytes of values (after byte {offset}) but there are {found}"
    )]
    TruncatedData {
        /// The file, with the NPZ key where there is one.
        file: String,
        /// The format, for the message: `NPY`.
        format: &'static str,
        /// The byte offset where the values start.
        offset: u64,
        /// The bytes needed (for the samples read).
        expected: u128,
        /// The bytes present.
        found: usize,
    },
    /// A file's header or structure is malformed.
    #[error("malformed {format} header in {file} at byte {offset}: {problem}")]
    Header {
        /// The file, with the NPZ key where there is one.
        file: String,
        /// The format, for the message: `NPY`.
        format: &'static str,
        /// The byte offset of the problem.
        offset: u64,
        /// What is wrong, a lowercase fragment.
        problem: String,
    },
    /// An array has an element type the loader does not take.
    #[error("unsupported dtype {found} for {role} in {file}: expected {expected}")]
    Dtype {
        /// The file, with the NPZ key where there is one.
        file: String,
        /// What the array holds: `images` or `labels`.
        role: &'static str,
        /// The dtype found, as NumPy writes it (`'<c8'`).
        found: String,
        /// The dtypes accepted.
        expected: &'static str,
    },
    /// An array or a sample has the wrong shape.
    #[error("{role} in {file} have shape {found:?}, expected {expected}")]
    Shape {
        /// The file, with the NPZ key where there is one.
        file: String,
        /// What has the shape: `images`, `labels`, `CSV features`.
        role: &'static str,
        /// The shape found.
        found: Vec<usize>,
        /// The shape expected, in words (`[n, h, w, c]`).
        expected: String,
    },
    /// Input values lie outside `[0, 1]` after scaling.
    #[error(
        "values in {file} range from {min} to {max}, outside [0, 1] with scale {scale}: {hint}"
    )]
    ValueRange {
        /// The file, with the NPZ key where there is one.
        file: String,
        /// The scale applied: `unit`, `byte` or `auto`.
        scale: &'static str,
        /// The smallest value read, before scaling.
        min: f64,
        /// The largest value read, before scaling.
        max: f64,
        /// What to do about it.
        hint: &'static str,
    },
    /// An input value is NaN or infinite.
    #[error("non-finite value {value} at sample {index} in {file}")]
    NonFinite {
        /// The file, with the NPZ key where there is one.
        file: String,
        /// The sample's position.
        index: usize,
        /// The value, as text (`NaN`, `inf`).
        value: String,
    },
    /// A label is not a class index (negative, or too large for a `u32`).
    #[error("label {value} at index {index} in {file} is not a class index")]
    LabelValue {
        /// The file, with the NPZ key where there is one.
        file: String,
        /// The sample's position.
        index: usize,
        /// The label, as text.
        value: String,
    },
    /// An NPZ archive lacks the array asked for.
    #[error("{file} has no array {key:?}: it holds {available:?}")]
    MissingKey {
        /// The archive.
        file: String,
        /// The key asked for.
        key: String,
        /// The keys present (entry names without `.npy`).
        available: Vec<String>,
    },
    /// A container or codec could not decode a file (a zip archive, an image, a CSV file).
    #[error("failed to decode {format} {file}")]
    Decode {
        /// The file.
        file: String,
        /// The format, for the message: `zip archive`, `image`, `CSV file`.
        format: &'static str,
        /// The decoder's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An image folder holds no class folder, or a class folder holds no image.
    #[error("no {what} in {folder}")]
    EmptyFolder {
        /// The folder.
        folder: String,
        /// What is missing: `class folders` or `PNG or JPEG images`.
        what: &'static str,
    },
    /// A class folder holds a file that is not a PNG or JPEG image (by extension).
    #[error(
        "{file} is not a PNG or JPEG image: class folders may hold only .png, .jpg and .jpeg files"
    )]
    NotAnImage {
        /// The file.
        file: String,
    },
    /// Images in a folder differ in size and no size to resize to was given.
    #[error(
        "image {file} is {found_height}x{found_width} (height x width) but {first} is {expected_height}x{expected_width}: give a size to resize to"
    )]
    ImageSize {
        /// The first image whose size differs.
        file: String,
        /// Its height.
        found_height: u32,
        /// Its width.
        found_width: u32,
        /// The first image read, whose size the others must share.
        first: String,
        /// The first image's height.
        expected_height: u32,
        /// The first image's width.
        expected_width: u32,
    },
    /// A CSV row has a different number of fields from the first row.
    #[error("{file}:{line}: row has {found} fields, expected {expected}")]
    RaggedRow {
        /// The file.
        file: String,
        /// The 1-based line.
        line: u64,
        /// The fields in this row.
        found: usize,
        /// The fields in the first row.
        expected: usize,
    },
    /// A CSV field is not what its column needs.
    #[error("{file}:{line}: column {column} ({column_name}): {problem}")]
    Field {
        /// The file.
        file: String,
        /// The 1-based line.
        line: u64,
        /// The 1-based column.
        column: usize,
        /// The column's header, or `no header`.
        column_name: String,
        /// What is wrong, a lowercase fragment.
        problem: String,
    },
    /// A named CSV column does not exist.
    #[error("{file} has no column {name:?}: its header is {header:?}")]
    MissingColumn {
        /// The file.
        file: String,
        /// The column asked for.
        name: String,
        /// The header's fields.
        header: Vec<String>,
    },
    /// An option is inconsistent with the data or with itself.
    #[error("invalid option for {file}: {problem}")]
    BadOption {
        /// The file or folder.
        file: String,
        /// What is wrong, a lowercase fragment.
        problem: String,
    },
}
