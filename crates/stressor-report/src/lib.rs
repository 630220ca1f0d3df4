//! Reporters of stressor: everything that turns a run into something to read.
//!
//! A [`Collector`] receives the run's [`Event`](stressor_core::Event)s and accumulates them into
//! a [`RunRecord`]; every reporter works from a record:
//!
//! - [`json`] converts it to the stable [`stressor_schema::Report`] and writes pretty JSON;
//! - [`junit`] writes JUnit XML, one test case per step and per gate, for CI dashboards;
//! - [`html`] writes one self-contained HTML file with charts and exemplar images;
//! - [`summary`] writes the terminal summary as plain text.
//!
//! Non-goals: running anything (reporters never see an engine) and printing. Writers take an
//! [`std::io::Write`] or return a `String`, and the CLI decides where output goes.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use stressor_core::{Event, EventSink, RunInfo, Verdict};
//! use stressor_report::{Collector, summary};
//!
//! let mut collector = Collector::new();
//! collector.event(&Event::RunStarted(RunInfo {
//!     scenario_name: "smoke".into(),
//!     scenario_source: "scenarios/smoke.toml".into(),
//!     seed: 42,
//!     target_name: "fashion-cnn".into(),
//!     target_kind: "builtin".into(),
//!     input_shape: vec![1, 28, 28],
//!     class_names: vec!["T-shirt".into(), "Trouser".into()],
//!     data_name: "fashion-mnist/test".into(),
//!     n_samples: 100,
//!     stressor_version: "0.1.0".into(),
//! }));
//! collector.event(&Event::RunFinished { verdict: Verdict::Pass, elapsed: Duration::from_secs(1) });
//! let record = collector.into_record()?;
//!
//! let mut out = Vec::new();
//! summary::write(&record, &summary::SummaryConfig::default(), &mut out)?;
//! assert!(String::from_utf8(out)?.contains("verdict PASS"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod chart;
mod error;
mod image;
mod number;
mod recommender;
mod record;
mod window;

pub mod html;
pub mod json;
pub mod junit;
pub mod summary;

pub use error::Error;
pub use record::{Collector, RunRecord};
