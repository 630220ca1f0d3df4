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
}

impl Default for OipOptions {
    fn default() -> Self {
        OipOptions {
            timeout: Duration::from_secs(30),
            retries: 2,
            max_batch: 256,
            max_response_bytes: 64 * 1024 * 1024,
            headers: Vec::new(),
            bounds: Bounds::UNIT,
        }
    }
}

/// A classifier behind an Open Inference Protocol endpoint.
pub struct OipModel {
    info: ModelInfo,
    /// `host:port` for the Host header and the connection.
    authority: String,
    infer_path: String,
    options: OipOptions,
    runtime: tokio::runtime::Runtime,
    connection: Mutex<Option<SendRequest<Full<Bytes>>>>,
}

impl std::fmt::Debug for OipModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OipModel")
            .field("info", &self.info)
            .field("authority", &self.authority)
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

fn remote(endpoint: &str, reason: impl Into<String>) -> ModelError {
    ModelError::Remote { endpoint: endpoint.to_string(), reason: reason.into() }
}

impl OipModel {
    /// Connects to `base_url` (`http://host:port`) and reads model `name`'s metadata
    /// (`GET /v2/models/{name}`): the input shape (batch dimension dropped) and, from the
    /// first FP32 output `[-1, k]`, the class count.
    ///
    /// # Errors
    /// [`ModelError::Remote`] when the URL is not `http://host:port`, the endpoint does not
    /// answer, or the metadata lacks a usable input or output shape.
    pub fn connect(
        base_url: &str,
        name: &str,
        options: OipOptions,
    ) -> Result<OipModel, ModelError> {
        let endpoint = format!("{}/v2/models/{name}", base_url.trim_end_matches('/'));
        let authority = base_url
            .strip_prefix("http://")
            .map(|rest| rest.trim_end_matches('/'))
            .filter(|a| !a.is_empty() && !a.contains('/'))
            .ok_or_else(|| {
                remote(&endpoint, "the URL must be http://host:port (https is not supported yet)")
            })?
            .to_string();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| remote(&endpoint, format!("cannot start a runtime: {error}")))?;
        let mut model = OipModel {
            info: ModelInfo::new(name, "oip", Vec::new(), 0, options.bounds),
            authority,
            infer_path: format!("/v2/models/{name}/infer"),
            options,
            runtime,
            connection: Mutex::new(None),
        };
        let metadata = model.request(Method::GET, &format!("/v2/models/{name}"), Bytes::new())?;
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
        model.info = ModelInfo::new(name, "oip", input_shape, n_classes, model.options.bounds);
        Ok(model)
    }

    fn endpoint(&self, path: &str) -> String {
        format!("http://{}{path}", self.authority)
    }

    /// One request with retries: the 2xx body.
    fn request(&self, method: Method, path: &str, body: Bytes) -> Result<Bytes, ModelError> {
        let endpoint = self.endpoint(path);
        let mut last = String::new();
        for _ in 0..=self.options.retries {
            // The timer must be made inside the runtime.
            let attempt = self.runtime.block_on(async {
                tokio::time::timeout(
                    self.options.timeout,
                    self.attempt(method.clone(), path, body.clone()),
                )
                .await
            });
            match attempt {
                Ok(Ok((status, bytes))) if status.is_success() => return Ok(bytes),
                Ok(Ok((status, bytes))) => {
                    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
                    let error = format!("status {status}: {text}");
                    // A client error will not get better by asking again.
                    if status.is_client_error() {
                        return Err(remote(&endpoint, error));
                    }
                    last = error;
                }
                Ok(Err(error)) => last = error,
                Err(_) => last = format!("no answer within {:?}", self.options.timeout),
            }
            *self.lock() = None;
        }
        Err(remote(&endpoint, format!("{last} (after {} attempts)", self.options.retries + 1)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<SendRequest<Full<Bytes>>>> {
        self.connection.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn attempt(
        &self,
        method: Method,
        path: &str,
        body: Bytes,
    ) -> Result<(StatusCode, Bytes), String> {
        let cached = self.lock().take();
        let mut sender = match cached {
            Some(sender) if !sender.is_closed() => sender,
            _ => {
                let stream = tokio::net::TcpStream::connect(&self.authority)
                    .await
                    .map_err(|error| format!("cannot connect: {error}"))?;
                let _ = stream.set_nodelay(true);
                let (sender, connection) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .map_err(|error| format!("HTTP handshake failed: {error}"))?;
                tokio::spawn(connection);
                sender
            }
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
        let request = request
            .body(Full::new(body))
            .map_err(|_| "an extra header is not valid HTTP".to_string())?;
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
        *self.lock() = Some(sender);
        Ok((status, bytes))
    }

    /// The scores in a response for `n` samples: the first non-INT64 output of shape `[n, k]`.
    fn parse_scores(&self, bytes: &[u8], n: usize) -> Result<Scores, ModelError> {
        let endpoint = self.endpoint(&self.infer_path);
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
        let step = self.options.max_batch.max(1);
        for start in (0..inputs.len()).step_by(step) {
            let end = (start + step).min(inputs.len());
            let chunk = inputs.slice(start, end);
            let bytes =
                self.request(Method::POST, &self.infer_path, infer_request(&chunk, None))?;
            let scores = self.parse_scores(&bytes, end - start)?;
            kind = scores.kind();
            values.extend_from_slice(scores.as_slice());
        }
        Ok(Scores::new(values, self.info.n_classes, kind))
    }
}
