//! Replay and IPS on the Open Bandit Dataset's six small logs: the reference rankings and the
//! family's recommender with each fallback policy under a store outage.
//!
//! `replay_obd [OBD_DIR]` (default `target/obd`, which `cargo xtask fetch-obd` fills). For each
//! log the first half trains the recommender and the second half is replayed over one simulated
//! hour with the store down from minute 20 to minute 40. Prints one line per log and ranking:
//! replay CTR and IPS CTR with their 95 % intervals, matched and served rows.
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a measuring program: its table on stdout, errors on stderr"
)]

use std::path::PathBuf;

use stressor_core::{Estimate, Seed};
use stressor_recsys::fault::{Fault, FaultKind, Schedule};
use stressor_recsys::replay::{
    Estimates, LogFormat, Reference, popular_before, read_log, replay_recommender,
    replay_reference, split,
};
use stressor_recsys::service::{BreakerConfig, Policy};
use stressor_recsys::sim::SimConfig;

fn interval(e: &Estimate) -> String {
    let ci = e.ci.map_or(String::from("—"), |ci| format!("[{:.4}, {:.4}]", ci.lower, ci.upper));
    format!("{:.4} {ci}", e.value)
}

fn line(log: &str, name: &str, e: &Estimates) {
    println!(
        "{log:<24} {name:<18} replay {:<26} ips {:<26} matched {:>4}/{:<5} clicks {:>2} served {:.3}",
        interval(&e.replay_ctr),
        interval(&e.ips_ctr),
        e.matched,
        e.rows,
        e.matched_clicks,
        e.served_share.value
    );
}

fn main() {
    let dir = std::env::args().nth(1).map_or_else(|| PathBuf::from("target/obd"), PathBuf::from);
    let config = SimConfig { duration_s: 3600.0, ..SimConfig::default() };
    let outage = Schedule {
        faults: vec![Fault {
            name: "store-outage".into(),
            kind: FaultKind::StoreOutage,
            start: 1200.0,
            stop: 2400.0,
        }],
    };
    let seed = Seed::new(1);
    for behavior in ["random", "bts"] {
        for campaign in ["all", "men", "women"] {
            let name = format!("{behavior}/{campaign}/{campaign}.csv");
            let log = match read_log(&dir.join(&name), LogFormat::Obd) {
                Ok(log) => log,
                Err(error) => {
                    eprintln!("replay_obd: {error} (hint: cargo xtask fetch-obd)");
                    std::process::exit(3);
                }
            };
            let from = split(&log, 0.5);
            line(&name, "random", &replay_reference(&log, from, &Reference::Random, seed));
            let popular = Reference::Fixed(popular_before(&log, from));
            line(&name, "popularity", &replay_reference(&log, from, &popular, seed));
            line(
                &name,
                "past-popularity",
                &replay_reference(&log, from, &Reference::PastPopularity, seed),
            );
            let none = Schedule::default();
            let baseline = replay_recommender(&log, from, &config, Policy::None, &none, seed);
            line(&name, "baseline", &baseline.estimates);
            for policy in [
                Policy::None,
                Policy::Popular,
                Policy::LastKnownGood,
                Policy::ServeStale,
                Policy::CircuitBreaker(BreakerConfig::default()),
            ] {
                let out = replay_recommender(&log, from, &config, policy, &outage, seed);
                line(&name, policy.name(), &out.estimates);
            }
        }
    }
}
