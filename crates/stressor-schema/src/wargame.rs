//! A war-game step's detail (since 1.6): one blue team playing the red team's timeline.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Metric;

/// A war-game step's timeline, incidents, impact, monitored series and registry audit log
/// (since 1.6). Times are seconds of the exercise's clock from its start; `null` marks a time
/// that was not a number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct WargameDetail {
    /// The blue team's name (`defended`, `no defence`).
    pub team: String,
    /// The seeds played, in order; the timeline, series and alias changes are the first
    /// seed's.
    #[serde(default)]
    pub seeds: Vec<u64>,
    /// The exercise's length in seconds of its clock.
    #[serde(with = "crate::float::nullable")]
    #[schemars(with = "Option<f64>")]
    pub duration_s: f64,
    /// The length of one tick (the monitors' resolution), in seconds.
    #[serde(with = "crate::float::nullable")]
    #[schemars(with = "Option<f64>")]
    pub tick_s: f64,
    /// `simulated` or `realtime`.
    pub clock: String,
    /// The model registry's backend (`file`, `mlflow`).
    pub registry: String,
    /// What happened, in time order (first seed).
    #[serde(default)]
    pub timeline: Vec<WargameEntry>,
    /// One row per inject, over every seed.
    #[serde(default)]
    pub incidents: Vec<Incident>,
    /// Impact figures, over every seed.
    #[serde(default)]
    pub impact: Vec<ImpactRow>,
    /// The monitored series, one point per tick (first seed).
    #[serde(default)]
    pub series: Vec<WargameSeries>,
    /// Every alias change the teams made in the registry (first seed).
    #[serde(default)]
    pub alias_changes: Vec<AliasMove>,
}

/// Who did something in a war game.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Side {
    /// The attacker.
    Red,
    /// The defender.
    Blue,
    /// The exercise itself (scheduled retraining, label arrival).
    Exercise,
    /// A side this version does not know (written by a newer minor version).
    #[serde(other)]
    #[schemars(skip)]
    Unknown,
}

/// What a war game's timeline entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EntryKind {
    /// A red-team inject began.
    Inject,
    /// A red-team inject ended.
    InjectEnd,
    /// A monitor raised an alert.
    Detection,
    /// A blue-team action was carried out.
    Action,
    /// A blue-team action failed.
    ActionFailed,
    /// A model's KPIs and fairness came back within tolerance after an inject.
    Recovery,
    /// A scheduled event of the exercise (retraining, promotion).
    Scheduled,
    /// A kind this version does not know (written by a newer minor version).
    #[serde(other)]
    #[schemars(skip)]
    Unknown,
}

/// One thing that happened in a war game.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct WargameEntry {
    /// When, in seconds from the start.
    #[serde(with = "crate::float::nullable")]
    #[schemars(with = "Option<f64>")]
    pub t_s: f64,
    /// What it is.
    pub kind: EntryKind,
    /// Who did it.
    pub side: Side,
    /// The model concerned (`credit`, `fraud`, `chatbot`).
    pub model: String,
    /// The inject, monitor or action id.
    pub id: String,
    /// The MITRE ATLAS technique (`AML.T0020`) of an inject; empty otherwise.
    #[serde(default)]
    pub atlas: String,
    /// What happened, for people (plain text).
    pub text: String,
}

/// One inject's incident, over every seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Incident {
    /// The inject's id.
    pub inject: String,
    /// The model attacked.
    pub model: String,
    /// The technique (`label_flip`, `evasion`, `dos`, `tamper`, `drift`).
    pub technique: String,
    /// Its MITRE ATLAS ids (`AML.T0020`).
    #[serde(default)]
    pub atlas: Vec<String>,
    /// When it began, in seconds from the start.
    #[serde(with = "crate::float::nullable")]
    #[schemars(with = "Option<f64>")]
    pub start_s: f64,
    /// When it ended, in seconds from the start.
    #[serde(with = "crate::float::nullable")]
    #[schemars(with = "Option<f64>")]
    pub end_s: f64,
    /// The monitor that detected it first (first seed); empty when none did.
    #[serde(default)]
    pub detected_by: String,
    /// The share of seeds in which it was detected.
    pub detected: Metric,
    /// The share of seeds in which its model recovered before the end.
    pub recovered: Metric,
    /// Mean time to detect (inject → first alert on its model), over the seeds that detected;
    /// absent when none did.
    pub mttd_s: Option<Metric>,
    /// Mean time to act (inject → first action on its model), over the seeds that acted;
    /// absent when none did.
    pub mtta_s: Option<Metric>,
    /// Mean time to recover (inject → KPIs and fairness back within tolerance), over the
    /// seeds that recovered; absent when none did.
    pub mttr_s: Option<Metric>,
    /// The red team's effort by name: queries, poisoned rows, requests sent, …
    #[serde(default)]
    pub effort: BTreeMap<String, Metric>,
}

/// One impact figure, over every seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct ImpactRow {
    /// The model (`credit`, `fraud`, `chatbot`, or `all`).
    pub model: String,
    /// The figure (`wrong_decisions`, `approvals_lost`, `fraud_loss`, …).
    pub metric: String,
    /// The group it is about (a protected group); empty when it is about everyone.
    #[serde(default)]
    pub group: String,
    /// Its unit (`decisions`, `EUR`, `requests`).
    pub unit: String,
    /// The mean over seeds with its interval; n is the number of seeds.
    pub value: Metric,
}

/// One monitored series over a war game.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct WargameSeries {
    /// The series (`credit.dp_ratio`, `chatbot.p99_ms`).
    pub name: String,
    /// The model it is about.
    pub model: String,
    /// The monitor's threshold.
    pub threshold: Option<f64>,
    /// `[t_s, value]`, one per tick; the value is `null` where the window had no data.
    #[serde(with = "crate::float::nullable_points")]
    #[schemars(with = "Vec<[Option<f64>; 2]>")]
    pub points: Vec<(f64, Option<f64>)>,
}

/// One alias change in the model registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct AliasMove {
    /// When, in seconds from the start.
    #[serde(with = "crate::float::nullable")]
    #[schemars(with = "Option<f64>")]
    pub t_s: f64,
    /// The registered model.
    pub model: String,
    /// The alias (`champion`, `last-good`, `challenger`).
    pub alias: String,
    /// The version it pointed to before; absent when the alias did not exist.
    pub from: Option<u64>,
    /// The version it points to now; absent when the alias was deleted.
    pub to: Option<u64>,
    /// Who moved it.
    pub actor: String,
    /// Why.
    pub reason: String,
}

impl WargameDetail {
    /// A team's detail without seeds, entries, incidents, impact, series or alias changes.
    pub fn new(
        team: impl Into<String>,
        duration_s: f64,
        tick_s: f64,
        clock: impl Into<String>,
        registry: impl Into<String>,
    ) -> WargameDetail {
        WargameDetail {
            team: team.into(),
            seeds: Vec::new(),
            duration_s,
            tick_s,
            clock: clock.into(),
            registry: registry.into(),
            timeline: Vec::new(),
            incidents: Vec::new(),
            impact: Vec::new(),
            series: Vec::new(),
            alias_changes: Vec::new(),
        }
    }
}

impl WargameEntry {
    /// An entry; the ATLAS technique is empty.
    pub fn new(
        t_s: f64,
        kind: EntryKind,
        side: Side,
        model: impl Into<String>,
        id: impl Into<String>,
        text: impl Into<String>,
    ) -> WargameEntry {
        WargameEntry {
            t_s,
            kind,
            side,
            model: model.into(),
            id: id.into(),
            atlas: String::new(),
            text: text.into(),
        }
    }
}

impl Incident {
    /// An incident between `start_s` and `end_s`, detected and recovered as given; no ATLAS
    /// ids, detecting monitor, times or effort.
    pub fn new(
        inject: impl Into<String>,
        model: impl Into<String>,
        technique: impl Into<String>,
        start_s: f64,
        end_s: f64,
        detected: Metric,
        recovered: Metric,
    ) -> Incident {
        Incident {
            inject: inject.into(),
            model: model.into(),
            technique: technique.into(),
            atlas: Vec::new(),
            start_s,
            end_s,
            detected_by: String::new(),
            detected,
            recovered,
            mttd_s: None,
            mtta_s: None,
            mttr_s: None,
            effort: BTreeMap::new(),
        }
    }
}

impl ImpactRow {
    /// An impact figure.
    pub fn new(
        model: impl Into<String>,
        metric: impl Into<String>,
        group: impl Into<String>,
        unit: impl Into<String>,
        value: Metric,
    ) -> ImpactRow {
        ImpactRow {
            model: model.into(),
            metric: metric.into(),
            group: group.into(),
            unit: unit.into(),
            value,
        }
    }
}

impl WargameSeries {
    /// A series.
    pub fn new(
        name: impl Into<String>,
        model: impl Into<String>,
        threshold: Option<f64>,
        points: Vec<(f64, Option<f64>)>,
    ) -> WargameSeries {
        WargameSeries { name: name.into(), model: model.into(), threshold, points }
    }
}

impl AliasMove {
    /// An alias change.
    pub fn new(
        t_s: f64,
        model: impl Into<String>,
        alias: impl Into<String>,
        from: Option<u64>,
        to: Option<u64>,
        actor: impl Into<String>,
        reason: impl Into<String>,
    ) -> AliasMove {
        AliasMove {
            t_s,
            model: model.into(),
            alias: alias.into(),
            from,
            to,
            actor: actor.into(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn points_without_data_and_times_that_are_not_numbers_round_trip() {
        let series = WargameSeries::new(
            "credit.dp_ratio",
            "credit",
            Some(0.8),
            vec![(0.0, Some(0.95)), (60.0, None), (f64::NAN, Some(f64::NAN))],
        );
        let json = serde_json::to_string(&series).unwrap();
        assert!(json.contains(r#""points":[[0.0,0.95],[60.0,null],[null,null]]"#), "{json}");
        let back: WargameSeries = serde_json::from_str(&json).unwrap();
        assert_eq!(back.points[1], (60.0, None));
        assert!(back.points[2].0.is_nan() && back.points[2].1.is_none());
    }

    #[test]
    fn unknown_sides_and_kinds_are_tolerated() {
        let json =
            r#"{"t_s":null,"kind":"rumour","side":"purple","model":"m","id":"i","text":"t"}"#;
        let entry: WargameEntry = serde_json::from_str(json).unwrap();
        assert_eq!((entry.kind, entry.side), (EntryKind::Unknown, Side::Unknown));
        assert!(entry.t_s.is_nan() && entry.atlas.is_empty());
        let kind = serde_json::to_string(&EntryKind::ActionFailed).unwrap();
        assert_eq!(kind, r#""action_failed""#);
    }
}
