//! Test fixtures for stressor; a dev-dependency only, never published.
//!
//! Main types: [`LinearModel`] (softmax regression, logits `W·x + b`) and [`MlpModel`] (one
//! `tanh` hidden layer), both implementing [`Model`](stressor_model::Model) and
//! [`Differentiable`](stressor_model::Differentiable) with exact analytic gradients, so attack
//! tests can check results against closed forms. [`gradient_error`] compares a model's gradient
//! with central finite differences. [`any_json`] is arbitrary JSON for the property tests of
//! parsers of outside input.
//!
//! Non-goals: speed, real data, anything a release build needs.
//!
//! ```
//! use stressor_core::{Batch, Bounds};
//! use stressor_model::Model;
//! use stressor_test_support::LinearModel;
//! // Class 1 when x₀ − x₁ > 0.
//! let model = LinearModel::binary(vec![1.0, -1.0], 0.0, Bounds::UNIT);
//! let scores = model.predict(&Batch::new(vec![0.9, 0.1], vec![1, 2]).unwrap()).unwrap();
//! assert_eq!(scores.argmax(0), 1);
//! ```

mod gradient_check;
mod json;
mod linear;
mod mlp;

pub use gradient_check::gradient_error;
pub use json::any_json;
pub use linear::LinearModel;
pub use mlp::MlpModel;
