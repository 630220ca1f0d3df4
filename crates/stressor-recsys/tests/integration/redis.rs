use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use stressor_core::Seed;
use stressor_recsys::fault::{Fault, FaultKind, Schedule};
use stressor_recsys::redis_store::{RedisStore, check};
use stressor_recsys::service::Policy;
use stressor_recsys::sim::{Ranking, RunOutput, SimConfig, Warm, run, warm_up};
use stressor_recsys::store::OnlineStore;
use stressor_recsys::world::{World, WorldConfig};

/// A `redis-server` on a free loopback port, killed when dropped.
pub(crate) struct Redis {
    child: Child,
    pub(crate) url: String,
    _dir: PathBuf,
}

impl Redis {
    pub(crate) fn start(name: &str) -> Redis {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir =
            std::env::temp_dir().join(format!("stressor-redis-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "no", "--dir"])
            .arg(&dir)
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start redis-server ({e}): these tests need a real Redis; run \
                     `cargo xtask test`, which installs it (Debian's `redis-server` package)"
                )
            });
        let redis = Redis { child, url: format!("redis://127.0.0.1:{port}"), _dir: dir };
        let started = Instant::now();
        while check(&redis.url).is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        redis
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn small() -> (Warm, SimConfig) {
    let world = Arc::new(World::new(
        WorldConfig { users: 300, items: 200, sessions_per_second: 5.0, ..WorldConfig::default() },
        Seed::new(5),
    ));
    let config = SimConfig { duration_s: 600.0, warmup_s: 1800.0, ..SimConfig::default() };
    (warm_up(world, &config, Seed::new(5)), config)
}

fn runtime() -> Arc<tokio::runtime::Runtime> {
    Arc::new(
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap(),
    )
}

/// A store outage from 2 to 4 minutes.
fn outage() -> Schedule {
    Schedule {
        faults: vec![Fault {
            name: "store_outage".into(),
            kind: FaultKind::StoreOutage,
            start: 120.0,
            stop: 240.0,
        }],
    }
}

/// The counts a run reports per bucket (latency aside, which includes measured work).
fn counts(out: &RunOutput) -> Vec<[u64; 7]> {
    out.points
        .iter()
        .map(|p| {
            [
                p.requests,
                p.errors,
                p.cache_hits,
                p.fallbacks,
                p.impressions,
                p.clicks,
                p.feature_reads,
            ]
        })
        .collect()
}

#[test]
fn redis_gives_the_in_process_runs_outages_included() {
    let redis = Redis::start("same");
    let (warm, config) = small();
    let runtime = runtime();
    let schedule = outage();
    for policy in [Policy::None, Policy::LastKnownGood] {
        let ranking = Ranking::Service(policy);
        let memory = run(&warm, &config, ranking, &schedule, Seed::new(9), &mut warm.store.clone());
        let mut store = RedisStore::start(
            &redis.url,
            policy.name(),
            &warm.store,
            runtime.clone(),
            Seed::new(1),
        )
        .unwrap();
        let in_redis = run(&warm, &config, ranking, &schedule, Seed::new(9), &mut store);
        assert_eq!(counts(&in_redis), counts(&memory), "{policy:?}");
        assert_eq!(in_redis.fates, memory.fates, "{policy:?}");
        assert_eq!(in_redis.freshness, memory.freshness, "{policy:?}");
        assert_eq!(in_redis.revenue, memory.revenue, "{policy:?}");
        // The outage was real for the client: errors (no policy) or fallbacks during it only.
        let hurt = |p: &stressor_core::RecsysPoint| p.errors + p.fallbacks;
        let during: u64 =
            in_redis.points.iter().filter(|p| (120.0..240.0).contains(&p.t)).map(hurt).sum();
        let outside: u64 =
            in_redis.points.iter().filter(|p| !(120.0..240.0).contains(&p.t)).map(hurt).sum();
        assert!(during > 100 && outside == 0, "{policy:?}: {during} during, {outside} outside");
        assert!(in_redis.fates.write_failures > 0, "the stream job's writes failed too");
    }
}

#[test]
fn the_store_keeps_feasts_layout_and_write_rule() {
    let redis = Redis::start("layout");
    let (warm, _) = small();
    let mut store =
        RedisStore::start(&redis.url, "layout", &warm.store, runtime(), Seed::new(1)).unwrap();
    let client = ::redis::Client::open(redis.url.as_str()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let mut fields: Vec<String> =
        ::redis::cmd("HKEYS").arg("stressor:layout:user:0").query(&mut conn).unwrap();
    fields.sort();
    let mut expected = vec!["_fresh:user_profile", "_ts:user_profile", "user_profile:embedding"];
    if warm.store.rows().0[0].recent.is_some() {
        expected.extend(["_fresh:user_recent", "_ts:user_recent", "user_recent:items"]);
        expected.sort_unstable();
    }
    assert_eq!(fields, expected);
    let rec =
        |items: Vec<u32>, ts: f64| stressor_recsys::store::Record { value: items, ts, fresh: ts };
    use stressor_recsys::store::Write;
    assert_eq!(store.write_recent(0, rec(vec![3, 1], 10.5)).unwrap(), Write::Applied);
    assert_eq!(store.write_recent(0, rec(vec![4], 9.0)).unwrap(), Write::Stale);
    assert_eq!(store.write_recent(0, rec(vec![5], 10.5)).unwrap(), Write::Stale);
    let row = store.user(0).unwrap();
    assert_eq!(row.recent.map(|r| (r.value, r.ts)), Some((vec![3, 1], 10.5)));
    assert_eq!(row.profile, warm.store.rows().0[0].profile);
    let ts: String = ::redis::cmd("HGET")
        .arg("stressor:layout:user:0")
        .arg("_ts:user_recent")
        .query(&mut conn)
        .unwrap();
    assert_eq!(ts, "10.5");
    // Nonsense in Redis is an error the caller counts, not a panic.
    let _: () = ::redis::cmd("HSET")
        .arg("stressor:layout:user:1")
        .arg("user_recent:items")
        .arg("abc")
        .arg("_ts:user_recent")
        .arg("1")
        .arg("_fresh:user_recent")
        .arg("1")
        .query(&mut conn)
        .unwrap();
    let error = store.user(1).unwrap_err();
    assert!(error.to_string().contains("malformed user_recent"), "{error}");
    // The run's keys go when the store does.
    drop(store);
    let left: Vec<String> = ::redis::cmd("KEYS").arg("stressor:layout:*").query(&mut conn).unwrap();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_redis_lost_mid_run_is_counted_and_the_run_ends() {
    let mut redis = Redis::start("lost");
    let (warm, config) = small();
    let mut store =
        RedisStore::start(&redis.url, "lost", &warm.store, runtime(), Seed::new(1)).unwrap();
    redis.child.kill().unwrap();
    redis.child.wait().unwrap();
    let out = run(
        &warm,
        &config,
        Ranking::Service(Policy::Popular),
        &Schedule::default(),
        Seed::new(9),
        &mut store,
    );
    let requests: u64 = out.points.iter().map(|p| p.requests).sum();
    let fallbacks: u64 = out.points.iter().map(|p| p.fallbacks).sum();
    assert!(requests > 1000);
    assert_eq!(fallbacks, requests, "every request fell back to the popular list");
    assert!(out.fates.write_failures > 0);
}

#[test]
fn an_unreachable_redis_is_named() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("redis://127.0.0.1:{port}");
    let error = check(&url).unwrap_err().to_string();
    assert!(error.contains(&url) && error.contains("cannot reach"), "{error}");
}
