//! The business impact analysis: per process, loss per hour and per incident from measured
//! impact, and measured RTO and RPO against the targets and the maximum tolerable downtime.

use crate::context::Context;
use crate::document::BiaRow;
use crate::finding::{Finding, Source};
use crate::fmea::seconds_per_unit;

pub(crate) fn rows(findings: &[Finding], context: &Context) -> Vec<BiaRow> {
    context
        .processes
        .iter()
        .map(|p| {
            let mine: Vec<&Finding> = findings
                .iter()
                .filter(|f| {
                    context.process_for(&f.model, &f.scenario).is_some_and(|q| q.name == p.name)
                })
                .collect();
            let mut evidence: Vec<Source> = Vec::new();
            let mut cite = |sources: &[Source]| {
                for s in sources {
                    if !evidence.contains(s) {
                        evidence.push(s.clone());
                    }
                }
            };
            let worst = mine.iter().max_by(|a, b| a.impact.value.total_cmp(&b.impact.value));
            if let Some(f) = worst {
                cite(&f.impact.sources);
            }
            let worst_impact = worst.map(|f| (f.impact.value, f.id.clone()));
            let loss_per_hour = worst.map(|f| p.revenue_per_hour * f.impact.value);
            let unit = |f: &Finding| seconds_per_unit(f, Some(p));
            // Degraded time of one incident: how long the stress acted plus the recovery after
            // it (a war game's MTTR already runs from the inject's start).
            let degraded = |f: &Finding| -> Option<f64> {
                let recovery = f.recovery.as_ref().zip(unit(f)).map(|(r, u)| r.value * u);
                match f.family.as_str() {
                    "war-game" => recovery.or_else(|| f.duration_s.as_ref().map(|d| d.value)),
                    _ => match (&f.duration_s, recovery) {
                        (Some(d), r) => Some(d.value + r.unwrap_or(0.0)),
                        (None, r) => r,
                    },
                }
            };
            let mut loss_per_incident: Option<(f64, String)> = None;
            for f in &mine {
                if let Some(seconds) = degraded(f) {
                    let loss = p.revenue_per_hour * f.impact.value * seconds / 3600.0
                        + p.cost_per_incident;
                    if loss_per_incident.as_ref().is_none_or(|(best, _)| loss > *best) {
                        loss_per_incident = Some((loss, f.id.clone()));
                    }
                }
            }
            if let Some((_, id)) = &loss_per_incident
                && let Some(f) = mine.iter().find(|f| &f.id == id)
            {
                cite(&f.impact.sources);
                for m in [&f.duration_s, &f.recovery].into_iter().flatten() {
                    cite(&m.sources);
                }
            }
            let (measured_rto, rto_status, sources) = recovery(&mine, p, false);
            cite(&sources);
            let (controlled_rto, controlled_status, sources) = recovery(&mine, p, true);
            cite(&sources);
            let measured_rpo = mine
                .iter()
                .filter_map(|f| f.events_lost.as_ref().map(|e| (e, f)))
                .max_by(|a, b| a.0.value.total_cmp(&b.0.value));
            if let Some((e, _)) = measured_rpo {
                cite(&e.sources);
            }
            let measured_rpo_events = measured_rpo.map(|(e, f)| (e.value as u64, f.id.clone()));
            let rpo_status = match (&measured_rpo_events, p.rpo_events) {
                (None, _) => "not measured".into(),
                (Some(_), None) => "no target".into(),
                (Some((e, _)), Some(t)) if *e > t => "misses RPO".into(),
                (Some(_), Some(_)) => "meets RPO".into(),
            };
            BiaRow {
                process: p.name.clone(),
                owner: p.owner.clone(),
                models: p.models.clone(),
                findings: mine.iter().map(|f| f.id.clone()).collect(),
                revenue_per_hour: p.revenue_per_hour,
                worst_impact,
                loss_per_hour,
                loss_per_incident,
                measured_rto_s: measured_rto,
                measured_rto_with_controls_s: controlled_rto,
                rto_status_with_controls: controlled_status,
                rto_target_s: p.rto_s,
                max_tolerable_downtime_s: p.max_tolerable_downtime_s,
                rto_status,
                measured_rpo_events,
                rpo_target_events: p.rpo_events,
                rpo_status,
                evidence,
            }
        })
        .collect()
}

/// The longest recovery over `findings` in seconds, with its finding, its status against the
/// process's RTO and MTD, and its sources. `with_controls`: each finding's recovery is its best
/// measured control's (the shortest), a finding without controls keeps its own.
fn recovery(
    findings: &[&Finding],
    p: &crate::context::Process,
    with_controls: bool,
) -> (Option<(f64, String)>, String, Vec<Source>) {
    let mut longest: Option<(f64, String)> = None;
    let mut unrecovered: Option<String> = None;
    let mut sources = Vec::new();
    for f in findings {
        let Some(unit) = seconds_per_unit(f, Some(p)) else { continue };
        let recovered = if with_controls && !f.controls.is_empty() {
            f.controls
                .iter()
                .filter_map(|c| c.recovery.as_ref())
                .min_by(|a, b| a.value.total_cmp(&b.value))
        } else {
            f.recovery.as_ref()
        };
        match recovered {
            Some(r) => {
                let s = r.value * unit;
                if longest.as_ref().is_none_or(|(best, _)| s > *best) {
                    longest = Some((s, f.id.clone()));
                    sources = r.sources.clone();
                }
            }
            None if f.duration_s.is_some() || f.time_unit == "steps" => {
                unrecovered.get_or_insert_with(|| f.id.clone());
            }
            None => {}
        }
    }
    let status = match (&unrecovered, &longest) {
        (Some(id), _) => format!("not recovered in the run ({id})"),
        (None, Some((s, _))) if *s > p.max_tolerable_downtime_s => "exceeds MTD".into(),
        (None, Some((s, _))) if *s > p.rto_s => "misses RTO".into(),
        (None, Some(_)) => "meets RTO".into(),
        (None, None) => "not measured".into(),
    };
    (longest, status, sources)
}
