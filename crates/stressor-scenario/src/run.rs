//! Running a scenario: load the subject, announce the run, run every part in order, then
//! evaluate every gate over every part's steps and finish with the verdict.

use std::path::PathBuf;

use stressor_core::{
    Clock, Comparison, Dataset, Estimate, Event, EventSink, Gate, GateBound, GateOutcome, RunInfo,
    StepResult, Verdict,
};
use stressor_data::DataError;
use stressor_model::{Model, ModelError};

use crate::data::load_data;
use crate::family::{RunContext, Subject};
use crate::planner::same_dial;
use crate::scenario::Scenario;
use crate::target::load_target;

/// Settings that come from outside the scenario file.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Where trained built-in models are cached; no cache when `None`.
    pub cache_dir: Option<PathBuf>,
    /// Exemplars kept per dial value.
    pub exemplars_per_point: usize,
    /// The stressor version, for reports.
    pub stressor_version: String,
    /// Serve live Prometheus metrics (load counters, proxy counters) here during a systems
    /// run; loopback only.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Seeds a family that repeats its game plays (the war game's `--seeds`), overriding the
    /// scenario's.
    pub seeds: Option<usize>,
    /// The environment variables the plan's header values refer to
    /// ([`Scenario::env_vars`](crate::Scenario::env_vars)), read by the caller: the engine never reads
    /// the environment. Their values are never reported.
    pub env: std::collections::BTreeMap<String, String>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            cache_dir: None,
            exemplars_per_point: 6,
            stressor_version: env!("CARGO_PKG_VERSION").to_string(),
            metrics_addr: None,
            seeds: None,
            env: std::collections::BTreeMap::new(),
        }
    }
}

/// Why a run could not proceed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The data could not be loaded.
    #[error("failed to load data")]
    Data(#[from] DataError),
    /// The model could not be loaded or run.
    #[error("the model failed")]
    Model(#[from] ModelError),
    /// The data does not fit the model.
    #[error("data `{data}` does not fit model `{model}`: {reason}")]
    Mismatch {
        /// The data set.
        data: String,
        /// The model.
        model: String,
        /// What does not fit.
        reason: String,
    },
    /// The ONNX model could not be loaded.
    #[cfg(feature = "candle")]
    #[error("cannot load ONNX model {}", path.display())]
    Onnx {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<stressor_onnx::OnnxError>,
    },
    /// The calibration split could not be used.
    #[error("calibration: {reason}")]
    Calibration {
        /// What went wrong.
        reason: String,
    },
    /// This build has no tensor backend for the built-in models.
    #[error("this build of stressor has no candle backend for built-in models")]
    NoBackend,
    /// A header refers to an environment variable that is not set.
    #[error("header `{header}` needs the environment variable {variable}, which is not set")]
    Secret {
        /// The header's name.
        header: String,
        /// The variable.
        variable: String,
    },
    /// A family's part could not run (its own error type, e.g. an attack that cannot run, a
    /// server that cannot start, a drift stream that cannot be drawn).
    #[error(transparent)]
    Family(Box<dyn std::error::Error + Send + Sync>),
}

/// The outcome of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    /// Pass when every gate held.
    pub verdict: Verdict,
    /// Gates evaluated.
    pub n_gates: usize,
    /// Gates that failed.
    pub n_failed: usize,
}

/// Runs `scenario`, sending every event to `sink`.
///
/// # Errors
/// [`EngineError`] when the data or model cannot be loaded or a part cannot run at all.
pub fn run(
    scenario: &Scenario,
    config: &EngineConfig,
    clock: &dyn Clock,
    sink: &mut dyn EventSink,
) -> Result<RunOutcome, EngineError> {
    let started = clock.elapsed();
    let Some(plan) = &scenario.subject else {
        return run_parts(scenario, config, clock, sink, None, started);
    };
    let (data, calibration) = load_data(&plan.data, scenario.calibration_samples(), scenario.seed)?;
    let target = load_target(&plan.target, config, sink)?;
    let subject = Subject {
        plan: Some(plan),
        model: target.model(),
        members: target.members(),
        shared: target.shared(),
        data: &data,
        calibration: calibration.as_ref(),
    };
    run_parts(scenario, config, clock, sink, Some(&subject), started)
}

/// Runs `scenario` against a model and data set given by the caller (the scenario's `[target]`
/// and `[data]` are ignored, `data.samples` too, and there is no calibration split): for library
/// users with their own [`Model`].
///
/// # Errors
/// [`EngineError`] when the data does not fit the model or a part cannot run at all.
pub fn run_with(
    scenario: &Scenario,
    config: &EngineConfig,
    model: &dyn Model,
    data: &Dataset,
    clock: &dyn Clock,
    sink: &mut dyn EventSink,
) -> Result<RunOutcome, EngineError> {
    let started = clock.elapsed();
    let subject =
        Subject { plan: None, model, members: None, shared: None, data, calibration: None };
    run_parts(scenario, config, clock, sink, Some(&subject), started)
}

/// Announces the run (with a subject), runs the parts, evaluates the gates, finishes.
fn run_parts(
    scenario: &Scenario,
    config: &EngineConfig,
    clock: &dyn Clock,
    sink: &mut dyn EventSink,
    subject: Option<&Subject<'_>>,
    started: std::time::Duration,
) -> Result<RunOutcome, EngineError> {
    if let Some(subject) = subject {
        check_fit(subject)?;
        let info = subject.model.info();
        sink.event(&Event::RunStarted(RunInfo {
            scenario_name: scenario.name.clone(),
            scenario_source: scenario.source.clone(),
            seed: scenario.seed.value(),
            target_name: info.name.clone(),
            target_kind: info.kind.clone(),
            input_shape: info.input_shape.clone(),
            class_names: subject.data.class_names.clone(),
            data_name: subject.data.name.clone(),
            n_samples: subject.data.len(),
            stressor_version: config.stressor_version.clone(),
        }));
    }
    let mut results: Vec<StepResult> = Vec::new();
    for part in &scenario.parts {
        let finished = {
            let mut context = RunContext {
                config,
                clock,
                sink: &mut *sink,
                seed: scenario.seed,
                scenario_name: &scenario.name,
                scenario_source: &scenario.source,
                subject,
                earlier: &results,
                started: subject.is_some(),
            };
            part.run(&mut context)?
        };
        results.extend(finished);
    }
    let gates = scenario.gates();
    let mut n_failed = 0;
    for gate in &gates {
        let outcome = evaluate_gate(gate, &results);
        if !outcome.passed {
            n_failed += 1;
        }
        sink.event(&Event::GateEvaluated(outcome));
    }
    let verdict = if n_failed == 0 { Verdict::Pass } else { Verdict::Fail };
    sink.event(&Event::RunFinished { verdict, elapsed: clock.elapsed().saturating_sub(started) });
    Ok(RunOutcome { verdict, n_gates: gates.len(), n_failed })
}

/// Whether the data fits the model: sample shape and number of classes.
fn check_fit(subject: &Subject<'_>) -> Result<(), EngineError> {
    let (data, info) = (subject.data, subject.model.info());
    if data.inputs.sample_shape() != info.input_shape.as_slice() {
        return Err(EngineError::Mismatch {
            data: data.name.clone(),
            model: info.name.clone(),
            reason: format!(
                "samples have shape {:?}, the model takes {:?}",
                data.inputs.sample_shape(),
                info.input_shape
            ),
        });
    }
    if data.n_classes() != info.n_classes {
        return Err(EngineError::Mismatch {
            data: data.name.clone(),
            model: info.name.clone(),
            reason: format!(
                "{} classes in the data, {} in the model",
                data.n_classes(),
                info.n_classes
            ),
        });
    }
    Ok(())
}

/// Evaluates `gate` against the finished steps: the worst point of its step (at its dial value,
/// when it names one) decides; a missing step or metric fails it.
pub fn evaluate_gate(gate: &Gate, results: &[StepResult]) -> GateOutcome {
    let Some(result) = results.iter().find(|r| r.info.id == gate.step_id) else {
        return GateOutcome {
            gate: gate.clone(),
            observed: None,
            observed_at: None,
            passed: false,
        };
    };
    let candidates: Vec<(Option<f64>, Estimate)> = result
        .points
        .iter()
        .filter(|p| match (gate.at, p.dial_value) {
            (Some(at), Some(v)) => same_dial(at, v),
            (Some(_), None) => false,
            (None, _) => true,
        })
        .filter_map(|p| Some((p.dial_value, *p.metric(&gate.metric)?)))
        .collect();
    let key = |e: &Estimate| match gate.bound {
        GateBound::Value => e.value,
        GateBound::Lower => e.ci.map_or(f64::NAN, |ci| ci.lower),
        GateBound::Upper => e.ci.map_or(f64::NAN, |ci| ci.upper),
    };
    // The worst point decides: a NaN counts as worst of all.
    let worst = candidates.iter().min_by(|a, b| {
        let (ka, kb) = (key(&a.1), key(&b.1));
        let order = match gate.comparison {
            Comparison::AtLeast => ka.total_cmp(&kb),
            Comparison::AtMost => kb.total_cmp(&ka),
        };
        match (ka.is_nan(), kb.is_nan()) {
            (true, false) => std::cmp::Ordering::Less,
            (false, true) => std::cmp::Ordering::Greater,
            _ => order,
        }
    });
    match worst {
        Some((at, estimate)) => GateOutcome {
            gate: gate.clone(),
            observed: Some(*estimate),
            observed_at: *at,
            passed: gate.holds(estimate),
        },
        None => {
            GateOutcome { gate: gate.clone(), observed: None, observed_at: None, passed: false }
        }
    }
}
