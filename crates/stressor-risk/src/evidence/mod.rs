//! Reports → findings: the failure modes each family's report shows, with every measurement
//! citing its report field.
//!
//! One module per family. A step that measures a control (a mitigated model, a fallback
//! policy, a retraining policy, a blue team) becomes a [`Control`] of the finding it mitigates,
//! not a finding of its own, so the register can set residual against inherent risk.

mod chatbot;
mod drift;
mod recsys;
mod system;
mod vision;
mod wargame;

use stressor_schema::{Metric, Report, Step};

use crate::context::Context;
use crate::finding::{Control, Finding, Measured, Source};

/// A report among the inputs, with its 1-based index for citations.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cited<'a> {
    pub(crate) index: usize,
    pub(crate) report: &'a Report,
}

impl<'a> Cited<'a> {
    pub(crate) fn source(&self, pointer: String) -> Source {
        Source { report: self.index, pointer }
    }

    /// Metric `name` at point `pi` of step `si`.
    pub(crate) fn metric(&self, si: usize, pi: usize, name: &str) -> Option<Measured> {
        let metric = self.report.steps.get(si)?.points.get(pi)?.metrics.get(name)?;
        if metric.value.is_nan() {
            return None;
        }
        Some(self.measured(metric, format!("/steps/{si}/points/{pi}/metrics/{}", escape(name))))
    }

    pub(crate) fn measured(&self, metric: &Metric, pointer: String) -> Measured {
        Measured {
            value: metric.value,
            n: metric.n,
            ci: metric.ci.as_ref().map(|ci| [ci.lower, ci.upper]),
            sources: vec![self.source(pointer)],
            formula: String::new(),
        }
    }

    /// An exact value read at `pointer`.
    pub(crate) fn exact(&self, value: f64, n: u64, pointer: String) -> Measured {
        Measured { value, n, ci: None, sources: vec![self.source(pointer)], formula: String::new() }
    }

    pub(crate) fn steps(&self) -> impl Iterator<Item = (usize, &'a Step)> {
        self.report.steps.iter().enumerate()
    }
}

/// RFC 6901: `~` → `~0`, `/` → `~1`.
pub(crate) fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// `1 − new / base` clamped to [0, 1] (the share of `base` lost), citing both; the interval
/// maps `new`'s interval through the same formula.
pub(crate) fn relative_loss(base: &Measured, new: &Measured, formula: &str) -> Measured {
    let loss = |x: f64| if base.value > 0.0 { (1.0 - x / base.value).clamp(0.0, 1.0) } else { 0.0 };
    Measured {
        value: loss(new.value),
        n: new.n,
        ci: new.ci.map(|[lo, hi]| [loss(hi), loss(lo)]),
        sources: base.sources.iter().chain(&new.sources).cloned().collect(),
        formula: formula.to_string(),
    }
}

/// `base − new` clamped to [0, 1], citing both; the interval from `new`'s.
pub(crate) fn absolute_loss(base: &Measured, new: &Measured, formula: &str) -> Measured {
    let loss = |x: f64| (base.value - x).clamp(0.0, 1.0);
    Measured {
        value: loss(new.value),
        n: new.n,
        ci: new.ci.map(|[lo, hi]| [loss(hi), loss(lo)]),
        sources: base.sources.iter().chain(&new.sources).cloned().collect(),
        formula: formula.to_string(),
    }
}

/// The point of `step` at the dial value the context names for it (`[dial]`, by the step's
/// id or, for a mitigated copy `m/step`, the original's), if any.
pub(crate) fn named_point(step: &Step, context: &Context) -> Option<usize> {
    let wanted = context
        .dial
        .get(&step.id)
        .or_else(|| step.id.rsplit_once('/').and_then(|(_, base)| context.dial.get(base)))?;
    let tolerance = 1e-6 * wanted.abs().max(1e-12);
    step.points.iter().position(|p| p.dial_value.is_some_and(|v| (v - wanted).abs() <= tolerance))
}

/// The point the risk documents use: the one the context names, else the most severe one
/// measured (the largest `impact_of`), with ties to the first.
pub(crate) fn chosen_point(
    step: &Step,
    context: &Context,
    impact_of: impl Fn(usize) -> Option<f64>,
) -> Option<usize> {
    if let Some(i) = named_point(step, context) {
        return Some(i);
    }
    let mut best: Option<(usize, f64)> = None;
    for i in 0..step.points.len() {
        if let Some(x) = impact_of(i).filter(|x| !x.is_nan())
            && best.is_none_or(|(_, b)| x > b)
        {
            best = Some((i, x));
        }
    }
    best.map(|(i, _)| i)
}

/// A dial value as people read it: an L∞ ε in 1/255ths as `8/255`, anything else as a number.
pub(crate) fn dial_text(value: f64, dial: &str) -> String {
    let k = value * 255.0;
    if dial == "epsilon" && value > 0.0 && value < 1.0 && (k - k.round()).abs() < 1e-6 {
        format!("{}/255", k.round())
    } else {
        format!("{}", (value * 1e6).round() / 1e6)
    }
}

/// Every finding in `reports`, in report and step order, with their controls attached.
pub(crate) fn findings(reports: &[Cited<'_>], context: &Context) -> Vec<Finding> {
    let mut all = Vec::new();
    for report in reports {
        all.extend(vision::findings(report, context));
        all.extend(system::findings(report));
        all.extend(drift::findings(report));
        all.extend(recsys::findings(report));
        all.extend(chatbot::findings(report, context));
        all.extend(wargame::findings(report));
    }
    all
}

/// A control with only impact and rate (the common case).
pub(crate) fn control(name: String, kind: &str, impact: Measured, rate: Measured) -> Control {
    Control {
        name,
        kind: kind.into(),
        impact,
        rate,
        detection: None,
        mttd: None,
        recovery: None,
        loss: None,
    }
}

/// A finding of step `step` (id suffixed with `@suffix` when not empty) with the fields most
/// families leave empty left empty.
#[expect(clippy::too_many_arguments, reason = "a constructor with every required field")]
pub(crate) fn new_finding(
    report: &Cited<'_>,
    family: &str,
    step: &Step,
    suffix: &str,
    (category, exposure): (crate::finding::Category, crate::finding::Exposure),
    (condition, failure_mode, effect): (String, String, String),
    impact: Measured,
    rate: Measured,
) -> Finding {
    let id = if suffix.is_empty() {
        format!("r{}/{}", report.index, step.id)
    } else {
        format!("r{}/{}@{suffix}", report.index, step.id)
    };
    Finding {
        id,
        report: report.index,
        family: family.into(),
        scenario: report.report.run.scenario_name.clone(),
        model: report.report.target.name.clone(),
        step: step.id.clone(),
        category,
        exposure,
        condition,
        failure_mode,
        effect,
        impact,
        rate,
        detection: None,
        mttd: None,
        time_unit: "s".into(),
        recovery: None,
        events_lost: None,
        loss: None,
        duration_s: None,
        atlas: Vec::new(),
        controls: Vec::new(),
    }
}

/// `37.1 %`.
pub(crate) fn percent(x: f64) -> String {
    format!("{:.1} %", 100.0 * x)
}
