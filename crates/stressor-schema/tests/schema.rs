//! The committed JSON Schema matches the types, and real reports validate against it.

#![expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]

use std::path::PathBuf;

use stressor_schema::{
    AliasMove, EntryKind, ImpactRow, Incident, Side, WargameDetail, WargameEntry, WargameSeries,
};
use stressor_schema::{
    BreakerTransition, ClassAccuracy, Comparison, ConfusionGrowth, DataSection, Dial, Exemplar,
    FaultImpact, GateBound, GateResult, Interval, IntervalMethod, Metric, Point, RecsysBucket,
    RecsysTimeline, Report, RunSection, Step, StepKind, TargetSection, TimelineWindow, Verdict,
    Warning,
};

fn committed_schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/report.schema.json")
}

fn generated_schema() -> String {
    let schema = stressor_schema::report_schema();
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serialises");
    text.push('\n');
    text
}

#[test]
fn committed_schema_is_fresh() {
    let path = committed_schema_path();
    let generated = generated_schema();
    if std::env::var_os("STRESSOR_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write docs/report.schema.json");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/report.schema.json is stale or missing; regenerate it with\n\n    \
         STRESSOR_BLESS=1 cargo test -p stressor-schema --test schema\n\n\
         and, if a type changed, bump FORMAT_VERSION as the stability policy says"
    );
}

fn wilson(lower: f64, upper: f64) -> Option<Interval> {
    Some(Interval::new(lower, upper, 0.95, IntervalMethod::Wilson))
}

/// A report like a real two-step run writes, with a NaN metric and a failed gate.
fn realistic_report() -> Report {
    let mut run = RunSection::new("vision-adversarial", "scenarios/vision.toml", 42, Verdict::Fail);
    run.started_at = Some("2026-11-29T02:00:00Z".into());
    run.duration_ms = Some(12_345);
    let mut target = TargetSection::new("fashion-cnn", "builtin");
    target.input_shape = vec![1, 28, 28];
    target.n_classes = 3;
    target.class_names = vec!["T-shirt".into(), "Trouser".into(), "<script>".into()];
    let mut report =
        Report::new("0.1.0", run, target, DataSection::new("fashion-mnist/test", 1000));

    let mut steady = Step::new("steady", StepKind::SteadyState, "clean accuracy");
    let mut point = Point::new(None);
    point.metrics.insert("clean_accuracy".into(), Metric::new(0.912, 1000, wilson(0.893, 0.928)));
    steady.points.push(point);
    steady.duration_ms = Some(120);
    report.steps.push(steady);

    let mut pgd = Step::new("pgd-linf", StepKind::Attack, "PGD L∞, 10 steps");
    pgd.dial = Some(Dial::new("epsilon", vec![0.01, 0.031]));
    pgd.parameters.insert("steps".into(), "10".into());
    for (eps, robust) in [(0.01, 0.612), (0.031, 0.12)] {
        let mut point = Point::new(Some(eps));
        point.metrics.insert("robust_accuracy".into(), Metric::new(robust, 1000, wilson(0.1, 0.7)));
        let mut bootstrap = Interval::new(0.009, 0.011, 0.95, IntervalMethod::Bootstrap);
        bootstrap.resamples = Some(1000);
        point
            .metrics
            .insert("perturbation_linf_mean".into(), Metric::new(eps, 880, Some(bootstrap)));
        point.metrics.insert("queries_per_success_mean".into(), Metric::new(f64::NAN, 0, None));
        point.per_class.push(ClassAccuracy::new(
            0,
            Metric::new(0.9, 300, wilson(0.86, 0.93)),
            Metric::new(robust, 300, wilson(0.05, 0.7)),
        ));
        point.confusion_growth.push(ConfusionGrowth::new(0, 2, 3, 40));
        point.exemplars.push(Exemplar::new(17, 0, 0, 2));
        point.loss_trace = vec![0.3, 0.8, f64::NAN];
        pgd.points.push(point);
    }
    report.steps.push(pgd);
    report.steps.push(recommender_step());
    report.steps.push(wargame_step());

    let mut held = GateResult::new(
        "steady/clean_accuracy",
        "steady",
        "clean_accuracy",
        Comparison::AtLeast,
        0.85,
        true,
    );
    held.observed = Some(Metric::new(0.912, 1000, wilson(0.893, 0.928)));
    report.gates.push(held);
    let mut failed = GateResult::new(
        "pgd-linf/robust_accuracy@0.031",
        "pgd-linf",
        "robust_accuracy",
        Comparison::AtLeast,
        0.3,
        false,
    );
    failed.at = Some(0.031);
    failed.bound = GateBound::Lower;
    failed.observed = Some(Metric::new(0.12, 1000, wilson(0.1, 0.14)));
    failed.observed_at = Some(0.031);
    report.gates.push(failed);
    report.warnings.push(Warning::new(
        Some("pgd-linf".into()),
        "gradient-masking/non-monotone",
        "robust accuracy rises with ε",
    ));
    report
}

/// A recommender step under a fault: a bucket without answers (no latency, NaN revenue), a
/// fault impact with a Newcombe interval, a never-mitigated window and a breaker change.
fn recommender_step() -> Step {
    let mut step = Step::new("circuit-breaker", StepKind::Recommender, "policy circuit-breaker");
    let mut point = Point::new(None);
    point.metrics.insert("ctr".into(), Metric::new(0.041, 12_000, wilson(0.037, 0.045)));
    step.points.push(point);
    let mut timeline = RecsysTimeline::new("circuit-breaker", 60.0);
    timeline.max_tolerable_downtime_s = Some(300.0);
    let mut answered = RecsysBucket::new(0.0);
    answered.requests = 100;
    answered.impressions = 1000;
    answered.clicks = 41;
    answered.revenue = 123.5;
    answered.p99_ms = Some(48.0);
    let mut outage = RecsysBucket::new(60.0);
    outage.requests = 100;
    outage.errors = 100;
    outage.revenue = f64::NAN;
    timeline.buckets = vec![answered, outage];
    timeline.windows.push(TimelineWindow::new("store-down", "fault", "feature store", 60.0, 120.0));
    let mut impact = FaultImpact::new("store-down", 60.0, 120.0);
    impact.clicks_per_request_change =
        Metric::new(-0.02, 100, Some(Interval::new(-0.05, 0.01, 0.95, IntervalMethod::Newcombe)));
    impact.rto_s = Some(30.0);
    timeline.impacts.push(impact);
    timeline.breaker.push(BreakerTransition::new(65.0, "closed", "open", "error rate 0.62"));
    step.recsys_timeline = Some(timeline);
    step
}

/// A war-game team: an inject that was detected and one that never was (no times), a point
/// without data and a time that is not a number.
fn wargame_step() -> Step {
    let mut step = Step::new("war-game/defended", StepKind::WarGame, "blue team defended");
    let mut detail = WargameDetail::new("defended", 3600.0, 60.0, "simulated", "file");
    detail.seeds = vec![1, 2];
    let mut inject =
        WargameEntry::new(600.0, EntryKind::Inject, Side::Red, "credit", "poison", "label flips");
    inject.atlas = "AML.T0020".into();
    detail.timeline = vec![
        inject,
        WargameEntry::new(f64::NAN, EntryKind::Detection, Side::Blue, "credit", "dp", "alert"),
    ];
    let mut detected = Incident::new(
        "poison",
        "credit",
        "label_flip",
        600.0,
        1200.0,
        Metric::new(1.0, 2, wilson(0.34, 1.0)),
        Metric::new(0.5, 2, wilson(0.09, 0.91)),
    );
    detected.atlas = vec!["AML.T0020".into()];
    detected.detected_by = "dp".into();
    detected.mttd_s = Some(Metric::new(180.0, 2, None));
    detected.effort.insert("poisoned_rows".into(), Metric::new(400.0, 2, None));
    let missed = Incident::new(
        "evade",
        "fraud",
        "evasion",
        900.0,
        1500.0,
        Metric::new(0.0, 2, wilson(0.0, 0.66)),
        Metric::new(0.0, 2, wilson(0.0, 0.66)),
    );
    detail.incidents = vec![detected, missed];
    detail.impact = vec![ImpactRow::new(
        "credit",
        "approvals_lost",
        "female",
        "decisions",
        Metric::new(37.5, 2, None),
    )];
    detail.series = vec![WargameSeries::new(
        "credit.dp_ratio",
        "credit",
        Some(0.8),
        vec![(0.0, Some(0.97)), (60.0, None)],
    )];
    detail.alias_changes =
        vec![AliasMove::new(700.0, "credit", "champion", Some(3), Some(2), "blue", "rollback")];
    step.wargame = Some(detail);
    step
}

#[test]
fn realistic_report_validates_against_committed_schema() {
    let schema_text =
        std::fs::read_to_string(committed_schema_path()).expect("docs/report.schema.json exists");
    let schema: serde_json::Value = serde_json::from_str(&schema_text).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");

    let report = realistic_report();
    let instance = serde_json::to_value(&report).expect("report serialises");
    let errors: Vec<String> = validator.iter_errors(&instance).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "report does not validate: {errors:#?}");

    // And something that is not a report does not validate.
    let mut broken = instance.clone();
    broken["run"]["verdict"] = serde_json::json!("maybe");
    assert!(!validator.is_valid(&broken));
}

#[test]
fn realistic_report_round_trips() {
    let report = realistic_report();
    let json = serde_json::to_string_pretty(&report).unwrap();
    assert!(json.contains(r#""format_version": "1.6""#));
    assert!(json.contains(r#""kind": "recommender""#));
    assert!(json.contains(r#""kind": "war_game""#));
    assert!(json.contains(r#""mttd_s": null"#));
    assert!(json.contains(r#""method": "newcombe""#));
    assert!(json.contains(r#""revenue": null"#));
    assert!(json.contains(r#""time_to_mitigate_s": null"#));
    assert!(!json.contains("NaN"));
    let back: Report = serde_json::from_str(&json).unwrap();
    // NaN != NaN, so compare through JSON again.
    assert_eq!(serde_json::to_string_pretty(&back).unwrap(), json);
}

#[test]
fn steps_of_older_families_have_no_recsys_timeline_key() {
    let report = realistic_report();
    let json = serde_json::to_value(&report).unwrap();
    assert!(json["steps"][0].get("recsys_timeline").is_none());
    assert!(json["steps"][0].get("wargame").is_none());
    assert_eq!(json["steps"][3]["wargame"]["series"][0]["points"][1][1], serde_json::Value::Null);
    let timeline = &json["steps"][2]["recsys_timeline"];
    assert_eq!(timeline["buckets"][1]["p99_ms"], serde_json::Value::Null);
    assert_eq!(timeline["impacts"][0]["rto_s"], 30.0);
    let back: Report = serde_json::from_value(json).unwrap();
    let timeline = back.steps[2].recsys_timeline.as_ref().unwrap();
    assert!(timeline.buckets[1].revenue.is_nan());
    assert_eq!(timeline.impacts[0].time_to_mitigate_s, None);
    assert_eq!(timeline.breaker[0].to, "open");
}

#[test]
fn redaction_clears_only_timings() {
    let mut a = realistic_report();
    let mut b = realistic_report();
    b.run.duration_ms = Some(1);
    b.run.started_at = None;
    b.steps[0].duration_ms = Some(99);
    a.redact_timings();
    b.redact_timings();
    assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
    assert_eq!(a.run.seed, 42);
}
