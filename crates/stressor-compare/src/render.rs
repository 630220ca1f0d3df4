//! A comparison as text (a terminal, a log) and as Markdown (a CI job summary, a PR comment).

use std::fmt::Write as _;

use stressor_schema::Metric;

use crate::comparison::{Comparison, MetricKey, ReportSummary, Row};
use crate::dial::format_dial;

/// The column headings of the table, shared by both renderings.
const HEADINGS: [&str; 9] = [
    "step",
    "dial",
    "metric",
    "base [95% CI]",
    "new [95% CI]",
    "Δ [95% CI]",
    "method",
    "significant",
    "gate",
];

/// The comparison for a terminal: a header, the table with aligned columns, the unpaired
/// metrics and the gates. Reads correctly without colour.
pub fn to_text(comparison: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "stressor compare: {}", verdict(comparison));
    let width = comparison.base.label.chars().count().max(comparison.new.label.chars().count());
    for (side, summary) in [("BASE", &comparison.base), ("NEW ", &comparison.new)] {
        let _ = writeln!(out, "{side} {:<width$}  {}", summary.label, describe(summary));
    }
    let _ = writeln!(out, "{}", counts_line(comparison));
    for warning in &comparison.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    if !comparison.rows.is_empty() {
        out.push('\n');
        let cells: Vec<[String; 9]> = comparison.rows.iter().map(cells).collect();
        let mut widths = HEADINGS.map(|heading| heading.chars().count());
        for row in &cells {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut line = |row: &[String]| {
            let padded: Vec<String> =
                row.iter().zip(widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
            let _ = writeln!(out, "{}", padded.join("  ").trim_end());
        };
        line(&HEADINGS.map(str::to_owned));
        for row in &cells {
            line(row);
        }
    }
    for (label, keys) in [
        (&comparison.base.label, &comparison.only_in_base),
        (&comparison.new.label, &comparison.only_in_new),
    ] {
        if !keys.is_empty() {
            let listed: Vec<String> = keys.iter().map(key_text).collect();
            let _ = writeln!(out, "\nonly in {label}: {}", listed.join(", "));
        }
    }
    if !comparison.steps_with_other_differences.is_empty() {
        let _ = writeln!(
            out,
            "\nsteps whose other results differ (not compared): {}",
            comparison.steps_with_other_differences.join(", ")
        );
    }
    if !comparison.gates.is_empty() {
        let _ = writeln!(out, "\ngates:");
        for gate in &comparison.gates {
            let status = if gate.passed { "held  " } else { "FAILED" };
            let _ = writeln!(out, "  {status}  {}: {}", gate.gate, gate.message);
        }
    }
    out
}

/// The comparison as GitHub-flavoured Markdown: a heading with the verdict, the reports, the
/// gates, the table and the unpaired metrics. Every text that comes from a report or a gate is
/// escaped ([`escape_markdown`]).
pub fn to_markdown(comparison: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### stressor compare: {}\n", verdict(comparison));
    let _ = writeln!(out, "| | report | scenario | seed | format | stressor | verdict |");
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for (side, summary) in [("BASE", &comparison.base), ("NEW", &comparison.new)] {
        let _ = writeln!(
            out,
            "| {side} | {} | {} | {} | {} | {} | {} |",
            escape_markdown(&summary.label),
            escape_markdown(&summary.scenario_name),
            summary.seed,
            escape_markdown(&summary.format_version),
            escape_markdown(&summary.stressor_version),
            verdict_name(summary)
        );
    }
    let _ = writeln!(out, "\n{}", escape_markdown(&counts_line(comparison)));
    for warning in &comparison.warnings {
        let _ = writeln!(out, "\n> **warning:** {}", escape_markdown(warning));
    }
    if !comparison.gates.is_empty() {
        out.push('\n');
        for gate in &comparison.gates {
            let status = if gate.passed { "held" } else { "**FAILED**" };
            let _ = writeln!(
                out,
                "- {status} {}: {}",
                escape_markdown(&gate.gate.text),
                escape_markdown(&gate.message)
            );
        }
    }
    if !comparison.rows.is_empty() {
        let _ = writeln!(out, "\n| {} |", HEADINGS.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(HEADINGS.len()));
        for row in &comparison.rows {
            let mut cells = cells(row).map(|cell| escape_markdown(&cell));
            if row.delta.significant == Some(true) {
                cells[7] = "**yes**".to_owned();
            }
            if row.gates.iter().any(|gate| !gate.passed) {
                cells[8] = format!("**{}**", cells[8]);
            }
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
    }
    for (label, keys) in [
        (&comparison.base.label, &comparison.only_in_base),
        (&comparison.new.label, &comparison.only_in_new),
    ] {
        if !keys.is_empty() {
            let listed: Vec<String> =
                keys.iter().map(|key| escape_markdown(&key_text(key))).collect();
            let _ = writeln!(out, "\nOnly in {}: {}", escape_markdown(label), listed.join(", "));
        }
    }
    if !comparison.steps_with_other_differences.is_empty() {
        let listed: Vec<String> =
            comparison.steps_with_other_differences.iter().map(|id| escape_markdown(id)).collect();
        let _ = writeln!(
            out,
            "\nSteps whose other results differ (not compared): {}",
            listed.join(", ")
        );
    }
    out
}

/// Escapes text for a Markdown table cell: ASCII punctuation that Markdown or a table gives a
/// meaning to (`|`, `*`, `_`, `` ` ``, `[`, `<`, `&`, …) gets a backslash, and line breaks
/// become `<br>`, so a step id or name from a user's scenario cannot break the table, format
/// text or insert HTML.
///
/// # Examples
///
/// ```
/// use stressor_compare::escape_markdown;
/// assert_eq!(escape_markdown("pgd|linf"), r"pgd\|linf");
/// assert_eq!(escape_markdown("a\nb <i>"), r"a<br>b \<i\>");
/// ```
pub fn escape_markdown(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '|' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '~' | '&' | '!' | '$' => {
                escaped.push('\\');
                escaped.push(c);
            }
            '\n' => escaped.push_str("<br>"),
            '\r' => {}
            c => escaped.push(c),
        }
    }
    escaped
}

/// A difference with its sign (`+0.0123`, `-0.0500`), `n/a` for NaN.
pub(crate) fn signed(value: f64) -> String {
    if value.is_nan() {
        return "n/a".to_owned();
    }
    let decimals = decimals(value);
    format!("{value:+.decimals$}")
}

fn verdict(comparison: &Comparison) -> String {
    let failed = comparison.gates.iter().filter(|gate| !gate.passed).count();
    match (comparison.gates.len(), failed) {
        (0, _) => "no gates".to_owned(),
        (total, 0) => format!("PASS ({total} of {total} gates held)"),
        (total, failed) => format!("FAIL ({failed} of {total} gates failed)"),
    }
}

fn verdict_name(summary: &ReportSummary) -> &'static str {
    match summary.verdict {
        stressor_schema::Verdict::Pass => "pass",
        stressor_schema::Verdict::Fail => "fail",
        stressor_schema::Verdict::Incomplete => "incomplete",
        _ => "unknown",
    }
}

fn describe(summary: &ReportSummary) -> String {
    format!(
        "scenario `{}`, seed {}, format {}, stressor {}, verdict {}",
        summary.scenario_name,
        summary.seed,
        summary.format_version,
        summary.stressor_version,
        verdict_name(summary)
    )
}

fn counts_line(comparison: &Comparison) -> String {
    let counts = &comparison.counts;
    format!(
        "{} metrics in both reports: {} changed, {} significantly up, {} significantly down; \
         {} only in {}, {} only in {}",
        counts.paired,
        counts.changed,
        counts.significant_increase,
        counts.significant_decrease,
        comparison.only_in_base.len(),
        comparison.base.label,
        comparison.only_in_new.len(),
        comparison.new.label
    )
}

fn key_text(key: &MetricKey) -> String {
    format!("{} @ {} {}", key.step, format_dial(key.dial), key.metric)
}

/// The table cells of one row, unescaped.
fn cells(row: &Row) -> [String; 9] {
    let delta = &row.delta;
    let delta_cell = match (delta.lower, delta.upper) {
        (Some(lower), Some(upper)) => {
            format!("{} [{}, {}]", signed(delta.value), signed(lower), signed(upper))
        }
        _ => signed(delta.value),
    };
    let gates: Vec<&str> =
        row.gates.iter().map(|gate| if gate.passed { "held" } else { "FAILED" }).collect();
    [
        row.step.clone(),
        format_dial(row.dial),
        row.metric.clone(),
        metric_cell(&row.base),
        metric_cell(&row.new),
        delta_cell,
        delta.method.map_or("-", |method| method.as_str()).to_owned(),
        match delta.significant {
            Some(true) => "yes",
            Some(false) => "no",
            None => "?",
        }
        .to_owned(),
        gates.join(", "),
    ]
}

fn metric_cell(metric: &Metric) -> String {
    match metric.ci {
        Some(ci) => format!("{} [{}, {}]", plain(metric.value), plain(ci.lower), plain(ci.upper)),
        None => plain(metric.value),
    }
}

fn plain(value: f64) -> String {
    if value.is_nan() {
        return "n/a".to_owned();
    }
    let decimals = decimals(value);
    format!("{value:.decimals$}")
}

/// Four decimals for values below 1 (proportions, rates), fewer for larger ones (latencies).
fn decimals(value: f64) -> usize {
    match value.abs() {
        v if v >= 1000.0 => 0,
        v if v >= 100.0 => 1,
        v if v >= 1.0 => 3,
        _ => 4,
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]
mod tests {
    use super::*;
    use crate::test_reports::vision;
    use crate::{CompareConfig, DeltaGate, compare};

    fn comparison(step_id: &str) -> Comparison {
        let mut base = vision(1, 360, 200, 100);
        let mut new = vision(2, 360, 200, 60);
        base.steps[1].id = step_id.to_owned();
        new.steps[1].id = step_id.to_owned();
        let gate: DeltaGate =
            format!("delta:robust_accuracy.{step_id}@8/255 > -0.02").parse().unwrap();
        compare(&base, &new, &[gate], &CompareConfig::with_labels("base.json", "new.json")).unwrap()
    }

    #[test]
    fn markdown_escapes_a_step_id_with_a_pipe() {
        let markdown = to_markdown(&comparison("pgd|linf"));
        assert!(
            markdown.starts_with("### stressor compare: FAIL (1 of 1 gates failed)"),
            "{markdown}"
        );
        let rows: Vec<&str> = markdown.lines().filter(|line| line.contains(r"pgd\|linf")).collect();
        assert_eq!(rows.len(), 5, "4 table rows and the gate: {markdown}");
        for line in markdown.lines().filter(|line| line.starts_with("| pgd")) {
            // Every row of the table has its 9 cells: 10 unescaped pipes.
            let unescaped = line.replace(r"\|", "").matches('|').count();
            assert_eq!(unescaped, 10, "{line}");
        }
        let row =
            markdown.lines().find(|line| line.contains("| 8/255 | robust\\_accuracy")).unwrap();
        assert!(row.contains("| **yes** | **FAILED** |"), "{row}");
        // Wilson 100/400 and 60/400; Newcombe for their difference.
        let expected =
            r"0.2500 \[0.2101, 0.2947\] | 0.1500 \[0.1183, 0.1883\] | -0.1000 \[-0.1548, -0.0447\]";
        assert!(row.contains(expected), "{row}");
        assert!(markdown.contains("different seeds"), "{markdown}");
        assert_eq!(escape_markdown("a|b\r\nc*"), r"a\|b<br>c\*");
    }

    #[test]
    fn text_aligns_the_table_and_lists_the_gates() {
        let text = to_text(&comparison("pgd-linf"));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "stressor compare: FAIL (1 of 1 gates failed)");
        assert!(lines[1].starts_with("BASE base.json  scenario `vision`, seed 1"), "{text}");
        let header = lines.iter().position(|line| line.starts_with("step ")).unwrap();
        let column = lines[header].find("Δ [95% CI]").unwrap();
        let row = lines.iter().find(|line| line.contains("8/255  robust_accuracy")).unwrap();
        assert_eq!(row.find("-0.1000 [-0.1548, -0.0447]"), Some(column), "{text}");
        assert!(row.ends_with("newcombe  yes          FAILED"), "{row}");
        assert!(
            text.contains(
                "  FAILED  delta:robust_accuracy.pgd-linf@8/255 > -0.02: Δ -0.1000 at 8/255, needs > -0.02"
            ),
            "{text}"
        );
    }
}
