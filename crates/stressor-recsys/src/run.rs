//! Running a recommender plan: the world, the warm-up and training, then every reference and
//! policy over the same traffic (in parallel), reported as one `recommender` step each.

use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;
use stressor_core::{
    Estimate, Event, Interval, MetricValue, RecsysTimeline, RunInfo, Seed, StepInfo, StepKind,
    StepPoint, StepResult, TimelineWindow, WindowKind,
};
use stressor_scenario::{EngineError, RunContext};

use crate::fault::Schedule;
use crate::log::InteractionLog;
use crate::plan::RecsysPlan;
use crate::recovery::impacts;
use crate::redis_store::RedisStore;
use crate::remote::{HTTP_STEP, HttpCounts, Ids};
use crate::service::Policy;
use crate::sim::{Ranking, RunOutput, Warm, run, warm_up};
use crate::store::OnlineStore;
use crate::world::World;

/// A recommender part could not run.
#[derive(Debug, thiserror::Error)]
#[error("recommender: {reason}")]
pub struct RecsysError {
    /// Why.
    pub reason: String,
}

fn family_error(reason: String) -> EngineError {
    EngineError::Family(Box::new(RecsysError { reason }))
}

struct Planned {
    id: String,
    ranking: Ranking,
    reference: bool,
    /// Served by the user's recommender over HTTP, on the wall clock.
    remote: bool,
}

fn planned(plan: &RecsysPlan) -> Vec<Planned> {
    let remote = plan.target.is_some();
    let step = |id: &str, ranking, reference, remote| Planned {
        id: id.into(),
        ranking,
        reference,
        remote,
    };
    let mut out = vec![
        step("baseline", Ranking::Service(Policy::None), true, remote),
        step("oracle", Ranking::Oracle, true, false),
        step("random", Ranking::Random, true, false),
        step("popularity", Ranking::Popularity, true, false),
    ];
    out.extend(plan.policies.iter().map(|p| step(p.name(), Ranking::Service(*p), false, false)));
    if remote {
        out.push(step(HTTP_STEP, Ranking::Service(Policy::None), false, true));
    }
    out
}

/// The plan's world, seeded from `seed` (a generated one, or one fitted to the user's log) and
/// its ids on the wire.
///
/// # Errors
/// [`RecsysError`] naming the log's file and line, or a slate larger than the catalogue.
pub(crate) fn world_of(
    plan: &RecsysPlan,
    seed: Seed,
) -> Result<(World, Ids, Option<InteractionLog>), RecsysError> {
    let fail = |reason: String| RecsysError { reason };
    let log = match &plan.world_log {
        Some(w) => Some(
            InteractionLog::read(&w.log, w.catalogue.as_deref())
                .map_err(|e| fail(e.to_string()))?,
        ),
        None => None,
    };
    let mut world_config = plan.world.clone();
    if let (Some(log), Some(w)) = (&log, &plan.world_log)
        && w.rate_from_log
        && let Some(rate) = log.sessions_per_second
    {
        world_config.sessions_per_second = rate;
    }
    let world = match &log {
        Some(log) => World::from_log(world_config, log, seed.derive("world")),
        None => World::new(world_config, seed.derive("world")),
    };
    if plan.sim.service.k > world.items() {
        return Err(fail(format!(
            "a slate of {} needs at least that many items; {} has {}",
            plan.sim.service.k,
            log.as_ref().map_or("the world".into(), |l| l.path.display().to_string()),
            world.items()
        )));
    }
    let ids = match &log {
        Some(log) => Ids::new(log.users.clone(), log.items.clone()),
        None => Ids::numbered(world.users(), world.items()),
    };
    Ok((world, ids, log))
}

/// The step ids a plan reports, in order.
pub(crate) fn step_ids(plan: &RecsysPlan) -> Vec<String> {
    planned(plan).into_iter().map(|p| p.id).collect()
}

pub(crate) fn run_part(
    plan: &RecsysPlan,
    run_context: &mut RunContext<'_>,
) -> Result<Vec<StepResult>, EngineError> {
    let seed = run_context.seed;
    let started = Instant::now();
    let (world, ids, log) = world_of(plan, seed).map_err(|e| family_error(e.reason))?;
    run_context.start(RunInfo {
        scenario_name: run_context.scenario_name.to_string(),
        scenario_source: run_context.scenario_source.to_string(),
        seed: seed.value(),
        target_name: match &plan.target {
            Some(target) => format!("your recommender at {}", target.endpoint.url),
            None => format!(
                "built-in recommender (BPR, {} factors, trained on {} of logged traffic; online \
                 store: {})",
                plan.sim.bpr.factors,
                crate::describe::seconds(plan.sim.warmup_s),
                plan.feature_store
                    .as_ref()
                    .map_or("in process".into(), |url| format!("Redis at {url}"))
            ),
        },
        target_kind: "recommender".into(),
        input_shape: Vec::new(),
        class_names: Vec::new(),
        data_name: match &log {
            Some(log) => format!(
                "world from {} ({} rows): {} users × {} items, true affinity fitted to the log, \
                 {:.3} sessions/s",
                log.path.display(),
                log.rows,
                world.users(),
                world.items(),
                world.config.sessions_per_second
            ),
            None => format!(
                "simulated world: {} users × {} items, {} sessions/s",
                world.users(),
                world.items(),
                world.config.sessions_per_second
            ),
        },
        n_samples: world.users(),
        stressor_version: run_context.config.stressor_version.clone(),
    });
    // An unreachable store or recommender fails the run before the warm-up, naming it (exit 3).
    if let Some(target) = &plan.target {
        crate::remote::check(target).map_err(|e| family_error(e.reason))?;
    }
    let redis = match &plan.feature_store {
        Some(url) => {
            crate::redis_store::check(url).map_err(|e| family_error(e.to_string()))?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .map_err(|e| family_error(format!("cannot start the proxy's runtime: {e}")))?;
            Some((url, Arc::new(runtime)))
        }
        None => None,
    };
    let ids = Arc::new(ids);
    let world = Arc::new(world);
    let warm = warm_up(Arc::clone(&world), &plan.sim, seed.derive("warm-up"));
    let warm_s = started.elapsed().as_secs_f64();
    let steps = planned(plan);
    let none = Schedule::default();
    let mut outputs: Vec<Option<(RunOutput, f64, Option<HttpCounts>)>> = steps
        .par_iter()
        .map(|step| {
            if step.remote {
                return Ok(None);
            }
            let t = Instant::now();
            let schedule = if step.reference { &none } else { &plan.schedule };
            let mut store: Box<dyn OnlineStore> = match &redis {
                Some((url, runtime)) => Box::new(
                    RedisStore::start(
                        url,
                        &format!("{}:{}", seed.value(), step.id),
                        &warm.store,
                        Arc::clone(runtime),
                        seed.derive("proxy").derive(&step.id),
                    )
                    .map_err(|e| family_error(e.to_string()))?,
                ),
                None => Box::new(warm.store.clone()),
            };
            let out = run(
                &warm,
                &plan.sim,
                step.ranking,
                schedule,
                seed.derive("traffic"),
                store.as_mut(),
            );
            Ok(Some((out, t.elapsed().as_secs_f64(), None)))
        })
        .collect::<Result<_, EngineError>>()?;
    // The user's service runs on the wall clock, one step after the other.
    if let Some(target) = &plan.target {
        for (step, slot) in steps.iter().zip(outputs.iter_mut()) {
            if !step.remote {
                continue;
            }
            let t = Instant::now();
            let schedule = if step.reference { &none } else { &plan.schedule };
            let out = crate::remote::run(
                Arc::clone(&world),
                Arc::clone(&ids),
                target,
                &plan.sim,
                schedule,
                seed.derive("traffic"),
            )
            .map_err(|e| family_error(e.reason))?;
            *slot = Some((out.run, t.elapsed().as_secs_f64(), Some(out.counts)));
        }
    }
    let outputs: Vec<(RunOutput, f64, Option<HttpCounts>)> =
        outputs.into_iter().flatten().collect();
    let replays = match &plan.replay {
        Some(replay) => {
            let rankings: Vec<_> = steps.iter().map(|s| (s.ranking, s.reference)).collect();
            crate::replay::replay_steps(plan, replay, &rankings, seed.derive("replay"))
                .map_err(|e| family_error(e.to_string()))?
        }
        None => vec![None; steps.len()],
    };
    let Some((baseline, _, _)) = outputs.first() else {
        return Err(EngineError::Family(Box::new(RecsysError { reason: "nothing to run".into() })));
    };
    let mut results = Vec::with_capacity(steps.len());
    for ((step, (out, seconds, counts)), replay) in steps.iter().zip(&outputs).zip(replays) {
        let info = StepInfo {
            id: step.id.clone(),
            kind: StepKind::Recommender,
            description: describe_step(plan, step),
            dial_name: None,
            dial_values: Vec::new(),
        };
        run_context.sink.event(&Event::StepStarted(info.clone()));
        let faults = if step.reference { &[][..] } else { &plan.schedule.faults[..] };
        let fault_impacts = impacts(
            &out.points,
            &baseline.points,
            plan.sim.bucket_s,
            faults,
            &plan.tolerance,
            &out.fates,
        );
        let timeline = RecsysTimeline {
            step_id: step.id.clone(),
            policy: step.id.clone(),
            reference: step.reference,
            bucket_s: plan.sim.bucket_s,
            points: out.points.clone(),
            windows: faults
                .iter()
                .map(|f| TimelineWindow {
                    name: f.name.clone(),
                    kind: WindowKind::Fault,
                    detail: f.kind.to_string(),
                    start: f.start,
                    stop: f.stop,
                })
                .collect(),
            impacts: fault_impacts.clone(),
            breaker: out.breaker.clone(),
            max_tolerable_downtime_s: plan.max_tolerable_downtime_s,
        };
        run_context.sink.event(&Event::RecsysTimeline(timeline));
        let mut parameters = parameters(plan, step, &warm, warm_s);
        let mut metrics = metrics(plan, out, counts.as_ref(), &fault_impacts, seed);
        if let Some(replay) = replay {
            parameters.extend(replay.parameters);
            let e = replay.estimates;
            metrics.push(metric("replay_ctr", e.replay_ctr));
            metrics.push(metric("ips_ctr", e.ips_ctr));
            metrics.push(metric("replay_match_rate", e.match_rate));
            metrics.push(metric("replay_served_share", e.served_share));
        }
        let result = StepResult {
            info,
            parameters,
            points: vec![StepPoint {
                dial_value: None,
                metrics,
                per_class: Vec::new(),
                confusion_growth: Vec::new(),
                exemplars: Vec::new(),
                loss_trace: Vec::new(),
                calibration: None,
            }],
            elapsed: std::time::Duration::from_secs_f64(*seconds),
        };
        run_context.sink.event(&Event::StepFinished(result.clone()));
        results.push(result);
    }
    Ok(results)
}

fn describe_step(plan: &RecsysPlan, step: &Planned) -> String {
    let traffic = format!(
        "{} of simulated traffic ({} sessions/s)",
        crate::describe::seconds(plan.sim.duration_s),
        plan.world.sessions_per_second
    );
    if let (true, Some(target)) = (step.remote, &plan.target) {
        let live = format!(
            "{} of live traffic on the wall clock at {}",
            crate::describe::seconds(plan.sim.duration_s),
            target.endpoint.url
        );
        return if step.reference {
            format!("your recommender without faults: the baseline; {live}")
        } else {
            format!("your recommender under {} fault(s); {live}", plan.schedule.faults.len())
        };
    }
    match (step.ranking, step.reference) {
        (Ranking::Service(_), true) => {
            format!("the recommender without faults: the baseline; {traffic}")
        }
        (Ranking::Oracle, _) => format!("the true top-k for every user: the ceiling; {traffic}"),
        (Ranking::Random, _) => format!("k random items: the floor; {traffic}"),
        (Ranking::Popularity, _) => format!("the static popular list for everyone; {traffic}"),
        (Ranking::Service(policy), false) => format!(
            "fallback `{}` under {} fault(s); {traffic}",
            policy.name(),
            plan.schedule.faults.len()
        ),
    }
}

fn parameters(
    plan: &RecsysPlan,
    step: &Planned,
    warm: &Warm,
    warm_s: f64,
) -> Vec<(String, String)> {
    let mut out = vec![
        ("k".into(), plan.sim.service.k.to_string()),
        ("duration".into(), crate::describe::seconds(plan.sim.duration_s)),
        ("bucket".into(), crate::describe::seconds(plan.sim.bucket_s)),
        ("training clicks".into(), warm.training_clicks.to_string()),
        ("warm-up wall time".into(), format!("{warm_s:.2} s")),
    ];
    if let (true, Some(target)) = (step.remote, &plan.target) {
        out.push(("url".into(), target.endpoint.url.clone()));
        out.push(("client timeout".into(), format!("{} ms", target.timeout_ms)));
        out.push(("concurrency".into(), target.concurrency.to_string()));
    }
    if !step.reference {
        out.push(("policy".into(), step.id.clone()));
        out.push((
            "tolerance".into(),
            format!(
                "clicks/request within {} % of the baseline for {} bucket(s)",
                plan.tolerance.ctr_drop * 100.0,
                plan.tolerance.sustain
            ),
        ));
    }
    out
}

fn metric(name: &str, estimate: Estimate) -> MetricValue {
    MetricValue { name: name.into(), estimate }
}

fn metrics(
    plan: &RecsysPlan,
    out: &RunOutput,
    counts: Option<&HttpCounts>,
    impacts: &[stressor_core::FaultImpact],
    seed: Seed,
) -> Vec<MetricValue> {
    let sum = |f: fn(&stressor_core::RecsysPoint) -> u64| -> u64 { out.points.iter().map(f).sum() };
    let requests = sum(|p| p.requests);
    let clicks = sum(|p| p.clicks);
    let hours = plan.sim.duration_s / 3600.0;
    let revenue_per_request = Estimate::mean(&out.revenue, seed.derive("revenue"));
    let per_hour = requests as f64 / hours;
    let revenue_per_hour = Estimate {
        value: revenue_per_request.value * per_hour,
        n: revenue_per_request.n,
        ci: revenue_per_request.ci.map(|ci| Interval {
            lower: ci.lower * per_hour,
            upper: ci.upper * per_hour,
            ..ci
        }),
    };
    let mut metrics = vec![
        metric("requests", Estimate::exact(requests as f64, requests)),
        metric("ctr", Estimate::proportion(clicks, sum(|p| p.impressions))),
        metric("clicks_per_request", Estimate::proportion(clicks, requests)),
        metric("conversion_rate", Estimate::proportion(sum(|p| p.conversions), clicks)),
        metric("revenue_per_hour", revenue_per_hour),
        metric("ndcg", Estimate::mean(&out.ndcg, seed.derive("ndcg"))),
    ];
    // A service that does not say where an answer came from has no cache or fallback share.
    if counts.is_none_or(|_| plan.target.as_ref().is_some_and(|t| t.source.is_some())) {
        metrics
            .push(metric("cache_hit_rate", Estimate::proportion(sum(|p| p.cache_hits), requests)));
        metrics
            .push(metric("fallback_share", Estimate::proportion(sum(|p| p.fallbacks), requests)));
    }
    metrics.push(metric("error_rate", Estimate::proportion(sum(|p| p.errors), requests)));
    if let Some(c) = counts {
        metrics.push(metric("malformed_rate", Estimate::proportion(c.malformed, c.requests)));
        metrics.push(metric("empty_rate", Estimate::proportion(c.empty, c.requests)));
        metrics
            .push(metric("unknown_id_share", Estimate::proportion(c.unknown_ids, c.ids_returned)));
        if plan.target.as_ref().is_some_and(|t| t.events.is_some()) {
            metrics.push(metric(
                "events_refused",
                Estimate::exact(c.events_refused as f64, out.fates.produced),
            ));
        }
    }
    if !out.latency.is_empty() {
        metrics.push(metric("p50_ms", stressor_load::latency_quantile(&out.latency, 0.5)));
        metrics.push(metric("p99_ms", stressor_load::latency_quantile(&out.latency, 0.99)));
    }
    if !out.freshness.is_empty() {
        metrics.push(metric(
            "freshness_lag_s",
            Estimate::mean(&out.freshness, seed.derive("freshness")),
        ));
    }
    if !impacts.is_empty() {
        let n = impacts.len() as u64;
        // The worst over the faults; a fault never recovered from (or never mitigated) is NaN,
        // which fails any gate on it.
        let worst = |f: fn(&stressor_core::FaultImpact) -> Option<f64>| {
            impacts
                .iter()
                .map(|i| f(i).unwrap_or(f64::NAN))
                .fold(0.0f64, |a, b| if a.is_nan() || b.is_nan() { f64::NAN } else { a.max(b) })
        };
        metrics.push(metric("rto_s", Estimate::exact(worst(|i| i.rto), n)));
        metrics
            .push(metric("time_to_mitigate_s", Estimate::exact(worst(|i| i.time_to_mitigate), n)));
        metrics.push(metric(
            "revenue_lost",
            Estimate::exact(impacts.iter().map(|i| i.revenue_lost).sum(), n),
        ));
        let drop = impacts
            .iter()
            .map(|i| {
                let base = i.baseline_ctr.value;
                if base > 0.0 { (base - i.ctr.value) / base } else { 0.0 }
            })
            .fold(f64::NEG_INFINITY, f64::max);
        metrics.push(metric("ctr_drop", Estimate::exact(drop, n)));
        metrics.push(metric(
            "events_lost",
            Estimate::exact(impacts.iter().map(|i| i.events_lost as f64).sum(), n),
        ));
    }
    if counts.is_none() {
        // Feature writes the store refused (an outage, a lost Redis), retried by the stream job.
        metrics.push(metric(
            "store_write_failures",
            Estimate::exact(out.fates.write_failures as f64, out.fates.produced),
        ));
    }
    metrics
}
