//! The recommender family's sections, from `[recommender]` steps (one per fallback policy
//! under the faults, one per reference run without them) and their [`RecsysTimeline`]s: at the
//! first recommender step, the policies compared in one table, on shared charts over simulated
//! time, per fault window, in business terms and by the circuit breaker's state changes; then
//! each step's own metrics.

use stressor_core::{FaultImpact, RecsysPoint, RecsysTimeline, StepResult, WindowKind};

use super::markup::{close_table, escape, estimate_cell, metrics_table, open_section, open_table};
use crate::chart::{LineChart, Series, bare_line_chart};
use crate::recommender::{self, Run, Tolerance, ratio};
use crate::{RunRecord, number};

/// The section of recommender step `step`, preceded by the comparison of every run when
/// `step` is the first recommender step.
pub(super) fn section(record: &RunRecord, step: &StepResult, html: &mut String) {
    let runs = recommender::runs(record);
    let first = record.steps.iter().find(|s| runs.iter().any(|run| run.step.info.id == s.info.id));
    if first.is_some_and(|f| f.info.id == step.info.id) {
        comparison(&runs, html);
    }
    recsys_step(&runs, step, html);
}

/// The metrics of the policy table, in order, with their column labels.
const POLICY_METRICS: [(&str, &str); 8] = [
    ("ctr", "CTR"),
    ("conversion_rate", "conversion rate"),
    ("ndcg", "NDCG@k"),
    ("cache_hit_rate", "cache hit rate"),
    ("fallback_share", "fallback share"),
    ("error_rate", "error rate"),
    ("revenue_per_hour", "revenue / hour"),
    ("p99_ms", "p99 ms"),
];

/// Line colours of the policies under faults (solid lines).
const POLICY_COLOURS: [&str; 7] =
    ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"];

/// Line colours of the reference runs (dashed lines).
const REFERENCE_COLOURS: [&str; 4] = ["#3b3b3b", "#17becf", "#7f7f7f", "#bcbd22"];

/// The most points a chart line has; longer timelines have their buckets merged.
const MAX_CHART_POINTS: usize = 240;

/// The most circuit-breaker state changes listed per run.
const MAX_TRANSITIONS: usize = 50;

/// Every run compared: the policy table, the charts, the fault impacts, the business impact
/// and the circuit breaker's state changes.
fn comparison(runs: &[Run<'_>], html: &mut String) {
    html.push_str(
        "<section>\n<h2>Recommender under pipeline faults: the policies compared</h2>\n<p>Each \
         fallback policy served the same simulated traffic under the same faults. The \
         reference runs had no faults: the baseline is the recommender as deployed, the oracle \
         ranks by the true affinities (a ceiling) and random ranks at random (a floor). \
         Intervals are 95 %.</p>\n",
    );
    policy_table(runs, html);
    charts(runs, html);
    impacts_table(runs, html);
    business_table(runs, html);
    breaker(runs, html);
    html.push_str("</section>\n");
}

/// One row per run, references first; one column per headline metric with its interval and
/// sample size.
fn policy_table(runs: &[Run<'_>], html: &mut String) {
    html.push_str("<h3>Policies and references</h3>\n");
    open_table(html, "recsys-policies");
    html.push_str("<tr><th>policy</th><th>run</th>");
    for (metric, label) in POLICY_METRICS {
        let label = if metric == "ndcg" { ndcg_label(runs) } else { label.to_owned() };
        html.push_str(&format!("<th title=\"{metric}\">{label}</th>"));
    }
    html.push_str("</tr>\n");
    for run in runs {
        let kind = if run.is_reference() { "reference, no faults" } else { "under faults" };
        html.push_str(&format!(
            "<tr><th class=\"id\">{}</th><td>{kind}</td>",
            escape(run.policy())
        ));
        for (metric, _) in POLICY_METRICS {
            match run.metric(metric) {
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
    close_table(html);
}

/// `NDCG@10` when a step states its list length as parameter `k`, `NDCG@k` otherwise.
fn ndcg_label(runs: &[Run<'_>]) -> String {
    runs.iter()
        .flat_map(|run| &run.step.parameters)
        .find(|(name, _)| name == "k")
        .map_or_else(|| "NDCG@k".to_owned(), |(_, k)| format!("NDCG@{}", escape(k)))
}

/// CTR, conversion rate, p99 latency, cache hit rate, fallback share and freshness lag over
/// simulated time, one line per run (references dashed), the fault windows shaded, under one
/// legend.
fn charts(runs: &[Run<'_>], html: &mut String) {
    let timelines: Vec<(&Run<'_>, &RecsysTimeline)> =
        runs.iter().filter_map(|run| Some((run, run.timeline?))).collect();
    let longest = timelines.iter().map(|(_, t)| t.points.len()).max().unwrap_or(0);
    if longest == 0 {
        return;
    }
    let per = longest.div_ceil(MAX_CHART_POINTS);
    let shaded: Vec<(f64, f64, String, &'static str)> = recommender::fault_windows(runs)
        .into_iter()
        .map(|w| {
            let colour = match w.kind {
                WindowKind::Fault => "#d62728",
                _ => "#ff7f0e",
            };
            (w.start / 60.0, w.stop / 60.0, format!("{} ({})", w.name, w.detail), colour)
        })
        .collect();
    let (mut n_policies, mut n_references) = (0, 0);
    let styled: Vec<(&RecsysTimeline, &'static str, bool)> = timelines
        .iter()
        .map(|(run, timeline)| {
            if run.is_reference() {
                n_references += 1;
                (*timeline, REFERENCE_COLOURS[(n_references - 1) % REFERENCE_COLOURS.len()], true)
            } else {
                n_policies += 1;
                (*timeline, POLICY_COLOURS[(n_policies - 1) % POLICY_COLOURS.len()], false)
            }
        })
        .collect();
    let merged: Vec<Vec<RecsysPoint>> =
        styled.iter().map(|(t, _, _)| recommender::merged(&t.points, per)).collect();
    let chart = |title: &str, y_label: &str, y_range, value: fn(&RecsysPoint) -> Option<f64>| {
        let series = styled
            .iter()
            .zip(&merged)
            .map(|((timeline, colour, dashed), points)| Series {
                name: timeline.policy.clone(),
                // No value (nothing shown, answered or read) is a gap in the line.
                points: points.iter().map(|p| (p.t / 60.0, value(p).unwrap_or(f64::NAN))).collect(),
                colour,
                dashed: *dashed,
                ..Default::default()
            })
            .collect();
        bare_line_chart(&LineChart {
            title: title.into(),
            x_label: "simulated minutes".into(),
            y_label: y_label.into(),
            y_range,
            series,
            shaded: shaded.clone(),
        })
    };
    html.push_str("<h3>Over simulated time</h3>\n");
    let bucket_s = timelines.first().map_or(f64::NAN, |(_, t)| t.bucket_s) * per as f64;
    let merging = if per > 1 {
        format!(" (every {per} buckets merged into one point; p99 is the worst of them)")
    } else {
        String::new()
    };
    html.push_str(&format!(
        "<p class=\"n\">One point per {} of simulated time{merging}; shaded: the fault \
         windows. Conversion rate is conversions per click; cache hits and fallbacks are \
         shares of the requests.</p>\n<p class=\"keys\">",
        number::duration_s(bucket_s)
    ));
    for (timeline, colour, dashed) in &styled {
        let dash = if *dashed { " stroke-dasharray=\"6 4\"" } else { "" };
        let kind = if *dashed { " (reference)" } else { "" };
        html.push_str(&format!(
            "<span class=\"key\"><svg width=\"30\" height=\"10\" aria-hidden=\"true\"><line \
             x1=\"0\" y1=\"5\" x2=\"30\" y2=\"5\" stroke=\"{colour}\" stroke-width=\"3\"{dash}/>\
             </svg> {}{kind}</span>\n",
            escape(&timeline.policy)
        ));
    }
    html.push_str("</p>\n<div class=\"charts\">\n");
    html.push_str(&chart("CTR (clicks / impressions)", "CTR", None, |p| {
        ratio(p.clicks, p.impressions)
    }));
    html.push_str(&chart("Conversion rate (conversions / clicks)", "conversion rate", None, |p| {
        ratio(p.conversions, p.clicks)
    }));
    html.push_str(&chart("p99 request latency", "p99 ms", None, |p| p.p99_ms));
    html.push_str(&chart("Cache hit rate", "share of requests", Some((0.0, 1.0)), |p| {
        ratio(p.cache_hits, p.requests)
    }));
    html.push_str(&chart("Fallback share", "share of requests", Some((0.0, 1.0)), |p| {
        ratio(p.fallbacks, p.requests)
    }));
    html.push_str(&chart("Freshness lag of the features read", "seconds", None, |p| {
        p.freshness_lag_s
    }));
    html.push_str("</div>\n");
}

/// One row per fault window and policy: what the window cost against the baseline.
fn impacts_table(runs: &[Run<'_>], html: &mut String) {
    let windows = recommender::impact_windows(runs);
    if windows.is_empty() {
        return;
    }
    html.push_str(
        "<h3>Each fault window</h3>\n<p class=\"n\">Against the baseline on the same traffic: \
         CTR and the per-request changes in the window itself (a request answered with nothing \
         counts as no click; 95 % Newcombe interval), revenue lost from fault start until \
         recovery. Time to mitigate counts from fault start, the RTO from fault end; events \
         lost never reached the feature store (the achieved RPO).</p>\n",
    );
    open_table(html, "recsys-impacts");
    html.push_str(
        "<tr><th>window</th><th>span</th><th>policy</th><th>CTR</th><th>baseline CTR</th>\
         <th>clicks / request change</th><th>conversions / request change</th>\
         <th>revenue lost</th><th>time to mitigate</th><th>RTO</th><th>events lost</th></tr>\n",
    );
    for (window, run, impact) in impact_rows(runs, &windows) {
        let with_n = |name: &str, estimate| {
            format!("{} <span class=\"n\">n={}</span>", estimate_cell(name, estimate), estimate.n)
        };
        let mitigated = impact.time_to_mitigate.map_or_else(|| "never".into(), number::duration_s);
        let rto = impact.rto.map_or_else(
            || "<span class=\"fail\">not within the run</span>".into(),
            number::duration_s,
        );
        html.push_str(&format!(
            "<tr><th class=\"id\">{}</th><td>{}</td><td class=\"id\">{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{mitigated}</td><td>{rto}</td>\
             <td>{}</td></tr>\n",
            escape(window),
            minutes_span(impact),
            escape(run.policy()),
            with_n("ctr", &impact.ctr),
            with_n("ctr", &impact.baseline_ctr),
            with_n("clicks_per_request_change", &impact.clicks_per_request_change),
            with_n("conversions_per_request_change", &impact.conversions_per_request_change),
            number::amount(impact.revenue_lost),
            impact.events_lost
        ));
    }
    close_table(html);
}

/// The baseline's revenue per hour, then one row per fault window and policy: the revenue
/// lost, what that is in baseline time, and the measured RTO against the maximum tolerable
/// downtime.
fn business_table(runs: &[Run<'_>], html: &mut String) {
    let windows = recommender::impact_windows(runs);
    let baseline = recommender::baseline_revenue(runs);
    html.push_str("<h3>Business impact</h3>\n");
    match baseline {
        Some(revenue) => html.push_str(&format!(
            "<p>Baseline revenue: <strong>{} per simulated hour</strong> ({} over {:.2} \
             simulated hours of the <code>{}</code> reference run, without faults).</p>\n",
            number::amount(revenue.per_hour()),
            number::amount(revenue.total),
            revenue.hours,
            recommender::BASELINE
        )),
        None => html.push_str(
            "<p class=\"note\">No baseline reference run: the losses cannot be set against the \
             baseline's revenue.</p>\n",
        ),
    }
    if windows.is_empty() {
        return;
    }
    let per_hour = baseline.map_or(f64::NAN, |revenue| revenue.per_hour());
    open_table(html, "recsys-business");
    html.push_str(
        "<tr><th>window</th><th>policy</th><th>revenue lost</th>\
         <th>equals baseline revenue of</th><th>measured RTO</th>\
         <th>max tolerable downtime</th><th>RTO against it</th></tr>\n",
    );
    for (window, run, impact) in impact_rows(runs, &windows) {
        let Some(timeline) = run.timeline else { continue };
        let in_time = if per_hour.is_finite() && per_hour > 0.0 {
            number::duration_s(impact.revenue_lost / per_hour * 3600.0)
        } else {
            "–".to_owned()
        };
        let rto = impact.rto.map_or_else(|| "not within the run".into(), number::duration_s);
        let tolerable = timeline
            .max_tolerable_downtime_s
            .map_or_else(|| "not stated".into(), number::duration_s);
        let verdict = match recommender::tolerance(impact, timeline) {
            Tolerance::Met => "<span class=\"pass\">met</span>",
            Tolerance::Exceeded => "<span class=\"fail\">exceeded</span>",
            Tolerance::ExceededByTheEnd => {
                "<span class=\"fail\">exceeded</span> (not recovered by the end of the run)"
            }
            Tolerance::Unknown => "unknown: the run ended first",
            Tolerance::NotStated => "not stated",
        };
        html.push_str(&format!(
            "<tr><th class=\"id\">{}</th><td class=\"id\">{}</td><td>{}</td><td>{in_time}</td>\
             <td>{rto}</td><td>{tolerable}</td><td>{verdict}</td></tr>\n",
            escape(window),
            escape(run.policy()),
            number::amount(impact.revenue_lost)
        ));
    }
    close_table(html);
}

/// Each run's circuit-breaker state changes, at most [`MAX_TRANSITIONS`] per run.
fn breaker(runs: &[Run<'_>], html: &mut String) {
    let with_changes: Vec<(&Run<'_>, &RecsysTimeline)> = runs
        .iter()
        .filter_map(|run| Some((run, run.timeline?)))
        .filter(|(_, timeline)| !timeline.breaker.is_empty())
        .collect();
    if with_changes.is_empty() {
        return;
    }
    html.push_str("<h3>Circuit breaker</h3>\n");
    for (run, timeline) in with_changes {
        let n = timeline.breaker.len();
        html.push_str(&format!(
            "<p><code>{}</code>: {n} state change{}.</p>\n",
            escape(run.policy()),
            if n == 1 { "" } else { "s" }
        ));
        open_table(html, "recsys-breaker");
        html.push_str("<tr><th>at</th><th>change</th><th>reason</th></tr>\n");
        for transition in timeline.breaker.iter().take(MAX_TRANSITIONS) {
            html.push_str(&format!(
                "<tr><td>{:.2} min</td><td>{} → {}</td><td>{}</td></tr>\n",
                transition.t / 60.0,
                escape(&transition.from),
                escape(&transition.to),
                escape(&transition.reason)
            ));
        }
        close_table(html);
        if n > MAX_TRANSITIONS {
            html.push_str(&format!(
                "<p class=\"note\">{} more state changes left out; every one is in \
                 report.json.</p>\n",
                n - MAX_TRANSITIONS
            ));
        }
    }
}

/// One recommender step: whether it is a reference run, and every metric it reported.
fn recsys_step(runs: &[Run<'_>], step: &StepResult, html: &mut String) {
    open_section("Recommender", step, html);
    let run = runs.iter().find(|run| run.step.info.id == step.info.id);
    if run.is_some_and(Run::is_reference) {
        html.push_str("<p class=\"n\">A reference run, without faults.</p>\n");
    }
    metrics_table(step, html, |_| true);
    html.push_str("</section>\n");
}

/// `(window, run, impact)` for every window in `windows` and every run with an impact there,
/// grouped by window.
fn impact_rows<'a>(
    runs: &'a [Run<'a>],
    windows: &[&'a str],
) -> Vec<(&'a str, &'a Run<'a>, &'a FaultImpact)> {
    windows
        .iter()
        .flat_map(|window| {
            runs.iter().flat_map(move |run| {
                run.impacts().iter().filter(|i| i.window == *window).map(move |i| (*window, run, i))
            })
        })
        .collect()
}

/// `12.0–15.5 min`: when the fault acted, in simulated minutes.
fn minutes_span(impact: &FaultImpact) -> String {
    format!("{:.1}–{:.1}&nbsp;min", impact.start / 60.0, impact.stop / 60.0)
}
