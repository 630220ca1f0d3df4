//! The drift family's steps, one per retraining policy: written together at the first drift
//! step as each policy's heading and then one table with a row per policy, so the policies
//! compare at a glance.

use std::io::{self, Write};

use stressor_core::{StepKind, StepResult};

use super::layout::{plain, write_heading, write_table};
use crate::{RunRecord, number};

/// Writes every drift step of `record` when `step` is the first of them, nothing otherwise.
pub(super) fn write_step(
    record: &RunRecord,
    step: &StepResult,
    out: &mut impl Write,
) -> io::Result<()> {
    let policies: Vec<&StepResult> =
        record.steps.iter().filter(|s| s.info.kind == StepKind::Drift).collect();
    if policies.first().is_none_or(|first| first.info.id != step.info.id) {
        return Ok(());
    }
    for policy in &policies {
        write_heading(policy, out)?;
    }
    // The terminal shows what each policy cost; every metric is in the reports.
    let mut header = vec!["policy".to_owned()];
    header.extend(TERMINAL_DRIFT.iter().map(|(_, label)| (*label).to_owned()));
    let mut rows = vec![header];
    for policy in &policies {
        let mut row = vec![plain(&policy.info.id)];
        row.extend(TERMINAL_DRIFT.iter().map(|(name, _)| {
            policy
                .points
                .iter()
                .find_map(|point| point.metric(name))
                .map_or_else(|| "-".to_owned(), |estimate| number::estimate_value(name, estimate))
        }));
        rows.push(row);
    }
    write_table(&rows, out)?;
    writeln!(
        out,
        "  (detect and recover in stream steps; acc lost is the area below the pre-drift level)"
    )
}

/// The metrics a drift step shows in the terminal, in order, with short labels.
const TERMINAL_DRIFT: [(&str, &str); 9] = [
    ("pre_drift_accuracy", "pre-drift acc"),
    ("worst_accuracy", "worst acc"),
    ("final_accuracy", "final acc"),
    ("final_ece", "final ECE"),
    ("time_to_detect_steps", "detect"),
    ("false_alarms", "false alarms"),
    ("retrains", "retrains"),
    ("time_to_recover_steps", "recover"),
    ("accuracy_lost", "acc lost"),
];
