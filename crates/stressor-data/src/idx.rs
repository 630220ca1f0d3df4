//! IDX files, the format of MNIST and its relatives.
//!
//! An IDX file is a big-endian header followed by the values, row-major. The header is a magic
//! number `0x0000_TTDD` (`TT` the element type, `DD` the number of dimensions) and one `u32` per
//! dimension. Images are `0x0000_0803` (`u8`, `[n, height, width]`); labels are `0x0000_0801`
//! (`u8`, `[n]`). Other element types are refused with [`DataError::UnsupportedType`].
//!
//! Files may be raw or gzipped: data starting with the gzip magic `1f 8b` is decompressed first
//! (several concatenated gzip members are read as one stream).
//!
//! The readers check the declared length against the bytes present before they allocate
//! anything of the declared size, so a lying header is an error, never a panic or a huge
//! allocation.

use std::borrow::Cow;
use std::io::Read as _;
use std::path::Path;

use flate2::read::MultiGzDecoder;
use stressor_core::{Batch, Bounds, Dataset};

use crate::DataError;

/// The magic number of an IDX file of `u8` images, `[n, height, width]`.
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// The magic number of an IDX file of `u8` labels, `[n]`.
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// Images from IDX bytes (raw or gzipped), as a batch of shape `[n, 1, height, width]` with
/// values `pixel / 255` in `[0, 1]`.
///
/// `file` names the source in errors.
///
/// # Errors
/// [`DataError::Gzip`] when gzipped data does not decompress, [`DataError::BadMagic`],
/// [`DataError::UnsupportedType`], [`DataError::Truncated`] or [`DataError::TrailingBytes`]
/// when the data is not a well-formed IDX images file.
///
/// # Examples
/// ```
/// let mut bytes = vec![0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2];
/// bytes.extend([0, 255]);
/// let images = stressor_data::idx::read_images(&bytes, "two-pixels.idx")?;
/// assert_eq!(images.shape(), &[1, 1, 1, 2]);
/// assert_eq!(images.as_slice(), &[0.0, 1.0]);
/// # Ok::<(), stressor_data::DataError>(())
/// ```
pub fn read_images(bytes: &[u8], file: &str) -> Result<Batch, DataError> {
    let images = decode_images(bytes, file)?;
    Ok(images.to_batch(images.n))
}

/// Labels from IDX bytes (raw or gzipped).
///
/// `file` names the source in errors.
///
/// # Errors
/// As [`read_images`], for an IDX labels file.
///
/// # Examples
/// ```
/// let bytes = [0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 9];
/// assert_eq!(stressor_data::idx::read_labels(&bytes, "labels.idx")?, vec![7, 0, 9]);
/// # Ok::<(), stressor_data::DataError>(())
/// ```
pub fn read_labels(bytes: &[u8], file: &str) -> Result<Vec<u32>, DataError> {
    Ok(decode_labels(bytes, file)?.into_iter().map(u32::from).collect())
}

/// A data set from an IDX images file and an IDX labels file (MNIST family), raw or gzipped.
///
/// Without `class_names`, classes are named by their number (`"0"`, `"1"`, …) up to the
/// largest label. The bounds are `[0, 1]`.
///
/// # Errors
/// [`DataError::Read`] when a file cannot be read (with its path), the errors of
/// [`read_images`] and [`read_labels`], [`DataError::CountMismatch`] when the files hold
/// different numbers of samples, and [`DataError::LabelRange`] when a label has no class name.
///
/// # Examples
/// ```no_run
/// use std::path::Path;
/// let mnist = stressor_data::load_idx_files(
///     Path::new("t10k-images-idx3-ubyte.gz"),
///     Path::new("t10k-labels-idx1-ubyte.gz"),
///     None,
///     "mnist/test",
/// )?;
/// assert_eq!(mnist.n_classes(), 10);
/// # Ok::<(), stressor_data::DataError>(())
/// ```
pub fn load_idx_files(
    images: &Path,
    labels: &Path,
    class_names: Option<Vec<String>>,
    name: &str,
) -> Result<Dataset, DataError> {
    let images_file = images.display().to_string();
    let labels_file = labels.display().to_string();
    let read = |path: &Path, file: &str| {
        std::fs::read(path).map_err(|source| DataError::Read { file: file.to_string(), source })
    };
    let images_bytes = read(images, &images_file)?;
    let labels_bytes = read(labels, &labels_file)?;
    let images = decode_images(&images_bytes, &images_file)?;
    let labels = decode_labels(&labels_bytes, &labels_file)?;
    check_counts(&images, &labels, &images_file, &labels_file)?;
    let labels: Vec<u32> = labels.into_iter().map(u32::from).collect();
    let class_names = match class_names {
        Some(names) => names,
        None => {
            let n_classes = labels.iter().max().map_or(0, |&max| max + 1);
            (0..n_classes).map(|class| class.to_string()).collect()
        }
    };
    to_dataset(name, images.to_batch(images.n), labels, class_names, &labels_file)
}

/// Decoded `u8` images, `[n, height, width]`.
#[derive(Debug, Clone)]
pub(crate) struct RawImages {
    pub(crate) n: usize,
    pub(crate) height: usize,
    pub(crate) width: usize,
    pub(crate) pixels: Vec<u8>,
}

impl RawImages {
    /// The first `n` images (at most all) as `[n, 1, height, width]` in `[0, 1]`.
    pub(crate) fn to_batch(&self, n: usize) -> Batch {
        let n = n.min(self.n);
        // Saturating: with a zero dimension the product is zero whatever the others are, and
        // without one it is at most `pixels.len()`.
        let len = n.saturating_mul(self.height).saturating_mul(self.width);
        let data: Vec<f32> = self.pixels[..len].iter().map(|&p| f32::from(p) / 255.0).collect();
        Batch::new(data, vec![n, 1, self.height, self.width])
            .expect("the pixel count is n * height * width by construction")
    }
}

/// Images from IDX bytes, kept as `u8`.
pub(crate) fn decode_images(bytes: &[u8], file: &str) -> Result<RawImages, DataError> {
    let data = decompress(bytes, file)?;
    let (dims, header_len) = parse_header(&data, file, IMAGES_MAGIC, "images")?;
    let (n, height, width) = (dims[0], dims[1], dims[2]);
    let mut pixels = data.into_owned();
    pixels.drain(..header_len);
    Ok(RawImages { n, height, width, pixels })
}

/// Labels from IDX bytes, kept as `u8`.
pub(crate) fn decode_labels(bytes: &[u8], file: &str) -> Result<Vec<u8>, DataError> {
    let data = decompress(bytes, file)?;
    let (_, header_len) = parse_header(&data, file, LABELS_MAGIC, "labels")?;
    let mut labels = data.into_owned();
    labels.drain(..header_len);
    Ok(labels)
}

/// Checks that images and labels hold the same number of samples.
pub(crate) fn check_counts(
    images: &RawImages,
    labels: &[u8],
    images_file: &str,
    labels_file: &str,
) -> Result<(), DataError> {
    if images.n == labels.len() {
        return Ok(());
    }
    Err(DataError::CountMismatch {
        images: images_file.to_string(),
        labels: labels_file.to_string(),
        n_images: images.n,
        n_labels: labels.len(),
    })
}

/// A data set with bounds `[0, 1]`, its labels checked against the class names.
pub(crate) fn to_dataset(
    name: &str,
    inputs: Batch,
    labels: Vec<u32>,
    class_names: Vec<String>,
    labels_file: &str,
) -> Result<Dataset, DataError> {
    let n_classes = class_names.len();
    if let Some((index, &label)) =
        labels.iter().enumerate().find(|(_, label)| **label as usize >= n_classes)
    {
        return Err(DataError::LabelRange {
            file: labels_file.to_string(),
            index,
            label,
            n_classes,
        });
    }
    Dataset::new(name, inputs, labels, class_names, Bounds::UNIT)
        .map_err(|source| DataError::Dataset { name: name.to_string(), source })
}

/// The bytes, decompressed when they start with the gzip magic.
fn decompress<'a>(bytes: &'a [u8], file: &str) -> Result<Cow<'a, [u8]>, DataError> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(Cow::Borrowed(bytes));
    }
    // The gzip trailer holds the size of the last member modulo 2^32: a hint for the capacity,
    // capped by deflate's largest possible ratio so that a forged trailer cannot make us
    // reserve more than the data could expand to.
    let hint = match bytes.len().checked_sub(4).map(|at| &bytes[at..]) {
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]) as usize,
        _ => 0,
    };
    let mut data = Vec::with_capacity(hint.min(bytes.len().saturating_mul(1032)));
    MultiGzDecoder::new(bytes)
        .read_to_end(&mut data)
        .map_err(|source| DataError::Gzip { file: file.to_string(), source })?;
    Ok(Cow::Owned(data))
}

/// Checks the header and the total length; returns the dimensions and the header's length.
fn parse_header(
    data: &[u8],
    file: &str,
    magic: u32,
    kind: &'static str,
) -> Result<(Vec<usize>, usize), DataError> {
    let truncated = |expected: u128| DataError::Truncated {
        file: file.to_string(),
        expected,
        found: data.len(),
    };
    let Some(&[zero_a, zero_b, code, n_dims]) = data.get(..4) else {
        return Err(truncated(4));
    };
    let found = u32::from_be_bytes([zero_a, zero_b, code, n_dims]);
    let bad_magic = || DataError::BadMagic { file: file.to_string(), kind, found, expected: magic };
    if zero_a != 0 || zero_b != 0 {
        return Err(bad_magic());
    }
    if code != 0x08 {
        return Err(DataError::UnsupportedType { file: file.to_string(), code });
    }
    if u32::from(n_dims) != magic & 0xff {
        return Err(bad_magic());
    }
    let header_len = 4 + 4 * usize::from(n_dims);
    let Some(header) = data.get(4..header_len) else {
        return Err(truncated(header_len as u128));
    };
    let dims: Vec<u32> = header
        .chunks_exact(4)
        .map(|dim| u32::from_be_bytes([dim[0], dim[1], dim[2], dim[3]]))
        .collect();
    // At most three `u32` factors: the product fits in a `u128`.
    let expected = header_len as u128 + dims.iter().map(|&dim| u128::from(dim)).product::<u128>();
    let found_len = data.len() as u128;
    if found_len < expected {
        return Err(truncated(expected));
    }
    if found_len > expected {
        return Err(DataError::TrailingBytes {
            file: file.to_string(),
            // Smaller than `data.len()`, so it fits in a `usize`.
            expected: expected as usize,
            found: data.len(),
        });
    }
    // A `u32` fits in a `usize` on every target std supports with 32-bit or wider pointers.
    Ok((dims.into_iter().map(|dim| dim as usize).collect(), header_len))
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use proptest::prelude::*;

    use super::*;

    /// IDX bytes: the magic, the dimensions, then `body`.
    fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
        let mut bytes = magic.to_be_bytes().to_vec();
        for dim in dims {
            bytes.extend(dim.to_be_bytes());
        }
        bytes.extend_from_slice(body);
        bytes
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(bytes).expect("writing to a Vec cannot fail");
        encoder.finish().expect("writing to a Vec cannot fail")
    }

    /// Reads `bytes` as images from `"input.idx"` and checks the error's variant (the start of
    /// its `Debug` form) and its message.
    fn check_images(bytes: &[u8], variant: &str, message: &str) {
        let err = read_images(bytes, "input.idx").expect_err("the input is malformed");
        assert!(format!("{err:?}").starts_with(variant), "{err:?}");
        assert_eq!(err.to_string(), message);
    }

    #[test]
    fn reads_raw_and_gzipped_images() {
        let bytes = idx(IMAGES_MAGIC, &[2, 2, 3], &[0, 51, 102, 153, 204, 255, 1, 2, 3, 4, 5, 6]);
        for input in [bytes.clone(), gzip(&bytes)] {
            let batch = read_images(&input, "x").expect("well-formed");
            assert_eq!(batch.shape(), &[2, 1, 2, 3]);
            assert_eq!(&batch.as_slice()[..6], &[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        }
    }

    #[test]
    fn empty_images_with_huge_dimensions() {
        let batch = read_images(&idx(IMAGES_MAGIC, &[u32::MAX, u32::MAX, 0], &[]), "x")
            .expect("well-formed, and empty");
        assert_eq!(batch.shape(), &[u32::MAX as usize, 1, u32::MAX as usize, 0]);
        assert!(batch.as_slice().is_empty());
    }

    #[test]
    fn reads_multi_member_gzip() {
        let bytes = idx(LABELS_MAGIC, &[4], &[1, 2, 3, 4]);
        let mut two_members = gzip(&bytes[..6]);
        two_members.extend(gzip(&bytes[6..]));
        assert_eq!(read_labels(&two_members, "x").expect("well-formed"), vec![1, 2, 3, 4]);
    }

    #[test]
    fn bad_magic() {
        check_images(
            &idx(0x1234_0803, &[1, 1, 1], &[0]),
            "BadMagic",
            "input.idx is not an IDX images file: magic number 0x12340803, expected 0x00000803",
        );
        // A labels file where images are expected: the usual mix-up.
        check_images(
            &idx(LABELS_MAGIC, &[1], &[0]),
            "BadMagic",
            "input.idx is not an IDX images file: magic number 0x00000801, expected 0x00000803",
        );
    }

    #[test]
    fn unsupported_type() {
        check_images(
            &idx(0x0000_0d03, &[1, 1, 1], &[0, 0, 0, 0]),
            "UnsupportedType",
            "unsupported IDX element type 0x0d in input.idx: only unsigned bytes (0x08) are supported",
        );
    }

    #[test]
    fn truncated() {
        check_images(
            &idx(IMAGES_MAGIC, &[2, 2, 2], &[0; 7]),
            "Truncated",
            "truncated IDX file input.idx: the header declares 24 bytes but there are 23",
        );
        check_images(
            &[0, 0, 8],
            "Truncated",
            "truncated IDX file input.idx: the header declares 4 bytes but there are 3",
        );
        check_images(
            &idx(IMAGES_MAGIC, &[2, 2], &[]),
            "Truncated",
            "truncated IDX file input.idx: the header declares 16 bytes but there are 12",
        );
        // A header declaring more than fits in memory is an error, not an allocation.
        check_images(
            &idx(IMAGES_MAGIC, &[u32::MAX, u32::MAX, u32::MAX], &[0; 16]),
            "Truncated",
            "truncated IDX file input.idx: the header declares \
             79228162458924105385300197391 bytes but there are 32",
        );
        // Truncated before compression: the gzip stream is fine, the IDX is not.
        let gzipped = gzip(&idx(IMAGES_MAGIC, &[2, 2, 2], &[0; 5]));
        check_images(
            &gzipped,
            "Truncated",
            "truncated IDX file input.idx: the header declares 24 bytes but there are 21",
        );
    }

    #[test]
    fn trailing_bytes() {
        check_images(
            &idx(IMAGES_MAGIC, &[1, 2, 2], &[0; 6]),
            "TrailingBytes",
            "IDX file input.idx has 2 trailing bytes: the header declares 20 bytes but there are 22",
        );
    }

    #[test]
    fn corrupt_gzip() {
        let mut gzipped = gzip(&idx(IMAGES_MAGIC, &[1, 2, 2], &[7; 4]));
        let last = gzipped.len() - 1;
        gzipped[last] ^= 0xff; // the trailer's length no longer matches
        check_images(&gzipped, "Gzip", "corrupt gzip data in input.idx");
        let cut = gzip(&idx(IMAGES_MAGIC, &[1, 2, 2], &[7; 4]));
        check_images(&cut[..cut.len() - 6], "Gzip", "corrupt gzip data in input.idx");
        check_images(&[0x1f, 0x8b, 0, 0, 0], "Gzip", "corrupt gzip data in input.idx");
    }

    #[test]
    fn labels_errors_name_the_labels_kind() {
        let err = read_labels(&idx(IMAGES_MAGIC, &[1, 1, 1], &[0]), "labels.idx")
            .expect_err("an images file is not a labels file");
        assert_eq!(
            err.to_string(),
            "labels.idx is not an IDX labels file: magic number 0x00000803, expected 0x00000801"
        );
    }

    /// Bytes that are often almost valid: a valid IDX file (raw or gzipped) cut short, with
    /// bytes flipped, or pure noise.
    fn near_idx() -> impl Strategy<Value = Vec<u8>> {
        let valid = (0u32..4, 0u32..5, 0u32..5, any::<bool>()).prop_flat_map(|(n, h, w, zip)| {
            let len = (n * h * w) as usize;
            proptest::collection::vec(any::<u8>(), len).prop_map(move |body| {
                let bytes = idx(IMAGES_MAGIC, &[n, h, w], &body);
                if zip { gzip(&bytes) } else { bytes }
            })
        });
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..64),
            (valid.clone(), any::<prop::sample::Index>())
                .prop_map(|(bytes, cut)| bytes[..cut.index(bytes.len() + 1)].to_vec()),
            (valid, any::<prop::sample::Index>(), any::<u8>()).prop_map(|(mut bytes, at, xor)| {
                if !bytes.is_empty() {
                    let at = at.index(bytes.len());
                    bytes[at] ^= xor;
                }
                bytes
            }),
        ]
    }

    proptest! {
        #[test]
        fn no_byte_input_panics(bytes in near_idx()) {
            let _ = read_images(&bytes, "fuzz");
            let _ = read_labels(&bytes, "fuzz");
        }

        #[test]
        fn images_are_in_the_unit_interval(bytes in near_idx()) {
            if let Ok(batch) = read_images(&bytes, "fuzz") {
                prop_assert_eq!(batch.sample_shape()[0], 1);
                prop_assert!(batch.as_slice().iter().all(|v| (0.0..=1.0).contains(v)));
            }
        }
    }
}
