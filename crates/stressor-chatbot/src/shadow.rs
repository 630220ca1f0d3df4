//! Shadow deployment: a candidate model gets a mirrored copy of the traffic — the clean
//! queries and every perturbation at its strongest — without answering users. Agreement with
//! the live model, accuracy of each on the labelled share, the candidate's latency, and a
//! promote/hold decision from the scenario's promotion gates.

use std::time::Instant;

use std::sync::Arc;
use stressor_core::{ChatbotDetail, Estimate, MetricValue, ShadowDecision, StepResult};

use stressor_intent::{IntentModel, Query, Reply};
use stressor_scenario::{EngineError, RunContext};
use stressor_serve::chat::ShadowStats;

use crate::plan::{ShadowPlan, StressKind};
use crate::run::{Context, finish, point, replies, started};

fn metric(name: &str, estimate: Estimate) -> MetricValue {
    MetricValue { name: name.to_owned(), estimate }
}

/// The answer as an intent or nothing (declines, failures and unmapped replies alike).
fn top(reply: &Reply) -> Option<u32> {
    reply.intent().map(|(i, _)| i)
}

/// Per-query latencies of `model` in ms, one call per query.
fn latencies(model: &dyn IntentModel, texts: &[String]) -> Vec<f64> {
    texts
        .iter()
        .map(|t| {
            let start = Instant::now();
            let _ = model.reply(&[t.as_str()]);
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect()
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((q * (sorted.len() - 1) as f64).round() as usize).min(sorted.len() - 1)]
}

pub(crate) fn shadow_step(
    ctx: &mut Context<'_>,
    run: &mut RunContext<'_>,
    shadow: &ShadowPlan,
    candidate: Arc<dyn IntentModel>,
    under_load: Option<ShadowStats>,
) -> Result<StepResult, EngineError> {
    let (info, t) = started(
        run,
        "shadow",
        format!(
            "the candidate ({}) answers a mirrored copy of the traffic — the clean queries and each perturbation at its strongest — without answering users",
            candidate.describe()
        ),
        None,
    );
    // The mirrored traffic.
    let mut traffic: Vec<(Query, String)> =
        ctx.queries.iter().map(|q| (q.clone(), q.text.clone())).collect();
    for stress in &ctx.plan.stresses {
        let StressKind::Perturbation(name) = &stress.kind else { continue };
        let (Ok(p), Some(&dial)) =
            (name.parse::<stressor_text::Perturbation>(), stress.dial.last())
        else {
            continue;
        };
        let seed = ctx.seed.derive(&format!("stress/{}", stress.id));
        traffic.extend(ctx.queries.iter().enumerate().map(|(i, q)| {
            let mut rng = seed.derive_index(i as u64).rng();
            (q.clone(), p.apply(&q.text, dial, &mut rng))
        }));
    }
    let texts: Vec<String> = traffic.iter().map(|(_, t)| t.clone()).collect();
    let live = replies(ctx.model.as_ref(), &texts)?;
    let cand = replies(candidate.as_ref(), &texts)?;
    let n = texts.len() as u64;
    let agreed = live.iter().zip(&cand).filter(|(a, b)| top(a) == top(b)).count() as u64;
    // The labelled share: every k-th mirrored query, in-scope ones scored on accuracy.
    let stride = if shadow.labelled_share > 0.0 {
        (1.0 / shadow.labelled_share).round().max(1.0) as usize
    } else {
        usize::MAX
    };
    let labelled: Vec<usize> = (0..traffic.len())
        .filter(|i| stride != usize::MAX && i % stride == 0 && traffic[*i].0.intent.is_some())
        .collect();
    let right = |r: &[Reply]| {
        labelled.iter().filter(|&&i| top(&r[i]) == traffic[i].0.intent).count() as u64
    };
    let (live_right, cand_right, m) = (right(&live), right(&cand), labelled.len() as u64);
    // Latency, one call per query, on a sample of the traffic (the same for both).
    let sample: Vec<String> = texts.iter().step_by((texts.len() / 300).max(1)).cloned().collect();
    let mut live_ms = latencies(ctx.model.as_ref(), &sample);
    let mut cand_ms = latencies(candidate.as_ref(), &sample);
    live_ms.sort_by(f64::total_cmp);
    cand_ms.sort_by(f64::total_cmp);
    let ms = |v: &[f64], q: f64| Estimate { value: quantile(v, q), n: v.len() as u64, ci: None };
    let mut metrics = vec![metric("agreement", Estimate::proportion(agreed, n))];
    if m > 0 {
        metrics.push(metric("live_accuracy", Estimate::proportion(live_right, m)));
        metrics.push(metric("candidate_accuracy", Estimate::proportion(cand_right, m)));
        metrics.push(metric(
            "accuracy_gain",
            Estimate::proportion_difference(cand_right, m, live_right, m),
        ));
    }
    metrics.push(metric("live_p50_ms", ms(&live_ms, 0.5)));
    metrics.push(metric("live_p99_ms", ms(&live_ms, 0.99)));
    metrics.push(metric("candidate_p50_ms", ms(&cand_ms, 0.5)));
    metrics.push(metric("candidate_p99_ms", ms(&cand_ms, 0.99)));
    if let Some(stats) = &under_load {
        // The server mirrored every answered query of the surge to the candidate, off the
        // user's path.
        metrics.push(metric("mirrored", Estimate::exact(stats.mirrored as f64, stats.mirrored)));
        metrics.push(metric(
            "dropped_mirrors",
            Estimate::exact(stats.dropped as f64, stats.mirrored + stats.dropped),
        ));
        metrics.push(metric(
            "agreement_under_load",
            Estimate::proportion(stats.agreed, stats.mirrored.saturating_sub(stats.failed)),
        ));
        let n = stats.latency.len();
        if n > 0 {
            let at = |q: f64| Estimate {
                value: stats.latency.value_at_quantile(q) as f64 / 1000.0,
                n,
                ci: None,
            };
            metrics.push(metric("candidate_p50_ms_under_load", at(0.5)));
            metrics.push(metric("candidate_p99_ms_under_load", at(0.99)));
        }
    }
    let mut reasons = Vec::new();
    let mut promote = !shadow.promote_if.is_empty();
    for gate in &shadow.promote_if {
        let seen = metrics.iter().find(|m| m.name == gate.metric).map(|m| m.estimate.value);
        let held = seen
            .is_some_and(|v| if gate.at_least { v >= gate.threshold } else { v <= gate.threshold });
        promote &= held;
        reasons.push(format!(
            "{} {} {} {}: observed {}",
            if held { "held" } else { "failed" },
            gate.metric,
            if gate.at_least { "≥" } else { "≤" },
            gate.threshold,
            seen.map_or_else(|| "nothing".to_owned(), |v| format!("{v:.4}"))
        ));
    }
    if shadow.promote_if.is_empty() {
        reasons.push("no promotion gate: hold until one is stated".into());
    }
    metrics.push(metric("promote", Estimate::exact(if promote { 1.0 } else { 0.0 }, 1)));
    let detail = ChatbotDetail {
        step_id: "shadow".into(),
        decision: Some(ShadowDecision { promote, reasons }),
        ..ChatbotDetail::default()
    };
    let parameters = vec![
        ("candidate".to_owned(), candidate.describe()),
        ("labelled share".to_owned(), shadow.labelled_share.to_string()),
    ];
    Ok(finish(run, info, t, parameters, vec![point(None, metrics)], detail))
}
