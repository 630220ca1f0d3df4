//! Building blocks every section uses: escaping, a step's heading and parameters, tables that
//! scroll sideways instead of widening the page, and cells for estimates.

use stressor_core::{Estimate, StepResult};

use crate::number;

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

/// Opens a section for `step`: `<h2>{title}: {id}</h2>`, its description and its parameters.
pub(super) fn open_section(title: &str, step: &StepResult, html: &mut String) {
    html.push_str(&format!(
        "<section>\n<h2>{title}: {}</h2>\n<p>{}</p>\n",
        escape(&step.info.id),
        escape(&step.info.description)
    ));
    parameters(step, html);
}

/// Opens a table of class `class` inside a container that scrolls sideways, so a wide table
/// never makes the page wider than the window. Close it with [`close_table`].
pub(super) fn open_table(html: &mut String, class: &str) {
    html.push_str(&format!("<div class=\"scroll\"><table class=\"{class}\">\n"));
}

/// Closes a table opened with [`open_table`].
pub(super) fn close_table(html: &mut String) {
    html.push_str("</table></div>\n");
}

/// A cell's content for `estimate` of metric `name`: the value (a count as an integer) and,
/// below it, the interval.
pub(super) fn estimate_cell(name: &str, estimate: &Estimate) -> String {
    let ci = estimate.ci.map_or_else(String::new, |ci| {
        format!(
            "<br><span class=\"ci\">[{}, {}]</span>",
            number::value(name, ci.lower),
            number::value(name, ci.upper)
        )
    });
    format!("{}{ci}", number::estimate_value(name, estimate))
}

/// A table of `step`'s metrics for which `include` holds: one row per point (with its dial
/// value), one column per metric. Each row's most common sample size is its `n` column; a cell
/// whose estimate has another names it.
pub(super) fn metrics_table(step: &StepResult, html: &mut String, include: impl Fn(&str) -> bool) {
    let names: Vec<&str> =
        number::metric_names(&step.points).into_iter().filter(|name| include(name)).collect();
    if names.is_empty() {
        return;
    }
    let dial = step.info.dial_name.as_deref();
    open_table(html, "metrics");
    html.push_str("<tr>");
    if let Some(dial) = dial {
        html.push_str(&format!("<th>{}</th>", escape(&dial_axis_label(dial))));
    }
    html.push_str(
        "<th title=\"the sample size of this row's estimates, unless a cell says another\">n</th>",
    );
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
        let row_n = most_common_n(names.iter().filter_map(|name| point.metric(name)));
        html.push_str(&format!("<td>{}</td>", row_n.map_or_else(|| "–".into(), |n| n.to_string())));
        for name in &names {
            match point.metric(name) {
                Some(estimate) if Some(estimate.n) == row_n => {
                    html.push_str(&format!("<td>{}</td>", estimate_cell(name, estimate)));
                }
                Some(estimate) => html.push_str(&format!(
                    "<td>{} <span class=\"n\">n={}</span></td>",
                    estimate_cell(name, estimate),
                    estimate.n
                )),
                None => html.push_str("<td>–</td>"),
            }
        }
        html.push_str("</tr>\n");
    }
    close_table(html);
}

/// The sample size most of `estimates` share (the smallest among equally common ones).
fn most_common_n<'a>(estimates: impl Iterator<Item = &'a Estimate>) -> Option<u64> {
    let mut counts: std::collections::BTreeMap<u64, usize> = std::collections::BTreeMap::new();
    for e in estimates {
        *counts.entry(e.n).or_default() += 1;
    }
    counts.into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0))).map(|(n, _)| n)
}

/// An axis or column label for dial `dial`: `ε (epsilon)` for `epsilon`.
pub(super) fn dial_axis_label(dial: &str) -> String {
    match dial {
        "epsilon" => "ε (epsilon)".to_owned(),
        "kelvin" => "colour temperature (K)".to_owned(),
        "ev" => "exposure (EV)".to_owned(),
        _ => dial.to_owned(),
    }
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
