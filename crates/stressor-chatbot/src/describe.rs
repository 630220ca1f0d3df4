//! The plan for people (`stressor check`).

use std::io::Write;

use crate::plan::{
    ChatbotPlan, DataSource, HttpKind, IntentRule, ModelPlan, StressKind, fixed_name,
};

fn model(m: &ModelPlan) -> String {
    match m {
        ModelPlan::Builtin(b) => format!(
            "the built-in intent classifier ({} n-grams, softmax regression{}{})",
            if b.words_only { "word" } else { "word and character" },
            b.epochs.map_or(String::new(), |e| format!(", {e} epochs")),
            b.l2.map_or(String::new(), |l| format!(", L2 {l}")),
        ),
        ModelPlan::MiniLm(m) => format!(
            "sentence embeddings from the encoder in {} with a softmax head{}{}",
            m.path.display(),
            m.epochs.map_or(String::new(), |e| format!(", {e} epochs")),
            m.l2.map_or(String::new(), |l| format!(", L2 {l}")),
        ),
        ModelPlan::Http(h) => {
            let rule = match &h.intent {
                IntentRule::Pointer(p) => format!("intent at `{p}`"),
                IntentRule::Regex(r) => format!("intent by /{r}/"),
            };
            let kind = match h.kind {
                HttpKind::OpenAi => "OpenAI-compatible chat completions",
                HttpKind::Json => "JSON classifier",
            };
            format!("{kind} at {} ({rule}, timeout {:.1} s)", h.url, h.timeout.as_secs_f64())
        }
    }
}

pub(crate) fn describe(plan: &ChatbotPlan, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "chatbot  {}", model(&plan.model))?;
    let data = match &plan.data {
        DataSource::Clinc150 => "CLINC150 (vendored, CC BY 3.0)".to_owned(),
        DataSource::File(p) => p.display().to_string(),
    };
    writeln!(
        out,
        "queries  {data}: {} in-scope and {} off-topic test queries",
        plan.samples, plan.off_topic_samples
    )?;
    let mut policies = vec![format!(
        "guaranteed (error of answered ≤ {} with probability ≥ {})",
        plan.handoff.alpha,
        1.0 - plan.handoff.delta
    )];
    policies.extend(plan.handoff.fixed.iter().map(|t| fixed_name(*t)));
    writeln!(out, "handoff  {}", policies.join("; "))?;
    if !plan.handoff.rules.is_empty() {
        writeln!(out, "rules    {} keyword rules before a human", plan.handoff.rules.len())?;
    }
    let u = &plan.utility;
    writeln!(
        out,
        "utility  correct {}, justified handoff {}, needless handoff {}, wrong {}, dropped {}",
        u.correct, u.justified_handoff, u.needless_handoff, u.wrong, u.dropped
    )?;
    writeln!(out, "step clean  the queries as written")?;
    for s in &plan.stresses {
        let what = match &s.kind {
            StressKind::Perturbation(name) => name.clone(),
            StressKind::OffTopic => "off-topic queries mixed in".to_owned(),
            StressKind::WordSubstitution { max_changed_share, min_similarity, samples } => format!(
                "word substitution on {samples} queries (≤ {max_changed_share} of words, similarity ≥ {min_similarity})"
            ),
        };
        let dial: Vec<String> = s.dial.iter().map(|v| stressor_scenario::fmt_value(*v)).collect();
        writeln!(out, "step {}  {what} over {} = [{}]", s.id, s.dial_name, dial.join(", "))?;
    }
    if let Some(s) = &plan.surge {
        writeln!(
            out,
            "step surge  {} req/s for {:.0} s → {}× for {:.0} s → {} req/s for {:.0} s; server {} slots, queue {}, {:.0} ms per request",
            s.rate,
            s.before.as_secs_f64(),
            s.multiple,
            s.duration.as_secs_f64(),
            s.rate,
            s.after.as_secs_f64(),
            s.max_concurrency,
            s.queue_limit,
            s.service_time.as_secs_f64() * 1000.0
        )?;
    }
    if let Some(s) = &plan.shadow {
        writeln!(
            out,
            "step shadow  candidate: {}; {} promotion gates",
            model(&s.candidate),
            s.promote_if.len()
        )?;
    }
    writeln!(out, "step degradation  the graceful degradation score over every stress")?;
    for gate in &plan.gates {
        writeln!(out, "gate {}", gate.id)?;
    }
    Ok(())
}
