//! The server over real loopback HTTP: protocol round trips, errors, capacity, shutdown; and the
//! chatbot server (OpenAI format, shadow deployment); and the HTTP model adapters against it (TLS, rate limit, retry budget, JSON templates).

#![expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]

mod capacity;
mod chat;
mod protocol;
mod transport;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use stressor_core::Bounds;
use stressor_model::{FnModel, Model, ModelInfo};
use stressor_serve::{ServeConfig, Server};

/// A 2×2 single-channel "image" model with 3 classes: logits `[Σx, x₀ − x₃, 0.5]`.
fn toy_model() -> Arc<dyn Model> {
    let info = ModelInfo::new("toy", "fn", vec![1, 2, 2], 3, Bounds::UNIT);
    Arc::new(FnModel::new(info, |x: &[f32]| vec![x.iter().sum(), x[0] - x[3], 0.5]))
}

fn config() -> ServeConfig {
    let mut config = ServeConfig::default();
    config.model_name = "toy".into();
    config
}

async fn start(config: ServeConfig) -> Server {
    Server::bind("127.0.0.1:0".parse().unwrap(), toy_model(), config).await.unwrap()
}

/// One request on a fresh connection: the status and the body as text.
async fn call(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string())
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn infer_body(samples: &[[f32; 4]]) -> String {
    let data: Vec<String> = samples.iter().flatten().map(|v| v.to_string()).collect();
    format!(
        r#"{{"id":"q","inputs":[{{"name":"input","datatype":"FP32","shape":[{},1,2,2],"data":[{}]}}]}}"#,
        samples.len(),
        data.join(",")
    )
}

const SHORT: Duration = Duration::from_millis(50);
