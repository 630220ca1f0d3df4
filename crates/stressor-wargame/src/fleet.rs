//! The bank's fleet, served for real: the credit and fraud models each behind two
//! `stressor serve` Open Inference Protocol servers (the `champion` slot and the `challenger`
//! slot, whose models are swapped in place when an alias moves), and the chatbot behind
//! stressor-serve's chat server; every call goes over HTTP on loopback.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use stressor_core::{Batch, Bounds};
use stressor_intent::IntentModel;
use stressor_model::http::{OipModel, OipOptions};
use stressor_model::{Model, ModelError, ModelInfo, ScoreKind, Scores};
use stressor_serve::chat::{ChatServeConfig, ChatServer};
use stressor_serve::{ClientLimit, ServeConfig, Server};
use stressor_tabular::{Column, Pipeline, Table};
use tokio::runtime::Runtime;

use crate::plan::ChatPlan;

/// How a table's feature columns travel as an OIP tensor: numbers as they are, categories as
/// their index in a fixed list (`-1`: unknown or missing).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Codec {
    columns: Vec<(String, Option<Vec<String>>)>,
}

impl Codec {
    /// The codec of `features`, categories read from `table`.
    pub(crate) fn new(table: &Table, features: &[String]) -> Result<Codec, String> {
        let columns = features
            .iter()
            .map(|name| match table.column(name) {
                Some(Column::Numeric(_)) => Ok((name.clone(), None)),
                Some(Column::Categorical(values)) => {
                    let mut categories: Vec<String> =
                        values.iter().filter(|v| !v.is_empty()).cloned().collect();
                    categories.sort();
                    categories.dedup();
                    Ok((name.clone(), Some(categories)))
                }
                None => Err(format!("no column `{name}`")),
            })
            .collect::<Result<_, _>>()?;
        Ok(Codec { columns })
    }

    /// Values per row.
    pub(crate) fn width(&self) -> usize {
        self.columns.len()
    }

    /// The rows of `table` as a `[n, width]` batch.
    pub(crate) fn encode(&self, table: &Table) -> Result<Batch, String> {
        let n = table.rows;
        let width = self.width();
        let mut data = vec![0.0f32; n * width];
        for (j, (name, categories)) in self.columns.iter().enumerate() {
            match (table.column(name), categories) {
                (Some(Column::Numeric(values)), None) => {
                    for (i, v) in values.iter().enumerate() {
                        data[i * width + j] = *v as f32;
                    }
                }
                (Some(Column::Categorical(values)), Some(categories)) => {
                    for (i, v) in values.iter().enumerate() {
                        data[i * width + j] =
                            categories.binary_search(v).map_or(-1.0, |k| k as f32);
                    }
                }
                _ => return Err(format!("column `{name}` is missing or of another kind")),
            }
        }
        Batch::new(data, vec![n, width]).map_err(|e| e.to_string())
    }

    /// The table a `[n, width]` batch encodes.
    pub(crate) fn decode(&self, batch: &Batch) -> Result<Table, String> {
        let n = batch.len();
        let width = self.width();
        if batch.sample_len() != width {
            return Err(format!("{} values per row, the model takes {width}", batch.sample_len()));
        }
        let data = batch.as_slice();
        let columns = self
            .columns
            .iter()
            .enumerate()
            .map(|(j, (name, categories))| {
                let column = match categories {
                    None => {
                        Column::Numeric((0..n).map(|i| f64::from(data[i * width + j])).collect())
                    }
                    Some(categories) => Column::Categorical(
                        (0..n)
                            .map(|i| {
                                let code = data[i * width + j];
                                if code >= 0.0 && code.fract() == 0.0 {
                                    categories.get(code as usize).cloned().unwrap_or_default()
                                } else {
                                    String::new()
                                }
                            })
                            .collect(),
                    ),
                };
                (name.clone(), column)
            })
            .collect();
        Table::new("request".into(), columns).map_err(|e| e.to_string())
    }
}

/// A model slot whose pipeline is swapped in place when the served version changes.
pub(crate) type Slot = Arc<RwLock<Arc<Pipeline>>>;

/// What a tabular server serves: the slot's pipeline behind the codec; scores are
/// `[P(negative), P(positive)]`.
struct SlotModel {
    info: ModelInfo,
    codec: Arc<Codec>,
    slot: Slot,
}

impl SlotModel {
    fn error(&self, message: String) -> ModelError {
        ModelError::Backend { model: self.info.name.clone(), message }
    }
}

impl Model for SlotModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn predict(&self, inputs: &Batch) -> Result<Scores, ModelError> {
        let table = self.codec.decode(inputs).map_err(|message| self.error(message))?;
        let pipeline =
            Arc::clone(&self.slot.read().unwrap_or_else(std::sync::PoisonError::into_inner));
        let p = pipeline.predict(&table).map_err(|e| self.error(e.to_string()))?;
        let values = p.iter().flat_map(|&p| [(1.0 - p) as f32, p as f32]).collect();
        Ok(Scores::new(values, 2, ScoreKind::Probabilities))
    }
}

/// One tabular model served twice (champion and challenger slots) with a client for each.
pub(crate) struct Served {
    /// The champion slot's pipeline.
    pub(crate) champion: Slot,
    /// The challenger slot's pipeline.
    pub(crate) challenger: Slot,
    clients: [OipModel; 2],
    servers: Vec<Server>,
    codec: Arc<Codec>,
}

/// Which slot a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    Champion,
    Challenger,
}

impl Served {
    /// Serves `pipeline` in both slots on `runtime` and connects a client to each.
    pub(crate) fn start(
        runtime: &Runtime,
        name: &str,
        codec: Codec,
        pipeline: Pipeline,
    ) -> Result<Served, String> {
        let codec = Arc::new(codec);
        let pipeline = Arc::new(pipeline);
        let champion: Slot = Arc::new(RwLock::new(Arc::clone(&pipeline)));
        let challenger: Slot = Arc::new(RwLock::new(pipeline));
        let mut servers = Vec::new();
        let mut clients = Vec::new();
        for (slot, suffix) in [(&champion, "champion"), (&challenger, "challenger")] {
            let model: Arc<dyn Model> = Arc::new(SlotModel {
                info: ModelInfo::new(
                    name,
                    "wargame",
                    vec![codec.width()],
                    2,
                    Bounds { min: f32::MIN, max: f32::MAX },
                ),
                codec: Arc::clone(&codec),
                slot: Arc::clone(slot),
            });
            let mut config = ServeConfig::default();
            config.model_name = name.to_string();
            config.max_concurrency = 2;
            let server = runtime
                .block_on(Server::bind(([127, 0, 0, 1], 0).into(), model, config))
                .map_err(|e| format!("cannot serve the {name} model ({suffix}): {e}"))?;
            let url = format!("http://{}", server.local_addr());
            let mut options = OipOptions::default();
            options.bounds = Bounds { min: f32::MIN, max: f32::MAX };
            options.timeout = Duration::from_secs(10);
            let client = OipModel::connect(&url, name, options)
                .map_err(|e| format!("cannot reach the {name} model ({suffix}) at {url}: {e}"))?;
            servers.push(server);
            clients.push(client);
        }
        let clients: [OipModel; 2] = clients.try_into().map_err(|_| "two clients".to_string())?;
        Ok(Served { champion, challenger, clients, servers, codec })
    }

    /// The positive-class probability of each of `table`'s rows from slot `which`, over HTTP.
    pub(crate) fn score(&self, which: Which, table: &Table) -> Result<Vec<f64>, String> {
        if table.rows == 0 {
            return Ok(Vec::new());
        }
        let batch = self.codec.encode(table)?;
        let client = &self.clients[which as usize];
        let scores = client.predict(&batch).map_err(|e| e.to_string())?;
        Ok((0..scores.len()).map(|i| f64::from(scores.row(i)[1])).collect())
    }

    /// Swaps the pipeline a slot serves.
    pub(crate) fn swap(&self, which: Which, pipeline: Arc<Pipeline>) {
        let slot = match which {
            Which::Champion => &self.champion,
            Which::Challenger => &self.challenger,
        };
        *slot.write().unwrap_or_else(std::sync::PoisonError::into_inner) = pipeline;
    }

    /// Stops both servers.
    pub(crate) fn stop(self, runtime: &Runtime) {
        for server in self.servers {
            let _ = runtime.block_on(server.shutdown());
        }
    }
}

/// The chatbot behind the chat server, with its per-client limit.
pub(crate) struct ChatFleet {
    server: ChatServer,
    /// The per-client limit the `shed` action sets.
    pub(crate) limit: Arc<ClientLimit>,
    url: String,
}

/// One customer request's fate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ChatOutcome {
    /// Answered: the intent named, whether it was handed off, the latency in ms.
    Answered { intent: Option<usize>, handoff: bool, ms: f64 },
    /// Dropped (503, 429, a timeout or a broken connection), with the latency until then.
    Dropped { ms: f64 },
}

impl ChatFleet {
    /// Serves `model` with `plan`'s capacity on `runtime`.
    pub(crate) fn start(
        runtime: &Runtime,
        model: Arc<dyn IntentModel>,
        plan: &ChatPlan,
        handoff_threshold: f32,
    ) -> Result<ChatFleet, String> {
        let mut config = ChatServeConfig::default();
        config.model_name = "chatbot".into();
        config.max_concurrency = plan.capacity;
        config.queue_limit = plan.queue;
        config.service_time = plan.service_time;
        config.handoff_threshold = handoff_threshold;
        let server = runtime
            .block_on(ChatServer::bind(([127, 0, 0, 1], 0).into(), model, config))
            .map_err(|e| format!("cannot serve the chatbot: {e}"))?;
        let limit = server.client_limit();
        let url = format!("http://{}/v1/chat/completions", server.local_addr());
        Ok(ChatFleet { server, limit, url })
    }

    /// Sends `queries` (customer `k` sends query `k` as client `customer-<k>`) spread evenly
    /// over `window`, while `flood` (when set) runs beside them; every outcome in order, and
    /// the flood's requests sent.
    pub(crate) fn serve_tick(
        &self,
        runtime: &Runtime,
        queries: &[(u64, String)],
        intents: &[String],
        window: Duration,
        timeout: Duration,
        flood: Option<f64>,
    ) -> (Vec<ChatOutcome>, u64) {
        let url = self.url.clone();
        runtime.block_on(async {
            let flood_task = flood.map(|rate| {
                let url = url.clone();
                tokio::spawn(async move { flood_requests(&url, rate, window, timeout).await })
            });
            let start = Instant::now();
            let n = queries.len().max(1) as f64;
            let tasks: Vec<_> = queries
                .iter()
                .enumerate()
                .map(|(k, (customer, text))| {
                    let url = url.clone();
                    let body = chat_body(text);
                    let client = format!("customer-{customer}");
                    let intended = start + window.mul_f64(k as f64 / n);
                    tokio::spawn(async move {
                        tokio::time::sleep_until(intended.into()).await;
                        let sent = send(&url, &client, body, timeout).await;
                        let ms = intended.elapsed().as_secs_f64() * 1000.0;
                        (sent, ms)
                    })
                })
                .collect();
            let mut outcomes = Vec::with_capacity(tasks.len());
            for task in tasks {
                let outcome = match task.await {
                    Ok((Some(body), ms)) => read_answer(&body, intents, ms),
                    Ok((None, ms)) => ChatOutcome::Dropped { ms },
                    Err(_) => ChatOutcome::Dropped { ms: timeout.as_secs_f64() * 1000.0 },
                };
                outcomes.push(outcome);
            }
            let flooded = match flood_task {
                Some(task) => task.await.unwrap_or(0),
                None => 0,
            };
            (outcomes, flooded)
        })
    }

    /// Stops the server.
    pub(crate) fn stop(self, runtime: &Runtime) {
        let _ = runtime.block_on(self.server.shutdown());
    }
}

fn chat_body(text: &str) -> Bytes {
    Bytes::from(
        serde_json::json!({"model": "chatbot", "messages": [{"role": "user", "content": text}]})
            .to_string(),
    )
}

fn read_answer(body: &[u8], intents: &[String], ms: f64) -> ChatOutcome {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return ChatOutcome::Dropped { ms };
    };
    let Some(field) = value.get("stressor") else {
        return ChatOutcome::Dropped { ms };
    };
    let handoff = field.get("handoff").and_then(serde_json::Value::as_bool).unwrap_or(true);
    let intent = field
        .get("intent")
        .and_then(serde_json::Value::as_str)
        .and_then(|name| intents.iter().position(|n| n == name));
    ChatOutcome::Answered { intent, handoff, ms }
}

/// One POST on a fresh loopback connection as `client`: the 2xx body, or `None` for any
/// other status, a timeout or a broken connection.
async fn send(url: &str, client: &str, body: Bytes, timeout: Duration) -> Option<Bytes> {
    let uri: hyper::Uri = url.parse().ok()?;
    let authority = uri.authority()?.to_string();
    let attempt = async {
        let stream = tokio::net::TcpStream::connect(&authority).await.ok()?;
        let _ = stream.set_nodelay(true);
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.ok()?;
        tokio::spawn(connection);
        let request = hyper::Request::post(uri.path())
            .header(hyper::header::HOST, authority.as_str())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(stressor_serve::CLIENT_HEADER, client)
            .body(Full::new(body))
            .ok()?;
        let response = sender.send_request(request).await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.into_body().collect().await.ok().map(|b| b.to_bytes())
    };
    tokio::time::timeout(timeout, attempt).await.ok().flatten()
}

/// The red team's flood: `rate` requests per second for `window` from one client
/// (`red-flood`), through stressor-load's open-model generator; the requests sent.
async fn flood_requests(url: &str, rate: f64, window: Duration, timeout: Duration) -> u64 {
    let Ok(target) = stressor_load::Target::resolve(url, None).await else {
        return 0;
    };
    let profile =
        stressor_load::Profile::Open { stages: vec![stressor_load::Stage::constant(window, rate)] };
    let mut load = stressor_load::LoadConfig::new(target, profile);
    load.method = stressor_load::Method::POST;
    load.headers.push((
        stressor_load::HeaderName::from_static("content-type"),
        stressor_load::HeaderValue::from_static("application/json"),
    ));
    load.headers.push((
        stressor_load::HeaderName::from_static(stressor_serve::CLIENT_HEADER),
        stressor_load::HeaderValue::from_static("red-flood"),
    ));
    load.bodies = vec![chat_body("what is my account balance right now")];
    load.connections = 64;
    load.timeout = timeout;
    let check: Arc<stressor_load::ResponseCheck> =
        Arc::new(|_, _| Ok(stressor_load::Checked::default()));
    match stressor_load::run(load, check).await {
        Ok(report) => report.timeline.iter().map(|s| s.requests).sum(),
        Err(_) => 0,
    }
}
