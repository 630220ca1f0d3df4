//! Process exit codes of the `stressor` binary.
//!
//! They are part of the stable interface: scripts and CI jobs branch on them. The constants
//! exist twice with the same values, as free constants here (`exit_code::PASS`) and as
//! associated constants of [`ExitCode`] (`ExitCode::PASS`), in the style of `nextest-metadata`.
//! A broken pipe on stdout exits with [`PASS`].
//!
//! | Code | Constant | Meaning |
//! |---|---|---|
//! | 0 | [`PASS`] | the run finished and every gate held |
//! | 1 | [`GATES_FAILED`] | the run finished and at least one gate failed |
//! | 2 | [`USAGE`] | bad command line or scenario; nothing ran |
//! | 3 | [`TARGET_UNUSABLE`] | the model or the data could not be used |
//! | 101 | [`BUG`] | an internal error (a panic); please report it |

/// The run finished and every gate held.
pub const PASS: i32 = 0;
/// The run finished and at least one gate failed.
pub const GATES_FAILED: i32 = 1;
/// The command line or the scenario is invalid (parse error, unknown option, a plan that cannot
/// be resolved); nothing was run.
pub const USAGE: i32 = 2;
/// The target cannot be used: the model cannot be loaded or reached, or the data cannot be read
/// or does not fit the model.
pub const TARGET_UNUSABLE: i32 = 3;
/// An internal error (a panic), the same code Rust uses for panics.
pub const BUG: i32 = 101;

/// The exit codes of the `stressor` binary, as associated constants (see the [module
/// docs](self) for the table).
///
/// # Examples
///
/// ```
/// use stressor_schema::{ExitCode, exit_code};
/// assert_eq!(ExitCode::GATES_FAILED, exit_code::GATES_FAILED);
/// assert_eq!(ExitCode::describe(ExitCode::GATES_FAILED), Some("at least one gate failed"));
/// assert_eq!(ExitCode::describe(42), None);
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ExitCode {}

impl ExitCode {
    /// The run finished and every gate held.
    pub const PASS: i32 = PASS;
    /// The run finished and at least one gate failed.
    pub const GATES_FAILED: i32 = GATES_FAILED;
    /// The command line or the scenario is invalid; nothing was run.
    pub const USAGE: i32 = USAGE;
    /// The model or the data could not be used.
    pub const TARGET_UNUSABLE: i32 = TARGET_UNUSABLE;
    /// An internal error (a panic).
    pub const BUG: i32 = BUG;

    /// A short description of `code`, or `None` for a code `stressor` does not use.
    pub fn describe(code: i32) -> Option<&'static str> {
        match code {
            PASS => Some("every gate held"),
            GATES_FAILED => Some("at least one gate failed"),
            USAGE => Some("invalid usage or scenario"),
            TARGET_UNUSABLE => Some("the model or the data could not be used"),
            BUG => Some("internal error"),
            _ => None,
        }
    }
}
