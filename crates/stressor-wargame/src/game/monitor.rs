//! The blue team's monitors: each computes its metric over its window, as the blue team
//! sees it (the feed's labels, perhaps poisoned; the cases the fleet served), and alerts on
//! crossing its threshold.

use stressor_core::EntryKind;
use stressor_core::Side;
use stressor_fairness::fairlearn::{
    Agg, demographic_parity_difference, demographic_parity_ratio, equalized_odds_difference,
};
use stressor_registry::Integrity;

use super::{Arm, ChatCase, CreditCase, FraudCase, Game, Pending, group_counts};
use crate::fleet::ChatOutcome;
use crate::plan::{ModelKind, MonitorMetric};

impl Game<'_> {
    /// Every monitor over its window, as the blue team sees it (feed labels, served cases).
    pub(super) fn monitors(&mut self, t: f64) {
        for (m, monitor) in self.plan.monitors.iter().enumerate() {
            let value = self.monitor_value(
                monitor.metric,
                monitor.model,
                t,
                monitor.window_s,
                monitor.min_cases,
            );
            let series = format!("{}.{}", monitor.model.as_str(), monitor.metric.name());
            self.out.series.entry(series.clone()).or_default().push((t, value));
            self.out.thresholds.insert(series, monitor.bound.threshold());
            let breached = value.is_some_and(|v| monitor.bound.breached(v));
            if breached && !self.alerting[m] {
                let text = format!(
                    "{} = {:.3} (threshold {})",
                    monitor.metric.name(),
                    value.unwrap_or(f64::NAN),
                    monitor.bound.threshold()
                );
                self.entry(
                    t,
                    EntryKind::Detection,
                    Side::Blue,
                    monitor.model,
                    &monitor.id,
                    "",
                    text,
                );
                if monitor.model != ModelKind::Chatbot {
                    self.state_mut(monitor.model).last_alert = Some(t);
                }
                if self.defended
                    && let Some(action) = monitor.then
                    && !self.busy.get(&monitor.model).copied().unwrap_or(false)
                {
                    self.busy.insert(monitor.model, true);
                    self.pending.push(Pending { due: t, action, cause: monitor.id.clone() });
                }
            }
            self.alerting[m] = breached;
        }
        // The referee's own series, for the charts (ground truth).
        for (name, value) in self.referee.truth_values(t, &self.out, self.plan) {
            self.out.series.entry(name).or_default().push((t, value));
        }
    }

    pub(super) fn monitor_value(
        &self,
        metric: MonitorMetric,
        model: ModelKind,
        t: f64,
        window: f64,
        min_cases: usize,
    ) -> Option<f64> {
        let from = t - window;
        match metric {
            MonitorMetric::DpRatio | MonitorMetric::DpDifference | MonitorMetric::FourFifths => {
                let cases: Vec<&CreditCase> = self
                    .out
                    .credit
                    .iter()
                    .filter(|c| c.t > from && c.t <= t && c.arm != Arm::Human)
                    .collect();
                if cases.len() < min_cases {
                    return None;
                }
                let counts = group_counts(cases.iter().map(|c| (c.group, c.good, c.approved)))?;
                Some(match metric {
                    MonitorMetric::DpRatio => demographic_parity_ratio(&counts),
                    MonitorMetric::DpDifference => demographic_parity_difference(&counts),
                    _ => stressor_fairness::impact_ratios(&counts)
                        .map(|r| r.impact_ratio)
                        .fold(f64::INFINITY, f64::min),
                })
                .filter(|v| v.is_finite())
            }
            MonitorMetric::EoDifference | MonitorMetric::Accuracy => {
                let delay = self.plan.credit.label_delay_s;
                // What the blue team knows: the feed's labels of decisions now labelled.
                let cases: Vec<&CreditCase> = self
                    .out
                    .credit
                    .iter()
                    .filter(|c| c.t + delay <= t && c.t + delay > from && c.arm != Arm::Human)
                    .collect();
                if cases.len() < min_cases {
                    return None;
                }
                if metric == MonitorMetric::Accuracy {
                    let right = cases.iter().filter(|c| c.approved == Self::feed_label(c)).count();
                    return Some(right as f64 / cases.len() as f64);
                }
                let counts =
                    group_counts(cases.iter().map(|c| (c.group, Self::feed_label(c), c.approved)))?;
                Some(equalized_odds_difference(&counts, Agg::WorstCase)).filter(|v| v.is_finite())
            }
            MonitorMetric::Recall => {
                let delay = self.plan.fraud.label_delay_s;
                let frauds: Vec<&FraudCase> = self
                    .out
                    .fraud
                    .iter()
                    .filter(|c| {
                        c.fraud && c.t + delay <= t && c.t + delay > from && c.arm != Arm::Human
                    })
                    .collect();
                if frauds.len() < min_cases {
                    return None;
                }
                Some(frauds.iter().filter(|c| c.blocked).count() as f64 / frauds.len() as f64)
            }
            MonitorMetric::DriftPsi => {
                let scores: Vec<f64> = match model {
                    ModelKind::Credit => self
                        .out
                        .credit
                        .iter()
                        .filter(|c| c.t > from && c.t <= t && c.arm == Arm::Champion)
                        .map(|c| c.p_bad)
                        .collect(),
                    _ => self
                        .out
                        .fraud
                        .iter()
                        .filter(|c| c.t > from && c.t <= t && c.arm == Arm::Champion)
                        .map(|c| c.score)
                        .collect(),
                };
                if scores.len() < min_cases {
                    return None;
                }
                let reference = &self.state(model).reference_scores;
                let bins = stressor_drift::Bins::quantiles(reference, 10).ok()?;
                let (r, c) = (bins.counts(reference), bins.counts(&scores));
                stressor_drift::psi(&r, &c).ok()
            }
            MonitorMetric::P99Ms | MonitorMetric::ErrorRate => {
                let cases: Vec<&ChatCase> =
                    self.out.chat.iter().filter(|c| c.t > from && c.t <= t && !c.human).collect();
                if cases.len() < min_cases {
                    return None;
                }
                if metric == MonitorMetric::ErrorRate {
                    let dropped = cases
                        .iter()
                        .filter(|c| matches!(c.outcome, ChatOutcome::Dropped { .. }))
                        .count();
                    return Some(dropped as f64 / cases.len() as f64);
                }
                let mut ms: Vec<f64> = cases
                    .iter()
                    .map(|c| match c.outcome {
                        ChatOutcome::Answered { ms, .. } | ChatOutcome::Dropped { ms } => ms,
                    })
                    .collect();
                ms.sort_by(f64::total_cmp);
                Some(ms[((ms.len() as f64 * 0.99).ceil() as usize).clamp(1, ms.len()) - 1])
            }
            MonitorMetric::Integrity => {
                let state = self.state(model);
                match self.registry.verify(&state.name, state.serving.0) {
                    Ok(Integrity::Intact) => Some(1.0),
                    Ok(_) => Some(0.0),
                    Err(_) => None,
                }
            }
        }
    }

    /// The label the feed holds for a decided case (flipped if it was poisoned on arrival),
    /// recorded on the case when it arrived.
    pub(super) fn feed_label(case: &CreditCase) -> bool {
        case.feed_good.unwrap_or(case.good)
    }
}
