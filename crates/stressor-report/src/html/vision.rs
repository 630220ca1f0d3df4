//! The vision family's sections: steady state, attack, corruption and lighting sweeps (accuracy
//! and calibration curves, reliability diagrams, per-class accuracy, confusions, loss traces,
//! exemplars), mitigations (before/after comparisons, then the mitigated model's sweeps),
//! summaries and transfer tables.

use base64::Engine as _;
use stressor_core::{Exemplar, RunInfo, StepKind, StepPoint, StepResult};

use super::HtmlConfig;
use super::markup::{
    close_table, dial_axis_label, escape, estimate_cell, metrics_table, open_section, open_table,
};
use crate::chart::{Bar, BarChart, LineChart, Series, bar_chart, line_chart};
use crate::{RunRecord, image, number};

/// The section of vision step `step`; a mitigation's section also holds the sweeps of its
/// mitigated model. `budget` is the PNG bytes still allowed.
pub(super) fn section(
    record: &RunRecord,
    step: &StepResult,
    config: &HtmlConfig,
    budget: &mut usize,
    html: &mut String,
) {
    match step.info.kind {
        StepKind::Attack | StepKind::Corruption | StepKind::Lighting => {
            stress_step(record, step, config, budget, html);
        }
        StepKind::Mitigation => {
            plain_step(step, html);
            let prefix = format!("{}/", step.info.id);
            for mitigated in record.steps.iter().filter(|s| s.info.id.starts_with(&prefix)) {
                stress_step(record, mitigated, config, budget, html);
            }
        }
        _ => plain_step(step, html),
    }
}

const ROBUST_COLOUR: &str = "#c2410c";
const CLEAN_COLOUR: &str = "#1d4ed8";
const ECE_COLOUR: &str = "#7c3aed";
const GREY_COLOUR: &str = "#6b7280";

fn plain_step(step: &StepResult, html: &mut String) {
    let title = match step.info.kind {
        StepKind::SteadyState => "Steady state",
        StepKind::Summary => "Summary",
        StepKind::Mitigation => "Mitigation",
        _ => "Step",
    };
    open_section(title, step, html);
    if !comparison_table(step, html) {
        metrics_table(step, html, |name| !number::is_calibration(name));
        calibration_section(step, None, html);
    }
    html.push_str("</section>\n");
}

/// A comparison step (metrics named `<column>:<row>`) as one table, rows by columns; `false`
/// when the step is not one.
fn comparison_table(step: &StepResult, html: &mut String) -> bool {
    let Some((columns, rows)) = number::comparison(step) else { return false };
    open_table(html, "comparison");
    html.push_str("<tr><th>metric</th>");
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
                    let sign = if *column == "delta" && estimate.value > 0.0 { "+" } else { "" };
                    html.push_str(&format!(
                        "<td>{sign}{} <span class=\"n\">n={}</span></td>",
                        estimate_cell(name, estimate),
                        estimate.n
                    ));
                }
                None => html.push_str("<td>–</td>"),
            }
        }
        html.push_str("</tr>\n");
    }
    close_table(html);
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
    open_section(kind, step, html);

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
        html.push_str("<p class=\"n\">Share of samples per confidence bin (0 → 1):</p>\n");
        open_table(html, "histogram");
        html.push_str(&histograms.join("\n"));
        close_table(html);
    }
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
    html.push_str(&format!("<h3>Confusions that grew most at {} = {at}</h3>\n", escape(dial)));
    open_table(html, "confusion");
    html.push_str(
        "<tr><th>True class</th><th>Predicted as</th><th>Clean</th><th>Stressed</th>\
         <th>Growth</th></tr>\n",
    );
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
    close_table(html);
}

/// The points whose exemplars are shown: the largest dial value's (the strongest stress), where
/// failures are most common; the other points' exemplars stay in report.json.
fn exemplar_points(step: &StepResult) -> Vec<&StepPoint> {
    number::largest_dial_point(step).filter(|p| !p.exemplars.is_empty()).into_iter().collect()
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
