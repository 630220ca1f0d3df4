//! The document around the families' sections: head and CSS, the header with the verdict and
//! the run's details, the gates, unfinished steps, warnings and the footer; and the dispatch of
//! each step to its family's section.

use std::io::{self, Write};

use stressor_core::{StepKind, Verdict};

use super::markup::{close_table, escape, open_table};
use super::{chatbot, drift, recsys, system, vision, wargame};
use crate::{RunRecord, number};

/// How the HTML report is written.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HtmlConfig {
    /// The most exemplars shown per step (default 3), at its largest dial value.
    pub max_exemplars_per_point: usize,
    /// How many times small images are enlarged, nearest-neighbour, in the PNG (default 1:
    /// the page's CSS shows every exemplar 84 pixels wide with pixelated scaling, so enlarging
    /// the PNG only adds bytes). Images wider or taller than 64 pixels are not enlarged.
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
            max_exemplars_per_point: 3,
            upscale: 1,
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
            StepKind::System => system::section(record, step, &mut html),
            StepKind::Drift => drift::section(record, step, &mut html),
            StepKind::Recommender => recsys::section(record, step, &mut html),
            StepKind::Chatbot => chatbot::section(record, step, &mut html),
            StepKind::WarGame => wargame::section(record, step, &mut html),
            _ => vision::section(record, step, config, &mut budget, &mut html),
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

/// The report's CSS.
///
/// Two rules keep the page readable on any screen. The verdict badge states its text colour
/// with its background in one rule (`.badge.pass`), so the status text colours (`.pass`, on
/// the page background) never paint the badge's text in its own background colour. Nothing is
/// wider than the page: tables sit in a `.scroll` container that scrolls sideways, charts and
/// images are at most as wide as their container, and long names break anywhere.
const STYLE: &str = "
body { font: 15px/1.45 system-ui, sans-serif; color: #1d2430; background: #fff;
  max-width: 1100px; margin: 0 auto; padding: 1.5rem; overflow-wrap: anywhere; }
h1 { font-size: 1.6rem; margin-bottom: .3rem; }
h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #d6dbe3; }
h3 { font-size: 1.05rem; margin-top: 1.4rem; }
.pass { color: #1b7f3b; font-weight: 600; } .fail { color: #b3261e; font-weight: 600; }
.badge { display: inline-block; padding: .1rem .7rem; border-radius: .3rem; color: #fff;
  font-weight: 700; margin-left: .6rem; vertical-align: middle; font-size: 1rem; }
.badge.pass { color: #fff; background: #1b7f3b; }
.badge.fail { color: #fff; background: #b3261e; }
.badge.incomplete { color: #fff; background: #9a6700; }
dl.meta { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: .2rem 1.2rem; }
dl.meta dt { color: #5b6472; } dl.meta dd { margin: 0; }
.scroll { max-width: 100%; overflow-x: auto; margin: .6rem 0; }
table { border-collapse: collapse; margin: 0; font-variant-numeric: tabular-nums;
  overflow-wrap: normal; }
th, td { border-bottom: 1px solid #e3e7ee; padding: .25rem .7rem; text-align: left;
  vertical-align: top; }
th { background: #f3f5f8; }
td.id, th.id { overflow-wrap: anywhere; min-width: 6rem; }
.ci, .n { color: #5b6472; font-size: .85em; }
img, svg { max-width: 100%; }
.pair, .charts { display: flex; flex-wrap: wrap; gap: 1rem; }
.pair > *, .charts > * { min-width: 0; }
.pair svg.chart, .charts svg.chart { max-width: min(100%, 520px); }
.charts > figure { flex: 0 1 500px; }
svg.chart { width: 100%; max-width: min(100%, 640px); height: auto; display: block;
  margin: .6rem 0; }
svg .axis { stroke: #333; stroke-width: 1; fill: none; } svg .grid { stroke: #e3e7ee; stroke-width: 1; fill: none; }
svg .tx { text-anchor: middle; } svg .ty { text-anchor: end; }
svg .whisker { stroke: #222; stroke-width: 1.2; fill: none; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
svg .label { font-size: 12px; } svg .legend { font-size: 12px; }
.exemplars { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; padding: .4rem; border: 1px solid #e3e7ee; border-radius: .3rem;
  max-width: 100%; box-sizing: border-box; }
figure img { image-rendering: pixelated; width: 84px; height: auto; margin-right: 2px; }
figcaption { font-size: .8rem; color: #3a4250; max-width: 270px; }
.note { color: #5b6472; font-style: italic; }
.keys { display: flex; flex-wrap: wrap; gap: .2rem 1.2rem; margin: .4rem 0; }
.keys svg { vertical-align: middle; }
footer { margin-top: 3rem; color: #5b6472; font-size: .85rem; }
";

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
            if shape.is_empty() {
                // A target without an input tensor (a chatbot takes text).
                format!(
                    "{} ({}), {} classes",
                    escape(&info.target_name),
                    escape(&info.target_kind),
                    info.class_names.len()
                )
            } else {
                format!(
                    "{} ({}), input [{}], {} classes",
                    escape(&info.target_name),
                    escape(&info.target_kind),
                    shape.join(", "),
                    info.class_names.len()
                )
            },
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
    open_table(html, "gates");
    html.push_str(
        "<tr><th>Result</th><th>Gate</th><th>Condition</th><th>Observed</th><th>95% CI</th>\
         <th>n</th><th>At</th></tr>\n",
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
                number::estimate_value(&gate.metric, estimate),
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
            "<tr>{result}<td class=\"id\">{}</td><td class=\"id\">{} {}</td><td>{observed}</td>\
             <td>{ci}</td><td>{n}</td><td>{at}</td></tr>\n",
            escape(&gate.id),
            escape(&gate.metric),
            escape(&number::gate_condition(gate))
        ));
    }
    close_table(html);
    html.push_str("</section>\n");
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
