//! The black-box word-substitution attack as a stress: TextFooler's greedy search
//! (`stressor_text::attack`) on queries the chatbot answers right, its query budget the dial.

use stressor_core::{
    ChatExamples, ChatbotDetail, Estimate, HandoffPolicy, MetricValue, StepResult,
};
use stressor_intent::{Query, Reply};
use stressor_scenario::{EngineError, RunContext};
use stressor_text::attack::{Answer, AttackConfig, attack};

use crate::measure;
use crate::plan::StressPlan;
use crate::run::{Context, chatbot_error, finish, replies};
use crate::score::Curve;

pub(crate) fn attack_step(
    ctx: &mut Context<'_>,
    run: &mut RunContext<'_>,
    policies: &[HandoffPolicy],
    stress: &StressPlan,
    max_changed_share: f64,
    min_similarity: f64,
    samples: usize,
) -> Result<StepResult, EngineError> {
    let (info, t) = crate::run::started(
        run,
        &stress.id,
        format!(
            "black-box word substitution (TextFooler's greedy search: word importance by deletion, WordNet synonyms, at most {max_changed_share} of the words, character-trigram similarity ≥ {min_similarity}) on queries answered right, the dial its query budget per query"
        ),
        Some((&stress.dial_name, &stress.dial)),
    );
    // The queries the chatbot answers right, as an attacker would pick them.
    let in_scope: Vec<Query> = ctx.queries.iter().filter(|q| q.intent.is_some()).cloned().collect();
    let texts: Vec<String> = in_scope.iter().map(|q| q.text.clone()).collect();
    let first = replies(ctx.model.as_ref(), &texts)?;
    let targets: Vec<Query> = in_scope
        .into_iter()
        .zip(&first)
        .filter(|(q, r)| r.intent().map(|(p, _)| p) == q.intent)
        .map(|(q, _)| q)
        .take(samples)
        .collect();
    let clean_texts: Vec<String> = targets.iter().map(|q| q.text.clone()).collect();
    let clean_replies = replies(ctx.model.as_ref(), &clean_texts)?;
    let clean = measure::judge(&targets, &clean_texts, &clean_replies, &ctx.policies, &ctx.rules);
    let model = ctx.model.clone();
    let mut failure: Option<String> = None;
    let mut points = Vec::new();
    let mut examples = Vec::new();
    let mut curve = Curve { name: stress.id.clone(), points: Vec::new(), paired: true };
    let step_seed = ctx.seed.derive(&format!("stress/{}", stress.id));
    for &budget in &stress.dial {
        let config = AttackConfig {
            query_budget: budget.round() as usize,
            max_changed_share,
            min_similarity,
        };
        let mut perturbed = Vec::with_capacity(targets.len());
        let mut successes = 0_u64;
        let mut queries_on_success = Vec::new();
        for q in &targets {
            let truth = q.intent.unwrap_or(0);
            let mut oracle = |batch: &[String]| -> Vec<Answer> {
                let refs: Vec<&str> = batch.iter().map(String::as_str).collect();
                match model.reply(&refs) {
                    Ok(rs) => rs.iter().map(|r| answer(r, truth)).collect(),
                    Err(e) => {
                        failure.get_or_insert(e.to_string());
                        batch.iter().map(|_| Answer { label: None, true_prob: 0.0 }).collect()
                    }
                }
            };
            if config.query_budget == 0 {
                perturbed.push(q.text.clone());
                continue;
            }
            let outcome = attack(&q.text, truth, &mut oracle, &config)
                .map_err(|e| chatbot_error(format!("stress `{}`: {e}", stress.id)))?;
            if outcome.success {
                successes += 1;
                queries_on_success.push(outcome.queries as f64);
            }
            perturbed.push(outcome.perturbed);
        }
        if let Some(reason) = failure.take() {
            return Err(chatbot_error(format!("the chatbot failed during the attack: {reason}")));
        }
        let replies = replies(ctx.model.as_ref(), &perturbed)?;
        let judged = measure::judge(&targets, &perturbed, &replies, &ctx.policies, &ctx.rules);
        let (mut metrics, utilities) = measure::point_metrics(
            &targets,
            &replies,
            &judged,
            Some(&clean),
            &ctx.policies,
            &ctx.plan.utility,
            step_seed.derive(&format!("point/{budget}")),
        );
        metrics.push(MetricValue {
            name: "attack_success_rate".into(),
            estimate: Estimate::proportion(successes, targets.len() as u64),
        });
        if !queries_on_success.is_empty() {
            metrics.push(MetricValue {
                name: "queries_per_success_mean".into(),
                estimate: Estimate::mean(&queries_on_success, step_seed.derive("queries")),
            });
        }
        let mut p = crate::run::point(Some(budget), metrics);
        p.calibration = measure::curves(&targets, &replies);
        points.push(p);
        examples.push(ChatExamples {
            dial_value: Some(budget),
            examples: measure::worst_examples(
                &targets,
                &perturbed,
                &replies,
                &judged,
                Some((&clean_texts, &clean)),
                &ctx.intents,
                ctx.plan.examples,
            ),
        });
        curve.points.push((budget, utilities.into_iter().next().unwrap_or_default()));
    }
    ctx.curves.push(curve);
    let detail = ChatbotDetail {
        step_id: stress.id.clone(),
        policies: policies.to_vec(),
        examples,
        ..ChatbotDetail::default()
    };
    let parameters = vec![
        ("queries attacked".to_owned(), targets.len().to_string()),
        ("max changed share".to_owned(), max_changed_share.to_string()),
        ("min similarity (character trigrams)".to_owned(), min_similarity.to_string()),
    ];
    Ok(finish(run, info, t, parameters, points, detail))
}

/// The oracle's view of a reply: its label, and the probability of the true intent (the
/// confidence when it is the answer, 0 otherwise, for a chatbot that exposes no scores).
fn answer(reply: &Reply, truth: u32) -> Answer {
    match reply {
        Reply::Intent { intent, confidence, scores } => {
            let true_prob = scores
                .as_ref()
                .and_then(|s| s.probs.get(truth as usize).copied())
                .unwrap_or(if *intent == truth { *confidence } else { 0.0 });
            Answer { label: Some(*intent), true_prob }
        }
        _ => Answer { label: None, true_prob: 0.0 },
    }
}
