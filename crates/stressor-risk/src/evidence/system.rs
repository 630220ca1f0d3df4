//! `[system]` reports: each fault or surge window against the served model.

use stressor_schema::StepKind;

use super::{Cited, new_finding, percent};
use crate::finding::{Category, Exposure, Finding, Measured};

pub(super) fn findings(report: &Cited<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for (si, step) in report.steps() {
        if step.kind != StepKind::System {
            continue;
        }
        let Some(timeline) = &step.timeline else { continue };
        let baseline_accuracy = report.metric(si, 0, "accuracy.baseline");
        for (wi, window) in timeline.windows.iter().enumerate() {
            let name = &window.name;
            let Some(errors) = report.metric(si, 0, &format!("error_rate.{name}")) else {
                continue;
            };
            // Requests that failed, or were answered wrongly beyond the baseline's error.
            let accuracy = report.metric(si, 0, &format!("accuracy.{name}"));
            let impact = match (&accuracy, &baseline_accuracy) {
                (Some(a), Some(b)) if b.value > 0.0 => {
                    let keep = |e: f64, acc: f64| {
                        (1.0 - (1.0 - e) * (acc / b.value).min(1.0)).clamp(0.0, 1.0)
                    };
                    Measured {
                        value: keep(errors.value, a.value),
                        n: errors.n,
                        ci: errors
                            .ci
                            .zip(a.ci)
                            .map(|([elo, ehi], [alo, ahi])| [keep(elo, ahi), keep(ehi, alo)]),
                        sources: [&errors, a, b].iter().flat_map(|m| m.sources.clone()).collect(),
                        formula: format!(
                            "1 − (1 − error_rate.{name}) × min(1, accuracy.{name} / accuracy.baseline)"
                        ),
                    }
                }
                _ => errors.clone(),
            };
            let (exposure, what) = match window.kind.as_str() {
                "surge" => (Exposure::Surge, "load surge"),
                _ => (Exposure::Outage, "fault"),
            };
            let condition = format!(
                "{what} `{name}` ({}) for {:.0} s",
                window.detail,
                window.stop - window.start
            );
            let failure_mode = format!(
                "{} of requests fail or are answered wrongly while it acts",
                percent(impact.value)
            );
            let mut f = new_finding(
                report,
                "system",
                step,
                name,
                (Category::Availability, exposure),
                (condition, failure_mode, "requests go unanswered or are answered wrongly".into()),
                impact.clone(),
                impact,
            );
            f.duration_s = Some(report.exact(
                window.stop - window.start,
                0,
                format!("/steps/{si}/timeline/windows/{wi}"),
            ));
            f.recovery = report.metric(si, 0, &format!("time_to_recover_s.{name}"));
            out.push(f);
        }
    }
    out
}
