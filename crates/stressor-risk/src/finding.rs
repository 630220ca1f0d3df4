//! What the evidence says: failure modes observed in reports, each measurement with the report
//! field it came from.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a number came from: a report (its index among the inputs, 1-based as printed) and a
/// JSON Pointer (RFC 6901) into it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Source {
    /// The report, 1-based, in the order given.
    pub report: usize,
    /// A JSON Pointer into that report (`/steps/2/points/3/metrics/robust_accuracy`).
    pub pointer: String,
}

impl Source {
    /// `r1:/steps/2/…`, as the documents print it.
    pub fn cite(&self) -> String {
        format!("r{}:{}", self.report, self.pointer)
    }
}

/// A measured number and where it came from. `n` and the interval are the report's; derived
/// numbers (a relative drop) cite every field they were computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Measured {
    /// The value.
    pub value: f64,
    /// Its sample size (0 when not a sample estimate).
    pub n: u64,
    /// Its 95 % interval, when the report gave one (derived values carry the interval mapped
    /// through the same formula where it is monotone).
    pub ci: Option<[f64; 2]>,
    /// The report fields it came from.
    pub sources: Vec<Source>,
    /// How it was computed from them, when it is not one field as is.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub formula: String,
}

impl Measured {
    /// The cited fields, comma-separated.
    pub fn cite(&self) -> String {
        self.sources.iter().map(Source::cite).collect::<Vec<_>>().join(", ")
    }
}

/// Risk categories: what a risk appetite is stated per.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Deliberate attacks on the model: evasion, poisoning, tampering, denial of service.
    Security,
    /// Accidental input shifts: corruptions, lighting, typos.
    Robustness,
    /// Unequal outcomes between groups.
    Fairness,
    /// Outages, latency, load.
    Availability,
    /// The world changing under the model.
    Drift,
}

impl Category {
    /// The key in the context file.
    pub fn key(self) -> &'static str {
        match self {
            Category::Security => "security",
            Category::Robustness => "robustness",
            Category::Fairness => "fairness",
            Category::Availability => "availability",
            Category::Drift => "drift",
        }
    }
}

/// Kinds of stress a process is exposed to, each with a share in the context file
/// (`[exposure]`): the share of decisions (or of time, for outages) that meets the stress.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Exposure {
    /// Inputs crafted by an adversary (share of decisions).
    Adversarial,
    /// Corrupted inputs: noise, blur, weather, compression (share of decisions).
    Corruption,
    /// Lighting outside the training conditions (share of decisions).
    Lighting,
    /// Perturbed text: typos, synonyms, off-topic (share of queries).
    Text,
    /// A dependency fault (network, server errors, a feature store down): share of time.
    Outage,
    /// Load surges: share of time.
    Surge,
    /// Distribution drift: share of time the model serves drifted data.
    Drift,
    /// Poisoned retraining data: share of retraining runs.
    Poisoning,
    /// Tampered model artefacts: share of deployments.
    Tampering,
}

impl Exposure {
    /// The key in the context file.
    pub fn key(self) -> &'static str {
        match self {
            Exposure::Adversarial => "adversarial",
            Exposure::Corruption => "corruption",
            Exposure::Lighting => "lighting",
            Exposure::Text => "text",
            Exposure::Outage => "outage",
            Exposure::Surge => "surge",
            Exposure::Drift => "drift",
            Exposure::Poisoning => "poisoning",
            Exposure::Tampering => "tampering",
        }
    }
}

/// A failure mode observed in a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    /// A stable id: `r1/pgd-linf@0.0314` (report, step, condition).
    pub id: String,
    /// The report it came from, 1-based.
    pub report: usize,
    /// The report's family (`vision`, `system`, `drift`, `recommender`, `chatbot`,
    /// `war-game`).
    pub family: String,
    /// The scenario's name.
    pub scenario: String,
    /// The model or service (the report's target, or a war game's model).
    pub model: String,
    /// The step.
    pub step: String,
    /// The risk category.
    pub category: Category,
    /// The kind of stress, for exposure.
    pub exposure: Exposure,
    /// The condition (`PGD L∞ at ε = 8/255`).
    pub condition: String,
    /// The failure mode in words, with its measured size.
    pub failure_mode: String,
    /// Its effect on the process.
    pub effect: String,
    /// The share of the primary function lost while the failure acts, in [0, 1].
    pub impact: Measured,
    /// The probability that an exposed decision (or second) fails, in [0, 1].
    pub rate: Measured,
    /// The probability that the failure is detected, when a detector was exercised.
    pub detection: Option<Measured>,
    /// Mean time to detect, in `time_unit`.
    pub mttd: Option<Measured>,
    /// The unit of `mttd` and `recovery`: `s`, or `steps` of a drifting stream (the context's
    /// `drift_step` puts them in time).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub time_unit: String,
    /// Measured time to recover (the RTO achieved), in `time_unit`.
    pub recovery: Option<Measured>,
    /// Events lost for good (RPO achieved), when measured.
    pub events_lost: Option<Measured>,
    /// Money lost in the run, in the report's units, when measured.
    pub loss: Option<Measured>,
    /// How long the failure acted in the run, seconds, when measured.
    pub duration_s: Option<Measured>,
    /// MITRE ATLAS technique ids, for attacks.
    pub atlas: Vec<String>,
    /// Controls measured against this failure mode.
    pub controls: Vec<Control>,
}

/// A control (a mitigation, a fallback policy, a retraining policy, a blue team) measured
/// against a failure mode: the same measurements with the control in place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Control {
    /// Its name (`adversarial-training`, `policy circuit-breaker`, `blue team defended`).
    pub name: String,
    /// `mitigation`, `fallback`, `retraining`, `playbook`.
    pub kind: String,
    /// Impact with the control in place.
    pub impact: Measured,
    /// Failure rate with the control in place.
    pub rate: Measured,
    /// Detection with the control in place.
    pub detection: Option<Measured>,
    /// MTTD with the control in place.
    pub mttd: Option<Measured>,
    /// Recovery with the control in place.
    pub recovery: Option<Measured>,
    /// Money lost with the control in place.
    pub loss: Option<Measured>,
}
