//! Integration tests of stressor-tabular: reading tables, and the models against scikit-learn.

#![expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]

mod fraud;
mod models;
mod tables;
