//! NumPy arrays: `.npy` files and `.npz` archives.
//!
//! An NPY file is the magic `\x93NUMPY`, a version (1.0, 2.0 or 3.0), the length of a header
//! (`u16` for 1.0, `u32` after), the header, a Python dict literal such as
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (5, 32, 32, 3), }`, and then the values,
//! row-major. An NPZ file is a zip archive (stored by `np.savez`, deflated by
//! `np.savez_compressed`) of NPY files named `<key>.npy`.
//!
//! Images are `u1`, `f4` or `f8` arrays of shape `[n, h, w]` (grayscale) or four-dimensional in
//! the given [`Layout`]; labels are integer arrays (`i1`–`i8`, `u1`–`u8`) of shape `[n]` or
//! `[n, 1]`. Both byte orders are read. Fortran-ordered arrays are refused with a hint.
//!
//! The reader parses the header itself and reads only the values of the first `limit` samples,
//! growing its buffer as bytes arrive, so a header that lies about the shape is an error
//! ([`DataError::TruncatedData`]), never a huge allocation.

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;

use stressor_core::{Batch, Dataset};

use crate::DataError;
use crate::idx;
use crate::tensor::{self, Stored, checked_len, numbered_class_names, short_name};
pub use crate::tensor::{Layout, Scale};

/// The magic string that starts every NPY file.
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// A data set from an images `.npy` file and a labels `.npy` file.
///
/// The inputs are `[n, c, h, w]` in `[0, 1]` (see [`Scale`]), the classes are named `"0"`,
/// `"1"`, … up to the largest label, the bounds are `[0, 1]` and the data set is named after
/// the images file. With `limit`, only the first `limit` samples' values are read.
///
/// # Errors
/// [`DataError::Read`] when a file cannot be read; [`DataError::Header`] for a malformed NPY
/// header (with the byte offset); [`DataError::Dtype`] and [`DataError::Shape`] for an array of
/// the wrong element type or shape (expected and found); [`DataError::TruncatedData`];
/// [`DataError::CountMismatch`]; [`DataError::ValueRange`] or [`DataError::NonFinite`] for
/// values outside `[0, 1]` once scaled; [`DataError::LabelValue`] for a negative label.
///
/// # Examples
/// ```no_run
/// use std::path::Path;
/// use stressor_data::npy::{Layout, Scale, load_npy};
/// // Saved with np.save("x_test.npy", x_test) where x_test is uint8 [n, 32, 32, 3].
/// let test = load_npy(
///     Path::new("x_test.npy"),
///     Path::new("y_test.npy"),
///     Layout::Nhwc,
///     Scale::Auto,
///     Some(500),
/// )?;
/// assert_eq!(test.inputs.sample_shape(), &[3, 32, 32]);
/// # Ok::<(), stressor_data::DataError>(())
/// ```
pub fn load_npy(
    images: &Path,
    labels: &Path,
    layout: Layout,
    scale: Scale,
    limit: Option<usize>,
) -> Result<Dataset, DataError> {
    let images_file = images.display().to_string();
    let labels_file = labels.display().to_string();
    let open = |path: &Path, file: &str| {
        File::open(path)
            .map(BufReader::new)
            .map_err(|source| DataError::Read { file: file.to_string(), source })
    };
    let (labels, n_labels) = read_labels_counted(open(labels, &labels_file)?, &labels_file, limit)?;
    let images_reader = open(images, &images_file)?;
    let inputs = read_images_checked(
        images_reader,
        &images_file,
        layout,
        scale,
        limit,
        Some((n_labels, &labels_file)),
    )?;
    let class_names = numbered_class_names(&labels);
    idx::to_dataset(&short_name(images), inputs, labels, class_names, &labels_file)
}

/// A data set from two arrays of an `.npz` archive (compressed or not), named by their keys
/// (`"x_test"` or `"x_test.npy"`); otherwise as [`load_npy`].
///
/// Errors name the archive and the key: `data.npz (array "x_test")`.
///
/// # Errors
/// As [`load_npy`], plus [`DataError::Decode`] when the file is not a readable zip archive and
/// [`DataError::MissingKey`] (listing the keys present) when a key is absent.
///
/// # Examples
/// ```no_run
/// use std::path::Path;
/// use stressor_data::npy::{Layout, Scale, load_npz};
/// // Saved with np.savez_compressed("cifar.npz", x=x_test, y=y_test).
/// let test = load_npz(Path::new("cifar.npz"), "x", "y", Layout::Nhwc, Scale::Auto, None)?;
/// assert_eq!(test.inputs.shape()[1], 3);
/// # Ok::<(), stressor_data::DataError>(())
/// ```
pub fn load_npz(
    file: &Path,
    images_key: &str,
    labels_key: &str,
    layout: Layout,
    scale: Scale,
    limit: Option<usize>,
) -> Result<Dataset, DataError> {
    let archive_file = file.display().to_string();
    let handle = File::open(file)
        .map(BufReader::new)
        .map_err(|source| DataError::Read { file: archive_file.clone(), source })?;
    let (images, labels, labels_file) =
        read_npz(handle, &archive_file, images_key, labels_key, layout, scale, limit)?;
    let class_names = numbered_class_names(&labels);
    idx::to_dataset(&short_name(file), images, labels, class_names, &labels_file)
}

/// Images and labels from an NPZ archive, and the labels' name for errors.
fn read_npz<R: Read + Seek>(
    reader: R,
    archive_file: &str,
    images_key: &str,
    labels_key: &str,
    layout: Layout,
    scale: Scale,
    limit: Option<usize>,
) -> Result<(Batch, Vec<u32>, String), DataError> {
    let mut archive = zip::ZipArchive::new(reader).map_err(|err| zip_error(err, archive_file))?;
    let labels_file = entry_file(archive_file, labels_key);
    let (labels, n_labels) = {
        let entry = open_entry(&mut archive, labels_key, archive_file)?;
        read_labels_counted(entry, &labels_file, limit)?
    };
    let images_file = entry_file(archive_file, images_key);
    let entry = open_entry(&mut archive, images_key, archive_file)?;
    let images = read_images_checked(
        entry,
        &images_file,
        layout,
        scale,
        limit,
        Some((n_labels, &labels_file)),
    )?;
    Ok((images, labels, labels_file))
}

/// Images from NPY bytes, as `[n, c, h, w]` in `[0, 1]`, at most `limit` of them.
///
/// `file` names the source in errors.
///
/// # Errors
/// As [`load_npy`], for the images array.
///
/// # Examples
/// ```
/// use stressor_data::npy::{Layout, Scale, read_images};
/// let header = b"{'descr': '|u1', 'fortran_order': False, 'shape': (1, 1, 2), }";
/// let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
/// bytes.extend((header.len() as u16).to_le_bytes());
/// bytes.extend(header);
/// bytes.extend([0, 255]);
/// let images = read_images(&bytes[..], "two.npy", Layout::Nchw, Scale::Auto, None)?;
/// assert_eq!(images.shape(), &[1, 1, 1, 2]);
/// assert_eq!(images.as_slice(), &[0.0, 1.0]);
/// # Ok::<(), stressor_data::DataError>(())
/// ```
pub fn read_images(
    reader: impl Read,
    file: &str,
    layout: Layout,
    scale: Scale,
    limit: Option<usize>,
) -> Result<Batch, DataError> {
    read_images_checked(reader, file, layout, scale, limit, None)
}

/// Labels from NPY bytes, at most `limit` of them.
///
/// # Errors
/// As [`load_npy`], for the labels array.
///
/// # Examples
/// ```
/// let header = b"{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }";
/// let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
/// bytes.extend((header.len() as u16).to_le_bytes());
/// bytes.extend(header);
/// bytes.extend(3i64.to_le_bytes());
/// bytes.extend(1i64.to_le_bytes());
/// assert_eq!(stressor_data::npy::read_labels(&bytes[..], "y.npy", None)?, vec![3, 1]);
/// # Ok::<(), stressor_data::DataError>(())
/// ```
pub fn read_labels(
    reader: impl Read,
    file: &str,
    limit: Option<usize>,
) -> Result<Vec<u32>, DataError> {
    Ok(read_labels_counted(reader, file, limit)?.0)
}

/// An array's element type.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Dtype {
    /// `b'u'` unsigned, `b'i'` signed, `b'f'` float, or anything else NumPy writes.
    kind: u8,
    /// Bytes per element.
    size: usize,
    big_endian: bool,
    /// The descr as written, for messages.
    descr: String,
}

/// A parsed NPY header.
#[derive(Debug)]
struct Header {
    dtype: Dtype,
    shape: Vec<usize>,
    /// Where the values start.
    data_offset: u64,
}

/// A value of the header's Python literal.
#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Str(String),
    Int(usize),
    Bool(bool),
    None,
    Seq(Vec<Literal>),
    Dict(Vec<(Literal, Literal)>),
}

const IMAGE_DTYPES: &str = "u1, f4 or f8";
const LABEL_DTYPES: &str = "an integer type (i1, i2, i4, i8, u1, u2, u4 or u8)";

/// The file name used in errors for an array of an archive.
fn entry_file(archive: &str, key: &str) -> String {
    format!("{archive} (array {:?})", key.strip_suffix(".npy").unwrap_or(key))
}

fn zip_error(err: zip::result::ZipError, file: &str) -> DataError {
    DataError::Decode { file: file.to_string(), format: "zip archive", source: Box::new(err) }
}

/// The entry `key` or `key.npy` of an archive.
fn open_entry<'a, R: Read + Seek>(
    archive: &'a mut zip::ZipArchive<R>,
    key: &str,
    file: &str,
) -> Result<zip::read::ZipFile<'a, R>, DataError> {
    let with_suffix = if key.ends_with(".npy") { key.to_string() } else { format!("{key}.npy") };
    let name = if archive.index_for_name(&with_suffix).is_some() {
        with_suffix
    } else if archive.index_for_name(key).is_some() {
        key.to_string()
    } else {
        let mut available: Vec<String> = archive
            .file_names()
            .filter_map(Result::ok)
            .map(|name| name.strip_suffix(".npy").unwrap_or(&name).to_string())
            .collect();
        available.sort();
        return Err(DataError::MissingKey {
            file: file.to_string(),
            key: key.to_string(),
            available,
        });
    };
    archive.by_name(&name).map_err(|err| zip_error(err, file))
}

/// Labels (at most `limit`) and the number of labels the header declares.
fn read_labels_counted(
    mut reader: impl Read,
    file: &str,
    limit: Option<usize>,
) -> Result<(Vec<u32>, usize), DataError> {
    let header = read_header(&mut reader, file)?;
    if !matches!(header.dtype.kind, b'i' | b'u') || !matches!(header.dtype.size, 1 | 2 | 4 | 8) {
        return Err(DataError::Dtype {
            file: file.to_string(),
            role: "labels",
            found: header.dtype.descr,
            expected: LABEL_DTYPES,
        });
    }
    let n = match header.shape[..] {
        [n] | [n, 1] => n,
        _ => {
            return Err(DataError::Shape {
                file: file.to_string(),
                role: "labels",
                found: header.shape,
                expected: "[n] or [n, 1]".to_string(),
            });
        }
    };
    let n_read = limit.map_or(n, |limit| limit.min(n));
    let bytes = read_values(&mut reader, &header, n_read, 1, file)?;
    let mut labels = Vec::with_capacity(n_read);
    for (index, element) in bytes.chunks_exact(header.dtype.size).enumerate() {
        let label = match header.dtype.kind {
            b'u' => u32::try_from(to_u64(element, header.dtype.big_endian)).ok(),
            _ => u32::try_from(to_i64(element, header.dtype.big_endian)).ok(),
        };
        let Some(label) = label else {
            let value = if header.dtype.kind == b'u' {
                to_u64(element, header.dtype.big_endian).to_string()
            } else {
                to_i64(element, header.dtype.big_endian).to_string()
            };
            return Err(DataError::LabelValue { file: file.to_string(), index, value });
        };
        labels.push(label);
    }
    Ok((labels, n))
}

/// Images, checked against the labels' count when there are labels.
fn read_images_checked(
    mut reader: impl Read,
    file: &str,
    layout: Layout,
    scale: Scale,
    limit: Option<usize>,
    labels: Option<(usize, &str)>,
) -> Result<Batch, DataError> {
    let header = read_header(&mut reader, file)?;
    let stored = match (header.dtype.kind, header.dtype.size) {
        (b'u', 1) => Stored::Bytes,
        (b'f', 4 | 8) => Stored::Floats,
        _ => {
            return Err(DataError::Dtype {
                file: file.to_string(),
                role: "images",
                found: header.dtype.descr,
                expected: IMAGE_DTYPES,
            });
        }
    };
    // (n, channels, height, width) as stored.
    let (n, c, h, w) = match (&header.shape[..], layout) {
        (&[n, h, w], _) => (n, 1, h, w),
        (&[n, c, h, w], Layout::Nchw) => (n, c, h, w),
        (&[n, h, w, c], Layout::Nhwc) => (n, c, h, w),
        _ => {
            let expected = match layout {
                Layout::Nchw => "[n, h, w] or [n, c, h, w] (layout nchw)",
                Layout::Nhwc => "[n, h, w] or [n, h, w, c] (layout nhwc)",
            };
            return Err(DataError::Shape {
                file: file.to_string(),
                role: "images",
                found: header.shape,
                expected: expected.to_string(),
            });
        }
    };
    if let Some((n_labels, labels_file)) = labels
        && n_labels != n
    {
        return Err(DataError::CountMismatch {
            images: file.to_string(),
            labels: labels_file.to_string(),
            n_images: n,
            n_labels,
        });
    }
    let n_read = limit.map_or(n, |limit| limit.min(n));
    let shape = vec![n_read, c, h, w];
    let too_large = || DataError::Shape {
        file: file.to_string(),
        role: "images",
        found: header.shape.clone(),
        expected: "a shape whose size fits in memory".to_string(),
    };
    let sample_len = checked_len(&shape[1..]).ok_or_else(too_large)?;
    checked_len(&shape).ok_or_else(too_large)?;
    let bytes = read_values(&mut reader, &header, n_read, sample_len, file)?;
    let big_endian = header.dtype.big_endian;
    let mut values: Vec<f32> = match header.dtype.size {
        1 => bytes.iter().map(|&byte| f32::from(byte)).collect(),
        4 => bytes
            .chunks_exact(4)
            .map(|e| to_u64(e, big_endian) as u32)
            .map(f32::from_bits)
            .collect(),
        // Narrowing to f32 is the point: inputs are f32.
        _ => bytes.chunks_exact(8).map(|e| f64::from_bits(to_u64(e, big_endian)) as f32).collect(),
    };
    tensor::apply_scale(&mut values, stored, scale, sample_len, file)?;
    if layout == Layout::Nhwc && header.shape.len() == 4 {
        values = tensor::nhwc_to_nchw(&values, n_read, h, w, c);
    }
    Ok(Batch::new(values, shape).expect("read_values returns n_read * sample_len elements"))
}

/// The bytes of the first `n_samples` samples of `sample_len` elements each.
fn read_values(
    reader: &mut impl Read,
    header: &Header,
    n_samples: usize,
    sample_len: usize,
    file: &str,
) -> Result<Vec<u8>, DataError> {
    let expected = n_samples as u128 * sample_len as u128 * header.dtype.size as u128;
    let mut bytes = Vec::new();
    // `take` caps the read; the buffer grows with the bytes that really arrive.
    reader
        .take(u64::try_from(expected).unwrap_or(u64::MAX))
        .read_to_end(&mut bytes)
        .map_err(|source| DataError::Read { file: file.to_string(), source })?;
    if (bytes.len() as u128) < expected {
        return Err(DataError::TruncatedData {
            file: file.to_string(),
            format: "NPY",
            offset: header.data_offset,
            expected,
            found: bytes.len(),
        });
    }
    Ok(bytes)
}

/// Reads and checks the magic, version and header.
fn read_header(reader: &mut impl Read, file: &str) -> Result<Header, DataError> {
    let header_err = |offset: u64, problem: String| DataError::Header {
        file: file.to_string(),
        format: "NPY",
        offset,
        problem,
    };
    let mut prefix = [0u8; 8];
    let got = read_up_to(reader, &mut prefix, file)?;
    if got < 8 || &prefix[..6] != MAGIC {
        return Err(header_err(
            0,
            "not an NPY file: it does not start with \\x93NUMPY".to_string(),
        ));
    }
    let (major, minor) = (prefix[6], prefix[7]);
    let len_bytes = match major {
        1 => 2,
        2 | 3 => 4,
        _ => return Err(header_err(6, format!("unsupported NPY version {major}.{minor}"))),
    };
    let mut len_buf = [0u8; 4];
    if read_up_to(reader, &mut len_buf[..len_bytes], file)? < len_bytes {
        return Err(header_err(8, "file ends inside the header length".to_string()));
    }
    let header_len = u32::from_le_bytes(len_buf) as usize;
    let text_start = 8 + len_bytes as u64;
    let mut text = Vec::new();
    reader
        .take(header_len as u64)
        .read_to_end(&mut text)
        .map_err(|source| DataError::Read { file: file.to_string(), source })?;
    if text.len() < header_len {
        return Err(header_err(
            text_start,
            format!(
                "the header declares {header_len} bytes but the file ends after {}",
                text.len()
            ),
        ));
    }
    let text = std::str::from_utf8(&text).map_err(|err| {
        header_err(
            text_start + err.valid_up_to() as u64,
            "the header is not UTF-8 text".to_string(),
        )
    })?;
    let mut parser = Parser { text, at: 0 };
    let dict =
        parser.value().map_err(|(at, problem)| header_err(text_start + at as u64, problem))?;
    let Literal::Dict(entries) = dict else {
        return Err(header_err(text_start, "the header is not a dict".to_string()));
    };
    let get = |key: &str| {
        entries.iter().find(|(k, _)| *k == Literal::Str(key.to_string())).map(|(_, v)| v)
    };
    let missing = |key: &str| header_err(text_start, format!("the header has no {key:?} key"));
    let dtype = match get("descr").ok_or_else(|| missing("descr"))? {
        Literal::Str(descr) => parse_descr(descr),
        other => Dtype {
            kind: 0,
            size: 0,
            big_endian: false,
            descr: format!("{other:?} (a structured dtype)"),
        },
    };
    match get("fortran_order").ok_or_else(|| missing("fortran_order"))? {
        Literal::Bool(false) => {}
        Literal::Bool(true) => {
            return Err(header_err(
                text_start,
                "Fortran-ordered arrays are not supported: save np.ascontiguousarray(a)"
                    .to_string(),
            ));
        }
        other => {
            return Err(header_err(text_start, format!("fortran_order is {other:?}, not a bool")));
        }
    }
    let shape = match get("shape").ok_or_else(|| missing("shape"))? {
        Literal::Seq(dims) => dims
            .iter()
            .map(|dim| match dim {
                Literal::Int(dim) => Ok(*dim),
                other => {
                    Err(header_err(text_start, format!("shape holds {other:?}, not an integer")))
                }
            })
            .collect::<Result<Vec<usize>, DataError>>()?,
        other => return Err(header_err(text_start, format!("shape is {other:?}, not a tuple"))),
    };
    Ok(Header { dtype, shape, data_offset: text_start + header_len as u64 })
}

/// Fills as much of `buf` as the reader gives; returns how much.
fn read_up_to(reader: &mut impl Read, buf: &mut [u8], file: &str) -> Result<usize, DataError> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(got) => filled += got,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => return Err(DataError::Read { file: file.to_string(), source }),
        }
    }
    Ok(filled)
}

/// A NumPy type string (`'<f4'`, `'|u1'`, `'>i8'`).
fn parse_descr(descr: &str) -> Dtype {
    let (big_endian, rest) = match descr.as_bytes().first() {
        Some(b'>') => (true, &descr[1..]),
        Some(b'<' | b'|') => (false, &descr[1..]),
        Some(b'=') => (cfg!(target_endian = "big"), &descr[1..]),
        _ => (false, descr),
    };
    let kind = rest.as_bytes().first().copied().unwrap_or(0);
    let size = rest.get(1..).and_then(|digits| digits.parse().ok()).unwrap_or(0);
    Dtype { kind, size, big_endian, descr: format!("{descr:?}") }
}

fn to_u64(element: &[u8], big_endian: bool) -> u64 {
    let fold = |acc: u64, &byte: &u8| (acc << 8) | u64::from(byte);
    if big_endian { element.iter().fold(0, fold) } else { element.iter().rev().fold(0, fold) }
}

fn to_i64(element: &[u8], big_endian: bool) -> i64 {
    let bits = element.len() * 8;
    let raw = to_u64(element, big_endian);
    // Sign-extend from `bits`.
    if bits == 0 || bits >= 64 { raw as i64 } else { ((raw << (64 - bits)) as i64) >> (64 - bits) }
}

/// A recursive-descent parser for the Python literals of NPY headers.
struct Parser<'a> {
    text: &'a str,
    at: usize,
}

/// A parse error: the byte offset in the header and the problem.
type ParseError = (usize, String);

impl Parser<'_> {
    /// Nesting deeper than this is refused, so that no input overflows the stack.
    const MAX_DEPTH: usize = 16;

    fn value(&mut self) -> Result<Literal, ParseError> {
        self.value_at_depth(0)
    }

    fn value_at_depth(&mut self, depth: usize) -> Result<Literal, ParseError> {
        if depth > Self::MAX_DEPTH {
            return Err((self.at, "the header nests too deeply".to_string()));
        }
        self.skip_space();
        let rest = &self.text[self.at..];
        match rest.as_bytes().first() {
            None => Err((self.at, "the header ends early".to_string())),
            Some(b'{') => {
                self.at += 1;
                let mut entries = Vec::new();
                while !self.eat(b'}') {
                    let key = self.value_at_depth(depth + 1)?;
                    self.expect(b':')?;
                    let value = self.value_at_depth(depth + 1)?;
                    entries.push((key, value));
                    if !self.eat(b',') {
                        self.expect(b'}')?;
                        break;
                    }
                }
                Ok(Literal::Dict(entries))
            }
            Some(&open @ (b'(' | b'[')) => {
                let close = if open == b'(' { b')' } else { b']' };
                self.at += 1;
                let mut items = Vec::new();
                while !self.eat(close) {
                    items.push(self.value_at_depth(depth + 1)?);
                    if !self.eat(b',') {
                        self.expect(close)?;
                        break;
                    }
                }
                Ok(Literal::Seq(items))
            }
            Some(&quote @ (b'\'' | b'"')) => {
                let body = &rest[1..];
                let Some(end) = body.find(quote as char) else {
                    return Err((self.at, "unterminated string".to_string()));
                };
                self.at += end + 2;
                Ok(Literal::Str(body[..end].to_string()))
            }
            Some(b'0'..=b'9') => {
                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                let value = rest[..digits]
                    .parse()
                    .map_err(|_| (self.at, format!("integer {} is too large", &rest[..digits])))?;
                self.at += digits;
                // Python 2 wrote long integers with a trailing L.
                self.eat(b'L');
                Ok(Literal::Int(value))
            }
            Some(_) => {
                let word_len =
                    rest.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
                let literal = match &rest[..word_len] {
                    "True" => Literal::Bool(true),
                    "False" => Literal::Bool(false),
                    "None" => Literal::None,
                    _ => {
                        let shown: String = rest.chars().take(12).collect();
                        return Err((self.at, format!("unexpected {shown:?}")));
                    }
                };
                self.at += word_len;
                Ok(literal)
            }
        }
    }

    fn skip_space(&mut self) {
        let rest = &self.text[self.at..];
        self.at += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, byte: u8) -> bool {
        self.skip_space();
        if self.text.as_bytes().get(self.at) == Some(&byte) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), ParseError> {
        if self.eat(byte) { Ok(()) } else { Err((self.at, format!("expected {:?}", byte as char))) }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    pub(crate) fn npy(descr: &str, shape: &str, body: &[u8]) -> Vec<u8> {
        let header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        let mut bytes = MAGIC.to_vec();
        bytes.extend([1, 0]);
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header.as_bytes());
        bytes.extend(body);
        bytes
    }

    fn images(bytes: &[u8], layout: Layout) -> Result<Batch, DataError> {
        read_images(bytes, "x.npy", layout, Scale::Auto, None)
    }

    #[test]
    fn big_endian_floats_and_nhwc() {
        let body: Vec<u8> = [0.0f32, 0.25, 0.5, 1.0].iter().flat_map(|v| v.to_be_bytes()).collect();
        let batch = images(&npy(">f4", "(1, 1, 2, 2)", &body), Layout::Nhwc).expect("valid");
        assert_eq!(batch.shape(), &[1, 2, 1, 2]);
        assert_eq!(batch.as_slice(), &[0.0, 0.5, 0.25, 1.0]);
    }

    #[test]
    fn signed_labels() {
        let body: Vec<u8> = [-1i16, 2].iter().flat_map(|v| v.to_le_bytes()).collect();
        let err = read_labels(&npy("<i2", "(2,)", &body)[..], "y.npy", None).expect_err("-1");
        assert_eq!(err.to_string(), "label -1 at index 0 in y.npy is not a class index");
        let labels = read_labels(&npy("<i2", "(2, 1)", &body[2..])[..], "y.npy", None);
        assert!(labels.is_err(), "the header declares 2 labels but 1 is there");
    }

    #[test]
    fn header_errors() {
        let check = |bytes: &[u8], message: &str| {
            let err = images(bytes, Layout::Nchw).expect_err("malformed");
            assert_eq!(err.to_string(), message);
        };
        check(
            b"PK\x03\x04",
            "malformed NPY header in x.npy at byte 0: not an NPY file: it does not start with \\x93NUMPY",
        );
        check(
            &npy("<c8", "(1, 1, 1)", &[0; 8]),
            "unsupported dtype \"<c8\" for images in x.npy: expected u1, f4 or f8",
        );
        check(
            &npy("|u1", "(2, 3)", &[0; 6]),
            "images in x.npy have shape [2, 3], expected [n, h, w] or [n, c, h, w] (layout nchw)",
        );
        check(
            &npy("|u1", "(2, 1, 2)", &[0; 3]),
            "truncated NPY data in x.npy: the header declares 4 bytes of values (after byte 72) but there are 3",
        );
        let mut bad = npy("|u1", "(1, 1, 1)", &[0]);
        bad[40] = b'@';
        let err = images(&bad, Layout::Nchw).expect_err("garbled");
        assert!(err.to_string().starts_with("malformed NPY header in x.npy at byte "), "{err}");
        check(
            &npy("|u1", "(18446744073709551615, 18446744073709551615, 2)", &[]),
            "images in x.npy have shape [18446744073709551615, 18446744073709551615, 2], expected a shape whose size fits in memory",
        );
    }

    #[test]
    fn empty_arrays_with_huge_dimensions() {
        let huge = usize::MAX;
        let bytes = npy("|u1", &format!("(1, {huge}, {huge}, 0)"), &[]);
        let batch = images(&bytes, Layout::Nhwc).expect("well-formed, and empty");
        assert_eq!(batch.shape(), &[1, 0, huge, huge]);
    }

    #[test]
    fn parses_python_literals() {
        let mut parser = Parser { text: "{'a': (1L, 2,), \"b\": [True, None], }", at: 0 };
        let value = parser.value().expect("valid");
        assert_eq!(
            value,
            Literal::Dict(vec![
                (Literal::Str("a".into()), Literal::Seq(vec![Literal::Int(1), Literal::Int(2)])),
                (Literal::Str("b".into()), Literal::Seq(vec![Literal::Bool(true), Literal::None])),
            ])
        );
        let mut deep = Parser { text: &"(".repeat(100), at: 0 };
        assert!(deep.value().is_err());
    }

    /// Valid NPY files (images or labels), often cut short or with a byte flipped.
    fn near_npy() -> impl Strategy<Value = Vec<u8>> {
        let descr = prop::sample::select(vec!["|u1", "<f4", ">f8", "<i8", "<u2", "<c8"]);
        let valid = (descr, 0usize..3, 0usize..4, 0usize..4, any::<bool>()).prop_flat_map(
            |(descr, n, h, w, four)| {
                let size: usize = descr[2..].parse().unwrap_or(1);
                let shape =
                    if four { format!("({n}, {h}, {w}, 1)") } else { format!("({n}, {h}, {w})") };
                proptest::collection::vec(any::<u8>(), n * h * w * size)
                    .prop_map(move |body| npy(descr, &shape, &body))
            },
        );
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..128),
            (valid.clone(), any::<prop::sample::Index>())
                .prop_map(|(bytes, cut)| bytes[..cut.index(bytes.len() + 1)].to_vec()),
            (valid, any::<prop::sample::Index>(), any::<u8>()).prop_map(|(mut bytes, at, xor)| {
                let at = at.index(bytes.len());
                bytes[at] ^= xor;
                bytes
            }),
        ]
    }

    proptest! {
        #[test]
        fn no_byte_input_panics(bytes in near_npy(), limit in proptest::option::of(0usize..3)) {
            for layout in [Layout::Nchw, Layout::Nhwc] {
                for scale in [Scale::Unit, Scale::Byte, Scale::Auto] {
                    if let Ok(batch) = read_images(&bytes[..], "fuzz", layout, scale, limit) {
                        prop_assert!(batch.as_slice().iter().all(|v| (0.0..=1.0).contains(v)));
                    }
                }
            }
            let _ = read_labels(&bytes[..], "fuzz", limit);
        }

        #[test]
        fn no_archive_panics(
            images in near_npy(),
            labels in near_npy(),
            cut in any::<prop::sample::Index>(),
            flip in any::<prop::sample::Index>(),
            xor in any::<u8>(),
            deflate in any::<bool>(),
        ) {
            let mut bytes = npz(&[("x.npy", &images), ("y.npy", &labels)], deflate);
            let at = flip.index(bytes.len());
            bytes[at] ^= xor;
            bytes.truncate(cut.index(bytes.len() + 1).max(bytes.len() / 2));
            let cursor = std::io::Cursor::new(bytes);
            let _ = read_npz(cursor, "fuzz", "x", "y", Layout::Nhwc, Scale::Auto, None);
        }
    }

    /// A zip archive of the given entries, stored or deflated.
    fn npz(entries: &[(&str, &[u8])], deflate: bool) -> Vec<u8> {
        use std::io::Write as _;
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let method =
            if deflate { zip::CompressionMethod::Deflated } else { zip::CompressionMethod::Stored };
        let options = zip::write::SimpleFileOptions::default().compression_method(method);
        for (name, bytes) in entries {
            writer.start_file(*name, options).expect("in memory");
            writer.write_all(bytes).expect("in memory");
        }
        writer.finish().expect("in memory").into_inner()
    }

    #[test]
    fn reads_an_archive_in_memory() {
        let images = npy("|u1", "(2, 1, 1, 3)", &[0, 51, 255, 255, 0, 0]);
        let labels = npy("<i8", "(2,)", &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        for deflate in [false, true] {
            let bytes = npz(&[("x.npy", &images), ("y.npy", &labels)], deflate);
            let (batch, labels, _) = read_npz(
                std::io::Cursor::new(bytes),
                "a.npz",
                "x",
                "y",
                Layout::Nhwc,
                Scale::Auto,
                None,
            )
            .expect("valid");
            assert_eq!(batch.shape(), &[2, 3, 1, 1]);
            assert_eq!(batch.sample(0), &[0.0, 0.2, 1.0]);
            assert_eq!(labels, vec![1, 0]);
        }
    }
}
