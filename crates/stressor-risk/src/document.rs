//! The risk documents as data: what `risk.json` holds (schema at `docs/risk.schema.json`) and
//! what the Markdown, HTML and CSV renderings show.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::finding::{Category, Finding, Source};
use crate::scale::ActionPriority;

/// The format version of `risk.json` (`MAJOR.MINOR`, the report's stability rules).
pub const RISK_FORMAT_VERSION: &str = "1.0";

/// Every risk document computed from a set of reports and a business context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RiskDocument {
    /// [`RISK_FORMAT_VERSION`].
    pub format_version: String,
    /// The stressor version that computed it.
    pub stressor_version: String,
    /// The organisation from the context, if any.
    pub organisation: String,
    /// The currency of every amount.
    pub currency: String,
    /// The reports, numbered from 1 as citations refer to them (`r1:/steps/…`).
    pub inputs: Vec<InputReport>,
    /// What was assumed where the context was silent.
    pub assumptions: Vec<String>,
    /// The failure modes observed, with every measurement and its source.
    pub findings: Vec<Finding>,
    /// One FMEA row per finding.
    pub fmea: Vec<FmeaRow>,
    /// One register entry per finding, against the risk appetite.
    pub register: Vec<RiskEntry>,
    /// Retraining triggers recommended from drift and poisoning evidence.
    pub retraining_triggers: Vec<Trigger>,
    /// One row per business process in the context.
    pub bia: Vec<BiaRow>,
    /// The NIST AI RMF 1.0 subcategories, each with its evidence or marked as a gap.
    pub crosswalk: Vec<NistRow>,
    /// The MITRE ATLAS techniques exercised.
    pub atlas: Vec<AtlasRow>,
    /// Blameless post-mortems of the runs with a timeline.
    pub postmortems: Vec<PostMortem>,
}

/// A report the documents were computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InputReport {
    /// Its number in citations (`r1`).
    pub index: usize,
    /// The file, as given.
    pub path: String,
    /// The scenario's name.
    pub scenario: String,
    /// The run's seed.
    pub seed: u64,
    /// The run's verdict (`pass`, `fail`, `incomplete`).
    pub verdict: String,
    /// The report's format version.
    pub format_version: String,
    /// When the run started, if recorded.
    pub started_at: Option<String>,
}

/// One FMEA row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FmeaRow {
    /// The finding.
    pub finding: String,
    /// The item: the model or service.
    pub item: String,
    /// The business process it serves, if mapped.
    pub process: Option<String>,
    /// The failure mode.
    pub failure_mode: String,
    /// Its effect.
    pub effect: String,
    /// Its cause: the stress condition.
    pub cause: String,
    /// Severity, 1–10.
    pub severity: u8,
    /// Occurrence, 1–10.
    pub occurrence: u8,
    /// Occurrence at the ends of the failure rate's interval, when it has one.
    pub occurrence_range: Option<[u8; 2]>,
    /// Detection, 1–10.
    pub detection: u8,
    /// RPN = S × O × D.
    pub rpn: u32,
    /// The AIAG & VDA action priority.
    pub action_priority: ActionPriority,
    /// Whether the row calls for action (AP H, or RPN at or above the threshold).
    pub action_required: bool,
    /// Expected failures per thousand decisions (rate × exposure × 1 000).
    pub failures_per_thousand: f64,
    /// The exposure share used, and whether the context stated it.
    pub exposure: f64,
    /// Whether the exposure came from the context (else 1 is assumed).
    pub exposure_stated: bool,
    /// How S, O and D were obtained, with the values and their sources.
    pub rationale: Rationale,
    /// Every report field the row's numbers came from.
    pub evidence: Vec<Source>,
}

/// Why a row scored what it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Rationale {
    /// Severity from the impact.
    pub severity: String,
    /// Occurrence from rate and exposure.
    pub occurrence: String,
    /// Detection from detection probability and MTTD.
    pub detection: String,
}

/// One risk register entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RiskEntry {
    /// `R-001`.
    pub id: String,
    /// The finding behind it.
    pub finding: String,
    /// The risk in words.
    pub risk: String,
    /// Its category.
    pub category: Category,
    /// Its cause.
    pub cause: String,
    /// The report fields that are its evidence.
    pub evidence: Vec<Source>,
    /// Likelihood 1–5 (from occurrence).
    pub likelihood: u8,
    /// Impact 1–5 (from severity).
    pub impact: u8,
    /// Likelihood × impact, 1–25.
    pub score: u8,
    /// The category's appetite from the context, if stated.
    pub appetite: Option<u8>,
    /// `above appetite`, `within appetite` or `no appetite stated`.
    pub status: String,
    /// The controls measured, each with its residual score.
    pub controls: Vec<ControlEffect>,
    /// Residual likelihood with the best control.
    pub residual_likelihood: u8,
    /// Residual impact with the best control.
    pub residual_impact: u8,
    /// Residual score with the best control (the inherent score when none was measured).
    pub residual_score: u8,
    /// Status of the residual score against the appetite.
    pub residual_status: String,
    /// The recommended response: accept, mitigate with a measured control, or treat further.
    pub response: String,
    /// The owner, from the context.
    pub owner: String,
}

/// A control's measured effect on a risk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ControlEffect {
    /// The control.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// Impact with the control, and without.
    pub impact: [f64; 2],
    /// FMEA S, O, D with the control.
    pub sod: [u8; 3],
    /// The residual score with the control (likelihood × impact).
    pub score: u8,
    /// Where its numbers came from.
    pub evidence: Vec<Source>,
}

/// A recommended retraining trigger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Trigger {
    /// The model.
    pub model: String,
    /// The trigger.
    pub trigger: String,
    /// Why, with the measured numbers.
    pub rationale: String,
    /// Where those came from.
    pub evidence: Vec<Source>,
}

/// One business process in the business impact analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BiaRow {
    /// The process.
    pub process: String,
    /// Its owner.
    pub owner: String,
    /// The models it runs on.
    pub models: Vec<String>,
    /// The findings that bear on it.
    pub findings: Vec<String>,
    /// Revenue per hour, from the context.
    pub revenue_per_hour: f64,
    /// The worst measured impact (share of the function lost), and its finding.
    pub worst_impact: Option<(f64, String)>,
    /// Revenue lost per hour of the worst degradation.
    pub loss_per_hour: Option<f64>,
    /// Loss per incident: the worst over findings with a measured duration of
    /// `loss_per_hour × (duration + recovery) + cost_per_incident`, and its finding.
    pub loss_per_incident: Option<(f64, String)>,
    /// The longest measured recovery (RTO achieved), seconds, and its finding.
    pub measured_rto_s: Option<(f64, String)>,
    /// The longest recovery when each finding has its best measured control in place
    /// (a finding without controls keeps its own), seconds, and its finding.
    pub measured_rto_with_controls_s: Option<(f64, String)>,
    /// Status of that recovery against the RTO and the MTD.
    pub rto_status_with_controls: String,
    /// The RTO target, seconds.
    pub rto_target_s: f64,
    /// The maximum tolerable downtime, seconds.
    pub max_tolerable_downtime_s: f64,
    /// `meets RTO`, `misses RTO`, `exceeds MTD`, `not recovered in the run`, `not measured`.
    pub rto_status: String,
    /// The most events lost (RPO achieved), and its finding.
    pub measured_rpo_events: Option<(u64, String)>,
    /// The RPO target in events, if stated.
    pub rpo_target_events: Option<u64>,
    /// `meets RPO`, `misses RPO`, `no target`, `not measured`.
    pub rpo_status: String,
    /// Every report field its numbers came from.
    pub evidence: Vec<Source>,
}

/// One NIST AI RMF 1.0 subcategory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NistRow {
    /// `MEASURE 2.7`.
    pub id: String,
    /// Its text (NIST AI 100-1).
    pub text: String,
    /// What in these documents is evidence for it.
    pub evidence: Vec<String>,
    /// No evidence: a gap.
    pub gap: bool,
}

/// A MITRE ATLAS technique exercised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AtlasRow {
    /// `AML.T0043.000`.
    pub technique: String,
    /// Its name.
    pub name: String,
    /// The findings that exercised it.
    pub findings: Vec<String>,
}

/// A blameless post-mortem (Google SRE's template) filled from a run's events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PostMortem {
    /// Title.
    pub title: String,
    /// The run's date, if recorded.
    pub date: Option<String>,
    /// Status: always a draft generated from evidence, for people to review.
    pub status: String,
    /// Summary.
    pub summary: String,
    /// Impact, one line per measure, each with its source.
    pub impact: Vec<String>,
    /// Root causes.
    pub root_causes: Vec<String>,
    /// Trigger.
    pub trigger: String,
    /// Detection.
    pub detection: Vec<String>,
    /// Resolution.
    pub resolution: Vec<String>,
    /// What went well.
    pub went_well: Vec<String>,
    /// What went badly.
    pub went_badly: Vec<String>,
    /// Where we got lucky.
    pub lucky: Vec<String>,
    /// Action items.
    pub action_items: Vec<ActionItem>,
    /// Timestamped events: seconds from the start, text.
    pub timeline: Vec<(f64, String)>,
    /// The report fields behind it.
    pub evidence: Vec<Source>,
}

/// A post-mortem action item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ActionItem {
    /// What to do.
    pub item: String,
    /// `mitigate`, `prevent` or `process`.
    pub kind: String,
    /// Who, from the context.
    pub owner: String,
}
