//! Outside input never makes the risk documents panic: arbitrary text as a context or a
//! report, and well-formed reports with arbitrary numbers (NaN, infinities, negatives, empty
//! steps), whose citations must still resolve.

use std::path::Path;

use proptest::prelude::*;
use serde_json::{Value, json};
use stressor_risk::{Context, Input, assess, parse_report};

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        (-2.0f64..2.0).prop_map(|x| json!(x)),
        prop_oneof![Just(0.0), Just(1.0), Just(-1.0), Just(1e300), Just(-1e-300)]
            .prop_map(|x| json!(x)),
        (0u64..100_000).prop_map(|x| json!(x)),
    ]
}

fn metric() -> impl Strategy<Value = Value> {
    (number(), 0u64..2000, proptest::option::of((number(), number()))).prop_map(|(value, n, ci)| {
        json!({
            "value": value,
            "n": n,
            "ci": ci.map(|(lower, upper)| json!({ "lower": lower, "upper": upper, "level": 0.95, "method": "wilson" }))
        })
    })
}

const NAMES: &[&str] = &[
    "clean_accuracy",
    "robust_accuracy",
    "attack_success_rate",
    "error_auroc",
    "accuracy",
    "accuracy.baseline",
    "error_rate.outage",
    "accuracy.outage",
    "time_to_recover_s.outage",
    "accuracy_lost",
    "pre_drift_accuracy",
    "time_to_detect_steps",
    "time_to_recover_steps",
    "clicks_per_request",
    "utility",
    "oos_recall",
    "error_rate.surge",
    "time_to_recover_s",
];
const KINDS: &[&str] = &[
    "attack",
    "corruption",
    "lighting",
    "mitigation",
    "system",
    "drift",
    "recommender",
    "chatbot",
    "war_game",
    "steady_state",
    "summary",
];
const IDS: &[&str] =
    &["pgd", "at/pgd", "at", "clean", "surge", "off_topic", "none", "baseline", "x|<b>"];

fn step() -> impl Strategy<Value = Value> {
    (
        proptest::sample::select(IDS),
        proptest::sample::select(KINDS),
        proptest::collection::vec(
            (proptest::option::of(number()), proptest::collection::btree_map(proptest::sample::select(NAMES), metric(), 0..8)),
            0..4,
        ),
        any::<bool>(),
    )
        .prop_map(|(id, kind, points, dial)| {
            let points: Vec<Value> = points
                .into_iter()
                .map(|(dial_value, metrics)| {
                    json!({ "dial_value": dial_value, "metrics": metrics, "per_class": [],
                            "confusion_growth": [], "exemplars": [], "loss_trace": [] })
                })
                .collect();
            let mut step = json!({
                "id": id, "kind": kind, "description": "d", "dial": null,
                "parameters": { "attack": "square", "policy": "none" }, "points": points,
            });
            if dial {
                step["dial"] = json!({ "name": "epsilon", "values": [] });
            }
            match kind {
                "system" => {
                    step["timeline"] = json!({ "seconds": [], "recoveries": [],
                        "windows": [{ "name": "outage", "kind": "fault", "detail": "x", "start": 1.0, "stop": 0.5 }] });
                }
                "drift" => {
                    step["drift_timeline"] = json!({ "policy": id, "drift_start": 40, "drift_full": 3,
                        "pre_drift_accuracy": null, "tolerance": 0.0, "steps": [],
                        "events": [{ "step": 50, "kind": "detected", "detail": "" }] });
                }
                "war_game" => {
                    step["wargame"] = json!({ "team": id, "seeds": [], "duration_s": 10.0, "tick_s": 1.0,
                        "clock": "", "registry": "", "timeline": [], "impact": [], "alias_changes": [],
                        "series": [{ "name": "credit.true_accuracy", "model": "credit", "threshold": null,
                                     "points": [[0.0, 0.9], [5.0, null], [6.0, -3.0]] }],
                        "incidents": [{ "inject": "t", "model": "credit", "technique": "tamper", "atlas": [],
                            "start_s": 2.0, "end_s": null, "detected_by": "", "detected": { "value": null, "n": 0, "ci": null },
                            "recovered": { "value": 0.0, "n": 1, "ci": null }, "mttd_s": null, "mtta_s": null,
                            "mttr_s": { "value": -5.0, "n": 1, "ci": null }, "effort": {} }] });
                }
                _ => {}
            }
            step
        })
}

fn report() -> impl Strategy<Value = Value> {
    proptest::collection::vec(step(), 0..6).prop_map(|steps| {
        json!({
            "format_version": "1.6", "stressor_version": "0",
            "run": { "scenario_name": "s", "scenario_source": "s.toml", "seed": 1, "verdict": "pass" },
            "target": { "name": "m", "kind": "k", "input_shape": [], "n_classes": 0, "class_names": [] },
            "data": { "name": "d", "n_samples": 0 },
            "steps": steps, "gates": [], "warnings": []
        })
    })
}

const CONTEXT: &str = r#"
[exposure]
adversarial = 0.0
[appetite]
security = 1
[[process]]
name = "p"
models = ["m", "credit"]
max_tolerable_downtime = "0s"
rto = "0s"
drift_step = "0s"
safety_critical = true
"#;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_text_as_a_context_is_a_result(text in ".{0,200}") {
        let _ = Context::parse(&text, Path::new("c.toml"));
    }

    #[test]
    fn any_line_spliced_into_a_valid_context_is_a_result(at in 0usize..400, line in "[a-z_\\[\\]=\" 0-9.]{0,40}") {
        let at = CONTEXT.char_indices().map(|(i, _)| i).nth(at % CONTEXT.chars().count()).unwrap_or(0);
        let text = format!("{}\n{line}\n{}", &CONTEXT[..at], &CONTEXT[at..]);
        let _ = Context::parse(&text, Path::new("c.toml"));
    }

    #[test]
    fn any_bytes_as_a_report_are_a_result(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_report(&String::from_utf8_lossy(&bytes), Path::new("r.json"));
    }

    #[test]
    fn any_well_formed_report_gives_documents_whose_citations_resolve(report in report()) {
        // The generator writes reports of the current format: each must parse.
        let parsed = parse_report(&report.to_string(), Path::new("r.json"))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let context = Context::parse(CONTEXT, Path::new("c.toml")).expect("a valid context");
        let d = assess(&[Input { path: "r.json".into(), report: parsed }], &context)
            .expect("one report");
        let _ = (stressor_risk::markdown(&d), stressor_risk::html(&d), stressor_risk::fmea_csv(&d),
                 stressor_risk::register_csv(&d), serde_json::to_string(&d).expect("serialises"));
        for row in &d.fmea {
            prop_assert!((1..=10).contains(&row.severity) && (1..=10).contains(&row.occurrence)
                && (1..=10).contains(&row.detection));
            for source in &row.evidence {
                prop_assert!(report.pointer(&source.pointer).is_some(), "{} does not resolve", source.pointer);
            }
        }
    }
}
