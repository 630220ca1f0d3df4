//! The stress families this build knows, in the order their parts run; the only place the CLI
//! names them. `stressor run` and `stressor check` hand this list to
//! [`stressor_scenario::load`], which splits a scenario file among them by its top-level keys.

use stressor_scenario::Family;

/// Every family, in run order: vision (steady state, steps, mitigations) before `[system]`, so a
/// model scenario's systems run comes after its stress steps, as its gates do.
pub(crate) const FAMILIES: &[&dyn Family] = &[
    &stressor_vision::Vision,
    &stressor_system::System,
    &stressor_drift_scenario::Drift,
    &stressor_recsys::Recommender,
    &stressor_chatbot::Chatbot,
    &stressor_wargame::Wargame,
];

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use stressor_vision::plan::{Corruption, Stress};

    use super::FAMILIES;

    fn repo_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    #[test]
    fn every_shipped_scenario_plans_with_a_part_that_does_something() {
        let dir = repo_root().join("scenarios");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).expect("scenarios/ exists") {
            let path = entry.expect("readable entry").path();
            if path.extension().is_none_or(|e| e != "toml") {
                continue;
            }
            let scenario = stressor_scenario::load(&path, FAMILIES)
                .unwrap_or_else(|error| panic!("{} does not plan:\n{error}", path.display()));
            let vision = scenario.part::<stressor_vision::VisionPlan>();
            let does_something = vision.is_some_and(|v| !v.steps.is_empty())
                || scenario.part::<stressor_system::SystemPlan>().is_some()
                || scenario
                    .part::<stressor_drift_scenario::DriftPlan>()
                    .is_some_and(|d| !d.policies.is_empty() && !d.transforms.is_empty())
                || scenario.part::<stressor_recsys::RecsysPlan>().is_some_and(|r| {
                    (!r.policies.is_empty() || r.target.is_some()) && !r.schedule.faults.is_empty()
                })
                || scenario
                    .part::<stressor_chatbot::ChatbotPlan>()
                    .is_some_and(|c| !c.stresses.is_empty())
                || scenario
                    .part::<stressor_wargame::WargamePlan>()
                    .is_some_and(|w| !w.injects.is_empty() && !w.monitors.is_empty());
            assert!(does_something, "{} has no step, system run or drift", path.display());
            if let Some(context) = scenario.risk.as_ref().and_then(|r| r.context.as_ref()) {
                stressor_risk::Context::read(context).unwrap_or_else(|error| {
                    panic!("{}: its [risk] context does not read: {error}", path.display())
                });
            }
            let mut described = Vec::new();
            scenario.describe(&mut described).expect("writes to a Vec");
            let described = String::from_utf8(described).expect("UTF-8");
            assert!(
                !described.contains(" { ") && !described.contains("\"}"),
                "{}: `stressor check` prints Rust Debug:\n{described}",
                path.display()
            );
            n += 1;
        }
        assert!(n >= 6, "expected the shipped scenarios in {}, found {n}", dir.display());
    }

    #[test]
    fn the_demo_scenario_is_the_vision_scenario() {
        let scenario =
            stressor_scenario::load(&repo_root().join("scenarios/vision.toml"), FAMILIES)
                .expect("plans");
        let plan = scenario.part::<stressor_vision::VisionPlan>().expect("a vision part");
        let attacks: Vec<&str> = plan
            .steps
            .iter()
            .map(|s| match &s.stress {
                Stress::Attack(a) => a.kind.name(),
                _ => "other",
            })
            .collect();
        for attack in ["fgsm", "pgd", "apgd-ce", "square"] {
            assert!(attacks.contains(&attack), "demo lacks {attack}: {attacks:?}");
        }
        let demo = include_str!("cmd/demo.rs");
        assert!(
            demo.contains("scenarios/vision.toml"),
            "`stressor demo` embeds scenarios/vision.toml"
        );
        let corruptions =
            plan.steps.iter().filter(|s| matches!(s.stress, Stress::Corruption(_))).count();
        assert_eq!(corruptions, Corruption::ALL.len());
        assert!(
            plan.steps.iter().any(|s| s.dial_name == "kelvin"),
            "the demo sweeps colour temperature"
        );
    }

    #[test]
    fn the_system_scenario_surges_tenfold_and_schedules_faults() {
        let scenario =
            stressor_scenario::load(&repo_root().join("scenarios/system.toml"), FAMILIES)
                .expect("plans");
        let system = scenario.part::<stressor_system::SystemPlan>().expect("a [system] section");
        let stressor_load::Profile::Open { stages } = &system.profile else { panic!("open model") };
        let peak = stages.iter().map(|s| s.end_rate).fold(0.0, f64::max);
        assert_eq!(peak / system.baseline_rate(), 10.0);
        let names: Vec<&str> = system.faults.iter().map(|f| f.toxic.name.as_str()).collect();
        assert_eq!(names, ["slow-network", "server-errors"]);
        assert!(
            system
                .faults
                .iter()
                .all(|f| f.stop.is_some_and(|stop| stop < system.profile.duration()))
        );
        assert!(system.gates.iter().any(|g| g.metric == "time_to_recover_s"));
    }

    /// The families that bring their own model and data refuse a `[target]`/`[data]`, naming
    /// the key, through the one `Planner::refuse_subject`.
    #[test]
    fn families_with_their_own_model_refuse_a_target() {
        let subject = "\n[target]\nkind = \"builtin\"\nmodel = \"fashion-cnn\"\n\n[data]\nsource = \"builtin\"\nsplit = \"test\"\nsamples = 10\n";
        for (name, brings) in [
            ("credit-drift", "a drift scenario brings its own data and model"),
            ("recommender", "a recommender scenario brings its own world"),
            ("chatbot", "a chatbot scenario brings its own chatbot"),
            ("war-game", "a war game brings its own fleet"),
        ] {
            let path = repo_root().join(format!("scenarios/{name}.toml"));
            let text = std::fs::read_to_string(&path).expect("a shipped scenario");
            let error = stressor_scenario::plan(&format!("{text}{subject}"), &path, FAMILIES)
                .expect_err("refused");
            let message = error.to_string();
            assert!(
                message.contains(brings) && message.contains("belong to model scenarios"),
                "{name}: {message}"
            );
        }
    }

    /// The shipped scenarios' texts, for the property below.
    fn shipped() -> Vec<(PathBuf, String)> {
        let mut out: Vec<(PathBuf, String)> = std::fs::read_dir(repo_root().join("scenarios"))
            .expect("scenarios/ exists")
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|e| e == "toml"))
            .map(|path| {
                let text = std::fs::read_to_string(&path).expect("readable");
                (path, text)
            })
            .collect();
        out.sort();
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2048, ..Default::default() })]

        /// A scenario is outside input: a shipped one with a line deleted, a line replaced by
        /// another line of any shipped scenario, or characters inserted plans or fails with a
        /// `ScenarioError`, never panics.
        #[test]
        fn mutated_shipped_scenarios_plan_or_fail_with_an_error(
            which in proptest::prelude::any::<usize>(),
            edits in proptest::collection::vec(
                (0u8..3, proptest::prelude::any::<usize>(), proptest::prelude::any::<usize>(), "[\\x20-\\x7e]{0,6}"),
                1..4,
            ),
        ) {
            let scenarios = shipped();
            let donors: Vec<&str> = scenarios.iter().flat_map(|(_, t)| t.lines()).collect();
            let (path, text) = &scenarios[which % scenarios.len()];
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            for (kind, at, other, insert) in edits {
                if lines.is_empty() {
                    break;
                }
                let i = at % lines.len();
                match kind {
                    0 => {
                        lines.remove(i);
                    }
                    1 => lines[i] = donors[other % donors.len()].to_string(),
                    _ => {
                        let line = &mut lines[i];
                        let cut = line.char_indices().map(|(k, _)| k).nth(other % (line.chars().count() + 1)).unwrap_or(line.len());
                        line.insert_str(cut, &insert);
                    }
                }
            }
            let _ = stressor_scenario::plan(&lines.join("\n"), path, FAMILIES);
        }
    }
}
