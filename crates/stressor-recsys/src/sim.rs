//! The simulation: simulated users' sessions against the recommender (or a reference
//! ranking) on one simulated clock, with the pipeline and the fault schedule in the loop,
//! measured per time bucket.
//!
//! Before the measured run a warm-up traffic of `warmup_s` seconds is logged under an
//! exploring policy (half random items, half drawn by popularity); the ranker is trained on
//! its clicks (BPR), the user embeddings are materialised into the store, and the stream job
//! has processed the warm-up events, so every run starts from the same warm state.
//!
//! Requests are served by `workers` workers: a request waits for a free one, so a slow
//! dependency builds a queue that outlives the fault. Latency is counted from the request's
//! arrival (no coordinated omission). A request whose modelled latency exceeds the client's
//! timeout shows nothing.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use hdrhistogram::Histogram;
use rand::Rng as _;
use stressor_core::{BreakerTransition, RecsysPoint, Seed};

use crate::fault::{BadPush, Edges, Schedule};
use crate::pipeline::{Event, EventKind, Fates, Pipeline, PipelineConfig};
use crate::ranker::{BprConfig, Embeddings, Ranker, RankerConfig, train_bpr};
use crate::service::{Conditions, Policy, Service, ServiceConfig, Source};
use crate::store::{MemoryStore, OnlineStore, Record};
use crate::world::{PageDice, World, ndcg};

/// Everything a run needs besides the world, the ranking and the faults.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Simulated seconds measured.
    pub duration_s: f64,
    /// Seconds per reported bucket.
    pub bucket_s: f64,
    /// Simulated seconds of logged traffic the ranker trains on.
    pub warmup_s: f64,
    /// Concurrent requests the service handles.
    pub workers: usize,
    /// The client gives up after this many ms and shows nothing.
    pub client_timeout_ms: f64,
    /// The pipeline.
    pub pipeline: PipelineConfig,
    /// The service (its policy is set per run).
    pub service: ServiceConfig,
    /// The ranker's mixing.
    pub ranker: RankerConfig,
    /// BPR training.
    pub bpr: BprConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            duration_s: 3600.0,
            bucket_s: 60.0,
            warmup_s: 7200.0,
            workers: 8,
            client_timeout_ms: 300.0,
            pipeline: PipelineConfig::default(),
            service: ServiceConfig::default(),
            ranker: RankerConfig::default(),
            bpr: BprConfig::default(),
        }
    }
}

/// What ranks the slates of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ranking {
    /// The recommender with a fallback policy.
    Service(Policy),
    /// The true top-k: the ceiling.
    Oracle,
    /// k items at random: the floor.
    Random,
    /// The static popular list for everyone: what personalisation must beat.
    Popularity,
}

/// The warm state every run starts from.
#[derive(Debug, Clone)]
pub struct Warm {
    /// The world.
    pub world: Arc<World>,
    /// The trained ranker's model.
    pub model: Arc<Embeddings>,
    /// The items most clicked during warm-up, most first: the static popular fallback.
    pub popular: Vec<u32>,
    /// The store after warm-up and materialisation.
    pub store: MemoryStore,
    /// The pipeline after warm-up.
    pub pipeline: Pipeline,
    /// Clicks the ranker trained on.
    pub training_clicks: usize,
}

/// Logs warm-up traffic, trains the ranker and warms the store.
pub fn warm_up(world: Arc<World>, config: &SimConfig, seed: Seed) -> Warm {
    let users = world.users();
    let items = world.items();
    let k = config.service.k;
    let mut store = MemoryStore::new(users, items);
    let mut pipeline = Pipeline::new(config.pipeline, users, items, seed.derive("warm-pipeline"));
    let none = Schedule::default();
    let mut rng = seed.derive("logging-policy").rng();
    let cumulative: Vec<f64> = world
        .popularity
        .iter()
        .scan(0.0, |acc, p| {
            *acc += p;
            Some(*acc)
        })
        .collect();
    let start = -config.warmup_s;
    let mut positives = Vec::new();
    let mut clicks_per_item = vec![0u64; items];
    let sessions = world.sessions(config.warmup_s, seed.derive("warm-sessions"));
    let model = &world.config.users_model;
    // Warm-up pages: one per session plus the session's further pages, in time order.
    let mut pages: BinaryHeap<Reverse<(u64, u64, u32, u32)>> = BinaryHeap::new();
    for (s, (t, user)) in sessions.iter().enumerate() {
        pages.push(Reverse((micros(*t), s as u64, 0, *user)));
    }
    let mut next_tick = pipeline.next_tick(start);
    while let Some(Reverse((at, session, page, user))) = pages.pop() {
        let t = start + at as f64 / 1e6;
        while next_tick <= t {
            pipeline.tick(next_tick, &none, &mut store);
            next_tick += config.pipeline.tick_s;
        }
        let mut slate: Vec<u32> = Vec::with_capacity(k);
        while slate.len() < k.min(items) {
            let item = if rng.random::<f64>() < 0.5 {
                rng.random_range(0..items) as u32
            } else {
                let u: f64 = rng.random();
                cumulative.partition_point(|c| *c < u).min(items - 1) as u32
            };
            if !slate.contains(&item) {
                slate.push(item);
            }
        }
        let dice = PageDice::roll(seed.derive("warm-pages"), session, page, k, model.think_s);
        let affinities: Vec<f64> =
            slate.iter().map(|&i| world.affinity(user as usize, i as usize)).collect();
        let prices: Vec<f64> = slate.iter().map(|&i| world.prices[i as usize]).collect();
        let response = model.respond(&affinities, &prices, world.config.price_median, &dice);
        for &item in &slate {
            pipeline.produce(Event { kind: EventKind::Impression, user, item, time: t }, &none);
        }
        if let Some(slot) = response.click {
            let item = slate[slot];
            positives.push((user, item));
            clicks_per_item[item as usize] += 1;
            pipeline.produce(Event { kind: EventKind::Click, user, item, time: t }, &none);
        }
        if response.continues && page + 1 < model.max_pages {
            let next = t + dice.think_s;
            if next < 0.0 {
                pages.push(Reverse((micros(next - start), session, page + 1, user)));
            }
        }
    }
    let model = train_on_log(config, &mut pipeline, next_tick, &mut store, &positives, seed);
    let mut popular = by_clicks(&clicks_per_item);
    popular.truncate(config.pipeline.popular_items.max(k));
    Warm { world, model, popular, store, pipeline, training_clicks: positives.len() }
}

/// The end of a warm-up, on logged traffic simulated or real: the stream job's ticks due from
/// `next_tick` up to time 0, BPR trained on the logged clicks `positives` (user, item), every
/// user's embedding materialised into `store`. Returns the ranker's model.
pub(crate) fn train_on_log(
    config: &SimConfig,
    pipeline: &mut Pipeline,
    mut next_tick: f64,
    store: &mut MemoryStore,
    positives: &[(u32, u32)],
    seed: Seed,
) -> Arc<Embeddings> {
    let none = Schedule::default();
    while next_tick <= 0.0 {
        pipeline.tick(next_tick, &none, store);
        next_tick += config.pipeline.tick_s;
    }
    let (users, items) = store.size();
    let model = Arc::new(train_bpr(positives, users, items, config.bpr, seed.derive("ranker")));
    for u in 0..users {
        let value: Arc<[f32]> = Arc::from(model.user(u));
        // The in-process store refuses nothing outside an outage.
        let _ = store.write_profile(u as u32, Record { value, ts: 0.0, fresh: 0.0 });
    }
    model
}

/// Item indices by clicks, most first (ties by index): the static popular list.
pub(crate) fn by_clicks(clicks_per_item: &[u64]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..clicks_per_item.len() as u32).collect();
    order.sort_by(|a, b| {
        clicks_per_item[*b as usize].cmp(&clicks_per_item[*a as usize]).then(a.cmp(b))
    });
    order
}

fn micros(seconds: f64) -> u64 {
    (seconds.max(0.0) * 1e6).round() as u64
}

/// One run's measurements.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// One point per bucket.
    pub points: Vec<RecsysPoint>,
    /// Every answered request's latency, µs.
    pub latency: Histogram<u64>,
    /// Per answered request: NDCG@k.
    pub ndcg: Vec<f64>,
    /// Per request: revenue.
    pub revenue: Vec<f64>,
    /// Per request that read features: the mean freshness lag, seconds.
    pub freshness: Vec<f64>,
    /// The breaker's state changes.
    pub breaker: Vec<BreakerTransition>,
    /// How the pipeline's events fared.
    pub fates: Fates,
}

/// One reported bucket while a run fills it: its counts, its latencies (µs) and the freshness
/// lag summed over its feature reads. Shared by the simulation and the live HTTP runs.
pub(crate) struct Bucket {
    pub(crate) point: RecsysPoint,
    pub(crate) latency: Histogram<u64>,
    pub(crate) freshness_sum: f64,
}

impl Bucket {
    /// The `duration_s / bucket_s` empty buckets of a run.
    pub(crate) fn all(duration_s: f64, bucket_s: f64) -> Vec<Bucket> {
        let n = (duration_s / bucket_s).ceil().max(1.0) as usize;
        (0..n)
            .map(|b| Bucket {
                point: RecsysPoint { t: b as f64 * bucket_s, ..RecsysPoint::default() },
                latency: histogram(),
                freshness_sum: 0.0,
            })
            .collect()
    }

    /// The bucket's point, with its latency quantiles (ms) and mean freshness lag.
    pub(crate) fn finish(self) -> RecsysPoint {
        let mut p = self.point;
        if !self.latency.is_empty() {
            p.p50_ms = Some(self.latency.value_at_quantile(0.5) as f64 / 1000.0);
            p.p99_ms = Some(self.latency.value_at_quantile(0.99) as f64 / 1000.0);
        }
        if p.feature_reads > 0 {
            p.freshness_lag_s = Some(self.freshness_sum / p.feature_reads as f64);
        }
        p
    }
}

/// A latency histogram in µs, up to an hour.
pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap_or_else(|_| unreachable!())
}

/// Runs the measured traffic once, against `store` (a copy of the warm store: the in-process
/// one, or the same rows in Redis). `store_outage` faults are passed on to the store as they
/// start and end ([`OnlineStore::set_outage`]).
pub fn run(
    warm: &Warm,
    config: &SimConfig,
    ranking: Ranking,
    schedule: &Schedule,
    seed: Seed,
    store: &mut dyn OnlineStore,
) -> RunOutput {
    let world = &warm.world;
    let k = config.service.k;
    let model = &world.config.users_model;
    let mut buckets = Bucket::all(config.duration_s, config.bucket_s);
    let n_buckets = buckets.len();
    let mut pipeline = warm.pipeline.clone();
    let mut service = match ranking {
        Ranking::Service(policy) => Some(Service::new(
            ServiceConfig { policy, ..config.service },
            Ranker { config: config.ranker, model: warm.model.clone() },
            warm.popular.clone(),
        )),
        _ => None,
    };
    let pushes: Vec<(Option<BadPush>, Arc<Embeddings>)> = Vec::new();
    let mut pushes = pushes;
    let mut current_push: Option<BadPush> = None;
    let mut edges = Edges::new(schedule);
    let mut service_rng = seed.derive("service").rng();
    let mut random_rng = seed.derive("random-ranking").rng();
    let mut workers: BinaryHeap<Reverse<u64>> =
        (0..config.workers.max(1)).map(|_| Reverse(0)).collect();
    let mut out = RunOutput {
        points: Vec::new(),
        latency: histogram(),
        ndcg: Vec::new(),
        revenue: Vec::new(),
        freshness: Vec::new(),
        breaker: Vec::new(),
        fates: Fates::default(),
    };
    let sessions = world.sessions(config.duration_s, seed.derive("sessions"));
    let mut pages: BinaryHeap<Reverse<(u64, u64, u32, u32)>> = BinaryHeap::new();
    for (s, (t, user)) in sessions.iter().enumerate() {
        pages.push(Reverse((micros(*t), s as u64, 0, *user)));
    }
    let page_seed = seed.derive("pages");
    let mut next_tick = pipeline.next_tick(0.0);
    while let Some(Reverse((at, session, page, user))) = pages.pop() {
        let t = at as f64 / 1e6;
        if t >= config.duration_s {
            continue;
        }
        while next_tick <= t {
            edges.outage(schedule, next_tick, store);
            pipeline.tick(next_tick, schedule, store);
            next_tick += config.pipeline.tick_s;
        }
        edges.outage(schedule, t, store);
        let bucket = &mut buckets[((t / config.bucket_s) as usize).min(n_buckets - 1)];
        bucket.point.requests += 1;
        let dice = PageDice::roll(page_seed, session, page, k, model.think_s);
        let (slate, latency_ms, decided_ms, source) = match (ranking, service.as_mut()) {
            (Ranking::Oracle, _) => {
                (world.oracle_slate(user as usize, k), None, None, Source::Model)
            }
            (Ranking::Popularity, _) => {
                (warm.popular.iter().take(k).copied().collect(), None, None, Source::Model)
            }
            (Ranking::Random, _) => {
                let mut slate = Vec::with_capacity(k);
                while slate.len() < k.min(world.items()) {
                    let item = random_rng.random_range(0..world.items()) as u32;
                    if !slate.contains(&item) {
                        slate.push(item);
                    }
                }
                (slate, None, None, Source::Model)
            }
            (Ranking::Service(_), Some(service)) => {
                if edges.flush_due(t) {
                    service.flush_cache();
                }
                let push = schedule.bad_push(t);
                if push != current_push {
                    current_push = push;
                    let model = push.map(|p| match pushes.iter().find(|(q, _)| *q == Some(p)) {
                        Some((_, m)) => m.clone(),
                        None => {
                            let sigma = match p {
                                BadPush::Noise { sigma } => Some(sigma),
                                BadPush::Shuffle => None,
                            };
                            let m = Arc::new(warm.model.corrupted(sigma, seed));
                            pushes.push((Some(p), m.clone()));
                            m
                        }
                    });
                    service.push(model);
                }
                let (store_extra_ms, _) = schedule.store(t);
                let (model_extra_ms, model_error_share) = schedule.model(t);
                let conditions = Conditions { store_extra_ms, model_extra_ms, model_error_share };
                let answer = service.recommend(user, page, t, conditions, store, &mut service_rng);
                let Reverse(free) = workers.pop().unwrap_or(Reverse(0));
                let start = free.max(at);
                let service_us = (answer.modeled_ms * 1000.0).round() as u64;
                workers.push(Reverse(start + service_us));
                let decided_ms = (start - at) as f64 / 1000.0 + answer.modeled_ms;
                let timed_out = decided_ms > config.client_timeout_ms;
                let reported_ms = if timed_out {
                    config.client_timeout_ms
                } else {
                    decided_ms + answer.work.as_secs_f64() * 1000.0
                };
                if !answer.freshness.is_empty() {
                    let mean = answer.freshness.iter().sum::<f64>() / answer.freshness.len() as f64;
                    bucket.point.feature_reads += answer.freshness.len() as u64;
                    bucket.freshness_sum += answer.freshness.iter().sum::<f64>();
                    out.freshness.push(mean);
                }
                let source = if timed_out { Source::Error } else { answer.source };
                let shown_ms = decided_ms.min(config.client_timeout_ms);
                (
                    if timed_out { Vec::new() } else { answer.items },
                    Some(reported_ms),
                    Some(shown_ms),
                    source,
                )
            }
            (Ranking::Service(_), None) => (Vec::new(), None, None, Source::Error),
        };
        match source {
            Source::Error => bucket.point.errors += 1,
            Source::Cache => bucket.point.cache_hits += 1,
            Source::Fallback => bucket.point.fallbacks += 1,
            Source::Model => {}
        }
        // Events carry the time the page was shown by the modelled latency, so the pipeline
        // (and everything after it) does not depend on the machine's speed.
        let shown_at = t + decided_ms.unwrap_or(0.0) / 1000.0;
        if let Some(ms) = latency_ms.filter(|_| source != Source::Error) {
            let us = (ms * 1000.0).round().max(1.0) as u64;
            let _ = bucket.latency.record(us);
            let _ = out.latency.record(us);
        }
        let affinities: Vec<f64> =
            slate.iter().map(|&i| world.affinity(user as usize, i as usize)).collect();
        let prices: Vec<f64> = slate.iter().map(|&i| world.prices[i as usize]).collect();
        let response = model.respond(&affinities, &prices, world.config.price_median, &dice);
        let mut revenue = 0.0;
        if !slate.is_empty() {
            let value = ndcg(&slate, &world.affinities(user as usize), k);
            bucket.point.ndcg_sum += value;
            out.ndcg.push(value);
            bucket.point.impressions += slate.len() as u64;
            for &item in &slate {
                pipeline.produce(
                    Event { kind: EventKind::Impression, user, item, time: shown_at },
                    schedule,
                );
            }
        }
        if let Some(slot) = response.click {
            let item = slate[slot];
            bucket.point.clicks += 1;
            pipeline
                .produce(Event { kind: EventKind::Click, user, item, time: shown_at }, schedule);
            if response.purchase {
                bucket.point.conversions += 1;
                revenue = world.prices[item as usize];
                bucket.point.revenue += revenue;
                pipeline.produce(
                    Event { kind: EventKind::Purchase, user, item, time: shown_at },
                    schedule,
                );
            }
        }
        out.revenue.push(revenue);
        if response.continues && page + 1 < model.max_pages {
            pages.push(Reverse((micros(shown_at + dice.think_s), session, page + 1, user)));
        }
    }
    out.points = buckets.into_iter().map(Bucket::finish).collect();
    if let Some(service) = &service {
        out.breaker = service.breaker_transitions().to_vec();
    }
    out.fates = pipeline.fates().clone();
    out
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use super::*;
    use crate::fault::FaultKind;
    use crate::world::WorldConfig;

    fn small() -> (Warm, SimConfig) {
        let world = Arc::new(World::new(
            WorldConfig {
                users: 300,
                items: 200,
                sessions_per_second: 5.0,
                ..WorldConfig::default()
            },
            Seed::new(5),
        ));
        let config = SimConfig { duration_s: 600.0, warmup_s: 1800.0, ..SimConfig::default() };
        (warm_up(world, &config, Seed::new(5)), config)
    }

    #[test]
    fn the_recommender_sits_between_random_and_the_oracle() {
        let (warm, config) = small();
        let none = Schedule::default();
        let seed = Seed::new(5);
        let oracle = run(&warm, &config, Ranking::Oracle, &none, seed, &mut warm.store.clone());
        let random = run(&warm, &config, Ranking::Random, &none, seed, &mut warm.store.clone());
        let model = run(
            &warm,
            &config,
            Ranking::Service(Policy::None),
            &none,
            seed,
            &mut warm.store.clone(),
        );
        let popular =
            run(&warm, &config, Ranking::Popularity, &none, seed, &mut warm.store.clone());
        // CTR (clicks / impressions) with Wilson intervals: the model's lies strictly between
        // the others'.
        let ctr = |o: &RunOutput| {
            let clicks = o.points.iter().map(|p| p.clicks).sum();
            let impressions = o.points.iter().map(|p| p.impressions).sum();
            stressor_core::Estimate::proportion(clicks, impressions).ci.unwrap()
        };
        let (o, r, m, p) = (ctr(&oracle), ctr(&random), ctr(&model), ctr(&popular));
        assert!(
            r.upper < m.lower && p.upper < m.lower && m.upper < o.lower,
            "random {r:?}, popular {p:?}, model {m:?}, oracle {o:?}"
        );
        let ndcg = |o: &RunOutput| stressor_core::Estimate::mean(&o.ndcg, Seed::new(1)).ci.unwrap();
        let (o, r, m, p) = (ndcg(&oracle), ndcg(&random), ndcg(&model), ndcg(&popular));
        assert!(
            r.upper < m.lower && p.upper < m.lower && m.upper < o.lower,
            "random {r:?}, popular {p:?}, model {m:?}, oracle {o:?}"
        );
        assert!(model.points.iter().all(|p| p.errors == 0));
        assert!(warm.training_clicks > 1000, "{}", warm.training_clicks);
    }

    #[test]
    fn the_same_seed_gives_the_same_run() {
        let (warm, config) = small();
        let schedule = Schedule {
            faults: vec![crate::fault::Fault {
                name: "down".into(),
                kind: FaultKind::StoreOutage,
                start: 120.0,
                stop: 240.0,
            }],
        };
        let once = || {
            let ranking = Ranking::Service(Policy::Popular);
            run(&warm, &config, ranking, &schedule, Seed::new(1), &mut warm.store.clone())
        };
        let (a, b) = (once(), once());
        let strip = |o: &RunOutput| {
            o.points
                .iter()
                .map(|p| RecsysPoint { p50_ms: None, p99_ms: None, ..*p })
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&a), strip(&b));
        assert_eq!(a.fates, b.fates);
        // During the outage the popular list serves: fallbacks, no errors.
        let during: u64 = a.points[2..4].iter().map(|p| p.fallbacks).sum();
        let requests: u64 = a.points[2..4].iter().map(|p| p.requests - p.cache_hits).sum();
        assert_eq!(during, requests);
    }
}
