//! Findings → the risk register against the appetite, with residual risk after each measured
//! control, and retraining triggers from drift and poisoning evidence.

use crate::context::Context;
use crate::document::{ControlEffect, FmeaRow, RiskEntry, Trigger};
use crate::finding::{Category, Finding, Source};
use crate::fmea::{Evidence, score, sources};
use crate::scale;

fn status(score: u8, appetite: Option<u8>) -> String {
    match appetite {
        None => "no appetite stated".into(),
        Some(a) if score > a => "above appetite".into(),
        Some(_) => "within appetite".into(),
    }
}

/// One entry per finding; `fmea` holds the findings' rows, in the same order, whose S and O
/// are the inherent risk.
pub(crate) fn entries(findings: &[Finding], fmea: &[FmeaRow], context: &Context) -> Vec<RiskEntry> {
    let mut out = Vec::new();
    for (i, (f, row)) in findings.iter().zip(fmea).enumerate() {
        let process = context.process_for(&f.model, &f.scenario);
        let (likelihood, impact) = (scale::likelihood(row.occurrence), scale::impact(row.severity));
        let inherent_score = likelihood * impact;
        let appetite = context.appetite.get(&f.category).copied();
        let controls: Vec<ControlEffect> = f
            .controls
            .iter()
            .map(|c| {
                let sc = score(f, &Evidence::with(c), context, process);
                let mut evidence: Vec<Source> = Vec::new();
                for m in [Some(&c.impact), Some(&c.rate), c.detection.as_ref(), c.mttd.as_ref()]
                    .into_iter()
                    .flatten()
                {
                    evidence.extend(m.sources.iter().cloned());
                }
                ControlEffect {
                    name: c.name.clone(),
                    kind: c.kind.clone(),
                    impact: [c.impact.value, f.impact.value],
                    sod: [sc.s, sc.o, sc.d],
                    score: scale::likelihood(sc.o) * scale::impact(sc.s),
                    evidence,
                }
            })
            .collect();
        let best = controls.iter().min_by_key(|c| (c.score, c.sod[0], c.sod[1], c.sod[2]));
        let (rl, ri) = best.map_or((likelihood, impact), |c| {
            (scale::likelihood(c.sod[1]), scale::impact(c.sod[0]))
        });
        let residual = rl * ri;
        let response = match (appetite, best) {
            (Some(a), _) if inherent_score <= a => {
                "accept: within appetite without controls".into()
            }
            (Some(a), Some(c)) if residual <= a => {
                format!(
                    "mitigate: `{}` brings it within appetite ({} → {})",
                    c.name, inherent_score, residual
                )
            }
            (Some(_), Some(c)) => format!(
                "treat further: above appetite even with the best measured control `{}` ({} → {})",
                c.name, inherent_score, residual
            ),
            (Some(_), None) => "treat: above appetite and no control measured".into(),
            (None, Some(c)) => format!(
                "state an appetite; best measured control `{}` ({} → {})",
                c.name, inherent_score, residual
            ),
            (None, None) => "state an appetite; no control measured".into(),
        };
        out.push(RiskEntry {
            id: format!("R-{:03}", i + 1),
            finding: f.id.clone(),
            risk: format!("{}: {}", f.model, f.failure_mode),
            category: f.category,
            cause: f.condition.clone(),
            evidence: sources(f),
            likelihood,
            impact,
            score: inherent_score,
            appetite,
            status: status(inherent_score, appetite),
            controls,
            residual_likelihood: rl,
            residual_impact: ri,
            residual_score: residual,
            residual_status: status(residual, appetite),
            response,
            owner: process.map_or_else(|| "unassigned".into(), |p| p.owner.clone()),
        });
    }
    out
}

/// Retraining triggers: from drift (retrain when the detector fires, or on the schedule that
/// lost least) and from poisoning (gate promotion on the monitor that caught it).
pub(crate) fn triggers(findings: &[Finding]) -> Vec<Trigger> {
    let mut out = Vec::new();
    for f in findings {
        match (f.family.as_str(), f.category) {
            ("drift", _) => {
                let mut evidence = sources(f);
                let detected = f.detection.as_ref().is_some_and(|d| d.value > 0.0);
                let best =
                    f.controls.iter().min_by(|a, b| a.impact.value.total_cmp(&b.impact.value));
                let mut rationale = format!(
                    "without retraining, accuracy falls by {:.1} % of its pre-drift level ({})",
                    100.0 * f.impact.value,
                    f.impact.cite()
                );
                if let Some(m) = &f.mttd {
                    rationale.push_str(&format!(
                        "; the drift detector fired {} {} after the drift began ({})",
                        m.value,
                        f.time_unit,
                        m.cite()
                    ));
                }
                if let Some(c) = best {
                    rationale.push_str(&format!(
                        "; {} loses {:.1} % instead ({})",
                        c.name,
                        100.0 * c.impact.value,
                        c.impact.cite()
                    ));
                    evidence.extend(c.impact.sources.iter().cloned());
                }
                let trigger = match best {
                    Some(c) if detected => format!(
                        "retrain when the drift detector fires, and adopt {} (the least accuracy lost)",
                        c.name
                    ),
                    Some(c) => format!(
                        "adopt {} (the least accuracy lost); the detector missed this drift",
                        c.name
                    ),
                    None if detected => "retrain when the drift detector fires".into(),
                    None => "add a drift detector: this drift went undetected".into(),
                };
                out.push(Trigger { model: f.model.clone(), trigger, rationale, evidence });
            }
            ("war-game", Category::Fairness) => {
                let rationale = format!(
                    "poisoned retraining data cost {:.1} % of demographic parity ({}){}",
                    100.0 * f.impact.value,
                    f.impact.cite(),
                    f.mttd.as_ref().map_or(String::new(), |m| format!(
                        "; the fairness monitor detected it after {:.1} h ({})",
                        m.value / 3600.0,
                        m.cite()
                    ))
                );
                out.push(Trigger {
                    model: f.model.clone(),
                    trigger: "before promoting a retrained model, check its demographic parity \
                              ratio on its own training rows and on live traffic (≥ 0.8, the \
                              four-fifths rule); hold retraining while the fairness monitor is \
                              alerting"
                        .into(),
                    rationale,
                    evidence: sources(f),
                });
            }
            _ => {}
        }
    }
    out
}
