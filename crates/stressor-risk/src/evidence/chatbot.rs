//! Chatbot reports: each text stress at its most severe measured dial value (or the one the
//! context names), the word-substitution attack, off-topic questions and the surge.

use stressor_schema::StepKind;

use super::{Cited, absolute_loss, chosen_point, dial_text, new_finding, percent, relative_loss};
use crate::context::Context;
use crate::finding::{Category, Exposure, Finding, Measured};

pub(super) fn findings(report: &Cited<'_>, context: &Context) -> Vec<Finding> {
    let chat: Vec<_> = report.steps().filter(|(_, s)| s.kind == StepKind::Chatbot).collect();
    let Some(&(ci, _)) = chat.iter().find(|(_, s)| s.id == "clean") else { return Vec::new() };
    let mut out = Vec::new();
    for &(si, step) in &chat {
        match step.id.as_str() {
            "clean" | "shadow" | "degradation" => {}
            "surge" => {
                let Some(errors) = report.metric(si, 0, "error_rate.surge") else { continue };
                let mut f = new_finding(
                    report,
                    "chatbot",
                    step,
                    "",
                    (Category::Availability, Exposure::Surge),
                    (
                        format!("load surge ({})", step.description),
                        format!("{} of queries fail during the surge", percent(errors.value)),
                        "customers get no answer".into(),
                    ),
                    errors.clone(),
                    errors,
                );
                f.recovery = report.metric(si, 0, "time_to_recover_s");
                out.push(f);
            }
            _ if step.dial.is_some() => {
                let off_topic = step.id == "off_topic";
                let measure = |pi: usize| -> Option<(Measured, Measured)> {
                    if off_topic {
                        let clean = report.metric(ci, 0, "utility")?;
                        let utility = report.metric(si, pi, "utility")?;
                        let recall = report.metric(si, pi, "oos_recall")?;
                        let missed = |x: f64| 1.0 - x;
                        let rate = Measured {
                            value: missed(recall.value),
                            ci: recall.ci.map(|[lo, hi]| [missed(hi), missed(lo)]),
                            formula: "1 − oos_recall".into(),
                            ..recall
                        };
                        Some((relative_loss(&clean, &utility, "1 − utility / clean utility"), rate))
                    } else {
                        let clean = report.metric(ci, 0, "accuracy")?;
                        let accuracy = report.metric(si, pi, "accuracy")?;
                        let impact =
                            relative_loss(&clean, &accuracy, "1 − accuracy / clean accuracy");
                        let rate =
                            report.metric(si, pi, "attack_success_rate").unwrap_or_else(|| {
                                absolute_loss(&clean, &accuracy, "clean accuracy − accuracy")
                            });
                        Some((impact, rate))
                    }
                };
                let Some(pi) = chosen_point(step, context, |pi| measure(pi).map(|m| m.0.value))
                else {
                    continue;
                };
                let Some((impact, rate)) = measure(pi) else { continue };
                let attack = step.id == "word_substitution";
                let dial = step.dial.as_ref().map_or("dial", |d| d.name.as_str());
                let value = step.points[pi].dial_value;
                let at =
                    value.map_or(String::new(), |v| format!(" at {dial} = {}", dial_text(v, dial)));
                let (category, exposure) = if attack {
                    (Category::Security, Exposure::Adversarial)
                } else {
                    (Category::Robustness, Exposure::Text)
                };
                let failure_mode = if off_topic {
                    format!(
                        "{} of off-topic questions are answered as if in scope",
                        percent(rate.value)
                    )
                } else {
                    format!("accuracy falls by {} of its clean level", percent(impact.value))
                };
                let mut f = new_finding(
                    report,
                    "chatbot",
                    step,
                    &value.map(|v| dial_text(v, dial)).unwrap_or_default(),
                    (category, exposure),
                    (
                        format!("{}{at}", step.id.replace('_', " ")),
                        failure_mode,
                        "customers get wrong answers instead of help or a human".into(),
                    ),
                    impact,
                    rate,
                );
                if off_topic {
                    f.detection = report.metric(si, pi, "oos_recall");
                }
                if attack {
                    f.atlas = vec!["AML.T0043.001".into(), "AML.T0015".into()];
                }
                out.push(f);
            }
            _ => {}
        }
    }
    out
}
