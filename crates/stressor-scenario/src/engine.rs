//! Runs a [`Plan`] and reports through events.
//!
//! The engine loads the data and the model, measures the steady state, runs every step at
//! every dial value, emits a [`StepResult`] per step, evaluates the gates and finishes with a
//! verdict. A failed attack is a result; `Err` means the run could not proceed.

use rand::Rng as _;
use std::path::PathBuf;
use stressor_attack::{Attack, AttackError, Goal};
use stressor_core::{
    Batch, ClassAccuracy, Clock, Comparison, ConfusionGrowth, Dataset, Estimate, Event, EventSink,
    Exemplar, Gate, GateBound, GateOutcome, MetricValue, RunInfo, Seed, StepInfo, StepKind,
    StepPoint, StepResult, Verdict, Warning,
};
use stressor_data::DataError;
use stressor_model::{Model, ModelError};

use crate::plan::{
    AttackKind, AttackPlan, DataSource, NormKind, Plan, StepPlan, Stress, TargetPlan, TargetRule,
    same_dial,
};

/// The version of the built-in model's training recipe (architecture, data slice, initialisation)
/// in cache file names; bump it when any of them changes.
#[cfg(feature = "candle")]
const MODEL_RECIPE: &str = "r1";

/// Settings that come from outside the scenario file.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Where trained built-in models are cached; no cache when `None`.
    pub cache_dir: Option<PathBuf>,
    /// Exemplars kept per dial value.
    pub exemplars_per_point: usize,
    /// The stressor version, for reports.
    pub stressor_version: String,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            cache_dir: None,
            exemplars_per_point: 6,
            stressor_version: env!("CARGO_PKG_VERSION").to_string(),
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
    /// An attack could not run against this target.
    #[error("step `{step}`: attack cannot run")]
    Attack {
        /// The step.
        step: String,
        /// The cause.
        #[source]
        source: AttackError,
    },
    /// This build has no tensor backend for the built-in models.
    #[error("this build of stressor has no candle backend for built-in models")]
    NoBackend,
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

/// Runs `plan`, sending every event to `sink`.
///
/// # Errors
/// [`EngineError`] when the data or model cannot be loaded or a step cannot run at all.
pub fn run(
    plan: &Plan,
    config: &EngineConfig,
    clock: &dyn Clock,
    sink: &mut dyn EventSink,
) -> Result<RunOutcome, EngineError> {
    let data = load_data(plan)?;
    let model = load_model(plan, config, sink)?;
    run_with(plan, config, model.as_ref(), &data, clock, sink)
}

/// Runs `plan` against a model and data set given by the caller (the plan's `target` and
/// `data` sections are ignored, `data.samples` too): for library users with their own [`Model`].
///
/// # Errors
/// [`EngineError`] when the data does not fit the model or a step cannot run at all.
pub fn run_with(
    plan: &Plan,
    config: &EngineConfig,
    model: &dyn Model,
    data: &Dataset,
    clock: &dyn Clock,
    sink: &mut dyn EventSink,
) -> Result<RunOutcome, EngineError> {
    let started = clock.elapsed();
    let info = model.info().clone();
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
    sink.event(&Event::RunStarted(RunInfo {
        scenario_name: plan.name.clone(),
        scenario_source: plan.source.clone(),
        seed: plan.seed.value(),
        target_name: info.name.clone(),
        target_kind: info.kind.clone(),
        input_shape: info.input_shape.clone(),
        class_names: data.class_names.clone(),
        data_name: data.name.clone(),
        n_samples: data.len(),
        stressor_version: config.stressor_version.clone(),
    }));

    let clean_predictions = predict_all(model, &data.inputs)?;
    let mut runner = Runner { plan, config, clock, sink, model, data, clean_predictions };
    let steady = runner.steady_state();
    let mut results = vec![steady];
    for step in &plan.steps {
        let result = runner.step(step)?;
        results.push(result);
    }
    runner.cross_step_warnings(&results);

    let gates: Vec<&Gate> =
        plan.steady_state_gates.iter().chain(plan.steps.iter().flat_map(|s| &s.gates)).collect();
    let mut n_failed = 0;
    for gate in &gates {
        let outcome = evaluate_gate(gate, &results);
        if !outcome.passed {
            n_failed += 1;
        }
        runner.sink.event(&Event::GateEvaluated(outcome));
    }
    let verdict = if n_failed == 0 { Verdict::Pass } else { Verdict::Fail };
    runner
        .sink
        .event(&Event::RunFinished { verdict, elapsed: clock.elapsed().saturating_sub(started) });
    Ok(RunOutcome { verdict, n_gates: gates.len(), n_failed })
}

fn load_data(plan: &Plan) -> Result<Dataset, EngineError> {
    let data = match &plan.data.source {
        DataSource::FashionMnist { test_split } => {
            let split = if *test_split {
                stressor_data::fashion_mnist::Split::Test
            } else {
                stressor_data::fashion_mnist::Split::Train
            };
            stressor_data::fashion_mnist::load(split, None)?
        }
        DataSource::Idx { images, labels, class_names } => {
            let name = images
                .file_name()
                .map_or_else(|| "idx".to_string(), |n| n.to_string_lossy().into_owned());
            stressor_data::load_idx_files(images, labels, class_names.clone(), &name)?
        }
    };
    Ok(match plan.data.samples {
        Some(n) if n < data.len() => {
            stressor_data::sample(&data, n, plan.seed.derive("data/sample"))
        }
        _ => data,
    })
}

#[cfg(feature = "candle")]
fn load_model(
    plan: &Plan,
    config: &EngineConfig,
    sink: &mut dyn EventSink,
) -> Result<Box<dyn Model>, EngineError> {
    use stressor_model::builtin::{FashionCnn, TrainConfig, TrainProgress};
    match &plan.target {
        TargetPlan::Safetensors { path, .. } => Ok(Box::new(FashionCnn::load(path)?)),
        TargetPlan::Builtin { train_seed, .. } => {
            let train_config = TrainConfig::default();
            // The name carries everything the weights depend on, so a changed recipe retrains.
            let cache_file = config.cache_dir.as_ref().map(|dir| {
                dir.join(format!(
                    "fashion-cnn-{MODEL_RECIPE}-e{}-b{}-lr{}-seed{}.safetensors",
                    train_config.epochs,
                    train_config.batch_size,
                    train_config.learning_rate,
                    train_seed.value()
                ))
            });
            if let Some(file) = &cache_file
                && file.exists()
            {
                match FashionCnn::load(file) {
                    Ok(model) => return Ok(Box::new(model)),
                    Err(error) => sink.event(&Event::Warning(Warning {
                        step_id: None,
                        code: "cache/unreadable".into(),
                        message: format!(
                            "cached model {} is unreadable ({error}); retraining",
                            file.display()
                        ),
                    })),
                }
            }
            let train = stressor_data::fashion_mnist::load(
                stressor_data::fashion_mnist::Split::Train,
                None,
            )?;
            let mut progress = |p: TrainProgress| {
                let total = (p.n_epochs * p.n_steps) as u64;
                let done = (p.epoch * p.n_steps + p.step + 1) as u64;
                sink.event(&Event::Progress { step_id: "train".into(), done, total });
            };
            let model =
                stressor_model::builtin::train(&train, &train_config, *train_seed, &mut progress)?;
            if let Some(file) = &cache_file {
                let saved = file
                    .parent()
                    .map_or(Ok(()), std::fs::create_dir_all)
                    .map_err(|source| ModelError::Read { path: file.display().to_string(), source })
                    .and_then(|()| model.save(file));
                if let Err(error) = saved {
                    sink.event(&Event::Warning(Warning {
                        step_id: None,
                        code: "cache/unwritable".into(),
                        message: format!(
                            "could not cache the trained model at {} ({error})",
                            file.display()
                        ),
                    }));
                }
            }
            Ok(Box::new(model))
        }
    }
}

#[cfg(not(feature = "candle"))]
fn load_model(
    _plan: &Plan,
    _config: &EngineConfig,
    _sink: &mut dyn EventSink,
) -> Result<Box<dyn Model>, EngineError> {
    Err(EngineError::NoBackend)
}

struct Runner<'a> {
    plan: &'a Plan,
    config: &'a EngineConfig,
    clock: &'a dyn Clock,
    sink: &'a mut dyn EventSink,
    model: &'a dyn Model,
    data: &'a Dataset,
    clean_predictions: Vec<u32>,
}

/// Batch size for plain predictions.
const PREDICT_BATCH: usize = 512;

fn predict_all(model: &dyn Model, inputs: &Batch) -> Result<Vec<u32>, ModelError> {
    let mut predictions = Vec::with_capacity(inputs.len());
    for start in (0..inputs.len()).step_by(PREDICT_BATCH) {
        let end = (start + PREDICT_BATCH).min(inputs.len());
        predictions.extend(model.predict(&inputs.slice(start, end))?.predictions());
    }
    Ok(predictions)
}

impl Runner<'_> {
    fn steady_state(&mut self) -> StepResult {
        let started = self.clock.elapsed();
        let info = StepInfo {
            id: "steady-state".into(),
            kind: StepKind::SteadyState,
            description: "clean data, no stress".into(),
            dial_name: None,
            dial_values: Vec::new(),
        };
        self.sink.event(&Event::StepStarted(info.clone()));
        let predictions = &self.clean_predictions;
        let correct = count_correct(predictions, &self.data.labels);
        let per_class = per_class(self.data, predictions, predictions);
        let point = StepPoint {
            dial_value: None,
            metrics: vec![metric(
                "clean_accuracy",
                Estimate::proportion(correct, self.data.len() as u64),
            )],
            per_class,
            confusion_growth: Vec::new(),
            exemplars: Vec::new(),
            loss_trace: Vec::new(),
        };
        let result = StepResult {
            info,
            parameters: vec![("samples".into(), self.data.len().to_string())],
            points: vec![point],
            elapsed: self.clock.elapsed().saturating_sub(started),
        };
        self.sink.event(&Event::StepFinished(result.clone()));
        result
    }

    fn step(&mut self, step: &StepPlan) -> Result<StepResult, EngineError> {
        let Stress::Attack(attack_plan) = &step.stress;
        let started = self.clock.elapsed();
        let info = StepInfo {
            id: step.id.clone(),
            kind: StepKind::Attack,
            description: step.description(),
            dial_name: Some(step.dial_name.clone()),
            dial_values: step.dial_values.clone(),
        };
        self.sink.event(&Event::StepStarted(info.clone()));
        let attack = build_attack(attack_plan);
        let seed = self.plan.seed.derive(&format!("step/{}", step.id));
        let clean_predictions = self.clean_predictions.clone();
        let targets =
            choose_targets(attack_plan.targeted, self.data, self.model, seed.derive("targets"))?;
        // Only samples the model gets right (and, for a fixed target, not of that class) are
        // attacked; the others are already failures (or not applicable).
        let attacked: Vec<usize> = (0..self.data.len())
            .filter(|&i| clean_predictions[i] == self.data.labels[i])
            .filter(|&i| targets.as_ref().is_none_or(|t| t[i] != self.data.labels[i]))
            .collect();
        let total = (attacked.len() * step.dial_values.len()) as u64;
        let mut done = 0;
        let mut points = Vec::with_capacity(step.dial_values.len());
        for (dial_idx, &epsilon) in step.dial_values.iter().enumerate() {
            let point_seed = seed.derive_index(dial_idx as u64);
            let mut adversarial = self.data.inputs.clone();
            let mut queries = vec![0u64; self.data.len()];
            let mut loss_sum: Vec<f64> = Vec::new();
            for (chunk_idx, chunk) in attacked.chunks(step.batch_size).enumerate() {
                let inputs = self.data.inputs.select(chunk);
                let labels: Vec<u32> = chunk.iter().map(|&i| self.data.labels[i]).collect();
                let goal = match &targets {
                    Some(t) => Goal::Targeted(chunk.iter().map(|&i| t[i]).collect()),
                    None => Goal::Untargeted,
                };
                let outcome = attack
                    .run(
                        self.model,
                        &inputs,
                        &labels,
                        &goal,
                        epsilon as f32,
                        point_seed.derive_index(chunk_idx as u64),
                        &mut |_, _| {},
                    )
                    .map_err(|source| EngineError::Attack { step: step.id.clone(), source })?;
                for (k, &i) in chunk.iter().enumerate() {
                    adversarial.sample_mut(i).copy_from_slice(outcome.adversarial.sample(k));
                    queries[i] = outcome.queries.get(k).copied().unwrap_or(0);
                }
                if loss_sum.len() < outcome.loss_trace.len() {
                    loss_sum.resize(outcome.loss_trace.len(), 0.0);
                }
                for (sum, loss) in loss_sum.iter_mut().zip(&outcome.loss_trace) {
                    *sum += loss * chunk.len() as f64;
                }
                done += chunk.len() as u64;
                self.sink.event(&Event::Progress { step_id: step.id.clone(), done, total });
            }
            let loss_trace: Vec<f64> =
                loss_sum.iter().map(|s| s / attacked.len().max(1) as f64).collect();
            let adversarial_predictions = predict_all(self.model, &adversarial)?;
            points.push(self.point(
                epsilon,
                attack_plan,
                &attacked,
                targets.as_deref(),
                &clean_predictions,
                &adversarial,
                &adversarial_predictions,
                &queries,
                loss_trace,
                point_seed,
            ));
        }
        let result = StepResult {
            info,
            parameters: attack_parameters(attack_plan, step),
            points,
            elapsed: self.clock.elapsed().saturating_sub(started),
        };
        self.step_warnings(&result, attack_plan);
        self.sink.event(&Event::StepFinished(result.clone()));
        Ok(result)
    }

    #[expect(clippy::too_many_arguments, reason = "one call site; a struct would only rename them")]
    fn point(
        &self,
        epsilon: f64,
        attack_plan: &AttackPlan,
        attacked: &[usize],
        targets: Option<&[u32]>,
        clean_predictions: &[u32],
        adversarial: &Batch,
        adversarial_predictions: &[u32],
        queries: &[u64],
        loss_trace: Vec<f64>,
        seed: Seed,
    ) -> StepPoint {
        let data = self.data;
        let n = data.len() as u64;
        let clean_correct = count_correct(clean_predictions, &data.labels);
        let robust_correct = count_correct(adversarial_predictions, &data.labels);
        let succeeded: Vec<usize> = attacked
            .iter()
            .copied()
            .filter(|&i| match targets {
                Some(t) => adversarial_predictions[i] == t[i],
                None => adversarial_predictions[i] != data.labels[i],
            })
            .collect();
        let mut linf = Vec::with_capacity(succeeded.len());
        let mut l2 = Vec::with_capacity(succeeded.len());
        for &i in &succeeded {
            let (a, b) = norms(data.inputs.sample(i), adversarial.sample(i));
            linf.push(a);
            l2.push(b);
        }
        let mut metrics = vec![
            metric("clean_accuracy", Estimate::proportion(clean_correct, n)),
            metric("robust_accuracy", Estimate::proportion(robust_correct, n)),
            metric(
                "attack_success_rate",
                Estimate::proportion(succeeded.len() as u64, attacked.len() as u64),
            ),
            metric("perturbation_linf_mean", Estimate::mean(&linf, seed.derive("ci/linf-mean"))),
            metric(
                "perturbation_linf_median",
                Estimate::median(&linf, seed.derive("ci/linf-median")),
            ),
            metric("perturbation_l2_mean", Estimate::mean(&l2, seed.derive("ci/l2-mean"))),
            metric("perturbation_l2_median", Estimate::median(&l2, seed.derive("ci/l2-median"))),
        ];
        if attack_plan.kind == AttackKind::Square {
            let q: Vec<f64> = succeeded.iter().map(|&i| queries[i] as f64).collect();
            metrics.push(metric(
                "queries_per_success_mean",
                Estimate::mean(&q, seed.derive("ci/q-mean")),
            ));
            metrics.push(metric(
                "queries_per_success_median",
                Estimate::median(&q, seed.derive("ci/q-median")),
            ));
        }
        let exemplars = succeeded
            .iter()
            .take(self.config.exemplars_per_point)
            .map(|&i| Exemplar {
                index: i,
                label: data.labels[i],
                clean_prediction: clean_predictions[i],
                stressed_prediction: adversarial_predictions[i],
                shape: data.inputs.sample_shape().to_vec(),
                clean: data.inputs.sample(i).to_vec(),
                stressed: adversarial.sample(i).to_vec(),
            })
            .collect();
        StepPoint {
            dial_value: Some(epsilon),
            metrics,
            per_class: per_class(data, clean_predictions, adversarial_predictions),
            confusion_growth: confusion_growth(data, clean_predictions, adversarial_predictions),
            exemplars,
            loss_trace,
        }
    }

    fn warn(&mut self, step_id: Option<&str>, code: &str, message: String) {
        self.sink.event(&Event::Warning(Warning {
            step_id: step_id.map(str::to_string),
            code: code.into(),
            message,
        }));
    }

    /// Red flags for gradient masking within one step.
    fn step_warnings(&mut self, result: &StepResult, attack_plan: &AttackPlan) {
        let id = result.info.id.as_str();
        let n = self.data.len().max(1) as f64;
        let tolerance = (1.5 / n).max(0.005);
        let robust: Vec<(f64, f64)> = result
            .points
            .iter()
            .filter_map(|p| Some((p.dial_value?, p.metric("robust_accuracy")?.value)))
            .collect();
        let mut sorted = robust.clone();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        for pair in sorted.windows(2) {
            let ((e0, r0), (e1, r1)) = (pair[0], pair[1]);
            if r1 > r0 + tolerance {
                self.warn(Some(id), "gradient-masking/non-monotone", format!(
                    "robust accuracy rises from {r0:.3} at ε={e0:.4} to {r1:.3} at ε={e1:.4}: a stronger attack should never do worse; suspect gradient masking or too few steps"
                ));
            }
        }
        if attack_plan.kind.is_white_box() && attack_plan.targeted.is_none() {
            for point in &result.points {
                if let (Some(first), Some(last)) =
                    (point.loss_trace.first(), point.loss_trace.last())
                    && point.loss_trace.len() > 1
                    && last <= first
                {
                    self.warn(Some(id), "gradient-masking/loss-not-increasing", format!(
                        "at ε={:.4} the mean loss went from {first:.4} to {last:.4} over {} iterations: the attack did not climb the loss",
                        point.dial_value.unwrap_or(0.0), point.loss_trace.len()
                    ));
                }
            }
        }
        for (epsilon, r) in &sorted {
            if attack_plan.norm == NormKind::Linf && *epsilon >= 0.5 && *r > 0.1 {
                self.warn(Some(id), "gradient-masking/large-epsilon", format!(
                    "robust accuracy is {r:.3} at ε={epsilon:.3}, where an L∞ attack can reach any image: the attack is failing, not the model resisting"
                ));
            }
        }
    }

    /// A black-box attack beating a white-box one at the same ε points to gradient masking.
    fn cross_step_warnings(&mut self, results: &[StepResult]) {
        let n = self.data.len().max(1) as f64;
        let tolerance = (2.0 / n).max(0.01);
        let steps = &self.plan.steps;
        let mut found = Vec::new();
        for (black_idx, black) in steps.iter().enumerate() {
            let Stress::Attack(black_plan) = &black.stress;
            if black_plan.kind.is_white_box() {
                continue;
            }
            for (white_idx, white) in steps.iter().enumerate() {
                let Stress::Attack(white_plan) = &white.stress;
                if !white_plan.kind.is_white_box()
                    || white_plan.norm != black_plan.norm
                    || white_plan.targeted != black_plan.targeted
                {
                    continue;
                }
                for bp in &results[black_idx + 1].points {
                    for wp in &results[white_idx + 1].points {
                        let (Some(be), Some(we)) = (bp.dial_value, wp.dial_value) else { continue };
                        let (Some(br), Some(wr)) =
                            (bp.metric("robust_accuracy"), wp.metric("robust_accuracy"))
                        else {
                            continue;
                        };
                        if same_dial(be, we) && br.value + tolerance < wr.value {
                            found.push((
                                white.id.clone(),
                                black.id.clone(),
                                be,
                                wr.value,
                                br.value,
                            ));
                        }
                    }
                }
            }
        }
        for (white, black, epsilon, wr, br) in found {
            self.warn(Some(&white), "gradient-masking/black-box-stronger", format!(
                "at ε={epsilon:.4} black-box `{black}` leaves robust accuracy {br:.3}, below white-box `{white}`'s {wr:.3}: the gradients may be masked"
            ));
        }
    }
}

fn build_attack(plan: &AttackPlan) -> Box<dyn Attack> {
    let norm = match plan.norm {
        NormKind::Linf => stressor_attack::Norm::Linf,
        NormKind::L2 => stressor_attack::Norm::L2,
    };
    match plan.kind {
        AttackKind::Fgsm => Box::new(stressor_attack::Fgsm { norm }),
        AttackKind::Pgd => Box::new(stressor_attack::Pgd {
            norm,
            steps: plan.steps,
            step_size: plan.step_size as f32,
            restarts: plan.restarts,
            random_start: plan.random_start,
        }),
        AttackKind::ApgdCe => Box::new(stressor_attack::Apgd {
            norm,
            steps: plan.steps,
            restarts: plan.restarts,
            ..Default::default()
        }),
        AttackKind::Square => Box::new(stressor_attack::Square {
            n_queries: plan.queries,
            p_init: plan.p_init as f32,
            ..Default::default()
        }),
    }
}

fn attack_parameters(plan: &AttackPlan, step: &StepPlan) -> Vec<(String, String)> {
    let mut parameters = vec![
        ("attack".to_string(), plan.kind.name().to_string()),
        (
            "norm".to_string(),
            match plan.norm {
                NormKind::Linf => "linf",
                NormKind::L2 => "l2",
            }
            .to_string(),
        ),
    ];
    match plan.kind {
        AttackKind::Pgd => {
            parameters.push(("steps".into(), plan.steps.to_string()));
            parameters.push(("step_size".into(), format!("{}·ε", plan.step_size)));
            parameters.push(("restarts".into(), plan.restarts.to_string()));
            parameters.push(("random_start".into(), plan.random_start.to_string()));
        }
        AttackKind::ApgdCe => {
            parameters.push(("steps".into(), plan.steps.to_string()));
            parameters.push(("restarts".into(), plan.restarts.to_string()));
        }
        AttackKind::Square => {
            parameters.push(("queries".into(), plan.queries.to_string()));
            parameters.push(("p_init".into(), plan.p_init.to_string()));
        }
        AttackKind::Fgsm => {}
    }
    let goal = match plan.targeted {
        None => "untargeted".to_string(),
        Some(TargetRule::Random) => "targeted: random".to_string(),
        Some(TargetRule::LeastLikely) => "targeted: least likely".to_string(),
        Some(TargetRule::Class(c)) => format!("targeted: class {c}"),
    };
    parameters.push(("goal".into(), goal));
    parameters.push(("batch_size".into(), step.batch_size.to_string()));
    parameters
}

fn choose_targets(
    rule: Option<TargetRule>,
    data: &Dataset,
    model: &dyn Model,
    seed: Seed,
) -> Result<Option<Vec<u32>>, ModelError> {
    let n_classes = data.n_classes() as u32;
    Ok(match rule {
        None => None,
        Some(TargetRule::Class(c)) => Some(vec![c; data.len()]),
        Some(TargetRule::Random) => {
            let mut rng = seed.rng();
            Some(
                data.labels
                    .iter()
                    .map(|&label| {
                        let offset = rng.random_range(1..n_classes);
                        (label + offset) % n_classes
                    })
                    .collect(),
            )
        }
        Some(TargetRule::LeastLikely) => {
            let mut targets = Vec::with_capacity(data.len());
            for start in (0..data.len()).step_by(PREDICT_BATCH) {
                let end = (start + PREDICT_BATCH).min(data.len());
                let scores = model.predict(&data.inputs.slice(start, end))?;
                for row in 0..scores.len() {
                    let values = scores.row(row);
                    let mut least = 0;
                    for (k, v) in values.iter().enumerate() {
                        if *v < values[least] {
                            least = k;
                        }
                    }
                    targets.push(least as u32);
                }
            }
            Some(targets)
        }
    })
}

fn metric(name: &str, estimate: Estimate) -> MetricValue {
    MetricValue { name: name.to_string(), estimate }
}

fn count_correct(predictions: &[u32], labels: &[u32]) -> u64 {
    predictions.iter().zip(labels).filter(|(p, l)| p == l).count() as u64
}

fn norms(clean: &[f32], adversarial: &[f32]) -> (f64, f64) {
    let mut linf = 0.0f64;
    let mut l2 = 0.0f64;
    for (a, b) in clean.iter().zip(adversarial) {
        let d = f64::from(b - a);
        linf = linf.max(d.abs());
        l2 += d * d;
    }
    (linf, l2.sqrt())
}

fn per_class(data: &Dataset, clean: &[u32], stressed: &[u32]) -> Vec<ClassAccuracy> {
    (0..data.n_classes() as u32)
        .map(|class| {
            let members: Vec<usize> =
                (0..data.len()).filter(|&i| data.labels[i] == class).collect();
            let n = members.len() as u64;
            let clean_ok = members.iter().filter(|&&i| clean[i] == class).count() as u64;
            let stressed_ok = members.iter().filter(|&&i| stressed[i] == class).count() as u64;
            ClassAccuracy {
                label: class,
                clean: Estimate::proportion(clean_ok, n),
                stressed: Estimate::proportion(stressed_ok, n),
            }
        })
        .collect()
}

/// The off-diagonal confusion pairs that grew most under stress (at most 5).
fn confusion_growth(data: &Dataset, clean: &[u32], stressed: &[u32]) -> Vec<ConfusionGrowth> {
    let k = data.n_classes();
    let mut clean_counts = vec![0u64; k * k];
    let mut stressed_counts = vec![0u64; k * k];
    for (i, &label) in data.labels.iter().enumerate() {
        clean_counts[label as usize * k + clean[i] as usize] += 1;
        stressed_counts[label as usize * k + stressed[i] as usize] += 1;
    }
    let mut pairs: Vec<ConfusionGrowth> = (0..k * k)
        .filter(|&cell| cell / k != cell % k && stressed_counts[cell] > clean_counts[cell])
        .map(|cell| ConfusionGrowth {
            true_label: (cell / k) as u32,
            predicted_label: (cell % k) as u32,
            clean_count: clean_counts[cell],
            stressed_count: stressed_counts[cell],
        })
        .collect();
    pairs.sort_by(|a, b| {
        (b.stressed_count - b.clean_count)
            .cmp(&(a.stressed_count - a.clean_count))
            .then(a.true_label.cmp(&b.true_label))
            .then(a.predicted_label.cmp(&b.predicted_label))
    });
    pairs.truncate(5);
    pairs
}

/// Evaluates `gate` against the step results (index 0 is the steady state).
fn evaluate_gate(gate: &Gate, results: &[StepResult]) -> GateOutcome {
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
