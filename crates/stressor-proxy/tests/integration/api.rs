//! The Toxiproxy-compatible REST API over loopback HTTP: paths, status codes, defaults and the
//! error shape that Toxiproxy clients rely on.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use stressor_core::Seed;
use stressor_proxy::{ApiServer, Registry};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::echo_server;

/// One request with a JSON body on a fresh connection; (status, JSON or Null).
async fn call(api: SocketAddr, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut socket = TcpStream::connect(api).await.unwrap();
    let text = format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(text.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    timeout(Duration::from_secs(10), socket.read_to_end(&mut response)).await.unwrap().unwrap();
    let text = String::from_utf8(response).unwrap();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn proxies_and_toxics_round_trip_like_toxiproxy() {
    let upstream = echo_server().await;
    let server = ApiServer::bind("127.0.0.1:0".parse().unwrap(), Registry::new(Seed::new(1), None))
        .await
        .unwrap();
    let api = server.local_addr();

    let (status, proxy) = call(
        api,
        "POST",
        "/proxies",
        Some(json!({"name": "echo", "upstream": upstream.to_string()})),
    )
    .await;
    assert_eq!(status, 201, "{proxy}");
    assert_eq!(proxy["enabled"], true);
    assert_eq!(proxy["toxics"], json!([]));
    let listen: SocketAddr = proxy["listen"].as_str().unwrap().parse().unwrap();
    assert_ne!(listen.port(), 0, "port 0 is replaced by the bound port");

    let (status, error) = call(
        api,
        "POST",
        "/proxies",
        Some(json!({"name": "echo", "upstream": upstream.to_string()})),
    )
    .await;
    assert_eq!((status, error["status"].clone()), (409, json!(409)));
    assert!(error["error"].as_str().unwrap().contains("already exists"));

    let (status, toxic) = call(
        api,
        "POST",
        "/proxies/echo/toxics",
        Some(json!({"type": "latency", "attributes": {"latency": 80}})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        toxic,
        json!({"name": "latency_downstream", "type": "latency", "stream": "downstream", "toxicity": 1.0,
               "attributes": {"latency": 80, "jitter": 0}})
    );
    // The toxic acts on traffic through the proxy.
    let mut socket = TcpStream::connect(listen).await.unwrap();
    let start = std::time::Instant::now();
    socket.write_all(b"ping").await.unwrap();
    let mut buffer = [0u8; 4];
    socket.read_exact(&mut buffer).await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(75), "{:?}", start.elapsed());

    let (status, updated) = call(
        api,
        "POST",
        "/proxies/echo/toxics/latency_downstream",
        Some(json!({"attributes": {"jitter": 5}, "toxicity": 0.5})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(updated["attributes"], json!({"latency": 80, "jitter": 5}));
    assert_eq!(updated["toxicity"], 0.5);

    let (_, list) = call(api, "GET", "/proxies", None).await;
    assert_eq!(list["echo"]["toxics"][0]["name"], "latency_downstream");
    let (_, toxics) = call(api, "GET", "/proxies/echo/toxics", None).await;
    assert_eq!(toxics.as_array().unwrap().len(), 1);

    let (status, error) = call(
        api,
        "POST",
        "/proxies/echo/toxics",
        Some(json!({"type": "latency", "attributes": {"latncy": 1}})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(error["error"].as_str().unwrap().contains("latncy"), "{error}");
    let (status, _) = call(api, "GET", "/proxies/nope", None).await;
    assert_eq!(status, 404);
    let (status, _) = call(api, "DELETE", "/proxies/echo/toxics/nope", None).await;
    assert_eq!(status, 404);

    let (status, _) = call(api, "DELETE", "/proxies/echo/toxics/latency_downstream", None).await;
    assert_eq!(status, 204);

    // Disable, then /reset enables it again and clears toxics.
    call(api, "POST", "/proxies/echo/toxics", Some(json!({"type": "timeout"}))).await;
    let (status, proxy) = call(api, "POST", "/proxies/echo", Some(json!({"enabled": false}))).await;
    assert_eq!((status, proxy["enabled"].clone()), (200, json!(false)));
    assert!(TcpStream::connect(listen).await.is_err());
    let (status, _) = call(api, "POST", "/reset", None).await;
    assert_eq!(status, 204);
    let (_, proxy) = call(api, "GET", "/proxies/echo", None).await;
    assert_eq!((proxy["enabled"].clone(), proxy["toxics"].clone()), (json!(true), json!([])));
    assert!(TcpStream::connect(listen).await.is_ok());

    let (status, metrics) = {
        let mut socket = TcpStream::connect(api).await.unwrap();
        socket
            .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut text = String::new();
        socket.read_to_string(&mut text).await.unwrap();
        (text.split(' ').nth(1).unwrap().to_string(), text)
    };
    assert_eq!(status, "200");
    assert!(metrics.contains("stressor_proxy_bytes_upstream_total{proxy=\"echo\"} 4"), "{metrics}");

    let (status, _) = call(api, "DELETE", "/proxies/echo", None).await;
    assert_eq!(status, 204);
    assert!(TcpStream::connect(listen).await.is_err());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn populate_creates_keeps_and_replaces() {
    let upstream = echo_server().await;
    let other = echo_server().await;
    let server = ApiServer::bind("127.0.0.1:0".parse().unwrap(), Registry::new(Seed::new(1), None))
        .await
        .unwrap();
    let api = server.local_addr();
    let items = json!([{"name": "a", "upstream": upstream.to_string()}, {"name": "b", "upstream": upstream.to_string()}]);
    let (status, body) = call(api, "POST", "/populate", Some(items)).await;
    assert_eq!(status, 201);
    assert_eq!(body["proxies"].as_array().unwrap().len(), 2);
    let first_listen = body["proxies"][0]["listen"].clone();
    let items = json!([{"name": "a", "upstream": upstream.to_string()}, {"name": "b", "upstream": other.to_string()}]);
    let (_, body) = call(api, "POST", "/populate", Some(items)).await;
    assert_eq!(body["proxies"][0]["listen"], first_listen, "an unchanged proxy is kept");
    assert_eq!(body["proxies"][1]["upstream"], other.to_string());
    // Toxiproxy clients default to listening everywhere; the proxy keeps to loopback.
    let body = json!({"name": "d", "listen": "0.0.0.0:0", "upstream": upstream.to_string()});
    let (status, proxy) = call(api, "POST", "/proxies", Some(body)).await;
    assert_eq!(status, 201);
    assert!(proxy["listen"].as_str().unwrap().starts_with("127.0.0.1:"), "{proxy}");
    let body = json!({"name": "e", "listen": "192.0.2.1:0", "upstream": upstream.to_string()});
    let (status, _) = call(api, "POST", "/proxies", Some(body)).await;
    assert_eq!(status, 400);
    let (status, error) = call(api, "POST", "/populate", Some(json!([{"name": "c"}]))).await;
    assert_eq!(status, 400);
    assert!(error["error"].as_str().unwrap().contains("proxy 0: field `upstream`"), "{error}");
    server.shutdown().await.unwrap();
}
