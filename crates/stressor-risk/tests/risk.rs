//! The risk documents against hand-made reports: mappings at their boundaries, citations that
//! resolve, documents that follow the evidence, and clear errors for bad input.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use stressor_risk::scale::{self, ActionPriority};
use stressor_risk::{Context, Input, RiskDocument, RiskError, assess, parse_report};

fn metric(value: f64, n: u64) -> Value {
    json!({ "value": value, "n": n, "ci": null })
}

fn wilson(value: f64, n: u64, lower: f64, upper: f64) -> Value {
    json!({ "value": value, "n": n,
            "ci": { "lower": lower, "upper": upper, "level": 0.95, "method": "wilson" } })
}

/// A vision report: one PGD step at ε = 4/255 and 8/255, and its adversarially trained copy.
fn vision_report(robust_at_8: f64, step_id: &str) -> Value {
    let point = |eps: f64, robust: f64| {
        json!({
            "dial_value": eps,
            "metrics": {
                "clean_accuracy": wilson(0.9, 500, 0.87, 0.92),
                "robust_accuracy": wilson(robust, 500, (robust - 0.04).max(0.0), (robust + 0.04).min(1.0)),
                "attack_success_rate": wilson(0.9 - robust, 500, (0.86 - robust).max(0.0), (0.94 - robust).min(1.0)),
                "error_auroc": metric(0.8, 500)
            },
            "per_class": [], "confusion_growth": [], "exemplars": [], "loss_trace": []
        })
    };
    let step = |id: &str, kind: &str, points: Vec<Value>, params: Value| {
        json!({
            "id": id, "kind": kind, "description": "PGD L∞, 10 steps",
            "dial": { "name": "epsilon", "values": [4.0 / 255.0, 8.0 / 255.0] },
            "parameters": params, "points": points, "duration_ms": null
        })
    };
    let mut mitigation =
        step("at", "mitigation", vec![], json!({ "method": "adversarial-training" }));
    mitigation["dial"] = Value::Null;
    json!({
        "format_version": "1.6",
        "stressor_version": "0.1.0",
        "run": { "scenario_name": "vision <b>", "scenario_source": "v.toml", "seed": 1, "verdict": "pass" },
        "target": { "name": "fashion-cnn", "kind": "builtin", "input_shape": [1, 28, 28], "n_classes": 10, "class_names": [] },
        "data": { "name": "fashion-mnist/test", "n_samples": 500 },
        "steps": [
            step(step_id, "attack",
                 vec![point(4.0 / 255.0, 0.8), point(8.0 / 255.0, robust_at_8)],
                 json!({ "attack": "pgd" })),
            step(&format!("at/{step_id}"), "attack",
                 vec![point(4.0 / 255.0, 0.85), point(8.0 / 255.0, 0.8)],
                 json!({ "attack": "pgd" })),
            mitigation
        ],
        "gates": [], "warnings": []
    })
}

fn input(value: &Value, name: &str) -> Input {
    let report = parse_report(&value.to_string(), Path::new(name)).expect("a valid report");
    Input { path: PathBuf::from(name), report }
}

fn context(text: &str) -> Context {
    Context::parse(text, Path::new("context.toml")).expect("a valid context")
}

const CONTEXT: &str = r#"
currency = "EUR"
[exposure]
adversarial = 0.01
[appetite]
security = 6
[[process]]
name = "Returns triage"
models = ["fashion-cnn"]
owner = "Returns ML team"
revenue_per_hour = 1000
max_tolerable_downtime = "4h"
rto = "1h"
"#;

fn document(report: &Value, context_text: &str) -> RiskDocument {
    assess(&[input(report, "report.json")], &context(context_text)).expect("documents")
}

#[test]
fn severity_maps_impact_at_its_boundaries() {
    let cases = [
        (0.0, 1),
        (0.0099, 1),
        (0.01, 2),
        (0.0499, 2),
        (0.05, 3),
        (0.0999, 3),
        (0.1, 4),
        (0.1999, 4),
        (0.2, 5),
        (0.3499, 5),
        (0.35, 6),
        (0.4999, 6),
        (0.5, 7),
        (0.7999, 7),
        (0.8, 8),
        (1.0, 8),
        (f64::NAN, 1),
    ];
    for (impact, s) in cases {
        assert_eq!(scale::severity(impact, false, false), s, "impact {impact}");
    }
    assert_eq!(scale::severity(0.8, true, true), 9, "hazardous with warning");
    assert_eq!(scale::severity(0.8, true, false), 10, "hazardous without warning");
    assert_eq!(scale::severity(0.79, true, false), 7, "safety only changes a loss of function");
}

#[test]
fn occurrence_maps_failures_per_thousand_at_its_boundaries() {
    // rate × exposure × 1000 against 100, 50, 20, 10, 2, 0.5, 0.1, 0.01, 0.001 per thousand.
    let cases = [
        (0.1, 10),
        (0.0999, 9),
        (0.05, 9),
        (0.02, 8),
        (0.0199, 7),
        (0.01, 7),
        (0.002, 6),
        (0.0005, 5),
        (0.0001, 4),
        (0.00001, 3),
        (0.000001, 2),
        (0.0000009, 1),
        (0.0, 1),
    ];
    for (rate, o) in cases {
        assert_eq!(scale::occurrence(rate, 1.0), o, "rate {rate}");
    }
    assert_eq!(scale::occurrence(0.5, 0.001), 5, "exposure scales the rate: 0.5 per thousand");
}

#[test]
fn detection_maps_probability_and_timeliness_at_their_boundaries() {
    let cases = [
        (0.99, 1),
        (0.9899, 2),
        (0.95, 2),
        (0.9, 3),
        (0.8, 4),
        (0.7, 5),
        (0.5, 6),
        (0.3, 7),
        (0.1, 8),
        (0.0999, 9),
        (0.0, 10),
    ];
    for (p, d) in cases {
        assert_eq!(scale::detection(Some(p), None), d, "probability {p}");
    }
    assert_eq!(scale::detection(None, Some(0.0)), 10, "no detector exercised");
    let timely = [(0.05, 1), (0.0501, 2), (0.1, 2), (0.25, 4), (0.5, 6), (1.0, 8), (1.0001, 9)];
    for (ratio, d) in timely {
        assert_eq!(scale::detection(Some(1.0), Some(ratio)), d, "MTTD/MTD {ratio}");
    }
    assert_eq!(scale::detection(Some(0.5), Some(0.01)), 6, "the worse of the two");
}

#[test]
fn action_priority_follows_the_aiag_vda_table() {
    use ActionPriority::{H, L, M};
    let cases = [
        ((9, 2, 2), L), // the handbook's RPN example: S9·O2·D2 = 36 …
        ((5, 5, 5), L), // … against S5·O5·D5 = 125, which RPN would rank higher
        ((9, 2, 7), H),
        ((9, 4, 1), M),
        ((10, 8, 1), H),
        ((9, 1, 10), L),
        ((8, 4, 8), H),
        ((7, 4, 5), M),
        ((7, 2, 2), L),
        ((7, 6, 1), M),
        ((5, 8, 1), M),
        ((6, 8, 7), H),
        ((4, 6, 1), L),
        ((4, 6, 4), M),
        ((3, 8, 7), M),
        ((2, 8, 4), L),
        ((3, 7, 10), L),
        ((1, 10, 10), L),
    ];
    for ((s, o, d), ap) in cases {
        assert_eq!(scale::action_priority(s, o, d), ap, "S{s} O{o} D{d}");
    }
}

#[test]
fn every_citation_resolves_to_a_field_of_its_report() {
    let report = vision_report(0.3, "pgd-linf");
    let d = document(&report, CONTEXT);
    let mut sources = Vec::new();
    for row in &d.fmea {
        sources.extend(row.evidence.clone());
    }
    for row in &d.register {
        sources.extend(row.evidence.clone());
        for c in &row.controls {
            sources.extend(c.evidence.clone());
        }
    }
    for row in &d.bia {
        sources.extend(row.evidence.clone());
    }
    assert!(sources.len() >= 6, "{sources:?}");
    for s in sources {
        assert_eq!(s.report, 1);
        assert!(report.pointer(&s.pointer).is_some(), "{} does not resolve", s.pointer);
    }
}

#[test]
fn the_documents_follow_the_evidence() {
    // PGD at 8/255 leaves 0.6 of 0.9 accuracy, then 0.1: impact 1/3 → S5, then 8/9 → S8.
    let mild = document(&vision_report(0.6, "pgd-linf"), CONTEXT);
    let severe = document(&vision_report(0.1, "pgd-linf"), CONTEXT);
    let (a, b) = (&mild.fmea[0], &severe.fmea[0]);
    assert_eq!(a.finding, "r1/pgd-linf@8/255");
    assert_eq!((a.severity, b.severity), (5, 8));
    // rate 0.3 vs 0.8 × exposure 0.01 → 3 and 8 per thousand → O6 both; D from AUROC 0.8 → 0.6 → D6.
    assert_eq!((a.occurrence, a.detection), (6, 6));
    assert_eq!(a.rpn, 5 * 6 * 6);
    assert_eq!(b.rpn, 8 * 6 * 6);
    assert_eq!(b.action_priority, ActionPriority::H);
    assert!(a.rationale.severity.contains("r1:/steps/0/points/1/metrics/robust_accuracy"));
    // The register: likelihood 3, impact 3 → 9 > 6 (above); the adversarially trained copy
    // loses 1 − 0.8/0.9 = 0.11 → S4 → impact 2 → residual 6 (within).
    let r = &mild.register[0];
    assert_eq!((r.likelihood, r.impact, r.score), (3, 3, 9));
    assert_eq!(r.status, "above appetite");
    assert_eq!(r.controls.len(), 1);
    assert_eq!(r.residual_score, 6);
    assert_eq!(r.residual_status, "within appetite");
    assert!(r.response.starts_with("mitigate"), "{}", r.response);
    assert_eq!(r.owner, "Returns ML team");
    // The context names the dial value the business sees.
    let at_4 = document(
        &vision_report(0.1, "pgd-linf"),
        &format!("{CONTEXT}\n[dial]\npgd-linf = \"4/255\"\n"),
    );
    assert_eq!(at_4.fmea[0].finding, "r1/pgd-linf@4/255");
    assert_eq!(at_4.fmea[0].severity, 4, "1 − 0.8/0.9 = 0.11 → S4");
}

#[test]
fn the_appetite_and_exposure_change_the_register_and_the_fmea() {
    let report = vision_report(0.6, "pgd-linf");
    let tolerant = document(&report, &CONTEXT.replace("security = 6", "security = 25"));
    assert_eq!(tolerant.register[0].status, "within appetite");
    assert!(tolerant.register[0].response.starts_with("accept"));
    let rare = document(&report, &CONTEXT.replace("adversarial = 0.01", "adversarial = 0.00001"));
    assert_eq!(rare.fmea[0].occurrence, 2, "0.3 × 1e-5 × 1000 = 0.003 per thousand");
    let unstated = document(&report, &CONTEXT.replace("adversarial = 0.01", ""));
    assert_eq!(unstated.fmea[0].occurrence, 10);
    assert!(!unstated.fmea[0].exposure_stated);
    assert!(unstated.assumptions.iter().any(|a| a.contains("adversarial")));
}

#[test]
fn the_crosswalk_lists_gaps_and_the_atlas_ids_of_attacks() {
    let d = document(&vision_report(0.3, "pgd-linf"), CONTEXT);
    let row = |id: &str| d.crosswalk.iter().find(|r| r.id == id).expect(id);
    assert!(!row("MEASURE 2.7").gap);
    assert!(row("MEASURE 2.11").gap, "no fairness evidence in a vision report");
    assert!(row("MANAGE 4.3").gap, "no timeline, no post-mortem");
    let techniques: Vec<&str> = d.atlas.iter().map(|a| a.technique.as_str()).collect();
    assert_eq!(techniques, ["AML.T0015", "AML.T0043.000"]);
}

#[test]
fn text_from_reports_is_escaped_in_every_format() {
    let report = vision_report(0.3, "pgd|<script>alert(1)</script>");
    let d = document(&report, CONTEXT);
    let html = stressor_risk::html(&d);
    assert!(!html.contains("<script>"));
    assert!(html.contains("&lt;script&gt;"));
    assert!(!html.contains("vision <b>"));
    let md = stressor_risk::markdown(&d);
    let fmea_row = md.lines().find(|l| l.contains("alert(1)")).expect("the FMEA row");
    let unescaped_pipes = fmea_row.matches('|').count() - fmea_row.matches("\\|").count();
    assert_eq!(unescaped_pipes, 12, "11 columns: {fmea_row}");
    let csv = stressor_risk::fmea_csv(&d);
    assert!(csv.lines().count() >= 2);
}

#[test]
fn csv_cells_that_a_spreadsheet_would_run_are_neutralised() {
    let d = document(&vision_report(0.3, "=HYPERLINK(\"x\")"), CONTEXT);
    let csv = stressor_risk::register_csv(&d);
    assert!(!csv.contains("\n=HYPERLINK"));
    assert!(!csv.contains(",=HYPERLINK"));
}

#[test]
fn reports_of_another_major_version_or_missing_fields_are_refused() {
    let mut report = vision_report(0.3, "pgd-linf");
    report["format_version"] = json!("2.0");
    let error = parse_report(&report.to_string(), Path::new("new.json")).expect_err("refused");
    assert!(matches!(error, RiskError::ReportVersion { .. }), "{error}");
    assert_eq!(error.exit_code(), 3);
    assert!(error.to_string().contains("new.json") && error.to_string().contains("2.0"));

    let mut report = vision_report(0.3, "pgd-linf");
    report.as_object_mut().expect("an object").remove("run");
    let error = parse_report(&report.to_string(), Path::new("cut.json")).expect_err("refused");
    assert_eq!(error.exit_code(), 3);
    assert!(error.to_string().contains("missing field `run`"), "{error}");

    let error =
        parse_report("{\"format_version\": ", Path::new("broken.json")).expect_err("refused");
    assert!(
        error.to_string().contains("broken.json") && error.to_string().contains("line 1"),
        "{error}"
    );
    assert!(matches!(assess(&[], &Context::empty()), Err(RiskError::NoReports)));
}

#[test]
fn contradictory_or_malformed_context_is_refused_with_its_field() {
    let bad = |text: &str| Context::parse(text, Path::new("ctx.toml")).expect_err("refused");
    let process = "[[process]]\nname = \"p\"\nmodels = [\"m\"]\nmax_tolerable_downtime = \"1h\"\n";
    let error = bad(&format!("{process}rto = \"2h\"\n"));
    assert!(
        matches!(error, RiskError::ContextInvalid { ref field, .. } if field == "process[0].rto"),
        "{error}"
    );
    assert!(error.to_string().contains("longer than the maximum tolerable downtime"));
    assert_eq!(error.exit_code(), 2);
    let error = bad(&format!("{process}rto = \"30m\"\n{process}rto = \"30m\"\n"));
    assert!(error.to_string().contains("names two processes"), "{error}");
    let error = bad("[appetite]\nsecurity = 30\n");
    assert!(error.to_string().contains("appetite.security"), "{error}");
    let error = bad("[exposure]\nadversarial = 1.5\n");
    assert!(error.to_string().contains("exposure.adversarial"), "{error}");
    let error = bad("currency = \"EUR\"\ncolour = \"red\"\n");
    assert!(matches!(error, RiskError::ContextParse { line: 2, .. }), "{error}");
    let error = bad("[exposure]\nteleportation = 0.1\n");
    assert!(matches!(error, RiskError::ContextParse { line: 2, .. }), "{error}");
    let error = bad(&format!("{process}rto = \"soon\"\n"));
    assert!(error.to_string().contains("process[0].rto"), "{error}");
}

#[test]
fn the_committed_json_schema_is_fresh() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/risk.schema.json");
    let mut generated =
        serde_json::to_string_pretty(&stressor_risk::risk_schema()).expect("a schema");
    generated.push('\n');
    if std::env::var_os("STRESSOR_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write docs/risk.schema.json");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/risk.schema.json is stale or missing; regenerate it with\n\n    \
         STRESSOR_BLESS=1 cargo test -p stressor-risk --test risk"
    );
}

/// A drift report: policy `none` never recovers, `periodic` recovers `recover_steps` after the
/// drift began.
fn drift_report(recover_steps: f64) -> Value {
    let step = |policy: &str, lost: f64, recover: Option<f64>| {
        json!({
            "id": policy, "kind": "drift", "description": "drift", "dial": null,
            "parameters": { "policy": policy, "transforms": "scale amount ×100" },
            "points": [{
                "dial_value": 0.5,
                "metrics": {
                    "accuracy_lost": metric(lost, 30),
                    "pre_drift_accuracy": metric(0.75, 300),
                    "time_to_detect_steps": metric(1.0, 30),
                    "time_to_recover_steps": recover.map_or(json!({ "value": null, "n": 30, "ci": null }), |r| metric(r, 30))
                },
                "per_class": [], "confusion_growth": [], "exemplars": [], "loss_trace": []
            }],
            "duration_ms": null,
            "drift_timeline": {
                "policy": policy, "drift_start": 10, "drift_full": 10, "pre_drift_accuracy": 0.75,
                "tolerance": 0.03, "steps": [],
                "events": [{ "step": 11, "kind": "detected", "detail": "amount (ks 0.5)" }]
            }
        })
    };
    json!({
        "format_version": "1.6", "stressor_version": "0.1.0",
        "run": { "scenario_name": "credit-drift", "scenario_source": "c.toml", "seed": 2, "verdict": "pass" },
        "target": { "name": "logistic", "kind": "tabular", "input_shape": [20], "n_classes": 2, "class_names": [] },
        "data": { "name": "german-credit", "n_samples": 300 },
        "steps": [step("none", 4.0, None), step("periodic", 1.0, Some(recover_steps))],
        "gates": [], "warnings": []
    })
}

#[test]
fn the_bia_sets_measured_recovery_against_the_targets_with_and_without_controls() {
    let context = r#"
[[process]]
name = "Credit decisions"
scenarios = ["credit-drift"]
revenue_per_hour = 9000
max_tolerable_downtime = "24h"
rto = "8h"
drift_step = "1h"
"#;
    // 20 drifted steps: 4 accuracy points lost over them is 0.2 per step, impact 0.2/0.75.
    let d = document(&drift_report(7.0), context);
    let row = &d.bia[0];
    assert!(row.rto_status.starts_with("not recovered in the run (r1/none)"), "{}", row.rto_status);
    assert_eq!(row.measured_rto_with_controls_s, Some((7.0 * 3600.0, "r1/none".to_string())));
    assert_eq!(row.rto_status_with_controls, "meets RTO");
    let loss = row.loss_per_hour.expect("a loss per hour");
    assert!((loss - 9000.0 * 0.2 / 0.75).abs() < 1e-6, "{loss}");
    // 9 steps of 1 h: past the 8 h RTO; 25 steps: past the 24 h MTD.
    assert_eq!(document(&drift_report(9.0), context).bia[0].rto_status_with_controls, "misses RTO");
    assert_eq!(
        document(&drift_report(25.0), context).bia[0].rto_status_with_controls,
        "exceeds MTD"
    );
    // Detection in time: MTTD 1 step = 1 h of a 24 h MTD = 0.042 → D 1 (detected, probability 1).
    assert_eq!(d.fmea[0].detection, 1);
    // The drift's retraining trigger cites the policy that lost least.
    assert!(d.retraining_triggers[0].trigger.contains("periodic"), "{:?}", d.retraining_triggers);
    assert!(d.postmortems.iter().any(|p| p.title.contains("drift with no retraining")));
}
