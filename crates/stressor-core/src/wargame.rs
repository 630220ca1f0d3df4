//! What a war-game step reports beside its metrics: the timeline of injects, detections and
//! actions, one incident per inject with its times to detect, act and recover, the impact by
//! model and group, and the per-window series the monitors watched (fairness, latency, …).
//!
//! A war-game step is one blue team (a playbook, or no defence) playing the red team's
//! timeline, over one or more seeds; times are seconds of the exercise's clock from its start.

use crate::Estimate;

/// A war-game step's detail, sent before its `StepFinished`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WargameDetail {
    /// The step's id (`war-game/defended`, `war-game/no-defence`).
    pub step_id: String,
    /// The blue team's name.
    pub team: String,
    /// The seeds played, in order; the timeline and series are the first seed's.
    pub seeds: Vec<u64>,
    /// The exercise's length in seconds of its clock.
    pub duration_s: f64,
    /// The length of one tick (the monitors' resolution), in seconds.
    pub tick_s: f64,
    /// `simulated` or `realtime`.
    pub clock: String,
    /// The registry backend (`file`, `mlflow`).
    pub registry: String,
    /// What happened, in time order (first seed).
    pub timeline: Vec<WargameEntry>,
    /// One row per inject, over every seed.
    pub incidents: Vec<Incident>,
    /// Impact figures, over every seed.
    pub impact: Vec<ImpactRow>,
    /// The monitored series, one point per tick (first seed).
    pub series: Vec<WargameSeries>,
    /// Every alias change the blue and red teams made (first seed): the registry's audit log.
    pub alias_changes: Vec<AliasMove>,
}

/// Who did something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The attacker.
    Red,
    /// The defender.
    Blue,
    /// The exercise itself (scheduled retraining, label arrival).
    Exercise,
}

impl Side {
    /// `red`, `blue` or `exercise`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Red => "red",
            Side::Blue => "blue",
            Side::Exercise => "exercise",
        }
    }
}

/// What a timeline entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A red-team inject began.
    Inject,
    /// A red-team inject ended.
    InjectEnd,
    /// A monitor raised an alert.
    Detection,
    /// A blue-team action was carried out.
    Action,
    /// A blue-team action failed (the registry was unreachable, a version is missing, …).
    ActionFailed,
    /// A model's KPIs and fairness came back within tolerance after an inject.
    Recovery,
    /// A scheduled event of the exercise (retraining, promotion).
    Scheduled,
}

impl EntryKind {
    /// The entry's kind in snake_case.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Inject => "inject",
            EntryKind::InjectEnd => "inject_end",
            EntryKind::Detection => "detection",
            EntryKind::Action => "action",
            EntryKind::ActionFailed => "action_failed",
            EntryKind::Recovery => "recovery",
            EntryKind::Scheduled => "scheduled",
        }
    }
}

/// One thing that happened in a war game.
#[derive(Debug, Clone, PartialEq)]
pub struct WargameEntry {
    /// When, in seconds from the start.
    pub t_s: f64,
    /// What it is.
    pub kind: EntryKind,
    /// Who did it.
    pub side: Side,
    /// The model concerned (`credit`, `fraud`, `chatbot`).
    pub model: String,
    /// The inject, monitor or action id.
    pub id: String,
    /// The MITRE ATLAS technique (`AML.T0020`) for injects, else empty.
    pub atlas: String,
    /// What happened, for people (plain text).
    pub text: String,
}

/// One inject's incident, over every seed.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// The inject's id.
    pub inject: String,
    /// The model attacked.
    pub model: String,
    /// The technique (`label_flip`, `evasion`, `dos`, `tamper`, `drift`).
    pub technique: String,
    /// Its MITRE ATLAS ids (`AML.T0020`).
    pub atlas: Vec<String>,
    /// When it began and ended (seconds from the start).
    pub start_s: f64,
    /// When it ended.
    pub end_s: f64,
    /// The monitor that detected it first (first seed; empty when none did).
    pub detected_by: String,
    /// The share of seeds in which it was detected.
    pub detected: Estimate,
    /// The share of seeds in which the model recovered before the end.
    pub recovered: Estimate,
    /// Mean time to detect (inject → first alert on its model), over the seeds that detected.
    pub mttd_s: Option<Estimate>,
    /// Mean time to act (inject → first action on its model), over the seeds that acted.
    pub mtta_s: Option<Estimate>,
    /// Mean time to recover (inject → KPIs and fairness back within tolerance), over the
    /// seeds that recovered.
    pub mttr_s: Option<Estimate>,
    /// The red team's effort: queries, poisoned rows, requests sent, …
    pub effort: Vec<(String, Estimate)>,
}

/// One impact figure, over every seed.
#[derive(Debug, Clone, PartialEq)]
pub struct ImpactRow {
    /// The model (`credit`, `fraud`, `chatbot`, or `all`).
    pub model: String,
    /// The figure (`wrong_decisions`, `approvals_lost`, `fraud_loss`, …).
    pub metric: String,
    /// The group it is about (a protected group), or empty.
    pub group: String,
    /// Its unit (`decisions`, `EUR`, `requests`).
    pub unit: String,
    /// The value: the mean over seeds with its interval, n = seeds.
    pub value: Estimate,
}

/// One monitored series over the exercise.
#[derive(Debug, Clone, PartialEq)]
pub struct WargameSeries {
    /// The series (`credit.dp_ratio`, `chatbot.p99_ms`).
    pub name: String,
    /// The model it is about.
    pub model: String,
    /// The monitor's threshold, drawn as a line.
    pub threshold: Option<f64>,
    /// `(t_s, value)`, one per tick; `None` where the window had no data.
    pub points: Vec<(f64, Option<f64>)>,
}

/// One alias change in the registry.
#[derive(Debug, Clone, PartialEq)]
pub struct AliasMove {
    /// When.
    pub t_s: f64,
    /// The registered model.
    pub model: String,
    /// The alias (`champion`, `last-good`, `challenger`).
    pub alias: String,
    /// The version it pointed to before (`None`: it did not exist).
    pub from: Option<u64>,
    /// The version it points to now (`None`: deleted).
    pub to: Option<u64>,
    /// Who moved it.
    pub actor: String,
    /// Why.
    pub reason: String,
}
