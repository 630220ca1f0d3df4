//! The system family's steps: one row for the whole run and one per window (the baseline, then
//! each fault and surge window), from the step's metrics and its timeline's windows.

use std::io::{self, Write};

use stressor_core::StepResult;

use super::layout::{plain, write_heading, write_table};
use crate::window::{self, Window};
use crate::{RunRecord, number};

/// A system step: one row for the whole run and one per window (the baseline, then each fault
/// and surge window), then the whole run's tail latency and any metric no row shows.
pub(super) fn write_step(
    record: &RunRecord,
    step: &StepResult,
    out: &mut impl Write,
) -> io::Result<()> {
    write_heading(step, out)?;
    let timeline = record.timelines.iter().find(|t| t.step_id == step.info.id);
    let windows = window::windows(step, timeline);
    // The terminal shows the headline metrics per window; every metric is in the reports.
    let columns: Vec<&str> = TERMINAL_SYSTEM
        .iter()
        .copied()
        .filter(|metric| windows.iter().any(|row| system_cell(row, metric).is_some()))
        .collect();
    let mut header = vec!["window".to_owned()];
    header.extend(columns.iter().map(|metric| window::label(metric).to_owned()));
    let mut rows = vec![header];
    for row in &windows {
        let mut line = vec![plain(row.name.unwrap_or("whole run"))];
        line.extend(
            columns.iter().map(|metric| system_cell(row, metric).unwrap_or_else(|| "-".into())),
        );
        rows.push(line);
    }
    write_table(&rows, out)?;
    if let Some(whole_run) = windows.first() {
        let tail: Vec<String> = ["p90_ms", "p999_ms", "max_ms"]
            .into_iter()
            .filter_map(|metric| {
                let estimate = whole_run.metric(metric)?;
                let label = window::label(metric).trim_end_matches(" ms");
                Some(format!("{label} {} ms", number::estimate_value(metric, estimate)))
            })
            .collect();
        if !tail.is_empty() {
            writeln!(out, "  whole-run latency  {}", tail.join("  "))?;
        }
    }
    let others: Vec<Vec<String>> = window::other_metrics(step)
        .into_iter()
        .map(|m| vec![plain(&m.name), number::estimate(&m.name, &m.estimate)])
        .collect();
    if others.is_empty() { Ok(()) } else { write_table(&others, out) }
}

/// The metrics a system step shows per window in the terminal, in order.
const TERMINAL_SYSTEM: &[&str] =
    &["requests", "p50_ms", "p99_ms", "error_rate", "accuracy", "throughput", "time_to_recover_s"];

/// The text of `row`'s cell for `metric`, `None` when it was not measured there.
fn system_cell(row: &Window<'_>, metric: &str) -> Option<String> {
    match metric {
        "requests" => row.requests().map(|n| n.to_string()),
        "accuracy" => row.metric(metric).map(|estimate| number::estimate(metric, estimate)),
        "time_to_recover_s" => {
            let estimate = row.metric(metric)?;
            let text = if estimate.value.is_finite() {
                format!("{} s", number::estimate_value(metric, estimate))
            } else {
                "not recovered".to_owned()
            };
            Some(if row.is_whole_run() { format!("{text} (worst)") } else { text })
        }
        _ => row.metric(metric).map(|estimate| number::estimate_value(metric, estimate)),
    }
}
