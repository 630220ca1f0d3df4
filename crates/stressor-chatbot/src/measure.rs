//! What happens to each query — answered (right or wrong), handed to a human (needed or not),
//! answered by a keyword rule, dropped — under each handoff policy, and the metrics of a dial
//! point from those outcomes.
//!
//! A query's *action* is what the user sees: an intent (from the model when its confidence is
//! at or above the policy's threshold, otherwise from the first keyword rule that fires), a
//! human, or nothing (the chatbot failed, or its reply could not be mapped). Its *outcome*
//! judges the action against the truth:
//!
//! | action                        | truth in scope, model right | model wrong / off-topic |
//! |-------------------------------|-----------------------------|-------------------------|
//! | the right intent              | correct                     | correct (a rule saved it) |
//! | another intent                | wrong                       | wrong                   |
//! | a human                       | needless handoff            | justified handoff       |
//! | nothing                       | dropped                     | dropped                 |

use stressor_core::{CalibrationCurves, ChatExample, Estimate, MetricValue, ReliabilityBin, Seed};
use stressor_intent::{Query, Reply};

use crate::plan::Utility;

/// A way of routing low-confidence queries.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Its name (`guaranteed`, `fixed-0.3`).
    pub name: String,
    /// Answer when the confidence is at least this; `None`: hand everything off.
    pub threshold: Option<f64>,
}

/// Keyword rules with their intents resolved.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    rules: Vec<(Vec<String>, u32)>,
}

impl Rules {
    /// Rules from `(keywords, intent)` pairs (keywords lowercased).
    pub fn new(rules: Vec<(Vec<String>, u32)>) -> Rules {
        Rules { rules }
    }

    /// The intent of the first rule one of whose keywords is a word of `text`.
    pub fn fire(&self, text: &str) -> Option<u32> {
        if self.rules.is_empty() {
            return None;
        }
        let lower = text.to_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric() && c != '\'')
            .filter(|w| !w.is_empty())
            .collect();
        self.rules
            .iter()
            .find(|(keywords, _)| keywords.iter().any(|k| words.contains(&k.as_str())))
            .map(|(_, intent)| *intent)
    }

    /// Whether there is any rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

/// What the user sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// An intent's answer; `by_rule` when a keyword rule gave it.
    Intent {
        /// The intent.
        intent: u32,
        /// Whether a keyword rule gave it.
        by_rule: bool,
    },
    /// A human.
    Human,
    /// Nothing: the chatbot failed.
    Dropped,
    /// A reply that could not be mapped to an intent.
    Unmapped,
}

/// An action judged against the truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The right intent.
    Correct,
    /// Another intent, or any intent for an off-topic query.
    Wrong,
    /// A human, for a query the model would have got wrong or that is off-topic.
    JustifiedHandoff,
    /// A human, for a query the model would have answered right.
    NeedlessHandoff,
    /// No answer.
    Dropped,
    /// A reply that could not be mapped.
    Unmapped,
}

impl Utility {
    /// What `outcome` is worth.
    pub fn of(&self, outcome: Outcome) -> f64 {
        match outcome {
            Outcome::Correct => self.correct,
            Outcome::Wrong => self.wrong,
            Outcome::JustifiedHandoff => self.justified_handoff,
            Outcome::NeedlessHandoff => self.needless_handoff,
            Outcome::Dropped | Outcome::Unmapped => self.dropped,
        }
    }
}

/// The action for `reply` to `text` under a policy's `threshold`.
pub fn action(reply: &Reply, text: &str, threshold: Option<f64>, rules: &Rules) -> Action {
    match reply {
        Reply::Intent { intent, confidence, .. } => match threshold {
            Some(t) if f64::from(*confidence) >= t => {
                Action::Intent { intent: *intent, by_rule: false }
            }
            _ => rules
                .fire(text)
                .map_or(Action::Human, |intent| Action::Intent { intent, by_rule: true }),
        },
        Reply::Declined => rules
            .fire(text)
            .map_or(Action::Human, |intent| Action::Intent { intent, by_rule: true }),
        Reply::Unmapped(_) => Action::Unmapped,
        Reply::Failed(_) => Action::Dropped,
    }
}

/// `action` judged against `truth`, knowing the model's own reply.
pub fn outcome(action: Action, reply: &Reply, truth: Option<u32>) -> Outcome {
    match action {
        Action::Intent { intent, .. } => {
            if truth == Some(intent) {
                Outcome::Correct
            } else {
                Outcome::Wrong
            }
        }
        Action::Human => match (reply.intent(), truth) {
            (Some((predicted, _)), Some(t)) if predicted == t => Outcome::NeedlessHandoff,
            _ => Outcome::JustifiedHandoff,
        },
        Action::Dropped => Outcome::Dropped,
        Action::Unmapped => Outcome::Unmapped,
    }
}

/// The user-facing answer for reports: an intent's name, `handoff`, `no answer`.
pub fn action_label(action: Action, intents: &[String]) -> String {
    match action {
        Action::Intent { intent, by_rule } => {
            let name = intents.get(intent as usize).map_or("?", String::as_str);
            if by_rule { format!("{name} (rule)") } else { name.to_owned() }
        }
        Action::Human => "handoff".to_owned(),
        Action::Dropped => "no answer".to_owned(),
        Action::Unmapped => "unmapped reply".to_owned(),
    }
}

/// A query's truth for reports.
pub fn truth_label(truth: Option<u32>, intents: &[String]) -> String {
    truth.map_or_else(
        || "out of scope".to_owned(),
        |t| intents.get(t as usize).cloned().unwrap_or_else(|| "?".into()),
    )
}

/// Every policy's actions and outcomes on one set of replies.
#[derive(Debug, Clone)]
pub struct Judged {
    /// Per policy, per query.
    pub actions: Vec<Vec<Action>>,
    /// Per policy, per query.
    pub outcomes: Vec<Vec<Outcome>>,
}

/// Judges `replies` to `queries` (their texts as sent: `texts`) under every policy.
pub fn judge(
    queries: &[Query],
    texts: &[String],
    replies: &[Reply],
    policies: &[Policy],
    rules: &Rules,
) -> Judged {
    let mut actions = Vec::with_capacity(policies.len());
    let mut outcomes = Vec::with_capacity(policies.len());
    for policy in policies {
        let a: Vec<Action> = replies
            .iter()
            .zip(texts)
            .map(|(reply, text)| action(reply, text, policy.threshold, rules))
            .collect();
        let o: Vec<Outcome> = a
            .iter()
            .zip(replies)
            .zip(queries)
            .map(|((&action, reply), q)| outcome(action, reply, q.intent))
            .collect();
        actions.push(a);
        outcomes.push(o);
    }
    Judged { actions, outcomes }
}

fn metric(name: &str, estimate: Estimate) -> MetricValue {
    MetricValue { name: name.to_owned(), estimate }
}

/// The metrics of one dial point: the model's own (accuracy, unmapped and dropped rates) and
/// each policy's (plain names for the first, `.<policy>` suffixed for the others); with the
/// clean actions, the invariance failure rate. Returns the metrics and each policy's
/// per-query utilities.
#[allow(clippy::too_many_arguments)]
pub fn point_metrics(
    queries: &[Query],
    replies: &[Reply],
    judged: &Judged,
    clean: Option<&Judged>,
    policies: &[Policy],
    utility: &Utility,
    seed: Seed,
) -> (Vec<MetricValue>, Vec<Vec<f64>>) {
    let n = queries.len() as u64;
    let in_scope: Vec<usize> =
        (0..queries.len()).filter(|&i| queries[i].intent.is_some()).collect();
    let off_topic = queries.len() - in_scope.len();
    let mut out = Vec::new();
    if !in_scope.is_empty() {
        let right = in_scope
            .iter()
            .filter(|&&i| replies[i].intent().map(|(p, _)| p) == queries[i].intent)
            .count();
        out.push(metric("accuracy", Estimate::proportion(right as u64, in_scope.len() as u64)));
    }
    let unmapped = replies.iter().filter(|r| matches!(r, Reply::Unmapped(_))).count();
    let failed = replies.iter().filter(|r| matches!(r, Reply::Failed(_))).count();
    if unmapped > 0 {
        out.push(metric("unmapped_rate", Estimate::proportion(unmapped as u64, n)));
    }
    if failed > 0 {
        out.push(metric("dropped_rate", Estimate::proportion(failed as u64, n)));
    }
    let mut utilities = Vec::with_capacity(policies.len());
    for (p, policy) in policies.iter().enumerate() {
        let name = |m: &str| if p == 0 { m.to_owned() } else { format!("{m}.{}", policy.name) };
        let actions = &judged.actions[p];
        let outcomes = &judged.outcomes[p];
        let human = actions.iter().filter(|a| **a == Action::Human).count() as u64;
        let answered: Vec<usize> =
            (0..actions.len()).filter(|&i| matches!(actions[i], Action::Intent { .. })).collect();
        let by_rule =
            actions.iter().filter(|a| matches!(a, Action::Intent { by_rule: true, .. })).count();
        let answered_right =
            answered.iter().filter(|&&i| outcomes[i] == Outcome::Correct).count() as u64;
        out.push(metric(&name("handoff_rate"), Estimate::proportion(human, n)));
        out.push(metric(&name("coverage"), Estimate::proportion(answered.len() as u64, n)));
        out.push(metric(
            &name("answered_accuracy"),
            Estimate::proportion(answered_right, answered.len() as u64),
        ));
        if off_topic > 0 {
            let caught = (0..queries.len())
                .filter(|&i| queries[i].intent.is_none() && actions[i] == Action::Human)
                .count();
            out.push(metric(
                &name("oos_recall"),
                Estimate::proportion(caught as u64, off_topic as u64),
            ));
        }
        if !in_scope.is_empty() {
            let needless = outcomes.iter().filter(|o| **o == Outcome::NeedlessHandoff).count();
            out.push(metric(
                &name("false_handoff_rate"),
                Estimate::proportion(needless as u64, in_scope.len() as u64),
            ));
        }
        if by_rule > 0 {
            out.push(metric(&name("rule_rate"), Estimate::proportion(by_rule as u64, n)));
        }
        if let Some(clean) = clean {
            let changed =
                actions.iter().zip(&clean.actions[p]).filter(|(a, b)| a != b).count() as u64;
            out.push(metric(&name("invariance_failure_rate"), Estimate::proportion(changed, n)));
        }
        let u: Vec<f64> = outcomes.iter().map(|&o| utility.of(o)).collect();
        out.push(metric(&name("utility"), Estimate::mean(&u, seed.derive(&name("utility")))));
        utilities.push(u);
    }
    (out, utilities)
}

/// Reliability and risk–coverage of the model's confidence, every query counted (an
/// off-topic query answered is an error; a query without an intent has confidence 0).
pub fn curves(queries: &[Query], replies: &[Reply]) -> Option<CalibrationCurves> {
    let (confidence, correct): (Vec<f64>, Vec<bool>) = replies
        .iter()
        .zip(queries)
        .map(|(r, q)| match r.intent() {
            Some((p, c)) => (f64::from(c), q.intent == Some(p)),
            None => (0.0, false),
        })
        .unzip();
    if confidence.is_empty() {
        return None;
    }
    let rc = stressor_calibration::risk_coverage(&confidence, &correct);
    let step = (rc.coverage.len() / 100).max(1);
    let risk_coverage: Vec<(f64, f64)> = rc
        .coverage
        .iter()
        .zip(&rc.risk)
        .enumerate()
        .filter(|(i, _)| i % step == 0 || *i + 1 == rc.coverage.len())
        .map(|(_, (&c, &r))| (c, r))
        .collect();
    let reliability: Vec<ReliabilityBin> = stressor_calibration::reliability_of(
        &confidence,
        &correct,
        10,
        stressor_calibration::Binning::EqualWidth,
    )
    .into_iter()
    .map(|b| ReliabilityBin {
        lower: b.lower,
        upper: b.upper,
        count: b.count,
        mean_confidence: b.mean_confidence,
        accuracy: b.accuracy,
    })
    .collect();
    let histogram = reliability.iter().map(|b| b.count).collect();
    Some(CalibrationCurves { reliability, confidence_histogram: histogram, risk_coverage })
}

/// The worst `k` queries at a point: answers that changed from right to wrong, most confident
/// first, then other changed answers, then (without a clean run) confident wrong answers.
#[allow(clippy::too_many_arguments)]
pub fn worst_examples(
    queries: &[Query],
    texts: &[String],
    replies: &[Reply],
    judged: &Judged,
    clean: Option<(&[String], &Judged)>,
    intents: &[String],
    k: usize,
) -> Vec<ChatExample> {
    let actions = &judged.actions[0];
    let outcomes = &judged.outcomes[0];
    let confidence = |i: usize| replies[i].intent().map_or(0.0, |(_, c)| f64::from(c));
    let mut ranked: Vec<(u8, f64, usize)> = (0..queries.len())
        .filter_map(|i| {
            let bad = matches!(outcomes[i], Outcome::Wrong | Outcome::Dropped | Outcome::Unmapped);
            let rank = match clean {
                Some((_, c)) => {
                    let was_right = c.outcomes[0][i] == Outcome::Correct;
                    let changed = c.actions[0][i] != actions[i];
                    match (changed, was_right, bad) {
                        (true, true, true) => 0,
                        (true, _, _) => 1,
                        _ => return None,
                    }
                }
                None if bad => 0,
                None => return None,
            };
            Some((rank, -confidence(i), i))
        })
        .collect();
    ranked.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
    ranked
        .into_iter()
        .take(k)
        .map(|(_, _, i)| ChatExample {
            original: queries[i].text.clone(),
            perturbed: texts[i].clone(),
            truth: truth_label(queries[i].intent, intents),
            clean_answer: clean
                .map_or_else(|| "–".to_owned(), |(_, c)| action_label(c.actions[0][i], intents)),
            answer: action_label(actions[i], intents),
            confidence: confidence(i),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(intent: u32, confidence: f32) -> Reply {
        Reply::Intent { intent, confidence, scores: None }
    }

    #[test]
    fn outcomes_follow_the_table() {
        let rules = Rules::new(vec![(vec!["balance".into()], 3)]);
        // Confident and right; confident and wrong; unsure and right (needless handoff);
        // unsure and wrong (justified); off-topic handed off (justified); a rule saves it.
        let cases = [
            (reply(1, 0.9), "a", Some(1), Outcome::Correct),
            (reply(2, 0.9), "a", Some(1), Outcome::Wrong),
            (reply(1, 0.1), "a", Some(1), Outcome::NeedlessHandoff),
            (reply(2, 0.1), "a", Some(1), Outcome::JustifiedHandoff),
            (reply(2, 0.1), "a", None, Outcome::JustifiedHandoff),
            (reply(2, 0.9), "a", None, Outcome::Wrong),
            (reply(2, 0.1), "my Balance please", Some(3), Outcome::Correct),
            (Reply::Declined, "a", None, Outcome::JustifiedHandoff),
            (Reply::Failed("503".into()), "a", Some(1), Outcome::Dropped),
            (Reply::Unmapped("?".into()), "a", Some(1), Outcome::Unmapped),
        ];
        for (r, text, truth, expected) in cases {
            let a = action(&r, text, Some(0.5), &rules);
            assert_eq!(outcome(a, &r, truth), expected, "{r:?} {text} {truth:?}");
        }
        // Without a threshold everything goes to a human (or a rule).
        assert_eq!(action(&reply(1, 1.0), "x", None, &rules), Action::Human);
    }

    #[test]
    fn point_metrics_count_what_they_say() {
        let q = |intent| Query { text: "t".into(), intent };
        let queries = vec![q(Some(0)), q(Some(1)), q(Some(1)), q(None)];
        let texts: Vec<String> = queries.iter().map(|q| q.text.clone()).collect();
        let replies = vec![reply(0, 0.9), reply(1, 0.2), reply(0, 0.8), reply(1, 0.1)];
        let policies = vec![Policy { name: "p".into(), threshold: Some(0.5) }];
        let judged = judge(&queries, &texts, &replies, &policies, &Rules::default());
        let (metrics, utilities) = point_metrics(
            &queries,
            &replies,
            &judged,
            None,
            &policies,
            &Utility::default(),
            Seed::new(1),
        );
        let get = |n: &str| metrics.iter().find(|m| m.name == n).expect("reported").estimate.value;
        assert!((get("accuracy") - 2.0 / 3.0).abs() < 1e-12);
        assert!((get("handoff_rate") - 0.5).abs() < 1e-12);
        assert!((get("answered_accuracy") - 0.5).abs() < 1e-12);
        assert!((get("oos_recall") - 1.0).abs() < 1e-12);
        assert!((get("false_handoff_rate") - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(utilities[0], vec![1.0, 0.4, 0.0, 0.7]);
    }
}
