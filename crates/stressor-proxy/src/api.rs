//! The Toxiproxy-compatible REST API (same paths, fields, status codes and error shape), so
//! `toxiproxy-cli`, the Toxiproxy client libraries and chaostoolkit-toxiproxy drive stressor's
//! proxy unchanged. Extensions: a proxy's `protocol` field and the `http_*` toxic types.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use stressor_core::Seed;
use tokio::net::TcpListener;
use tokio::sync::{Mutex, oneshot};
use tokio::task::JoinHandle;

use crate::ProxyError;
use crate::proxy::Proxy;
use crate::toxic::Toxic;

/// The proxies of one API server, by name.
#[derive(Debug)]
pub struct Registry {
    proxies: Mutex<BTreeMap<String, Arc<Proxy>>>,
    seed: Seed,
    allow_host: Option<String>,
}

impl Registry {
    /// An empty registry; each proxy's random draws derive from `seed` and its name.
    pub fn new(seed: Seed, allow_host: Option<String>) -> Arc<Registry> {
        Arc::new(Registry { proxies: Mutex::new(BTreeMap::new()), seed, allow_host })
    }

    /// Creates and starts a proxy.
    ///
    /// # Errors
    /// [`ProxyError::Exists`], [`ProxyError::Invalid`], [`ProxyError::Bind`].
    pub async fn create(&self, config: crate::ProxyConfig) -> Result<Arc<Proxy>, ProxyError> {
        let mut proxies = self.proxies.lock().await;
        if proxies.contains_key(&config.name) {
            return Err(ProxyError::Exists(format!("proxy `{}` already exists", config.name)));
        }
        let name = config.name.clone();
        let proxy = Proxy::start(
            config,
            self.seed.derive(&format!("proxy/{name}")),
            self.allow_host.clone(),
        )
        .await?;
        proxies.insert(name, Arc::clone(&proxy));
        Ok(proxy)
    }

    /// The proxy of that name.
    pub async fn get(&self, name: &str) -> Option<Arc<Proxy>> {
        self.proxies.lock().await.get(name).cloned()
    }

    /// Every proxy.
    pub async fn all(&self) -> Vec<Arc<Proxy>> {
        self.proxies.lock().await.values().cloned().collect()
    }

    /// Stops and removes a proxy.
    ///
    /// # Errors
    /// [`ProxyError::NotFound`].
    pub async fn delete(&self, name: &str) -> Result<(), ProxyError> {
        let proxy = self.proxies.lock().await.remove(name);
        match proxy {
            Some(proxy) => {
                proxy.stop().await;
                Ok(())
            }
            None => Err(not_found(name)),
        }
    }

    /// Stops every proxy.
    pub async fn stop_all(&self) {
        for proxy in self.all().await {
            proxy.stop().await;
        }
    }

    /// Prometheus text for every proxy.
    pub async fn to_prometheus(&self) -> String {
        prometheus(&self.all().await)
    }
}

/// The Prometheus text exposition of `proxies`' counters (connections, bytes each way, HTTP
/// requests, faults injected by toxic).
pub fn prometheus(proxies: &[Arc<Proxy>]) -> String {
    let mut out = String::new();
    let counters: [Counter; 6] = [
        ("stressor_proxy_connections_total", "Connections accepted.", |s| {
            s.connections.load(Ordering::Relaxed)
        }),
        ("stressor_proxy_connections_open", "Connections open now.", |s| {
            s.open.load(Ordering::Relaxed)
        }),
        (
            "stressor_proxy_upstream_errors_total",
            "Connections whose upstream could not be reached.",
            |s| s.upstream_errors.load(Ordering::Relaxed),
        ),
        ("stressor_proxy_bytes_upstream_total", "Bytes passed client to server.", |s| {
            s.bytes_upstream.load(Ordering::Relaxed)
        }),
        ("stressor_proxy_bytes_downstream_total", "Bytes passed server to client.", |s| {
            s.bytes_downstream.load(Ordering::Relaxed)
        }),
        ("stressor_proxy_http_requests_total", "HTTP requests seen.", |s| {
            s.requests.load(Ordering::Relaxed)
        }),
    ];
    for (name, help, read) in counters {
        let kind = if name.ends_with("_open") { "gauge" } else { "counter" };
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for proxy in proxies {
            let _ = writeln!(
                out,
                "{name}{{proxy=\"{}\"}} {}",
                escape(&proxy.config().name),
                read(proxy.stats())
            );
        }
    }
    let name = "stressor_proxy_faults_total";
    let _ = writeln!(out, "# HELP {name} HTTP faults injected, by toxic.\n# TYPE {name} counter");
    for proxy in proxies {
        for (toxic, n) in proxy.stats().faults() {
            let _ = writeln!(
                out,
                "{name}{{proxy=\"{}\",toxic=\"{}\"}} {n}",
                escape(&proxy.config().name),
                escape(&toxic)
            );
        }
    }
    out
}

/// A metric's name, help text and reader.
type Counter = (&'static str, &'static str, fn(&crate::ProxyStats) -> u64);

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn not_found(name: &str) -> ProxyError {
    ProxyError::NotFound(format!("proxy `{name}` not found"))
}

impl IntoResponse for ProxyError {
    fn into_response(self) -> Response {
        let status = match &self {
            ProxyError::Invalid(_) => StatusCode::BAD_REQUEST,
            ProxyError::NotFound(_) => StatusCode::NOT_FOUND,
            ProxyError::Exists(_) => StatusCode::CONFLICT,
            ProxyError::Bind { .. } | ProxyError::Serve(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut message = self.to_string();
        if let ProxyError::Bind { source, .. } = &self {
            let _ = write!(message, ": {source}");
        }
        json_response(status, &json!({"error": message, "status": status.as_u16()}))
    }
}

type ApiResult = Result<Response, ProxyError>;

fn body_json(body: &Bytes) -> Result<Value, ProxyError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|e| ProxyError::Invalid(format!("the body is not JSON: {e}")))
}

fn json_response(status: StatusCode, value: &Value) -> Response {
    let mut response = (status, value.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn ok(status: StatusCode, value: Value) -> ApiResult {
    Ok(json_response(status, &value))
}

async fn find(registry: &Registry, name: &str) -> Result<Arc<Proxy>, ProxyError> {
    registry.get(name).await.ok_or_else(|| not_found(name))
}

async fn list(State(registry): State<Arc<Registry>>) -> ApiResult {
    let mut out = serde_json::Map::new();
    for proxy in registry.all().await {
        out.insert(proxy.config().name, proxy.to_json());
    }
    ok(StatusCode::OK, Value::Object(out))
}

async fn create(State(registry): State<Arc<Registry>>, body: Bytes) -> ApiResult {
    let config = Proxy::config_from_json(&body_json(&body)?)?;
    let proxy = registry.create(config).await?;
    ok(StatusCode::CREATED, proxy.to_json())
}

async fn populate(State(registry): State<Arc<Registry>>, body: Bytes) -> ApiResult {
    let value = body_json(&body)?;
    let items = match &value {
        Value::Array(items) => items.clone(),
        Value::Object(object) => match object.get("proxies") {
            Some(Value::Array(items)) => items.clone(),
            _ => return Err(ProxyError::Invalid("populate takes an array of proxies".into())),
        },
        _ => return Err(ProxyError::Invalid("populate takes an array of proxies".into())),
    };
    let configs = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            Proxy::config_from_json(item)
                .map_err(|e| ProxyError::Invalid(format!("proxy {i}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::new();
    for config in configs {
        if let Some(existing) = registry.get(&config.name).await {
            let current = existing.config();
            let same_listen = config.listen.port() == 0 || config.listen == current.listen;
            if same_listen && config.upstream == current.upstream {
                out.push(existing.to_json());
                continue;
            }
            registry.delete(&config.name).await?;
        }
        out.push(registry.create(config).await?.to_json());
    }
    ok(StatusCode::CREATED, json!({ "proxies": out }))
}

async fn show(State(registry): State<Arc<Registry>>, Path(name): Path<String>) -> ApiResult {
    ok(StatusCode::OK, find(&registry, &name).await?.to_json())
}

async fn update(
    State(registry): State<Arc<Registry>>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult {
    let proxy = find(&registry, &name).await?;
    proxy.update(&body_json(&body)?).await?;
    ok(StatusCode::OK, proxy.to_json())
}

async fn delete(State(registry): State<Arc<Registry>>, Path(name): Path<String>) -> ApiResult {
    registry.delete(&name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn toxics(State(registry): State<Arc<Registry>>, Path(name): Path<String>) -> ApiResult {
    let proxy = find(&registry, &name).await?;
    ok(StatusCode::OK, Value::Array(proxy.toxics().iter().map(Toxic::to_json).collect()))
}

async fn add_toxic(
    State(registry): State<Arc<Registry>>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult {
    let proxy = find(&registry, &name).await?;
    let toxic = proxy.add_toxic(Toxic::from_json(&body_json(&body)?)?)?;
    ok(StatusCode::OK, toxic.to_json())
}

async fn show_toxic(
    State(registry): State<Arc<Registry>>,
    Path((name, toxic)): Path<(String, String)>,
) -> ApiResult {
    let proxy = find(&registry, &name).await?;
    let found = proxy
        .toxics()
        .into_iter()
        .find(|t| t.name == toxic)
        .ok_or_else(|| ProxyError::NotFound(format!("toxic `{toxic}` not found")))?;
    ok(StatusCode::OK, found.to_json())
}

async fn update_toxic(
    State(registry): State<Arc<Registry>>,
    Path((name, toxic)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let proxy = find(&registry, &name).await?;
    ok(StatusCode::OK, proxy.update_toxic(&toxic, &body_json(&body)?)?.to_json())
}

async fn delete_toxic(
    State(registry): State<Arc<Registry>>,
    Path((name, toxic)): Path<(String, String)>,
) -> ApiResult {
    find(&registry, &name).await?.remove_toxic(&toxic)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn reset(State(registry): State<Arc<Registry>>) -> ApiResult {
    for proxy in registry.all().await {
        proxy.clear_toxics();
        if !proxy.config().enabled {
            proxy.update(&json!({"enabled": true})).await?;
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn version() -> ApiResult {
    ok(StatusCode::OK, json!({"version": env!("CARGO_PKG_VERSION"), "api": "toxiproxy 2"}))
}

async fn metrics(State(registry): State<Arc<Registry>>) -> Response {
    let mut response = (StatusCode::OK, registry.to_prometheus().await).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    response
}

/// The API's routes over a registry.
pub fn router(registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/proxies", get(list).post(create))
        .route("/populate", post(populate))
        .route("/proxies/{proxy}", get(show).post(update).patch(update).delete(delete))
        .route("/proxies/{proxy}/toxics", get(toxics).post(add_toxic))
        .route(
            "/proxies/{proxy}/toxics/{toxic}",
            get(show_toxic).post(update_toxic).patch(update_toxic).delete(delete_toxic),
        )
        .route("/reset", post(reset))
        .route("/version", get(version))
        .route("/metrics", get(metrics))
        .with_state(registry)
}

/// A running API server.
#[derive(Debug)]
pub struct ApiServer {
    addr: SocketAddr,
    registry: Arc<Registry>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl ApiServer {
    /// Serves the API for `registry` on `addr` (loopback only; Toxiproxy's port is 8474).
    ///
    /// # Errors
    /// [`ProxyError::Invalid`] for a non-loopback address, [`ProxyError::Bind`].
    pub async fn bind(addr: SocketAddr, registry: Arc<Registry>) -> Result<ApiServer, ProxyError> {
        if !addr.ip().is_loopback() {
            return Err(ProxyError::Invalid(format!(
                "the API listens on loopback only, not {addr}"
            )));
        }
        let listener =
            TcpListener::bind(addr).await.map_err(|source| ProxyError::Bind { addr, source })?;
        let addr = listener.local_addr().map_err(|source| ProxyError::Bind { addr, source })?;
        let (stop, stopped) = oneshot::channel::<()>();
        let app = router(Arc::clone(&registry));
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(ApiServer { addr, registry, stop: Some(stop), task })
    }

    /// The API's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The registry it serves.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Stops the API and every proxy.
    ///
    /// # Errors
    /// [`ProxyError::Serve`] when the server loop failed.
    pub async fn shutdown(mut self) -> Result<(), ProxyError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.registry.stop_all().await;
        match (&mut self.task).await {
            Ok(result) => result.map_err(ProxyError::Serve),
            Err(error) => Err(ProxyError::Serve(std::io::Error::other(error))),
        }
    }
}
