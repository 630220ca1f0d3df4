//! A user's chatbot over HTTP: an OpenAI-compatible chat-completions endpoint (the transport of
//! `stressor_model::http::ChatModel`) or a JSON classifier endpoint (`kind = "json"`), with the
//! intent read from each reply by the plan's rule (a JSON pointer, or a regex over the reply's
//! text).
//!
//! Every query gets one [`Reply`]: an intent the scenario knows (with the confidence at the
//! confidence pointer, clamped to [0, 1], or 1 when the reply has none), the bot's own decline
//! (a name in `decline`, or a JSON `null` intent), `Unmapped` when a reply arrived but cannot be
//! read as either (not JSON, no intent, an unknown name, a confidence that is not a number), and
//! `Failed` when no usable reply arrived (refused connection, non-2xx status, timeout). Requests
//! are not retried: a stress test counts each failure rather than hiding it.

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::Value;
use stressor_intent::{IntentError, IntentModel, Reply};
use stressor_model::http::{ChatMessage, ChatModel, ChatOptions, JsonEndpoint, OipOptions};
use stressor_scenario::EngineError;

use crate::plan::{HttpKind, HttpPlan, IntentRule};
use crate::run::chatbot_error;

/// How queries reach the chatbot.
#[derive(Debug)]
enum Transport {
    /// OpenAI-compatible chat completions, one user message per query.
    Chat(ChatModel),
    /// The plan's request template posted to the URL.
    Json { endpoint: JsonEndpoint, template: String },
}

/// How the intent's name is read from a reply.
#[derive(Debug)]
enum Rule {
    Pointer(String),
    Regex(regex::Regex),
}

/// A user's chatbot.
#[derive(Debug)]
pub(crate) struct Remote {
    intents: Vec<String>,
    index: HashMap<String, u32>,
    transport: Transport,
    rule: Rule,
    confidence_pointer: String,
    decline: Vec<String>,
    describe: String,
    /// The chat requests' model name and options, for requests built outside `ChatModel` (the
    /// surge's load generator).
    model_name: String,
    chat_options: ChatOptions,
}

impl Remote {
    /// A client for the plan's chatbot, checked to be reachable (a connection opens within the
    /// plan's timeout; nothing is sent).
    ///
    /// # Errors
    /// A family error naming `chatbot.model.url` when the URL is unusable or the endpoint
    /// cannot be reached, or naming `chatbot.model.intent_regex` when the regex is invalid.
    pub(crate) fn connect(plan: &HttpPlan, intents: &[String]) -> Result<Remote, EngineError> {
        let mut http = OipOptions::default();
        http.timeout = plan.timeout;
        http.retries = 0;
        let unusable = |error: stressor_model::ModelError| {
            chatbot_error(format!("chatbot.model.url: cannot reach `{}`: {error}", plan.url))
        };
        let transport = match plan.kind {
            HttpKind::OpenAi => {
                let mut options = ChatOptions::default();
                options.http = http;
                let model = ChatModel::new(&plan.url, &plan.model_name, options.clone())
                    .map_err(unusable)?;
                model.probe().map_err(unusable)?;
                Transport::Chat(model)
            }
            HttpKind::Json => {
                let endpoint = JsonEndpoint::new(&plan.url, http).map_err(unusable)?;
                endpoint.probe().map_err(unusable)?;
                Transport::Json { endpoint, template: plan.request.clone() }
            }
        };
        let rule = match &plan.intent {
            IntentRule::Pointer(pointer) => Rule::Pointer(pointer.clone()),
            IntentRule::Regex(source) => Rule::Regex(regex::Regex::new(source).map_err(|e| {
                chatbot_error(format!("chatbot.model.intent_regex: not a regular expression: {e}"))
            })?),
        };
        let index = intents
            .iter()
            .enumerate()
            .filter_map(|(i, name)| Some((name.clone(), u32::try_from(i).ok()?)))
            .collect();
        let how = match &rule {
            Rule::Pointer(pointer) => format!("intent at {pointer}"),
            Rule::Regex(regex) => format!("intent by regex `{regex}`"),
        };
        let describe = match &transport {
            Transport::Chat(model) => {
                format!("OpenAI-compatible chatbot at {} ({how})", model.endpoint())
            }
            Transport::Json { endpoint, .. } => {
                format!("JSON chatbot at {} ({how})", endpoint.endpoint())
            }
        };
        Ok(Remote {
            intents: intents.to_vec(),
            index,
            transport,
            rule,
            confidence_pointer: plan.confidence_pointer.clone(),
            decline: plan.decline.clone(),
            describe,
            model_name: plan.model_name.clone(),
            chat_options: ChatOptions::default(),
        })
    }

    /// The URL queries are posted to.
    pub(crate) fn url(&self) -> String {
        match &self.transport {
            Transport::Chat(model) => model.endpoint(),
            Transport::Json { endpoint, .. } => endpoint.endpoint(),
        }
    }

    /// The body that asks about `text`, as [`IntentModel::reply`] sends it.
    pub(crate) fn request_body(&self, text: &str) -> Bytes {
        match &self.transport {
            Transport::Chat(_) => stressor_model::http::chat_request(
                &self.model_name,
                &[ChatMessage::user(text)],
                &self.chat_options,
            ),
            Transport::Json { template, .. } => Bytes::from(fill(template, text)),
        }
    }

    /// The reply a 2xx `body` means.
    pub(crate) fn read(&self, body: &[u8]) -> Reply {
        match &self.transport {
            Transport::Chat(_) => self.read_chat(body),
            Transport::Json { .. } => self.read_json(body),
        }
    }

    /// One query's reply.
    fn one(&self, text: &str) -> Reply {
        match &self.transport {
            Transport::Chat(model) => match model.chat_body(&[ChatMessage::user(text)]) {
                Ok(body) => self.read_chat(&body),
                Err(error) => Reply::Failed(error.to_string()),
            },
            Transport::Json { endpoint, template } => {
                let body = fill(template, text);
                match endpoint.post(Bytes::from(body)) {
                    Ok(body) => self.read_json(&body),
                    Err(error) => Reply::Failed(error.to_string()),
                }
            }
        }
    }

    /// A chat-completions reply: the regex over the first choice's text, or the pointer into
    /// the whole body.
    fn read_chat(&self, body: &[u8]) -> Reply {
        let value: Value = match serde_json::from_slice(body) {
            Ok(value) => value,
            Err(error) => return Reply::Unmapped(format!("the reply is not JSON: {error}")),
        };
        match &self.rule {
            Rule::Pointer(_) => self.read_value(&value, None),
            Rule::Regex(_) => match stressor_model::http::parse_chat_reply(body) {
                Ok(reply) => self.read_value(&value, Some(&reply.content)),
                Err(reason) => Reply::Unmapped(reason),
            },
        }
    }

    /// A JSON classifier's reply: the pointer into its JSON, or the regex over its whole text.
    fn read_json(&self, body: &[u8]) -> Reply {
        let parsed = serde_json::from_slice::<Value>(body);
        match (&self.rule, parsed) {
            (Rule::Regex(_), parsed) => match std::str::from_utf8(body) {
                Ok(text) => self.read_value(&parsed.unwrap_or(Value::Null), Some(text)),
                Err(_) => Reply::Unmapped("the reply is not UTF-8 text".into()),
            },
            (Rule::Pointer(_), Ok(value)) => self.read_value(&value, None),
            (Rule::Pointer(_), Err(error)) => {
                Reply::Unmapped(format!("the reply is not JSON: {error}"))
            }
        }
    }

    /// Maps a reply (its JSON, and its text for a regex) to a [`Reply`].
    fn read_value(&self, value: &Value, text: Option<&str>) -> Reply {
        let name = match &self.rule {
            Rule::Pointer(pointer) => match value.pointer(pointer) {
                None => return Reply::Unmapped(format!("the reply has no intent at {pointer}")),
                Some(Value::Null) => return Reply::Declined,
                Some(Value::String(name)) => name.as_str(),
                Some(_) => {
                    return Reply::Unmapped(format!("the intent at {pointer} is not a string"));
                }
            },
            Rule::Regex(regex) => {
                let Some(text) = text else {
                    return Reply::Unmapped("the reply has no text".into());
                };
                match regex.captures(text).and_then(|c| c.get(1).or_else(|| c.get(0))) {
                    Some(m) => m.as_str(),
                    None => {
                        return Reply::Unmapped(
                            "the reply's text does not match intent_regex".into(),
                        );
                    }
                }
            }
        };
        let name = name.trim();
        if self.decline.iter().any(|d| d == name) {
            return Reply::Declined;
        }
        let Some(&intent) = self.index.get(name) else {
            return Reply::Unmapped(format!(
                "`{}` is not one of the scenario's intents",
                short(name)
            ));
        };
        let confidence = match value.pointer(&self.confidence_pointer) {
            None | Some(Value::Null) => 1.0,
            Some(Value::Number(n)) => match n.as_f64().filter(|c| c.is_finite()) {
                Some(c) => c.clamp(0.0, 1.0) as f32,
                None => {
                    return Reply::Unmapped(format!(
                        "the confidence at {} is not a finite number",
                        self.confidence_pointer
                    ));
                }
            },
            Some(_) => {
                return Reply::Unmapped(format!(
                    "the confidence at {} is not a number",
                    self.confidence_pointer
                ));
            }
        };
        Reply::Intent { intent, confidence, scores: None }
    }
}

/// The request template with `{text}` replaced by `text` as a JSON string literal.
fn fill(template: &str, text: &str) -> String {
    let literal = serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned());
    template.replace("{text}", &literal)
}

/// At most 60 characters of a name from a reply, for reasons.
fn short(name: &str) -> String {
    match name.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &name[..i]),
        None => name.to_owned(),
    }
}

impl IntentModel for Remote {
    fn intents(&self) -> &[String] {
        &self.intents
    }

    /// One request per query, in order. A query's failure is its own [`Reply::Failed`]; this
    /// never returns `Err` (the endpoint was reachable at connect, and may come back).
    fn reply(&self, texts: &[&str]) -> Result<Vec<Reply>, IntentError> {
        Ok(texts.iter().map(|text| self.one(text)).collect())
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]
mod tests {
    use std::time::Duration;

    use axum::http::StatusCode;

    use super::*;

    /// What the loopback chatbot answers for a query: its status and body.
    fn answer(query: &str, openai: bool) -> (StatusCode, String) {
        let json = |intent: &str| {
            if openai {
                format!(
                    r#"{{"choices":[{{"message":{{"role":"assistant","content":"I think: {0}."}}}}],"stressor":{{"intent":"{0}","confidence":0.75}}}}"#,
                    intent
                )
            } else {
                format!(r#"{{"intent":"{intent}","confidence":0.75}}"#)
            }
        };
        match query {
            "greet" => (StatusCode::OK, json("greeting")),
            "say \"hi\"\nplease" => (StatusCode::OK, json("farewell")),
            "oos" => (StatusCode::OK, json("oos")),
            "unknown" => (StatusCode::OK, json("teleport")),
            "null" => (StatusCode::OK, r#"{"intent":null}"#.into()),
            "noconf" => (StatusCode::OK, r#"{"intent":"greeting"}"#.into()),
            "bigconf" => (StatusCode::OK, r#"{"intent":"greeting","confidence":7}"#.into()),
            "badconf" => (StatusCode::OK, r#"{"intent":"greeting","confidence":"high"}"#.into()),
            "missing" => (StatusCode::OK, r#"{"label":"greeting"}"#.into()),
            "garbage" => (StatusCode::OK, "<html>oops</html>".into()),
            "boom" => (StatusCode::INTERNAL_SERVER_ERROR, "boom".into()),
            _ => (StatusCode::BAD_REQUEST, "unexpected query".into()),
        }
    }

    /// The query the loopback server read from a request body.
    fn query(body: &[u8], openai: bool) -> Option<String> {
        let value: Value = serde_json::from_slice(body).ok()?;
        let at = if openai { "/messages/0/content" } else { "/query/text" };
        value.pointer(at)?.as_str().map(str::to_owned)
    }

    async fn handle(body: axum::body::Bytes, openai: bool) -> (StatusCode, String) {
        let Some(query) = query(&body, openai) else {
            return (StatusCode::BAD_REQUEST, "no query".into());
        };
        if query == "slow" {
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        answer(&query, openai)
    }

    /// A loopback chatbot on 127.0.0.1:0: `/v1/chat/completions` and `/classify`. The runtime
    /// stops when dropped.
    fn server() -> (tokio::runtime::Runtime, std::net::SocketAddr) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .route(
                "/v1/chat/completions",
                axum::routing::post(|body: axum::body::Bytes| handle(body, true)),
            )
            .route("/classify", axum::routing::post(|body: axum::body::Bytes| handle(body, false)));
        runtime.spawn(async move { axum::serve(listener, app).await });
        (runtime, addr)
    }

    fn plan(kind: HttpKind, url: String, intent: IntentRule) -> HttpPlan {
        let openai = kind == HttpKind::OpenAi;
        HttpPlan {
            kind,
            url,
            model_name: "bot".into(),
            request: r#"{"query": {"text": {text}}}"#.into(),
            intent,
            confidence_pointer: if openai { "/stressor/confidence" } else { "/confidence" }.into(),
            decline: vec!["oos".into()],
            timeout: Duration::from_millis(500),
        }
    }

    fn intents() -> Vec<String> {
        vec!["greeting".into(), "farewell".into()]
    }

    fn kind(reply: &Reply) -> &'static str {
        match reply {
            Reply::Intent { .. } => "intent",
            Reply::Declined => "declined",
            Reply::Unmapped(_) => "unmapped",
            Reply::Failed(_) => "failed",
        }
    }

    #[test]
    fn json_replies_map_to_intents_declines_unmapped_and_failures() {
        let (_runtime, addr) = server();
        let plan = plan(
            HttpKind::Json,
            format!("http://{addr}/classify"),
            IntentRule::Pointer("/intent".into()),
        );
        let remote = Remote::connect(&plan, &intents()).unwrap();
        assert_eq!(
            remote.describe(),
            format!("JSON chatbot at http://{addr}/classify (intent at /intent)")
        );
        let texts = [
            "greet",
            "say \"hi\"\nplease",
            "oos",
            "null",
            "noconf",
            "bigconf",
            "unknown",
            "badconf",
            "missing",
            "garbage",
            "boom",
            "slow",
        ];
        let started = std::time::Instant::now();
        let replies = remote.reply(&texts).unwrap();
        assert!(started.elapsed() < Duration::from_secs(3), "the slow reply was waited for");
        let intent = |intent, confidence| Reply::Intent { intent, confidence, scores: None };
        assert_eq!(replies[0], intent(0, 0.75));
        assert_eq!(replies[1], intent(1, 0.75), "the query reaches the server JSON-escaped");
        assert_eq!(replies[2], Reply::Declined);
        assert_eq!(replies[3], Reply::Declined);
        assert_eq!(replies[4], intent(0, 1.0));
        assert_eq!(replies[5], intent(0, 1.0));
        let kinds: Vec<_> = replies[6..].iter().map(kind).collect();
        assert_eq!(kinds, ["unmapped", "unmapped", "unmapped", "unmapped", "failed", "failed"]);
        assert!(matches!(&replies[6], Reply::Unmapped(r) if r.contains("teleport")), "{replies:?}");
        assert!(matches!(&replies[10], Reply::Failed(r) if r.contains("500")), "{replies:?}");
    }

    #[test]
    fn openai_replies_are_read_by_pointer_or_by_regex() {
        let (_runtime, addr) = server();
        let url = format!("http://{addr}/v1");
        let by_pointer =
            plan(HttpKind::OpenAi, url.clone(), IntentRule::Pointer("/stressor/intent".into()));
        let remote = Remote::connect(&by_pointer, &intents()).unwrap();
        assert_eq!(
            remote.describe(),
            format!(
                "OpenAI-compatible chatbot at http://{addr}/v1/chat/completions (intent at /stressor/intent)"
            )
        );
        let texts = ["greet", "say \"hi\"\nplease", "oos", "unknown", "garbage", "boom"];
        let replies = remote.reply(&texts).unwrap();
        let intent = |intent| Reply::Intent { intent, confidence: 0.75, scores: None };
        assert_eq!(replies[..3], [intent(0), intent(1), Reply::Declined]);
        let kinds: Vec<_> = replies[3..].iter().map(kind).collect();
        assert_eq!(kinds, ["unmapped", "unmapped", "failed"]);

        let by_regex = plan(HttpKind::OpenAi, url, IntentRule::Regex(r"I think: (\w+)\.".into()));
        let remote = Remote::connect(&by_regex, &intents()).unwrap();
        let replies = remote.reply(&["greet", "say \"hi\"\nplease", "null"]).unwrap();
        assert_eq!(replies[..2], [intent(0), intent(1)]);
        // `{"intent":null}` has no choices: not a chat completion.
        assert_eq!(kind(&replies[2]), "unmapped");
    }

    #[test]
    fn an_unreachable_endpoint_fails_at_connect_naming_the_url_key() {
        // A port just bound and released: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        for kind in [HttpKind::Json, HttpKind::OpenAi] {
            let plan = plan(
                kind,
                format!("http://127.0.0.1:{port}/x"),
                IntentRule::Pointer("/intent".into()),
            );
            let error = Remote::connect(&plan, &intents()).unwrap_err().to_string();
            assert!(
                error.contains("chatbot.model.url") && error.contains(&format!("127.0.0.1:{port}")),
                "{error}"
            );
        }
    }

    #[test]
    fn queries_are_filled_in_as_json_string_literals() {
        assert_eq!(fill(r#"{"q": {text}}"#, "a \"b\"\n\\"), r#"{"q": "a \"b\"\n\\"}"#);
    }
}
