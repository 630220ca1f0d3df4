//! The blue team's actions: isolate and restore, roll back, shed, retrain (quarantine and
//! sanitise), shadow, canary, and promote when the gates hold.

use stressor_core::{AliasMove, EntryKind, Side};
use stressor_fairness::fairlearn::demographic_parity_ratio;
use stressor_registry::{Change, rollback};

use super::{Arm, Game, Pending, group_counts};
use crate::plan::{ActionKind, ModelKind};

impl Game<'_> {
    pub(super) fn run_actions(&mut self, t: f64) {
        while let Some(k) = self.pending.iter().position(|p| p.due <= t) {
            let Pending { action, cause, .. } = self.pending.remove(k);
            let a = &self.plan.actions[action];
            let (ok, text, wait) = self.act(a, t, &cause);
            self.entry(
                t,
                if ok { EntryKind::Action } else { EntryKind::ActionFailed },
                Side::Blue,
                a.model,
                &a.id,
                "",
                text,
            );
            match (ok, a.then) {
                (true, Some(next)) => {
                    self.pending.push(Pending { due: t + wait, action: next, cause })
                }
                _ => {
                    self.busy.insert(a.model, false);
                }
            }
        }
    }

    /// Carries out one action: whether it succeeded, what happened, and how long before the
    /// next action in its chain.
    pub(super) fn act(
        &mut self,
        action: &crate::plan::Action,
        t: f64,
        cause: &str,
    ) -> (bool, String, f64) {
        let kind = action.model;
        match &action.kind {
            ActionKind::Isolate => {
                if kind == ModelKind::Chatbot {
                    self.chat_isolated = true;
                } else {
                    self.state_mut(kind).isolated = true;
                }
                (
                    true,
                    format!(
                        "isolates the {} model: its traffic goes to people ({cause})",
                        kind.as_str()
                    ),
                    0.0,
                )
            }
            ActionKind::Restore => {
                if kind == ModelKind::Chatbot {
                    self.chat_isolated = false;
                } else {
                    self.state_mut(kind).isolated = false;
                }
                (true, format!("routes traffic back to the {} model", kind.as_str()), 0.0)
            }
            ActionKind::Shed { per_client_rps } => {
                self.chat.limit.set(Some(*per_client_rps));
                (true, format!("limits each client to {per_client_rps} requests/s"), 0.0)
            }
            ActionKind::Unshed => {
                self.chat.limit.set(None);
                (true, "lifts the per-client limit".into(), 0.0)
            }
            ActionKind::Rollback => {
                let name = self.state(kind).name.clone();
                match rollback(
                    self.registry,
                    &name,
                    "champion",
                    "last-good",
                    &Change::new("blue", cause, t),
                ) {
                    Ok(change) => {
                        self.out.alias_moves.push(AliasMove {
                            t_s: t,
                            model: kind.as_str().into(),
                            alias: change.alias.clone(),
                            from: change.from,
                            to: change.to,
                            actor: change.actor.clone(),
                            reason: change.reason.clone(),
                        });
                        self.reload(t);
                        (
                            true,
                            format!(
                                "rolls champion back to last-good (version {})",
                                change.to.map_or("?".into(), |v| v.to_string())
                            ),
                            0.0,
                        )
                    }
                    Err(e) => (false, format!("rollback failed: {e}"), 0.0),
                }
            }
            ActionKind::Retrain { quarantine, sanitise } => {
                if sanitise.is_some() {
                    self.state_mut(kind).sanitise = *sanitise;
                }
                match self.retrain(kind, t, *quarantine, *sanitise) {
                    Ok(version) => {
                        self.set_alias(kind, "challenger", version, "blue", cause, t);
                        (
                            true,
                            format!(
                                "trains version {version}{}{} as challenger",
                                if *quarantine { " without the suspect data" } else { "" },
                                if sanitise.is_some() { ", sanitised" } else { "" }
                            ),
                            0.0,
                        )
                    }
                    Err(e) => (false, format!("retraining failed: {e}"), 0.0),
                }
            }
            ActionKind::Shadow { duration_s } => {
                let state = self.state_mut(kind);
                state.shadow_until = Some(t + duration_s);
                state.trial_from = t;
                (
                    true,
                    format!("mirrors traffic to the challenger for {:.1} h", duration_s / 3600.0),
                    *duration_s,
                )
            }
            ActionKind::Canary { duration_s, share } => {
                let state = self.state_mut(kind);
                state.canary = Some((t + duration_s, *share));
                state.trial_from = t;
                (
                    true,
                    format!(
                        "sends {:.0} % of traffic to the challenger for {:.1} h",
                        share * 100.0,
                        duration_s / 3600.0
                    ),
                    *duration_s,
                )
            }
            ActionKind::Promote { min_dp_ratio, max_accuracy_drop } => {
                self.promote(kind, t, *min_dp_ratio, *max_accuracy_drop, cause)
            }
        }
    }

    /// Promotes the challenger when its gates hold on the cases it shadowed or served:
    /// accuracy not significantly worse than the champion's (the lower end of the Newcombe
    /// interval of the difference above `-max_drop`) and, for credit, a DP ratio of at least
    /// `min_dp`.
    pub(super) fn promote(
        &mut self,
        kind: ModelKind,
        t: f64,
        min_dp: f64,
        max_drop: f64,
        cause: &str,
    ) -> (bool, String, f64) {
        let Some(version) = self.state(kind).challenger else {
            return (false, "no challenger to promote".into(), 0.0);
        };
        // Credit: accuracy on the labelled cases each side decided (the challenger's from
        // shadowing or the canary), and its DP ratio. Fraud: recall on labelled fraud, and the
        // false-positive rate on genuine transactions, so a candidate that blocks more fraud
        // at a small cost in false alarms can win.
        let window_from = self.state(kind).trial_from;
        let mut decided: Vec<(u8, bool, bool)> = Vec::new();
        // (right, n) for the champion and the challenger; for fraud, a second pair for the
        // genuine transactions' false alarms.
        let (mut champ, mut chall, mut champ_fp, mut chall_fp) =
            ((0u64, 0u64), (0u64, 0u64), (0u64, 0u64), (0u64, 0u64));
        match kind {
            ModelKind::Credit => {
                for c in self
                    .out
                    .credit
                    .iter()
                    .filter(|c| c.t >= window_from && c.t + self.plan.credit.label_delay_s <= t)
                {
                    let label = Self::feed_label(c);
                    let challenger = match (c.arm, c.shadow) {
                        (Arm::Challenger, _) => Some(c.approved),
                        (Arm::Champion, Some(s)) => Some(s),
                        _ => None,
                    };
                    if c.arm == Arm::Champion {
                        champ.1 += 1;
                        champ.0 += u64::from(c.approved == label);
                    }
                    if let Some(d) = challenger {
                        chall.1 += 1;
                        chall.0 += u64::from(d == label);
                        decided.push((c.group, label, d));
                    }
                }
            }
            _ => {
                for c in self
                    .out
                    .fraud
                    .iter()
                    .filter(|c| c.t >= window_from && c.t + self.plan.fraud.label_delay_s <= t)
                {
                    let challenger = match (c.arm, c.shadow) {
                        (Arm::Challenger, _) => Some(c.blocked),
                        (Arm::Champion, Some(s)) => Some(s),
                        _ => None,
                    };
                    if c.arm == Arm::Champion {
                        let hits = if c.fraud { &mut champ } else { &mut champ_fp };
                        hits.1 += 1;
                        hits.0 += u64::from(c.blocked);
                    }
                    if let Some(d) = challenger {
                        let side = if c.fraud { &mut chall } else { &mut chall_fp };
                        side.1 += 1;
                        side.0 += u64::from(d);
                    }
                }
            }
        }
        // Too few labelled cases make any comparison a coin toss: hold rather than promote.
        let needed = if kind == ModelKind::Fraud { 20 } else { 50 };
        if chall.1 < needed || champ.1 < needed {
            return (
                false,
                format!(
                    "holds the challenger: {} and {} labelled cases since its trial began, {needed} needed on each side",
                    chall.1, champ.1
                ),
                0.0,
            );
        }
        let rate = |(k, n): (u64, u64)| k as f64 / n.max(1) as f64;
        let diff = stressor_core::newcombe_interval(
            chall.0,
            chall.1,
            champ.0,
            champ.1,
            stressor_core::LEVEL,
        );
        let dp = if kind == ModelKind::Credit {
            group_counts(decided.into_iter()).map(|c| demographic_parity_ratio(&c))
        } else {
            None
        };
        let (passed, summary) = if kind == ModelKind::Credit {
            let passed = not_worse(rate(chall) - rate(champ), diff.upper, max_drop)
                && dp.is_none_or(|d| d.is_nan() || d >= min_dp);
            (
                passed,
                format!(
                    "challenger accuracy {:.3} vs champion {:.3} (difference in [{:.3}, {:.3}] at 95 %, n = {}/{}), DP ratio {:.3}",
                    rate(chall),
                    rate(champ),
                    diff.lower,
                    diff.upper,
                    chall.1,
                    champ.1,
                    dp.unwrap_or(f64::NAN)
                ),
            )
        } else {
            let alarms_ok = chall_fp.1 == 0 || champ_fp.1 == 0 || {
                let fp = stressor_core::newcombe_interval(
                    chall_fp.0,
                    chall_fp.1,
                    champ_fp.0,
                    champ_fp.1,
                    stressor_core::LEVEL,
                );
                let rise = rate(chall_fp) - rate(champ_fp);
                rise <= max_drop && fp.lower <= 0.0
            };
            (
                not_worse(rate(chall) - rate(champ), diff.upper, max_drop) && alarms_ok,
                format!(
                    "challenger recall {:.3} vs champion {:.3} (difference in [{:.3}, {:.3}] at 95 %, n = {}/{} frauds), false alarms {:.3} vs {:.3}",
                    rate(chall),
                    rate(champ),
                    diff.lower,
                    diff.upper,
                    chall.1,
                    champ.1,
                    rate(chall_fp),
                    rate(champ_fp)
                ),
            )
        };
        let state = self.state_mut(kind);
        state.shadow_until = None;
        state.canary = None;
        if passed {
            if self.set_alias(kind, "champion", version, "blue", cause, t) {
                self.state_mut(kind).challenger = None;
                self.reload(t);
                self.state_mut(kind).isolated = false;
                return (true, format!("promotes version {version}: {summary}"), 0.0);
            }
            return (false, format!("cannot promote version {version}"), 0.0);
        }
        (false, format!("holds version {version}: gates failed, {summary}"), 0.0)
    }
}

/// A promotion gate on a difference (challenger − champion) of a rate where higher is
/// better: the challenger may lose at most `max_drop`, and must not be significantly worse
/// (the 95 % interval's upper end not below 0) — Argo Rollouts' "no evidence of a
/// regression" rather than proof of an improvement, which small samples cannot give.
fn not_worse(difference: f64, upper: f64, max_drop: f64) -> bool {
    difference >= -max_drop && upper >= 0.0
}
