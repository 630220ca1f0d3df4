//! Stable output types of stressor: the JSON report and the process exit codes.
//!
//! Everything a user or a CI job parses lives here, in a crate that depends on nothing else of
//! stressor: [`Report`] (what `stressor run --format json` writes, with a committed JSON Schema at
//! `docs/report.schema.json`) and [`ExitCode`] / [`exit_code`] (what the `stressor` binary exits
//! with).
//!
//! # Stability policy
//!
//! The report carries a [`format_version`](Report::format_version) of the form
//! `MAJOR.MINOR`, currently [`FORMAT_VERSION`]. It follows the reader/writer rules of
//! `nextest-metadata`:
//!
//! - An *additive* change bumps the minor version: a new optional field (an `Option` or a field
//!   with a default, so older files still read), a new enum variant, a new metric name. Readers
//!   must ignore fields they do not know (these types do) and tolerate unknown enum values (these
//!   types read them as an `Unknown` variant).
//! - A *breaking* change bumps the major version: removing or renaming a field, changing a type
//!   or a unit, changing what a value means.
//! - A reader built for major version `N` rejects reports of any other major version.
//!
//! Every type is `#[non_exhaustive]`, so adding a field is not a breaking change for Rust users
//! either: build values with the `new` constructors and then set the public fields.
//!
//! Floating-point values that are not numbers (an accuracy over zero samples) are written as
//! JSON `null` and read back as NaN, because JSON has no NaN.
//!
//! Timing fields ([`RunSection::started_at`], [`RunSection::duration_ms`],
//! [`Step::duration_ms`], systems timelines and the `retrain_wall_ms…` metrics of drift steps)
//! are the only ones that differ between two runs of the same scenario
//! with the same seed; [`Report::redact_timings`] clears them.
//!
//! Non-goals: producing reports (that is `stressor-report`) and reading scenarios.
//!
//! # Example
//!
//! ```
//! use stressor_schema::{DataSection, Report, RunSection, TargetSection, Verdict};
//! let run = RunSection::new("smoke", "scenarios/smoke.toml", 42, Verdict::Pass);
//! let report = Report::new(
//!     "0.1.0",
//!     run,
//!     TargetSection::new("fashion-cnn", "builtin"),
//!     DataSection::new("fashion-mnist/test", 1000),
//! );
//! assert_eq!(report.format_version, stressor_schema::FORMAT_VERSION);
//! assert_eq!(stressor_schema::ExitCode::GATES_FAILED, 1);
//! ```

mod chat;
pub mod exit_code;
mod float;
mod report;
mod wargame;

pub use chat::{
    ChatExample, ChatExamples, ChatSecond, ChatbotDetail, DetectorScore, HandoffPolicy,
    ShadowDecision,
};
pub use exit_code::ExitCode;
pub use report::{
    BreakerTransition, Calibration, ClassAccuracy, Comparison, ConfusionGrowth, DataSection, Dial,
    DriftEvent, DriftStep, DriftTimeline, Exemplar, FaultImpact, GateBound, GateResult, Interval,
    IntervalMethod, Metric, Point, Recovery, RecsysBucket, RecsysTimeline, ReliabilityBin, Report,
    RunSection, Step, StepKind, TargetSection, Timeline, TimelineSecond, TimelineWindow, Verdict,
    Warning,
};
pub use wargame::{
    AliasMove, EntryKind, ImpactRow, Incident, Side, WargameDetail, WargameEntry, WargameSeries,
};

/// The report format version this crate writes (`MAJOR.MINOR`).
pub const FORMAT_VERSION: &str = "1.6";

/// The JSON Schema of [`Report`], as committed at `docs/report.schema.json`.
///
/// # Examples
///
/// ```
/// let schema = stressor_schema::report_schema();
/// assert_eq!(schema.get("title").and_then(|t| t.as_str()), Some("Report"));
/// ```
pub fn report_schema() -> schemars::Schema {
    schemars::schema_for!(Report)
}
