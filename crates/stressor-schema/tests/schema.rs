//! The committed JSON Schema matches the types, and real reports validate against it.

#![expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]

use std::path::PathBuf;

use stressor_schema::{
    ClassAccuracy, Comparison, ConfusionGrowth, DataSection, Dial, Exemplar, GateBound, GateResult,
    Interval, IntervalMethod, Metric, Point, Report, RunSection, Step, StepKind, TargetSection,
    Verdict, Warning,
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
    assert!(json.contains(r#""format_version": "1.3""#));
    assert!(!json.contains("NaN"));
    let back: Report = serde_json::from_str(&json).unwrap();
    // NaN != NaN, so compare through JSON again.
    assert_eq!(serde_json::to_string_pretty(&back).unwrap(), json);
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
