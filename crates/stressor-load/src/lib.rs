//! An HTTP load generator for model-serving endpoints.
//!
//! A [`Profile`] says when requests start: *open* (an arrival rate in [`Stage`]s — constant,
//! ramps, a surge to N× — whatever the server does) or *closed* (N users, each waiting for its
//! answer). [`run`] keeps one HTTP/1.1 connection per worker; a dispatcher hands out intended
//! start times, and every latency is measured from the **intended** start, so a server that
//! stalls is charged for the requests queued behind the stall (coordinated omission corrected,
//! as wrk2 and oha `--latency-correction` do); the latency from the actual send is kept beside
//! it. Each worker fills its own [`LoadReport`] (HDR histograms, errors by kind, a per-second
//! timeline) and the reports are merged at the end. [`oip`] builds Open Inference Protocol
//! bodies from a data set and checks the returned labels, so accuracy under load is measured
//! too. [`recovery`] finds the surges of a profile and the time a run's per-second series takes
//! to come back within tolerance of its baseline after each surge or fault window.
//!
//! Load goes to loopback only unless the caller names the host ([`Target::resolve`]), and every
//! run is bounded by its profile's duration plus the timeout.
//!
//! Non-goals: HTTP/2, TLS (yet), scripting requests.
//!
//! ```no_run
//! # async fn example() -> Result<(), stressor_load::LoadError> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use stressor_load::{LoadConfig, Profile, Target, run};
//! let target = Target::resolve("http://127.0.0.1:8080/v2/health/ready", None).await?;
//! let config = LoadConfig::new(target, Profile::constant(200.0, Duration::from_secs(5)));
//! let report = run(config, Arc::new(|_, _: &[u8]| Ok(Default::default()))).await?;
//! println!("p99 {:?} ms, errors {:.3}", report.latency_ms(0.99), report.error_rate());
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod oip;
mod profile;
pub mod recovery;
mod report;
mod run;
mod target;

pub use profile::{Profile, Stage};
pub use report::{ErrorKind, LiveSnapshot, LiveStats, LoadReport, Second, latency_quantile};
pub use run::{Checked, LoadConfig, ResponseCheck, run};
pub use stressor_core::parse_duration;
pub use target::Target;

pub use hyper::Method;
/// Re-exported so callers can set the method and headers without depending on hyper.
pub use hyper::header::{HeaderName, HeaderValue};

/// A response body a [`ResponseCheck`] cannot read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the response body is not what the check expects")]
pub struct UnreadableBody;

/// Why a load run could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The URL is malformed or uses an unsupported scheme.
    #[error("invalid URL `{url}`: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The host did not resolve.
    #[error("cannot resolve `{host}`")]
    Resolve {
        /// The host.
        host: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The host is not loopback and was not allowed.
    #[error(
        "`{host}` is not a loopback address; load tests only target 127.0.0.0/8 and ::1 unless the host is allowed explicitly (--allow-host {host})"
    )]
    NotLoopback {
        /// The host.
        host: String,
    },
    /// The configuration is unusable.
    #[error("invalid load configuration: {0}")]
    Config(String),
}
