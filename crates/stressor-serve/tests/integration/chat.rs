//! The chatbot server over loopback HTTP: the OpenAI format (read back by stressor's own chat
//! client), classify, bad input, model failures, capacity, and the shadow deployment.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use stressor_intent::{IntentError, IntentModel, Reply};
use stressor_serve::chat::{ChatServeConfig, ChatServer};

use crate::SHORT;

/// A keyword chatbot: `balance` → intent 0, `card` → intent 1 (confidence 0.9); `maybe` →
/// intent 0 at 0.2 (below the threshold); `human` → declined; `fail` → a failed reply; `crash`
/// → the model errors; anything else is unmapped. A shadow variant swaps the two intents on
/// `card` and sleeps before answering.
struct Keywords {
    intents: Vec<String>,
    delay: Duration,
    swap_card: bool,
}

impl Keywords {
    fn live() -> Arc<dyn IntentModel> {
        Arc::new(Keywords::new(Duration::ZERO, false))
    }

    fn new(delay: Duration, swap_card: bool) -> Keywords {
        Keywords { intents: vec!["balance".into(), "card_lost".into()], delay, swap_card }
    }
}

impl IntentModel for Keywords {
    fn intents(&self) -> &[String] {
        &self.intents
    }

    fn reply(&self, texts: &[&str]) -> Result<Vec<Reply>, IntentError> {
        std::thread::sleep(self.delay);
        let intent =
            |intent: u32, confidence: f32| Reply::Intent { intent, confidence, scores: None };
        texts
            .iter()
            .map(|text| {
                let text = text.to_lowercase();
                Ok(if text.contains("crash") {
                    return Err(IntentError("the keyword table is gone".into()));
                } else if text.contains("fail") {
                    Reply::Failed("asked to fail".into())
                } else if text.contains("human") {
                    Reply::Declined
                } else if text.contains("maybe") {
                    intent(0, 0.2)
                } else if text.contains("balance") {
                    intent(0, 0.9)
                } else if text.contains("card") {
                    intent(u32::from(!self.swap_card), 0.9)
                } else {
                    Reply::Unmapped("no keyword".into())
                })
            })
            .collect()
    }

    fn describe(&self) -> String {
        "keywords".into()
    }
}

fn config() -> ChatServeConfig {
    let mut config = ChatServeConfig::default();
    config.model_name = "bot".into();
    config.max_input_chars = 40;
    config.max_body_bytes = 4096;
    config.max_batch = 3;
    config.responses.insert("balance".into(), "Your balance is on the home screen.".into());
    config
}

async fn start(config: ChatServeConfig) -> ChatServer {
    ChatServer::bind("127.0.0.1:0".parse().unwrap(), Keywords::live(), config).await.unwrap()
}

/// One request on a fresh connection: the status and the body.
async fn call(addr: SocketAddr, method: &str, path: &str, body: impl Into<Bytes>) -> (u16, String) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string())
        .header("content-type", "application/json")
        .body(Full::new(body.into()))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn chat_body(text: &str) -> String {
    json!({"model": "bot", "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": text}]})
        .to_string()
}

async fn chat(addr: SocketAddr, text: &str) -> (u16, Value) {
    let (status, body) = call(addr, "POST", "/v1/chat/completions", chat_body(text)).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::String(body)))
}

#[tokio::test]
async fn chat_completions_are_openai_replies_that_stressors_chat_client_reads() {
    let server = start(config()).await;
    let addr = server.local_addr();
    let (status, body) = call(addr, "POST", "/v1/chat/completions", chat_body("my balance?")).await;
    assert_eq!(status, 200, "{body}");
    let reply = stressor_model::http::parse_chat_reply(body.as_bytes()).unwrap();
    assert_eq!(reply.content, "Your balance is on the home screen.");
    assert_eq!(reply.finish_reason.as_deref(), Some("stop"));
    assert_eq!(reply.prompt_tokens, Some(2));
    let value: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(value["object"], "chat.completion");
    assert_eq!(value["model"], "bot");
    assert_eq!(value["choices"][0]["message"]["role"], "assistant");
    assert_eq!(
        value["stressor"],
        json!({"intent": "balance", "confidence": 0.9, "handoff": false})
    );

    // The default response text; a low confidence, a decline and an unmapped reply hand off.
    let (_, card) = chat(addr, "I lost my card").await;
    assert_eq!(card["choices"][0]["message"]["content"], "I can help with card lost.");
    let (_, unsure) = chat(addr, "maybe balance").await;
    assert_eq!(
        unsure["choices"][0]["message"]["content"],
        "Let me connect you with a person who can help."
    );
    assert_eq!(
        unsure["stressor"],
        json!({"intent": "balance", "confidence": 0.2, "handoff": true})
    );
    for text in ["a human please", "hello there"] {
        let (status, value) = chat(addr, text).await;
        assert_eq!(status, 200);
        assert_eq!(value["stressor"], json!({"intent": null, "confidence": 0.0, "handoff": true}));
    }

    // Array content, and stressor's own blocking chat client end to end.
    let parts =
        json!({"messages": [{"role": "user", "content": [{"type": "text", "text": "card"}]}]});
    let (status, body) = call(addr, "POST", "/v1/chat/completions", parts.to_string()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("card_lost"), "{body}");
    let url = format!("http://{addr}/v1");
    let client_reply = tokio::task::spawn_blocking(move || {
        let client = stressor_model::http::ChatModel::new(&url, "bot", Default::default()).unwrap();
        client.chat(&[stressor_model::http::ChatMessage::user("balance")])
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(client_reply.content, "Your balance is on the home screen.");

    // Classify, one text and a batch.
    let (status, one) = call(addr, "POST", "/v1/classify", r#"{"text":"card"}"#).await;
    assert_eq!(
        (status, one.as_str()),
        (200, r#"{"confidence":0.9,"handoff":false,"intent":"card_lost"}"#)
    );
    let (status, many) =
        call(addr, "POST", "/v1/classify", r#"{"texts":["balance","human"]}"#).await;
    assert_eq!(status, 200, "{many}");
    let many: Value = serde_json::from_str(&many).unwrap();
    assert_eq!(many[0]["intent"], "balance");
    assert_eq!(many[1]["handoff"], true);

    // Models, health and metrics.
    let (status, models) = call(addr, "GET", "/v1/models", "").await;
    assert_eq!(status, 200);
    let models: Value = serde_json::from_str(&models).unwrap();
    assert_eq!(models["data"][0]["id"], "bot");
    assert_eq!(models["data"][0]["intents"], json!(["balance", "card_lost"]));
    assert_eq!(call(addr, "GET", "/health", "").await, (200, r#"{"status":"ok"}"#.into()));
    let (_, metrics) = call(addr, "GET", "/metrics", "").await;
    assert!(
        metrics.contains("stressor_chat_requests_total{endpoint=\"chat_completions\"} 7\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("stressor_chat_requests_total{endpoint=\"classify\"} 2\n"),
        "{metrics}"
    );
    assert!(metrics.contains("stressor_chat_queries_total 10\n"), "{metrics}");
    assert!(metrics.contains("stressor_chat_handoffs_total 4\n"), "{metrics}");
    assert!(metrics.contains("stressor_chat_latency_seconds_count 9\n"), "{metrics}");
    assert!(!metrics.contains("shadow"), "{metrics}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_input_gets_a_400_naming_the_field_and_model_failures_a_500() {
    let server = start(config()).await;
    let addr = server.local_addr();
    let param = |body: &str| -> Value {
        let value: Value = serde_json::from_str(body).unwrap();
        value["error"]["param"].clone()
    };
    for (body, want) in [
        (Bytes::new(), Value::Null),
        (Bytes::from_static(b"{\"messages\":"), Value::Null),
        (
            Bytes::from_static(b"{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}"),
            Value::Null,
        ),
        (
            Bytes::from(json!({"messages": [{"role": "assistant", "content": "hi"}]}).to_string()),
            json!("messages"),
        ),
        (Bytes::from(chat_body("")), json!("messages[1].content")),
        (Bytes::from(chat_body(&"x".repeat(41))), json!("messages[1].content")),
    ] {
        let (status, text) = call(addr, "POST", "/v1/chat/completions", body.clone()).await;
        assert_eq!(status, 400, "{body:?}: {text}");
        assert_eq!(param(&text), want, "{body:?}: {text}");
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap()["error"]["type"],
            "invalid_request_error"
        );
    }
    let (_, over) = call(addr, "POST", "/v1/chat/completions", chat_body(&"x".repeat(41))).await;
    assert!(
        over.contains("41 characters; this server takes at most 40 (max_input_chars)"),
        "{over}"
    );
    let (status, text) = call(addr, "POST", "/v1/classify", r#"{"texts":["a","b","c","d"]}"#).await;
    assert_eq!((status, param(&text)), (400, json!("texts")), "{text}");
    let (status, text) = call(addr, "POST", "/v1/chat/completions", "x".repeat(5000)).await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("4096 bytes"), "{text}");
    let (status, text) = call(
        addr,
        "POST",
        "/v1/chat/completions",
        json!({"model": "gpt-4o", "messages": []}).to_string(),
    )
    .await;
    assert_eq!((status, param(&text)), (404, json!("model")), "{text}");

    // Control characters are answered and counted.
    let (status, value) = chat(addr, "balance\u{0}\u{7}").await;
    assert_eq!((status, value["stressor"]["intent"].clone()), (200, json!("balance")));

    // A failed reply and a model error are 500s with a JSON error; the server keeps serving.
    for text in ["please fail", "crash now"] {
        let (status, value) = chat(addr, text).await;
        assert_eq!(status, 500, "{value}");
        assert_eq!(value["error"]["type"], "server_error");
        assert!(
            value["error"]["message"].as_str().unwrap().contains("the model failed"),
            "{value}"
        );
    }
    let (status, text) =
        call(addr, "POST", "/v1/classify", r#"{"texts":["balance","fail"]}"#).await;
    assert_eq!(status, 500);
    assert!(text.contains("texts[1]: the model failed: asked to fail"), "{text}");
    assert_eq!(chat(addr, "balance").await.0, 200);
    let (_, metrics) = call(addr, "GET", "/metrics", "").await;
    assert!(
        metrics.contains("stressor_chat_bad_requests_total{endpoint=\"chat_completions\"} 9\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("stressor_chat_failures_total{endpoint=\"chat_completions\"} 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("stressor_chat_failures_total{endpoint=\"classify\"} 1\n"),
        "{metrics}"
    );
    assert!(metrics.contains("stressor_chat_control_chars_total 1\n"), "{metrics}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn beyond_the_queue_chat_requests_get_503_and_metrics_count_them() {
    let mut config = config();
    config.max_concurrency = 1;
    config.queue_limit = 1;
    config.service_time = Duration::from_millis(400);
    let server = start(config).await;
    let addr = server.local_addr();
    let first = tokio::spawn(async move { chat(addr, "balance").await.0 });
    tokio::time::sleep(SHORT).await;
    let second = tokio::spawn(async move { chat(addr, "card").await.0 });
    tokio::time::sleep(SHORT).await;
    let (status, value) = chat(addr, "balance").await;
    assert_eq!(status, 503, "{value}");
    assert!(value["error"]["message"].as_str().unwrap().contains("at capacity"), "{value}");
    assert_eq!(first.await.unwrap(), 200);
    assert_eq!(second.await.unwrap(), 200);
    let (_, metrics) = call(addr, "GET", "/metrics", "").await;
    assert!(metrics.contains("stressor_chat_rejected_total 1\n"), "{metrics}");
    assert!(metrics.contains("stressor_chat_queries_total 2\n"), "{metrics}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_configuration_naming_unknown_intents_or_a_bad_threshold_is_refused() {
    let mut unknown = config();
    unknown.responses.insert("weather".into(), "Sunny.".into());
    let refused = ChatServer::bind("127.0.0.1:0".parse().unwrap(), Keywords::live(), unknown).await;
    assert!(
        matches!(&refused, Err(stressor_serve::ServeError::Config(m)) if m.contains("weather")),
        "{refused:?}"
    );
    let mut threshold = config();
    threshold.handoff_threshold = 1.5;
    let refused =
        ChatServer::bind("127.0.0.1:0".parse().unwrap(), Keywords::live(), threshold).await;
    assert!(matches!(refused, Err(stressor_serve::ServeError::Config(_))));
}

/// The queries of the shadow tests: every kind of answer, and a text the candidate disagrees on.
const QUERIES: [&str; 5] = ["balance", "lost card", "maybe balance", "human", "what?"];

/// The answers without their per-response ids and times.
fn user_view(value: &Value) -> Value {
    json!([value["choices"], value["stressor"], value["usage"]])
}

#[tokio::test]
async fn a_slow_shadow_changes_no_answer_and_adds_no_latency_and_drops_when_full() {
    const SHADOW_DELAY: Duration = Duration::from_millis(200);
    let plain = start(config()).await;
    let mut config = config();
    config.shadow = Some(Arc::new(Keywords::new(SHADOW_DELAY, true)));
    config.shadow_concurrency = 1;
    config.shadow_queue_limit = 2;
    let shadowed = start(config).await;
    let mut slowest = Duration::ZERO;
    for round in 0..8 {
        for text in QUERIES {
            let (status, without) = chat(plain.local_addr(), text).await;
            let sent = Instant::now();
            let (_, with) = chat(shadowed.local_addr(), text).await;
            slowest = slowest.max(sent.elapsed());
            assert_eq!(status, 200);
            assert_eq!(user_view(&with), user_view(&without), "round {round}, {text}");
        }
    }
    // Every user answer came well within the candidate's delay (typically ~1 ms).
    assert!(slowest < SHADOW_DELAY / 2, "slowest user answer {slowest:?}");
    shadowed.drain_shadow().await;
    let stats = shadowed.shadow_stats();
    // 40 queries in far less than 40 × 200 ms: a queue of 2 and 1 call at a time must drop.
    assert_eq!(stats.mirrored + stats.dropped, 40, "{stats:?}");
    assert!(stats.dropped > 0 && stats.mirrored >= 1, "{stats:?}");
    assert!(stats.latency_ms(0.0).unwrap() >= 200.0, "{stats:?}");
    let (_, metrics) = call(shadowed.local_addr(), "GET", "/metrics", "").await;
    assert!(
        metrics.contains(&format!("stressor_chat_shadow_dropped_total {}\n", stats.dropped)),
        "{metrics}"
    );
    assert!(metrics.contains("stressor_chat_shadow_pending 0\n"), "{metrics}");
    plain.shutdown().await.unwrap();
    shadowed.shutdown().await.unwrap();
}

#[tokio::test]
async fn shadow_records_compare_the_candidate_with_the_live_answers() {
    let mut config = config();
    config.shadow = Some(Arc::new(Keywords::new(Duration::ZERO, true)));
    config.shadow_queue_limit = 64;
    let server = start(config).await;
    let addr = server.local_addr();
    for text in QUERIES {
        assert_eq!(chat(addr, text).await.0, 200);
    }
    let (status, _) = call(addr, "POST", "/v1/classify", r#"{"texts":["card","balance"]}"#).await;
    assert_eq!(status, 200);
    // A failed request is not mirrored: the user got no answer.
    assert_eq!(chat(addr, "fail").await.0, 500);
    server.drain_shadow().await;
    let stats = server.shadow_stats();
    assert_eq!((stats.mirrored, stats.dropped, stats.failed), (7, 0, 0), "{stats:?}");
    // The candidate swaps the card intent: the two card queries disagree, the rest agree
    // (handoffs agree with handoffs).
    assert_eq!(stats.agreed, 5, "{stats:?}");
    assert_eq!((stats.live_handoffs, stats.shadow_handoffs), (3, 3));
    assert_eq!(stats.records.len(), 7);
    let card = stats.records.iter().find(|r| r.text == "lost card").unwrap();
    assert_eq!(card.live.intent.as_deref(), Some("card_lost"));
    assert_eq!(card.shadow.as_ref().unwrap().intent.as_deref(), Some("balance"));
    assert!((stats.agreement().unwrap() - 5.0 / 7.0).abs() < 1e-12);
    server.shutdown().await.unwrap();
}
