//! The recommender family's steps, one per fallback policy or reference run: written together
//! at the first recommender step as each run's heading, one table with a row per run
//! (references first) and one with a row per fault window and policy.

use std::io::{self, Write};

use stressor_core::{Estimate, StepResult};

use super::layout::{plain, write_heading, write_table};
use crate::recommender::{self, Run};
use crate::{RunRecord, number};

/// Writes every recommender step of `record` when `step` is the first of them, nothing
/// otherwise.
pub(super) fn write_step(
    record: &RunRecord,
    step: &StepResult,
    out: &mut impl Write,
) -> io::Result<()> {
    let runs = recommender::runs(record);
    let first = record.steps.iter().find(|s| runs.iter().any(|run| run.step.info.id == s.info.id));
    if first.is_none_or(|first| first.info.id != step.info.id) {
        return Ok(());
    }
    for run in &runs {
        write_heading(run.step, out)?;
    }
    write_table(&policy_rows(&runs), out)?;
    if let Some(revenue) = recommender::baseline_revenue(&runs) {
        writeln!(
            out,
            "  baseline revenue {} per simulated hour ({} over {:.2} h)",
            number::amount(revenue.per_hour()),
            number::amount(revenue.total),
            revenue.hours
        )?;
    }
    let impacts = impact_rows(&runs);
    if impacts.len() > 1 {
        write_table(&impacts, out)?;
        writeln!(
            out,
            "  (clicks/request change against the baseline in the window with its 95% Newcombe \
             interval; revenue lost until recovery)"
        )?;
    }
    Ok(())
}

/// The metrics a recommender run shows in the terminal, in order, with short labels.
const TERMINAL_RECSYS: [(&str, &str); 4] = [
    ("ctr", "CTR"),
    ("conversion_rate", "conversion"),
    ("revenue_per_hour", "revenue/h"),
    ("p99_ms", "p99 ms"),
];

/// A header and one row per run: its headline metrics and its worst RTO.
fn policy_rows(runs: &[Run<'_>]) -> Vec<Vec<String>> {
    let mut header = vec!["policy".to_owned(), "run".to_owned()];
    header.extend(TERMINAL_RECSYS.iter().map(|(_, label)| (*label).to_owned()));
    header.push("worst RTO".to_owned());
    let mut rows = vec![header];
    for run in runs {
        let kind = if run.is_reference() { "reference" } else { "faults" };
        let mut row = vec![plain(run.policy()), kind.to_owned()];
        row.extend(TERMINAL_RECSYS.iter().map(|(name, _)| {
            run.metric(name).map_or_else(
                || "-".to_owned(),
                |estimate| match *name {
                    "revenue_per_hour" => number::amount(estimate.value),
                    _ => number::estimate_value(name, estimate),
                },
            )
        }));
        row.push(match run.worst_rto() {
            None => "-".to_owned(),
            Some(None) => "not recovered".to_owned(),
            Some(Some(rto)) => number::duration_s(rto),
        });
        rows.push(row);
    }
    rows
}

/// A header and one row per fault window and policy.
fn impact_rows(runs: &[Run<'_>]) -> Vec<Vec<String>> {
    let mut rows = vec![
        [
            "window",
            "policy",
            "clicks/request change",
            "rev. lost",
            "mitigated",
            "RTO",
            "events lost",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for window in recommender::impact_windows(runs) {
        for run in runs {
            for impact in run.impacts().iter().filter(|impact| impact.window == window) {
                rows.push(vec![
                    plain(window),
                    plain(run.policy()),
                    signed(&impact.clicks_per_request_change),
                    number::amount(impact.revenue_lost),
                    impact.time_to_mitigate.map_or_else(|| "never".into(), number::duration_s),
                    impact.rto.map_or_else(|| "not recovered".into(), number::duration_s),
                    impact.events_lost.to_string(),
                ]);
            }
        }
    }
    rows
}

/// A change with its interval, signed, three decimals: `-0.400 [-0.456, -0.345]`.
fn signed(change: &Estimate) -> String {
    let value = |v: f64| if v.is_finite() { format!("{:+.3}", v + 0.0) } else { "n/a".to_owned() };
    match change.ci {
        Some(ci) => format!("{} [{}, {}]", value(change.value), value(ci.lower), value(ci.upper)),
        None => value(change.value),
    }
}
