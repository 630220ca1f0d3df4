//! The proxy over real loopback sockets: every toxic against an echo server or a small HTTP
//! server, each run bounded by timeouts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{get, post};
use serde_json::{Value, json};
use stressor_core::Seed;
use stressor_proxy::{Protocol, Proxy, ProxyConfig, Stream, Toxic, ToxicKind, schedule};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

use crate::echo_server;

const LIMIT: Duration = Duration::from_secs(10);

/// A server that sends `payload` and closes.
async fn speak_and_close_server(payload: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let _ = socket.write_all(payload).await;
        }
    });
    addr
}

/// An HTTP server: `GET /json` answers a KServe-like body, `POST /count` counts requests and
/// answers the count, `GET /slow` answers after 150 ms.
async fn http_server() -> (SocketAddr, Arc<AtomicU64>) {
    let count = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&count);
    let app = Router::new()
        .route(
            "/json",
            get(|| async {
                json!({"model_name": "m", "outputs": [{"name": "label", "data": [3, 1, 4]}]})
                    .to_string()
            }),
        )
        .route(
            "/count",
            post(move || {
                let counter = Arc::clone(&counter);
                async move { (counter.fetch_add(1, Ordering::SeqCst) + 1).to_string() }
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(150)).await;
                "slow"
            }),
        )
        .route("/fast", get(|| async { "fast" }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, count)
}

async fn proxy_to(upstream: SocketAddr, protocol: Protocol) -> Arc<Proxy> {
    Proxy::start(
        ProxyConfig {
            name: "test".into(),
            listen: "127.0.0.1:0".parse().unwrap(),
            upstream: upstream.to_string(),
            enabled: true,
            protocol,
        },
        Seed::new(11),
        None,
    )
    .await
    .unwrap()
}

async fn round_trip(socket: &mut TcpStream, data: &[u8]) -> Vec<u8> {
    socket.write_all(data).await.unwrap();
    let mut received = vec![0u8; data.len()];
    timeout(LIMIT, socket.read_exact(&mut received)).await.unwrap().unwrap();
    received
}

/// One HTTP/1.1 request on a fresh connection; (status, body).
async fn request(addr: SocketAddr, method: &str, path: &str) -> (u16, Vec<u8>) {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    let text = format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    socket.write_all(text.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    timeout(LIMIT, socket.read_to_end(&mut response)).await.unwrap().unwrap();
    split_response(&response)
}

fn split_response(response: &[u8]) -> (u16, Vec<u8>) {
    let text = String::from_utf8_lossy(response);
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let head_end =
        response.windows(4).position(|w| w == b"\r\n\r\n").map_or(response.len(), |p| p + 4);
    let body = response[head_end..].to_vec();
    if let Some(length) = text.lines().find_map(|l| {
        l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string())
    }) {
        assert_eq!(length.parse::<usize>().unwrap(), body.len(), "framing of {text}");
    }
    (status, body)
}

#[tokio::test]
async fn passes_bytes_through_and_counts_them() {
    let proxy = proxy_to(echo_server().await, Protocol::Auto).await;
    let mut socket = TcpStream::connect(proxy.listen_addr()).await.unwrap();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    socket.write_all(&data).await.unwrap();
    let mut received = vec![0u8; data.len()];
    timeout(LIMIT, socket.read_exact(&mut received)).await.unwrap().unwrap();
    assert_eq!(received, data);
    assert_eq!(proxy.stats().bytes_upstream.load(Ordering::Relaxed), 200_000);
}

#[tokio::test]
async fn latency_delays_each_round_trip_and_goes_away_when_removed() {
    let proxy = proxy_to(echo_server().await, Protocol::Tcp).await;
    let mut socket = TcpStream::connect(proxy.listen_addr()).await.unwrap();
    round_trip(&mut socket, b"warm").await;
    proxy.add_toxic(Toxic::new(ToxicKind::Latency { latency: 100, jitter: 10 })).unwrap();
    for _ in 0..3 {
        let start = Instant::now();
        round_trip(&mut socket, b"ping").await;
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(90) && elapsed < Duration::from_millis(200),
            "{elapsed:?}"
        );
    }
    proxy.remove_toxic("latency_downstream").unwrap();
    let start = Instant::now();
    round_trip(&mut socket, b"ping").await;
    assert!(start.elapsed() < Duration::from_millis(50), "{:?}", start.elapsed());
}

#[tokio::test]
async fn bandwidth_limits_the_rate() {
    let proxy = proxy_to(echo_server().await, Protocol::Tcp).await;
    proxy.add_toxic(Toxic::new(ToxicKind::Bandwidth { rate: 200 })).unwrap();
    let mut socket = TcpStream::connect(proxy.listen_addr()).await.unwrap();
    let start = Instant::now();
    round_trip(&mut socket, &vec![7u8; 100_000]).await;
    // 100 kB at 200 kB/s: 0.5 s (less the first 100 ms slice that goes at once).
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(380) && elapsed < Duration::from_millis(1500),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn slicer_keeps_the_bytes_and_spaces_the_slices() {
    let proxy = proxy_to(echo_server().await, Protocol::Tcp).await;
    proxy
        .add_toxic(Toxic::new(ToxicKind::Slicer {
            average_size: 10,
            size_variation: 5,
            delay: 2000,
        }))
        .unwrap();
    let mut socket = TcpStream::connect(proxy.listen_addr()).await.unwrap();
    let data: Vec<u8> = (0..500u32).map(|i| i as u8).collect();
    let start = Instant::now();
    assert_eq!(round_trip(&mut socket, &data).await, data);
    // ~50 slices 2 ms apart.
    assert!(start.elapsed() >= Duration::from_millis(60), "{:?}", start.elapsed());
}

#[tokio::test]
async fn timeout_blackholes_then_closes() {
    let proxy = proxy_to(echo_server().await, Protocol::Tcp).await;
    proxy.add_toxic(Toxic::new(ToxicKind::Timeout { timeout: 200 })).unwrap();
    let mut socket = TcpStream::connect(proxy.listen_addr()).await.unwrap();
    let start = Instant::now();
    socket.write_all(b"hello").await.unwrap();
    let mut buffer = [0u8; 16];
    let read = timeout(LIMIT, socket.read(&mut buffer)).await.unwrap();
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(180) && elapsed < Duration::from_secs(2),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn reset_peer_resets_the_connection() {
    let proxy = proxy_to(echo_server().await, Protocol::Tcp).await;
    let mut socket = TcpStream::connect(proxy.listen_addr()).await.unwrap();
    round_trip(&mut socket, b"before").await;
    proxy.add_toxic(Toxic::new(ToxicKind::ResetPeer { timeout: 50 })).unwrap();
    let mut buffer = [0u8; 16];
    let read = timeout(LIMIT, socket.read(&mut buffer)).await.unwrap();
    let error = read.expect_err("a reset, not an orderly close");
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset, "{error}");
}

#[tokio::test]
async fn limit_data_closes_after_the_limit() {
    let proxy = proxy_to(echo_server().await, Protocol::Tcp).await;
    proxy.add_toxic(Toxic::new(ToxicKind::LimitData { bytes: 1000 })).unwrap();
    let mut socket = TcpStream::connect(proxy.listen_addr()).await.unwrap();
    socket.write_all(&[1u8; 5000]).await.unwrap();
    let mut received = Vec::new();
    let _ = timeout(LIMIT, socket.read_to_end(&mut received)).await.unwrap();
    assert_eq!(received.len(), 1000);
}

#[tokio::test]
async fn slow_close_delays_the_close() {
    let proxy = proxy_to(speak_and_close_server(b"bye").await, Protocol::Tcp).await;
    proxy.add_toxic(Toxic::new(ToxicKind::SlowClose { delay: 300 })).unwrap();
    let mut socket = TcpStream::connect(proxy.listen_addr()).await.unwrap();
    let start = Instant::now();
    let mut received = Vec::new();
    timeout(LIMIT, socket.read_to_end(&mut received)).await.unwrap().unwrap();
    assert_eq!(received, b"bye");
    assert!(start.elapsed() >= Duration::from_millis(280), "{:?}", start.elapsed());
}

#[tokio::test]
async fn toxicity_is_the_share_of_connections_affected() {
    let proxy = proxy_to(echo_server().await, Protocol::Tcp).await;
    proxy.add_toxic(Toxic::new(ToxicKind::Timeout { timeout: 0 }).with_toxicity(0.5)).unwrap();
    let n = 80;
    let mut passed = 0;
    for _ in 0..n {
        let mut socket = TcpStream::connect(proxy.listen_addr()).await.unwrap();
        socket.write_all(b"x").await.unwrap();
        let mut buffer = [0u8; 1];
        if let Ok(Ok(1)) = timeout(Duration::from_millis(50), socket.read(&mut buffer)).await {
            passed += 1;
        }
    }
    // Binomial(80, 0.5): 40 ± 4.5; ±4 sd.
    assert!((22..=58).contains(&passed), "{passed} of {n} passed");
}

#[tokio::test]
async fn a_dead_upstream_closes_the_client_and_is_counted() {
    let dead = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let proxy = proxy_to(dead, Protocol::Auto).await;
    let mut socket = TcpStream::connect(proxy.listen_addr()).await.unwrap();
    let mut buffer = Vec::new();
    let read = timeout(LIMIT, socket.read_to_end(&mut buffer)).await.unwrap();
    assert!(matches!(read, Ok(0) | Err(_)));
    assert_eq!(proxy.stats().upstream_errors.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn http_status_answers_without_asking_the_server() {
    let (server, count) = http_server().await;
    let proxy = proxy_to(server, Protocol::Auto).await;
    proxy
        .add_toxic(
            Toxic::new(ToxicKind::HttpStatus { status: 503, body: "{\"error\":\"down\"}".into() })
                .on(Stream::Upstream),
        )
        .unwrap();
    let (status, body) = request(proxy.listen_addr(), "POST", "/count").await;
    assert_eq!(status, 503);
    assert_eq!(body, b"{\"error\":\"down\"}");
    assert_eq!(count.load(Ordering::SeqCst), 0);
    proxy.clear_toxics();
    let (status, body) = request(proxy.listen_addr(), "POST", "/count").await;
    assert_eq!((status, body), (200, b"1".to_vec()));
    assert_eq!(proxy.stats().faults().get("http_status_upstream"), Some(&1));
}

#[tokio::test]
async fn http_status_toxicity_is_per_request_on_one_connection() {
    let (server, count) = http_server().await;
    let proxy = proxy_to(server, Protocol::Http).await;
    proxy
        .add_toxic(
            Toxic::new(ToxicKind::HttpStatus { status: 500, body: String::new() })
                .with_toxicity(0.3),
        )
        .unwrap();
    let mut socket = TcpStream::connect(proxy.listen_addr()).await.unwrap();
    let n = 200;
    let mut failed = 0;
    let mut buffer = vec![0u8; 4096];
    for _ in 0..n {
        socket
            .write_all(b"POST /count HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n")
            .await
            .unwrap();
        let read = timeout(LIMIT, socket.read(&mut buffer)).await.unwrap().unwrap();
        let (status, _) = split_response(&buffer[..read]);
        if status == 500 {
            failed += 1;
        } else {
            assert_eq!(status, 200);
        }
    }
    assert_eq!(count.load(Ordering::SeqCst), n - failed);
    // Binomial(200, 0.3): 60 ± 6.5; ±4 sd.
    assert!((34..=86).contains(&failed), "{failed}");
}

#[tokio::test]
async fn http_body_faults_keep_the_framing_valid() {
    let (server, _) = http_server().await;
    let proxy = proxy_to(server, Protocol::Auto).await;
    let (_, clean) = request(proxy.listen_addr(), "GET", "/json").await;
    let clean_json: Value = serde_json::from_slice(&clean).unwrap();

    proxy.add_toxic(Toxic::new(ToxicKind::HttpTruncate { fraction: 0.5 })).unwrap();
    let (status, body) = request(proxy.listen_addr(), "GET", "/json").await;
    assert_eq!(status, 200);
    assert_eq!(body, clean[..clean.len() / 2]);
    assert!(serde_json::from_slice::<Value>(&body).is_err());
    proxy.clear_toxics();

    proxy.add_toxic(Toxic::new(ToxicKind::HttpDropField { pointer: "/outputs".into() })).unwrap();
    let (_, body) = request(proxy.listen_addr(), "GET", "/json").await;
    let mut expected = clean_json.clone();
    expected.as_object_mut().unwrap().remove("outputs");
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), expected);
    proxy.clear_toxics();

    proxy.add_toxic(Toxic::new(ToxicKind::HttpCorrupt { bytes: 3 })).unwrap();
    let (_, body) = request(proxy.listen_addr(), "GET", "/json").await;
    assert_eq!(body.len(), clean.len());
    let changed = body.iter().zip(&clean).filter(|(a, b)| a != b).count();
    assert!((1..=3).contains(&changed), "{changed}");
}

#[tokio::test]
async fn http_duplicate_sends_twice_and_answers_once() {
    let (server, count) = http_server().await;
    let proxy = proxy_to(server, Protocol::Auto).await;
    proxy.add_toxic(Toxic::new(ToxicKind::HttpDuplicate).on(Stream::Upstream)).unwrap();
    let mut socket = TcpStream::connect(proxy.listen_addr()).await.unwrap();
    let mut buffer = vec![0u8; 4096];
    for expected in [b"1".to_vec(), b"3".to_vec()] {
        socket
            .write_all(b"POST /count HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n")
            .await
            .unwrap();
        let read = timeout(LIMIT, socket.read(&mut buffer)).await.unwrap().unwrap();
        assert_eq!(split_response(&buffer[..read]), (200, expected));
    }
    // Each request reached the server twice; the client saw the first answer of each.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(count.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn http_delay_delays_by_the_distribution() {
    let (server, _) = http_server().await;
    let proxy = proxy_to(server, Protocol::Auto).await;
    proxy
        .add_toxic(Toxic::new(ToxicKind::HttpDelay {
            distribution: stressor_proxy::Delay::Constant,
            mean: 120.0,
            stddev: 0.0,
        }))
        .unwrap();
    let start = Instant::now();
    let (status, _) = request(proxy.listen_addr(), "GET", "/fast").await;
    assert_eq!(status, 200);
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(115) && elapsed < Duration::from_millis(400),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn http_reorder_lets_a_later_response_overtake() {
    let (server, _) = http_server().await;
    let proxy = proxy_to(server, Protocol::Auto).await;
    proxy.add_toxic(Toxic::new(ToxicKind::HttpReorder { hold: 2000 }).with_toxicity(1.0)).unwrap();
    let addr = proxy.listen_addr();
    let first = tokio::spawn(async move {
        let (_, body) = request(addr, "GET", "/fast").await;
        (body, Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second = tokio::spawn(async move {
        let (_, body) = request(addr, "GET", "/slow").await;
        (body, Instant::now())
    });
    let (first_body, first_at) = first.await.unwrap();
    let (second_body, second_at) = second.await.unwrap();
    assert_eq!((first_body.as_slice(), second_body.as_slice()), (&b"fast"[..], &b"slow"[..]));
    // The first response was held until the second (slow) one passed.
    assert!(second_at <= first_at, "first at {first_at:?}, second at {second_at:?}");
}

#[tokio::test]
async fn disabling_refuses_connections_and_enabling_restores_the_same_port() {
    let proxy = proxy_to(echo_server().await, Protocol::Tcp).await;
    let addr = proxy.listen_addr();
    let mut open = TcpStream::connect(addr).await.unwrap();
    round_trip(&mut open, b"hi").await;
    proxy.update(&json!({"enabled": false})).await.unwrap();
    let mut buffer = [0u8; 4];
    let read = timeout(LIMIT, open.read(&mut buffer)).await.unwrap();
    assert!(matches!(read, Ok(0) | Err(_)), "open connections are dropped: {read:?}");
    assert!(TcpStream::connect(addr).await.is_err());
    proxy.update(&json!({"enabled": true})).await.unwrap();
    assert_eq!(proxy.listen_addr(), addr);
    let mut socket = TcpStream::connect(addr).await.unwrap();
    assert_eq!(round_trip(&mut socket, b"back").await, b"back");
}

#[tokio::test]
async fn upstreams_outside_loopback_need_to_be_allowed() {
    let config = ProxyConfig {
        name: "x".into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        upstream: "10.1.2.3:80".into(),
        enabled: false,
        protocol: Protocol::Auto,
    };
    let error = Proxy::start(config.clone(), Seed::new(1), None).await.unwrap_err();
    assert!(error.to_string().contains("--allow-host 10.1.2.3"), "{error}");
    assert!(Proxy::start(config.clone(), Seed::new(1), Some("10.1.2.3".into())).await.is_ok());
    let public = ProxyConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        upstream: "127.0.0.1:1".into(),
        ..config
    };
    assert!(
        Proxy::start(public, Seed::new(1), None)
            .await
            .unwrap_err()
            .to_string()
            .contains("loopback")
    );
}

#[tokio::test]
async fn a_schedule_adds_ramps_and_removes_toxics() {
    let proxy = proxy_to(echo_server().await, Protocol::Tcp).await;
    let fault = schedule::Fault {
        toxic: Toxic::new(ToxicKind::Latency { latency: 50, jitter: 0 }).with_toxicity(1.0),
        start: Duration::from_millis(200),
        stop: Some(Duration::from_millis(900)),
        ramp: Duration::from_millis(500),
    };
    let t0 = tokio::time::Instant::now();
    let running =
        tokio::spawn(schedule::run(Arc::clone(&proxy), vec![fault], t0, Duration::from_secs(2)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(proxy.toxics().is_empty());
    tokio::time::sleep(Duration::from_millis(250)).await;
    let ramping = proxy.toxics()[0].toxicity;
    assert!(ramping > 0.0 && ramping < 0.6, "{ramping}");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(proxy.toxics()[0].toxicity, 1.0);
    let windows = timeout(LIMIT, running).await.unwrap().unwrap();
    assert!(proxy.toxics().is_empty());
    assert_eq!(windows.len(), 1);
    let window = &windows[0];
    assert_eq!(window.kind, "latency");
    assert!((window.start.as_millis() as i64 - 200).abs() < 50, "{window:?}");
    assert!((window.stop.as_millis() as i64 - 900).abs() < 50, "{window:?}");
}
