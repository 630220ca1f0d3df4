//! One game: one blue team (a playbook, or none) against the red team's timeline, for one
//! seed, over the served fleet. The exercise's clock advances a tick at a time; each tick
//! the red team's injects act, customers' traffic goes over HTTP to the fleet, labels arrive,
//! scheduled retraining runs, the fleet reloads its champions from the registry, the blue
//! team's monitors look at their windows and its actions run, and the referee — who knows the
//! truth — records every model's health.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng as _;
use rand_distr::{Distribution as _, Poisson};
use stressor_attack::tabular::{EvasionConfig, evade};
use stressor_core::{AliasMove, EntryKind, Event, LiveSample, Rng, Seed, Side, WargameEntry};
use stressor_fairness::{Confusion, GroupCounts};
use stressor_registry::{Change, Metadata, Registry, sha256_hex};
use stressor_tabular::fraud::FraudStream;
use stressor_tabular::{Column, GERMAN_CREDIT_TARGET, Pipeline, Table};
use tokio::runtime::Runtime;

mod blue;
mod monitor;

use crate::fleet::{ChatFleet, ChatOutcome, Served, Which};
use crate::plan::{ClockKind, ModelKind, Technique, WargamePlan};
use crate::referee::{Health, Referee};
use crate::world::World;

/// Where a case was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arm {
    Champion,
    Challenger,
    Human,
}

/// One credit application and its decision.
#[derive(Debug, Clone)]
pub(crate) struct CreditCase {
    pub(crate) t: f64,
    pub(crate) row: usize,
    pub(crate) group: u8,
    pub(crate) good: bool,
    pub(crate) approved: bool,
    pub(crate) arm: Arm,
    pub(crate) p_bad: f64,
    /// The challenger's decision when it shadowed this case.
    pub(crate) shadow: Option<bool>,
    pub(crate) amount: f64,
    /// The label the retraining feed received for it (`true` = good; flipped when poisoned),
    /// once it has arrived.
    pub(crate) feed_good: Option<bool>,
}

/// One labelled credit row in the retraining feed.
#[derive(Debug, Clone)]
struct FeedRow {
    arrived: f64,
    row: usize,
    amount: f64,
    /// The label as the feed has it (`true` = good), perhaps flipped.
    good: bool,
    poisoned: bool,
}

/// One card transaction and its decision.
#[derive(Debug, Clone)]
pub(crate) struct FraudCase {
    pub(crate) t: f64,
    pub(crate) fraud: bool,
    pub(crate) blocked: bool,
    pub(crate) arm: Arm,
    pub(crate) amount: f64,
    pub(crate) score: f64,
    pub(crate) shadow: Option<bool>,
}

/// One customer query and its fate.
#[derive(Debug, Clone)]
pub(crate) struct ChatCase {
    pub(crate) t: f64,
    pub(crate) truth: Option<usize>,
    pub(crate) outcome: ChatOutcome,
    pub(crate) human: bool,
}

/// What one game produced.
#[derive(Debug, Clone, Default)]
pub(crate) struct GameResult {
    pub(crate) timeline: Vec<WargameEntry>,
    pub(crate) series: BTreeMap<String, Vec<(f64, Option<f64>)>>,
    pub(crate) thresholds: BTreeMap<String, f64>,
    pub(crate) alias_moves: Vec<AliasMove>,
    pub(crate) health: BTreeMap<&'static str, Vec<Health>>,
    pub(crate) credit: Vec<CreditCase>,
    pub(crate) fraud: Vec<FraudCase>,
    pub(crate) chat: Vec<ChatCase>,
    /// Per inject: red effort figures.
    pub(crate) effort: BTreeMap<String, BTreeMap<&'static str, f64>>,
    /// The sanitiser's counts: poisoned rows dropped, clean rows dropped.
    pub(crate) sanitised: (u64, u64),
    pub(crate) tick_s: f64,
}

/// Per tabular model: what is served and what the registry says.
struct ModelState {
    name: String,
    served: Served,
    /// The version and artefact hash the champion slot serves.
    serving: (u64, String),
    challenger: Option<u64>,
    isolated: bool,
    shadow_until: Option<f64>,
    canary: Option<(f64, f64)>,
    /// When the challenger's shadow or canary began: promotion compares both sides on the
    /// cases since then.
    trial_from: f64,
    /// Scores of the champion's training rows, the drift monitor's reference.
    reference_scores: Vec<f64>,
    /// When the model last alerted.
    last_alert: Option<f64>,
    /// Versions' training cut-offs (arrival time of the newest row used).
    trained_until: BTreeMap<u64, f64>,
    /// Once blue has sanitised, scheduled retraining sanitises too.
    sanitise: Option<f64>,
    /// Feed rows left out for good (quarantined), by arrival before this time and after that.
    quarantined: Vec<(f64, f64)>,
}

struct Pending {
    due: f64,
    action: usize,
    cause: String,
}

/// Plays one game.
#[allow(clippy::too_many_lines)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn play(
    plan: &WargamePlan,
    world: &World,
    registry: &dyn Registry,
    prefix: &str,
    defended: bool,
    seed: Seed,
    step_id: &str,
    live: &mut dyn FnMut(Event),
) -> Result<GameResult, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let mut g = Game::new(plan, world, registry, prefix, defended, seed, &runtime)?;
    let ticks = (plan.duration_s / plan.tick_s).ceil() as usize;
    let wall = Instant::now();
    for k in 0..ticks {
        let t0 = k as f64 * plan.tick_s;
        let t1 = (t0 + plan.tick_s).min(plan.duration_s);
        let before = g.out.timeline.len();
        g.tick(t0, t1)?;
        let mut values = Vec::new();
        for (name, points) in &g.out.series {
            if let Some(&(_, Some(v))) = points.last() {
                values.push((name.clone(), v));
            }
        }
        let notes = g.out.timeline[before..]
            .iter()
            .map(|e| format!("{} {} {}: {}", e.side.as_str(), e.kind.as_str(), e.model, e.text))
            .collect();
        live(Event::Live(LiveSample { step_id: step_id.to_string(), t_s: t1, values, notes }));
        if plan.clock == ClockKind::Realtime {
            let target = Duration::from_secs_f64(t1);
            if let Some(rest) = target.checked_sub(wall.elapsed()) {
                std::thread::sleep(rest);
            }
        }
    }
    let Game { credit, fraud, chat, mut out, .. } = g;
    credit.served.stop(&runtime);
    fraud.served.stop(&runtime);
    chat.stop(&runtime);
    out.tick_s = plan.tick_s;
    Ok(out)
}

struct Game<'a> {
    plan: &'a WargamePlan,
    world: &'a World,
    registry: &'a dyn Registry,
    runtime: &'a Runtime,
    defended: bool,
    seed: Seed,
    rng: Rng,
    credit: ModelState,
    fraud: ModelState,
    chat: ChatFleet,
    chat_isolated: bool,
    fraud_stream: FraudStream,
    feed: Vec<FeedRow>,
    fraud_feed: Vec<(f64, Table)>,
    out: GameResult,
    pending: Vec<Pending>,
    /// Monitors in alert.
    alerting: Vec<bool>,
    /// Models with an action chain under way.
    busy: BTreeMap<ModelKind, bool>,
    referee: Referee,
}

/// A version's metadata: the training table's digest, its metrics and fairness at
/// registration (on its own training rows), and the newest training row's arrival.
fn metadata(
    training: &Table,
    metrics: &[(&str, f64)],
    fairness: &[(&str, f64)],
    trained_until: f64,
    t: f64,
) -> Metadata {
    Metadata {
        training_data_sha256: table_digest(training),
        metrics: metrics.iter().map(|(k, v)| ((*k).to_string(), *v)).collect(),
        fairness: fairness
            .iter()
            .filter(|(_, v)| v.is_finite())
            .map(|(k, v)| ((*k).to_string(), *v))
            .collect(),
        tags: std::iter::once(("trained_until_s".to_string(), format!("{trained_until}")))
            .collect(),
        created_at_s: t,
    }
}

impl<'a> Game<'a> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        plan: &'a WargamePlan,
        world: &'a World,
        registry: &'a dyn Registry,
        prefix: &str,
        defended: bool,
        seed: Seed,
        runtime: &'a Runtime,
    ) -> Result<Game<'a>, String> {
        let mut out = GameResult::default();
        let mut start = |kind: ModelKind,
                         pipeline: &Pipeline,
                         codec: &crate::fleet::Codec,
                         reference: &Table|
         -> Result<ModelState, String> {
            let name = format!("{prefix}{}", kind.as_str());
            let bytes = pipeline.to_bytes().ok_or("the model cannot be serialised")?;
            registry.ensure_model(&name).map_err(|e| e.to_string())?;
            let version = registry
                .register(
                    &name,
                    &bytes,
                    &metadata(
                        reference,
                        &[("training_rows", reference.rows as f64)],
                        &[],
                        0.0,
                        0.0,
                    ),
                )
                .map_err(|e| e.to_string())?;
            for alias in ["champion", "last-good"] {
                let change = Change::new("exercise", "the first version", 0.0);
                registry
                    .set_alias(&name, alias, version.version, &change)
                    .map_err(|e| e.to_string())?;
                out.alias_moves.push(AliasMove {
                    t_s: 0.0,
                    model: kind.as_str().into(),
                    alias: alias.into(),
                    from: None,
                    to: Some(version.version),
                    actor: "exercise".into(),
                    reason: "the first version".into(),
                });
            }
            let served = Served::start(runtime, kind.as_str(), codec.clone(), pipeline.clone())?;
            let reference_scores = pipeline.predict(reference).map_err(|e| e.to_string())?;
            Ok(ModelState {
                name,
                served,
                serving: (version.version, version.sha256.clone()),
                challenger: None,
                isolated: false,
                shadow_until: None,
                canary: None,
                trial_from: 0.0,
                reference_scores,
                last_alert: None,
                trained_until: BTreeMap::from([(version.version, 0.0)]),
                sanitise: None,
                quarantined: Vec::new(),
            })
        };
        let credit_train = world.german.take(&world.credit_train);
        let credit =
            start(ModelKind::Credit, &world.credit_model, &world.credit_codec, &credit_train)?;
        let fraud =
            start(ModelKind::Fraud, &world.fraud_model, &world.fraud_codec, &world.fraud_train)?;
        let threshold = 0.3f32;
        let chat = ChatFleet::start(runtime, Arc::clone(&world.chatbot), &plan.chatbot, threshold)?;
        let fraud_stream = world.fraud.stream("traffic")?;
        let feed = world
            .credit_train
            .iter()
            .map(|&row| FeedRow {
                arrived: f64::NEG_INFINITY,
                row,
                amount: amount(&world.german, row),
                good: world.good[row],
                poisoned: false,
            })
            .collect();
        Ok(Game {
            plan,
            world,
            registry,
            runtime,
            defended,
            seed,
            rng: seed.derive("wargame/traffic").rng(),
            credit,
            fraud,
            chat,
            chat_isolated: false,
            fraud_stream,
            feed,
            fraud_feed: vec![(0.0, world.fraud_train.clone())],
            out,
            pending: Vec::new(),
            alerting: vec![false; plan.monitors.len()],
            busy: BTreeMap::new(),
            referee: Referee::new(world),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn entry(
        &mut self,
        t: f64,
        kind: EntryKind,
        side: Side,
        model: ModelKind,
        id: &str,
        atlas: &str,
        text: String,
    ) {
        self.out.timeline.push(WargameEntry {
            t_s: t,
            kind,
            side,
            model: model.as_str().into(),
            id: id.into(),
            atlas: atlas.into(),
            text,
        });
    }

    fn active(
        &self,
        model: ModelKind,
        t: f64,
        f: impl Fn(&Technique) -> bool,
    ) -> Option<(usize, &'a crate::plan::Inject)> {
        self.plan.injects.iter().enumerate().find(|(_, i)| {
            i.model == model
                && f(&i.technique)
                && i.at_s <= t
                && t < i.end_s.max(i.at_s + f64::EPSILON)
        })
    }

    fn effort(&mut self, inject: &str, what: &'static str, n: f64) {
        *self.out.effort.entry(inject.to_string()).or_default().entry(what).or_insert(0.0) += n;
    }

    fn tick(&mut self, t0: f64, t1: f64) -> Result<(), String> {
        self.red_events(t0, t1)?;
        self.reload(t0);
        self.credit_traffic(t0, t1)?;
        self.fraud_traffic(t0, t1)?;
        self.chat_traffic(t0, t1);
        self.labels(t0, t1);
        self.scheduled(t0, t1)?;
        self.monitors(t1);
        self.run_actions(t1);
        self.referee.observe(t1, &self.out, self.plan);
        self.out.health = self.referee.health.clone();
        Ok(())
    }

    /// Injects that start or end within the tick; a tamper acts at once.
    fn red_events(&mut self, t0: f64, t1: f64) -> Result<(), String> {
        for inject in &self.plan.injects {
            let atlas = inject.technique.atlas().join(", ");
            if (t0..t1).contains(&inject.at_s) {
                let text = match &inject.technique {
                    Technique::LabelFlip { group, rate } => format!(
                        "flips {:.0} % of {group} applicants' good labels in the retraining feed",
                        rate * 100.0
                    ),
                    Technique::Evasion { rate, budget, queries } => format!(
                        "crafts {:.0} % of fraud against the served model (budget {budget}, {queries} queries each)",
                        rate * 100.0
                    ),
                    Technique::Dos { multiple } => {
                        format!("floods the chatbot at {multiple}× the customers' rate")
                    }
                    Technique::Tamper => {
                        "overwrites the champion's artefact in the registry with a backdoored model"
                            .into()
                    }
                    Technique::Drift { shift } => {
                        format!("a pipeline change shifts the input ({shift})")
                    }
                };
                self.entry(
                    inject.at_s,
                    EntryKind::Inject,
                    Side::Red,
                    inject.model,
                    &inject.id,
                    &atlas,
                    text,
                );
                if matches!(inject.technique, Technique::Tamper)
                    && let Err(e) = self.tamper(inject)
                {
                    let text = format!("the tamper failed: {e}");
                    self.entry(
                        inject.at_s,
                        EntryKind::InjectEnd,
                        Side::Red,
                        inject.model,
                        &inject.id,
                        &atlas,
                        text,
                    );
                }
                if let (ModelKind::Fraud, Technique::Drift { shift }) =
                    (inject.model, &inject.technique)
                {
                    let _ = self.fraud_stream.set_drift(shift.clamp(0.0, 1.0));
                }
            }
            if inject.end_s > inject.at_s
                && (t0..t1).contains(&inject.end_s)
                && inject.end_s < self.plan.duration_s
            {
                self.entry(
                    inject.end_s,
                    EntryKind::InjectEnd,
                    Side::Red,
                    inject.model,
                    &inject.id,
                    &atlas,
                    "stops".into(),
                );
                if let (ModelKind::Fraud, Technique::Drift { .. }) =
                    (inject.model, &inject.technique)
                {
                    let _ = self.fraud_stream.set_drift(0.0);
                }
            }
        }
        Ok(())
    }

    /// Overwrites the champion's stored artefact with a model trained to the red team's
    /// benefit (credit: the unprivileged group's good applicants labelled as defaults; fraud:
    /// most fraud labelled genuine), keeping the registered hash.
    fn tamper(&mut self, inject: &crate::plan::Inject) -> Result<(), String> {
        let seed = self.seed.derive("wargame/tamper");
        let (state, bad) = match inject.model {
            ModelKind::Credit => {
                let rows: Vec<usize> = self.world.credit_train.clone();
                let mut table = self.world.german.take(&rows);
                if let Some(Column::Categorical(labels)) = table.column_mut(GERMAN_CREDIT_TARGET) {
                    for (k, &row) in rows.iter().enumerate() {
                        if self.world.group[row] == 0 {
                            labels[k] = "bad".into();
                        }
                    }
                }
                let model = crate::world::train_credit(&table, &self.world.credit_features, seed)?;
                (&mut self.credit, model)
            }
            _ => {
                let mut table = self.world.fraud_train.clone();
                let mut rng = seed.rng();
                if let Some(Column::Numeric(labels)) =
                    table.column_mut(stressor_tabular::fraud::LABEL)
                {
                    let frauds = labels.iter().filter(|&&l| l == 1.0).count();
                    let mut kept = 0;
                    for l in labels.iter_mut() {
                        if *l == 1.0 && (kept > frauds / 10 || rng.random::<f64>() < 0.9) {
                            *l = 0.0;
                        } else if *l == 1.0 {
                            kept += 1;
                        }
                    }
                }
                let model = self.world.fraud.train(&table, seed)?;
                (&mut self.fraud, model)
            }
        };
        let bytes = bad.to_bytes().ok_or("the tampered model cannot be serialised")?;
        // Where the registry keeps the artefact: what a supply-chain attacker writes to.
        let source =
            self.registry.version(&state.name, state.serving.0).map_err(|e| e.to_string())?.source;
        let path = std::path::PathBuf::from(source.strip_prefix("file://").unwrap_or(&source));
        std::fs::write(&path, &bytes)
            .map_err(|e| format!("red cannot write {}: {e}", path.display()))?;
        self.effort(&inject.id, "artefacts_written", 1.0);
        Ok(())
    }

    /// The fleet loads each champion alias's artefact from the registry (pods restarting, a
    /// scale-out): a moved alias or an overwritten artefact is served from here on.
    fn reload(&mut self, t: f64) {
        for kind in [ModelKind::Credit, ModelKind::Fraud] {
            let name = self.state(kind).name.clone();
            let Ok(Some(version)) = self.registry.alias(&name, "champion") else {
                continue;
            };
            let Ok(bytes) = self.registry.artefact(&name, version.version) else {
                continue;
            };
            let hash = sha256_hex(&bytes);
            if (version.version, hash.clone()) == self.state(kind).serving {
                continue;
            }
            match Pipeline::from_bytes(&bytes) {
                Ok(pipeline) => {
                    let state = self.state_mut(kind);
                    state.served.swap(Which::Champion, Arc::new(pipeline));
                    state.serving = (version.version, hash);
                }
                Err(e) => {
                    self.entry(
                        t,
                        EntryKind::Scheduled,
                        Side::Exercise,
                        kind,
                        "reload",
                        "",
                        format!("cannot load version {}: {e}", version.version),
                    );
                }
            }
        }
    }

    fn state(&self, kind: ModelKind) -> &ModelState {
        if kind == ModelKind::Fraud { &self.fraud } else { &self.credit }
    }

    fn state_mut(&mut self, kind: ModelKind) -> &mut ModelState {
        if kind == ModelKind::Fraud { &mut self.fraud } else { &mut self.credit }
    }

    fn arrivals(&mut self, per_hour: f64, t0: f64, t1: f64) -> usize {
        let mean = per_hour * (t1 - t0) / 3600.0;
        if mean <= 0.0 {
            return 0;
        }
        Poisson::new(mean).map_or(0, |p| p.sample(&mut self.rng) as usize)
    }

    /// Which arm serves each of `n` cases, by the model's routing.
    fn arms(&mut self, kind: ModelKind, n: usize, t: f64) -> Vec<Arm> {
        let state = self.state(kind);
        let (isolated, canary) = (state.isolated, state.canary);
        (0..n)
            .map(|_| {
                if isolated {
                    Arm::Human
                } else if let Some((until, share)) = canary
                    && t < until
                    && self.rng.random::<f64>() < share
                {
                    Arm::Challenger
                } else {
                    Arm::Champion
                }
            })
            .collect()
    }

    fn score_arms(
        &self,
        kind: ModelKind,
        table: &Table,
        arms: &[Arm],
        shadow: bool,
    ) -> Result<(Vec<f64>, Option<Vec<f64>>), String> {
        let served = &self.state(kind).served;
        let champion = if arms.contains(&Arm::Champion) {
            served.score(Which::Champion, table)?
        } else {
            vec![f64::NAN; arms.len()]
        };
        let challenger = if shadow || arms.contains(&Arm::Challenger) {
            Some(served.score(Which::Challenger, table)?)
        } else {
            None
        };
        let scores = arms
            .iter()
            .enumerate()
            .map(|(i, arm)| match arm {
                Arm::Challenger => challenger.as_ref().map_or(f64::NAN, |c| c[i]),
                _ => champion[i],
            })
            .collect();
        Ok((scores, challenger.filter(|_| shadow)))
    }

    fn credit_traffic(&mut self, t0: f64, t1: f64) -> Result<(), String> {
        let n = self.arrivals(self.plan.credit.applications_per_hour, t0, t1);
        if n == 0 {
            return Ok(());
        }
        let pool = &self.world.credit_pool;
        let rows: Vec<usize> = (0..n).map(|_| pool[self.rng.random_range(0..pool.len())]).collect();
        let mut table = self.world.german.take(&rows);
        let drift = self
            .active(ModelKind::Credit, t0, |t| matches!(t, Technique::Drift { .. }))
            .map(|(_, i)| i.clone());
        if let Some(inject) = &drift
            && let Technique::Drift { shift } = inject.technique
            && let Some(Column::Numeric(amounts)) =
                table.column_mut(crate::world::CREDIT_DRIFT_COLUMN)
        {
            let sd = 2822.0;
            for a in amounts.iter_mut() {
                *a = (*a + shift * sd).max(0.0);
            }
            self.effort(&inject.id, "rows_drifted", n as f64);
        }
        let amounts: Vec<f64> = match table.column(crate::world::CREDIT_DRIFT_COLUMN) {
            Some(Column::Numeric(a)) => a.clone(),
            _ => vec![0.0; n],
        };
        let arms = self.arms(ModelKind::Credit, n, t0);
        let shadow = self.credit.shadow_until.is_some_and(|until| t0 < until);
        let (scores, shadow_scores) = self.score_arms(ModelKind::Credit, &table, &arms, shadow)?;
        let threshold = self.plan.credit.threshold;
        for (i, &row) in rows.iter().enumerate() {
            let good = self.world.good[row];
            let approved = match arms[i] {
                Arm::Human => good,
                _ => scores[i] < threshold,
            };
            self.out.credit.push(CreditCase {
                t: t0 + (t1 - t0) * (i as f64 + 0.5) / n as f64,
                row,
                group: self.world.group[row],
                good,
                approved,
                arm: arms[i],
                p_bad: scores[i],
                shadow: shadow_scores.as_ref().map(|s| s[i] < threshold),
                amount: amounts[i],
                feed_good: None,
            });
        }
        Ok(())
    }

    fn fraud_traffic(&mut self, t0: f64, t1: f64) -> Result<(), String> {
        let n = self.arrivals(self.plan.fraud.transactions_per_hour, t0, t1);
        if n == 0 {
            return Ok(());
        }
        let mut batch = crate::fraud::batch(&mut self.fraud_stream, n)?;
        let arms = self.arms(ModelKind::Fraud, n, t0);
        let threshold = self.plan.fraud.threshold;
        // The red team crafts its fraud against the served champion (queries over HTTP).
        if let Some((_, inject)) =
            self.active(ModelKind::Fraud, t0, |t| matches!(t, Technique::Evasion { .. }))
            && let Technique::Evasion { rate, budget, queries } = inject.technique
        {
            let crafted: Vec<usize> = (0..n)
                .filter(|&i| {
                    batch.fraud[i] && arms[i] != Arm::Human && self.rng.random::<f64>() < rate
                })
                .collect();
            if !crafted.is_empty() {
                let rows: Vec<Vec<f64>> = crafted.iter().map(|&i| batch.rows[i].clone()).collect();
                let features = crate::fraud::FraudWorld::attack_features(budget);
                let config = EvasionConfig {
                    epsilon: budget,
                    max_queries: queries as u64,
                    threshold,
                    seed: self.seed.derive(&format!("wargame/evasion/{t0}")),
                    ..EvasionConfig::default()
                };
                let served = &self.fraud.served;
                let mut failures = 0u64;
                let mut oracle = |rows: &[Vec<f64>]| -> Vec<f64> {
                    match crate::fraud::rows_table(rows)
                        .and_then(|t| served.score(Which::Champion, &t))
                    {
                        Ok(scores) => scores,
                        Err(_) => {
                            failures += 1;
                            vec![1.0; rows.len()]
                        }
                    }
                };
                let evasions =
                    evade(&features, &rows, &config, &mut oracle).map_err(|e| e.to_string())?;
                let used: u64 = evasions.iter().map(|e| e.queries).sum();
                let evaded = evasions.iter().filter(|e| e.evaded).count();
                for (k, e) in evasions.into_iter().enumerate() {
                    if e.evaded {
                        batch.rows[crafted[k]] = e.adversarial;
                    }
                }
                let id = inject.id.clone();
                self.effort(&id, "queries", used as f64);
                self.effort(&id, "transactions_crafted", crafted.len() as f64);
                self.effort(&id, "transactions_evaded", evaded as f64);
                let labels = batch.fraud.iter().map(|&f| f64::from(u8::from(f))).collect();
                let mut table = crate::fraud::rows_table(&batch.rows)?;
                table
                    .columns
                    .push((stressor_tabular::fraud::LABEL.into(), Column::Numeric(labels)));
                batch.table = table;
                batch.amount = batch.rows.iter().map(|r| r[0]).collect();
            }
        }
        let shadow = self.fraud.shadow_until.is_some_and(|until| t0 < until);
        let (scores, shadow_scores) =
            self.score_arms(ModelKind::Fraud, &batch.table, &arms, shadow)?;
        for i in 0..n {
            let blocked = match arms[i] {
                Arm::Human => batch.fraud[i],
                _ => scores[i] >= threshold,
            };
            self.out.fraud.push(FraudCase {
                t: t0 + (t1 - t0) * (i as f64 + 0.5) / n as f64,
                fraud: batch.fraud[i],
                blocked,
                arm: arms[i],
                amount: batch.amount[i],
                score: scores[i],
                shadow: shadow_scores.as_ref().map(|s| s[i] >= threshold),
            });
        }
        self.fraud_feed.push((t0 + self.plan.fraud.label_delay_s, batch.table));
        Ok(())
    }

    fn chat_traffic(&mut self, t0: f64, t1: f64) {
        let n = self.arrivals(self.plan.chatbot.queries_per_hour, t0, t1);
        if n == 0 {
            return;
        }
        let picks: Vec<usize> =
            (0..n).map(|_| self.rng.random_range(0..self.world.queries.len())).collect();
        if self.chat_isolated {
            for &q in &picks {
                self.out.chat.push(ChatCase {
                    t: t0,
                    truth: self.world.queries[q].1,
                    outcome: ChatOutcome::Answered {
                        intent: self.world.queries[q].1,
                        handoff: true,
                        ms: 0.0,
                    },
                    human: true,
                });
            }
            return;
        }
        let queries: Vec<(u64, String)> = picks
            .iter()
            .map(|&q| (self.rng.random_range(0..1_000_000u64), self.world.queries[q].0.clone()))
            .collect();
        let window = self.plan.chatbot.flood_window;
        let flood = self
            .active(ModelKind::Chatbot, t0, |t| matches!(t, Technique::Dos { .. }))
            .and_then(|(_, inject)| match inject.technique {
                Technique::Dos { multiple } => {
                    Some((inject.id.clone(), multiple * n as f64 / window.as_secs_f64()))
                }
                _ => None,
            });
        let (outcomes, flooded) = self.chat.serve_tick(
            self.runtime,
            &queries,
            &self.world.intents,
            window,
            self.plan.chatbot.timeout,
            flood.as_ref().map(|f| f.1),
        );
        if let Some((id, _)) = flood {
            self.effort(&id, "requests", flooded as f64);
        }
        for (k, outcome) in outcomes.into_iter().enumerate() {
            self.out.chat.push(ChatCase {
                t: t0 + (t1 - t0) * (k as f64 + 0.5) / n as f64,
                truth: self.world.queries[picks[k]].1,
                outcome,
                human: false,
            });
        }
    }

    /// Labels of credit decisions made a label delay ago reach the retraining feed, flipped by
    /// an active poisoning.
    fn labels(&mut self, t0: f64, t1: f64) {
        let delay = self.plan.credit.label_delay_s;
        let poison = self
            .active(ModelKind::Credit, t0, |t| matches!(t, Technique::LabelFlip { .. }))
            .map(|(_, i)| i.clone());
        let arriving: Vec<usize> = (0..self.out.credit.len())
            .filter(|&k| (t0..t1).contains(&(self.out.credit[k].t + delay)))
            .collect();
        let unprivileged = self.plan.credit.protected.groups()[0];
        for k in arriving {
            let CreditCase { row, amount, good, group, .. } = self.out.credit[k];
            let mut label = good;
            let mut poisoned = false;
            if let Some(inject) = &poison
                && let Technique::LabelFlip { group: target, rate } = &inject.technique
            {
                let in_group = (group == 0) == (target == unprivileged);
                if good && in_group && self.rng.random::<f64>() < *rate {
                    label = false;
                    poisoned = true;
                    self.effort(&inject.id, "poison_rows", 1.0);
                }
            }
            self.out.credit[k].feed_good = Some(label);
            self.feed.push(FeedRow { arrived: t0, row, amount, good: label, poisoned });
        }
    }

    fn scheduled(&mut self, t0: f64, t1: f64) -> Result<(), String> {
        let every = self.plan.credit.retrain_every_s;
        let k = (t1 / every).floor();
        if k >= 1.0 && (t0..t1).contains(&(k * every)) && t1 < self.plan.duration_s {
            let t = k * every;
            // The outgoing champion becomes last-good if nothing alerted on it.
            let quiet = self.credit.last_alert.is_none_or(|a| a < t - every);
            let last_good = self.last_good(ModelKind::Credit);
            if quiet && last_good != self.credit.serving.0 {
                self.set_alias(
                    ModelKind::Credit,
                    "last-good",
                    self.credit.serving.0,
                    "exercise",
                    "served a retraining period without an alert",
                    t,
                );
            }
            // A registry that fails (an MLflow server gone) is recorded, never the end of
            // the game.
            let version = match self.retrain(ModelKind::Credit, t, false, self.credit.sanitise) {
                Ok(version) => version,
                Err(e) => {
                    let text = format!("scheduled retraining failed: {e}");
                    self.entry(
                        t,
                        EntryKind::Scheduled,
                        Side::Exercise,
                        ModelKind::Credit,
                        "retrain",
                        "",
                        text,
                    );
                    return Ok(());
                }
            };
            self.set_alias(
                ModelKind::Credit,
                "champion",
                version,
                "exercise",
                "scheduled retraining",
                t,
            );
            self.entry(
                t,
                EntryKind::Scheduled,
                Side::Exercise,
                ModelKind::Credit,
                "retrain",
                "",
                format!("scheduled retraining: version {version} is champion"),
            );
            self.reload(t);
        }
        Ok(())
    }

    fn set_alias(
        &mut self,
        kind: ModelKind,
        alias: &str,
        version: u64,
        actor: &str,
        reason: &str,
        t: f64,
    ) -> bool {
        let name = self.state(kind).name.clone();
        let from = self.registry.alias(&name, alias).ok().flatten().map(|v| v.version);
        match self.registry.set_alias(&name, alias, version, &Change::new(actor, reason, t)) {
            Ok(()) => {
                self.out.alias_moves.push(AliasMove {
                    t_s: t,
                    model: kind.as_str().into(),
                    alias: alias.into(),
                    from,
                    to: Some(version),
                    actor: actor.into(),
                    reason: reason.into(),
                });
                true
            }
            Err(e) => {
                self.entry(
                    t,
                    EntryKind::ActionFailed,
                    Side::Blue,
                    kind,
                    alias,
                    "",
                    format!("cannot point {alias} at version {version}: {e}"),
                );
                false
            }
        }
    }

    /// Trains a candidate on the retraining window (without quarantined rows, sanitised when
    /// asked) and registers it; returns its version.
    fn retrain(
        &mut self,
        kind: ModelKind,
        t: f64,
        quarantine: bool,
        sanitise: Option<f64>,
    ) -> Result<u64, String> {
        let seed = self.seed.derive(&format!("wargame/retrain/{}/{t}", kind.as_str()));
        let state = self.state(kind);
        let cutoff = state.trained_until.get(&self.last_good(kind)).copied().unwrap_or(0.0);
        if quarantine {
            self.state_mut(kind).quarantined.push((cutoff, t));
        }
        let quarantined = self.state(kind).quarantined.clone();
        let left_out = |arrived: f64| quarantined.iter().any(|&(a, b)| arrived > a && arrived <= b);
        let (pipeline, used, until, table, fairness) = match kind {
            ModelKind::Credit => {
                let window = self.plan.credit.retrain_window_s;
                let mut rows: Vec<&FeedRow> = self
                    .feed
                    .iter()
                    .filter(|r| r.arrived >= t - window && r.arrived <= t && !left_out(r.arrived))
                    .collect();
                if rows.len() < 100 {
                    rows = self.feed.iter().filter(|r| r.arrived <= cutoff).collect();
                }
                let mut table = self.table_of(&rows);
                if let Some(share) = sanitise {
                    let (keep, counts) = self.sanitise(&table, &rows, share)?;
                    self.out.sanitised.0 += counts.0;
                    self.out.sanitised.1 += counts.1;
                    rows = keep.iter().map(|&k| rows[k]).collect();
                    table = self.table_of(&rows);
                }
                let until = rows.iter().map(|r| r.arrived).fold(0.0, f64::max);
                let pipeline =
                    crate::world::train_credit(&table, &self.world.credit_features, seed)?;
                // Fairness at registration, on its own training rows and their feed labels.
                let p_bad = pipeline.predict(&table).map_err(|e| e.to_string())?;
                let threshold = self.plan.credit.threshold;
                let decisions = rows
                    .iter()
                    .zip(&p_bad)
                    .map(|(r, &p)| (self.world.group[r.row], r.good, p < threshold));
                let counts = group_counts(decisions);
                let dp = counts
                    .as_ref()
                    .map_or(f64::NAN, stressor_fairness::fairlearn::demographic_parity_ratio);
                let eo = counts.as_ref().map_or(f64::NAN, |c| {
                    stressor_fairness::fairlearn::equalized_odds_difference(
                        c,
                        stressor_fairness::fairlearn::Agg::WorstCase,
                    )
                });
                let fairness = vec![("dp_ratio_train", dp), ("eo_difference_train", eo)];
                (pipeline, rows.len(), until, table, fairness)
            }
            _ => {
                let window = self.plan.credit.retrain_window_s;
                // The window's labelled transactions (chargebacks included, so evasions and a
                // new fraud pattern are in it); the first training set only when the window
                // is too small to learn from.
                let parts: Vec<&Table> = self
                    .fraud_feed
                    .iter()
                    .filter(|(a, tb)| *a <= t && *a >= t - window && !left_out(*a) && tb.rows > 0)
                    .map(|(_, tb)| tb)
                    .collect();
                let recent: usize = parts.iter().map(|tb| tb.rows).sum();
                let mut table = match parts.split_first() {
                    Some((first, _)) if recent >= 2_000 => (*first).clone(),
                    _ => self.world.fraud_train.clone(),
                };
                let skip = usize::from(recent >= 2_000);
                for part in parts.iter().skip(skip) {
                    table = table.concat(part).map_err(|e| e.to_string())?;
                }
                let rows = table.rows;
                (self.world.fraud.train(&table, seed)?, rows, t, table, Vec::new())
            }
        };
        let bytes = pipeline.to_bytes().ok_or("the candidate cannot be serialised")?;
        let name = self.state(kind).name.clone();
        let version = self
            .registry
            .register(
                &name,
                &bytes,
                &metadata(&table, &[("training_rows", used as f64)], &fairness, until, t),
            )
            .map_err(|e| e.to_string())?
            .version;
        let state = self.state_mut(kind);
        state.trained_until.insert(version, until);
        state.challenger = Some(version);
        state.served.swap(Which::Challenger, Arc::new(pipeline));
        Ok(version)
    }

    fn last_good(&self, kind: ModelKind) -> u64 {
        self.registry
            .alias(&self.state(kind).name, "last-good")
            .ok()
            .flatten()
            .map_or(1, |v| v.version)
    }

    fn table_of(&self, rows: &[&FeedRow]) -> Table {
        let indices: Vec<usize> = rows.iter().map(|r| r.row).collect();
        let mut table = self.world.german.take(&indices);
        if let Some(Column::Categorical(labels)) = table.column_mut(GERMAN_CREDIT_TARGET) {
            for (k, r) in rows.iter().enumerate() {
                labels[k] = if r.good { "good" } else { "bad" }.into();
            }
        }
        if let Some(Column::Numeric(amounts)) = table.column_mut(crate::world::CREDIT_DRIFT_COLUMN)
        {
            for (k, r) in rows.iter().enumerate() {
                amounts[k] = r.amount;
            }
        }
        table
    }

    /// Loss-based sanitising: drops the `share` of rows the last good model finds most
    /// surprising (highest log loss of the feed's label); counts poisoned and clean rows
    /// dropped.
    fn sanitise(
        &self,
        table: &Table,
        rows: &[&FeedRow],
        share: f64,
    ) -> Result<(Vec<usize>, (u64, u64)), String> {
        let name = &self.credit.name;
        let version = self.last_good(ModelKind::Credit);
        let bytes = self.registry.artefact(name, version).map_err(|e| e.to_string())?;
        let model = Pipeline::from_bytes(&bytes).map_err(|e| e.to_string())?;
        let p_bad = model.predict(table).map_err(|e| e.to_string())?;
        let mut losses: Vec<(f64, usize)> = rows
            .iter()
            .enumerate()
            .map(|(k, r)| {
                let p = if r.good { 1.0 - p_bad[k] } else { p_bad[k] };
                (-(p.max(1e-12)).ln(), k)
            })
            .collect();
        losses.sort_by(|a, b| b.0.total_cmp(&a.0));
        let dropped = ((rows.len() as f64) * share).round() as usize;
        let mut counts = (0u64, 0u64);
        for &(_, k) in &losses[..dropped.min(losses.len())] {
            if rows[k].poisoned {
                counts.0 += 1;
            } else {
                counts.1 += 1;
            }
        }
        let mut keep: Vec<usize> =
            losses[dropped.min(losses.len())..].iter().map(|&(_, k)| k).collect();
        keep.sort_unstable();
        Ok((keep, counts))
    }
}

/// SHA-256 of a table's contents (column names, then every value in column order): the
/// training data's hash a version is registered with.
fn table_digest(table: &Table) -> String {
    let mut bytes = Vec::new();
    for (name, column) in &table.columns {
        bytes.extend(name.as_bytes());
        bytes.push(0);
        match column {
            Column::Numeric(values) => values.iter().for_each(|v| bytes.extend(v.to_le_bytes())),
            Column::Categorical(values) => values.iter().for_each(|v| {
                bytes.extend(v.as_bytes());
                bytes.push(0);
            }),
        }
    }
    sha256_hex(&bytes)
}

fn amount(table: &Table, row: usize) -> f64 {
    match table.column(crate::world::CREDIT_DRIFT_COLUMN) {
        Some(Column::Numeric(a)) => a[row],
        _ => 0.0,
    }
}

/// Two groups' confusion counts from `(group, truth, decision)`, the favourable outcome
/// (approval, a good risk) as positive.
pub(crate) fn group_counts(rows: impl Iterator<Item = (u8, bool, bool)>) -> Option<GroupCounts> {
    let mut cells = vec![Confusion::default(); 2];
    for (group, truth, decision) in rows {
        let cell = &mut cells[usize::from(group.min(1))];
        cell.n += 1;
        cell.positives += u64::from(truth);
        cell.selected += u64::from(decision);
        cell.true_positives += u64::from(truth && decision);
    }
    GroupCounts::from_cells(cells).ok()
}
