//! One self-contained HTML file: inline CSS and SVG, PNGs as `data:` URIs, no scripts and no
//! external resources, so it can be attached to a CI run or mailed as is.
//!
//! Every string that comes from the scenario, the model or the data is HTML-escaped. The file
//! size is capped: exemplar images appear only for the largest dial value and one middle value
//! of each step, at most [`HtmlConfig::max_exemplars_per_point`] per point, and stop once
//! [`HtmlConfig::max_image_bytes`] of PNG data is embedded.

use std::io::{self, Write};

use base64::Engine as _;
use stressor_core::{Exemplar, RunInfo, StepKind, StepPoint, StepResult, Verdict};

use crate::chart::{Bar, BarChart, LineChart, Series, bar_chart, line_chart};
use crate::{RunRecord, image, number};

/// How the HTML report is written.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HtmlConfig {
    /// The most exemplars shown per dial value (default 8).
    pub max_exemplars_per_point: usize,
    /// How many times small images are enlarged, nearest-neighbour (default 3). Images wider
    /// or taller than 64 pixels are not enlarged.
    pub upscale: u32,
    /// The most PNG bytes embedded in all (default 4 MiB); further exemplars are left out.
    pub max_image_bytes: usize,
    /// The most classes in the per-class chart (default 20); with more classes, those whose
    /// accuracy dropped most are shown.
    pub max_classes_in_chart: usize,
}

impl Default for HtmlConfig {
    fn default() -> HtmlConfig {
        HtmlConfig {
            max_exemplars_per_point: 8,
            upscale: 3,
            max_image_bytes: 4 << 20,
            max_classes_in_chart: 20,
        }
    }
}

/// Writes the HTML report of `record` to `out`.
///
/// # Errors
///
/// When writing to `out` fails.
pub fn write(record: &RunRecord, config: &HtmlConfig, mut out: impl Write) -> io::Result<()> {
    out.write_all(to_string(record, config).as_bytes())
}

/// The HTML report of `record`.
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
/// let page = stressor_report::html::to_string(&record, &Default::default());
/// assert!(page.starts_with("<!DOCTYPE html>") && page.contains("INCOMPLETE"));
/// ```
pub fn to_string(record: &RunRecord, config: &HtmlConfig) -> String {
    let info = &record.info;
    let mut budget = config.max_image_bytes;
    let mut html = String::with_capacity(64 * 1024);
    html.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>stressor · {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&info.scenario_name)
    ));
    header(record, &mut html);
    gates(record, &mut html);
    // A mitigation's comparison comes first, then the mitigated model's steps.
    for step in record.steps.iter().filter(|step| !number::is_mitigated(record, step)) {
        match step.info.kind {
            StepKind::Attack | StepKind::Corruption | StepKind::Lighting => {
                stress_step(record, step, config, &mut budget, &mut html);
            }
            StepKind::Mitigation => {
                plain_step(step, &mut html);
                let prefix = format!("{}/", step.info.id);
                for mitigated in record.steps.iter().filter(|s| s.info.id.starts_with(&prefix)) {
                    stress_step(record, mitigated, config, &mut budget, &mut html);
                }
            }
            StepKind::System => system_step(record, step, &mut html),
            StepKind::Drift => {
                let first = record.steps.iter().find(|s| s.info.kind == StepKind::Drift);
                if first.is_some_and(|f| f.info.id == step.info.id) {
                    drift_comparison(record, &mut html);
                }
                drift_step(record, step, &mut html);
            }
            _ => plain_step(step, &mut html),
        }
    }
    for step in &record.unfinished_steps {
        html.push_str(&format!(
            "<section><h2>Step {}</h2><p class=\"fail\">Started but did not finish.</p>\
             </section>\n",
            escape(&step.id)
        ));
    }
    warnings(record, &mut html);
    html.push_str(&format!(
        "<footer>Written by stressor {}.</footer>\n</body>\n</html>\n",
        escape(&info.stressor_version)
    ));
    html
}

/// `text` with the five HTML-special characters escaped; safe in text and in quoted attributes.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

const STYLE: &str = "
body { font: 15px/1.45 system-ui, sans-serif; color: #1d2430; max-width: 1100px; margin: 0 auto;
  padding: 1.5rem; }
h1 { font-size: 1.6rem; margin-bottom: .3rem; }
h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #d6dbe3; }
h3 { font-size: 1.05rem; margin-top: 1.4rem; }
.badge { display: inline-block; padding: .1rem .7rem; border-radius: .3rem; color: #fff;
  font-weight: 700; margin-left: .6rem; vertical-align: middle; font-size: 1rem; }
.badge.pass { background: #1b7f3b; } .badge.fail { background: #b3261e; }
.badge.incomplete { background: #9a6700; }
.pass { color: #1b7f3b; font-weight: 600; } .fail { color: #b3261e; font-weight: 600; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1.2rem; }
dl.meta dt { color: #5b6472; } dl.meta dd { margin: 0; }
table { border-collapse: collapse; margin: .6rem 0; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #e3e7ee; padding: .25rem .7rem; text-align: left;
  vertical-align: top; }
th { background: #f3f5f8; }
.ci, .n { color: #5b6472; font-size: .85em; }
.pair { display: flex; flex-wrap: wrap; gap: 1rem; }
.pair svg.chart { max-width: 520px; }
svg.chart { width: 100%; max-width: 640px; height: auto; display: block; margin: .6rem 0; }
svg .axis { stroke: #333; stroke-width: 1; } svg .grid { stroke: #e3e7ee; stroke-width: 1; }
svg .whisker { stroke: #222; stroke-width: 1.2; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
svg .label { font-size: 12px; } svg .legend { font-size: 12px; }
.exemplars { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; padding: .4rem; border: 1px solid #e3e7ee; border-radius: .3rem; }
figure img { image-rendering: pixelated; width: 84px; height: auto; margin-right: 2px; }
figcaption { font-size: .8rem; color: #3a4250; max-width: 270px; }
.note { color: #5b6472; font-style: italic; }
footer { margin-top: 3rem; color: #5b6472; font-size: .85rem; }
";

const ROBUST_COLOUR: &str = "#c2410c";
const CLEAN_COLOUR: &str = "#1d4ed8";
const ECE_COLOUR: &str = "#7c3aed";
const GREY_COLOUR: &str = "#6b7280";

fn header(record: &RunRecord, html: &mut String) {
    let info = &record.info;
    let (class, word) = match record.verdict {
        Some(Verdict::Pass) => ("pass", "PASS"),
        Some(Verdict::Fail) => ("fail", "FAIL"),
        None => ("incomplete", "INCOMPLETE"),
    };
    html.push_str(&format!(
        "<header>\n<h1>stressor · {}<span class=\"badge {class}\">{word}</span></h1>\n",
        escape(&info.scenario_name)
    ));
    let shape: Vec<String> = info.input_shape.iter().map(usize::to_string).collect();
    let mut rows = vec![
        (
            "Scenario",
            format!(
                "{} <span class=\"n\">{}</span>",
                escape(&info.scenario_name),
                escape(&info.scenario_source)
            ),
        ),
        ("Seed", info.seed.to_string()),
        (
            "Target",
            format!(
                "{} ({}), input [{}], {} classes",
                escape(&info.target_name),
                escape(&info.target_kind),
                shape.join(", "),
                info.class_names.len()
            ),
        ),
        ("Data", format!("{}, n = {}", escape(&info.data_name), info.n_samples)),
        ("Verdict", verdict_detail(record)),
    ];
    if let Some(elapsed) = record.elapsed {
        rows.push(("Duration", format!("{:.1} s", elapsed.as_secs_f64())));
    }
    html.push_str("<dl class=\"meta\">\n");
    for (term, detail) in rows {
        html.push_str(&format!("<dt>{term}</dt><dd>{detail}</dd>\n"));
    }
    html.push_str("</dl>\n</header>\n");
}

fn verdict_detail(record: &RunRecord) -> String {
    let n_gates = record.gates.len();
    match record.verdict {
        Some(Verdict::Pass) => format!("pass: {n_gates} of {n_gates} gates held"),
        Some(Verdict::Fail) => {
            format!("fail: {} of {n_gates} gates failed", record.n_gates_failed())
        }
        None => "incomplete: the run did not finish".to_owned(),
    }
}

fn gates(record: &RunRecord, html: &mut String) {
    html.push_str("<section>\n<h2>Gates</h2>\n");
    if record.gates.is_empty() {
        html.push_str(
            "<p class=\"note\">No gates: this run reports without judging.</p>\n</section>\n",
        );
        return;
    }
    html.push_str(
        "<table class=\"gates\">\n<tr><th>Result</th><th>Gate</th><th>Condition</th>\
         <th>Observed</th><th>95% CI</th><th>n</th><th>At</th></tr>\n",
    );
    for outcome in &record.gates {
        let gate = &outcome.gate;
        let result = if outcome.passed {
            "<td class=\"pass\">PASS</td>"
        } else {
            "<td class=\"fail\">FAIL</td>"
        };
        let (observed, ci, n) = match &outcome.observed {
            Some(estimate) => (
                number::value(&gate.metric, estimate.value),
                estimate.ci.map_or_else(
                    || "–".to_owned(),
                    |ci| {
                        format!(
                            "[{}, {}]",
                            number::value(&gate.metric, ci.lower),
                            number::value(&gate.metric, ci.upper)
                        )
                    },
                ),
                estimate.n.to_string(),
            ),
            None => ("not produced".to_owned(), "–".to_owned(), "–".to_owned()),
        };
        let at = outcome.observed_at.map_or_else(
            || "–".to_owned(),
            |at| {
                format!(
                    "{} = {}",
                    escape(number::dial_name(record, &gate.step_id)),
                    number::dial(at)
                )
            },
        );
        html.push_str(&format!(
            "<tr>{result}<td>{}</td><td>{} {}</td><td>{observed}</td><td>{ci}</td><td>{n}</td>\
             <td>{at}</td></tr>\n",
            escape(&gate.id),
            escape(&gate.metric),
            escape(&number::gate_condition(gate))
        ));
    }
    html.push_str("</table>\n</section>\n");
}

fn plain_step(step: &StepResult, html: &mut String) {
    let title = match step.info.kind {
        StepKind::SteadyState => "Steady state",
        StepKind::Summary => "Summary",
        StepKind::Mitigation => "Mitigation",
        _ => "Step",
    };
    html.push_str(&format!(
        "<section>\n<h2>{title}: {}</h2>\n<p>{}</p>\n",
        escape(&step.info.id),
        escape(&step.info.description)
    ));
    parameters(step, html);
    if !comparison_table(step, html) {
        metrics_table(step, html, |name| !number::is_calibration(name));
        calibration_section(step, None, html);
    }
    html.push_str("</section>\n");
}

/// A systems step: rate, p99, errors and accuracy per second with the fault and surge windows
/// shaded, the recovery times, and the metrics.
fn system_step(record: &RunRecord, step: &StepResult, html: &mut String) {
    html.push_str(&format!(
        "<section>\n<h2>System: {}</h2>\n<p>{}</p>\n",
        escape(&step.info.id),
        escape(&step.info.description)
    ));
    parameters(step, html);
    if let Some(timeline) = record.timelines.iter().find(|t| t.step_id == step.info.id) {
        let shaded: Vec<(f64, f64, String, &'static str)> = timeline
            .windows
            .iter()
            .map(|w| {
                let colour = match w.kind {
                    stressor_core::WindowKind::Fault => "#d62728",
                    _ => "#ff7f0e",
                };
                (w.start, w.stop, format!("{} ({})", w.name, w.detail), colour)
            })
            .collect();
        let series =
            |name: &str,
             colour: &'static str,
             value: &dyn Fn(&stressor_core::TimelinePoint) -> Option<f64>| {
                crate::chart::Series {
                    name: name.into(),
                    points: timeline
                        .seconds
                        .iter()
                        .filter_map(|s| Some((s.t, value(s)?)))
                        .collect(),
                    colour,
                    ..Default::default()
                }
            };
        let chart = |title: &str,
                     y_label: &str,
                     y_range: Option<(f64, f64)>,
                     series: Vec<crate::chart::Series>| {
            crate::chart::line_chart(&crate::chart::LineChart {
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
        if !timeline.recoveries.is_empty() {
            html.push_str(
                "<h3>Time to recover</h3>\n<table>\n<tr><th>window</th><th>ended at</th>\
                 <th>back within tolerance at</th><th>time to recover</th></tr>\n",
            );
            for recovery in &timeline.recoveries {
                let (at, ttr) = match (recovery.recovered_at, recovery.time_to_recover) {
                    (Some(at), Some(ttr)) => (format!("{at:.2} s"), format!("{ttr:.2} s")),
                    _ => ("—".into(), "<span class=\"fail\">not within the run</span>".into()),
                };
                html.push_str(&format!(
                    "<tr><td>{}</td><td>{:.2} s</td><td>{at}</td><td>{ttr}</td></tr>\n",
                    escape(&recovery.window),
                    recovery.window_end
                ));
            }
            html.push_str("</table>\n");
        }
    }
    metrics_table(step, html, |_| true);
    html.push_str("</section>\n");
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
    let series = |value: &dyn Fn(&stressor_core::DriftPoint) -> f64, band: bool| {
        timelines
            .iter()
            .enumerate()
            .map(|(i, t)| crate::chart::Series {
                name: t.policy.clone(),
                points: t.points.iter().map(|p| (p.step as f64, value(p))).collect(),
                band: if band {
                    t.points
                        .iter()
                        .map(|p| {
                            let n = p.eval_rows as u64;
                            let k = (p.accuracy * n as f64).round() as u64;
                            let ci = stressor_core::wilson_interval(k, n, 0.95);
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
        crate::chart::line_chart(&crate::chart::LineChart {
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
    accuracy.push(crate::chart::Series {
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
    html.push_str(
        "</div>\n<table>\n<tr><th>policy</th><th>time to detect</th><th>retrains</th>\
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
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td></tr>\n",
            escape(&t.policy),
            metric("time_to_detect_steps"),
            metric("retrains"),
            metric("time_to_recover_steps"),
            metric("accuracy_lost"),
            metric("worst_accuracy"),
            metric("final_accuracy"),
            metric("final_ece"),
        ));
    }
    html.push_str("</table>\n</section>\n");
}

/// One drift step: its events and metrics.
fn drift_step(record: &RunRecord, step: &StepResult, html: &mut String) {
    html.push_str(&format!(
        "<section>\n<h2>Drift: {}</h2>\n<p>{}</p>\n",
        escape(&step.info.id),
        escape(&step.info.description)
    ));
    parameters(step, html);
    if let Some(timeline) = record.drift_timelines.iter().find(|t| t.step_id == step.info.id) {
        html.push_str(
            "<h3>Events</h3>\n<table>\n<tr><th>step</th><th>event</th><th>detail</th></tr>\n",
        );
        for event in &timeline.events {
            html.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                event.step,
                escape(&event.kind),
                escape(&event.detail)
            ));
        }
        html.push_str("</table>\n");
    }
    metrics_table(step, html, |_| true);
    html.push_str("</section>\n");
}

/// A comparison step (metrics named `<column>:<row>`) as one table, rows by columns; `false`
/// when the step is not one.
fn comparison_table(step: &StepResult, html: &mut String) -> bool {
    let Some((columns, rows)) = number::comparison(step) else { return false };
    html.push_str("<table class=\"comparison\">\n<tr><th>metric</th>");
    for column in &columns {
        html.push_str(&format!("<th>{}</th>", escape(column)));
    }
    html.push_str("</tr>\n");
    for row in &rows {
        let name = number::row_metric(row);
        html.push_str(&format!(
            "<tr><th title=\"{}\">{}</th>",
            escape(row),
            escape(&number::row_label(row))
        ));
        for column in &columns {
            match number::comparison_cell(step, column, row) {
                Some(estimate) => {
                    let ci = estimate.ci.map_or_else(String::new, |ci| {
                        format!(
                            "<br><span class=\"ci\">[{}, {}]</span>",
                            number::value(name, ci.lower),
                            number::value(name, ci.upper)
                        )
                    });
                    let sign = if *column == "delta" && estimate.value > 0.0 { "+" } else { "" };
                    html.push_str(&format!(
                        "<td>{sign}{}{ci} <span class=\"n\">n={}</span></td>",
                        number::value(name, estimate.value),
                        estimate.n
                    ));
                }
                None => html.push_str("<td>–</td>"),
            }
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</table>\n");
    true
}

fn stress_step(
    record: &RunRecord,
    step: &StepResult,
    config: &HtmlConfig,
    budget: &mut usize,
    html: &mut String,
) {
    let info = &record.info;
    let dial = step.info.dial_name.as_deref().unwrap_or("dial");
    let kind = match step.info.kind {
        StepKind::Attack => "Attack",
        StepKind::Corruption => "Corruption",
        StepKind::Lighting => "Lighting",
        _ => "Step",
    };
    html.push_str(&format!(
        "<section>\n<h2>{kind}: {}</h2>\n<p>{}</p>\n",
        escape(&step.info.id),
        escape(&step.info.description)
    ));
    parameters(step, html);

    let accuracy = number::stressed_accuracy(step);
    let heading = if accuracy == "robust_accuracy" { "Robust accuracy" } else { "Accuracy" };
    html.push_str(&format!("<h3>{heading} and calibration error</h3>\n"));
    html.push_str(&accuracy_chart(step, dial, accuracy));
    metrics_table(step, html, |name| !number::is_calibration(name));
    let steady = record.steps.iter().find(|s| s.info.kind == StepKind::SteadyState);
    calibration_section(step, steady, html);

    if let Some(largest) = number::largest_dial_point(step) {
        let at = largest.dial_value.map_or_else(|| "–".to_owned(), number::dial);
        if !largest.per_class.is_empty() {
            html.push_str(&format!("<h3>Accuracy per class at {} = {at}</h3>\n", escape(dial)));
            html.push_str(&class_chart(info, largest, config, dial, &at));
        }
        confusion_table(info, largest, dial, &at, html);
        if !largest.loss_trace.is_empty() {
            html.push_str(&format!("<h3>Loss per iteration at {} = {at}</h3>\n", escape(dial)));
            html.push_str(&line_chart(&LineChart {
                shaded: Vec::new(),
                title: format!("mean loss per attack iteration at {dial} = {at}"),
                x_label: "iteration".to_owned(),
                y_label: "mean loss".to_owned(),
                y_range: None,
                series: vec![Series {
                    name: "loss".to_owned(),
                    points: (1..).map(f64::from).zip(largest.loss_trace.iter().copied()).collect(),
                    colour: ROBUST_COLOUR,
                    ..Series::default()
                }],
            }));
        }
    }
    for point in exemplar_points(step) {
        exemplars(info, point, dial, config, budget, html);
    }
    html.push_str("</section>\n");
}

fn parameters(step: &StepResult, html: &mut String) {
    if step.parameters.is_empty() {
        return;
    }
    let items: Vec<String> = step
        .parameters
        .iter()
        .map(|(name, value)| format!("{} = {}", escape(name), escape(value)))
        .collect();
    html.push_str(&format!("<p class=\"n\">Parameters: {}</p>\n", items.join(", ")));
}

fn accuracy_chart(step: &StepResult, dial: &str, accuracy: &str) -> String {
    let swept: Vec<&StepPoint> = step.points.iter().filter(|p| p.dial_value.is_some()).collect();
    let series_of = |name: &str| -> Vec<(f64, f64)> {
        swept.iter().filter_map(|p| Some((p.dial_value?, p.metric(name)?.value))).collect()
    };
    let band_of = |name: &str| -> Vec<(f64, f64, f64)> {
        swept
            .iter()
            .filter_map(|p| {
                let ci = p.metric(name)?.ci?;
                Some((p.dial_value?, ci.lower, ci.upper))
            })
            .collect()
    };
    let stressed = series_of(accuracy);
    if stressed.is_empty() {
        return "<p class=\"note\">No accuracy was measured.</p>\n".to_owned();
    }
    let label = accuracy.replace('_', " ");
    let mut series = vec![Series {
        name: format!("{label} (95% CI)"),
        points: stressed,
        band: band_of(accuracy),
        colour: ROBUST_COLOUR,
        dashed: false,
    }];
    let ece = series_of("ece");
    if !ece.is_empty() {
        series.push(Series {
            name: "ECE (95% CI)".to_owned(),
            points: ece,
            band: band_of("ece"),
            colour: ECE_COLOUR,
            dashed: false,
        });
    }
    let clean = series_of("clean_accuracy");
    if !clean.is_empty() {
        series.push(Series {
            name: "clean accuracy".to_owned(),
            points: clean,
            colour: CLEAN_COLOUR,
            dashed: true,
            ..Series::default()
        });
    }
    line_chart(&LineChart {
        shaded: Vec::new(),
        title: format!("{label} and expected calibration error against {dial}, with 95% bands"),
        x_label: dial_axis_label(dial),
        y_label: "accuracy · ECE".to_owned(),
        y_range: Some((0.0, 1.0)),
        series,
    })
}

fn dial_axis_label(dial: &str) -> String {
    match dial {
        "epsilon" => "ε (epsilon)".to_owned(),
        "kelvin" => "colour temperature (K)".to_owned(),
        "ev" => "exposure (EV)".to_owned(),
        _ => dial.to_owned(),
    }
}

/// Reliability diagrams and risk–coverage curves: clean (the steady state) against the
/// largest dial value of `step`, and the calibration metrics per dial value.
fn calibration_section(step: &StepResult, steady: Option<&StepResult>, html: &mut String) {
    let stressed = number::largest_dial_point(step)
        .filter(|p| p.calibration.is_some() && p.dial_value.is_some());
    let clean = steady.and_then(|s| s.points.first()).filter(|p| p.calibration.is_some());
    let own = step.points.first().filter(|p| p.calibration.is_some() && p.dial_value.is_none());
    let mut curves: Vec<(String, &stressor_core::CalibrationCurves, &'static str, bool)> =
        Vec::new();
    if let Some(point) = clean.or(own)
        && let Some(c) = &point.calibration
    {
        curves.push(("clean".to_owned(), c, CLEAN_COLOUR, true));
    }
    if let Some(point) = stressed
        && let Some(c) = &point.calibration
    {
        let dial = step.info.dial_name.as_deref().unwrap_or("dial");
        let at = point.dial_value.map_or_else(|| "–".to_owned(), number::dial);
        curves.push((format!("{dial} = {at}"), c, ROBUST_COLOUR, false));
    }
    if curves.is_empty()
        && !step.points.iter().any(|p| p.metrics.iter().any(|m| number::is_calibration(&m.name)))
    {
        return;
    }
    html.push_str("<h3>Calibration and uncertainty</h3>\n");
    metrics_table(step, html, number::is_calibration);
    if curves.is_empty() {
        return;
    }
    let mut reliability = vec![Series {
        name: "perfect calibration".to_owned(),
        points: vec![(0.0, 0.0), (1.0, 1.0)],
        colour: GREY_COLOUR,
        dashed: true,
        ..Series::default()
    }];
    let mut risk = Vec::new();
    for (name, c, colour, dashed) in &curves {
        reliability.push(Series {
            name: name.clone(),
            points: c
                .reliability
                .iter()
                .filter(|b| b.count > 0)
                .map(|b| (b.mean_confidence, b.accuracy))
                .collect(),
            colour,
            dashed: *dashed,
            ..Series::default()
        });
        risk.push(Series {
            name: name.clone(),
            points: c.risk_coverage.clone(),
            colour,
            dashed: *dashed,
            ..Series::default()
        });
    }
    html.push_str("<div class=\"pair\">\n");
    html.push_str(&line_chart(&LineChart {
        shaded: Vec::new(),
        title: "reliability diagram: accuracy against mean confidence per bin".to_owned(),
        x_label: "confidence".to_owned(),
        y_label: "accuracy".to_owned(),
        y_range: Some((0.0, 1.0)),
        series: reliability,
    }));
    if risk.iter().any(|s| !s.points.is_empty()) {
        html.push_str(&line_chart(&LineChart {
            shaded: Vec::new(),
            title: "risk–coverage: error rate among the most confident answers".to_owned(),
            x_label: "coverage".to_owned(),
            y_label: "risk (error rate)".to_owned(),
            y_range: None,
            series: risk,
        }));
    }
    html.push_str("</div>\n");
    let histograms: Vec<String> = curves
        .iter()
        .filter(|(_, c, _, _)| !c.confidence_histogram.is_empty())
        .map(|(name, c, _, _)| {
            let total: u64 = c.confidence_histogram.iter().sum();
            let cells: Vec<String> = c
                .confidence_histogram
                .iter()
                .map(|&count| format!("{:.0}%", 100.0 * count as f64 / total.max(1) as f64))
                .collect();
            format!("<tr><td>{}</td><td>{}</td></tr>", escape(name), cells.join(" · "))
        })
        .collect();
    if !histograms.is_empty() {
        html.push_str(&format!(
            "<p class=\"n\">Share of samples per confidence bin (0 → 1):</p>\n\
             <table class=\"histogram\">{}</table>\n",
            histograms.join("\n")
        ));
    }
}

fn metrics_table(step: &StepResult, html: &mut String, include: impl Fn(&str) -> bool) {
    let names: Vec<&str> =
        number::metric_names(&step.points).into_iter().filter(|name| include(name)).collect();
    if names.is_empty() {
        return;
    }
    let dial = step.info.dial_name.as_deref();
    html.push_str("<table class=\"metrics\">\n<tr>");
    if let Some(dial) = dial {
        html.push_str(&format!("<th>{}</th>", escape(&dial_axis_label(dial))));
    }
    for name in &names {
        html.push_str(&format!(
            "<th title=\"{0}\">{1}</th>",
            escape(name),
            escape(number::metric_label(name))
        ));
    }
    html.push_str("</tr>\n");
    for point in &step.points {
        html.push_str("<tr>");
        if dial.is_some() {
            let value = point.dial_value.map_or_else(|| "–".to_owned(), number::dial);
            html.push_str(&format!("<td>{value}</td>"));
        }
        for name in &names {
            match point.metric(name) {
                Some(estimate) => {
                    let ci = estimate.ci.map_or_else(String::new, |ci| {
                        format!(
                            "<br><span class=\"ci\">[{}, {}]</span>",
                            number::value(name, ci.lower),
                            number::value(name, ci.upper)
                        )
                    });
                    html.push_str(&format!(
                        "<td>{}{ci} <span class=\"n\">n={}</span></td>",
                        number::value(name, estimate.value),
                        estimate.n
                    ));
                }
                None => html.push_str("<td>–</td>"),
            }
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</table>\n");
}

fn class_chart(
    info: &RunInfo,
    point: &StepPoint,
    config: &HtmlConfig,
    dial: &str,
    at: &str,
) -> String {
    let mut classes: Vec<_> = point.per_class.iter().collect();
    let mut note = String::new();
    if classes.len() > config.max_classes_in_chart {
        let drop = |c: &&stressor_core::ClassAccuracy| c.clean.value - c.stressed.value;
        classes.sort_by(|a, b| drop(b).total_cmp(&drop(a)));
        note = format!(
            "<p class=\"note\">The {} of {} classes whose accuracy dropped most.</p>\n",
            config.max_classes_in_chart,
            classes.len()
        );
        classes.truncate(config.max_classes_in_chart);
        classes.sort_by_key(|c| c.label);
    }
    let bar = |estimate: &stressor_core::Estimate| Bar {
        value: estimate.value,
        interval: estimate.ci.map(|ci| (ci.lower, ci.upper)),
    };
    let chart = BarChart {
        title: format!("accuracy per class, clean and at {dial} = {at}"),
        y_label: "accuracy".to_owned(),
        series: vec![("clean".to_owned(), CLEAN_COLOUR), (format!("{dial} = {at}"), ROBUST_COLOUR)],
        groups: classes
            .iter()
            .map(|c| (number::class_name(info, c.label), vec![bar(&c.clean), bar(&c.stressed)]))
            .collect(),
    };
    format!("{}{note}", bar_chart(&chart))
}

fn confusion_table(info: &RunInfo, point: &StepPoint, dial: &str, at: &str, html: &mut String) {
    if point.confusion_growth.is_empty() {
        return;
    }
    html.push_str(&format!(
        "<h3>Confusions that grew most at {} = {at}</h3>\n<table class=\"confusion\">\n\
         <tr><th>True class</th><th>Predicted as</th><th>Clean</th><th>Stressed</th>\
         <th>Growth</th></tr>\n",
        escape(dial)
    ));
    for pair in point.confusion_growth.iter().take(10) {
        let growth = i128::from(pair.stressed_count) - i128::from(pair.clean_count);
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{growth:+}</td></tr>\n",
            escape(&number::class_name(info, pair.true_label)),
            escape(&number::class_name(info, pair.predicted_label)),
            pair.clean_count,
            pair.stressed_count
        ));
    }
    html.push_str("</table>\n");
}

/// The points whose exemplars are shown: the largest dial value and, with three or more
/// points, the middle one.
fn exemplar_points(step: &StepResult) -> Vec<&StepPoint> {
    let mut points = Vec::new();
    if step.points.len() >= 3 {
        points.push(&step.points[step.points.len() / 2]);
    }
    if let Some(largest) = number::largest_dial_point(step)
        && !points.iter().any(|p| std::ptr::eq(*p, largest))
    {
        points.push(largest);
    }
    points.retain(|p| !p.exemplars.is_empty());
    points
}

fn exemplars(
    info: &RunInfo,
    point: &StepPoint,
    dial: &str,
    config: &HtmlConfig,
    budget: &mut usize,
    html: &mut String,
) {
    let at = point.dial_value.map_or_else(|| "–".to_owned(), number::dial);
    html.push_str(&format!(
        "<h3>Exemplars at {} = {at}</h3>\n<p class=\"n\">Each shows the clean input, the \
         stressed input and their difference |stressed − clean| scaled to full range.</p>\n\
         <div class=\"exemplars\">\n",
        escape(dial)
    ));
    let mut n_left_out = point.exemplars.len().saturating_sub(config.max_exemplars_per_point);
    for exemplar in point.exemplars.iter().take(config.max_exemplars_per_point) {
        match exemplar_images(exemplar, config) {
            Some(images) if images.iter().map(String::len).sum::<usize>() <= *budget => {
                *budget -= images.iter().map(String::len).sum::<usize>();
                let alt = ["clean input", "stressed input", "amplified difference"];
                html.push_str("<figure>");
                for (uri, alt) in images.iter().zip(alt) {
                    html.push_str(&format!("<img src=\"{uri}\" alt=\"{alt}\" title=\"{alt}\">"));
                }
                html.push_str(&format!(
                    "<figcaption>{}</figcaption></figure>\n",
                    caption(info, exemplar)
                ));
            }
            Some(_) => n_left_out += 1,
            None => html.push_str(&format!(
                "<figure><figcaption>{} <span class=\"note\">(not an image: shape {:?})</span>\
                 </figcaption></figure>\n",
                caption(info, exemplar),
                exemplar.shape
            )),
        }
    }
    html.push_str("</div>\n");
    if n_left_out > 0 {
        html.push_str(&format!(
            "<p class=\"note\">{n_left_out} more exemplars left out to keep the file small.</p>\n"
        ));
    }
}

fn caption(info: &RunInfo, exemplar: &Exemplar) -> String {
    format!(
        "#{} · true {} · clean → {} · stressed → {}",
        exemplar.index,
        escape(&number::class_name(info, exemplar.label)),
        escape(&number::class_name(info, exemplar.clean_prediction)),
        escape(&number::class_name(info, exemplar.stressed_prediction))
    )
}

/// The clean, stressed and difference images as `data:image/png;base64` URIs.
fn exemplar_images(exemplar: &Exemplar, config: &HtmlConfig) -> Option<[String; 3]> {
    let clean = image::from_tensor(&exemplar.shape, &exemplar.clean)?;
    let stressed = image::from_tensor(&exemplar.shape, &exemplar.stressed)?;
    let difference = image::difference(&exemplar.shape, &exemplar.clean, &exemplar.stressed)?;
    let factor = if clean.width.max(clean.height) <= 64 { config.upscale } else { 1 };
    let uri = |picture: &image::Picture| -> Option<String> {
        // Encoding into memory fails only on an invalid header, which `from_tensor` rules out.
        let png = image::to_png(&image::upscale(picture, factor)).ok()?;
        Some(format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(png)
        ))
    };
    Some([uri(&clean)?, uri(&stressed)?, uri(&difference)?])
}

fn warnings(record: &RunRecord, html: &mut String) {
    if record.warnings.is_empty() {
        return;
    }
    html.push_str("<section>\n<h2>Warnings</h2>\n<ul class=\"warnings\">\n");
    for warning in &record.warnings {
        let step =
            warning.step_id.as_deref().map_or_else(String::new, |id| format!(" ({})", escape(id)));
        html.push_str(&format!(
            "<li><code>{}</code>{step}: {}</li>\n",
            escape(&warning.code),
            escape(&warning.message)
        ));
    }
    html.push_str("</ul>\n</section>\n");
}
