//! The terminal summary: plain text that reads without colour.
//!
//! ```text
//! stressor · vision-adversarial · seed 42
//! target  fashion-cnn (builtin)   data  fashion-mnist/test  n=1000
//! steady state  clean_accuracy 0.912 [0.893, 0.928] n=1000
//! step pgd-linf (PGD L∞, 10 steps)
//!   ε        robust acc            success
//!   0.0100   0.612 [0.581, 0.642]  0.329
//! gates
//!   PASS  steady clean_accuracy >= 0.850     observed 0.912 [0.893, 0.928]
//!   FAIL  pgd-linf robust_accuracy >= 0.300  observed 0.120 [0.100, 0.140] at epsilon=0.0310
//! verdict FAIL (1 of 2 gates failed)
//! ```

use std::io::{self, Write};

use stressor_core::{StepKind, StepResult, Verdict};

use crate::{RunRecord, number};

/// How the summary is written.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SummaryConfig {
    /// Colour the verdict and the gate labels with ANSI escapes. Off by default; the CLI turns
    /// it on for terminals unless `NO_COLOR` is set.
    pub colour: bool,
}

impl SummaryConfig {
    /// A configuration with colour on or off.
    pub fn with_colour(colour: bool) -> SummaryConfig {
        SummaryConfig { colour }
    }
}

/// Writes the summary of `record` to `out`.
///
/// # Errors
///
/// When writing to `out` fails.
pub fn write(record: &RunRecord, config: &SummaryConfig, mut out: impl Write) -> io::Result<()> {
    let info = &record.info;
    writeln!(out, "stressor · {} · seed {}", plain(&info.scenario_name), info.seed)?;
    writeln!(
        out,
        "target  {} ({})   data  {}  n={}",
        plain(&info.target_name),
        plain(&info.target_kind),
        plain(&info.data_name),
        info.n_samples
    )?;
    // A mitigated model's steps are in the HTML and JSON reports; the terminal shows the
    // comparison.
    for step in record.steps.iter().filter(|step| !number::is_mitigated(record, step)) {
        write_step(step, &mut out)?;
    }
    for step in &record.unfinished_steps {
        writeln!(out, "step {} did not finish", plain(&step.id))?;
    }
    write_gates(record, config, &mut out)?;
    if !record.warnings.is_empty() {
        writeln!(out, "warnings")?;
        for warning in &record.warnings {
            let step = warning.step_id.as_deref().unwrap_or("run");
            let (code, message) = (plain(&warning.code), plain(&warning.message));
            writeln!(out, "  {}  {code}  {message}", plain(step))?;
        }
    }
    write_verdict(record, config, &mut out)
}

/// The summary as a string, without colour.
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
/// let text = stressor_report::summary::to_string(&record);
/// assert!(text.starts_with("stressor · smoke · seed 42\n"));
/// assert!(text.ends_with("verdict INCOMPLETE (the run did not finish)\n"));
/// ```
pub fn to_string(record: &RunRecord) -> String {
    let mut out = Vec::new();
    write(record, &SummaryConfig::default(), &mut out).expect("writing to a Vec never fails");
    String::from_utf8(out).expect("the summary is built from strings, so it is UTF-8")
}

fn write_step(step: &StepResult, out: &mut impl Write) -> io::Result<()> {
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
                        format!("{sign}{}", number::value(name, estimate.value))
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

    if info.description.is_empty() {
        writeln!(out, "step {}", plain(&info.id))?;
    } else {
        writeln!(out, "step {} ({})", plain(&info.id), plain(&info.description))?;
    }
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
                Some(estimate) => number::value(name, estimate.value),
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

fn write_table(rows: &[Vec<String>], out: &mut impl Write) -> io::Result<()> {
    let n_columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n_columns)
        .map(|column| {
            rows.iter().filter_map(|row| row.get(column)).map(|c| c.chars().count()).max()
        })
        .map(|width| width.unwrap_or(0))
        .collect();
    for row in rows {
        let mut line = String::from("  ");
        for (column, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if column + 1 < row.len() {
                let width = widths.get(column).copied().unwrap_or(0);
                line.push_str(&" ".repeat(width - cell.chars().count() + 2));
            }
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn write_gates(record: &RunRecord, config: &SummaryConfig, out: &mut impl Write) -> io::Result<()> {
    if record.gates.is_empty() {
        return Ok(());
    }
    writeln!(out, "gates")?;
    let conditions: Vec<String> = record
        .gates
        .iter()
        .map(|outcome| {
            let gate = &outcome.gate;
            format!(
                "{} {} {}",
                plain(&gate.step_id),
                plain(&gate.metric),
                number::gate_condition(gate)
            )
        })
        .collect();
    let width = conditions.iter().map(|c| c.chars().count()).max().unwrap_or(0);
    for (outcome, condition) in record.gates.iter().zip(&conditions) {
        let label =
            if outcome.passed { paint("PASS", GREEN, config) } else { paint("FAIL", RED, config) };
        let padding = " ".repeat(width - condition.chars().count() + 3);
        let observation = plain(&number::gate_observation(record, outcome));
        writeln!(out, "  {label}  {condition}{padding}{observation}")?;
    }
    Ok(())
}

fn write_verdict(
    record: &RunRecord,
    config: &SummaryConfig,
    out: &mut impl Write,
) -> io::Result<()> {
    let n_gates = record.gates.len();
    let n_failed = record.n_gates_failed();
    let (word, colour, detail) = match record.verdict {
        Some(Verdict::Pass) if n_gates == 0 => ("PASS", GREEN, "no gates".to_owned()),
        Some(Verdict::Pass) => ("PASS", GREEN, format!("{n_gates} of {n_gates} gates held")),
        Some(Verdict::Fail) => ("FAIL", RED, format!("{n_failed} of {n_gates} gates failed")),
        None => ("INCOMPLETE", YELLOW, "the run did not finish".to_owned()),
    };
    writeln!(out, "verdict {} ({detail})", paint(word, colour, config))
}

/// `text` with control characters escaped, so names from the scenario, the model or the data
/// cannot move the cursor or recolour the terminal.
fn plain(text: &str) -> String {
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| if c.is_control() { c.escape_unicode().to_string() } else { c.to_string() })
            .collect()
    } else {
        text.to_owned()
    }
}

const GREEN: &str = "\u{1b}[1;32m";
const RED: &str = "\u{1b}[1;31m";
const YELLOW: &str = "\u{1b}[1;33m";

fn paint(text: &str, colour: &str, config: &SummaryConfig) -> String {
    if config.colour { format!("{colour}{text}\u{1b}[0m") } else { text.to_owned() }
}
