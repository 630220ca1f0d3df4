//! Users' own data sets: CIFAR binary, NPY/NPZ, image folders and CSV, read from the fixtures
//! that `tests/fixtures/make_fixtures.py` writes with NumPy and Pillow, compared with the values
//! those libraries wrote into `tests/fixtures/expected.json`.
//!
//! Comparisons are exact except for JPEG and resizing: JPEG images are compared with Pillow's
//! decode (libjpeg) within 8/255 per value (zune-jpeg differs in IDCT and chroma upsampling;
//! measured worst 4/255), and resized images with Pillow's bilinear resize within 0.01 per value
//! and 0.003 on average (the same filter and taps, computed here in `f32` while Pillow works in
//! fixed point and rounds to bytes after each pass).

use std::path::{Path, PathBuf};

use serde_json::Value;
use stressor_core::{Bounds, Dataset};
use stressor_data::cifar;
use stressor_data::csv::{Header, LabelColumn};
use stressor_data::{DataError, Layout, Scale};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn expected() -> Value {
    let text = std::fs::read_to_string(fixtures().join("expected.json")).expect("fixtures exist");
    serde_json::from_str(&text).expect("valid JSON")
}

/// A fresh directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("stressor-data-formats").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the target directory is writable");
    dir
}

fn as_usizes(value: &Value) -> Vec<usize> {
    value.as_array().expect("an array").iter().map(|v| v.as_u64().expect("int") as usize).collect()
}

fn as_u32s(value: &Value) -> Vec<u32> {
    as_usizes(value).into_iter().map(|v| v as u32).collect()
}

fn as_f32s(value: &Value) -> Vec<f32> {
    value.as_array().expect("an array").iter().map(|v| v.as_f64().expect("num") as f32).collect()
}

/// Checks `(index, value)` pairs of the flattened inputs exactly.
fn check_pixels(data: &Dataset, pairs: &Value) {
    for pair in pairs.as_array().expect("pairs") {
        let index = pair[0].as_u64().expect("index") as usize;
        let value = pair[1].as_f64().expect("value") as f32;
        assert_eq!(data.inputs.as_slice()[index], value, "value at {index}");
    }
}

/// Checks the error's variant (the start of its `Debug` form) and that its message contains
/// every fragment.
fn check_err(res: Result<Dataset, DataError>, variant: &str, fragments: &[&str]) {
    let err = res.expect_err("the input is malformed");
    assert!(format!("{err:?}").starts_with(variant), "{err:?}");
    let message = err.to_string();
    for fragment in fragments {
        assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
    }
}

#[test]
fn cifar10_binary() {
    let expected = &expected()["cifar10"];
    let file = fixtures().join("cifar10/test_batch.bin");
    let data = cifar::load_cifar10_binary(std::slice::from_ref(&file), None, None).expect("valid");
    assert_eq!(data.inputs.shape(), as_usizes(&expected["shape"]));
    assert_eq!(data.labels, as_u32s(&expected["labels"]));
    assert_eq!(data.class_names, cifar::CLASS_NAMES);
    assert_eq!(data.bounds, Bounds::UNIT);
    assert_eq!(data.name, "test_batch.bin");
    check_pixels(&data, &expected["pixels"]);

    // Two files in a row, a limit that stops inside the second, and names from the caller.
    let names: Vec<String> = (0..10).map(|i| format!("c{i}")).collect();
    let two = [file.clone(), file.clone()];
    let data = cifar::load_cifar10_binary(&two, Some(names), Some(7)).expect("valid");
    assert_eq!(data.len(), 7);
    assert_eq!(data.labels[5..], as_u32s(&expected["labels"])[..2]);
    assert_eq!(data.class_names[3], "c3");
}

#[test]
fn cifar10_binary_reads_batches_meta() {
    let dir = scratch("cifar_meta");
    std::fs::copy(fixtures().join("cifar10/test_batch.bin"), dir.join("test_batch.bin"))
        .expect("copy");
    let names = "zero\none\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\n\n";
    std::fs::write(dir.join("batches.meta.txt"), names).expect("writable");
    let data =
        cifar::load_cifar10_binary(&[dir.join("test_batch.bin")], None, Some(1)).expect("valid");
    assert_eq!(data.class_names.len(), 10);
    assert_eq!(data.class_names[data.labels[0] as usize], "three");
}

#[test]
fn cifar10_binary_errors() {
    let dir = scratch("cifar_errors");
    let bytes = std::fs::read(fixtures().join("cifar10/test_batch.bin")).expect("fixture");
    let cut = dir.join("cut.bin");
    std::fs::write(&cut, &bytes[..3 * 3073 + 10]).expect("writable");
    check_err(
        cifar::load_cifar10_binary(std::slice::from_ref(&cut), None, None),
        "TruncatedRecord",
        &[&cut.display().to_string(), "record 3 at byte 9219", "has 10 of its 3073 bytes"],
    );
    // The first three records are whole: a limit of 3 never reaches the cut.
    assert_eq!(
        cifar::load_cifar10_binary(std::slice::from_ref(&cut), None, Some(3)).map(|d| d.len()).ok(),
        Some(3)
    );

    let mut bad_label = bytes.clone();
    bad_label[3073] = 10;
    let file = dir.join("label.bin");
    std::fs::write(&file, &bad_label).expect("writable");
    check_err(
        cifar::load_cifar10_binary(std::slice::from_ref(&file), None, None),
        "LabelRange",
        &[&file.display().to_string(), "label 10 at index 1", "10 names given"],
    );
    check_err(
        cifar::load_cifar10_binary(&[dir.join("missing.bin")], None, None),
        "Read",
        &["missing.bin"],
    );
}

#[test]
fn cifar100_binary() {
    let dir = scratch("cifar100");
    let mut bytes = vec![7u8, 93];
    bytes.extend(std::iter::repeat_n(128u8, 3072));
    std::fs::write(dir.join("test.bin"), &bytes).expect("writable");
    let files = [dir.join("test.bin")];
    let coarse = cifar::load_cifar100_binary(&files, cifar::Cifar100Label::Coarse, None, None)
        .expect("valid");
    assert_eq!((coarse.labels[0], coarse.n_classes()), (7, 20));
    let fine =
        cifar::load_cifar100_binary(&files, cifar::Cifar100Label::Fine, None, None).expect("valid");
    assert_eq!((fine.labels[0], fine.n_classes()), (93, 100));
    assert_eq!(fine.inputs.as_slice()[0], 128.0 / 255.0);
}

#[test]
fn cifar10_samples_are_real_images() {
    let data = stressor_data::cifar10_samples().expect("embedded data is valid");
    assert_eq!(data.inputs.shape(), &[20, 3, 32, 32]);
    assert_eq!(data.name, "cifar10-foolbox");
    // Pillow's decode of the first image, planes R, G, B.
    let first = data.select(&[0]);
    check_pixels(&first, &expected()["cifar10_samples"]["first"]);
    // The labels of the first 20 CIFAR-10 test images (cat, ship, ship, airplane, frog, …).
    assert_eq!(data.labels, [3, 8, 8, 0, 6, 6, 1, 6, 3, 1, 0, 9, 5, 7, 9, 8, 5, 7, 8, 6]);
    let values = data.inputs.as_slice();
    assert!(values.iter().all(|v| (0.0..=1.0).contains(v)));
    // Colour: the channels differ.
    let plane = 32 * 32;
    assert_ne!(data.inputs.sample(0)[..plane], data.inputs.sample(0)[2 * plane..]);
}

#[test]
fn npy_pairs_in_both_layouts_and_dtypes() {
    let expected = &expected()["npy"];
    let dir = fixtures().join("npy");
    let labels = as_u32s(&expected["labels"]);
    let shape = as_usizes(&expected["shape"]);
    for (images, layout, key) in [
        ("images_nchw_u8.npy", Layout::Nchw, "u8_pixels"),
        ("images_nhwc_u8.npy", Layout::Nhwc, "u8_pixels"),
        ("images_nchw_f32.npy", Layout::Nchw, "f32_pixels"),
        ("images_nhwc_f32.npy", Layout::Nhwc, "f32_pixels"),
    ] {
        for labels_file in ["labels_i64.npy", "labels_u8.npy", "labels_i32_column.npy"] {
            let data = stressor_data::load_npy(
                &dir.join(images),
                &dir.join(labels_file),
                layout,
                Scale::Auto,
                None,
            )
            .unwrap_or_else(|err| panic!("{images} + {labels_file}: {err}"));
            assert_eq!(data.inputs.shape(), shape, "{images}");
            assert_eq!(data.labels, labels, "{labels_file}");
            assert_eq!(data.class_names, ["0", "1", "2"]);
            assert_eq!(data.name, images);
            check_pixels(&data, &expected[key]);
        }
    }
    // NCHW and NHWC files hold the same images.
    let nchw = stressor_data::load_npy(
        &dir.join("images_nchw_u8.npy"),
        &dir.join("labels_u8.npy"),
        Layout::Nchw,
        Scale::Byte,
        None,
    );
    let nhwc = stressor_data::load_npy(
        &dir.join("images_nhwc_u8.npy"),
        &dir.join("labels_u8.npy"),
        Layout::Nhwc,
        Scale::Byte,
        None,
    );
    assert_eq!(nchw.expect("valid").inputs, nhwc.expect("valid").inputs);

    let gray = stressor_data::load_npy(
        &dir.join("images_gray_f64.npy"),
        &dir.join("labels_i64.npy"),
        Layout::Nhwc,
        Scale::Unit,
        Some(3),
    )
    .expect("valid");
    let mut gray_shape = as_usizes(&expected["gray_shape"]);
    gray_shape[0] = 3;
    assert_eq!(gray.inputs.shape(), gray_shape);
    assert_eq!(gray.labels, labels[..3]);
    let pairs: Vec<Value> = expected["gray_f64_pixels"]
        .as_array()
        .expect("pairs")
        .iter()
        .filter(|pair| pair[0].as_u64().expect("index") < 90)
        .cloned()
        .collect();
    check_pixels(&gray, &Value::Array(pairs));
}

#[test]
fn npz_compressed_and_stored() {
    let expected = &expected()["npy"];
    let dir = fixtures().join("npy");
    let compressed = stressor_data::load_npz(
        &dir.join("compressed.npz"),
        "x",
        "y",
        Layout::Nhwc,
        Scale::Auto,
        None,
    )
    .expect("valid");
    assert_eq!(compressed.inputs.shape(), as_usizes(&expected["shape"]));
    assert_eq!(compressed.labels, as_u32s(&expected["labels"]));
    assert_eq!(compressed.name, "compressed.npz");
    check_pixels(&compressed, &expected["u8_pixels"]);
    let stored = stressor_data::load_npz(
        &dir.join("stored.npz"),
        "images.npy",
        "labels",
        Layout::Nchw,
        Scale::Auto,
        Some(2),
    )
    .expect("valid");
    assert_eq!(stored.len(), 2);
    assert_eq!(stored.labels, as_u32s(&expected["labels"])[..2]);
    assert_eq!(stored.inputs.as_slice()[1], as_f32s(&expected["f32_pixels"][1])[1]);
}

#[test]
fn npy_errors() {
    let fixtures = fixtures().join("npy");
    let dir = scratch("npy_errors");
    let images = std::fs::read(fixtures.join("images_nchw_u8.npy")).expect("fixture");
    let labels = fixtures.join("labels_i64.npy");
    let load =
        |file: &Path, layout| stressor_data::load_npy(file, &labels, layout, Scale::Auto, None);

    let cut = dir.join("cut.npy");
    std::fs::write(&cut, &images[..images.len() - 5]).expect("writable");
    check_err(
        load(&cut, Layout::Nchw),
        "TruncatedData",
        &[
            &cut.display().to_string(),
            "declares 360 bytes of values (after byte 128) but there are 355",
        ],
    );
    // Reading only the first samples does not reach the cut.
    assert!(stressor_data::load_npy(&cut, &labels, Layout::Nchw, Scale::Auto, Some(3)).is_ok());

    let mut garbled = images.clone();
    garbled[0] = b'P';
    let file = dir.join("magic.npy");
    std::fs::write(&file, &garbled).expect("writable");
    check_err(
        load(&file, Layout::Nchw),
        "Header",
        &[&file.display().to_string(), "at byte 0", "not an NPY file"],
    );

    let mut header = images.clone();
    let at = images.windows(5).position(|w| w == b"'|u1'").expect("descr");
    header[at..at + 5].copy_from_slice(b"'<c8'");
    let file = dir.join("dtype.npy");
    std::fs::write(&file, &header).expect("writable");
    check_err(
        load(&file, Layout::Nchw),
        "Dtype",
        &[&file.display().to_string(), "\"<c8\"", "expected u1, f4 or f8"],
    );

    // Labels as images: wrong shape, and an images file as labels: wrong dtype.
    check_err(
        stressor_data::load_npy(
            &fixtures.join("labels_u8.npy"),
            &labels,
            Layout::Nchw,
            Scale::Auto,
            None,
        ),
        "Shape",
        &["labels_u8.npy", "images", "[4]", "expected [n, h, w] or [n, c, h, w] (layout nchw)"],
    );
    check_err(
        stressor_data::load_npy(
            &fixtures.join("images_nchw_u8.npy"),
            &fixtures.join("images_nchw_f32.npy"),
            Layout::Nchw,
            Scale::Auto,
            None,
        ),
        "Dtype",
        &["images_nchw_f32.npy", "labels", "\"<f4\""],
    );

    // Float data outside [0, 1] under Scale::Unit.
    check_err(
        stressor_data::load_npy(
            &fixtures.join("images_nchw_u8.npy"),
            &labels,
            Layout::Nchw,
            Scale::Unit,
            None,
        ),
        "ValueRange",
        &["images_nchw_u8.npy", "range from 0 to 2", "use scale \"byte\""],
    );
}

#[test]
fn npz_errors() {
    let fixtures = fixtures().join("npy");
    let compressed = fixtures.join("compressed.npz");
    check_err(
        stressor_data::load_npz(&compressed, "images", "y", Layout::Nhwc, Scale::Auto, None),
        "MissingKey",
        &[&compressed.display().to_string(), "no array \"images\"", "[\"x\", \"y\"]"],
    );
    // Keys swapped: the images array read as labels names the archive and the key.
    check_err(
        stressor_data::load_npz(&compressed, "y", "x", Layout::Nhwc, Scale::Auto, None),
        "Shape",
        &["compressed.npz (array \"x\")", "labels", "[4, 5, 6, 3]", "expected [n] or [n, 1]"],
    );
    let dir = scratch("npz_errors");
    let bytes = std::fs::read(&compressed).expect("fixture");
    let file = dir.join("cut.npz");
    std::fs::write(&file, &bytes[..bytes.len() / 2]).expect("writable");
    check_err(
        stressor_data::load_npz(&file, "x", "y", Layout::Nhwc, Scale::Auto, None),
        "Decode",
        &[&file.display().to_string(), "zip archive"],
    );
    // A corrupt deflate stream inside a well-formed archive.
    let mut corrupt = bytes.clone();
    let data_at = 30 + "x.npy".len() + 40;
    for byte in &mut corrupt[data_at..data_at + 40] {
        *byte ^= 0x5a;
    }
    let file = dir.join("corrupt.npz");
    std::fs::write(&file, &corrupt).expect("writable");
    let err = stressor_data::load_npz(&file, "x", "y", Layout::Nhwc, Scale::Auto, None)
        .expect_err("corrupt");
    assert!(err.to_string().contains("corrupt.npz"), "{err}");
}

/// Compares with Pillow's decode: exactly for PNG, within `tolerance` for JPEG.
fn check_folder_images(data: &Dataset, expected: &Value, jpeg: &[&str], files: &[&str]) {
    for (index, values) in expected.as_array().expect("images").iter().enumerate() {
        let values = as_f32s(values);
        let tolerance = if jpeg.contains(&files[index]) { 8.0 / 255.0 } else { 0.0 };
        let found = data.inputs.sample(index);
        assert_eq!(found.len(), values.len());
        let worst = found.iter().zip(&values).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(worst <= tolerance, "image {index} ({}): worst difference {worst}", files[index]);
    }
}

#[test]
fn image_folder() {
    let expected = &expected()["folder"];
    let root = fixtures().join("folder");
    let jpeg: Vec<&str> = expected["jpeg"]
        .as_array()
        .expect("names")
        .iter()
        .map(|v| v.as_str().expect("str"))
        .collect();
    let files = ["a.png", "a.jpg", "b.png", "b.JPEG"];
    let rgb = stressor_data::load_image_folder(&root, 3, None, None).expect("valid");
    assert_eq!(rgb.inputs.shape(), &[4, 3, 6, 8]);
    assert_eq!(rgb.class_names, ["cat", "dog"]);
    assert_eq!(rgb.labels, as_u32s(&expected["labels"]));
    assert_eq!(rgb.name, "folder");
    check_folder_images(&rgb, &expected["rgb"], &jpeg, &files);

    let gray = stressor_data::load_image_folder(&root, 1, None, Some(3)).expect("valid");
    assert_eq!(gray.inputs.shape(), &[3, 1, 6, 8]);
    check_folder_images(
        &gray,
        &Value::Array(expected["gray"].as_array().expect("images")[..3].to_vec()),
        &jpeg,
        &files,
    );

    let resized = stressor_data::load_image_folder(&root, 3, Some((3, 4)), None).expect("valid");
    assert_eq!(resized.inputs.shape(), &[4, 3, 3, 4]);
    let pillow: Vec<f32> =
        expected["resized_rgb"].as_array().expect("images").iter().flat_map(as_f32s).collect();
    let differences: Vec<f32> =
        resized.inputs.as_slice().iter().zip(&pillow).map(|(a, b)| (a - b).abs()).collect();
    let worst = differences.iter().copied().fold(0.0, f32::max);
    let mean = differences.iter().sum::<f32>() / differences.len() as f32;
    // Measured: worst 0.0071 (1.8 / 255), mean 0.0017.
    assert!(worst < 0.01 && mean < 0.003, "worst {worst}, mean {mean}");
}

#[test]
fn image_folder_errors() {
    let mixed = fixtures().join("folder-mixed-sizes");
    check_err(
        stressor_data::load_image_folder(&mixed, 3, None, None),
        "ImageSize",
        &["2.png", "is 7x10", "1.png", "is 6x8", "give a size"],
    );
    assert_eq!(
        stressor_data::load_image_folder(&mixed, 3, Some((6, 8)), None).map(|d| d.len()).ok(),
        Some(2)
    );

    let dir = scratch("folder_errors");
    check_err(
        stressor_data::load_image_folder(&dir, 3, None, None),
        "EmptyFolder",
        &[&dir.display().to_string(), "no class folders"],
    );
    std::fs::create_dir(dir.join("a")).expect("writable");
    std::fs::create_dir(dir.join("b")).expect("writable");
    std::fs::copy(fixtures().join("folder/cat/a.png"), dir.join("a/x.png")).expect("copy");
    check_err(
        stressor_data::load_image_folder(&dir, 3, None, None),
        "EmptyFolder",
        &[&dir.join("b").display().to_string(), "no PNG or JPEG images"],
    );
    std::fs::write(dir.join("b/notes.txt"), "hello").expect("writable");
    check_err(
        stressor_data::load_image_folder(&dir, 3, None, None),
        "NotAnImage",
        &[&dir.join("b/notes.txt").display().to_string()],
    );
    std::fs::remove_file(dir.join("b/notes.txt")).expect("exists");
    std::fs::write(dir.join("b/fake.png"), "not a png").expect("writable");
    check_err(
        stressor_data::load_image_folder(&dir, 3, None, None),
        "Decode",
        &[&dir.join("b/fake.png").display().to_string(), "failed to decode image"],
    );
    check_err(
        stressor_data::load_image_folder(&dir, 2, None, None),
        "BadOption",
        &["channels must be 1 or 3, not 2"],
    );
}

#[test]
fn csv_with_header_and_string_labels() {
    let expected = &expected()["csv"];
    let file = fixtures().join("csv/items.csv");
    let data = stressor_data::load_csv(
        &file,
        LabelColumn::Named("kind".to_string()),
        Some(vec![1, 2, 2]),
        Scale::Auto,
        Header::Auto,
        None,
    )
    .expect("valid");
    assert_eq!(data.inputs.shape(), as_usizes(&expected["shape"]));
    assert_eq!(data.class_names, ["bag", "boot, ankle", "sneaker"]);
    assert_eq!(
        data.class_names,
        expected["class_names"]
            .as_array()
            .expect("names")
            .iter()
            .map(|v| v.as_str().expect("str"))
            .collect::<Vec<_>>()
    );
    assert_eq!(data.labels, as_u32s(&expected["labels"]));
    assert_eq!(data.inputs.as_slice(), as_f32s(&expected["values"]));
    assert_eq!(data.name, "items.csv");

    let head = stressor_data::load_csv(
        &file,
        LabelColumn::Last,
        None,
        Scale::Byte,
        Header::Present,
        Some(2),
    )
    .expect("valid");
    assert_eq!(head.inputs.shape(), &[2, 4]);
}

#[test]
fn csv_errors() {
    let dir = scratch("csv_errors");
    let text = std::fs::read_to_string(fixtures().join("csv/items.csv")).expect("fixture");
    let load = |name: &str, text: &str| {
        let file = dir.join(name);
        std::fs::write(&file, text).expect("writable");
        stressor_data::load_csv(&file, LabelColumn::Last, None, Scale::Auto, Header::Auto, None)
    };
    let ragged = text.replacen("25,105,81,28,bag", "25,105,81,bag", 1);
    check_err(
        load("ragged.csv", &ragged),
        "RaggedRow",
        &["ragged.csv:3:", "row has 4 fields, expected 5"],
    );
    let word = text.replacen("218,", "lots,", 1);
    check_err(
        load("word.csv", &word),
        "Field",
        &["word.csv:4:", "column 1 (p0)", "\"lots\" is not a number"],
    );
    let wide = text.replacen("218,", "999,", 1);
    check_err(load("wide.csv", &wide), "ValueRange", &["wide.csv", "range from 25 to 999"]);
    check_err(load("empty.csv", ""), "Header", &["empty.csv", "no rows"]);
}
