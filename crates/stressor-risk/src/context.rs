//! The business context: what the measured models are for, what an hour of them is worth, the
//! recovery targets, who owns them, how exposed they are and how much risk is tolerated.
//!
//! Read from a small TOML file (`context.toml`); every problem names the file, the line and
//! column or the field. See `docs/risk.md` for the format.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::RiskError;
use crate::finding::{Category, Exposure};

/// The business context, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// The organisation, for titles.
    pub organisation: String,
    /// The currency of every amount (`EUR`).
    pub currency: String,
    /// Business processes and the models or services they run on.
    pub processes: Vec<Process>,
    /// The share of decisions (or of time) exposed to each kind of stress, in [0, 1]; a kind
    /// not listed is assumed fully exposed (1), and the documents say so.
    pub exposure: BTreeMap<Exposure, f64>,
    /// The highest tolerated risk score (likelihood × impact, 1–25) per category; a category
    /// not listed has no stated appetite and its risks are flagged "no appetite stated".
    pub appetite: BTreeMap<Category, u8>,
    /// The RPN at or above which an FMEA row calls for action (classically 100 or 125).
    pub rpn_threshold: u32,
    /// Per step id: the dial value the process is exposed to (`8/255`), instead of the most
    /// severe value measured.
    pub dial: BTreeMap<String, f64>,
}

/// A business process that depends on measured models or services.
#[derive(Debug, Clone, PartialEq)]
pub struct Process {
    /// Its name.
    pub name: String,
    /// Models (report `target.name`, or a war game's `credit`/`fraud`/`chatbot`) it runs on.
    pub models: Vec<String>,
    /// Scenario names whose reports are about it.
    pub scenarios: Vec<String>,
    /// Who owns its risks.
    pub owner: String,
    /// Revenue earned (or protected) per hour of normal operation.
    pub revenue_per_hour: f64,
    /// Fixed cost of responding to one incident (people, communication).
    pub cost_per_incident: f64,
    /// Maximum tolerable downtime, seconds.
    pub max_tolerable_downtime_s: f64,
    /// Recovery time objective, seconds.
    pub rto_s: f64,
    /// Recovery point objective in events that may be lost, if stated.
    pub rpo_events: Option<u64>,
    /// Whether a failure can harm people (severity 9–10 instead of 8 for a loss of function).
    pub safety_critical: bool,
    /// How long one step of a drifting stream lasts, seconds, to put drift detection in time.
    pub drift_step_s: Option<f64>,
}

impl Context {
    /// A context with no processes, no exposure, no appetite, RPN threshold 100: what the
    /// documents assume when no context file is given.
    pub fn empty() -> Context {
        Context {
            organisation: String::new(),
            currency: String::new(),
            processes: Vec::new(),
            exposure: BTreeMap::new(),
            appetite: BTreeMap::new(),
            rpn_threshold: 100,
            dial: BTreeMap::new(),
        }
    }

    /// Reads and validates the context file at `path`.
    ///
    /// # Errors
    /// [`RiskError::ContextParse`] for bad TOML, a wrong type or an unknown key (with line and
    /// column); [`RiskError::ContextInvalid`] for contradictions (an RTO above the maximum
    /// tolerable downtime, duplicate process names, a share outside [0, 1], an appetite
    /// outside 1–25).
    pub fn read(path: &Path) -> Result<Context, RiskError> {
        let text = std::fs::read_to_string(path).map_err(|error| RiskError::ContextInvalid {
            path: path.to_path_buf(),
            field: "(file)".into(),
            message: format!("cannot read: {error}"),
        })?;
        Context::parse(&text, path)
    }

    /// Parses and validates context text read from `path` (used in messages).
    ///
    /// # Errors
    /// As [`Context::read`].
    pub fn parse(text: &str, path: &Path) -> Result<Context, RiskError> {
        let file: ContextFile = toml::from_str(text).map_err(|error| {
            let (line, column) =
                error.span().map_or((1, 1), |span| stressor_core::line_column(text, span.start));
            RiskError::ContextParse {
                path: path.to_path_buf(),
                line,
                column,
                message: error.message().trim().to_string(),
            }
        })?;
        file.validate(path)
    }

    /// The share of decisions exposed to `kind`, and whether it was stated.
    pub fn exposure_of(&self, kind: Exposure) -> (f64, bool) {
        self.exposure.get(&kind).map_or((1.0, false), |&share| (share, true))
    }

    /// The process a finding about `model` in scenario `scenario` belongs to, if any.
    pub fn process_for(&self, model: &str, scenario: &str) -> Option<&Process> {
        self.processes
            .iter()
            .find(|p| p.models.iter().any(|m| m == model))
            .or_else(|| self.processes.iter().find(|p| p.scenarios.iter().any(|s| s == scenario)))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContextFile {
    #[serde(default)]
    organisation: String,
    #[serde(default = "default_currency")]
    currency: String,
    #[serde(default = "default_rpn")]
    rpn_threshold: u32,
    #[serde(default)]
    exposure: BTreeMap<Exposure, f64>,
    #[serde(default)]
    appetite: BTreeMap<Category, i64>,
    #[serde(default)]
    dial: BTreeMap<String, toml::Value>,
    #[serde(default, rename = "process")]
    processes: Vec<ProcessFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProcessFile {
    name: String,
    #[serde(default)]
    models: Vec<String>,
    #[serde(default)]
    scenarios: Vec<String>,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    revenue_per_hour: f64,
    #[serde(default)]
    cost_per_incident: f64,
    max_tolerable_downtime: String,
    rto: String,
    #[serde(default)]
    rpo_events: Option<u64>,
    #[serde(default)]
    safety_critical: bool,
    #[serde(default)]
    drift_step: Option<String>,
}

fn default_currency() -> String {
    "EUR".into()
}

fn default_rpn() -> u32 {
    100
}

impl ContextFile {
    fn validate(self, path: &Path) -> Result<Context, RiskError> {
        let invalid = |field: String, message: String| RiskError::ContextInvalid {
            path: path.to_path_buf(),
            field,
            message,
        };
        for (kind, &share) in &self.exposure {
            if !(0.0..=1.0).contains(&share) {
                return Err(invalid(
                    format!("exposure.{}", kind.key()),
                    format!("{share} is not a share in [0, 1]"),
                ));
            }
        }
        let mut appetite = BTreeMap::new();
        for (category, &score) in &self.appetite {
            let Some(score) = u8::try_from(score).ok().filter(|s| (1..=25).contains(s)) else {
                return Err(invalid(
                    format!("appetite.{}", category.key()),
                    format!("{score} is not a risk score (likelihood × impact, 1–25)"),
                ));
            };
            appetite.insert(*category, score);
        }
        if !(1..=1000).contains(&self.rpn_threshold) {
            return Err(invalid(
                "rpn_threshold".into(),
                format!("{} is not an RPN (1–1000)", self.rpn_threshold),
            ));
        }
        let mut dial = BTreeMap::new();
        for (step, value) in &self.dial {
            let parsed = match value {
                toml::Value::Float(x) => Some(*x),
                toml::Value::Integer(x) => Some(*x as f64),
                toml::Value::String(s) => parse_fraction(s),
                _ => None,
            };
            let Some(x) = parsed.filter(|x| x.is_finite()) else {
                return Err(invalid(
                    format!("dial.{step}"),
                    format!("{value} is not a number or a fraction like \"8/255\""),
                ));
            };
            dial.insert(step.clone(), x);
        }
        let mut processes: Vec<Process> = Vec::new();
        for (i, p) in self.processes.into_iter().enumerate() {
            let field = |name: &str| format!("process[{i}].{name}");
            if p.name.trim().is_empty() {
                return Err(invalid(field("name"), "is empty".into()));
            }
            if processes.iter().any(|q| q.name == p.name) {
                return Err(invalid(field("name"), format!("`{}` names two processes", p.name)));
            }
            if p.models.is_empty() && p.scenarios.is_empty() {
                return Err(invalid(
                    field("models"),
                    format!("`{}` maps to no model and no scenario", p.name),
                ));
            }
            for (name, value) in [
                ("revenue_per_hour", p.revenue_per_hour),
                ("cost_per_incident", p.cost_per_incident),
            ] {
                if !(value.is_finite() && value >= 0.0) {
                    return Err(invalid(
                        field(name),
                        format!("{value} is not a non-negative amount"),
                    ));
                }
            }
            let duration = |name: &str, text: &str| {
                stressor_core::parse_duration(text)
                    .map(|d| d.as_secs_f64())
                    .map_err(|message| invalid(field(name), message))
            };
            let mtd = duration("max_tolerable_downtime", &p.max_tolerable_downtime)?;
            let rto = duration("rto", &p.rto)?;
            if rto > mtd {
                return Err(invalid(
                    field("rto"),
                    format!(
                        "the RTO ({}) is longer than the maximum tolerable downtime ({}); \
                         ISO 22301 requires RTO ≤ MTPD",
                        p.rto, p.max_tolerable_downtime
                    ),
                ));
            }
            let drift_step_s =
                p.drift_step.as_deref().map(|d| duration("drift_step", d)).transpose()?;
            processes.push(Process {
                name: p.name,
                models: p.models,
                scenarios: p.scenarios,
                owner: p.owner.unwrap_or_else(|| "unassigned".into()),
                revenue_per_hour: p.revenue_per_hour,
                cost_per_incident: p.cost_per_incident,
                max_tolerable_downtime_s: mtd,
                rto_s: rto,
                rpo_events: p.rpo_events,
                safety_critical: p.safety_critical,
                drift_step_s,
            });
        }
        for (i, p) in processes.iter().enumerate() {
            for model in &p.models {
                if let Some(other) = processes[..i].iter().find(|q| q.models.contains(model)) {
                    return Err(invalid(
                        format!("process[{i}].models"),
                        format!("model `{model}` is already mapped to process `{}`", other.name),
                    ));
                }
            }
        }
        Ok(Context {
            organisation: self.organisation,
            currency: self.currency,
            processes,
            exposure: self.exposure,
            appetite,
            rpn_threshold: self.rpn_threshold,
            dial,
        })
    }
}

/// `0.5`, `8/255`.
pub(crate) fn parse_fraction(text: &str) -> Option<f64> {
    match text.split_once('/') {
        Some((a, b)) => {
            let (a, b): (f64, f64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
            (b != 0.0).then_some(a / b)
        }
        None => text.trim().parse().ok(),
    }
}
