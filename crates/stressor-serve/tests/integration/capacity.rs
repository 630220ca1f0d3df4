use std::time::Duration;

use crate::{SHORT, call, config, infer_body, start};

#[tokio::test]
async fn beyond_the_queue_requests_get_503_and_metrics_count_them() {
    let mut config = config();
    config.max_concurrency = 1;
    config.queue_limit = 1;
    config.service_time = Duration::from_millis(400);
    let server = start(config).await;
    let addr = server.local_addr();
    let body = infer_body(&[[0.2; 4]]);
    // One request in service, then one waiting, then one too many.
    let first = tokio::spawn({
        let body = body.clone();
        async move { call(addr, "POST", "/v2/models/toy/infer", &body).await }
    });
    tokio::time::sleep(SHORT).await;
    let second = tokio::spawn({
        let body = body.clone();
        async move { call(addr, "POST", "/v2/models/toy/infer", &body).await }
    });
    tokio::time::sleep(SHORT).await;
    let (status, text) = call(addr, "POST", "/v2/models/toy/infer", &body).await;
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("at capacity"), "{text}");
    assert_eq!(first.await.unwrap().0, 200);
    assert_eq!(second.await.unwrap().0, 200);
    let (_, metrics) = call(addr, "GET", "/metrics", "").await;
    assert!(metrics.contains("stressor_serve_rejected_total 1\n"), "{metrics}");
    assert!(metrics.contains("stressor_serve_requests_total 2\n"), "{metrics}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_lets_requests_in_flight_finish() {
    let mut config = config();
    config.service_time = Duration::from_millis(300);
    let server = start(config).await;
    let addr = server.local_addr();
    let in_flight = tokio::spawn(async move {
        call(addr, "POST", "/v2/models/toy/infer", &infer_body(&[[0.1; 4]])).await
    });
    tokio::time::sleep(SHORT).await;
    server.shutdown().await.unwrap();
    assert_eq!(in_flight.await.unwrap().0, 200);
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "no longer listening");
}

#[tokio::test]
async fn a_metrics_endpoint_serves_its_render_function_on_loopback_only() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let counter = Arc::new(AtomicU64::new(0));
    let render = {
        let counter = Arc::clone(&counter);
        Arc::new(move || format!("x_total {}\n", counter.fetch_add(1, Ordering::Relaxed)))
    };
    let server =
        stressor_serve::MetricsServer::bind("127.0.0.1:0".parse().unwrap(), render.clone())
            .await
            .unwrap();
    assert_eq!(call(server.local_addr(), "GET", "/metrics", "").await, (200, "x_total 0\n".into()));
    assert_eq!(call(server.local_addr(), "GET", "/metrics", "").await.1, "x_total 1\n");
    server.shutdown().await.unwrap();
    let refused = stressor_serve::MetricsServer::bind("0.0.0.0:0".parse().unwrap(), render).await;
    assert!(matches!(refused, Err(stressor_serve::ServeError::Config(_))));
}
