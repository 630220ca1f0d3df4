//! The JSON report.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A stressor run report: what ran, against what, what came out, and the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Report {
    /// The report format version, `MAJOR.MINOR` (see the crate docs for the stability policy).
    pub format_version: String,
    /// The version of stressor that wrote the report.
    pub stressor_version: String,
    /// The scenario, the seed, the timing and the verdict.
    pub run: RunSection,
    /// The model under test.
    pub target: TargetSection,
    /// The data the model was evaluated on.
    pub data: DataSection,
    /// The steps in the order they ran.
    pub steps: Vec<Step>,
    /// Every gate with the value it saw.
    pub gates: Vec<GateResult>,
    /// Things worth a look that are not failures.
    pub warnings: Vec<Warning>,
}

/// The run as a whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct RunSection {
    /// The scenario's name.
    pub scenario_name: String,
    /// Where the scenario came from (a path, or `builtin:…`).
    pub scenario_source: String,
    /// The root seed every random choice derives from.
    pub seed: u64,
    /// The verdict.
    pub verdict: Verdict,
    /// Timing: when the run started, RFC 3339, if the writer knew. Redacted for comparisons.
    #[serde(default)]
    pub started_at: Option<String>,
    /// Timing: wall time of the run in milliseconds, if it finished. Redacted for comparisons.
    #[serde(default)]
    pub duration_ms: Option<u64>,
}

/// The model under test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct TargetSection {
    /// The target's name.
    pub name: String,
    /// The target's kind (`builtin`, `safetensors`, `http`, …).
    pub kind: String,
    /// The shape of one input sample (`[c, h, w]` for images).
    pub input_shape: Vec<u64>,
    /// The number of classes.
    pub n_classes: u64,
    /// Class names, indexed by label.
    pub class_names: Vec<String>,
}

/// The data the model was evaluated on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct DataSection {
    /// The data set's name.
    pub name: String,
    /// The number of samples evaluated.
    pub n_samples: u64,
}

/// The outcome of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Verdict {
    /// Every gate held.
    Pass,
    /// At least one gate failed.
    Fail,
    /// The run stopped before it finished (interrupted, or a step could not complete).
    Incomplete,
    /// A verdict this version does not know (written by a newer minor version).
    #[serde(other)]
    #[schemars(skip)]
    Unknown,
}

/// One step of the scenario and its results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Step {
    /// The step's id, unique within the run.
    pub id: String,
    /// What kind of step it is.
    pub kind: StepKind,
    /// A one-line description.
    pub description: String,
    /// The dial the step sweeps (`epsilon`), absent for the steady state.
    pub dial: Option<Dial>,
    /// The step's parameters, for display (`steps = "10"`).
    pub parameters: BTreeMap<String, String>,
    /// One point per dial value, in sweep order (one point without a dial value for the steady
    /// state).
    pub points: Vec<Point>,
    /// Timing: wall time of the step in milliseconds. Redacted for comparisons.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// A systems step's per-second time series, windows and recovery times (since 1.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Timeline>,
    /// A drift step's per-step time series and events (since 1.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_timeline: Option<DriftTimeline>,
    /// A recommender step's per-bucket time series, fault impacts and circuit-breaker changes
    /// (since 1.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recsys_timeline: Option<RecsysTimeline>,
    /// A chatbot step's examples, detectors, handoff policies, surge seconds and shadow
    /// decision (since 1.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chatbot: Option<crate::ChatbotDetail>,
    /// A war-game step's timeline, incidents, impact, monitored series and alias changes
    /// (since 1.6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wargame: Option<crate::WargameDetail>,
}

/// One retraining policy over a drifting stream (since 1.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct DriftTimeline {
    /// The policy (`none`, `periodic`, `drift-triggered`).
    pub policy: String,
    /// The first stream step with drift.
    pub drift_start: u64,
    /// The first stream step with the drift in full effect.
    pub drift_full: u64,
    /// The pre-drift accuracy recovery is measured against.
    #[serde(with = "crate::float::nullable")]
    #[schemars(with = "Option<f64>")]
    pub pre_drift_accuracy: f64,
    /// How close to it counts as recovered.
    pub tolerance: f64,
    /// One entry per stream step.
    pub steps: Vec<DriftStep>,
    /// What happened when.
    pub events: Vec<DriftEvent>,
}

/// One step of a drifting stream (since 1.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct DriftStep {
    /// The stream step.
    pub step: u64,
    /// The share of drifted rows.
    pub drift_share: f64,
    /// Accuracy on the held-out evaluation rows under this step's drift.
    #[serde(with = "crate::float::nullable")]
    #[schemars(with = "Option<f64>")]
    pub accuracy: f64,
    /// Expected calibration error there.
    #[serde(with = "crate::float::nullable")]
    #[schemars(with = "Option<f64>")]
    pub ece: f64,
    /// Evaluation rows.
    pub eval_rows: u64,
    /// Accuracy estimated without labels (mean confidence on the production batch).
    #[serde(with = "crate::float::nullable")]
    #[schemars(with = "Option<f64>")]
    pub estimated_accuracy: f64,
    /// The detector's statistic (the largest KS statistic over features).
    #[serde(with = "crate::float::nullable")]
    #[schemars(with = "Option<f64>")]
    pub drift_statistic: f64,
    /// The smallest corrected p-value over features.
    #[serde(with = "crate::float::nullable")]
    #[schemars(with = "Option<f64>")]
    pub drift_pvalue: f64,
    /// The feature with that p-value.
    pub top_feature: String,
    /// Whether the detector fired.
    pub alarm: bool,
    /// Which model served (0 = the first).
    pub model_version: u64,
}

/// Something that happened on a drifting stream (since 1.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct DriftEvent {
    /// The stream step.
    pub step: u64,
    /// `drift-start`, `drift-full`, `detected`, `false-alarm`, `retrain`, `retrain-failed`,
    /// `deployed`.
    pub kind: String,
    /// Details.
    pub detail: String,
}

impl DriftTimeline {
    /// A drift timeline.
    pub fn new(
        policy: impl Into<String>,
        (drift_start, drift_full): (u64, u64),
        (pre_drift_accuracy, tolerance): (f64, f64),
        steps: Vec<DriftStep>,
        events: Vec<DriftEvent>,
    ) -> DriftTimeline {
        DriftTimeline {
            policy: policy.into(),
            drift_start,
            drift_full,
            pre_drift_accuracy,
            tolerance,
            steps,
            events,
        }
    }
}

impl DriftStep {
    /// One stream step; `values` are accuracy, ECE, estimated accuracy, drift statistic and
    /// drift p-value.
    pub fn new(
        step: u64,
        drift_share: f64,
        values: [f64; 5],
        eval_rows: u64,
        top_feature: impl Into<String>,
        alarm: bool,
        model_version: u64,
    ) -> DriftStep {
        let [accuracy, ece, estimated_accuracy, drift_statistic, drift_pvalue] = values;
        DriftStep {
            step,
            drift_share,
            accuracy,
            ece,
            eval_rows,
            estimated_accuracy,
            drift_statistic,
            drift_pvalue,
            top_feature: top_feature.into(),
            alarm,
            model_version,
        }
    }
}

impl DriftEvent {
    /// An event.
    pub fn new(step: u64, kind: impl Into<String>, detail: impl Into<String>) -> DriftEvent {
        DriftEvent { step, kind: kind.into(), detail: detail.into() }
    }
}

/// One recommender run over simulated traffic (since 1.4): one fallback policy under the
/// scheduled faults, or a reference ranking (`baseline`, `oracle`, `random`) without faults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct RecsysTimeline {
    /// The policy (`none`, `popular`, `last-known-good`, `serve-stale`, `circuit-breaker`) or
    /// the reference (`baseline`, `oracle`, `random`).
    pub policy: String,
    /// Whether this is a reference run without faults rather than a policy under them.
    pub reference: bool,
    /// Seconds of simulated time per bucket.
    pub bucket_s: f64,
    /// One entry per bucket of simulated time, in order.
    pub buckets: Vec<RecsysBucket>,
    /// The fault windows, in seconds of simulated time (empty for references).
    pub windows: Vec<TimelineWindow>,
    /// Per fault window: what it cost against the fault-free baseline.
    pub impacts: Vec<FaultImpact>,
    /// The circuit breaker's state changes, in order (empty for other policies).
    pub breaker: Vec<BreakerTransition>,
    /// The longest outage the business can tolerate (maximum tolerable downtime), seconds, to
    /// set each measured RTO against; absent when the scenario states none.
    #[serde(default)]
    pub max_tolerable_downtime_s: Option<f64>,
}

/// One bucket of simulated time of a recommender run, requests by arrival time (since 1.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct RecsysBucket {
    /// Seconds of simulated time from the start to the start of the bucket.
    pub t: f64,
    /// Recommendation requests that arrived.
    pub requests: u64,
    /// Of those, answered with no recommendations (error or client timeout).
    pub errors: u64,
    /// Of those, served from the response cache.
    pub cache_hits: u64,
    /// Of those, served by a fallback (popular list, stale cache, last-known-good features).
    pub fallbacks: u64,
    /// Items shown.
    pub impressions: u64,
    /// Items clicked.
    pub clicks: u64,
    /// Clicks that led to a purchase.
    pub conversions: u64,
    /// Revenue of those purchases, in price units; `null` when it is not a number.
    #[serde(with = "crate::float::nullable")]
    #[schemars(with = "Option<f64>")]
    pub revenue: f64,
    /// Sum of NDCG@k over answered requests (the mean is this over `requests − errors`);
    /// `null` when it is not a number.
    #[serde(with = "crate::float::nullable")]
    #[schemars(with = "Option<f64>")]
    pub ndcg_sum: f64,
    /// Median request latency, ms; absent when nothing was answered.
    #[serde(default)]
    pub p50_ms: Option<f64>,
    /// 99th percentile request latency, ms; absent when nothing was answered.
    #[serde(default)]
    pub p99_ms: Option<f64>,
    /// Feature reads.
    pub feature_reads: u64,
    /// Mean freshness lag of the features read (now − event time of the freshest record),
    /// seconds; absent when nothing was read.
    #[serde(default)]
    pub freshness_lag_s: Option<f64>,
}

/// What one fault window cost one policy against the fault-free baseline on the same traffic
/// (since 1.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct FaultImpact {
    /// The window's name.
    pub window: String,
    /// Fault start, seconds of simulated time.
    pub start: f64,
    /// Fault end, seconds of simulated time.
    pub stop: f64,
    /// CTR (clicks / impressions) in the window under this policy.
    pub ctr: Metric,
    /// The baseline's CTR in the same window.
    pub baseline_ctr: Metric,
    /// Clicks per request in the window minus the baseline's, with a Newcombe interval (a
    /// request answered with nothing counts as no click).
    pub clicks_per_request_change: Metric,
    /// Conversions per request in the window minus the baseline's, with a Newcombe interval.
    pub conversions_per_request_change: Metric,
    /// Revenue lost against the baseline from fault start to recovery (or the end of the
    /// run), in price units; `null` when it is not a number.
    #[serde(with = "crate::float::nullable")]
    #[schemars(with = "Option<f64>")]
    pub revenue_lost: f64,
    /// Seconds from fault start until the KPIs held within tolerance for the sustained period
    /// while the fault still acted; absent when they never did.
    #[serde(default)]
    pub time_to_mitigate_s: Option<f64>,
    /// Seconds from fault end until the KPIs held within tolerance for the sustained period (0
    /// when they never left it): the measured RTO; absent when the run ended first.
    #[serde(default)]
    pub rto_s: Option<f64>,
    /// Events lost for good (they never reached the feature store) because of this fault: the
    /// achieved RPO, in events.
    pub events_lost: u64,
}

/// A circuit breaker changed state (since 1.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct BreakerTransition {
    /// Seconds of simulated time.
    pub t: f64,
    /// The state before: `closed`, `open` or `half-open`.
    pub from: String,
    /// The state after: `closed`, `open` or `half-open`.
    pub to: String,
    /// Why (`error rate 0.62 over 10 s`, `probe succeeded`).
    pub reason: String,
}

impl RecsysTimeline {
    /// A timeline of a policy under faults (not a reference) without buckets, windows,
    /// impacts, breaker changes or a tolerable downtime; set the fields afterwards.
    pub fn new(policy: impl Into<String>, bucket_s: f64) -> RecsysTimeline {
        RecsysTimeline {
            policy: policy.into(),
            reference: false,
            bucket_s,
            buckets: Vec::new(),
            windows: Vec::new(),
            impacts: Vec::new(),
            breaker: Vec::new(),
            max_tolerable_downtime_s: None,
        }
    }
}

impl RecsysBucket {
    /// An empty bucket starting at `t`: no requests, no reads, no latency; set the fields
    /// afterwards.
    pub fn new(t: f64) -> RecsysBucket {
        RecsysBucket {
            t,
            requests: 0,
            errors: 0,
            cache_hits: 0,
            fallbacks: 0,
            impressions: 0,
            clicks: 0,
            conversions: 0,
            revenue: 0.0,
            ndcg_sum: 0.0,
            p50_ms: None,
            p99_ms: None,
            feature_reads: 0,
            freshness_lag_s: None,
        }
    }
}

impl FaultImpact {
    /// The impact of window `window` (`start` to `stop`, seconds) with nothing measured yet:
    /// NaN metrics over 0 samples, no revenue lost, never mitigated, not recovered, no events
    /// lost; set the fields afterwards.
    pub fn new(window: impl Into<String>, start: f64, stop: f64) -> FaultImpact {
        let unmeasured = Metric::new(f64::NAN, 0, None);
        FaultImpact {
            window: window.into(),
            start,
            stop,
            ctr: unmeasured,
            baseline_ctr: unmeasured,
            clicks_per_request_change: unmeasured,
            conversions_per_request_change: unmeasured,
            revenue_lost: 0.0,
            time_to_mitigate_s: None,
            rto_s: None,
            events_lost: 0,
        }
    }
}

impl BreakerTransition {
    /// A state change at `t` seconds.
    pub fn new(
        t: f64,
        from: impl Into<String>,
        to: impl Into<String>,
        reason: impl Into<String>,
    ) -> BreakerTransition {
        BreakerTransition { t, from: from.into(), to: to.into(), reason: reason.into() }
    }
}

/// A systems step over time (since 1.2). Timing-dependent: redacted for comparisons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Timeline {
    /// One entry per second of intended request starts.
    pub seconds: Vec<TimelineSecond>,
    /// When faults acted and the load surged.
    pub windows: Vec<TimelineWindow>,
    /// How long the system took to come back after each window.
    pub recoveries: Vec<Recovery>,
}

/// One second of a systems run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct TimelineSecond {
    /// Seconds from the start of the run.
    pub t: f64,
    /// Requests meant to start in this second.
    pub requests: u64,
    /// Answered successfully.
    pub ok: u64,
    /// Failed.
    pub errors: u64,
    /// 99th percentile latency from the intended start, ms; absent when nothing was answered.
    #[serde(default)]
    pub p99_ms: Option<f64>,
    /// Answers checked against a label.
    pub checked: u64,
    /// Of those, correct.
    pub correct: u64,
}

/// A fault or surge window, in seconds from the start of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct TimelineWindow {
    /// Its name (the fault's name, or `surge`).
    pub name: String,
    /// `fault` or `surge`.
    pub kind: String,
    /// What acted (`latency`, `http_status`, `load`).
    pub detail: String,
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub stop: f64,
}

/// Recovery after a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Recovery {
    /// The window's name.
    pub window: String,
    /// When it ended, seconds.
    pub window_end: f64,
    /// Start of the first sustained stretch back within tolerance; absent when the run ended
    /// first.
    #[serde(default)]
    pub recovered_at: Option<f64>,
    /// `recovered_at − window_end`; absent when not recovered.
    #[serde(default)]
    pub time_to_recover: Option<f64>,
}

impl Timeline {
    /// A timeline.
    pub fn new(
        seconds: Vec<TimelineSecond>,
        windows: Vec<TimelineWindow>,
        recoveries: Vec<Recovery>,
    ) -> Timeline {
        Timeline { seconds, windows, recoveries }
    }
}

impl TimelineSecond {
    /// One second.
    pub fn new(
        t: f64,
        requests: u64,
        ok: u64,
        errors: u64,
        p99_ms: Option<f64>,
        checked: u64,
        correct: u64,
    ) -> TimelineSecond {
        TimelineSecond { t, requests, ok, errors, p99_ms, checked, correct }
    }
}

impl TimelineWindow {
    /// A window.
    pub fn new(
        name: impl Into<String>,
        kind: impl Into<String>,
        detail: impl Into<String>,
        start: f64,
        stop: f64,
    ) -> TimelineWindow {
        TimelineWindow { name: name.into(), kind: kind.into(), detail: detail.into(), start, stop }
    }
}

impl Recovery {
    /// A recovery.
    pub fn new(
        window: impl Into<String>,
        window_end: f64,
        recovered_at: Option<f64>,
        time_to_recover: Option<f64>,
    ) -> Recovery {
        Recovery { window: window.into(), window_end, recovered_at, time_to_recover }
    }
}

/// The kinds of step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StepKind {
    /// The steady-state hypothesis on clean data.
    SteadyState,
    /// An adversarial attack swept over ε.
    Attack,
    /// A corruption swept over severity (since 1.1).
    Corruption,
    /// A lighting shift swept over its physical dial (since 1.1).
    Lighting,
    /// A mitigation measured before and after (since 1.1).
    Mitigation,
    /// Figures derived from other steps, such as the mean corruption error (since 1.1).
    Summary,
    /// A load profile against a served model with faults injected (since 1.2).
    System,
    /// A drifting stream under one retraining policy (since 1.3).
    Drift,
    /// A recommender over simulated traffic under one fallback policy, or a reference ranking
    /// without faults (since 1.4).
    Recommender,
    /// A chatbot under one stress, its shadow deployment or its degradation score (since 1.5).
    Chatbot,
    /// A red-team/blue-team war game over a served fleet, played by one blue team (since 1.6).
    WarGame,
    /// A kind this version does not know (written by a newer minor version).
    #[serde(other)]
    #[schemars(skip)]
    Unknown,
}

/// A dial a step sweeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Dial {
    /// The dial's name (`epsilon`).
    pub name: String,
    /// The values swept, in order.
    #[serde(with = "crate::float::nullable_vec")]
    #[schemars(with = "Vec<Option<f64>>")]
    pub values: Vec<f64>,
}

/// The results at one dial value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Point {
    /// The dial value, absent for the steady state.
    pub dial_value: Option<f64>,
    /// Metrics by name (`clean_accuracy`, `robust_accuracy`, `attack_success_rate`,
    /// `perturbation_linf_mean`, …).
    pub metrics: BTreeMap<String, Metric>,
    /// Accuracy per class, clean and under stress.
    pub per_class: Vec<ClassAccuracy>,
    /// The (true, predicted) pairs whose count grew most under stress, largest growth first.
    pub confusion_growth: Vec<ConfusionGrowth>,
    /// Samples shown in the report (the pixels stay in the HTML report).
    pub exemplars: Vec<Exemplar>,
    /// Mean loss per attack iteration; empty for single-step and black-box attacks. `null`
    /// marks a loss that was not a finite number.
    #[serde(with = "crate::float::nullable_vec")]
    #[schemars(with = "Vec<Option<f64>>")]
    pub loss_trace: Vec<f64>,
    /// Reliability diagram, confidence histogram and risk–coverage curve of the model's outputs
    /// at this point (since 1.1); the scalar calibration metrics are in `metrics`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
}

/// The curves behind the calibration metrics at one point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Calibration {
    /// Equal-width bins of top-label confidence.
    pub reliability: Vec<ReliabilityBin>,
    /// Samples per equal-width confidence bin over [0, 1].
    pub confidence_histogram: Vec<u64>,
    /// `[coverage, risk]` pairs of selective prediction, coverage increasing. `null` marks a
    /// value that is not a number.
    #[serde(with = "crate::float::nullable_pairs")]
    #[schemars(with = "Vec<[Option<f64>; 2]>")]
    pub risk_coverage: Vec<(f64, f64)>,
}

/// One bin of a reliability diagram.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct ReliabilityBin {
    /// Lower confidence edge.
    pub lower: f64,
    /// Upper confidence edge.
    pub upper: f64,
    /// Samples in the bin.
    pub count: u64,
    /// Their mean confidence; `null` for an empty bin.
    #[serde(with = "crate::float::nullable")]
    #[schemars(with = "Option<f64>")]
    pub mean_confidence: f64,
    /// Their accuracy; `null` for an empty bin.
    #[serde(with = "crate::float::nullable")]
    #[schemars(with = "Option<f64>")]
    pub accuracy: f64,
}

impl Calibration {
    /// Calibration curves.
    pub fn new(
        reliability: Vec<ReliabilityBin>,
        confidence_histogram: Vec<u64>,
        risk_coverage: Vec<(f64, f64)>,
    ) -> Calibration {
        Calibration { reliability, confidence_histogram, risk_coverage }
    }
}

impl ReliabilityBin {
    /// A reliability bin.
    pub fn new(lower: f64, upper: f64, count: u64, mean_confidence: f64, accuracy: f64) -> Self {
        ReliabilityBin { lower, upper, count, mean_confidence, accuracy }
    }
}

/// A measured value with its sample size and confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Metric {
    /// The point estimate; `null` (NaN in Rust) when it is not a number, e.g. over 0 samples.
    #[serde(with = "crate::float::nullable")]
    #[schemars(with = "Option<f64>")]
    pub value: f64,
    /// The number of samples behind the value.
    pub n: u64,
    /// The confidence interval; absent for exact quantities and when `n` is 0.
    pub ci: Option<Interval>,
}

/// A two-sided confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Interval {
    /// The lower bound.
    #[serde(with = "crate::float::nullable")]
    #[schemars(with = "Option<f64>")]
    pub lower: f64,
    /// The upper bound.
    #[serde(with = "crate::float::nullable")]
    #[schemars(with = "Option<f64>")]
    pub upper: f64,
    /// The confidence level, e.g. 0.95.
    pub level: f64,
    /// How the interval was computed.
    pub method: IntervalMethod,
    /// The number of bootstrap resamples, for `bootstrap` intervals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resamples: Option<u32>,
}

/// How an interval was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum IntervalMethod {
    /// Wilson score interval for a binomial proportion.
    Wilson,
    /// Percentile bootstrap.
    Bootstrap,
    /// Order statistics of a quantile (since 1.2).
    OrderStatistic,
    /// Newcombe's hybrid score interval for a difference of two proportions (since 1.4).
    Newcombe,
    /// A method this version does not know (written by a newer minor version).
    #[serde(other)]
    #[schemars(skip)]
    Unknown,
}

/// Accuracy of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct ClassAccuracy {
    /// The class label (an index into [`TargetSection::class_names`]).
    pub label: u32,
    /// Accuracy on clean inputs.
    pub clean: Metric,
    /// Accuracy under stress.
    pub stressed: Metric,
}

/// A (true, predicted) pair whose count grew under stress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct ConfusionGrowth {
    /// The true class.
    pub true_label: u32,
    /// The predicted class.
    pub predicted_label: u32,
    /// How often on clean inputs.
    pub clean_count: u64,
    /// How often under stress.
    pub stressed_count: u64,
}

/// A sample shown in the report. Its pixels are not part of the JSON report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Exemplar {
    /// The index in the evaluated data.
    pub index: u64,
    /// The true label.
    pub label: u32,
    /// The prediction on the clean input.
    pub clean_prediction: u32,
    /// The prediction on the stressed input.
    pub stressed_prediction: u32,
}

/// A gate with the value it saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct GateResult {
    /// The gate's id (`pgd-linf/robust_accuracy@0.031`).
    pub id: String,
    /// The step whose results the gate reads.
    pub step_id: String,
    /// The metric name.
    pub metric: String,
    /// The dial value the gate applies to; absent means every point of the step must hold.
    pub at: Option<f64>,
    /// How the observed value is compared with the threshold.
    pub comparison: Comparison,
    /// The threshold.
    #[serde(with = "crate::float::nullable")]
    #[schemars(with = "Option<f64>")]
    pub threshold: f64,
    /// Which part of the estimate is compared.
    pub bound: GateBound,
    /// The value observed; absent when the metric was not produced.
    pub observed: Option<Metric>,
    /// The dial value of the observation (the worst point when `at` is absent).
    pub observed_at: Option<f64>,
    /// Whether the gate held.
    pub passed: bool,
}

/// How an observed value is compared with a gate's threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Comparison {
    /// The value must be at least the threshold.
    AtLeast,
    /// The value must be at most the threshold.
    AtMost,
    /// A comparison this version does not know (written by a newer minor version).
    #[serde(other)]
    #[schemars(skip)]
    Unknown,
}

/// Which part of an estimate a gate compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GateBound {
    /// The point estimate.
    Value,
    /// The lower end of the confidence interval.
    Lower,
    /// The upper end of the confidence interval.
    Upper,
    /// A bound this version does not know (written by a newer minor version).
    #[serde(other)]
    #[schemars(skip)]
    Unknown,
}

/// A warning attached to a step or to the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Warning {
    /// The step it concerns; absent for the run as a whole.
    pub step_id: Option<String>,
    /// A stable machine-readable code (`gradient-masking/non-monotone`).
    pub code: String,
    /// A sentence for people.
    pub message: String,
}

impl Report {
    /// A report at the current [`FORMAT_VERSION`](crate::FORMAT_VERSION) without steps, gates
    /// or warnings.
    pub fn new(
        stressor_version: impl Into<String>,
        run: RunSection,
        target: TargetSection,
        data: DataSection,
    ) -> Report {
        Report {
            format_version: crate::FORMAT_VERSION.to_owned(),
            stressor_version: stressor_version.into(),
            run,
            target,
            data,
            steps: Vec::new(),
            gates: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Clears every timing field, so that two runs with the same scenario and seed compare
    /// equal.
    ///
    /// # Examples
    ///
    /// ```
    /// # use stressor_schema::{DataSection, Report, RunSection, TargetSection, Verdict};
    /// let mut run = RunSection::new("s", "s.toml", 1, Verdict::Pass);
    /// run.duration_ms = Some(1234);
    /// let mut report =
    ///     Report::new("0.1.0", run, TargetSection::new("t", "builtin"), DataSection::new("d", 1));
    /// report.redact_timings();
    /// assert_eq!(report.run.duration_ms, None);
    /// ```
    pub fn redact_timings(&mut self) {
        self.run.started_at = None;
        self.run.duration_ms = None;
        for step in &mut self.steps {
            step.duration_ms = None;
            step.timeline = None;
            // Retraining wall times (drift steps) are timings too.
            // Recommender latency adds the measured request path to the modelled I/O, and the
            // warm-up's wall time is a parameter.
            for point in &mut step.points {
                point.metrics.retain(|name, _| {
                    !name.starts_with("retrain_wall_ms") && name != "p50_ms" && name != "p99_ms"
                });
            }
            if let Some(recsys) = &mut step.recsys_timeline {
                for bucket in &mut recsys.buckets {
                    bucket.p50_ms = None;
                    bucket.p99_ms = None;
                }
            }
            step.parameters.remove("warm-up wall time");
            // A chatbot surge's per-second counts follow the wall clock.
            if let Some(chatbot) = &mut step.chatbot {
                chatbot.seconds.clear();
            }
        }
    }

    /// The major part of [`format_version`](Report::format_version), `None` when it is
    /// malformed. Readers reject a major version they were not built for.
    pub fn format_major(&self) -> Option<u32> {
        self.format_version.split('.').next()?.parse().ok()
    }
}

impl RunSection {
    /// A run section without timing.
    pub fn new(
        scenario_name: impl Into<String>,
        scenario_source: impl Into<String>,
        seed: u64,
        verdict: Verdict,
    ) -> RunSection {
        RunSection {
            scenario_name: scenario_name.into(),
            scenario_source: scenario_source.into(),
            seed,
            verdict,
            started_at: None,
            duration_ms: None,
        }
    }
}

impl TargetSection {
    /// A target with an empty input shape and no classes; set the fields afterwards.
    pub fn new(name: impl Into<String>, kind: impl Into<String>) -> TargetSection {
        TargetSection {
            name: name.into(),
            kind: kind.into(),
            input_shape: Vec::new(),
            n_classes: 0,
            class_names: Vec::new(),
        }
    }
}

impl DataSection {
    /// A data section.
    pub fn new(name: impl Into<String>, n_samples: u64) -> DataSection {
        DataSection { name: name.into(), n_samples }
    }
}

impl Step {
    /// A step without dial, parameters, points or timing.
    pub fn new(id: impl Into<String>, kind: StepKind, description: impl Into<String>) -> Step {
        Step {
            id: id.into(),
            kind,
            description: description.into(),
            dial: None,
            parameters: BTreeMap::new(),
            points: Vec::new(),
            duration_ms: None,
            timeline: None,
            drift_timeline: None,
            recsys_timeline: None,
            chatbot: None,
            wargame: None,
        }
    }
}

impl Dial {
    /// A dial.
    pub fn new(name: impl Into<String>, values: Vec<f64>) -> Dial {
        Dial { name: name.into(), values }
    }
}

impl Point {
    /// A point without results.
    pub fn new(dial_value: Option<f64>) -> Point {
        Point {
            dial_value,
            metrics: BTreeMap::new(),
            per_class: Vec::new(),
            confusion_growth: Vec::new(),
            exemplars: Vec::new(),
            loss_trace: Vec::new(),
            calibration: None,
        }
    }
}

impl Metric {
    /// A metric.
    pub fn new(value: f64, n: u64, ci: Option<Interval>) -> Metric {
        Metric { value, n, ci }
    }
}

impl Interval {
    /// An interval; `resamples` is unset.
    pub fn new(lower: f64, upper: f64, level: f64, method: IntervalMethod) -> Interval {
        Interval { lower, upper, level, method, resamples: None }
    }
}

impl ClassAccuracy {
    /// A class's accuracy.
    pub fn new(label: u32, clean: Metric, stressed: Metric) -> ClassAccuracy {
        ClassAccuracy { label, clean, stressed }
    }
}

impl ConfusionGrowth {
    /// A confusion pair.
    pub fn new(
        true_label: u32,
        predicted_label: u32,
        clean_count: u64,
        stressed_count: u64,
    ) -> ConfusionGrowth {
        ConfusionGrowth { true_label, predicted_label, clean_count, stressed_count }
    }
}

impl Exemplar {
    /// An exemplar.
    pub fn new(
        index: u64,
        label: u32,
        clean_prediction: u32,
        stressed_prediction: u32,
    ) -> Exemplar {
        Exemplar { index, label, clean_prediction, stressed_prediction }
    }
}

impl GateResult {
    /// A gate result; `at`, `observed` and `observed_at` are unset and the bound is the value.
    pub fn new(
        id: impl Into<String>,
        step_id: impl Into<String>,
        metric: impl Into<String>,
        comparison: Comparison,
        threshold: f64,
        passed: bool,
    ) -> GateResult {
        GateResult {
            id: id.into(),
            step_id: step_id.into(),
            metric: metric.into(),
            at: None,
            comparison,
            threshold,
            bound: GateBound::Value,
            observed: None,
            observed_at: None,
            passed,
        }
    }
}

impl Warning {
    /// A warning.
    pub fn new(
        step_id: Option<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Warning {
        Warning { step_id, code: code.into(), message: message.into() }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn nan_is_written_as_null_and_read_back_as_nan() {
        let mut point = Point::new(Some(0.1));
        point.metrics.insert("robust_accuracy".into(), Metric::new(f64::NAN, 0, None));
        point.loss_trace = vec![1.0, f64::NAN];
        let json = serde_json::to_string(&point).unwrap();
        assert!(json.contains(r#""value":null"#), "{json}");
        assert!(json.contains(r#""loss_trace":[1.0,null]"#), "{json}");
        let back: Point = serde_json::from_str(&json).unwrap();
        assert!(back.metrics["robust_accuracy"].value.is_nan());
        assert!(back.loss_trace[1].is_nan());
    }

    #[test]
    fn unknown_enum_values_and_fields_are_tolerated() {
        let json = r#"{"lower":0.1,"upper":0.2,"level":0.95,"method":"bca","new_field":1}"#;
        let interval: Interval = serde_json::from_str(json).unwrap();
        assert_eq!(interval.method, IntervalMethod::Unknown);
        let verdict: Verdict = serde_json::from_str(r#""flaky""#).unwrap();
        assert_eq!(verdict, Verdict::Unknown);
    }

    #[test]
    fn format_major_reads_the_major_version() {
        let report = Report::new(
            "0.1.0",
            RunSection::new("s", "s.toml", 1, Verdict::Pass),
            TargetSection::new("t", "builtin"),
            DataSection::new("d", 1),
        );
        assert_eq!(report.format_major(), Some(1));
    }
}
