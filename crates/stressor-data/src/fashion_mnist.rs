//! Fashion-MNIST, embedded in the binary.
//!
//! Zalando's Fashion-MNIST (MIT; copyright 2017 Zalando SE) is 28×28 grayscale product images
//! in ten classes. The crate carries the whole test split (10 000 images, 1 000 per class) and
//! the first 30 000 of the 60 000 training images (between 2 945 and 3 081 per class), as the
//! gzipped IDX files under `data/fashion-mnist/`, where `NOTICE` and `LICENSE` describe them.
//!
//! Each split is decompressed once per process and kept as bytes (7.8 MB for the test split,
//! 23.5 MB for the training slice); every [`load`] converts those bytes to a fresh [`Dataset`].

use std::sync::OnceLock;

use stressor_core::Dataset;

use crate::DataError;
use crate::idx::{self, RawImages};

/// The class names, indexed by label.
pub const CLASS_NAMES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Which part of Fashion-MNIST to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// The first 30 000 images of the training split.
    Train,
    /// The full test split, 10 000 images.
    Test,
}

impl Split {
    /// The number of samples embedded for this split.
    pub const fn n_samples(self) -> usize {
        match self {
            Split::Train => 30_000,
            Split::Test => 10_000,
        }
    }

    /// The data set's name in reports: `fashion-mnist/train` or `fashion-mnist/test`.
    pub const fn name(self) -> &'static str {
        match self {
            Split::Train => "fashion-mnist/train",
            Split::Test => "fashion-mnist/test",
        }
    }
}

/// Loads a split of the embedded Fashion-MNIST: shape `[n, 1, 28, 28]`, values in `[0, 1]`,
/// bounds `[0, 1]`, the ten [`CLASS_NAMES`].
///
/// With `limit`, only the first `limit` samples (all when the split is shorter). The first call
/// for a split decompresses it; later calls reuse the decompressed bytes.
///
/// # Errors
/// A [`DataError`] naming the embedded file if the embedded data is corrupt, which the crate's
/// tests rule out.
///
/// # Examples
/// ```
/// use stressor_data::fashion_mnist::{self, Split};
/// let test = fashion_mnist::load(Split::Test, Some(100))?;
/// assert_eq!(test.name, "fashion-mnist/test");
/// assert_eq!(test.inputs.shape(), &[100, 1, 28, 28]);
/// assert_eq!(test.class_names[9], "Ankle boot");
/// # Ok::<(), stressor_data::DataError>(())
/// ```
pub fn load(split: Split, limit: Option<usize>) -> Result<Dataset, DataError> {
    let decoded = decoded(split)?;
    let n = limit.map_or(decoded.images.n, |limit| limit.min(decoded.images.n));
    let labels = decoded.labels[..n].iter().map(|&label| u32::from(label)).collect();
    let class_names = CLASS_NAMES.iter().map(|name| (*name).to_string()).collect();
    idx::to_dataset(
        split.name(),
        decoded.images.to_batch(n),
        labels,
        class_names,
        decoded.labels_file,
    )
}

/// A split's images and labels, decompressed and checked.
#[derive(Debug)]
struct Decoded {
    images: RawImages,
    labels: Vec<u8>,
    labels_file: &'static str,
}

/// The embedded files of a split: (images name, images bytes, labels name, labels bytes).
fn embedded(split: Split) -> (&'static str, &'static [u8], &'static str, &'static [u8]) {
    match split {
        Split::Train => (
            "embedded fashion-mnist/train-30k-images-idx3-ubyte.gz",
            include_bytes!("../data/fashion-mnist/train-30k-images-idx3-ubyte.gz"),
            "embedded fashion-mnist/train-30k-labels-idx1-ubyte.gz",
            include_bytes!("../data/fashion-mnist/train-30k-labels-idx1-ubyte.gz"),
        ),
        Split::Test => (
            "embedded fashion-mnist/t10k-images-idx3-ubyte.gz",
            include_bytes!("../data/fashion-mnist/t10k-images-idx3-ubyte.gz"),
            "embedded fashion-mnist/t10k-labels-idx1-ubyte.gz",
            include_bytes!("../data/fashion-mnist/t10k-labels-idx1-ubyte.gz"),
        ),
    }
}

/// The split, decompressed on first use.
///
/// Two threads that ask at the same time may both decompress; one result is kept.
fn decoded(split: Split) -> Result<&'static Decoded, DataError> {
    static TRAIN: OnceLock<Decoded> = OnceLock::new();
    static TEST: OnceLock<Decoded> = OnceLock::new();
    let cell = match split {
        Split::Train => &TRAIN,
        Split::Test => &TEST,
    };
    if let Some(decoded) = cell.get() {
        return Ok(decoded);
    }
    let (images_file, images_bytes, labels_file, labels_bytes) = embedded(split);
    let images = idx::decode_images(images_bytes, images_file)?;
    let labels = idx::decode_labels(labels_bytes, labels_file)?;
    idx::check_counts(&images, &labels, images_file, labels_file)?;
    Ok(cell.get_or_init(|| Decoded { images, labels, labels_file }))
}
