//! A chatbot server: any [`IntentModel`](stressor_intent::IntentModel) over an OpenAI-compatible
//! HTTP API, with the model server's capacity limits (slots, a bounded queue then 503, an
//! artificial service time), `/metrics` and graceful shutdown; and an optional **shadow**
//! candidate that sees every answered query without ever touching a user's answer or latency.
//!
//! Endpoints:
//!
//! - `POST /v1/chat/completions`: OpenAI's request (`model`, optional, must be the served
//!   name; `messages` with `role` and `content`, a string or an array of `{"type": "text",
//!   "text"}` parts). The query is the last `user` message. The answer is OpenAI's
//!   `chat.completion` (`id`, `object`, `created`, `model`, `choices[0].message` with
//!   `role: "assistant"` and `content`, `finish_reason: "stop"`, `usage` in whitespace words)
//!   whose content is the intent's response text or the handoff message, plus a top-level
//!   `"stressor": {"intent": "<name>" | null, "confidence": <0–1>, "handoff": <bool>}`:
//!   `intent` is the model's choice (kept when its confidence is below the handoff threshold),
//!   null when it declined or its reply maps to no intent; `handoff` says the query went to a
//!   person (declined, unmapped, or below [`ChatServeConfig::handoff_threshold`]).
//! - `POST /v1/classify`: `{"text": "..."}` → `{"intent", "confidence", "handoff"}`;
//!   `{"texts": [...]}` (at most [`ChatServeConfig::max_batch`]) → a JSON array of those.
//! - `GET /v1/models` (OpenAI's list, with the model's `intents`), `GET /health`,
//!   `GET /metrics` (Prometheus: `stressor_chat_requests_total{endpoint}`,
//!   `_bad_requests_total{endpoint}`, `_failures_total{endpoint}`, `_queries_total`,
//!   `_handoffs_total`, `_control_chars_total`, `_rejected_total` (503), `_waiting`,
//!   `_in_flight`, the `_latency_seconds` histogram; with a shadow, `stressor_chat_shadow_*`).
//!
//! Errors are OpenAI's `{"error": {"message", "type", "param", "code"}}` with `param` naming
//! the field: 400 for an empty body, invalid UTF-8 or JSON, no `user` message, an empty text or
//! one over [`ChatServeConfig::max_input_chars`], `stream: true`; 404 for another model's
//! name; 413 over the body limit; 503 beyond the queue; 500 when the model fails (an `Err` or a
//! [`Reply::Failed`](stressor_intent::Reply::Failed)). Control characters other than tab and
//! line breaks are accepted and passed to the model unchanged (a chatbot meets them in real
//! traffic), and counted in `stressor_chat_control_chars_total`.
//!
//! Shadow deployment ([`ChatServeConfig::shadow`]): once a request's answers are built, each
//! query is put on a bounded queue (never waiting: a full queue drops the copy and counts it)
//! that feeds the candidate on its own tasks, at most [`ChatServeConfig::shadow_concurrency`]
//! at once. [`ChatServer::shadow_stats`] gives the counts (mirrored, dropped, failed, agreed),
//! the candidate's latency and a [`ShadowRecord`] per mirrored query with the query's text, so
//! a caller can score both models against its labels.
//!
//! ```no_run
//! # async fn example(model: std::sync::Arc<dyn stressor_intent::IntentModel>) -> Result<(), stressor_serve::ServeError> {
//! use stressor_serve::chat::{ChatServeConfig, ChatServer};
//! let mut config = ChatServeConfig::default();
//! config.handoff_threshold = 0.4;
//! let server = ChatServer::bind("127.0.0.1:0".parse().unwrap(), model, config).await?;
//! println!("chat on http://{}/v1/chat/completions", server.local_addr());
//! server.shutdown().await?;
//! # Ok(()) }
//! ```

mod openai;
mod server;
mod shadow;

pub use server::{Answer, ChatServeConfig, ChatServer};
pub use shadow::{ShadowRecord, ShadowStats};
