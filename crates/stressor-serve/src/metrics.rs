//! Prometheus text: an endpoint for a run in progress (`GET /metrics` answers whatever the
//! caller's render function says, on loopback only), and the pieces the servers' own
//! `/metrics` are written with (a latency histogram with fixed buckets, the response).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use crate::ServeError;
use crate::server::Running;

/// Renders the current metrics in the Prometheus text exposition format.
pub type Render = dyn Fn() -> String + Send + Sync;

/// A running metrics endpoint; stops on [`MetricsServer::shutdown`] or when dropped with its
/// runtime.
#[derive(Debug)]
pub struct MetricsServer {
    addr: SocketAddr,
    running: Running,
}

impl MetricsServer {
    /// Serves `GET /metrics` from `render` on `addr`, which must be a loopback address (port 0
    /// picks a free one).
    ///
    /// # Errors
    /// [`ServeError::Config`] for a non-loopback address, [`ServeError::Bind`] when it cannot
    /// be bound.
    pub async fn bind(addr: SocketAddr, render: Arc<Render>) -> Result<MetricsServer, ServeError> {
        if !addr.ip().is_loopback() {
            return Err(ServeError::Config(format!(
                "the metrics endpoint listens on loopback only, not {addr}"
            )));
        }
        let listener =
            TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr, source })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Bind { addr, source })?;
        let app = Router::new().route(
            "/metrics",
            get(move || {
                let render = Arc::clone(&render);
                async move { prometheus_response(render()) }
            }),
        );
        Ok(MetricsServer { addr, running: Running::spawn(listener, app) })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the endpoint.
    ///
    /// # Errors
    /// [`ServeError::Serve`] when the server loop failed.
    pub async fn shutdown(mut self) -> Result<(), ServeError> {
        self.running.stop().await
    }
}

/// A 200 response with `text` as the Prometheus text exposition format.
pub(crate) fn prometheus_response(text: String) -> Response {
    let mut response = (StatusCode::OK, text).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    response
}

/// The upper bounds of the latency buckets, in seconds (1 ms to 10 s, then `+Inf`).
const BUCKETS_S: [f64; 14] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, f64::INFINITY];

/// A Prometheus histogram of durations with fixed buckets, updated without locks.
#[derive(Debug, Default)]
pub(crate) struct LatencyHistogram {
    /// Observations per bucket (not cumulative; the exposition sums them).
    buckets: [AtomicU64; BUCKETS_S.len()],
    sum_us: AtomicU64,
    count: AtomicU64,
}

impl LatencyHistogram {
    /// Counts one duration.
    pub(crate) fn observe(&self, duration: Duration) {
        let seconds = duration.as_secs_f64();
        let bucket =
            BUCKETS_S.iter().position(|&bound| seconds <= bound).unwrap_or(BUCKETS_S.len() - 1);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(duration.as_micros() as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Appends the histogram `name` (`_bucket`, `_sum`, `_count`) with its help line.
    pub(crate) fn write_prometheus(&self, name: &str, help: &str, out: &mut String) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, bucket) in BUCKETS_S.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let le = if bound.is_infinite() { "+Inf".to_string() } else { bound.to_string() };
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let _ =
            writeln!(out, "{name}_sum {sum}\n{name}_count {}", self.count.load(Ordering::Relaxed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_at_inf() {
        let histogram = LatencyHistogram::default();
        histogram.observe(Duration::from_micros(500));
        histogram.observe(Duration::from_millis(30));
        histogram.observe(Duration::from_secs(60));
        let mut text = String::new();
        histogram.write_prometheus("t_seconds", "help", &mut text);
        assert!(text.starts_with("# HELP t_seconds help\n# TYPE t_seconds histogram\n"), "{text}");
        assert!(text.contains("t_seconds_bucket{le=\"0.001\"} 1\n"), "{text}");
        assert!(text.contains("t_seconds_bucket{le=\"0.025\"} 1\n"), "{text}");
        assert!(text.contains("t_seconds_bucket{le=\"0.05\"} 2\n"), "{text}");
        assert!(text.contains("t_seconds_bucket{le=\"10\"} 2\n"), "{text}");
        assert!(text.contains("t_seconds_bucket{le=\"+Inf\"} 3\n"), "{text}");
        assert!(text.contains("t_seconds_sum 60.0305\nt_seconds_count 3\n"), "{text}");
    }
}
