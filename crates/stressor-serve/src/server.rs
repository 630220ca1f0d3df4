//! The Open Inference Protocol server: routes and handlers over the shared [`Capacity`]; the
//! graceful shutdown ([`Running`]) and the JSON responses every server here uses.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use stressor_core::Batch;
use stressor_model::{Model, ScoreKind};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::ServeError;
use crate::capacity::Capacity;
use crate::metrics::prometheus_response;
use crate::protocol::{self, LABEL_OUTPUT, score_output};

/// How the server behaves.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ServeConfig {
    /// The name the model is served under (`/v2/models/{name}`).
    pub model_name: String,
    /// The largest request body accepted, in bytes; larger bodies get 413.
    pub max_body_bytes: usize,
    /// The most samples one request may carry; more get 400.
    pub max_batch: usize,
    /// Requests served at once (inference slots).
    pub max_concurrency: usize,
    /// Requests waiting for a slot; one more gets 503 at once.
    pub queue_limit: usize,
    /// Extra time every request spends holding its slot, to model a slower model: with
    /// `max_concurrency` slots the server then saturates near `max_concurrency / service_time`
    /// requests per second, which makes saturation visible on a small machine.
    pub service_time: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            model_name: "model".to_string(),
            max_body_bytes: 16 * 1024 * 1024,
            max_batch: 1024,
            max_concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
            queue_limit: 1024,
            service_time: Duration::ZERO,
        }
    }
}

struct AppState {
    model: Arc<dyn Model>,
    score_kind: ScoreKind,
    config: ServeConfig,
    capacity: Capacity,
    served: AtomicU64,
}

/// A running server.
///
/// Dropping it without [`Server::shutdown`] leaves the server task running until the runtime
/// stops.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    running: Running,
}

/// An axum app served on a spawned task, with a graceful-shutdown trigger.
#[derive(Debug)]
pub(crate) struct Running {
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    pub(crate) fn spawn(listener: TcpListener, app: Router) -> Running {
        let (shutdown, signal) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = signal.await;
                })
                .await
        });
        Running { shutdown: Some(shutdown), task }
    }

    /// Triggers the graceful shutdown and waits for the task.
    pub(crate) async fn stop(&mut self) -> Result<(), ServeError> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        self.wait().await
    }

    pub(crate) async fn wait(&mut self) -> Result<(), ServeError> {
        match (&mut self.task).await {
            Ok(result) => result.map_err(ServeError::Serve),
            Err(error) => Err(ServeError::Serve(std::io::Error::other(error))),
        }
    }
}

impl Server {
    /// Binds `addr` (port 0 picks a free one) and serves `model` under `config` on the current
    /// tokio runtime.
    ///
    /// The model is run once on a zero sample first, so a broken model fails here and not on
    /// the first request.
    ///
    /// # Errors
    /// [`ServeError::Bind`] when the address cannot be bound, [`ServeError::Model`] when the
    /// model fails on the warm-up sample, [`ServeError::Config`] for a zero capacity.
    pub async fn bind(
        addr: SocketAddr,
        model: Arc<dyn Model>,
        config: ServeConfig,
    ) -> Result<Server, ServeError> {
        if config.max_concurrency == 0 || config.max_batch == 0 {
            return Err(ServeError::Config(
                "max_concurrency and max_batch must be at least 1".into(),
            ));
        }
        let warm = Arc::clone(&model);
        let score_kind = tokio::task::spawn_blocking(move || {
            let zeros = Batch::zeros(1, &warm.info().input_shape);
            warm.predict(&zeros).map(|scores| scores.kind())
        })
        .await
        .map_err(|error| ServeError::Config(format!("the warm-up task failed: {error}")))??;
        let listener =
            TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr, source })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Bind { addr, source })?;
        let state = Arc::new(AppState {
            capacity: Capacity::new(
                config.max_concurrency,
                config.queue_limit,
                config.service_time,
            ),
            model,
            score_kind,
            config,
            served: AtomicU64::new(0),
        });
        let running = Running::spawn(listener, router(state));
        tracing::info!(%addr, "serving");
        Ok(Server { addr, running })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections, lets requests in flight finish, and waits for the server.
    ///
    /// # Errors
    /// [`ServeError::Serve`] when the server loop failed.
    pub async fn shutdown(mut self) -> Result<(), ServeError> {
        self.running.stop().await
    }

    /// Waits until the server stops (after [`Server::shutdown`] from elsewhere, or an error).
    ///
    /// # Errors
    /// [`ServeError::Serve`] when the server loop failed.
    pub async fn wait(&mut self) -> Result<(), ServeError> {
        self.running.wait().await
    }
}

fn router(state: Arc<AppState>) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .route("/v2", get(server_metadata))
        .route(
            "/v2/health/live",
            get(|| async { json_response(StatusCode::OK, &json!({"live": true})) }),
        )
        .route(
            "/v2/health/ready",
            get(|| async { json_response(StatusCode::OK, &json!({"ready": true})) }),
        )
        .route("/v2/models/{name}", get(model_metadata))
        .route("/v2/models/{name}/versions/{version}", get(model_metadata_version))
        .route("/v2/models/{name}/ready", get(model_ready))
        .route("/v2/models/{name}/infer", post(infer))
        .route("/v2/models/{name}/versions/{version}/infer", post(infer_version))
        .route("/metrics", get(metrics))
        .fallback(|| async {
            error_response(StatusCode::NOT_FOUND, "no such endpoint; see /v2 and /v2/models/{name}")
        })
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

pub(crate) fn json_response(status: StatusCode, value: &serde_json::Value) -> Response {
    json_text(status, value.to_string())
}

pub(crate) fn json_text(status: StatusCode, text: String) -> Response {
    let mut response = (status, text).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The protocol's error body: `{"error": "..."}`.
fn error_response(status: StatusCode, message: &str) -> Response {
    json_response(status, &json!({ "error": message }))
}

async fn server_metadata() -> Response {
    json_response(
        StatusCode::OK,
        &json!({"name": "stressor", "version": env!("CARGO_PKG_VERSION"), "extensions": []}),
    )
}

fn unknown_model(state: &AppState, name: &str) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        &format!("model `{name}` not found; this server serves `{}`", state.config.model_name),
    )
}

async fn model_metadata(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    if name != state.config.model_name {
        return unknown_model(&state, &name);
    }
    let info = state.model.info();
    let mut input_shape: Vec<i64> = vec![-1];
    input_shape.extend(info.input_shape.iter().map(|&d| d as i64));
    json_response(
        StatusCode::OK,
        &json!({
            "name": state.config.model_name,
            "versions": ["1"],
            "platform": format!("stressor/{}", info.kind),
            "inputs": [{"name": "input", "datatype": "FP32", "shape": input_shape}],
            "outputs": [
                {"name": score_output(state.score_kind), "datatype": "FP32", "shape": [-1, info.n_classes]},
                {"name": LABEL_OUTPUT, "datatype": "INT64", "shape": [-1]},
            ],
        }),
    )
}

async fn model_metadata_version(
    state: State<Arc<AppState>>,
    Path((name, _version)): Path<(String, String)>,
) -> Response {
    model_metadata(state, Path(name)).await
}

async fn model_ready(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    if name != state.config.model_name {
        return unknown_model(&state, &name);
    }
    json_response(StatusCode::OK, &json!({"name": name, "ready": true}))
}

/// The status and message for a body axum could not read: 413 naming the limit, or the
/// rejection's own status.
pub(crate) fn body_rejection(
    rejection: &BytesRejection,
    max_body_bytes: usize,
) -> (StatusCode, String) {
    let status = rejection.status();
    let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
        format!("the request body is larger than this server's limit of {max_body_bytes} bytes")
    } else {
        format!("cannot read the request body: {rejection}")
    };
    (status, message)
}

/// A 503 with `Retry-After: 1` and `body`.
pub(crate) fn unavailable(body: &serde_json::Value) -> Response {
    let mut response = json_response(StatusCode::SERVICE_UNAVAILABLE, body);
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

async fn infer(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if name != state.config.model_name {
        return unknown_model(&state, &name);
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let (status, message) = body_rejection(&rejection, state.config.max_body_bytes);
            return error_response(status, &message);
        }
    };
    let _slot = match state.capacity.admit().await {
        Ok(slot) => slot,
        Err(refusal) => return unavailable(&json!({ "error": refusal.message() })),
    };
    let work = Arc::clone(&state);
    let result = tokio::task::spawn_blocking(move || {
        let info = work.model.info();
        let request = protocol::parse_infer(&body, info, work.score_kind, work.config.max_batch)
            .map_err(|error| (StatusCode::BAD_REQUEST, error.0))?;
        let scores = work.model.predict(&request.inputs).map_err(|error| {
            (StatusCode::INTERNAL_SERVER_ERROR, format!("the model failed: {error}"))
        })?;
        protocol::infer_response(&work.config.model_name, &request, &scores).ok_or_else(|| {
            (StatusCode::INTERNAL_SERVER_ERROR, "the model produced non-finite scores".to_string())
        })
    })
    .await;
    state.served.fetch_add(1, Ordering::Relaxed);
    match result {
        Ok(Ok(text)) => json_text(StatusCode::OK, text),
        Ok(Err((status, message))) => error_response(status, &message),
        Err(error) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("the inference task failed: {error}"),
        ),
    }
}

async fn infer_version(
    state: State<Arc<AppState>>,
    Path((name, _version)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    infer(state, Path(name), body).await
}

/// Prometheus text exposition of the server's counters.
async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut text = format!(
        "# HELP stressor_serve_requests_total Inference requests answered (any status but 503).\n\
         # TYPE stressor_serve_requests_total counter\n\
         stressor_serve_requests_total {}\n",
        state.served.load(Ordering::Relaxed),
    );
    state.capacity.write_prometheus("stressor_serve", &mut text);
    prometheus_response(text)
}
