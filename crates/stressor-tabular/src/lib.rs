//! Tabular data and models for stressor.
//!
//! - [`Table`]: named numeric and categorical columns from CSV ([`Table::from_csv`]) or
//!   Parquet ([`parquet::read`]); missing values are NaN or empty.
//! - [`Encoder`]: standardised numbers and one-hot categories, fitted on training rows.
//! - Models: [`Logistic`] (L2, Newton; equal to scikit-learn) and [`Boosted`] trees, wrapped
//!   with their encoder in a [`Pipeline`] so a retrain refits both.
//! - Data: [`german_credit`] (vendored), the [`Synthetic`] generator with known truth and
//!   [`fraud`]'s [`FraudStream`], card transactions from a known fraud process.

mod boost;
mod csv_parallel;
mod encode;
pub mod fraud;
mod german;
mod logistic;
mod model;
pub mod parquet;
mod synthetic;
mod table;

pub use boost::{BoostParams, Boosted};
pub use encode::{Encoder, Matrix, labels, mean_and_std};
pub use fraud::{FraudConfig, FraudStream, Transaction};
pub use german::{GERMAN_CREDIT_POSITIVE, GERMAN_CREDIT_TARGET, german_credit};
pub use logistic::Logistic;
pub use model::{ModelSpec, Pipeline, Scorer};
pub use synthetic::{Regime, Synthetic, bayes_accuracy};
pub use table::{Column, Table, for_each_chunk};

use std::path::PathBuf;

/// Why a table cannot be read, or a model cannot be fitted or applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// The file cannot be read or parsed.
    #[error("{}: {message}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong, with the line or row group where there is one.
        message: String,
    },
    /// Columns, rows or settings that do not fit together.
    #[error("{0}")]
    Shape(String),
}
