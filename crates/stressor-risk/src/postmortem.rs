//! Blameless post-mortems (Google SRE's template) filled from the runs that have a timeline:
//! war games (one per blue team), `[system]` runs, recommender fault runs and drifting
//! streams.

use stressor_schema::{EntryKind, Report, StepKind};

use crate::context::Context;
use crate::document::{ActionItem, PostMortem};
use crate::evidence::Cited;

const STATUS: &str = "draft: generated from the run's evidence; review before publishing";

fn hours(s: f64) -> String {
    if s >= 3600.0 { format!("{:.2} h", s / 3600.0) } else { format!("{s:.0} s") }
}

pub(crate) fn postmortems(reports: &[Cited<'_>], context: &Context) -> Vec<PostMortem> {
    let mut out = Vec::new();
    for r in reports {
        let report: &Report = r.report;
        let owner = |model: &str| {
            context
                .process_for(model, &report.run.scenario_name)
                .map_or_else(|| "unassigned".to_string(), |p| p.owner.clone())
        };
        for (si, step) in r.steps() {
            let blank = |title: String, summary: String| PostMortem {
                title,
                date: report.run.started_at.clone(),
                status: STATUS.into(),
                summary,
                impact: Vec::new(),
                root_causes: Vec::new(),
                trigger: String::new(),
                detection: Vec::new(),
                resolution: Vec::new(),
                went_well: Vec::new(),
                went_badly: Vec::new(),
                lucky: Vec::new(),
                action_items: Vec::new(),
                timeline: Vec::new(),
                evidence: Vec::new(),
            };
            match step.kind {
                StepKind::WarGame => {
                    let Some(w) = &step.wargame else { continue };
                    let detected = w.incidents.iter().filter(|i| i.detected.value > 0.0).count();
                    let mut pm = blank(
                        format!(
                            "{}: war game against blue team `{}`",
                            report.run.scenario_name, w.team
                        ),
                        format!(
                            "Over {} of simulated operation the red team ran {} injects against the fleet; \
                             the blue team detected {detected} and recovered {}.",
                            hours(w.duration_s),
                            w.incidents.len(),
                            w.incidents.iter().filter(|i| i.recovered.value > 0.0).count()
                        ),
                    );
                    for (ii, i) in w.incidents.iter().enumerate() {
                        let at = format!("/steps/{si}/wargame/incidents/{ii}");
                        pm.evidence.push(r.source(at.clone()));
                        pm.root_causes.push(format!(
                            "`{}`: {} against {} ({}) [r{}:{at}]",
                            i.inject,
                            i.technique,
                            i.model,
                            i.atlas.join(", "),
                            r.index
                        ));
                        match &i.mttd_s {
                            Some(m) if i.detected.value > 0.0 => {
                                pm.detection.push(format!(
                                    "`{}` detected by `{}` after {} [r{}:{at}/mttd_s]",
                                    i.inject,
                                    i.detected_by,
                                    hours(m.value),
                                    r.index
                                ));
                            }
                            _ => {
                                pm.detection.push(format!(
                                    "`{}` was never detected [r{}:{at}/detected]",
                                    i.inject, r.index
                                ));
                                pm.went_badly.push(format!("`{}` went undetected", i.inject));
                                pm.action_items.push(ActionItem {
                                    item: format!(
                                        "add a monitor that catches {} on {}",
                                        i.technique, i.model
                                    ),
                                    kind: "prevent".into(),
                                    owner: owner(&i.model),
                                });
                            }
                        }
                        match &i.mttr_s {
                            Some(m) => {
                                pm.resolution.push(format!(
                                    "`{}` recovered {} after it began [r{}:{at}/mttr_s]",
                                    i.inject,
                                    hours(m.value),
                                    r.index
                                ));
                                let acted = w.timeline.iter().any(|e| {
                                    e.kind == EntryKind::Action
                                        && e.model == i.model
                                        && e.t_s >= i.start_s
                                });
                                if i.detected.value > 0.0 && acted {
                                    pm.went_well.push(format!(
                                        "`{}` was detected and recovered from",
                                        i.inject
                                    ));
                                } else {
                                    pm.lucky.push(format!(
                                        "`{}` recovered without a response of the blue team (the inject ended or retraining washed it out)",
                                        i.inject
                                    ));
                                }
                            }
                            None => {
                                pm.went_badly.push(format!(
                                    "`{}` was not recovered before the end of the game",
                                    i.inject
                                ));
                                pm.action_items.push(ActionItem {
                                    item: format!("add a recovery action (rollback, retraining, rate limit) to the playbook for {} on {}", i.technique, i.model),
                                    kind: "mitigate".into(),
                                    owner: owner(&i.model),
                                });
                            }
                        }
                    }
                    pm.trigger = w.incidents.first().map_or(String::new(), |i| {
                        format!("the first inject, `{}`, at {}", i.inject, hours(i.start_s))
                    });
                    for row in &w.impact {
                        pm.impact.push(format!(
                            "{} {}{}: {:.0} {}",
                            row.model,
                            row.metric.replace('_', " "),
                            if row.group.is_empty() {
                                String::new()
                            } else {
                                format!(" ({})", row.group)
                            },
                            row.value.value,
                            row.unit
                        ));
                    }
                    pm.impact.push(format!(
                        "every figure above: [r{}:/steps/{si}/wargame/impact]",
                        r.index
                    ));
                    pm.timeline = w
                        .timeline
                        .iter()
                        .map(|e| (e.t_s, format!("{} {}: {}", e.model, e.id, e.text)))
                        .collect();
                    pm.action_items.push(ActionItem {
                        item: "review this post-mortem and file the action items".into(),
                        kind: "process".into(),
                        owner: owner(w.incidents.first().map_or("", |i| i.model.as_str())),
                    });
                    out.push(pm);
                }
                StepKind::System => {
                    let Some(t) = &step.timeline else { continue };
                    let model = report.target.name.clone();
                    let mut pm = blank(
                        format!(
                            "{}: {} windows of faults and load against {}",
                            report.run.scenario_name,
                            t.windows.len(),
                            model
                        ),
                        format!("The served model met {} fault or surge windows.", t.windows.len()),
                    );
                    pm.trigger = t
                        .windows
                        .iter()
                        .min_by(|a, b| a.start.total_cmp(&b.start))
                        .map_or(String::new(), |w| format!("`{}` at {:.1} s", w.name, w.start));
                    for (wi, w) in t.windows.iter().enumerate() {
                        pm.root_causes.push(format!("`{}`: {} ({}) from {:.1} s to {:.1} s [r{}:/steps/{si}/timeline/windows/{wi}]", w.name, w.kind, w.detail, w.start, w.stop, r.index));
                        pm.timeline.push((w.start, format!("`{}` begins ({})", w.name, w.detail)));
                        pm.timeline.push((w.stop, format!("`{}` ends", w.name)));
                        if let Some(m) = step
                            .points
                            .first()
                            .and_then(|p| p.metrics.get(&format!("error_rate.{}", w.name)))
                        {
                            pm.impact.push(format!("{:.1} % of requests failed during `{}` (n = {}) [r{}:/steps/{si}/points/0/metrics/error_rate.{}]", 100.0 * m.value, w.name, m.n, r.index, w.name));
                        }
                    }
                    pm.detection.push("no detector was exercised: failures were counted by the load generator, not alerted on".into());
                    pm.action_items.push(ActionItem {
                        item: format!("alert on error rate and p99 latency of {model}"),
                        kind: "prevent".into(),
                        owner: owner(&model),
                    });
                    for (ki, rec) in t.recoveries.iter().enumerate() {
                        let cite = format!("[r{}:/steps/{si}/timeline/recoveries/{ki}]", r.index);
                        match rec.time_to_recover {
                            Some(0.0) => pm.went_well.push(format!(
                                "service was back as soon as `{}` ended {cite}",
                                rec.window
                            )),
                            Some(s) => {
                                pm.resolution.push(format!(
                                    "back within tolerance {s:.1} s after `{}` ended {cite}",
                                    rec.window
                                ));
                                pm.timeline.push((
                                    rec.recovered_at.unwrap_or(rec.window_end),
                                    format!("recovered from `{}`", rec.window),
                                ));
                            }
                            None => {
                                pm.went_badly.push(format!(
                                    "no recovery from `{}` before the run ended {cite}",
                                    rec.window
                                ));
                                pm.action_items.push(ActionItem {
                                    item: format!(
                                        "find why {model} does not recover after `{}`",
                                        rec.window
                                    ),
                                    kind: "mitigate".into(),
                                    owner: owner(&model),
                                });
                            }
                        }
                    }
                    pm.lucky.push(
                        "the faults ended on schedule: recovery was not the result of any action"
                            .into(),
                    );
                    pm.timeline.sort_by(|a, b| a.0.total_cmp(&b.0));
                    pm.evidence.push(r.source(format!("/steps/{si}/timeline")));
                    out.push(pm);
                }
                StepKind::Drift => {
                    let Some(t) = &step.drift_timeline else { continue };
                    if t.policy != "none" {
                        continue;
                    }
                    let model = report.target.name.clone();
                    let mut pm = blank(
                        format!("{}: drift with no retraining", report.run.scenario_name),
                        format!(
                            "The input distribution began to drift at stream step {} and was in full effect from step {}.",
                            t.drift_start, t.drift_full
                        ),
                    );
                    pm.trigger = format!(
                        "drift began at step {} [r{}:/steps/{si}/drift_timeline/drift_start]",
                        t.drift_start, r.index
                    );
                    pm.root_causes
                        .push(step.parameters.get("transforms").cloned().unwrap_or_default());
                    for (ei, e) in t.events.iter().enumerate() {
                        pm.timeline.push((
                            e.step as f64,
                            format!("step {}: {} {}", e.step, e.kind, e.detail),
                        ));
                        let cite = format!("[r{}:/steps/{si}/drift_timeline/events/{ei}]", r.index);
                        match e.kind.as_str() {
                            "detected" => pm.detection.push(format!(
                                "detector fired at step {}: {} {cite}",
                                e.step, e.detail
                            )),
                            "false-alarm" => pm.went_badly.push(format!(
                                "false alarm at step {}: {} {cite}",
                                e.step, e.detail
                            )),
                            _ => {}
                        }
                    }
                    if let Some(m) =
                        step.points.first().and_then(|p| p.metrics.get("worst_accuracy"))
                    {
                        pm.impact.push(format!("accuracy fell to {:.3} (n = {}) from {:.3} before the drift [r{}:/steps/{si}/points/0/metrics/worst_accuracy]", m.value, m.n, t.pre_drift_accuracy, r.index));
                    }
                    pm.went_badly
                        .push("no retraining: the model kept serving the pre-drift world".into());
                    pm.action_items.push(ActionItem {
                        item: format!(
                            "retrain {model} on drift alarms (see the retraining triggers)"
                        ),
                        kind: "mitigate".into(),
                        owner: owner(&model),
                    });
                    pm.evidence.push(r.source(format!("/steps/{si}/drift_timeline")));
                    out.push(pm);
                }
                StepKind::Recommender => {
                    let Some(t) = &step.recsys_timeline else { continue };
                    if t.reference || t.policy != "none" {
                        continue;
                    }
                    let model = report.target.name.clone();
                    let mut pm = blank(
                        format!(
                            "{}: data-pipeline faults with no fallback",
                            report.run.scenario_name
                        ),
                        format!(
                            "{} fault windows hit the recommender's data pipeline.",
                            t.impacts.len()
                        ),
                    );
                    for (ii, w) in t.impacts.iter().enumerate() {
                        let at = format!("r{}:/steps/{si}/recsys_timeline/impacts/{ii}", r.index);
                        pm.root_causes.push(format!(
                            "`{}` from {:.0} s to {:.0} s [{at}]",
                            w.window, w.start, w.stop
                        ));
                        pm.timeline.push((w.start, format!("`{}` begins", w.window)));
                        pm.timeline.push((w.stop, format!("`{}` ends", w.window)));
                        pm.impact.push(format!("`{}`: revenue lost {:.0}, clicks per request changed by {:.4}, {} events lost [{at}]", w.window, w.revenue_lost, w.clicks_per_request_change.value, w.events_lost));
                        match w.rto_s {
                            Some(s) => pm.resolution.push(format!("`{}`: KPIs back within tolerance {s:.0} s after it ended [{at}/rto_s]", w.window)),
                            None => pm.went_badly.push(format!("`{}`: KPIs not back before the run ended [{at}]", w.window)),
                        }
                        if w.events_lost > 0 {
                            pm.went_badly.push(format!(
                                "`{}` lost {} events for good [{at}/events_lost]",
                                w.window, w.events_lost
                            ));
                            pm.action_items.push(ActionItem {
                                item: format!("buffer or replay events lost during `{}`", w.window),
                                kind: "prevent".into(),
                                owner: owner(&model),
                            });
                        }
                    }
                    pm.trigger = t
                        .impacts
                        .first()
                        .map_or(String::new(), |w| format!("`{}` at {:.0} s", w.window, w.start));
                    pm.detection.push("no fallback policy: nothing reacted to the faults".into());
                    pm.action_items.push(ActionItem { item: "adopt the fallback policy with the least revenue lost (see the register's controls)".into(), kind: "mitigate".into(), owner: owner(&model) });
                    pm.timeline.sort_by(|a, b| a.0.total_cmp(&b.0));
                    pm.evidence.push(r.source(format!("/steps/{si}/recsys_timeline")));
                    out.push(pm);
                }
                _ => {}
            }
        }
    }
    out
}
