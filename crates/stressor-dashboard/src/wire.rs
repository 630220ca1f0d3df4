//! The dashboard's event format: each run [`Event`] the page shows becomes a typed event with a
//! JSON payload, framed for server-sent events, as an NDJSON line, or embedded in a page.
//!
//! The payloads are built by hand as `serde_json::Value`s: only `stressor-schema` derives
//! `Serialize`. A non-finite number (NaN, an infinite time to recover) is `null`. An estimate
//! is `{"value", "n", "ci": [lower, upper] | null}`.
//!
//! | event | from | payload |
//! |---|---|---|
//! | `run` | `RunStarted` | `scenario`, `source`, `seed`, `target`, `target_kind`, `data`, `samples`, `version` |
//! | `step_started` | `StepStarted` | `id`, `kind`, `description`, `dial`, `dial_values` |
//! | `live` | `Live` | `step`, `t_s`, `values` (`[[name, value], …]` in the sample's order), `notes` (`[text, …]`) |
//! | `step_finished` | `StepFinished` | `id`, `kind`, `dial`, `elapsed_s`, `points` (`[{dial_value, metrics: [{name, value, n, ci}]}]`) |
//! | `gate` | `GateEvaluated` | `id`, `step`, `metric`, `at`, `comparison` (`at_least`/`at_most`), `threshold`, `bound` (`value`/`lower`/`upper`), `observed` (an estimate or null), `observed_at`, `passed` |
//! | `warning` | `Warning` | `step`, `code`, `message` |
//! | `finished` | `RunFinished` | `verdict` (`pass`/`fail`; null when the run stopped with an error), `elapsed_s` |
//!
//! Other events (progress, the families' summary time series) are not sent: the reports have
//! them.

use serde_json::{Value, json};
use stressor_core::{
    Comparison, Estimate, Event, GateBound, GateOutcome, LiveSample, RunInfo, StepInfo, StepKind,
    StepResult, Verdict, Warning,
};

/// The typed events, in the order a run sends them (`live`, `gate` and `warning` repeat).
pub const EVENT_KINDS: [&str; 7] =
    ["run", "step_started", "live", "step_finished", "gate", "warning", "finished"];

/// One event as the dashboard sends it: its type and its JSON payload (one line, compact).
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// One of [`EVENT_KINDS`].
    pub kind: &'static str,
    /// The payload, compact JSON (no line breaks: serde_json escapes them inside strings).
    pub data: String,
}

impl Frame {
    /// The frame of `event`, `None` for events the dashboard does not show (progress, the
    /// families' summary time series: the report has those).
    pub fn of(event: &Event) -> Option<Frame> {
        let (kind, data) = match event {
            Event::RunStarted(info) => ("run", run(info)),
            Event::StepStarted(info) => ("step_started", step_started(info)),
            Event::Live(sample) => ("live", live(sample)),
            Event::StepFinished(result) => ("step_finished", step_finished(result)),
            Event::GateEvaluated(outcome) => ("gate", gate(outcome)),
            Event::Warning(warning) => ("warning", warning_data(warning)),
            Event::RunFinished { verdict, elapsed } => (
                "finished",
                json!({ "verdict": verdict_name(*verdict), "elapsed_s": elapsed.as_secs_f64() }),
            ),
            _ => return None,
        };
        Some(Frame { kind, data: data.to_string() })
    }

    /// A `finished` event without a verdict: the run stopped with an error.
    pub(crate) fn ended_without_verdict() -> Frame {
        Frame { kind: "finished", data: json!({ "verdict": null, "elapsed_s": null }).to_string() }
    }

    /// The frame as a server-sent event: `event: KIND`, `data: JSON`, a blank line.
    pub fn to_sse(&self) -> String {
        format!("event: {}\ndata: {}\n\n", self.kind, self.data)
    }

    /// The frame as one NDJSON line, `{"event":KIND,"data":JSON}` and a line feed.
    pub fn to_ndjson(&self) -> String {
        // `kind` is one of EVENT_KINDS, which need no escaping.
        format!("{{\"event\":\"{}\",\"data\":{}}}\n", self.kind, self.data)
    }
}

/// `line` (JSON) made safe inside an HTML `<script>` element: `<`, `>` and `&` become JSON's
/// `\u003c`, `\u003e` and `\u0026`. They occur in JSON only inside strings, where the escapes
/// mean the same characters, so the line parses to the same value and can never close the
/// element (`</script>`) or open a comment.
pub fn embed_safe(line: &str) -> String {
    let mut safe = String::with_capacity(line.len());
    for c in line.chars() {
        match c {
            '<' => safe.push_str("\\u003c"),
            '>' => safe.push_str("\\u003e"),
            '&' => safe.push_str("\\u0026"),
            _ => safe.push(c),
        }
    }
    safe
}

fn run(info: &RunInfo) -> Value {
    json!({
        "scenario": info.scenario_name,
        "source": info.scenario_source,
        "seed": info.seed,
        "target": info.target_name,
        "target_kind": info.target_kind,
        "data": info.data_name,
        "samples": info.n_samples,
        "version": info.stressor_version,
    })
}

fn step_started(info: &StepInfo) -> Value {
    json!({
        "id": info.id,
        "kind": kind_name(info.kind),
        "description": info.description,
        "dial": info.dial_name,
        "dial_values": info.dial_values,
    })
}

fn live(sample: &LiveSample) -> Value {
    json!({
        "step": sample.step_id,
        "t_s": sample.t_s,
        "values": sample.values.iter().map(|(name, value)| json!([name, value])).collect::<Vec<_>>(),
        "notes": sample.notes,
    })
}

fn step_finished(result: &StepResult) -> Value {
    let points: Vec<Value> = result
        .points
        .iter()
        .map(|point| {
            let metrics: Vec<Value> = point
                .metrics
                .iter()
                .map(|metric| {
                    let mut value = estimate(&metric.estimate);
                    if let Value::Object(map) = &mut value {
                        map.insert("name".into(), Value::from(metric.name.as_str()));
                    }
                    value
                })
                .collect();
            json!({ "dial_value": point.dial_value, "metrics": metrics })
        })
        .collect();
    json!({
        "id": result.info.id,
        "kind": kind_name(result.info.kind),
        "dial": result.info.dial_name,
        "elapsed_s": result.elapsed.as_secs_f64(),
        "points": points,
    })
}

fn gate(outcome: &GateOutcome) -> Value {
    let gate = &outcome.gate;
    json!({
        "id": gate.id,
        "step": gate.step_id,
        "metric": gate.metric,
        "at": gate.at,
        "comparison": match gate.comparison {
            Comparison::AtLeast => "at_least",
            Comparison::AtMost => "at_most",
        },
        "threshold": gate.threshold,
        "bound": match gate.bound {
            GateBound::Value => "value",
            GateBound::Lower => "lower",
            GateBound::Upper => "upper",
        },
        "observed": outcome.observed.as_ref().map(estimate),
        "observed_at": outcome.observed_at,
        "passed": outcome.passed,
    })
}

fn warning_data(warning: &Warning) -> Value {
    json!({ "step": warning.step_id, "code": warning.code, "message": warning.message })
}

/// `{value, n, ci: [lower, upper] | null}`.
fn estimate(estimate: &Estimate) -> Value {
    json!({
        "value": estimate.value,
        "n": estimate.n,
        "ci": estimate.ci.map(|ci| json!([ci.lower, ci.upper])),
    })
}

fn kind_name(kind: StepKind) -> &'static str {
    match kind {
        StepKind::SteadyState => "steady_state",
        StepKind::Attack => "attack",
        StepKind::Corruption => "corruption",
        StepKind::Lighting => "lighting",
        StepKind::Mitigation => "mitigation",
        StepKind::Summary => "summary",
        StepKind::System => "system",
        StepKind::Drift => "drift",
        StepKind::Recommender => "recommender",
        StepKind::Chatbot => "chatbot",
        StepKind::WarGame => "war_game",
        _ => "other",
    }
}

fn verdict_name(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use std::time::Duration;

    use super::*;

    fn sample(notes: &[&str]) -> Event {
        Event::Live(LiveSample {
            step_id: "system".into(),
            t_s: 3.0,
            values: vec![("p99_ms".into(), 12.5), ("error_rate".into(), f64::NAN)],
            notes: notes.iter().map(|n| n.to_string()).collect(),
        })
    }

    #[test]
    fn a_live_sample_is_one_sse_event_of_one_data_line() {
        let frame = Frame::of(&sample(&["fault `slow`\nstarts"])).unwrap();
        let sse = frame.to_sse();
        assert!(sse.starts_with("event: live\ndata: {"), "{sse}");
        assert!(sse.ends_with("}\n\n"), "{sse}");
        // Exactly one data line: a line break inside a note is escaped.
        assert_eq!(sse.matches('\n').count(), 3, "{sse}");
        let data: Value = serde_json::from_str(&frame.data).unwrap();
        assert_eq!(data["values"][0], json!(["p99_ms", 12.5]));
        // Not a number is null, not an invalid JSON token.
        assert_eq!(data["values"][1], json!(["error_rate", null]));
        assert_eq!(data["notes"][0], "fault `slow`\nstarts");
    }

    #[test]
    fn an_ndjson_line_holds_the_type_and_the_payload() {
        let frame = Frame::of(&Event::RunFinished {
            verdict: Verdict::Fail,
            elapsed: Duration::from_millis(1500),
        })
        .unwrap();
        let line = frame.to_ndjson();
        assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            value,
            json!({"event": "finished", "data": {"verdict": "fail", "elapsed_s": 1.5}})
        );
    }

    #[test]
    fn progress_is_not_shown() {
        let progress = Event::Progress { step_id: "a".into(), done: 1, total: 2 };
        assert_eq!(Frame::of(&progress), None);
    }

    #[test]
    fn embedded_lines_cannot_close_the_script_and_parse_back_unchanged() {
        let note = "</script><img src=x onerror=alert(1)> <!-- & </SCRIPT >";
        let line = Frame::of(&sample(&[note])).unwrap().to_ndjson();
        let safe = embed_safe(&line);
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('&'), "{safe}");
        let value: Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(value["data"]["notes"][0], note);
    }
}
