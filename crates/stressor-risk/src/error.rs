//! What can go wrong reading reports and the business context.

use std::path::PathBuf;

/// Why risk documents could not be made. [`RiskError::exit_code`] maps each to the documented
/// exit code: a bad context file, contradictory context or an unwritable output is a usage
/// error (2), a report that cannot be used is an unusable input (3).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RiskError {
    /// The context file is not valid TOML or has a field of the wrong type or an unknown key.
    #[error("{}:{line}:{column}: {message}", path.display())]
    ContextParse {
        /// The context file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The context file is well-formed but contradicts itself (an RTO above the maximum
    /// tolerable downtime, two processes with one name, a share above 1).
    #[error("{}: {field}: {message}", path.display())]
    ContextInvalid {
        /// The context file.
        path: PathBuf,
        /// The field, as a dotted path (`process[1].rto`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A report could not be read or parsed.
    #[error("{}: {message}", path.display())]
    Report {
        /// The report file.
        path: PathBuf,
        /// What is wrong (with line and column for JSON errors).
        message: String,
    },
    /// A report of a format major version this version cannot read.
    #[error(
        "{}: report format version {version} is not supported (this stressor reads 1.x; \
         regenerate the report or upgrade stressor)",
        path.display()
    )]
    ReportVersion {
        /// The report file.
        path: PathBuf,
        /// The version the file declares.
        version: String,
    },
    /// No report was given.
    #[error("no reports given: pass at least one report.json")]
    NoReports,
    /// Writing an output failed.
    #[error("{}: {source}", path.display())]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
}

impl RiskError {
    /// The process exit code for this error (see `stressor_schema::exit_code`).
    pub fn exit_code(&self) -> i32 {
        use stressor_schema::exit_code::{TARGET_UNUSABLE, USAGE};
        match self {
            RiskError::ContextParse { .. }
            | RiskError::ContextInvalid { .. }
            | RiskError::NoReports => USAGE,
            RiskError::Report { .. }
            | RiskError::ReportVersion { .. }
            | RiskError::Write { .. } => TARGET_UNUSABLE,
        }
    }
}
