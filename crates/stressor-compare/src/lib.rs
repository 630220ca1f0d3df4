//! Two stressor reports of the same scenario side by side, for CI: `stressor compare BASE NEW`.
//!
//! [`read_report`] reads a report's JSON, checking its format version before its shape, so a
//! report of another major version is named as such instead of failing on a missing field.
//! [`compare`] pairs the metrics of a BASE and a NEW report by step id, dial value (within a
//! relative [`DIAL_TOLERANCE`]) and metric name, lists those found in one report only, and gives
//! for each pair the difference NEW − BASE with a 95 % interval ([`Delta`]) and whether that
//! interval excludes 0:
//!
//! - proportions (a Wilson interval, a value in [0, 1], n > 0 on both sides) get Newcombe's hybrid
//!   score interval from the counts recovered as `round(value · n)`
//!   ([`stressor_core::Estimate::proportion_difference`]);
//! - other metrics with an interval on both sides get a normal approximation: each side's
//!   standard error is its interval's half-width divided by the normal quantile of its level,
//!   and the difference's standard error is their root sum of squares. This assumes roughly
//!   symmetric intervals (a skewed bootstrap interval is treated as its half-width);
//! - without an interval on either side there is no interval and significance is unknown.
//!
//! Both methods treat the runs as independent samples. Two runs with the same seed evaluate the
//! same samples, so their differences are paired and these intervals are conservative (too
//! wide); runs with different seeds are independent, and [`compare`] warns that differences then
//! include the sampling noise of the draw.
//!
//! [`DeltaGate`]s (`delta:robust_accuracy.pgd-linf@8/255 > -0.02`) gate on the point difference:
//! a CI pipeline fails when a change makes the model less robust, not only when it crosses an
//! absolute line. A gate whose metric is missing from either report fails.
//!
//! [`to_text`] and [`to_markdown`] render a [`Comparison`]; it is also `Serialize` (the output
//! of `stressor compare --format json`).
//!
//! Non-goals: comparing the family details of a step (timelines, war-game incidents, …) beyond
//! counting the steps whose details differ; reading files (the caller passes the text).
//!
//! # Examples
//!
//! ```
//! use stressor_compare::{CompareConfig, DeltaGate, compare};
//! use stressor_schema::{
//!     DataSection, Interval, IntervalMethod, Metric, Point, Report, RunSection, Step, StepKind,
//!     TargetSection, Verdict,
//! };
//!
//! let report = |accuracy: f64| {
//!     let mut report = Report::new(
//!         "0.1.0",
//!         RunSection::new("vision", "vision.toml", 1, Verdict::Pass),
//!         TargetSection::new("cnn", "builtin"),
//!         DataSection::new("fashion-mnist", 400),
//!     );
//!     let mut step = Step::new("pgd", StepKind::Attack, "PGD");
//!     let mut point = Point::new(Some(8.0 / 255.0));
//!     let ci = Interval::new(accuracy - 0.05, accuracy + 0.05, 0.95, IntervalMethod::Wilson);
//!     point.metrics.insert("robust_accuracy".into(), Metric::new(accuracy, 400, Some(ci)));
//!     step.points.push(point);
//!     report.steps.push(step);
//!     report
//! };
//! let gate: DeltaGate = "delta:robust_accuracy.pgd@8/255 > -0.02".parse()?;
//! let comparison = compare(&report(0.5), &report(0.4), &[gate], &CompareConfig::default())?;
//! assert!(!comparison.passed);
//! assert_eq!(comparison.rows[0].delta.significant, Some(true));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod comparison;
mod delta;
mod dial;
mod gate;
mod read;
mod render;
#[cfg(test)]
mod test_reports;

pub use comparison::{
    CompareConfig, CompareError, Comparison, Counts, MetricKey, ReportSummary, Row, RowFilter,
    RowGate, compare,
};
pub use delta::{Delta, DeltaMethod, difference};
pub use dial::{DIAL_TOLERANCE, dial_matches, format_dial, parse_number};
pub use gate::{DeltaGate, GateOp, GateOutcome, GateSyntaxError};
pub use read::{ReadError, SUPPORTED_MAJOR, read_report};
pub use render::{escape_markdown, to_markdown, to_text};
