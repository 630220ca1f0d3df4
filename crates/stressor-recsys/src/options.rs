//! The recommender family's part of the scenario file: `[recommender]` (TOML, unknown keys
//! rejected). Durations are strings like `"90s"`, `"5m"`, `"1h"`, `"300ms"`.

use serde::Deserialize;
use toml::Spanned;

/// The recommender family's top-level keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecommenderSection {
    /// The world, the recommender, the faults, the policies and gates.
    pub recommender: Spanned<RecommenderOptions>,
}

/// `[recommender]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecommenderOptions {
    /// Simulated time measured (default `"1h"`).
    #[serde(default)]
    pub duration: Option<Spanned<String>>,
    /// Seconds per reported bucket (default `"1m"`).
    #[serde(default)]
    pub bucket: Option<Spanned<String>>,
    /// Logged traffic the ranker trains on before the run (default `"2h"`).
    #[serde(default)]
    pub warmup: Option<Spanned<String>>,
    /// Slate size (default 10).
    #[serde(default)]
    pub k: Option<Spanned<u64>>,
    /// Fallback policies to compare (default: all five).
    #[serde(default)]
    pub policies: Option<Spanned<Vec<String>>>,
    /// The online feature store: absent, in process; `"redis://127.0.0.1:6379"`, Redis with
    /// Feast's layout, reached through an in-process proxy that enacts `store_outage` faults.
    #[serde(default)]
    pub feature_store: Option<Spanned<String>>,
    /// The longest outage the business tolerates, for the business impact table.
    #[serde(default)]
    pub max_tolerable_downtime: Option<Spanned<String>>,
    /// The recommender under test: absent, the built-in one; `kind = "http"`, the user's own
    /// service.
    #[serde(default)]
    pub target: Option<Spanned<TargetOptions>>,
    /// The simulated world.
    #[serde(default)]
    pub world: Option<Spanned<WorldOptions>>,
    /// The simulated users' behaviour.
    #[serde(default)]
    pub users: Option<Spanned<UserOptions>>,
    /// The service's costs and ranking.
    #[serde(default)]
    pub service: Option<Spanned<ServiceOptions>>,
    /// The event pipeline and stream job.
    #[serde(default)]
    pub pipeline: Option<Spanned<PipelineOptions>>,
    /// The ranker's training.
    #[serde(default)]
    pub training: Option<Spanned<TrainingOptions>>,
    /// The circuit breaker.
    #[serde(default)]
    pub breaker: Option<Spanned<BreakerOptions>>,
    /// What counts as recovered.
    #[serde(default)]
    pub tolerance: Option<Spanned<ToleranceOptions>>,
    /// The fault schedule.
    #[serde(default)]
    pub faults: Vec<Spanned<FaultOptions>>,
    /// Gates on a policy's (or reference's) metrics.
    #[serde(default)]
    pub gates: Vec<Spanned<RecsysGateOptions>>,
    /// Replay on a real logged-bandit log as a second source.
    #[serde(default)]
    pub replay: Option<Spanned<ReplayOptions>>,
}

/// `[recommender.replay]`: every step also replayed on a real log (see
/// [`crate::replay`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayOptions {
    /// The log's path, relative to the scenario file.
    pub log: Spanned<String>,
    /// `csv` (default: `timestamp,user,item,position,click,propensity`) or `obd` (the Open
    /// Bandit Dataset's CSV).
    pub format: Option<Spanned<String>>,
    /// The share of the log, from its start, that trains the recommender (default 0.5).
    pub train_share: Option<Spanned<f64>>,
}

/// `[recommender.world]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldOptions {
    /// Users.
    pub users: Option<Spanned<u64>>,
    /// Items.
    pub items: Option<Spanned<u64>>,
    /// Latent dimensions of the true affinity.
    pub dims: Option<Spanned<u64>>,
    /// Session arrivals per second.
    pub sessions_per_second: Option<Spanned<f64>>,
    /// Relative amplitude of a 24-hour cycle of arrivals, in [0, 1).
    pub daily_amplitude: Option<Spanned<f64>>,
    /// Zipf exponent of item popularity.
    pub popularity_exponent: Option<Spanned<f64>>,
    /// Weight of log-popularity in the true affinity.
    pub popularity_weight: Option<Spanned<f64>>,
    /// Scale of the latent dot product in the true affinity.
    pub affinity_scale: Option<Spanned<f64>>,
    /// Median item price.
    pub price_median: Option<Spanned<f64>>,
    /// σ of log price.
    pub price_sigma: Option<Spanned<f64>>,
    /// The user's interaction log (CSV or Parquet: `user`, `item`, optional `timestamp` and
    /// `value`): the world's users, items and fitted truth come from it.
    pub log: Option<Spanned<String>>,
    /// The user's catalogue (`item`, optional `price`), with `log`.
    pub catalogue: Option<Spanned<String>>,
}

/// `[recommender.target]`: the user's own recommender over HTTP.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetOptions {
    /// `http`.
    pub kind: Spanned<String>,
    /// The recommendation endpoint, on loopback.
    pub url: Option<Spanned<String>>,
    /// `POST` (default) or `GET`.
    pub method: Option<Spanned<String>>,
    /// The request body template: `{user}`, `{k}`, `{page}`, `{session}`.
    pub body: Option<Spanned<String>>,
    /// JSON pointer to the returned items (default `/items`).
    pub items: Option<Spanned<String>>,
    /// JSON pointer to the id inside each returned item, when items are objects.
    pub item_id: Option<Spanned<String>>,
    /// JSON pointer to the answer's source (`model`, `cache`, `fallback`).
    pub source: Option<Spanned<String>>,
    /// The client's timeout (default `"1s"`).
    pub timeout: Option<Spanned<String>>,
    /// Requests in flight at most (default 64).
    pub concurrency: Option<Spanned<u64>>,
    /// Where clicks and purchases go back: `{ url, body }`.
    pub events: Option<Spanned<EventsOptions>>,
    /// The Toxiproxy-compatible proxy in front of the service's Redis: `{ api, proxy }`.
    pub store_proxy: Option<Spanned<StoreProxyOptions>>,
}

/// `[recommender.target.events]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsOptions {
    /// The events endpoint (POST), on loopback.
    pub url: Spanned<String>,
    /// The body template: `{kind}`, `{user}`, `{item}`, `{time}`.
    pub body: Option<Spanned<String>>,
}

/// `[recommender.target.store_proxy]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreProxyOptions {
    /// The proxy's API, e.g. `http://127.0.0.1:8474` (`stressor proxy` or Toxiproxy).
    pub api: Spanned<String>,
    /// The proxy's name there.
    pub proxy: Spanned<String>,
}

/// `[recommender.users]`: RecSim's cascade and logit choice, conversion and sessions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserOptions {
    /// Probability of examining the next slot.
    pub attention_prob: Option<Spanned<f64>>,
    /// Logit of not clicking.
    pub no_click_mass: Option<Spanned<f64>>,
    /// Purchase logit intercept.
    pub purchase_bias: Option<Spanned<f64>>,
    /// Purchase logit weight on affinity.
    pub purchase_affinity: Option<Spanned<f64>>,
    /// Purchase logit weight on log relative price.
    pub price_weight: Option<Spanned<f64>>,
    /// Probability of another page after one without a click.
    pub continue_prob: Option<Spanned<f64>>,
    /// Probability of another page after a click.
    pub continue_after_click: Option<Spanned<f64>>,
    /// Probability of another page after one with nothing shown.
    pub continue_after_error: Option<Spanned<f64>>,
    /// Mean time between pages.
    pub think_time: Option<Spanned<String>>,
    /// Pages at most per session.
    pub max_pages: Option<Spanned<u64>>,
}

/// `[recommender.service]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceOptions {
    /// Concurrent requests served.
    pub workers: Option<Spanned<u64>>,
    /// The client gives up after this and shows nothing.
    pub client_timeout: Option<Spanned<String>>,
    /// How long a cached answer is fresh.
    pub cache_ttl: Option<Spanned<String>>,
    /// One feature-store round trip.
    pub store_latency: Option<Spanned<String>>,
    /// One model-server call (the service-time knob).
    pub model_latency: Option<Spanned<String>>,
    /// Candidates from the embedding space.
    pub candidates: Option<Spanned<u64>>,
    /// Weight of the recent items in the query.
    pub recent_weight: Option<Spanned<f64>>,
    /// Weight of the stream's item CTR in the score.
    pub ctr_weight: Option<Spanned<f64>>,
}

/// `[recommender.pipeline]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineOptions {
    /// Event to stream job, without faults.
    pub ingest_lag: Option<Spanned<String>>,
    /// Between stream job runs.
    pub tick: Option<Spanned<String>>,
    /// One pane of item counts.
    pub pane: Option<Spanned<String>>,
    /// Panes in the window.
    pub panes: Option<Spanned<u64>>,
    /// Items in a user's recent list.
    pub recent_items: Option<Spanned<u64>>,
    /// Items in the popular list.
    pub popular_items: Option<Spanned<u64>>,
}

/// `[recommender.training]`: BPR.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingOptions {
    /// Latent factors.
    pub factors: Option<Spanned<u64>>,
    /// Passes over the clicks.
    pub epochs: Option<Spanned<u64>>,
    /// SGD step.
    pub learning_rate: Option<Spanned<f64>>,
    /// L2 regularisation.
    pub regularization: Option<Spanned<f64>>,
}

/// `[recommender.breaker]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerOptions {
    /// The primary path's timeout budget.
    pub timeout: Option<Spanned<String>>,
    /// The rolling window.
    pub window: Option<Spanned<String>>,
    /// The error rate that opens it.
    pub error_threshold: Option<Spanned<f64>>,
    /// Calls in the window before it may open.
    pub min_requests: Option<Spanned<u64>>,
    /// How long it stays open before a probe.
    pub sleep: Option<Spanned<String>>,
}

/// `[recommender.tolerance]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToleranceOptions {
    /// The largest relative drop of clicks per request against the baseline.
    pub ctr_drop: Option<Spanned<f64>>,
    /// The largest p99 latency in ms, if latency counts.
    pub p99_ms: Option<Spanned<f64>>,
    /// How long the KPIs must hold.
    pub sustain: Option<Spanned<String>>,
}

/// One `[[recommender.faults]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultOptions {
    /// Its name in the report (default: the kind).
    pub name: Option<Spanned<String>>,
    /// `event_delay`, `event_loss`, `event_duplicate`, `out_of_order`, `schema_change`,
    /// `stream_stop`, `store_slow`, `store_outage`, `cache_flush`, `model_errors`,
    /// `model_latency`, `bad_model_push`.
    pub kind: Spanned<String>,
    /// When it starts.
    pub start: Spanned<String>,
    /// When it stops (not for `cache_flush`).
    pub stop: Option<Spanned<String>>,
    /// `event_delay`: the extra lag.
    pub lag: Option<Spanned<String>>,
    /// `event_loss`, `event_duplicate`, `model_errors`: the share affected.
    pub share: Option<Spanned<f64>>,
    /// `out_of_order`: the largest extra delay.
    pub jitter: Option<Spanned<String>>,
    /// `schema_change`: `rename` or `unit`.
    pub change: Option<Spanned<String>>,
    /// `store_slow`, `model_latency`: the extra latency.
    pub latency: Option<Spanned<String>>,
    /// `bad_model_push`: `noise` (with `sigma`) or `shuffle`.
    pub push: Option<Spanned<String>>,
    /// `bad_model_push = "noise"`: noise relative to the embeddings' RMS.
    pub sigma: Option<Spanned<f64>>,
}

/// One `[[recommender.gates]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecsysGateOptions {
    /// The policy or reference (`baseline`, `oracle`, `random`, `popularity`).
    pub policy: Spanned<String>,
    /// The metric.
    pub metric: Spanned<String>,
    /// At least.
    pub min: Option<f64>,
    /// At most.
    pub max: Option<f64>,
    /// `value`, `ci_lower` or `ci_upper`.
    pub bound: Option<Spanned<String>>,
}
