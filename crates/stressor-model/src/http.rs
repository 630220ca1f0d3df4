//! A model behind an HTTP endpoint speaking the Open Inference Protocol (KServe V2 REST), as
//! served by MLServer, Triton, KServe and `stressor serve`.
//!
//! The [`Model`] trait is synchronous, so the adapter owns a small current-thread tokio
//! runtime and one keep-alive HTTP/1.1 connection, and blocks on each request. Batches larger
//! than the endpoint takes are split; failed requests are retried within a budget; every
//! response is checked (shape, size cap, finite scores) and a bad one is an error naming the
//! endpoint.

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use stressor_core::{Batch, Bounds};

use crate::{Model, ModelError, ModelInfo, ScoreKind, Scores};

/// How to reach an Open Inference Protocol endpoint.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OipOptions {
    /// Per-request timeout.
    pub timeout: Duration,
    /// Retries of a failed request (connection error, timeout, 5xx) before giving up.
    pub retries: u32,
    /// Samples per request.
    pub max_batch: usize,
    /// The largest response body read.
    pub max_response_bytes: usize,
    /// Extra headers on every request (e.g. authorisation); their values never appear in
    /// errors.
    pub headers: Vec<(String, String)>,
    /// The input bounds the endpoint expects.
    pub bounds: Bounds,
    /// At most this many requests per second (a token bucket of one second's burst); no
    /// limit when `None`.
    pub rate_limit: Option<f64>,
    /// Retries across the model's life may add at most this share of its requests (plus
    /// [`RETRY_BUDGET_FLOOR`]), so a failing endpoint is not hammered: a retry budget as in
    /// Envoy and Finagle.
    pub retry_budget: f64,
    /// PEM certificates trusted for `https` besides the system's root store (a private CA, a
    /// self-signed server).
    pub ca_file: Option<std::path::PathBuf>,
    /// Requests in flight at once when a batch is split (one connection each).
    pub max_concurrency: usize,
}

/// Retries always allowed, whatever the budget.
pub const RETRY_BUDGET_FLOOR: u64 = 10;

impl Default for OipOptions {
    fn default() -> Self {
        OipOptions {
            timeout: Duration::from_secs(30),
            retries: 2,
            max_batch: 256,
            max_response_bytes: 64 * 1024 * 1024,
            headers: Vec::new(),
            bounds: Bounds::UNIT,
            rate_limit: None,
            retry_budget: 0.2,
            ca_file: None,
            max_concurrency: 1,
        }
    }
}

/// How a connection is made.
#[derive(Clone)]
enum Scheme {
    Http,
    Https(tokio_rustls::TlsConnector, rustls::pki_types::ServerName<'static>),
}

/// An HTTP/1.1 client for one endpoint: one keep-alive connection on a private current-thread
/// runtime, TLS when the URL is `https`, retries within a budget, a rate limit, a response
/// cap. Header values never appear in its errors.
pub(crate) struct Client {
    /// `scheme://host:port`, for errors.
    base: String,
    /// `host:port`, for the connection and the Host header.
    authority: String,
    scheme: Scheme,
    options: OipOptions,
    runtime: tokio::runtime::Runtime,
    /// Idle keep-alive connections (one per request in flight at most).
    connection: Mutex<Vec<SendRequest<Full<Bytes>>>>,
    /// Requests and retries so far, for the retry budget.
    counts: Mutex<(u64, u64)>,
    /// When the next request may leave under the rate limit.
    next_slot: Mutex<Option<std::time::Instant>>,
}

/// A classifier behind an Open Inference Protocol endpoint.
pub struct OipModel {
    info: ModelInfo,
    client: Client,
    infer_path: String,
}

impl std::fmt::Debug for OipModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OipModel")
            .field("info", &self.info)
            .field("base", &self.client.base)
            .field("infer_path", &self.infer_path)
            .finish_non_exhaustive()
    }
}

/// An Open Inference Protocol inference request for `inputs` (one FP32 tensor named `input`
/// with the batch's shape, values in their shortest round-trip form), with an optional id.
///
/// # Examples
/// ```
/// use stressor_core::Batch;
/// let body = stressor_model::http::infer_request(&Batch::zeros(1, &[2]), Some("7"));
/// assert_eq!(
///     std::str::from_utf8(&body).unwrap(),
///     r#"{"id":"7","inputs":[{"name":"input","datatype":"FP32","shape":[1,2],"data":[0,0]}]}"#
/// );
/// ```
pub fn infer_request(inputs: &Batch, id: Option<&str>) -> Bytes {
    use std::fmt::Write as _;
    let mut body = String::with_capacity(inputs.as_slice().len() * 8 + 128);
    body.push('{');
    if let Some(id) = id {
        body.push_str(r#""id":"#);
        body.push_str(&Value::String(id.to_string()).to_string());
        body.push(',');
    }
    let shape: Vec<String> = inputs.shape().iter().map(ToString::to_string).collect();
    let _ = write!(
        body,
        r#""inputs":[{{"name":"input","datatype":"FP32","shape":[{}],"data":["#,
        shape.join(",")
    );
    for (i, v) in inputs.as_slice().iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        let _ = write!(body, "{v}");
    }
    body.push_str("]}]}");
    Bytes::from(body)
}

/// The most values per sample a remote model's metadata may declare (1 GiB of `f32`).
const MAX_REMOTE_SAMPLE: usize = 1 << 28;
/// The most classes a remote model's metadata may declare.
const MAX_REMOTE_CLASSES: usize = 1 << 24;

/// Polls every future to completion, concurrently on one task; outputs in order.
async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

fn remote(endpoint: &str, reason: impl Into<String>) -> ModelError {
    ModelError::Remote { endpoint: endpoint.to_string(), reason: reason.into() }
}

/// Splits `http(s)://host[:port][/path]` into the scheme's TLS need, `host:port`, the host and
/// the path (no trailing slash).
pub(crate) fn split_url(url: &str) -> Option<(bool, String, String, String)> {
    let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else {
        (false, url.strip_prefix("http://")?)
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return None;
    }
    let (host, authority) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
            port.parse::<u16>().ok()?;
            (host.trim_start_matches('[').trim_end_matches(']').to_string(), authority.to_string())
        }
        _ => (authority.to_string(), format!("{authority}:{}", if tls { 443 } else { 80 })),
    };
    Some((tls, authority, host, path.to_string()))
}

/// How one request with retries ended.
enum Exchange {
    /// A 2xx or client-error (except 429) answer: final, not retried.
    Answer(StatusCode, Bytes),
    /// No final answer: retries ran out or the budget was spent.
    Failed {
        /// The endpoint and the last failure, with the number of attempts.
        error: ModelError,
        /// The last answer received (a 5xx or 429), if any attempt got one.
        last_answer: Option<(StatusCode, Bytes)>,
    },
}

impl Client {
    /// A client for `url` (`http(s)://host[:port]`; a path is the caller's). Nothing is
    /// connected yet.
    pub(crate) fn new(url: &str, options: OipOptions) -> Result<(Client, String), ModelError> {
        let (tls, authority, host, path) = split_url(url).ok_or_else(|| {
            remote(url, "the URL must be http://host:port or https://host[:port]")
        })?;
        let scheme = if tls {
            let mut roots = rustls::RootCertStore::empty();
            // The system store may be missing (a bare container); a CA file can stand in.
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            if let Some(path) = &options.ca_file {
                use rustls::pki_types::pem::PemObject as _;
                let certs =
                    rustls::pki_types::CertificateDer::pem_file_iter(path).map_err(|e| {
                        remote(url, format!("cannot read CA file {}: {e}", path.display()))
                    })?;
                for cert in certs {
                    let cert =
                        cert.map_err(|e| remote(url, format!("CA file {}: {e}", path.display())))?;
                    roots.add(cert).map_err(|e| {
                        remote(
                            url,
                            format!("CA file {}: unusable certificate: {e}", path.display()),
                        )
                    })?;
                }
            }
            if roots.is_empty() {
                return Err(remote(
                    url,
                    "https needs trusted roots: none in the system store and no CA file",
                ));
            }
            let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| remote(url, format!("TLS setup failed: {e}")))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            let name = rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|_| remote(url, format!("`{host}` is not a valid TLS server name")))?;
            Scheme::Https(tokio_rustls::TlsConnector::from(std::sync::Arc::new(config)), name)
        } else {
            Scheme::Http
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| remote(url, format!("cannot start a runtime: {error}")))?;
        let base = format!("{}://{authority}", if tls { "https" } else { "http" });
        let client = Client {
            base,
            authority,
            scheme,
            options,
            runtime,
            connection: Mutex::new(Vec::new()),
            counts: Mutex::new((0, 0)),
            next_slot: Mutex::new(None),
        };
        Ok((client, path))
    }

    pub(crate) fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Waits for the rate limit's next slot.
    async fn pace(&self) {
        let Some(rate) = self.options.rate_limit.filter(|r| *r > 0.0) else {
            return;
        };
        let interval = Duration::from_secs_f64(1.0 / rate);
        let wait = {
            let mut next = self.next_slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = std::time::Instant::now();
            // A burst of up to one second's requests is allowed after idling.
            let earliest = now.checked_sub(Duration::from_secs(1)).unwrap_or(now);
            let slot = next.map_or(now, |t| t.max(earliest));
            *next = Some(slot + interval);
            slot.saturating_duration_since(now)
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Whether the retry budget allows one more retry (and counts it).
    fn may_retry(&self) -> bool {
        let mut counts = self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let allowed = RETRY_BUDGET_FLOOR + (counts.0 as f64 * self.options.retry_budget) as u64;
        if counts.1 < allowed {
            counts.1 += 1;
            true
        } else {
            false
        }
    }

    /// One request with retries: the 2xx body.
    pub(crate) fn request(
        &self,
        method: Method,
        path: &str,
        body: Bytes,
    ) -> Result<Bytes, ModelError> {
        self.runtime.block_on(self.request_async(method, path, body))
    }

    /// Several requests, at most `max_concurrency` in flight, answers in order.
    pub(crate) fn request_all(
        &self,
        method: &Method,
        path: &str,
        bodies: Vec<Bytes>,
    ) -> Result<Vec<Bytes>, ModelError> {
        let width = self.options.max_concurrency.max(1);
        let mut out = Vec::with_capacity(bodies.len());
        for wave in bodies.chunks(width) {
            let futures = wave
                .iter()
                .map(|body| self.request_async(method.clone(), path, body.clone()))
                .collect();
            for answer in self.runtime.block_on(join_all(futures)) {
                out.push(answer?);
            }
        }
        Ok(out)
    }

    async fn request_async(
        &self,
        method: Method,
        path: &str,
        body: Bytes,
    ) -> Result<Bytes, ModelError> {
        match self.exchange(method, path, body).await {
            Exchange::Answer(status, bytes) if status.is_success() => Ok(bytes),
            Exchange::Answer(status, bytes) => {
                let text = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
                Err(remote(&self.endpoint(path), format!("status {status}: {text}")))
            }
            Exchange::Failed { error, .. } => Err(error),
        }
    }

    /// One request with retries: a 2xx or client-error answer as soon as it comes, otherwise
    /// (connection errors, timeouts, 5xx, 429) retries within the budget and then the failure
    /// with the last answer received, if any.
    async fn exchange(&self, method: Method, path: &str, body: Bytes) -> Exchange {
        let endpoint = self.endpoint(path);
        self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner).0 += 1;
        let mut last;
        let mut last_answer = None;
        let mut attempts = 0;
        loop {
            attempts += 1;
            self.pace().await;
            let attempt = tokio::time::timeout(
                self.options.timeout,
                self.attempt(method.clone(), path, body.clone()),
            )
            .await;
            match attempt {
                Ok(Ok((status, bytes))) if status.is_success() => {
                    return Exchange::Answer(status, bytes);
                }
                // A client error will not get better by asking again.
                Ok(Ok((status, bytes)))
                    if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS =>
                {
                    return Exchange::Answer(status, bytes);
                }
                Ok(Ok((status, bytes))) => {
                    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
                    last = format!("status {status}: {text}");
                    last_answer = Some((status, bytes));
                }
                Ok(Err(error)) => last = error,
                Err(_) => last = format!("no answer within {:?}", self.options.timeout),
            }
            if attempts > self.options.retries {
                break;
            }
            if !self.may_retry() {
                last = format!("{last}; the retry budget is spent");
                break;
            }
        }
        Exchange::Failed {
            error: remote(&endpoint, format!("{last} (after {attempts} attempts)")),
            last_answer,
        }
    }

    /// Opens one connection within the timeout and keeps it for the next request: a check
    /// that the endpoint is reachable, sending nothing.
    pub(crate) fn probe(&self) -> Result<(), ModelError> {
        self.runtime.block_on(async {
            let sender = tokio::time::timeout(self.options.timeout, self.connect())
                .await
                .map_err(|_| format!("no connection within {:?}", self.options.timeout))
                .and_then(|connected| connected)
                .map_err(|reason| remote(&self.base, reason))?;
            self.lock().push(sender);
            Ok(())
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<SendRequest<Full<Bytes>>>> {
        self.connection.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let stream = tokio::net::TcpStream::connect(&self.authority)
            .await
            .map_err(|error| format!("cannot connect: {error}"))?;
        let _ = stream.set_nodelay(true);
        let sender = match &self.scheme {
            Scheme::Http => {
                let (sender, connection) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .map_err(|error| format!("HTTP handshake failed: {error}"))?;
                tokio::spawn(connection);
                sender
            }
            Scheme::Https(connector, name) => {
                let tls = connector
                    .connect(name.clone(), stream)
                    .await
                    .map_err(|error| format!("TLS handshake failed: {error}"))?;
                let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                    .await
                    .map_err(|error| format!("HTTP handshake failed: {error}"))?;
                tokio::spawn(connection);
                sender
            }
        };
        Ok(sender)
    }

    async fn attempt(
        &self,
        method: Method,
        path: &str,
        body: Bytes,
    ) -> Result<(StatusCode, Bytes), String> {
        let cached = {
            let mut idle = self.lock();
            idle.retain(|sender| !sender.is_closed());
            idle.pop()
        };
        let mut sender = match cached {
            Some(sender) => sender,
            None => self.connect().await?,
        };
        sender.ready().await.map_err(|error| format!("the connection closed: {error}"))?;
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, self.authority.as_str())
            .header(hyper::header::CONTENT_TYPE, "application/json");
        for (name, value) in &self.options.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request.body(Full::new(body)).map_err(|_| {
            "an extra header is not valid HTTP (its value is not shown)".to_string()
        })?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| format!("the request failed: {error}"))?;
        let status = response.status();
        let bytes = Limited::new(response.into_body(), self.options.max_response_bytes)
            .collect()
            .await
            .map_err(|error| {
                format!(
                    "cannot read the response (limit {} bytes): {error}",
                    self.options.max_response_bytes
                )
            })?
            .to_bytes();
        // Back to the pool only after a whole answer; a failed attempt drops its connection.
        self.lock().push(sender);
        Ok((status, bytes))
    }
}

impl OipModel {
    /// Connects to `base_url` (`http://host:port` or `https://host[:port]`) and reads model
    /// `name`'s metadata (`GET /v2/models/{name}`): the input shape (batch dimension dropped)
    /// and, from the first FP32 output `[-1, k]`, the class count.
    ///
    /// # Errors
    /// [`ModelError::Remote`] when the URL is not usable, the endpoint does not answer, or the
    /// metadata lacks a usable input or output shape.
    pub fn connect(
        base_url: &str,
        name: &str,
        options: OipOptions,
    ) -> Result<OipModel, ModelError> {
        let bounds = options.bounds;
        let (client, prefix) = Client::new(base_url.trim_end_matches('/'), options)?;
        let metadata_path = format!("{prefix}/v2/models/{name}");
        let endpoint = client.endpoint(&metadata_path);
        let mut model = OipModel {
            info: ModelInfo::new(name, "oip", Vec::new(), 0, bounds),
            infer_path: format!("{metadata_path}/infer"),
            client,
        };
        let metadata = model.client.request(Method::GET, &metadata_path, Bytes::new())?;
        let metadata: Value = serde_json::from_slice(&metadata)
            .map_err(|error| remote(&endpoint, format!("the metadata is not JSON: {error}")))?;
        let shape = |value: &Value| -> Option<Vec<i64>> {
            value.get("shape")?.as_array()?.iter().map(Value::as_i64).collect()
        };
        let input = metadata
            .get("inputs")
            .and_then(|i| i.get(0))
            .and_then(shape)
            .ok_or_else(|| remote(&endpoint, "the metadata has no `inputs[0].shape`"))?;
        let input_shape: Vec<usize> = match input.split_first() {
            Some((_, rest)) if !rest.is_empty() && rest.iter().all(|&d| d > 0) => {
                rest.iter().map(|&d| d as usize).collect()
            }
            _ => {
                return Err(remote(
                    &endpoint,
                    format!("`inputs[0].shape` {input:?} is not [-1, ...sample shape]"),
                ));
            }
        };
        // The server's word is outside input: a sample of more than 2^28 values (1 GiB of f32)
        // or a size that overflows is refused here, not left to overflow a batch later.
        if input_shape
            .iter()
            .try_fold(1usize, |size, &d| size.checked_mul(d))
            .is_none_or(|size| size > MAX_REMOTE_SAMPLE)
        {
            return Err(remote(
                &endpoint,
                format!(
                    "`inputs[0].shape` {input:?} is implausible: more than 2^28 values per sample"
                ),
            ));
        }
        let n_classes = metadata
            .get("outputs")
            .and_then(|o| o.as_array())
            .and_then(|outputs| {
                outputs.iter().find_map(|o| {
                    let s = shape(o)?;
                    (o.get("datatype")?.as_str()? != "INT64" && s.len() == 2 && s[1] > 1)
                        .then_some(s[1] as usize)
                })
            })
            .ok_or_else(|| {
                remote(&endpoint, "the metadata has no FP32 output of shape [-1, classes]")
            })?;
        if n_classes > MAX_REMOTE_CLASSES {
            return Err(remote(
                &endpoint,
                format!("the score output's {n_classes} classes are implausible (more than 2^24)"),
            ));
        }
        model.info = ModelInfo::new(name, "oip", input_shape, n_classes, bounds);
        Ok(model)
    }

    /// The scores in a response for `n` samples: the first non-INT64 output of shape `[n, k]`.
    fn parse_scores(&self, bytes: &[u8], n: usize) -> Result<Scores, ModelError> {
        let endpoint = self.client.endpoint(&self.infer_path);
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|error| remote(&endpoint, format!("the response is not JSON: {error}")))?;
        let outputs = value
            .get("outputs")
            .and_then(|o| o.as_array())
            .ok_or_else(|| remote(&endpoint, "the response has no `outputs`"))?;
        let output = outputs
            .iter()
            .find(|o| o.get("datatype").and_then(|d| d.as_str()) != Some("INT64"))
            .ok_or_else(|| remote(&endpoint, "the response has no score output"))?;
        let k = self.info.n_classes;
        let data = output
            .get("data")
            .and_then(|d| d.as_array())
            .ok_or_else(|| remote(&endpoint, "the score output has no `data` array"))?;
        if data.len() != n * k {
            return Err(remote(
                &endpoint,
                format!("the score output has {} values, expected {n} × {k}", data.len()),
            ));
        }
        let values: Vec<f32> = data
            .iter()
            .map(|v| v.as_f64().map(|v| v as f32).filter(|v| v.is_finite()))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                remote(&endpoint, "the score output holds a value that is not a finite number")
            })?;
        let kind = match output.get("name").and_then(|n| n.as_str()) {
            Some("probabilities" | "probs" | "predict_proba") => ScoreKind::Probabilities,
            _ => ScoreKind::Logits,
        };
        Ok(Scores::new(values, k, kind))
    }
}

impl Model for OipModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn predict(&self, inputs: &Batch) -> Result<Scores, ModelError> {
        self.info.check_input(inputs)?;
        let mut values = Vec::with_capacity(inputs.len() * self.info.n_classes);
        let mut kind = ScoreKind::Logits;
        let step = self.client.options.max_batch.max(1);
        let starts: Vec<usize> = (0..inputs.len()).step_by(step).collect();
        let bodies = starts
            .iter()
            .map(|&start| {
                infer_request(&inputs.slice(start, (start + step).min(inputs.len())), None)
            })
            .collect();
        let answers = self.client.request_all(&Method::POST, &self.infer_path, bodies)?;
        for (&start, bytes) in starts.iter().zip(&answers) {
            let scores = self.parse_scores(bytes, (start + step).min(inputs.len()) - start)?;
            kind = scores.kind();
            values.extend_from_slice(scores.as_slice());
        }
        Ok(Scores::new(values, self.info.n_classes, kind))
    }
}

/// What a JSON endpoint's output holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonScores {
    /// Unnormalised scores per class.
    Logits,
    /// Probabilities per class.
    Probabilities,
    /// Only the predicted class index per sample (a decision-only API); turned into one-hot
    /// probabilities, so only decision-based attacks and label metrics are meaningful.
    Labels,
}

/// A model behind any JSON API: a request template with placeholders and a JSON pointer to the
/// output.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct JsonOptions {
    /// Transport: timeout, retries, budget, rate limit, headers, TLS, batch size.
    pub http: OipOptions,
    /// The request body. String values that are exactly `"{{inputs}}"` become the batch as
    /// nested arrays `[n][...sample shape]`, `"{{input}}"` the single sample (batches are then
    /// sent one sample per request), `"{{shape}}"` the batch's shape `[n, ...]` and `"{{n}}"`
    /// the batch size.
    pub template: Value,
    /// RFC 6901 pointer to the output: `n` rows of `k` numbers, `n·k` numbers, or (with
    /// [`JsonScores::Labels`]) `n` class indices; for one-sample requests a single row or label.
    pub output: String,
    /// What the output holds.
    pub scores: JsonScores,
    /// The shape of one sample.
    pub input_shape: Vec<usize>,
    /// The number of classes.
    pub n_classes: usize,
}

impl JsonOptions {
    /// Options for a JSON endpoint.
    pub fn new(
        http: OipOptions,
        template: Value,
        output: String,
        scores: JsonScores,
        input_shape: Vec<usize>,
        n_classes: usize,
    ) -> JsonOptions {
        JsonOptions { http, template, output, scores, input_shape, n_classes }
    }
}

/// A classifier behind a JSON API described by a [`JsonOptions`] template.
pub struct JsonModel {
    info: ModelInfo,
    client: Client,
    path: String,
    options: JsonOptions,
    one_sample: bool,
}

impl std::fmt::Debug for JsonModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonModel")
            .field("info", &self.info)
            .field("endpoint", &self.client.endpoint(&self.path))
            .finish_non_exhaustive()
    }
}

fn mentions(value: &Value, placeholder: &str) -> bool {
    match value {
        Value::String(s) => s == placeholder,
        Value::Array(items) => items.iter().any(|v| mentions(v, placeholder)),
        Value::Object(map) => map.values().any(|v| mentions(v, placeholder)),
        _ => false,
    }
}

fn nested(values: &[f32], shape: &[usize]) -> Value {
    match shape.split_first() {
        None => values.first().map_or(Value::Null, |v| serde_json::json!(v)),
        Some((_, [])) => Value::Array(values.iter().map(|v| serde_json::json!(v)).collect()),
        Some((&n, rest)) => {
            let size: usize = rest.iter().product();
            Value::Array((0..n).map(|i| nested(&values[i * size..(i + 1) * size], rest)).collect())
        }
    }
}

fn fill(template: &Value, batch: &Batch) -> Value {
    match template {
        Value::String(s) if s == "{{inputs}}" => nested(batch.as_slice(), batch.shape()),
        Value::String(s) if s == "{{input}}" => nested(batch.as_slice(), batch.sample_shape()),
        Value::String(s) if s == "{{shape}}" => serde_json::json!(batch.shape()),
        Value::String(s) if s == "{{n}}" => serde_json::json!(batch.len()),
        Value::Array(items) => Value::Array(items.iter().map(|v| fill(v, batch)).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), fill(v, batch))).collect())
        }
        other => other.clone(),
    }
}

impl JsonModel {
    /// A model posting filled templates to `url` (`http(s)://host[:port]/path`). Nothing is
    /// sent until the first prediction.
    ///
    /// # Errors
    /// [`ModelError::Remote`] for an unusable URL, a template without an input placeholder, or
    /// a pointer that is not one.
    pub fn new(url: &str, name: &str, options: JsonOptions) -> Result<JsonModel, ModelError> {
        let (client, path) = Client::new(url, options.http.clone())?;
        let path = if path.is_empty() { "/".to_string() } else { path };
        let batched = mentions(&options.template, "{{inputs}}");
        let one_sample = mentions(&options.template, "{{input}}");
        if !batched && !one_sample {
            return Err(remote(
                url,
                "the request template has no \"{{inputs}}\" or \"{{input}}\" placeholder",
            ));
        }
        if !(options.output.is_empty() || options.output.starts_with('/')) {
            return Err(remote(
                url,
                format!("`{}` is not a JSON pointer such as /predictions", options.output),
            ));
        }
        if options.input_shape.is_empty() || options.n_classes < 2 {
            return Err(remote(url, "a JSON target needs an input shape and at least 2 classes"));
        }
        let info = ModelInfo::new(
            name,
            "json",
            options.input_shape.clone(),
            options.n_classes,
            options.http.bounds,
        );
        Ok(JsonModel { info, client, path, options, one_sample: one_sample && !batched })
    }

    fn scores(&self, bytes: &[u8], n: usize) -> Result<Vec<f32>, ModelError> {
        let endpoint = self.client.endpoint(&self.path);
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|error| remote(&endpoint, format!("the response is not JSON: {error}")))?;
        let output = value.pointer(&self.options.output).ok_or_else(|| {
            remote(&endpoint, format!("the response has nothing at `{}`", self.options.output))
        })?;
        let k = self.options.n_classes;
        let number = |v: &Value| v.as_f64().filter(|v| v.is_finite()).map(|v| v as f32);
        let bad = |what: &str| remote(&endpoint, format!("`{}` {what}", self.options.output));
        if self.options.scores == JsonScores::Labels {
            let labels: Vec<&Value> = match output {
                Value::Array(items) => items.iter().collect(),
                single if n == 1 => vec![single],
                _ => return Err(bad("is not an array of class indices")),
            };
            if labels.len() != n {
                return Err(bad(&format!("holds {} labels for {n} samples", labels.len())));
            }
            let mut out = vec![0.0; n * k];
            for (i, label) in labels.iter().enumerate() {
                let class = label
                    .as_u64()
                    .filter(|&c| (c as usize) < k)
                    .ok_or_else(|| bad(&format!("holds `{label}`, not a class index below {k}")))?;
                out[i * k + class as usize] = 1.0;
            }
            return Ok(out);
        }
        let rows: Vec<f32> = match output {
            Value::Array(items) if items.iter().all(Value::is_array) => items
                .iter()
                .flat_map(|row| row.as_array().into_iter().flatten())
                .map(number)
                .collect::<Option<_>>()
                .ok_or_else(|| bad("holds a value that is not a finite number"))?,
            Value::Array(items) => items
                .iter()
                .map(number)
                .collect::<Option<_>>()
                .ok_or_else(|| bad("holds a value that is not a finite number"))?,
            _ => return Err(bad("is not an array of scores")),
        };
        if rows.len() != n * k {
            return Err(bad(&format!("holds {} values, expected {n} × {k}", rows.len())));
        }
        Ok(rows)
    }
}

impl Model for JsonModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn predict(&self, inputs: &Batch) -> Result<Scores, ModelError> {
        self.info.check_input(inputs)?;
        let mut values = Vec::with_capacity(inputs.len() * self.info.n_classes);
        let step = if self.one_sample { 1 } else { self.options.http.max_batch.max(1) };
        let starts: Vec<usize> = (0..inputs.len()).step_by(step).collect();
        let bodies = starts
            .iter()
            .map(|&start| {
                let chunk = inputs.slice(start, (start + step).min(inputs.len()));
                Bytes::from(fill(&self.options.template, &chunk).to_string())
            })
            .collect();
        let answers = self.client.request_all(&Method::POST, &self.path, bodies)?;
        for (&start, bytes) in starts.iter().zip(&answers) {
            values.extend(self.scores(bytes, (start + step).min(inputs.len()) - start)?);
        }
        let kind = match self.options.scores {
            JsonScores::Logits => ScoreKind::Logits,
            JsonScores::Probabilities | JsonScores::Labels => ScoreKind::Probabilities,
        };
        Ok(Scores::new(values, self.info.n_classes, kind))
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_scheme_authority_host_and_path() {
        assert_eq!(
            split_url("http://127.0.0.1:8080"),
            Some((false, "127.0.0.1:8080".into(), "127.0.0.1".into(), String::new()))
        );
        assert_eq!(
            split_url("https://models.example/v1/predict/"),
            Some((
                true,
                "models.example:443".into(),
                "models.example".into(),
                "/v1/predict".into()
            ))
        );
        assert_eq!(
            split_url("http://[::1]:9000/x"),
            Some((false, "[::1]:9000".into(), "::1".into(), "/x".into()))
        );
        assert_eq!(split_url("ftp://x"), None);
        assert_eq!(split_url("http://host:notaport"), None);
    }

    /// A one-thread HTTP server answering every request with `status` and `body`, closing each
    /// connection; the request lines it saw, with their bodies, come back on the channel.
    fn canned_server(
        status: &'static str,
        body: &'static str,
    ) -> (String, std::sync::mpsc::Receiver<(String, String)>) {
        use std::io::{BufRead as _, Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (seen, requests) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let mut reader = std::io::BufReader::new(stream);
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let mut length = 0;
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).unwrap();
                    if header.trim().is_empty() {
                        break;
                    }
                    if let Some((name, value)) = header.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap();
                    }
                }
                let mut request_body = vec![0; length];
                reader.read_exact(&mut request_body).unwrap();
                let _ =
                    seen.send((line.trim().to_string(), String::from_utf8(request_body).unwrap()));
                let mut stream = reader.into_inner();
                let answer = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                stream.write_all(answer.as_bytes()).unwrap();
            }
        });
        (url, requests)
    }

    #[test]
    fn call_returns_any_status_with_its_body_and_sends_method_path_and_body() {
        let error = r#"{"error_code": "RESOURCE_DOES_NOT_EXIST"}"#;
        let (url, requests) = canned_server("404 Not Found", error);
        let endpoint = JsonEndpoint::new(&url, OipOptions::default()).unwrap();
        let (status, body) = endpoint.call("GET", "/api/x/get?name=a%20b", Bytes::new()).unwrap();
        assert_eq!((status, &body[..]), (404, error.as_bytes()));
        assert_eq!(
            requests.recv().unwrap(),
            ("GET /api/x/get?name=a%20b HTTP/1.1".into(), "".into())
        );
        let (status, _) = endpoint.call("DELETE", "/api/x", Bytes::from_static(b"{}")).unwrap();
        assert_eq!(status, 404);
        assert_eq!(requests.recv().unwrap(), ("DELETE /api/x HTTP/1.1".into(), "{}".into()));
        // `post` keeps treating a 4xx as an error.
        assert!(endpoint.post(Bytes::new()).is_err());
        assert!(endpoint.call("GET", "no-slash", Bytes::new()).is_err());
        assert!(endpoint.call("BAD METHOD", "/", Bytes::new()).is_err());
    }

    /// A server's metadata is outside input: shapes whose sizes overflow, or that no batch could
    /// hold, are refused at connect instead of overflowing later.
    #[test]
    fn metadata_with_implausible_shapes_is_refused_at_connect() {
        let huge_input = r#"{"inputs":[{"shape":[-1,4611686018427387904,8]}],"outputs":[{"datatype":"FP32","shape":[-1,3]}]}"#;
        let huge_classes = r#"{"inputs":[{"shape":[-1,4]}],"outputs":[{"datatype":"FP32","shape":[-1,4611686018427387904]}]}"#;
        for metadata in [huge_input, huge_classes] {
            let (url, _requests) = canned_server("200 OK", metadata);
            match OipModel::connect(&url, "m", OipOptions::default()) {
                Err(ModelError::Remote { reason, .. }) => {
                    assert!(reason.contains("implausible"), "{reason}");
                }
                other => panic!("{metadata}: {other:?}"),
            }
        }
    }

    #[test]
    fn call_returns_the_last_5xx_after_retries_and_an_error_when_nothing_answers() {
        let (url, _requests) = canned_server("503 Service Unavailable", "busy");
        let options = OipOptions { retries: 1, ..OipOptions::default() };
        let endpoint = JsonEndpoint::new(&url, options.clone()).unwrap();
        let (status, body) = endpoint.call("POST", "/x", Bytes::new()).unwrap();
        assert_eq!((status, &body[..]), (503, &b"busy"[..]));
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let endpoint = JsonEndpoint::new(&url, options).unwrap();
        assert!(matches!(endpoint.call("GET", "/x", Bytes::new()), Err(ModelError::Remote { .. })));
    }

    #[test]
    fn templates_fill_batches_samples_and_shapes() {
        let batch = Batch::new(vec![1.0, 2.0, 3.0, 4.0], vec![2, 2]).unwrap();
        let template = serde_json::json!({"instances": "{{inputs}}", "shape": "{{shape}}", "n": "{{n}}", "keep": "x"});
        assert_eq!(
            fill(&template, &batch),
            serde_json::json!({"instances": [[1.0, 2.0], [3.0, 4.0]], "shape": [2, 2], "n": 2, "keep": "x"})
        );
        let one = batch.slice(1, 2);
        assert_eq!(
            fill(&serde_json::json!({"x": "{{input}}"}), &one),
            serde_json::json!({"x": [3.0, 4.0]})
        );
        assert!(mentions(&template, "{{inputs}}") && !mentions(&template, "{{input}}"));
    }
}

/// One message of a chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

impl ChatMessage {
    /// A `user` message.
    pub fn user(content: impl Into<String>) -> ChatMessage {
        ChatMessage { role: "user".into(), content: content.into() }
    }

    /// A `system` message.
    pub fn system(content: impl Into<String>) -> ChatMessage {
        ChatMessage { role: "system".into(), content: content.into() }
    }
}

/// Sampling settings of a chat request; unset fields are left to the server.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct ChatOptions {
    /// Transport: timeout, retries, budget, rate limit, headers (e.g. the API key), TLS.
    pub http: OipOptions,
    /// Sampling temperature (0 for the most deterministic answers).
    pub temperature: Option<f64>,
    /// The most tokens in the answer.
    pub max_tokens: Option<u32>,
    /// A sampling seed, for servers that honour it.
    pub seed: Option<u64>,
}

/// A chat model's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatReply {
    /// The first choice's text.
    pub content: String,
    /// Why it stopped (`stop`, `length`, …), if the server says.
    pub finish_reason: Option<String>,
    /// Tokens in the prompt, if reported.
    pub prompt_tokens: Option<u64>,
    /// Tokens in the answer, if reported.
    pub completion_tokens: Option<u64>,
}

/// The OpenAI-compatible chat-completions request body for `model` and `messages`.
///
/// # Examples
/// ```
/// use stressor_model::http::{ChatMessage, ChatOptions, chat_request};
/// let body = chat_request("m", &[ChatMessage::user("hi")], &ChatOptions::default());
/// assert_eq!(std::str::from_utf8(&body).unwrap(), r#"{"messages":[{"content":"hi","role":"user"}],"model":"m"}"#);
/// ```
pub fn chat_request(model: &str, messages: &[ChatMessage], options: &ChatOptions) -> Bytes {
    let mut body = serde_json::json!({
        "model": model,
        "messages": messages
            .iter()
            .map(|m| serde_json::json!({"role": m.role, "content": m.content}))
            .collect::<Vec<_>>(),
    });
    if let Some(t) = options.temperature {
        body["temperature"] = serde_json::json!(t);
    }
    if let Some(n) = options.max_tokens {
        body["max_tokens"] = serde_json::json!(n);
    }
    if let Some(seed) = options.seed {
        body["seed"] = serde_json::json!(seed);
    }
    Bytes::from(body.to_string())
}

/// Reads an OpenAI-compatible chat-completions response: the first choice's message.
///
/// # Errors
/// A message naming what is missing when the body is not such a response.
pub fn parse_chat_reply(body: &[u8]) -> Result<ChatReply, String> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| format!("the response is not JSON: {error}"))?;
    let choice =
        value.get("choices").and_then(|c| c.get(0)).ok_or("the response has no `choices[0]`")?;
    let content = choice
        .pointer("/message/content")
        .and_then(Value::as_str)
        .ok_or("`choices[0].message.content` is missing or not a string")?
        .to_string();
    let usage = |key: &str| value.get("usage").and_then(|u| u.get(key)).and_then(Value::as_u64);
    Ok(ChatReply {
        content,
        finish_reason: choice.get("finish_reason").and_then(Value::as_str).map(str::to_string),
        prompt_tokens: usage("prompt_tokens"),
        completion_tokens: usage("completion_tokens"),
    })
}

/// A chat model behind an OpenAI-compatible `POST {base}/chat/completions` endpoint (OpenAI,
/// vLLM, llama.cpp's server, Ollama, LiteLLM, …), for chatbot scenarios.
pub struct ChatModel {
    client: Client,
    path: String,
    model: String,
    options: ChatOptions,
}

impl std::fmt::Debug for ChatModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatModel")
            .field("endpoint", &self.client.endpoint(&self.path))
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl ChatModel {
    /// A client for `base_url` (e.g. `http://127.0.0.1:8000/v1`) and `model`. Nothing is sent
    /// until the first chat.
    ///
    /// # Errors
    /// [`ModelError::Remote`] for an unusable URL or TLS setup.
    pub fn new(base_url: &str, model: &str, options: ChatOptions) -> Result<ChatModel, ModelError> {
        let (client, prefix) = Client::new(base_url.trim_end_matches('/'), options.http.clone())?;
        Ok(ChatModel {
            client,
            path: format!("{prefix}/chat/completions"),
            model: model.to_string(),
            options,
        })
    }

    /// Sends `messages` and returns the first choice.
    ///
    /// # Errors
    /// [`ModelError::Remote`] when the endpoint fails (after retries within the budget) or the
    /// answer is not a chat completion.
    pub fn chat(&self, messages: &[ChatMessage]) -> Result<ChatReply, ModelError> {
        let bytes = self.chat_body(messages)?;
        parse_chat_reply(&bytes).map_err(|reason| remote(&self.client.endpoint(&self.path), reason))
    }

    /// Sends `messages` and returns the 2xx response body unread, for callers that read more
    /// of it than [`ChatReply`] holds (with [`parse_chat_reply`] for the message).
    ///
    /// # Errors
    /// [`ModelError::Remote`] when the endpoint fails (after retries within the budget).
    pub fn chat_body(&self, messages: &[ChatMessage]) -> Result<Bytes, ModelError> {
        let body = chat_request(&self.model, messages, &self.options);
        self.client.request(Method::POST, &self.path, body)
    }

    /// Opens a connection to the endpoint (kept for the first chat), sending nothing.
    ///
    /// # Errors
    /// [`ModelError::Remote`] when no connection opens within the timeout.
    pub fn probe(&self) -> Result<(), ModelError> {
        self.client.probe()
    }

    /// The chat-completions URL.
    pub fn endpoint(&self) -> String {
        self.client.endpoint(&self.path)
    }
}

/// A JSON endpoint taking `POST`s of any body at one URL (a user's classifier service): the
/// transport of [`ChatModel`] and [`OipModel`] (keep-alive, timeout, retries within a budget,
/// TLS, headers, a response cap) without a protocol on top.
pub struct JsonEndpoint {
    client: Client,
    path: String,
}

impl std::fmt::Debug for JsonEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonEndpoint").field("url", &self.endpoint()).finish_non_exhaustive()
    }
}

impl JsonEndpoint {
    /// A client for `url` (`http://host:port/path` or `https://…`), the full URL posted to.
    /// Nothing is sent yet.
    ///
    /// # Errors
    /// [`ModelError::Remote`] for an unusable URL or TLS setup.
    pub fn new(url: &str, options: OipOptions) -> Result<JsonEndpoint, ModelError> {
        let (client, path) = Client::new(url, options)?;
        let path = if path.is_empty() { "/".to_string() } else { path };
        Ok(JsonEndpoint { client, path })
    }

    /// Posts `body` (sent as `application/json`) and returns the 2xx response body.
    ///
    /// # Errors
    /// [`ModelError::Remote`] for a refused connection, a timeout or a non-2xx status (after
    /// retries within the budget).
    pub fn post(&self, body: Bytes) -> Result<Bytes, ModelError> {
        self.client.request(Method::POST, &self.path, body)
    }

    /// Sends any request to the endpoint's host — `method` (`GET`, `POST`, `DELETE`, …),
    /// `path_and_query` (`/api/2.0/…?name=x`, appended to the URL's path) and `body` (sent as
    /// `application/json`, empty for none) — and returns the answer's status and body whatever
    /// the status, so a caller can read the error a 4xx carries. Connection errors, timeouts,
    /// 5xx and 429 are retried within the budget as for [`JsonEndpoint::post`]; when retries
    /// run out after an answer, the last answer is returned.
    ///
    /// # Errors
    /// [`ModelError::Remote`] for an invalid method or path, or when no answer came (refused
    /// connection, timeout, unreadable response) after retries within the budget.
    pub fn call(
        &self,
        method: &str,
        path_and_query: &str,
        body: Bytes,
    ) -> Result<(u16, Bytes), ModelError> {
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|_| remote(&self.endpoint(), format!("`{method}` is not an HTTP method")))?;
        if !path_and_query.starts_with('/') {
            return Err(remote(&self.endpoint(), "a request path must start with `/`"));
        }
        let prefix = self.path.trim_end_matches('/');
        let path = format!("{prefix}{path_and_query}");
        if path.parse::<hyper::Uri>().is_err() {
            return Err(remote(&self.endpoint(), format!("`{path}` is not a valid request path")));
        }
        match self.client.runtime.block_on(self.client.exchange(method, &path, body)) {
            Exchange::Answer(status, bytes)
            | Exchange::Failed { last_answer: Some((status, bytes)), .. } => {
                Ok((status.as_u16(), bytes))
            }
            Exchange::Failed { error, .. } => Err(error),
        }
    }

    /// Opens a connection to the endpoint (kept for the first post), sending nothing.
    ///
    /// # Errors
    /// [`ModelError::Remote`] when no connection opens within the timeout.
    pub fn probe(&self) -> Result<(), ModelError> {
        self.client.probe()
    }

    /// The URL posted to.
    pub fn endpoint(&self) -> String {
        self.client.endpoint(&self.path)
    }
}
