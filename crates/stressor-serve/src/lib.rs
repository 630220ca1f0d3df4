//! A reference model server: any [`Model`](stressor_model::Model) over the KServe V2 / Open
//! Inference Protocol REST API, so load and fault scenarios have a real system under test that
//! starts with one command (`stressor serve`) or one call ([`Server::bind`], on `127.0.0.1:0`
//! in tests).
//!
//! Endpoints: `GET /v2`, `/v2/health/live`, `/v2/health/ready`, `/v2/models/{name}` (metadata),
//! `/v2/models/{name}/ready`, `POST /v2/models/{name}/infer` (also under
//! `/versions/{version}`), and `GET /metrics` (Prometheus text). An inference request carries
//! one tensor shaped `[n, ...input shape]` (any numeric datatype, data flat or nested, values in
//! the model's input range); the response has the scores (`logits` or `probabilities`, FP32
//! `[n, classes]`) and the arg-max `label` (INT64 `[n]`). Bad requests get a 4xx with
//! `{"error": "..."}` naming the field; bodies over the limit get 413; beyond the queue, 503.
//!
//! [`ServeConfig`] bounds the request size and batch, sets the number of inference slots and
//! the queue, and can add an artificial service time so saturation shows on a small machine.
//! Inference runs on tokio's blocking pool; the model is never called on the async workers.
//!
//! [`chat`] serves any [`IntentModel`](stressor_intent::IntentModel) (a chatbot) over an
//! OpenAI-compatible API with the same capacity limits and metrics, and can mirror its traffic
//! to a shadow candidate.
//!
//! [`MetricsServer`] exposes any run's live counters as `GET /metrics` on loopback (used by
//! `stressor load --metrics-addr`).
//!
//! Non-goals: the gRPC protocol, the binary tensor extension, several models per server.
//!
//! ```no_run
//! # async fn example(model: std::sync::Arc<dyn stressor_model::Model>) -> Result<(), stressor_serve::ServeError> {
//! use stressor_serve::{ServeConfig, Server};
//! let mut config = ServeConfig::default();
//! config.model_name = "fashion-cnn".into();
//! let server = Server::bind("127.0.0.1:0".parse().unwrap(), model, config).await?;
//! println!("serving on http://{}/v2/models/fashion-cnn/infer", server.local_addr());
//! server.shutdown().await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod capacity;
pub mod chat;
mod limit;
mod metrics;
mod protocol;
mod server;

use std::net::SocketAddr;

pub use limit::{CLIENT_HEADER, ClientLimit};
pub use metrics::{MetricsServer, Render};
pub use server::{ServeConfig, Server};

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The address could not be bound (in use, not local, no permission).
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The model failed on the warm-up sample.
    #[error("the model failed on a warm-up sample")]
    Model(#[from] stressor_model::ModelError),
    /// The chatbot model failed on the warm-up query.
    #[error("the chatbot model failed on a warm-up query")]
    Intent(#[from] stressor_intent::IntentError),
    /// The configuration is unusable.
    #[error("invalid server configuration: {0}")]
    Config(String),
    /// The server loop failed.
    #[error("the server failed")]
    Serve(#[source] std::io::Error),
}
