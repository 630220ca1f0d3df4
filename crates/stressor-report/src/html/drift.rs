//! The drift family's sections, from `[drift]` steps (one per retraining policy) and their
//! [`DriftTimeline`](stressor_core::DriftTimeline)s: the policies compared on shared charts
//! and in one table, then each policy's events and metrics.

use stressor_core::{DriftPoint, StepKind, StepResult, wilson_interval};

use super::markup::{close_table, escape, metrics_table, open_section, open_table};
use crate::chart::{LineChart, Series, line_chart};
use crate::{RunRecord, number};

/// The section of drift step `step`, preceded by the comparison of every policy when `step`
/// is the first drift step.
pub(super) fn section(record: &RunRecord, step: &StepResult, html: &mut String) {
    let first = record.steps.iter().find(|s| s.info.kind == StepKind::Drift);
    if first.is_some_and(|f| f.info.id == step.info.id) {
        drift_comparison(record, html);
    }
    drift_step(record, step, html);
}

const POLICY_COLOURS: [&str; 4] = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"];

/// Every drift step's policy on shared charts — accuracy (with its 95 % Wilson band), ECE,
/// estimated accuracy and the drift statistic per stream step, the drift period shaded — and
/// a table of what each policy cost.
fn drift_comparison(record: &RunRecord, html: &mut String) {
    let timelines = &record.drift_timelines;
    let Some(first) = timelines.first() else { return };
    let last = first.points.last().map_or(0.0, |p| p.step as f64);
    let mut shaded = Vec::new();
    if first.drift_full > first.drift_start {
        shaded.push((
            first.drift_start as f64 - 0.5,
            first.drift_full as f64 + 0.5,
            "drift ramping up".to_string(),
            "#ff7f0e",
        ));
    }
    shaded.push((
        first.drift_full as f64 - 0.5,
        last + 0.5,
        "drift in full effect".to_string(),
        "#d62728",
    ));
    let series = |value: &dyn Fn(&DriftPoint) -> f64, band: bool| {
        timelines
            .iter()
            .enumerate()
            .map(|(i, t)| Series {
                name: t.policy.clone(),
                points: t.points.iter().map(|p| (p.step as f64, value(p))).collect(),
                band: if band {
                    t.points
                        .iter()
                        .map(|p| {
                            let n = p.eval_rows as u64;
                            let k = (p.accuracy * n as f64).round() as u64;
                            let ci = wilson_interval(k, n, 0.95);
                            (p.step as f64, ci.lower, ci.upper)
                        })
                        .collect()
                } else {
                    Vec::new()
                },
                colour: POLICY_COLOURS[i % POLICY_COLOURS.len()],
                dashed: false,
            })
            .collect::<Vec<_>>()
    };
    let chart = |title: &str, y_label: &str, y_range, series| {
        line_chart(&LineChart {
            title: title.into(),
            x_label: "stream step".into(),
            y_label: y_label.into(),
            y_range,
            series,
            shaded: shaded.clone(),
        })
    };
    html.push_str(
        "<section>\n<h2>Drift and recovery: the policies compared</h2>\n<p>Each policy saw \
         the same stream. Accuracy and ECE are the deployed model's on the held-out evaluation \
         rows under each step's drift (band: 95 % Wilson interval); the estimated accuracy is \
         the mean confidence on the production batch, known before any label.</p>\n",
    );
    let mut accuracy = series(&|p| p.accuracy, true);
    accuracy.push(Series {
        name: "pre-drift level − tolerance".into(),
        points: vec![
            (0.0, first.pre_drift_accuracy - first.tolerance),
            (last, first.pre_drift_accuracy - first.tolerance),
        ],
        colour: "#7f7f7f",
        dashed: true,
        ..Default::default()
    });
    html.push_str("<div class=\"charts\">\n");
    html.push_str(&chart("Accuracy per stream step", "accuracy", Some((0.0, 1.0)), accuracy));
    html.push_str(&chart("ECE per stream step", "ECE", None, series(&|p| p.ece, false)));
    html.push_str(&chart(
        "Estimated accuracy (no labels) per stream step",
        "mean confidence",
        Some((0.0, 1.0)),
        series(&|p| p.estimated_accuracy, false),
    ));
    html.push_str(&chart(
        "Drift statistic per stream step (largest KS D against the deployed model's training rows)",
        "KS D",
        Some((0.0, 1.0)),
        series(&|p| p.drift_statistic, false),
    ));
    html.push_str("</div>\n");
    open_table(html, "policies");
    html.push_str(
        "<tr><th>policy</th><th>time to detect</th><th>false alarms</th><th>retrains</th>\
         <th>time to recover</th><th>accuracy lost (area)</th><th>worst accuracy</th>\
         <th>final accuracy</th><th>final ECE</th></tr>\n",
    );
    for t in timelines {
        let Some(step) = record.steps.iter().find(|s| s.info.id == t.step_id) else { continue };
        let metric = |name: &str| {
            step.points.first().and_then(|p| p.metric(name)).map_or("—".to_string(), |e| {
                match (e.value.is_nan(), name) {
                    (true, "time_to_recover_steps") => "not within the run".to_string(),
                    (true, "time_to_detect_steps") => "never".to_string(),
                    _ => number::estimate(name, e),
                }
            })
        };
        html.push_str(&format!(
            "<tr><td class=\"id\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td></tr>\n",
            escape(&t.policy),
            metric("time_to_detect_steps"),
            metric("false_alarms"),
            metric("retrains"),
            metric("time_to_recover_steps"),
            metric("accuracy_lost"),
            metric("worst_accuracy"),
            metric("final_accuracy"),
            metric("final_ece"),
        ));
    }
    close_table(html);
    html.push_str("</section>\n");
}

/// One drift step: its events and metrics.
fn drift_step(record: &RunRecord, step: &StepResult, html: &mut String) {
    open_section("Drift", step, html);
    if let Some(timeline) = record.drift_timelines.iter().find(|t| t.step_id == step.info.id) {
        html.push_str("<h3>Events</h3>\n");
        open_table(html, "events");
        html.push_str("<tr><th>step</th><th>event</th><th>detail</th></tr>\n");
        for event in &timeline.events {
            html.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                event.step,
                escape(&event.kind),
                escape(&event.detail)
            ));
        }
        close_table(html);
    }
    metrics_table(step, html, |_| true);
    html.push_str("</section>\n");
}
