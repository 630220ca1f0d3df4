//! Runs a [`Plan`] and reports through events.
//!
//! The engine loads the data and the model, measures the steady state, runs every step at
//! every dial value, emits a [`StepResult`] per step, evaluates the gates and finishes with a
//! verdict. A failed attack is a result; `Err` means the run could not proceed.

use rand::Rng as _;
use std::path::PathBuf;
use std::sync::Arc;
use stressor_attack::{Attack, AttackError, Goal};
use stressor_core::{
    Batch, ClassAccuracy, Clock, Comparison, ConfusionGrowth, Dataset, Estimate, Event, EventSink,
    Exemplar, Gate, GateBound, GateOutcome, MetricValue, RunInfo, Seed, StepInfo, StepKind,
    StepPoint, StepResult, Verdict, Warning,
};
use stressor_data::DataError;
use stressor_model::{Combine, Ensemble, Model, ModelError, Scores};

use crate::measure::{PREDICT_BATCH, Uncertainty, predict_scores};
use crate::plan::{
    ArrayLayout, AttackKind, AttackPlan, DataSource, EnsembleCombine, MitigationMethod,
    MitigationPlan, NormKind, Plan, StepPlan, Stress, TargetPlan, TargetRule, ValueScale,
    same_dial,
};

mod compare;
mod drift;
mod system;

use compare::run_mitigation;
pub use drift::run_drift;

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
    /// Serve live Prometheus metrics (load counters, proxy counters) here during a systems
    /// run; loopback only.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// The environment variables the plan's header values refer to
    /// ([`Plan::env_vars`](crate::Plan::env_vars)), read by the caller: the engine never reads
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
    /// An attack could not run against this target.
    #[error("step `{step}`: attack cannot run")]
    Attack {
        /// The step.
        step: String,
        /// The cause.
        #[source]
        source: AttackError,
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
    /// A corruption or lighting shift could not be applied to the data.
    #[error("step `{step}`: the stress cannot be applied to this data")]
    Shift {
        /// The step.
        step: String,
        /// The cause.
        #[source]
        source: stressor_corruption::CorruptionError,
    },
    /// The calibration split could not be used.
    #[error("calibration: {reason}")]
    Calibration {
        /// What went wrong.
        reason: String,
    },
    /// A mitigation could not train its model.
    #[cfg(feature = "candle")]
    #[error("mitigation `{mitigation}`: training failed")]
    Mitigation {
        /// The mitigation's id.
        mitigation: String,
        /// The cause.
        #[source]
        source: Box<stressor_mitigation::MitigationError>,
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
    /// The systems run could not start (the server, proxy or load generator).
    #[error("system run: {reason}")]
    System {
        /// What went wrong.
        reason: String,
    },
    /// A drift scenario could not run (its data, a transform's column, a model fit).
    #[error("drift: {reason}")]
    Drift {
        /// What went wrong, naming the file or column.
        reason: String,
    },
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
    let (data, calibration) = load_data(plan)?;
    let target = load_target(&plan.target, config, sink)?;
    let model = target.model();
    let baseline = match &plan.baseline {
        Some(target) => Some(load_model(target, config, sink)?),
        None => None,
    };
    if let Some(baseline) = &baseline {
        let (base, info) = (baseline.info(), model.info());
        if base.input_shape != info.input_shape || base.n_classes != info.n_classes {
            return Err(EngineError::Mismatch {
                data: format!("baseline `{}`", base.name),
                model: info.name.clone(),
                reason: format!(
                    "the baseline takes {:?} and gives {} classes, the target {:?} and {}",
                    base.input_shape, base.n_classes, info.input_shape, info.n_classes
                ),
            });
        }
    }
    let models = Models {
        target: model,
        baseline: baseline.as_deref(),
        members: target.members(),
        shared: target.shared(),
    };
    run_split(plan, config, models, &data, calibration.as_ref(), clock, sink)
}

/// The model under test, the optional corruption baseline and an ensemble's members.
#[derive(Clone)]
struct Models<'a> {
    target: &'a dyn Model,
    baseline: Option<&'a dyn Model>,
    members: Option<&'a [Box<dyn Model>]>,
    /// The target, shared, when the systems run may serve it.
    shared: Option<Arc<dyn Model>>,
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
    let models = Models { target: model, baseline: None, members: None, shared: None };
    run_split(plan, config, models, data, None, clock, sink)
}

/// Runs `plan` on `data`, with `calibration` (disjoint from `data`) fitting temperature scaling
/// and the conformal threshold.
fn run_split(
    plan: &Plan,
    config: &EngineConfig,
    models: Models<'_>,
    data: &Dataset,
    calibration: Option<&Dataset>,
    clock: &dyn Clock,
    sink: &mut dyn EventSink,
) -> Result<RunOutcome, EngineError> {
    let started = clock.elapsed();
    let model = models.target;
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

    let uncertainty = Uncertainty::fit(&plan.calibration, model, calibration)?;
    let clean_scores = predict_scores(model, &data.inputs)?;
    let clean_predictions = clean_scores.predictions();
    let baseline = match models.baseline {
        Some(baseline) if plan.steps.iter().any(|s| matches!(s.stress, Stress::Corruption(_))) => {
            let predictions = predict_scores(baseline, &data.inputs)?.predictions();
            let correct = count_correct(&predictions, &data.labels);
            let clean_error = 1.0 - correct as f64 / data.len().max(1) as f64;
            Some(Baseline { model: baseline, clean_error, errors: Vec::new() })
        }
        _ => None,
    };
    let mut runner = Runner {
        plan,
        config,
        clock,
        sink,
        model,
        data,
        uncertainty,
        clean_predictions,
        baseline,
        members: models.members,
        mitigation: None,
    };
    let steady = runner.steady_state(&clean_scores)?;
    runner.sink.event(&Event::StepFinished(steady.clone()));
    let mut results = vec![steady];
    let steps: Vec<&StepPlan> = plan.steps.iter().collect();
    results.extend(runner.run_steps(&steps)?);
    runner.cross_step_warnings(&results);
    if let Some(summary) = runner.corruption_summary(&results) {
        results.push(summary);
    }
    if let Some(transfer) = runner.transfer_summary(&results)? {
        results.push(transfer);
    }
    let Runner { sink, .. } = runner;
    for mitigation in &plan.mitigations {
        let comparison =
            run_mitigation(plan, config, mitigation, data, calibration, &results, clock, sink)?;
        results.push(comparison);
    }
    let runner_sink = sink;
    if let Some(system) = &plan.system {
        let seed = plan.seed.derive("system");
        let result = system::run_system(
            config,
            system,
            &plan.target,
            models.shared.clone(),
            data,
            seed,
            clock,
            runner_sink,
        )?;
        runner_sink.event(&Event::StepFinished(result.clone()));
        results.push(result);
    }

    let gates: Vec<&Gate> = plan
        .steady_state_gates
        .iter()
        .chain(plan.steps.iter().flat_map(|s| &s.gates))
        .chain(plan.mitigations.iter().flat_map(|m| &m.gates))
        .chain(plan.system.iter().flat_map(|s| &s.gates))
        .collect();
    let mut n_failed = 0;
    for gate in &gates {
        let outcome = evaluate_gate(gate, &results);
        if !outcome.passed {
            n_failed += 1;
        }
        runner_sink.event(&Event::GateEvaluated(outcome));
    }
    let verdict = if n_failed == 0 { Verdict::Pass } else { Verdict::Fail };
    runner_sink
        .event(&Event::RunFinished { verdict, elapsed: clock.elapsed().saturating_sub(started) });
    Ok(RunOutcome { verdict, n_gates: gates.len(), n_failed })
}

/// The evaluated samples and, when the plan asks for one, a disjoint calibration split.
fn load_data(plan: &Plan) -> Result<(Dataset, Option<Dataset>), EngineError> {
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
        DataSource::Cifar10Samples => stressor_data::cifar10_samples()?,
        DataSource::Cifar10 { files, class_names } => {
            stressor_data::load_cifar10_binary(files, class_names.clone(), None)?
        }
        DataSource::Npy { images, labels, layout, scale, class_names } => {
            let data = stressor_data::load_npy(
                images,
                labels,
                data_layout(*layout),
                data_scale(*scale),
                None,
            )?;
            with_class_names(data, class_names.as_ref())?
        }
        DataSource::Npz { path, images_key, labels_key, layout, scale, class_names } => {
            let data = stressor_data::load_npz(
                path,
                images_key,
                labels_key,
                data_layout(*layout),
                data_scale(*scale),
                None,
            )?;
            with_class_names(data, class_names.as_ref())?
        }
        DataSource::Folder { path, channels, size } => {
            stressor_data::load_image_folder(path, *channels, *size, None)?
        }
        DataSource::Csv { path, label_column, shape, scale, header } => {
            use stressor_data::csv::{Header, LabelColumn};
            let label_column = match label_column.as_str() {
                "first" => LabelColumn::First,
                "last" => LabelColumn::Last,
                name => LabelColumn::Named(name.to_string()),
            };
            let header = match header {
                Some(true) => Header::Present,
                Some(false) => Header::Absent,
                None => Header::Auto,
            };
            stressor_data::load_csv(
                path,
                label_column,
                shape.clone(),
                data_scale(*scale),
                header,
                None,
            )?
        }
    };
    let n_eval = plan.data.samples.unwrap_or(data.len()).min(data.len());
    let n_calibration = plan.calibration.samples;
    if n_calibration == 0 {
        let eval = stressor_data::sample(&data, n_eval, plan.seed.derive("data/sample"));
        return Ok((eval, None));
    }
    // The calibration split comes out of the data set first, so the evaluated samples never
    // include it; when the data set is too small for both, the evaluated samples shrink.
    if data.len() < 2 {
        return Err(EngineError::Calibration {
            reason: format!(
                "data set `{}` has {} sample(s): too few to split off a calibration set \
                 (set `calibration.samples = 0` to run without one)",
                data.name,
                data.len()
            ),
        });
    }
    let n_calibration = n_calibration.min(data.len() / 2);
    let calibration_indices =
        stressor_data::sample_indices(&data, n_calibration, plan.seed.derive("data/calibration"));
    let mut is_calibration = vec![false; data.len()];
    for &i in &calibration_indices {
        is_calibration[i] = true;
    }
    let rest: Vec<usize> = (0..data.len()).filter(|&i| !is_calibration[i]).collect();
    let calibration = data.select(&calibration_indices);
    let rest = data.select(&rest);
    let eval =
        stressor_data::sample(&rest, n_eval.min(rest.len()), plan.seed.derive("data/sample"));
    Ok((eval, Some(calibration)))
}

/// The target: one model, or an ensemble whose members the engine also measures one by one.
enum Target {
    Single(Arc<dyn Model>),
    Ensemble(Ensemble),
}

impl Target {
    fn model(&self) -> &dyn Model {
        match self {
            Target::Single(model) => model.as_ref(),
            Target::Ensemble(ensemble) => ensemble,
        }
    }

    fn members(&self) -> Option<&[Box<dyn Model>]> {
        match self {
            Target::Single(_) => None,
            Target::Ensemble(ensemble) => Some(ensemble.members()),
        }
    }

    /// The model, shared, for the systems run to serve.
    fn shared(&self) -> Option<Arc<dyn Model>> {
        match self {
            Target::Single(model) => Some(Arc::clone(model)),
            Target::Ensemble(_) => None,
        }
    }
}

fn load_target(
    target: &TargetPlan,
    config: &EngineConfig,
    sink: &mut dyn EventSink,
) -> Result<Target, EngineError> {
    match target {
        TargetPlan::Ensemble { members, combine } => {
            Ok(Target::Ensemble(load_ensemble(members, *combine, config, sink)?))
        }
        single => Ok(Target::Single(Arc::from(load_model(single, config, sink)?))),
    }
}

fn load_ensemble(
    members: &[TargetPlan],
    combine: EnsembleCombine,
    config: &EngineConfig,
    sink: &mut dyn EventSink,
) -> Result<Ensemble, EngineError> {
    let models = members
        .iter()
        .map(|member| load_model(member, config, sink))
        .collect::<Result<Vec<_>, _>>()?;
    let combine = match combine {
        EnsembleCombine::MeanProbability => Combine::MeanProbability,
        EnsembleCombine::MajorityVote => Combine::MajorityVote,
    };
    let name = format!("ensemble of {}", models.len());
    Ok(Ensemble::new(name, models, combine)?)
}

/// Loads (or trains and caches) the model `target` describes, as a run would: for commands that
/// need a model without a scenario, such as `stressor serve`.
///
/// # Errors
/// [`EngineError`] when the file cannot be read or the model is invalid, or
/// [`EngineError::NoBackend`] in a build without the candle backend.
#[cfg(feature = "candle")]
pub fn load_model(
    target: &TargetPlan,
    config: &EngineConfig,
    sink: &mut dyn EventSink,
) -> Result<Box<dyn Model>, EngineError> {
    use stressor_model::builtin::{FashionCnn, TrainConfig};
    match target {
        TargetPlan::Safetensors { path, .. } => Ok(Box::new(FashionCnn::load(path)?)),
        TargetPlan::Onnx { path, input, probabilities } => {
            let spec = stressor_onnx::InputSpec {
                layout: if input.channels_last {
                    stressor_onnx::Layout::Nhwc
                } else {
                    stressor_onnx::Layout::Nchw
                },
                scale: input.scale,
                mean: input.mean.clone(),
                std: input.std.clone(),
                output: if *probabilities {
                    stressor_onnx::OutputKind::Probabilities
                } else {
                    stressor_onnx::OutputKind::Logits
                },
            };
            let model = stressor_onnx::OnnxModel::load(path, spec, None).map_err(|source| {
                EngineError::Onnx { path: path.clone(), source: Box::new(source) }
            })?;
            Ok(Box::new(model))
        }
        TargetPlan::Builtin { train_seed, .. } => {
            let train_config = TrainConfig::default();
            // The name carries everything the weights depend on, so a changed recipe retrains.
            let file_name = format!(
                "fashion-cnn-{MODEL_RECIPE}-e{}-b{}-lr{}-seed{}.safetensors",
                train_config.epochs,
                train_config.batch_size,
                train_config.learning_rate,
                train_seed.value()
            );
            let model = cached_cnn(config, &file_name, sink, &mut |sink| {
                let train = stressor_data::fashion_mnist::load(
                    stressor_data::fashion_mnist::Split::Train,
                    None,
                )?;
                let mut progress = train_progress(sink);
                Ok(stressor_model::builtin::train(
                    &train,
                    &train_config,
                    *train_seed,
                    &mut progress,
                )?)
            })?;
            Ok(Box::new(model.0))
        }
        TargetPlan::Ensemble { members, combine } => {
            Ok(Box::new(load_ensemble(members, *combine, config, sink)?))
        }
        TargetPlan::Http { url, name, max_batch, timeout_ms, transport } => {
            let options = http_options(*max_batch, *timeout_ms, transport, config)?;
            Ok(Box::new(stressor_model::http::OipModel::connect(url, name, options)?))
        }
        TargetPlan::Json {
            url,
            name,
            max_batch,
            timeout_ms,
            transport,
            template,
            response,
            scores,
            input_shape,
            classes,
        } => {
            use stressor_model::http::{JsonOptions, JsonScores};
            let http = http_options(*max_batch, *timeout_ms, transport, config)?;
            let scores = match scores.as_str() {
                "probabilities" => JsonScores::Probabilities,
                "labels" => JsonScores::Labels,
                _ => JsonScores::Logits,
            };
            let options = JsonOptions::new(
                http,
                template.clone(),
                response.clone(),
                scores,
                input_shape.clone(),
                *classes,
            );
            Ok(Box::new(stressor_model::http::JsonModel::new(url, name, options)?))
        }
    }
}

/// An HTTP target's transport options, header values resolved from `config.env`.
#[cfg(feature = "candle")]
fn http_options(
    max_batch: usize,
    timeout_ms: u64,
    transport: &crate::plan::TransportPlan,
    config: &EngineConfig,
) -> Result<stressor_model::http::OipOptions, EngineError> {
    let mut options = stressor_model::http::OipOptions::default();
    options.max_batch = max_batch;
    options.timeout = std::time::Duration::from_millis(timeout_ms);
    options.retries = transport.retries;
    options.retry_budget = transport.retry_budget;
    options.rate_limit = transport.rate_limit;
    options.ca_file = transport.ca_file.clone();
    options.max_concurrency = transport.max_concurrency;
    options.headers = transport
        .resolve_headers(&config.env)
        .map_err(|(header, variable)| EngineError::Secret { header, variable })?;
    Ok(options)
}

/// A progress callback for training that reports under the step id `train`.
#[cfg(feature = "candle")]
fn train_progress(
    sink: &mut dyn EventSink,
) -> impl FnMut(stressor_model::builtin::TrainProgress) + '_ {
    |p| {
        let total = (p.n_epochs * p.n_steps) as u64;
        let done = (p.epoch * p.n_steps + p.step + 1) as u64;
        sink.event(&Event::Progress { step_id: "train".into(), done, total });
    }
}

/// The CNN cached as `file_name` in the cache directory, or trained by `train` (and cached);
/// whether it came from the cache.
#[cfg(feature = "candle")]
fn cached_cnn(
    config: &EngineConfig,
    file_name: &str,
    sink: &mut dyn EventSink,
    train: &mut dyn FnMut(
        &mut dyn EventSink,
    ) -> Result<stressor_model::builtin::FashionCnn, EngineError>,
) -> Result<(stressor_model::builtin::FashionCnn, bool), EngineError> {
    use stressor_model::builtin::FashionCnn;
    let cache_file = config.cache_dir.as_ref().map(|dir| dir.join(file_name));
    if let Some(file) = &cache_file
        && file.exists()
    {
        match FashionCnn::load(file) {
            Ok(model) => return Ok((model, true)),
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
    let model = train(sink)?;
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
    Ok((model, false))
}

/// The built-in model trained with `mitigation` (or loaded from the cache), and a note on
/// where it came from for the report.
#[cfg(feature = "candle")]
fn mitigated_model(
    plan: &Plan,
    mitigation: &MitigationPlan,
    config: &EngineConfig,
    clock: &dyn Clock,
    sink: &mut dyn EventSink,
) -> Result<(Box<dyn Model>, String), EngineError> {
    use stressor_mitigation::{AdversarialTraining, AugmentedTraining};
    use stressor_model::builtin::TrainConfig;
    let train_seed = match &plan.target {
        TargetPlan::Builtin { train_seed, .. } => *train_seed,
        // The planner only lets mitigations of built-in targets through.
        _ => {
            return Err(EngineError::Mismatch {
                data: "built-in training data".into(),
                model: mitigation.id.clone(),
                reason: "mitigations retrain the built-in model only".into(),
            });
        }
    };
    let mut train_config = TrainConfig::default();
    train_config.epochs = mitigation.epochs;
    let mut key = format!(
        "{} e{} b{} lr{} n{:?} seed{}",
        mitigation.method.name(),
        train_config.epochs,
        train_config.batch_size,
        train_config.learning_rate,
        mitigation.train_samples,
        train_seed.value()
    );
    for (name, value) in mitigation.method.parameters() {
        key.push_str(&format!(" {name}={value}"));
    }
    let file_name = format!(
        "fashion-cnn-{MODEL_RECIPE}-{}-{:016x}.safetensors",
        mitigation.method.name(),
        fnv1a(key.as_bytes())
    );
    let started = clock.elapsed();
    let (model, cached) = cached_cnn(config, &file_name, sink, &mut |sink| {
        let mut train =
            stressor_data::fashion_mnist::load(stressor_data::fashion_mnist::Split::Train, None)?;
        if let Some(n) = mitigation.train_samples {
            train = stressor_data::sample(&train, n, train_seed.derive("mitigation/train-sample"));
        }
        let mut progress = train_progress(sink);
        let failed = |source| EngineError::Mitigation {
            mitigation: mitigation.id.clone(),
            source: Box::new(source),
        };
        match &mitigation.method {
            MitigationMethod::AdversarialTraining { epsilon, steps, step_size, mix } => {
                let mut method = AdversarialTraining::default();
                method.epsilon = *epsilon as f32;
                method.steps = *steps;
                method.step_size = *step_size as f32;
                method.mix = *mix as f32;
                method.train = train_config.clone();
                stressor_mitigation::adversarial_training(
                    &train,
                    &method,
                    train_seed,
                    &mut progress,
                )
                .map_err(failed)
            }
            MitigationMethod::AugmentedTraining { corruptions, max_severity, fraction } => {
                let mut method = AugmentedTraining::default();
                method.corruptions = corruptions.clone();
                method.max_severity = *max_severity;
                method.fraction = *fraction as f32;
                method.train = train_config.clone();
                stressor_mitigation::augmented_training(&train, &method, train_seed, &mut progress)
                    .map_err(failed)
            }
        }
    })?;
    let provenance = if cached {
        format!("loaded from the cache ({file_name})")
    } else {
        format!("trained in {:.1} s", clock.elapsed().saturating_sub(started).as_secs_f64())
    };
    Ok((Box::new(model), provenance))
}

#[cfg(not(feature = "candle"))]
fn mitigated_model(
    _plan: &Plan,
    _mitigation: &MitigationPlan,
    _config: &EngineConfig,
    _clock: &dyn Clock,
    _sink: &mut dyn EventSink,
) -> Result<(Box<dyn Model>, String), EngineError> {
    Err(EngineError::NoBackend)
}

/// FNV-1a, 64 bits: a stable hash for cache file names (std's hasher may change between
/// releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Loads the model `target` describes; without the candle backend only ensembles of
/// nothing can load, so this is [`EngineError::NoBackend`].
///
/// # Errors
/// [`EngineError::NoBackend`].
#[cfg(not(feature = "candle"))]
pub fn load_model(
    target: &TargetPlan,
    config: &EngineConfig,
    sink: &mut dyn EventSink,
) -> Result<Box<dyn Model>, EngineError> {
    match target {
        TargetPlan::Ensemble { members, combine } => {
            Ok(Box::new(load_ensemble(members, *combine, config, sink)?))
        }
        _ => Err(EngineError::NoBackend),
    }
}

struct Runner<'a> {
    plan: &'a Plan,
    config: &'a EngineConfig,
    clock: &'a dyn Clock,
    sink: &'a mut dyn EventSink,
    model: &'a dyn Model,
    data: &'a Dataset,
    uncertainty: Uncertainty,
    clean_predictions: Vec<u32>,
    baseline: Option<Baseline<'a>>,
    /// An ensemble target's members: every point also reports per-member metrics.
    members: Option<&'a [Box<dyn Model>]>,
    /// The mitigation whose model this runner measures: step ids get its id as a prefix.
    mitigation: Option<&'a MitigationPlan>,
}

/// The corruption baseline: its model, clean error and error at every corruption point.
struct Baseline<'a> {
    model: &'a dyn Model,
    clean_error: f64,
    /// Per corruption step id, the baseline's error at each severity.
    errors: Vec<(String, Vec<f64>)>,
}

impl Runner<'_> {
    fn steady_state(&mut self, clean_scores: &Scores) -> Result<StepResult, EngineError> {
        let started = self.clock.elapsed();
        let info = StepInfo {
            id: "steady-state".into(),
            kind: StepKind::SteadyState,
            description: "clean data, no stress".into(),
            dial_name: None,
            dial_values: Vec::new(),
        };
        // A mitigated model's steady state is a column of its comparison, not a step.
        if self.mitigation.is_none() {
            self.sink.event(&Event::StepStarted(info.clone()));
        }
        let predictions = &self.clean_predictions;
        let correct = count_correct(predictions, &self.data.labels);
        let per_class = per_class(self.data, predictions, predictions);
        let mut metrics =
            vec![metric("clean_accuracy", Estimate::proportion(correct, self.data.len() as u64))];
        let (calibration_metrics, curves) = self.uncertainty.measure(
            clean_scores,
            &self.data.labels,
            self.plan.seed.derive("steady-state/calibration"),
        );
        metrics.extend(calibration_metrics);
        metrics.extend(self.member_metrics(
            &self.data.inputs,
            &self.clean_predictions,
            self.plan.seed.derive("steady-state/members"),
        )?);
        let point = StepPoint {
            dial_value: None,
            metrics,
            per_class,
            confusion_growth: Vec::new(),
            exemplars: Vec::new(),
            loss_trace: Vec::new(),
            calibration: Some(curves),
        };
        let mut parameters = vec![("samples".into(), self.data.len().to_string())];
        parameters.extend(self.uncertainty.parameters());
        if let Some(members) = self.members {
            let names: Vec<String> = members
                .iter()
                .enumerate()
                .map(|(i, m)| format!("m{i} = {} ({})", m.info().name, m.info().kind))
                .collect();
            parameters.push(("members".into(), names.join(", ")));
        }
        Ok(StepResult {
            info,
            parameters,
            points: vec![point],
            elapsed: self.clock.elapsed().saturating_sub(started),
        })
    }

    /// Runs `steps` in order.
    fn run_steps(&mut self, steps: &[&StepPlan]) -> Result<Vec<StepResult>, EngineError> {
        let mut results = Vec::with_capacity(steps.len());
        for step in steps {
            let result = match &step.stress {
                Stress::Attack(attack) => self.attack_step(step, attack)?,
                Stress::Corruption(corruption) => {
                    let corruption = *corruption;
                    let apply = move |inputs: &Batch, severity: f64, seed: Seed| {
                        // The planner only lets whole severities 1–5 through.
                        corruption.apply(inputs, severity as u8, seed)
                    };
                    let parameter = ("corruption", corruption.name());
                    self.shift_step(step, StepKind::Corruption, parameter, &apply)?
                }
                Stress::Lighting(lighting) => {
                    let lighting = *lighting;
                    let apply = move |inputs: &Batch, value: f64, seed: Seed| {
                        lighting.apply(inputs, value, seed)
                    };
                    let parameter = ("lighting", lighting.name());
                    self.shift_step(step, StepKind::Lighting, parameter, &apply)?
                }
            };
            results.push(result);
        }
        Ok(results)
    }

    /// The id a step's result carries: the plan's, under the mitigation's id when measuring a
    /// mitigated model.
    fn result_id(&self, step: &StepPlan) -> String {
        match self.mitigation {
            Some(mitigation) => format!("{}/{}", mitigation.id, step.id),
            None => step.id.clone(),
        }
    }

    /// A step's description, naming the mitigation when measuring a mitigated model.
    fn result_description(&self, step: &StepPlan) -> String {
        match self.mitigation {
            Some(mitigation) => format!("after {}: {}", mitigation.id, step.description()),
            None => step.description(),
        }
    }

    fn attack_step(
        &mut self,
        step: &StepPlan,
        attack_plan: &AttackPlan,
    ) -> Result<StepResult, EngineError> {
        let started = self.clock.elapsed();
        let result_id = self.result_id(step);
        let info = StepInfo {
            id: result_id.clone(),
            kind: StepKind::Attack,
            description: self.result_description(step),
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
                self.sink.event(&Event::Progress { step_id: result_id.clone(), done, total });
            }
            let loss_trace: Vec<f64> =
                loss_sum.iter().map(|s| s / attacked.len().max(1) as f64).collect();
            let adversarial_scores = predict_scores(self.model, &adversarial)?;
            let adversarial_predictions = adversarial_scores.predictions();
            let mut point = self.point(
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
            );
            let (calibration_metrics, curves) = self.uncertainty.measure(
                &adversarial_scores,
                &self.data.labels,
                point_seed.derive("calibration"),
            );
            point.metrics.extend(calibration_metrics);
            point.metrics.extend(self.member_metrics(
                &adversarial,
                &adversarial_predictions,
                point_seed.derive("members"),
            )?);
            point.calibration = Some(curves);
            points.push(point);
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

    /// A corruption or lighting step: every sample is shifted at every dial value and
    /// predicted again; the model is only queried, never differentiated.
    fn shift_step(
        &mut self,
        step: &StepPlan,
        kind: StepKind,
        (what, name): (&str, &str),
        apply: &dyn Fn(&Batch, f64, Seed) -> Result<Batch, stressor_corruption::CorruptionError>,
    ) -> Result<StepResult, EngineError> {
        let started = self.clock.elapsed();
        let result_id = self.result_id(step);
        let info = StepInfo {
            id: result_id.clone(),
            kind,
            description: self.result_description(step),
            dial_name: Some(step.dial_name.clone()),
            dial_values: step.dial_values.clone(),
        };
        self.sink.event(&Event::StepStarted(info.clone()));
        let seed = self.plan.seed.derive(&format!("step/{}", step.id));
        let data = self.data;
        let n = data.len() as u64;
        let clean_correct: Vec<bool> =
            self.clean_predictions.iter().zip(&data.labels).map(|(p, l)| p == l).collect();
        let total = step.dial_values.len() as u64;
        let mut points = Vec::with_capacity(step.dial_values.len());
        for (dial_idx, &value) in step.dial_values.iter().enumerate() {
            let point_seed = seed.derive_index(dial_idx as u64);
            let shifted = apply(&data.inputs, value, point_seed.derive("shift"))
                .map_err(|source| EngineError::Shift { step: step.id.clone(), source })?;
            let scores = predict_scores(self.model, &shifted)?;
            let predictions = scores.predictions();
            let stressed_correct: Vec<bool> =
                predictions.iter().zip(&data.labels).map(|(p, l)| p == l).collect();
            let n_clean = clean_correct.iter().filter(|c| **c).count() as u64;
            let n_stressed = stressed_correct.iter().filter(|c| **c).count() as u64;
            // Paired per-sample differences, so the interval reflects that the same samples
            // are compared.
            let drops: Vec<f64> = clean_correct
                .iter()
                .zip(&stressed_correct)
                .map(|(c, s)| f64::from(u8::from(*c)) - f64::from(u8::from(*s)))
                .collect();
            let mut metrics = vec![
                metric("clean_accuracy", Estimate::proportion(n_clean, n)),
                metric("accuracy", Estimate::proportion(n_stressed, n)),
                metric("accuracy_drop", Estimate::mean(&drops, point_seed.derive("ci/drop"))),
            ];
            if kind == StepKind::Corruption
                && let Some(baseline) = &mut self.baseline
            {
                let predictions = predict_scores(baseline.model, &shifted)?.predictions();
                let correct = count_correct(&predictions, &data.labels);
                metrics.push(metric("baseline_accuracy", Estimate::proportion(correct, n)));
                let error = 1.0 - correct as f64 / data.len().max(1) as f64;
                match baseline.errors.iter_mut().find(|(id, _)| *id == step.id) {
                    Some((_, errors)) => errors.push(error),
                    None => baseline.errors.push((step.id.clone(), vec![error])),
                }
            }
            let (calibration_metrics, curves) =
                self.uncertainty.measure(&scores, &data.labels, point_seed.derive("calibration"));
            metrics.extend(calibration_metrics);
            metrics.extend(self.member_metrics(
                &shifted,
                &predictions,
                point_seed.derive("members"),
            )?);
            // Exemplars: samples the shift broke first, then any others.
            let broken = (0..data.len()).filter(|&i| clean_correct[i] && !stressed_correct[i]);
            let others = (0..data.len()).filter(|&i| !clean_correct[i] || stressed_correct[i]);
            let exemplars = broken
                .chain(others)
                .take(self.config.exemplars_per_point)
                .map(|i| Exemplar {
                    index: i,
                    label: data.labels[i],
                    clean_prediction: self.clean_predictions[i],
                    stressed_prediction: predictions[i],
                    shape: data.inputs.sample_shape().to_vec(),
                    clean: data.inputs.sample(i).to_vec(),
                    stressed: shifted.sample(i).to_vec(),
                })
                .collect();
            points.push(StepPoint {
                dial_value: Some(value),
                metrics,
                per_class: per_class(data, &self.clean_predictions, &predictions),
                confusion_growth: confusion_growth(data, &self.clean_predictions, &predictions),
                exemplars,
                loss_trace: Vec::new(),
                calibration: Some(curves),
            });
            self.sink.event(&Event::Progress {
                step_id: result_id.clone(),
                done: dial_idx as u64 + 1,
                total,
            });
        }
        let parameters = vec![
            (what.to_string(), name.to_string()),
            (step.dial_name.clone(), fmt_dials(&step.dial_values)),
        ];
        let result = StepResult {
            info,
            parameters,
            points,
            elapsed: self.clock.elapsed().saturating_sub(started),
        };
        self.sink.event(&Event::StepFinished(result.clone()));
        Ok(result)
    }

    /// The corruption error of every corruption step and their mean (mCE).
    ///
    /// With a baseline model (Hendrycks & Dietterich 2019, who use AlexNet):
    /// `CE_c = Σ_s E_{c,s} / Σ_s E^base_{c,s}` and the relative
    /// `rCE_c = Σ_s (E_{c,s} − E_clean) / Σ_s (E^base_{c,s} − E^base_clean)`. Without one, relative
    /// to the model's own clean error: `CE_c = Σ_s E_{c,s} / (S · E_clean)`. The means over
    /// corruptions are `mean_corruption_error` and `relative_mean_corruption_error`.
    fn corruption_summary(&mut self, results: &[StepResult]) -> Option<StepResult> {
        let steady = results.first()?.points.first()?.metric("clean_accuracy")?;
        let clean_error = 1.0 - steady.value;
        let n = self.data.len() as u64;
        let mut metrics = Vec::new();
        let (mut ces, mut relative) = (Vec::new(), Vec::new());
        for (step, result) in self.plan.steps.iter().zip(&results[1..]) {
            let Stress::Corruption(corruption) = step.stress else { continue };
            let errors: Vec<f64> = result
                .points
                .iter()
                .filter_map(|p| Some(1.0 - p.metric("accuracy")?.value))
                .collect();
            if errors.is_empty() {
                continue;
            }
            let sum: f64 = errors.iter().sum();
            let ce = match &self.baseline {
                Some(baseline) => {
                    let base = baseline.errors.iter().find(|(id, _)| *id == step.id)?;
                    let base_sum: f64 = base.1.iter().sum();
                    let s = errors.len() as f64;
                    relative.push((sum - s * clean_error) / (base_sum - s * baseline.clean_error));
                    sum / base_sum
                }
                None => sum / (errors.len() as f64 * clean_error),
            };
            ces.push(ce);
            metrics.push(metric(
                &format!("corruption_error.{}", corruption.name()),
                Estimate::exact(ce, n),
            ));
        }
        if ces.is_empty() {
            return None;
        }
        let mean = |values: &[f64]| values.iter().sum::<f64>() / values.len() as f64;
        if !mean(&ces).is_finite() {
            self.warn(
                None,
                "corruption/no-reference-error",
                "the reference (clean or baseline) error is zero, so corruption errors are not \
                 finite; compare accuracies instead"
                    .into(),
            );
        }
        metrics.insert(0, metric("mean_corruption_error", Estimate::exact(mean(&ces), n)));
        if !relative.is_empty() {
            metrics.insert(
                1,
                metric("relative_mean_corruption_error", Estimate::exact(mean(&relative), n)),
            );
        }
        let (reference, description) = match &self.baseline {
            Some(baseline) => (
                format!("baseline model {}", baseline.model.info().name),
                format!(
                    "corruption error relative to the baseline model `{}` (clean error {:.3}) over \
                     {} corruption(s); below 1 = more robust than the baseline",
                    baseline.model.info().name,
                    baseline.clean_error,
                    ces.len()
                ),
            ),
            None => (
                "clean error".to_string(),
                format!(
                    "corruption error relative to the clean error ({clean_error:.3}) over {} \
                     corruption(s); 1 = no harm",
                    ces.len()
                ),
            ),
        };
        let info = StepInfo {
            id: "corruption-summary".into(),
            kind: StepKind::Summary,
            description,
            dial_name: None,
            dial_values: Vec::new(),
        };
        self.sink.event(&Event::StepStarted(info.clone()));
        let result = StepResult {
            info,
            parameters: vec![("reference".into(), reference)],
            points: vec![summary_point(metrics)],
            elapsed: std::time::Duration::ZERO,
        };
        self.sink.event(&Event::StepFinished(result.clone()));
        Some(result)
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
        if !attack_plan.kind.is_white_box() {
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
            calibration: None,
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
            let Some(black_plan) = black.attack() else { continue };
            if black_plan.kind.is_white_box() {
                continue;
            }
            for (white_idx, white) in steps.iter().enumerate() {
                let Some(white_plan) = white.attack() else { continue };
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
        AttackKind::HopSkipJump => Box::new(stressor_attack::HopSkipJump {
            norm,
            max_queries: plan.queries,
            max_iterations: plan.steps,
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
        AttackKind::HopSkipJump => {
            parameters.push(("queries".into(), plan.queries.to_string()));
            parameters.push(("steps".into(), plan.steps.to_string()));
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

fn data_layout(layout: ArrayLayout) -> stressor_data::Layout {
    match layout {
        ArrayLayout::Nchw => stressor_data::Layout::Nchw,
        ArrayLayout::Nhwc => stressor_data::Layout::Nhwc,
    }
}

fn data_scale(scale: ValueScale) -> stressor_data::Scale {
    match scale {
        ValueScale::Auto => stressor_data::Scale::Auto,
        ValueScale::Unit => stressor_data::Scale::Unit,
        ValueScale::Byte => stressor_data::Scale::Byte,
    }
}

/// `data` with the scenario's class names, when it gives any; they must cover every label.
fn with_class_names(
    mut data: Dataset,
    names: Option<&Vec<String>>,
) -> Result<Dataset, EngineError> {
    let Some(names) = names else { return Ok(data) };
    if let Some(max) = data.labels.iter().max()
        && *max as usize >= names.len()
    {
        return Err(EngineError::Mismatch {
            data: data.name.clone(),
            model: "the scenario".into(),
            reason: format!(
                "`data.class_names` names {} classes but the data has label {max}",
                names.len()
            ),
        });
    }
    data.class_names = names.clone();
    Ok(data)
}

fn fmt_dials(values: &[f64]) -> String {
    values.iter().map(|v| crate::plan::fmt_value(*v)).collect::<Vec<_>>().join(", ")
}

/// One point without a dial, holding `metrics`: the shape of summary and comparison steps.
fn summary_point(metrics: Vec<MetricValue>) -> StepPoint {
    StepPoint {
        dial_value: None,
        metrics,
        per_class: Vec::new(),
        confusion_growth: Vec::new(),
        exemplars: Vec::new(),
        loss_trace: Vec::new(),
        calibration: None,
    }
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
