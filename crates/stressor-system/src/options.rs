//! The system family's part of the scenario file: `[system]` (TOML, unknown keys rejected).

use serde::Deserialize;
use stressor_scenario::options::GateOptions;
use toml::Spanned;

/// The system family's top-level keys.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemSection {
    /// A systems run: the target served over HTTP (or an `http` target loaded directly),
    /// optionally behind the fault proxy, under a load profile and a fault schedule.
    #[serde(default)]
    pub system: Option<Spanned<SystemOptions>>,
}

/// The `[system]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemOptions {
    /// The load profile: stages `DURATION@RATE` or `DURATION@FROM-TO` (requests per second),
    /// e.g. `["10s@20", "5s@200", "10s@20"]` for a 10× surge.
    pub stages: Spanned<Vec<String>>,
    /// HTTP/1.1 connections of the load generator (default 32).
    #[serde(default)]
    pub connections: Option<Spanned<u64>>,
    /// Per-request timeout (default `"2s"`).
    #[serde(default)]
    pub timeout: Option<Spanned<String>>,
    /// Labelled samples sent as inference requests, one per request, in turn (default 200,
    /// at most the evaluated samples); the returned labels give the accuracy under load.
    #[serde(default)]
    pub samples: Option<Spanned<u64>>,
    /// Put stressor's fault proxy between the load and the server (default: when there are
    /// faults).
    #[serde(default)]
    pub proxy: Option<bool>,
    /// How the target is served when it is a local model.
    #[serde(default)]
    pub serve: Option<Spanned<SystemServeOptions>>,
    /// Faults the proxy injects, on a schedule.
    #[serde(default)]
    pub faults: Vec<Spanned<FaultOptions>>,
    /// What "recovered" means.
    #[serde(default)]
    pub recovery: Option<Spanned<RecoveryOptions>>,
    /// Gates on the run (`p99_ms`, `error_rate`, `accuracy`, `time_to_recover_s`, per window
    /// as `p99_ms.surge`, …).
    #[serde(default)]
    pub gates: Vec<Spanned<GateOptions>>,
}

/// How a local target is served (`stressor serve`'s knobs).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemServeOptions {
    /// Requests served at once (default: the number of CPUs).
    #[serde(default)]
    pub max_concurrency: Option<u64>,
    /// Requests waiting for a slot before 503 (default 1024).
    #[serde(default)]
    pub queue_limit: Option<u64>,
    /// Extra milliseconds each request holds its slot, so saturation shows on a small machine
    /// (default 0).
    #[serde(default)]
    pub service_time_ms: Option<f64>,
}

/// One scheduled fault: a toxic of stressor's proxy (Toxiproxy's types and attributes, plus
/// the `http_*` types).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultOptions {
    /// A unique name, used for its window in reports and gates (default: the type).
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// The toxic type (`latency`, `timeout`, `reset_peer`, `http_status`, `http_delay`, …).
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    /// `upstream` (requests) or `downstream` (responses, the default).
    #[serde(default)]
    pub stream: Option<Spanned<String>>,
    /// Probability it acts (per connection for byte toxics, per request for HTTP ones;
    /// default 1).
    #[serde(default)]
    pub toxicity: Option<Spanned<f64>>,
    /// The toxic's attributes (`latency = 200`, `status = 503`, …).
    #[serde(default)]
    pub attributes: Option<Spanned<toml::Table>>,
    /// When it starts, from the start of the load (`"12s"`).
    pub start: Spanned<String>,
    /// When it stops (default: the end of the load).
    #[serde(default)]
    pub stop: Option<Spanned<String>>,
    /// How long its toxicity takes to rise from 0 (default `"0s"`).
    #[serde(default)]
    pub ramp: Option<Spanned<String>>,
}

/// When a second counts as recovered: every gated quantity back within tolerance of the
/// baseline (the seconds before the first window).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryOptions {
    /// How long the system must stay within tolerance (default `"2s"`).
    #[serde(default)]
    pub sustain: Option<Spanned<String>>,
    /// p99 latency at most this multiple of the baseline's (default 2.0) …
    #[serde(default)]
    pub p99_ratio: Option<Spanned<f64>>,
    /// … or the baseline's plus this many ms, whichever is larger (default 10).
    #[serde(default)]
    pub p99_slack_ms: Option<Spanned<f64>>,
    /// Error rate at most the baseline's plus this (default 0.01).
    #[serde(default)]
    pub error_rate_slack: Option<Spanned<f64>>,
    /// Accuracy at least the baseline's minus this (default 0.05).
    #[serde(default)]
    pub accuracy_drop: Option<Spanned<f64>>,
}
