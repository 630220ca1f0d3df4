//! Recommender reports: each fault window under the policy `none` (or the first policy) is a
//! failure mode; the other fallback policies are its controls.

use stressor_schema::{Step, StepKind};

use super::{Cited, control, new_finding, percent};
use crate::finding::{Category, Exposure, Finding, Measured};

pub(super) fn findings(report: &Cited<'_>) -> Vec<Finding> {
    let policies: Vec<(usize, &Step)> = report
        .steps()
        .filter(|(_, s)| {
            s.kind == StepKind::Recommender
                && s.recsys_timeline.as_ref().is_some_and(|t| !t.reference)
        })
        .collect();
    let baseline = report.steps().find(|(_, s)| {
        s.recsys_timeline.as_ref().is_some_and(|t| t.reference && t.policy == "baseline")
    });
    let (Some(&(si, step)), Some((bi, _))) = (
        policies
            .iter()
            .find(|(_, s)| s.recsys_timeline.as_ref().is_some_and(|t| t.policy == "none"))
            .or(policies.first()),
        baseline,
    ) else {
        return Vec::new();
    };
    let Some(base_cpr) = report.metric(bi, 0, "clicks_per_request") else { return Vec::new() };
    let Some(timeline) = &step.recsys_timeline else { return Vec::new() };
    let mut out = Vec::new();
    for (ii, window) in timeline.impacts.iter().enumerate() {
        let Some((impact, loss, recovery, events)) = measure(report, si, step, ii, &base_cpr)
        else {
            continue;
        };
        let condition =
            format!("fault `{}` for {:.0} s", window.window, window.stop - window.start);
        let failure_mode = format!(
            "clicks per request fall by {} of the fault-free baseline while it acts",
            percent(impact.value)
        );
        let mut f = new_finding(
            report,
            "recommender",
            step,
            &window.window,
            (Category::Availability, Exposure::Outage),
            (condition, failure_mode, "fewer clicks, conversions and revenue".into()),
            impact.clone(),
            impact,
        );
        f.loss = Some(loss);
        f.recovery = recovery;
        f.events_lost = Some(events);
        f.duration_s = Some(report.exact(
            window.stop - window.start,
            0,
            format!("/steps/{si}/recsys_timeline/impacts/{ii}"),
        ));
        for &(ci, other) in &policies {
            if ci == si {
                continue;
            }
            let Some(t) = &other.recsys_timeline else { continue };
            let Some(oi) = t.impacts.iter().position(|w| w.window == window.window) else {
                continue;
            };
            if let Some((impact, loss, recovery, _)) = measure(report, ci, other, oi, &base_cpr) {
                let mut c = control(
                    format!("fallback policy `{}`", t.policy),
                    "fallback",
                    impact.clone(),
                    impact,
                );
                c.loss = Some(loss);
                c.recovery = recovery;
                f.controls.push(c);
            }
        }
        out.push(f);
    }
    out
}

fn measure(
    report: &Cited<'_>,
    si: usize,
    step: &Step,
    ii: usize,
    base_cpr: &Measured,
) -> Option<(Measured, Measured, Option<Measured>, Measured)> {
    let window = step.recsys_timeline.as_ref()?.impacts.get(ii)?;
    let at = format!("/steps/{si}/recsys_timeline/impacts/{ii}");
    let change = report
        .measured(&window.clicks_per_request_change, format!("{at}/clicks_per_request_change"));
    let lost =
        |x: f64| if base_cpr.value > 0.0 { (-x / base_cpr.value).clamp(0.0, 1.0) } else { 0.0 };
    let impact = Measured {
        value: lost(change.value),
        n: change.n,
        ci: change.ci.map(|[lo, hi]| [lost(hi), lost(lo)]),
        sources: change.sources.iter().chain(&base_cpr.sources).cloned().collect(),
        formula: "−clicks_per_request_change / baseline clicks_per_request".into(),
    };
    let loss = report.exact(window.revenue_lost, 0, format!("{at}/revenue_lost"));
    let recovery = window.rto_s.map(|r| report.exact(r, 0, format!("{at}/rto_s")));
    let events = report.exact(window.events_lost as f64, 0, format!("{at}/events_lost"));
    Some((impact, loss, recovery, events))
}
