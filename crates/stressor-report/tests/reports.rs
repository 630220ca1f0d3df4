//! Reports from a hand-built, seeded run record: JSON, JUnit, HTML and the summary.

#![expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]

use std::io::Cursor;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use rand::Rng as _;
use stressor_core::{
    CalibrationCurves, ClassAccuracy, Comparison, ConfusionGrowth, Estimate, Event, EventSink,
    Exemplar, Gate, GateBound, GateOutcome, MetricValue, ReliabilityBin, RunInfo, Seed, StepInfo,
    StepKind, StepPoint, StepResult, Verdict, Warning,
};
use stressor_report::{Collector, RunRecord, html, json, junit, summary};

const HOSTILE: &str = "<script>alert(1)</script>";
const EPSILONS: [f64; 4] = [0.0, 0.01, 0.02, 8.0 / 255.0];

fn info() -> RunInfo {
    RunInfo {
        scenario_name: "vision-adversarial".into(),
        scenario_source: "scenarios/vision.toml".into(),
        seed: 42,
        target_name: "fashion-cnn \"quoted\" & co".into(),
        target_kind: "builtin".into(),
        input_shape: vec![1, 28, 28],
        class_names: vec!["T-shirt".into(), "Trouser".into(), HOSTILE.into()],
        data_name: "fashion-mnist/test".into(),
        n_samples: 300,
        stressor_version: "0.1.0".into(),
    }
}

fn metric(name: &str, estimate: Estimate) -> MetricValue {
    MetricValue { name: name.into(), estimate }
}

fn exemplars(rng: &mut stressor_core::Rng, epsilon: f32, count: usize) -> Vec<Exemplar> {
    (0..count)
        .map(|index| {
            let clean: Vec<f32> = (0..28 * 28).map(|_| rng.random::<f32>()).collect();
            let stressed = clean
                .iter()
                .map(|v| (v + epsilon * rng.random_range(-1.0..=1.0f32)).clamp(0.0, 1.0))
                .collect();
            Exemplar {
                index: index * 7,
                label: (index % 3) as u32,
                clean_prediction: (index % 3) as u32,
                stressed_prediction: 2,
                shape: vec![1, 28, 28],
                clean,
                stressed,
            }
        })
        .collect()
}

/// The events of a seeded fake run: a steady state, a PGD sweep, two gates (one failing).
fn events(n_exemplars: usize) -> Vec<Event> {
    let mut rng = Seed::new(7).derive("report-test").rng();
    let n = 300;
    let steady_info = StepInfo {
        id: "steady".into(),
        kind: StepKind::SteadyState,
        description: "clean accuracy".into(),
        dial_name: None,
        dial_values: vec![],
    };
    let steady = StepResult {
        info: steady_info.clone(),
        parameters: vec![],
        points: vec![StepPoint {
            dial_value: None,
            metrics: vec![metric("clean_accuracy", Estimate::proportion(274, n))],
            per_class: vec![],
            confusion_growth: vec![],
            exemplars: vec![],
            loss_trace: vec![],
            calibration: None,
        }],
        elapsed: Duration::from_millis(120),
    };
    let pgd_info = StepInfo {
        id: "pgd-linf".into(),
        kind: StepKind::Attack,
        description: format!("PGD L∞, 10 steps {HOSTILE}"),
        dial_name: Some("epsilon".into()),
        dial_values: EPSILONS.to_vec(),
    };
    let points = EPSILONS
        .iter()
        .enumerate()
        .map(|(i, &epsilon)| {
            let robust = 274 - 70 * i as u64;
            let lengths: Vec<f64> = (0..50).map(|_| epsilon * rng.random::<f64>()).collect();
            StepPoint {
                dial_value: Some(epsilon),
                metrics: vec![
                    metric("clean_accuracy", Estimate::proportion(274, n)),
                    metric("robust_accuracy", Estimate::proportion(robust, n)),
                    metric("attack_success_rate", Estimate::proportion(274 - robust, 274)),
                    metric("perturbation_linf_mean", Estimate::mean(&lengths, Seed::new(1))),
                    metric("perturbation_linf_median", Estimate::median(&lengths, Seed::new(2))),
                    // No successes at ε = 0: a NaN metric that must become null.
                    metric("perturbation_l2_mean", Estimate::proportion(0, 0)),
                    metric("ece", Estimate::mean(&[0.02 + 0.05 * i as f64, 0.1], Seed::new(3))),
                    metric("fallback_rate", Estimate::proportion(10 + 20 * i as u64, n)),
                ],
                per_class: (0..3)
                    .map(|label| ClassAccuracy {
                        label,
                        clean: Estimate::proportion(90, 100),
                        stressed: Estimate::proportion(90 - 20 * i as u64 - u64::from(label), 100),
                    })
                    .collect(),
                confusion_growth: vec![ConfusionGrowth {
                    true_label: 0,
                    predicted_label: 2,
                    clean_count: 3,
                    stressed_count: 3 + 15 * i as u64,
                }],
                exemplars: exemplars(&mut rng, epsilon as f32, n_exemplars),
                loss_trace: (0..10).map(|step| 0.3 + 0.1 * step as f64 * epsilon * 30.0).collect(),
                calibration: Some(CalibrationCurves {
                    reliability: (0..5)
                        .map(|b| ReliabilityBin {
                            lower: f64::from(b) / 5.0,
                            upper: f64::from(b + 1) / 5.0,
                            count: if b == 0 { 0 } else { 10 },
                            mean_confidence: if b == 0 {
                                f64::NAN
                            } else {
                                (f64::from(b) + 0.5) / 5.0
                            },
                            accuracy: if b == 0 { f64::NAN } else { f64::from(b) / 5.0 },
                        })
                        .collect(),
                    confidence_histogram: vec![0, 10, 10, 10, 10],
                    risk_coverage: vec![(0.25, 0.0), (0.5, 0.1), (1.0, 0.3)],
                }),
            }
        })
        .collect();
    let pgd = StepResult {
        info: pgd_info.clone(),
        parameters: vec![("steps".into(), "10".into()), ("norm".into(), "linf".into())],
        points,
        elapsed: Duration::from_millis(3400),
    };
    let held = GateOutcome {
        gate: Gate {
            id: "steady/clean_accuracy".into(),
            step_id: "steady".into(),
            metric: "clean_accuracy".into(),
            at: None,
            comparison: Comparison::AtLeast,
            threshold: 0.85,
            bound: GateBound::Value,
        },
        observed: Some(Estimate::proportion(274, n)),
        observed_at: None,
        passed: true,
    };
    let failed = GateOutcome {
        gate: Gate {
            id: "pgd-linf/robust_accuracy@0.031".into(),
            step_id: "pgd-linf".into(),
            metric: "robust_accuracy".into(),
            at: Some(8.0 / 255.0),
            comparison: Comparison::AtLeast,
            threshold: 0.3,
            bound: GateBound::Lower,
        },
        observed: Some(Estimate::proportion(64, n)),
        observed_at: Some(8.0 / 255.0),
        passed: false,
    };
    vec![
        Event::RunStarted(info()),
        Event::StepStarted(steady_info),
        Event::StepFinished(steady),
        Event::StepStarted(pgd_info),
        Event::Progress { step_id: "pgd-linf".into(), done: 1, total: 4 },
        Event::StepFinished(pgd),
        Event::Warning(Warning {
            step_id: Some("pgd-linf".into()),
            code: "gradient-masking/non-monotone".into(),
            message: format!("robust accuracy rises with ε for class {HOSTILE}"),
        }),
        Event::GateEvaluated(held),
        Event::GateEvaluated(failed),
        Event::RunFinished { verdict: Verdict::Fail, elapsed: Duration::from_millis(4321) },
    ]
}

fn record_with(n_exemplars: usize) -> RunRecord {
    let mut collector = Collector::new();
    for event in events(n_exemplars) {
        collector.event(&event);
    }
    collector.into_record().unwrap()
}

fn record() -> RunRecord {
    record_with(3)
}

fn committed_schema() -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/report.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn collector_keeps_every_result_in_order() {
    let record = record();
    assert_eq!(record.info.seed, 42);
    assert_eq!(record.steps.len(), 2);
    assert!(record.unfinished_steps.is_empty());
    assert_eq!(record.gates.len(), 2);
    assert_eq!(record.n_gates_failed(), 1);
    assert_eq!(record.warnings.len(), 1);
    assert_eq!(record.verdict, Some(Verdict::Fail));
    assert_eq!(record.elapsed, Some(Duration::from_millis(4321)));
    assert!(Collector::new().into_record().is_err());
}

#[test]
fn json_round_trips_through_the_schema_types_and_validates() {
    let text = json::to_string(&record());
    let report: stressor_schema::Report = serde_json::from_str(&text).unwrap();
    assert_eq!(report.format_version, stressor_schema::FORMAT_VERSION);
    assert_eq!(report.run.verdict, stressor_schema::Verdict::Fail);
    assert_eq!(report.run.duration_ms, Some(4321));
    assert_eq!(report.target.n_classes, 3);
    assert_eq!(report.steps[1].points.len(), EPSILONS.len());
    assert_eq!(report.steps[1].parameters["steps"], "10");
    let ci = report.steps[1].points[1].metrics["perturbation_linf_mean"].ci.unwrap();
    assert_eq!(ci.method, stressor_schema::IntervalMethod::Bootstrap);
    assert_eq!(ci.resamples, Some(1000));
    let again = serde_json::to_string_pretty(&report).unwrap() + "\n";
    assert!(again == text, "JSON changed on a round trip through the schema types");

    // Calibration curves travel, empty bins as null.
    let calibration = report.steps[1].points[0].calibration.as_ref().unwrap();
    assert_eq!(calibration.reliability.len(), 5);
    assert!(calibration.reliability[0].accuracy.is_nan());
    assert_eq!(calibration.risk_coverage[1], (0.5, 0.1));
    assert!(text.contains("\"mean_confidence\": null"));

    // NaN became null, pixels stayed out.
    assert!(text.contains("\"value\": null"));
    assert!(!text.contains("NaN"));
    assert!(!text.contains("\"stressed\": ["));

    let mut written = Vec::new();
    json::write(&record(), &mut written).unwrap();
    assert_eq!(String::from_utf8(written).unwrap(), text);

    let instance: serde_json::Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&committed_schema()).unwrap();
    let errors: Vec<String> = validator.iter_errors(&instance).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn json_is_identical_across_runs_once_timings_are_redacted() {
    let mut slow = record();
    slow.elapsed = Some(Duration::from_secs(99));
    slow.steps[0].elapsed = Duration::from_secs(9);
    let mut a = json::to_report(&record());
    let mut b = json::to_report(&slow);
    assert_ne!(a, b);
    a.redact_timings();
    b.redact_timings();
    assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
}

#[test]
fn junit_has_one_case_per_step_and_gate_and_marks_failures() {
    let xml = junit::to_string(&record()).unwrap();
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut cases, mut failures, mut suites) = (Vec::new(), Vec::new(), 0);
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                let attribute = |name: &[u8]| {
                    e.try_get_attribute(name).unwrap().map(|a| {
                        a.decoded_and_normalized_value(
                            quick_xml::XmlVersion::Explicit1_0,
                            reader.decoder(),
                        )
                        .unwrap()
                        .into_owned()
                    })
                };
                match e.name().as_ref() {
                    b"testsuite" => suites += 1,
                    b"testcase" => cases.push(attribute(b"name").unwrap()),
                    b"failure" => failures.push(attribute(b"message").unwrap()),
                    _ => {}
                }
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(suites, 1);
    assert_eq!(
        cases,
        ["steady", "pgd-linf", "steady/clean_accuracy", "pgd-linf/robust_accuracy@0.031"]
    );
    assert_eq!(failures.len(), 1);
    let message = &failures[0];
    assert!(message.contains("observed 0.213 ["), "{message}");
    assert!(message.contains("at epsilon=0.0314"), "{message}");
    assert!(message.contains("required >= 0.300 (lower CI bound)"), "{message}");
    assert!(xml.contains("tests=\"4\"") && xml.contains("failures=\"1\""), "{xml}");
}

#[test]
fn html_contains_charts_and_tables() {
    let page = html::to_string(&record(), &html::HtmlConfig::default());
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<span class=\"badge fail\">FAIL</span>"));
    // Accuracy and ECE against ε, reliability diagram, risk–coverage, per-class bars, loss
    // trace.
    assert_eq!(page.matches("<svg class=\"chart\"").count(), 5, "{page}");
    assert!(page.contains("reliability diagram"));
    assert!(page.contains("risk–coverage"));
    assert!(page.contains("ECE (95% CI)"));
    assert!(page.contains("<th title=\"fallback_rate\">fallback</th>"));
    assert!(page.contains("<polygon class=\"band\""));
    assert!(page.contains("stroke-dasharray"), "clean accuracy reference line");
    assert!(page.contains("ε (epsilon)"));
    assert!(page.contains("<table class=\"gates\">"));
    assert!(page.contains("<table class=\"metrics\">"));
    assert!(page.contains("<table class=\"confusion\">"));
    assert!(page.contains("gradient-masking/non-monotone"));
    assert!(page.contains("n = 300"));
}

#[test]
fn html_escapes_hostile_strings_and_loads_nothing() {
    let page = html::to_string(&record(), &html::HtmlConfig::default());
    assert!(!page.contains(HOSTILE));
    assert!(!page.contains("<script"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("fashion-cnn &quot;quoted&quot; &amp; co"));
    assert!(!page.contains("http://") && !page.contains("https://"));
    assert!(!page.contains("<link") && !page.contains("@import") && !page.contains("url("));
}

fn embedded_pngs(page: &str) -> Vec<Vec<u8>> {
    page.split("src=\"data:image/png;base64,")
        .skip(1)
        .map(|rest| {
            let encoded = &rest[..rest.find('"').unwrap()];
            base64::engine::general_purpose::STANDARD.decode(encoded).unwrap()
        })
        .collect()
}

#[test]
fn html_embeds_pngs_that_decode() {
    let page = html::to_string(&record(), &html::HtmlConfig::default());
    let pngs = embedded_pngs(&page);
    // 3 exemplars × 3 images at the middle and the largest ε.
    assert_eq!(pngs.len(), 18);
    for bytes in pngs {
        let mut reader = png::Decoder::new(Cursor::new(bytes)).read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let frame = reader.next_frame(&mut pixels).unwrap();
        assert_eq!((frame.width, frame.height), (84, 84), "28 × 28 upscaled 3 times");
        assert_eq!(frame.color_type, png::ColorType::Grayscale);
    }
}

#[test]
fn html_caps_embedded_images() {
    let page = html::to_string(&record_with(20), &html::HtmlConfig::default());
    assert_eq!(embedded_pngs(&page).len(), 2 * 8 * 3);
    assert!(page.contains("12 more exemplars left out"));

    let mut config = html::HtmlConfig::default();
    config.max_image_bytes = 10_000;
    let page = html::to_string(&record_with(20), &config);
    let total: usize = embedded_pngs(&page).iter().map(Vec::len).sum();
    assert!(total <= 10_000, "{total}");
}

#[test]
fn summary_reads_without_colour() {
    let text = summary::to_string(&record());
    assert!(!text.contains('\u{1b}'), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "stressor · vision-adversarial · seed 42");
    assert!(text.contains("steady state  clean_accuracy 0.913 ["), "{text}");
    assert!(text.contains("step pgd-linf (PGD L∞, 10 steps"), "{text}");
    assert!(lines.iter().any(|l| l.trim_start().starts_with("ε ") && l.contains("robust acc")));
    assert!(lines.iter().any(|l| l.trim_start().starts_with("0.0314")), "{text}");
    assert!(text.contains("  PASS  steady clean_accuracy >= 0.850"), "{text}");
    assert!(text.contains("  FAIL  pgd-linf robust_accuracy >= 0.300 (lower CI bound)"), "{text}");
    assert!(text.contains("at epsilon=0.0314"), "{text}");
    assert_eq!(lines.last(), Some(&"verdict FAIL (1 of 2 gates failed)"));

    // Names cannot smuggle terminal escapes.
    let mut hostile = record();
    hostile.info.target_name = "evil\u{1b}[2Jname".into();
    let text = summary::to_string(&hostile);
    assert!(!text.contains('\u{1b}') && text.contains("evil\\u{1b}[2Jname"), "{text}");

    let mut coloured = Vec::new();
    summary::write(&record(), &summary::SummaryConfig::with_colour(true), &mut coloured).unwrap();
    let coloured = String::from_utf8(coloured).unwrap();
    assert!(coloured.contains("verdict \u{1b}[1;31mFAIL\u{1b}[0m"));
}

#[test]
fn interrupted_runs_are_reported_as_incomplete() {
    let mut collector = Collector::new();
    let all = events(1);
    // Everything up to the PGD step's start: the steady state finished, PGD did not.
    for event in &all[..4] {
        collector.event(event);
    }
    let record = collector.into_record().unwrap();
    assert_eq!(record.unfinished_steps.len(), 1);
    assert_eq!(record.verdict, None);

    assert!(summary::to_string(&record).ends_with("verdict INCOMPLETE (the run did not finish)\n"));
    let report = json::to_report(&record);
    assert_eq!(report.run.verdict, stressor_schema::Verdict::Incomplete);
    let xml = junit::to_string(&record).unwrap();
    assert!(xml.contains("<error") && xml.contains("did not finish"), "{xml}");
    let page = html::to_string(&record, &html::HtmlConfig::default());
    assert!(page.contains("INCOMPLETE") && page.contains("did not finish"));
}

#[test]
fn reporters_tolerate_missing_metrics_and_odd_shapes() {
    let mut record = record();
    let pgd = &mut record.steps[1];
    for point in &mut pgd.points {
        point.metrics.retain(|m| m.name == "queries_per_success_mean" || m.name == "custom");
        point.metrics.push(metric("custom", Estimate::exact(1.5, 10)));
        point.per_class.clear();
        point.loss_trace.clear();
        for exemplar in &mut point.exemplars {
            exemplar.shape = vec![784];
        }
    }
    let page = html::to_string(&record, &html::HtmlConfig::default());
    assert!(page.contains("No accuracy was measured."));
    assert!(page.contains("not an image"));
    assert!(embedded_pngs(&page).is_empty());
    let text = summary::to_string(&record);
    assert!(text.contains("custom"), "{text}");
    junit::to_string(&record).unwrap();
    json::to_string(&record);
}

#[test]
fn html_renders_rgb_exemplars_in_colour() {
    let mut record = record();
    let mut rng = Seed::new(3).rng();
    for point in &mut record.steps[1].points {
        for exemplar in &mut point.exemplars {
            exemplar.shape = vec![3, 32, 32];
            exemplar.clean = (0..3 * 32 * 32).map(|_| rng.random::<f32>()).collect();
            exemplar.stressed = exemplar.clean.iter().map(|v| 1.0 - v).collect();
        }
    }
    let page = html::to_string(&record, &html::HtmlConfig::default());
    let pngs = embedded_pngs(&page);
    assert_eq!(pngs.len(), 18);
    let mut reader = png::Decoder::new(Cursor::new(&pngs[0])).read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((frame.width, frame.height, frame.color_type), (96, 96, png::ColorType::Rgb));
}
