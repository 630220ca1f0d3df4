//! Reports from a hand-built, seeded run record: JSON, JUnit, HTML and the summary.

#![expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]

use std::io::Cursor;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use rand::Rng as _;
use stressor_core::{
    BreakerTransition, CalibrationCurves, ClassAccuracy, Comparison, ConfusionGrowth, DriftEvent,
    DriftPoint, DriftTimeline, Estimate, Event, EventSink, Exemplar, FaultImpact, Gate, GateBound,
    GateOutcome, LiveSample, MetricValue, Recovery, RecsysPoint, RecsysTimeline, ReliabilityBin,
    RunInfo, Seed, StepInfo, StepKind, StepPoint, StepResult, Timeline, TimelinePoint,
    TimelineWindow, Verdict, Warning, WindowKind,
};
use stressor_report::{Collector, RunRecord, html, json, junit, summary};

#[path = "reports/wargame.rs"]
mod wargame;

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
fn live_readings_leave_every_report_unchanged() {
    let mut collector = Collector::new();
    for event in events(3) {
        // A reading a second of a long step, with notes: the dashboard's, not the reports'.
        for t in 0..1000 {
            collector.event(&Event::Live(LiveSample {
                step_id: "pgd".into(),
                t_s: f64::from(t),
                values: vec![("p99_ms".into(), 12.0), ("error_rate".into(), f64::NAN)],
                notes: vec![HOSTILE.into()],
            }));
        }
        collector.event(&event);
    }
    let with_live = collector.into_record().unwrap();
    let without = record();
    assert_eq!(json::to_string(&with_live), json::to_string(&without));
    let config = html::HtmlConfig::default();
    assert_eq!(html::to_string(&with_live, &config), html::to_string(&without, &config));
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
    // 3 exemplars × 3 images at the largest ε only.
    assert_eq!(pngs.len(), 9);
    for bytes in pngs {
        let mut reader = png::Decoder::new(Cursor::new(bytes)).read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let frame = reader.next_frame(&mut pixels).unwrap();
        assert_eq!((frame.width, frame.height), (28, 28), "28 × 28 as they are");
        assert_eq!(frame.color_type, png::ColorType::Grayscale);
    }
    // The page enlarges them, pixels kept sharp.
    assert!(page.contains("figure img { image-rendering: pixelated; width: 84px;"));
}

#[test]
fn html_caps_embedded_images() {
    let page = html::to_string(&record_with(20), &html::HtmlConfig::default());
    assert_eq!(embedded_pngs(&page).len(), 3 * 3);
    assert!(page.contains("17 more exemplars left out"));

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
    assert_eq!(pngs.len(), 9);
    let mut reader = png::Decoder::new(Cursor::new(&pngs[0])).read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((frame.width, frame.height, frame.color_type), (32, 32, png::ColorType::Rgb));
}

/// A point without a dial value holding `metrics`.
fn summary_point(metrics: Vec<MetricValue>) -> StepPoint {
    StepPoint {
        dial_value: None,
        metrics,
        per_class: vec![],
        confusion_growth: vec![],
        exemplars: vec![],
        loss_trace: vec![],
        calibration: None,
    }
}

/// A latency quantile with an order-statistic-like interval.
fn latency(value: f64, n: u64) -> Estimate {
    Estimate {
        value,
        n,
        ci: Some(stressor_core::Interval {
            lower: value * 0.9,
            upper: value * 1.1,
            level: 0.95,
            method: stressor_core::IntervalMethod::OrderStatistic,
        }),
    }
}

const SLOW: &str = "slow <b>network</b>";

/// A finished system run as the system family reports it: whole-run metrics, the same per
/// window (`baseline`, a latency fault and a surge) and the time to recover from each window.
fn system_record() -> RunRecord {
    let mut record = RunRecord::new(info());
    let windows = [("baseline", 40, 0, 12.0), (SLOW, 40, 2, 130.0), ("surge", 100, 9, 48.0)];
    let mut metrics = vec![
        metric("requests", Estimate::exact(280.0, 280)),
        metric("throughput", Estimate::exact(27.9, 280)),
        metric("error_rate", Estimate::proportion(11, 280)),
        metric("p50_ms", latency(12.4, 269)),
        metric("p90_ms", latency(25.1, 269)),
        metric("p99_ms", latency(131.0, 269)),
        metric("p999_ms", latency(139.0, 269)),
        metric("max_ms", Estimate::exact(141.0, 269)),
        metric("accuracy", Estimate::proportion(248, 269)),
    ];
    for (name, requests, errors, p99) in windows {
        metrics.extend([
            metric(&format!("error_rate.{name}"), Estimate::proportion(errors, requests)),
            metric(&format!("p50_ms.{name}"), latency(p99 / 2.0, requests - errors)),
            metric(&format!("p99_ms.{name}"), latency(p99, requests - errors)),
            metric(
                &format!("throughput.{name}"),
                Estimate::exact((requests - errors) as f64 / 2.0, requests),
            ),
            metric(
                &format!("accuracy.{name}"),
                Estimate::proportion(requests - errors - 1, requests),
            ),
        ]);
    }
    metrics.extend([
        metric(&format!("time_to_recover_s.{SLOW}"), Estimate::exact(1.0, 1)),
        metric("time_to_recover_s.surge", Estimate::exact(f64::INFINITY, 1)),
        metric("time_to_recover_s", Estimate::exact(f64::INFINITY, 2)),
    ]);
    record.steps.push(StepResult {
        info: StepInfo {
            id: "system".into(),
            kind: StepKind::System,
            description: "load 2s@20 → 1s@100 → 7s@20 on http://127.0.0.1:9/predict through the \
                          fault proxy with faults slow <b>network</b>, and a surge on top of it all"
                .into(),
            dial_name: None,
            dial_values: vec![],
        },
        parameters: vec![("connections".into(), "8".into())],
        points: vec![summary_point(metrics)],
        elapsed: Duration::from_secs(10),
    });
    record.timelines.push(Timeline {
        step_id: "system".into(),
        seconds: (0..10)
            .map(|t| TimelinePoint {
                t: f64::from(t),
                requests: 20,
                ok: 19,
                errors: 1,
                p99_ms: Some(12.0),
                checked: 19,
                correct: 18,
            })
            .collect(),
        windows: vec![
            TimelineWindow {
                name: SLOW.into(),
                kind: WindowKind::Fault,
                detail: "latency".into(),
                start: 2.0,
                stop: 4.0,
            },
            TimelineWindow {
                name: "surge".into(),
                kind: WindowKind::Surge,
                detail: "load".into(),
                start: 5.0,
                stop: 6.0,
            },
        ],
        recoveries: vec![
            Recovery {
                window: SLOW.into(),
                window_end: 4.0,
                recovered_at: Some(5.0),
                time_to_recover: Some(1.0),
            },
            Recovery {
                window: "surge".into(),
                window_end: 6.0,
                recovered_at: None,
                time_to_recover: None,
            },
        ],
    });
    record.verdict = Some(Verdict::Pass);
    record.elapsed = Some(Duration::from_secs(10));
    record
}

/// Two drift policies as the drift family reports them; `none` never recovers (NaN).
fn drift_record() -> RunRecord {
    let mut record = RunRecord::new(info());
    for (policy, retrains, recover) in [("none", 0.0, f64::NAN), ("drift-triggered", 3.0, 4.0)] {
        let points = vec![StepPoint {
            dial_value: Some(0.5),
            metrics: vec![
                metric("pre_drift_accuracy", Estimate::proportion(270, 300)),
                metric("worst_accuracy", Estimate::proportion(180, 300)),
                metric("final_accuracy", Estimate::proportion(260, 300)),
                metric("pre_drift_ece", Estimate::exact(0.031, 300)),
                metric("final_ece", Estimate::exact(0.052, 300)),
                metric("time_to_detect_steps", Estimate::exact(0.0, 30)),
                metric("false_alarms", Estimate::exact(1.0, 30)),
                metric("retrains", Estimate::exact(retrains, 30)),
                metric("retrain_wall_ms", Estimate::exact(12.5, 3)),
                metric("time_to_recover_steps", Estimate::exact(recover, 30)),
                metric("accuracy_lost", Estimate::exact(2.25, 30)),
            ],
            ..summary_point(vec![])
        }];
        record.steps.push(StepResult {
            info: StepInfo {
                id: policy.into(),
                kind: StepKind::Drift,
                description: format!("policy {policy}"),
                dial_name: Some("drift share".into()),
                dial_values: vec![0.5],
            },
            parameters: vec![],
            points,
            elapsed: Duration::from_secs(1),
        });
        record.drift_timelines.push(DriftTimeline {
            step_id: policy.into(),
            policy: policy.into(),
            drift_start: 2,
            drift_full: 3,
            pre_drift_accuracy: 0.9,
            tolerance: 0.02,
            points: (0..6)
                .map(|step| DriftPoint {
                    step,
                    accuracy: if step < 2 { 0.9 } else { 0.7 },
                    eval_rows: 300,
                    ..DriftPoint::default()
                })
                .collect(),
            events: vec![DriftEvent { step: 2, kind: "detected".into(), detail: HOSTILE.into() }],
        });
    }
    record.gates.push(GateOutcome {
        gate: Gate {
            id: "drift-triggered/retrains".into(),
            step_id: "drift-triggered".into(),
            metric: "retrains".into(),
            at: None,
            comparison: Comparison::AtMost,
            threshold: 2.0,
            bound: GateBound::Value,
        },
        observed: Some(Estimate::exact(3.0, 30)),
        observed_at: None,
        passed: false,
    });
    record.verdict = Some(Verdict::Fail);
    record.elapsed = Some(Duration::from_secs(3));
    record
}

/// The resolved `color` and `background` of an element with tag `tag` and classes `classes`
/// under `css`: rules with a compound selector of an optional tag and classes apply, the more
/// specific and then the later winning; an unset colour is the body's, an unset background
/// the body's (the element is transparent over the page).
fn resolved_colours(css: &str, tag: &str, classes: &[&str]) -> (String, String) {
    let mut colour: Option<((usize, usize), String)> = None;
    let mut background: Option<((usize, usize), String)> = None;
    let mut body = (String::new(), String::new());
    for rule in css.split('}') {
        let Some((selectors, declarations)) = rule.split_once('{') else { continue };
        for selector in selectors.split(',').map(str::trim) {
            let mut parts = selector.split('.');
            let selector_tag = parts.next().unwrap();
            let selector_classes: Vec<&str> = parts.collect();
            if selector.is_empty()
                || selector.contains([' ', '>', ':', '+', '~', '['])
                || !selector_tag.chars().all(|c| c.is_ascii_alphanumeric())
            {
                continue;
            }
            for declaration in declarations.split(';') {
                let Some((property, value)) = declaration.split_once(':') else { continue };
                let hex = value.split_whitespace().find(|v| v.starts_with('#'));
                let Some(hex) = hex else { continue };
                let property = property.trim();
                if selector == "body" {
                    match property {
                        "color" => body.0 = hex.to_owned(),
                        "background" | "background-color" => body.1 = hex.to_owned(),
                        _ => {}
                    }
                }
                let applies = (selector_tag.is_empty() || selector_tag == tag)
                    && !(selector_tag.is_empty() && selector_classes.is_empty())
                    && selector_classes.iter().all(|c| classes.contains(c));
                if !applies {
                    continue;
                }
                let specificity = (selector_classes.len(), usize::from(!selector_tag.is_empty()));
                let slot = match property {
                    "color" => &mut colour,
                    "background" | "background-color" => &mut background,
                    _ => continue,
                };
                if slot.as_ref().is_none_or(|(s, _)| specificity >= *s) {
                    *slot = Some((specificity, hex.to_owned()));
                }
            }
        }
    }
    let colour = colour.map_or(body.0.clone(), |(_, c)| c);
    let background = background.map_or(body.1.clone(), |(_, b)| b);
    (
        if colour.is_empty() { "#000".into() } else { colour },
        if background.is_empty() { "#fff".into() } else { background },
    )
}

/// The WCAG 2 contrast ratio of two `#rgb` or `#rrggbb` colours.
fn contrast(a: &str, b: &str) -> f64 {
    let luminance = |hex: &str| {
        let hex = hex.trim_start_matches('#');
        let hex: String =
            if hex.len() == 3 { hex.chars().flat_map(|c| [c, c]).collect() } else { hex.into() };
        let channel = |i: usize| {
            let c = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap()) / 255.0;
            if c <= 0.03928 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
        };
        0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4)
    };
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

fn style_of(page: &str) -> &str {
    let start = page.find("<style>").unwrap() + "<style>".len();
    &page[start..page.find("</style>").unwrap()]
}

/// Every element of `page` whose class list holds a status class: its tag and classes.
fn status_elements(page: &str) -> Vec<(String, Vec<String>)> {
    page.split('<')
        .skip(1)
        .filter_map(|tag| {
            let name: String = tag.chars().take_while(char::is_ascii_alphanumeric).collect();
            let classes = tag.split_once(" class=\"")?.1.split('"').next()?;
            let classes: Vec<String> = classes.split_whitespace().map(str::to_owned).collect();
            classes
                .iter()
                .any(|c| matches!(c.as_str(), "pass" | "fail" | "incomplete"))
                .then_some((name, classes))
        })
        .collect()
}

#[test]
fn html_status_text_contrasts_with_its_background() {
    let mut pages = vec![
        html::to_string(&record(), &html::HtmlConfig::default()),
        html::to_string(&system_record(), &html::HtmlConfig::default()),
        html::to_string(&RunRecord::new(info()), &html::HtmlConfig::default()),
    ];
    let mut passed = record();
    passed.verdict = Some(Verdict::Pass);
    pages.push(html::to_string(&passed, &html::HtmlConfig::default()));
    pages.push(html::to_string(&recsys_record(), &html::HtmlConfig::default()));
    let mut seen = std::collections::BTreeSet::new();
    for page in &pages {
        let css = style_of(page);
        for (tag, classes) in status_elements(page) {
            let classes: Vec<&str> = classes.iter().map(String::as_str).collect();
            let (colour, background) = resolved_colours(css, &tag, &classes);
            let ratio = contrast(&colour, &background);
            assert!(
                ratio >= 4.5,
                "<{tag} class=\"{}\">: {colour} on {background}, contrast {ratio:.2}",
                classes.join(" ")
            );
            seen.insert(format!("{tag}.{}", classes.join(".")));
        }
    }
    // The verdict badge in all three states, and the status text in tables.
    for expected in [
        "span.badge.pass",
        "span.badge.fail",
        "span.badge.incomplete",
        "td.fail",
        "span.pass",
        "span.fail",
    ] {
        assert!(seen.contains(expected), "{expected} not rendered: {seen:?}");
    }
    let css = style_of(&pages[0]);
    assert_eq!(
        resolved_colours(css, "span", &["badge", "pass"]),
        ("#fff".into(), "#1b7f3b".into())
    );
    assert_eq!(
        resolved_colours(css, "span", &["badge", "fail"]),
        ("#fff".into(), "#b3261e".into())
    );
}

#[test]
fn html_tables_scroll_instead_of_widening_the_page() {
    let css_rule = |css: &str, selector: &str| -> String {
        let start = css.find(&format!("\n{selector} {{")).unwrap_or_else(|| panic!("{selector}"));
        css[start..].split('}').next().unwrap().to_owned()
    };
    for record in [record(), system_record(), drift_record(), recsys_record()] {
        let page = html::to_string(&record, &html::HtmlConfig::default());
        let tables = page.matches("<table").count();
        assert!(tables >= 2, "{page}");
        assert_eq!(page.matches("<div class=\"scroll\"><table").count(), tables, "{page}");
        assert_eq!(page.matches("</table></div>").count(), tables);
        let css = style_of(&page);
        assert!(css_rule(css, ".scroll").contains("overflow-x: auto"), "{css}");
        assert!(css_rule(css, "body").contains("overflow-wrap: anywhere"), "{css}");
        assert!(css_rule(css, "svg.chart").contains("max-width: min(100%"), "{css}");
        assert!(css_rule(css, "img, svg").contains("max-width: 100%"), "{css}");
    }
}

#[test]
fn summary_shows_a_system_step_per_window_in_short_lines() {
    let text = summary::to_string(&system_record());
    for line in text.lines() {
        assert!(line.chars().count() <= 120, "{} chars: {line}\n{text}", line.chars().count());
    }
    let lines: Vec<&str> = text.lines().collect();
    let header = lines.iter().position(|l| l.trim_start().starts_with("window ")).unwrap();
    for column in ["requests", "p50 ms", "p99 ms", "error rate", "accuracy", "throughput"] {
        assert!(lines[header].contains(column), "{}", lines[header]);
    }
    let rows: Vec<&str> = lines[header + 1..header + 5].to_vec();
    let names: Vec<&str> =
        rows.iter().map(|row| row.trim_start().split("  ").next().unwrap()).collect();
    assert_eq!(names, ["whole run", "baseline", SLOW, "surge"], "{text}");
    // Counts as integers, the accuracy with its interval, the recovery per window.
    assert!(rows[0].contains("  280  "), "{text}");
    assert!(rows[0].contains("0.922 ["), "{text}");
    assert!(rows[0].contains("not recovered (worst)"), "{text}");
    assert!(rows[2].contains("  40  ") && rows[2].ends_with("1.000 s"), "{text}");
    assert!(rows[3].ends_with("not recovered"), "{text}");
    assert!(lines[header + 5].contains("p99.9 139.0 ms"), "{text}");
    // No metric is listed by its raw per-window name.
    assert!(!text.contains("p99_ms.surge") && !text.contains("error_rate."), "{text}");
}

#[test]
fn html_shows_a_system_step_per_window() {
    let page = html::to_string(&system_record(), &html::HtmlConfig::default());
    assert!(page.contains("<table class=\"windows\">"), "{page}");
    let table =
        page.split("<table class=\"windows\">").nth(1).unwrap().split("</table>").next().unwrap();
    let rows: Vec<&str> = table.lines().filter(|l| l.starts_with("<tr>")).collect();
    assert_eq!(rows.len(), 5, "header, whole run, baseline, slow, surge:\n{table}");
    for (row, name) in
        rows[1..].iter().zip(["whole run", "baseline", "slow &lt;b&gt;network&lt;/b&gt;", "surge"])
    {
        assert!(row.starts_with(&format!("<tr><th class=\"id\">{name}</th>")), "{row}");
    }
    for column in [
        "requests",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "p99.9 ms",
        "error rate",
        "accuracy",
        "time to recover",
    ] {
        assert!(rows[0].contains(&format!(">{column}</th>")), "{column}: {}", rows[0]);
    }
    // One column per metric: each window's p99 is in that column, named as in report.json.
    assert!(rows[4].contains("<td title=\"p99_ms.surge\">48.00"), "{}", rows[4]);
    assert!(rows[1].contains("<td title=\"requests\">280</td>"), "{}", rows[1]);
    assert!(rows[2].contains("<td title=\"n of error_rate.baseline\">40</td>"), "{}", rows[2]);
    assert!(rows[3].contains("fault: latency, 2.0–4.0&nbsp;s"), "{}", rows[3]);
    assert!(!page.contains("<th title=\"p99_ms.surge\">"), "no column per window metric");
    assert!(page.contains("System: system") && page.contains("Time to recover"));
    assert!(!page.contains("<b>"), "window names are escaped");
}

#[test]
fn counts_print_as_integers_and_never_stays_readable() {
    let record = drift_record();
    let text = summary::to_string(&record);
    assert!(!text.contains("3.000") && !text.contains("2.000"), "{text}");
    assert!(text.contains("retrains <= 2 "), "{text}");
    // One row per policy; a policy that never recovered keeps printing `n/a`.
    let row = |policy: &str| -> Vec<&str> {
        let line = text.lines().find(|l| l.starts_with(&format!("  {policy} "))).unwrap();
        line.split_whitespace().collect()
    };
    let header = text.lines().find(|l| l.starts_with("  policy ")).unwrap();
    assert!(header.contains("  retrains  recover  "), "{text}");
    assert_eq!(row("drift-triggered")[6..9], ["1", "3", "4"], "{text}");
    assert_eq!(row("none")[6..9], ["1", "0", "n/a"], "{text}");
    assert!(text.lines().all(|l| l.chars().count() <= 120), "{text}");
    assert!(text.contains("observed 3\n"), "{text}");
    let page = html::to_string(&record, &html::HtmlConfig::default());
    assert!(
        page.contains(
            "<td class=\"id\">drift-triggered</td><td>0</td><td>1</td><td>3</td><td>4</td>"
        ),
        "{page}"
    );
    assert!(
        page.contains(
            "<td class=\"id\">none</td><td>0</td><td>1</td><td>0</td><td>not within the run</td>"
        ),
        "{page}"
    );
    // Counts print as integers; the row's sample size (30 steps) is its `n` column, and a
    // cell with another names its own.
    assert!(page.contains("<td>0.5000</td><td>30</td>"), "{page}");
    assert!(page.contains("<td>1</td><td>3</td><td>12.50 <span class=\"n\">n=3</span>"), "{page}");
    assert!(!page.contains("3.000"), "{page}");
    let xml = junit::to_string(&record).unwrap();
    assert!(xml.contains("message=\"observed 3, required &lt;= 2\""), "{xml}");
    assert!(xml.contains("value=\"observed 3\""), "{xml}");
}

/// The events of a recommender run as the recommender family sends them: the policy `none`
/// first, then the references `baseline` and `random`, then the policy `circuit-breaker`; one
/// fault window (a hostile name) from minute 2 to 5 of a 10-minute run in 1-minute buckets.
/// Under the fault `none` answers nothing and never recovers; `circuit-breaker` falls back to
/// a popular list, trips, and recovers 30 s after the fault.
fn recsys_events() -> Vec<Event> {
    let mut events = vec![Event::RunStarted(info())];
    for (policy, reference) in
        [("none", false), ("baseline", true), ("random", true), ("circuit-breaker", false)]
    {
        let in_fault = |bucket: u32| !reference && (2..5).contains(&bucket);
        let points: Vec<RecsysPoint> = (0..10)
            .map(|bucket| {
                let (errors, fallbacks, clicks) = match (policy, in_fault(bucket)) {
                    ("none", true) => (100, 0, 0),
                    ("circuit-breaker", true) => (0, 100, 20),
                    ("random", _) => (0, 0, 10),
                    _ => (0, 0, 40),
                };
                let answered = errors == 0;
                RecsysPoint {
                    t: f64::from(bucket) * 60.0,
                    requests: 100,
                    errors,
                    cache_hits: if answered { 30 } else { 0 },
                    fallbacks,
                    impressions: if answered { 1000 } else { 0 },
                    clicks,
                    conversions: clicks / 10,
                    revenue: (clicks / 10) as f64 * 25.0,
                    ndcg_sum: if answered { 60.0 } else { 0.0 },
                    p50_ms: answered.then_some(12.0),
                    p99_ms: answered.then_some(if in_fault(bucket) { 95.0 } else { 40.0 }),
                    feature_reads: if answered { 500 } else { 0 },
                    freshness_lag_s: answered.then_some(if in_fault(bucket) { 200.0 } else { 5.0 }),
                }
            })
            .collect();
        let total = |value: fn(&RecsysPoint) -> u64| points.iter().map(value).sum::<u64>();
        let (requests, clicks, impressions) =
            (total(|p| p.requests), total(|p| p.clicks), total(|p| p.impressions));
        let windows = if reference {
            vec![]
        } else {
            vec![TimelineWindow {
                name: HOSTILE.into(),
                kind: WindowKind::Fault,
                detail: "feature store down".into(),
                start: 120.0,
                stop: 300.0,
            }]
        };
        let impacts = match policy {
            "none" => vec![FaultImpact {
                window: HOSTILE.into(),
                start: 120.0,
                stop: 300.0,
                ctr: Estimate::proportion(0, 0),
                baseline_ctr: Estimate::proportion(120, 3000),
                clicks_per_request_change: Estimate::proportion_difference(0, 300, 120, 300),
                conversions_per_request_change: Estimate::proportion_difference(0, 300, 12, 300),
                revenue_lost: 450.0,
                time_to_mitigate: None,
                rto: None,
                events_lost: 1234,
            }],
            "circuit-breaker" => vec![FaultImpact {
                window: HOSTILE.into(),
                start: 120.0,
                stop: 300.0,
                ctr: Estimate::proportion(60, 3000),
                baseline_ctr: Estimate::proportion(120, 3000),
                clicks_per_request_change: Estimate::proportion_difference(60, 300, 120, 300),
                conversions_per_request_change: Estimate::proportion_difference(6, 300, 12, 300),
                revenue_lost: 12_345.5,
                time_to_mitigate: Some(45.0),
                rto: Some(30.0),
                events_lost: 0,
            }],
            _ => vec![],
        };
        let breaker = if policy == "circuit-breaker" {
            vec![
                BreakerTransition {
                    t: 130.0,
                    from: "closed".into(),
                    to: "open".into(),
                    reason: "error rate > 0.5 & rising".into(),
                },
                BreakerTransition {
                    t: 330.0,
                    from: "open".into(),
                    to: "half-open".into(),
                    reason: "cool-down over".into(),
                },
            ]
        } else {
            vec![]
        };
        let info = StepInfo {
            id: policy.into(),
            kind: StepKind::Recommender,
            description: format!("fallback policy {policy}"),
            dial_name: None,
            dial_values: vec![],
        };
        let mut metrics = vec![
            metric("ctr", Estimate::proportion(clicks, impressions)),
            metric("conversion_rate", Estimate::proportion(clicks / 10, clicks)),
            metric("ndcg", Estimate::mean(&[0.55, 0.65, 0.6], Seed::new(4))),
            metric("cache_hit_rate", Estimate::proportion(total(|p| p.cache_hits), requests)),
            metric("fallback_share", Estimate::proportion(total(|p| p.fallbacks), requests)),
            metric("error_rate", Estimate::proportion(total(|p| p.errors), requests)),
            metric("revenue_per_hour", Estimate::exact((clicks / 10) as f64 * 25.0 * 6.0, 10)),
            metric("p99_ms", latency(40.0, requests - total(|p| p.errors))),
            metric("custom_recsys_metric", Estimate::exact(7.5, 10)),
        ];
        if !reference {
            metrics.push(metric(
                "rto_s",
                Estimate::exact(if policy == "none" { f64::NAN } else { 30.0 }, 1),
            ));
        }
        events.push(Event::StepStarted(info.clone()));
        events.push(Event::RecsysTimeline(RecsysTimeline {
            step_id: policy.into(),
            policy: policy.into(),
            reference,
            bucket_s: 60.0,
            points,
            windows,
            impacts,
            breaker,
            max_tolerable_downtime_s: (!reference).then_some(120.0),
        }));
        events.push(Event::StepFinished(StepResult {
            info,
            parameters: vec![("k".into(), "10".into())],
            points: vec![summary_point(metrics)],
            elapsed: Duration::from_secs(2),
        }));
    }
    events.push(Event::RunFinished { verdict: Verdict::Pass, elapsed: Duration::from_secs(8) });
    events
}

fn recsys_record() -> RunRecord {
    let mut collector = Collector::new();
    for event in recsys_events() {
        collector.event(&event);
    }
    collector.into_record().unwrap()
}

/// The rows of the HTML table of class `class`, header first.
fn table_rows<'a>(page: &'a str, class: &str) -> Vec<&'a str> {
    let table = page
        .split(&format!("<table class=\"{class}\">"))
        .nth(1)
        .unwrap_or_else(|| panic!("no table {class}:\n{page}"))
        .split("</table>")
        .next()
        .unwrap();
    table.lines().filter(|l| l.starts_with("<tr>")).collect()
}

#[test]
fn recsys_json_round_trips_through_the_schema_and_validates() {
    let record = recsys_record();
    assert_eq!(record.recsys_timelines.len(), 4);
    let text = json::to_string(&record);
    let report: stressor_schema::Report = serde_json::from_str(&text).unwrap();
    assert_eq!(report.format_version, stressor_schema::FORMAT_VERSION);
    assert_eq!(report.steps.len(), 4);
    assert!(report.steps.iter().all(|s| s.kind == stressor_schema::StepKind::Recommender));
    let baseline = report.steps[1].recsys_timeline.as_ref().unwrap();
    assert!(baseline.reference && baseline.windows.is_empty() && baseline.impacts.is_empty());
    assert_eq!(baseline.buckets.len(), 10);
    assert_eq!(baseline.buckets[3].clicks, 40);
    let none = report.steps[0].recsys_timeline.as_ref().unwrap();
    assert!(!none.reference);
    assert_eq!(none.policy, "none");
    assert_eq!(none.buckets[2].p99_ms, None, "nothing answered, no latency");
    assert_eq!(none.windows[0].name, HOSTILE);
    assert_eq!(none.max_tolerable_downtime_s, Some(120.0));
    let impact = &none.impacts[0];
    assert!(impact.ctr.value.is_nan() && impact.ctr.n == 0);
    let change = impact.clicks_per_request_change;
    assert_eq!(change.value, -0.4);
    let ci = change.ci.unwrap();
    assert_eq!(ci.method, stressor_schema::IntervalMethod::Newcombe);
    assert!(ci.lower < -0.4 && ci.upper > -0.4 && ci.upper < 0.0, "{ci:?}");
    assert_eq!((impact.time_to_mitigate_s, impact.rto_s, impact.events_lost), (None, None, 1234));
    let breaker = &report.steps[3].recsys_timeline.as_ref().unwrap().breaker;
    assert_eq!(breaker.len(), 2);
    assert_eq!((breaker[0].t, breaker[0].to.as_str()), (130.0, "open"));
    assert!(text.contains("\"kind\": \"recommender\""));
    assert!(text.contains("\"method\": \"newcombe\""));
    assert!(text.contains("\"time_to_mitigate_s\": null"));
    assert!(!text.contains("NaN"));

    let again = serde_json::to_string_pretty(&report).unwrap() + "\n";
    assert!(again == text, "JSON changed on a round trip through the schema types");
    let instance: serde_json::Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&committed_schema()).unwrap();
    let errors: Vec<String> = validator.iter_errors(&instance).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");

    // Reports of other families stay as they were: no recsys key at all.
    assert!(!json::to_string(&record_with(0)).contains("recsys_timeline"));
    assert!(!json::to_string(&drift_record()).contains("recsys_timeline"));
}

#[test]
fn html_compares_recommender_policies_references_first() {
    let page = html::to_string(&recsys_record(), &html::HtmlConfig::default());
    // The comparison comes once, before the first recommender step's own section.
    assert_eq!(page.matches("the policies compared</h2>").count(), 1);
    let comparison = page.find("the policies compared</h2>").unwrap();
    assert!(comparison < page.find("<h2>Recommender: none</h2>").unwrap());
    for id in ["none", "baseline", "random", "circuit-breaker"] {
        assert!(page.contains(&format!("<h2>Recommender: {id}</h2>")), "{id}");
    }

    let rows = table_rows(&page, "recsys-policies");
    assert_eq!(rows.len(), 5, "{rows:#?}");
    for column in [
        ">CTR<",
        ">conversion rate<",
        ">NDCG@10<",
        ">cache hit rate<",
        ">fallback share<",
        ">error rate<",
        ">revenue / hour<",
        ">p99 ms<",
    ] {
        assert!(rows[0].contains(column), "{column}: {}", rows[0]);
    }
    let names: Vec<&str> = rows[1..]
        .iter()
        .map(|row| row["<tr><th class=\"id\">".len()..].split('<').next().unwrap())
        .collect();
    assert_eq!(names, ["baseline", "random", "none", "circuit-breaker"]);
    assert!(rows[1].contains("<td>reference, no faults</td>") && rows[2].contains("reference"));
    assert!(rows[3].contains("<td>under faults</td>"), "{}", rows[3]);
    // The baseline's CTR, 400 of 10,000, with its Wilson interval and n; p99 with its own.
    assert!(rows[1].contains("<td>0.04000<br><span class=\"ci\">[0.0"), "{}", rows[1]);
    assert!(rows[1].contains("n=10000</span>"), "{}", rows[1]);
    assert!(rows[1].contains("<td>40.00<br><span class=\"ci\">[36.00, 44.00]</span>"));
    // `none` answered nothing for 3 minutes: an error rate of 0.300.
    assert!(rows[3].contains("<td>0.300<br>"), "{}", rows[3]);

    let impacts = table_rows(&page, "recsys-impacts");
    assert_eq!(impacts.len(), 3, "{impacts:#?}");
    let window = "<tr><th class=\"id\">&lt;script&gt;alert(1)&lt;/script&gt;</th>\
                  <td>2.0–5.0&nbsp;min</td>";
    assert!(impacts[1].starts_with(&format!("{window}<td class=\"id\">none</td><td>n/a ")));
    assert!(impacts[1].contains("<td>-0.4000<br><span class=\"ci\">[-0.4"), "{}", impacts[1]);
    assert!(impacts[1].contains("<td>450</td><td>never</td>"), "{}", impacts[1]);
    assert!(impacts[1].contains("<span class=\"fail\">not within the run</span>"));
    assert!(impacts[1].ends_with("<td>1234</td></tr>"), "{}", impacts[1]);
    assert!(impacts[2].contains("<td class=\"id\">circuit-breaker</td><td>0.02000<br>"));
    assert!(impacts[2].contains("<td>12,346</td><td>45.0 s</td><td>30.0 s</td><td>0</td>"));

    // Baseline revenue: 4 conversions × 25 a minute, 6,000 an hour.
    assert!(page.contains("<strong>6,000 per simulated hour</strong> (1,000 over 0.17"), "{page}");
    let business = table_rows(&page, "recsys-business");
    assert_eq!(business.len(), 3, "{business:#?}");
    // 450 lost is 4.5 minutes of baseline revenue; `none` never came back in the 5 minutes
    // after the fault, longer than the 2 tolerable.
    assert!(business[1].contains("<td>450</td><td>4.5 min</td>"), "{}", business[1]);
    assert!(business[1].contains("<td>not within the run</td><td>2.0 min</td>"));
    assert!(
        business[1]
            .contains("<span class=\"fail\">exceeded</span> (not recovered by the end of the run)")
    );
    assert!(business[2].contains("<td>30.0 s</td><td>2.0 min</td><td><span class=\"pass\">met"));

    // Six charts over simulated minutes, references dashed, the fault window shaded.
    let charts = page.split("<h3>Over simulated time</h3>").nth(1).unwrap();
    let charts = charts.split("<h3>").next().unwrap();
    assert_eq!(charts.matches("<svg class=\"chart\"").count(), 6, "{charts}");
    for title in ["CTR", "Conversion rate", "p99 request latency", "Cache hit rate"] {
        assert!(charts.contains(&format!("aria-label=\"{title}")), "{title}");
    }
    assert!(charts.contains("Fallback share") && charts.contains("Freshness lag"));
    assert_eq!(charts.matches("simulated minutes</text>").count(), 6);
    // 4 runs × 6 charts, and `none`'s line breaks where it answered nothing: in the CTR,
    // conversion, p99 and freshness charts.
    assert_eq!(charts.matches("<polyline").count(), 24 + 4, "{charts}");
    assert!(charts.contains("points=\"60,30 122.2,30\"><title>"), "{charts}");
    assert_eq!(charts.matches("stroke-width=\"2\" stroke-dasharray").count(), 12, "references");
    assert_eq!(charts.matches("<rect ").count(), 6, "the fault window on every chart");
    assert!(charts.contains("<title>&lt;script&gt;alert(1)&lt;/script&gt; (feature store down)"));
    assert!(charts.contains("<span class=\"key\">") && charts.contains("baseline (reference)"));
    assert!(!charts.contains("<circle"), "no marker per bucket");

    let breaker = table_rows(&page, "recsys-breaker");
    assert_eq!(breaker.len(), 3);
    assert_eq!(
        breaker[1],
        "<tr><td>2.17 min</td><td>closed → open</td><td>error rate &gt; 0.5 &amp; rising</td></tr>"
    );
    assert!(page.contains("<code>circuit-breaker</code>: 2 state changes."));

    // Each step's own section lists every metric, new ones too.
    assert!(page.contains("<th title=\"custom_recsys_metric\">custom_recsys_metric</th>"));
    assert!(!page.contains("<script") && !page.contains(HOSTILE));
}

#[test]
fn html_merges_long_recommender_timelines_for_charts() {
    let mut record = recsys_record();
    for timeline in &mut record.recsys_timelines {
        let first = timeline.points[0];
        timeline.points =
            (0..1000).map(|i| RecsysPoint { t: f64::from(i) * 60.0, ..first }).collect();
    }
    let page = html::to_string(&record, &html::HtmlConfig::default());
    assert!(page.contains("every 5 buckets merged into one point"), "{page}");
    let polyline = page.split("<polyline").nth(1).unwrap().split("/>").next().unwrap();
    let points = polyline.split("points=\"").nth(1).unwrap().trim_end_matches('"');
    assert_eq!(points.split(' ').count(), 200, "{polyline}");
    assert!(page.len() < 400_000, "{} bytes", page.len());
}

#[test]
fn summary_shows_recommender_policies_and_fault_impacts() {
    let text = summary::to_string(&recsys_record());
    for line in text.lines() {
        assert!(line.chars().count() <= 120, "{} chars: {line}\n{text}", line.chars().count());
    }
    let lines: Vec<&str> = text.lines().collect();
    let header = lines.iter().position(|l| l.starts_with("  policy ")).unwrap();
    for column in ["run", "CTR", "conversion", "revenue/h", "p99 ms", "worst RTO"] {
        assert!(lines[header].contains(column), "{}", lines[header]);
    }
    let row = |i: usize| lines[header + i].split_whitespace().collect::<Vec<_>>();
    assert_eq!(row(1), ["baseline", "reference", "0.04000", "0.100", "6,000", "40.00", "-"]);
    assert_eq!(row(2)[..2], ["random", "reference"]);
    assert_eq!(row(3)[..2], ["none", "faults"]);
    assert_eq!(row(3)[6..], ["not", "recovered"], "{text}");
    assert_eq!(row(4)[..2], ["circuit-breaker", "faults"]);
    assert_eq!(row(4)[6..], ["30.0", "s"], "{text}");
    assert!(text.contains("  baseline revenue 6,000 per simulated hour (1,000 over 0.17 h)"));

    let impacts = lines.iter().position(|l| l.starts_with("  window ")).unwrap();
    assert!(lines[impacts].contains("clicks/request change"), "{}", lines[impacts]);
    let none = lines[impacts + 1];
    assert!(none.starts_with("  <script>alert(1)</script>  none "), "{text}");
    assert!(none.contains("  -0.400 [-0.456, -0.345]  "), "{none}");
    assert!(none.contains("  450        never      not recovered  1234"), "{none}");
    let breaker = lines[impacts + 2];
    assert!(breaker.contains("  circuit-breaker  -0.200 [-0.270, -0.127]  "), "{breaker}");
    assert!(breaker.ends_with("  12,346     45.0 s     30.0 s         0"), "{breaker}");
    assert!(lines[impacts + 3].contains("Newcombe"), "{text}");
    // Every run has its heading.
    assert!(text.contains("step random (fallback policy random)\n"), "{text}");
}
