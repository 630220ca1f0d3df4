//! Scenarios: the TOML format, the validated plan, and the engine that runs it.
//!
//! - [`options`] mirrors the file (serde, unknown keys rejected);
//! - [`plan`] validates and resolves it into a [`Plan`] (no serde, every value checked, every
//!   problem reported with file, line, column and key);
//! - [`engine`] runs a plan and reports through [`stressor_core::Event`]s to an
//!   [`stressor_core::EventSink`], evaluating gates into a [`stressor_core::Verdict`].
//!
//! Non-goals: printing and choosing exit codes (the CLI does both).
//!
//! ```
//! let text = r#"
//! name = "tiny"
//! [target]
//! kind = "builtin"
//! model = "fashion-cnn"
//! [data]
//! source = "builtin"
//! samples = 100
//! [[steps]]
//! id = "fgsm"
//! kind = "attack"
//! attack = "fgsm"
//! sweep = { epsilon = ["2/255", "8/255"] }
//! "#;
//! let plan = stressor_scenario::plan::plan(text, "tiny.toml".as_ref()).unwrap();
//! assert_eq!(plan.steps[0].dial_values.len(), 2);
//! ```

pub mod engine;
mod error;
mod measure;
pub mod options;
pub mod plan;

pub use engine::{EngineConfig, EngineError, RunOutcome, load_model, run, run_with};
pub use error::{Problem, ScenarioError};
pub use plan::{Plan, load};
