//! Scenarios: the shared machinery every stress family plugs into.
//!
//! A scenario is one TOML file. Its head (`name`, `description`, `seed`) and its subject (the
//! model under test and its data, `[target]` and `[data]`) are read here; every other
//! top-level key belongs to a [`Family`] (vision's `[[steps]]`, `[system]`, `[drift]`, …), which
//! plans its part against the shared [`Planner`] and runs it through a [`RunContext`]:
//!
//! - [`family`]: the seam — [`Family`] (which keys, how to plan them) and [`Part`] (a planned
//!   section: describe, gates, run);
//! - [`planner`]: problems with file, line, column and key; gates; dials and sweeps;
//! - [`target`] and [`data`]: the subject, planned and loaded (built-in models cached on disk,
//!   header values from the environment);
//! - [`plan`] / [`load`]: a file → [`Scenario`] with one part per family that takes part;
//! - [`run`]: load the subject, announce the run, run the parts, evaluate every gate, verdict.
//!
//! Non-goals: printing and choosing exit codes (the CLI does both); knowing any family.
//!
//! ```
//! # use stressor_scenario::family::{Family, Part, RunContext};
//! # use stressor_scenario::{Planner, SubjectPlan, Document, ScenarioError, EngineError};
//! /// A family with no keys of its own: it takes part whenever the file has a `[target]`.
//! struct Nothing;
//! #[derive(Debug)]
//! struct NothingPart;
//! impl Family for Nothing {
//!     fn name(&self) -> &'static str { "nothing" }
//!     fn keys(&self) -> &'static [&'static str] { &[] }
//!     fn takes_part(&self, document: &Document<'_>) -> bool { document.has("target") }
//!     fn plan(&self, _: &Document<'_>, _: &mut Planner<'_>, _: Option<&SubjectPlan>)
//!         -> Result<Box<dyn Part>, ScenarioError> { Ok(Box::new(NothingPart)) }
//! }
//! impl Part for NothingPart {
//!     fn family(&self) -> &'static str { "nothing" }
//!     fn gates(&self) -> Vec<&stressor_core::Gate> { Vec::new() }
//!     fn step_ids(&self) -> Vec<String> { Vec::new() }
//!     fn describe(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> { writeln!(out, "nothing") }
//!     fn run(&self, _: &mut RunContext<'_>) -> Result<Vec<stressor_core::StepResult>, EngineError> { Ok(Vec::new()) }
//!     fn as_any(&self) -> &dyn std::any::Any { self }
//! }
//! let text = "name = \"tiny\"\n[target]\nkind = \"builtin\"\nmodel = \"fashion-cnn\"\n[data]\nsource = \"builtin\"\nsamples = 100\n";
//! let scenario = stressor_scenario::plan(text, "tiny.toml".as_ref(), &[&Nothing]).unwrap();
//! assert_eq!(scenario.parts.len(), 1);
//! assert_eq!(scenario.subject.unwrap().data.samples, Some(100));
//! ```

pub mod data;
mod error;
pub mod family;
pub mod options;
pub mod planner;
mod run;
mod scenario;
pub mod target;

pub use error::{Problem, ScenarioError};
pub use family::{Family, Part, RunContext, Subject};
pub use planner::{Planner, fmt_value, fmt_values, same_dial};
pub use run::{EngineConfig, EngineError, RunOutcome, evaluate_gate, run, run_with};
pub use scenario::{DEFAULT_SEED, Document, RiskPlan, Scenario, SubjectPlan, load, plan};
pub use target::load_model;
