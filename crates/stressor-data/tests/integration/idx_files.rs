//! IDX files on disk, through `load_idx_files`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use stressor_data::{DataError, load_idx_files};

/// A fresh directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("stressor-data").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the target directory is writable");
    dir
}

fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    for dim in dims {
        bytes.extend(dim.to_be_bytes());
    }
    bytes.extend_from_slice(body);
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

/// Writes the two files into a scratch directory and loads them.
fn load(
    test: &str,
    images: &[u8],
    labels: &[u8],
) -> (Result<stressor_core::Dataset, DataError>, PathBuf) {
    let dir = scratch(test);
    std::fs::write(dir.join("images.idx"), images).expect("writable");
    std::fs::write(dir.join("labels.idx.gz"), labels).expect("writable");
    let res = load_idx_files(&dir.join("images.idx"), &dir.join("labels.idx.gz"), None, "mine");
    (res, dir)
}

/// Checks the error's variant (the start of its `Debug` form) and that its message names
/// `file`.
fn check_err(res: Result<stressor_core::Dataset, DataError>, variant: &str, file: &Path) {
    let err = res.expect_err("the input is malformed");
    assert!(format!("{err:?}").starts_with(variant), "{err:?}");
    assert!(err.to_string().contains(&file.display().to_string()), "{err}");
}

const IMAGES: u32 = 0x0000_0803;
const LABELS: u32 = 0x0000_0801;

#[test]
fn loads_a_pair_of_files() {
    let images = idx(IMAGES, &[3, 1, 2], &[0, 255, 255, 0, 51, 51]);
    let labels = gzip(&idx(LABELS, &[3], &[2, 0, 4]));
    let (res, _) = load("loads", &images, &labels);
    let data = res.expect("well-formed");
    assert_eq!(data.name, "mine");
    assert_eq!(data.inputs.shape(), &[3, 1, 1, 2]);
    assert_eq!(data.labels, vec![2, 0, 4]);
    assert_eq!(data.class_names, ["0", "1", "2", "3", "4"]);
    assert_eq!(data.inputs.sample(2), &[0.2, 0.2]);
}

#[test]
fn class_names_are_checked() {
    let dir = scratch("class_names");
    std::fs::write(dir.join("i"), idx(IMAGES, &[2, 1, 1], &[0, 0])).expect("writable");
    std::fs::write(dir.join("l"), idx(LABELS, &[2], &[0, 2])).expect("writable");
    let names = Some(vec!["a".to_string(), "b".to_string()]);
    let err = load_idx_files(&dir.join("i"), &dir.join("l"), names, "x").expect_err("label 2");
    assert!(matches!(err, DataError::LabelRange { index: 1, label: 2, n_classes: 2, .. }));
    assert!(err.to_string().contains(&dir.join("l").display().to_string()), "{err}");
    let names = Some(vec!["a".to_string(), "b".to_string(), "c".to_string()]);
    let data = load_idx_files(&dir.join("i"), &dir.join("l"), names, "x").expect("3 names");
    assert_eq!(data.n_classes(), 3);
}

#[test]
fn missing_file() {
    let dir = scratch("missing");
    let images = dir.join("no-such-images.idx");
    let err = load_idx_files(&images, &dir.join("labels"), None, "x").expect_err("missing");
    assert!(
        matches!(&err, DataError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
        "{err:?}"
    );
    assert_eq!(err.to_string(), format!("failed to read data file {}", images.display()));
}

#[test]
fn count_mismatch() {
    let images = idx(IMAGES, &[3, 1, 1], &[0, 0, 0]);
    let labels = gzip(&idx(LABELS, &[2], &[0, 1]));
    let (res, dir) = load("count", &images, &labels);
    let err = res.expect_err("3 images, 2 labels");
    assert_eq!(
        err.to_string(),
        format!(
            "{} holds 3 images but {} holds 2 labels",
            dir.join("images.idx").display(),
            dir.join("labels.idx.gz").display()
        )
    );
}

#[test]
fn bad_files_name_themselves() {
    let good_images = idx(IMAGES, &[2, 1, 1], &[0, 0]);
    let good_labels = gzip(&idx(LABELS, &[2], &[0, 1]));

    let (res, dir) = load("truncated", &idx(IMAGES, &[2, 2, 2], &[0; 7]), &good_labels);
    check_err(res, "Truncated", &dir.join("images.idx"));

    let (res, dir) = load("magic", &idx(0x0000_0802, &[2, 1], &[0, 0]), &good_labels);
    check_err(res, "BadMagic", &dir.join("images.idx"));

    let (res, dir) = load("trailing", &idx(IMAGES, &[2, 1, 1], &[0, 0, 0]), &good_labels);
    check_err(res, "TrailingBytes", &dir.join("images.idx"));

    let mut corrupt = good_labels.clone();
    let middle = corrupt.len() / 2;
    corrupt.truncate(middle);
    let (res, dir) = load("gzip", &good_images, &corrupt);
    check_err(res, "Gzip", &dir.join("labels.idx.gz"));

    let (res, dir) = load("type", &good_images, &idx(0x0000_0c01, &[2], &[0; 8]));
    check_err(res, "UnsupportedType", &dir.join("labels.idx.gz"));
}
