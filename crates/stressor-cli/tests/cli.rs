//! End-to-end tests of the `stressor` binary: exit codes, report files, error messages.
//!
//! The runs use the real built-in CNN, trained once and cached in a directory shared by all
//! tests of this binary (under `CARGO_TARGET_TMPDIR`), on small samples of the embedded data.
#![expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

fn stressor() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stressor"));
    command.env_remove("STRESSOR_CACHE_DIR").env("NO_COLOR", "1");
    command
}

fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("stressor-cli-cache")
}

/// Training the model is the expensive part: the first run trains and caches, the others load.
static TRAIN_ONCE: Mutex<()> = Mutex::new(());

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("stressor-cli").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run_scenario(dir: &Path, scenario: &str, extra: &[&str]) -> Output {
    let path = dir.join("scenario.toml");
    std::fs::write(&path, scenario).unwrap();
    let _guard = TRAIN_ONCE.lock().unwrap_or_else(|e| e.into_inner());
    stressor()
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--cache-dir")
        .arg(cache_dir())
        .arg("--no-progress")
        .args(extra)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
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
