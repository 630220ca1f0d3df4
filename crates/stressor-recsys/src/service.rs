//! The recommender service: a response cache with a TTL in front of the primary path (two
//! feature-store round trips, candidate generation, the model server), and the fallback
//! policy that acts when the primary path fails.
//!
//! Time is simulated: the service is called at a simulated `now` with the conditions the
//! fault schedule sets, and returns the *modelled* time its I/O took (store round trips,
//! model calls, cut short by a timeout budget) next to the *measured* time of its own work
//! (feature decoding, candidate generation, scoring). Decisions — timeouts, the circuit
//! breaker — use the modelled time only, so a seed gives the same decisions on any machine;
//! reported latency adds the measured work.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng as _;
use stressor_core::{BreakerTransition, Rng};

use crate::ranker::{Embeddings, Ranker};
use crate::store::{ItemStats, OnlineStore, Record, StoreError, UserRow};

/// What the service does when the primary path fails.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Policy {
    /// Nothing: the page shows no recommendations.
    None,
    /// A static list of the items most clicked before the run.
    Popular,
    /// The last features read successfully for the user and the items (kept by the service).
    LastKnownGood,
    /// The user's cached answer, however old.
    ServeStale,
    /// A circuit breaker around the primary path with a timeout budget; open, it serves the
    /// popular list at once.
    CircuitBreaker(BreakerConfig),
}

impl Policy {
    /// The policy's name in scenarios and reports.
    pub fn name(&self) -> &'static str {
        match self {
            Policy::None => "none",
            Policy::Popular => "popular",
            Policy::LastKnownGood => "last-known-good",
            Policy::ServeStale => "serve-stale",
            Policy::CircuitBreaker(_) => "circuit-breaker",
        }
    }
}

/// The circuit breaker's settings (Hystrix's defaults but a tighter timeout).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    /// The primary path's timeout budget, ms.
    pub timeout_ms: f64,
    /// The rolling window the error rate is measured over, seconds.
    pub window_s: f64,
    /// The error rate at which it opens, in (0, 1].
    pub error_threshold: f64,
    /// The fewest calls in the window before it may open.
    pub min_requests: u64,
    /// Seconds it stays open before letting a probe through.
    pub sleep_s: f64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            timeout_ms: 50.0,
            window_s: 10.0,
            error_threshold: 0.5,
            min_requests: 20,
            sleep_s: 5.0,
        }
    }
}

/// The service's fixed costs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServiceConfig {
    /// Slate size.
    pub k: usize,
    /// Seconds a cached answer is fresh.
    pub cache_ttl_s: f64,
    /// A cache lookup, ms.
    pub cache_ms: f64,
    /// One feature-store round trip, ms.
    pub store_ms: f64,
    /// A refused connection, ms.
    pub refused_ms: f64,
    /// One model-server call, ms (the service-time knob).
    pub model_ms: f64,
    /// The fallback policy.
    pub policy: Policy,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            k: 10,
            cache_ttl_s: 120.0,
            cache_ms: 0.1,
            store_ms: 1.0,
            refused_ms: 0.5,
            model_ms: 2.0,
            policy: Policy::None,
        }
    }
}

/// What the fault schedule does to the service's dependencies right now.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Conditions {
    /// Extra ms per store round trip.
    pub store_extra_ms: f64,
    /// Extra ms per model call.
    pub model_extra_ms: f64,
    /// The share of model calls that fail.
    pub model_error_share: f64,
}

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The primary path.
    Model,
    /// A fresh cache entry.
    Cache,
    /// A fallback.
    Fallback,
    /// Nothing could be served.
    Error,
}

impl Source {
    /// Its name in the HTTP answer's `source` field.
    pub fn name(self) -> &'static str {
        match self {
            Source::Model => "model",
            Source::Cache => "cache",
            Source::Fallback => "fallback",
            Source::Error => "error",
        }
    }
}

/// The service's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The items, best first (empty on error).
    pub items: Vec<u32>,
    /// Their scores (the fallback's rank order as descending scores).
    pub scores: Vec<f64>,
    /// Where it came from.
    pub source: Source,
    /// Modelled I/O time, ms.
    pub modeled_ms: f64,
    /// Measured time of the service's own work.
    pub work: Duration,
    /// Freshness lag of each feature record read, seconds.
    pub freshness: Vec<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    fn name(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
        }
    }
}

#[derive(Debug)]
struct Breaker {
    config: BreakerConfig,
    state: BreakerState,
    opened_at: f64,
    /// (second, calls, failures) of the rolling window.
    buckets: Vec<(i64, u64, u64)>,
    transitions: Vec<BreakerTransition>,
}

impl Breaker {
    fn new(config: BreakerConfig) -> Breaker {
        Breaker {
            config,
            state: BreakerState::Closed,
            opened_at: 0.0,
            buckets: Vec::new(),
            transitions: Vec::new(),
        }
    }

    fn change(&mut self, now: f64, to: BreakerState, reason: String) {
        self.transitions.push(BreakerTransition {
            t: now,
            from: self.state.name().into(),
            to: to.name().into(),
            reason,
        });
        self.state = to;
    }

    /// Whether the primary path may be tried now.
    fn allows(&mut self, now: f64) -> bool {
        match self.state {
            BreakerState::Closed => true,
            BreakerState::Open if now - self.opened_at >= self.config.sleep_s => {
                self.change(
                    now,
                    BreakerState::HalfOpen,
                    format!("{} s open: one probe", self.config.sleep_s),
                );
                true
            }
            // One probe at a time: while it is out, others are refused.
            BreakerState::Open | BreakerState::HalfOpen => false,
        }
    }

    fn record(&mut self, now: f64, ok: bool) {
        match self.state {
            BreakerState::HalfOpen => {
                if ok {
                    self.buckets.clear();
                    self.change(now, BreakerState::Closed, "probe succeeded".into());
                } else {
                    self.opened_at = now;
                    self.change(now, BreakerState::Open, "probe failed".into());
                }
                return;
            }
            BreakerState::Open => return,
            BreakerState::Closed => {}
        }
        let second = now.floor() as i64;
        let oldest = second - self.config.window_s.ceil() as i64 + 1;
        self.buckets.retain(|b| b.0 >= oldest);
        match self.buckets.last_mut() {
            Some(b) if b.0 == second => {
                b.1 += 1;
                b.2 += u64::from(!ok);
            }
            _ => self.buckets.push((second, 1, u64::from(!ok))),
        }
        let calls: u64 = self.buckets.iter().map(|b| b.1).sum();
        let failures: u64 = self.buckets.iter().map(|b| b.2).sum();
        let rate = failures as f64 / calls.max(1) as f64;
        if calls >= self.config.min_requests && rate >= self.config.error_threshold {
            self.opened_at = now;
            self.change(
                now,
                BreakerState::Open,
                format!("error rate {rate:.2} over {calls} calls in {} s", self.config.window_s),
            );
        }
    }
}

/// A cached answer: when it was made, its items and scores.
type Cached = (f64, Vec<u32>, Vec<f64>);

/// The recommender service.
#[derive(Debug)]
pub struct Service {
    config: ServiceConfig,
    ranker: Ranker,
    good_model: Arc<Embeddings>,
    static_popular: Vec<u32>,
    cache: HashMap<(u32, u32), Cached>,
    lkg_users: HashMap<u32, UserRow>,
    lkg_items: HashMap<u32, Record<ItemStats>>,
    lkg_popular: Vec<u32>,
    breaker: Option<Breaker>,
}

impl Service {
    /// A service serving `ranker`, with `static_popular` as its popular fallback.
    pub fn new(config: ServiceConfig, ranker: Ranker, static_popular: Vec<u32>) -> Service {
        let breaker = match config.policy {
            Policy::CircuitBreaker(b) => Some(Breaker::new(b)),
            _ => None,
        };
        Service {
            config,
            good_model: ranker.model.clone(),
            ranker,
            static_popular,
            cache: HashMap::new(),
            lkg_users: HashMap::new(),
            lkg_items: HashMap::new(),
            lkg_popular: Vec::new(),
            breaker,
        }
    }

    /// The service's settings.
    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// Empties the response cache.
    pub fn flush_cache(&mut self) {
        self.cache.clear();
    }

    /// Deploys `model` (a bad push), or rolls back to the model it started with (`None`).
    pub fn push(&mut self, model: Option<Arc<Embeddings>>) {
        self.ranker.model = model.unwrap_or_else(|| self.good_model.clone());
    }

    /// The circuit breaker's state changes so far.
    pub fn breaker_transitions(&self) -> &[BreakerTransition] {
        self.breaker.as_ref().map_or(&[], |b| &b.transitions)
    }

    /// Answers a request for `user`'s page `page` at `now`: [`Service::begin`], the primary
    /// path ([`Pending::primary`]) and [`Service::finish`] in one go.
    pub fn recommend(
        &mut self,
        user: u32,
        page: u32,
        now: f64,
        conditions: Conditions,
        store: &mut dyn OnlineStore,
        rng: &mut Rng,
    ) -> Answer {
        match self.begin(user, page, now) {
            Begun::Answered(answer) => answer,
            Begun::Pending(mut pending) => {
                let outcome = pending.primary(user, now, conditions, store, rng);
                self.finish(user, page, now, pending, outcome, conditions, rng)
            }
        }
    }

    /// The first part of a request, which needs the service: a fresh cache entry answers it;
    /// otherwise the breaker says whether the primary path may be tried, and the request
    /// takes what it needs (the ranker, the settings) to run that path without the service,
    /// so requests run it concurrently.
    pub fn begin(&mut self, user: u32, page: u32, now: f64) -> Begun {
        let started = Instant::now();
        let modeled = self.config.cache_ms;
        if let Some((at, items, scores)) = self.cache.get(&(user, page))
            && now - at < self.config.cache_ttl_s
        {
            return Begun::Answered(Answer {
                items: items.clone(),
                scores: scores.clone(),
                source: Source::Cache,
                modeled_ms: modeled,
                work: started.elapsed(),
                freshness: Vec::new(),
            });
        }
        let budget = self.breaker.as_ref().map(|b| b.config.timeout_ms);
        let tried = match self.breaker.as_mut() {
            Some(b) => b.allows(now),
            None => true,
        };
        Begun::Pending(Pending {
            config: self.config,
            ranker: self.ranker.clone(),
            tried,
            budget,
            started,
            modeled,
            freshness: Vec::new(),
        })
    }

    /// The last part of a request: the breaker records the outcome, the cache and the
    /// last-known-good features keep what the primary path read, or the policy falls back.
    #[expect(clippy::too_many_arguments, reason = "one request's state, threaded through")]
    pub fn finish(
        &mut self,
        user: u32,
        page: u32,
        now: f64,
        pending: Pending,
        outcome: Result<Primary, Failure>,
        conditions: Conditions,
        rng: &mut Rng,
    ) -> Answer {
        let Pending { tried, started, mut modeled, freshness, .. } = pending;
        if tried && let Some(b) = self.breaker.as_mut() {
            b.record(now, outcome.is_ok());
        }
        let key = (user, page);
        let answer = |items: Vec<u32>,
                      scores: Vec<f64>,
                      source: Source,
                      modeled: f64,
                      freshness: Vec<f64>| Answer {
            items,
            scores,
            source,
            modeled_ms: modeled,
            work: started.elapsed(),
            freshness,
        };
        match outcome {
            Ok(primary) => {
                for (item, stat) in primary.stats {
                    self.lkg_items.insert(item, stat);
                }
                self.lkg_users.insert(user, primary.row);
                if let Some(p) = primary.popular {
                    self.lkg_popular = p.value;
                }
                let (items, scores) = (primary.items, primary.scores);
                self.cache.insert(key, (now, items.clone(), scores.clone()));
                answer(items, scores, Source::Model, modeled, freshness)
            }
            Err(failure) => match self.config.policy {
                Policy::None => answer(Vec::new(), Vec::new(), Source::Error, modeled, freshness),
                Policy::Popular | Policy::CircuitBreaker(_) => {
                    let items: Vec<u32> =
                        self.static_popular.iter().take(self.config.k).copied().collect();
                    let scores = (0..items.len()).map(|r| -(r as f64)).collect();
                    answer(items, scores, Source::Fallback, modeled, freshness)
                }
                Policy::ServeStale => match self.cache.get(&key) {
                    Some((_, items, scores)) => {
                        answer(items.clone(), scores.clone(), Source::Fallback, modeled, freshness)
                    }
                    None => answer(Vec::new(), Vec::new(), Source::Error, modeled, freshness),
                },
                Policy::LastKnownGood => {
                    let lkg = (failure == Failure::StoreDown || failure == Failure::Timeout)
                        .then(|| self.last_known_good(user, now, conditions, rng, &mut modeled))
                        .flatten();
                    match lkg {
                        Some((items, scores)) => {
                            answer(items, scores, Source::Fallback, modeled, freshness)
                        }
                        None => answer(Vec::new(), Vec::new(), Source::Error, modeled, freshness),
                    }
                }
            },
        }
    }

    fn last_known_good(
        &self,
        user: u32,
        _now: f64,
        conditions: Conditions,
        rng: &mut Rng,
        modeled: &mut f64,
    ) -> Option<(Vec<u32>, Vec<f64>)> {
        let row = self.lkg_users.get(&user)?;
        let profile = row.profile.as_ref()?;
        let recent: &[u32] = row.recent.as_ref().map_or(&[], |r| &r.value);
        let query = self.ranker.query(&profile.value, recent);
        let base = self.ranker.base_scores(&query);
        let candidates = self.ranker.candidates(&base, &self.lkg_popular, &[]);
        let stats: Vec<Option<Record<ItemStats>>> =
            candidates.iter().map(|i| self.lkg_items.get(i).cloned()).collect();
        model_call(
            &self.config,
            &self.ranker,
            &base,
            &candidates,
            &stats,
            conditions,
            rng,
            modeled,
            None,
        )
        .ok()
    }
}

/// What [`Service::begin`] decided.
#[derive(Debug)]
pub enum Begun {
    /// Answered from the cache.
    Answered(Answer),
    /// To be served by the primary path ([`Pending::primary`], which needs no service), then
    /// [`Service::finish`].
    Pending(Pending),
}

/// A request between [`Service::begin`] and [`Service::finish`].
#[derive(Debug)]
pub struct Pending {
    config: ServiceConfig,
    ranker: Ranker,
    /// Whether the breaker let the primary path be tried.
    tried: bool,
    budget: Option<f64>,
    started: Instant,
    modeled: f64,
    freshness: Vec<f64>,
}

/// What the primary path read and ranked.
#[derive(Debug)]
pub struct Primary {
    items: Vec<u32>,
    scores: Vec<f64>,
    row: UserRow,
    stats: Vec<(u32, Record<ItemStats>)>,
    popular: Option<Record<Vec<u32>>>,
}

/// Why the primary path gave no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The store refused or dropped the call (or the breaker is open).
    StoreDown,
    /// The modelled time ran past the breaker's budget.
    Timeout,
    /// The model server failed.
    ModelError,
    /// The user has no features.
    NoFeatures,
}

impl Pending {
    /// The primary path, with no service needed: two store round trips (the user's hash and
    /// the popular list, pipelined; then the candidates' stats), candidates from the
    /// embedding space, one model call. Skipped (as the store being down) when the breaker
    /// said no.
    ///
    /// # Errors
    /// The [`Failure`] that stopped it.
    pub fn primary(
        &mut self,
        user: u32,
        now: f64,
        conditions: Conditions,
        store: &mut dyn OnlineStore,
        rng: &mut Rng,
    ) -> Result<Primary, Failure> {
        if !self.tried {
            return Err(Failure::StoreDown);
        }
        let (config, budget) = (self.config, self.budget);
        let modeled = &mut self.modeled;
        let freshness = &mut self.freshness;
        // Round trip 1: the user's hash and the popular list (pipelined).
        let (row, popular) =
            round_trip(&config, conditions, modeled, budget, || store.user_and_popular(user))?;
        for record in [row.profile.as_ref().map(|r| r.fresh), row.recent.as_ref().map(|r| r.fresh)]
            .into_iter()
            .flatten()
            .chain(popular.as_ref().map(|r| r.fresh))
        {
            freshness.push((now - record).max(0.0));
        }
        let Some(profile) = row.profile.as_ref() else { return Err(Failure::NoFeatures) };
        let recent: &[u32] = row.recent.as_ref().map_or(&[], |r| &r.value);
        let query = self.ranker.query(&profile.value, recent);
        let base = self.ranker.base_scores(&query);
        let popular_items: &[u32] = popular.as_ref().map_or(&[], |r| &r.value);
        let candidates = self.ranker.candidates(&base, popular_items, &[]);
        // Round trip 2: the candidates' stats.
        let stats = round_trip(&config, conditions, modeled, budget, || store.items(&candidates))?;
        for s in stats.iter().flatten() {
            freshness.push((now - s.fresh).max(0.0));
        }
        let (items, scores) = model_call(
            &config,
            &self.ranker,
            &base,
            &candidates,
            &stats,
            conditions,
            rng,
            modeled,
            budget,
        )?;
        let stats = candidates
            .iter()
            .zip(stats)
            .filter_map(|(item, stat)| stat.map(|s| (*item, s)))
            .collect();
        Ok(Primary { items, scores, row, stats, popular })
    }
}

/// One store round trip: `call`, its modelled time (a refusal is quick, an answer costs a
/// round trip plus any `store_slow` latency), and the timeout budget.
fn round_trip<T>(
    config: &ServiceConfig,
    conditions: Conditions,
    modeled: &mut f64,
    budget: Option<f64>,
    call: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, Failure> {
    match call() {
        Ok(value) => {
            *modeled += config.store_ms + conditions.store_extra_ms;
            over_budget(modeled, budget)?;
            Ok(value)
        }
        Err(_) => {
            *modeled += config.refused_ms;
            Err(Failure::StoreDown)
        }
    }
}

#[expect(clippy::too_many_arguments, reason = "one request's state, threaded through")]
fn model_call(
    config: &ServiceConfig,
    ranker: &Ranker,
    base: &[f64],
    candidates: &[u32],
    stats: &[Option<Record<ItemStats>>],
    conditions: Conditions,
    rng: &mut Rng,
    modeled: &mut f64,
    budget: Option<f64>,
) -> Result<(Vec<u32>, Vec<f64>), Failure> {
    *modeled += config.model_ms + conditions.model_extra_ms;
    over_budget(modeled, budget)?;
    if conditions.model_error_share > 0.0 && rng.random::<f64>() < conditions.model_error_share {
        return Err(Failure::ModelError);
    }
    let scores = ranker.score(base, candidates, stats);
    let order = crate::world::top_k(&scores, config.k, |_| false);
    let items: Vec<u32> = order.iter().map(|&j| candidates[j as usize]).collect();
    let scores = order.iter().map(|&j| scores[j as usize]).collect();
    Ok((items, scores))
}

fn over_budget(modeled: &mut f64, budget: Option<f64>) -> Result<(), Failure> {
    match budget {
        Some(b) if *modeled > b => {
            *modeled = b;
            Err(Failure::Timeout)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use stressor_core::Seed;

    use super::*;
    use crate::ranker::RankerConfig;
    use crate::store::MemoryStore;

    fn service(policy: Policy) -> (Service, MemoryStore) {
        let model = Arc::new(Embeddings {
            factors: 1,
            users: vec![1.0, -1.0],
            items: vec![1.0, 0.5, 0.0, -0.5],
            item_bias: vec![0.0; 4],
        });
        let ranker =
            Ranker { config: RankerConfig { candidates: 4, ..RankerConfig::default() }, model };
        let config = ServiceConfig { k: 2, policy, ..ServiceConfig::default() };
        let mut store = MemoryStore::new(2, 4);
        for u in 0..2u32 {
            let v: Arc<[f32]> = Arc::from(vec![if u == 0 { 1.0 } else { -1.0 }]);
            store.write_profile(u, Record { value: v, ts: 0.0, fresh: 0.0 }).unwrap();
        }
        (Service::new(config, ranker, vec![3, 2, 1]), store)
    }

    #[test]
    fn the_primary_path_then_the_cache() {
        let (mut s, mut store) = service(Policy::None);
        let mut rng = Seed::new(1).rng();
        let a = s.recommend(0, 0, 10.0, Conditions::default(), &mut store, &mut rng);
        assert_eq!((a.items.as_slice(), a.source), (&[0, 1][..], Source::Model));
        assert!((a.modeled_ms - (0.1 + 1.0 + 1.0 + 2.0)).abs() < 1e-9);
        assert_eq!(a.freshness, vec![10.0]);
        let b = s.recommend(0, 0, 100.0, Conditions::default(), &mut store, &mut rng);
        assert_eq!((b.items, b.source), (a.items.clone(), Source::Cache));
        let c = s.recommend(1, 0, 100.0, Conditions::default(), &mut store, &mut rng);
        assert_eq!(c.items, vec![3, 2]);
    }

    #[test]
    fn each_policy_answers_a_store_outage_its_way() {
        let ok = Conditions::default();
        let mut rng = Seed::new(1).rng();
        let (mut none, mut store) = service(Policy::None);
        store.set_outage(true);
        assert_eq!(none.recommend(0, 0, 0.0, ok, &mut store, &mut rng).source, Source::Error);
        let (mut popular, mut store) = service(Policy::Popular);
        store.set_outage(true);
        let a = popular.recommend(0, 0, 0.0, ok, &mut store, &mut rng);
        assert_eq!((a.items, a.source), (vec![3, 2], Source::Fallback));
        let (mut stale, mut store) = service(Policy::ServeStale);
        store.set_outage(true);
        assert_eq!(stale.recommend(0, 0, 0.0, ok, &mut store, &mut rng).source, Source::Error);
        store.set_outage(false);
        stale.recommend(0, 0, 1.0, ok, &mut store, &mut rng);
        store.set_outage(true);
        let a = stale.recommend(0, 0, 1000.0, ok, &mut store, &mut rng);
        assert_eq!((a.items, a.source), (vec![0, 1], Source::Fallback));
        let (mut lkg, mut store) = service(Policy::LastKnownGood);
        store.set_outage(true);
        assert_eq!(lkg.recommend(1, 0, 0.0, ok, &mut store, &mut rng).source, Source::Error);
        store.set_outage(false);
        lkg.recommend(1, 0, 1.0, ok, &mut store, &mut rng);
        store.set_outage(true);
        let a = lkg.recommend(1, 0, 1000.0, ok, &mut store, &mut rng);
        assert_eq!((a.items, a.source), (vec![3, 2], Source::Fallback));
    }

    #[test]
    fn the_breaker_opens_on_timeouts_probes_and_closes() {
        let config = BreakerConfig {
            timeout_ms: 20.0,
            window_s: 10.0,
            error_threshold: 0.5,
            min_requests: 4,
            sleep_s: 5.0,
        };
        let (mut s, mut store) = service(Policy::CircuitBreaker(config));
        let mut rng = Seed::new(1).rng();
        let slow = Conditions { store_extra_ms: 100.0, ..Conditions::default() };
        for i in 0..4 {
            let a = s.recommend(i % 2, i + 1, f64::from(i) * 0.1, slow, &mut store, &mut rng);
            assert_eq!(a.source, Source::Fallback);
            assert_eq!(a.modeled_ms, 20.0, "cut at the budget");
        }
        assert_eq!(s.breaker_transitions().len(), 1);
        assert_eq!(s.breaker_transitions()[0].to, "open");
        // Open: the primary path is not tried, the fallback is immediate.
        let a = s.recommend(0, 9, 1.0, slow, &mut store, &mut rng);
        assert!(a.modeled_ms < 1.0);
        // After the sleep window a probe goes through; healthy, it closes the breaker.
        let a = s.recommend(0, 10, 6.0, Conditions::default(), &mut store, &mut rng);
        assert_eq!(a.source, Source::Model);
        let states: Vec<&str> = s.breaker_transitions().iter().map(|t| t.to.as_str()).collect();
        assert_eq!(states, vec!["open", "half-open", "closed"]);
    }

    #[test]
    fn model_errors_and_bad_pushes() {
        let (mut s, mut store) = service(Policy::None);
        let mut rng = Seed::new(1).rng();
        let failing = Conditions { model_error_share: 1.0, ..Conditions::default() };
        assert_eq!(s.recommend(0, 0, 0.0, failing, &mut store, &mut rng).source, Source::Error);
        let bad = Arc::new(Embeddings {
            factors: 1,
            users: vec![1.0, -1.0],
            items: vec![-0.5, 0.0, 0.5, 1.0],
            item_bias: vec![0.0; 4],
        });
        s.push(Some(bad));
        assert_eq!(
            s.recommend(0, 1, 0.0, Conditions::default(), &mut store, &mut rng).items,
            vec![3, 2]
        );
        s.push(None);
        s.flush_cache();
        assert_eq!(
            s.recommend(0, 1, 0.0, Conditions::default(), &mut store, &mut rng).items,
            vec![0, 1]
        );
    }
}
