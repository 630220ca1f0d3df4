//! The stressor side of `bench/recsys-vs-recogym`: simulated user sessions per second.
//!
//! `sessions USERS ITEMS SIM_SECONDS SESSIONS_PER_SECOND` builds a world of that size, warms it
//! up (not timed), then times one run of `SIM_SECONDS` of traffic whose slates are drawn at
//! random (the same policy the RecoGym side logs with): arrivals, RecSim's cascade and logit
//! choice, conversion, and the events through the pipeline into the in-process store. Prints
//! JSON: sessions, pages, clicks, seconds, sessions per second.
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark program: its result on stdout, usage on stderr"
)]

use std::sync::Arc;
use std::time::Instant;

use stressor_core::Seed;
use stressor_recsys::fault::Schedule;
use stressor_recsys::sim::{Ranking, SimConfig, run, warm_up};
use stressor_recsys::world::{World, WorldConfig};

fn main() {
    let args: Vec<f64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let [users, items, seconds, rate] = args[..] else {
        eprintln!("usage: sessions USERS ITEMS SIM_SECONDS SESSIONS_PER_SECOND");
        std::process::exit(2);
    };
    let seed = Seed::new(7);
    let world = Arc::new(World::new(
        WorldConfig {
            users: users as usize,
            items: items as usize,
            sessions_per_second: rate,
            ..WorldConfig::default()
        },
        seed.derive("world"),
    ));
    let config = SimConfig { duration_s: seconds, warmup_s: 600.0, ..SimConfig::default() };
    let warm = warm_up(world, &config, seed.derive("warm-up"));
    let sessions = warm.world.sessions(seconds, seed.derive("traffic").derive("sessions")).len();
    let started = Instant::now();
    let out = run(
        &warm,
        &config,
        Ranking::Random,
        &Schedule::default(),
        seed.derive("traffic"),
        &mut warm.store.clone(),
    );
    let wall = started.elapsed().as_secs_f64();
    let pages: u64 = out.points.iter().map(|p| p.requests).sum();
    let clicks: u64 = out.points.iter().map(|p| p.clicks).sum();
    println!(
        "{{\"sessions\": {sessions}, \"pages\": {pages}, \"clicks\": {clicks}, \"seconds\": {wall:.4}, \
         \"sessions_per_second\": {:.1}}}",
        sessions as f64 / wall
    );
}
