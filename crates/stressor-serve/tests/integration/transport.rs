//! The HTTP model adapters over real loopback connections: https through a TLS terminator with
//! a self-signed certificate, the rate limit, the retry budget, JSON templates, and header
//! values kept out of errors.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use stressor_core::{Batch, Bounds};
use stressor_model::Model;
use stressor_model::http::{JsonModel, JsonOptions, JsonScores, OipModel, OipOptions};
use stressor_serve::{ServeConfig, Server};
use stressor_test_support::LinearModel;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A 3-class linear model on 4 inputs.
fn model() -> LinearModel {
    let weights = vec![1.0, -1.0, 0.5, 0.0, -0.5, 1.0, 0.0, 1.0, 0.2, 0.2, -1.0, 0.3];
    LinearModel::new(weights, vec![0.1, 0.0, -0.1], vec![4], Bounds::UNIT)
}

fn inputs(n: usize) -> Batch {
    let values: Vec<f32> = (0..n * 4).map(|i| ((i * 37) % 100) as f32 / 100.0).collect();
    Batch::new(values, vec![n, 4]).unwrap()
}

/// Serves the model on a runtime of its own; returns the runtime (keep it alive) and address.
fn serve() -> (tokio::runtime::Runtime, SocketAddr) {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let addr = runtime.block_on(async {
        let mut config = ServeConfig::default();
        config.model_name = "linear".into();
        let server =
            Server::bind("127.0.0.1:0".parse().unwrap(), Arc::new(model()), config).await.unwrap();
        let addr = server.local_addr();
        std::mem::forget(server);
        addr
    });
    (runtime, addr)
}

#[test]
fn https_with_a_private_ca_gives_the_same_scores() {
    let (runtime, plain) = serve();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = std::env::temp_dir().join(format!("stressor-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, cert.cert.pem()).unwrap();
    // A TLS terminator in front of the plain server.
    let tls_addr = runtime.block_on(async {
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert.der().clone()], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(socket).await else { return };
                    let Ok(mut upstream) = tokio::net::TcpStream::connect(plain).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
                });
            }
        });
        addr
    });
    let url = format!("https://localhost:{}", tls_addr.port());
    // Without the CA the self-signed server is refused.
    let untrusted = OipModel::connect(&url, "linear", OipOptions::default());
    assert!(untrusted.is_err());
    let mut options = OipOptions::default();
    options.ca_file = Some(ca.clone());
    let remote = OipModel::connect(&url, "linear", options).unwrap();
    let batch = inputs(20);
    let (a, b) = (model().predict(&batch).unwrap(), remote.predict(&batch).unwrap());
    for (x, y) in a.as_slice().iter().zip(b.as_slice()) {
        assert!((x - y).abs() < 1e-5, "{x} vs {y}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_json_template_reaches_any_api_and_labels_become_one_hot() {
    let (_runtime, addr) = serve();
    let template = serde_json::json!({
        "inputs": [{"name": "input", "datatype": "FP32", "shape": "{{shape}}", "data": "{{inputs}}"}]
    });
    let url = format!("http://{addr}/v2/models/linear/infer");
    let mut http = OipOptions::default();
    http.max_batch = 7;
    let scores = JsonModel::new(
        &url,
        "linear",
        JsonOptions::new(
            http.clone(),
            template.clone(),
            "/outputs/0/data".into(),
            JsonScores::Logits,
            vec![4],
            3,
        ),
    )
    .unwrap();
    let batch = inputs(20);
    let expected = model().predict(&batch).unwrap();
    let got = scores.predict(&batch).unwrap();
    for (x, y) in expected.as_slice().iter().zip(got.as_slice()) {
        assert!((x - y).abs() < 1e-5);
    }
    let labels = JsonModel::new(
        &url,
        "linear",
        JsonOptions::new(http, template, "/outputs/1/data".into(), JsonScores::Labels, vec![4], 3),
    )
    .unwrap();
    assert_eq!(labels.predict(&batch).unwrap().predictions(), expected.predictions());
    let wrong = JsonModel::new(
        &url,
        "linear",
        JsonOptions::new(
            OipOptions::default(),
            serde_json::json!({"x": "{{inputs}}"}),
            "/nope".into(),
            JsonScores::Logits,
            vec![4],
            3,
        ),
    )
    .unwrap();
    let error = wrong.predict(&batch).unwrap_err().to_string();
    assert!(error.contains(&url) || error.contains("remote"), "{error}");
}

/// A server that answers every request with `status` and counts them.
fn counting_server(status: u16) -> (tokio::runtime::Runtime, SocketAddr, Arc<AtomicU64>) {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let count = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&count);
    let addr = runtime.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 64 * 1024];
                    let mut seen = Vec::new();
                    loop {
                        let Ok(n) = socket.read(&mut buffer).await else { return };
                        if n == 0 {
                            return;
                        }
                        seen.extend_from_slice(&buffer[..n]);
                        // One request per complete head + body (Content-Length).
                        while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
                            let length: usize = head
                                .lines()
                                .find_map(|l| {
                                    l.strip_prefix("content-length:")
                                        .map(|v| v.trim().parse().unwrap_or(0))
                                })
                                .unwrap_or(0);
                            if seen.len() < end + 4 + length {
                                break;
                            }
                            seen.drain(..end + 4 + length);
                            counter.fetch_add(1, Ordering::SeqCst);
                            let body = r#"{"error":"down"}"#;
                            let response = format!(
                                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\n\r\n{body}",
                                body.len()
                            );
                            if socket.write_all(response.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        addr
    });
    (runtime, addr, count)
}

fn json_model(addr: SocketAddr, options: OipOptions) -> JsonModel {
    JsonModel::new(
        &format!("http://{addr}/predict"),
        "x",
        JsonOptions::new(
            options,
            serde_json::json!({"x": "{{inputs}}"}),
            "/y".into(),
            JsonScores::Logits,
            vec![4],
            3,
        ),
    )
    .unwrap()
}

#[test]
fn the_retry_budget_caps_retries_across_requests() {
    let (_runtime, addr, count) = counting_server(503);
    let mut options = OipOptions::default();
    options.retries = 2;
    options.retry_budget = 0.0;
    options.headers = vec![("Authorization".into(), "Bearer sekret-value".into())];
    let model = json_model(addr, options);
    let mut errors = Vec::new();
    for _ in 0..20 {
        errors.push(model.predict(&inputs(1)).unwrap_err().to_string());
    }
    // 20 requests, and retries only up to the budget's floor of 10 (not 20 × 2 = 40).
    assert_eq!(count.load(Ordering::SeqCst), 20 + stressor_model::http::RETRY_BUDGET_FLOOR);
    assert!(errors.last().unwrap().contains("retry budget"), "{}", errors.last().unwrap());
    assert!(errors.iter().all(|e| !e.contains("sekret")), "header values never appear in errors");
}

#[test]
fn the_rate_limit_spaces_requests() {
    let (_runtime, addr, count) = counting_server(503);
    let mut options = OipOptions::default();
    options.retries = 0;
    options.rate_limit = Some(50.0);
    let model = json_model(addr, options);
    let start = Instant::now();
    for _ in 0..26 {
        let _ = model.predict(&inputs(1));
    }
    // 26 requests at 50/s: 25 gaps of 20 ms.
    let elapsed = start.elapsed();
    assert_eq!(count.load(Ordering::SeqCst), 26);
    assert!(
        elapsed >= Duration::from_millis(480) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
}

/// An OpenAI-compatible chat server: answers the last user message reversed, with usage, and
/// 401 without the right key.
fn chat_server() -> (tokio::runtime::Runtime, SocketAddr) {
    use axum::http::{HeaderMap, StatusCode};
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let addr = runtime.block_on(async {
        let app = axum::Router::new().route(
            "/v1/chat/completions",
            axum::routing::post(|headers: HeaderMap, body: axum::body::Bytes| async move {
                if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer right-key") {
                    return (StatusCode::UNAUTHORIZED, r#"{"error":{"message":"bad key"}}"#.to_string());
                }
                let request: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let last = request["messages"].as_array().unwrap().last().unwrap()["content"].as_str().unwrap();
                let answer: String = last.chars().rev().collect();
                let reply = serde_json::json!({
                    "id": "x", "object": "chat.completion", "model": request["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": last.len(), "completion_tokens": answer.len(), "total_tokens": 2 * last.len()}
                });
                (StatusCode::OK, reply.to_string())
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    });
    (runtime, addr)
}

#[test]
fn an_openai_compatible_chat_endpoint_answers_and_a_bad_key_is_not_retried() {
    use stressor_model::http::{ChatMessage, ChatModel, ChatOptions};
    let (_runtime, addr) = chat_server();
    let mut options = ChatOptions::default();
    options.http.headers = vec![("Authorization".into(), "Bearer right-key".into())];
    options.temperature = Some(0.0);
    let chat = ChatModel::new(&format!("http://{addr}/v1"), "tiny", options.clone()).unwrap();
    let reply = chat.chat(&[ChatMessage::system("be brief"), ChatMessage::user("hello")]).unwrap();
    assert_eq!(reply.content, "olleh");
    assert_eq!(reply.finish_reason.as_deref(), Some("stop"));
    assert_eq!((reply.prompt_tokens, reply.completion_tokens), (Some(5), Some(5)));
    options.http.headers = vec![("Authorization".into(), "Bearer wrong-key".into())];
    let refused = ChatModel::new(&format!("http://{addr}/v1"), "tiny", options).unwrap();
    let error = refused.chat(&[ChatMessage::user("hi")]).unwrap_err().to_string();
    assert!(
        error.contains("401") && !error.contains("attempts"),
        "a client error is not retried: {error}"
    );
    assert!(!error.contains("wrong-key"));
}

#[test]
fn a_concurrency_limit_keeps_that_many_requests_in_flight() {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let in_flight = Arc::new(AtomicU64::new(0));
    let peak = Arc::new(AtomicU64::new(0));
    let (now, top) = (Arc::clone(&in_flight), Arc::clone(&peak));
    let addr = runtime.block_on(async move {
        let app = axum::Router::new().route(
            "/predict",
            axum::routing::post(move || {
                let (now, top) = (Arc::clone(&now), Arc::clone(&top));
                async move {
                    let current = now.fetch_add(1, Ordering::SeqCst) + 1;
                    top.fetch_max(current, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                    r#"{"y": [[0.1, 0.9, 0.0]]}"#
                }
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    });
    let mut options = OipOptions::default();
    options.max_batch = 1;
    options.max_concurrency = 4;
    let model = JsonModel::new(
        &format!("http://{addr}/predict"),
        "slow",
        JsonOptions::new(
            options,
            serde_json::json!({"x": "{{inputs}}"}),
            "/y".into(),
            JsonScores::Probabilities,
            vec![4],
            3,
        ),
    )
    .unwrap();
    let start = Instant::now();
    let scores = model.predict(&inputs(8)).unwrap();
    let elapsed = start.elapsed();
    assert_eq!(scores.predictions(), vec![1; 8]);
    assert_eq!(peak.load(Ordering::SeqCst), 4);
    // Two waves of four 100 ms requests, not eight in a row.
    assert!(elapsed < Duration::from_millis(600), "{elapsed:?}");
}
