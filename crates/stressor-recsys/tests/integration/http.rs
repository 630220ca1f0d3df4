//! A user's own recommender over HTTP (`[recommender.target] kind = "http"`): stressor's own
//! served recommender (`stressor serve --recommender`'s endpoint) backed by a real Redis behind
//! a Toxiproxy-compatible proxy, driven by the simulated users on the wall clock; and a
//! misbehaving service whose bad answers must be counted, not crash the run.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::routing::post;
use serde_json::{Value, json};
use stressor_core::Seed;
use stressor_proxy::{ApiServer, Protocol, ProxyConfig, Registry};
use stressor_recsys::RecsysPlan;
use stressor_recsys::remote::{HttpTarget, Ids, check, run};
use stressor_recsys::serve::{Endpoint, serve};
use stressor_recsys::service::Policy;
use stressor_recsys::world::World;

use crate::redis::Redis;

fn plan(text: &str) -> RecsysPlan {
    let scenario =
        stressor_scenario::plan(text, "http.toml".as_ref(), &[&stressor_recsys::Recommender])
            .unwrap_or_else(|e| panic!("{e}"));
    scenario.part::<RecsysPlan>().unwrap().clone()
}

const WORLD: &str = r#"
[recommender.world]
users = 300
items = 200
sessions_per_second = 12.0
[recommender.users]
think_time = "1s"
"#;

fn runtime() -> Arc<tokio::runtime::Runtime> {
    Arc::new(
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap(),
    )
}

/// Serves `app` on a free loopback port on `runtime`; returns its address.
fn spawn(runtime: &tokio::runtime::Runtime, app: axum::Router) -> SocketAddr {
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move { axum::serve(listener, app).await });
    addr
}

#[test]
fn a_redis_outage_through_the_proxy_api_sends_the_service_to_its_fallback() {
    let redis = Redis::start("http-target");
    let side = runtime();
    // The proxy the service's Redis traffic goes through, with its Toxiproxy API.
    let registry = Registry::new(Seed::new(3), None);
    let redis_port = redis.url.rsplit(':').next().unwrap().to_string();
    let proxy = side
        .block_on(registry.create(ProxyConfig {
            name: "redis".into(),
            listen: "127.0.0.1:0".parse().unwrap(),
            upstream: format!("127.0.0.1:{redis_port}"),
            enabled: true,
            protocol: Protocol::Tcp,
        }))
        .unwrap();
    let api = side.block_on(ApiServer::bind("127.0.0.1:0".parse().unwrap(), registry)).unwrap();
    // The user's service: the built-in recommender with the popular-list fallback, its store
    // in Redis through that proxy.
    let served = plan(&format!(
        "name = \"shop\"\n[recommender]\nfeature_store = \"redis://{}\"\n{WORLD}",
        proxy.listen_addr()
    ));
    let seed = Seed::new(11);
    let endpoint = Arc::new(Endpoint::build(&served, Policy::Popular, false, seed, &side).unwrap());
    let server_rt = runtime();
    let listener = server_rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let service = listener.local_addr().unwrap();
    server_rt.spawn(serve(listener, endpoint, std::future::pending()));
    // The scenario that tests it: the same world (same seed), a store outage from 3 s to 6 s.
    let tester = plan(&format!(
        r#"
name = "your shop"
[recommender]
duration = "9s"
bucket = "1s"
[recommender.target]
kind = "http"
url = "http://{service}/recommend"
body = '{{"user": {{user}}, "k": {{k}}, "context": {{"page": {{page}}}}}}'
source = "/source"
timeout = "2s"
[recommender.target.events]
url = "http://{service}/events"
body = '{{"kind": "{{kind}}", "user": {{user}}, "item": {{item}}}}'
[recommender.target.store_proxy]
api = "http://{}"
proxy = "redis"
[[recommender.faults]]
kind = "store_outage"
start = "3s"
stop = "6s"
{WORLD}"#,
        api.local_addr()
    ));
    let target = tester.target.clone().unwrap();
    check(&target).unwrap();
    let world = Arc::new(World::new(tester.world.clone(), seed.derive("world")));
    let ids = Arc::new(Ids::numbered(world.users(), world.items()));
    let out = run(world, ids, &target, &tester.sim, &tester.schedule, seed).unwrap();
    let c = &out.counts;
    assert!(c.requests > 100, "{c:?}");
    assert_eq!((c.malformed, c.unknown_ids, c.status_errors, c.timeouts), (0, 0, 0, 0), "{c:?}");
    assert_eq!(c.sourced, c.requests, "every answer names its source: {c:?}");
    assert_eq!(c.events_refused, 0, "{c:?}");
    assert!(out.run.fates.produced > c.requests, "impressions went back: {:?}", out.run.fates);
    let p = &out.run.points;
    let share = |range: std::ops::Range<usize>| {
        let fallbacks: u64 = p[range.clone()].iter().map(|b| b.fallbacks).sum();
        let requests: u64 = p[range].iter().map(|b| b.requests - b.cache_hits).sum();
        fallbacks as f64 / requests.max(1) as f64
    };
    // Before the outage the model answers; during it (after the first second, when the
    // service's connections are cut) the popular list does; after it the model again.
    assert!(share(0..3) < 0.05, "before: {p:?}");
    assert!(share(4..6) > 0.9, "during: {p:?}");
    assert!(share(7..9) < 0.05, "after: {p:?}");
    // Clicks happened and were scored against the truth.
    assert!(p.iter().map(|b| b.clicks).sum::<u64>() > 0);
    // The proxy is back as it was: enabled.
    assert!(proxy.config().enabled);
}

#[test]
fn bad_answers_are_counted_outcomes_and_model_errors_are_injected() {
    let side = runtime();
    let calls = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&calls);
    // A service that misbehaves by the user: not JSON, an empty list, unknown ids beside a
    // known one, a 500, a list of objects, and a good answer.
    let app = axum::Router::new().route(
        "/rec",
        post(move |body: axum::body::Bytes| {
            let counter = Arc::clone(&counter);
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                let request: Value = serde_json::from_slice(&body).unwrap();
                let user: u64 = request["user"].as_str().unwrap().parse().unwrap();
                let answer = match user % 6 {
                    0 => return (axum::http::StatusCode::OK, "<html>oops</html>".to_string()),
                    1 => json!({"items": []}),
                    2 => json!({"items": ["no-such-item", "3", "also-not"]}),
                    3 => return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "{}".into()),
                    4 => json!({"items": {"a": 1}}),
                    _ => json!({"items": ["1", "2", "3"]}),
                };
                (axum::http::StatusCode::OK, answer.to_string())
            }
        }),
    );
    let addr = spawn(&side, app);
    let tester = plan(&format!(
        r#"
name = "bad service"
[recommender]
duration = "4s"
bucket = "1s"
k = 3
[recommender.target]
kind = "http"
url = "http://{addr}/rec"
[[recommender.faults]]
kind = "model_errors"
share = 1.0
start = "2s"
stop = "3s"
{WORLD}"#
    ));
    let target: HttpTarget = tester.target.clone().unwrap();
    let seed = Seed::new(4);
    let world = Arc::new(World::new(tester.world.clone(), seed.derive("world")));
    let ids = Arc::new(Ids::numbered(world.users(), world.items()));
    let out = run(world, ids, &target, &tester.sim, &tester.schedule, seed).unwrap();
    let c = &out.counts;
    let p = &out.run.points;
    assert!(c.requests > 30, "{c:?}");
    // Every kind of bad answer was seen and counted; none crashed the run.
    assert!(c.malformed > 0 && c.empty > 0 && c.unknown_ids > 0 && c.status_errors > 0, "{c:?}");
    assert_eq!(c.timeouts + c.transport_errors, 0, "{c:?}");
    let errors: u64 = p.iter().map(|b| b.errors).sum();
    assert_eq!(errors, c.malformed + c.status_errors, "{c:?}");
    // During the injected model errors (2 s to 3 s) every request failed at the proxy and
    // never reached the service.
    // (A request due at the very edge may race the toxic's arrival: allow three.)
    assert!(p[2].requests > 10 && p[2].errors + 3 >= p[2].requests, "{p:?}");
    let reached = calls.load(Ordering::Relaxed);
    let stopped = c.requests - reached;
    assert!(stopped.abs_diff(p[2].requests) <= 3, "{stopped} stopped at the proxy: {p:?}");
    assert!(
        c.first_malformed
            .as_deref()
            .is_some_and(|m| m.contains("not JSON") || m.contains("not an array"))
    );
}

#[test]
fn an_unreachable_recommender_is_named() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let tester = plan(&format!(
        "name = \"gone\"\n[recommender]\n[recommender.target]\nkind = \"http\"\nurl = \"http://127.0.0.1:{port}/recommend\"\n"
    ));
    let e = check(&tester.target.unwrap()).unwrap_err();
    assert!(e.reason.contains(&format!("127.0.0.1:{port}/recommend")), "{}", e.reason);
}
