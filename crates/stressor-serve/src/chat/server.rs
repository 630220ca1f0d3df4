//! The chatbot server: its configuration, routes and handlers, over the same [`Capacity`] and
//! graceful shutdown as the model server.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};
use stressor_intent::{IntentModel, Reply};
use tokio::net::TcpListener;

use crate::ServeError;
use crate::capacity::Capacity;
use crate::chat::openai::{self, Classify, Completion, Limits, RequestError};
use crate::chat::shadow::{Shadow, ShadowLimits, ShadowStats};
use crate::limit::{CLIENT_HEADER, ClientLimit};
use crate::metrics::prometheus_response;
use crate::server::{Running, body_rejection, json_response, unavailable};

/// How the chatbot server behaves.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ChatServeConfig {
    /// The name the model is served under (`model` in requests and `/v1/models`).
    pub model_name: String,
    /// The largest request body accepted, in bytes; larger bodies get 413.
    pub max_body_bytes: usize,
    /// The longest query accepted, in characters (Unicode scalar values); a longer one gets 400
    /// naming the field and this cap. It bounds the work one request can ask of the model.
    pub max_input_chars: usize,
    /// The most texts one `/v1/classify` request may carry; more get 400.
    pub max_batch: usize,
    /// Requests served at once (inference slots).
    pub max_concurrency: usize,
    /// Requests waiting for a slot; one more gets 503 at once.
    pub queue_limit: usize,
    /// Extra time every request spends holding its slot, to model a slower chatbot.
    pub service_time: Duration,
    /// An answer whose confidence is below this is a handoff (the query goes to a person); so
    /// is the model's own decline and a reply that maps to no intent.
    pub handoff_threshold: f32,
    /// The reply text per intent name; an intent not listed gets
    /// `I can help with <intent, underscores as spaces>.`
    pub responses: HashMap<String, String>,
    /// The reply text of a handoff.
    pub handoff_message: String,
    /// A candidate model mirrored every answered query after the user's answer is built
    /// (shadow deployment); see [`ChatServer::shadow_stats`].
    pub shadow: Option<Arc<dyn IntentModel>>,
    /// Candidate calls at once.
    pub shadow_concurrency: usize,
    /// Queries waiting for the candidate; beyond it a mirrored query is dropped and counted.
    pub shadow_queue_limit: usize,
    /// Shadow records kept (the counters go on beyond it).
    pub shadow_max_records: usize,
}

impl Default for ChatServeConfig {
    fn default() -> Self {
        ChatServeConfig {
            model_name: "chatbot".to_string(),
            max_body_bytes: 1024 * 1024,
            max_input_chars: 2000,
            max_batch: 256,
            max_concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
            queue_limit: 1024,
            service_time: Duration::ZERO,
            handoff_threshold: 0.5,
            responses: HashMap::new(),
            handoff_message: "Let me connect you with a person who can help.".to_string(),
            shadow: None,
            shadow_concurrency: 2,
            shadow_queue_limit: 256,
            shadow_max_records: 100_000,
        }
    }
}

/// What the server answered for one query.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Answer {
    /// The intent the model chose (also when its confidence was below the handoff threshold);
    /// `None` when it declined or its reply maps to no intent.
    pub intent: Option<String>,
    /// The model's confidence in that intent (0 without one).
    pub confidence: f32,
    /// The query went to a person: the model declined, its reply maps to no intent, or its
    /// confidence is below the handoff threshold.
    pub handoff: bool,
}

/// A running chatbot server.
///
/// Dropping it without [`ChatServer::shutdown`] leaves the server and shadow tasks running
/// until the runtime stops.
#[derive(Debug)]
pub struct ChatServer {
    addr: SocketAddr,
    running: Running,
    state: Arc<ChatState>,
}

/// Requests per endpoint and how they ended.
#[derive(Debug, Default)]
struct EndpointCounters {
    requests: AtomicU64,
    bad: AtomicU64,
    failed: AtomicU64,
}

struct ChatState {
    model: Arc<dyn IntentModel>,
    config: ChatServeConfig,
    /// The reply text per intent index.
    responses: Vec<String>,
    capacity: Capacity,
    limit: Arc<ClientLimit>,
    chat: EndpointCounters,
    classify: EndpointCounters,
    queries: AtomicU64,
    handoffs: AtomicU64,
    control_chars: AtomicU64,
    completions: AtomicU64,
    shadow: Option<Shadow>,
}

impl std::fmt::Debug for ChatState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatState")
            .field("model", &self.model)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ChatServer {
    /// Binds `addr` (port 0 picks a free one) and serves `model` under `config` on the current
    /// tokio runtime; starts the shadow when `config.shadow` is set.
    ///
    /// The model answers one query first, so a broken model fails here and not on the first
    /// request.
    ///
    /// # Errors
    /// [`ServeError::Config`] for a zero capacity or batch, a handoff threshold outside [0, 1],
    /// a model without intents or a response for an intent the model lacks;
    /// [`ServeError::Intent`] when the model fails on the warm-up query; [`ServeError::Bind`]
    /// when the address cannot be bound.
    pub async fn bind(
        addr: SocketAddr,
        model: Arc<dyn IntentModel>,
        config: ChatServeConfig,
    ) -> Result<ChatServer, ServeError> {
        if config.max_concurrency == 0
            || config.max_batch == 0
            || config.max_input_chars == 0
            || (config.shadow.is_some() && config.shadow_concurrency == 0)
        {
            return Err(ServeError::Config(
                "max_concurrency, max_batch, max_input_chars and shadow_concurrency must be at \
                 least 1"
                    .into(),
            ));
        }
        if !(0.0..=1.0).contains(&config.handoff_threshold) {
            return Err(ServeError::Config(format!(
                "handoff_threshold must be within [0, 1], got {}",
                config.handoff_threshold
            )));
        }
        let intents = model.intents();
        if intents.is_empty() {
            return Err(ServeError::Config(format!(
                "the model {} has no intents",
                model.describe()
            )));
        }
        let mut unknown: Vec<&str> = config
            .responses
            .keys()
            .filter(|name| !intents.contains(name))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            unknown.sort_unstable();
            return Err(ServeError::Config(format!(
                "responses name intents the model does not have: {}",
                unknown.join(", ")
            )));
        }
        let responses = intents
            .iter()
            .map(|name| {
                config
                    .responses
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| format!("I can help with {}.", name.replace('_', " ")))
            })
            .collect();
        let warm = Arc::clone(&model);
        tokio::task::spawn_blocking(move || warm.reply(&["hello"]))
            .await
            .map_err(|error| ServeError::Config(format!("the warm-up task failed: {error}")))??;
        let listener =
            TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr, source })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Bind { addr, source })?;
        let shadow = config.shadow.as_ref().map(|candidate| {
            Shadow::start(
                Arc::clone(candidate),
                ShadowLimits {
                    concurrency: config.shadow_concurrency,
                    queue_limit: config.shadow_queue_limit,
                    max_records: config.shadow_max_records,
                    handoff_threshold: config.handoff_threshold,
                },
            )
        });
        let state = Arc::new(ChatState {
            capacity: Capacity::new(
                config.max_concurrency,
                config.queue_limit,
                config.service_time,
            ),
            limit: Arc::new(ClientLimit::default()),
            model,
            config,
            responses,
            chat: EndpointCounters::default(),
            classify: EndpointCounters::default(),
            queries: AtomicU64::new(0),
            handoffs: AtomicU64::new(0),
            control_chars: AtomicU64::new(0),
            completions: AtomicU64::new(0),
            shadow,
        });
        let running = Running::spawn(listener, router(Arc::clone(&state)));
        tracing::info!(%addr, "serving the chatbot");
        Ok(ChatServer { addr, running, state })
    }

    /// The per-client rate limit (off until set): [`ClientLimit::set`] changes it while the
    /// server runs; a client over it gets 429 before taking a slot.
    pub fn client_limit(&self) -> Arc<ClientLimit> {
        Arc::clone(&self.state.limit)
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shadow's counters and records so far (empty without a shadow). Queries still with
    /// the candidate are not in it yet: [`ChatServer::drain_shadow`] first for a final count.
    pub fn shadow_stats(&self) -> ShadowStats {
        self.state.shadow.as_ref().map(Shadow::stats).unwrap_or_default()
    }

    /// Waits until the candidate has answered every query mirrored so far.
    ///
    /// # Cancel safety
    /// Cancel safe: it only waits.
    pub async fn drain_shadow(&self) {
        if let Some(shadow) = &self.state.shadow {
            shadow.drain().await;
        }
    }

    /// Stops accepting connections, lets requests in flight finish, lets the shadow answer
    /// what it was mirrored, and waits for the server.
    ///
    /// # Errors
    /// [`ServeError::Serve`] when the server loop failed.
    pub async fn shutdown(mut self) -> Result<(), ServeError> {
        let result = self.running.stop().await;
        if let Some(shadow) = &self.state.shadow {
            shadow.stop().await;
        }
        result
    }

    /// Waits until the server stops (after [`ChatServer::shutdown`] from elsewhere, or an
    /// error).
    ///
    /// # Errors
    /// [`ServeError::Serve`] when the server loop failed.
    pub async fn wait(&mut self) -> Result<(), ServeError> {
        self.running.wait().await
    }
}

/// The server's answer for one reply: an intent above the threshold, or a handoff.
///
/// # Errors
/// The reason for a [`Reply::Failed`] or an intent index the model does not have.
pub(crate) fn to_answer(
    reply: &Reply,
    intents: &[String],
    threshold: f32,
) -> Result<Answer, String> {
    match reply {
        Reply::Intent { intent, confidence, .. } => {
            let name = intents.get(*intent as usize).ok_or_else(|| {
                format!("the model answered intent {intent}; it has {} intents", intents.len())
            })?;
            let confidence = if confidence.is_finite() { *confidence } else { 0.0 };
            Ok(Answer { intent: Some(name.clone()), confidence, handoff: confidence < threshold })
        }
        Reply::Declined | Reply::Unmapped(_) => {
            Ok(Answer { intent: None, confidence: 0.0, handoff: true })
        }
        Reply::Failed(reason) => Err(format!("the model failed: {reason}")),
    }
}

fn router(state: Arc<ChatState>) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/classify", post(classify))
        .route("/v1/models", get(models))
        .route("/health", get(|| async { json_response(StatusCode::OK, &json!({"status": "ok"})) }))
        .route("/metrics", get(metrics))
        .fallback(|| async {
            error_response(&RequestError {
                status: StatusCode::NOT_FOUND,
                param: None,
                message: "no such endpoint; see POST /v1/chat/completions, POST /v1/classify, \
                          GET /v1/models, /health, /metrics"
                    .into(),
            })
        })
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

fn error_response(error: &RequestError) -> Response {
    let error_type = match error.status {
        StatusCode::NOT_FOUND => "not_found_error",
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::BAD_REQUEST => "invalid_request_error",
        _ => "server_error",
    };
    json_response(
        error.status,
        &openai::error_body(&error.message, error_type, error.param.as_deref()),
    )
}

fn server_error(message: String) -> Response {
    error_response(&RequestError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        param: None,
        message,
    })
}

async fn models(State(state): State<Arc<ChatState>>) -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "object": "list",
            "data": [{
                "id": state.config.model_name,
                "object": "model",
                "created": 0,
                "owned_by": "stressor",
                "intents": state.model.intents(),
            }],
        }),
    )
}

/// Reads the body (413 over the limit), parses it, takes a slot and runs the model on `texts`
/// on the blocking pool: the answers, or the response to send instead.
async fn answer<T>(
    state: &Arc<ChatState>,
    counters: &EndpointCounters,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    parse: impl FnOnce(&[u8], Limits<'_>) -> Result<T, RequestError>,
    texts: impl Fn(&T) -> Vec<&str>,
) -> Result<(T, Vec<Answer>), Response> {
    counters.requests.fetch_add(1, Ordering::Relaxed);
    let client =
        headers.get(CLIENT_HEADER).and_then(|value| value.to_str().ok()).unwrap_or("anonymous");
    if !state.limit.allow(client) {
        return Err(json_response(
            StatusCode::TOO_MANY_REQUESTS,
            &openai::error_body(
                "this client is over its rate limit; retry later",
                "rate_limit_error",
                None,
            ),
        ));
    }
    let refuse = |error: RequestError| {
        counters.bad.fetch_add(1, Ordering::Relaxed);
        error_response(&error)
    };
    let body = body.map_err(|rejection| {
        let (status, message) = body_rejection(&rejection, state.config.max_body_bytes);
        refuse(RequestError { status, param: None, message })
    })?;
    let limits = Limits {
        model_name: &state.config.model_name,
        max_input_chars: state.config.max_input_chars,
        max_batch: state.config.max_batch,
    };
    let request = parse(&body, limits).map_err(refuse)?;
    let owned: Vec<String> = texts(&request).into_iter().map(str::to_string).collect();
    if owned.iter().any(|text| openai::has_control_chars(text)) {
        state.control_chars.fetch_add(1, Ordering::Relaxed);
    }
    let slot = state.capacity.admit().await.map_err(|refusal| {
        unavailable(&openai::error_body(refusal.message(), "server_error", None))
    })?;
    let model = Arc::clone(&state.model);
    let threshold = state.config.handoff_threshold;
    let result = tokio::task::spawn_blocking(move || {
        let texts: Vec<&str> = owned.iter().map(String::as_str).collect();
        let replies = model.reply(&texts).map_err(|error| format!("the model failed: {error}"))?;
        if replies.len() != texts.len() {
            return Err(format!(
                "the model gave {} replies to {} queries",
                replies.len(),
                texts.len()
            ));
        }
        let answers = replies
            .iter()
            .enumerate()
            .map(|(index, reply)| {
                to_answer(reply, model.intents(), threshold).map_err(|error| {
                    if texts.len() > 1 { format!("texts[{index}]: {error}") } else { error }
                })
            })
            .collect::<Result<Vec<Answer>, String>>()?;
        Ok((owned, answers))
    })
    .await;
    drop(slot);
    let (owned, answers) = match result {
        Ok(Ok(done)) => done,
        Ok(Err(message)) => {
            counters.failed.fetch_add(1, Ordering::Relaxed);
            return Err(server_error(message));
        }
        Err(error) => {
            counters.failed.fetch_add(1, Ordering::Relaxed);
            return Err(server_error(format!("the inference task failed: {error}")));
        }
    };
    state.queries.fetch_add(answers.len() as u64, Ordering::Relaxed);
    let handoffs = answers.iter().filter(|a| a.handoff).count();
    state.handoffs.fetch_add(handoffs as u64, Ordering::Relaxed);
    // The user's answers are built; the shadow gets its copies without waiting.
    if let Some(shadow) = &state.shadow {
        for (text, answer) in owned.iter().zip(&answers) {
            shadow.mirror(text, answer);
        }
    }
    Ok((request, answers))
}

async fn chat_completions(
    State(state): State<Arc<ChatState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let answered =
        answer(&state, &state.chat, &headers, body, openai::parse_chat, |text: &String| {
            vec![text.as_str()]
        })
        .await;
    let (text, answers) = match answered {
        Ok(answered) => answered,
        Err(response) => return response,
    };
    let Some(answer) = answers.first() else {
        return server_error("the model gave no reply".into());
    };
    let content = match (&answer.intent, answer.handoff) {
        (Some(intent), false) => state
            .model
            .intents()
            .iter()
            .position(|name| name == intent)
            .and_then(|index| state.responses.get(index))
            .map_or(state.config.handoff_message.as_str(), String::as_str),
        _ => state.config.handoff_message.as_str(),
    };
    let created = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let completion = Completion {
        serial: state.completions.fetch_add(1, Ordering::Relaxed),
        created,
        model: &state.config.model_name,
        prompt: &text,
        content,
        answer,
    };
    json_response(StatusCode::OK, &openai::chat_response(&completion))
}

async fn classify(
    State(state): State<Arc<ChatState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let answered =
        answer(&state, &state.classify, &headers, body, openai::parse_classify, Classify::texts)
            .await;
    match answered {
        Ok((Classify::One(_), answers)) => match answers.first() {
            Some(answer) => json_response(StatusCode::OK, &openai::answer_json(answer)),
            None => server_error("the model gave no reply".into()),
        },
        Ok((Classify::Many(_), answers)) => json_response(
            StatusCode::OK,
            &Value::Array(answers.iter().map(openai::answer_json).collect()),
        ),
        Err(response) => response,
    }
}

/// Prometheus text exposition of the server's counters.
async fn metrics(State(state): State<Arc<ChatState>>) -> Response {
    let mut text = String::new();
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    for (name, help, field) in [
        (
            "requests_total",
            "Requests received per endpoint (every status, 503 included).",
            (|c: &EndpointCounters| &c.requests) as fn(&EndpointCounters) -> &AtomicU64,
        ),
        ("bad_requests_total", "Requests refused with 4xx per endpoint.", |c| &c.bad),
        ("failures_total", "Requests the model failed on (500) per endpoint.", |c| &c.failed),
    ] {
        let _ = write!(
            text,
            "# HELP stressor_chat_{name} {help}\n\
             # TYPE stressor_chat_{name} counter\n\
             stressor_chat_{name}{{endpoint=\"chat_completions\"}} {}\n\
             stressor_chat_{name}{{endpoint=\"classify\"}} {}\n",
            get(field(&state.chat)),
            get(field(&state.classify)),
        );
    }
    for (name, help, value) in [
        ("queries_total", "Queries answered (a classify batch counts each text).", &state.queries),
        ("handoffs_total", "Queries answered with a handoff to a person.", &state.handoffs),
        (
            "control_chars_total",
            "Requests whose text held control characters (accepted, passed on unchanged).",
            &state.control_chars,
        ),
    ] {
        let _ = write!(
            text,
            "# HELP stressor_chat_{name} {help}\n\
             # TYPE stressor_chat_{name} counter\n\
             stressor_chat_{name} {}\n",
            get(value)
        );
    }
    state.capacity.write_prometheus("stressor_chat", &mut text);
    let _ = write!(
        text,
        "# HELP stressor_chat_rate_limited_total Requests refused with 429 by the per-client limit.\n\
         # TYPE stressor_chat_rate_limited_total counter\n\
         stressor_chat_rate_limited_total {}\n",
        state.limit.refused()
    );
    if let Some(shadow) = &state.shadow {
        shadow.write_prometheus(&mut text);
    }
    prometheus_response(text)
}
