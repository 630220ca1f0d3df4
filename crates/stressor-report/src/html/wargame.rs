//! The war game's sections, from `war-game/*` steps (one per blue team) and their
//! [`WargameDetail`]s: when two or more teams played, the teams compared at the first of them
//! (per inject, time to detect and to recover; impact side by side); then each team's timeline
//! as lanes per model, its incidents with MTTD, MTTA and MTTR, its impact, the series its
//! monitors watched (fairness first) with the injects shaded, the timeline as a table and the
//! registry's alias history. Everything is rendered from the detail; every text from outside —
//! ids, models, entry texts, reasons — is escaped.

use stressor_core::{
    EntryKind, Estimate, Side, StepResult, WargameDetail, WargameEntry, WargameSeries,
};

use super::markup::{close_table, escape, estimate_cell, metrics_table, open_section, open_table};
use crate::chart::{
    LaneChart, LaneMark, LaneSpan, LineChart, Series, Shape, bare_line_chart, key_marker,
    lane_chart,
};
use crate::{RunRecord, number};

/// The colour of an inject: its span in the lanes and its shading behind the series.
const RED: &str = "#d62728";
/// The colour of a detection.
const DETECTION: &str = "#ff7f0e";
/// The colour of a blue-team action, done or failed.
const BLUE: &str = "#1f77b4";
/// The colour of a recovery.
const GREEN: &str = "#2ca02c";
/// The colour of a scheduled event of the exercise.
const GREY: &str = "#7f7f7f";

/// The most timeline entries charted and listed per team; the JSON report keeps them all.
const MAX_ENTRIES: usize = 500;

/// The lane of entries about no model in particular.
const NO_MODEL: &str = "(exercise)";

/// One line that says what MTTD, MTTA and MTTR are.
const DEFINITIONS: &str = "MTTD: mean time from an inject's start to the first alert on its \
    model; MTTA: to the first blue-team action on its model; MTTR: until its model's KPIs and \
    fairness are back within tolerance. Each is a mean over the seeds in which it happened \
    (n of them), with its 95 % interval; never: in no seed; no impact: the model never left \
    tolerance after the inject.";

/// The section of war-game step `step`, preceded by the teams compared when `step` is the
/// first war-game step and two or more teams played.
pub(super) fn section(record: &RunRecord, step: &StepResult, html: &mut String) {
    let teams = teams(record);
    if teams.len() >= 2 && teams.first().is_some_and(|(first, _)| first.info.id == step.info.id) {
        comparison(&teams, html);
    }
    open_section("War game", step, html);
    let Some(detail) = record.wargame_details.iter().find(|d| d.step_id == step.info.id) else {
        html.push_str("<p class=\"note\">This step sent no war-game detail.</p>\n");
        metrics_table(step, html, |_| true);
        html.push_str("</section>\n");
        return;
    };
    overview(step, detail, html);
    let axis = TimeAxis::of(detail);
    timeline_chart(team_name(step, detail), detail, &axis, html);
    incidents_table(detail, html);
    impact_table(detail, html);
    series_charts(detail, &axis, html);
    timeline_table(detail, html);
    alias_table(detail, html);
    html.push_str(
        "<details><summary>Every metric of this step</summary>\n<p class=\"n\">The figures \
         above under the names gates use.</p>\n",
    );
    metrics_table(step, html, |_| true);
    html.push_str("</details>\n</section>\n");
}

/// The war-game steps with their details, in run order.
fn teams(record: &RunRecord) -> Vec<(&StepResult, &WargameDetail)> {
    record
        .steps
        .iter()
        .filter_map(|step| {
            let detail = record.wargame_details.iter().find(|d| d.step_id == step.info.id)?;
            Some((step, detail))
        })
        .collect()
}

/// The team's name (its step's id when it has none).
fn team_name<'a>(step: &'a StepResult, detail: &'a WargameDetail) -> &'a str {
    if detail.team.is_empty() { &step.info.id } else { &detail.team }
}

/// The team, the seeds, the exercise's length and clock, the registry, and the scores.
fn overview(step: &StepResult, detail: &WargameDetail, html: &mut String) {
    let seeds = match detail.seeds.as_slice() {
        [] => "no seeds".to_owned(),
        [seed] => format!("seed {seed}"),
        seeds => format!(
            "{} seeds ({}; the timeline and series are seed {}'s)",
            seeds.len(),
            seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
            seeds[0]
        ),
    };
    html.push_str(&format!(
        "<p>Blue team <b>{}</b> · {seeds} · {} of {} clock, one tick every {} · registry {}</p>\n",
        escape(team_name(step, detail)),
        number::duration_s(detail.duration_s),
        escape(&detail.clock),
        number::duration_s(detail.tick_s),
        escape(&detail.registry)
    ));
    let scores: Vec<String> = [("blue_score", "blue score"), ("red_score", "red score")]
        .iter()
        .filter_map(|(name, label)| {
            let estimate = step.points.iter().find_map(|p| p.metric(name))?;
            Some(format!("{label} {}", number::estimate(name, estimate)))
        })
        .collect();
    if !scores.is_empty() {
        html.push_str(&format!("<p>{}</p>\n", escape(&scores.join(" · "))));
    }
}

/// How times of an exercise are shown on chart axes: in seconds, minutes or hours, whichever
/// suits its length.
struct TimeAxis {
    seconds_per_unit: f64,
    label: &'static str,
}

impl TimeAxis {
    fn of(detail: &WargameDetail) -> TimeAxis {
        let duration = detail.duration_s;
        if !duration.is_finite() || duration <= 300.0 {
            TimeAxis { seconds_per_unit: 1.0, label: "seconds from the start" }
        } else if duration <= 6.0 * 3600.0 {
            TimeAxis { seconds_per_unit: 60.0, label: "minutes from the start" }
        } else {
            TimeAxis { seconds_per_unit: 3600.0, label: "hours from the start" }
        }
    }

    fn map(&self, t_s: f64) -> f64 {
        t_s / self.seconds_per_unit
    }
}

/// How a timeline entry is drawn: its shape, colour and place in its lane; injects are spans.
fn marker(kind: EntryKind) -> Option<(Shape, &'static str, f64)> {
    match kind {
        EntryKind::Detection => Some((Shape::Diamond, DETECTION, -0.3)),
        EntryKind::Action => Some((Shape::Circle, BLUE, 0.0)),
        EntryKind::ActionFailed => Some((Shape::Ring, BLUE, 0.0)),
        EntryKind::Recovery => Some((Shape::Square, GREEN, 0.3)),
        EntryKind::Scheduled => Some((Shape::Tick, GREY, 0.0)),
        EntryKind::Inject | EntryKind::InjectEnd => None,
    }
}

/// The lane of `model`.
fn lane_name(model: &str) -> &str {
    if model.is_empty() { NO_MODEL } else { model }
}

/// The models of the timeline and the incidents, in order of first appearance.
fn lanes(detail: &WargameDetail) -> Vec<&str> {
    let mut lanes: Vec<&str> = Vec::new();
    let models = detail
        .incidents
        .iter()
        .map(|i| i.model.as_str())
        .chain(detail.timeline.iter().take(MAX_ENTRIES).map(|e| e.model.as_str()));
    for model in models.map(lane_name) {
        if !lanes.contains(&model) {
            lanes.push(model);
        }
    }
    lanes
}

/// When inject `entry` (the `index`th entry) ended: its matching end entry, else its
/// incident's end, else the end of the exercise.
fn inject_end(detail: &WargameDetail, index: usize, entry: &WargameEntry) -> f64 {
    detail
        .timeline
        .iter()
        .skip(index + 1)
        .find(|e| e.kind == EntryKind::InjectEnd && e.id == entry.id && e.model == entry.model)
        .map(|e| e.t_s)
        .or_else(|| detail.incidents.iter().find(|i| i.inject == entry.id).map(|i| i.end_s))
        .unwrap_or(detail.duration_s)
}

/// The timeline as one lane per model: injects as red spans, detections, actions, recoveries
/// and scheduled events as markers, each with its text as a tooltip.
fn timeline_chart(team: &str, detail: &WargameDetail, axis: &TimeAxis, html: &mut String) {
    let lanes = lanes(detail);
    if lanes.is_empty() {
        return;
    }
    let lane_of =
        |model: &str| lanes.iter().position(|lane| *lane == lane_name(model)).unwrap_or(0);
    let entries = detail.timeline.iter().enumerate().take(MAX_ENTRIES);
    let mut spans = Vec::new();
    let mut marks = Vec::new();
    for (index, entry) in entries {
        let title = format!("{} {}: {}", clock(entry.t_s, detail), entry.id, entry.text);
        if entry.kind == EntryKind::Inject {
            spans.push(LaneSpan {
                lane: lane_of(&entry.model),
                x0: axis.map(entry.t_s),
                x1: axis.map(inject_end(detail, index, entry)),
                colour: RED,
                title,
            });
        } else if let Some((shape, colour, offset)) = marker(entry.kind) {
            marks.push(LaneMark {
                lane: lane_of(&entry.model),
                x: axis.map(entry.t_s),
                offset,
                shape,
                colour,
                title,
            });
        }
    }
    // Injects the timeline does not show (it is the first seed's, or cut short) still have
    // their incident's span.
    for incident in &detail.incidents {
        let shown = detail.timeline.iter().take(MAX_ENTRIES).any(|e| {
            e.kind == EntryKind::Inject && e.id == incident.inject && e.model == incident.model
        });
        if !shown {
            spans.push(LaneSpan {
                lane: lane_of(&incident.model),
                x0: axis.map(incident.start_s),
                x1: axis.map(incident.end_s),
                colour: RED,
                title: format!("{} ({})", incident.inject, incident.technique),
            });
        }
    }
    html.push_str("<h3>Timeline</h3>\n<p class=\"keys\">");
    let keys = [
        (None, "inject (from start to end)"),
        (Some((Shape::Diamond, DETECTION)), "detection"),
        (Some((Shape::Circle, BLUE)), "blue action"),
        (Some((Shape::Ring, BLUE)), "failed action"),
        (Some((Shape::Square, GREEN)), "recovery"),
        (Some((Shape::Tick, GREY)), "scheduled"),
    ];
    for (shape, label) in keys {
        let key = shape.map_or_else(
            || {
                format!(
                    "<svg width=\"20\" height=\"12\" aria-hidden=\"true\"><rect width=\"20\" \
                     height=\"12\" fill=\"{RED}\" fill-opacity=\"0.35\"/></svg>"
                )
            },
            |(shape, colour)| key_marker(shape, colour),
        );
        html.push_str(&format!("<span class=\"key\">{key} {label}</span>\n"));
    }
    html.push_str("</p>\n");
    html.push_str(&lane_chart(&LaneChart {
        title: format!("The war game's timeline: {team}"),
        x_label: axis.label.to_owned(),
        x_range: (0.0, axis.map(detail.duration_s)),
        lanes: lanes.iter().map(|lane| (*lane).to_owned()).collect(),
        spans,
        marks,
    }));
    if detail.timeline.len() > MAX_ENTRIES {
        html.push_str(&format!(
            "<p class=\"note\">The first {MAX_ENTRIES} of {} entries are shown; report.json \
             has them all.</p>\n",
            detail.timeline.len()
        ));
    }
}

/// A time of the exercise for people: `h:mm`, or `h:mm:ss` when the monitors tick more often
/// than once a minute; `–` when it is not a number.
fn clock(t_s: f64, detail: &WargameDetail) -> String {
    number::clock(t_s, detail.tick_s.is_finite() && detail.tick_s < 60.0)
}

/// The MTTR cell: `no impact` when the model never became unhealthy after the inject in any
/// seed (so there was nothing to recover from), else as [`time_cell`].
fn mttr_cell(incident: &stressor_core::Incident) -> String {
    if incident.mttr_s.is_none() && incident.recovered.value >= 1.0 {
        return "<span class=\"n\">no impact</span>".to_owned();
    }
    time_cell(incident.mttr_s.as_ref())
}

/// A mean time with its interval and sample size, or `never` when it never happened.
fn time_cell(estimate: Option<&Estimate>) -> String {
    match estimate {
        Some(e) if e.n > 0 => {
            let ci = e.ci.map_or_else(String::new, |ci| {
                format!(
                    "<br><span class=\"ci\">[{}, {}]</span>",
                    number::duration_s(ci.lower),
                    number::duration_s(ci.upper)
                )
            });
            format!("{}{ci} <span class=\"n\">n={}</span>", number::duration_s(e.value), e.n)
        }
        _ => "<span class=\"n\">never</span>".to_owned(),
    }
}

/// One row per inject: what it was, whether and how fast it was detected, acted on and
/// recovered from, and what it cost the red team.
fn incidents_table(detail: &WargameDetail, html: &mut String) {
    html.push_str("<h3>Incidents</h3>\n");
    if detail.incidents.is_empty() {
        html.push_str("<p class=\"note\">No injects.</p>\n");
        return;
    }
    open_table(html, "wargame-incidents");
    html.push_str(
        "<tr><th>inject</th><th>model</th><th>technique</th><th>ATLAS</th><th>from–to</th>\
         <th>detected</th><th>MTTD</th><th>MTTA</th><th>MTTR</th><th>detected by</th>\
         <th>red effort</th></tr>\n",
    );
    for incident in &detail.incidents {
        let effort: Vec<String> = incident
            .effort
            .iter()
            .map(|(name, e)| {
                format!("{} {}", escape(name), escape(&number::estimate_value(name, e)))
            })
            .collect();
        let detected_by = if incident.detected_by.is_empty() {
            "<span class=\"n\">none</span>".to_owned()
        } else {
            escape(&incident.detected_by)
        };
        html.push_str(&format!(
            "<tr><th class=\"id\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}–{}</td>\
             <td>{} <span class=\"n\">n={}</span></td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{detected_by}</td><td>{}</td></tr>\n",
            escape(&incident.inject),
            escape(&incident.model),
            escape(&incident.technique),
            escape(&incident.atlas.join(", ")),
            clock(incident.start_s, detail),
            clock(incident.end_s, detail),
            estimate_cell("detected_share", &incident.detected),
            incident.detected.n,
            time_cell(incident.mttd_s.as_ref()),
            time_cell(incident.mtta_s.as_ref()),
            mttr_cell(incident),
            effort.join("<br>")
        ));
    }
    close_table(html);
    html.push_str(&format!("<p class=\"n\">{DEFINITIONS}</p>\n"));
}

/// An impact figure for people: whole units with separators from 100 up.
fn impact_value(estimate: &Estimate) -> String {
    let ci = estimate.ci.map_or_else(String::new, |ci| {
        format!(
            "<br><span class=\"ci\">[{}, {}]</span>",
            number::amount(ci.lower),
            number::amount(ci.upper)
        )
    });
    format!("{}{ci}", number::amount(estimate.value))
}

/// The impact figures: model, figure, group, the mean over seeds with its interval, unit.
fn impact_table(detail: &WargameDetail, html: &mut String) {
    if detail.impact.is_empty() {
        return;
    }
    html.push_str("<h3>Impact</h3>\n");
    open_table(html, "wargame-impact");
    html.push_str(
        "<tr><th>model</th><th>figure</th><th>group</th><th>mean over seeds</th><th>unit</th>\
         <th>n</th></tr>\n",
    );
    for row in &detail.impact {
        html.push_str(&format!(
            "<tr><td>{}</td><th class=\"id\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             </tr>\n",
            escape(&row.model),
            escape(&row.metric),
            if row.group.is_empty() { "–".to_owned() } else { escape(&row.group) },
            impact_value(&row.value),
            escape(&row.unit),
            row.value.n
        ));
    }
    close_table(html);
}

/// Whether series `name` is about fairness (demographic parity, equalised odds, the
/// four-fifths rule), which comes first.
fn is_fairness(name: &str) -> bool {
    name.contains("dp_") || name.contains("eo_") || name.contains("four_fifths")
}

/// One small chart per monitored series, fairness first: the series, its monitor's threshold
/// dashed, and the injects on its model shaded.
fn series_charts(detail: &WargameDetail, axis: &TimeAxis, html: &mut String) {
    let mut series: Vec<&WargameSeries> =
        detail.series.iter().filter(|s| s.points.iter().any(|p| p.1.is_some())).collect();
    if series.is_empty() {
        return;
    }
    // A stable sort keeps the family's order within each group.
    series.sort_by_key(|s| !is_fairness(&s.name));
    html.push_str(&format!(
        "<h3>What the monitors watched</h3>\n<p class=\"n\">One point per tick ({}); dashed: \
         the monitor's threshold; shaded: the injects on the series' model; a gap: a window \
         without data.</p>\n<div class=\"charts\">\n",
        number::duration_s(detail.tick_s)
    ));
    for s in series {
        let shaded: Vec<(f64, f64, String, &'static str)> = detail
            .incidents
            .iter()
            .filter(|i| s.model.is_empty() || s.model == "all" || i.model == s.model)
            .map(|i| (axis.map(i.start_s), axis.map(i.end_s), i.inject.clone(), RED))
            .collect();
        let points: Vec<(f64, f64)> =
            s.points.iter().map(|&(t, v)| (axis.map(t), v.unwrap_or(f64::NAN))).collect();
        let mut lines =
            vec![Series { name: s.name.clone(), points, colour: BLUE, ..Default::default() }];
        if let Some(threshold) = s.threshold.filter(|t| t.is_finite()) {
            let end = axis.map(detail.duration_s);
            let last = s.points.iter().map(|p| axis.map(p.0)).fold(f64::NAN, f64::max);
            let end = if end.is_finite() { end.max(last) } else { last };
            lines.push(Series {
                name: "threshold".into(),
                points: vec![(0.0, threshold), (end, threshold)],
                colour: GREY,
                dashed: true,
                ..Default::default()
            });
        }
        html.push_str(&format!("<figure><figcaption>{}</figcaption>\n", escape(&s.name)));
        html.push_str(&bare_line_chart(&LineChart {
            title: format!("{} ({})", s.name, lane_name(&s.model)),
            x_label: axis.label.to_owned(),
            y_label: s.name.clone(),
            y_range: None,
            series: lines,
            shaded,
        }));
        html.push_str("</figure>\n");
    }
    html.push_str("</div>\n");
}

/// The timeline as a table: time, side, kind, model, text.
fn timeline_table(detail: &WargameDetail, html: &mut String) {
    if detail.timeline.is_empty() {
        return;
    }
    html.push_str("<h3>What happened</h3>\n");
    open_table(html, "wargame-timeline");
    html.push_str("<tr><th>time</th><th>side</th><th>kind</th><th>model</th><th>text</th></tr>\n");
    for entry in detail.timeline.iter().take(MAX_ENTRIES) {
        let side = match entry.side {
            Side::Red => "red",
            Side::Blue => "blue",
            Side::Exercise => "exercise",
        };
        let atlas = if entry.atlas.is_empty() {
            String::new()
        } else {
            format!(" <span class=\"n\">{}</span>", escape(&entry.atlas))
        };
        html.push_str(&format!(
            "<tr><td>{}</td><td>{side}</td><td>{}</td><td>{}</td><td class=\"text\"><b>{}</b>{atlas} \
             {}</td></tr>\n",
            clock(entry.t_s, detail),
            entry.kind.as_str().replace('_', " "),
            escape(lane_name(&entry.model)),
            escape(&entry.id),
            escape(&entry.text)
        ));
    }
    close_table(html);
}

/// A registry version, or what its absence means.
fn version(version: Option<u64>, absent: &str) -> String {
    version.map_or_else(|| format!("<span class=\"n\">{absent}</span>"), |v| format!("v{v}"))
}

/// Every alias change in the registry: when, which alias of which model, from and to which
/// version, by whom and why.
fn alias_table(detail: &WargameDetail, html: &mut String) {
    if detail.alias_changes.is_empty() {
        return;
    }
    html.push_str("<h3>Registry alias history</h3>\n");
    open_table(html, "wargame-aliases");
    html.push_str(
        "<tr><th>time</th><th>model</th><th>alias</th><th>from</th><th>to</th><th>by</th>\
         <th>why</th></tr>\n",
    );
    for change in &detail.alias_changes {
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><th class=\"id\">{}</th><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"text\">{}</td></tr>\n",
            clock(change.t_s, detail),
            escape(&change.model),
            escape(&change.alias),
            version(change.from, "new"),
            version(change.to, "deleted"),
            escape(&change.actor),
            escape(&change.reason)
        ));
    }
    close_table(html);
}

/// The teams compared: per inject, each team's MTTD and MTTR; each impact figure side by
/// side.
fn comparison(teams: &[(&StepResult, &WargameDetail)], html: &mut String) {
    html.push_str(
        "<section>\n<h2>War game: the blue teams compared</h2>\n<p>Each team played the same \
         red-team timeline. Times are means over the seeds in which the \
         event happened, with 95 % intervals.</p>\n",
    );
    let header = |html: &mut String, first: &str, per_team: &[&str]| {
        html.push_str(&format!("<tr><th rowspan=\"2\">{first}</th>"));
        for (step, detail) in teams {
            html.push_str(&format!(
                "<th colspan=\"{}\">{}</th>",
                per_team.len(),
                escape(team_name(step, detail))
            ));
        }
        html.push_str("</tr>\n<tr>");
        for _ in teams {
            for label in per_team {
                html.push_str(&format!("<th>{label}</th>"));
            }
        }
        html.push_str("</tr>\n");
    };

    let mut injects: Vec<(&str, &str)> = Vec::new();
    for (_, detail) in teams {
        for incident in &detail.incidents {
            let key = (incident.inject.as_str(), incident.model.as_str());
            if !injects.contains(&key) {
                injects.push(key);
            }
        }
    }
    if !injects.is_empty() {
        html.push_str("<h3>Time to detect and to recover, per inject</h3>\n");
        open_table(html, "wargame-compare-incidents");
        header(html, "inject", &["MTTD", "MTTR"]);
        for (inject, model) in &injects {
            html.push_str(&format!(
                "<tr><th class=\"id\">{} <span class=\"n\">{}</span></th>",
                escape(inject),
                escape(model)
            ));
            for (_, detail) in teams {
                match detail.incidents.iter().find(|i| i.inject == *inject && i.model == *model) {
                    Some(incident) => html.push_str(&format!(
                        "<td>{}</td><td>{}</td>",
                        time_cell(incident.mttd_s.as_ref()),
                        mttr_cell(incident)
                    )),
                    None => html.push_str("<td>–</td><td>–</td>"),
                }
            }
            html.push_str("</tr>\n");
        }
        close_table(html);
    }

    let mut figures: Vec<(&str, &str, &str, &str)> = Vec::new();
    for (_, detail) in teams {
        for row in &detail.impact {
            let key =
                (row.model.as_str(), row.metric.as_str(), row.group.as_str(), row.unit.as_str());
            if !figures.contains(&key) {
                figures.push(key);
            }
        }
    }
    if !figures.is_empty() {
        html.push_str("<h3>Impact, side by side</h3>\n");
        open_table(html, "wargame-compare-impact");
        html.push_str("<tr><th>figure</th><th>unit</th>");
        for (step, detail) in teams {
            html.push_str(&format!("<th>{}</th>", escape(team_name(step, detail))));
        }
        html.push_str("</tr>\n");
        for &key in &figures {
            let (model, metric, group, unit) = key;
            let group =
                if group.is_empty() { String::new() } else { format!(" · {}", escape(group)) };
            html.push_str(&format!(
                "<tr><th class=\"id\">{} <span class=\"n\">{}{group}</span></th><td>{}</td>",
                escape(metric),
                escape(model),
                escape(unit)
            ));
            for (_, detail) in teams {
                let row = detail.impact.iter().find(|r| {
                    (r.model.as_str(), r.metric.as_str(), r.group.as_str(), r.unit.as_str()) == key
                });
                match row {
                    Some(row) => html.push_str(&format!("<td>{}</td>", impact_value(&row.value))),
                    None => html.push_str("<td>–</td>"),
                }
            }
            html.push_str("</tr>\n");
        }
        close_table(html);
    }
    html.push_str("</section>\n");
}
