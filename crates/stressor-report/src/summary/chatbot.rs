//! The chatbot family's steps: one row per dial value with the headline metrics of the first
//! handoff policy; a surge as the systems table; a shadow step's decision; the degradation
//! score as one line.

use std::io::{self, Write};

use stressor_core::StepResult;

use super::layout::{plain, write_heading, write_table};
use super::system;
use crate::{RunRecord, number};

/// The metrics a chatbot step shows in the terminal, in order, with short labels.
const TERMINAL_CHATBOT: [(&str, &str); 8] = [
    ("accuracy", "acc"),
    ("answered_accuracy", "acc answered"),
    ("handoff_rate", "handoff"),
    ("invariance_failure_rate", "INV fail"),
    ("oos_recall", "off-topic→human"),
    ("agreement", "agreement"),
    ("utility", "utility"),
    ("degradation_score", "score"),
];

/// Writes chatbot step `step`.
pub(super) fn write_step(
    record: &RunRecord,
    step: &StepResult,
    out: &mut impl Write,
) -> io::Result<()> {
    if record.timelines.iter().any(|t| t.step_id == step.info.id) {
        return system::write_step(record, step, out);
    }
    write_heading(step, out)?;
    let columns: Vec<(&str, &str)> = TERMINAL_CHATBOT
        .into_iter()
        .filter(|(name, _)| step.points.iter().any(|p| p.metric(name).is_some()))
        .collect();
    if !columns.is_empty() {
        let mut header = Vec::new();
        if let Some(dial) = &step.info.dial_name {
            header.push(plain(dial));
        }
        header.push("n".to_owned());
        header.extend(columns.iter().map(|(_, label)| (*label).to_owned()));
        let mut rows = vec![header];
        for point in &step.points {
            let mut row = Vec::new();
            if step.info.dial_name.is_some() {
                row.push(point.dial_value.map_or_else(|| "-".to_owned(), number::dial));
            }
            let n = columns.iter().find_map(|(name, _)| point.metric(name)).map(|e| e.n);
            row.push(n.map_or_else(|| "-".to_owned(), |n| n.to_string()));
            row.extend(columns.iter().map(|(name, _)| {
                point.metric(name).map_or_else(|| "-".to_owned(), |e| number::estimate(name, e))
            }));
            rows.push(row);
        }
        write_table(&rows, out)?;
    }
    let detail = record.chatbot_details.iter().find(|d| d.step_id == step.info.id);
    if let Some(decision) = detail.and_then(|d| d.decision.as_ref()) {
        let word = if decision.promote { "promote" } else { "hold" };
        writeln!(out, "  decision: {word}")?;
        for reason in &decision.reasons {
            writeln!(out, "    {}", plain(reason))?;
        }
    }
    Ok(())
}
