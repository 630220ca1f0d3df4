//! The system under test.
//!
//! A [`Model`] takes a [`Batch`] and returns [`Scores`] (logits or probabilities), one row per
//! sample. Models that can also return the gradient of a function of their logits with respect
//! to their inputs implement [`Differentiable`]; white-box attacks need it, black-box attacks use
//! only [`Model::predict`], so they work on any target, remote ones included.
//!
//! Adapters: the built-in Fashion-MNIST CNN on candle (`builtin`, feature `candle`), and
//! [`FnModel`] (a closure, for tests and toy models). [`Ensemble`] combines several models
//! into one (mean probability, differentiable when its members are, or majority vote).
//! `http` (feature `http`): a model behind an Open Inference Protocol endpoint.
//!
//! Non-goals: knowing about scenarios, reports or terminals.
//!
//! ```
//! use stressor_core::{Batch, Bounds};
//! use stressor_model::{FnModel, Model, ModelInfo};
//! // A two-class model that says "class 1" when the first input is above 0.5.
//! let info = ModelInfo::new("threshold", "fn", vec![1], 2, Bounds::UNIT);
//! let model = FnModel::new(info, |x: &[f32]| vec![0.5, x[0]]);
//! let scores = model.predict(&Batch::new(vec![0.9, 0.1], vec![2, 1]).unwrap()).unwrap();
//! assert_eq!(scores.argmax(0), 1);
//! assert_eq!(scores.argmax(1), 0);
//! ```

mod ensemble;
mod model;
mod scores;

#[cfg(feature = "candle")]
pub mod builtin;
#[cfg(feature = "http")]
pub mod http;

pub use ensemble::{Combine, Ensemble};
pub use model::{Differentiable, FnModel, Model, ModelError, ModelInfo};
pub use scores::{ScoreKind, Scores};
