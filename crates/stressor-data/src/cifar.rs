//! CIFAR-10 and CIFAR-100 in their binary form.
//!
//! A CIFAR-10 binary file (`data_batch_1.bin`, …, `test_batch.bin`) is a sequence of 3 073-byte
//! records: one label byte, then 3 072 pixel bytes, the red, green and blue planes of a 32×32
//! image, each row-major. CIFAR-100 records (`train.bin`, `test.bin`) have two label bytes,
//! coarse then fine, before the same 3 072 pixel bytes. There is no header, so a file whose
//! length is not a whole number of records is reported as truncated at its last record.
//!
//! The class names come from the caller, else from the text file that the official archive puts
//! beside the batches (`batches.meta.txt`, or `coarse_label_names.txt` / `fine_label_names.txt`
//! for CIFAR-100, one name a line), else from [`CLASS_NAMES`] for CIFAR-10 and numbers for
//! CIFAR-100.

use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use stressor_core::{Batch, Dataset};

use crate::DataError;
use crate::folder;
use crate::idx;
use crate::tensor::short_name;

/// The CIFAR-10 class names, indexed by label.
pub const CLASS_NAMES: [&str; 10] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

/// The bytes of an image in a record: 3 channels × 32 × 32.
pub const IMAGE_LEN: usize = 3 * 32 * 32;

/// Which of the two labels of a CIFAR-100 record to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cifar100Label {
    /// The 20 superclasses (the first label byte).
    Coarse,
    /// The 100 classes (the second label byte).
    Fine,
}

/// A data set from CIFAR-10 binary files, read in the order given: shape `[n, 3, 32, 32]`,
/// values `byte / 255`, bounds `[0, 1]`.
///
/// Without `class_names`, the names are read from `batches.meta.txt` beside the first file when
/// it exists, else they are [`CLASS_NAMES`]. With `limit`, reading stops after that many
/// records. The data set is named after the file (or, for several files, their folder).
///
/// # Errors
/// [`DataError::Read`] when a file cannot be read, [`DataError::TruncatedRecord`] (with the
/// record index and byte offset) when a file ends inside a record, [`DataError::LabelRange`]
/// when a label has no class name, [`DataError::BadOption`] when no file is given.
///
/// # Examples
/// ```no_run
/// use std::path::PathBuf;
/// let test = stressor_data::cifar::load_cifar10_binary(
///     &[PathBuf::from("cifar-10-batches-bin/test_batch.bin")],
///     None,
///     Some(1_000),
/// )?;
/// assert_eq!(test.inputs.sample_shape(), &[3, 32, 32]);
/// assert_eq!(test.class_names[0], "airplane");
/// # Ok::<(), stressor_data::DataError>(())
/// ```
pub fn load_cifar10_binary(
    files: &[PathBuf],
    class_names: Option<Vec<String>>,
    limit: Option<usize>,
) -> Result<Dataset, DataError> {
    let default = || CLASS_NAMES.iter().map(|name| (*name).to_string()).collect();
    load(
        files,
        &Variant { label_bytes: 1, label_at: 0 },
        class_names,
        "batches.meta.txt",
        default,
        limit,
    )
}

/// A data set from CIFAR-100 binary files, with the coarse or the fine labels; otherwise as
/// [`load_cifar10_binary`].
///
/// Without `class_names`, the names are read from `coarse_label_names.txt` or
/// `fine_label_names.txt` beside the first file when it exists, else they are numbers.
///
/// # Errors
/// As [`load_cifar10_binary`], with 3 074-byte records.
///
/// # Examples
/// ```no_run
/// use std::path::PathBuf;
/// use stressor_data::cifar::{Cifar100Label, load_cifar100_binary};
/// let test = load_cifar100_binary(
///     &[PathBuf::from("cifar-100-binary/test.bin")],
///     Cifar100Label::Coarse,
///     None,
///     None,
/// )?;
/// assert_eq!(test.len(), 10_000);
/// # Ok::<(), stressor_data::DataError>(())
/// ```
pub fn load_cifar100_binary(
    files: &[PathBuf],
    label: Cifar100Label,
    class_names: Option<Vec<String>>,
    limit: Option<usize>,
) -> Result<Dataset, DataError> {
    let (label_at, names_file, n_classes) = match label {
        Cifar100Label::Coarse => (0, "coarse_label_names.txt", 20u32),
        Cifar100Label::Fine => (1, "fine_label_names.txt", 100u32),
    };
    let default = || (0..n_classes).map(|class| class.to_string()).collect();
    load(files, &Variant { label_bytes: 2, label_at }, class_names, names_file, default, limit)
}

/// The 20 CIFAR-10 test images that foolbox 3.3.4 ships (the first 20 of the test split),
/// embedded in the binary: shape `[20, 3, 32, 32]`, values `byte / 255`, bounds `[0, 1]`, the
/// ten [`CLASS_NAMES`], named `cifar10-foolbox`.
///
/// Real colour images for RGB tests and demos; `data/cifar10-foolbox/NOTICE` gives their origin
/// and licence.
///
/// # Errors
/// A [`DataError`] naming the embedded file if an embedded PNG is corrupt, which the crate's
/// tests rule out.
///
/// # Examples
/// ```
/// let samples = stressor_data::cifar10_samples()?;
/// assert_eq!(samples.inputs.shape(), &[20, 3, 32, 32]);
/// assert_eq!(samples.class_names[samples.labels[0] as usize], "cat");
/// # Ok::<(), stressor_data::DataError>(())
/// ```
pub fn cifar10_samples() -> Result<Dataset, DataError> {
    let mut pixels = Vec::with_capacity(SAMPLES.len() * IMAGE_LEN);
    let mut labels = Vec::with_capacity(SAMPLES.len());
    for (name, bytes) in SAMPLES {
        let file = format!("embedded cifar10-foolbox/{name}");
        let image = folder::decode_image(bytes, &file)?;
        if (image.height, image.width) != (32, 32) {
            return Err(DataError::ImageSize {
                file,
                found_height: image.height,
                found_width: image.width,
                first: "the CIFAR-10 format".to_string(),
                expected_height: 32,
                expected_width: 32,
            });
        }
        folder::push_planes(&image, 3, (32, 32), &mut pixels);
        // The label is the digit before `.png`: `cifar10_00_3.png`.
        let label = name
            .strip_suffix(".png")
            .and_then(|stem| stem.rsplit('_').next())
            .and_then(|digit| digit.parse().ok())
            .ok_or_else(|| DataError::BadOption {
                file,
                problem: "the file name does not end in _<label>.png".to_string(),
            })?;
        labels.push(label);
    }
    let inputs = Batch::new(pixels, vec![labels.len(), 3, 32, 32])
        .expect("every image is checked to be 32x32");
    let class_names = CLASS_NAMES.iter().map(|name| (*name).to_string()).collect();
    idx::to_dataset("cifar10-foolbox", inputs, labels, class_names, "embedded cifar10-foolbox")
}

macro_rules! embedded {
    ($name:literal) => {
        ($name, include_bytes!(concat!("../data/cifar10-foolbox/", $name)).as_slice())
    };
}

/// The embedded PNGs, in test-split order, with their file names.
const SAMPLES: [(&str, &[u8]); 20] = [
    embedded!("cifar10_00_3.png"),
    embedded!("cifar10_01_8.png"),
    embedded!("cifar10_02_8.png"),
    embedded!("cifar10_03_0.png"),
    embedded!("cifar10_04_6.png"),
    embedded!("cifar10_05_6.png"),
    embedded!("cifar10_06_1.png"),
    embedded!("cifar10_07_6.png"),
    embedded!("cifar10_08_3.png"),
    embedded!("cifar10_09_1.png"),
    embedded!("cifar10_10_0.png"),
    embedded!("cifar10_11_9.png"),
    embedded!("cifar10_12_5.png"),
    embedded!("cifar10_13_7.png"),
    embedded!("cifar10_14_9.png"),
    embedded!("cifar10_15_8.png"),
    embedded!("cifar10_16_5.png"),
    embedded!("cifar10_17_7.png"),
    embedded!("cifar10_18_8.png"),
    embedded!("cifar10_19_6.png"),
];

/// Images and labels decoded from the records in `bytes`, at most `limit` of them.
///
/// `file` names the source in errors; `label_bytes` is 1 for CIFAR-10 and 2 for CIFAR-100, and
/// `label_at` picks the label byte used. Returns the images as `[n, 3, 32, 32]` in `[0, 1]`.
///
/// # Errors
/// [`DataError::TruncatedRecord`] when `bytes` ends inside a record (among the first `limit`).
///
/// # Examples
/// ```
/// let mut record = vec![7u8];
/// record.extend(std::iter::repeat_n(255u8, 3072));
/// let (images, labels) = stressor_data::cifar::read_records(&record, "one.bin", 1, 0, None)?;
/// assert_eq!(images.shape(), &[1, 3, 32, 32]);
/// assert_eq!(labels, vec![7]);
/// # Ok::<(), stressor_data::DataError>(())
/// ```
pub fn read_records(
    bytes: &[u8],
    file: &str,
    label_bytes: usize,
    label_at: usize,
    limit: Option<usize>,
) -> Result<(Batch, Vec<u32>), DataError> {
    let variant =
        Variant { label_bytes: label_bytes.max(1), label_at: label_at.min(label_bytes.max(1) - 1) };
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    decode(bytes, file, &variant, limit.unwrap_or(usize::MAX), &mut pixels, &mut labels)?;
    let n = labels.len();
    let batch =
        Batch::new(pixels, vec![n, 3, 32, 32]).expect("decode appends IMAGE_LEN values per label");
    Ok((batch, labels))
}

/// The record format.
struct Variant {
    /// Label bytes before the pixels.
    label_bytes: usize,
    /// The label byte used.
    label_at: usize,
}

impl Variant {
    fn record_len(&self) -> usize {
        self.label_bytes + IMAGE_LEN
    }

    fn format(&self) -> &'static str {
        if self.label_bytes == 1 { "CIFAR-10 binary" } else { "CIFAR-100 binary" }
    }
}

fn load(
    files: &[PathBuf],
    variant: &Variant,
    class_names: Option<Vec<String>>,
    names_file: &str,
    default_names: impl FnOnce() -> Vec<String>,
    limit: Option<usize>,
) -> Result<Dataset, DataError> {
    let Some(first) = files.first() else {
        return Err(DataError::BadOption {
            file: format!("{} data set", variant.format()),
            problem: "no file given".to_string(),
        });
    };
    let limit = limit.unwrap_or(usize::MAX);
    let class_names = match class_names {
        Some(names) => names,
        None => read_names(&first.with_file_name(names_file))?.unwrap_or_else(default_names),
    };
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for path in files {
        let file = path.display().to_string();
        let remaining = limit - labels.len();
        if remaining == 0 {
            break;
        }
        let bytes = read_prefix(path, remaining.saturating_mul(variant.record_len()), &file)?;
        let start = labels.len();
        decode(&bytes, &file, variant, remaining, &mut pixels, &mut labels)?;
        check_labels(&labels[start..], class_names.len(), &file)?;
    }
    let name = match files {
        [only] => short_name(only),
        _ => first.parent().map_or_else(|| short_name(first), short_name),
    };
    let n = labels.len();
    let inputs =
        Batch::new(pixels, vec![n, 3, 32, 32]).expect("decode appends IMAGE_LEN values per label");
    idx::to_dataset(&name, inputs, labels, class_names, &first.display().to_string())
}

/// Appends the records of `bytes`, at most `limit`, to `pixels` (in `[0, 1]`) and `labels`.
fn decode(
    bytes: &[u8],
    file: &str,
    variant: &Variant,
    limit: usize,
    pixels: &mut Vec<f32>,
    labels: &mut Vec<u32>,
) -> Result<(), DataError> {
    let record_len = variant.record_len();
    for (record, chunk) in bytes.chunks(record_len).take(limit).enumerate() {
        if chunk.len() < record_len {
            return Err(DataError::TruncatedRecord {
                file: file.to_string(),
                format: variant.format(),
                record,
                offset: (record * record_len) as u64,
                expected: record_len,
                found: chunk.len(),
            });
        }
        labels.push(u32::from(chunk[variant.label_at]));
        pixels.extend(chunk[variant.label_bytes..].iter().map(|&byte| f32::from(byte) / 255.0));
    }
    Ok(())
}

/// Checks that every label of a file has a class name; `labels` are that file's.
fn check_labels(labels: &[u32], n_classes: usize, file: &str) -> Result<(), DataError> {
    match labels.iter().enumerate().find(|(_, label)| **label as usize >= n_classes) {
        Some((index, &label)) => {
            Err(DataError::LabelRange { file: file.to_string(), index, label, n_classes })
        }
        None => Ok(()),
    }
}

/// At most the first `max_len` bytes of a file.
fn read_prefix(path: &Path, max_len: usize, file: &str) -> Result<Vec<u8>, DataError> {
    let read_err = |source| DataError::Read { file: file.to_string(), source };
    let handle = File::open(path).map_err(read_err)?;
    let mut bytes = Vec::new();
    handle.take(max_len as u64).read_to_end(&mut bytes).map_err(read_err)?;
    Ok(bytes)
}

/// Class names from a text file, one a line (blank lines dropped), or `None` when there is no
/// such file.
fn read_names(path: &Path) -> Result<Option<Vec<String>>, DataError> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path)
        .map_err(|source| DataError::Read { file: path.display().to_string(), source })?;
    let names: Vec<String> =
        text.lines().map(str::trim).filter(|line| !line.is_empty()).map(String::from).collect();
    Ok(Some(names))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn record(label: u8, fill: u8) -> Vec<u8> {
        let mut bytes = vec![label];
        bytes.extend(std::iter::repeat_n(fill, IMAGE_LEN));
        bytes
    }

    #[test]
    fn decodes_planes_in_order() {
        let mut bytes = vec![4u8];
        bytes.extend((0..IMAGE_LEN).map(|i| (i / 1024) as u8 * 100));
        let (images, labels) = read_records(&bytes, "x", 1, 0, None).expect("one record");
        assert_eq!(labels, vec![4]);
        assert_eq!(images.sample(0)[0], 0.0);
        assert_eq!(images.sample(0)[1024], 100.0 / 255.0);
        assert_eq!(images.sample(0)[2048], 200.0 / 255.0);
    }

    #[test]
    fn truncated_record_names_its_index_and_offset() {
        let mut bytes = record(1, 0);
        bytes.extend(record(2, 0));
        bytes.truncate(3073 + 100);
        let err = read_records(&bytes, "b.bin", 1, 0, None).expect_err("cut");
        assert_eq!(
            err.to_string(),
            "truncated CIFAR-10 binary file b.bin: record 1 at byte 3073 has 100 of its 3073 bytes"
        );
        // A limit that stops before the cut reads fine.
        let (images, _) = read_records(&bytes, "b.bin", 1, 0, Some(1)).expect("first record");
        assert_eq!(images.len(), 1);
    }

    #[test]
    fn cifar100_labels() {
        let mut bytes = vec![3u8, 42];
        bytes.extend(std::iter::repeat_n(0u8, IMAGE_LEN));
        assert_eq!(read_records(&bytes, "x", 2, 0, None).expect("coarse").1, vec![3]);
        assert_eq!(read_records(&bytes, "x", 2, 1, None).expect("fine").1, vec![42]);
    }

    proptest! {
        #[test]
        fn no_byte_input_panics(
            bytes in proptest::collection::vec(any::<u8>(), 0..7_000),
            label_bytes in 0usize..4,
            label_at in 0usize..4,
            limit in proptest::option::of(0usize..4),
        ) {
            if let Ok((images, labels)) = read_records(&bytes, "fuzz", label_bytes, label_at, limit) {
                prop_assert_eq!(images.len(), labels.len());
                prop_assert!(images.as_slice().iter().all(|v| (0.0..=1.0).contains(v)));
            }
        }
    }
}
