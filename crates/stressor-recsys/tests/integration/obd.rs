//! Replay and IPS on the Open Bandit Dataset agree with the Open Bandit Pipeline (obp 0.4.1):
//! `tests/fixtures/obd.json`, written by `tests/fixtures/make_obd.py` from the logs that
//! `tests/fixtures/fetch_obd.py` fetches (the data is not committed: its licence does not
//! clearly allow redistribution). `cargo xtask test` fetches them and passes their folder as
//! `STRESSOR_OBD_DIR`.

use std::path::PathBuf;

use stressor_core::Seed;
use stressor_recsys::replay::{LogFormat, Reference, read_log, replay_reference};

/// The fetched logs' folder: `STRESSOR_OBD_DIR`, else `target/obd` under the workspace.
fn obd_dir() -> PathBuf {
    let dir = std::env::var_os("STRESSOR_OBD_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/obd"),
        PathBuf::from,
    );
    assert!(
        dir.join("random/all/all.csv").is_file(),
        "the Open Bandit Dataset is not in {} (STRESSOR_OBD_DIR): run `cargo xtask fetch-obd` \
         (or `python3 crates/stressor-recsys/tests/fixtures/fetch_obd.py DIR` and set \
         STRESSOR_OBD_DIR=DIR); `cargo xtask test` does it for you",
        dir.display()
    );
    dir
}

fn close(ours: f64, theirs: f64, what: &str) {
    assert!(
        (ours - theirs).abs() <= 1e-12 * theirs.abs().max(1.0),
        "{what}: ours {ours}, obp {theirs}"
    );
}

#[test]
fn replay_and_ips_agree_with_obp_on_the_open_bandit_dataset() {
    let dir = obd_dir();
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/obd.json")).unwrap();
    let logs = fixture["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 6);
    for entry in logs {
        let name = entry["log"].as_str().unwrap();
        let log = read_log(&dir.join(name), LogFormat::Obd).unwrap();
        assert_eq!(log.rows.len() as u64, entry["rows"].as_u64().unwrap(), "{name}");
        assert_eq!(log.items as u64, entry["items"].as_u64().unwrap(), "{name}");
        assert_eq!(log.positions as u64, entry["positions"].as_u64().unwrap(), "{name}");
        let clicks = log.rows.iter().filter(|r| r.click).count() as u64;
        assert_eq!(clicks, entry["clicks"].as_u64().unwrap(), "{name}");
        for (policy, expect) in entry["policies"].as_object().unwrap() {
            let reference = match policy.as_str() {
                "past-popularity" => Reference::PastPopularity,
                "first-items" => Reference::Fixed((0..log.positions as u32).collect()),
                other => panic!("unknown policy {other}"),
            };
            let what = format!("{name} {policy}");
            let e = replay_reference(&log, 0, &reference, Seed::new(12345));
            assert_eq!(e.matched, expect["matched"].as_u64().unwrap(), "{what}");
            assert_eq!(e.matched_clicks, expect["matched_clicks"].as_u64().unwrap(), "{what}");
            let value = |key: &str, bound: &str| expect[key][bound].as_f64().unwrap();
            close(e.replay_ctr.value, value("replay", "value"), &format!("{what} replay"));
            close(e.ips_ctr.value, value("ipw", "value"), &format!("{what} ipw"));
            // Both IPS intervals are percentile bootstraps of the same per-row terms with 10 000
            // resamples; they differ only by resampling noise.
            let ci = e.ips_ctr.ci.unwrap();
            let (lower, upper) = (value("ipw", "lower"), value("ipw", "upper"));
            let slack = 0.1 * (upper - lower) + 1e-12;
            assert!(
                (ci.lower - lower).abs() <= slack && (ci.upper - upper).abs() <= slack,
                "{what} ipw interval: ours [{}, {}], obp [{lower}, {upper}]",
                ci.lower,
                ci.upper
            );
            // The replay interval is Wilson's, which covers obp's value and, unlike obp's
            // bootstrap, does not collapse to a point when no matched row was clicked.
            let wilson = e.replay_ctr.ci.unwrap();
            assert!(
                wilson.lower <= value("replay", "value")
                    && value("replay", "value") <= wilson.upper
            );
            assert!(wilson.upper > wilson.lower, "{what}");
        }
    }
}

#[test]
fn the_recommender_replays_on_the_open_bandit_dataset_under_a_store_outage() {
    use stressor_recsys::fault::{Fault, FaultKind, Schedule};
    use stressor_recsys::replay::{replay_recommender, split};
    use stressor_recsys::service::Policy;
    use stressor_recsys::sim::SimConfig;

    let log = read_log(&obd_dir().join("random/men/men.csv"), LogFormat::Obd).unwrap();
    let from = split(&log, 0.5);
    let config = SimConfig { duration_s: 3600.0, ..SimConfig::default() };
    let outage = Schedule {
        faults: vec![Fault {
            name: "down".into(),
            kind: FaultKind::StoreOutage,
            start: 1200.0,
            stop: 2400.0,
        }],
    };
    let seed = Seed::new(1);
    let none = replay_recommender(&log, from, &config, Policy::None, &outage, seed);
    assert_eq!(none.estimates.rows as usize, log.rows.len() - from);
    assert!(none.training_clicks > 0);
    // A third of the replay is in the outage; cached answers still show.
    let served = none.estimates.served_share.value;
    assert!((0.6..0.8).contains(&served), "{served}");
    let popular = replay_recommender(&log, from, &config, Policy::Popular, &outage, seed);
    assert_eq!(popular.estimates.served, popular.estimates.rows);
    assert!(popular.fallbacks > 1000, "{}", popular.fallbacks);
    // The same seed gives the same replay.
    let again = replay_recommender(&log, from, &config, Policy::None, &outage, seed);
    assert_eq!(again, none);
}
