//! The JSON report: a [`RunRecord`] converted to the stable [`stressor_schema::Report`].
//!
//! Exemplar pixels stay out of the JSON report; only their indices and predictions go in.

use std::io::Write;

use stressor_core as core;
use stressor_schema as schema;

use crate::{Error, RunRecord};

/// Converts a record to the stable report types.
///
/// Timing fields are filled from the record; [`schema::RunSection::started_at`] is left empty
/// because core code never reads the clock (the caller may set it).
///
/// # Examples
///
/// ```
/// # use stressor_core::RunInfo;
/// # let info = RunInfo { scenario_name: "s".into(), scenario_source: "s.toml".into(), seed: 7,
/// #     target_name: "t".into(), target_kind: "builtin".into(), input_shape: vec![1, 2, 2],
/// #     class_names: vec!["a".into()], data_name: "d".into(), n_samples: 10,
/// #     stressor_version: "0.1.0".into() };
/// let record = stressor_report::RunRecord::new(info);
/// let report = stressor_report::json::to_report(&record);
/// assert_eq!(report.run.seed, 7);
/// assert_eq!(report.run.verdict, stressor_schema::Verdict::Incomplete);
/// ```
pub fn to_report(record: &RunRecord) -> schema::Report {
    let info = &record.info;
    let verdict = match record.verdict {
        Some(core::Verdict::Pass) => schema::Verdict::Pass,
        Some(core::Verdict::Fail) => schema::Verdict::Fail,
        None => schema::Verdict::Incomplete,
    };
    let mut run =
        schema::RunSection::new(&info.scenario_name, &info.scenario_source, info.seed, verdict);
    run.duration_ms = record.elapsed.map(to_millis);
    let mut target = schema::TargetSection::new(&info.target_name, &info.target_kind);
    target.input_shape = info.input_shape.iter().map(|&d| d as u64).collect();
    target.n_classes = info.class_names.len() as u64;
    target.class_names = info.class_names.clone();
    let data = schema::DataSection::new(&info.data_name, info.n_samples as u64);

    let mut report = schema::Report::new(&info.stressor_version, run, target, data);
    report.steps = record
        .steps
        .iter()
        .map(|result| {
            let mut step = to_step(result);
            step.timeline =
                record.timelines.iter().find(|t| t.step_id == result.info.id).map(to_timeline);
            step.drift_timeline = record
                .drift_timelines
                .iter()
                .find(|t| t.step_id == result.info.id)
                .map(to_drift_timeline);
            step.recsys_timeline = record
                .recsys_timelines
                .iter()
                .find(|t| t.step_id == result.info.id)
                .map(to_recsys_timeline);
            step.chatbot = record
                .chatbot_details
                .iter()
                .find(|d| d.step_id == result.info.id)
                .map(to_chatbot_detail);
            step.wargame = record
                .wargame_details
                .iter()
                .find(|d| d.step_id == result.info.id)
                .map(to_wargame_detail);
            step
        })
        .collect();
    report.gates = record.gates.iter().map(to_gate).collect();
    report.warnings = record
        .warnings
        .iter()
        .map(|w| schema::Warning::new(w.step_id.clone(), &w.code, &w.message))
        .collect();
    report
}

/// Writes the record as pretty JSON, with a trailing newline.
///
/// # Errors
///
/// When writing to `out` fails.
pub fn write(record: &RunRecord, mut out: impl Write) -> Result<(), Error> {
    serde_json::to_writer_pretty(&mut out, &to_report(record))?;
    out.write_all(b"\n")?;
    Ok(())
}

/// The record as pretty JSON, with a trailing newline.
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
/// let text = stressor_report::json::to_string(&record);
/// assert!(text.contains("\"format_version\": \"1.6\""));
/// ```
pub fn to_string(record: &RunRecord) -> String {
    let mut text = serde_json::to_string_pretty(&to_report(record))
        .expect("report types have string keys and serialise NaN as null, so never fail");
    text.push('\n');
    text
}

fn to_millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn to_step(result: &core::StepResult) -> schema::Step {
    let info = &result.info;
    let kind = match info.kind {
        core::StepKind::SteadyState => schema::StepKind::SteadyState,
        core::StepKind::Attack => schema::StepKind::Attack,
        core::StepKind::Corruption => schema::StepKind::Corruption,
        core::StepKind::Lighting => schema::StepKind::Lighting,
        core::StepKind::Mitigation => schema::StepKind::Mitigation,
        core::StepKind::Summary => schema::StepKind::Summary,
        core::StepKind::System => schema::StepKind::System,
        core::StepKind::Drift => schema::StepKind::Drift,
        core::StepKind::Recommender => schema::StepKind::Recommender,
        core::StepKind::Chatbot => schema::StepKind::Chatbot,
        core::StepKind::WarGame => schema::StepKind::WarGame,
        _ => schema::StepKind::Unknown,
    };
    let mut step = schema::Step::new(&info.id, kind, &info.description);
    step.dial =
        info.dial_name.as_ref().map(|name| schema::Dial::new(name, info.dial_values.clone()));
    step.parameters = result.parameters.iter().cloned().collect();
    step.points = result.points.iter().map(to_point).collect();
    step.duration_ms = Some(to_millis(result.elapsed));
    step
}

fn to_drift_timeline(timeline: &core::DriftTimeline) -> schema::DriftTimeline {
    schema::DriftTimeline::new(
        &timeline.policy,
        (timeline.drift_start as u64, timeline.drift_full as u64),
        (timeline.pre_drift_accuracy, timeline.tolerance),
        timeline
            .points
            .iter()
            .map(|p| {
                schema::DriftStep::new(
                    p.step as u64,
                    p.drift_share,
                    [p.accuracy, p.ece, p.estimated_accuracy, p.drift_statistic, p.drift_pvalue],
                    p.eval_rows as u64,
                    &p.top_feature,
                    p.alarm,
                    p.model_version as u64,
                )
            })
            .collect(),
        timeline
            .events
            .iter()
            .map(|e| schema::DriftEvent::new(e.step as u64, &e.kind, &e.detail))
            .collect(),
    )
}

fn to_recsys_timeline(timeline: &core::RecsysTimeline) -> schema::RecsysTimeline {
    let mut out = schema::RecsysTimeline::new(&timeline.policy, timeline.bucket_s);
    out.reference = timeline.reference;
    out.buckets = timeline
        .points
        .iter()
        .map(|p| {
            let mut bucket = schema::RecsysBucket::new(p.t);
            bucket.requests = p.requests;
            bucket.errors = p.errors;
            bucket.cache_hits = p.cache_hits;
            bucket.fallbacks = p.fallbacks;
            bucket.impressions = p.impressions;
            bucket.clicks = p.clicks;
            bucket.conversions = p.conversions;
            bucket.revenue = p.revenue;
            bucket.ndcg_sum = p.ndcg_sum;
            bucket.p50_ms = p.p50_ms;
            bucket.p99_ms = p.p99_ms;
            bucket.feature_reads = p.feature_reads;
            bucket.freshness_lag_s = p.freshness_lag_s;
            bucket
        })
        .collect();
    out.windows = timeline.windows.iter().map(to_window).collect();
    out.impacts = timeline
        .impacts
        .iter()
        .map(|i| {
            let mut impact = schema::FaultImpact::new(&i.window, i.start, i.stop);
            impact.ctr = to_metric(&i.ctr);
            impact.baseline_ctr = to_metric(&i.baseline_ctr);
            impact.clicks_per_request_change = to_metric(&i.clicks_per_request_change);
            impact.conversions_per_request_change = to_metric(&i.conversions_per_request_change);
            impact.revenue_lost = i.revenue_lost;
            impact.time_to_mitigate_s = i.time_to_mitigate;
            impact.rto_s = i.rto;
            impact.events_lost = i.events_lost;
            impact
        })
        .collect();
    out.breaker = timeline
        .breaker
        .iter()
        .map(|b| schema::BreakerTransition::new(b.t, &b.from, &b.to, &b.reason))
        .collect();
    out.max_tolerable_downtime_s = timeline.max_tolerable_downtime_s;
    out
}

fn to_window(window: &core::TimelineWindow) -> schema::TimelineWindow {
    let kind = match window.kind {
        core::WindowKind::Fault => "fault",
        core::WindowKind::Surge => "surge",
    };
    schema::TimelineWindow::new(&window.name, kind, &window.detail, window.start, window.stop)
}

fn to_timeline(timeline: &core::Timeline) -> schema::Timeline {
    schema::Timeline::new(
        timeline
            .seconds
            .iter()
            .map(|s| {
                schema::TimelineSecond::new(
                    s.t, s.requests, s.ok, s.errors, s.p99_ms, s.checked, s.correct,
                )
            })
            .collect(),
        timeline.windows.iter().map(to_window).collect(),
        timeline
            .recoveries
            .iter()
            .map(|r| {
                schema::Recovery::new(&r.window, r.window_end, r.recovered_at, r.time_to_recover)
            })
            .collect(),
    )
}

fn to_point(point: &core::StepPoint) -> schema::Point {
    let mut out = schema::Point::new(point.dial_value);
    out.metrics = point.metrics.iter().map(|m| (m.name.clone(), to_metric(&m.estimate))).collect();
    out.calibration = point.calibration.as_ref().map(|c| {
        schema::Calibration::new(
            c.reliability
                .iter()
                .map(|b| {
                    schema::ReliabilityBin::new(
                        b.lower,
                        b.upper,
                        b.count,
                        b.mean_confidence,
                        b.accuracy,
                    )
                })
                .collect(),
            c.confidence_histogram.clone(),
            c.risk_coverage.clone(),
        )
    });
    out.per_class = point
        .per_class
        .iter()
        .map(|c| schema::ClassAccuracy::new(c.label, to_metric(&c.clean), to_metric(&c.stressed)))
        .collect();
    out.confusion_growth = point
        .confusion_growth
        .iter()
        .map(|c| {
            schema::ConfusionGrowth::new(
                c.true_label,
                c.predicted_label,
                c.clean_count,
                c.stressed_count,
            )
        })
        .collect();
    out.exemplars = point
        .exemplars
        .iter()
        .map(|e| {
            schema::Exemplar::new(
                e.index as u64,
                e.label,
                e.clean_prediction,
                e.stressed_prediction,
            )
        })
        .collect();
    out.loss_trace = point.loss_trace.clone();
    out
}

fn to_chatbot_detail(detail: &core::ChatbotDetail) -> schema::ChatbotDetail {
    let mut out = schema::ChatbotDetail::default();
    out.policies = detail
        .policies
        .iter()
        .map(|p| schema::HandoffPolicy::new(&p.name, &p.description, p.threshold))
        .collect();
    out.examples = detail
        .examples
        .iter()
        .map(|group| {
            let examples = group
                .examples
                .iter()
                .map(|e| {
                    schema::ChatExample::new(
                        &e.original,
                        &e.perturbed,
                        &e.truth,
                        &e.clean_answer,
                        &e.answer,
                        e.confidence,
                    )
                })
                .collect();
            schema::ChatExamples::new(group.dial_value, examples)
        })
        .collect();
    out.detectors = detail
        .detectors
        .iter()
        .map(|d| {
            schema::DetectorScore::new(
                d.dial_value,
                &d.detector,
                to_metric(&d.auroc),
                to_metric(&d.fpr_at_95_tpr),
            )
        })
        .collect();
    out.seconds = detail
        .seconds
        .iter()
        .map(|s| {
            schema::ChatSecond::new(s.t, s.requests, s.answered, s.correct, s.handoffs, s.dropped)
        })
        .collect();
    out.decision =
        detail.decision.as_ref().map(|d| schema::ShadowDecision::new(d.promote, d.reasons.clone()));
    out
}

fn to_wargame_detail(detail: &core::WargameDetail) -> schema::WargameDetail {
    let mut out = schema::WargameDetail::new(
        &detail.team,
        detail.duration_s,
        detail.tick_s,
        &detail.clock,
        &detail.registry,
    );
    out.seeds = detail.seeds.clone();
    out.timeline = detail
        .timeline
        .iter()
        .map(|e| {
            let kind = match e.kind {
                core::EntryKind::Inject => schema::EntryKind::Inject,
                core::EntryKind::InjectEnd => schema::EntryKind::InjectEnd,
                core::EntryKind::Detection => schema::EntryKind::Detection,
                core::EntryKind::Action => schema::EntryKind::Action,
                core::EntryKind::ActionFailed => schema::EntryKind::ActionFailed,
                core::EntryKind::Recovery => schema::EntryKind::Recovery,
                core::EntryKind::Scheduled => schema::EntryKind::Scheduled,
            };
            let side = match e.side {
                core::Side::Red => schema::Side::Red,
                core::Side::Blue => schema::Side::Blue,
                core::Side::Exercise => schema::Side::Exercise,
            };
            let mut entry = schema::WargameEntry::new(e.t_s, kind, side, &e.model, &e.id, &e.text);
            entry.atlas = e.atlas.clone();
            entry
        })
        .collect();
    out.incidents = detail
        .incidents
        .iter()
        .map(|i| {
            let mut incident = schema::Incident::new(
                &i.inject,
                &i.model,
                &i.technique,
                i.start_s,
                i.end_s,
                to_metric(&i.detected),
                to_metric(&i.recovered),
            );
            incident.atlas = i.atlas.clone();
            incident.detected_by = i.detected_by.clone();
            incident.mttd_s = i.mttd_s.as_ref().map(to_metric);
            incident.mtta_s = i.mtta_s.as_ref().map(to_metric);
            incident.mttr_s = i.mttr_s.as_ref().map(to_metric);
            incident.effort =
                i.effort.iter().map(|(name, value)| (name.clone(), to_metric(value))).collect();
            incident
        })
        .collect();
    out.impact = detail
        .impact
        .iter()
        .map(|r| {
            schema::ImpactRow::new(&r.model, &r.metric, &r.group, &r.unit, to_metric(&r.value))
        })
        .collect();
    out.series = detail
        .series
        .iter()
        .map(|s| schema::WargameSeries::new(&s.name, &s.model, s.threshold, s.points.clone()))
        .collect();
    out.alias_changes = detail
        .alias_changes
        .iter()
        .map(|m| {
            schema::AliasMove::new(m.t_s, &m.model, &m.alias, m.from, m.to, &m.actor, &m.reason)
        })
        .collect();
    out
}

fn to_metric(estimate: &core::Estimate) -> schema::Metric {
    schema::Metric::new(estimate.value, estimate.n, estimate.ci.map(to_interval))
}

fn to_interval(ci: core::Interval) -> schema::Interval {
    let (method, resamples) = match ci.method {
        core::IntervalMethod::Wilson => (schema::IntervalMethod::Wilson, None),
        core::IntervalMethod::Bootstrap { resamples } => {
            (schema::IntervalMethod::Bootstrap, Some(resamples))
        }
        core::IntervalMethod::OrderStatistic => (schema::IntervalMethod::OrderStatistic, None),
        core::IntervalMethod::Newcombe => (schema::IntervalMethod::Newcombe, None),
    };
    let mut interval = schema::Interval::new(ci.lower, ci.upper, ci.level, method);
    interval.resamples = resamples;
    interval
}

fn to_gate(outcome: &core::GateOutcome) -> schema::GateResult {
    let gate = &outcome.gate;
    let comparison = match gate.comparison {
        core::Comparison::AtLeast => schema::Comparison::AtLeast,
        core::Comparison::AtMost => schema::Comparison::AtMost,
    };
    let mut out = schema::GateResult::new(
        &gate.id,
        &gate.step_id,
        &gate.metric,
        comparison,
        gate.threshold,
        outcome.passed,
    );
    out.at = gate.at;
    out.bound = match gate.bound {
        core::GateBound::Value => schema::GateBound::Value,
        core::GateBound::Lower => schema::GateBound::Lower,
        core::GateBound::Upper => schema::GateBound::Upper,
    };
    out.observed = outcome.observed.as_ref().map(to_metric);
    out.observed_at = outcome.observed_at;
    out
}
