//! Process exit codes of the `stressor` binary.

/// The exit codes of the `stressor` binary, as constants.
///
/// They are part of the stable interface: scripts and CI jobs branch on them. A broken pipe on
/// stdout exits with [`ExitCode::PASS`].
///
/// | Code | Constant | Meaning |
/// |---|---|---|
/// | 0 | [`PASS`](ExitCode::PASS) | the run finished and every gate held |
/// | 1 | [`GATES_FAILED`](ExitCode::GATES_FAILED) | the run finished and at least one gate failed |
/// | 2 | [`USAGE`](ExitCode::USAGE) | bad command line or scenario; nothing ran |
/// | 3 | [`TARGET_UNUSABLE`](ExitCode::TARGET_UNUSABLE) | the model or the data could not be used |
/// | 101 | [`BUG`](ExitCode::BUG) | an internal error (a panic); please report it |
///
/// # Examples
///
/// ```
/// use stressor_schema::ExitCode;
/// assert_eq!(ExitCode::describe(ExitCode::GATES_FAILED), Some("at least one gate failed"));
/// assert_eq!(ExitCode::describe(42), None);
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ExitCode {}

impl ExitCode {
    /// The run finished and every gate held.
    pub const PASS: i32 = 0;
    /// The run finished and at least one gate failed.
    pub const GATES_FAILED: i32 = 1;
    /// The command line or the scenario is invalid (parse error, unknown option, a plan that
    /// cannot be resolved); nothing was run.
    pub const USAGE: i32 = 2;
    /// The target cannot be used: the model cannot be loaded or reached, or the data cannot be
    /// read or does not fit the model.
    pub const TARGET_UNUSABLE: i32 = 3;
    /// An internal error (a panic), the same code Rust uses for panics.
    pub const BUG: i32 = 101;

    /// A short description of `code`, or `None` for a code `stressor` does not use.
    pub fn describe(code: i32) -> Option<&'static str> {
        match code {
            Self::PASS => Some("every gate held"),
            Self::GATES_FAILED => Some("at least one gate failed"),
            Self::USAGE => Some("invalid usage or scenario"),
            Self::TARGET_UNUSABLE => Some("the model or the data could not be used"),
            Self::BUG => Some("internal error"),
            _ => None,
        }
    }
}
