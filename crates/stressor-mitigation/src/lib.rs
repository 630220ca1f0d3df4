//! Training-time mitigations for the built-in Fashion-MNIST CNN.
//!
//! A mitigation trains a [`FashionCnn`](stressor_model::builtin::FashionCnn) differently so
//! that it withstands a stress better; the scenario engine then measures the result like any
//! other model. [`adversarial_training`] is PGD adversarial training (Madry et al. 2018)
//! against L∞ attacks, configured by [`AdversarialTraining`]; [`augmented_training`] trains on
//! corrupted copies of the images ([`AugmentedTraining`]) against common corruptions. Both run
//! through [`train_with`](stressor_model::builtin::train_with), so they are seeded and
//! deterministic, and with nothing replaced they are plain
//! [`train`](stressor_model::builtin::train).
//!
//! Non-goals: other architectures, mitigations that change the loss (TRADES, which would need
//! a loss hook in training), inference-time defences (input purification, ensembles are in
//! `stressor_model::Ensemble`).
//!
//! ```
//! use stressor_core::{Batch, Bounds, Dataset, Seed};
//! use stressor_mitigation::{AdversarialTraining, adversarial_training};
//!
//! let names = vec!["a".to_string(), "b".to_string()];
//! let data = Dataset::new("toy", Batch::zeros(4, &[1, 28, 28]), vec![0, 1, 0, 1], names, Bounds::UNIT).unwrap();
//! let mut config = AdversarialTraining::default();
//! config.epsilon = 0.1;
//! config.train.epochs = 1;
//! let model = adversarial_training(&data, &config, Seed::new(1), &mut |_| {}).unwrap();
//! # let _ = model;
//! ```

#![warn(missing_docs)]

mod error;

mod adversarial;
mod augmented;

pub use adversarial::{AdversarialTraining, adversarial_training};
pub use augmented::{AugmentedTraining, augmented_training};
pub use error::MitigationError;
