//! The seam every stress family implements.
//!
//! A family owns some top-level keys of the scenario file ([`Family::keys`]). When a scenario
//! uses them, the family reads its part of the file (its own serde types, unknown keys
//! rejected), plans it against the shared [`Planner`] — every problem with file, line, column
//! and key — and returns a [`Part`]: the planned, validated section that can describe itself,
//! name its gates and run against an [`EventSink`] through a [`RunContext`].
//!
//! Everything else is shared and does not grow with families: reading the file and locating
//! errors, the head (`name`, `description`, `seed`), the model under test and its data
//! (`[target]`, `[data]`: the [`Subject`]), dials and gates, evaluating the gates, the verdict
//! and the run's first and last events. A family never imports another family.

use std::any::Any;
use std::sync::Arc;

use stressor_core::{Clock, Dataset, EventSink, Gate, RunInfo, Seed, StepResult};
use stressor_model::Model;

use crate::planner::Planner;
use crate::scenario::{Document, SubjectPlan};
use crate::{EngineConfig, EngineError, ScenarioError};

/// A stress family: the owner of some top-level keys of the scenario file.
pub trait Family: Sync {
    /// Its name in messages (`vision`, `system`, `drift`).
    fn name(&self) -> &'static str;

    /// The top-level keys it reads (`["system"]`).
    fn keys(&self) -> &'static [&'static str];

    /// Whether it takes part in `document`: by default when any of its keys is there.
    fn takes_part(&self, document: &Document<'_>) -> bool {
        self.keys().iter().any(|key| document.has(key))
    }

    /// Reads and plans its part of `document`. Value problems go to `planner` (the part is
    /// still returned, with defaults in place of bad values, so every problem of the file is
    /// found in one go); `subject` is the planned `[target]` and `[data]`, when the file has
    /// them.
    ///
    /// # Errors
    /// [`ScenarioError::Parse`] when its keys do not match its format (an unknown key, a wrong
    /// type), as [`Document::section`] reports it.
    fn plan(
        &self,
        document: &Document<'_>,
        planner: &mut Planner<'_>,
        subject: Option<&SubjectPlan>,
    ) -> Result<Box<dyn Part>, ScenarioError>;
}

/// One family's planned part of a scenario.
pub trait Part: std::fmt::Debug + Send + Sync {
    /// The family's name.
    fn family(&self) -> &'static str;

    /// Its gates, in file order; they are evaluated after every part has run, over every
    /// part's steps.
    fn gates(&self) -> Vec<&Gate>;

    /// The ids of the steps it reports (for the uniqueness check across parts).
    fn step_ids(&self) -> Vec<String>;

    /// The size of the clean calibration split it needs from the subject's data (0: none).
    fn calibration_samples(&self) -> usize {
        0
    }

    /// The environment variables its own targets' header values refer to (`${TOKEN}`).
    fn env_vars(&self) -> Vec<String> {
        Vec::new()
    }

    /// Writes the plan for people (`stressor check`): one line per step or setting, indented
    /// under a line naming the part.
    ///
    /// # Errors
    /// The writer's.
    fn describe(&self, out: &mut dyn std::io::Write) -> std::io::Result<()>;

    /// Runs the part, sending its events to `run.sink`; the finished steps, in order.
    ///
    /// # Errors
    /// [`EngineError`] when the part cannot run at all (a failed attack or gate is a result).
    fn run(&self, run: &mut RunContext<'_>) -> Result<Vec<StepResult>, EngineError>;

    /// The part as [`Any`], so callers that know the family can read its plan.
    fn as_any(&self) -> &dyn Any;
}

/// What a part runs with.
pub struct RunContext<'a> {
    /// Settings from outside the file.
    pub config: &'a EngineConfig,
    /// The run's clock.
    pub clock: &'a dyn Clock,
    /// Where events go.
    pub sink: &'a mut dyn EventSink,
    /// The scenario's root seed (a `--seed` override included).
    pub seed: Seed,
    /// The scenario's name.
    pub scenario_name: &'a str,
    /// Where the scenario came from.
    pub scenario_source: &'a str,
    /// The loaded model and data, when the scenario has `[target]` and `[data]`.
    pub subject: Option<&'a Subject<'a>>,
    /// The steps earlier parts finished.
    pub earlier: &'a [StepResult],
    pub(crate) started: bool,
}

impl RunContext<'_> {
    /// Announces the run: for a family that brings its own subject (a scenario without
    /// `[target]`), once, before its first step. With a subject the run is already announced.
    pub fn start(&mut self, info: RunInfo) {
        if !self.started {
            self.started = true;
            self.sink.event(&stressor_core::Event::RunStarted(info));
        }
    }
}

/// The model under test and its data, loaded: what families that stress a model run against.
pub struct Subject<'a> {
    /// The planned `[target]` and `[data]`; `None` when the caller passed its own model
    /// ([`crate::run_with`]).
    pub plan: Option<&'a SubjectPlan>,
    /// The model (an ensemble as one model).
    pub model: &'a dyn Model,
    /// An ensemble's members.
    pub members: Option<&'a [Box<dyn Model>]>,
    /// The model, shared, when it may be served (not an ensemble, not the caller's).
    pub shared: Option<Arc<dyn Model>>,
    /// The evaluated samples.
    pub data: &'a Dataset,
    /// The clean calibration split, disjoint from `data`, when a part asked for one.
    pub calibration: Option<&'a Dataset>,
}
