//! The war-game family's part of the scenario file: `[wargame]` (TOML, unknown keys rejected).

use serde::Deserialize;
use toml::Spanned;

/// The war-game family's top-level keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WargameSection {
    /// The exercise: the fleet, the red team's injects, the blue team's playbook.
    pub wargame: Spanned<WargameOptions>,
}

/// `[wargame]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WargameOptions {
    /// The exercise's length on its clock (default `"24h"`).
    #[serde(default)]
    pub duration: Option<Spanned<String>>,
    /// One tick of the clock: traffic is sent, labels arrive and monitors look once per tick
    /// (default `"10m"`).
    #[serde(default)]
    pub tick: Option<Spanned<String>>,
    /// `"simulated"` (default: the exercise's clock runs as fast as the fleet answers) or
    /// `"realtime"` (one second of the exercise per second of wall time, for live drills).
    #[serde(default)]
    pub clock: Option<Spanned<String>>,
    /// Seeds played per blue team (default 1); each figure then has an interval across seeds.
    #[serde(default)]
    pub seeds: Option<Spanned<u64>>,
    /// The blue team's name (default `"defended"`); a team without a defence always plays
    /// the same timeline beside it as `no-defence`.
    #[serde(default)]
    pub team: Option<Spanned<String>>,
    /// Where model versions and aliases live.
    #[serde(default)]
    pub registry: Option<Spanned<RegistryOptions>>,
    /// The credit-scoring model.
    #[serde(default)]
    pub credit: Option<Spanned<CreditOptions>>,
    /// The fraud-detection model.
    #[serde(default)]
    pub fraud: Option<Spanned<FraudOptions>>,
    /// The customer-service chatbot.
    #[serde(default)]
    pub chatbot: Option<Spanned<ChatbotOptions>>,
    /// What outcomes cost, for the business impact.
    #[serde(default)]
    pub costs: Option<Spanned<CostOptions>>,
    /// How the referee decides a model has recovered.
    #[serde(default)]
    pub recovery: Option<Spanned<RecoveryOptions>>,
    /// The red team's timeline.
    #[serde(default)]
    pub injects: Vec<Spanned<InjectOptions>>,
    /// The blue team's monitors.
    #[serde(default)]
    pub monitors: Vec<Spanned<MonitorOptions>>,
    /// The blue team's actions.
    #[serde(default)]
    pub actions: Vec<Spanned<ActionOptions>>,
    /// Gates on a team's metrics.
    #[serde(default)]
    pub gates: Vec<Spanned<WargameGateOptions>>,
}

/// `[wargame.registry]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryOptions {
    /// `"file"` (default: a folder of the run) or `"mlflow"` (MLflow's Model Registry over
    /// its REST API).
    #[serde(default)]
    pub backend: Option<Spanned<String>>,
    /// MLflow's tracking URL (`http://127.0.0.1:5000`).
    #[serde(default)]
    pub url: Option<Spanned<String>>,
    /// File backend: the folder (default: a fresh folder under the cache directory).
    #[serde(default)]
    pub path: Option<Spanned<String>>,
}

/// `[wargame.credit]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditOptions {
    /// Applications per hour of the exercise (default 120).
    #[serde(default)]
    pub applications_per_hour: Option<Spanned<f64>>,
    /// Scheduled retraining period (default `"6h"`).
    #[serde(default)]
    pub retrain_every: Option<Spanned<String>>,
    /// The retraining window: labelled applications of this recent past (default `"12h"`).
    #[serde(default)]
    pub retrain_window: Option<Spanned<String>>,
    /// Time from a decision to its label (default `"1h"`).
    #[serde(default)]
    pub label_delay: Option<Spanned<String>>,
    /// An application is approved when P(default) is below this (default 0.5).
    #[serde(default)]
    pub threshold: Option<Spanned<f64>>,
    /// The protected attribute: `"sex"` (from `personal_status_and_sex`, default) or `"age"`
    /// (under 25 against 25 and over).
    #[serde(default)]
    pub protected: Option<Spanned<String>>,
}

/// `[wargame.fraud]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FraudOptions {
    /// Transactions per hour (default 600).
    #[serde(default)]
    pub transactions_per_hour: Option<Spanned<f64>>,
    /// Share of transactions that are fraud (default 0.02).
    #[serde(default)]
    pub fraud_rate: Option<Spanned<f64>>,
    /// Time from a transaction to its chargeback label (default `"1h"`).
    #[serde(default)]
    pub label_delay: Option<Spanned<String>>,
    /// A transaction is blocked when its fraud score is at least this (default 0.2).
    #[serde(default)]
    pub threshold: Option<Spanned<f64>>,
    /// Training transactions for the first champion (default 20000).
    #[serde(default)]
    pub training_rows: Option<Spanned<u64>>,
}

/// `[wargame.chatbot]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatbotOptions {
    /// Customer queries per hour of the exercise (default 180).
    #[serde(default)]
    pub queries_per_hour: Option<Spanned<f64>>,
    /// Inference slots of the served chatbot (default 4).
    #[serde(default)]
    pub capacity: Option<Spanned<u64>>,
    /// Requests waiting for a slot before 503 (default 32).
    #[serde(default)]
    pub queue: Option<Spanned<u64>>,
    /// Extra service time per request (default `"5ms"`), so saturation shows on a small
    /// machine.
    #[serde(default)]
    pub service_time: Option<Spanned<String>>,
    /// Wall time each tick's customer queries are spread over, a flood beside them (default
    /// `"200ms"`).
    #[serde(default)]
    pub flood_window: Option<Spanned<String>>,
    /// A customer request's timeout (default `"2s"`).
    #[serde(default)]
    pub timeout: Option<Spanned<String>>,
}

/// `[wargame.costs]`: what outcomes are worth, in one currency.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostOptions {
    /// Earned per good applicant approved (default 300).
    #[serde(default)]
    pub approval_margin: Option<Spanned<f64>>,
    /// Lost per defaulting applicant approved (default 1000).
    #[serde(default)]
    pub default_loss: Option<Spanned<f64>>,
    /// Paid per case a human reviews (default 15).
    #[serde(default)]
    pub human_review: Option<Spanned<f64>>,
    /// Lost per customer request dropped (default 2).
    #[serde(default)]
    pub dropped_request: Option<Spanned<f64>>,
    /// The currency's name (default `"EUR"`).
    #[serde(default)]
    pub currency: Option<Spanned<String>>,
}

/// `[wargame.recovery]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryOptions {
    /// Ticks in a row a model must be healthy to count as recovered (default 3).
    #[serde(default)]
    pub sustain: Option<Spanned<u64>>,
    /// Credit: the lowest demographic parity ratio counted as healthy (default 0.8, the
    /// four-fifths rule).
    #[serde(default)]
    pub min_dp_ratio: Option<Spanned<f64>>,
    /// The largest drop of accuracy (credit), recall (fraud) or answered share (chatbot)
    /// below the baseline counted as healthy (default 0.1).
    #[serde(default)]
    pub max_drop: Option<Spanned<f64>>,
    /// Chatbot: the highest p99 latency counted as healthy, as a multiple of the baseline's
    /// (default 3).
    #[serde(default)]
    pub max_p99_ratio: Option<Spanned<f64>>,
    /// The window the referee judges credit and fraud over (default `"3h"`; the chatbot is
    /// judged tick by tick).
    #[serde(default)]
    pub window: Option<Spanned<String>>,
}

/// `[[wargame.injects]]`: one red-team move.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectOptions {
    /// Its id (default `<technique>-<model>`).
    #[serde(default)]
    pub id: Option<Spanned<String>>,
    /// When it begins (`"3h"`).
    pub at: Spanned<String>,
    /// How long it lasts (default: to the end; a tamper is instantaneous).
    #[serde(default)]
    pub duration: Option<Spanned<String>>,
    /// The model attacked: `credit`, `fraud` or `chatbot`.
    pub model: Spanned<String>,
    /// `label_flip`, `evasion`, `dos`, `tamper` or `drift`.
    pub technique: Spanned<String>,
    /// `label_flip`: the protected group whose good applicants are relabelled as defaults.
    #[serde(default)]
    pub group: Option<Spanned<String>>,
    /// `label_flip`: the share of that group's good labels flipped; `evasion`: the share of
    /// fraud attempts crafted against the model.
    #[serde(default)]
    pub rate: Option<Spanned<f64>>,
    /// `evasion`: the relative change allowed on each actionable feature (default 0.3).
    #[serde(default)]
    pub budget: Option<Spanned<f64>>,
    /// `evasion`: model queries per crafted transaction (default 200).
    #[serde(default)]
    pub queries: Option<Spanned<u64>>,
    /// `dos`: the flood's rate as a multiple of the chatbot's capacity (default 10).
    #[serde(default)]
    pub multiple: Option<Spanned<f64>>,
    /// `drift`: the shift of the drifted column, in its standard deviations (default 2).
    #[serde(default)]
    pub shift: Option<Spanned<f64>>,
}

/// `[[wargame.monitors]]`: one blue-team monitor.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorOptions {
    /// Its id.
    pub id: Spanned<String>,
    /// The model watched.
    pub model: Spanned<String>,
    /// What it computes (see `docs/scenario.md`): `dp_ratio`, `dp_difference`,
    /// `eo_difference`, `four_fifths`, `accuracy`, `recall`, `drift_psi`, `p99_ms`,
    /// `error_rate`, `integrity`.
    pub metric: Spanned<String>,
    /// The window it computes over (default `"2h"`; `integrity` looks every tick).
    #[serde(default)]
    pub window: Option<Spanned<String>>,
    /// Alert when the value is below this.
    #[serde(default)]
    pub below: Option<f64>,
    /// Alert when the value is above this.
    #[serde(default)]
    pub above: Option<f64>,
    /// The fewest labelled or served cases a window needs before the monitor judges it
    /// (default 30).
    #[serde(default)]
    pub min_cases: Option<Spanned<u64>>,
    /// The action its alert starts.
    #[serde(default)]
    pub then: Option<Spanned<String>>,
}

/// `[[wargame.actions]]`: one blue-team action.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionOptions {
    /// Its id.
    pub id: Spanned<String>,
    /// `isolate`, `restore`, `rollback`, `shed`, `unshed`, `retrain`, `shadow`, `canary` or
    /// `promote`.
    pub kind: Spanned<String>,
    /// The model acted on.
    pub model: Spanned<String>,
    /// The action that follows when this one is done.
    #[serde(default)]
    pub then: Option<Spanned<String>>,
    /// `shed`: requests per second allowed per client (default 20).
    #[serde(default)]
    pub per_client_rps: Option<Spanned<f64>>,
    /// `retrain`: leave out the data received since the last good version (default true).
    #[serde(default)]
    pub quarantine: Option<bool>,
    /// `retrain`: `"none"` or `"loss"` (drop rows the last good model finds most surprising,
    /// default).
    #[serde(default)]
    pub sanitise: Option<Spanned<String>>,
    /// `retrain` with `sanitise = "loss"`: the share of rows dropped (default 0.1).
    #[serde(default)]
    pub drop_share: Option<Spanned<f64>>,
    /// `shadow`, `canary`: how long the candidate runs before the next action (default `"2h"`).
    #[serde(default)]
    pub duration: Option<Spanned<String>>,
    /// `canary`: the candidate's share of traffic (default 0.2).
    #[serde(default)]
    pub share: Option<Spanned<f64>>,
    /// `promote`: the lowest demographic parity ratio the candidate must keep (credit,
    /// default 0.8).
    #[serde(default)]
    pub min_dp_ratio: Option<Spanned<f64>>,
    /// `promote`: the most accuracy (credit) or recall (fraud) the candidate may lose against
    /// the champion on the cases since its trial began; it must also not be significantly
    /// worse (default 0.05). Fraud: its false-alarm rate may rise by at most this much too.
    #[serde(default)]
    pub max_accuracy_drop: Option<Spanned<f64>>,
}

/// `[[wargame.gates]]`: a gate on a team's metric.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WargameGateOptions {
    /// The team's step (`defended`, default, or `no-defence`).
    #[serde(default)]
    pub team: Option<Spanned<String>>,
    /// The metric (`mttd_s.mean`, `impact.cost`, `detected_share`, …).
    pub metric: Spanned<String>,
    /// At least.
    #[serde(default)]
    pub min: Option<f64>,
    /// At most.
    #[serde(default)]
    pub max: Option<f64>,
    /// `value`, `ci_lower` or `ci_upper`.
    #[serde(default)]
    pub bound: Option<Spanned<String>>,
}
