//! The war game's steps, one per blue team: the team and its scores in one line, one row per
//! inject with whether it was detected and its MTTD and MTTR, and the first impact figures.

use std::io::{self, Write};

use stressor_core::{Estimate, StepResult};

use super::layout::{plain, write_heading, write_table};
use crate::{RunRecord, number};

/// The most impact figures a team shows in the terminal; the reports have them all.
const MAX_IMPACTS: usize = 3;

/// Writes war-game step `step`.
pub(super) fn write_step(
    record: &RunRecord,
    step: &StepResult,
    out: &mut impl Write,
) -> io::Result<()> {
    write_heading(step, out)?;
    let scores: Vec<String> = [("blue_score", "blue score"), ("red_score", "red score")]
        .iter()
        .filter_map(|(name, label)| {
            let estimate = step.points.iter().find_map(|p| p.metric(name))?;
            Some(format!("{label} {}", number::estimate(name, estimate)))
        })
        .collect();
    let Some(detail) = record.wargame_details.iter().find(|d| d.step_id == step.info.id) else {
        if !scores.is_empty() {
            writeln!(out, "  {}", plain(&scores.join("  ")))?;
        }
        return Ok(());
    };
    let mut line = format!(
        "  team {}  {} seed{}  {} of {} clock",
        plain(&detail.team),
        detail.seeds.len(),
        if detail.seeds.len() == 1 { "" } else { "s" },
        number::duration_s(detail.duration_s),
        plain(&detail.clock)
    );
    for score in &scores {
        line.push_str("  ");
        line.push_str(score);
    }
    writeln!(out, "{line}")?;
    if !detail.incidents.is_empty() {
        let mut rows =
            vec![["inject", "model", "detected", "MTTD", "MTTR"].map(str::to_owned).to_vec()];
        for incident in &detail.incidents {
            rows.push(vec![
                plain(&incident.inject),
                plain(&incident.model),
                detected(&incident.detected),
                mean_time(incident.mttd_s.as_ref()),
                mean_time(incident.mttr_s.as_ref()),
            ]);
        }
        write_table(&rows, out)?;
    }
    for row in detail.impact.iter().take(MAX_IMPACTS) {
        let group = if row.group.is_empty() { String::new() } else { format!(" {}", row.group) };
        let ci = row.value.ci.map_or_else(String::new, |ci| {
            format!(" [{}, {}]", number::amount(ci.lower), number::amount(ci.upper))
        });
        writeln!(
            out,
            "  impact {}{} ({})  {}{ci} {}",
            plain(&row.metric),
            plain(&group),
            plain(&row.model),
            number::amount(row.value.value),
            plain(&row.unit)
        )?;
    }
    if detail.impact.len() > MAX_IMPACTS {
        writeln!(
            out,
            "  … {} more impact figures in the reports",
            detail.impact.len() - MAX_IMPACTS
        )?;
    }
    Ok(())
}

/// In how many seeds an inject was detected: `2/3`.
fn detected(share: &Estimate) -> String {
    if share.n == 0 || !share.value.is_finite() {
        return "-".to_owned();
    }
    format!("{:.0}/{}", share.value * share.n as f64, share.n)
}

/// A mean time with its interval (`3.0 min [2.0 min, 4.0 min]`), or `never`.
fn mean_time(estimate: Option<&Estimate>) -> String {
    match estimate {
        Some(e) if e.n > 0 => {
            let ci = e.ci.map_or_else(String::new, |ci| {
                format!(" [{}, {}]", number::duration_s(ci.lower), number::duration_s(ci.upper))
            });
            format!("{}{ci}", number::duration_s(e.value))
        }
        _ => "never".to_owned(),
    }
}
