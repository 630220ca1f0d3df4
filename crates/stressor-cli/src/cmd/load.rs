//! `stressor load`: loads an HTTP endpoint at a rate or with N users, with gates.

use std::io::Write as _;

use stressor_schema::ExitCode as exit_code;

use crate::args::LoadArgs;
use crate::output::{print_error_chain, say};

/// `stressor load`: runs the profile and prints the result; gates decide the exit code.
pub(crate) fn run(args: &LoadArgs) -> i32 {
    use stressor_load::{LoadConfig, Profile};
    let gates: Vec<LoadGate> = match args.gate.iter().map(|g| parse_load_gate(g)).collect() {
        Ok(gates) => gates,
        Err(message) => {
            say!("error: {message}");
            return exit_code::USAGE;
        }
    };
    let profile = match (args.users, args.rate, args.stage.is_empty()) {
        (Some(users), _, _) => Profile::Closed { users, duration: args.duration },
        (None, Some(rate), _) if rate.is_finite() && rate > 0.0 => {
            Profile::constant(rate, args.duration)
        }
        (None, Some(rate), _) => {
            say!("error: --rate must be a positive number of requests per second, got {rate}");
            return exit_code::USAGE;
        }
        (None, None, false) => Profile::Open { stages: args.stage.clone() },
        (None, None, true) => {
            say!(
                "error: give --rate (open model), --stage (open model, repeatable) or --users (closed model)"
            );
            return exit_code::USAGE;
        }
    };
    let mut headers = Vec::new();
    for header in &args.header {
        let parsed = header.split_once(':').and_then(|(name, value)| {
            let name = hyper_header_name(name.trim())?;
            let value = hyper_header_value(value.trim())?;
            Some((name, value))
        });
        match parsed {
            Some(pair) => headers.push(pair),
            None => {
                say!("error: header `{header}` is not `Name: value`");
                return exit_code::USAGE;
            }
        }
    }
    let (bodies, labels) = match (&args.body, args.infer_samples) {
        (Some(path), _) => match std::fs::read(path) {
            Ok(bytes) => (vec![bytes.into()], Vec::new()),
            Err(error) => {
                say!("error: cannot read body file {}: {error}", path.display());
                return exit_code::USAGE;
            }
        },
        (None, Some(n)) => {
            let split = stressor_data::fashion_mnist::Split::Test;
            match stressor_data::fashion_mnist::load(split, Some(n.max(1))) {
                Ok(data) => (stressor_load::oip::infer_bodies(&data), data.labels.clone()),
                Err(error) => {
                    print_error_chain(&error);
                    return exit_code::BUG;
                }
            }
        }
        (None, None) if !args.chat.is_empty() => {
            let options = stressor_model::http::ChatOptions::default();
            let bodies = args
                .chat
                .iter()
                .map(|prompt| {
                    let messages = [stressor_model::http::ChatMessage::user(prompt.clone())];
                    stressor_model::http::chat_request(&args.chat_model, &messages, &options)
                })
                .collect();
            (bodies, Vec::new())
        }
        (None, None) => (Vec::new(), Vec::new()),
    };
    let chat = !args.chat.is_empty();
    let method = match &args.method {
        Some(method) => match method.to_ascii_uppercase().parse::<stressor_load::Method>() {
            Ok(method) => method,
            Err(_) => {
                say!("error: `{method}` is not an HTTP method");
                return exit_code::USAGE;
            }
        },
        None if bodies.is_empty() => stressor_load::Method::GET,
        None => stressor_load::Method::POST,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            say!("error: cannot start the async runtime: {error}");
            return exit_code::BUG;
        }
    };
    let result = runtime.block_on(async {
        let target = stressor_load::Target::resolve(&args.url, args.allow_host.as_deref()).await?;
        let mut config = LoadConfig::new(target, profile);
        config.method = method;
        config.headers = headers;
        config.bodies = bodies;
        config.connections = args.connections;
        config.timeout = args.timeout;
        say!(
            "stressor: loading {} for {:.1} s ({} connections{})",
            args.url,
            config.profile.duration().as_secs_f64(),
            config.connections,
            if labels.is_empty() {
                String::new()
            } else {
                format!(", checking {} labels", labels.len())
            }
        );
        let metrics = match args.metrics_addr {
            Some(addr) => {
                let live = std::sync::Arc::new(stressor_load::LiveStats::default());
                config.live = Some(std::sync::Arc::clone(&live));
                let render = std::sync::Arc::new(move || live.to_prometheus());
                match stressor_serve::MetricsServer::bind(addr, render).await {
                    Ok(server) => {
                        say!("stressor: metrics on http://{}/metrics", server.local_addr());
                        Some(server)
                    }
                    Err(error) => {
                        print_error_chain(&error);
                        return Err(stressor_load::LoadError::Config(
                            "the metrics endpoint could not start".into(),
                        ));
                    }
                }
            }
            None => None,
        };
        let check: std::sync::Arc<stressor_load::ResponseCheck> = if chat {
            std::sync::Arc::new(|_, body: &[u8]| {
                stressor_model::http::parse_chat_reply(body)
                    .map(|_| stressor_load::Checked::default())
                    .map_err(|_| stressor_load::UnreadableBody)
            })
        } else if labels.is_empty() {
            std::sync::Arc::new(|_, _: &[u8]| Ok(stressor_load::Checked::default()))
        } else {
            std::sync::Arc::new(move |i, body: &[u8]| {
                stressor_load::oip::check_label(&labels, i, body).map(stressor_load::Checked::from)
            })
        };
        let report = stressor_load::run(config, check).await;
        if let Some(metrics) = metrics {
            let _ = metrics.shutdown().await;
        }
        report
    });
    let report = match result {
        Ok(report) => report,
        Err(error) => {
            print_error_chain(&error);
            return exit_code::USAGE;
        }
    };
    let outcomes: Vec<(&LoadGate, Option<f64>, bool)> = gates
        .iter()
        .map(|gate| {
            let observed = load_metric(&report, &gate.metric);
            let passed = observed.is_some_and(|v| {
                if gate.at_most { v <= gate.threshold } else { v >= gate.threshold }
            });
            (gate, observed, passed)
        })
        .collect();
    let mut code = if outcomes.iter().all(|(_, _, passed)| *passed) {
        exit_code::PASS
    } else {
        exit_code::GATES_FAILED
    };
    if let Some(path) = &args.junit {
        let xml = load_junit(&args.url, &report, &outcomes);
        if let Err(error) = xml.and_then(|xml| {
            std::fs::write(path, xml).map_err(|e| format!("cannot write {}: {e}", path.display()))
        }) {
            say!("error: {error}");
            code = exit_code::USAGE;
        }
    }
    let mut stdout = std::io::stdout().lock();
    let text = if args.json {
        load_json(&report, &outcomes).to_string() + "\n"
    } else {
        load_text(&report, &outcomes)
    };
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
    code
}

/// A load gate from the command line: `metric<value` or `metric>value`.
struct LoadGate {
    text: String,
    metric: String,
    at_most: bool,
    threshold: f64,
}

const LOAD_METRICS: &[&str] =
    &["p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "error_rate", "throughput", "accuracy"];

fn parse_load_gate(text: &str) -> Result<LoadGate, String> {
    let (metric, at_most, value) = if let Some((m, v)) = text.split_once("<=") {
        (m, true, v)
    } else if let Some((m, v)) = text.split_once(">=") {
        (m, false, v)
    } else if let Some((m, v)) = text.split_once('<') {
        (m, true, v)
    } else if let Some((m, v)) = text.split_once('>') {
        (m, false, v)
    } else {
        return Err(format!("gate `{text}` is not METRIC<VALUE or METRIC>VALUE"));
    };
    let metric = metric.trim().to_string();
    if !LOAD_METRICS.contains(&metric.as_str()) {
        return Err(format!(
            "gate `{text}`: unknown metric `{metric}` (known: {})",
            LOAD_METRICS.join(", ")
        ));
    }
    let threshold: f64 = value
        .trim()
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| format!("gate `{text}`: `{}` is not a number", value.trim()))?;
    Ok(LoadGate { text: text.to_string(), metric, at_most, threshold })
}

fn load_metric(report: &stressor_load::LoadReport, metric: &str) -> Option<f64> {
    match metric {
        "p50_ms" => report.latency_ms(0.5),
        "p90_ms" => report.latency_ms(0.9),
        "p99_ms" => report.latency_ms(0.99),
        "p999_ms" => report.latency_ms(0.999),
        "max_ms" => report.latency_ms(1.0),
        "error_rate" => Some(report.error_rate()),
        "throughput" => Some(report.throughput()),
        "accuracy" => (report.checked > 0).then(|| report.correct as f64 / report.checked as f64),
        _ => None,
    }
}

/// The load gates as JUnit XML: one test suite named after the URL, one case per gate.
fn load_junit(
    url: &str,
    report: &stressor_load::LoadReport,
    gates: &[(&LoadGate, Option<f64>, bool)],
) -> Result<String, String> {
    use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new(format!("load {url}"));
    suite.add_properties([
        Property::new("requests", report.requests.to_string()),
        Property::new("error_rate", format!("{:.6}", report.error_rate())),
    ]);
    suite.set_time(report.elapsed);
    for (gate, observed, passed) in gates {
        let observed_text = observed.map_or_else(|| "nothing".to_string(), |v| format!("{v:.6}"));
        let status = if *passed {
            TestCaseStatus::success()
        } else {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status
                .set_message(format!("{} failed: observed {observed_text}", gate.text))
                .set_type("gate");
            status
        };
        let mut case = TestCase::new(gate.text.as_str(), status);
        case.set_classname("load.gates");
        case.add_property(Property::new("observed", observed_text));
        suite.add_test_case(case);
    }
    let mut junit = Report::new("stressor");
    junit.set_time(report.elapsed);
    junit.add_test_suite(suite);
    junit.to_string().map_err(|error| format!("cannot render JUnit XML: {error}"))
}

fn hyper_header_name(name: &str) -> Option<stressor_load::HeaderName> {
    stressor_load::HeaderName::from_bytes(name.as_bytes()).ok()
}

fn hyper_header_value(value: &str) -> Option<stressor_load::HeaderValue> {
    stressor_load::HeaderValue::from_str(value).ok()
}

fn load_text(
    report: &stressor_load::LoadReport,
    gates: &[(&LoadGate, Option<f64>, bool)],
) -> String {
    let ms = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.2} ms"));
    let mut text = format!(
        "requests {}  ok {}  errors {} ({:.2} %)  throughput {:.1}/s  elapsed {:.2} s\n",
        report.requests,
        report.ok,
        report.n_errors(),
        100.0 * report.error_rate(),
        report.throughput(),
        report.elapsed.as_secs_f64()
    );
    text.push_str("latency from intended start (coordinated omission corrected)\n");
    for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999), ("max", 1.0)] {
        text.push_str(&format!(
            "  {name:<6} {:>12}   (from send: {})\n",
            ms(report.latency_ms(q)),
            ms(report.service_latency_ms(q))
        ));
    }
    if report.checked > 0 {
        text.push_str(&format!(
            "accuracy {:.4} ({} of {} answers checked)\n",
            report.correct as f64 / report.checked as f64,
            report.correct,
            report.checked
        ));
    }
    if !report.errors.is_empty() {
        let kinds: Vec<String> =
            report.errors.iter().map(|(kind, n)| format!("{} {n}", kind.name())).collect();
        text.push_str(&format!("errors   {}\n", kinds.join("  ")));
    }
    for (gate, observed, passed) in gates {
        text.push_str(&format!(
            "  {}  {}   observed {}\n",
            if *passed { "PASS" } else { "FAIL" },
            gate.text,
            observed.map_or_else(|| "nothing".to_string(), |v| format!("{v:.4}"))
        ));
    }
    text
}

fn load_json(
    report: &stressor_load::LoadReport,
    gates: &[(&LoadGate, Option<f64>, bool)],
) -> serde_json::Value {
    use serde_json::json;
    let seconds = |v: Option<f64>| v.map(|ms| ms / 1000.0);
    let percentiles = |corrected: bool| {
        let mut map = serde_json::Map::new();
        for (name, q) in [
            ("p10", 0.1),
            ("p25", 0.25),
            ("p50", 0.5),
            ("p75", 0.75),
            ("p90", 0.9),
            ("p95", 0.95),
            ("p99", 0.99),
            ("p99.9", 0.999),
            ("p99.99", 0.9999),
        ] {
            let v = if corrected { report.latency_ms(q) } else { report.service_latency_ms(q) };
            map.insert(name.to_string(), json!(seconds(v)));
        }
        serde_json::Value::Object(map)
    };
    let errors: serde_json::Map<String, serde_json::Value> =
        report.errors.iter().map(|(kind, n)| (kind.name(), json!(n))).collect();
    let timeline: Vec<serde_json::Value> = report
        .timeline
        .iter()
        .enumerate()
        .map(|(second, s)| {
            let p99 =
                (!s.latency.is_empty()).then(|| s.latency.value_at_quantile(0.99) as f64 / 1e6);
            json!({"second": second, "requests": s.requests, "ok": s.ok, "errors": s.errors,
                   "checked": s.checked, "correct": s.correct, "p99": p99})
        })
        .collect();
    json!({
        "summary": {
            "successRate": if report.requests == 0 { 0.0 } else { report.ok as f64 / report.requests as f64 },
            "total": report.elapsed.as_secs_f64(),
            "slowest": seconds(report.latency_ms(1.0)),
            "fastest": (!report.latency.is_empty()).then(|| report.latency.min() as f64 / 1e6),
            "average": (!report.latency.is_empty()).then(|| report.latency.mean() / 1e6),
            "requestsPerSec": report.throughput(),
            "totalData": report.bytes_received,
            "requests": report.requests,
            "errorRate": report.error_rate(),
        },
        "latencyPercentiles": percentiles(true),
        "uncorrectedLatencyPercentiles": percentiles(false),
        "errorDistribution": errors,
        "accuracy": (report.checked > 0).then(|| json!({"checked": report.checked, "correct": report.correct, "value": report.correct as f64 / report.checked as f64})),
        "timeline": timeline,
        "gates": gates.iter().map(|(gate, observed, passed)| json!({"gate": gate.text, "observed": observed, "passed": passed})).collect::<Vec<_>>(),
    })
}
