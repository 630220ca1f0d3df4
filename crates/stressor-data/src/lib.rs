//! Data sets for stressor.
//!
//! This crate turns bytes into [`Dataset`]s whose inputs are `[n, c, h, w]` (or `[n, features]`
//! for tabular CSV) `f32` values in `[0, 1]`:
//!
//! - [`idx`] reads IDX files, the format of MNIST and its relatives, raw or gzipped, into a
//!   [`Batch`] of shape `[n, 1, height, width]` with values in `[0, 1]`, and
//!   [`load_idx_files`] pairs an images file with a labels file;
//! - [`cifar`] reads the CIFAR-10 and CIFAR-100 binary formats;
//! - [`npy`] reads NumPy `.npy` pairs and `.npz` archives (`u8` or float images in either
//!   channel [`Layout`], integer labels), scaled by a [`Scale`];
//! - [`folder`] reads class folders of PNG and JPEG images, resized on request;
//! - [`csv`] reads a CSV file of numeric features and integer or string labels;
//! - [`fashion_mnist`] holds Zalando's Fashion-MNIST inside the binary (the 10 000-image test
//!   split and the first 30 000 training images, MIT, notice in `data/fashion-mnist/`), so the
//!   default scenario needs no download, and [`cifar10_samples`] the 20 CIFAR-10 test images
//!   that foolbox ships (MIT, notice in `data/cifar10-foolbox/`);
//! - [`sample`] draws a seeded, class-stratified subset without replacement.
//!
//! Every failure is a [`DataError`] that names the file or embedded source it came from and,
//! where it applies, the record, byte offset, line and column, NPZ key, or the expected and
//! found shape or dtype. No byte input makes a reader panic. With a `limit`, readers stop after
//! that many samples (and read no further where the format allows).
//!
//! Non-goals: calling a model, writing files, image formats other than PNG and JPEG.
//!
//! ```
//! use stressor_core::Seed;
//! use stressor_data::fashion_mnist::{self, Split};
//!
//! let test = fashion_mnist::load(Split::Test, Some(2_000))?;
//! assert_eq!(test.inputs.sample_shape(), &[1, 28, 28]);
//! let subset = stressor_data::sample(&test, 100, Seed::new(7));
//! assert_eq!(subset.len(), 100);
//! # Ok::<(), stressor_data::DataError>(())
//! ```
//!
//! [`Batch`]: stressor_core::Batch
//! [`Dataset`]: stressor_core::Dataset

pub mod cifar;
pub mod csv;
mod error;
pub mod fashion_mnist;
pub mod folder;
pub mod idx;
pub mod npy;
mod sampling;
mod tensor;

pub use cifar::{cifar10_samples, load_cifar10_binary};
pub use csv::load_csv;
pub use error::DataError;
pub use folder::load_image_folder;
pub use idx::load_idx_files;
pub use npy::{load_npy, load_npz};
pub use sampling::{sample, sample_indices};
pub use tensor::{Layout, Scale};
