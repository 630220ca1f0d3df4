//! A run's live dashboard, in the manner of k6's web dashboard: a page on loopback with a line
//! chart per step and series, the event log and the gates, fed by server-sent events; and the
//! same run saved as NDJSON and as one offline page that replays it.
//!
//! - [`Dashboard`] serves `GET /` (the page: HTML, CSS and script in one file, nothing fetched
//!   but the stream) and `GET /events` (`text/event-stream`) on a loopback address only. A
//!   client that connects late is sent the run so far first (bounded in memory: see
//!   [`MAX_POINTS`], [`MAX_NOTES`], [`MAX_EVENTS`]), then each event as it happens; after
//!   `finished` the stream ends.
//! - [`DashboardSink`] is the [`EventSink`](stressor_core::EventSink) that feeds it; it never
//!   waits for a browser.
//! - [`Recorder`] writes every event as one NDJSON line; [`write_offline_page`] embeds such a
//!   recording in the page (`dashboard.ndjson` and `dashboard.html` beside a run's reports).
//!
//! The events and their JSON payloads are in [`wire`]'s documentation and in
//! `docs/dashboard.md`. The page is generic over series names: a `live` event's values are
//! charted by name, one chart per step and name prefix (`approval_rate.female` and
//! `approval_rate.male` share the chart `approval_rate`).
//!
//! Non-goals: controlling the run from the page, authentication (it listens on loopback only
//! and answers only requests addressed to a loopback host), several runs per server.
//!
//! ```
//! use stressor_core::EventSink as _;
//! let dashboard = stressor_dashboard::Dashboard::start("127.0.0.1:0".parse().unwrap())?;
//! let mut sink = dashboard.sink();
//! sink.event(&stressor_core::Event::Live(stressor_core::LiveSample {
//!     step_id: "system".into(),
//!     t_s: 1.0,
//!     values: vec![("p99_ms".into(), 12.5)],
//!     notes: vec!["fault `slow` starts".into()],
//! }));
//! println!("open {}", dashboard.url());
//! dashboard.close();
//! # Ok::<(), stressor_dashboard::DashboardError>(())
//! ```

#![warn(missing_docs)]

mod history;
mod page;
mod record;
mod server;
pub mod wire;

use std::net::SocketAddr;

pub use history::{MAX_EVENTS, MAX_NOTES, MAX_POINTS};
pub use record::{Recorder, write_offline_page};
pub use server::{Dashboard, DashboardSink};

/// Why the dashboard could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DashboardError {
    /// The address is not a loopback address.
    #[error("the dashboard listens on loopback only, not {addr}")]
    NotLoopback {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The address could not be bound (in use, no permission).
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The dashboard's runtime could not start.
    #[error("cannot start the dashboard's runtime")]
    Runtime(#[source] std::io::Error),
}
