//! The vision stress family: a model under adversarial attacks (FGSM, PGD, APGD-CE, Square,
//! HopSkipJump), ImageNet-C corruptions and lighting shifts, each swept over its dial, with
//! calibration and conformal fallback measured at every point; ensembles (per-member metrics,
//! attack transfer) and mitigations (adversarial or augmented training, before/after).
//!
//! Its keys are `[steady_state]`, `[calibration]`, `[baseline]`, `[[steps]]` and
//! `[[mitigations]]`; it takes part in every scenario with a `[target]` (the steady state is
//! always measured) and runs against the scenario's subject.
//!
//! - [`options`] mirrors its keys (serde, unknown keys rejected);
//! - [`plan`] validates them into a [`VisionPlan`];
//! - `run`, `compare` and `measure` run it and report through events.
//!
//! ```
//! use stressor_scenario::Family as _;
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
//! let scenario = stressor_scenario::plan(text, "tiny.toml".as_ref(), &[&stressor_vision::Vision]).unwrap();
//! let vision = scenario.part::<stressor_vision::VisionPlan>().unwrap();
//! assert_eq!(vision.steps[0].dial_values.len(), 2);
//! assert_eq!(stressor_vision::Vision.name(), "vision");
//! ```

mod compare;
mod measure;
pub mod options;
pub mod plan;
mod run;

use stressor_core::{Gate, StepResult};
use stressor_scenario::{
    Document, EngineError, Family, Part, Planner, RunContext, ScenarioError, SubjectPlan, fmt_value,
};

pub use plan::VisionPlan;
pub use run::VisionError;

/// The vision family.
#[derive(Debug, Clone, Copy, Default)]
pub struct Vision;

/// The vision family's top-level keys.
const KEYS: &[&str] = &["steady_state", "calibration", "baseline", "steps", "mitigations"];

impl Family for Vision {
    fn name(&self) -> &'static str {
        "vision"
    }

    fn keys(&self) -> &'static [&'static str] {
        KEYS
    }

    /// Every scenario with a model under test measures its steady state.
    fn takes_part(&self, document: &Document<'_>) -> bool {
        document.has("target") || KEYS.iter().any(|key| document.has(key))
    }

    fn plan(
        &self,
        document: &Document<'_>,
        planner: &mut Planner<'_>,
        subject: Option<&SubjectPlan>,
    ) -> Result<Box<dyn Part>, ScenarioError> {
        let options: options::VisionOptions = document.section(KEYS)?;
        let Some(subject) = subject else {
            let (key, span) = document
                .keys()
                .into_iter()
                .find(|(key, _)| KEYS.contains(&key.as_str()))
                .unwrap_or_else(|| ("steps".into(), 0..0));
            planner.problem(
                span,
                &key,
                "steps, calibration and mitigations measure a model: the scenario needs `[target]` and `[data]`".into(),
                None,
            );
            return Ok(Box::new(plan::plan(
                planner,
                options,
                &stressor_scenario::target::TargetPlan::Builtin {
                    architecture: stressor_scenario::target::Architecture::FashionCnn,
                    train_seed: stressor_core::Seed::new(1),
                },
            )));
        };
        Ok(Box::new(plan::plan(planner, options, &subject.target)))
    }
}

impl Part for VisionPlan {
    fn family(&self) -> &'static str {
        "vision"
    }

    fn gates(&self) -> Vec<&Gate> {
        self.steady_state_gates
            .iter()
            .chain(self.steps.iter().flat_map(|s| &s.gates))
            .chain(self.mitigations.iter().flat_map(|m| &m.gates))
            .collect()
    }

    fn step_ids(&self) -> Vec<String> {
        let mut ids = vec!["steady-state".to_string()];
        ids.extend(self.steps.iter().map(|s| s.id.clone()));
        ids.extend(self.mitigations.iter().map(|m| m.id.clone()));
        ids
    }

    fn calibration_samples(&self) -> usize {
        self.calibration.samples
    }

    fn env_vars(&self) -> Vec<String> {
        VisionPlan::env_vars(self)
    }

    fn describe(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let calibration = &self.calibration;
        if calibration.samples > 0 {
            writeln!(
                out,
                "calibration: {} clean samples split off (conformal α = {}{}), {} bins",
                calibration.samples,
                calibration.alpha,
                if calibration.temperature_scaling { ", temperature scaling" } else { "" },
                calibration.bins
            )?;
        } else {
            writeln!(out, "calibration: no calibration split, {} bins", calibration.bins)?;
        }
        if let Some(baseline) = &self.baseline {
            writeln!(out, "baseline {baseline}")?;
        }
        writeln!(out, "steady state: {} gate(s)", self.steady_state_gates.len())?;
        for gate in &self.steady_state_gates {
            writeln!(out, "  gate {}", gate.id)?;
        }
        for step in &self.steps {
            writeln!(out, "step {}: {}", step.id, step.description())?;
            let values: Vec<String> = step.dial_values.iter().map(|v| fmt_value(*v)).collect();
            writeln!(
                out,
                "  sweep {} = [{}], batch size {}",
                step.dial_name,
                values.join(", "),
                step.batch_size
            )?;
            for gate in &step.gates {
                writeln!(out, "  gate {}", gate.id)?;
            }
        }
        for mitigation in &self.mitigations {
            let parameters: Vec<String> =
                mitigation.method.parameters().iter().map(|(k, v)| format!("{k}={v}")).collect();
            writeln!(
                out,
                "mitigation {}: {} {}, {} epoch(s), {} training images",
                mitigation.id,
                mitigation.method.name(),
                parameters.join(" "),
                mitigation.epochs,
                mitigation.train_samples.map_or("all".into(), |n| n.to_string())
            )?;
            writeln!(out, "  measured on {}", mitigation.steps.join(", "))?;
            for gate in &mitigation.gates {
                writeln!(out, "  gate {}", gate.id)?;
            }
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
