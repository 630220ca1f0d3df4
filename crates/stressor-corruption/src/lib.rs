//! ImageNet-C style image corruptions and lighting shifts, procedural and seeded.
//!
//! [`Corruption`] is the catalogue of fifteen corruptions (noise, blur, photometric, digital,
//! weather, occlusion), each with severities 1–5 whose constants follow ImageNet-C
//! (Hendrycks & Dietterich 2019, as implemented by the `imagecorruptions` package 1.1.2),
//! rescaled from 224×224 to the image size where they are lengths in pixels. [`Lighting`] is
//! four illumination changes with a continuous dial (colour temperature in kelvin, exposure in
//! EV, vignette and shadow strength), computed in linear light.
//!
//! Both take a [`Batch`](stressor_core::Batch) of images `[n, c, h, w]` (c = 1 or 3, values in
//! `[0, 1]`) and return one of the same shape, clipped into `[0, 1]`. Randomness for sample `i`
//! comes from `seed.derive_index(i)`: the same seed gives bit-identical output, and a sample's
//! corruption does not depend on the other samples in the batch. A malformed request (bad
//! severity or dial value, unsupported shape, non-finite input) is a [`CorruptionError`],
//! never a panic.
//!
//! Non-goals: reading or writing image files, calling a model, choosing which samples to
//! corrupt, parallelism (callers split batches).
//!
//! ```
//! use stressor_core::{Batch, Seed};
//! use stressor_corruption::{Corruption, Lighting};
//! let images = Batch::new(vec![0.5; 4 * 3 * 32 * 32], vec![4, 3, 32, 32]).unwrap();
//! let foggy = Corruption::from_name("fog").unwrap().apply(&images, 3, Seed::new(42)).unwrap();
//! let warm = Lighting::ColourTemperature.apply(&foggy, 3200.0, Seed::new(42)).unwrap();
//! assert_eq!(warm.shape(), &[4, 3, 32, 32]);
//! ```

#![warn(missing_docs)]

mod corruption;
mod error;
mod image;
mod lighting;

mod blur;
mod digital;
mod noise;
mod occlusion;
mod photometric;
mod weather;

pub use corruption::Corruption;
pub use error::CorruptionError;
pub use lighting::Lighting;
