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

pub use engine::{EngineConfig, EngineError, RunOutcome, load_model, run, run_drift, run_with};
pub use error::{Problem, ScenarioError};
pub use plan::{DriftPlan, Plan, load};

/// A scenario file of either form.
#[derive(Debug, Clone)]
#[expect(clippy::large_enum_variant, reason = "one per run")]
pub enum Scenario {
    /// A model under stress: `[target]`, `[data]`, steps, mitigations, a systems run.
    Model(Plan),
    /// A drifting stream and retraining policies: `[drift]`.
    Drift(DriftPlan),
}

/// Reads and plans the scenario at `path`: a drift scenario when its top level has `[drift]`,
/// a model scenario otherwise.
///
/// # Errors
/// As [`load`] and [`plan::plan_drift`].
pub fn load_scenario(path: &std::path::Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ScenarioError::Read { path: path.to_path_buf(), source })?;
    let is_drift = text
        .parse::<toml::Table>()
        .is_ok_and(|table| table.contains_key("drift") && !table.contains_key("target"));
    if is_drift {
        plan::plan_drift(&text, path).map(Scenario::Drift)
    } else {
        plan::plan(&text, path).map(Scenario::Model)
    }
}
