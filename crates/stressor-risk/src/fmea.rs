//! Findings → FMEA rows: S, O and D through the documented scales, the RPN and the action
//! priority.

use crate::context::{Context, Process};
use crate::document::{FmeaRow, Rationale};
use crate::finding::{Control, Finding, Measured, Source};
use crate::scale::{self, ActionPriority};

/// What S, O and D are computed from: a finding, or a finding with one of its controls.
pub(crate) struct Evidence<'a> {
    pub(crate) impact: &'a Measured,
    pub(crate) rate: &'a Measured,
    pub(crate) detection: Option<&'a Measured>,
    pub(crate) mttd: Option<&'a Measured>,
}

impl<'a> Evidence<'a> {
    pub(crate) fn of(f: &'a Finding) -> Evidence<'a> {
        Evidence {
            impact: &f.impact,
            rate: &f.rate,
            detection: f.detection.as_ref(),
            mttd: f.mttd.as_ref(),
        }
    }

    pub(crate) fn with(c: &'a Control) -> Evidence<'a> {
        Evidence {
            impact: &c.impact,
            rate: &c.rate,
            detection: c.detection.as_ref(),
            mttd: c.mttd.as_ref(),
        }
    }
}

/// S, O, D and how they were obtained.
pub(crate) struct Scores {
    pub(crate) s: u8,
    pub(crate) o: u8,
    pub(crate) o_range: Option<[u8; 2]>,
    pub(crate) d: u8,
    pub(crate) per_thousand: f64,
    pub(crate) exposure: f64,
    pub(crate) exposure_stated: bool,
    pub(crate) rationale: Rationale,
}

/// Seconds per unit of a finding's times (`s` → 1, `steps` → the process's `drift_step`).
pub(crate) fn seconds_per_unit(finding: &Finding, process: Option<&Process>) -> Option<f64> {
    match finding.time_unit.as_str() {
        "steps" => process.and_then(|p| p.drift_step_s),
        _ => Some(1.0),
    }
}

pub(crate) fn score(
    finding: &Finding,
    evidence: &Evidence<'_>,
    context: &Context,
    process: Option<&Process>,
) -> Scores {
    let (exposure, exposure_stated) = context.exposure_of(finding.exposure);
    let detected = evidence.detection.is_some_and(|d| d.value > 0.0);
    let safety = process.is_some_and(|p| p.safety_critical);
    let s = scale::severity(evidence.impact.value, safety, detected);
    let o = scale::occurrence(evidence.rate.value, exposure);
    let o_range = evidence
        .rate
        .ci
        .map(|[lo, hi]| [scale::occurrence(lo, exposure), scale::occurrence(hi, exposure)]);
    let per_thousand = evidence.rate.value.max(0.0) * exposure * 1000.0;
    let mtd = process.map(|p| p.max_tolerable_downtime_s).filter(|&m| m > 0.0);
    let unit = seconds_per_unit(finding, process);
    let ratio = match (evidence.mttd, mtd, unit) {
        (Some(m), Some(mtd), Some(unit)) => Some(m.value * unit / mtd),
        _ => None,
    };
    let d = scale::detection(evidence.detection.map(|m| m.value), ratio);
    let severity = format!(
        "impact {:.3} ({}{}) → S {s}{}",
        evidence.impact.value,
        evidence.impact.cite(),
        formula(evidence.impact),
        if safety { "; safety-critical process" } else { "" }
    );
    let occurrence = format!(
        "rate {:.4} ({}{}) × exposure {exposure}{} × 1000 = {per_thousand:.3} per thousand → O {o}{}",
        evidence.rate.value,
        evidence.rate.cite(),
        formula(evidence.rate),
        if exposure_stated {
            format!(" (context: exposure.{})", finding.exposure.key())
        } else {
            format!(" (assumed: exposure.{} not in the context)", finding.exposure.key())
        },
        o_range.map_or(String::new(), |[a, b]| format!(" ({a}–{b} over the rate's 95 % interval)")),
    );
    let detection = match evidence.detection {
        None => format!("no detector exercised → D {d}"),
        Some(p) => {
            let timely = match (evidence.mttd, ratio) {
                (Some(m), Some(r)) => format!(
                    "; MTTD {} {} ({}) = {:.3} of the maximum tolerable downtime",
                    m.value,
                    finding.time_unit,
                    m.cite(),
                    r
                ),
                (Some(m), None) => format!(
                    "; MTTD {} {} ({}) not set against a tolerable downtime",
                    m.value,
                    finding.time_unit,
                    m.cite()
                ),
                _ => String::new(),
            };
            format!("detection {:.3} ({}{}){timely} → D {d}", p.value, p.cite(), formula(p))
        }
    };
    Scores {
        s,
        o,
        o_range,
        d,
        per_thousand,
        exposure,
        exposure_stated,
        rationale: Rationale { severity, occurrence, detection },
    }
}

fn formula(m: &Measured) -> String {
    if m.formula.is_empty() { String::new() } else { format!("; {}", m.formula) }
}

/// Every report field behind a finding's own numbers.
pub(crate) fn sources(f: &Finding) -> Vec<Source> {
    let mut out: Vec<Source> = Vec::new();
    let all = [
        Some(&f.impact),
        Some(&f.rate),
        f.detection.as_ref(),
        f.mttd.as_ref(),
        f.recovery.as_ref(),
        f.events_lost.as_ref(),
        f.loss.as_ref(),
        f.duration_s.as_ref(),
    ];
    for m in all.into_iter().flatten() {
        for s in &m.sources {
            if !out.contains(s) {
                out.push(s.clone());
            }
        }
    }
    out
}

pub(crate) fn rows(findings: &[Finding], context: &Context) -> Vec<FmeaRow> {
    findings
        .iter()
        .map(|f| {
            let process = context.process_for(&f.model, &f.scenario);
            let sc = score(f, &Evidence::of(f), context, process);
            let rpn = u32::from(sc.s) * u32::from(sc.o) * u32::from(sc.d);
            let ap = scale::action_priority(sc.s, sc.o, sc.d);
            FmeaRow {
                finding: f.id.clone(),
                item: f.model.clone(),
                process: process.map(|p| p.name.clone()),
                failure_mode: f.failure_mode.clone(),
                effect: f.effect.clone(),
                cause: f.condition.clone(),
                severity: sc.s,
                occurrence: sc.o,
                occurrence_range: sc.o_range,
                detection: sc.d,
                rpn,
                action_priority: ap,
                action_required: ap == ActionPriority::H || rpn >= context.rpn_threshold,
                failures_per_thousand: sc.per_thousand,
                exposure: sc.exposure,
                exposure_stated: sc.exposure_stated,
                rationale: sc.rationale,
                evidence: sources(f),
            }
        })
        .collect()
}
