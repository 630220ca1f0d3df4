//! What a chatbot step reports beside its metrics: the worst examples, the out-of-scope
//! detectors compared, the handoff policies, a surge's per-second outcomes and a shadow
//! deployment's decision.

use crate::Estimate;

/// A chatbot step's detail, sent before its `StepFinished`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatbotDetail {
    /// The step's id.
    pub step_id: String,
    /// The handoff policies measured, in order; the first one's metrics carry plain names
    /// (`handoff_rate`), each other's the policy as a suffix (`handoff_rate.fixed-0.3`).
    pub policies: Vec<HandoffPolicy>,
    /// The worst examples at each dial value.
    pub examples: Vec<ChatExamples>,
    /// Out-of-scope detectors compared.
    pub detectors: Vec<DetectorScore>,
    /// A surge's outcomes, one entry per second (empty for other steps).
    pub seconds: Vec<ChatSecond>,
    /// A shadow deployment's promote/hold decision (shadow steps only).
    pub decision: Option<ShadowDecision>,
}

/// A way of deciding which queries go to a human.
#[derive(Debug, Clone, PartialEq)]
pub struct HandoffPolicy {
    /// Its name (`guaranteed`, `fixed-0.3`, `none`).
    pub name: String,
    /// How it decides, for people.
    pub description: String,
    /// The confidence below which a query is handed off (`None`: the policy hands off
    /// everything, for want of a threshold with the guarantee).
    pub threshold: Option<f64>,
}

/// The worst examples at one dial value.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatExamples {
    /// The dial value (`None` for a step without a dial).
    pub dial_value: Option<f64>,
    /// The examples, worst first.
    pub examples: Vec<ChatExample>,
}

/// One query shown in the report: original → perturbed → answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatExample {
    /// The query as written.
    pub original: String,
    /// The query under stress.
    pub perturbed: String,
    /// The true intent (`out of scope` for off-topic queries).
    pub truth: String,
    /// What the chatbot answered to the original (an intent, or `handoff`).
    pub clean_answer: String,
    /// What it answered under stress.
    pub answer: String,
    /// Its confidence under stress.
    pub confidence: f64,
}

/// How well one score separates in-scope from out-of-scope queries.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorScore {
    /// The dial value it was measured at (`None`: clean).
    pub dial_value: Option<f64>,
    /// The detector (`max-softmax`, `energy`, `distance`).
    pub detector: String,
    /// Area under the ROC curve, in-scope against out-of-scope.
    pub auroc: Estimate,
    /// The share of out-of-scope queries taken for in-scope when 95 % of in-scope ones are.
    pub fpr_at_95_tpr: Estimate,
}

/// One second of a chatbot surge, requests by intended start.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ChatSecond {
    /// Seconds from the start of the run.
    pub t: f64,
    /// Requests meant to start in this second.
    pub requests: u64,
    /// Answered with an intent.
    pub answered: u64,
    /// Of those, right.
    pub correct: u64,
    /// Handed to a human.
    pub handoffs: u64,
    /// No answer: an error status (503 included) or a timeout.
    pub dropped: u64,
}

/// Whether a shadowed candidate should replace the live model.
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowDecision {
    /// Promote (every promotion gate held) or hold.
    pub promote: bool,
    /// One line per promotion gate: what it asked and what it saw.
    pub reasons: Vec<String>,
}
