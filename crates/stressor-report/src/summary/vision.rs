//! The vision family's steps: the steady state and other single points as one line of metrics,
//! sweeps (attack, corruption, lighting) as one row per dial value, comparisons (mitigations,
//! transfer matrices) as one row per metric, and summaries as one row per figure.

use std::io::{self, Write};

use stressor_core::{StepKind, StepResult};

use super::layout::{plain, write_heading, write_table};
use crate::number;

/// Writes vision step `step`.
pub(super) fn write_step(step: &StepResult, out: &mut impl Write) -> io::Result<()> {
    let info = &step.info;
    let sweeps =
        info.kind == StepKind::Attack || step.points.iter().any(|point| point.dial_value.is_some());
    if let Some((columns, rows)) = number::comparison(step) {
        writeln!(out, "{} ({})", plain(&info.id), plain(&info.description))?;
        let mut table = vec![
            std::iter::once("metric".to_owned())
                .chain(columns.iter().map(|c| plain(c)))
                .collect::<Vec<_>>(),
        ];
        for row in rows {
            let name = number::row_metric(row);
            let mut line = vec![plain(&number::row_label(row))];
            for column in &columns {
                line.push(match number::comparison_cell(step, column, row) {
                    Some(estimate) if *column == "delta" => {
                        let sign = if estimate.value > 0.0 { "+" } else { "" };
                        format!("{sign}{}", number::estimate_value(name, estimate))
                    }
                    Some(estimate) => number::estimate(name, estimate),
                    None => "-".to_owned(),
                });
            }
            table.push(line);
        }
        return write_table(&table, out);
    }
    if info.kind == StepKind::Summary {
        writeln!(out, "{} ({})", plain(&info.id), plain(&info.description))?;
        let rows: Vec<Vec<String>> = step
            .points
            .iter()
            .flat_map(|point| &point.metrics)
            .map(|m| vec![plain(&m.name), number::estimate(&m.name, &m.estimate)])
            .collect();
        return write_table(&rows, out);
    }
    if !sweeps {
        for point in &step.points {
            let line = |include: &dyn Fn(&str) -> bool| -> Vec<String> {
                point
                    .metrics
                    .iter()
                    .filter(|m| include(&m.name))
                    .map(|m| {
                        let text = number::estimate(&m.name, &m.estimate);
                        format!("{} {text} n={}", plain(&m.name), m.estimate.n)
                    })
                    .collect()
            };
            let label = match info.kind {
                StepKind::SteadyState => "steady state".to_owned(),
                _ => plain(&info.id),
            };
            writeln!(out, "{label}  {}", line(&|name| !number::is_calibration(name)).join("  "))?;
            let calibration = line(&|name| TERMINAL_CALIBRATION.contains(&name));
            if !calibration.is_empty() {
                writeln!(out, "  calibration  {}", calibration.join("  "))?;
            }
        }
        return Ok(());
    }

    write_heading(step, out)?;
    // The terminal shows the headline metrics; medians and clean accuracy are in the reports.
    let names: Vec<&str> = number::metric_names(&step.points)
        .into_iter()
        .filter(|name| *name != "clean_accuracy" && !name.ends_with("_median"))
        .filter(|name| !number::is_calibration(name) || TERMINAL_SWEEP_CALIBRATION.contains(name))
        .collect();
    let dial = match info.dial_name.as_deref() {
        Some("epsilon") | None => "ε",
        Some(name) => name,
    };
    let mut header = vec![plain(dial)];
    header.extend(names.iter().map(|name| plain(number::metric_label(name))));
    let mut rows = vec![header];
    for point in &step.points {
        let mut row = vec![point.dial_value.map_or_else(|| "-".to_owned(), number::dial)];
        for name in &names {
            let cell = match point.metric(name) {
                Some(estimate) if matches!(*name, "robust_accuracy" | "accuracy") => {
                    number::estimate(name, estimate)
                }
                Some(estimate) => number::estimate_value(name, estimate),
                None => "-".to_owned(),
            };
            row.push(cell);
        }
        rows.push(row);
    }
    write_table(&rows, out)
}

/// Calibration metrics the terminal shows for the steady state; the rest are in the reports.
const TERMINAL_CALIBRATION: &[&str] =
    &["ece", "brier", "nll", "temperature", "ece_scaled", "conformal_coverage", "fallback_rate"];
/// Calibration metrics the terminal shows per dial value.
const TERMINAL_SWEEP_CALIBRATION: &[&str] = &["ece", "fallback_rate"];
