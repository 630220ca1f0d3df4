//! End-to-end tests of the `stressor` binary: exit codes, report files, error messages.
//!
//! The runs use the real built-in CNN, trained once and cached in a directory shared by all
//! tests of this binary (under `CARGO_TARGET_TMPDIR`), on small samples of the embedded data.
#![expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]

use std::path::Path;
use std::process::{Command, Output};

use crate::{TRAIN_ONCE, cache_dir, quick_member, run_command, scratch, stressor, text};

pub(crate) fn run_scenario(dir: &Path, scenario: &str, extra: &[&str]) -> Output {
    let path = dir.join("scenario.toml");
    std::fs::write(&path, scenario).unwrap();
    let _guard = TRAIN_ONCE.lock().unwrap_or_else(|e| e.into_inner());
    run_command(dir, &path).args(extra).output().unwrap()
}

const SMALL: &str = r#"
name = "small"
seed = 3
[target]
kind = "builtin"
model = "fashion-cnn"
[data]
source = "builtin"
samples = 60
[steady_state]
gates = [{ metric = "clean_accuracy", min = 0.5 }]
[[steps]]
id = "pgd"
kind = "attack"
attack = "pgd"
steps = 5
sweep = { epsilon = ["2/255", "8/255"] }
gates = [{ metric = "robust_accuracy", at = "8/255", max = 0.9 }]
[[steps]]
id = "square"
kind = "attack"
attack = "square"
queries = 50
sweep = { epsilon = ["8/255"] }
[[steps]]
id = "noise"
kind = "corruption"
corruption = ["gaussian-noise", "fog"]
sweep = { severity = [1, 5] }
[[steps]]
id = "warm"
kind = "lighting"
lighting = "exposure"
sweep = { ev = [-2, 0] }
gates = [{ metric = "fallback_rate", at = 0, max = 0.95 }]
"#;

#[test]
fn run_writes_all_reports_and_passes() {
    let dir = scratch("pass");
    let output = run_scenario(&dir, SMALL, &[]);
    let stdout = text(&output.stdout);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("seed 3"), "the seed is printed: {stderr}");
    assert!(stdout.contains("PASS"), "{stdout}");
    let out = dir.join("out");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert!(report["format_version"].is_string(), "{report}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("data:image/png;base64,"));
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains("<testcase") && junit.contains("pgd/robust_accuracy@"), "{junit}");

    // Corruption and lighting steps, calibration everywhere, the corruption summary.
    let steps = report["steps"].as_array().unwrap();
    let kinds: Vec<&str> = steps.iter().map(|s| s["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["steady_state", "attack", "attack", "corruption", "corruption", "lighting", "summary"]
    );
    assert_eq!(steps[3]["id"], "noise.gaussian-noise");
    assert_eq!(steps[3]["dial"]["name"], "severity");
    for step in &steps[..6] {
        for point in step["points"].as_array().unwrap() {
            for metric in ["ece", "brier", "nll", "fallback_rate", "conformal_coverage"] {
                assert!(point["metrics"][metric]["n"].as_u64() == Some(60), "{metric} in {step}");
            }
            assert!(point["calibration"]["reliability"].is_array(), "{step}");
        }
    }
    let fog = &steps[4]["points"];
    let accuracy = |i: usize| fog[i]["metrics"]["accuracy"]["value"].as_f64().unwrap();
    assert!(accuracy(1) < accuracy(0), "fog at severity 5 hurts more than at 1: {fog}");
    let mce = steps[6]["points"][0]["metrics"]["mean_corruption_error"]["value"].as_f64().unwrap();
    assert!(mce > 1.0, "corruptions add errors: mCE {mce}");
    assert!(html.contains("reliability diagram") && html.contains("Corruption: noise.fog"));
    assert!(
        stdout.contains("corruption-summary (") && stdout.contains("  mean_corruption_error "),
        "{stdout}"
    );
}

#[test]
fn an_exported_onnx_model_gives_the_builtin_results() {
    // The built-in model, trained (or loaded from the cache) by a first run, exported to ONNX.
    let builtin = scratch("onnx-builtin");
    let scenario = SMALL.split("[[steps]]\nid = \"square\"").next().unwrap().to_string();
    assert_eq!(run_scenario(&builtin, &scenario, &[]).status.code(), Some(0));
    let weights = std::fs::read_dir(cache_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("seed1.safetensors"))
        .expect("the first run cached the model");
    let model = stressor_model::builtin::FashionCnn::load(&weights).unwrap();
    let dir = scratch("onnx");
    let onnx = dir.join("fashion-cnn.onnx");
    std::fs::write(&onnx, stressor_onnx::export_fashion_cnn(&model).unwrap()).unwrap();

    let scenario = scenario.replace(
        "kind = \"builtin\"\nmodel = \"fashion-cnn\"",
        "kind = \"onnx\"\npath = \"fashion-cnn.onnx\"",
    );
    let output = run_scenario(&dir, &scenario, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let read = |dir: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join("out/report.json")).unwrap())
            .unwrap()
    };
    let (a, b) = (read(&builtin), read(&dir));
    assert_eq!(b["target"]["kind"], "onnx");
    let value = |r: &serde_json::Value, step: usize, point: usize, metric: &str| {
        r["steps"][step]["points"][point]["metrics"][metric]["value"].as_f64().unwrap()
    };
    assert_eq!(value(&a, 0, 0, "clean_accuracy"), value(&b, 0, 0, "clean_accuracy"));

    // The model as its own corruption baseline: every corruption error is exactly 1.
    let own = scratch("own-baseline");
    let scenario = format!(
        "{}\n[baseline]\nkind = \"safetensors\"\nmodel = \"fashion-cnn\"\npath = {:?}\n\
         [[steps]]\nid = \"c\"\nkind = \"corruption\"\ncorruption = [\"fog\", \"contrast\"]\n\
         sweep = {{ severity = [4, 5] }}\n",
        SMALL.split("[[steps]]").next().unwrap(),
        weights.display().to_string()
    );
    let output = run_scenario(&own, &scenario, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let report = read(&own);
    let summary = &report["steps"][3];
    assert_eq!(summary["id"], "corruption-summary", "{report}");
    for metric in ["mean_corruption_error", "relative_mean_corruption_error"] {
        let value = summary["points"][0]["metrics"][metric]["value"].as_f64().unwrap();
        assert!((value - 1.0).abs() < 1e-12, "{metric} = {value}");
    }
    // White-box PGD through the ONNX graph's gradients: the same attack, the same result up
    // to float rounding (one sample of 60 may flip).
    for point in 0..2 {
        let (ra, rb) =
            (value(&a, 1, point, "robust_accuracy"), value(&b, 1, point, "robust_accuracy"));
        assert!((ra - rb).abs() <= 1.0 / 60.0 + 1e-9, "builtin {ra} vs onnx {rb}");
    }
}

#[test]
fn a_failed_gate_exits_1_and_keeps_the_reports() {
    let dir = scratch("fail");
    let scenario = SMALL.replace("max = 0.9", "min = 0.99");
    let output = run_scenario(&dir, &scenario, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("FAIL"));
    let junit = std::fs::read_to_string(dir.join("out/junit.xml")).unwrap();
    assert!(junit.contains("<failure"), "{junit}");
}

#[test]
fn same_seed_same_report() {
    let redact = |dir: &Path| {
        let mut report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("out/report.json")).unwrap())
                .unwrap();
        redact_timing(&mut report);
        report
    };
    let a = scratch("seed-a");
    let b = scratch("seed-b");
    assert_eq!(run_scenario(&a, SMALL, &[]).status.code(), Some(0));
    assert_eq!(run_scenario(&b, SMALL, &[]).status.code(), Some(0));
    let (ra, rb) = (redact(&a), redact(&b));
    // The scenario path differs between the two directories; everything else must not.
    let strip = |mut v: serde_json::Value| {
        v["run"]["scenario_source"] = serde_json::Value::Null;
        v
    };
    assert_eq!(strip(ra), strip(rb));
}

fn redact_timing(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key.ends_with("_ms") || key == "started_at" {
                    *v = serde_json::Value::Null;
                } else {
                    redact_timing(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_timing),
        _ => {}
    }
}

#[test]
fn check_prints_the_plan() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let output = stressor()
        .arg("check")
        .arg(root.join("scenarios/vision-adversarial.toml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("step pgd-linf") && stdout.contains("ok: the scenario is valid"),
        "{stdout}"
    );
}

#[test]
fn check_exits_3_for_a_model_with_operators_stressor_cannot_run() {
    let dir = scratch("check-unsupported");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../stressor-onnx/tests/fixtures");
    let scenario = |model: &str| {
        SMALL.replace(
            "kind = \"builtin\"\nmodel = \"fashion-cnn\"",
            &format!("kind = \"onnx\"\npath = \"{}\"", fixtures.join(model).display()),
        )
    };
    let path = dir.join("unsupported.toml");
    std::fs::write(&path, scenario("unsupported.onnx")).unwrap();
    let output = stressor().arg("check").arg(&path).output().unwrap();
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(3), "{stdout}{stderr}");
    assert!(stdout.contains("LpNormalization not supported (node `my_norm`)"), "{stdout}");
    assert!(stderr.contains("operators stressor cannot run"), "{stderr}");
    // A model it can run passes.
    std::fs::write(&path, scenario("small_cnn.onnx")).unwrap();
    let output = stressor().arg("check").arg(&path).output().unwrap();
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}{}", text(&output.stderr));
    assert!(stdout.contains("ops") && !stdout.contains("warning:"), "{stdout}");
}

#[test]
fn a_bad_scenario_exits_2_naming_file_line_and_key() {
    let dir = scratch("bad");
    let path = dir.join("bad.toml");
    std::fs::write(&path, SMALL.replace("attack = \"square\"", "attack = \"sqaure\"")).unwrap();
    let output = stressor().arg("check").arg(&path).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("bad.toml:22:") && stderr.contains("steps.square.attack"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
    let output =
        stressor().arg("run").arg(&path).arg("--out").arg(dir.join("out")).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(!dir.join("out").exists(), "no report for a run that never started");
}

#[test]
fn a_missing_model_file_exits_3() {
    let dir = scratch("missing-model");
    let scenario = SMALL.replace(
        "kind = \"builtin\"\nmodel",
        "kind = \"safetensors\"\npath = \"nope.safetensors\"\nmodel",
    );
    let output = run_scenario(&dir, &scenario, &[]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("nope.safetensors"), "{}", text(&output.stderr));
}

#[test]
fn truncated_data_exits_3_naming_the_file() {
    let dir = scratch("truncated");
    // A valid IDX header promising 10 images of 28x28, with only 100 bytes of pixels.
    let mut images = vec![0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 28, 0, 0, 0, 28];
    images.extend(std::iter::repeat_n(0u8, 100));
    std::fs::write(dir.join("images.idx"), images).unwrap();
    let mut labels = vec![0, 0, 8, 1, 0, 0, 0, 10];
    labels.extend(0..10u8);
    std::fs::write(dir.join("labels.idx"), labels).unwrap();
    let scenario = SMALL.replace(
        "source = \"builtin\"\nsamples = 60",
        "source = \"idx\"\nimages = \"images.idx\"\nlabels = \"labels.idx\"",
    );
    let output = run_scenario(&dir, &scenario, &[]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("images.idx"), "{}", text(&output.stderr));
}

#[test]
fn wrong_shape_data_exits_3() {
    let dir = scratch("wrong-shape");
    let mut images = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 8, 0, 0, 0, 8];
    images.extend(std::iter::repeat_n(7u8, 128));
    std::fs::write(dir.join("images.idx"), images).unwrap();
    std::fs::write(dir.join("labels.idx"), [0, 0, 8, 1, 0, 0, 0, 2, 1, 2]).unwrap();
    let scenario = SMALL.replace(
        "source = \"builtin\"\nsamples = 60",
        "source = \"idx\"\nimages = \"images.idx\"\nlabels = \"labels.idx\"",
    );
    let output = run_scenario(&dir, &scenario, &[]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("shape"), "{}", text(&output.stderr));
}

/// The JSON report of a run in `dir`.
pub(crate) fn read_report(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("out/report.json")).unwrap()).unwrap()
}

/// Metric `name` of point `point` of the step with id `step`.
pub(crate) fn step_metric(report: &serde_json::Value, step: &str, point: usize, name: &str) -> f64 {
    let steps = report["steps"].as_array().unwrap();
    let step = steps.iter().find(|s| s["id"] == step).unwrap_or_else(|| panic!("no step {step}"));
    step["points"][point]["metrics"][name]["value"]
        .as_f64()
        .unwrap_or_else(|| panic!("no {name} at point {point} of {step}"))
}

/// The mitigations of `scenarios/vision.toml` as its browser test lightens them (same training
/// keys, so the two tests share the cached retrained models), measured against this file's
/// steps.
const MITIGATED: &str = r#"
[[mitigations]]
id = "pgd-at"
kind = "adversarial-training"
epsilon = 0.1
pgd_steps = 3
epochs = 1
train_samples = 1000
measure = ["pgd", "noise"]
gates = [{ metric = "after:clean_accuracy", min = 0.3 }]

[[mitigations]]
id = "noise-aug"
kind = "augmented-training"
corruptions = ["gaussian-noise", "shot-noise", "impulse-noise", "gaussian-blur", "defocus-blur", "contrast"]
epochs = 1
train_samples = 1000
measure = ["noise"]
"#;

#[test]
fn mitigations_are_trained_and_compared_before_and_after() {
    let dir = scratch("mitigation");
    let scenario = format!(
        "{}{MITIGATED}",
        SMALL.replace(
            "sweep = { epsilon = [\"2/255\", \"8/255\"] }",
            "sweep = { epsilon = [\"2/255\", \"8/255\", 0.1] }"
        )
    );
    let output = run_scenario(&dir, &scenario, &[]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{}", text(&output.stderr));
    assert!(
        stdout.contains("pgd-at (adversarial-training") && stdout.contains("delta"),
        "{stdout}"
    );
    let report = read_report(&dir);
    let ids: Vec<&str> =
        report["steps"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    let tail: Vec<&str> =
        ids.iter().copied().skip_while(|id| *id != "corruption-summary").collect();
    assert_eq!(
        tail,
        [
            "corruption-summary",
            "pgd-at/pgd",
            "pgd-at/noise.gaussian-noise",
            "pgd-at/noise.fog",
            "pgd-at",
            "noise-aug/noise.gaussian-noise",
            "noise-aug/noise.fog",
            "noise-aug",
        ]
    );
    // The before column is the original run's numbers, the after column the mitigated steps',
    // and delta their difference.
    let cell =
        |column: &str, row: &str| step_metric(&report, "pgd-at", 0, &format!("{column}:{row}"));
    assert_eq!(
        cell("before", "clean_accuracy"),
        step_metric(&report, "steady-state", 0, "clean_accuracy")
    );
    for (point, epsilon) in [(0, "0.0078"), (1, "0.0314"), (2, "0.1")] {
        let row = format!("robust_accuracy.pgd@{epsilon}");
        assert_eq!(cell("before", &row), step_metric(&report, "pgd", point, "robust_accuracy"));
        assert_eq!(
            cell("after", &row),
            step_metric(&report, "pgd-at/pgd", point, "robust_accuracy")
        );
        assert!((cell("delta", &row) - (cell("after", &row) - cell("before", &row))).abs() < 1e-12);
    }
    // Without a baseline model, corruption errors are relative to the original model.
    let accuracy = |step: &str, point| step_metric(&report, step, point, "accuracy");
    let errors = |step: &str| (1.0 - accuracy(step, 0)) + (1.0 - accuracy(step, 1));
    let ce = errors("pgd-at/noise.fog") / errors("noise.fog");
    assert!((cell("after", "corruption_error.noise.fog") - ce).abs() < 1e-12);
    assert_eq!(cell("before", "corruption_error.noise.fog"), 1.0);
    let mean = (cell("after", "corruption_error.noise.fog")
        + cell("after", "corruption_error.noise.gaussian-noise"))
        / 2.0;
    assert!((cell("after", "mean_corruption_error") - mean).abs() < 1e-12);
    // The mitigated models differ from the original.
    assert_ne!(cell("after", "clean_accuracy"), cell("before", "clean_accuracy"));
    let junit = std::fs::read_to_string(dir.join("out/junit.xml")).unwrap();
    assert!(junit.contains("pgd-at/after:clean_accuracy"), "{junit}");
    let html = std::fs::read_to_string(dir.join("out/report.html")).unwrap();
    assert!(html.contains("<table class=\"comparison\">") && html.contains("pgd-at/pgd"));

    // A second run loads both mitigated models from the cache and reproduces the report.
    let again = scratch("mitigation-again");
    assert_eq!(run_scenario(&again, &scenario, &[]).status.code(), Some(0));
    let mut second = read_report(&again);
    let params = |r: &serde_json::Value| {
        r["steps"].as_array().unwrap().iter().find(|s| s["id"] == "pgd-at").unwrap()["parameters"]["model"].clone()
    };
    assert!(params(&second).as_str().unwrap().starts_with("loaded from the cache"), "{second}");
    let mut first = report;
    for r in [&mut first, &mut second] {
        redact_timing(r);
        r["run"]["scenario_source"] = serde_json::Value::Null;
        for step in r["steps"].as_array_mut().unwrap() {
            step["parameters"]["model"] = serde_json::Value::Null;
        }
    }
    assert_eq!(first, second);
}

#[test]
fn an_ensemble_reports_members_disagreement_and_transfer() {
    // Two more members, trained quickly on small slices so they differ from the built-in one.
    let dir = scratch("ensemble");
    for seed in [2, 3] {
        std::fs::copy(quick_member(seed), dir.join(format!("member{seed}.safetensors"))).unwrap();
    }
    let scenario = SMALL.replace(
        "kind = \"builtin\"\nmodel = \"fashion-cnn\"",
        "kind = \"ensemble\"\nmembers = [\n  { kind = \"builtin\", model = \"fashion-cnn\" },\n  \
         { kind = \"safetensors\", model = \"fashion-cnn\", path = \"member2.safetensors\" },\n  \
         { kind = \"safetensors\", model = \"fashion-cnn\", path = \"member3.safetensors\" },\n]",
    ) + "\n[[steps]]\nid = \"fgsm\"\nkind = \"attack\"\nattack = \"fgsm\"\nsweep = { epsilon = [0.05] }\ngates = [{ metric = \"member_disagreement\", max = 1.0 }]\n";
    let output = run_scenario(&dir, &scenario, &[]);
    assert_eq!(output.status.code(), Some(0), "{}\n{}", text(&output.stdout), text(&output.stderr));
    let report = read_report(&dir);
    assert_eq!(report["target"]["kind"], "ensemble");
    let m = |step: &str, point, name: &str| step_metric(&report, step, point, name);
    for (step, point) in [("steady-state", 0), ("pgd", 1), ("noise.fog", 1), ("warm", 0)] {
        let members: Vec<f64> =
            (0..3).map(|i| m(step, point, &format!("member_accuracy.m{i}"))).collect();
        let best = members.iter().copied().fold(0.0, f64::max);
        assert_eq!(m(step, point, "best_member_accuracy"), best, "{step}");
        let accuracy = if step == "pgd" {
            "robust_accuracy"
        } else if step == "steady-state" {
            "clean_accuracy"
        } else {
            "accuracy"
        };
        assert!(
            (m(step, point, "ensemble_gain") - (m(step, point, accuracy) - best)).abs() < 1e-9,
            "{step}"
        );
    }
    // Members trained on other data disagree somewhere, and more under attack than clean.
    assert!(m("steady-state", 0, "member_disagreement") > 0.0);
    assert!(m("pgd", 1, "member_disagreement") >= m("steady-state", 0, "member_disagreement"));
    // Transfer: one row per white-box attack and source, the ensemble row from the step itself.
    let cell = |column: &str, row: &str| m("ensemble-transfer", 0, &format!("{column}:{row}"));
    for step in ["pgd@0.0314", "fgsm@0.05"] {
        for source in ["m0", "m1", "m2"] {
            let row = format!("accuracy.{step} from {source}");
            // White-box on the source hurts it at least as much as transfer from it hurts the
            // ensemble's clean accuracy would suggest: its own accuracy is at most its clean one.
            assert!(
                cell(source, &row) <= m("steady-state", 0, &format!("member_accuracy.{source}"))
            );
            assert!(cell("ensemble", &row) >= 0.0);
        }
    }
    assert_eq!(
        cell("ensemble", "accuracy.pgd@0.0314 from ensemble"),
        m("pgd", 1, "robust_accuracy")
    );
    assert_eq!(cell("m1", "accuracy.pgd@0.0314 from ensemble"), m("pgd", 1, "member_accuracy.m1"));
}

/// One HTTP/1.1 exchange over a plain socket: the whole response as text.
pub(crate) fn http(addr: &str, request: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// A child process killed when dropped, so none outlives a failed assertion.
pub(crate) struct KillOnDrop(pub(crate) std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `command` with stderr piped, reads stderr until a line contains `marker`, and returns
/// the child with the `host:port` that follows `http://` on that line.
pub(crate) fn spawn_until(command: &mut Command, marker: &str) -> (KillOnDrop, String) {
    use std::io::BufRead as _;
    let mut child = command.stderr(std::process::Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let child = KillOnDrop(child);
    let mut stderr = std::io::BufReader::new(stderr);
    let mut line = String::new();
    while !line.contains(marker) {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "exited before printing `{marker}`");
    }
    let addr = line.split("http://").nth(1).unwrap().split('/').next().unwrap().trim().to_string();
    (child, addr)
}

#[test]
fn serve_answers_the_open_inference_protocol_under_load_and_stops_on_sigint() {
    let _guard = TRAIN_ONCE.lock().unwrap_or_else(|e| e.into_inner());
    let (mut child, addr) = spawn_until(
        stressor().args(["serve", "--addr", "127.0.0.1:0", "--cache-dir"]).arg(cache_dir()),
        "serving",
    );
    let metadata =
        http(&addr, "GET /v2/models/fashion-cnn HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(
        metadata.starts_with("HTTP/1.1 200") && metadata.contains("[-1,1,28,28]"),
        "{metadata}"
    );
    let data = vec!["0.5"; 784].join(",");
    let body = format!(
        r#"{{"inputs":[{{"name":"input","datatype":"FP32","shape":[1,1,28,28],"data":[{data}]}}]}}"#
    );
    let infer = http(
        &addr,
        &format!(
            "POST /v2/models/fashion-cnn/infer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(infer.starts_with("HTTP/1.1 200") && infer.contains("\"label\""), "{infer}");
    let bad = http(
        &addr,
        "POST /v2/models/fashion-cnn/infer HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
    );
    assert!(bad.starts_with("HTTP/1.1 400") && bad.contains("no `inputs`"), "{bad}");

    // Load it with labelled samples: every answer is checked, gates decide the exit code.
    let url = format!("http://{addr}/v2/models/fashion-cnn/infer");
    let output = stressor()
        .args(["load", &url, "--infer-samples", "50", "--rate", "100", "--duration", "1s"])
        .args(["--gate", "error_rate<0.001", "--gate", "accuracy>0.5", "--json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["summary"]["requests"], 100, "{result}");
    assert_eq!(result["accuracy"]["checked"], 100, "{result}");
    assert!(result["latencyPercentiles"]["p99"].as_f64().unwrap() > 0.0);
    let per_second: Vec<u64> = result["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["requests"].as_u64().unwrap())
        .collect();
    assert_eq!(per_second.iter().sum::<u64>(), 100, "{per_second:?}");
    let junit = scratch("load-junit").join("junit.xml");
    let output = stressor()
        .args(["load", &url, "--infer-samples", "5", "--rate", "50", "--duration", "200ms"])
        .args(["--gate", "p50_ms<0.000001", "--gate", "error_rate<0.5", "--junit"])
        .arg(&junit)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    assert!(text(&output.stdout).contains("FAIL  p50_ms<0.000001"), "{}", text(&output.stdout));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("tests=\"2\"") && xml.contains("failures=\"1\""), "{xml}");
    assert!(xml.contains("p50_ms&lt;0.000001 failed: observed"), "{xml}");

    // A longer run exports live counters while it goes.
    let (mut load, metrics_addr) = spawn_until(
        stressor()
            .args(["load", &url, "--infer-samples", "5", "--rate", "50", "--duration", "2s"])
            .args(["--metrics-addr", "127.0.0.1:0"])
            .stdout(std::process::Stdio::null()),
        "metrics on",
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    let metrics =
        http(&metrics_addr, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    let requests: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("stressor_load_requests_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(requests > 0.0 && requests < 100.0, "mid-run count {requests}: {metrics}");
    assert_eq!(load.0.wait().unwrap().code(), Some(0));

    let killed = Command::new("kill").args(["-INT", &child.0.id().to_string()]).status().unwrap();
    assert!(killed.success());
    assert_eq!(child.0.wait().unwrap().code(), Some(0));
}

#[test]
fn a_served_model_over_http_gives_the_builtin_results() {
    // The reference: the built-in model in-process, black-box attack and a corruption.
    let scenario = SMALL.split("[[steps]]\nid = \"pgd\"").next().unwrap().to_string()
        + "[[steps]]\nid = \"square\"\nkind = \"attack\"\nattack = \"square\"\nqueries = 40\n\
           sweep = { epsilon = [\"8/255\"] }\n[[steps]]\nid = \"noise\"\nkind = \"corruption\"\n\
           corruption = \"gaussian-noise\"\nsweep = { severity = [3, 5] }\n\
           [[steps]]\nid = \"hsj\"\nkind = \"attack\"\nattack = \"hopskipjump\"\nnorm = \"l2\"\n\
           queries = 300\nsteps = 8\nsweep = { epsilon = [1.0, 2.0] }\n";
    let local = scratch("http-local");
    assert_eq!(run_scenario(&local, &scenario, &[]).status.code(), Some(0));

    let _guard = TRAIN_ONCE.lock().unwrap_or_else(|e| e.into_inner());
    let (_server, addr) = spawn_until(
        stressor()
            .args(["serve", "--addr", "127.0.0.1:0", "--max-batch", "64", "--cache-dir"])
            .arg(cache_dir()),
        "serving",
    );
    let remote = scratch("http-remote");
    let scenario = scenario.replace(
        "kind = \"builtin\"\nmodel = \"fashion-cnn\"",
        &format!(
            "kind = \"http\"\nurl = \"http://{addr}\"\nmodel = \"fashion-cnn\"\nmax_batch = 50"
        ),
    );
    let path = remote.join("scenario.toml");
    std::fs::write(&path, &scenario).unwrap();
    let output = stressor()
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(remote.join("out"))
        .arg("--no-progress")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let (a, b) = (read_report(&local), read_report(&remote));
    assert_eq!(b["target"]["kind"], "oip");
    // Scores travel as shortest round-trip decimals; only the server's batch size (50 per
    // request here) changes the float rounding of the CNN, so a sample at the decision
    // boundary may flip.
    assert_eq!(
        step_metric(&a, "steady-state", 0, "clean_accuracy"),
        step_metric(&b, "steady-state", 0, "clean_accuracy")
    );
    let ece =
        (step_metric(&a, "steady-state", 0, "ece"), step_metric(&b, "steady-state", 0, "ece"));
    assert!((ece.0 - ece.1).abs() < 1e-6, "{ece:?}");
    for (step, point, metric) in
        [("square", 0, "robust_accuracy"), ("noise", 0, "accuracy"), ("noise", 1, "accuracy")]
    {
        let (x, y) = (step_metric(&a, step, point, metric), step_metric(&b, step, point, metric));
        assert!((x - y).abs() <= 1.0 / 60.0 + 1e-9, "{step} {metric}: {x} vs {y}");
    }
    // HopSkipJump sees only the returned labels; over HTTP it breaks the model as it does
    // in-process (a flipped boundary decision may steer one search differently).
    let clean = step_metric(&b, "steady-state", 0, "clean_accuracy");
    let (x, y) = (
        step_metric(&a, "hsj", 1, "robust_accuracy"),
        step_metric(&b, "hsj", 1, "robust_accuracy"),
    );
    assert!(y < clean - 0.2, "HopSkipJump over HTTP: robust {y} vs clean {clean}");
    assert!((x - y).abs() <= 3.0 / 60.0 + 1e-9, "hsj: {x} vs {y}");
    assert!(step_metric(&b, "hsj", 1, "queries_per_success_mean") <= 300.0);
    // One search serves the sweep: a larger ε only adds successes.
    for report in [&a, &b] {
        let (small, large) = (
            step_metric(report, "hsj", 0, "robust_accuracy"),
            step_metric(report, "hsj", 1, "robust_accuracy"),
        );
        assert!(large <= small, "robust accuracy {small} at ε = 1 but {large} at ε = 2");
    }
}

#[test]
fn an_unreachable_http_target_exits_3_naming_the_endpoint() {
    let dir = scratch("http-dead");
    // Bind and drop a listener: nothing answers on that port now.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let scenario = SMALL.replace(
        "kind = \"builtin\"\nmodel = \"fashion-cnn\"",
        &format!(
            "kind = \"http\"\nurl = \"http://127.0.0.1:{port}\"\nmodel = \"m\"\ntimeout_ms = 500"
        ),
    );
    let output = run_scenario(&dir, &scenario, &[]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!("remote model http://127.0.0.1:{port}/v2/models/m")),
        "{stderr}"
    );
}

#[test]
fn load_refuses_other_hosts_and_bad_arguments() {
    let output = stressor().args(["load", "http://192.0.2.1:80/", "--rate", "1"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("not a loopback address"), "{}", text(&output.stderr));
    let output = stressor()
        .args(["load", "http://127.0.0.1:9/", "--rate", "1", "--gate", "p42<3"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("unknown metric `p42`"), "{}", text(&output.stderr));
    let output =
        stressor().args(["load", "http://127.0.0.1:9/", "--stage", "10s"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("DURATION@RATE"), "{}", text(&output.stderr));
}

/// A short systems run: baseline 20 req/s, a 5× surge, a latency fault and an error fault.
const SYSTEM: &str = r#"
name = "system"
seed = 5
[target]
kind = "builtin"
model = "fashion-cnn"
[data]
source = "builtin"
samples = 60
[calibration]
samples = 0
[system]
stages = ["2s@20", "1s@100", "7s@20"]
samples = 60
timeout = "2s"
[[system.faults]]
name = "slow"
type = "latency"
attributes = { latency = 120 }
start = "4s"
stop = "5s"
[[system.faults]]
name = "errors"
type = "http_status"
attributes = { status = 503 }
start = "6s"
stop = "7s"
[system.recovery]
# Loose latency tolerance: this test checks the mechanics on a machine that may be busy.
sustain = "1s"
p99_ratio = 5.0
p99_slack_ms = 300
[[system.gates]]
metric = "accuracy"
min = 0.7
[[system.gates]]
metric = "error_rate.errors"
max = 0.5
"#;

#[test]
fn a_system_scenario_serves_loads_injects_faults_and_measures_recovery() {
    let dir = scratch("system");
    let path = dir.join("scenario.toml");
    std::fs::write(&path, SYSTEM).unwrap();
    let _guard = TRAIN_ONCE.lock().unwrap_or_else(|e| e.into_inner());
    let (mut child, addr) =
        spawn_until(run_command(&dir, &path).args(["--metrics-addr", "127.0.0.1:0"]), "metrics on");
    // Live counters while the load runs: the load generator's and the proxy's.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let metrics = http(&addr, "GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    assert!(metrics.contains("stressor_load_requests_total"), "{metrics}");
    let proxied = metrics
        .lines()
        .find(|l| l.starts_with("stressor_proxy_http_requests_total{proxy=\"system\"}"))
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|n| n.parse::<u64>().ok());
    assert!(proxied.is_some_and(|n| n > 0), "{metrics}");
    // The second gate fails: every request in the error window got the injected 503.
    assert_eq!(child.0.wait().unwrap().code(), Some(1));
    let report = read_report(&dir);
    let step = report["steps"].as_array().unwrap().iter().find(|s| s["id"] == "system").unwrap();
    assert_eq!(step["kind"], "system");
    let metric = |name: &str| step["points"][0]["metrics"][name]["value"].as_f64().unwrap();
    // 2·20 + 100 + 7·20 requests, all scheduled.
    assert_eq!(metric("requests"), 280.0);
    // Every request after the fault began got the 503 (the one due at 6.000 s left before it).
    assert!(metric("error_rate.errors") >= 0.9, "{}", metric("error_rate.errors"));
    assert_eq!(metric("error_rate.baseline"), 0.0);
    assert!(metric("p50_ms.slow") >= 115.0, "the latency toxic delays every answer");
    assert!(metric("p50_ms.slow") - metric("p50_ms.baseline") > 60.0);
    assert!(metric("accuracy") > 0.7);
    let timeline = &step["timeline"];
    assert_eq!(timeline["seconds"].as_array().unwrap().len(), 10);
    let windows: Vec<&str> = timeline["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(windows, ["slow", "errors", "surge"]);
    let recoveries = timeline["recoveries"].as_array().unwrap();
    assert_eq!(recoveries.len(), 3);
    // Each window ended three seconds or more before the run did, so recovery was observed.
    for recovery in recoveries {
        let ttr = recovery["time_to_recover"].as_f64().unwrap_or(f64::NAN);
        assert!((0.0..=2.0).contains(&ttr), "{recovery}");
        assert_eq!(
            step["points"][0]["metrics"]
                [format!("time_to_recover_s.{}", recovery["window"].as_str().unwrap())]["value"],
            ttr
        );
    }
    let html = std::fs::read_to_string(dir.join("out/report.html")).unwrap();
    assert!(html.contains("System: system") && html.contains("Time to recover"));
    assert!(html.contains("<title>slow (latency)</title>"), "fault windows are shaded");
    let gates = report["gates"].as_array().unwrap();
    assert_eq!(gates.iter().filter(|g| g["passed"] == false).count(), 1);
}

#[test]
fn proxy_command_injects_toxics_from_flags_and_its_api() {
    let (_server, server) = spawn_until(
        stressor().args(["serve", "--addr", "127.0.0.1:0", "--cache-dir"]).arg(cache_dir()),
        "serving",
    );
    let (_proxy, api) = spawn_until(
        stressor().args([
            "proxy",
            "--api",
            "127.0.0.1:0",
            "--upstream",
            &server,
            "--toxic",
            r#"{"type":"http_status","attributes":{"status":418}}"#,
        ]),
        "proxy API",
    );
    let proxies = http(&api, "GET /proxies HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    let body: serde_json::Value =
        serde_json::from_str(proxies.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let listen = body["proxy"]["listen"].as_str().unwrap().to_string();
    assert_eq!(body["proxy"]["toxics"][0]["type"], "http_status");
    let answer =
        http(&listen, "GET /v2/health/ready HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 418"), "{answer}");
    let deleted = http(
        &api,
        "DELETE /proxies/proxy/toxics/http_status_downstream HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    );
    assert!(deleted.starts_with("HTTP/1.1 204"), "{deleted}");
    let answer =
        http(&listen, "GET /v2/health/ready HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let bad = stressor()
        .args(["proxy", "--api", "127.0.0.1:0", "--upstream", "10.9.9.9:80"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("--allow-host 10.9.9.9"), "{}", text(&bad.stderr));
}

#[test]
fn a_json_template_target_with_a_secret_header_gives_the_builtin_results() {
    let local = scratch("json-local");
    let scenario = SMALL.split("[[steps]]").next().unwrap().to_string();
    assert_eq!(run_scenario(&local, &scenario, &[]).status.code(), Some(0));
    let _guard = TRAIN_ONCE.lock().unwrap_or_else(|e| e.into_inner());
    let (_server, addr) = spawn_until(
        stressor().args(["serve", "--addr", "127.0.0.1:0", "--cache-dir"]).arg(cache_dir()),
        "serving",
    );
    let remote = scratch("json-remote");
    let target = format!(
        "kind = \"json\"\nurl = \"http://{addr}/v2/models/fashion-cnn/infer\"\n\
         template = {{ inputs = [{{ name = \"input\", datatype = \"FP32\", shape = \"{{{{shape}}}}\", data = \"{{{{inputs}}}}\" }}] }}\n\
         response = \"/outputs/1/data\"\nscores = \"labels\"\ninput_shape = [1, 28, 28]\nclasses = 10\n\
         max_batch = 32\nheaders = {{ Authorization = \"Bearer ${{STRESSOR_TEST_TOKEN}}\" }}"
    );
    let scenario = scenario.replace("kind = \"builtin\"\nmodel = \"fashion-cnn\"", &target);
    let path = remote.join("scenario.toml");
    std::fs::write(&path, &scenario).unwrap();
    let run = |token: Option<&str>| {
        let mut command = stressor();
        command.arg("run").arg(&path).arg("--out").arg(remote.join("out")).arg("--no-progress");
        match token {
            Some(token) => command.env("STRESSOR_TEST_TOKEN", token),
            None => command.env_remove("STRESSOR_TEST_TOKEN"),
        };
        command.output().unwrap()
    };
    let missing = run(None);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing.stderr));
    assert!(text(&missing.stderr).contains("STRESSOR_TEST_TOKEN"), "{}", text(&missing.stderr));
    let output = run(Some("sekret-token"));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let (a, b) = (read_report(&local), read_report(&remote));
    assert_eq!(b["target"]["kind"], "json");
    assert_eq!(
        step_metric(&a, "steady-state", 0, "clean_accuracy"),
        step_metric(&b, "steady-state", 0, "clean_accuracy")
    );
    let everything = std::fs::read_to_string(remote.join("out/report.json")).unwrap()
        + &std::fs::read_to_string(remote.join("out/report.html")).unwrap()
        + &text(&output.stdout)
        + &text(&output.stderr);
    assert!(!everything.contains("sekret-token"), "the header value is never reported");
}

/// A minimal OpenAI-compatible server on a thread: reads one request per connection and
/// answers `body` (then closes). Returns its address.
fn fixed_answer_server(body: &'static str) -> String {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                let mut buffer = [0u8; 4096];
                loop {
                    let Ok(n) = stream.read(&mut buffer) else { return };
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buffer[..n]);
                    let text = String::from_utf8_lossy(&seen).to_string();
                    let Some(end) = text.find("\r\n\r\n") else { continue };
                    let length: usize = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if seen.len() < end + 4 + length {
                        continue;
                    }
                    let request: serde_json::Value =
                        serde_json::from_slice(&seen[end + 4..end + 4 + length])
                            .unwrap_or_default();
                    assert_eq!(request["messages"][0]["role"], "user");
                    seen.clear();
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if stream.write_all(response.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn load_chat_sends_openai_requests_and_checks_the_answers() {
    let good = fixed_answer_server(
        r#"{"choices":[{"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}"#,
    );
    let bad = fixed_answer_server(r#"{"answer":"hi"}"#);
    for (addr, ok) in [(good, true), (bad, false)] {
        let output = stressor()
            .args([
                "load",
                &format!("http://{addr}/v1/chat/completions"),
                "--chat",
                "hello",
                "--chat",
                "bonjour",
            ])
            .args(["--chat-model", "tiny", "--rate", "20", "--duration", "1s", "--json"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let errors = report["errorDistribution"]["invalid_body"].as_u64().unwrap_or(0);
        if ok {
            assert_eq!(report["summary"]["successRate"], 1.0, "{report}");
        } else {
            assert_eq!(errors, report["summary"]["requests"].as_u64().unwrap(), "{report}");
        }
    }
}

/// `n` rows of `age` (numeric), `income` (numeric, shifted by `shift` for the first `drifted`
/// rows) and `region` (categorical).
fn drift_csv(path: &Path, n: usize, shift: f64, drifted: usize, regions: &[&str]) {
    let mut text = String::from("age,income,region\n");
    for i in 0..n {
        // A deterministic spread: a low-discrepancy sequence in place of random draws.
        let u = ((i as f64 + 0.5) * 0.618_033_988_75).fract();
        let income = 30.0 + 20.0 * u + if i < drifted { shift } else { 0.0 };
        let age = 20.0 + ((i * 7919) % 50) as f64;
        text.push_str(&format!("{age},{income},{}\n", regions[i % regions.len()]));
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn drift_compares_csv_columns_and_names_bad_files() {
    let dir = scratch("drift");
    let (reference, same, shifted) =
        (dir.join("ref.csv"), dir.join("same.csv"), dir.join("shifted.csv"));
    drift_csv(&reference, 2000, 0.0, 0, &["north", "south"]);
    drift_csv(&same, 1500, 0.0, 0, &["north", "south"]);
    // Half the rows come from a population shifted by 10 (a "50 % drift" of income), and a
    // new region appears.
    drift_csv(&shifted, 1500, 10.0, 750, &["north", "south", "east"]);
    let run = |current: &Path, extra: &[&str]| {
        stressor()
            .args(["drift", "--reference"])
            .arg(&reference)
            .arg("--current")
            .arg(current)
            .args(extra)
            .output()
            .unwrap()
    };
    let calm = run(&same, &[]);
    assert_eq!(calm.status.code(), Some(0), "{}{}", text(&calm.stdout), text(&calm.stderr));
    assert!(text(&calm.stdout).contains("0 of 3 columns drifted"));
    let output = run(&shifted, &["--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let column = |name: &str| {
        report["columns"].as_array().unwrap().iter().find(|c| c["column"] == name).unwrap().clone()
    };
    assert_eq!(column("income")["drifted"], true);
    // Half the rows shifted by half the range: the CDFs part by 0.25 at most.
    let d = column("income")["statistic"].as_f64().unwrap();
    assert!((d - 0.25).abs() < 0.02, "{d}");
    assert_eq!(column("age")["drifted"], false);
    assert_eq!(column("region")["test"], "chi2");
    assert_eq!(column("region")["drifted"], true);
    // In chunks, holding only the reference's statistics: the same statistics and p-values.
    let output = run(&shifted, &["--json", "--chunk-rows", "97"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let chunked: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(chunked["current"]["rows"], 1500);
    for (whole, part) in
        report["columns"].as_array().unwrap().iter().zip(chunked["columns"].as_array().unwrap())
    {
        for key in ["column", "test", "statistic", "pvalue", "pvalue_adjusted", "psi", "drifted"] {
            assert_eq!(whole[key], part[key], "{key} of {}", whole["column"]);
        }
        assert!(part["wasserstein"].is_null());
    }
    let bad_number = dir.join("bad-number.csv");
    std::fs::write(&bad_number, "age,income,region\n30,40,north\n31,lots,south\n").unwrap();
    let output = run(&bad_number, &["--chunk-rows", "1"]);
    assert_eq!(output.status.code(), Some(3));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("line 3") && stderr.contains("`income`"), "{stderr}");
    // The multivariate tests over whole rows agree, and stay quiet without drift.
    let output = run(&shifted, &["--json", "--multivariate", "--multivariate-rows", "400"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let multivariate = &report["multivariate"];
    assert!(multivariate["mmd"]["pvalue"].as_f64().unwrap() < 0.01, "{multivariate}");
    assert!(multivariate["domain_classifier"]["auroc"].as_f64().unwrap() > 0.6, "{multivariate}");
    let calm = run(&same, &["--multivariate", "--multivariate-rows", "400"]);
    assert_eq!(calm.status.code(), Some(0), "{}", text(&calm.stdout));
    assert!(text(&calm.stdout).contains("domain classifier AUROC"));

    let missing = dir.join("missing.csv");
    std::fs::write(&missing, "age,region\n30,north\n").unwrap();
    let output = run(&missing, &[]);
    assert_eq!(output.status.code(), Some(3));
    assert!(
        text(&output.stderr).contains("column `income` is missing"),
        "{}",
        text(&output.stderr)
    );
    let wrong_type = dir.join("wrong-type.csv");
    std::fs::write(&wrong_type, "age,income,region\n30,high,north\n31,low,south\n").unwrap();
    let output = run(&wrong_type, &[]);
    assert_eq!(output.status.code(), Some(3));
    assert!(text(&output.stderr).contains("`income` is numeric"), "{}", text(&output.stderr));
    let empty = dir.join("empty.csv");
    std::fs::write(&empty, "").unwrap();
    let output = run(&empty, &[]);
    assert_eq!(output.status.code(), Some(3));
    assert!(text(&output.stderr).contains("empty.csv"), "{}", text(&output.stderr));
    let ragged = dir.join("ragged.csv");
    std::fs::write(&ragged, "age,income,region\n30,40,north\n31\n").unwrap();
    let output = run(&ragged, &[]);
    assert!(text(&output.stderr).contains("line 3"), "{}", text(&output.stderr));
    assert_eq!(run(&same, &["--correction", "fdr"]).status.code(), Some(2));
}

#[test]
fn drift_scenario_reports_detection_retraining_and_recovery() {
    let dir = scratch("drift-scenario");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/credit-drift.toml");
    let output = stressor().arg("run").arg(&scenario).arg("--out").arg(&dir).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}{}", text(&output.stdout), text(&output.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let steps = report["steps"].as_array().unwrap();
    let ids: Vec<&str> = steps.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["none", "periodic", "drift-triggered"]);
    let metric = |step: usize, name: &str| steps[step]["points"][0]["metrics"][name].clone();
    for (i, step) in steps.iter().enumerate() {
        assert_eq!(step["kind"], "drift");
        let timeline = &step["drift_timeline"];
        assert_eq!(timeline["steps"].as_array().unwrap().len(), 30);
        assert_eq!(timeline["drift_start"], 10);
        // Every policy saw the same drift.
        assert_eq!(timeline["steps"][10]["drift_share"], 0.5);
        assert_eq!(metric(i, "time_to_detect_steps")["value"], 0.0);
    }
    // No retraining: the scorecard stays broken; drift-triggered retraining brings it back.
    let lost = |i: usize| metric(i, "accuracy_lost")["value"].as_f64().unwrap();
    assert!(metric(0, "time_to_recover_steps")["value"].is_null());
    assert!(metric(2, "time_to_recover_steps")["value"].as_f64().is_some());
    assert!(lost(2) < lost(0), "{} vs {}", lost(2), lost(0));
    let last = |i: usize| metric(i, "final_accuracy")["value"].as_f64().unwrap();
    assert!(last(2) > last(0) + 0.1, "{} vs {}", last(2), last(0));
    let worst = metric(0, "worst_accuracy")["value"].as_f64().unwrap();
    let pre = metric(0, "pre_drift_accuracy")["value"].as_f64().unwrap();
    assert!(worst < pre - 0.1, "{worst} vs {pre}");
    assert_eq!(metric(2, "final_accuracy")["n"], 300);
    assert!(metric(2, "final_accuracy")["ci"]["lower"].as_f64().is_some());
    assert!(report["gates"].as_array().unwrap().iter().all(|g| g["passed"] == true));
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("Drift and recovery: the policies compared"));
    assert!(html.matches("<svg").count() >= 4);
    // Same seed, same report (apart from timings).
    let again = scratch("drift-scenario-again");
    let output = stressor().arg("run").arg(&scenario).arg("--out").arg(&again).output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let redacted = |path: &Path| {
        let mut report: stressor_schema::Report =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        report.redact_timings();
        serde_json::to_string(&report).unwrap()
    };
    assert_eq!(redacted(&dir.join("report.json")), redacted(&again.join("report.json")));
}

#[test]
fn drift_scenario_mistakes_name_their_key_or_column() {
    let dir = scratch("drift-scenario-bad");
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"bad\"\n[drift]\ndata = \"german-credit\"\ndial = 1.5\nonset = \"slow\"\n\
         [[drift.transforms]]\nkind = \"tilt\"\n[[drift.gates]]\npolicy = \"sometimes\"\n\
         metric = \"final_accuracy\"\nmin = 0.5\n",
    )
    .unwrap();
    let output = stressor().arg("check").arg(&bad).output().unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    for needle in [
        "bad.toml:4",
        "drift.dial",
        "drift.onset",
        "drift.transforms[0].kind",
        "no policy `sometimes`",
    ] {
        assert!(stderr.contains(needle), "{needle} missing from {stderr}");
    }
    // A transform on a column the data lacks is found when the data is read: exit 3.
    let csv = dir.join("loans.csv");
    let mut rows = String::from("amount,region,default\n");
    for i in 0..400 {
        rows.push_str(&format!("{},{},{}\n", 1000 + i * 7 % 300, ["n", "s"][i % 2], i % 3 == 0));
    }
    std::fs::write(&csv, rows).unwrap();
    let scenario = dir.join("loans.toml");
    std::fs::write(
        &scenario,
        "name = \"loans\"\n[drift]\ndata = \"loans.csv\"\ntarget = \"default\"\npositive = \"true\"\n\
         eval_rows = 100\ntrain_rows = 150\ndial = 0.5\n[[drift.transforms]]\nkind = \"scale\"\n\
         column = \"income\"\nfactor = 2\n",
    )
    .unwrap();
    let output =
        stressor().arg("run").arg(&scenario).arg("--out").arg(dir.join("out")).output().unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("no column `income`"), "{}", text(&output.stderr));
}

#[test]
fn a_users_onnx_model_serves_first_and_built_in_retrains_take_over() {
    let dir = scratch("drift-onnx");
    let onnx = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../stressor-onnx/tests/fixtures/tabular_logistic.onnx");
    // The fixture's boundary is the synthetic generator's before the drift; the drift turns it
    // by 90°, which no feature test can see, and periodic retraining learns the new one.
    let scenario = dir.join("onnx.toml");
    std::fs::write(
        &scenario,
        format!(
            "name = \"onnx-drift\"\nseed = 3\n[drift]\ndata = \"synthetic\"\nmodel = \"onnx\"\n\
             path = {:?}\nfeatures = [\"x0\", \"x1\", \"x2\", \"x3\"]\nsteps = 24\nbatch_rows = 400\n\
             start = 8\ndial = 1.0\npolicies = [\"none\", \"periodic\"]\nevery = 6\n\
             [[drift.transforms]]\nkind = \"rotate\"\ndegrees = 90\n",
            onnx.display().to_string()
        ),
    )
    .unwrap();
    let out = dir.join("out");
    let output = stressor().arg("run").arg(&scenario).arg("--out").arg(&out).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}{}", text(&output.stdout), text(&output.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert!(report["target"]["name"].as_str().unwrap().contains("tabular_logistic.onnx"));
    let metric = |step: usize, name: &str| {
        report["steps"][step]["points"][0]["metrics"][name]["value"].as_f64()
    };
    // The ONNX model is the Bayes boundary without the segment bias: well above chance.
    assert!(metric(0, "pre_drift_accuracy").unwrap() > 0.8);
    assert!(metric(0, "worst_accuracy").unwrap() < 0.65);
    assert_eq!(metric(0, "time_to_recover_steps"), None);
    assert!(metric(1, "final_accuracy").unwrap() > 0.8);
    // A categorical feature cannot be fed to it: exit 3 naming the column.
    let bad = dir.join("bad.toml");
    let text_of_scenario = std::fs::read_to_string(&scenario).unwrap();
    std::fs::write(&bad, text_of_scenario.replace("\"x3\"]", "\"segment\"]")).unwrap();
    let output =
        stressor().arg("run").arg(&bad).arg("--out").arg(dir.join("bad")).output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(text(&output.stderr).contains("`segment` is categorical"), "{}", text(&output.stderr));
}
