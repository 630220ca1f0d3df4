//! The steps: `clean`, one per stress, `surge`, `shadow`, `degradation`.

use std::sync::Arc;
use std::time::Instant;

use stressor_core::{
    ChatExamples, ChatbotDetail, DetectorScore, Estimate, Event, HandoffPolicy, MetricValue,
    RunInfo, Seed, StepInfo, StepKind, StepPoint, StepResult,
};
use stressor_intent::{IntentModel, Query, Reply};
use stressor_scenario::{EngineError, RunContext};

use crate::measure::{self, Judged, Policy, Rules};
use crate::plan::{ChatbotPlan, StressKind, StressPlan, fixed_name};
use crate::score::{self, Curve};

/// Why the chatbot part could not run.
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct ChatbotError {
    /// What went wrong.
    pub reason: String,
}

pub(crate) fn chatbot_error(reason: impl Into<String>) -> EngineError {
    EngineError::Family(Box::new(ChatbotError { reason: reason.into() }))
}

pub(crate) fn step_ids(plan: &ChatbotPlan) -> Vec<String> {
    let mut ids = vec!["clean".to_owned()];
    ids.extend(plan.stresses.iter().map(|s| s.id.clone()));
    if plan.surge.is_some() {
        ids.push("surge".into());
    }
    if plan.shadow.is_some() {
        ids.push("shadow".into());
    }
    ids.push("degradation".into());
    ids
}

/// Replies to `texts`, in batches.
pub(crate) fn replies(
    model: &dyn IntentModel,
    texts: &[String],
) -> Result<Vec<Reply>, EngineError> {
    let mut out = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(256) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let r = model.reply(&refs).map_err(|e| {
            chatbot_error(format!("the chatbot ({}) failed: {e}", model.describe()))
        })?;
        if r.len() != refs.len() {
            return Err(chatbot_error(format!(
                "the chatbot ({}) answered {} of {} queries",
                model.describe(),
                r.len(),
                refs.len()
            )));
        }
        out.extend(r);
    }
    Ok(out)
}

/// What every step shares.
pub(crate) struct Context<'a> {
    pub(crate) plan: &'a ChatbotPlan,
    pub(crate) model: Arc<dyn IntentModel>,
    /// The user's chatbot's client, when the chatbot is theirs over HTTP.
    pub(crate) remote: Option<Arc<crate::remote::Remote>>,
    pub(crate) intents: Vec<String>,
    pub(crate) policies: Vec<Policy>,
    pub(crate) rules: Rules,
    pub(crate) seed: Seed,
    /// The evaluated queries: in-scope first, then off-topic.
    pub(crate) queries: Vec<Query>,
    /// Off-topic queries not among `queries`, for the off-topic stress.
    pub(crate) spare_off_topic: Vec<Query>,
    pub(crate) curves: Vec<Curve>,
}

fn metric(name: &str, estimate: Estimate) -> MetricValue {
    MetricValue { name: name.to_owned(), estimate }
}

pub(crate) fn point(dial_value: Option<f64>, metrics: Vec<MetricValue>) -> StepPoint {
    StepPoint {
        dial_value,
        metrics,
        per_class: Vec::new(),
        confusion_growth: Vec::new(),
        exemplars: Vec::new(),
        loss_trace: Vec::new(),
        calibration: None,
    }
}

pub(crate) fn run_part(
    plan: &ChatbotPlan,
    run: &mut RunContext<'_>,
) -> Result<Vec<StepResult>, EngineError> {
    let seed = run.seed.derive("chatbot");
    let corpus = crate::model::corpus(plan)?;
    let (model, remote) =
        crate::model::load_with_remote(&plan.model, &corpus, run.config, seed.derive("model"))?;
    let intents = model.intents().to_vec();
    let (queries, spare_off_topic) = crate::model::sample(plan, &corpus, &intents, seed)?;
    let n_in = queries.iter().filter(|q| q.intent.is_some()).count();
    run.start(RunInfo {
        scenario_name: run.scenario_name.to_string(),
        scenario_source: run.scenario_source.to_string(),
        seed: run.seed.value(),
        target_name: model.describe(),
        target_kind: "chatbot".into(),
        input_shape: Vec::new(),
        class_names: intents.clone(),
        data_name: match &plan.data {
            crate::plan::DataSource::Clinc150 => "CLINC150 test".to_owned(),
            crate::plan::DataSource::File(p) => p.display().to_string(),
        },
        n_samples: queries.len(),
        stressor_version: run.config.stressor_version.clone(),
    });
    let mut rules = Vec::new();
    for (i, rule) in plan.handoff.rules.iter().enumerate() {
        let Some(index) = intents.iter().position(|name| *name == rule.intent) else {
            return Err(chatbot_error(format!(
                "chatbot.handoff.rules[{i}].intent: the chatbot has no intent `{}`",
                rule.intent
            )));
        };
        rules.push((rule.keywords.clone(), index as u32));
    }
    let rules = Rules::new(rules);

    // The guaranteed threshold, fitted on the clean calibration split.
    let calibration: Vec<Query> = corpus.val.iter().chain(&corpus.oos_val).cloned().collect();
    let calibration_texts: Vec<String> = calibration.iter().map(|q| q.text.clone()).collect();
    let calibration_replies = replies(model.as_ref(), &calibration_texts)?;
    let (confidence, error): (Vec<f64>, Vec<bool>) = calibration_replies
        .iter()
        .zip(&calibration)
        .map(|(r, q)| match r.intent() {
            Some((p, c)) => (f64::from(c), q.intent != Some(p)),
            None => (0.0, true),
        })
        .unzip();
    let config = stressor_calibration::HandoffConfig::new(plan.handoff.alpha, plan.handoff.delta);
    let fitted = stressor_calibration::handoff_threshold(&confidence, &error, &config)
        .map_err(|e| chatbot_error(format!("fitting the handoff threshold: {e}")))?;
    let mut policies =
        vec![Policy { name: "guaranteed".into(), threshold: fitted.as_ref().map(|h| h.threshold) }];
    policies.extend(
        plan.handoff.fixed.iter().map(|&t| Policy { name: fixed_name(t), threshold: Some(t) }),
    );
    let mut described = vec![HandoffPolicy {
        name: "guaranteed".into(),
        description: format!(
            "Learn-then-Test on {} clean calibration queries (CLINC150 val and its off-topic val): the error rate of answered queries is ≤ {} with probability ≥ {}{}",
            calibration.len(),
            plan.handoff.alpha,
            1.0 - plan.handoff.delta,
            match &fitted {
                Some(h) => format!(
                    "; on calibration it answers {} of {} ({} errors)",
                    h.calibration.n_answered, h.calibration.n, h.calibration.n_errors
                ),
                None => "; no threshold qualified, so every query goes to a human".to_owned(),
            }
        ),
        threshold: fitted.as_ref().map(|h| h.threshold),
    }];
    described.extend(plan.handoff.fixed.iter().map(|&t| HandoffPolicy {
        name: fixed_name(t),
        description: if (t - 0.3).abs() < 1e-12 {
            "a fixed threshold: Rasa's and Dialogflow's default (0.3)".into()
        } else {
            format!("a fixed threshold of {t}")
        },
        threshold: Some(t),
    }));

    let mut ctx = Context {
        plan,
        model,
        remote,
        intents,
        policies,
        rules,
        seed,
        queries,
        spare_off_topic,
        curves: Vec::new(),
    };
    let table2 = match plan.data {
        crate::plan::DataSource::Clinc150 => {
            Some(paper_protocol(&ctx, &corpus, &calibration, &calibration_replies)?)
        }
        crate::plan::DataSource::File(_) => None,
    };
    let mut steps = Vec::new();
    let clean = clean_step(&mut ctx, run, &described, n_in, table2)?;
    steps.push(clean.0);
    let clean_judged = clean.1;
    for stress in &plan.stresses {
        steps.push(stress_step(&mut ctx, run, &described, stress, &clean_judged)?);
    }
    let candidate = match &plan.shadow {
        Some(s) => {
            Some(crate::model::load(&s.candidate, &corpus, run.config, seed.derive("candidate"))?)
        }
        None => None,
    };
    if let Some(c) = &candidate
        && c.intents() != ctx.intents.as_slice()
    {
        return Err(chatbot_error(
            "chatbot.shadow.candidate: the candidate's intents differ from the live chatbot's",
        ));
    }
    let mut under_load = None;
    if let Some(surge) = &plan.surge {
        let (step, shadow) =
            crate::surge::surge_step(&mut ctx, run, &described, surge, candidate.clone())?;
        steps.push(step);
        under_load = shadow;
    }
    if let (Some(shadow), Some(candidate)) = (&plan.shadow, candidate) {
        steps.push(crate::shadow::shadow_step(&mut ctx, run, shadow, candidate, under_load)?);
    }
    steps.push(degradation_step(&ctx, run));
    Ok(steps)
}

pub(crate) fn started(
    run: &mut RunContext<'_>,
    id: &str,
    description: String,
    dial: Option<(&str, &[f64])>,
) -> (StepInfo, Instant) {
    let info = StepInfo {
        id: id.to_owned(),
        kind: StepKind::Chatbot,
        description,
        dial_name: dial.map(|(name, _)| name.to_owned()),
        dial_values: dial.map_or_else(Vec::new, |(_, v)| v.to_vec()),
    };
    run.sink.event(&Event::StepStarted(info.clone()));
    (info, Instant::now())
}

pub(crate) fn finish(
    run: &mut RunContext<'_>,
    info: StepInfo,
    t: Instant,
    parameters: Vec<(String, String)>,
    points: Vec<StepPoint>,
    detail: ChatbotDetail,
) -> StepResult {
    run.sink.event(&Event::ChatbotDetail(detail));
    let result = StepResult { info, parameters, points, elapsed: t.elapsed() };
    run.sink.event(&Event::StepFinished(result.clone()));
    result
}

fn detectors(
    queries: &[Query],
    replies: &[Reply],
    dial_value: Option<f64>,
    seed: Seed,
    metrics: &mut Vec<MetricValue>,
) -> Vec<DetectorScore> {
    let mut out = Vec::new();
    if !queries.iter().any(|q| q.intent.is_none()) || !queries.iter().any(|q| q.intent.is_some()) {
        return out;
    }
    type Score = fn(&Reply) -> Option<f64>;
    let kinds: [(&str, &str, Score); 3] = [
        ("max-softmax", "max_softmax", |r| r.intent().map(|(_, c)| f64::from(c))),
        ("energy", "energy", |r| match r {
            Reply::Intent { scores: Some(s), .. } => {
                s.logits.as_ref().map(|l| -stressor_calibration::energy_score(l, l.len(), 1.0)[0])
            }
            _ => None,
        }),
        ("distance", "distance", |r| match r {
            Reply::Intent { scores: Some(s), .. } => s.distance.map(|d| -f64::from(d)),
            _ => None,
        }),
    ];
    for (label, key, score) in kinds {
        let scored: Vec<(Option<f64>, bool)> =
            replies.iter().zip(queries).map(|(r, q)| (score(r), q.intent.is_some())).collect();
        if scored.iter().any(|(s, _)| s.is_none()) {
            continue;
        }
        let inside: Vec<f64> = scored.iter().filter(|(_, i)| *i).filter_map(|(s, _)| *s).collect();
        let outside: Vec<f64> =
            scored.iter().filter(|(_, i)| !*i).filter_map(|(s, _)| *s).collect();
        let summary = stressor_calibration::summarize_ood(&inside, &outside, 500, seed.derive(key));
        metrics.push(metric(&format!("auroc_{key}"), summary.auroc));
        metrics.push(metric(&format!("fpr95_{key}"), summary.fpr_at_95_tpr));
        out.push(DetectorScore {
            dial_value,
            detector: label.to_owned(),
            auroc: summary.auroc,
            fpr_at_95_tpr: summary.fpr_at_95_tpr,
        });
    }
    out
}

/// CLINC150's own protocol (Larson et al. 2019, Table 2, "oos-threshold"): the max-softmax
/// threshold with the best validation accuracy over the intents plus out-of-scope as a class,
/// then in-scope accuracy and out-of-scope recall on the whole test split.
fn paper_protocol(
    ctx: &Context<'_>,
    corpus: &stressor_intent::Corpus,
    calibration: &[Query],
    calibration_replies: &[Reply],
) -> Result<(Vec<MetricValue>, f64), EngineError> {
    // 0: in scope and right, 1: in scope and wrong, 2: out of scope.
    let mut scored: Vec<(f64, u8)> = calibration_replies
        .iter()
        .zip(calibration)
        .map(|(r, q)| {
            let c = r.intent().map_or(0.0, |(_, c)| f64::from(c));
            let kind = match q.intent {
                None => 2,
                Some(t) if r.intent().map(|(p, _)| p) == Some(t) => 0,
                Some(_) => 1,
            };
            (c, kind)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    // Answer nothing: every out-of-scope query is right. Lower the threshold one confidence
    // at a time.
    let mut score: i64 = scored.iter().filter(|s| s.1 == 2).count() as i64;
    let (mut best, mut threshold) = (score, f64::INFINITY);
    let mut i = 0;
    while i < scored.len() {
        let c = scored[i].0;
        while i < scored.len() && scored[i].0 == c {
            score += match scored[i].1 {
                0 => 1,
                2 => -1,
                _ => 0,
            };
            i += 1;
        }
        if score > best {
            (best, threshold) = (score, c);
        }
    }
    let map = |q: &Query| Query {
        text: q.text.clone(),
        intent: q.intent.and_then(|i| {
            let name = &corpus.intents[i as usize];
            ctx.intents.iter().position(|n| n == name).map(|p| p as u32)
        }),
    };
    let test: Vec<Query> = corpus.test.iter().chain(&corpus.oos_test).map(map).collect();
    let texts: Vec<String> = test.iter().map(|q| q.text.clone()).collect();
    let answers = replies(ctx.model.as_ref(), &texts)?;
    let (mut right, mut n_in, mut caught, mut n_out) = (0_u64, 0_u64, 0_u64, 0_u64);
    for (q, r) in test.iter().zip(&answers) {
        let answered = r.intent().filter(|(_, c)| f64::from(*c) >= threshold);
        match q.intent {
            Some(t) => {
                n_in += 1;
                right += u64::from(answered.is_some_and(|(p, _)| p == t));
            }
            None => {
                n_out += 1;
                caught += u64::from(answered.is_none());
            }
        }
    }
    Ok((
        vec![
            metric("table2_in_scope_accuracy", Estimate::proportion(right, n_in)),
            metric("table2_oos_recall", Estimate::proportion(caught, n_out)),
        ],
        threshold,
    ))
}

fn clean_step(
    ctx: &mut Context<'_>,
    run: &mut RunContext<'_>,
    policies: &[HandoffPolicy],
    n_in: usize,
    table2: Option<(Vec<MetricValue>, f64)>,
) -> Result<(StepResult, Judged), EngineError> {
    let (info, t) = started(
        run,
        "clean",
        format!(
            "the queries as written: {n_in} in-scope and {} off-topic",
            ctx.queries.len() - n_in
        ),
        None,
    );
    let texts: Vec<String> = ctx.queries.iter().map(|q| q.text.clone()).collect();
    let replies = replies(ctx.model.as_ref(), &texts)?;
    let judged = measure::judge(&ctx.queries, &texts, &replies, &ctx.policies, &ctx.rules);
    let (mut metrics, _) = measure::point_metrics(
        &ctx.queries,
        &replies,
        &judged,
        None,
        &ctx.policies,
        &ctx.plan.utility,
        ctx.seed.derive("clean"),
    );
    let detectors =
        detectors(&ctx.queries, &replies, None, ctx.seed.derive("clean/ood"), &mut metrics);
    let table2_threshold = table2.as_ref().map(|t| t.1);
    metrics.extend(table2.into_iter().flat_map(|t| t.0));
    let mut p = point(None, metrics);
    p.calibration = measure::curves(&ctx.queries, &replies);
    let examples = measure::worst_examples(
        &ctx.queries,
        &texts,
        &replies,
        &judged,
        None,
        &ctx.intents,
        ctx.plan.examples,
    );
    let detail = ChatbotDetail {
        step_id: "clean".into(),
        policies: policies.to_vec(),
        examples: vec![ChatExamples { dial_value: None, examples }],
        detectors,
        ..ChatbotDetail::default()
    };
    let mut parameters = vec![
        ("in-scope queries".to_owned(), n_in.to_string()),
        ("off-topic queries".to_owned(), (ctx.queries.len() - n_in).to_string()),
    ];
    if let Some(t) = table2_threshold {
        parameters.push((
            "table2 (whole CLINC150 test split, max-softmax threshold chosen on val as the paper does)".to_owned(),
            format!("threshold {t:.4}; the paper's oos-threshold rows (in-scope accuracy / off-topic recall): BERT 96.2 / 52.3, MLP 93.4 / 49.1, FastText 88.6 / 28.3, SVM 88.2 / 18.0"),
        ));
    }
    let result = finish(run, info, t, parameters, vec![p], detail);
    Ok((result, judged))
}

fn stress_step(
    ctx: &mut Context<'_>,
    run: &mut RunContext<'_>,
    policies: &[HandoffPolicy],
    stress: &StressPlan,
    clean: &Judged,
) -> Result<StepResult, EngineError> {
    match &stress.kind {
        StressKind::Perturbation(name) => {
            perturbation_step(ctx, run, policies, stress, name, clean)
        }
        StressKind::OffTopic => off_topic_step(ctx, run, policies, stress),
        StressKind::WordSubstitution { max_changed_share, min_similarity, samples } => {
            crate::attack::attack_step(
                ctx,
                run,
                policies,
                stress,
                *max_changed_share,
                *min_similarity,
                *samples,
            )
        }
    }
}

fn perturbation_step(
    ctx: &mut Context<'_>,
    run: &mut RunContext<'_>,
    policies: &[HandoffPolicy],
    stress: &StressPlan,
    name: &str,
    clean: &Judged,
) -> Result<StepResult, EngineError> {
    let perturbation: stressor_text::Perturbation =
        name.parse().map_err(|e| chatbot_error(format!("stress `{}`: {e}", stress.id)))?;
    let (info, t) = started(
        run,
        &stress.id,
        format!("{name}: {}", perturbation.source()),
        Some((&stress.dial_name, &stress.dial)),
    );
    let clean_texts: Vec<String> = ctx.queries.iter().map(|q| q.text.clone()).collect();
    let step_seed = ctx.seed.derive(&format!("stress/{}", stress.id));
    let mut points = Vec::new();
    let mut examples = Vec::new();
    let mut curve = Curve { name: stress.id.clone(), points: Vec::new(), paired: true };
    for &dial in &stress.dial {
        let texts: Vec<String> = ctx
            .queries
            .iter()
            .enumerate()
            .map(|(i, q)| {
                let mut rng = step_seed.derive_index(i as u64).rng();
                perturbation.apply(&q.text, dial, &mut rng)
            })
            .collect();
        let replies = replies(ctx.model.as_ref(), &texts)?;
        let judged = measure::judge(&ctx.queries, &texts, &replies, &ctx.policies, &ctx.rules);
        let (metrics, utilities) = measure::point_metrics(
            &ctx.queries,
            &replies,
            &judged,
            Some(clean),
            &ctx.policies,
            &ctx.plan.utility,
            step_seed.derive(&format!("point/{dial}")),
        );
        let mut p = point(Some(dial), metrics);
        p.calibration = measure::curves(&ctx.queries, &replies);
        points.push(p);
        examples.push(ChatExamples {
            dial_value: Some(dial),
            examples: measure::worst_examples(
                &ctx.queries,
                &texts,
                &replies,
                &judged,
                Some((&clean_texts, clean)),
                &ctx.intents,
                ctx.plan.examples,
            ),
        });
        curve.points.push((dial, utilities.into_iter().next().unwrap_or_default()));
    }
    ctx.curves.push(curve);
    let detail = ChatbotDetail {
        step_id: stress.id.clone(),
        policies: policies.to_vec(),
        examples,
        ..ChatbotDetail::default()
    };
    // The description states the source.
    Ok(finish(run, info, t, Vec::new(), points, detail))
}

fn off_topic_step(
    ctx: &mut Context<'_>,
    run: &mut RunContext<'_>,
    policies: &[HandoffPolicy],
    stress: &StressPlan,
) -> Result<StepResult, EngineError> {
    let (info, t) = started(
        run,
        &stress.id,
        "off-topic queries (CLINC150's out-of-scope set) mixed in at the dial's share".into(),
        Some((&stress.dial_name, &stress.dial)),
    );
    let in_scope: Vec<Query> = ctx.queries.iter().filter(|q| q.intent.is_some()).cloned().collect();
    let pool: Vec<Query> = ctx
        .queries
        .iter()
        .filter(|q| q.intent.is_none())
        .chain(&ctx.spare_off_topic)
        .cloned()
        .collect();
    let total = in_scope.len();
    let mut points = Vec::new();
    let mut examples = Vec::new();
    let mut all_detectors = Vec::new();
    let mut curve = Curve { name: stress.id.clone(), points: Vec::new(), paired: false };
    let step_seed = ctx.seed.derive(&format!("stress/{}", stress.id));
    let mut capped = false;
    for &share in &stress.dial {
        let mut n_out = (share * total as f64).round() as usize;
        if n_out > pool.len() {
            n_out = pool.len();
            capped = true;
        }
        let n_in = total - n_out;
        let queries: Vec<Query> = in_scope[..n_in].iter().chain(&pool[..n_out]).cloned().collect();
        let texts: Vec<String> = queries.iter().map(|q| q.text.clone()).collect();
        let replies = replies(ctx.model.as_ref(), &texts)?;
        let judged = measure::judge(&queries, &texts, &replies, &ctx.policies, &ctx.rules);
        let (mut metrics, utilities) = measure::point_metrics(
            &queries,
            &replies,
            &judged,
            None,
            &ctx.policies,
            &ctx.plan.utility,
            step_seed.derive(&format!("point/{share}")),
        );
        all_detectors.extend(detectors(
            &queries,
            &replies,
            Some(share),
            step_seed.derive(&format!("ood/{share}")),
            &mut metrics,
        ));
        let mut p = point(Some(share), metrics);
        p.calibration = measure::curves(&queries, &replies);
        points.push(p);
        examples.push(ChatExamples {
            dial_value: Some(share),
            examples: measure::worst_examples(
                &queries,
                &texts,
                &replies,
                &judged,
                None,
                &ctx.intents,
                ctx.plan.examples,
            ),
        });
        curve.points.push((share, utilities.into_iter().next().unwrap_or_default()));
    }
    ctx.curves.push(curve);
    let detail = ChatbotDetail {
        step_id: stress.id.clone(),
        policies: policies.to_vec(),
        examples,
        detectors: all_detectors,
        ..ChatbotDetail::default()
    };
    let mut parameters = vec![
        ("queries per point".to_owned(), total.to_string()),
        ("off-topic pool".to_owned(), pool.len().to_string()),
    ];
    if capped {
        parameters.push((
            "note".to_owned(),
            "the largest shares are capped by the off-topic pool".to_owned(),
        ));
    }
    Ok(finish(run, info, t, parameters, points, detail))
}

fn degradation_step(ctx: &Context<'_>, run: &mut RunContext<'_>) -> StepResult {
    let (info, t) = started(
        run,
        "degradation",
        "the graceful degradation score: 100 × the mean over stresses of the utility kept over each dial (area under the utility curve over the clean utility)".into(),
        None,
    );
    let (score, parts) = score::degradation_score(&ctx.curves, 1000, ctx.seed.derive("score"));
    let mut metrics = vec![metric("degradation_score", score)];
    for (name, estimate) in parts {
        metrics.push(metric(&format!("retained_utility.{name}"), estimate));
    }
    let u = &ctx.plan.utility;
    let parameters = vec![(
        "utility".to_owned(),
        format!(
            "correct {}, justified handoff {}, needless handoff {}, wrong {}, dropped {}",
            u.correct, u.justified_handoff, u.needless_handoff, u.wrong, u.dropped
        ),
    )];
    finish(
        run,
        info,
        t,
        parameters,
        vec![point(None, metrics)],
        ChatbotDetail { step_id: "degradation".into(), ..ChatbotDetail::default() },
    )
}
