//! Planning the system family: mistakes in `[system]` name their key, a good section plans.
//! (The shipped `scenarios/system.toml` is planned with every family by stressor-cli.)
#![expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]

use std::path::Path;

use stressor_scenario::{Scenario, ScenarioError};
use stressor_system::{System, SystemPlan};

fn plan(text: &str, path: &str) -> Result<Scenario, ScenarioError> {
    stressor_scenario::plan(text, Path::new(path), &[&System])
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
        let error = plan(&text, "s.toml").unwrap_err().to_string();
        assert!(error.contains(key), "{section}:\n{error}");
    }
    let ok = format!(
        "{base}[system]\nstages = [\"2s@10\", \"1s@100\"]\n[[system.faults]]\nname = \"cut\"\ntype = \"reset_peer\"\nstart = \"1s\"\n[[system.gates]]\nmetric = \"time_to_recover_s.cut\"\nmax = 3\n[[system.gates]]\nmetric = \"p99_ms.surge\"\nmax = 300\n"
    );
    let scenario = plan(&ok, "s.toml").unwrap();
    assert_eq!(scenario.part::<SystemPlan>().unwrap().gates.len(), 2);
}
