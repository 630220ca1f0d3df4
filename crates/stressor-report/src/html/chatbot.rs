//! The chatbot family's sections, from `[chatbot]` steps and their [`ChatbotDetail`]s: a
//! stress swept over its dial (accuracy, invariance failures, handoff and utility charted,
//! every handoff policy compared, the out-of-scope detectors, risk–coverage curves and the
//! worst examples), a load surge (the systems timeline with handoffs per second), a shadow
//! deployment's decision and the graceful degradation score. Every text from outside —
//! queries, intents, answers — is escaped.

use stressor_core::{ChatbotDetail, StepResult};

use super::markup::{close_table, escape, estimate_cell, metrics_table, open_section, open_table};
use super::system;
use crate::chart::{LineChart, Series, line_chart};
use crate::{RunRecord, number};

/// The metrics charted over the dial, with their colours.
const DIAL_METRICS: [(&str, &str); 6] = [
    ("accuracy", "#1f77b4"),
    ("answered_accuracy", "#2ca02c"),
    ("handoff_rate", "#ff7f0e"),
    ("invariance_failure_rate", "#d62728"),
    ("oos_recall", "#9467bd"),
    ("utility", "#3b3b3b"),
];

/// The columns of the handoff-policy table, with their labels.
const POLICY_METRICS: [(&str, &str); 7] = [
    ("handoff_rate", "handoff rate"),
    ("coverage", "coverage"),
    ("answered_accuracy", "accuracy of answered"),
    ("oos_recall", "off-topic to a human"),
    ("false_handoff_rate", "needless handoffs"),
    ("rule_rate", "answered by rules"),
    ("utility", "utility"),
];

/// The section of chatbot step `step`.
pub(super) fn section(record: &RunRecord, step: &StepResult, html: &mut String) {
    open_section("Chatbot", step, html);
    let detail = record.chatbot_details.iter().find(|d| d.step_id == step.info.id);
    if let Some(timeline) = record.timelines.iter().find(|t| t.step_id == step.info.id) {
        system::charts(timeline, html);
        if let Some(detail) = detail {
            surge_chart(timeline, detail, html);
        }
        system::windows_table(step, Some(timeline), html);
        system::recoveries(timeline, html);
    } else if step.info.dial_name.is_some() && step.points.len() > 1 {
        dial_chart(step, html);
    }
    if let Some(decision) = detail.and_then(|d| d.decision.as_ref()) {
        let verdict = if decision.promote {
            "<span class=\"pass\">promote</span>"
        } else {
            "<span class=\"fail\">hold</span>"
        };
        html.push_str(&format!("<p>Decision: {verdict}</p>\n<ul>\n"));
        for reason in &decision.reasons {
            html.push_str(&format!("<li>{}</li>\n", escape(reason)));
        }
        html.push_str("</ul>\n");
    }
    let policies: Vec<&str> =
        detail.map(|d| d.policies.iter().map(|p| p.name.as_str()).collect()).unwrap_or_default();
    // The first policy's metrics carry plain names; the others' are in the policy table.
    let suffixed = |name: &str| policies.iter().skip(1).any(|p| name.ends_with(&format!(".{p}")));
    metrics_table(step, html, |name| !suffixed(name));
    if let Some(detail) = detail {
        if detail.policies.len() > 1 {
            policy_table(step, detail, html);
        }
        detectors(step, detail, html);
    }
    risk_coverage(step, html);
    if let Some(detail) = detail {
        examples(step, detail, html);
    }
    html.push_str("</section>\n");
}

fn dial_chart(step: &StepResult, html: &mut String) {
    let series: Vec<Series> = DIAL_METRICS
        .iter()
        .filter(|(name, _)| step.points.iter().any(|p| p.metric(name).is_some()))
        .map(|&(name, colour)| Series {
            name: number::metric_label(name).to_owned(),
            points: step
                .points
                .iter()
                .filter_map(|p| Some((p.dial_value?, p.metric(name)?.value)))
                .collect(),
            band: step
                .points
                .iter()
                .filter_map(|p| {
                    let ci = p.metric(name)?.ci?;
                    Some((p.dial_value?, ci.lower, ci.upper))
                })
                .collect(),
            colour,
            dashed: false,
        })
        .collect();
    if series.is_empty() {
        return;
    }
    let dial = step.info.dial_name.clone().unwrap_or_default();
    html.push_str("<div class=\"charts\">\n");
    html.push_str(&line_chart(&LineChart {
        title: format!("{} over {}", step.info.id, dial),
        x_label: dial,
        y_label: "share of queries".into(),
        y_range: Some((0.0, 1.0)),
        series,
        shaded: Vec::new(),
    }));
    html.push_str("</div>\n");
}

/// Handoff rate and accuracy of the answered queries per second of a surge.
fn surge_chart(timeline: &stressor_core::Timeline, detail: &ChatbotDetail, html: &mut String) {
    if detail.seconds.is_empty() {
        return;
    }
    let share = |num: fn(&stressor_core::ChatSecond) -> u64,
                 den: fn(&stressor_core::ChatSecond) -> u64| {
        detail
            .seconds
            .iter()
            .filter(|s| den(s) > 0)
            .map(|s| (s.t, num(s) as f64 / den(s) as f64))
            .collect::<Vec<_>>()
    };
    let shaded = timeline
        .windows
        .iter()
        .map(|w| (w.start, w.stop, format!("{} ({})", w.name, w.detail), "#ff7f0e"))
        .collect();
    html.push_str("<div class=\"charts\">\n");
    html.push_str(&line_chart(&LineChart {
        title: "Handoffs, drops and answered accuracy per second".into(),
        x_label: "seconds (by intended start)".into(),
        y_label: "share".into(),
        y_range: Some((0.0, 1.0)),
        series: vec![
            Series {
                name: "handed to a human".into(),
                points: share(|s| s.handoffs, |s| s.requests),
                colour: "#ff7f0e",
                ..Default::default()
            },
            Series {
                name: "dropped (503, timeout)".into(),
                points: share(|s| s.dropped, |s| s.requests),
                colour: "#d62728",
                ..Default::default()
            },
            Series {
                name: "accuracy of answered".into(),
                points: share(|s| s.correct, |s| s.answered),
                colour: "#2ca02c",
                ..Default::default()
            },
        ],
        shaded,
    }));
    html.push_str("</div>\n");
}

/// One row per dial value and policy.
fn policy_table(step: &StepResult, detail: &ChatbotDetail, html: &mut String) {
    html.push_str(
        "<h3>Handoff policies</h3>\n<p class=\"n\">Below a policy's threshold the query goes \
         to the scenario's rules, then to a human.</p>\n<ul>\n",
    );
    for policy in &detail.policies {
        let threshold = policy.threshold.map_or_else(
            || "no threshold: everything to a human".to_owned(),
            |t| format!("{t:.4}"),
        );
        html.push_str(&format!(
            "<li><b>{}</b> ({threshold}): {}</li>\n",
            escape(&policy.name),
            escape(&policy.description)
        ));
    }
    html.push_str("</ul>\n");
    open_table(html, "chat-policies");
    let dial = step.info.dial_name.as_deref();
    html.push_str("<tr>");
    if let Some(dial) = dial {
        html.push_str(&format!("<th>{}</th>", escape(dial)));
    }
    html.push_str("<th>policy</th>");
    for (metric, label) in POLICY_METRICS {
        html.push_str(&format!("<th title=\"{metric}\">{label}</th>"));
    }
    html.push_str("</tr>\n");
    for point in &step.points {
        for (i, policy) in detail.policies.iter().enumerate() {
            html.push_str("<tr>");
            if dial.is_some() {
                let value = point.dial_value.map_or_else(|| "–".to_owned(), number::dial);
                html.push_str(&format!("<td>{value}</td>"));
            }
            html.push_str(&format!("<th class=\"id\">{}</th>", escape(&policy.name)));
            for (metric, _) in POLICY_METRICS {
                let name =
                    if i == 0 { metric.to_owned() } else { format!("{metric}.{}", policy.name) };
                match point.metric(&name) {
                    Some(estimate) => html.push_str(&format!(
                        "<td>{} <span class=\"n\">n={}</span></td>",
                        estimate_cell(metric, estimate),
                        estimate.n
                    )),
                    None => html.push_str("<td>–</td>"),
                }
            }
            html.push_str("</tr>\n");
        }
    }
    close_table(html);
}

fn detectors(step: &StepResult, detail: &ChatbotDetail, html: &mut String) {
    if detail.detectors.is_empty() {
        return;
    }
    html.push_str(
        "<h3>Out-of-scope detectors</h3>\n<p class=\"n\">How well each score tells off-topic \
         queries from in-scope ones: AUROC (1 is perfect, 0.5 chance) and the share of \
         off-topic queries taken for in-scope when 95 % of in-scope ones are kept (lower is \
         better).</p>\n",
    );
    open_table(html, "chat-detectors");
    let dial = step.info.dial_name.as_deref();
    html.push_str("<tr>");
    if let Some(dial) = dial {
        html.push_str(&format!("<th>{}</th>", escape(dial)));
    }
    html.push_str("<th>detector</th><th>AUROC</th><th>FPR at 95 % TPR</th></tr>\n");
    for row in &detail.detectors {
        html.push_str("<tr>");
        if dial.is_some() {
            let value = row.dial_value.map_or_else(|| "–".to_owned(), number::dial);
            html.push_str(&format!("<td>{value}</td>"));
        }
        html.push_str(&format!(
            "<th class=\"id\">{}</th><td>{} <span class=\"n\">n={}</span></td><td>{}</td></tr>\n",
            escape(&row.detector),
            estimate_cell("auroc", &row.auroc),
            row.auroc.n,
            estimate_cell("fpr_at_95_tpr", &row.fpr_at_95_tpr),
        ));
    }
    close_table(html);
}

/// Risk among the answered queries against the share answered, at the first and the largest
/// dial value.
fn risk_coverage(step: &StepResult, html: &mut String) {
    let mut points: Vec<&stressor_core::StepPoint> = step.points.first().into_iter().collect();
    if let Some(last) = number::largest_dial_point(step)
        && step.points.len() > 1
    {
        points.push(last);
    }
    let colours = ["#1f77b4", "#d62728"];
    let series: Vec<Series> = points
        .iter()
        .zip(colours)
        .filter_map(|(point, colour)| {
            let curve = &point.calibration.as_ref()?.risk_coverage;
            (!curve.is_empty()).then(|| Series {
                name: point.dial_value.map_or_else(
                    || "clean".to_owned(),
                    |v| {
                        format!(
                            "{} = {}",
                            step.info.dial_name.as_deref().unwrap_or("dial"),
                            number::dial(v)
                        )
                    },
                ),
                points: curve.clone(),
                colour,
                ..Default::default()
            })
        })
        .collect();
    if series.is_empty() {
        return;
    }
    html.push_str("<div class=\"charts\">\n");
    html.push_str(&line_chart(&LineChart {
        title: "Risk–coverage: error rate of the answered queries when only the most confident share is answered".into(),
        x_label: "coverage (share answered)".into(),
        y_label: "risk (error rate of answered)".into(),
        y_range: Some((0.0, 1.0)),
        series,
        shaded: Vec::new(),
    }));
    html.push_str("</div>\n");
}

fn examples(step: &StepResult, detail: &ChatbotDetail, html: &mut String) {
    let groups: Vec<_> = detail.examples.iter().filter(|g| !g.examples.is_empty()).collect();
    if groups.is_empty() {
        return;
    }
    html.push_str("<h3>Worst examples</h3>\n");
    open_table(html, "chat-examples");
    let dial = step.info.dial_name.as_deref();
    html.push_str("<tr>");
    if let Some(dial) = dial {
        html.push_str(&format!("<th>{}</th>", escape(dial)));
    }
    html.push_str(
        "<th>original</th><th>under stress</th><th>truth</th><th>answer to the original</th>\
         <th>answer under stress</th><th>confidence</th></tr>\n",
    );
    for group in groups {
        for e in &group.examples {
            html.push_str("<tr>");
            if dial.is_some() {
                let value = group.dial_value.map_or_else(|| "–".to_owned(), number::dial);
                html.push_str(&format!("<td>{value}</td>"));
            }
            html.push_str(&format!(
                "<td class=\"text\">{}</td><td class=\"text\">{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td><td>{:.3}</td></tr>\n",
                escape(&e.original),
                escape(&e.perturbed),
                escape(&e.truth),
                escape(&e.clean_answer),
                escape(&e.answer),
                e.confidence
            ));
        }
    }
    close_table(html);
}
