//! War-game reports: each incident as the team without a response played it is a failure
//! mode; the same incident under every other blue team is a control (its playbook).

use stressor_schema::{EntryKind, Incident, Step, StepKind, WargameDetail};

use super::{Cited, control, new_finding, percent};
use crate::finding::{Category, Exposure, Finding, Measured};

pub(super) fn findings(report: &Cited<'_>) -> Vec<Finding> {
    let teams: Vec<(usize, &Step, &WargameDetail)> = report
        .steps()
        .filter(|(_, s)| s.kind == StepKind::WarGame)
        .filter_map(|(si, s)| s.wargame.as_ref().map(|w| (si, s, w)))
        .collect();
    // Inherent risk: the team that took no action, else the first team.
    let Some(&(si, step, detail)) = teams
        .iter()
        .find(|(_, _, w)| !w.timeline.iter().any(|e| e.kind == EntryKind::Action))
        .or(teams.first())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (ii, incident) in detail.incidents.iter().enumerate() {
        let Some(m) = measure(report, si, detail, ii) else { continue };
        let (category, exposure, effect) = classify(&incident.technique);
        let condition = format!(
            "{} `{}` on {} ({})",
            incident.technique.replace('_', " "),
            incident.inject,
            incident.model,
            incident.atlas.join(", ")
        );
        let failure_mode = format!("{} ({})", m.what, percent(m.impact.value));
        let mut f = new_finding(
            report,
            "war-game",
            step,
            &incident.inject,
            (category, exposure),
            (condition, failure_mode, effect.into()),
            m.impact,
            m.rate,
        );
        f.model = incident.model.clone();
        f.atlas = incident.atlas.clone();
        f.detection = Some(m.detected);
        f.mttd = m.mttd;
        f.recovery = m.recovery;
        f.duration_s = Some(m.duration);
        for &(ti, _, other) in &teams {
            if ti == si {
                continue;
            }
            let Some(oi) = other.incidents.iter().position(|i| i.inject == incident.inject) else {
                continue;
            };
            if let Some(m) = measure(report, ti, other, oi) {
                let mut c =
                    control(format!("blue team `{}`", other.team), "playbook", m.impact, m.rate);
                c.detection = Some(m.detected);
                c.mttd = m.mttd;
                c.recovery = m.recovery;
                f.controls.push(c);
            }
        }
        out.push(f);
    }
    out
}

fn classify(technique: &str) -> (Category, Exposure, &'static str) {
    match technique {
        "label_flip" => (
            Category::Fairness,
            Exposure::Poisoning,
            "a protected group is refused more often (poisoned retraining)",
        ),
        "evasion" => (Category::Security, Exposure::Adversarial, "fraud passes undetected"),
        "dos" => (Category::Security, Exposure::Surge, "customers are refused service"),
        "tamper" => (Category::Security, Exposure::Tampering, "a backdoored model decides"),
        "drift" => (Category::Drift, Exposure::Drift, "the model decides on a changed world"),
        _ => (Category::Security, Exposure::Adversarial, "the model's decisions are spoiled"),
    }
}

struct Measures {
    what: String,
    impact: Measured,
    rate: Measured,
    detected: Measured,
    mttd: Option<Measured>,
    recovery: Option<Measured>,
    duration: Measured,
}

/// The incident's measurements: its impact from the ground-truth series of the attacked model
/// over the incident (from its start to its end, or the end of the game).
fn measure(report: &Cited<'_>, si: usize, detail: &WargameDetail, ii: usize) -> Option<Measures> {
    let incident: &Incident = detail.incidents.get(ii)?;
    let at = format!("/steps/{si}/wargame/incidents/{ii}");
    let end = if incident.end_s.is_nan() { detail.duration_s } else { incident.end_s };
    let (series, kind, what) = match incident.technique.as_str() {
        "label_flip" => ("true_dp_ratio", Kind::OneMinusMin, "demographic parity ratio lost"),
        "tamper" => ("true_accuracy", Kind::RelativeDrop, "accuracy lost"),
        "evasion" | "drift" => ("true_recall", Kind::RelativeDrop, "fraud recall lost"),
        "dos" => ("true_dropped", Kind::Max, "share of customers' queries dropped"),
        _ => return None,
    };
    let name = format!("{}.{series}", incident.model);
    let (wi, s) = detail.series.iter().enumerate().find(|(_, s)| s.name == name)?;
    let inside: Vec<(usize, f64)> = s
        .points
        .iter()
        .enumerate()
        .filter(|(_, (t, _))| *t >= incident.start_s && *t <= end)
        .filter_map(|(k, (_, v))| v.map(|v| (k, v)))
        .collect();
    let point = |k: usize| report.source(format!("/steps/{si}/wargame/series/{wi}/points/{k}"));
    // The last value before the inject: what a relative drop is measured against.
    let before = s
        .points
        .iter()
        .enumerate()
        .rfind(|(_, (t, v))| *t < incident.start_s && v.is_some())
        .and_then(|(pk, (_, v))| v.map(|v| (pk, v)));
    if matches!(kind, Kind::RelativeDrop) && before.is_none() {
        return None;
    }
    let pre = before.map_or(1.0, |(_, v)| v);
    // The share of the function lost at one tick whose value is `v`.
    let loss = |v: f64| match kind {
        Kind::OneMinusMin => (1.0 - v).clamp(0.0, 1.0),
        Kind::Max => v.clamp(0.0, 1.0),
        Kind::RelativeDrop if pre > 0.0 => (1.0 - v / pre).clamp(0.0, 1.0),
        Kind::RelativeDrop => 0.0,
    };
    // The share of decisions spoiled, averaged from the inject's start to the end of the game:
    // a team that recovers sooner spoils fewer.
    let after: Vec<f64> = s
        .points
        .iter()
        .filter(|(t, _)| *t >= incident.start_s)
        .filter_map(|(_, v)| v.map(loss))
        .collect();
    let rate = Measured {
        value: if after.is_empty() { 0.0 } else { after.iter().sum::<f64>() / after.len() as f64 },
        n: after.len() as u64,
        ci: None,
        sources: vec![report.source(format!("/steps/{si}/wargame/series/{wi}/points"))],
        formula: format!(
            "mean per-tick loss of {name} from the inject's start to the end of the game"
        ),
    };
    // The worst tick of the incident.
    let by_value = |a: &&(usize, f64), b: &&(usize, f64)| a.1.total_cmp(&b.1);
    let &(k, v) = match kind {
        Kind::Max => inside.iter().max_by(by_value),
        Kind::OneMinusMin | Kind::RelativeDrop => inside.iter().min_by(by_value),
    }?;
    let (sources, formula) = match (kind, before) {
        (Kind::OneMinusMin, _) => (vec![point(k)], format!("1 − min {name} during the incident")),
        (Kind::Max, _) => (vec![point(k)], format!("max {name} during the incident")),
        (Kind::RelativeDrop, Some((pk, _))) => (
            vec![point(pk), point(k)],
            format!("1 − min {name} during the incident / its value before"),
        ),
        (Kind::RelativeDrop, None) => return None,
    };
    let value = loss(v);
    let impact = Measured { value, n: inside.len() as u64, ci: None, sources, formula };
    Some(Measures {
        what: what.into(),
        impact,
        rate,
        detected: report.measured(&incident.detected, format!("{at}/detected")),
        mttd: incident.mttd_s.as_ref().map(|m| report.measured(m, format!("{at}/mttd_s"))),
        recovery: incident.mttr_s.as_ref().map(|m| report.measured(m, format!("{at}/mttr_s"))),
        duration: report.exact(end - incident.start_s, 0, format!("{at}/start_s")),
    })
}

#[derive(Clone, Copy)]
enum Kind {
    OneMinusMin,
    RelativeDrop,
    Max,
}
