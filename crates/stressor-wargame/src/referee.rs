//! The referee: knows the truth (every applicant's risk, every transaction's fraud, every
//! query's intent), which the blue team does not, and judges each model's health every tick
//! against its own baseline — the window before the first inject on it. A model is healthy
//! when, over the referee's window:
//!
//! - credit: the demographic parity ratio of approvals is at least `min_dp_ratio` and the
//!   accuracy against the truth has not dropped more than `max_drop` below the baseline's;
//! - fraud: the share of fraud blocked has not dropped more than `max_drop` below the
//!   baseline's;
//! - chatbot: the p99 latency is at most `max_p99_ratio` × the baseline's and the share of
//!   dropped requests at most `max_drop` above it.

use std::collections::BTreeMap;

use crate::fleet::ChatOutcome;
use crate::game::{GameResult, group_counts};
use crate::plan::{ModelKind, WargamePlan};

/// A model's health at the end of one tick (`None`: too few cases in the window to judge,
/// counted as the previous verdict).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Health {
    pub(crate) t: f64,
    pub(crate) healthy: bool,
}

/// The truth metrics of one model over a window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Truth {
    /// credit: DP ratio; fraud: recall; chatbot: p99 ms.
    a: Option<f64>,
    /// credit: accuracy; fraud: unused; chatbot: dropped share.
    b: Option<f64>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Referee {
    pub(crate) health: BTreeMap<&'static str, Vec<Health>>,
    baseline: BTreeMap<&'static str, Truth>,
}

impl Referee {
    /// A referee whose credit and fraud baselines are the first champions' on the whole
    /// applicant pool and on a large clean transaction sample; the chatbot's is measured over
    /// the ticks before its first inject.
    pub(crate) fn new(world: &crate::world::World) -> Referee {
        let mut baseline = BTreeMap::new();
        baseline
            .insert("credit", Truth { a: Some(world.credit_base.0), b: Some(world.credit_base.1) });
        baseline.insert("fraud", Truth { a: Some(world.fraud_base), b: None });
        Referee { health: BTreeMap::new(), baseline }
    }

    fn truth(kind: ModelKind, out: &GameResult, from: f64, to: f64) -> Truth {
        match kind {
            ModelKind::Credit => {
                let cases: Vec<_> = out.credit.iter().filter(|c| c.t > from && c.t <= to).collect();
                if cases.len() < 60 {
                    return Truth::default();
                }
                let dp = group_counts(cases.iter().map(|c| (c.group, c.good, c.approved)))
                    .map(|c| stressor_fairness::fairlearn::demographic_parity_ratio(&c))
                    .filter(|v| v.is_finite());
                let right = cases.iter().filter(|c| c.approved == c.good).count();
                Truth { a: dp, b: Some(right as f64 / cases.len() as f64) }
            }
            ModelKind::Fraud => {
                let frauds: Vec<_> =
                    out.fraud.iter().filter(|c| c.fraud && c.t > from && c.t <= to).collect();
                if frauds.len() < 20 {
                    return Truth::default();
                }
                Truth {
                    a: Some(
                        frauds.iter().filter(|c| c.blocked).count() as f64 / frauds.len() as f64,
                    ),
                    b: None,
                }
            }
            ModelKind::Chatbot => {
                let cases: Vec<_> = out.chat.iter().filter(|c| c.t > from && c.t <= to).collect();
                if cases.len() < 10 {
                    return Truth::default();
                }
                let mut ms: Vec<f64> = cases
                    .iter()
                    .map(|c| match c.outcome {
                        ChatOutcome::Answered { ms, .. } | ChatOutcome::Dropped { ms } => ms,
                    })
                    .collect();
                ms.sort_by(f64::total_cmp);
                let p99 = ms[((ms.len() as f64 * 0.99).ceil() as usize).clamp(1, ms.len()) - 1];
                let dropped = cases
                    .iter()
                    .filter(|c| matches!(c.outcome, ChatOutcome::Dropped { .. }))
                    .count();
                Truth { a: Some(p99), b: Some(dropped as f64 / cases.len() as f64) }
            }
        }
    }

    /// The referee's series at `t`, for the charts.
    pub(crate) fn truth_values(
        &self,
        t: f64,
        out: &GameResult,
        plan: &WargamePlan,
    ) -> Vec<(String, Option<f64>)> {
        let from = t - plan.recovery.window_s;
        let credit = Self::truth(ModelKind::Credit, out, from, t);
        let fraud = Self::truth(ModelKind::Fraud, out, from, t);
        let chat = Self::truth(ModelKind::Chatbot, out, t - plan.tick_s, t);
        vec![
            ("credit.true_dp_ratio".into(), credit.a),
            ("credit.true_accuracy".into(), credit.b),
            ("fraud.true_recall".into(), fraud.a),
            ("chatbot.true_p99_ms".into(), chat.a),
            ("chatbot.true_dropped".into(), chat.b),
        ]
    }

    /// Judges every model at the end of the tick ending at `t`.
    pub(crate) fn observe(&mut self, t: f64, out: &GameResult, plan: &WargamePlan) {
        let r = &plan.recovery;
        for kind in ModelKind::ALL {
            let first = plan
                .injects
                .iter()
                .filter(|i| i.model == kind)
                .map(|i| i.at_s)
                .fold(f64::INFINITY, f64::min);
            let name = kind.as_str();
            if !self.baseline.contains_key(name) && t >= first.min(plan.duration_s) {
                let mut base = Self::truth(kind, out, 0.0, first.min(t));
                if base.a.is_none() {
                    base = Self::truth(kind, out, 0.0, t);
                }
                self.baseline.insert(name, base);
            }
            // Latency and drops are judged over one tick (a flood's effect ends with it);
            // decisions, which come slower, over the referee's window.
            let window = if kind == ModelKind::Chatbot { plan.tick_s } else { r.window_s };
            let now = Self::truth(kind, out, t - window, t);
            let base = self.baseline.get(name).copied().unwrap_or(now);
            let verdict = match kind {
                ModelKind::Credit => match (now.a, now.b) {
                    (Some(dp), Some(acc)) => {
                        Some(dp >= r.min_dp_ratio && base.b.is_none_or(|b| acc >= b - r.max_drop))
                    }
                    _ => None,
                },
                ModelKind::Fraud => {
                    now.a.map(|recall| base.a.is_none_or(|b| recall >= b - r.max_drop))
                }
                ModelKind::Chatbot => match (now.a, now.b) {
                    (Some(p99), Some(dropped)) => Some(
                        base.a.is_none_or(|b| p99 <= r.max_p99_ratio * b.max(1.0))
                            && base.b.is_none_or(|b| dropped <= b + r.max_drop),
                    ),
                    _ => None,
                },
            };
            let list = self.health.entry(name).or_default();
            let healthy = verdict.unwrap_or_else(|| list.last().is_none_or(|h| h.healthy));
            list.push(Health { t, healthy });
        }
    }
}
