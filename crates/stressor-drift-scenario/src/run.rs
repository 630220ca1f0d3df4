//! Running a drift scenario: load the rows, run the recovery loop for every policy over the
//! same stream, report one step per policy with its timeline.

use stressor_core::{
    DriftTimeline, Estimate, Event, MetricValue, RunInfo, StepInfo, StepKind, StepPoint, StepResult,
};
use stressor_drift::recovery::{LoopConfig, LoopData, PolicyRun, run as run_loop};
use stressor_drift::stream::Onset;
use stressor_tabular::{Synthetic, Table, german_credit};

use stressor_scenario::{EngineError, RunContext};

use crate::plan::{DriftData, DriftPlan};

/// Why a drift scenario could not run (its data, a transform's column, a model fit).
#[derive(Debug, thiserror::Error)]
#[error("drift: {reason}")]
pub struct DriftError {
    /// What went wrong, naming the file or column.
    pub reason: String,
}

/// Runs the drift part: announces the run (the drifting data is its subject), runs the
/// recovery loop for every policy over one stream and reports one step per policy.
///
/// # Errors
/// A [`DriftError`] when the data cannot be read or split, a transform or feature names a bad
/// column, or a model cannot be fitted.
pub(crate) fn run_part(
    plan: &DriftPlan,
    run: &mut RunContext<'_>,
) -> Result<Vec<StepResult>, EngineError> {
    let seed = run.seed;
    let fail = |e: &dyn std::fmt::Display| {
        EngineError::Family(Box::new(DriftError { reason: e.to_string() }))
    };
    let (data, features, data_name) = match &plan.data {
        DriftData::Synthetic { features } => {
            let generator = Synthetic { features: *features, sharpness: 4.0 };
            let data = LoopData::synthetic(
                generator,
                plan.train_rows,
                plan.eval_rows,
                &plan.transforms,
                seed.derive("data"),
            )
            .map_err(|e| fail(&e))?;
            let names = plan.features.clone().unwrap_or_else(|| {
                let mut names: Vec<String> = (0..*features).map(|j| format!("x{j}")).collect();
                names.push("segment".into());
                names
            });
            (data, names, format!("synthetic ({features} numeric features + segment)"))
        }
        DriftData::GermanCredit | DriftData::File(_) => {
            let table = match &plan.data {
                DriftData::File(path) => Table::read(path).map_err(|e| fail(&e))?,
                _ => german_credit(),
            };
            let features = match &plan.features {
                Some(features) => features.clone(),
                None => table
                    .columns
                    .iter()
                    .map(|(n, _)| n.clone())
                    .filter(|n| *n != plan.target.0)
                    .collect(),
            };
            let data = LoopData::from_table(
                &table,
                (&plan.target.0, &plan.target.1),
                plan.eval_rows,
                plan.train_rows,
                &plan.transforms,
                seed.derive("data"),
            )
            .map_err(|e| fail(&e))?;
            let name = match &plan.data {
                DriftData::File(path) => path.display().to_string(),
                _ => "german-credit (vendored, 1 000 applicants)".into(),
            };
            (data, features, name)
        }
    };
    let mut data = data;
    let mut target_name = format!("{} (built-in, retrained in-process)", plan.model.name());
    if let Some((path, probabilities)) = &plan.onnx {
        data.initial = Some(onnx_scorer(path, *probabilities, &features)?);
        target_name =
            format!("{} (ONNX; retrains fit the built-in {})", path.display(), plan.model.name());
    }
    run.start(RunInfo {
        scenario_name: run.scenario_name.to_string(),
        scenario_source: run.scenario_source.to_string(),
        seed: seed.value(),
        target_name,
        target_kind: "tabular".into(),
        input_shape: vec![features.len()],
        class_names: vec![format!("not {}", plan.target.1), plan.target.1.clone()],
        data_name,
        n_samples: plan.eval_rows,
        stressor_version: run.config.stressor_version.clone(),
    });
    let sink = &mut *run.sink;
    let loop_config = LoopConfig {
        steps: plan.steps,
        batch_rows: plan.batch_rows,
        schedule: plan.schedule,
        transforms: plan.transforms.clone(),
        model: plan.model,
        features,
        target: plan.target.clone(),
        label_delay: plan.label_delay,
        window: plan.window,
        alpha: plan.alpha,
        correction: plan.correction,
        detector_window: plan.detector_window,
        tolerance: plan.tolerance,
        hold: plan.hold,
        ece_bins: plan.ece_bins,
    };
    let runs = run_loop(&data, &loop_config, &plan.policies, seed.derive("stream"))
        .map_err(|e| fail(&e))?;
    let mut results = Vec::with_capacity(runs.len());
    for run in &runs {
        let info = StepInfo {
            id: run.policy.name().to_string(),
            kind: StepKind::Drift,
            description: describe(plan, run),
            dial_name: Some("drift share".into()),
            dial_values: vec![plan.schedule.dial],
        };
        sink.event(&Event::StepStarted(info.clone()));
        sink.event(&Event::DriftTimeline(timeline(plan, run)));
        let result = StepResult {
            info,
            parameters: parameters(plan, run),
            points: vec![point(plan, run)],
            elapsed: std::time::Duration::from_secs_f64(run.seconds),
        };
        sink.event(&Event::StepFinished(result.clone()));
        results.push(result);
    }
    Ok(results)
}

fn describe(plan: &DriftPlan, run: &PolicyRun) -> String {
    let policy = match run.policy {
        stressor_drift::recovery::Policy::None => "no retraining".to_string(),
        stressor_drift::recovery::Policy::Periodic { every } => {
            format!("retraining every {every} steps")
        }
        stressor_drift::recovery::Policy::Triggered { cooldown } => {
            format!("retraining when the detector fires (cooldown {cooldown} steps)")
        }
    };
    let onset = match plan.schedule.onset {
        Onset::Sudden => "suddenly".to_string(),
        Onset::Gradual { steps } => format!("gradually over {steps} steps"),
    };
    format!(
        "{:.0} % drift from step {} ({onset}) over {} steps of {} rows; {policy}",
        plan.schedule.dial * 100.0,
        plan.schedule.start,
        plan.steps,
        plan.batch_rows
    )
}

fn parameters(plan: &DriftPlan, run: &PolicyRun) -> Vec<(String, String)> {
    let transforms: Vec<String> = plan.transforms.iter().map(ToString::to_string).collect();
    vec![
        ("model".into(), plan.model.name().into()),
        ("transforms".into(), transforms.join("; ")),
        ("label_delay".into(), plan.label_delay.to_string()),
        (
            "window".into(),
            format!("{} steps ({} rows)", plan.window, plan.window * plan.batch_rows),
        ),
        (
            "detector".into(),
            format!("KS/χ² per feature, {:?} at α = {}", plan.correction, plan.alpha),
        ),
        ("tolerance".into(), format!("{} for {} steps", plan.tolerance, plan.hold)),
        ("eval_rows".into(), plan.eval_rows.to_string()),
        ("policy".into(), run.policy.name().into()),
    ]
}

fn point(plan: &DriftPlan, run: &PolicyRun) -> StepPoint {
    let n = plan.eval_rows as u64;
    let proportion =
        |p: f64| Estimate::proportion((p * n as f64).round().clamp(0.0, n as f64) as u64, n);
    let steps = plan.steps as u64;
    let or_nan = |v: Option<usize>| v.map_or(f64::NAN, |v| v as f64);
    let mean_ms = if run.retrains.is_empty() {
        f64::NAN
    } else {
        run.retrains.iter().map(|r| r.seconds * 1e3).sum::<f64>() / run.retrains.len() as f64
    };
    let metric = |name: &str, estimate: Estimate| MetricValue { name: name.into(), estimate };
    StepPoint {
        dial_value: Some(plan.schedule.dial),
        metrics: vec![
            metric("pre_drift_accuracy", proportion(run.pre_drift_accuracy)),
            metric("worst_accuracy", proportion(run.worst_accuracy)),
            metric("final_accuracy", proportion(run.final_accuracy)),
            metric("pre_drift_ece", Estimate::exact(run.pre_drift_ece, n)),
            metric("final_ece", Estimate::exact(run.final_ece, n)),
            metric("time_to_detect_steps", Estimate::exact(or_nan(run.time_to_detect), steps)),
            metric("false_alarms", Estimate::exact(run.false_alarms as f64, steps)),
            metric("retrains", Estimate::exact(run.retrains.len() as f64, steps)),
            metric("retrain_wall_ms", Estimate::exact(mean_ms, run.retrains.len() as u64)),
            metric("time_to_recover_steps", Estimate::exact(or_nan(run.time_to_recover), steps)),
            metric("accuracy_lost", Estimate::exact(run.accuracy_lost, steps)),
        ],
        per_class: Vec::new(),
        confusion_growth: Vec::new(),
        exemplars: Vec::new(),
        loss_trace: Vec::new(),
        calibration: None,
    }
}

fn timeline(plan: &DriftPlan, run: &PolicyRun) -> DriftTimeline {
    DriftTimeline {
        step_id: run.policy.name().to_string(),
        policy: run.policy.name().to_string(),
        drift_start: plan.schedule.start,
        drift_full: plan.schedule.full().min(plan.steps.saturating_sub(1)),
        pre_drift_accuracy: run.pre_drift_accuracy,
        tolerance: plan.tolerance,
        points: run.steps.clone(),
        events: run.events.clone(),
    }
}

/// A user's ONNX classifier over the numeric `features` (in order) as the loop's first model;
/// class 1 is the positive class.
#[cfg(feature = "candle")]
fn onnx_scorer(
    path: &std::path::Path,
    probabilities: bool,
    features: &[String],
) -> Result<std::sync::Arc<dyn stressor_tabular::Scorer>, EngineError> {
    let spec = stressor_onnx::InputSpec {
        output: if probabilities {
            stressor_onnx::OutputKind::Probabilities
        } else {
            stressor_onnx::OutputKind::Logits
        },
        ..stressor_onnx::InputSpec::default()
    };
    let model = stressor_onnx::OnnxModel::load(path, spec, None).map_err(|source| {
        EngineError::Onnx { path: path.to_path_buf(), source: Box::new(source) }
    })?;
    let info = stressor_model::Model::info(&model);
    if info.input_shape != [features.len()] || info.n_classes != 2 {
        return Err(EngineError::Family(Box::new(DriftError {
            reason: format!(
                "{} takes input {:?} and gives {} classes; the scenario feeds {} features ({}) and needs 2 classes",
                path.display(),
                info.input_shape,
                info.n_classes,
                features.len(),
                features.join(", ")
            ),
        })));
    }
    Ok(std::sync::Arc::new(OnnxScorer { model, features: features.to_vec() }))
}

#[cfg(not(feature = "candle"))]
fn onnx_scorer(
    _path: &std::path::Path,
    _probabilities: bool,
    _features: &[String],
) -> Result<std::sync::Arc<dyn stressor_tabular::Scorer>, EngineError> {
    Err(EngineError::NoBackend)
}

/// An ONNX model fed a table's numeric feature columns as `[rows, features]`.
#[cfg(feature = "candle")]
#[derive(Debug)]
struct OnnxScorer {
    model: stressor_onnx::OnnxModel,
    features: Vec<String>,
}

#[cfg(feature = "candle")]
impl stressor_tabular::Scorer for OnnxScorer {
    fn score(&self, table: &Table) -> Result<Vec<f64>, stressor_tabular::TableError> {
        use stressor_tabular::{Column, TableError};
        let d = self.features.len();
        let mut data = vec![0.0f32; table.rows * d];
        for (j, name) in self.features.iter().enumerate() {
            let Column::Numeric(values) = table.require(name)? else {
                return Err(TableError::Shape(format!(
                    "the ONNX model takes numbers, but `{name}` is categorical"
                )));
            };
            if let Some(row) = values.iter().position(|v| v.is_nan()) {
                return Err(TableError::Shape(format!(
                    "the ONNX model cannot take the missing value of `{name}` on row {}",
                    row + 1
                )));
            }
            for (i, v) in values.iter().enumerate() {
                data[i * d + j] = *v as f32;
            }
        }
        let batch = stressor_core::Batch::new(data, vec![table.rows, d])
            .map_err(|e| TableError::Shape(e.to_string()))?;
        let scores = stressor_model::Model::predict(&self.model, &batch)
            .map_err(|e| TableError::Shape(format!("the ONNX model failed: {e}")))?;
        Ok(scores.probabilities().chunks(2).map(|p| f64::from(p[1])).collect())
    }
}

/// The built-in model for people: `logistic (C = 0.1)`, `boosted (100 trees of depth 3)`.
pub(crate) fn describe_model(plan: &DriftPlan) -> String {
    match &plan.model {
        stressor_tabular::ModelSpec::Logistic { c } => format!("logistic (C = {c})"),
        stressor_tabular::ModelSpec::Boosted(params) => {
            format!("boosted ({} trees of depth {})", params.trees, params.depth)
        }
    }
}

/// The drift schedule for people: `50 % drift from step 10, sudden`.
pub(crate) fn describe_schedule(plan: &DriftPlan) -> String {
    let onset = match plan.schedule.onset {
        Onset::Sudden => "sudden".to_string(),
        Onset::Gradual { steps } => format!("gradual over {steps} steps"),
    };
    format!(
        "{} % drift from step {}, {onset}",
        stressor_scenario::fmt_value(plan.schedule.dial * 100.0),
        plan.schedule.start
    )
}

/// A multiple-testing correction's name for people.
pub(crate) fn describe_correction(correction: stressor_drift::Correction) -> &'static str {
    match correction {
        stressor_drift::Correction::None => "no correction",
        stressor_drift::Correction::Bonferroni => "Bonferroni",
        stressor_drift::Correction::Holm => "Holm",
        stressor_drift::Correction::BenjaminiHochberg => "Benjamini–Hochberg",
        stressor_drift::Correction::BenjaminiYekutieli => "Benjamini–Yekutieli",
    }
}
