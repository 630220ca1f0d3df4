//! Data sets for stressor.
//!
//! This crate turns bytes into [`Dataset`]s:
//!
//! - [`idx`] reads IDX files, the format of MNIST and its relatives, raw or gzipped, into a
//!   [`Batch`] of shape `[n, 1, height, width]` with values in `[0, 1]`, and
//!   [`load_idx_files`] pairs an images file with a labels file;
//! - [`fashion_mnist`] holds Zalando's Fashion-MNIST inside the binary (the 10 000-image test
//!   split and the first 30 000 training images, MIT, notice in `data/fashion-mnist/`), so the
//!   default scenario needs no download;
//! - [`sample`] draws a seeded, class-stratified subset without replacement.
//!
//! Every failure is a [`DataError`] that names the file or embedded source it came from. No
//! byte input makes a reader panic.
//!
//! Non-goals: calling a model, writing files, image formats other than IDX.
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

mod error;
pub mod fashion_mnist;
pub mod idx;
mod sampling;

pub use error::DataError;
pub use idx::load_idx_files;
pub use sampling::sample;
