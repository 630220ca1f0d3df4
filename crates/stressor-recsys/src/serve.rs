//! The built-in recommender as a real-time HTTP service (`stressor serve --recommender`): the
//! world, warm-up and BPR training of a scenario's `[recommender]`, then the same service,
//! stream job and online store the simulation runs, on the wall clock.
//!
//! - `POST /recommend` `{"user": 17, "k": 10, "context": {"page": 0}}` → `{"user": 17,
//!   "items": [...], "scores": [...], "source": "model" | "cache" | "fallback"}`; `503` with
//!   `"source": "error"` when the policy has nothing to show. `k` may be at most the scenario's
//!   `k`; `context.page` (default 0) keys the response cache with the user.
//! - `POST /events` `{"kind": "impression" | "click" | "purchase", "user": 17, "item": 3}` →
//!   `202`: the event enters the pipeline (ingestion lag, then the stream job), so clicks come
//!   back as features, as in the simulation's closed loop. `time` (seconds since the server
//!   started) may be given; it defaults to now.
//! - `GET /health` → `{"status": "ok", "uptime_s": ...}`.
//!
//! With `--faults` the scenario's `[[recommender.faults]]` act on the wall clock from the start
//! (`start = "5m"`: five minutes after the server is up): event faults on `/events`, a stopped
//! stream job, store outages (the in-process store refuses; Redis through its proxy), cache
//! flushes, model errors, and the slow store or model, whose extra time the answer waits out.
//! Bad model pushes are left out.
//!
//! Bad requests (malformed JSON, unknown users or items, `k` out of range) get `400`/`404`
//! with `{"error": "..."}` naming the field. The stream job ticks as requests arrive (every
//! due tick runs before a request is answered). Requests are served concurrently: the
//! service's own state (cache, breaker, last-known-good features) is locked only to begin and
//! to finish a request; the primary path — the store reads and the ranking — runs outside it,
//! each request on a store handle of its own (the in-process store behind a read-write lock,
//! or its own Redis connection through the same proxy).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use stressor_core::{Rng, Seed};

use crate::fault::{Edges, FaultKind, Schedule};
use crate::log::Ids;
use crate::pipeline::{Event, EventKind, Pipeline};
use crate::plan::RecsysPlan;
use crate::ranker::Ranker;
use crate::redis_store::RedisStore;
use crate::run::RecsysError;
use crate::service::{Begun, Conditions, Policy, Service, ServiceConfig, Source};
use crate::sim::warm_up;
use crate::store::{OnlineStore, SharedStore};

/// The recommender behind the endpoint.
pub struct Endpoint {
    /// The cache, the breaker and the last-known-good features.
    service: Mutex<Service>,
    /// The stream job, the faults' edges and the store handle it writes with.
    stream: Mutex<Stream>,
    /// Idle store handles for the request path; a request takes one (or makes one) and puts
    /// it back.
    handles: Mutex<Vec<Box<dyn OnlineStore>>>,
    make_handle: Box<dyn Fn() -> Box<dyn OnlineStore> + Send + Sync>,
    /// Requests so far: each draws from its own generator.
    requests: std::sync::atomic::AtomicU64,
    seed: Seed,
    started: Instant,
    /// The world's user and item ids (its indices, or the log's own ids).
    ids: Ids,
    k: usize,
    tick_s: f64,
    /// The scenario's faults, on the wall clock from the start (empty unless asked for).
    schedule: Schedule,
    /// A one-line description for the operator.
    pub description: String,
}

struct Stream {
    store: Box<dyn OnlineStore>,
    pipeline: Pipeline,
    next_tick: f64,
    /// Outages and cache flushes passed on so far.
    edges: Edges,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint").field("description", &self.description).finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Builds the world, warms up and trains as `plan` says, with `policy` as the fallback;
    /// with `faults`, the scenario's fault schedule acts on the wall clock from the moment the
    /// endpoint is built (bad model pushes excepted).
    /// With a Redis `feature_store` the warm store is copied there and read through a proxy
    /// started on `runtime` (which must not be the runtime serving requests).
    ///
    /// # Errors
    /// [`RecsysError`] naming the store when it cannot be reached.
    pub fn build(
        plan: &RecsysPlan,
        policy: Policy,
        faults: bool,
        seed: Seed,
        runtime: &Arc<tokio::runtime::Runtime>,
    ) -> Result<Endpoint, RecsysError> {
        let fail = |reason: String| RecsysError { reason };
        if let Some(url) = &plan.feature_store {
            crate::redis_store::check(url).map_err(|e| fail(e.to_string()))?;
        }
        let (world, ids, _) = crate::run::world_of(plan, seed)?;
        let world = Arc::new(world);
        let warm = warm_up(world, &plan.sim, seed.derive("warm-up"));
        type Handles = Box<dyn Fn() -> Box<dyn OnlineStore> + Send + Sync>;
        let (store, make_handle, where_): (Box<dyn OnlineStore>, Handles, String) =
            match &plan.feature_store {
                Some(url) => {
                    let owner = RedisStore::start(
                        url,
                        &format!("serve:{}", seed.value()),
                        &warm.store,
                        Arc::clone(runtime),
                        seed.derive("proxy"),
                    )
                    .map_err(|e| fail(e.to_string()))?;
                    let template = Mutex::new(owner.handle());
                    let make: Handles = Box::new(move || {
                        let template =
                            template.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        Box::new(template.handle())
                    });
                    (Box::new(owner), make, format!("Redis at {url}"))
                }
                None => {
                    let shared = SharedStore::new(warm.store.clone());
                    let template = shared.clone();
                    let make: Handles = Box::new(move || Box::new(template.clone()));
                    (Box::new(shared), make, "in process".into())
                }
            };
        let service = Service::new(
            ServiceConfig { policy, ..plan.sim.service },
            Ranker { config: plan.sim.ranker, model: warm.model.clone() },
            warm.popular.clone(),
        );
        let description = format!(
            "built-in recommender: {} users × {} items, BPR trained on {} clicks, fallback `{}`, \
             online store {where_}",
            warm.world.users(),
            warm.world.items(),
            warm.training_clicks,
            policy.name()
        );
        let schedule = if faults {
            let mut schedule = plan.schedule.clone();
            schedule.faults.retain(|f| !matches!(f.kind, FaultKind::BadModelPush { .. }));
            schedule
        } else {
            Schedule::default()
        };
        let edges = Edges::new(&schedule);
        Ok(Endpoint {
            schedule,
            ids,
            k: plan.sim.service.k,
            tick_s: plan.sim.pipeline.tick_s,
            service: Mutex::new(service),
            stream: Mutex::new(Stream {
                store,
                next_tick: warm.pipeline.next_tick(0.0),
                pipeline: warm.pipeline,
                edges,
            }),
            handles: Mutex::new(Vec::new()),
            make_handle,
            requests: std::sync::atomic::AtomicU64::new(0),
            seed: seed.derive("serve"),
            started: Instant::now(),
            description,
        })
    }

    fn now(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Brings the pipeline, the store and the cache up to `now`: every stream-job tick due,
    /// the faults' starts and ends.
    fn catch_up(&self, now: f64) {
        let mut stream = lock(&self.stream);
        let Stream { store, pipeline, next_tick, edges } = &mut *stream;
        while *next_tick <= now {
            edges.outage(&self.schedule, *next_tick, store.as_mut());
            pipeline.tick(*next_tick, &self.schedule, store.as_mut());
            *next_tick += self.tick_s;
        }
        edges.outage(&self.schedule, now, store.as_mut());
        if edges.flush_due(now) {
            lock(&self.service).flush_cache();
        }
    }

    /// One request's store handle.
    fn handle(&self) -> Box<dyn OnlineStore> {
        lock(&self.handles).pop().unwrap_or_else(|| (self.make_handle)())
    }

    /// Answers one `/recommend` body.
    fn recommend(&self, body: &[u8]) -> Response {
        let request: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("not JSON: {e}")),
        };
        let user = match self.id(&request, "user") {
            Ok(u) => u,
            Err((status, message)) => return error(status, message),
        };
        let k = match request.get("k") {
            None | Some(Value::Null) => self.k,
            Some(v) => match v.as_u64() {
                Some(k) if (1..=self.k as u64).contains(&k) => k as usize,
                _ => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        format!("`k` must be an integer from 1 to {}", self.k),
                    );
                }
            },
        };
        let page = match request.pointer("/context/page") {
            None | Some(Value::Null) => 0,
            Some(v) => match v.as_u64().and_then(|p| u32::try_from(p).ok()) {
                Some(p) => p,
                None => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "`context.page` must be a non-negative integer".into(),
                    );
                }
            },
        };
        let now = self.now();
        let (store_extra_ms, _) = self.schedule.store(now);
        let (model_extra_ms, model_error_share) = self.schedule.model(now);
        let conditions = Conditions { store_extra_ms, model_extra_ms, model_error_share };
        self.catch_up(now);
        let n = self.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut rng: Rng = self.seed.derive_index(n).rng();
        let begun = lock(&self.service).begin(user, page, now);
        let answer = match begun {
            Begun::Answered(answer) => answer,
            Begun::Pending(mut pending) => {
                let mut store = self.handle();
                let outcome = pending.primary(user, now, conditions, store.as_mut(), &mut rng);
                lock(&self.handles).push(store);
                lock(&self.service).finish(user, page, now, pending, outcome, conditions, &mut rng)
            }
        };
        // A slow store or model is felt: the faults' extra time, outside the lock, cut at the
        // timeout budget as the service decided it.
        let extra_ms = (store_extra_ms + model_extra_ms).min(answer.modeled_ms);
        if extra_ms > 0.0 && answer.source != Source::Cache {
            std::thread::sleep(std::time::Duration::from_secs_f64(extra_ms / 1000.0));
        }
        let source = match answer.source {
            Source::Model => "model",
            Source::Cache => "cache",
            Source::Fallback => "fallback",
            Source::Error => "error",
        };
        let status = if answer.source == Source::Error {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::OK
        };
        let items: Vec<Value> = answer
            .items
            .iter()
            .take(k)
            .map(|&i| if self.ids.from_log { json!(self.ids.items[i as usize]) } else { json!(i) })
            .collect();
        let scores: Vec<f64> = answer.scores.iter().take(k).copied().collect();
        let user = request.get("user").cloned().unwrap_or(Value::Null);
        reply(status, &json!({ "user": user, "items": items, "scores": scores, "source": source }))
    }

    /// Takes one `/events` body.
    fn event(&self, body: &[u8]) -> Response {
        let request: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("not JSON: {e}")),
        };
        let kind = match request.get("kind").and_then(Value::as_str) {
            Some("impression") => EventKind::Impression,
            Some("click") => EventKind::Click,
            Some("purchase") => EventKind::Purchase,
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "`kind` must be \"impression\", \"click\" or \"purchase\"".into(),
                );
            }
        };
        let user = match self.id(&request, "user") {
            Ok(u) => u,
            Err((status, message)) => return error(status, message),
        };
        let item = match self.id(&request, "item") {
            Ok(i) => i,
            Err((status, message)) => return error(status, message),
        };
        let now = self.now();
        let time = match request.get("time") {
            None | Some(Value::Null) => now,
            Some(v) => match v.as_f64().filter(|t| t.is_finite()) {
                Some(t) => t,
                None => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "`time` must be seconds since the server started".into(),
                    );
                }
            },
        };
        self.catch_up(now);
        lock(&self.stream).pipeline.produce(Event { kind, user, item, time }, &self.schedule);
        reply(StatusCode::ACCEPTED, &json!({ "accepted": 1 }))
    }

    /// The world's index of the id under `field` (`user` or `item`): a number, or a string
    /// (a log's ids are text; a generated world's are numbers, written either way).
    fn id(&self, request: &Value, field: &str) -> Result<u32, (StatusCode, String)> {
        let text = match request.get(field) {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.clone(),
            _ => {
                return Err((
                    StatusCode::BAD_REQUEST,
                    format!("`{field}` must be an id (a string, or a non-negative integer)"),
                ));
            }
        };
        let (found, count) = if field == "user" {
            (self.ids.user(&text), self.ids.users.len())
        } else {
            (self.ids.item(&text), self.ids.items.len())
        };
        found.ok_or_else(|| {
            let known = if self.ids.from_log {
                format!("the log has {count} {field}s")
            } else {
                format!("the world has {count} ({field} ids 0 to {})", count.saturating_sub(1))
            };
            (StatusCode::NOT_FOUND, format!("unknown {field} {text}: {known}"))
        })
    }
}

fn lock<T: ?Sized>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn error(status: StatusCode, message: String) -> Response {
    reply(status, &json!({ "error": message }))
}

fn reply(status: StatusCode, body: &Value) -> Response {
    (status, [(axum::http::header::CONTENT_TYPE, "application/json")], body.to_string())
        .into_response()
}

/// The endpoint's routes.
pub fn router(recommender: Arc<Endpoint>) -> Router {
    Router::new()
        .route("/recommend", post(|r, body| blocking(r, body, Endpoint::recommend)))
        .route("/events", post(|r, body| blocking(r, body, Endpoint::event)))
        .route(
            "/health",
            get(|State(r): State<Arc<Endpoint>>| async move {
                reply(StatusCode::OK, &json!({ "status": "ok", "uptime_s": r.now() }))
            }),
        )
        .with_state(recommender)
}

/// Answers `body` with `handle` off the async workers: the store may be Redis, whose calls
/// block.
async fn blocking(
    State(endpoint): State<Arc<Endpoint>>,
    body: Bytes,
    handle: fn(&Endpoint, &[u8]) -> Response,
) -> Response {
    tokio::task::spawn_blocking(move || handle(&endpoint, &body))
        .await
        .unwrap_or_else(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// Serves `endpoint` on `listener` until `shutdown` completes, then finishes the requests in
/// flight.
///
/// # Errors
/// The listener's I/O errors.
pub async fn serve(
    listener: tokio::net::TcpListener,
    endpoint: Arc<Endpoint>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(endpoint)).with_graceful_shutdown(shutdown).await
}

/// The policy named `name` among `plan`'s (default: the circuit breaker when the plan has
/// it, else its first policy).
///
/// # Errors
/// A message listing the plan's policies.
pub fn policy(plan: &RecsysPlan, name: Option<&str>) -> Result<Policy, String> {
    let names: Vec<&str> = plan.policies.iter().map(|p| p.name()).collect();
    let wanted = name.unwrap_or(if names.contains(&"circuit-breaker") {
        "circuit-breaker"
    } else {
        names.first().copied().unwrap_or("none")
    });
    plan.policies.iter().find(|p| p.name() == wanted).copied().ok_or_else(|| {
        format!("--policy `{wanted}` is not one of the scenario's policies: {}", names.join(", "))
    })
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use super::*;

    #[test]
    fn concurrent_requests_are_all_answered_and_share_one_cache() {
        let text = "name = \"s\"\n[recommender]\nwarmup = \"20m\"\nk = 5\n\
                    [recommender.world]\nusers = 200\nitems = 100\n";
        let scenario =
            stressor_scenario::plan(text, "s.toml".as_ref(), &[&crate::Recommender]).unwrap();
        let plan = scenario.part::<RecsysPlan>().unwrap();
        let runtime = Arc::new(tokio::runtime::Runtime::new().unwrap());
        let endpoint = Arc::new(
            Endpoint::build(plan, Policy::Popular, false, Seed::new(1), &runtime).unwrap(),
        );
        // Eight threads, each asking for the same 50 users' first pages: every request is
        // answered by the model or the cache, and each user's page is computed once per
        // thread race at most, then cached for all.
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let endpoint = Arc::clone(&endpoint);
                std::thread::spawn(move || {
                    (0..50)
                        .map(|user| {
                            let body = format!(r#"{{"user": {user}, "k": 5}}"#);
                            let response = endpoint.recommend(body.as_bytes());
                            assert_eq!(response.status(), StatusCode::OK);
                            response
                        })
                        .count()
                })
            })
            .collect();
        let answered: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(answered, 400);
        assert_eq!(endpoint.requests.load(std::sync::atomic::Ordering::Relaxed), 400);
        // Everything a request took is back: at most one handle per thread.
        assert!(lock(&endpoint.handles).len() <= 8);
        // One cache for all: the next ask for a user's first page is a cache hit.
        let response = endpoint.recommend(br#"{"user": 7, "k": 5}"#);
        let body = runtime.block_on(axum::body::to_bytes(response.into_body(), 1 << 20)).unwrap();
        let answer: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(answer["source"], "cache", "{answer}");
    }
}
