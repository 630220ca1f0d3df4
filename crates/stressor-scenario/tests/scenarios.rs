//! Scenario files: every shipped scenario plans, and every bad one fails with an error that
//! names the file, line and key.
//!
//! Bad scenarios live in `tests/data/bad/*.toml`; the first line of each is
//! `# expect: <text the error must contain>` (several `# expect:` lines may follow).

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
            let plan = stressor_scenario::load(&path)
                .unwrap_or_else(|error| panic!("{} does not plan:\n{error}", path.display()));
            assert!(!plan.steps.is_empty(), "{} has no step", path.display());
            n += 1;
        }
    }
    assert!(n >= 1, "no scenario found in {}", dir.display());
}

#[test]
fn the_demo_scenario_is_the_vision_scenario() {
    let plan =
        stressor_scenario::load(&repo_root().join("scenarios/vision-adversarial.toml")).unwrap();
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
