//! Drift reports: the drift under no retraining is the failure mode; the retraining policies
//! are its controls.

use stressor_schema::{Step, StepKind};

use super::{Cited, control, new_finding, percent};
use crate::finding::{Category, Control, Exposure, Finding, Measured};

pub(super) fn findings(report: &Cited<'_>) -> Vec<Finding> {
    let drift: Vec<(usize, &Step)> = report
        .steps()
        .filter(|(_, s)| s.kind == StepKind::Drift && s.drift_timeline.is_some())
        .collect();
    let Some(&(si, step)) = drift
        .iter()
        .find(|(_, s)| s.drift_timeline.as_ref().is_some_and(|t| t.policy == "none"))
        .or(drift.first())
    else {
        return Vec::new();
    };
    let Some((impact, rate, detection, mttd, recovery)) = measure(report, si, step) else {
        return Vec::new();
    };
    let params = |key: &str| step.parameters.get(key).cloned().unwrap_or_default();
    let condition = format!("drift: {} (policy `{}`)", params("transforms"), params("policy"));
    let failure_mode = format!(
        "accuracy falls by {} of its pre-drift level on average after the drift starts",
        percent(impact.value)
    );
    let mut f = new_finding(
        report,
        "drift",
        step,
        "",
        (Category::Drift, Exposure::Drift),
        (condition, failure_mode, "decisions made on a world that has changed".into()),
        impact,
        rate,
    );
    f.detection = detection;
    f.mttd = mttd;
    f.time_unit = "steps".into();
    f.recovery = recovery;
    for &(ci, other) in &drift {
        if ci == si {
            continue;
        }
        if let Some((impact, rate, detection, mttd, recovery)) = measure(report, ci, other) {
            let policy = other.drift_timeline.as_ref().map_or("", |t| t.policy.as_str());
            let c = Control {
                detection,
                mttd,
                recovery,
                ..control(format!("retraining policy `{policy}`"), "retraining", impact, rate)
            };
            f.controls.push(c);
        }
    }
    vec![f]
}

type Measures = (Measured, Measured, Option<Measured>, Option<Measured>, Option<Measured>);

fn measure(report: &Cited<'_>, si: usize, step: &Step) -> Option<Measures> {
    let timeline = step.drift_timeline.as_ref()?;
    let lost = report.metric(si, 0, "accuracy_lost")?;
    let pre = report.metric(si, 0, "pre_drift_accuracy")?;
    let steps = lost.n;
    let drifted = steps.saturating_sub(timeline.drift_start).max(1) as f64;
    let mut sources = lost.sources.clone();
    sources.extend(pre.sources.clone());
    sources.push(report.source(format!("/steps/{si}/drift_timeline/drift_start")));
    let rate = Measured {
        value: (lost.value / drifted).clamp(0.0, 1.0),
        n: steps,
        ci: None,
        sources: sources.clone(),
        formula:
            "accuracy_lost / (stream steps − drift_start): accuracy points lost per drifted step"
                .into(),
    };
    let impact = Measured {
        value: if pre.value > 0.0 { (rate.value / pre.value).clamp(0.0, 1.0) } else { 0.0 },
        n: steps,
        ci: None,
        sources,
        formula: "accuracy_lost / (stream steps − drift_start) / pre_drift_accuracy".into(),
    };
    let detected =
        timeline.events.iter().position(|e| e.kind == "detected" && e.step >= timeline.drift_start);
    let detection = Some(Measured {
        value: if detected.is_some() { 1.0 } else { 0.0 },
        n: 1,
        ci: None,
        sources: vec![report.source(match detected {
            Some(ei) => format!("/steps/{si}/drift_timeline/events/{ei}"),
            None => format!("/steps/{si}/drift_timeline/events"),
        })],
        formula: "1 drift episode: detected (1) or not (0)".into(),
    });
    let mttd = report.metric(si, 0, "time_to_detect_steps");
    let recovery = report.metric(si, 0, "time_to_recover_steps");
    Some((impact, rate, detection, mttd, recovery))
}
