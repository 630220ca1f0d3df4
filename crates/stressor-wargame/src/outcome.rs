//! From games to figures: per inject its times to detect, act and recover; the impact; the
//! red and blue scores; each over every seed, with its interval.
//!
//! Definitions (times from the inject's start; an inject's interval runs to the next inject
//! on the same model, or the end):
//!
//! - **MTTD**: to the first alert of any monitor on the inject's model;
//! - **MTTA**: to the first blue action on that model that succeeded;
//! - **MTTR**: to the end of the first tick, after the model first became unhealthy (in the
//!   referee's judgement), that starts `sustain` healthy ticks in a row. An inject after which
//!   the model never became unhealthy had no impact and has no MTTR.
//! - **red score**: the share of the time from each inject to the end of its interval during
//!   which its model was unhealthy, averaged over injects, × 100;
//! - **blue score**: per inject ½ × (1 − MTTD / H) when detected plus ½ × (1 − MTTR / H) when
//!   recovered (½ when there was no impact), H the time from the inject to the end; averaged
//!   over injects, × 100.

use std::collections::BTreeMap;

use stressor_core::{
    EntryKind, Estimate, ImpactRow, Incident, MetricValue, Seed, Side, WargameDetail, WargameSeries,
};

use crate::fleet::ChatOutcome;
use crate::game::{Arm, GameResult};
use crate::plan::WargamePlan;

/// One inject in one game.
#[derive(Debug, Clone, Default)]
pub(crate) struct SeedIncident {
    pub(crate) detected: Option<(f64, String)>,
    pub(crate) acted: Option<f64>,
    pub(crate) impacted: Option<f64>,
    pub(crate) recovered: Option<f64>,
}

/// One game's incidents, impact and scores.
#[derive(Debug, Clone, Default)]
pub(crate) struct SeedOutcome {
    pub(crate) incidents: Vec<SeedIncident>,
    pub(crate) impact: Vec<(&'static str, String, String, String, f64)>,
    pub(crate) red_score: f64,
    pub(crate) blue_score: f64,
}

/// Judges one game.
pub(crate) fn judge(plan: &WargamePlan, game: &GameResult) -> SeedOutcome {
    let mut incidents = Vec::new();
    let (mut red, mut blue) = (0.0, 0.0);
    for inject in &plan.injects {
        let until = plan
            .injects
            .iter()
            .filter(|i| i.model == inject.model && i.at_s > inject.at_s)
            .map(|i| i.at_s)
            .fold(plan.duration_s, f64::min);
        let model = inject.model.as_str();
        let inside = |t: f64| t >= inject.at_s && t < until.max(inject.at_s + plan.tick_s);
        let detected = game
            .timeline
            .iter()
            .find(|e| e.kind == EntryKind::Detection && e.model == model && inside(e.t_s))
            .map(|e| (e.t_s - inject.at_s, e.id.clone()));
        let acted = game
            .timeline
            .iter()
            .find(|e| {
                e.kind == EntryKind::Action
                    && e.side == Side::Blue
                    && e.model == model
                    && inside(e.t_s)
            })
            .map(|e| e.t_s - inject.at_s);
        let health = game.health.get(model).map_or(&[][..], Vec::as_slice);
        let after: Vec<_> =
            health.iter().filter(|h| h.t > inject.at_s && h.t <= until + 1e-9).collect();
        let first_bad = after.iter().position(|h| !h.healthy);
        let impacted = first_bad.map(|k| after[k].t - inject.at_s);
        let recovered = first_bad.and_then(|k| {
            (k + 1..after.len())
                .find(|&j| {
                    let run = &after[j..(j + plan.recovery.sustain).min(after.len())];
                    !run.is_empty()
                        && run.iter().all(|h| h.healthy)
                        && (run.len() == plan.recovery.sustain || j + run.len() == after.len())
                })
                .map(|j| after[j].t - inject.at_s)
        });
        let harm_share = if after.is_empty() {
            0.0
        } else {
            after.iter().filter(|h| !h.healthy).count() as f64 / after.len() as f64
        };
        let horizon = (plan.duration_s - inject.at_s).max(plan.tick_s);
        red += harm_share;
        blue += detected.as_ref().map_or(0.0, |(d, _)| 0.5 * (1.0 - d / horizon).max(0.0))
            + match (impacted, recovered) {
                (None, _) => 0.5,
                (Some(_), Some(r)) => 0.5 * (1.0 - r / horizon).max(0.0),
                (Some(_), None) => 0.0,
            };
        incidents.push(SeedIncident { detected, acted, impacted, recovered });
    }
    let n = plan.injects.len().max(1) as f64;
    SeedOutcome {
        incidents,
        impact: impact(plan, game),
        red_score: 100.0 * red / n,
        blue_score: 100.0 * blue / n,
    }
}

fn impact(
    plan: &WargamePlan,
    game: &GameResult,
) -> Vec<(&'static str, String, String, String, f64)> {
    let c = &plan.costs;
    let mut out = Vec::new();
    let groups = plan.credit.protected.groups();
    let wrong = game.credit.iter().filter(|k| k.approved != k.good).count() as f64;
    let good_denied = game.credit.iter().filter(|k| k.good && !k.approved).count() as f64;
    let bad_approved = game.credit.iter().filter(|k| !k.good && k.approved).count() as f64;
    let good_approved = game.credit.iter().filter(|k| k.good && k.approved).count() as f64;
    out.push(("credit", "wrong_decisions".to_string(), String::new(), "decisions".into(), wrong));
    out.push((
        "credit",
        "approvals_lost".to_string(),
        String::new(),
        "applicants".into(),
        good_denied,
    ));
    out.push((
        "credit",
        "wrongly_granted".to_string(),
        String::new(),
        "applicants".into(),
        bad_approved,
    ));
    for (g, name) in groups.iter().enumerate() {
        let g = u8::from(g == 1);
        let lost =
            game.credit.iter().filter(|k| k.group == g && k.good && !k.approved).count() as f64;
        let granted =
            game.credit.iter().filter(|k| k.group == g && !k.good && k.approved).count() as f64;
        out.push((
            "credit",
            "approvals_lost".to_string(),
            (*name).to_string(),
            "applicants".into(),
            lost,
        ));
        out.push((
            "credit",
            "wrongly_granted".to_string(),
            (*name).to_string(),
            "applicants".into(),
            granted,
        ));
    }
    let fraud_loss: f64 =
        game.fraud.iter().filter(|f| f.fraud && !f.blocked).map(|f| f.amount).sum();
    out.push(("fraud", "fraud_loss".to_string(), String::new(), c.currency.clone(), fraud_loss));
    let dropped =
        game.chat.iter().filter(|k| matches!(k.outcome, ChatOutcome::Dropped { .. })).count()
            as f64;
    out.push((
        "chatbot",
        "requests_dropped".to_string(),
        String::new(),
        "requests".into(),
        dropped,
    ));
    let wrong_answers = game
        .chat
        .iter()
        .filter(|k| matches!(k.outcome, ChatOutcome::Answered { intent, handoff: false, .. } if intent != k.truth))
        .count() as f64;
    out.push((
        "chatbot",
        "wrong_answers".to_string(),
        String::new(),
        "answers".into(),
        wrong_answers,
    ));
    let reviews = (game.credit.iter().filter(|k| k.arm == Arm::Human).count()
        + game.fraud.iter().filter(|k| k.arm == Arm::Human).count()
        + game.chat.iter().filter(|k| k.human).count()) as f64;
    out.push(("all", "human_reviews".to_string(), String::new(), "cases".into(), reviews));
    let revenue = c.approval_margin * good_approved
        - c.default_loss * bad_approved
        - fraud_loss
        - c.human_review * reviews
        - c.dropped_request * dropped;
    let cost = c.default_loss * bad_approved
        + c.approval_margin * good_denied
        + fraud_loss
        + c.human_review * reviews
        + c.dropped_request * dropped;
    out.push(("all", "revenue".to_string(), String::new(), c.currency.clone(), revenue));
    out.push(("all", "cost".to_string(), String::new(), c.currency.clone(), cost));
    out
}

/// The step's detail and metrics over every seed's game.
#[allow(clippy::too_many_arguments)]
pub(crate) fn summarise(
    plan: &WargamePlan,
    step_id: &str,
    team: &str,
    seeds: &[u64],
    registry: &str,
    games: &[GameResult],
    outcomes: &[SeedOutcome],
    seed: Seed,
) -> (WargameDetail, Vec<MetricValue>) {
    let mut metrics: Vec<MetricValue> = Vec::new();
    let push = |metrics: &mut Vec<MetricValue>, name: String, estimate: Estimate| {
        metrics.push(MetricValue { name, estimate })
    };
    let mean = |values: &[f64], label: &str| Estimate::mean(values, seed.derive(label));
    let mut incidents = Vec::new();
    let (mut all_d, mut all_a, mut all_r) = (Vec::new(), Vec::new(), Vec::new());
    let (mut n_detected, mut n_recovered, mut n_total) = (0u64, 0u64, 0u64);
    for (k, inject) in plan.injects.iter().enumerate() {
        let per: Vec<&SeedIncident> = outcomes.iter().map(|o| &o.incidents[k]).collect();
        let d: Vec<f64> = per.iter().filter_map(|i| i.detected.as_ref().map(|d| d.0)).collect();
        let a: Vec<f64> = per.iter().filter_map(|i| i.acted).collect();
        let r: Vec<f64> = per.iter().filter_map(|i| i.recovered).collect();
        let recovered =
            per.iter().filter(|i| i.recovered.is_some() || i.impacted.is_none()).count() as u64;
        n_detected += d.len() as u64;
        n_recovered += recovered;
        n_total += per.len() as u64;
        all_d.extend(&d);
        all_a.extend(&a);
        all_r.extend(&r);
        let opt = |v: &[f64], label: String| (!v.is_empty()).then(|| mean(v, &label));
        let mttd = opt(&d, format!("mttd/{}", inject.id));
        let mtta = opt(&a, format!("mtta/{}", inject.id));
        let mttr = opt(&r, format!("mttr/{}", inject.id));
        for (name, value) in [("mttd_s", &mttd), ("mtta_s", &mtta), ("mttr_s", &mttr)] {
            if let Some(v) = value {
                push(&mut metrics, format!("{name}.{}", inject.id), *v);
            }
        }
        let mut effort: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        for game in games {
            if let Some(e) = game.effort.get(&inject.id) {
                for (what, v) in e {
                    effort.entry(what).or_default().push(*v);
                }
            }
        }
        incidents.push(Incident {
            inject: inject.id.clone(),
            model: inject.model.as_str().into(),
            technique: inject.technique.name().into(),
            atlas: inject.technique.atlas().iter().map(|s| (*s).to_string()).collect(),
            start_s: inject.at_s,
            end_s: inject.end_s,
            detected_by: per
                .first()
                .and_then(|i| i.detected.as_ref().map(|d| d.1.clone()))
                .unwrap_or_default(),
            detected: Estimate::proportion(d.len() as u64, per.len() as u64),
            recovered: Estimate::proportion(recovered, per.len() as u64),
            mttd_s: mttd,
            mtta_s: mtta,
            mttr_s: mttr,
            effort: effort
                .into_iter()
                .map(|(what, v)| {
                    (what.to_string(), mean(&v, &format!("effort/{}/{what}", inject.id)))
                })
                .collect(),
        });
    }
    for (name, values) in
        [("mttd_s.mean", &all_d), ("mtta_s.mean", &all_a), ("mttr_s.mean", &all_r)]
    {
        if !values.is_empty() {
            push(&mut metrics, name.into(), mean(values, name));
        }
    }
    push(&mut metrics, "detected_share".into(), Estimate::proportion(n_detected, n_total));
    push(&mut metrics, "recovered_share".into(), Estimate::proportion(n_recovered, n_total));
    let scores = |f: fn(&SeedOutcome) -> f64| outcomes.iter().map(f).collect::<Vec<f64>>();
    push(&mut metrics, "red_score".into(), mean(&scores(|o| o.red_score), "red"));
    push(&mut metrics, "blue_score".into(), mean(&scores(|o| o.blue_score), "blue"));
    let fp: Vec<f64> = games.iter().map(|g| g.sanitised.1 as f64).collect();
    push(&mut metrics, "false_positive_rows".into(), mean(&fp, "fp"));
    let tp: Vec<f64> = games.iter().map(|g| g.sanitised.0 as f64).collect();
    push(&mut metrics, "poisoned_rows_dropped".into(), mean(&tp, "tp"));
    let mut impact = Vec::new();
    if let Some(first) = outcomes.first() {
        for (k, (model, metric, group, unit, _)) in first.impact.iter().enumerate() {
            let values: Vec<f64> = outcomes.iter().map(|o| o.impact[k].4).collect();
            let estimate = mean(&values, &format!("impact/{metric}/{group}"));
            let name = if group.is_empty() {
                format!("impact.{metric}")
            } else {
                format!("impact.{metric}.{group}")
            };
            if !(metric == "approvals_lost" || metric == "wrongly_granted")
                || !group.is_empty()
                || !metrics.iter().any(|m| m.name == name)
            {
                push(&mut metrics, name, estimate);
            }
            impact.push(ImpactRow {
                model: (*model).into(),
                metric: metric.clone(),
                group: group.clone(),
                unit: unit.clone(),
                value: estimate,
            });
        }
    }
    let first = games.first();
    let series = first.map_or_else(Vec::new, |g| {
        g.series
            .iter()
            .map(|(name, points)| WargameSeries {
                name: name.clone(),
                model: name.split('.').next().unwrap_or("").into(),
                threshold: g.thresholds.get(name).copied(),
                points: points.clone(),
            })
            .collect()
    });
    let detail = WargameDetail {
        step_id: step_id.into(),
        team: team.into(),
        seeds: seeds.to_vec(),
        duration_s: plan.duration_s,
        tick_s: plan.tick_s,
        clock: match plan.clock {
            crate::plan::ClockKind::Simulated => "simulated".into(),
            crate::plan::ClockKind::Realtime => "realtime".into(),
        },
        registry: registry.into(),
        timeline: first.map_or_else(Vec::new, |g| g.timeline.clone()),
        incidents,
        impact,
        series,
        alias_changes: first.map_or_else(Vec::new, |g| g.alias_moves.clone()),
    };
    (detail, metrics)
}
