//! The war-game family end to end: a file plans, each mistake names its key (cyclic action
//! chains and unknown names included); a short game over the served fleet detects a tampered
//! artefact within a tick and rolls it back through the registry, sheds a flood, and the team
//! without a defence plays the same timeline without acting; the same seed gives the same
//! timeline.
#![expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]

use std::path::Path;

use stressor_core::{EntryKind, Event, ManualClock, Side};
use stressor_report::Collector;
use stressor_scenario::EngineConfig;
use stressor_wargame::{Wargame, WargamePlan};

fn plan(text: &str) -> Result<stressor_scenario::Scenario, String> {
    stressor_scenario::plan(text, Path::new("w.toml"), &[&Wargame]).map_err(|e| e.to_string())
}

#[test]
fn a_good_file_plans() {
    let scenario = plan(
        r#"
name = "bank"
[wargame]
duration = "12h"
tick = "30m"
seeds = 3
[[wargame.injects]]
id = "late"
at = "6h"
model = "credit"
technique = "tamper"
[[wargame.injects]]
at = "1h"
duration = "2h"
model = "chatbot"
technique = "dos"
multiple = 5
[[wargame.monitors]]
id = "integrity"
model = "credit"
metric = "integrity"
then = "rollback"
[[wargame.actions]]
id = "rollback"
kind = "rollback"
model = "credit"
then = "retrain"
[[wargame.actions]]
id = "retrain"
kind = "retrain"
model = "credit"
[[wargame.gates]]
metric = "mttd_s.late"
max = 3600
[[wargame.gates]]
team = "no-defence"
metric = "impact.approvals_lost.female"
max = 100
"#,
    )
    .unwrap();
    let p = scenario.part::<WargamePlan>().unwrap();
    assert_eq!(p.duration_s, 43_200.0);
    assert_eq!(p.seeds, 3);
    let ids: Vec<&str> = p.injects.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["dos-chatbot", "late"], "sorted by start, ids defaulted");
    assert_eq!(p.injects[0].end_s, 3.0 * 3600.0);
    assert_eq!(p.injects[1].end_s, p.injects[1].at_s, "a tamper is instantaneous");
    assert_eq!(p.injects[1].technique.atlas(), ["AML.T0010.003", "AML.T0018"]);
    assert_eq!(p.monitors[0].then, Some(0));
    assert_eq!(p.actions[0].then, Some(1));
    assert_eq!(p.gates.len(), 2);
    assert_eq!(p.gates[1].step_id, "war-game/no-defence");
}

#[test]
fn each_mistake_names_its_key() {
    let cases = [
        (
            "[[wargame.injects]]\nat = \"1h\"\nmodel = \"bank\"\ntechnique = \"dos\"",
            "wargame.injects[0].model",
        ),
        (
            "[[wargame.injects]]\nat = \"1h\"\nmodel = \"credit\"\ntechnique = \"flood\"",
            "wargame.injects[0].technique",
        ),
        (
            "[[wargame.injects]]\nat = \"1h\"\nmodel = \"fraud\"\ntechnique = \"label_flip\"",
            "wargame.injects[0].model",
        ),
        (
            "[[wargame.injects]]\nat = \"1h\"\nmodel = \"credit\"\ntechnique = \"label_flip\"\ngroup = \"martians\"",
            "wargame.injects[0].group",
        ),
        (
            "[[wargame.injects]]\nat = \"1h\"\nmodel = \"credit\"\ntechnique = \"tamper\"\nmultiple = 3",
            "wargame.injects[0].multiple",
        ),
        (
            "[[wargame.injects]]\nat = \"30h\"\nmodel = \"credit\"\ntechnique = \"tamper\"",
            "wargame.injects[0].at",
        ),
        (
            "[[wargame.monitors]]\nid = \"m\"\nmodel = \"credit\"\nmetric = \"vibes\"\nbelow = 1",
            "wargame.monitors[0].metric",
        ),
        (
            "[[wargame.monitors]]\nid = \"m\"\nmodel = \"chatbot\"\nmetric = \"dp_ratio\"\nbelow = 0.8",
            "wargame.monitors[0].metric",
        ),
        (
            "[[wargame.monitors]]\nid = \"m\"\nmodel = \"credit\"\nmetric = \"dp_ratio\"",
            "wargame.monitors[0]",
        ),
        (
            "[[wargame.monitors]]\nid = \"m\"\nmodel = \"credit\"\nmetric = \"dp_ratio\"\nbelow = 0.8\nthen = \"nothing\"",
            "wargame.monitors[0].then",
        ),
        (
            "[[wargame.actions]]\nid = \"a\"\nkind = \"reboot\"\nmodel = \"credit\"",
            "wargame.actions[0].kind",
        ),
        (
            "[[wargame.actions]]\nid = \"a\"\nkind = \"shed\"\nmodel = \"credit\"",
            "wargame.actions[0].model",
        ),
        (
            "[[wargame.actions]]\nid = \"a\"\nkind = \"rollback\"\nmodel = \"credit\"\nthen = \"b\"\n[[wargame.actions]]\nid = \"b\"\nkind = \"retrain\"\nmodel = \"credit\"\nthen = \"a\"",
            "wargame.actions[0].then",
        ),
        ("[wargame.registry]\nbackend = \"mlflow\"", "wargame.registry.url"),
        ("[wargame.registry]\nbackend = \"s3\"", "wargame.registry.backend"),
        (
            "[[wargame.gates]]\nteam = \"red\"\nmetric = \"blue_score\"\nmin = 1",
            "wargame.gates[0].team",
        ),
        ("[[wargame.gates]]\nmetric = \"mttd_s.nope\"\nmax = 1", "wargame.gates[0].metric"),
        ("tick = \"0s\"", "wargame.tick"),
        ("clock = \"lunar\"", "wargame.clock"),
    ];
    for (body, key) in cases {
        let (head, rest) = if body.starts_with('[') { ("", body) } else { (body, "") };
        let text = format!("name = \"w\"\n[wargame]\n{head}\n{rest}\n");
        let error = plan(&text).expect_err(body);
        assert!(error.contains(key), "{body}\nshould name {key}:\n{error}");
    }
    let cycle = plan(
        "name = \"w\"\n[wargame]\n[[wargame.actions]]\nid = \"a\"\nkind = \"rollback\"\nmodel = \"credit\"\nthen = \"b\"\n[[wargame.actions]]\nid = \"b\"\nkind = \"retrain\"\nmodel = \"credit\"\nthen = \"a\"\n",
    )
    .unwrap_err();
    assert!(cycle.contains("a → b → a"), "the cycle is spelled out: {cycle}");
}

const GAME: &str = r#"
name = "short"
seed = 3
[wargame]
duration = "4h"
tick = "20m"
[wargame.credit]
retrain_every = "40m"
label_delay = "10m"
applications_per_hour = 400
[wargame.fraud]
training_rows = 4000
transactions_per_hour = 300
[wargame.chatbot]
queries_per_hour = 120
flood_window = "100ms"
[[wargame.injects]]
id = "swap"
at = "1h"
model = "credit"
technique = "tamper"
[[wargame.injects]]
id = "flood"
at = "2h"
duration = "40m"
model = "chatbot"
technique = "dos"
multiple = 20
[[wargame.monitors]]
id = "integrity"
model = "credit"
metric = "integrity"
then = "rollback"
[[wargame.monitors]]
id = "errors"
model = "chatbot"
metric = "error_rate"
window = "20m"
above = 0.05
min_cases = 5
then = "shed"
[[wargame.actions]]
id = "rollback"
kind = "rollback"
model = "credit"
[[wargame.actions]]
id = "shed"
kind = "shed"
model = "chatbot"
per_client_rps = 5
"#;

fn run_game(cache: &Path) -> (stressor_report::RunRecord, usize) {
    let scenario = plan(GAME).unwrap();
    let config = EngineConfig { cache_dir: Some(cache.to_path_buf()), ..EngineConfig::default() };
    let mut collector = Collector::new();
    let mut live = 0;
    let mut sink = |event: &Event| {
        if matches!(event, Event::Live(_)) {
            live += 1;
        }
        stressor_core::EventSink::event(&mut collector, event);
    };
    stressor_scenario::run(&scenario, &config, &ManualClock::default(), &mut sink).unwrap();
    (collector.into_record().unwrap(), live)
}

#[test]
fn a_short_game_detects_acts_and_recovers_and_the_undefended_team_does_not_act() {
    let cache = std::env::temp_dir().join(format!("stressor-wargame-test-{}", std::process::id()));
    let (record, live) = run_game(&cache);
    assert_eq!(live, 2 * 12, "one live reading per tick per team");
    let ids: Vec<&str> = record.steps.iter().map(|s| s.info.id.as_str()).collect();
    assert_eq!(ids, ["war-game/defended", "war-game/no-defence"]);
    let defended = &record.wargame_details[0];
    let undefended = &record.wargame_details[1];
    // The tamper is caught by the integrity monitor at the end of its tick and rolled back.
    let swap = defended.incidents.iter().find(|i| i.inject == "swap").unwrap();
    assert_eq!(swap.detected_by, "integrity");
    assert_eq!(swap.mttd_s.unwrap().value, 1200.0, "one tick");
    assert_eq!(swap.mtta_s.unwrap().value, 1200.0);
    let rollback = defended.alias_changes.iter().find(|m| m.actor == "blue").unwrap();
    assert_eq!(
        (rollback.alias.as_str(), rollback.from, rollback.to),
        ("champion", Some(2), Some(1))
    );
    assert_eq!(swap.effort[0].0, "artefacts_written");
    // The flood is real: requests were sent, the error monitor fired and the shed acted.
    let flood = defended.incidents.iter().find(|i| i.inject == "flood").unwrap();
    assert!(
        flood.effort.iter().any(|(what, n)| what == "requests" && n.value > 100.0),
        "{:?}",
        flood.effort
    );
    assert_eq!(flood.detected_by, "errors");
    assert!(defended.timeline.iter().any(|e| e.kind == EntryKind::Action && e.id == "shed"));
    // Nobody acts for the team without a defence, but its monitors still see the tamper.
    assert!(
        undefended.timeline.iter().all(|e| e.side != Side::Blue || e.kind == EntryKind::Detection)
    );
    let swap = undefended.incidents.iter().find(|i| i.inject == "swap").unwrap();
    assert!(swap.mtta_s.is_none());
    assert_eq!(swap.mttd_s.unwrap().value, 1200.0);
    // The tampered model discriminates: without a rollback, approvals of the unprivileged group
    // collapse, so the undefended team loses more of its good applicants.
    let lost = |d: &stressor_core::WargameDetail| {
        d.impact
            .iter()
            .find(|r| r.metric == "approvals_lost" && r.group == "female")
            .unwrap()
            .value
            .value
    };
    assert!(lost(undefended) > lost(defended), "{} vs {}", lost(undefended), lost(defended));
    // Every series has one point per tick.
    assert!(defended.series.iter().all(|s| s.points.len() == 12));
    // Same seed, same game: the timeline's red and scheduled entries and the detections agree.
    let (again, _) = run_game(&cache);
    let key = |d: &stressor_core::WargameDetail| -> Vec<(u64, String, String)> {
        d.timeline
            .iter()
            .filter(|e| e.model == "credit")
            .map(|e| (e.t_s as u64, e.kind.as_str().to_string(), e.id.clone()))
            .collect()
    };
    assert_eq!(key(&again.wargame_details[0]), key(defended));
    let _ = std::fs::remove_dir_all(&cache);
}
