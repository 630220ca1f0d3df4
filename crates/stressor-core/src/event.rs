//! Run events: what engines emit and reporters consume.
//!
//! Everything a report shows arrives here, so reporters never see an engine.

use std::time::Duration;

use crate::{Estimate, Gate, Verdict};

/// One thing that happened during a run, in order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The run begins.
    RunStarted(RunInfo),
    /// A step begins.
    StepStarted(StepInfo),
    /// Progress within a step (for progress bars).
    Progress {
        /// The step's id.
        step_id: String,
        /// Units done.
        done: u64,
        /// Units in all.
        total: u64,
    },
    /// A step finished with results.
    StepFinished(StepResult),
    /// A gate was evaluated.
    GateEvaluated(GateOutcome),
    /// Something the user should look at, that is not a failure.
    Warning(Warning),
    /// A step's per-second time series (systems steps), sent before its `StepFinished`.
    Timeline(Timeline),
    /// A drift step's per-step time series (one retraining policy over the stream), sent
    /// before its `StepFinished`.
    DriftTimeline(DriftTimeline),
    /// A recommender step's per-bucket time series (one fallback policy, or a reference
    /// ranking, over the simulated traffic), sent before its `StepFinished`.
    RecsysTimeline(RecsysTimeline),
    /// A chatbot step's examples, detectors, handoff policies, surge seconds or shadow
    /// decision, sent before its `StepFinished`.
    ChatbotDetail(crate::ChatbotDetail),
    /// A war-game step's timeline, incidents, impact and monitored series, sent before its
    /// `StepFinished`.
    WargameDetail(Box<crate::WargameDetail>),
    /// A live reading of a long-running step, sent while it runs (the dashboard's charts and
    /// event log). Reports keep the step's own summary events instead; a live reading may be
    /// dropped without losing a result.
    Live(LiveSample),
    /// A live endpoint opened for the run (e.g. Prometheus metrics during a systems step).
    Endpoint {
        /// What it serves.
        name: String,
        /// Its URL.
        url: String,
    },
    /// The run finished.
    RunFinished {
        /// Pass when every gate held.
        verdict: Verdict,
        /// Wall time of the run.
        elapsed: Duration,
    },
}

/// One live reading of a step: values of named series at a time, and what happened since the
/// last reading (a war game's injects, detections and actions; a fault starting).
#[derive(Debug, Clone, PartialEq)]
pub struct LiveSample {
    /// The step's id.
    pub step_id: String,
    /// Seconds since the step began, on the step's own clock (simulated or wall).
    pub t_s: f64,
    /// Series values at `t_s` (`p99_ms`, `approval_rate.female`, …), in a stable order.
    pub values: Vec<(String, f64)>,
    /// What happened since the previous reading, one line each (plain text, never markup).
    pub notes: Vec<String>,
}

/// Receives events; reporters implement it.
pub trait EventSink {
    /// Handles one event.
    fn event(&mut self, event: &Event);
}

impl<F: FnMut(&Event)> EventSink for F {
    fn event(&mut self, event: &Event) {
        self(event);
    }
}

/// What is being run against what.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    /// The scenario's name.
    pub scenario_name: String,
    /// Where the scenario came from (a path, or `builtin:…`).
    pub scenario_source: String,
    /// The root seed.
    pub seed: u64,
    /// The target's name.
    pub target_name: String,
    /// The target's kind (`builtin`, `safetensors`, …).
    pub target_kind: String,
    /// The shape of one input sample.
    pub input_shape: Vec<usize>,
    /// Class names, indexed by label.
    pub class_names: Vec<String>,
    /// The data set's name.
    pub data_name: String,
    /// Samples evaluated.
    pub n_samples: usize,
    /// The stressor version.
    pub stressor_version: String,
}

/// A step about to run.
#[derive(Debug, Clone, PartialEq)]
pub struct StepInfo {
    /// The step's id.
    pub id: String,
    /// The step's kind.
    pub kind: StepKind,
    /// A one-line description of what the step does.
    pub description: String,
    /// The name of the dial (`epsilon`).
    pub dial_name: Option<String>,
    /// The dial values the step sweeps.
    pub dial_values: Vec<f64>,
}

/// The kinds of step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StepKind {
    /// The steady-state hypothesis on clean data.
    SteadyState,
    /// An adversarial attack swept over ε.
    Attack,
    /// A corruption (noise, blur, weather, …) swept over severity.
    Corruption,
    /// A lighting shift (colour temperature, exposure, …) swept over its physical dial.
    Lighting,
    /// A model change (adversarial or augmented training) measured before and after.
    Mitigation,
    /// Figures derived from other steps (e.g. the mean corruption error), no stress of its own.
    Summary,
    /// A systems run: a load profile against a served model, with faults injected.
    System,
    /// A drift stream under one retraining policy: detection, retraining and recovery.
    Drift,
    /// A recommender over simulated traffic under one fallback policy, with pipeline faults
    /// (or a reference ranking without faults).
    Recommender,
    /// A chatbot under one stress (perturbations, off-topic queries, an attack, a load surge)
    /// swept over a dial, with human handoff measured; or its shadow deployment or degradation
    /// score.
    Chatbot,
    /// A red-team/blue-team war game over a served fleet, played by one blue team.
    WarGame,
}

/// The results of one step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepResult {
    /// The step as announced.
    pub info: StepInfo,
    /// Parameters, as `(name, value)` for display (`steps = 10`).
    pub parameters: Vec<(String, String)>,
    /// One point per dial value (one point without a dial value for the steady state).
    pub points: Vec<StepPoint>,
    /// Wall time of the step.
    pub elapsed: Duration,
}

/// The results at one dial value.
#[derive(Debug, Clone, PartialEq)]
pub struct StepPoint {
    /// The dial value, `None` for the steady state.
    pub dial_value: Option<f64>,
    /// Named metrics (`clean_accuracy`, `robust_accuracy`, `attack_success_rate`, …).
    pub metrics: Vec<MetricValue>,
    /// Accuracy per class, clean and under stress.
    pub per_class: Vec<ClassAccuracy>,
    /// Confusion pairs that grew most under stress, largest growth first.
    pub confusion_growth: Vec<ConfusionGrowth>,
    /// A few samples to look at.
    pub exemplars: Vec<Exemplar>,
    /// Mean loss per attack iteration (empty for single-step or black-box attacks).
    pub loss_trace: Vec<f64>,
    /// Reliability, confidence and selective-prediction curves of the model's outputs at this
    /// point; the scalar calibration metrics (`ece`, `brier`, …) are in `metrics`.
    pub calibration: Option<CalibrationCurves>,
}

impl StepPoint {
    /// The metric called `name`.
    pub fn metric(&self, name: &str) -> Option<&Estimate> {
        self.metrics.iter().find(|m| m.name == name).map(|m| &m.estimate)
    }
}

/// The curves behind the calibration metrics at one point.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CalibrationCurves {
    /// Equal-width bins of top-label confidence: the reliability diagram.
    pub reliability: Vec<ReliabilityBin>,
    /// Samples per equal-width confidence bin over [0, 1].
    pub confidence_histogram: Vec<u64>,
    /// Selective prediction: `(coverage, risk)` when only the most confident fraction
    /// `coverage` of the samples is answered, coverage increasing; at most 101 points.
    pub risk_coverage: Vec<(f64, f64)>,
}

/// One bin of a reliability diagram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReliabilityBin {
    /// Lower confidence edge.
    pub lower: f64,
    /// Upper confidence edge.
    pub upper: f64,
    /// Samples whose top-label confidence falls in the bin.
    pub count: u64,
    /// Their mean confidence (NaN for an empty bin).
    pub mean_confidence: f64,
    /// The fraction of them predicted correctly (NaN for an empty bin).
    pub accuracy: f64,
}

/// A named metric.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricValue {
    /// The metric's name.
    pub name: String,
    /// Its value, sample size and interval.
    pub estimate: Estimate,
}

/// Accuracy of one class.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassAccuracy {
    /// The class label.
    pub label: u32,
    /// Accuracy on clean inputs.
    pub clean: Estimate,
    /// Accuracy under stress.
    pub stressed: Estimate,
}

/// A (true, predicted) pair whose count grew under stress.
#[derive(Debug, Clone, PartialEq)]
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

/// One sample shown in the report: clean and stressed, with predictions.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// Index in the evaluated data.
    pub index: usize,
    /// The true label.
    pub label: u32,
    /// Prediction on the clean input.
    pub clean_prediction: u32,
    /// Prediction on the stressed input.
    pub stressed_prediction: u32,
    /// The sample's shape (`[c, h, w]`).
    pub shape: Vec<usize>,
    /// The clean input.
    pub clean: Vec<f32>,
    /// The stressed input.
    pub stressed: Vec<f32>,
}

/// A gate with the value it saw.
#[derive(Debug, Clone, PartialEq)]
pub struct GateOutcome {
    /// The gate.
    pub gate: Gate,
    /// The value observed, `None` when the metric was not produced.
    pub observed: Option<Estimate>,
    /// The dial value where the observation was made (the worst point for `at = None`).
    pub observed_at: Option<f64>,
    /// Whether the gate held.
    pub passed: bool,
}

/// A warning attached to a step or to the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    /// The step it concerns, if any.
    pub step_id: Option<String>,
    /// A stable machine-readable code (`gradient-masking/non-monotone`).
    pub code: String,
    /// A sentence for people.
    pub message: String,
}

/// A systems step over time: one point per second of intended request starts, the windows in
/// which faults acted or the load surged, and how long the system took to recover from each.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Timeline {
    /// The step's id.
    pub step_id: String,
    /// One point per second, in order.
    pub seconds: Vec<TimelinePoint>,
    /// Fault and surge windows.
    pub windows: Vec<TimelineWindow>,
    /// Recovery after each window.
    pub recoveries: Vec<Recovery>,
}

/// One second of a systems run (requests by intended start).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TimelinePoint {
    /// Seconds from the start of the run (the start of this second).
    pub t: f64,
    /// Requests meant to start in this second.
    pub requests: u64,
    /// Of those, answered successfully.
    pub ok: u64,
    /// Of those, failed.
    pub errors: u64,
    /// The 99th percentile of their latency (from the intended start), in ms; `None` when none
    /// was answered.
    pub p99_ms: Option<f64>,
    /// Answers whose prediction was checked against a label.
    pub checked: u64,
    /// Of those, correct.
    pub correct: u64,
}

/// What a window is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// A fault acted.
    Fault,
    /// The arrival rate was above the baseline.
    Surge,
}

/// A span of the run, in seconds from its start.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineWindow {
    /// Its name (the toxic's name, or `surge`).
    pub name: String,
    /// Fault or surge.
    pub kind: WindowKind,
    /// What acted (`latency`, `http_status`, `load`).
    pub detail: String,
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub stop: f64,
}

/// How a system came back after a window.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovery {
    /// The window's name.
    pub window: String,
    /// When the window ended, seconds.
    pub window_end: f64,
    /// The start of the first sustained stretch within tolerance after it ended, seconds;
    /// `None` when the run ended first.
    pub recovered_at: Option<f64>,
    /// `recovered_at − window_end` (0 when the system never left tolerance).
    pub time_to_recover: Option<f64>,
}

/// One retraining policy over a drifting stream: a point per step of the stream and what
/// happened when.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DriftTimeline {
    /// The step's id (the policy).
    pub step_id: String,
    /// The policy's name (`none`, `periodic`, `drift-triggered`).
    pub policy: String,
    /// The first stream step with drift.
    pub drift_start: usize,
    /// The first stream step with the drift in full effect.
    pub drift_full: usize,
    /// The pre-drift accuracy the recovery is measured against.
    pub pre_drift_accuracy: f64,
    /// How close to it counts as recovered.
    pub tolerance: f64,
    /// One point per stream step.
    pub points: Vec<DriftPoint>,
    /// Drift start, detection, false alarms, retrains and deployments, in order.
    pub events: Vec<DriftEvent>,
}

/// One step of a drifting stream.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DriftPoint {
    /// The stream step.
    pub step: usize,
    /// The share of drifted rows.
    pub drift_share: f64,
    /// The deployed model's accuracy on the held-out evaluation rows under this step's drift.
    pub accuracy: f64,
    /// Its expected calibration error there.
    pub ece: f64,
    /// Evaluation rows.
    pub eval_rows: usize,
    /// Accuracy on this step's production batch (known only once its labels arrive).
    pub batch_accuracy: f64,
    /// Accuracy estimated without labels: the mean confidence on the production batch
    /// (confidence-based performance estimation, as NannyML's CBPE).
    pub estimated_accuracy: f64,
    /// The detector's statistic: the largest KS statistic over numeric features (the largest
    /// Jensen–Shannon distance when no feature is numeric).
    pub drift_statistic: f64,
    /// The smallest corrected p-value over features.
    pub drift_pvalue: f64,
    /// The feature with that p-value.
    pub top_feature: String,
    /// Whether the detector fired.
    pub alarm: bool,
    /// Which model served (0 = the first).
    pub model_version: usize,
}

/// Something that happened on a drifting stream.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DriftEvent {
    /// The stream step.
    pub step: usize,
    /// `drift-start`, `drift-full`, `detected`, `false-alarm`, `retrain`, `retrain-failed`,
    /// `deployed`.
    pub kind: String,
    /// Details.
    pub detail: String,
}

/// One recommender run over simulated traffic: a point per time bucket, the fault windows, the
/// impact of each fault against the fault-free baseline, and the circuit breaker's state
/// changes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecsysTimeline {
    /// The step's id.
    pub step_id: String,
    /// The policy's name (`none`, `popular`, `last-known-good`, `serve-stale`,
    /// `circuit-breaker`) or the reference's (`baseline`, `oracle`, `random`).
    pub policy: String,
    /// Whether this is a reference run (no faults: the baseline, the oracle ceiling or the
    /// random floor) rather than a policy under the scheduled faults.
    pub reference: bool,
    /// Seconds of simulated time per bucket.
    pub bucket_s: f64,
    /// One point per bucket, in order.
    pub points: Vec<RecsysPoint>,
    /// The fault windows (empty for references).
    pub windows: Vec<TimelineWindow>,
    /// Per fault window: what it cost against the baseline and how long until mitigated and
    /// recovered.
    pub impacts: Vec<FaultImpact>,
    /// The circuit breaker's state changes, in order (empty for other policies).
    pub breaker: Vec<BreakerTransition>,
    /// The longest outage the business says it can tolerate (maximum tolerable downtime),
    /// seconds, to set each measured RTO against; `None` when the scenario states none.
    pub max_tolerable_downtime_s: Option<f64>,
}

/// One time bucket of a recommender run (requests by arrival time).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RecsysPoint {
    /// Seconds of simulated time from the start (the start of the bucket).
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
    /// Revenue of those purchases (price units).
    pub revenue: f64,
    /// Sum of NDCG@k against the true affinities over answered requests (mean = sum / answered).
    pub ndcg_sum: f64,
    /// Median request latency, ms (queueing, store and model time plus the measured request
    /// path); `None` when nothing was answered.
    pub p50_ms: Option<f64>,
    /// 99th percentile request latency, ms; `None` when nothing was answered.
    pub p99_ms: Option<f64>,
    /// Feature reads in the bucket.
    pub feature_reads: u64,
    /// Mean freshness lag of the features read (now − event time of the freshest record),
    /// seconds; `None` when nothing was read.
    pub freshness_lag_s: Option<f64>,
}

impl RecsysPoint {
    /// Requests answered with recommendations.
    pub fn answered(&self) -> u64 {
        self.requests.saturating_sub(self.errors)
    }
}

/// What one fault window cost one policy, measured against the fault-free baseline on the
/// same traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultImpact {
    /// The window's name.
    pub window: String,
    /// Fault start and end, seconds.
    pub start: f64,
    /// Fault end, seconds.
    pub stop: f64,
    /// CTR (clicks / impressions) in the window under this policy.
    pub ctr: Estimate,
    /// CTR of the baseline in the same window.
    pub baseline_ctr: Estimate,
    /// Clicks per request in the window, minus the baseline's, with a 95 % Newcombe interval
    /// (a request answered with nothing counts as no click).
    pub clicks_per_request_change: Estimate,
    /// Conversions per request in the window, minus the baseline's, with a 95 % Newcombe
    /// interval.
    pub conversions_per_request_change: Estimate,
    /// Revenue lost against the baseline from fault start to recovery (or the end of the run).
    pub revenue_lost: f64,
    /// Seconds from fault start until the KPIs first held within tolerance for the sustained
    /// period while the fault still acted; `None` when they never did.
    pub time_to_mitigate: Option<f64>,
    /// Seconds from fault end until the KPIs held within tolerance for the sustained period
    /// (0 when they never left it); `None` when the run ended first.
    pub rto: Option<f64>,
    /// Events lost for good (never reached the feature store) because of this fault: the RPO
    /// in events.
    pub events_lost: u64,
}

/// A circuit breaker changed state.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerTransition {
    /// Seconds of simulated time.
    pub t: f64,
    /// `closed`, `open` or `half-open`.
    pub from: String,
    /// `closed`, `open` or `half-open`.
    pub to: String,
    /// Why (`error rate 0.62 over 10 s`, `probe succeeded`).
    pub reason: String,
}
