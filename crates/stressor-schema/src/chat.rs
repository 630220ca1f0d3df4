//! A chatbot step's detail (since 1.5).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Metric;

/// A chatbot step's examples, detectors, handoff policies, surge seconds and shadow decision
/// (since 1.5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[non_exhaustive]
pub struct ChatbotDetail {
    /// The handoff policies measured; the first one's metrics carry plain names
    /// (`handoff_rate`), each other's its name as a suffix (`handoff_rate.fixed-0.3`).
    #[serde(default)]
    pub policies: Vec<HandoffPolicy>,
    /// The worst examples at each dial value.
    #[serde(default)]
    pub examples: Vec<ChatExamples>,
    /// Out-of-scope detectors compared.
    #[serde(default)]
    pub detectors: Vec<DetectorScore>,
    /// A surge's outcomes per second.
    #[serde(default)]
    pub seconds: Vec<ChatSecond>,
    /// A shadow deployment's decision.
    #[serde(default)]
    pub decision: Option<ShadowDecision>,
}

/// A way of deciding which queries go to a human.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct HandoffPolicy {
    /// Its name (`guaranteed`, `fixed-0.3`).
    pub name: String,
    /// How it decides.
    pub description: String,
    /// The confidence below which queries are handed off; absent when it hands off everything.
    pub threshold: Option<f64>,
}

/// The worst examples at one dial value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct ChatExamples {
    /// The dial value; absent for a step without a dial.
    pub dial_value: Option<f64>,
    /// Worst first.
    pub examples: Vec<ChatExample>,
}

/// One query: original → perturbed → answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct ChatExample {
    /// The query as written.
    pub original: String,
    /// The query under stress.
    pub perturbed: String,
    /// The true intent (`out of scope` for off-topic queries).
    pub truth: String,
    /// The answer to the original (an intent, or `handoff`).
    pub clean_answer: String,
    /// The answer under stress.
    pub answer: String,
    /// The confidence under stress.
    pub confidence: f64,
}

/// How well one score separates in-scope from out-of-scope queries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct DetectorScore {
    /// The dial value; absent when clean.
    pub dial_value: Option<f64>,
    /// The detector (`max-softmax`, `energy`, `distance`).
    pub detector: String,
    /// Area under the ROC curve, in-scope against out-of-scope.
    pub auroc: Metric,
    /// The share of out-of-scope queries taken for in-scope at 95 % in-scope recall.
    pub fpr_at_95_tpr: Metric,
}

/// One second of a chatbot surge.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct ChatSecond {
    /// Seconds from the start.
    pub t: f64,
    /// Requests meant to start in this second.
    pub requests: u64,
    /// Answered with an intent.
    pub answered: u64,
    /// Of those, right.
    pub correct: u64,
    /// Handed to a human.
    pub handoffs: u64,
    /// No answer (an error status, 503 included, or a timeout).
    pub dropped: u64,
}

/// Whether a shadowed candidate should replace the live model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct ShadowDecision {
    /// Promote (every promotion gate held) or hold.
    pub promote: bool,
    /// One line per promotion gate.
    pub reasons: Vec<String>,
}

impl HandoffPolicy {
    /// A policy.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        threshold: Option<f64>,
    ) -> Self {
        HandoffPolicy { name: name.into(), description: description.into(), threshold }
    }
}

impl ChatExamples {
    /// Examples at a dial value.
    pub fn new(dial_value: Option<f64>, examples: Vec<ChatExample>) -> Self {
        ChatExamples { dial_value, examples }
    }
}

impl ChatExample {
    /// An example.
    pub fn new(
        original: impl Into<String>,
        perturbed: impl Into<String>,
        truth: impl Into<String>,
        clean_answer: impl Into<String>,
        answer: impl Into<String>,
        confidence: f64,
    ) -> Self {
        ChatExample {
            original: original.into(),
            perturbed: perturbed.into(),
            truth: truth.into(),
            clean_answer: clean_answer.into(),
            answer: answer.into(),
            confidence,
        }
    }
}

impl DetectorScore {
    /// A detector's scores.
    pub fn new(
        dial_value: Option<f64>,
        detector: impl Into<String>,
        auroc: Metric,
        fpr_at_95_tpr: Metric,
    ) -> Self {
        DetectorScore { dial_value, detector: detector.into(), auroc, fpr_at_95_tpr }
    }
}

impl ChatSecond {
    /// A second with its counts.
    pub fn new(
        t: f64,
        requests: u64,
        answered: u64,
        correct: u64,
        handoffs: u64,
        dropped: u64,
    ) -> Self {
        ChatSecond { t, requests, answered, correct, handoffs, dropped }
    }
}

impl ShadowDecision {
    /// A decision.
    pub fn new(promote: bool, reasons: Vec<String>) -> Self {
        ShadowDecision { promote, reasons }
    }
}
