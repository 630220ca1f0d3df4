//! A user's own recommender over HTTP (`[recommender.target] kind = "http"`), driven by the
//! simulated users on the wall clock.
//!
//! Sessions arrive as in the simulation (the same seeded arrivals, users and dice), but each
//! page is a real request: the body template is filled in (`{user}`, `{k}`, `{page}`,
//! `{session}`), sent through an in-process `stressor proxy` in front of the service, and the
//! answer's item ids are read at a JSON pointer. The users respond to what came back by the
//! world's true affinities; their impressions, clicks and purchases go back to the service's
//! events endpoint when there is one (a closed loop through the service's own pipeline).
//!
//! Faults act from outside, where a user's service can be reached:
//! - `model_errors` and `model_latency`: `http_status` 503 (toxicity = the share) and
//!   `http_delay` toxics on the proxy in front of the service;
//! - `store_outage` and `store_slow`: through the Toxiproxy API of the proxy in front of the
//!   service's Redis (`store_proxy = { api, proxy }`, a `stressor proxy` or a Toxiproxy the
//!   user runs): the proxy is disabled (connections cut, new ones refused), or a `latency`
//!   toxic added; everything is undone when the run ends, however it ends;
//! - `event_delay`, `event_loss`, `event_duplicate`, `out_of_order`: on the events stressor
//!   sends back.
//!
//! Outcomes are counted, never fatal: a timeout, a refused connection, a non-2xx status and a
//! malformed answer (not JSON, no array at the pointer, an element that is not an id) show the
//! user nothing and count as errors; an empty list shows nothing and is not an error; ids
//! outside the catalogue are dropped from the slate and counted. Latency is measured from the
//! moment the page was due, so a saturated client (more than `concurrency` requests in
//! flight) does not hide queueing (no coordinated omission).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{Method, Request, StatusCode, Uri};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use stressor_core::Seed;
use stressor_proxy::{Delay, Protocol, Proxy, ProxyConfig, Toxic, ToxicKind};

use crate::fault::{Fault, FaultKind, Schedule};
pub use crate::log::Ids;
use crate::pipeline::Fates;
use crate::run::RecsysError;
use crate::sim::{Bucket, RunOutput, SimConfig, histogram};
use crate::world::{PageDice, World, ndcg};

/// The step id of the user's service under the fault schedule.
pub const HTTP_STEP: &str = "service";

/// Fault kinds an http target can be given, and what each needs.
pub const HTTP_FAULT_KINDS: &[&str] = &[
    "model_errors",
    "model_latency",
    "store_outage",
    "store_slow",
    "event_delay",
    "event_loss",
    "event_duplicate",
    "out_of_order",
];

/// The default request body.
pub const DEFAULT_BODY: &str = r#"{"user": "{user}", "k": {k}, "context": {"page": {page}}}"#;

/// The default events body.
pub const DEFAULT_EVENTS_BODY: &str =
    r#"{"kind": "{kind}", "user": "{user}", "item": "{item}", "time": {time}}"#;

/// An HTTP endpoint on loopback.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// As written (with any placeholders).
    pub url: String,
    /// `host:port` to connect to.
    pub authority: String,
}

impl Endpoint {
    /// Checks `url`: `http://`, a loopback host, placeholders only among `allowed`.
    ///
    /// # Errors
    /// What is wrong, in a sentence.
    pub fn parse(url: &str, allowed: &[&str]) -> Result<Endpoint, String> {
        check_placeholders(url, allowed)?;
        let probe = fill(url, &|_| Some("0".into()));
        let uri: Uri = probe.parse().map_err(|e| format!("not a URL: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err("must start with `http://` (TLS is not spoken here)".into());
        }
        let host = uri.host().ok_or("has no host")?;
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let loopback = bare == "localhost"
            || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if !loopback {
            return Err(format!(
                "`{host}` is not loopback: stressor drives and breaks only services on this \
                 machine (127.0.0.0/8, ::1, localhost)"
            ));
        }
        let port = uri.port_u16().unwrap_or(80);
        Ok(Endpoint { url: url.to_string(), authority: format!("{host}:{port}") })
    }

    /// The path and query of the URL with its placeholders filled (values percent-encoded).
    fn path(&self, value: &dyn Fn(&str) -> Option<String>) -> String {
        let url = fill(&self.url, &|name| value(name).map(|v| percent_encode(&v)));
        let after_scheme = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
        match after_scheme.find('/') {
            Some(i) => after_scheme[i..].to_string(),
            None => "/".into(),
        }
    }
}

/// The user's recommender, as the scenario describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpTarget {
    /// The recommendation endpoint.
    pub endpoint: Endpoint,
    /// `POST` or `GET`.
    pub method: Method,
    /// The body template (`POST`).
    pub body: String,
    /// JSON pointer to the array of items.
    pub items: String,
    /// JSON pointer to an item's id inside each element, when elements are objects.
    pub item_id: Option<String>,
    /// JSON pointer to the answer's source.
    pub source: Option<String>,
    /// The client's timeout, ms.
    pub timeout_ms: f64,
    /// Requests in flight at most.
    pub concurrency: usize,
    /// Where events go, and their body template.
    pub events: Option<(Endpoint, String)>,
    /// The Toxiproxy API and proxy name in front of the service's store.
    pub store_proxy: Option<(Endpoint, String)>,
}

/// The placeholders of the request (body and URL) and of the events.
pub const REQUEST_PLACEHOLDERS: &[&str] = &["user", "k", "page", "session"];
/// The events body's placeholders.
pub const EVENT_PLACEHOLDERS: &[&str] = &["kind", "user", "item", "time"];

/// Errors unless every `{name}` in `template` is one of `allowed`.
///
/// # Errors
/// Names the first unknown placeholder.
pub fn check_placeholders(template: &str, allowed: &[&str]) -> Result<(), String> {
    for name in placeholders(template) {
        if !allowed.contains(&name) {
            return Err(format!(
                "unknown placeholder `{{{name}}}` (placeholders: {})",
                allowed.iter().map(|a| format!("{{{a}}}")).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    Ok(())
}

/// The `{name}`s of a template whose name is a plain identifier (JSON's own braces are not).
fn placeholders(template: &str) -> impl Iterator<Item = &str> {
    template.match_indices('{').filter_map(move |(i, _)| {
        let rest = &template[i + 1..];
        let end = rest.find('}')?;
        let name = &rest[..end];
        (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .then_some(name)
    })
}

/// `template` with each `{name}` that `value` knows replaced.
pub fn fill(template: &str, value: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let replaced = after.find('}').and_then(|end| {
            let name = &after[..end];
            let is_name =
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if is_name { value(name).map(|v| (v, end)) } else { None }
        });
        match replaced {
            Some((v, end)) => {
                out.push_str(&v);
                rest = &after[end + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The text of a JSON string's inside: `"` `\` and control characters escaped.
pub fn json_escape(text: &str) -> String {
    let quoted = Value::String(text.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What one answer was.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Items, in catalogue indices (known ids only), and how many ids were unknown.
    Items {
        /// The slate shown.
        slate: Vec<u32>,
        /// Ids not in the catalogue, dropped.
        unknown: usize,
        /// The answer's source, when the target says where to find it.
        source: Option<String>,
    },
    /// A non-2xx status.
    Status(u16),
    /// Not an answer: what is wrong with it.
    Malformed(String),
    /// No answer: the connection was refused or broke.
    Transport(String),
}

/// Reads one 2xx answer: the ids at the target's pointer, mapped to catalogue indices.
pub fn read_answer(body: &[u8], target: &HttpTarget, ids: &Ids, k: usize) -> Outcome {
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Outcome::Malformed(format!("not JSON: {e}")),
    };
    let Some(list) = value.pointer(&target.items) else {
        return Outcome::Malformed(format!("nothing at `{}`", target.items));
    };
    let Some(list) = list.as_array() else {
        return Outcome::Malformed(format!("`{}` is not an array", target.items));
    };
    let mut slate = Vec::with_capacity(k);
    let mut unknown = 0;
    for element in list {
        let id = match &target.item_id {
            Some(pointer) => element.pointer(pointer),
            None => Some(element),
        };
        let id = match id {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Outcome::Malformed(format!(
                    "an element of `{}` is not an id (a string or a number{})",
                    target.items,
                    target.item_id.as_ref().map_or(String::new(), |p| format!(" at `{p}`"))
                ));
            }
        };
        match ids.item(&id) {
            Some(i) if !slate.contains(&i) => {
                if slate.len() < k {
                    slate.push(i);
                }
            }
            Some(_) => {}
            None => unknown += 1,
        }
    }
    let source = target
        .source
        .as_ref()
        .and_then(|p| value.pointer(p))
        .and_then(Value::as_str)
        .map(str::to_string);
    Outcome::Items { slate, unknown, source }
}

/// What an http run measured besides [`RunOutput`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HttpCounts {
    /// Requests sent.
    pub requests: u64,
    /// Timed out at the client.
    pub timeouts: u64,
    /// Refused or broken connections.
    pub transport_errors: u64,
    /// Non-2xx answers.
    pub status_errors: u64,
    /// Answers that were not what the target says (not JSON, no array, an element not an id).
    pub malformed: u64,
    /// Empty lists.
    pub empty: u64,
    /// Ids returned.
    pub ids_returned: u64,
    /// Of those, ids not in the catalogue.
    pub unknown_ids: u64,
    /// Answers that named a source.
    pub sourced: u64,
    /// Events the service did not accept (non-2xx or no connection).
    pub events_refused: u64,
    /// The first malformed answer's problem, for the report.
    pub first_malformed: Option<String>,
}

/// An http run's measurements.
#[derive(Debug, Clone)]
pub struct HttpOutput {
    /// As the simulation's.
    pub run: RunOutput,
    /// The outcomes counted.
    pub counts: HttpCounts,
}

/// Checks that the service (and the store proxy's API, and its proxy) can be reached.
///
/// # Errors
/// [`RecsysError`] naming what cannot be reached (exit 3).
pub fn check(target: &HttpTarget) -> Result<(), RecsysError> {
    let runtime = runtime()?;
    runtime.block_on(async {
        connect(&target.endpoint.authority).await.map_err(|e| RecsysError {
            reason: format!("the recommender at {} cannot be reached: {e}", target.endpoint.url),
        })?;
        if let Some((events, _)) = &target.events {
            connect(&events.authority).await.map_err(|e| RecsysError {
                reason: format!("the events endpoint {} cannot be reached: {e}", events.url),
            })?;
        }
        if let Some((api, name)) = &target.store_proxy {
            let path = format!("/proxies/{}", percent_encode(name));
            match send(&api.authority, Method::GET, &path, Bytes::new(), Duration::from_secs(5))
                .await
            {
                Ok((status, _)) if status.is_success() => {}
                Ok((status, _)) => {
                    return Err(RecsysError {
                        reason: format!(
                            "the store proxy API at {} has no proxy `{name}` (status {status})",
                            api.url
                        ),
                    });
                }
                Err(e) => {
                    return Err(RecsysError {
                        reason: format!(
                            "the store proxy API at {} cannot be reached: {e}",
                            api.url
                        ),
                    });
                }
            }
        }
        Ok(())
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, RecsysError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| RecsysError { reason: format!("cannot start the HTTP client's runtime: {e}") })
}

async fn connect(authority: &str) -> std::io::Result<tokio::net::TcpStream> {
    match tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(authority))
        .await
    {
        Ok(result) => result,
        Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in 5 s")),
    }
}

/// Why a request got no answer.
#[derive(Debug)]
enum SendError {
    Timeout,
    Transport(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Timeout => f.write_str("timed out"),
            SendError::Transport(e) => f.write_str(e),
        }
    }
}

/// One HTTP/1.1 request on a fresh connection to `authority`.
async fn send(
    authority: &str,
    method: Method,
    path: &str,
    body: Bytes,
    timeout: Duration,
) -> Result<(StatusCode, Bytes), SendError> {
    let work = async {
        let stream = tokio::net::TcpStream::connect(authority)
            .await
            .map_err(|e| SendError::Transport(e.to_string()))?;
        let _ = stream.set_nodelay(true);
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| SendError::Transport(e.to_string()))?;
        tokio::spawn(connection);
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", authority)
            .header("content-type", "application/json")
            .body(Full::new(body))
            .map_err(|e| SendError::Transport(e.to_string()))?;
        let response =
            sender.send_request(request).await.map_err(|e| SendError::Transport(e.to_string()))?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| SendError::Transport(e.to_string()))?
            .to_bytes();
        Ok((status, bytes))
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(SendError::Timeout),
    }
}

struct Collect {
    buckets: Vec<Bucket>,
    latency: Histogram<u64>,
    ndcg: Vec<(u64, u32, f64)>,
    revenue: Vec<(u64, u32, f64)>,
    counts: HttpCounts,
    fates: Fates,
}

/// Everything a session task needs.
struct Ctx {
    world: Arc<World>,
    ids: Arc<Ids>,
    target: HttpTarget,
    proxy_authority: String,
    schedule: Schedule,
    config: SimConfig,
    seed: Seed,
    started: tokio::time::Instant,
    wall_epoch: f64,
    permits: tokio::sync::Semaphore,
    collect: Mutex<Collect>,
    /// Taken (closing the channel) once every session is done.
    events: Mutex<Option<tokio::sync::mpsc::UnboundedSender<(f64, Bytes)>>>,
}

impl Ctx {
    fn lock(&self) -> std::sync::MutexGuard<'_, Collect> {
        self.collect.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn at(&self, t: f64) -> tokio::time::Instant {
        self.started + Duration::from_secs_f64(t.max(0.0))
    }

    fn now(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

/// Runs the simulated users against the service on the wall clock for `config.duration_s`
/// seconds, with `schedule`'s faults; ends with every fault undone.
///
/// # Errors
/// [`RecsysError`] when the client's runtime or the proxy cannot start, or the store proxy's
/// API refuses a fault (the faults already made are undone first).
pub fn run(
    world: Arc<World>,
    ids: Arc<Ids>,
    target: &HttpTarget,
    config: &SimConfig,
    schedule: &Schedule,
    seed: Seed,
) -> Result<HttpOutput, RecsysError> {
    let runtime = runtime()?;
    runtime.block_on(drive(world, ids, target, config, schedule, seed))
}

async fn drive(
    world: Arc<World>,
    ids: Arc<Ids>,
    target: &HttpTarget,
    config: &SimConfig,
    schedule: &Schedule,
    seed: Seed,
) -> Result<HttpOutput, RecsysError> {
    let fail = |reason: String| RecsysError { reason };
    let proxy = Proxy::start(
        ProxyConfig {
            name: "recommender".into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            upstream: target.endpoint.authority.clone(),
            enabled: true,
            protocol: Protocol::Http,
        },
        seed.derive("proxy"),
        None,
    )
    .await
    .map_err(|e| fail(format!("cannot start the proxy in front of the recommender: {e}")))?;
    let buckets = Bucket::all(config.duration_s, config.bucket_s);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let wall_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let ctx = Arc::new(Ctx {
        world: Arc::clone(&world),
        ids,
        target: target.clone(),
        proxy_authority: proxy.listen_addr().to_string(),
        schedule: schedule.clone(),
        config: config.clone(),
        seed,
        started: tokio::time::Instant::now(),
        wall_epoch,
        permits: tokio::sync::Semaphore::new(target.concurrency.max(1)),
        collect: Mutex::new(Collect {
            buckets,
            latency: histogram(),
            ndcg: Vec::new(),
            revenue: Vec::new(),
            counts: HttpCounts::default(),
            fates: Fates::default(),
        }),
        events: Mutex::new(Some(tx)),
    });
    let sender = tokio::spawn(deliver_events(Arc::clone(&ctx), rx));
    let faults = tokio::spawn(play_faults(Arc::clone(&ctx), Arc::clone(&proxy)));
    let sessions = world.sessions(config.duration_s, seed.derive("sessions"));
    let mut tasks = tokio::task::JoinSet::new();
    for (s, (t, user)) in sessions.into_iter().enumerate() {
        tokio::time::sleep_until(ctx.at(t)).await;
        tasks.spawn(session(Arc::clone(&ctx), s as u64, user, t));
    }
    while tasks.join_next().await.is_some() {}
    let fault_result = match faults.await {
        Ok(result) => result,
        Err(e) => Err(format!("the fault player stopped: {e}")),
    };
    // Sessions are done: close the events channel, then wait for the deliveries in flight
    // (each bounded by its timeout).
    drop(ctx.events.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take());
    let _ = sender.await;
    proxy.stop().await;
    fault_result.map_err(fail)?;
    let collect = std::mem::replace(
        &mut *ctx.lock(),
        Collect {
            buckets: Vec::new(),
            latency: histogram(),
            ndcg: Vec::new(),
            revenue: Vec::new(),
            counts: HttpCounts::default(),
            fates: Fates::default(),
        },
    );
    Ok(finish(collect))
}

fn finish(collect: Collect) -> HttpOutput {
    let Collect { buckets, latency, mut ndcg, mut revenue, counts, fates } = collect;
    // Per-request values in (session, page) order, so the same traffic lists them alike.
    ndcg.sort_by_key(|&(s, p, _)| (s, p));
    revenue.sort_by_key(|&(s, p, _)| (s, p));
    let points = buckets.into_iter().map(Bucket::finish).collect();
    HttpOutput {
        run: RunOutput {
            points,
            latency,
            ndcg: ndcg.into_iter().map(|(_, _, v)| v).collect(),
            revenue: revenue.into_iter().map(|(_, _, v)| v).collect(),
            freshness: Vec::new(),
            breaker: Vec::new(),
            fates,
        },
        counts,
    }
}

/// One simulated user's session: pages until they stop or the run ends.
async fn session(ctx: Arc<Ctx>, session: u64, user: u32, start: f64) {
    let model = ctx.world.config.users_model;
    let k = ctx.config.service.k;
    let page_seed = ctx.seed.derive("pages");
    let mut event_rng = ctx.seed.derive("event-faults").derive_index(session).rng();
    let mut at = start;
    let mut page = 0u32;
    let user_id = &ctx.ids.users[user as usize];
    loop {
        if at >= ctx.config.duration_s {
            return;
        }
        tokio::time::sleep_until(ctx.at(at)).await;
        let dice = PageDice::roll(page_seed, session, page, k, model.think_s);
        let value = |name: &str| -> Option<String> {
            Some(match name {
                "user" => user_id.clone(),
                "k" => k.to_string(),
                "page" => page.to_string(),
                "session" => session.to_string(),
                _ => return None,
            })
        };
        let path = ctx.target.endpoint.path(&value);
        let body = if ctx.target.method == Method::GET {
            Bytes::new()
        } else {
            Bytes::from(fill(&ctx.target.body, &|name| value(name).map(|v| json_escape(&v))))
        };
        let timeout = Duration::from_secs_f64(ctx.target.timeout_ms / 1000.0);
        let answer = {
            let _permit = ctx.permits.acquire().await;
            // The wait for a permit counts against the timeout, as a user's patience would.
            let left = timeout.saturating_sub(ctx.at(at).elapsed());
            send(&ctx.proxy_authority, ctx.target.method.clone(), &path, body, left).await
        };
        let elapsed_s = ctx.now() - at;
        let outcome = match answer {
            Ok((status, body)) if status.is_success() => {
                Some(read_answer(&body, &ctx.target, &ctx.ids, k))
            }
            Ok((status, _)) => Some(Outcome::Status(status.as_u16())),
            Err(SendError::Timeout) => None,
            Err(SendError::Transport(e)) => Some(Outcome::Transport(e)),
        };
        let shown_at = at + elapsed_s.min(ctx.target.timeout_ms / 1000.0);
        let slate = {
            let mut c = ctx.lock();
            let bucket_s = ctx.config.bucket_s;
            let n = c.buckets.len();
            let bucket = ((at / bucket_s) as usize).min(n - 1);
            c.counts.requests += 1;
            c.buckets[bucket].point.requests += 1;
            let mut slate = Vec::new();
            let mut error = false;
            match outcome {
                None => {
                    c.counts.timeouts += 1;
                    error = true;
                }
                Some(Outcome::Status(_)) => {
                    c.counts.status_errors += 1;
                    error = true;
                }
                Some(Outcome::Transport(_)) => {
                    c.counts.transport_errors += 1;
                    error = true;
                }
                Some(Outcome::Malformed(why)) => {
                    c.counts.malformed += 1;
                    c.counts.first_malformed.get_or_insert(why);
                    error = true;
                }
                Some(Outcome::Items { slate: s, unknown, source }) => {
                    c.counts.ids_returned += (s.len() + unknown) as u64;
                    c.counts.unknown_ids += unknown as u64;
                    if s.is_empty() {
                        c.counts.empty += 1;
                    }
                    match source.as_deref() {
                        Some("cache") => c.buckets[bucket].point.cache_hits += 1,
                        Some("fallback") => c.buckets[bucket].point.fallbacks += 1,
                        _ => {}
                    }
                    if source.is_some() {
                        c.counts.sourced += 1;
                    }
                    slate = s;
                }
            }
            if error {
                c.buckets[bucket].point.errors += 1;
            } else {
                let us = (elapsed_s * 1e6).round().max(1.0) as u64;
                let _ = c.buckets[bucket].latency.record(us);
                let _ = c.latency.record(us);
            }
            slate
        };
        let world = &ctx.world;
        let affinities: Vec<f64> =
            slate.iter().map(|&i| world.affinity(user as usize, i as usize)).collect();
        let prices: Vec<f64> = slate.iter().map(|&i| world.prices[i as usize]).collect();
        let response = model.respond(&affinities, &prices, world.config.price_median, &dice);
        let mut events = Vec::new();
        let mut revenue = 0.0;
        {
            let mut c = ctx.lock();
            let n = c.buckets.len();
            let bucket = ((at / ctx.config.bucket_s) as usize).min(n - 1);
            if !slate.is_empty() {
                let value = ndcg(&slate, &world.affinities(user as usize), k);
                c.buckets[bucket].point.ndcg_sum += value;
                c.ndcg.push((session, page, value));
                c.buckets[bucket].point.impressions += slate.len() as u64;
                events.extend(slate.iter().map(|&i| ("impression", i)));
            }
            if let Some(slot) = response.click {
                let item = slate[slot];
                c.buckets[bucket].point.clicks += 1;
                events.push(("click", item));
                if response.purchase {
                    c.buckets[bucket].point.conversions += 1;
                    revenue = world.prices[item as usize];
                    c.buckets[bucket].point.revenue += revenue;
                    events.push(("purchase", item));
                }
            }
            c.revenue.push((session, page, revenue));
        }
        if let Some((_, template)) = &ctx.target.events {
            for (kind, item) in events {
                produce(&ctx, &mut event_rng, template, kind, user_id, item, shown_at);
            }
        }
        if !response.continues || page + 1 >= model.max_pages {
            return;
        }
        at = shown_at + dice.think_s;
        page += 1;
    }
}

/// Hands one event to the sender with the event faults acting at `t`.
fn produce(
    ctx: &Ctx,
    rng: &mut stressor_core::Rng,
    template: &str,
    kind: &str,
    user: &str,
    item: u32,
    t: f64,
) {
    let fate = {
        let mut c = ctx.lock();
        c.fates.produced += 1;
        let fate = ctx.schedule.event_fate(t, rng);
        if fate.lost {
            c.fates.lost_ingest += 1;
            c.fates.lost_times.push(t);
            return;
        }
        c.fates.duplicated += fate.copies - 1;
        fate
    };
    let due = t + fate.extra_delay_s;
    let item_id = &ctx.ids.items[item as usize];
    let time = ctx.wall_epoch + t;
    let body = fill(template, &|name| {
        Some(match name {
            "kind" => kind.to_string(),
            "user" => json_escape(user),
            "item" => json_escape(item_id),
            "time" => format!("{time:.3}"),
            _ => return None,
        })
    });
    let events = ctx.events.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(events) = events.as_ref() {
        for _ in 0..fate.copies {
            let _ = events.send((due, Bytes::from(body.clone())));
        }
    }
}

/// Sends each event when it is due; counts the ones the service does not take.
async fn deliver_events(ctx: Arc<Ctx>, mut rx: tokio::sync::mpsc::UnboundedReceiver<(f64, Bytes)>) {
    let Some((endpoint, _)) = ctx.target.events.clone() else { return };
    let path = endpoint.path(&|_| None);
    let timeout = Duration::from_secs_f64(ctx.target.timeout_ms.max(1000.0) / 1000.0);
    let mut inflight = tokio::task::JoinSet::new();
    while let Some((due, body)) = rx.recv().await {
        let ctx = Arc::clone(&ctx);
        let (authority, path) = (endpoint.authority.clone(), path.clone());
        inflight.spawn(async move {
            tokio::time::sleep_until(ctx.at(due)).await;
            let sent = send(&authority, Method::POST, &path, body, timeout).await;
            if !matches!(sent, Ok((status, _)) if status.is_success()) {
                let mut c = ctx.lock();
                c.counts.events_refused += 1;
                c.fates.lost_times.push(due);
            }
        });
        // Reap what is done so the set stays small.
        while inflight.try_join_next().is_some() {}
    }
    while inflight.join_next().await.is_some() {}
}

/// A fault being enacted, and how to undo it.
enum Undo {
    Toxic(String),
    StoreToxic(String),
    StoreEnable,
}

/// Plays the schedule on the proxies: each fault made at its start and undone at its stop;
/// whatever is still made when the run ends is undone then.
async fn play_faults(ctx: Arc<Ctx>, proxy: Arc<Proxy>) -> Result<(), String> {
    let mut edges: Vec<(f64, bool, usize)> = Vec::new();
    for (i, f) in ctx.schedule.faults.iter().enumerate() {
        edges.push((f.start, true, i));
        edges.push((f.stop.min(ctx.config.duration_s), false, i));
    }
    edges.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut made: Vec<(usize, Undo)> = Vec::new();
    let mut result = Ok(());
    for (t, start, i) in edges {
        if t >= ctx.config.duration_s && start {
            continue;
        }
        tokio::time::sleep_until(ctx.at(t)).await;
        let fault = &ctx.schedule.faults[i];
        if start {
            match make(&ctx, &proxy, fault, i).await {
                Ok(Some(undo)) => made.push((i, undo)),
                Ok(None) => {}
                Err(e) => {
                    result = Err(format!("fault `{}`: {e}", fault.name));
                    break;
                }
            }
        } else if let Some(pos) = made.iter().position(|(j, _)| *j == i) {
            let (_, undo) = made.remove(pos);
            if let Err(e) = unmake(&ctx, &proxy, undo).await {
                result = Err(format!("undoing fault `{}`: {e}", fault.name));
            }
        }
    }
    for (_, undo) in made {
        if let Err(e) = unmake(&ctx, &proxy, undo).await {
            result = result.and(Err(format!("undoing a fault at the end: {e}")));
        }
    }
    result
}

fn toxic_name(i: usize) -> String {
    format!("stressor_fault_{i}")
}

async fn make(ctx: &Ctx, proxy: &Proxy, fault: &Fault, i: usize) -> Result<Option<Undo>, String> {
    let name = toxic_name(i);
    match fault.kind {
        FaultKind::ModelErrors { share } => {
            let toxic = Toxic {
                name: name.clone(),
                kind: ToxicKind::HttpStatus {
                    status: 503,
                    body: r#"{"error": "model errors injected by stressor"}"#.into(),
                },
                stream: stressor_proxy::Stream::Downstream,
                toxicity: share,
            };
            proxy.add_toxic(toxic).map_err(|e| e.to_string())?;
            Ok(Some(Undo::Toxic(name)))
        }
        FaultKind::ModelLatency { latency_ms } => {
            let toxic = Toxic {
                name: name.clone(),
                kind: ToxicKind::HttpDelay {
                    distribution: Delay::Constant,
                    mean: latency_ms,
                    stddev: 0.0,
                },
                stream: stressor_proxy::Stream::Downstream,
                toxicity: 1.0,
            };
            proxy.add_toxic(toxic).map_err(|e| e.to_string())?;
            Ok(Some(Undo::Toxic(name)))
        }
        FaultKind::StoreOutage => {
            store_api(ctx, Method::POST, "", r#"{"enabled": false}"#.into()).await?;
            Ok(Some(Undo::StoreEnable))
        }
        FaultKind::StoreSlow { latency_ms } => {
            let body = serde_json::json!({
                "name": name,
                "type": "latency",
                "stream": "downstream",
                "toxicity": 1.0,
                "attributes": {"latency": latency_ms.round() as u64, "jitter": 0},
            });
            store_api(ctx, Method::POST, "/toxics", body.to_string()).await?;
            Ok(Some(Undo::StoreToxic(name)))
        }
        // Event faults act as events are produced; the plan refuses the others.
        _ => Ok(None),
    }
}

async fn unmake(ctx: &Ctx, proxy: &Proxy, undo: Undo) -> Result<(), String> {
    match undo {
        Undo::Toxic(name) => proxy.remove_toxic(&name).map_err(|e| e.to_string()),
        Undo::StoreToxic(name) => {
            store_api(ctx, Method::DELETE, &format!("/toxics/{name}"), String::new()).await
        }
        Undo::StoreEnable => store_api(ctx, Method::POST, "", r#"{"enabled": true}"#.into()).await,
    }
}

/// One call to the store proxy's Toxiproxy API, under `/proxies/{name}`.
async fn store_api(ctx: &Ctx, method: Method, suffix: &str, body: String) -> Result<(), String> {
    let Some((api, name)) = &ctx.target.store_proxy else {
        return Err("no `store_proxy` to act on".into());
    };
    let path = format!("/proxies/{}{suffix}", percent_encode(name));
    match send(&api.authority, method, &path, Bytes::from(body), Duration::from_secs(5)).await {
        Ok((status, _)) if status.is_success() => Ok(()),
        Ok((status, body)) => Err(format!(
            "the store proxy API at {} answered {status}: {}",
            api.url,
            String::from_utf8_lossy(&body).chars().take(200).collect::<String>()
        )),
        Err(e) => Err(format!("the store proxy API at {} cannot be reached: {e}", api.url)),
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use super::*;

    fn target() -> HttpTarget {
        HttpTarget {
            endpoint: Endpoint::parse("http://127.0.0.1:9/rec", REQUEST_PLACEHOLDERS).unwrap(),
            method: Method::POST,
            body: DEFAULT_BODY.into(),
            items: "/items".into(),
            item_id: None,
            source: Some("/source".into()),
            timeout_ms: 1000.0,
            concurrency: 4,
            events: None,
            store_proxy: None,
        }
    }

    #[test]
    fn templates_fill_known_placeholders_and_leave_json_braces() {
        let body = fill(DEFAULT_BODY, &|n| match n {
            "user" => Some(json_escape("a\"b")),
            "k" => Some("5".into()),
            "page" => Some("2".into()),
            _ => None,
        });
        assert_eq!(body, r#"{"user": "a\"b", "k": 5, "context": {"page": 2}}"#);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["user"], "a\"b");
        assert!(check_placeholders(DEFAULT_BODY, REQUEST_PLACEHOLDERS).is_ok());
        let e = check_placeholders(r#"{"u": "{usr}"}"#, REQUEST_PLACEHOLDERS).unwrap_err();
        assert!(e.contains("`{usr}`"), "{e}");
        let endpoint =
            Endpoint::parse("http://localhost:8080/r?user={user}", REQUEST_PLACEHOLDERS).unwrap();
        assert_eq!(endpoint.authority, "localhost:8080");
        assert_eq!(endpoint.path(&|_| Some("a b/é".into())), "/r?user=a%20b%2F%C3%A9");
        assert!(Endpoint::parse("http://10.0.0.1/r", &[]).unwrap_err().contains("loopback"));
        assert!(Endpoint::parse("https://127.0.0.1/r", &[]).unwrap_err().contains("http://"));
        assert_eq!(Endpoint::parse("http://[::1]/", &[]).unwrap().authority, "[::1]:80");
    }

    #[test]
    fn answers_are_read_and_every_bad_one_is_an_outcome() {
        let ids = Ids::new(vec!["u".into()], vec!["a".into(), "b".into(), "7".into()]);
        let t = target();
        let read = |body: &str| read_answer(body.as_bytes(), &t, &ids, 2);
        assert_eq!(
            read(r#"{"items": ["b", 7, "zz", "b", "a"], "source": "cache"}"#),
            Outcome::Items { slate: vec![1, 2], unknown: 1, source: Some("cache".into()) }
        );
        assert_eq!(
            read(r#"{"items": []}"#),
            Outcome::Items { slate: vec![], unknown: 0, source: None }
        );
        assert!(matches!(read("<html>"), Outcome::Malformed(m) if m.starts_with("not JSON")));
        assert!(
            matches!(read(r#"{"recs": []}"#), Outcome::Malformed(m) if m.contains("nothing at"))
        );
        assert!(
            matches!(read(r#"{"items": 3}"#), Outcome::Malformed(m) if m.contains("not an array"))
        );
        assert!(
            matches!(read(r#"{"items": [null]}"#), Outcome::Malformed(m) if m.contains("not an id"))
        );
        let nested = HttpTarget { item_id: Some("/id".into()), ..target() };
        assert_eq!(
            read_answer(br#"{"items": [{"id": "a", "score": 1}]}"#, &nested, &ids, 2),
            Outcome::Items { slate: vec![0], unknown: 0, source: None }
        );
    }
}
