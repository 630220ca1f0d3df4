//! `[wargame]` validated: every problem with its file, line, column and key.

use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::time::Duration;

use stressor_core::Gate;
use stressor_scenario::Planner;
use stressor_scenario::options::GateOptions;
use toml::Spanned;

use crate::options::{ActionOptions, InjectOptions, MonitorOptions, WargameOptions};

/// The metrics every war-game step reports (per-inject ones add `.<inject id>`:
/// `mttd_s.poison-credit`; impact ones are `impact.<figure>[.<group>]`).
pub const WARGAME_METRICS: &[&str] = &[
    "mttd_s.mean",
    "mtta_s.mean",
    "mttr_s.mean",
    "detected_share",
    "recovered_share",
    "red_score",
    "blue_score",
    "impact.cost",
    "impact.wrong_decisions",
    "impact.approvals_lost",
    "impact.wrongly_granted",
    "impact.fraud_loss",
    "impact.requests_dropped",
    "impact.wrong_answers",
    "impact.human_reviews",
    "impact.revenue",
    "false_positive_rows",
    "poisoned_rows_dropped",
];

/// A model of the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModelKind {
    /// Credit scoring on the German credit data.
    Credit,
    /// Fraud detection on a synthetic transaction stream.
    Fraud,
    /// The customer-service chatbot (CLINC150).
    Chatbot,
}

impl ModelKind {
    /// All three, in fleet order.
    pub const ALL: [ModelKind; 3] = [ModelKind::Credit, ModelKind::Fraud, ModelKind::Chatbot];

    /// `credit`, `fraud` or `chatbot`.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Credit => "credit",
            ModelKind::Fraud => "fraud",
            ModelKind::Chatbot => "chatbot",
        }
    }

    fn parse(name: &str) -> Option<ModelKind> {
        ModelKind::ALL.into_iter().find(|m| m.as_str() == name)
    }
}

/// The exercise's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockKind {
    /// Ticks follow each other as fast as the fleet answers.
    Simulated,
    /// One second of the exercise per second of wall time.
    Realtime,
}

/// Where versions and aliases live.
#[derive(Debug, Clone, PartialEq)]
pub enum RegistryPlan {
    /// A folder (`None`: a fresh one per run under the cache directory or the temp folder).
    File(Option<PathBuf>),
    /// MLflow's Model Registry at this tracking URL.
    Mlflow(String),
}

/// The protected attribute of credit applicants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protected {
    /// `female` / `male`, from `personal_status_and_sex`.
    Sex,
    /// `under-25` / `25-and-over`, from `age_in_years`.
    Age,
}

impl Protected {
    /// The two groups: (unprivileged, privileged) in AIF360's sense.
    pub fn groups(self) -> [&'static str; 2] {
        match self {
            Protected::Sex => ["female", "male"],
            Protected::Age => ["under-25", "25-and-over"],
        }
    }
}

/// `[wargame.credit]` validated.
#[derive(Debug, Clone, PartialEq)]
pub struct CreditPlan {
    /// Applications per hour.
    pub applications_per_hour: f64,
    /// Seconds between scheduled retrainings.
    pub retrain_every_s: f64,
    /// Seconds of labelled applications a retraining uses.
    pub retrain_window_s: f64,
    /// Seconds from decision to label.
    pub label_delay_s: f64,
    /// Approve when P(default) < this.
    pub threshold: f64,
    /// The protected attribute.
    pub protected: Protected,
}

/// `[wargame.fraud]` validated.
#[derive(Debug, Clone, PartialEq)]
pub struct FraudPlan {
    /// Transactions per hour.
    pub transactions_per_hour: f64,
    /// Share of fraud.
    pub fraud_rate: f64,
    /// Seconds from transaction to chargeback label.
    pub label_delay_s: f64,
    /// Block when the score is at least this.
    pub threshold: f64,
    /// Training rows of the first champion.
    pub training_rows: usize,
}

/// `[wargame.chatbot]` validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatPlan {
    /// Customer queries per hour.
    pub queries_per_hour: f64,
    /// Inference slots.
    pub capacity: usize,
    /// Queue before 503.
    pub queue: usize,
    /// Extra service time per request.
    pub service_time: Duration,
    /// Wall time a tick's customer traffic is spread over during a flood.
    pub flood_window: Duration,
    /// A customer request's timeout.
    pub timeout: Duration,
}

/// `[wargame.costs]` validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Costs {
    /// Per good applicant approved.
    pub approval_margin: f64,
    /// Per defaulter approved.
    pub default_loss: f64,
    /// Per human review.
    pub human_review: f64,
    /// Per dropped request.
    pub dropped_request: f64,
    /// The currency.
    pub currency: String,
}

/// `[wargame.recovery]` validated.
#[derive(Debug, Clone, PartialEq)]
pub struct RecoveryPlan {
    /// Healthy ticks in a row.
    pub sustain: usize,
    /// Lowest healthy DP ratio.
    pub min_dp_ratio: f64,
    /// Largest healthy drop of the main KPI.
    pub max_drop: f64,
    /// Largest healthy p99 as a multiple of the baseline's.
    pub max_p99_ratio: f64,
    /// The referee's window in seconds.
    pub window_s: f64,
}

/// A red-team technique with its intensity.
#[derive(Debug, Clone, PartialEq)]
pub enum Technique {
    /// Good labels of `group` flipped to defaults in the retraining feed at `rate`
    /// (AML.T0020).
    LabelFlip {
        /// The targeted group.
        group: String,
        /// Share of that group's good labels flipped.
        rate: f64,
    },
    /// Fraud crafted against the served model (AML.T0015, AML.T0043).
    Evasion {
        /// Share of fraud attempts crafted.
        rate: f64,
        /// Relative change allowed per actionable feature.
        budget: f64,
        /// Queries per crafted transaction.
        queries: usize,
    },
    /// A request flood against the chatbot (AML.T0029).
    Dos {
        /// The flood's rate as a multiple of the chatbot's capacity.
        multiple: f64,
    },
    /// The champion's artefact overwritten in the registry (AML.T0010.003, AML.T0018).
    Tamper,
    /// A pipeline change shifting one input column (AML.T0031 when malicious).
    Drift {
        /// The shift in standard deviations.
        shift: f64,
    },
}

impl Technique {
    /// The technique's name in the scenario.
    pub fn name(&self) -> &'static str {
        match self {
            Technique::LabelFlip { .. } => "label_flip",
            Technique::Evasion { .. } => "evasion",
            Technique::Dos { .. } => "dos",
            Technique::Tamper => "tamper",
            Technique::Drift { .. } => "drift",
        }
    }

    /// Its MITRE ATLAS ids.
    pub fn atlas(&self) -> &'static [&'static str] {
        match self {
            Technique::LabelFlip { .. } => &["AML.T0020"],
            Technique::Evasion { .. } => &["AML.T0015", "AML.T0043"],
            Technique::Dos { .. } => &["AML.T0029"],
            Technique::Tamper => &["AML.T0010.003", "AML.T0018"],
            Technique::Drift { .. } => &["AML.T0031"],
        }
    }
}

/// One inject of the red team's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Inject {
    /// Its id.
    pub id: String,
    /// Start, seconds from the exercise's start.
    pub at_s: f64,
    /// End (for a tamper, its start).
    pub end_s: f64,
    /// The model attacked.
    pub model: ModelKind,
    /// The technique.
    pub technique: Technique,
}

/// What a monitor computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorMetric {
    /// Fairlearn's demographic parity ratio of approvals (credit).
    DpRatio,
    /// Fairlearn's demographic parity difference of approvals (credit).
    DpDifference,
    /// Fairlearn's equalized odds difference on labelled decisions (credit).
    EoDifference,
    /// The lowest four-fifths impact ratio (credit).
    FourFifths,
    /// Accuracy on labelled decisions (credit).
    Accuracy,
    /// Fraud caught among labelled frauds (fraud).
    Recall,
    /// PSI of the model's score against its training scores (credit, fraud).
    DriftPsi,
    /// p99 latency of customer requests, ms (chatbot).
    P99Ms,
    /// Share of customer requests dropped (chatbot).
    ErrorRate,
    /// 1 when the serving artefact's hash matches the registry's, else 0 (credit, fraud).
    Integrity,
}

impl MonitorMetric {
    const ALL: [(&'static str, MonitorMetric, &'static [ModelKind]); 10] = [
        ("dp_ratio", MonitorMetric::DpRatio, &[ModelKind::Credit]),
        ("dp_difference", MonitorMetric::DpDifference, &[ModelKind::Credit]),
        ("eo_difference", MonitorMetric::EoDifference, &[ModelKind::Credit]),
        ("four_fifths", MonitorMetric::FourFifths, &[ModelKind::Credit]),
        ("accuracy", MonitorMetric::Accuracy, &[ModelKind::Credit]),
        ("recall", MonitorMetric::Recall, &[ModelKind::Fraud]),
        ("drift_psi", MonitorMetric::DriftPsi, &[ModelKind::Credit, ModelKind::Fraud]),
        ("p99_ms", MonitorMetric::P99Ms, &[ModelKind::Chatbot]),
        ("error_rate", MonitorMetric::ErrorRate, &[ModelKind::Chatbot]),
        ("integrity", MonitorMetric::Integrity, &[ModelKind::Credit, ModelKind::Fraud]),
    ];

    /// The metric's name in the scenario.
    pub fn name(self) -> &'static str {
        MonitorMetric::ALL.iter().find(|(_, m, _)| *m == self).map_or("?", |(n, _, _)| n)
    }
}

/// When a monitor alerts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// Value < threshold.
    Below(f64),
    /// Value > threshold.
    Above(f64),
}

impl Bound {
    /// Whether `value` breaches it.
    pub fn breached(self, value: f64) -> bool {
        match self {
            Bound::Below(t) => value < t,
            Bound::Above(t) => value > t,
        }
    }

    /// The threshold.
    pub fn threshold(self) -> f64 {
        match self {
            Bound::Below(t) | Bound::Above(t) => t,
        }
    }
}

/// One blue-team monitor.
#[derive(Debug, Clone, PartialEq)]
pub struct Monitor {
    /// Its id.
    pub id: String,
    /// The model watched.
    pub model: ModelKind,
    /// What it computes.
    pub metric: MonitorMetric,
    /// Its window in seconds.
    pub window_s: f64,
    /// When it alerts.
    pub bound: Bound,
    /// Cases a window needs.
    pub min_cases: usize,
    /// The action it starts (an index into the plan's actions).
    pub then: Option<usize>,
}

/// What an action does.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionKind {
    /// Route the model's traffic to humans.
    Isolate,
    /// Route it back to the model.
    Restore,
    /// Move `champion` back to `last-good`.
    Rollback,
    /// Limit each client's requests per second.
    Shed {
        /// The limit.
        per_client_rps: f64,
    },
    /// Lift the limit.
    Unshed,
    /// Train a candidate and register it as `challenger`.
    Retrain {
        /// Leave out data received since the last good version.
        quarantine: bool,
        /// Drop the share of rows the last good model finds most surprising (`None`: keep
        /// all).
        sanitise: Option<f64>,
    },
    /// Mirror traffic to the challenger for a while.
    Shadow {
        /// Seconds.
        duration_s: f64,
    },
    /// Send a share of traffic to the challenger for a while.
    Canary {
        /// Seconds.
        duration_s: f64,
        /// The share.
        share: f64,
    },
    /// Make the challenger the champion when its gates pass.
    Promote {
        /// Lowest DP ratio (credit).
        min_dp_ratio: f64,
        /// Largest accuracy loss (lower end of the difference's 95 % interval).
        max_accuracy_drop: f64,
    },
}

impl ActionKind {
    /// The kind's name in the scenario.
    pub fn name(&self) -> &'static str {
        match self {
            ActionKind::Isolate => "isolate",
            ActionKind::Restore => "restore",
            ActionKind::Rollback => "rollback",
            ActionKind::Shed { .. } => "shed",
            ActionKind::Unshed => "unshed",
            ActionKind::Retrain { .. } => "retrain",
            ActionKind::Shadow { .. } => "shadow",
            ActionKind::Canary { .. } => "canary",
            ActionKind::Promote { .. } => "promote",
        }
    }
}

/// One blue-team action.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// Its id.
    pub id: String,
    /// The model acted on.
    pub model: ModelKind,
    /// What it does.
    pub kind: ActionKind,
    /// The action after it (an index into the plan's actions).
    pub then: Option<usize>,
}

/// The validated `[wargame]`.
#[derive(Debug, Clone)]
pub struct WargamePlan {
    /// The exercise's length in seconds.
    pub duration_s: f64,
    /// One tick in seconds.
    pub tick_s: f64,
    /// The clock.
    pub clock: ClockKind,
    /// Seeds per team.
    pub seeds: usize,
    /// The blue team's name.
    pub team: String,
    /// The registry.
    pub registry: RegistryPlan,
    /// Credit scoring.
    pub credit: CreditPlan,
    /// Fraud detection.
    pub fraud: FraudPlan,
    /// The chatbot.
    pub chatbot: ChatPlan,
    /// Costs.
    pub costs: Costs,
    /// The referee's recovery rule.
    pub recovery: RecoveryPlan,
    /// The red team's timeline, by start.
    pub injects: Vec<Inject>,
    /// The blue team's monitors.
    pub monitors: Vec<Monitor>,
    /// The blue team's actions.
    pub actions: Vec<Action>,
    /// Gates.
    pub gates: Vec<Gate>,
}

impl WargamePlan {
    /// The step ids: the blue team's, then `no-defence`'s.
    pub fn step_ids(&self) -> Vec<String> {
        vec![format!("war-game/{}", self.team), "war-game/no-defence".to_string()]
    }
}

struct WargamePlanner<'p, 'a>(&'p mut Planner<'a>);

impl<'a> Deref for WargamePlanner<'_, 'a> {
    type Target = Planner<'a>;
    fn deref(&self) -> &Planner<'a> {
        self.0
    }
}

impl<'a> DerefMut for WargamePlanner<'_, 'a> {
    fn deref_mut(&mut self) -> &mut Planner<'a> {
        self.0
    }
}

impl WargamePlanner<'_, '_> {
    fn seconds(&mut self, value: Option<&Spanned<String>>, key: &str, default: f64) -> f64 {
        self.duration(value, key, Duration::from_secs_f64(default))
            .map_or(default, |d| d.as_secs_f64())
    }

    fn number(
        &mut self,
        value: Option<&Spanned<f64>>,
        key: &str,
        default: f64,
        range: (f64, f64),
    ) -> f64 {
        match value {
            None => default,
            Some(v) if v.get_ref().is_finite() && (range.0..=range.1).contains(v.get_ref()) => {
                *v.get_ref()
            }
            Some(v) => {
                let message = if range.1.is_infinite() {
                    format!("{} must be at least {}", v.get_ref(), range.0)
                } else {
                    format!("{} is out of range [{}, {}]", v.get_ref(), range.0, range.1)
                };
                self.problem(v.span(), key, message, None);
                default
            }
        }
    }

    fn model(&mut self, value: &Spanned<String>, key: &str) -> Option<ModelKind> {
        let model = ModelKind::parse(value.get_ref());
        if model.is_none() {
            self.problem(
                value.span(),
                key,
                format!("unknown model `{}`", value.get_ref()),
                Some("the fleet is credit, fraud and chatbot".into()),
            );
        }
        model
    }
}

/// Validates `[wargame]`.
pub fn plan(planner: &mut Planner<'_>, options: &Spanned<WargameOptions>) -> WargamePlan {
    let o = options.get_ref();
    let mut p = WargamePlanner(planner);
    let duration_s = p.seconds(o.duration.as_ref(), "wargame.duration", 86_400.0);
    let tick_s = p.seconds(o.tick.as_ref(), "wargame.tick", 600.0);
    if let Some(tick) = &o.tick
        && (tick_s <= 0.0 || tick_s > duration_s)
    {
        p.problem(
            tick.span(),
            "wargame.tick",
            format!("a tick of {tick_s} s does not fit a {duration_s} s exercise"),
            None,
        );
    } else if duration_s / tick_s > 100_000.0 {
        p.problem(
            options.span(),
            "wargame.tick",
            format!("{:.0} ticks is too many (at most 100 000)", duration_s / tick_s),
            Some("use a longer tick".into()),
        );
    }
    let tick_s = if tick_s > 0.0 && tick_s <= duration_s { tick_s } else { duration_s.max(1.0) };
    let clock = match o.clock.as_ref().map(|c| (c.get_ref().as_str(), c.span())) {
        None | Some(("simulated", _)) => ClockKind::Simulated,
        Some(("realtime", _)) => ClockKind::Realtime,
        Some((other, span)) => {
            p.problem(
                span,
                "wargame.clock",
                format!("unknown clock `{other}`"),
                Some("use simulated or realtime".into()),
            );
            ClockKind::Simulated
        }
    };
    let seeds = p.positive(o.seeds.as_ref(), "wargame.seeds", 1).unwrap_or(1);
    let team = o.team.as_ref().map_or_else(|| "defended".to_string(), |t| t.get_ref().clone());
    if let Some(t) = &o.team
        && (team == "no-defence"
            || team.is_empty()
            || !team.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        p.problem(
            t.span(),
            "wargame.team",
            format!("`{team}` cannot name the blue team"),
            Some("letters, digits, - and _; `no-defence` is the team without a playbook".into()),
        );
    }
    let registry = registry(&mut p, o);
    let credit = {
        let c = o.credit.as_ref().map(Spanned::get_ref);
        let protected = match c.and_then(|c| c.protected.as_ref()) {
            None => Protected::Sex,
            Some(v) if v.get_ref() == "sex" => Protected::Sex,
            Some(v) if v.get_ref() == "age" => Protected::Age,
            Some(v) => {
                p.problem(
                    v.span(),
                    "wargame.credit.protected",
                    format!("unknown protected attribute `{}`", v.get_ref()),
                    Some("use sex or age".into()),
                );
                Protected::Sex
            }
        };
        CreditPlan {
            applications_per_hour: p.number(
                c.and_then(|c| c.applications_per_hour.as_ref()),
                "wargame.credit.applications_per_hour",
                120.0,
                (0.1, 100_000.0),
            ),
            retrain_every_s: p.seconds(
                c.and_then(|c| c.retrain_every.as_ref()),
                "wargame.credit.retrain_every",
                21_600.0,
            ),
            retrain_window_s: p.seconds(
                c.and_then(|c| c.retrain_window.as_ref()),
                "wargame.credit.retrain_window",
                43_200.0,
            ),
            label_delay_s: p.seconds(
                c.and_then(|c| c.label_delay.as_ref()),
                "wargame.credit.label_delay",
                3_600.0,
            ),
            threshold: p.number(
                c.and_then(|c| c.threshold.as_ref()),
                "wargame.credit.threshold",
                0.5,
                (0.0, 1.0),
            ),
            protected,
        }
    };
    let fraud = {
        let f = o.fraud.as_ref().map(Spanned::get_ref);
        FraudPlan {
            transactions_per_hour: p.number(
                f.and_then(|f| f.transactions_per_hour.as_ref()),
                "wargame.fraud.transactions_per_hour",
                600.0,
                (0.1, 1_000_000.0),
            ),
            fraud_rate: p.number(
                f.and_then(|f| f.fraud_rate.as_ref()),
                "wargame.fraud.fraud_rate",
                0.02,
                (0.0001, 0.5),
            ),
            label_delay_s: p.seconds(
                f.and_then(|f| f.label_delay.as_ref()),
                "wargame.fraud.label_delay",
                3_600.0,
            ),
            threshold: p.number(
                f.and_then(|f| f.threshold.as_ref()),
                "wargame.fraud.threshold",
                0.2,
                (0.0, 1.0),
            ),
            training_rows: p
                .positive(
                    f.and_then(|f| f.training_rows.as_ref()),
                    "wargame.fraud.training_rows",
                    20_000,
                )
                .unwrap_or(20_000),
        }
    };
    let chatbot = {
        let c = o.chatbot.as_ref().map(Spanned::get_ref);
        ChatPlan {
            queries_per_hour: p.number(
                c.and_then(|c| c.queries_per_hour.as_ref()),
                "wargame.chatbot.queries_per_hour",
                180.0,
                (0.1, 1_000_000.0),
            ),
            capacity: p
                .positive(c.and_then(|c| c.capacity.as_ref()), "wargame.chatbot.capacity", 4)
                .unwrap_or(4),
            queue: p
                .positive(c.and_then(|c| c.queue.as_ref()), "wargame.chatbot.queue", 32)
                .unwrap_or(32),
            service_time: Duration::from_secs_f64(p.seconds(
                c.and_then(|c| c.service_time.as_ref()),
                "wargame.chatbot.service_time",
                0.005,
            )),
            flood_window: Duration::from_secs_f64(
                p.seconds(
                    c.and_then(|c| c.flood_window.as_ref()),
                    "wargame.chatbot.flood_window",
                    0.2,
                )
                .max(0.05),
            ),
            timeout: Duration::from_secs_f64(
                p.seconds(c.and_then(|c| c.timeout.as_ref()), "wargame.chatbot.timeout", 2.0)
                    .max(0.01),
            ),
        }
    };
    let costs = {
        let c = o.costs.as_ref().map(Spanned::get_ref);
        let money = (0.0, f64::INFINITY);
        Costs {
            approval_margin: p.number(
                c.and_then(|c| c.approval_margin.as_ref()),
                "wargame.costs.approval_margin",
                300.0,
                money,
            ),
            default_loss: p.number(
                c.and_then(|c| c.default_loss.as_ref()),
                "wargame.costs.default_loss",
                1000.0,
                money,
            ),
            human_review: p.number(
                c.and_then(|c| c.human_review.as_ref()),
                "wargame.costs.human_review",
                15.0,
                money,
            ),
            dropped_request: p.number(
                c.and_then(|c| c.dropped_request.as_ref()),
                "wargame.costs.dropped_request",
                2.0,
                money,
            ),
            currency: c
                .and_then(|c| c.currency.as_ref())
                .map_or_else(|| "EUR".to_string(), |c| c.get_ref().clone()),
        }
    };
    let recovery = {
        let r = o.recovery.as_ref().map(Spanned::get_ref);
        RecoveryPlan {
            sustain: p
                .positive(r.and_then(|r| r.sustain.as_ref()), "wargame.recovery.sustain", 3)
                .unwrap_or(3),
            min_dp_ratio: p.number(
                r.and_then(|r| r.min_dp_ratio.as_ref()),
                "wargame.recovery.min_dp_ratio",
                0.8,
                (0.0, 1.0),
            ),
            max_drop: p.number(
                r.and_then(|r| r.max_drop.as_ref()),
                "wargame.recovery.max_drop",
                0.1,
                (0.0, 1.0),
            ),
            max_p99_ratio: p.number(
                r.and_then(|r| r.max_p99_ratio.as_ref()),
                "wargame.recovery.max_p99_ratio",
                3.0,
                (1.0, f64::INFINITY),
            ),
            window_s: p.seconds(
                r.and_then(|r| r.window.as_ref()),
                "wargame.recovery.window",
                10_800.0,
            ),
        }
    };
    let mut injects: Vec<Inject> = o
        .injects
        .iter()
        .enumerate()
        .filter_map(|(i, inject)| plan_inject(&mut p, i, inject, duration_s, credit.protected))
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    for (i, inject) in injects.iter().enumerate() {
        if !ids.insert(inject.id.clone()) {
            let span = o.injects[i].span();
            p.problem(
                span,
                &format!("wargame.injects[{i}].id"),
                format!("the id `{}` is used twice", inject.id),
                None,
            );
        }
    }
    injects.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    let action_ids: Vec<String> =
        o.actions.iter().map(|a| a.get_ref().id.get_ref().clone()).collect();
    let actions: Vec<Action> =
        o.actions.iter().enumerate().map(|(i, a)| plan_action(&mut p, i, a, &action_ids)).collect();
    check_chains(&mut p, o, &actions);
    let monitors: Vec<Monitor> = o
        .monitors
        .iter()
        .enumerate()
        .filter_map(|(i, m)| plan_monitor(&mut p, i, m, &action_ids, &actions))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for (i, m) in o.monitors.iter().enumerate() {
        if !seen.insert(m.get_ref().id.get_ref().clone()) {
            p.problem(
                m.get_ref().id.span(),
                &format!("wargame.monitors[{i}].id"),
                "this id is used twice".into(),
                None,
            );
        }
    }
    let steps = [format!("war-game/{team}"), "war-game/no-defence".to_string()];
    let mut extra: Vec<String> = Vec::new();
    for inject in &injects {
        for m in ["mttd_s", "mtta_s", "mttr_s"] {
            extra.push(format!("{m}.{}", inject.id));
        }
    }
    for group in credit.protected.groups() {
        extra.push(format!("impact.approvals_lost.{group}"));
        extra.push(format!("impact.wrongly_granted.{group}"));
    }
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let mut gates = Vec::new();
    for (i, g) in o.gates.iter().enumerate() {
        let key = format!("wargame.gates[{i}]");
        let options = g.get_ref();
        let step = match &options.team {
            None => steps[0].clone(),
            Some(t) if t.get_ref() == &team => steps[0].clone(),
            Some(t) if t.get_ref() == "no-defence" => steps[1].clone(),
            Some(t) => {
                p.problem(
                    t.span(),
                    &format!("{key}.team"),
                    format!("unknown team `{}`", t.get_ref()),
                    Some(format!("the teams are {team} and no-defence")),
                );
                continue;
            }
        };
        let as_gate = Spanned::new(
            g.span(),
            GateOptions {
                metric: options.metric.clone(),
                at: None,
                min: options.min,
                max: options.max,
                bound: options.bound.clone(),
            },
        );
        if let Some(gate) = p.gate(&as_gate, &step, &key, WARGAME_METRICS, &extra) {
            gates.push(gate);
        }
    }
    WargamePlan {
        duration_s,
        tick_s,
        clock,
        seeds,
        team,
        registry,
        credit,
        fraud,
        chatbot,
        costs,
        recovery,
        injects,
        monitors,
        actions,
        gates,
    }
}

fn registry(p: &mut WargamePlanner<'_, '_>, o: &WargameOptions) -> RegistryPlan {
    let Some(r) = o.registry.as_ref() else {
        return RegistryPlan::File(None);
    };
    let r = r.get_ref();
    match r.backend.as_ref().map(|b| (b.get_ref().as_str(), b.span())) {
        None | Some(("file", _)) => {
            if let Some(url) = &r.url {
                p.problem(
                    url.span(),
                    "wargame.registry.url",
                    "`url` is for the mlflow backend".into(),
                    None,
                );
            }
            RegistryPlan::File(r.path.as_ref().map(|path| p.relative(path.get_ref())))
        }
        Some(("mlflow", span)) => match &r.url {
            Some(url)
                if url.get_ref().starts_with("http://")
                    || url.get_ref().starts_with("https://") =>
            {
                RegistryPlan::Mlflow(url.get_ref().trim_end_matches('/').to_string())
            }
            Some(url) => {
                p.problem(
                    url.span(),
                    "wargame.registry.url",
                    format!("`{}` is not an http(s) URL", url.get_ref()),
                    None,
                );
                RegistryPlan::File(None)
            }
            None => {
                p.problem(
                    span,
                    "wargame.registry.url",
                    "the mlflow backend needs the tracking server's `url`".into(),
                    Some("url = \"http://127.0.0.1:5000\"".into()),
                );
                RegistryPlan::File(None)
            }
        },
        Some((other, span)) => {
            p.problem(
                span,
                "wargame.registry.backend",
                format!("unknown backend `{other}`"),
                Some("use file or mlflow".into()),
            );
            RegistryPlan::File(None)
        }
    }
}

fn plan_inject(
    p: &mut WargamePlanner<'_, '_>,
    i: usize,
    spanned: &Spanned<InjectOptions>,
    duration_s: f64,
    protected: Protected,
) -> Option<Inject> {
    let o = spanned.get_ref();
    let key = format!("wargame.injects[{i}]");
    let at_s = p.seconds(Some(&o.at), &format!("{key}.at"), 0.0);
    if at_s >= duration_s {
        p.problem(
            o.at.span(),
            &format!("{key}.at"),
            format!("{at_s} s is past the exercise's end ({duration_s} s)"),
            None,
        );
    }
    let model = p.model(&o.model, &format!("{key}.model"))?;
    let technique_name = o.technique.get_ref().as_str();
    let allowed: &[ModelKind] = match technique_name {
        "label_flip" => &[ModelKind::Credit],
        "evasion" => &[ModelKind::Fraud],
        "dos" => &[ModelKind::Chatbot],
        "tamper" | "drift" => &[ModelKind::Credit, ModelKind::Fraud],
        other => {
            p.problem(
                o.technique.span(),
                &format!("{key}.technique"),
                format!("unknown technique `{other}`"),
                Some("use label_flip, evasion, dos, tamper or drift".into()),
            );
            return None;
        }
    };
    if !allowed.contains(&model) {
        let names: Vec<&str> = allowed.iter().map(|m| m.as_str()).collect();
        p.problem(
            o.model.span(),
            &format!("{key}.model"),
            format!("`{technique_name}` does not apply to the {} model", model.as_str()),
            Some(format!("it targets {}", names.join(" or "))),
        );
        return None;
    }
    let relevant: &[&str] = match technique_name {
        "label_flip" => &["group", "rate"],
        "evasion" => &["rate", "budget", "queries"],
        "dos" => &["multiple"],
        "drift" => &["shift"],
        _ => &[],
    };
    let given = [
        ("group", o.group.as_ref().map(Spanned::span)),
        ("rate", o.rate.as_ref().map(Spanned::span)),
        ("budget", o.budget.as_ref().map(Spanned::span)),
        ("queries", o.queries.as_ref().map(Spanned::span)),
        ("multiple", o.multiple.as_ref().map(Spanned::span)),
        ("shift", o.shift.as_ref().map(Spanned::span)),
    ];
    let foreign: Vec<(&str, Option<std::ops::Range<usize>>)> =
        given.into_iter().filter(|(k, _)| !relevant.contains(k)).collect();
    p.foreign_keys(&key, &foreign, |k| format!("`{k}` does not apply to `{technique_name}`"));
    let technique = match technique_name {
        "label_flip" => {
            let groups = protected.groups();
            let group = match &o.group {
                None => groups[0].to_string(),
                Some(g) if groups.contains(&g.get_ref().as_str()) => g.get_ref().clone(),
                Some(g) => {
                    p.problem(
                        g.span(),
                        &format!("{key}.group"),
                        format!("unknown group `{}`", g.get_ref()),
                        Some(format!("the protected groups are {}", groups.join(" and "))),
                    );
                    groups[0].to_string()
                }
            };
            Technique::LabelFlip {
                group,
                rate: p.number(o.rate.as_ref(), &format!("{key}.rate"), 0.5, (0.0, 1.0)),
            }
        }
        "evasion" => Technique::Evasion {
            rate: p.number(o.rate.as_ref(), &format!("{key}.rate"), 1.0, (0.0, 1.0)),
            budget: p.number(o.budget.as_ref(), &format!("{key}.budget"), 0.3, (0.0, 10.0)),
            queries: p.positive(o.queries.as_ref(), &format!("{key}.queries"), 200).unwrap_or(200),
        },
        "dos" => Technique::Dos {
            multiple: p.number(
                o.multiple.as_ref(),
                &format!("{key}.multiple"),
                10.0,
                (0.1, 1000.0),
            ),
        },
        "tamper" => Technique::Tamper,
        _ => Technique::Drift {
            shift: p.number(o.shift.as_ref(), &format!("{key}.shift"), 2.0, (-100.0, 100.0)),
        },
    };
    let end_s = match (&technique, &o.duration) {
        (Technique::Tamper, Some(d)) => {
            p.problem(
                d.span(),
                &format!("{key}.duration"),
                "a tamper is instantaneous; it lasts until someone notices".into(),
                None,
            );
            at_s
        }
        (Technique::Tamper, None) => at_s,
        (_, None) => duration_s,
        (_, Some(d)) => {
            (at_s + p.seconds(Some(d), &format!("{key}.duration"), 0.0)).min(duration_s)
        }
    };
    let id = o.id.as_ref().map_or_else(
        || format!("{}-{}", technique.name().replace('_', "-"), model.as_str()),
        |id| id.get_ref().clone(),
    );
    Some(Inject { id, at_s, end_s, model, technique })
}

fn plan_action(
    p: &mut WargamePlanner<'_, '_>,
    i: usize,
    spanned: &Spanned<ActionOptions>,
    ids: &[String],
) -> Action {
    let o = spanned.get_ref();
    let key = format!("wargame.actions[{i}]");
    if ids.iter().filter(|id| *id == o.id.get_ref()).count() > 1 {
        p.problem(
            o.id.span(),
            &format!("{key}.id"),
            format!("the id `{}` is used twice", o.id.get_ref()),
            None,
        );
    }
    let model = p.model(&o.model, &format!("{key}.model")).unwrap_or(ModelKind::Credit);
    let duration = |p: &mut WargamePlanner<'_, '_>| {
        p.seconds(o.duration.as_ref(), &format!("{key}.duration"), 7_200.0)
    };
    let kind = match o.kind.get_ref().as_str() {
        "isolate" => ActionKind::Isolate,
        "restore" => ActionKind::Restore,
        "rollback" => ActionKind::Rollback,
        "shed" => ActionKind::Shed {
            per_client_rps: p.number(
                o.per_client_rps.as_ref(),
                &format!("{key}.per_client_rps"),
                20.0,
                (0.01, 1e6),
            ),
        },
        "unshed" => ActionKind::Unshed,
        "retrain" => ActionKind::Retrain {
            quarantine: o.quarantine.unwrap_or(true),
            sanitise: match o.sanitise.as_ref().map(|s| (s.get_ref().as_str(), s.span())) {
                Some(("none", _)) => None,
                None | Some(("loss", _)) => Some(p.number(
                    o.drop_share.as_ref(),
                    &format!("{key}.drop_share"),
                    0.1,
                    (0.0, 0.9),
                )),
                Some((other, span)) => {
                    p.problem(
                        span,
                        &format!("{key}.sanitise"),
                        format!("unknown sanitiser `{other}`"),
                        Some("use loss or none".into()),
                    );
                    None
                }
            },
        },
        "shadow" => ActionKind::Shadow { duration_s: duration(p) },
        "canary" => ActionKind::Canary {
            duration_s: duration(p),
            share: p.number(o.share.as_ref(), &format!("{key}.share"), 0.2, (0.01, 0.99)),
        },
        "promote" => ActionKind::Promote {
            min_dp_ratio: p.number(
                o.min_dp_ratio.as_ref(),
                &format!("{key}.min_dp_ratio"),
                0.8,
                (0.0, 1.0),
            ),
            max_accuracy_drop: p.number(
                o.max_accuracy_drop.as_ref(),
                &format!("{key}.max_accuracy_drop"),
                0.05,
                (0.0, 1.0),
            ),
        },
        other => {
            p.problem(
                o.kind.span(),
                &format!("{key}.kind"),
                format!("unknown action `{other}`"),
                Some("use isolate, restore, rollback, shed, unshed, retrain, shadow, canary or promote".into()),
            );
            ActionKind::Isolate
        }
    };
    let allowed: &[ModelKind] = match kind {
        ActionKind::Isolate | ActionKind::Restore => &ModelKind::ALL,
        ActionKind::Shed { .. } | ActionKind::Unshed => &[ModelKind::Chatbot],
        _ => &[ModelKind::Credit, ModelKind::Fraud],
    };
    if !allowed.contains(&model) {
        p.problem(
            o.model.span(),
            &format!("{key}.model"),
            format!("`{}` does not apply to the {} model", kind.name(), model.as_str()),
            None,
        );
    }
    let then = o.then.as_ref().and_then(|t| {
        let found = ids.iter().position(|id| id == t.get_ref());
        if found.is_none() {
            p.problem(
                t.span(),
                &format!("{key}.then"),
                format!("unknown action `{}`", t.get_ref()),
                Some(format!("the actions are {}", ids.join(", "))),
            );
        }
        found
    });
    Action { id: o.id.get_ref().clone(), model, kind, then }
}

/// Every chain of `then`s must end: a cycle is reported at its first action.
fn check_chains(p: &mut WargamePlanner<'_, '_>, o: &WargameOptions, actions: &[Action]) {
    for (start, action) in actions.iter().enumerate() {
        let mut seen = vec![start];
        let mut next = action.then;
        while let Some(n) = next {
            if n == start {
                let chain: Vec<&str> = seen
                    .iter()
                    .map(|&k| actions[k].id.as_str())
                    .chain([actions[start].id.as_str()])
                    .collect();
                p.problem(
                    o.actions[start].get_ref().id.span(),
                    &format!("wargame.actions[{start}].then"),
                    format!("the action chain is a cycle: {}", chain.join(" → ")),
                    Some("a chain must end; drop one `then`".into()),
                );
                break;
            }
            if seen.contains(&n) {
                break;
            }
            seen.push(n);
            next = actions[n].then;
        }
    }
}

fn plan_monitor(
    p: &mut WargamePlanner<'_, '_>,
    i: usize,
    spanned: &Spanned<MonitorOptions>,
    ids: &[String],
    actions: &[Action],
) -> Option<Monitor> {
    let o = spanned.get_ref();
    let key = format!("wargame.monitors[{i}]");
    let model = p.model(&o.model, &format!("{key}.model"));
    let Some(&(_, metric, models)) =
        MonitorMetric::ALL.iter().find(|(n, _, _)| n == o.metric.get_ref())
    else {
        let names: Vec<&str> = MonitorMetric::ALL.iter().map(|(n, _, _)| *n).collect();
        p.problem(
            o.metric.span(),
            &format!("{key}.metric"),
            format!("unknown monitor metric `{}`", o.metric.get_ref()),
            Some(format!("use one of {}", names.join(", "))),
        );
        return None;
    };
    let model = model?;
    if !models.contains(&model) {
        let names: Vec<&str> = models.iter().map(|m| m.as_str()).collect();
        p.problem(
            o.metric.span(),
            &format!("{key}.metric"),
            format!("`{}` does not apply to the {} model", metric.name(), model.as_str()),
            Some(format!("it watches {}", names.join(" or "))),
        );
    }
    let bound = match (o.below, o.above, metric) {
        (Some(t), None, _) if t.is_finite() => Bound::Below(t),
        (None, Some(t), _) if t.is_finite() => Bound::Above(t),
        (None, None, MonitorMetric::Integrity) => Bound::Below(1.0),
        _ => {
            p.problem(
                spanned.span(),
                &key,
                "a monitor needs exactly one finite `below` or `above`".into(),
                None,
            );
            Bound::Below(0.0)
        }
    };
    let then = o.then.as_ref().and_then(|t| {
        let found = ids.iter().position(|id| id == t.get_ref());
        match found {
            None => p.problem(
                t.span(),
                &format!("{key}.then"),
                format!("unknown action `{}`", t.get_ref()),
                Some(format!("the actions are {}", ids.join(", "))),
            ),
            Some(k) if actions[k].model != model => p.problem(
                t.span(),
                &format!("{key}.then"),
                format!(
                    "`{}` acts on the {} model, this monitor watches {}",
                    t.get_ref(),
                    actions[k].model.as_str(),
                    model.as_str()
                ),
                None,
            ),
            Some(_) => {}
        }
        found
    });
    Some(Monitor {
        id: o.id.get_ref().clone(),
        model,
        metric,
        window_s: p.seconds(o.window.as_ref(), &format!("{key}.window"), 7_200.0),
        bound,
        min_cases: p.positive(o.min_cases.as_ref(), &format!("{key}.min_cases"), 30).unwrap_or(30),
        then,
    })
}
