//! The OpenAI-compatible messages: a chat-completions request and a classify request parsed by
//! hand from [`serde_json::Value`] so that every error names the field, and the answers
//! written back (with the `stressor` field beside OpenAI's).

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::chat::Answer;

/// Why a request is refused; becomes `{"error": {"message", "type", "param", "code"}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestError {
    /// 400, or 404 for another model's name.
    pub(crate) status: StatusCode,
    /// The field at fault (`messages[2].content`), as OpenAI's `param`.
    pub(crate) param: Option<String>,
    /// What is wrong.
    pub(crate) message: String,
}

fn bad(param: Option<&str>, message: impl Into<String>) -> RequestError {
    RequestError {
        status: StatusCode::BAD_REQUEST,
        param: param.map(str::to_string),
        message: message.into(),
    }
}

/// The limits a request is checked against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits<'a> {
    /// The served model's name; another `model` gets 404.
    pub(crate) model_name: &'a str,
    /// The most characters (Unicode scalar values) in one query.
    pub(crate) max_input_chars: usize,
    /// The most texts in one classify request.
    pub(crate) max_batch: usize,
}

/// A classify request: one text or several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Classify {
    /// `{"text": "..."}`.
    One(String),
    /// `{"texts": [...]}`.
    Many(Vec<String>),
}

impl Classify {
    /// The texts, in order.
    pub(crate) fn texts(&self) -> Vec<&str> {
        match self {
            Classify::One(text) => vec![text.as_str()],
            Classify::Many(texts) => texts.iter().map(String::as_str).collect(),
        }
    }
}

/// Reads the body as a JSON object: not empty, UTF-8, JSON, an object.
fn object(body: &[u8], expected: &str) -> Result<serde_json::Map<String, Value>, RequestError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(bad(
            None,
            format!("the request body is empty; send a JSON object with {expected}"),
        ));
    }
    let text = std::str::from_utf8(body).map_err(|error| {
        bad(None, format!("the request body is not valid UTF-8 (at byte {})", error.valid_up_to()))
    })?;
    match serde_json::from_str(text) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(other) => Err(bad(
            None,
            format!("the request body must be a JSON object with {expected}, got {}", kind(&other)),
        )),
        Err(error) => Err(bad(None, format!("the request body is not valid JSON: {error}"))),
    }
}

/// Parses a chat-completions request into its query: the content of the last message whose
/// role is `user` (a string, or the `text` parts of an array joined by newlines).
pub(crate) fn parse_chat(body: &[u8], limits: Limits<'_>) -> Result<String, RequestError> {
    let request = object(body, "`messages`")?;
    match request.get("model") {
        None | Some(Value::Null) => {}
        Some(Value::String(model)) if model == limits.model_name => {}
        Some(Value::String(model)) => {
            return Err(RequestError {
                status: StatusCode::NOT_FOUND,
                param: Some("model".into()),
                message: format!(
                    "model `{model}` not found; this server serves `{}`",
                    limits.model_name
                ),
            });
        }
        Some(other) => {
            return Err(bad(
                Some("model"),
                format!("`model` must be a string, got {}", kind(other)),
            ));
        }
    }
    match request.get("stream") {
        None | Some(Value::Null | Value::Bool(false)) => {}
        Some(_) => {
            return Err(bad(
                Some("stream"),
                "streaming is not supported; leave `stream` out or set it to false",
            ));
        }
    }
    let messages = match request.get("messages") {
        Some(Value::Array(messages)) if !messages.is_empty() => messages,
        Some(Value::Array(_)) => return Err(bad(Some("messages"), "`messages` is empty")),
        Some(other) => {
            return Err(bad(
                Some("messages"),
                format!("`messages` must be an array, got {}", kind(other)),
            ));
        }
        None => return Err(bad(Some("messages"), "the request has no `messages`")),
    };
    let mut last_user = None;
    for (index, message) in messages.iter().enumerate() {
        let Value::Object(message) = message else {
            return Err(bad(
                Some(&format!("messages[{index}]")),
                format!("`messages[{index}]` must be an object"),
            ));
        };
        match message.get("role") {
            Some(Value::String(role)) if role == "user" => last_user = Some((index, message)),
            Some(Value::String(_)) => {}
            _ => {
                let field = format!("messages[{index}].role");
                return Err(bad(
                    Some(&field),
                    format!("`{field}` must be a string such as \"user\""),
                ));
            }
        }
    }
    let Some((index, message)) = last_user else {
        return Err(bad(Some("messages"), "`messages` has no message with role \"user\""));
    };
    let field = format!("messages[{index}].content");
    let text = match message.get("content") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => {
            let mut texts = Vec::with_capacity(parts.len());
            for (k, part) in parts.iter().enumerate() {
                if part.get("type").and_then(Value::as_str) != Some("text") {
                    continue;
                }
                match part.get("text") {
                    Some(Value::String(text)) => texts.push(text.as_str()),
                    _ => {
                        let part_field = format!("{field}[{k}].text");
                        return Err(bad(
                            Some(&part_field),
                            format!("`{part_field}` must be a string"),
                        ));
                    }
                }
            }
            if texts.is_empty() {
                return Err(bad(Some(&field), format!("`{field}` has no part of type \"text\"")));
            }
            texts.join("\n")
        }
        Some(other) => {
            return Err(bad(
                Some(&field),
                format!(
                    "`{field}` must be a string or an array of text parts, got {}",
                    kind(other)
                ),
            ));
        }
        None => return Err(bad(Some(&field), format!("`{field}` is missing"))),
    };
    check_text(&text, &field, limits.max_input_chars)?;
    Ok(text)
}

/// Parses a classify request: `{"text": "..."}` or `{"texts": [...]}` (at most `max_batch`).
pub(crate) fn parse_classify(body: &[u8], limits: Limits<'_>) -> Result<Classify, RequestError> {
    let request = object(body, "`text` or `texts`")?;
    match (request.get("text"), request.get("texts")) {
        (Some(_), Some(_)) => Err(bad(None, "send either `text` or `texts`, not both")),
        (Some(Value::String(text)), None) => {
            check_text(text, "text", limits.max_input_chars)?;
            Ok(Classify::One(text.clone()))
        }
        (Some(other), None) => {
            Err(bad(Some("text"), format!("`text` must be a string, got {}", kind(other))))
        }
        (None, Some(Value::Array(texts))) => {
            if texts.is_empty() {
                return Err(bad(Some("texts"), "`texts` is empty"));
            }
            if texts.len() > limits.max_batch {
                return Err(bad(
                    Some("texts"),
                    format!(
                        "`texts` has {} texts; this server takes at most {} per request",
                        texts.len(),
                        limits.max_batch
                    ),
                ));
            }
            let mut out = Vec::with_capacity(texts.len());
            for (index, text) in texts.iter().enumerate() {
                let field = format!("texts[{index}]");
                let Value::String(text) = text else {
                    return Err(bad(
                        Some(&field),
                        format!("`{field}` must be a string, got {}", kind(text)),
                    ));
                };
                check_text(text, &field, limits.max_input_chars)?;
                out.push(text.clone());
            }
            Ok(Classify::Many(out))
        }
        (None, Some(other)) => Err(bad(
            Some("texts"),
            format!("`texts` must be an array of strings, got {}", kind(other)),
        )),
        (None, None) => Err(bad(None, "the request has neither `text` nor `texts`")),
    }
}

/// A query must have a non-blank text of at most `max_chars` characters.
fn check_text(text: &str, field: &str, max_chars: usize) -> Result<(), RequestError> {
    if text.trim().is_empty() {
        return Err(bad(Some(field), format!("`{field}` is empty")));
    }
    let n_chars = text.chars().count();
    if n_chars > max_chars {
        return Err(bad(
            Some(field),
            format!(
                "`{field}` has {n_chars} characters; this server takes at most {max_chars} \
                 (max_input_chars)"
            ),
        ));
    }
    Ok(())
}

/// Whether `text` holds a control character other than tab, line feed and carriage return
/// (accepted and passed to the model unchanged, but counted).
pub(crate) fn has_control_chars(text: &str) -> bool {
    text.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

/// OpenAI's error body.
pub(crate) fn error_body(message: &str, error_type: &str, param: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": error_type, "param": param, "code": null}})
}

/// A confidence as JSON: its shortest decimal form (`0.8`, not `0.800000011920929`); 0 when not
/// finite.
fn confidence(value: f32) -> Value {
    let value = if value.is_finite() { value } else { 0.0 };
    json!(value.to_string().parse::<f64>().unwrap_or(0.0))
}

/// `{"intent", "confidence", "handoff"}`.
pub(crate) fn answer_json(answer: &Answer) -> Value {
    json!({
        "intent": answer.intent,
        "confidence": confidence(answer.confidence),
        "handoff": answer.handoff,
    })
}

/// What a chat completion says: its ids and the reply.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Completion<'a> {
    /// The completion's number on this server.
    pub(crate) serial: u64,
    /// Seconds since the Unix epoch.
    pub(crate) created: u64,
    /// The served model's name.
    pub(crate) model: &'a str,
    /// The query.
    pub(crate) prompt: &'a str,
    /// The reply text.
    pub(crate) content: &'a str,
    /// The structured answer.
    pub(crate) answer: &'a Answer,
}

/// The chat-completion response body; token counts are whitespace-separated words.
pub(crate) fn chat_response(completion: &Completion<'_>) -> Value {
    let prompt_tokens = completion.prompt.split_whitespace().count();
    let completion_tokens = completion.content.split_whitespace().count();
    json!({
        "id": format!("chatcmpl-stressor-{}", completion.serial),
        "object": "chat.completion",
        "created": completion.created,
        "model": completion.model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": completion.content},
            "logprobs": null,
            "finish_reason": "stop",
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        "stressor": answer_json(completion.answer),
    })
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use super::*;

    const LIMITS: Limits<'static> = Limits { model_name: "bot", max_input_chars: 10, max_batch: 2 };

    /// The query of a chat request, or the error's param and a word of its message.
    fn check_chat(body: &str, expect: Result<&str, (Option<&str>, &str)>) {
        let got = parse_chat(body.as_bytes(), LIMITS);
        match (got, expect) {
            (Ok(text), Ok(want)) => assert_eq!(text, want, "{body}"),
            (Err(error), Err((param, word))) => {
                assert_eq!(error.param.as_deref(), param, "{body}: {error:?}");
                assert!(error.message.contains(word), "{body}: {error:?}");
            }
            (got, want) => panic!("{body}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn chat_requests_give_the_last_user_message() {
        check_chat(r#"{"messages":[{"role":"user","content":"hi"}]}"#, Ok("hi"));
        check_chat(
            r#"{"model":"bot","messages":[{"role":"system","content":"be nice"},{"role":"user","content":"one"},{"role":"assistant","content":"ok"},{"role":"user","content":"two"}]}"#,
            Ok("two"),
        );
        check_chat(
            r#"{"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{}},{"type":"text","text":"b"}]}]}"#,
            Ok("a\nb"),
        );
        // Control characters are accepted (and counted by the server).
        check_chat("{\"messages\":[{\"role\":\"user\",\"content\":\"a\\u0007b\"}]}", Ok("a\u{7}b"));
        assert!(has_control_chars("a\u{7}b") && !has_control_chars("a\tb\r\n"));
    }

    #[test]
    fn bad_chat_requests_name_the_field() {
        check_chat("", Err((None, "empty")));
        check_chat("{", Err((None, "not valid JSON")));
        check_chat("[]", Err((None, "an array")));
        check_chat(r#"{"model":"gpt","messages":[]}"#, Err((Some("model"), "not found")));
        check_chat(r#"{"model":1,"messages":[]}"#, Err((Some("model"), "a string")));
        check_chat(r#"{"messages":[],"stream":true}"#, Err((Some("stream"), "streaming")));
        check_chat(r#"{}"#, Err((Some("messages"), "no `messages`")));
        check_chat(r#"{"messages":[]}"#, Err((Some("messages"), "empty")));
        check_chat(r#"{"messages":"hi"}"#, Err((Some("messages"), "an array")));
        check_chat(r#"{"messages":[3]}"#, Err((Some("messages[0]"), "an object")));
        check_chat(r#"{"messages":[{"content":"x"}]}"#, Err((Some("messages[0].role"), "string")));
        check_chat(
            r#"{"messages":[{"role":"system","content":"x"}]}"#,
            Err((Some("messages"), "role \"user\"")),
        );
        check_chat(
            r#"{"messages":[{"role":"user"}]}"#,
            Err((Some("messages[0].content"), "missing")),
        );
        check_chat(
            r#"{"messages":[{"role":"user","content":null}]}"#,
            Err((Some("messages[0].content"), "null")),
        );
        check_chat(
            r#"{"messages":[{"role":"user","content":"  "}]}"#,
            Err((Some("messages[0].content"), "empty")),
        );
        check_chat(
            r#"{"messages":[{"role":"user","content":"ééééééééééé"}]}"#,
            Err((Some("messages[0].content"), "11 characters; this server takes at most 10")),
        );
        check_chat(
            r#"{"messages":[{"role":"user","content":[{"type":"image_url"}]}]}"#,
            Err((Some("messages[0].content"), "no part")),
        );
        check_chat(
            r#"{"messages":[{"role":"user","content":[{"type":"text","text":5}]}]}"#,
            Err((Some("messages[0].content[0].text"), "string")),
        );
        let invalid = parse_chat(b"{\"messages\":\"\xff\"}", LIMITS).unwrap_err();
        assert!(invalid.message.contains("UTF-8 (at byte 13)"), "{invalid:?}");
    }

    #[test]
    fn classify_requests_take_one_text_or_a_bounded_list() {
        assert_eq!(parse_classify(br#"{"text":"hi"}"#, LIMITS), Ok(Classify::One("hi".into())));
        assert_eq!(
            parse_classify(br#"{"texts":["a","b"]}"#, LIMITS).map(|c| c.texts().len()),
            Ok(2)
        );
        let param = |body: &str| parse_classify(body.as_bytes(), LIMITS).unwrap_err().param;
        assert_eq!(param(r#"{"texts":["a","b","c"]}"#).as_deref(), Some("texts"));
        assert_eq!(param(r#"{"texts":["a",""]}"#).as_deref(), Some("texts[1]"));
        assert_eq!(param(r#"{"texts":["a",2]}"#).as_deref(), Some("texts[1]"));
        assert_eq!(param(r#"{"text":"01234567890"}"#).as_deref(), Some("text"));
        assert_eq!(param(r#"{"text":3}"#).as_deref(), Some("text"));
        assert_eq!(param(r#"{"texts":[]}"#).as_deref(), Some("texts"));
        assert_eq!(param(r#"{"text":"a","texts":["b"]}"#), None);
        assert_eq!(param(r#"{}"#), None);
    }

    #[test]
    fn chat_responses_carry_the_reply_and_the_structured_answer() {
        let answer = Answer { intent: Some("balance".into()), confidence: 0.8, handoff: false };
        let value = chat_response(&Completion {
            serial: 7,
            created: 1,
            model: "bot",
            prompt: "what is my balance",
            content: "I can help with balance.",
            answer: &answer,
        });
        assert_eq!(value["id"], "chatcmpl-stressor-7");
        assert_eq!(value["object"], "chat.completion");
        assert_eq!(value["choices"][0]["message"]["content"], "I can help with balance.");
        assert_eq!(value["choices"][0]["finish_reason"], "stop");
        assert_eq!(value["usage"]["total_tokens"], 9);
        assert_eq!(
            value["stressor"],
            json!({"intent": "balance", "confidence": 0.8, "handoff": false})
        );
        let nan = Answer { intent: None, confidence: f32::NAN, handoff: true };
        assert_eq!(answer_json(&nan)["confidence"], json!(0.0));
    }

    use stressor_test_support::any_json;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 1024, ..Default::default() })]

        /// Any body is a query or an error naming its field; the same for classify.
        #[test]
        fn any_chat_or_classify_body_is_a_query_or_an_error(
            body in any_json(&["model", "messages", "role", "content", "user", "system", "assistant", "input", "texts", "bot", "type", "text"]),
            content in "\\PC{0,20}",
            raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        ) {
            let text = body.to_string();
            let _ = parse_chat(text.as_bytes(), LIMITS);
            let _ = parse_classify(text.as_bytes(), LIMITS);
            let shaped = serde_json::json!({"model": "bot", "messages": [{"role": "user", "content": content}]});
            let _ = parse_chat(shaped.to_string().as_bytes(), LIMITS);
            let _ = parse_chat(&raw, LIMITS);
            let _ = parse_classify(&raw, LIMITS);
        }
    }
}
