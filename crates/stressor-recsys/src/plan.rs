//! Planning a recommender scenario (a file with `[recommender]`): the world, the users, the
//! service, the pipeline, the training, the fault schedule, the policies, recovery and gates.

use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::time::Duration;

use axum::http::Method;

use stressor_core::Gate;
use stressor_scenario::Planner;
use stressor_scenario::options::GateOptions;
use toml::Spanned;

use crate::fault::{BadPush, Fault, FaultKind, Schedule, SchemaChange};
use crate::options::{FaultOptions, RecommenderOptions, ReplayOptions, TargetOptions};
use crate::recovery::Tolerance;
use crate::remote::{
    DEFAULT_BODY, DEFAULT_EVENTS_BODY, EVENT_PLACEHOLDERS, Endpoint, HTTP_FAULT_KINDS, HTTP_STEP,
    HttpTarget, REQUEST_PLACEHOLDERS,
};
use crate::replay::LogFormat;
use crate::service::{BreakerConfig, Policy};
use crate::sim::SimConfig;
use crate::world::WorldConfig;

/// The metrics of every recommender step.
pub const RECSYS_METRICS: &[&str] = &[
    "requests",
    "ctr",
    "clicks_per_request",
    "conversion_rate",
    "revenue_per_hour",
    "ndcg",
    "cache_hit_rate",
    "fallback_share",
    "error_rate",
    "p50_ms",
    "p99_ms",
    "freshness_lag_s",
    "rto_s",
    "time_to_mitigate_s",
    "revenue_lost",
    "ctr_drop",
    "events_lost",
    "store_write_failures",
    "malformed_rate",
    "empty_rate",
    "unknown_id_share",
    "events_refused",
    "replay_ctr",
    "ips_ctr",
    "replay_match_rate",
    "replay_served_share",
];

/// The reference runs every scenario gets, without faults: the recommender itself (the
/// baseline every fault is measured against), the true top-k (ceiling), random slates
/// (floor) and the static popular list for everyone.
pub const REFERENCES: &[&str] = &["baseline", "oracle", "random", "popularity"];

const POLICIES: &[&str] = &["none", "popular", "last-known-good", "serve-stale", "circuit-breaker"];

/// `[[recommender.faults]]` kinds.
const FAULT_KINDS: &[&str] = &[
    "event_delay",
    "event_loss",
    "event_duplicate",
    "out_of_order",
    "schema_change",
    "stream_stop",
    "store_slow",
    "store_outage",
    "cache_flush",
    "model_errors",
    "model_latency",
    "bad_model_push",
];

/// A world from the user's files (`[recommender.world] log`, `catalogue`).
#[derive(Debug, Clone, PartialEq)]
pub struct WorldLog {
    /// The interaction log.
    pub log: PathBuf,
    /// The catalogue.
    pub catalogue: Option<PathBuf>,
    /// The arrival rate is the log's (its sessions per second) unless the scenario sets one.
    pub rate_from_log: bool,
}

/// A recommender scenario ready to run.
#[derive(Debug, Clone)]
pub struct RecsysPlan {
    /// The simulated world and users.
    pub world: WorldConfig,
    /// The service, pipeline, training and run lengths.
    pub sim: SimConfig,
    /// The fault schedule.
    pub schedule: Schedule,
    /// The fallback policies compared, in order.
    pub policies: Vec<Policy>,
    /// What counts as recovered.
    pub tolerance: Tolerance,
    /// Maximum tolerable downtime, seconds.
    pub max_tolerable_downtime_s: Option<f64>,
    /// The Redis online store's URL; `None` for the in-process store.
    pub feature_store: Option<String>,
    /// The user's log and catalogue the world is built from; `None` for a generated world.
    pub world_log: Option<WorldLog>,
    /// The user's recommender over HTTP; `None` for the built-in one.
    pub target: Option<HttpTarget>,
    /// Gates.
    pub gates: Vec<Gate>,
    /// Replay on a real log (`[recommender.replay]`).
    pub replay: Option<ReplayPlan>,
}

/// `[recommender.replay]` planned.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayPlan {
    /// The log, resolved against the scenario's folder.
    pub log: std::path::PathBuf,
    /// Its format.
    pub format: LogFormat,
    /// The share of rows, from the start, that trains the recommender.
    pub train_share: f64,
}

struct RecsysPlanner<'p, 'a>(&'p mut Planner<'a>);

impl<'a> Deref for RecsysPlanner<'_, 'a> {
    type Target = Planner<'a>;
    fn deref(&self) -> &Planner<'a> {
        self.0
    }
}

impl DerefMut for RecsysPlanner<'_, '_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.0
    }
}

/// Plans `[recommender]`, reporting every problem to `planner`.
pub fn plan(planner: &mut Planner<'_>, options: Spanned<RecommenderOptions>) -> RecsysPlan {
    RecsysPlanner(planner).plan(options)
}

impl RecsysPlanner<'_, '_> {
    fn seconds(&mut self, value: Option<&Spanned<String>>, key: &str, default: f64) -> f64 {
        self.duration(value, key, Duration::from_secs_f64(default))
            .map_or(default, |d| d.as_secs_f64())
    }

    fn positive_seconds(
        &mut self,
        value: Option<&Spanned<String>>,
        key: &str,
        default: f64,
    ) -> f64 {
        let seconds = self.seconds(value, key, default);
        if seconds <= 0.0 {
            if let Some(v) = value {
                self.problem(v.span(), key, "must be longer than zero".into(), None);
            }
            return default;
        }
        seconds
    }

    fn number(
        &mut self,
        value: Option<&Spanned<f64>>,
        key: &str,
        default: f64,
        range: (f64, f64),
    ) -> f64 {
        let Some(v) = value else { return default };
        let x = *v.get_ref();
        if !(x.is_finite() && x >= range.0 && x <= range.1) {
            self.problem(
                v.span(),
                key,
                format!("{x} is out of range [{}, {}]", range.0, range.1),
                None,
            );
            return default;
        }
        x
    }

    fn count(
        &mut self,
        value: Option<&Spanned<u64>>,
        key: &str,
        default: usize,
        range: (u64, u64),
    ) -> usize {
        let Some(v) = value else { return default };
        let x = *v.get_ref();
        if x < range.0 || x > range.1 {
            self.problem(
                v.span(),
                key,
                format!("{x} is out of range [{}, {}]", range.0, range.1),
                None,
            );
            return default;
        }
        x as usize
    }

    fn plan(&mut self, spanned: Spanned<RecommenderOptions>) -> RecsysPlan {
        let r = spanned.get_ref();
        let mut sim = SimConfig::default();
        sim.duration_s =
            self.positive_seconds(r.duration.as_ref(), "recommender.duration", sim.duration_s);
        sim.bucket_s = self.positive_seconds(r.bucket.as_ref(), "recommender.bucket", sim.bucket_s);
        if sim.bucket_s > sim.duration_s {
            let span = r.bucket.as_ref().map_or(spanned.span(), Spanned::span);
            self.problem(
                span,
                "recommender.bucket",
                "a bucket cannot be longer than the run".into(),
                None,
            );
            sim.bucket_s = sim.duration_s;
        }
        if sim.duration_s / sim.bucket_s > 10_000.0 {
            let span = r.bucket.as_ref().map_or(spanned.span(), Spanned::span);
            self.problem(
                span,
                "recommender.bucket",
                format!(
                    "{} buckets are too many (at most 10 000)",
                    (sim.duration_s / sim.bucket_s).ceil()
                ),
                Some("use a longer bucket".into()),
            );
            sim.bucket_s = sim.duration_s;
        }
        sim.warmup_s = self.positive_seconds(r.warmup.as_ref(), "recommender.warmup", sim.warmup_s);
        sim.service.k = self.count(r.k.as_ref(), "recommender.k", sim.service.k, (1, 100));
        let mut world = WorldConfig::default();
        if let Some(w) = &r.world {
            let w = w.get_ref();
            world.users = self.count(
                w.users.as_ref(),
                "recommender.world.users",
                world.users,
                (1, 10_000_000),
            );
            world.items = self.count(
                w.items.as_ref(),
                "recommender.world.items",
                world.items,
                (2, 1_000_000),
            );
            world.dims =
                self.count(w.dims.as_ref(), "recommender.world.dims", world.dims, (1, 256));
            world.sessions_per_second = self.number(
                w.sessions_per_second.as_ref(),
                "recommender.world.sessions_per_second",
                world.sessions_per_second,
                (1e-6, 100_000.0),
            );
            world.daily_amplitude = self.number(
                w.daily_amplitude.as_ref(),
                "recommender.world.daily_amplitude",
                world.daily_amplitude,
                (0.0, 0.99),
            );
            world.popularity_exponent = self.number(
                w.popularity_exponent.as_ref(),
                "recommender.world.popularity_exponent",
                world.popularity_exponent,
                (0.0, 5.0),
            );
            world.popularity_weight = self.number(
                w.popularity_weight.as_ref(),
                "recommender.world.popularity_weight",
                world.popularity_weight,
                (0.0, 10.0),
            );
            world.affinity_scale = self.number(
                w.affinity_scale.as_ref(),
                "recommender.world.affinity_scale",
                world.affinity_scale,
                (0.0, 100.0),
            );
            world.price_median = self.number(
                w.price_median.as_ref(),
                "recommender.world.price_median",
                world.price_median,
                (1e-6, 1e9),
            );
            world.price_sigma = self.number(
                w.price_sigma.as_ref(),
                "recommender.world.price_sigma",
                world.price_sigma,
                (0.0, 5.0),
            );
        }
        let world_log = r.world.as_ref().and_then(|w| {
            let w = w.get_ref();
            match (&w.log, &w.catalogue) {
                (Some(log), catalogue) => {
                    for (key, value) in [("users", w.users.is_some()), ("items", w.items.is_some())]
                    {
                        if value {
                            self.problem(
                                log.span(),
                                &format!("recommender.world.{key}"),
                                format!("the log's {key} make the world; `{key}` does not apply"),
                                None,
                            );
                        }
                    }
                    Some(WorldLog {
                        log: self.relative(log.get_ref()),
                        catalogue: catalogue.as_ref().map(|c| self.relative(c.get_ref())),
                        rate_from_log: w.sessions_per_second.is_none(),
                    })
                }
                (None, Some(catalogue)) => {
                    self.problem(
                        catalogue.span(),
                        "recommender.world.catalogue",
                        "a catalogue comes with an interaction `log`".into(),
                        None,
                    );
                    None
                }
                (None, None) => None,
            }
        });
        if world_log.is_none() && sim.service.k > world.items {
            let span = r.k.as_ref().map_or(spanned.span(), Spanned::span);
            self.problem(
                span,
                "recommender.k",
                format!(
                    "a slate of {} needs at least that many items (the world has {})",
                    sim.service.k, world.items
                ),
                None,
            );
            sim.service.k = world.items;
        }
        if let Some(u) = &r.users {
            let u = u.get_ref();
            let m = &mut world.users_model;
            let p = (0.0, 1.0);
            m.attention_prob = self.number(
                u.attention_prob.as_ref(),
                "recommender.users.attention_prob",
                m.attention_prob,
                p,
            );
            m.no_click_mass = self.number(
                u.no_click_mass.as_ref(),
                "recommender.users.no_click_mass",
                m.no_click_mass,
                (-50.0, 50.0),
            );
            m.purchase_bias = self.number(
                u.purchase_bias.as_ref(),
                "recommender.users.purchase_bias",
                m.purchase_bias,
                (-50.0, 50.0),
            );
            m.purchase_affinity = self.number(
                u.purchase_affinity.as_ref(),
                "recommender.users.purchase_affinity",
                m.purchase_affinity,
                (-50.0, 50.0),
            );
            m.price_weight = self.number(
                u.price_weight.as_ref(),
                "recommender.users.price_weight",
                m.price_weight,
                (-50.0, 50.0),
            );
            m.continue_prob = self.number(
                u.continue_prob.as_ref(),
                "recommender.users.continue_prob",
                m.continue_prob,
                p,
            );
            m.continue_after_click = self.number(
                u.continue_after_click.as_ref(),
                "recommender.users.continue_after_click",
                m.continue_after_click,
                p,
            );
            m.continue_after_error = self.number(
                u.continue_after_error.as_ref(),
                "recommender.users.continue_after_error",
                m.continue_after_error,
                p,
            );
            m.think_s = self.positive_seconds(
                u.think_time.as_ref(),
                "recommender.users.think_time",
                m.think_s,
            );
            m.max_pages = self.count(
                u.max_pages.as_ref(),
                "recommender.users.max_pages",
                m.max_pages as usize,
                (1, 1000),
            ) as u32;
        }
        if let Some(s) = &r.service {
            let s = s.get_ref();
            sim.workers = self.count(
                s.workers.as_ref(),
                "recommender.service.workers",
                sim.workers,
                (1, 100_000),
            );
            sim.client_timeout_ms = 1000.0
                * self.positive_seconds(
                    s.client_timeout.as_ref(),
                    "recommender.service.client_timeout",
                    sim.client_timeout_ms / 1000.0,
                );
            sim.service.cache_ttl_s = self.seconds(
                s.cache_ttl.as_ref(),
                "recommender.service.cache_ttl",
                sim.service.cache_ttl_s,
            );
            sim.service.store_ms = 1000.0
                * self.seconds(
                    s.store_latency.as_ref(),
                    "recommender.service.store_latency",
                    sim.service.store_ms / 1000.0,
                );
            sim.service.model_ms = 1000.0
                * self.seconds(
                    s.model_latency.as_ref(),
                    "recommender.service.model_latency",
                    sim.service.model_ms / 1000.0,
                );
            sim.ranker.candidates = self.count(
                s.candidates.as_ref(),
                "recommender.service.candidates",
                sim.ranker.candidates,
                (1, 100_000),
            );
            sim.ranker.recent_weight = self.number(
                s.recent_weight.as_ref(),
                "recommender.service.recent_weight",
                f64::from(sim.ranker.recent_weight),
                (0.0, 100.0),
            ) as f32;
            sim.ranker.ctr_weight = self.number(
                s.ctr_weight.as_ref(),
                "recommender.service.ctr_weight",
                sim.ranker.ctr_weight,
                (0.0, 100.0),
            );
        }
        if let Some(p) = &r.pipeline {
            let p = p.get_ref();
            let c = &mut sim.pipeline;
            c.ingest_lag_s = self.seconds(
                p.ingest_lag.as_ref(),
                "recommender.pipeline.ingest_lag",
                c.ingest_lag_s,
            );
            c.tick_s =
                self.positive_seconds(p.tick.as_ref(), "recommender.pipeline.tick", c.tick_s);
            c.pane_s =
                self.positive_seconds(p.pane.as_ref(), "recommender.pipeline.pane", c.pane_s);
            c.panes =
                self.count(p.panes.as_ref(), "recommender.pipeline.panes", c.panes, (1, 10_000));
            c.recent_items = self.count(
                p.recent_items.as_ref(),
                "recommender.pipeline.recent_items",
                c.recent_items,
                (0, 1000),
            );
            c.popular_items = self.count(
                p.popular_items.as_ref(),
                "recommender.pipeline.popular_items",
                c.popular_items,
                (1, 100_000),
            );
        }
        if let Some(t) = &r.training {
            let t = t.get_ref();
            let b = &mut sim.bpr;
            b.factors =
                self.count(t.factors.as_ref(), "recommender.training.factors", b.factors, (1, 512));
            b.epochs =
                self.count(t.epochs.as_ref(), "recommender.training.epochs", b.epochs, (0, 10_000));
            b.learning_rate = self.number(
                t.learning_rate.as_ref(),
                "recommender.training.learning_rate",
                f64::from(b.learning_rate),
                (1e-9, 10.0),
            ) as f32;
            b.regularization = self.number(
                t.regularization.as_ref(),
                "recommender.training.regularization",
                f64::from(b.regularization),
                (0.0, 10.0),
            ) as f32;
        }
        let mut breaker = BreakerConfig::default();
        if let Some(b) = &r.breaker {
            let b = b.get_ref();
            breaker.timeout_ms = 1000.0
                * self.positive_seconds(
                    b.timeout.as_ref(),
                    "recommender.breaker.timeout",
                    breaker.timeout_ms / 1000.0,
                );
            breaker.window_s = self.positive_seconds(
                b.window.as_ref(),
                "recommender.breaker.window",
                breaker.window_s,
            );
            breaker.error_threshold = self.number(
                b.error_threshold.as_ref(),
                "recommender.breaker.error_threshold",
                breaker.error_threshold,
                (1e-9, 1.0),
            );
            breaker.min_requests = self.count(
                b.min_requests.as_ref(),
                "recommender.breaker.min_requests",
                breaker.min_requests as usize,
                (1, 1_000_000),
            ) as u64;
            breaker.sleep_s = self.positive_seconds(
                b.sleep.as_ref(),
                "recommender.breaker.sleep",
                breaker.sleep_s,
            );
        }
        let mut tolerance = Tolerance::default();
        if let Some(t) = &r.tolerance {
            let t = t.get_ref();
            tolerance.ctr_drop = self.number(
                t.ctr_drop.as_ref(),
                "recommender.tolerance.ctr_drop",
                tolerance.ctr_drop,
                (0.0, 1.0),
            );
            tolerance.p99_ms = t
                .p99_ms
                .as_ref()
                .map(|v| self.number(Some(v), "recommender.tolerance.p99_ms", 0.0, (0.0, 1e9)));
            let sustain = self.positive_seconds(
                t.sustain.as_ref(),
                "recommender.tolerance.sustain",
                tolerance.sustain as f64 * sim.bucket_s,
            );
            tolerance.sustain = (sustain / sim.bucket_s).ceil().max(1.0) as usize;
        }
        let max_tolerable_downtime_s = r
            .max_tolerable_downtime
            .as_ref()
            .map(|v| self.seconds(Some(v), "recommender.max_tolerable_downtime", 0.0));
        let schedule = self.schedule(&r.faults, sim.duration_s);
        let target = r.target.as_ref().and_then(|t| self.target(t, sim.client_timeout_ms));
        let http = r.target.as_ref().is_some_and(|t| t.get_ref().kind.get_ref() == "http");
        if let Some(t) = r.target.as_ref().filter(|_| http) {
            self.http_fits(r, t.get_ref());
        }
        let policies = if http { Vec::new() } else { self.policies(r.policies.as_ref(), breaker) };
        let mut gates = Vec::new();
        for (i, g) in r.gates.iter().enumerate() {
            let key = format!("recommender.gates[{i}]");
            let options = g.get_ref();
            let step = options.policy.get_ref();
            let known = REFERENCES.contains(&step.as_str())
                || policies.iter().any(|p| p.name() == step)
                || (http && step == HTTP_STEP);
            if !known {
                let mut names: Vec<&str> = REFERENCES.to_vec();
                names.extend(policies.iter().map(Policy::name));
                if http {
                    names.push(HTTP_STEP);
                }
                self.problem(
                    options.policy.span(),
                    &format!("{key}.policy"),
                    format!("no policy or reference `{step}` runs in this scenario"),
                    Some(format!("these run: {}", names.join(", "))),
                );
                continue;
            }
            let as_gate = Spanned::new(
                g.span(),
                GateOptions {
                    metric: options.metric.clone(),
                    at: None,
                    min: options.min,
                    max: options.max,
                    bound: options.bound.clone(),
                },
            );
            if let Some(gate) = self.gate(&as_gate, step, &key, RECSYS_METRICS, &[]) {
                gates.push(gate);
            }
        }
        let feature_store = r.feature_store.as_ref().and_then(|v| {
            let url = v.get_ref();
            let problem = if !url.starts_with("redis://") {
                Some("a Redis URL, `redis://HOST:PORT` (absent: the in-process store)".to_string())
            } else {
                redis::Client::open(url.as_str()).err().map(|e| format!("not a Redis URL: {e}"))
            };
            match problem {
                Some(message) => {
                    self.problem(v.span(), "recommender.feature_store", message, None);
                    None
                }
                None => Some(url.clone()),
            }
        });
        let replay = r.replay.as_ref().map(|o| self.replay(o.get_ref()));
        RecsysPlan {
            world,
            sim,
            schedule,
            policies,
            tolerance,
            max_tolerable_downtime_s,
            feature_store,
            world_log,
            target,
            gates,
            replay,
        }
    }

    fn endpoint(
        &mut self,
        value: &Spanned<String>,
        key: &str,
        allowed: &[&str],
    ) -> Option<Endpoint> {
        match Endpoint::parse(value.get_ref(), allowed) {
            Ok(endpoint) => Some(endpoint),
            Err(message) => {
                self.problem(value.span(), key, message, None);
                None
            }
        }
    }

    fn pointer(&mut self, value: Option<&Spanned<String>>, key: &str) -> Option<String> {
        let v = value?;
        let pointer = v.get_ref();
        if !pointer.is_empty() && !pointer.starts_with('/') {
            self.problem(
                v.span(),
                key,
                format!("`{pointer}` is not a JSON pointer"),
                Some(
                    "a JSON pointer (RFC 6901) starts with `/`, e.g. `/items` or `/data/0/id`"
                        .into(),
                ),
            );
            return None;
        }
        Some(pointer.clone())
    }

    fn target(&mut self, spanned: &Spanned<TargetOptions>, timeout_ms: f64) -> Option<HttpTarget> {
        let t = spanned.get_ref();
        if t.kind.get_ref() != "http" {
            self.problem(
                t.kind.span(),
                "recommender.target.kind",
                format!("unknown recommender kind `{}`", t.kind.get_ref()),
                Some("`http` (a service of yours); leave `[recommender.target]` out for the built-in one".into()),
            );
            return None;
        }
        let Some(url) = &t.url else {
            self.problem(
                spanned.span(),
                "recommender.target.url",
                "an http target needs its `url`".into(),
                None,
            );
            return None;
        };
        let endpoint = self.endpoint(url, "recommender.target.url", REQUEST_PLACEHOLDERS);
        let method = match t.method.as_ref().map(|m| m.get_ref().to_ascii_uppercase()) {
            None => Method::POST,
            Some(m) if m == "POST" => Method::POST,
            Some(m) if m == "GET" => Method::GET,
            Some(other) => {
                let span = t.method.as_ref().map_or(spanned.span(), Spanned::span);
                self.problem(
                    span,
                    "recommender.target.method",
                    format!("`{other}`: `POST` or `GET`"),
                    None,
                );
                Method::POST
            }
        };
        let body = match &t.body {
            None => DEFAULT_BODY.to_string(),
            Some(b) => {
                if let Err(message) =
                    crate::remote::check_placeholders(b.get_ref(), REQUEST_PLACEHOLDERS)
                {
                    self.problem(b.span(), "recommender.target.body", message, None);
                }
                if method == Method::GET {
                    self.problem(
                        b.span(),
                        "recommender.target.body",
                        "a `GET` sends no body; put the placeholders in the `url`".into(),
                        None,
                    );
                }
                b.get_ref().clone()
            }
        };
        let items = self
            .pointer(t.items.as_ref(), "recommender.target.items")
            .unwrap_or_else(|| "/items".into());
        let item_id = self.pointer(t.item_id.as_ref(), "recommender.target.item_id");
        let source = self.pointer(t.source.as_ref(), "recommender.target.source");
        let timeout_ms = 1000.0
            * self.positive_seconds(
                t.timeout.as_ref(),
                "recommender.target.timeout",
                timeout_ms.max(1000.0) / 1000.0,
            );
        let concurrency =
            self.count(t.concurrency.as_ref(), "recommender.target.concurrency", 64, (1, 10_000));
        let events = t.events.as_ref().and_then(|e| {
            let e = e.get_ref();
            let endpoint = self.endpoint(&e.url, "recommender.target.events.url", &[])?;
            let body = match &e.body {
                None => DEFAULT_EVENTS_BODY.to_string(),
                Some(b) => {
                    if let Err(message) =
                        crate::remote::check_placeholders(b.get_ref(), EVENT_PLACEHOLDERS)
                    {
                        self.problem(b.span(), "recommender.target.events.body", message, None);
                    }
                    b.get_ref().clone()
                }
            };
            Some((endpoint, body))
        });
        let store_proxy = t.store_proxy.as_ref().and_then(|p| {
            let p = p.get_ref();
            let api = self.endpoint(&p.api, "recommender.target.store_proxy.api", &[])?;
            if p.proxy.get_ref().is_empty() {
                self.problem(
                    p.proxy.span(),
                    "recommender.target.store_proxy.proxy",
                    "name the proxy".into(),
                    None,
                );
            }
            Some((api, p.proxy.get_ref().clone()))
        });
        Some(HttpTarget {
            endpoint: endpoint?,
            method,
            body,
            items,
            item_id,
            source,
            timeout_ms,
            concurrency,
            events,
            store_proxy,
        })
    }

    /// An http target is measured as it is, with the faults that can reach it from outside.
    fn http_fits(&mut self, r: &RecommenderOptions, target: &TargetOptions) {
        let builtin_only: [(&str, Option<std::ops::Range<usize>>); 7] = [
            ("replay", r.replay.as_ref().map(Spanned::span)),
            ("policies", r.policies.as_ref().map(Spanned::span)),
            ("feature_store", r.feature_store.as_ref().map(Spanned::span)),
            ("service", r.service.as_ref().map(Spanned::span)),
            ("pipeline", r.pipeline.as_ref().map(Spanned::span)),
            ("training", r.training.as_ref().map(Spanned::span)),
            ("breaker", r.breaker.as_ref().map(Spanned::span)),
        ];
        for (key, span) in builtin_only {
            if let Some(span) = span {
                self.problem(
                    span,
                    &format!("recommender.{key}"),
                    format!("`{key}` configures the built-in recommender; an http target is measured as it is"),
                    Some("leave it out, or leave `[recommender.target]` out".into()),
                );
            }
        }
        for (i, fault) in r.faults.iter().enumerate() {
            let kind = fault.get_ref().kind.get_ref().as_str();
            let span = fault.get_ref().kind.span();
            let key = format!("recommender.faults[{i}].kind");
            if !HTTP_FAULT_KINDS.contains(&kind) {
                if FAULT_KINDS.contains(&kind) {
                    self.problem(
                        span,
                        &key,
                        format!("`{kind}` acts inside the built-in recommender and cannot reach a service from outside"),
                        Some(format!("an http target takes {}", HTTP_FAULT_KINDS.join(", "))),
                    );
                }
                continue;
            }
            let needs = match kind {
                "store_outage" | "store_slow" if target.store_proxy.is_none() => Some(
                    "`[recommender.target.store_proxy]`: the Toxiproxy API in front of the service's store",
                ),
                "event_delay" | "event_loss" | "event_duplicate" | "out_of_order"
                    if target.events.is_none() =>
                {
                    Some("`[recommender.target.events]`: where the users' events go")
                }
                _ => None,
            };
            if let Some(needs) = needs {
                self.problem(span, &key, format!("`{kind}` on an http target needs {needs}"), None);
            }
        }
    }

    fn replay(&mut self, o: &ReplayOptions) -> ReplayPlan {
        let log = self.relative(o.log.get_ref());
        if !log.is_file() {
            self.problem(
                o.log.span(),
                "recommender.replay.log",
                format!("no file at {}", log.display()),
                Some(
                    "the Open Bandit Dataset's small logs: `cargo xtask fetch-obd` puts them in \
                     target/obd"
                        .into(),
                ),
            );
        }
        let format = match o.format.as_ref().map(|f| (f.get_ref().as_str(), f.span())) {
            None | Some(("csv", _)) => LogFormat::Csv,
            Some(("obd", _)) => LogFormat::Obd,
            Some((other, span)) => {
                self.problem(
                    span,
                    "recommender.replay.format",
                    format!("unknown log format `{other}`"),
                    Some("use csv or obd".into()),
                );
                LogFormat::Csv
            }
        };
        let train_share = match o.train_share.as_ref() {
            None => 0.5,
            Some(v) if v.get_ref().is_finite() && (0.0..1.0).contains(v.get_ref()) => *v.get_ref(),
            Some(v) => {
                self.problem(
                    v.span(),
                    "recommender.replay.train_share",
                    format!("{} is not a share in [0, 1)", v.get_ref()),
                    Some("the rest of the log is evaluated; 0 trains on nothing".into()),
                );
                0.5
            }
        };
        ReplayPlan { log, format, train_share }
    }

    fn policies(
        &mut self,
        value: Option<&Spanned<Vec<String>>>,
        breaker: BreakerConfig,
    ) -> Vec<Policy> {
        let Some(list) = value else {
            return vec![
                Policy::None,
                Policy::Popular,
                Policy::LastKnownGood,
                Policy::ServeStale,
                Policy::CircuitBreaker(breaker),
            ];
        };
        let mut out: Vec<Policy> = Vec::new();
        for name in list.get_ref() {
            let policy = match name.as_str() {
                "none" => Policy::None,
                "popular" => Policy::Popular,
                "last-known-good" => Policy::LastKnownGood,
                "serve-stale" => Policy::ServeStale,
                "circuit-breaker" => Policy::CircuitBreaker(breaker),
                other => {
                    self.problem(
                        list.span(),
                        "recommender.policies",
                        format!("unknown policy `{other}`"),
                        Some(format!("policies: {}", POLICIES.join(", "))),
                    );
                    continue;
                }
            };
            if out.iter().any(|p| p.name() == policy.name()) {
                self.problem(
                    list.span(),
                    "recommender.policies",
                    format!("policy `{name}` appears twice"),
                    None,
                );
                continue;
            }
            out.push(policy);
        }
        if out.is_empty() && self.n_problems() == 0 {
            self.problem(
                list.span(),
                "recommender.policies",
                "name at least one policy".into(),
                Some(format!("policies: {}", POLICIES.join(", "))),
            );
        }
        out
    }

    fn schedule(&mut self, faults: &[Spanned<FaultOptions>], duration_s: f64) -> Schedule {
        let mut out: Vec<(Fault, std::ops::Range<usize>)> = Vec::new();
        for (i, spanned) in faults.iter().enumerate() {
            if let Some(fault) = self.fault(spanned, i, duration_s) {
                let key = format!("recommender.faults[{i}]");
                if out.iter().any(|(f, _)| f.name == fault.name) {
                    self.problem(
                        spanned.span(),
                        &format!("{key}.name"),
                        format!("another fault is called `{}`", fault.name),
                        Some("give each fault its own `name`".into()),
                    );
                    continue;
                }
                if let Some(group) = fault.kind.exclusive_group()
                    && let Some((other, _)) = out.iter().find(|(f, _)| {
                        f.kind.exclusive_group() == Some(group)
                            && f.start < fault.stop.max(fault.start)
                            && fault.start < f.stop.max(f.start)
                    })
                {
                    self.problem(
                        spanned.span(),
                        &key,
                        format!(
                            "`{}` overlaps `{}`: both act on the {group}",
                            fault.name, other.name
                        ),
                        Some("schedule them one after the other".into()),
                    );
                    continue;
                }
                out.push((fault, spanned.span()));
            }
        }
        let mut faults: Vec<Fault> = out.into_iter().map(|(f, _)| f).collect();
        faults.sort_by(|a, b| a.start.total_cmp(&b.start));
        Schedule { faults }
    }

    fn fault(
        &mut self,
        spanned: &Spanned<FaultOptions>,
        i: usize,
        duration_s: f64,
    ) -> Option<Fault> {
        let o = spanned.get_ref();
        let key = format!("recommender.faults[{i}]");
        let kind_name = o.kind.get_ref().as_str();
        // A dial another kind reads is a mistake, not something to ignore.
        let own: &[&str] = match kind_name {
            "event_delay" => &["lag"],
            "event_loss" | "event_duplicate" | "model_errors" => &["share"],
            "out_of_order" => &["jitter"],
            "schema_change" => &["change"],
            "store_slow" | "model_latency" => &["latency"],
            "bad_model_push" => &["push", "sigma"],
            _ => &[],
        };
        let dials = [
            ("lag", o.lag.as_ref().map(Spanned::span)),
            ("share", o.share.as_ref().map(Spanned::span)),
            ("jitter", o.jitter.as_ref().map(Spanned::span)),
            ("change", o.change.as_ref().map(Spanned::span)),
            ("latency", o.latency.as_ref().map(Spanned::span)),
            ("push", o.push.as_ref().map(Spanned::span)),
            ("sigma", o.sigma.as_ref().map(Spanned::span)),
        ];
        if FAULT_KINDS.contains(&kind_name) {
            for (dial, span) in dials {
                if let Some(span) = span
                    && !own.contains(&dial)
                {
                    self.problem(
                        span,
                        &format!("{key}.{dial}"),
                        format!("`{dial}` does not apply to a `{kind_name}` fault"),
                        Some(if own.is_empty() {
                            format!("a `{kind_name}` fault has no dial: remove `{dial}`")
                        } else {
                            format!("its dial: {}", own.join(", "))
                        }),
                    );
                }
            }
        }
        let start =
            self.duration(Some(&o.start), &format!("{key}.start"), Duration::ZERO)?.as_secs_f64();
        let instant = kind_name == "cache_flush";
        let stop = match (&o.stop, instant) {
            (Some(stop), true) => {
                self.problem(
                    stop.span(),
                    &format!("{key}.stop"),
                    "a cache flush is instant: it has no `stop`".into(),
                    None,
                );
                start
            }
            (Some(stop), false) => {
                self.duration(Some(stop), &format!("{key}.stop"), Duration::ZERO)?.as_secs_f64()
            }
            (None, true) => start,
            (None, false) => {
                self.problem(
                    spanned.span(),
                    &key,
                    format!("a `{kind_name}` fault needs `stop`"),
                    None,
                );
                return None;
            }
        };
        if !instant && stop <= start {
            let span = o.stop.as_ref().map_or(spanned.span(), Spanned::span);
            self.problem(
                span,
                &format!("{key}.stop"),
                format!("the fault ends ({stop} s) before it starts ({start} s)"),
                None,
            );
            return None;
        }
        if start >= duration_s {
            self.problem(
                o.start.span(),
                &format!("{key}.start"),
                format!("starts at {start} s, after the run ends ({duration_s} s)"),
                None,
            );
            return None;
        }
        let need = |p: &mut Self, what: &str, present: bool| {
            if !present {
                p.problem(
                    spanned.span(),
                    &key,
                    format!("a `{kind_name}` fault needs `{what}`"),
                    None,
                );
            }
            present
        };
        let share = |p: &mut Self| -> Option<f64> {
            if !need(p, "share", o.share.is_some()) {
                return None;
            }
            let v = o.share.as_ref()?;
            let x = *v.get_ref();
            if !(0.0..=1.0).contains(&x) {
                p.problem(
                    v.span(),
                    &format!("{key}.share"),
                    format!("{x} is not a share in [0, 1]"),
                    None,
                );
                return None;
            }
            Some(x)
        };
        let ms = |p: &mut Self, value: &Option<Spanned<String>>, what: &str| -> Option<f64> {
            if !need(p, what, value.is_some()) {
                return None;
            }
            p.duration(value.as_ref(), &format!("{key}.{what}"), Duration::ZERO)
                .map(|d| d.as_secs_f64() * 1000.0)
        };
        let kind = match kind_name {
            "event_delay" => FaultKind::EventDelay { lag_s: ms(self, &o.lag, "lag")? / 1000.0 },
            "event_loss" => FaultKind::EventLoss { share: share(self)? },
            "event_duplicate" => FaultKind::EventDuplicate { share: share(self)? },
            "out_of_order" => {
                FaultKind::OutOfOrder { jitter_s: ms(self, &o.jitter, "jitter")? / 1000.0 }
            }
            "schema_change" => {
                let change = match o.change.as_ref().map(|c| (c.get_ref().as_str(), c.span())) {
                    Some(("rename", _)) => SchemaChange::Rename,
                    Some(("unit", _)) => SchemaChange::Unit,
                    Some((other, span)) => {
                        self.problem(
                            span,
                            &format!("{key}.change"),
                            format!("unknown schema change `{other}`"),
                            Some("use rename or unit".into()),
                        );
                        return None;
                    }
                    None => {
                        need(self, "change", false);
                        return None;
                    }
                };
                FaultKind::SchemaChange { change }
            }
            "stream_stop" => FaultKind::StreamStop,
            "store_slow" => FaultKind::StoreSlow { latency_ms: ms(self, &o.latency, "latency")? },
            "store_outage" => FaultKind::StoreOutage,
            "cache_flush" => FaultKind::CacheFlush,
            "model_errors" => FaultKind::ModelErrors { share: share(self)? },
            "model_latency" => {
                FaultKind::ModelLatency { latency_ms: ms(self, &o.latency, "latency")? }
            }
            "bad_model_push" => {
                let push = match o.push.as_ref().map(|c| (c.get_ref().as_str(), c.span())) {
                    Some(("shuffle", _)) => BadPush::Shuffle,
                    Some(("noise", span)) => match o.sigma.as_ref() {
                        Some(s) if s.get_ref().is_finite() && *s.get_ref() > 0.0 => {
                            BadPush::Noise { sigma: *s.get_ref() }
                        }
                        Some(s) => {
                            self.problem(
                                s.span(),
                                &format!("{key}.sigma"),
                                "sigma must be a positive number".into(),
                                None,
                            );
                            return None;
                        }
                        None => {
                            self.problem(span, &format!("{key}.sigma"), "a noisy push needs `sigma` (noise relative to the embeddings' RMS)".into(), None);
                            return None;
                        }
                    },
                    Some((other, span)) => {
                        self.problem(
                            span,
                            &format!("{key}.push"),
                            format!("unknown push `{other}`"),
                            Some("use noise or shuffle".into()),
                        );
                        return None;
                    }
                    None => {
                        need(self, "push", false);
                        return None;
                    }
                };
                FaultKind::BadModelPush { push }
            }
            other => {
                self.problem(
                    o.kind.span(),
                    &format!("{key}.kind"),
                    format!("unknown fault kind `{other}`"),
                    Some(FAULT_KINDS.join(", ")),
                );
                return None;
            }
        };
        let stop = stop.min(duration_s);
        let name =
            o.name.as_ref().map_or_else(|| kind.name().replace('_', "-"), |n| n.get_ref().clone());
        Some(Fault { name, kind, start, stop })
    }
}

#[cfg(test)]
mod tests {
    use crate::Recommender;

    fn problems(text: &str) -> String {
        match stressor_scenario::plan(text, "r.toml".as_ref(), &[&Recommender]) {
            Ok(_) => String::new(),
            Err(error) => format!("{error:#}\n{error:?}"),
        }
    }

    #[test]
    fn an_http_target_is_checked_key_by_key() {
        let head = "name = \"s\"\n[recommender]\nduration = \"1m\"\npolicies = [\"none\"]\n\
                    [recommender.target]\nkind = \"http\"\n";
        let found = problems(&format!(
            "{head}url = \"http://10.1.2.3:80/r\"\nitems = \"items\"\nbody = '{{\"u\": \"{{usr}}\"}}'\n\
             [[recommender.faults]]\nkind = \"stream_stop\"\nstart = \"1s\"\nstop = \"2s\"\n\
             [[recommender.faults]]\nkind = \"store_outage\"\nstart = \"3s\"\nstop = \"4s\"\n\
             [[recommender.faults]]\nkind = \"event_loss\"\nshare = 0.1\nstart = \"3s\"\nstop = \"4s\"\n"
        ));
        for expected in [
            "recommender.target.url",
            "not loopback",
            "recommender.target.items",
            "not a JSON pointer",
            "recommender.target.body",
            "`{usr}`",
            "recommender.policies",
            "recommender.faults[0].kind",
            "cannot reach a service from outside",
            "recommender.faults[1].kind",
            "store_proxy",
            "recommender.faults[2].kind",
            "recommender.target.events",
        ] {
            assert!(found.contains(expected), "{expected} is not in: {found}");
        }
        let found =
            problems("name = \"s\"\n[recommender]\n[recommender.target]\nkind = \"grpc\"\n");
        assert!(found.contains("recommender.target.kind") && found.contains("`grpc`"), "{found}");
        let found =
            problems("name = \"s\"\n[recommender]\n[recommender.world]\ncatalogue = \"c.csv\"\n");
        assert!(found.contains("recommender.world.catalogue"), "{found}");
        // A well-formed one plans, with the service as a step gates may name.
        let ok = "name = \"s\"\n[recommender]\n[recommender.target]\nkind = \"http\"\n\
                  url = \"http://127.0.0.1:8080/r?u={user}\"\nmethod = \"GET\"\n\
                  [[recommender.gates]]\npolicy = \"service\"\nmetric = \"malformed_rate\"\nmax = 0.0\n";
        assert_eq!(problems(ok), "");
    }

    #[test]
    fn a_dial_of_another_fault_kind_is_named() {
        let head = "name = \"s\"\n[recommender]\nduration = \"10m\"\n[[recommender.faults]]\n";
        let text = format!(
            "{head}kind = \"store_outage\"\nstart = \"1m\"\nstop = \"2m\"\nlatency = \"400ms\"\n"
        );
        let found = problems(&text);
        assert!(
            found.contains("recommender.faults[0].latency")
                && found.contains("does not apply to a `store_outage` fault"),
            "{found}"
        );
        let text = format!(
            "{head}kind = \"store_slow\"\nstart = \"1m\"\nstop = \"2m\"\nlatency = \"4ms\"\nshare = 0.5\n"
        );
        let found = problems(&text);
        assert!(
            found.contains("recommender.faults[0].share") && found.contains("its dial: latency"),
            "{found}"
        );
        let text = format!(
            "{head}kind = \"store_slow\"\nstart = \"1m\"\nstop = \"2m\"\nlatency = \"4ms\"\n"
        );
        assert_eq!(problems(&text), "");
    }

    #[test]
    fn replay_keys_are_checked_and_named() {
        let dir = std::env::temp_dir().join(format!("stressor-replay-plan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let log = dir.join("log.csv");
        std::fs::write(&log, "timestamp,user,item,position,click,propensity\n1,a,0,1,1,0.5\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let head = "name = \"s\"\n[recommender]\nduration = \"10m\"\n[recommender.replay]\n";
        let text = format!(
            "{head}log = {:?}\nformat = \"obd\"\ntrain_share = 0.25\n",
            log.display().to_string()
        );
        let scenario = stressor_scenario::plan(&text, "r.toml".as_ref(), &[&Recommender])
            .unwrap_or_else(|e| panic!("{e:?}"));
        let plan = scenario.part::<crate::RecsysPlan>().unwrap_or_else(|| panic!("no plan"));
        let replay = plan.replay.as_ref().unwrap_or_else(|| panic!("no replay"));
        assert_eq!((replay.format, replay.train_share), (crate::replay::LogFormat::Obd, 0.25));
        let text = format!(
            "{head}log = \"missing.csv\"\nformat = \"parquet\"\ntrain_share = 1.0\nrows = 3\n"
        );
        let found = problems(&text);
        assert!(found.contains("rows"), "{found}");
        let text =
            format!("{head}log = \"missing.csv\"\nformat = \"parquet\"\ntrain_share = 1.0\n");
        let found = problems(&text);
        for expect in [
            "recommender.replay.log",
            "no file at",
            "cargo xtask fetch-obd",
            "recommender.replay.format",
            "unknown log format `parquet`",
            "recommender.replay.train_share",
            "1 is not a share in [0, 1)",
        ] {
            assert!(found.contains(expect), "{expect}: {found}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
