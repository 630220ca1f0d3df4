//! Vision reports: attacks, corruptions and lighting shifts, with mitigated models as
//! controls.

use stressor_schema::{Step, StepKind};

use super::{Cited, chosen_point, control, dial_text, new_finding, percent, relative_loss};
use crate::context::Context;
use crate::finding::{Category, Exposure, Finding, Measured};

pub(super) fn findings(report: &Cited<'_>, context: &Context) -> Vec<Finding> {
    let steps = &report.report.steps;
    let mitigations: Vec<(usize, &Step)> =
        report.steps().filter(|(_, s)| s.kind == StepKind::Mitigation).collect();
    let mut out = Vec::new();
    for (si, step) in report.steps() {
        let exposure = match step.kind {
            StepKind::Attack => Exposure::Adversarial,
            StepKind::Corruption => Exposure::Corruption,
            StepKind::Lighting => Exposure::Lighting,
            _ => continue,
        };
        // A mitigated model's copy of a step is a control, not a finding.
        if mitigations.iter().any(|(_, m)| step.id.starts_with(&format!("{}/", m.id))) {
            continue;
        }
        let Some((mut finding, dial_value)) = finding(report, si, step, exposure, context) else {
            continue;
        };
        for (_, mitigation) in &mitigations {
            let copy = format!("{}/{}", mitigation.id, step.id);
            let Some((ci, copy_step)) = steps.iter().enumerate().find(|(_, s)| s.id == copy) else {
                continue;
            };
            // The mitigated copy at the finding's dial value.
            let Some(pi) = copy_step.points.iter().position(|p| p.dial_value == dial_value) else {
                continue;
            };
            if let Some((impact, rate, detection)) = measure(report, ci, pi, step.kind) {
                let method = mitigation.parameters.get("method").cloned().unwrap_or_default();
                let mut c =
                    control(format!("{} ({method})", mitigation.id), "mitigation", impact, rate);
                c.detection = detection;
                finding.controls.push(c);
            }
        }
        out.push(finding);
    }
    out
}

fn key(step: &Step, v: f64) -> String {
    dial_text(v, step.dial.as_ref().map_or("", |d| d.name.as_str()))
}

/// Impact, failure rate and detection at point `pi` of step `si`.
fn measure(
    report: &Cited<'_>,
    si: usize,
    pi: usize,
    kind: StepKind,
) -> Option<(Measured, Measured, Option<Measured>)> {
    let clean = report.metric(si, pi, "clean_accuracy")?;
    let (impact, rate) = if kind == StepKind::Attack {
        let robust = report.metric(si, pi, "robust_accuracy")?;
        let impact = relative_loss(&clean, &robust, "1 − robust_accuracy / clean_accuracy");
        let rate = report.metric(si, pi, "attack_success_rate").unwrap_or_else(|| {
            super::absolute_loss(&clean, &robust, "clean_accuracy − robust_accuracy")
        });
        (impact, rate)
    } else {
        let accuracy = report.metric(si, pi, "accuracy")?;
        (
            relative_loss(&clean, &accuracy, "1 − accuracy / clean_accuracy"),
            super::absolute_loss(&clean, &accuracy, "clean_accuracy − accuracy"),
        )
    };
    // The model's confidence as a failure detector: Somers' D of its error AUROC (0 = chance).
    let detection = report.metric(si, pi, "error_auroc").map(|auroc| {
        let d = |x: f64| (2.0 * x - 1.0).clamp(0.0, 1.0);
        Measured {
            value: d(auroc.value),
            n: auroc.n,
            ci: auroc.ci.map(|[lo, hi]| [d(lo), d(hi)]),
            formula:
                "2 × error_auroc − 1 (how much better than chance the confidence flags failures)"
                    .into(),
            ..auroc
        }
    });
    Some((impact, rate, detection))
}

fn finding(
    report: &Cited<'_>,
    si: usize,
    step: &Step,
    exposure: Exposure,
    context: &Context,
) -> Option<(Finding, Option<f64>)> {
    let pi = chosen_point(step, context, |pi| {
        measure(report, si, pi, step.kind).map(|(impact, _, _)| impact.value)
    })?;
    let (impact, rate, detection) = measure(report, si, pi, step.kind)?;
    let dial_value = step.points[pi].dial_value;
    let dial_name = step.dial.as_ref().map_or("dial", |d| d.name.as_str());
    let at = dial_value
        .map_or(String::new(), |v| format!(" at {dial_name} = {}", dial_text(v, dial_name)));
    let (category, condition, failure_mode, effect) = match step.kind {
        StepKind::Attack => (
            Category::Security,
            format!("{}{at}", step.description),
            format!(
                "the attack changes {} of decisions; accuracy falls by {} of its clean level",
                percent(rate.value),
                percent(impact.value)
            ),
            "an adversary chooses the model's decision".to_string(),
        ),
        _ => (
            Category::Robustness,
            format!("{}{at}", step.description),
            format!("accuracy falls by {} of its clean level", percent(impact.value)),
            "wrong decisions on inputs the model was not trained for".to_string(),
        ),
    };
    let suffix = dial_value.map(|v| key(step, v)).unwrap_or_default();
    let mut f = new_finding(
        report,
        "vision",
        step,
        &suffix,
        (category, exposure),
        (condition, failure_mode, effect),
        impact,
        rate,
    );
    f.detection = detection;
    if step.kind == StepKind::Attack {
        f.atlas = atlas(step);
    }
    Some((f, dial_value))
}

/// MITRE ATLAS ids of a vision attack: crafting adversarial data, white-box (gradients) or
/// black-box optimisation (queries only), to evade the model.
fn atlas(step: &Step) -> Vec<String> {
    let attack = step.parameters.get("attack").map_or("", String::as_str);
    let crafting = match attack {
        "square" | "hopskipjump" | "hsj" => "AML.T0043.001",
        _ => "AML.T0043.000",
    };
    vec![crafting.into(), "AML.T0015".into()]
}
