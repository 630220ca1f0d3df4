//! A fault-injecting proxy for systems stress: put it between a client (stressor's load
//! generator, an application) and a server (a model endpoint) and make the network and the
//! server misbehave on purpose.
//!
//! - **Byte toxics**, as Toxiproxy's and with its attribute names: `latency` (+ jitter),
//!   `bandwidth`, `slow_close`, `timeout` (and blackhole), `reset_peer`, `slicer`,
//!   `limit_data`; each on the `upstream` (client → server) or `downstream` stream, with a
//!   `toxicity` (the probability it acts on a connection, re-drawn whenever toxics change).
//! - **HTTP faults** Toxiproxy lacks, on whole HTTP/1.1 messages (the proxy reads a connection
//!   as HTTP when the client opens it with a request line): `http_status` (answer N without
//!   asking the server), `http_delay` (constant, uniform, normal, log-normal or exponential),
//!   `http_truncate`, `http_corrupt`, `http_drop_field` (a JSON pointer), `http_duplicate`
//!   (the server gets the request twice) and `http_reorder` (responses overtake each other);
//!   toxicity is per message.
//! - **Schedules** ([`schedule::run`]): faults that start at `t`, ramp, and stop at `t'`.
//! - **A Toxiproxy-compatible REST API** ([`ApiServer`], [`router`]) so `toxiproxy-cli`, the
//!   Toxiproxy client libraries and chaostoolkit-toxiproxy drive it unchanged, with
//!   `/metrics` in Prometheus text.
//!
//! Everything listens on loopback only, and an upstream outside loopback must be allowed by
//! name. Random draws derive from a [`Seed`](stressor_core::Seed): per proxy, then per
//! connection in accept order.
//!
//! Non-goals: TLS interception, HTTP/2, UDP.
//!
//! ```no_run
//! # async fn example() -> Result<(), stressor_proxy::ProxyError> {
//! use stressor_proxy::{Protocol, Proxy, ProxyConfig, Toxic, ToxicKind};
//! let proxy = Proxy::start(
//!     ProxyConfig {
//!         name: "model".into(),
//!         listen: "127.0.0.1:0".parse().unwrap(),
//!         upstream: "127.0.0.1:8080".into(),
//!         enabled: true,
//!         protocol: Protocol::Auto,
//!     },
//!     stressor_core::Seed::new(7),
//!     None,
//! )
//! .await?;
//! proxy.add_toxic(Toxic::new(ToxicKind::Latency { latency: 100, jitter: 10 }))?;
//! println!("clients now connect to {}", proxy.listen_addr());
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod api;
mod http;
mod link;
mod proxy;
pub mod schedule;
mod toxic;

use std::net::SocketAddr;

pub use api::{ApiServer, Registry, prometheus, router};
pub use proxy::{Protocol, Proxy, ProxyConfig, ProxyStats};
pub use toxic::{Delay, Stream, Toxic, ToxicKind};

/// Why a proxy operation failed. The API maps these to Toxiproxy's status codes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// A request or configuration is malformed; the message names the field (400).
    #[error("{0}")]
    Invalid(String),
    /// No proxy or toxic of that name (404).
    #[error("{0}")]
    NotFound(String),
    /// The name is taken (409).
    #[error("{0}")]
    Exists(String),
    /// The address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The API server failed.
    #[error("the proxy API failed")]
    Serve(#[source] std::io::Error),
}
