//! The system stress family (`[system]`): the scenario's model served over the Open Inference
//! Protocol on loopback (or its `http` endpoint loaded where it is), optionally behind
//! stressor's fault proxy, under an open-model load profile with surges while a fault
//! schedule runs; reported as per-second timelines, whole-run and per-window metrics and the
//! time to recover after each window.
//!
//! - [`options`] mirrors `[system]` (serde, unknown keys rejected);
//! - [`plan`] validates it into a [`SystemPlan`] (stages, faults, recovery tolerances, gates);
//! - `run` serves, proxies and loads, and turns the measurements into a `system` step;
//! - `live` reads the load's live counters once a second into `Event::Live` samples (rates,
//!   error rate, p50/p99, in flight, accuracy; notes when a fault or surge starts or ends).
//!
//! ```
//! let text = r#"
//! name = "surge"
//! [target]
//! kind = "builtin"
//! model = "fashion-cnn"
//! [data]
//! source = "builtin"
//! [system]
//! stages = ["5s@20", "2s@200", "5s@20"]
//! "#;
//! let scenario = stressor_scenario::plan(text, "s.toml".as_ref(), &[&stressor_system::System]).unwrap();
//! let system = scenario.part::<stressor_system::SystemPlan>().unwrap();
//! assert_eq!(system.baseline_rate(), 20.0);
//! ```

mod live;
pub mod options;
pub mod plan;
mod run;

use std::time::Duration;

use stressor_core::{Event, Gate, StepResult};
use stressor_scenario::{
    Document, EngineError, Family, Part, Planner, RunContext, ScenarioError, SubjectPlan,
};

pub use plan::{SYSTEM_METRICS, SystemPlan};
pub use run::SystemError;
pub use stressor_load::recovery::RecoveryPlan;

/// The system family.
#[derive(Debug, Clone, Copy, Default)]
pub struct System;

const KEYS: &[&str] = &["system"];

impl Family for System {
    fn name(&self) -> &'static str {
        "system"
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
        let options: options::SystemSection = document.section(KEYS)?;
        let planned = match (&options.system, subject) {
            (Some(system), Some(subject)) => plan::plan(planner, system, &subject.target),
            (Some(system), None) => {
                planner.problem(
                    system.span(),
                    "system",
                    "the systems run serves a model: the scenario needs `[target]` and `[data]`"
                        .into(),
                    Some("add [target] (e.g. kind = \"builtin\") and [data]".into()),
                );
                None
            }
            (None, _) => None,
        };
        // Problems were reported when there is no plan; the run never starts.
        Ok(Box::new(planned.unwrap_or_else(SystemPlan::empty)))
    }
}

impl SystemPlan {
    /// A plan with no load, stood in for one whose problems were reported.
    fn empty() -> SystemPlan {
        SystemPlan {
            profile: stressor_load::Profile::Open { stages: Vec::new() },
            connections: 1,
            timeout: Duration::from_secs(1),
            samples: 1,
            proxy: false,
            max_concurrency: None,
            queue_limit: 1,
            service_time: Duration::ZERO,
            faults: Vec::new(),
            recovery: RecoveryPlan::default(),
            gates: Vec::new(),
        }
    }
}

impl Part for SystemPlan {
    fn family(&self) -> &'static str {
        "system"
    }

    fn gates(&self) -> Vec<&Gate> {
        self.gates.iter().collect()
    }

    fn step_ids(&self) -> Vec<String> {
        vec![SystemPlan::STEP_ID.to_string()]
    }

    fn describe(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        writeln!(
            out,
            "system: load {}{}",
            run::describe_profile(&self.profile),
            if self.proxy { " through the fault proxy" } else { "" }
        )?;
        let serve = match self.max_concurrency {
            Some(slots) => format!("{slots} slot(s)"),
            None => "one slot per CPU".into(),
        };
        writeln!(
            out,
            "  {} connection(s), timeout {:.1} s, {} labelled samples; a local target is served with {serve}, queue {}, service time {:.1} ms",
            self.connections,
            self.timeout.as_secs_f64(),
            self.samples,
            self.queue_limit,
            self.service_time.as_secs_f64() * 1e3
        )?;
        for fault in &self.faults {
            let stop = fault
                .stop
                .map_or_else(|| "the end".to_string(), |s| format!("{:.1} s", s.as_secs_f64()));
            writeln!(
                out,
                "  fault {}: {} (toxicity {}) from {:.1} s to {stop}",
                fault.toxic.name,
                fault.toxic.kind.type_name(),
                fault.toxic.toxicity,
                fault.start.as_secs_f64()
            )?;
        }
        let recovery = &self.recovery;
        writeln!(
            out,
            "  recovered: {:.1} s in a row with p99 ≤ max({}× baseline, baseline + {} ms), error rate ≤ baseline + {}, accuracy ≥ baseline − {}",
            recovery.sustain.as_secs_f64(),
            recovery.p99_ratio,
            recovery.p99_slack_ms,
            recovery.error_rate_slack,
            recovery.accuracy_drop
        )?;
        for gate in &self.gates {
            writeln!(out, "  gate {}", gate.id)?;
        }
        Ok(())
    }

    fn run(&self, run: &mut RunContext<'_>) -> Result<Vec<StepResult>, EngineError> {
        let Some(subject) = run.subject else {
            return Err(EngineError::Family(Box::new(SystemError {
                reason: "the systems run needs the scenario's model and data".into(),
            })));
        };
        let result = run::run_system(
            run.config,
            self,
            subject.plan.map(|plan| &plan.target),
            subject.shared.clone(),
            subject.data,
            run.seed.derive("system"),
            run.clock,
            run.sink,
        )?;
        run.sink.event(&Event::StepFinished(result.clone()));
        Ok(vec![result])
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
