//! The chatbot over HTTP under a load surge: `stressor_serve::chat::ChatServer` serves the
//! chatbot (its handoff threshold the guaranteed one) with a bounded capacity, and
//! stressor-load sends chat-completions requests at the baseline rate, N× the baseline, then
//! the baseline again, checking every answer against the truth. Per second: requests,
//! latency, errors (503s and timeouts are dropped requests), accuracy of the answers and
//! handoffs; per phase: the utility; after the surge: the time to recover. With a shadow
//! candidate, the server mirrors every answered query to it, off the user's path.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use stressor_core::{
    ChatSecond, ChatbotDetail, Estimate, Event, HandoffPolicy, MetricValue, StepResult, Timeline,
    TimelinePoint,
};
use stressor_intent::{IntentModel, Query};
use stressor_load::recovery::{RecoveryPlan, baseline_range, recoveries, surge_windows};
use stressor_load::{Checked, LoadConfig, Profile, Stage};
use stressor_scenario::{EngineError, RunContext};
use stressor_serve::chat::{ChatServeConfig, ChatServer, ShadowStats};

use crate::measure::Outcome;
use crate::plan::SurgePlan;
use crate::run::{Context, chatbot_error, finish, point, started};
use crate::score::Curve;

fn metric(name: &str, estimate: Estimate) -> MetricValue {
    MetricValue { name: name.to_owned(), estimate }
}

/// What the shadow saw during the surge, for the shadow step.
pub(crate) type SurgeShadow = Option<ShadowStats>;

/// The surge's queries: the evaluated mix, or in-scope ones with off-topic ones at a share.
fn traffic(ctx: &Context<'_>, surge: &SurgePlan) -> Vec<Query> {
    match surge.off_topic_share {
        None => ctx.queries.clone(),
        Some(share) => {
            let in_scope: Vec<&Query> = ctx.queries.iter().filter(|q| q.intent.is_some()).collect();
            let pool: Vec<&Query> = ctx
                .queries
                .iter()
                .filter(|q| q.intent.is_none())
                .chain(&ctx.spare_off_topic)
                .collect();
            let n_out = ((share * in_scope.len() as f64).round() as usize).min(pool.len());
            let n_in = in_scope.len() - n_out.min(in_scope.len());
            in_scope[..n_in].iter().chain(&pool[..n_out]).map(|q| (*q).clone()).collect()
        }
    }
}

pub(crate) fn surge_step(
    ctx: &mut Context<'_>,
    run: &mut RunContext<'_>,
    policies: &[HandoffPolicy],
    surge: &SurgePlan,
    candidate: Option<Arc<dyn IntentModel>>,
) -> Result<(StepResult, SurgeShadow), EngineError> {
    let threshold = ctx.policies[0].threshold;
    let stages = vec![
        Stage::constant(surge.before, surge.rate),
        Stage::constant(surge.duration, surge.rate * surge.multiple),
        Stage::constant(surge.after, surge.rate),
    ];
    let profile = Profile::Open { stages };
    let (info, t) = started(
        run,
        "surge",
        match &ctx.remote {
            Some(remote) => format!(
                "your chatbot at {}, {} req/s → {}× → {} req/s, every answer checked",
                remote.url(),
                surge.rate,
                surge.multiple,
                surge.rate
            ),
            None => format!(
                "the chatbot over HTTP (OpenAI-compatible chat completions, {} slots, a queue of {}, {:.0} ms per request), {} req/s → {}× → {} req/s, every answer checked",
                surge.max_concurrency,
                surge.queue_limit,
                surge.service_time.as_secs_f64() * 1000.0,
                surge.rate,
                surge.multiple,
                surge.rate
            ),
        },
        None,
    );
    let queries = traffic(ctx, surge);
    if queries.is_empty() {
        return Err(chatbot_error("chatbot.surge: no query to send"));
    }
    // A user's chatbot is loaded at its own endpoint, with its own requests; the built-in one
    // is served by stressor's chat server.
    let remote = ctx.remote.clone();
    let bodies: Vec<Bytes> = queries
        .iter()
        .map(|q| match &remote {
            Some(remote) => remote.request_body(&q.text),
            None => Bytes::from(
                serde_json::json!({
                    "model": "chatbot",
                    "messages": [{"role": "user", "content": q.text}],
                })
                .to_string(),
            ),
        })
        .collect();
    let texts: Vec<String> = queries.iter().map(|q| q.text.clone()).collect();
    let rules = ctx.rules.clone();
    let reader = remote.clone();
    let truths: Vec<Option<u32>> = queries.iter().map(|q| q.intent).collect();
    let intents = ctx.intents.clone();
    // Per request: its outcome, by request index (phases follow from the index: arrivals are
    // at k / rate within each stage).
    let outcomes: Arc<Mutex<Vec<(usize, Outcome)>>> = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&outcomes);
    let check: Arc<stressor_load::ResponseCheck> = Arc::new(move |index, body| {
        let truth = truths[index % truths.len()];
        if let Some(remote) = &reader {
            // The family's first policy and rules over the user's reply, as in the other steps.
            let reply = remote.read(body);
            let action =
                crate::measure::action(&reply, &texts[index % texts.len()], threshold, &rules);
            let outcome = crate::measure::outcome(action, &reply, truth);
            if let Ok(mut list) = recorded.lock() {
                list.push((index, outcome));
            }
            return Ok(match outcome {
                Outcome::Correct => Checked { correct: Some(true), handoff: false },
                Outcome::Wrong => Checked { correct: Some(false), handoff: false },
                Outcome::JustifiedHandoff | Outcome::NeedlessHandoff => {
                    Checked { correct: None, handoff: true }
                }
                Outcome::Dropped | Outcome::Unmapped => Checked::default(),
            });
        }
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|_| stressor_load::UnreadableBody)?;
        let field = value.get("stressor").ok_or(stressor_load::UnreadableBody)?;
        let handoff = field.get("handoff").and_then(serde_json::Value::as_bool).unwrap_or(false);
        let guess = field
            .get("intent")
            .and_then(serde_json::Value::as_str)
            .and_then(|name| intents.iter().position(|n| n == name))
            .map(|i| i as u32);
        let outcome = match (handoff, guess) {
            (true, Some(g)) if Some(g) == truth => Outcome::NeedlessHandoff,
            (true, _) => Outcome::JustifiedHandoff,
            (false, g) if g.is_some() && g == truth => Outcome::Correct,
            (false, _) => Outcome::Wrong,
        };
        if let Ok(mut list) = recorded.lock() {
            list.push((index, outcome));
        }
        Ok(Checked { correct: (!handoff).then_some(guess.is_some() && guess == truth), handoff })
    });
    let mut config = ChatServeConfig::default();
    config.model_name = "chatbot".into();
    config.max_concurrency = surge.max_concurrency;
    config.queue_limit = surge.queue_limit;
    config.service_time = surge.service_time;
    // Without a guaranteed threshold every answer is a handoff.
    config.handoff_threshold = threshold.map_or(f32::INFINITY, |t| t as f32);
    config.shadow = candidate;
    let model = Arc::clone(&ctx.model);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| chatbot_error(format!("cannot start the async runtime: {e}")))?;
    let (report, shadow) = runtime.block_on(async {
        let server = match &remote {
            Some(_) => None,
            None => Some(
                ChatServer::bind(([127, 0, 0, 1], 0).into(), model, config)
                    .await
                    .map_err(|e| chatbot_error(format!("cannot serve the chatbot: {e}")))?,
            ),
        };
        let url = match (&server, &remote) {
            (Some(server), _) => format!("http://{}/v1/chat/completions", server.local_addr()),
            (None, Some(remote)) => remote.url(),
            (None, None) => unreachable!("a server or a remote"),
        };
        let target = stressor_load::Target::resolve(&url, None)
            .await
            .map_err(|e| chatbot_error(format!("{url}: {e}")))?;
        let mut load = LoadConfig::new(target, profile.clone());
        load.method = stressor_load::Method::POST;
        load.headers.push((
            stressor_load::HeaderName::from_static("content-type"),
            stressor_load::HeaderValue::from_static("application/json"),
        ));
        load.bodies = bodies;
        load.connections = surge.connections;
        load.timeout = surge.timeout;
        let report = stressor_load::run(load, check).await;
        let shadow = match server {
            Some(server) => {
                server.drain_shadow().await;
                let shadow = server.shadow_stats();
                let _ = server.shutdown().await;
                Some(shadow)
            }
            None => None,
        };
        let report = report.map_err(|e| chatbot_error(format!("the surge's load failed: {e}")))?;
        Ok::<_, EngineError>((report, shadow))
    })?;
    let length = profile.duration().as_secs_f64().ceil().max(1.0) as usize;
    let mut seconds: Vec<TimelinePoint> = report
        .timeline
        .iter()
        .enumerate()
        .map(|(i, s)| TimelinePoint {
            t: i as f64,
            requests: s.requests,
            ok: s.ok,
            errors: s.errors,
            p99_ms: (!s.latency.is_empty())
                .then(|| s.latency.value_at_quantile(0.99) as f64 / 1000.0),
            checked: s.checked,
            correct: s.correct,
        })
        .collect();
    let mut chat: Vec<ChatSecond> = report
        .timeline
        .iter()
        .enumerate()
        .map(|(i, s)| ChatSecond {
            t: i as f64,
            requests: s.requests,
            answered: s.checked,
            correct: s.correct,
            handoffs: s.handoffs,
            dropped: s.errors,
        })
        .collect();
    // The last arrival opens a second of its own: count it in the profile's last second.
    while seconds.len() > length && chat.len() > length {
        if let (Some(extra), Some(c)) = (seconds.pop(), chat.pop())
            && let (Some(last), Some(lc)) = (seconds.last_mut(), chat.last_mut())
        {
            last.requests += extra.requests;
            last.ok += extra.ok;
            last.errors += extra.errors;
            last.checked += extra.checked;
            last.correct += extra.correct;
            lc.requests += c.requests;
            lc.answered += c.answered;
            lc.correct += c.correct;
            lc.handoffs += c.handoffs;
            lc.dropped += c.dropped;
        }
    }
    let windows = surge_windows(&profile, surge.rate);
    let baseline = baseline_range(&windows, seconds.len());
    let surge_range =
        windows.first().map_or(0..0, |w| (w.start.floor() as usize)..(w.stop.ceil() as usize));
    let recovered = recoveries(&seconds, &windows, baseline.clone(), &RecoveryPlan::default());

    // Utility per phase: the checked outcomes by request index, the dropped requests by second.
    let n_before = (surge.rate * surge.before.as_secs_f64()).round() as usize;
    let n_surge = (surge.rate * surge.multiple * surge.duration.as_secs_f64()).round() as usize;
    let u = &ctx.plan.utility;
    let mut phase_utilities: [Vec<f64>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    let outcomes = outcomes.lock().map(|l| l.clone()).unwrap_or_default();
    for (index, outcome) in &outcomes {
        let phase = if *index < n_before {
            0
        } else if *index < n_before + n_surge {
            1
        } else {
            2
        };
        phase_utilities[phase].push(u.of(*outcome));
    }
    let before_s = surge.before.as_secs_f64();
    let surge_end = before_s + surge.duration.as_secs_f64();
    for s in &chat {
        let phase = if s.t < before_s {
            0
        } else if s.t < surge_end {
            1
        } else {
            2
        };
        phase_utilities[phase].extend(std::iter::repeat_n(u.dropped, s.dropped as usize));
    }
    let n = report.requests;
    let mut metrics = vec![
        metric("requests", Estimate::exact(n as f64, n)),
        metric("error_rate", Estimate::proportion(report.n_errors(), n)),
        metric("p50_ms", stressor_load::latency_quantile(&report.latency, 0.5)),
        metric("p99_ms", stressor_load::latency_quantile(&report.latency, 0.99)),
        metric("handoff_rate", Estimate::proportion(report.handoffs, n)),
    ];
    if report.checked > 0 {
        metrics.push(metric(
            "answered_accuracy",
            Estimate::proportion(report.correct, report.checked),
        ));
    }
    // Per window, as a systems run reports them: the baseline before the surge and the surge;
    // and the share handed to a human.
    for (name, range) in [("baseline", baseline.clone()), ("surge", surge_range)] {
        metrics.extend(stressor_load::recovery::window_metrics(&report, range.clone(), name));
        let part = &report.timeline
            [range.start.min(report.timeline.len())..range.end.min(report.timeline.len())];
        let requests: u64 = part.iter().map(|s| s.requests).sum();
        let handoffs: u64 = part.iter().map(|s| s.handoffs).sum();
        metrics.push(metric(
            &format!("handoff_rate.{name}"),
            Estimate::proportion(handoffs, requests),
        ));
    }
    let seed = ctx.seed.derive("surge");
    for (name, utilities) in ["before", "surge", "after"].iter().zip(&phase_utilities) {
        if !utilities.is_empty() {
            metrics.push(metric(
                &format!("utility.{name}"),
                Estimate::mean(utilities, seed.derive(name)),
            ));
        }
    }
    let worst =
        recovered.iter().map(|r| r.time_to_recover.unwrap_or(f64::INFINITY)).fold(0.0, f64::max);
    if !recovered.is_empty() {
        metrics.push(metric("time_to_recover_s", Estimate::exact(worst, n)));
    }
    if !phase_utilities[0].is_empty() && !phase_utilities[1].is_empty() {
        ctx.curves.push(Curve {
            name: "surge".into(),
            points: vec![
                (1.0, phase_utilities[0].clone()),
                (surge.multiple, phase_utilities[1].clone()),
            ],
            paired: false,
        });
    }
    run.sink.event(&Event::Timeline(Timeline {
        step_id: "surge".into(),
        seconds,
        windows,
        recoveries: recovered,
    }));
    let detail = ChatbotDetail {
        step_id: "surge".into(),
        policies: policies[..1].to_vec(),
        seconds: chat,
        ..ChatbotDetail::default()
    };
    let parameters = vec![
        ("queries".to_owned(), queries.len().to_string()),
        ("timeout".to_owned(), format!("{:.1} s", surge.timeout.as_secs_f64())),
        ("connections".to_owned(), surge.connections.to_string()),
    ];
    let shadow = ctx.plan.shadow.as_ref().and(shadow);
    Ok((finish(run, info, t, parameters, vec![point(None, metrics)], detail), shadow))
}
