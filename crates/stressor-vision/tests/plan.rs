//! Planning the vision family (and the shared `[target]`/`[data]` it measures): every bad
//! scenario fails with an error that names the file, line and key.
//!
//! Bad scenarios live in `tests/data/bad/*.toml`; the first line of each is
//! `# expect: <text the error must contain>` (several `# expect:` lines may follow).
#![expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]

use std::path::Path;

use stressor_scenario::{Scenario, ScenarioError};
use stressor_vision::{Vision, VisionPlan};

fn plan(text: &str, path: &str) -> Result<Scenario, ScenarioError> {
    stressor_scenario::plan(text, Path::new(path), &[&Vision])
}

fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    stressor_scenario::load(path, &[&Vision])
}

fn vision(scenario: &Scenario) -> &VisionPlan {
    scenario.part::<VisionPlan>().expect("the vision family takes part")
}

fn check(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let expected: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("# expect: ")).collect();
    assert!(!expected.is_empty(), "{} has no `# expect:` line", path.display());
    let error = match load(path) {
        Ok(_) => panic!("{} planned but should fail", path.display()),
        Err(error) => error.to_string(),
    };
    let file_name = path.file_name().unwrap().to_string_lossy();
    assert!(error.contains(file_name.as_ref()), "error does not name the file:\n{error}");
    for expect in expected {
        assert!(error.contains(expect), "{}: error lacks `{expect}`:\n{error}", path.display());
    }
}

#[test]
fn bad_scenarios_fail_with_located_errors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bad");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            check(&path);
            n += 1;
        }
    }
    assert!(n >= 10, "expected the bad-scenario corpus, found {n} files");
}

#[test]
fn a_missing_file_is_a_read_error() {
    let error = load(Path::new("no/such/scenario.toml")).unwrap_err();
    assert!(matches!(error, stressor_scenario::ScenarioError::Read { .. }));
    assert!(error.to_string().contains("no/such/scenario.toml"));
}

#[test]
fn invalid_scenarios_report_every_problem() {
    let text = r#"
name = "two problems"
[target]
kind = "builtin"
model = "fashion-cnn"
[data]
source = "builtin"
[[steps]]
id = "a"
kind = "attack"
attack = "nope"
sweep = { epsilon = [0.1] }
[[steps]]
id = "b"
kind = "attack"
attack = "pgd"
sweep = { epsilon = [2.0] }
"#;
    let error = plan(text, "two.toml").unwrap_err();
    let stressor_scenario::ScenarioError::Invalid { problems, .. } = &error else {
        panic!("expected Invalid, got {error}");
    };
    assert_eq!(problems.len(), 2, "{error}");
    assert_eq!((problems[0].line, problems[0].key.as_str()), (11, "steps.a.attack"));
    assert_eq!(problems[1].key, "steps.b.sweep.epsilon");
}

#[test]
fn sweeps_accept_fractions_and_ranges() {
    let text = r#"
name = "sweeps"
seed = 7
[target]
kind = "builtin"
model = "fashion-cnn"
[data]
source = "builtin"
[[steps]]
id = "list"
kind = "attack"
attack = "fgsm"
sweep = { epsilon = ["8/255", 0.5, 1] }
[[steps]]
id = "range"
kind = "attack"
attack = "pgd"
sweep = { epsilon = { from = 0, to = 0.1, points = 3 } }
gates = [{ metric = "robust_accuracy", at = 0.05, min = 0.1, bound = "ci_lower" }]
"#;
    let scenario = plan(text, "s.toml").unwrap();
    let plan = vision(&scenario);
    assert_eq!(scenario.seed.value(), 7);
    assert_eq!(plan.steps[0].dial_values, vec![8.0 / 255.0, 0.5, 1.0]);
    assert_eq!(plan.steps[1].dial_values, vec![0.0, 0.05, 0.1]);
    let gate = &plan.steps[1].gates[0];
    assert_eq!(gate.at, Some(0.05));
    assert_eq!(gate.bound, stressor_core::GateBound::Lower);
}

#[test]
fn corruption_lists_expand_into_one_step_each_and_lighting_takes_its_dial() {
    let text = r#"
name = "shifts"
[target]
kind = "builtin"
model = "fashion-cnn"
[data]
source = "builtin"
[calibration]
samples = 0
[[steps]]
id = "all"
kind = "corruption"
corruption = "all"
sweep = { severity = { from = 1, to = 5, points = 5 } }
gates = [{ metric = "accuracy", at = 3, min = 0.1 }]
[[steps]]
id = "fog"
kind = "corruption"
corruption = "fog"
sweep = { severity = [5] }
[[steps]]
id = "warm"
kind = "lighting"
lighting = "colour-temperature"
sweep = { kelvin = [2500, 6500] }
gates = [{ metric = "ece", max = 0.2 }]
"#;
    let scenario = plan(text, "s.toml").unwrap();
    let plan = vision(&scenario);
    let corruptions = stressor_vision::plan::Corruption::ALL;
    assert_eq!(plan.steps.len(), corruptions.len() + 2);
    assert_eq!(plan.steps[0].id, format!("all.{}", corruptions[0].name()));
    assert_eq!(plan.steps[0].dial_name, "severity");
    assert_eq!(plan.steps[0].dial_values, vec![1.0, 2.0, 3.0, 4.0, 5.0]);
    // The gate is copied onto every expanded step.
    assert!(plan.steps[..corruptions.len()].iter().all(|s| s.gates.len() == 1));
    assert_eq!(plan.steps[3].gates[0].step_id, plan.steps[3].id);
    // A single name keeps the step's id.
    assert_eq!(plan.steps[corruptions.len()].id, "fog");
    let warm = &plan.steps[corruptions.len() + 1];
    assert_eq!(
        (warm.dial_name.as_str(), warm.dial_values.clone()),
        ("kelvin", vec![2500.0, 6500.0])
    );
    assert_eq!(plan.calibration.samples, 0);
    // Without a calibration split, conformal and scaled metrics cannot be gated.
    let gated = text.replace(r#"metric = "ece""#, r#"metric = "fallback_rate""#);
    let error = stressor_scenario::plan(&gated, Path::new("s.toml"), &[&Vision]).unwrap_err();
    assert!(error.to_string().contains("unknown metric `fallback_rate`"), "{error}");
}

#[test]
fn user_targets_and_data_sources_plan() {
    let text = r#"
name = "own"
[target]
kind = "onnx"
path = "models/cnn.onnx"
input = { layout = "nhwc", scale = 255, mean = [125.3, 123.0, 113.9], std = [63.0, 62.1, 66.7] }
output = "probabilities"
[data]
source = "npz"
path = "data/test.npz"
images_key = "x_test"
labels_key = "y_test"
layout = "nhwc"
scale = "byte"
"#;
    let scenario = plan(text, "dir/s.toml").unwrap();
    let subject = scenario.subject.as_ref().expect("[target] and [data]");
    let stressor_scenario::target::TargetPlan::Onnx { path, input, probabilities } =
        &subject.target
    else {
        panic!("expected an ONNX target, got {:?}", subject.target);
    };
    assert_eq!(path, Path::new("dir/models/cnn.onnx"));
    assert!(input.channels_last && *probabilities);
    assert_eq!((input.scale, input.mean.len(), input.std.len()), (255.0, 3, 3));
    let stressor_scenario::data::DataSource::Npz { path, images_key, layout, scale, .. } =
        &subject.data.source
    else {
        panic!("expected NPZ data, got {:?}", subject.data.source);
    };
    assert_eq!(path, Path::new("dir/data/test.npz"));
    assert_eq!(images_key, "x_test");
    assert_eq!(*layout, stressor_scenario::data::ArrayLayout::Nhwc);
    assert_eq!(*scale, stressor_scenario::data::ValueScale::Byte);
}
