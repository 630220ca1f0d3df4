//! Offline evaluation on a real logged-bandit log: the replay method (Li et al. 2011) and
//! inverse propensity scoring (IPS), for reference rankings and for the family's own
//! recommender fed the log in time order under the scenario's fault schedule.
//!
//! # The log
//!
//! One row per impression: when, who, which item, at which slot, whether it was clicked, and the
//! probability that the logging policy put that item at that slot (its propensity). Two
//! formats ([`LogFormat`]):
//!
//! - `obd`: the Open Bandit Dataset's CSV (ZOZOTOWN; `,timestamp,item_id,position,click,
//!   propensity_score,user_feature_0,…`); a user is the tuple of its `user_feature_*` columns
//!   (hashed categories: a segment, not a person);
//! - `csv`: a header naming `timestamp`, `user`, `item`, `position`, `click`, `propensity` in
//!   any order (other columns ignored).
//!
//! Timestamps are seconds (a number) or `YYYY-MM-DD[ T]HH:MM:SS[.ffffff][Z|±HH:MM]`; items are
//! integer ids from 0; positions start at 1; clicks are 0 or 1; a propensity is in (0, 1].
//! Rows are replayed in timestamp order (ties keep the file's order). Every error names the file,
//! the line and the column ([`ReplayError`]); nothing panics on bad input.
//!
//! # The estimators
//!
//! A policy proposes a slate for each logged row; the row *matches* when the slate's item at
//! the row's position is the logged item ([`Evaluation`]).
//!
//! - `replay_ctr` (Li et al.): clicks per matched row, the CTR of what the policy shows, with a
//!   Wilson interval over the matched rows. Unbiased when the logging policy is uniformly
//!   random (OBD's `random` logs); under any other logging policy it is biased towards the items
//!   that policy favoured.
//! - `ips_ctr`: the mean over all rows of `click · match / propensity`, the expected clicks per
//!   logged slot, with a percentile-bootstrap interval (10 000 resamples, as obp's). Unbiased
//!   under any logging policy whose propensities are right and positive; a slot the policy
//!   leaves empty counts as no click.
//! - `replay_match_rate` (matched / rows) and `replay_served_share` (rows where the policy had
//!   an item at the logged position) say how much data stands behind them.
//!
//! Both agree with the Open Bandit Pipeline's `ReplayMethod` and `InverseProbabilityWeighting`
//! (obp 0.4.1) to the last digit on all six OBD logs (`tests/fixtures/make_obd.py`). The
//! intervals differ on purpose where obp's bootstrap degenerates: with no matched click obp's
//! replay interval is [0, 0], the Wilson interval is not.
//!
//! # What replay can and cannot measure
//!
//! It measures clicks at the positions and for the items the log has, for users (segments) the
//! log saw, at the times they came. It cannot measure conversion or revenue (OBD logs clicks
//! only), latency or queueing (a 10 000-row sample of a week has no real arrival rate; a
//! request the modelled I/O makes time out shows nothing), NDCG against the truth (there is
//! none), or a feedback loop: the recommender's stream features are built from the *logged*
//! traffic, not from what it would have shown. Matches are rare — about one row in as many as
//! there are items under uniform logging (1/80 on OBD's `all` campaign) — so the 10 000-row
//! logs give a few hundred matched rows and a handful of clicks: intervals are wide, and most
//! policy differences are not resolved. The full 26-million-row OBD narrows them roughly
//! fifty-fold but must be downloaded by hand.
//!
//! # Replaying the recommender
//!
//! [`replay_recommender`]: the rows before `train_share` of the log train the ranker (BPR on
//! their clicks), fill the stream job and give the static popular list; the rest are
//! evaluated. The evaluated rows' time span is stretched onto the scenario's `duration`, so the
//! fault schedule, the cache TTL, the pipeline's ticks and the breaker's windows apply on the
//! scenario's clock in the log's order; each evaluated row asks the service for a slate of the
//! log's positions (its user, at its time), then its logged impression and click go into the
//! pipeline, where event faults act on them.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::Rng as _;
use stressor_core::{Estimate, Seed, bootstrap_interval};

use crate::fault::{BadPush, Edges, Schedule};
use crate::pipeline::{Event, EventKind, Pipeline};
use crate::ranker::Ranker;
use crate::service::{Conditions, Policy, Service, ServiceConfig};
use crate::sim::{SimConfig, by_clicks, train_on_log};
use crate::store::MemoryStore;

/// The bootstrap resamples of the IPS interval (obp's default).
pub const IPS_RESAMPLES: u32 = 10_000;

/// A log's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// The Open Bandit Dataset's CSV.
    Obd,
    /// `timestamp,user,item,position,click,propensity` (named in a header, any order).
    Csv,
}

impl LogFormat {
    /// Its name in scenarios.
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Obd => "obd",
            LogFormat::Csv => "csv",
        }
    }
}

/// One logged impression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoggedRow {
    /// When, µs since the Unix epoch (or since 0 for numeric timestamps).
    pub time_us: i64,
    /// The user (or segment), dense from 0 in order of first appearance.
    pub user: u32,
    /// The item.
    pub item: u32,
    /// The slot, from 0.
    pub position: u32,
    /// Whether it was clicked.
    pub click: bool,
    /// The logging policy's probability of this item at this slot.
    pub propensity: f64,
}

/// A log read and sorted by time.
#[derive(Debug, Clone, PartialEq)]
pub struct Log {
    /// Where it came from (for messages).
    pub name: String,
    /// The rows in time order.
    pub rows: Vec<LoggedRow>,
    /// Distinct users.
    pub users: usize,
    /// Items: one more than the largest id.
    pub items: usize,
    /// Slots: the largest position.
    pub positions: usize,
}

/// A log could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The file could not be opened or read.
    #[error("cannot read replay log {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not CSV, or a value is not what its column holds.
    #[error("{name}:{line}: column `{column}`: {message}")]
    Field {
        /// The file.
        name: String,
        /// The line, from 1.
        line: u64,
        /// The column.
        column: String,
        /// What is wrong.
        message: String,
    },
    /// The log as a whole is unusable.
    #[error("{name}: {message}")]
    Log {
        /// The file.
        name: String,
        /// What is wrong.
        message: String,
    },
}

/// Reads the log at `path`.
///
/// # Errors
/// [`ReplayError`] naming the file, and the line and column of a bad value.
pub fn read_log(path: &Path, format: LogFormat) -> Result<Log, ReplayError> {
    let file = std::fs::File::open(path)
        .map_err(|source| ReplayError::Io { path: path.to_path_buf(), source })?;
    parse_log(std::io::BufReader::new(file), &path.display().to_string(), format)
}

/// Reads a log from `reader`; `name` names it in errors.
///
/// # Errors
/// [`ReplayError`] naming `name`, and the line and column of a bad value.
pub fn parse_log(reader: impl Read, name: &str, format: LogFormat) -> Result<Log, ReplayError> {
    let mut csv = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(reader);
    let log_error = |message: String| ReplayError::Log { name: name.into(), message };
    let headers = csv
        .headers()
        .map_err(|e| ReplayError::Field {
            name: name.into(),
            line: e.position().map_or(1, |p| p.line()),
            column: "header".into(),
            message: e.to_string(),
        })?
        .clone();
    let find = |column: &str| headers.iter().position(|h| h.trim() == column);
    let (names, user_columns): ([&str; 5], Vec<usize>) = match format {
        LogFormat::Obd => (
            ["timestamp", "item_id", "position", "click", "propensity_score"],
            headers
                .iter()
                .enumerate()
                .filter(|(_, h)| h.trim().starts_with("user_feature_"))
                .map(|(i, _)| i)
                .collect(),
        ),
        LogFormat::Csv => (
            ["timestamp", "item", "position", "click", "propensity"],
            find("user").into_iter().collect(),
        ),
    };
    let mut columns = [0usize; 5];
    for (slot, column) in columns.iter_mut().zip(names) {
        *slot = find(column).ok_or_else(|| {
            log_error(format!(
                "no `{column}` column in the header (a `{}` log has {})",
                format.name(),
                expected_columns(format)
            ))
        })?;
    }
    if user_columns.is_empty() {
        return Err(log_error(format!(
            "no user column in the header (a `{}` log has {})",
            format.name(),
            expected_columns(format)
        )));
    }
    let [c_time, c_item, c_position, c_click, c_propensity] = columns;
    let mut users: HashMap<String, u32> = HashMap::new();
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut key = String::new();
    loop {
        let line = csv.position().line();
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                return Err(ReplayError::Field {
                    name: name.into(),
                    line: e.position().map_or(line, |p| p.line()),
                    column: "record".into(),
                    message: e.to_string(),
                });
            }
        }
        let line = record.position().map_or(line, |p| p.line());
        let field = |index: usize| record.get(index).unwrap_or("").trim();
        let bad = |index: usize, message: String| ReplayError::Field {
            name: name.into(),
            line,
            column: headers.get(index).unwrap_or("?").trim().into(),
            message,
        };
        let time_us = crate::log::parse_time(field(c_time)).map_err(|m| bad(c_time, m))?;
        let item =
            field(c_item).parse::<u32>().ok().filter(|i| *i < 10_000_000).ok_or_else(|| {
                bad(c_item, format!("`{}` is not an item id (0, 1, 2, …)", field(c_item)))
            })?;
        let position = field(c_position)
            .parse::<u32>()
            .ok()
            .filter(|p| (1..=1000).contains(p))
            .ok_or_else(|| {
                bad(c_position, format!("`{}` is not a position (1, 2, 3, …)", field(c_position)))
            })?;
        let click = match field(c_click) {
            "0" => false,
            "1" => true,
            other => return Err(bad(c_click, format!("`{other}` is not a click (0 or 1)"))),
        };
        let propensity =
            field(c_propensity).parse::<f64>().ok().filter(|p| *p > 0.0 && *p <= 1.0).ok_or_else(
                || {
                    bad(
                        c_propensity,
                        format!("`{}` is not a propensity in (0, 1]", field(c_propensity)),
                    )
                },
            )?;
        key.clear();
        for (n, &c) in user_columns.iter().enumerate() {
            if n > 0 {
                key.push('\u{1f}');
            }
            key.push_str(field(c));
        }
        let next = users.len() as u32;
        let user = *users.entry(key.clone()).or_insert(next);
        rows.push(LoggedRow { time_us, user, item, position: position - 1, click, propensity });
    }
    if rows.is_empty() {
        return Err(log_error("the log has no rows".into()));
    }
    // Stable: rows logged at the same instant keep the file's order.
    rows.sort_by_key(|r| r.time_us);
    let items = rows.iter().map(|r| r.item).max().map_or(0, |m| m as usize + 1);
    let positions = rows.iter().map(|r| r.position).max().map_or(0, |m| m as usize + 1);
    Ok(Log { name: name.into(), rows, users: users.len(), items, positions })
}

fn expected_columns(format: LogFormat) -> &'static str {
    match format {
        LogFormat::Obd => {
            "timestamp, item_id, position, click, propensity_score and user_feature_0, …"
        }
        LogFormat::Csv => "timestamp, user, item, position, click and propensity",
    }
}

/// The replay and IPS estimates of one policy on one log.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimates {
    /// Rows evaluated.
    pub rows: u64,
    /// Rows where the policy's item at the logged position is the logged item.
    pub matched: u64,
    /// Clicks among the matched rows.
    pub matched_clicks: u64,
    /// Rows where the policy showed an item at the logged position.
    pub served: u64,
    /// Clicks per matched row (Li et al.'s replay), Wilson interval; `n` = matched.
    pub replay_ctr: Estimate,
    /// Mean of `click · match / propensity` over the rows, bootstrap interval; `n` = rows.
    pub ips_ctr: Estimate,
    /// matched / rows.
    pub match_rate: Estimate,
    /// served / rows.
    pub served_share: Estimate,
}

/// Replay and IPS accumulated row by row.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    matched: u64,
    matched_clicks: u64,
    served: u64,
    /// Per row: `click · match / propensity`.
    ips: Vec<f64>,
}

impl Evaluation {
    /// Records the policy's `slate` (best first) for `row`; whether it matched.
    pub fn record(&mut self, row: &LoggedRow, slate: &[u32]) -> bool {
        let shown = slate.get(row.position as usize).copied();
        let matched = shown == Some(row.item);
        self.served += u64::from(shown.is_some());
        self.matched += u64::from(matched);
        self.matched_clicks += u64::from(matched && row.click);
        self.ips.push(if matched && row.click { 1.0 / row.propensity } else { 0.0 });
        matched
    }

    /// The estimates; `seed` draws the bootstrap.
    pub fn finish(&self, seed: Seed) -> Estimates {
        let rows = self.ips.len() as u64;
        let ips_ctr = if self.ips.is_empty() {
            Estimate { value: f64::NAN, n: 0, ci: None }
        } else {
            let mean = self.ips.iter().sum::<f64>() / rows as f64;
            let ci = bootstrap_interval(&self.ips, mean_of, IPS_RESAMPLES, 0.95, seed);
            Estimate { value: mean, n: rows, ci: Some(ci) }
        };
        Estimates {
            rows,
            matched: self.matched,
            matched_clicks: self.matched_clicks,
            served: self.served,
            replay_ctr: Estimate::proportion(self.matched_clicks, self.matched),
            ips_ctr,
            match_rate: Estimate::proportion(self.matched, rows),
            served_share: Estimate::proportion(self.served, rows),
        }
    }
}

fn mean_of(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// A ranking that needs no model.
#[derive(Debug, Clone, PartialEq)]
pub enum Reference {
    /// The same slate for everyone, always.
    Fixed(Vec<u32>),
    /// Items by clicks in the rows logged strictly earlier, most first, ties by smaller id.
    PastPopularity,
    /// Distinct items drawn uniformly for each row.
    Random,
}

/// Evaluates `reference` on `log.rows[from..]` (the clicks of earlier rows count for
/// [`Reference::PastPopularity`]).
pub fn replay_reference(log: &Log, from: usize, reference: &Reference, seed: Seed) -> Estimates {
    let k = log.positions;
    let mut clicks = vec![0u64; log.items];
    let mut evaluation = Evaluation::default();
    let mut rng = seed.derive("random-slates").rng();
    let mut ranked: Vec<u32> = (0..log.items as u32).collect();
    let mut slate = Vec::with_capacity(k);
    // Clicks are counted once every row of an instant has been ranked.
    let mut pending: Vec<u32> = Vec::new();
    let mut pending_at = i64::MIN;
    for (i, row) in log.rows.iter().enumerate() {
        if row.time_us != pending_at {
            for item in pending.drain(..) {
                clicks[item as usize] += 1;
            }
            pending_at = row.time_us;
        }
        if row.click {
            pending.push(row.item);
        }
        if i < from {
            continue;
        }
        slate.clear();
        match reference {
            Reference::Fixed(items) => slate.extend(items.iter().take(k)),
            Reference::PastPopularity => {
                ranked.sort_by(|a, b| clicks[*b as usize].cmp(&clicks[*a as usize]).then(a.cmp(b)));
                slate.extend(ranked.iter().take(k));
            }
            Reference::Random => {
                while slate.len() < k.min(log.items) {
                    let item = rng.random_range(0..log.items) as u32;
                    if !slate.contains(&item) {
                        slate.push(item);
                    }
                }
            }
        }
        evaluation.record(row, &slate);
    }
    evaluation.finish(seed.derive("ips-bootstrap"))
}

/// What [`replay_recommender`] measured besides the estimates.
#[derive(Debug, Clone, PartialEq)]
pub struct RecommenderReplay {
    /// Replay and IPS over the evaluated rows.
    pub estimates: Estimates,
    /// Rows that trained the ranker and warmed the stream job.
    pub training_rows: usize,
    /// Clicks among them (BPR's positives).
    pub training_clicks: usize,
    /// Evaluated rows answered by a fallback.
    pub fallbacks: u64,
    /// Evaluated rows with nothing shown (an error or a timeout).
    pub errors: u64,
}

/// How the evaluated part of a log maps onto the scenario's clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeline {
    /// The first evaluated row's time, µs.
    pub start_us: i64,
    /// Scenario seconds per log µs.
    pub scale: f64,
}

impl Timeline {
    /// Stretches `log.rows[from..]` onto `[0, duration_s)`.
    pub fn new(log: &Log, from: usize, duration_s: f64) -> Timeline {
        let start_us = log.rows.get(from).map_or(0, |r| r.time_us);
        let end_us = log.rows.last().map_or(start_us, |r| r.time_us);
        // One µs more than the span, so the last row falls inside the run.
        let span_us = (end_us - start_us + 1).max(1) as f64;
        Timeline { start_us, scale: duration_s / span_us }
    }

    /// A row's time on the scenario's clock, seconds (negative before the evaluated part).
    pub fn at(&self, time_us: i64) -> f64 {
        (time_us - self.start_us) as f64 * self.scale
    }
}

/// The row where evaluation starts: the first after `train_share` of the rows, moved past rows
/// logged at the same instant so training never sees an evaluated instant.
pub fn split(log: &Log, train_share: f64) -> usize {
    let mut from = ((log.rows.len() as f64 * train_share).round() as usize).min(log.rows.len());
    while from > 0 && from < log.rows.len() && log.rows[from].time_us == log.rows[from - 1].time_us
    {
        from += 1;
    }
    from
}

/// Replays the family's recommender with `policy` under `schedule` on `log`: trained on the
/// rows before `from`, evaluated on the rest stretched onto `config.duration_s`. See the module
/// docs.
pub fn replay_recommender(
    log: &Log,
    from: usize,
    config: &SimConfig,
    policy: Policy,
    schedule: &Schedule,
    seed: Seed,
) -> RecommenderReplay {
    let timeline = Timeline::new(log, from, config.duration_s);
    let (users, items, k) = (log.users.max(1), log.items.max(1), log.positions.max(1));
    let none = Schedule::default();
    let mut store = MemoryStore::new(users, items);
    let mut pipeline = Pipeline::new(config.pipeline, users, items, seed.derive("replay-pipeline"));
    let training = &log.rows[..from];
    let warm_start = training.first().map_or(0.0, |r| timeline.at(r.time_us));
    let mut next_tick = pipeline.next_tick(warm_start);
    let mut positives = Vec::new();
    let mut clicks_per_item = vec![0u64; items];
    for row in training {
        let t = timeline.at(row.time_us);
        while next_tick <= t {
            pipeline.tick(next_tick, &none, &mut store);
            next_tick += config.pipeline.tick_s;
        }
        produce(&mut pipeline, row, t, &none);
        if row.click {
            positives.push((row.user, row.item));
            clicks_per_item[row.item as usize] += 1;
        }
    }
    let model = train_on_log(config, &mut pipeline, next_tick, &mut store, &positives, seed);
    let popular = by_clicks(&clicks_per_item);
    let mut ranker_config = config.ranker;
    ranker_config.candidates = ranker_config.candidates.min(items);
    let mut service = Service::new(
        ServiceConfig { policy, k, ..config.service },
        Ranker { config: ranker_config, model: model.clone() },
        popular,
    );
    let mut edges = Edges::new(schedule);
    let mut rng = seed.derive("service").rng();
    let mut current_push: Option<BadPush> = None;
    let mut evaluation = Evaluation::default();
    let (mut fallbacks, mut errors) = (0u64, 0u64);
    for row in &log.rows[from..] {
        let t = timeline.at(row.time_us);
        while next_tick <= t {
            edges.outage(schedule, next_tick, &mut store);
            pipeline.tick(next_tick, schedule, &mut store);
            next_tick += config.pipeline.tick_s;
        }
        edges.outage(schedule, t, &mut store);
        if edges.flush_due(t) {
            service.flush_cache();
        }
        let push = schedule.bad_push(t);
        if push != current_push {
            current_push = push;
            service.push(push.map(|p| {
                let sigma = match p {
                    BadPush::Noise { sigma } => Some(sigma),
                    BadPush::Shuffle => None,
                };
                Arc::new(model.corrupted(sigma, seed))
            }));
        }
        let (store_extra_ms, _) = schedule.store(t);
        let (model_extra_ms, model_error_share) = schedule.model(t);
        let conditions = Conditions { store_extra_ms, model_extra_ms, model_error_share };
        let answer = service.recommend(row.user, 0, t, conditions, &mut store, &mut rng);
        let timed_out = answer.modeled_ms > config.client_timeout_ms;
        let slate: &[u32] = if timed_out { &[] } else { &answer.items };
        match answer.source {
            _ if slate.is_empty() => errors += 1,
            crate::service::Source::Fallback => fallbacks += 1,
            _ => {}
        }
        evaluation.record(row, slate);
        produce(&mut pipeline, row, t, schedule);
    }
    RecommenderReplay {
        estimates: evaluation.finish(seed.derive("ips-bootstrap")),
        training_rows: from,
        training_clicks: positives.len(),
        fallbacks,
        errors,
    }
}

/// Item ids by click count, most first, ties by smaller id.
/// The static popular list of the rows before `from`: items by clicks, most first.
pub fn popular_before(log: &Log, from: usize) -> Vec<u32> {
    let mut clicks = vec![0u64; log.items];
    for row in log.rows[..from.min(log.rows.len())].iter().filter(|r| r.click) {
        clicks[row.item as usize] += 1;
    }
    by_clicks(&clicks)
}

/// One recommender step replayed (`[recommender.replay]`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StepReplay {
    pub(crate) estimates: Estimates,
    pub(crate) parameters: Vec<(String, String)>,
}

/// Replays every step of a recommender run: `steps` are (ranking, is a reference); the oracle
/// has no replay (the log has no truth). The same seed for every step, so they are paired.
///
/// # Errors
/// The log cannot be read.
pub(crate) fn replay_steps(
    plan: &crate::plan::RecsysPlan,
    replay: &crate::plan::ReplayPlan,
    steps: &[(crate::sim::Ranking, bool)],
    seed: Seed,
) -> Result<Vec<Option<StepReplay>>, ReplayError> {
    use rayon::prelude::*;

    use crate::sim::Ranking;
    let log = read_log(&replay.log, replay.format)?;
    let from = split(&log, replay.train_share);
    let training_clicks = log.rows[..from].iter().filter(|r| r.click).count();
    let popular = popular_before(&log, from);
    let source = format!(
        "{} ({}: {} rows, {} users, {} items, {} positions); the first {} rows ({} clicks) \
         train, the last {} are replayed over {}",
        log.name,
        replay.format.name(),
        log.rows.len(),
        log.users,
        log.items,
        log.positions,
        from,
        training_clicks,
        log.rows.len() - from,
        crate::describe::seconds(plan.sim.duration_s)
    );
    let none = Schedule::default();
    Ok(steps
        .par_iter()
        .map(|(ranking, reference)| {
            let mut parameters = vec![("replay log".to_string(), source.clone())];
            let estimates = match ranking {
                Ranking::Oracle => return None,
                Ranking::Random => replay_reference(&log, from, &Reference::Random, seed),
                Ranking::Popularity => {
                    replay_reference(&log, from, &Reference::Fixed(popular.clone()), seed)
                }
                Ranking::Service(policy) => {
                    let schedule = if *reference { &none } else { &plan.schedule };
                    let out = replay_recommender(&log, from, &plan.sim, *policy, schedule, seed);
                    parameters.push((
                        "replay answers".into(),
                        format!("{} by a fallback, {} empty", out.fallbacks, out.errors),
                    ));
                    out.estimates
                }
            };
            parameters.push((
                "replay matches".into(),
                format!(
                    "{} of {} rows matched, {} clicked",
                    estimates.matched, estimates.rows, estimates.matched_clicks
                ),
            ));
            Some(StepReplay { estimates, parameters })
        })
        .collect())
}

fn produce(pipeline: &mut Pipeline, row: &LoggedRow, t: f64, schedule: &Schedule) {
    let (user, item) = (row.user, row.item);
    pipeline.produce(Event { kind: EventKind::Impression, user, item, time: t }, schedule);
    if row.click {
        pipeline.produce(Event { kind: EventKind::Click, user, item, time: t }, schedule);
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use super::*;

    const TINY: &str = "timestamp,user,item,position,click,propensity
10,a,0,1,1,0.5
20,b,1,1,0,0.5
30,a,1,2,1,0.25
40,c,2,1,1,0.5
50,b,0,2,0,0.25
";

    fn tiny() -> Log {
        parse_log(TINY.as_bytes(), "tiny.csv", LogFormat::Csv).unwrap()
    }

    #[test]
    fn a_generic_log_is_read_in_time_order_with_dense_users() {
        let text = "click,user,position,item,propensity,timestamp,extra\n\
                    0,x,2,5,0.1,2019-11-24 00:00:01.5+00:00,q\n\
                    1,y,1,3,1,2019-11-24T00:00:00Z,q\n";
        let log = parse_log(text.as_bytes(), "g.csv", LogFormat::Csv).unwrap();
        assert_eq!((log.users, log.items, log.positions), (2, 6, 2));
        // 2019-11-24 is day 18 224 of the epoch.
        assert_eq!(log.rows[0].time_us, 18_224 * 86_400_000_000);
        assert_eq!(log.rows[1].time_us, 18_224 * 86_400_000_000 + 1_500_000);
        assert_eq!(
            log.rows[0],
            LoggedRow {
                time_us: 18_224 * 86_400_000_000,
                user: 1,
                item: 3,
                position: 0,
                click: true,
                propensity: 1.0
            }
        );
        assert_eq!(
            crate::log::parse_time("2019-11-24 09:00:00+09:00").unwrap(),
            log.rows[0].time_us
        );
        assert_eq!(crate::log::parse_time("1970-01-01 00:00:00.000001").unwrap(), 1);
    }

    #[test]
    fn replay_and_ips_by_hand() {
        let log = tiny();
        // Always [0, 1]: row 1 (item 0 at slot 1, clicked, p 0.5) matches; row 2 (item 1 at
        // slot 1) does not; row 3 (item 1 at slot 2, clicked, p 0.25) matches; row 4 (item 2
        // at slot 1) does not; row 5 (item 0 at slot 2) does not.
        let e = replay_reference(&log, 0, &Reference::Fixed(vec![0, 1]), Seed::new(1));
        assert_eq!((e.rows, e.matched, e.matched_clicks, e.served), (5, 2, 2, 5));
        assert_eq!(e.replay_ctr.value, 1.0);
        assert_eq!(e.replay_ctr.n, 2);
        // IPS: (1/0.5 + 1/0.25) / 5 = 6/5.
        assert!((e.ips_ctr.value - 1.2).abs() < 1e-12, "{:?}", e.ips_ctr);
        assert_eq!(e.match_rate.value, 0.4);
        // A one-item slate leaves slot 2 empty: rows 3 and 5 are not served.
        let e = replay_reference(&log, 0, &Reference::Fixed(vec![2]), Seed::new(1));
        assert_eq!((e.matched, e.matched_clicks, e.served), (1, 1, 3));
        assert!((e.ips_ctr.value - 0.4).abs() < 1e-12);
        // Past popularity: row 1 sees no clicks ([0, 1, 2]: match, click); row 2 sees item 0
        // clicked ([0, 1, …]: item 1 is not at slot 1); row 3 the same ([0, 1]: item 1 at slot
        // 2, match, click); row 4 sees items 0 and 1 once each ([0, 1]: no); row 5 ([0, 1]:
        // item 0 is not at slot 2).
        let e = replay_reference(&log, 0, &Reference::PastPopularity, Seed::new(1));
        assert_eq!((e.matched, e.matched_clicks), (2, 2));
        // Starting at row 3 keeps rows 1–2's clicks.
        let e = replay_reference(&log, 2, &Reference::PastPopularity, Seed::new(1));
        assert_eq!((e.rows, e.matched, e.matched_clicks), (3, 1, 1));
        assert!((e.ips_ctr.value - 4.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn the_recommender_replays_and_an_outage_with_no_fallback_shows_nothing() {
        let log = tiny();
        let config = SimConfig { duration_s: 60.0, ..SimConfig::default() };
        let from = split(&log, 0.4);
        assert_eq!(from, 2);
        let ok = replay_recommender(
            &log,
            from,
            &config,
            Policy::None,
            &Schedule::default(),
            Seed::new(3),
        );
        assert_eq!(ok.estimates.rows, 3);
        assert_eq!(ok.estimates.served, 3);
        assert_eq!(ok.errors, 0);
        let schedule = Schedule {
            faults: vec![crate::fault::Fault {
                name: "down".into(),
                kind: crate::fault::FaultKind::StoreOutage,
                start: 0.0,
                stop: 60.0,
            }],
        };
        let down = replay_recommender(&log, from, &config, Policy::None, &schedule, Seed::new(3));
        assert_eq!((down.estimates.served, down.estimates.matched, down.errors), (0, 0, 3));
        assert_eq!(down.estimates.ips_ctr.value, 0.0);
        let popular =
            replay_recommender(&log, from, &config, Policy::Popular, &schedule, Seed::new(3));
        assert_eq!((popular.estimates.served, popular.fallbacks), (3, 3));
    }

    #[test]
    fn bad_input_names_the_file_line_and_column() {
        let check = |text: &str, format: LogFormat, expect: &str| {
            let error = parse_log(text.as_bytes(), "log.csv", format).unwrap_err().to_string();
            assert!(error.contains(expect), "{error}\nexpected: {expect}");
        };
        let head = "timestamp,user,item,position,click,propensity\n";
        check(
            &format!("{head}1,a,0,1,1,0.5\n2,a,0,1,2,0.5\n"),
            LogFormat::Csv,
            "log.csv:3: column `click`: `2` is not a click (0 or 1)",
        );
        check(
            &format!("{head}1,a,0,0,1,0.5\n"),
            LogFormat::Csv,
            "log.csv:2: column `position`: `0` is not a position",
        );
        check(
            &format!("{head}1,a,0,1,1,0\n"),
            LogFormat::Csv,
            "log.csv:2: column `propensity`: `0` is not a propensity in (0, 1]",
        );
        check(
            &format!("{head}1,a,-3,1,1,0.5\n"),
            LogFormat::Csv,
            "column `item`: `-3` is not an item id",
        );
        check(
            &format!("{head}2019-13-01 00:00:00,a,0,1,1,0.5\n"),
            LogFormat::Csv,
            "column `timestamp`: `2019-13-01 00:00:00` is not a timestamp",
        );
        check(&format!("{head}1,a,0,1\n"), LogFormat::Csv, "log.csv:2: column `record`");
        check(head, LogFormat::Csv, "log.csv: the log has no rows");
        check("timestamp,user,item,position,click\n", LogFormat::Csv, "no `propensity` column");
        check(TINY, LogFormat::Obd, "no `item_id` column in the header (a `obd` log has");
        let error = read_log(Path::new("/nonexistent/log.csv"), LogFormat::Obd).unwrap_err();
        assert!(
            error.to_string().contains("cannot read replay log /nonexistent/log.csv"),
            "{error}"
        );
    }
}
