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
use crate::plan::RecsysPlan;
use crate::recovery::impacts;
use crate::redis_store::RedisStore;
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
}

fn planned(plan: &RecsysPlan) -> Vec<Planned> {
    let mut out = vec![
        Planned { id: "baseline".into(), ranking: Ranking::Service(Policy::None), reference: true },
        Planned { id: "oracle".into(), ranking: Ranking::Oracle, reference: true },
        Planned { id: "random".into(), ranking: Ranking::Random, reference: true },
        Planned { id: "popularity".into(), ranking: Ranking::Popularity, reference: true },
    ];
    out.extend(plan.policies.iter().map(|p| Planned {
        id: p.name().into(),
        ranking: Ranking::Service(*p),
        reference: false,
    }));
    out
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
    run_context.start(RunInfo {
        scenario_name: run_context.scenario_name.to_string(),
        scenario_source: run_context.scenario_source.to_string(),
        seed: seed.value(),
        target_name: format!(
            "built-in recommender (BPR, {} factors, trained on {} of logged traffic; online \
             store: {})",
            plan.sim.bpr.factors,
            crate::describe::seconds(plan.sim.warmup_s),
            plan.feature_store
                .as_ref()
                .map_or("in process".into(), |url| format!("Redis at {url}"))
        ),
        target_kind: "recommender".into(),
        input_shape: Vec::new(),
        class_names: Vec::new(),
        data_name: format!(
            "simulated world: {} users × {} items, {} sessions/s",
            plan.world.users, plan.world.items, plan.world.sessions_per_second
        ),
        n_samples: plan.world.users,
        stressor_version: run_context.config.stressor_version.clone(),
    });
    // An unreachable store fails the run before the warm-up, naming it (exit 3).
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
    let world = Arc::new(World::new(plan.world.clone(), seed.derive("world")));
    let warm = warm_up(world, &plan.sim, seed.derive("warm-up"));
    let warm_s = started.elapsed().as_secs_f64();
    let steps = planned(plan);
    let none = Schedule::default();
    let outputs: Vec<(RunOutput, f64)> = steps
        .par_iter()
        .map(|step| {
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
            Ok((out, t.elapsed().as_secs_f64()))
        })
        .collect::<Result<_, EngineError>>()?;
    let replays = match &plan.replay {
        Some(replay) => {
            let rankings: Vec<_> = steps.iter().map(|s| (s.ranking, s.reference)).collect();
            crate::replay::replay_steps(plan, replay, &rankings, seed.derive("replay"))
                .map_err(|e| family_error(e.to_string()))?
        }
        None => vec![None; steps.len()],
    };
    let Some((baseline, _)) = outputs.first() else {
        return Err(EngineError::Family(Box::new(RecsysError { reason: "nothing to run".into() })));
    };
    let mut results = Vec::with_capacity(steps.len());
    for ((step, (out, seconds)), replay) in steps.iter().zip(&outputs).zip(replays) {
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
        let mut metrics = metrics(plan, out, &fault_impacts, seed);
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
        metric("cache_hit_rate", Estimate::proportion(sum(|p| p.cache_hits), requests)),
        metric("fallback_share", Estimate::proportion(sum(|p| p.fallbacks), requests)),
        metric("error_rate", Estimate::proportion(sum(|p| p.errors), requests)),
    ];
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
    metrics
}
