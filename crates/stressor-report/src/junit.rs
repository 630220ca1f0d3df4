//! JUnit XML for CI dashboards: one test suite per run, one test case per step and per gate.
//!
//! Step test cases (class name `<scenario>.steps`) pass when the step ran and are errors when it
//! started but never finished. Gate test cases (class name `<scenario>.gates`, name = gate id)
//! fail with the observed value, its interval and the threshold.

use std::io::Write;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use stressor_core::GateOutcome;

use crate::{Error, RunRecord, number};

/// Converts a record to a `quick-junit` report.
pub fn to_report(record: &RunRecord) -> Report {
    let info = &record.info;
    let mut suite = TestSuite::new(info.scenario_name.as_str());
    suite.add_properties([
        Property::new("seed", info.seed.to_string()),
        Property::new("scenario_source", info.scenario_source.as_str()),
        Property::new("target", format!("{} ({})", info.target_name, info.target_kind)),
        Property::new("data", format!("{} n={}", info.data_name, info.n_samples)),
        Property::new("stressor_version", info.stressor_version.as_str()),
    ]);
    let steps_class = format!("{}.steps", info.scenario_name);
    let gates_class = format!("{}.gates", info.scenario_name);

    for step in &record.steps {
        let mut case = TestCase::new(step.info.id.as_str(), TestCaseStatus::success());
        case.set_classname(steps_class.as_str()).set_time(step.elapsed);
        suite.add_test_case(case);
    }
    for step in &record.unfinished_steps {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message("step started but did not finish").set_type("unfinished");
        let mut case = TestCase::new(step.id.as_str(), status);
        case.set_classname(steps_class.as_str());
        suite.add_test_case(case);
    }
    for outcome in &record.gates {
        let status = if outcome.passed {
            TestCaseStatus::success()
        } else {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_message(gate_message(record, outcome)).set_type("gate");
            status
        };
        let mut case = TestCase::new(outcome.gate.id.as_str(), status);
        case.set_classname(gates_class.as_str());
        case.add_property(Property::new("observed", number::gate_observation(record, outcome)));
        suite.add_test_case(case);
    }

    let mut report = Report::new("stressor");
    if let Some(elapsed) = record.elapsed {
        suite.set_time(elapsed);
        report.set_time(elapsed);
    }
    report.add_test_suite(suite);
    report
}

/// Writes the record as JUnit XML.
///
/// # Errors
///
/// When writing to `out` fails.
pub fn write(record: &RunRecord, out: impl Write) -> Result<(), Error> {
    to_report(record).serialize(out)?;
    Ok(())
}

/// The record as JUnit XML.
///
/// # Examples
///
/// ```
/// # let info = stressor_core::RunInfo { scenario_name: "smoke".into(),
/// #     scenario_source: "smoke.toml".into(), seed: 42, target_name: "cnn".into(),
/// #     target_kind: "builtin".into(), input_shape: vec![1, 28, 28],
/// #     class_names: vec!["a".into(), "b".into()], data_name: "d".into(), n_samples: 10,
/// #     stressor_version: "0.1.0".into() };
/// let record = stressor_report::RunRecord::new(info);
/// let xml = stressor_report::junit::to_string(&record)?;
/// assert!(xml.contains("<testsuite name=\"smoke\""));
/// # Ok::<(), stressor_report::Error>(())
/// ```
///
/// # Errors
///
/// When the XML cannot be serialised.
pub fn to_string(record: &RunRecord) -> Result<String, Error> {
    Ok(to_report(record).to_string()?)
}

/// `observed 0.120 [0.100, 0.140] at epsilon=0.0310, required >= 0.300`.
fn gate_message(record: &RunRecord, outcome: &GateOutcome) -> String {
    let condition = number::gate_condition(&outcome.gate);
    format!("{}, required {condition}", number::gate_observation(record, outcome))
}
