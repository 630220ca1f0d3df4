//! The reporters' error type.

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The events never announced a run, so there is nothing to report.
    #[error("no run was started: the events contain no `RunStarted`")]
    RunNotStarted,
    /// Writing the output failed.
    #[error("failed to write report")]
    Io(#[from] std::io::Error),
    /// Serialising the JSON report failed.
    #[error("failed to serialise JSON report")]
    Json(#[from] serde_json::Error),
    /// Serialising the JUnit report failed.
    #[error("failed to serialise JUnit report")]
    Junit(#[from] quick_junit::SerializeError),
}
