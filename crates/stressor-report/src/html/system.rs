//! The system family's section, from a `[system]` step and its [`Timeline`]: requests, p99,
//! errors and accuracy per second with the fault and surge windows shaded, the metrics per
//! window (whole run first), the recovery after each window, and any other metric.

use stressor_core::{StepResult, Timeline, TimelinePoint, WindowKind};

use super::markup::{close_table, escape, estimate_cell, metrics_table, open_section, open_table};
use crate::chart::{LineChart, Series, line_chart};
use crate::window::{self, Window};
use crate::{RunRecord, number};

/// The section of system step `step`.
pub(super) fn section(record: &RunRecord, step: &StepResult, html: &mut String) {
    open_section("System", step, html);
    let timeline = record.timelines.iter().find(|t| t.step_id == step.info.id);
    if let Some(timeline) = timeline {
        charts(timeline, html);
    }
    windows_table(step, timeline, html);
    if let Some(timeline) = timeline {
        recoveries(timeline, html);
    }
    let others: Vec<&str> =
        window::other_metrics(step).into_iter().map(|metric| metric.name.as_str()).collect();
    if !others.is_empty() {
        html.push_str("<h3>Other metrics</h3>\n");
        metrics_table(step, html, |name| others.contains(&name));
    }
    html.push_str("</section>\n");
}

pub(super) fn charts(timeline: &Timeline, html: &mut String) {
    let shaded: Vec<(f64, f64, String, &'static str)> = timeline
        .windows
        .iter()
        .map(|w| {
            let colour = match w.kind {
                WindowKind::Fault => "#d62728",
                _ => "#ff7f0e",
            };
            (w.start, w.stop, format!("{} ({})", w.name, w.detail), colour)
        })
        .collect();
    let series =
        |name: &str, colour: &'static str, value: &dyn Fn(&TimelinePoint) -> Option<f64>| Series {
            name: name.into(),
            points: timeline.seconds.iter().filter_map(|s| Some((s.t, value(s)?))).collect(),
            colour,
            ..Default::default()
        };
    let chart = |title: &str, y_label: &str, y_range: Option<(f64, f64)>, series: Vec<Series>| {
        line_chart(&LineChart {
            title: title.into(),
            x_label: "seconds (by intended start)".into(),
            y_label: y_label.into(),
            y_range,
            series,
            shaded: shaded.clone(),
        })
    };
    html.push_str("<div class=\"charts\">\n");
    html.push_str(&chart(
        "Requests per second",
        "requests / s",
        None,
        vec![
            series("sent", "#1f77b4", &|s| Some(s.requests as f64)),
            series("answered", "#2ca02c", &|s| Some(s.ok as f64)),
        ],
    ));
    html.push_str(&chart(
        "p99 latency per second (coordinated omission corrected)",
        "p99 ms",
        None,
        vec![series("p99", "#9467bd", &|s| s.p99_ms)],
    ));
    html.push_str(&chart(
        "Error rate per second",
        "error rate",
        Some((0.0, 1.0)),
        vec![series("errors", "#d62728", &|s| {
            (s.requests > 0).then(|| s.errors as f64 / s.requests as f64)
        })],
    ));
    html.push_str(&chart(
        "Accuracy of the returned predictions per second",
        "accuracy",
        Some((0.0, 1.0)),
        vec![series("accuracy", "#2ca02c", &|s| {
            (s.checked > 0).then(|| s.correct as f64 / s.checked as f64)
        })],
    ));
    html.push_str("</div>\n");
}

/// One row per window (the whole run first), one column per metric that any row has; each
/// cell's tooltip is the metric's name in report.json.
pub(super) fn windows_table(step: &StepResult, timeline: Option<&Timeline>, html: &mut String) {
    let rows = window::windows(step, timeline);
    let columns: Vec<(&str, &str)> = window::METRICS
        .into_iter()
        .filter(|(metric, _)| rows.iter().any(|row| cell(row, metric).is_some()))
        .collect();
    if columns.is_empty() {
        return;
    }
    html.push_str(
        "<h3>Per window</h3>\n<p class=\"n\">The whole run, the baseline before the first \
         window, then each fault and surge window. Latencies are from the intended start \
         (coordinated omission corrected).</p>\n",
    );
    open_table(html, "windows");
    html.push_str("<tr><th>window</th><th>span</th>");
    for (metric, label) in &columns {
        html.push_str(&format!("<th title=\"{metric}\">{label}</th>"));
    }
    html.push_str("</tr>\n");
    for row in &rows {
        html.push_str(&format!(
            "<tr><th class=\"id\">{}</th><td>{}</td>",
            escape(row.name.unwrap_or("whole run")),
            span(row, timeline)
        ));
        for (metric, _) in &columns {
            match cell(row, metric) {
                Some(content) => html.push_str(&format!(
                    "<td title=\"{}\">{content}</td>",
                    escape(&source(row, metric))
                )),
                None => html.push_str("<td>–</td>"),
            }
        }
        html.push_str("</tr>\n");
    }
    close_table(html);
}

/// The content of `row`'s cell for `metric`, `None` when it was not measured there.
fn cell(row: &Window<'_>, metric: &str) -> Option<String> {
    match metric {
        "requests" => row.requests().map(|n| n.to_string()),
        "time_to_recover_s" => {
            let estimate = row.metric(metric)?;
            let worst = if row.is_whole_run() { " <span class=\"n\">worst</span>" } else { "" };
            Some(if estimate.value.is_finite() {
                format!("{}&nbsp;s{worst}", number::estimate_value(metric, estimate))
            } else {
                format!("<span class=\"fail\">not within the run</span>{worst}")
            })
        }
        _ => row.metric(metric).map(|estimate| estimate_cell(metric, estimate)),
    }
}

/// Where a cell's number is in report.json: the metric's name, or for a window's requests the
/// sample size of its error rate.
fn source(row: &Window<'_>, metric: &str) -> String {
    match (metric, row.is_whole_run()) {
        ("requests", false) => format!("n of {}", row.metric_name("error_rate")),
        _ => row.metric_name(metric),
    }
}

/// When `row` was and what acted in it.
fn span(row: &Window<'_>, timeline: Option<&Timeline>) -> String {
    let seconds = |start: f64, stop: f64| format!("{start:.1}–{stop:.1}&nbsp;s");
    match (row.name, row.span) {
        (_, Some(span)) => {
            let kind = match span.kind {
                WindowKind::Fault => "fault",
                WindowKind::Surge => "surge",
            };
            format!("{kind}: {}, {}", escape(&span.detail), seconds(span.start, span.stop))
        }
        (None, _) => timeline
            .and_then(|t| t.seconds.last())
            .map_or_else(|| "–".to_owned(), |last| seconds(0.0, last.t + 1.0)),
        (Some(window::BASELINE), _) => "before the first window".to_owned(),
        (Some(_), None) => "–".to_owned(),
    }
}

pub(super) fn recoveries(timeline: &Timeline, html: &mut String) {
    if timeline.recoveries.is_empty() {
        return;
    }
    html.push_str("<h3>Time to recover</h3>\n");
    open_table(html, "recoveries");
    html.push_str(
        "<tr><th>window</th><th>ended at</th><th>back within tolerance at</th>\
         <th>time to recover</th></tr>\n",
    );
    for recovery in &timeline.recoveries {
        let (at, ttr) = match (recovery.recovered_at, recovery.time_to_recover) {
            (Some(at), Some(ttr)) => (format!("{at:.2} s"), format!("{ttr:.2} s")),
            _ => ("—".into(), "<span class=\"fail\">not within the run</span>".into()),
        };
        html.push_str(&format!(
            "<tr><td class=\"id\">{}</td><td>{:.2} s</td><td>{at}</td><td>{ttr}</td></tr>\n",
            escape(&recovery.window),
            recovery.window_end
        ));
    }
    close_table(html);
}
