//! The drift stress family (`[drift]`): a seeded stream of tabular rows that drifts with a dial
//! (the share of rows from a drifted population; sudden or gradual), a detector on every
//! batch, and retraining policies (none, periodic, drift-triggered) compared over the same
//! stream on time to detect, retraining wall time, time to recover and accuracy lost.
//!
//! A drift scenario brings its own subject (`drift.data`, `drift.model`), so it has no
//! `[target]` or `[data]`; it announces the run itself.
//!
//! - [`options`] mirrors `[drift]` (serde, unknown keys rejected);
//! - [`plan`] validates it into a [`DriftPlan`];
//! - `run` runs stressor-drift's recovery loop and reports one `drift` step per policy.
//!
//! ```
//! let text = r#"
//! name = "credit"
//! [drift]
//! data = "german-credit"
//! dial = 0.5
//! [[drift.transforms]]
//! kind = "scale"
//! column = "credit_amount"
//! factor = 100
//! "#;
//! let scenario = stressor_scenario::plan(text, "d.toml".as_ref(), &[&stressor_drift_scenario::Drift]).unwrap();
//! let drift = scenario.part::<stressor_drift_scenario::DriftPlan>().unwrap();
//! assert_eq!(drift.policies.len(), 3);
//! ```

pub mod options;
pub mod plan;
mod run;

use stressor_core::{Gate, StepResult};
use stressor_scenario::{
    Document, EngineError, Family, Part, Planner, RunContext, ScenarioError, SubjectPlan,
};

pub use plan::{DRIFT_METRICS, DriftData, DriftPlan};
pub use run::DriftError;

/// The drift family.
#[derive(Debug, Clone, Copy, Default)]
pub struct Drift;

const KEYS: &[&str] = &["drift"];

impl Family for Drift {
    fn name(&self) -> &'static str {
        "drift"
    }

    fn keys(&self) -> &'static [&'static str] {
        KEYS
    }

    fn plan(
        &self,
        document: &Document<'_>,
        planner: &mut Planner<'_>,
        subject: Option<&SubjectPlan>,
    ) -> Result<Box<dyn Part>, ScenarioError> {
        let options: options::DriftSection = document.section(KEYS)?;
        planner.refuse_subject(
            document,
            subject,
            "a drift scenario brings its own data and model (`drift.data`, `drift.model`)",
            "move the drift to a file of its own",
        );
        Ok(Box::new(plan::plan(planner, options.drift)))
    }
}

impl Part for DriftPlan {
    fn family(&self) -> &'static str {
        "drift"
    }

    fn gates(&self) -> Vec<&Gate> {
        self.gates.iter().collect()
    }

    fn step_ids(&self) -> Vec<String> {
        self.policies.iter().map(|p| p.name().to_string()).collect()
    }

    fn describe(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let data = match &self.data {
            DriftData::GermanCredit => "german-credit (vendored, 1 000 applicants)".to_string(),
            DriftData::File(path) => path.display().to_string(),
            DriftData::Synthetic { features } => {
                format!("synthetic ({features} numeric features + segment)")
            }
        };
        writeln!(out, "data     {data}, target {} = {}", self.target.0, self.target.1)?;
        let model = match &self.onnx {
            Some((path, _)) => {
                format!("{} (ONNX; retrains fit {})", path.display(), run::describe_model(self))
            }
            None => run::describe_model(self),
        };
        writeln!(out, "model    {model}")?;
        writeln!(
            out,
            "stream   {} steps × {} rows, {}",
            self.steps,
            self.batch_rows,
            run::describe_schedule(self)
        )?;
        for transform in &self.transforms {
            writeln!(out, "  transform {transform}")?;
        }
        writeln!(
            out,
            "detector KS/χ² per feature, {} at α = {}; labels {} step(s) late; retrain on {} step(s)",
            run::describe_correction(self.correction),
            self.alpha,
            self.label_delay,
            self.window
        )?;
        let policies: Vec<&str> = self.policies.iter().map(|p| p.name()).collect();
        writeln!(out, "policies {}", policies.join(", "))?;
        for gate in &self.gates {
            writeln!(out, "  gate {}", gate.id)?;
        }
        Ok(())
    }

    fn run(&self, run: &mut RunContext<'_>) -> Result<Vec<StepResult>, EngineError> {
        run::run_part(self, run)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
