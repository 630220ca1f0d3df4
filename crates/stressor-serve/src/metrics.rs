//! A Prometheus endpoint for a run in progress: `GET /metrics` answers whatever the caller's
//! render function says, on loopback only.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse as _;
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
                async move {
                    let mut response = (StatusCode::OK, render()).into_response();
                    response.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/plain; version=0.0.4"),
                    );
                    response
                }
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
