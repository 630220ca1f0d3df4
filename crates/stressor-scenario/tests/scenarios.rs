//! Scenario files: every shipped scenario plans, and every bad one fails with an error that
//! names the file, line and key.
//!
//! Bad scenarios live in `tests/data/bad/*.toml`; the first line of each is
//! `# expect: <text the error must contain>` (several `# expect:` lines may follow).
#![expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]

use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn every_shipped_scenario_plans() {
    let dir = repo_root().join("scenarios");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("scenarios/ exists") {
        let path = entry.expect("readable entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let scenario = stressor_scenario::load_scenario(&path)
                .unwrap_or_else(|error| panic!("{} does not plan:\n{error}", path.display()));
            match scenario {
                stressor_scenario::Scenario::Model(plan) => assert!(
                    !plan.steps.is_empty() || plan.system.is_some(),
                    "{} has no step and no system run",
                    path.display()
                ),
                stressor_scenario::Scenario::Drift(plan) => assert!(
                    !plan.policies.is_empty() && !plan.transforms.is_empty(),
                    "{} has no policy or no transform",
                    path.display()
                ),
            }
            n += 1;
        }
    }
    assert!(n >= 1, "no scenario found in {}", dir.display());
}

#[test]
fn the_demo_scenario_is_the_vision_scenario() {
    let plan = stressor_scenario::load(&repo_root().join("scenarios/vision.toml")).unwrap();
    let attacks: Vec<&str> = plan
        .steps
        .iter()
        .map(|s| match &s.stress {
            stressor_scenario::plan::Stress::Attack(a) => a.kind.name(),
            _ => "other",
        })
        .collect();
    for attack in ["fgsm", "pgd", "apgd-ce", "square"] {
        assert!(attacks.contains(&attack), "demo lacks {attack}: {attacks:?}");
    }
    let demo = include_str!("../../stressor-cli/src/output.rs");
    assert!(demo.contains("scenarios/vision.toml"), "`stressor demo` embeds scenarios/vision.toml");
    let kinds = |f: fn(&stressor_scenario::plan::Stress) -> bool| {
        plan.steps.iter().filter(|s| f(&s.stress)).count()
    };
    assert_eq!(
        kinds(|s| matches!(s, stressor_scenario::plan::Stress::Corruption(_))),
        stressor_scenario::plan::Corruption::ALL.len()
    );
    assert!(
        plan.steps.iter().any(|s| s.dial_name == "kelvin"),
        "the demo sweeps colour temperature"
    );
}

fn check(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let expected: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("# expect: ")).collect();
    assert!(!expected.is_empty(), "{} has no `# expect:` line", path.display());
    let error = match stressor_scenario::load(path) {
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
    let error = stressor_scenario::load(Path::new("no/such/scenario.toml")).unwrap_err();
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
    let error = stressor_scenario::plan::plan(text, Path::new("two.toml")).unwrap_err();
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
    let plan = stressor_scenario::plan::plan(text, Path::new("s.toml")).unwrap();
    assert_eq!(plan.seed.value(), 7);
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
    let plan = stressor_scenario::plan::plan(text, Path::new("s.toml")).unwrap();
    let corruptions = stressor_scenario::plan::Corruption::ALL;
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
    let error = stressor_scenario::plan::plan(&gated, Path::new("s.toml")).unwrap_err();
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
    let plan = stressor_scenario::plan::plan(text, Path::new("dir/s.toml")).unwrap();
    let stressor_scenario::plan::TargetPlan::Onnx { path, input, probabilities } = &plan.target
    else {
        panic!("expected an ONNX target, got {:?}", plan.target);
    };
    assert_eq!(path, Path::new("dir/models/cnn.onnx"));
    assert!(input.channels_last && *probabilities);
    assert_eq!((input.scale, input.mean.len(), input.std.len()), (255.0, 3, 3));
    let stressor_scenario::plan::DataSource::Npz { path, images_key, layout, scale, .. } =
        &plan.data.source
    else {
        panic!("expected NPZ data, got {:?}", plan.data.source);
    };
    assert_eq!(path, Path::new("dir/data/test.npz"));
    assert_eq!(images_key, "x_test");
    assert_eq!(*layout, stressor_scenario::plan::ArrayLayout::Nhwc);
    assert_eq!(*scale, stressor_scenario::plan::ValueScale::Byte);
}

#[test]
fn the_system_scenario_surges_tenfold_and_schedules_faults() {
    let plan = stressor_scenario::load(&repo_root().join("scenarios/system.toml")).unwrap();
    let system = plan.system.expect("a [system] section");
    let stressor_load::Profile::Open { stages } = &system.profile else { panic!("open model") };
    let peak = stages.iter().map(|s| s.end_rate).fold(0.0, f64::max);
    assert_eq!(peak / system.baseline_rate(), 10.0);
    let names: Vec<&str> = system.faults.iter().map(|f| f.toxic.name.as_str()).collect();
    assert_eq!(names, ["slow-network", "server-errors"]);
    assert!(
        system.faults.iter().all(|f| f.stop.is_some_and(|stop| stop < system.profile.duration()))
    );
    assert!(system.gates.iter().any(|g| g.metric == "time_to_recover_s"));
}

#[test]
fn system_mistakes_name_the_key() {
    let base = r#"
name = "s"
[target]
kind = "builtin"
model = "fashion-cnn"
[data]
source = "builtin"
"#;
    let cases = [
        ("[system]\nstages = [\"10s@x\"]", "system.stages"),
        ("[system]\nstages = [\"10s@10\"]\nconnections = 0", "system.connections"),
        (
            "[system]\nstages = [\"10s@10\"]\n[[system.faults]]\ntype = \"latncy\"\nstart = \"1s\"",
            "system.faults[0]",
        ),
        (
            "[system]\nstages = [\"10s@10\"]\n[[system.faults]]\ntype = \"latency\"\nstart = \"20s\"",
            "system.faults[0].start",
        ),
        (
            "[system]\nstages = [\"10s@10\"]\n[[system.faults]]\ntype = \"latency\"\nattributes = { latncy = 5 }\nstart = \"1s\"",
            "system.faults[0]",
        ),
        (
            "[system]\nstages = [\"10s@10\"]\n[[system.gates]]\nmetric = \"p99_ms.nowhere\"\nmax = 1",
            "system.gates[0].metric",
        ),
        (
            "[system]\nstages = [\"10s@10\"]\n[system.recovery]\nsustain = \"soon\"",
            "system.recovery.sustain",
        ),
    ];
    for (section, key) in cases {
        let text = format!("{base}{section}\n");
        let error =
            stressor_scenario::plan::plan(&text, Path::new("s.toml")).unwrap_err().to_string();
        assert!(error.contains(key), "{section}:\n{error}");
    }
    let ok = format!(
        "{base}[system]\nstages = [\"2s@10\", \"1s@100\"]\n[[system.faults]]\nname = \"cut\"\ntype = \"reset_peer\"\nstart = \"1s\"\n[[system.gates]]\nmetric = \"time_to_recover_s.cut\"\nmax = 3\n[[system.gates]]\nmetric = \"p99_ms.surge\"\nmax = 300\n"
    );
    let plan = stressor_scenario::plan::plan(&ok, Path::new("s.toml")).unwrap();
    assert_eq!(plan.system.unwrap().gates.len(), 2);
}
