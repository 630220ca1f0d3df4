//! The summary around the families' steps: the run's header, unfinished steps, gates,
//! warnings and the verdict; and the dispatch of each step to its family.

use std::io::{self, Write};

use stressor_core::{StepKind, Verdict};

use super::layout::plain;
use super::{chatbot, drift, recsys, system, vision, wargame};
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
        match step.info.kind {
            StepKind::System => system::write_step(record, step, &mut out)?,
            StepKind::Drift => drift::write_step(record, step, &mut out)?,
            StepKind::Recommender => recsys::write_step(record, step, &mut out)?,
            StepKind::Chatbot => chatbot::write_step(record, step, &mut out)?,
            StepKind::WarGame => wargame::write_step(record, step, &mut out)?,
            _ => vision::write_step(step, &mut out)?,
        }
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

const GREEN: &str = "\u{1b}[1;32m";
const RED: &str = "\u{1b}[1;31m";
const YELLOW: &str = "\u{1b}[1;33m";

fn paint(text: &str, colour: &str, config: &SummaryConfig) -> String {
    if config.colour { format!("{colour}{text}\u{1b}[0m") } else { text.to_owned() }
}
