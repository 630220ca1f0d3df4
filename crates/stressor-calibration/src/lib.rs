//! Uncertainty and calibration metrics for stressor.
//!
//! A model under stress can stay accurate and still become dangerous by being *confidently*
//! wrong. This crate measures how far a classifier's probabilities can be trusted and what
//! can be done about it:
//!
//! - calibration: [`reliability`] diagrams, [`expected_calibration_error`],
//!   [`maximum_calibration_error`], [`confidence_histogram`];
//! - proper scores: [`brier_score`], [`negative_log_likelihood`];
//! - ranking of errors: [`auroc`], [`risk_coverage`] (selective prediction, AURC);
//! - handing queries to a human: [`handoff_threshold`] certifies a confidence threshold whose
//!   selective risk is at most α with probability 1 − δ (Learn-then-Test, exact
//!   [`binomial_cdf`] p-values); [`selective_risk`] measures any fixed threshold;
//! - out-of-distribution detection: [`ood_auroc`], [`fpr_at_tpr`], [`energy_score`], with
//!   intervals in [`summarize_ood`];
//! - repairs: [`fit_temperature`] with [`softmax`], and [`Conformal`] prediction sets with a
//!   coverage guarantee;
//! - [`summarize`]: every metric at once as [`Estimate`](stressor_core::Estimate)s with seeded
//!   bootstrap intervals, in a [`CalibrationSummary`].
//!
//! Inputs are row-major `f32` probabilities of shape `[n, k]` (rows sum to 1) with `u32`
//! labels; convert logits with [`softmax`]. Metrics of invalid input (wrong shape, a label
//! `≥ k`, a probability that is NaN or outside [0, 1]) and of no samples are NaN, never a
//! panic; [`check_probabilities`] says what is wrong. Fits return a [`CalibrationError`].
//! The metrics match scikit-learn 1.9.1 and an independent numpy implementation to 1e-9 (see
//! `tests/fixtures/make_fixtures.py`).
//!
//! Non-goals: computing model outputs, IO, calibration of regression models, classwise or
//! kernel calibration errors.
//!
//! ```
//! use stressor_calibration::{
//!     Binning, Conformal, expected_calibration_error, fit_temperature, softmax,
//! };
//! let logits = [3.0, 0.0, 0.0, 3.0, 3.0, 0.0, 0.0, 3.0];
//! let labels = [0, 1, 1, 1];
//! let probs = softmax(&logits, 2, 1.0);
//! let ece = expected_calibration_error(&probs, 2, &labels, 15, Binning::EqualWidth);
//! assert!(ece > 0.2); // confidence 0.95, accuracy 0.75
//! let t = fit_temperature(&logits, 2, &labels).unwrap();
//! let calibrated = softmax(&logits, 2, t);
//! assert!(expected_calibration_error(&calibrated, 2, &labels, 15, Binning::EqualWidth) < 1e-6);
//! let sets = Conformal::fit(&calibrated, 2, &labels, 0.2).unwrap();
//! assert!(sets.coverage(&calibrated, 2, &labels) >= 0.8);
//! ```

#![warn(missing_docs)]

mod binomial;
mod conformal;
mod error;
mod input;
mod ood;
mod ranking;
mod reliability;
mod scoring;
mod selective;
mod summary;
mod temperature;

pub use binomial::binomial_cdf;
pub use conformal::Conformal;
pub use error::CalibrationError;
pub use input::{check_probabilities, softmax};
pub use ood::{OodSummary, energy_score, fpr_at_tpr, ood_auroc, summarize_ood};
pub use ranking::{RiskCoverage, auroc, risk_coverage};
pub use reliability::{
    Binning, ReliabilityBin, confidence_histogram, expected_calibration_error,
    maximum_calibration_error, reliability, reliability_of,
};
pub use scoring::{brier_score, negative_log_likelihood};
pub use selective::{Handoff, HandoffConfig, SelectiveRisk, handoff_threshold, selective_risk};
pub use summary::{CalibrationSummary, LEVEL, SummaryConfig, summarize};
pub use temperature::{MAX_TEMPERATURE, MIN_TEMPERATURE, fit_temperature};
