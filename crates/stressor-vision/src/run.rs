//! Running the vision part: the steady state, every step at every dial value (metrics,
//! failure patterns, gradient-masking warnings), summaries and mitigations, reported through
//! events. A failed attack is a result; `Err` means the part could not proceed.

use rand::Rng as _;
use stressor_attack::{Attack, AttackError, Goal};
use stressor_core::{
    Batch, ClassAccuracy, Clock, ConfusionGrowth, Dataset, Estimate, Event, EventSink, Exemplar,
    MetricValue, Seed, StepInfo, StepKind, StepPoint, StepResult, Warning,
};
use stressor_model::{Model, ModelError, Scores};
use stressor_scenario::target::TargetPlan;
use stressor_scenario::{EngineConfig, EngineError, RunContext, load_model, same_dial};

use crate::compare::run_mitigation;
use crate::measure::{PREDICT_BATCH, Uncertainty, predict_scores};
use crate::plan::{
    AttackKind, AttackPlan, MitigationMethod, MitigationPlan, NormKind, StepPlan, Stress,
    TargetRule, VisionPlan,
};

/// Why the vision part could not proceed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VisionError {
    /// An attack could not run against this target.
    #[error("step `{step}`: attack cannot run")]
    Attack {
        /// The step.
        step: String,
        /// The cause.
        #[source]
        source: AttackError,
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
}

impl From<VisionError> for EngineError {
    fn from(error: VisionError) -> Self {
        EngineError::Family(Box::new(error))
    }
}

/// Runs the vision part against the subject: the steady state, every step at every dial value,
/// the summaries (mean corruption error, attack transfer) and the mitigations.
pub(crate) fn run_part(
    plan: &VisionPlan,
    run: &mut RunContext<'_>,
) -> Result<Vec<StepResult>, EngineError> {
    let Some(subject) = run.subject else {
        return Err(EngineError::Mismatch {
            data: "no data".into(),
            model: "no model".into(),
            reason: "the vision family needs `[target]` and `[data]`".into(),
        });
    };
    let (config, clock, seed) = (run.config, run.clock, run.seed);
    let sink: &mut dyn EventSink = &mut *run.sink;
    let (model, data, calibration) = (subject.model, subject.data, subject.calibration);
    let target = subject.plan.map(|p| &p.target);
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
    let uncertainty = Uncertainty::fit(&plan.calibration, model, calibration)?;
    let clean_scores = predict_scores(model, &data.inputs)?;
    let clean_predictions = clean_scores.predictions();
    let baseline = match baseline.as_deref() {
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
        seed,
        config,
        clock,
        sink,
        model,
        data,
        uncertainty,
        clean_predictions,
        baseline,
        members: subject.members,
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
        let comparison = run_mitigation(
            plan,
            seed,
            target,
            config,
            mitigation,
            data,
            calibration,
            &results,
            clock,
            sink,
        )?;
        results.push(comparison);
    }
    Ok(results)
}

/// The built-in model trained with `mitigation` (or loaded from the cache), and a note on
/// where it came from for the report.
#[cfg(feature = "candle")]
pub(crate) fn mitigated_model(
    target: Option<&TargetPlan>,
    mitigation: &MitigationPlan,
    config: &EngineConfig,
    clock: &dyn Clock,
    sink: &mut dyn EventSink,
) -> Result<(Box<dyn Model>, String), EngineError> {
    use stressor_mitigation::{AdversarialTraining, AugmentedTraining};
    use stressor_model::builtin::TrainConfig;
    use stressor_scenario::target::{MODEL_RECIPE, cached_cnn, fnv1a, train_progress};
    let train_seed = match target {
        Some(TargetPlan::Builtin { train_seed, .. }) => *train_seed,
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
        let failed = |source| VisionError::Mitigation {
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
                .map_err(|e| EngineError::from(failed(e)))
            }
            MitigationMethod::AugmentedTraining { corruptions, max_severity, fraction } => {
                let mut method = AugmentedTraining::default();
                method.corruptions = corruptions.clone();
                method.max_severity = *max_severity;
                method.fraction = *fraction as f32;
                method.train = train_config.clone();
                stressor_mitigation::augmented_training(&train, &method, train_seed, &mut progress)
                    .map_err(|e| EngineError::from(failed(e)))
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
pub(crate) fn mitigated_model(
    _target: Option<&TargetPlan>,
    _mitigation: &MitigationPlan,
    _config: &EngineConfig,
    _clock: &dyn Clock,
    _sink: &mut dyn EventSink,
) -> Result<(Box<dyn Model>, String), EngineError> {
    Err(EngineError::NoBackend)
}

pub(crate) struct Runner<'a> {
    pub(crate) plan: &'a VisionPlan,
    pub(crate) seed: Seed,
    pub(crate) config: &'a EngineConfig,
    pub(crate) clock: &'a dyn Clock,
    pub(crate) sink: &'a mut dyn EventSink,
    pub(crate) model: &'a dyn Model,
    pub(crate) data: &'a Dataset,
    pub(crate) uncertainty: Uncertainty,
    pub(crate) clean_predictions: Vec<u32>,
    pub(crate) baseline: Option<Baseline<'a>>,
    /// An ensemble target's members: every point also reports per-member metrics.
    pub(crate) members: Option<&'a [Box<dyn Model>]>,
    /// The mitigation whose model this runner measures: step ids get its id as a prefix.
    pub(crate) mitigation: Option<&'a MitigationPlan>,
}

/// The corruption baseline: its model, clean error and error at every corruption point.
pub(crate) struct Baseline<'a> {
    model: &'a dyn Model,
    clean_error: f64,
    /// Per corruption step id, the baseline's error at each severity.
    errors: Vec<(String, Vec<f64>)>,
}

impl Runner<'_> {
    pub(crate) fn steady_state(
        &mut self,
        clean_scores: &Scores,
    ) -> Result<StepResult, EngineError> {
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
            self.seed.derive("steady-state/calibration"),
        );
        metrics.extend(calibration_metrics);
        metrics.extend(self.member_metrics(
            &self.data.inputs,
            &self.clean_predictions,
            self.seed.derive("steady-state/members"),
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
    pub(crate) fn run_steps(
        &mut self,
        steps: &[&StepPlan],
    ) -> Result<Vec<StepResult>, EngineError> {
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
        let seed = self.seed.derive(&format!("step/{}", step.id));
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
        let goal_of = |chunk: &[usize]| match &targets {
            Some(t) => Goal::Targeted(chunk.iter().map(|&i| t[i]).collect()),
            None => Goal::Untargeted,
        };
        // HopSkipJump's search does not depend on ε: one search per chunk serves the whole
        // sweep, each ε reads its outcome from it (and reports the queries of that one search).
        let searches: Option<Vec<stressor_attack::MinimumNorm>> = match attack_plan.kind {
            AttackKind::HopSkipJump => {
                let hsj = hop_skip_jump(attack_plan);
                let searches = attacked
                    .chunks(step.batch_size)
                    .enumerate()
                    .map(|(chunk_idx, chunk)| {
                        let inputs = self.data.inputs.select(chunk);
                        let labels: Vec<u32> = chunk.iter().map(|&i| self.data.labels[i]).collect();
                        hsj.search(
                            self.model,
                            &inputs,
                            &labels,
                            &goal_of(chunk),
                            seed.derive("search").derive_index(chunk_idx as u64),
                            &mut |_, _| {},
                        )
                        .map_err(|source| VisionError::Attack { step: step.id.clone(), source })
                    })
                    .collect::<Result<_, _>>()?;
                Some(searches)
            }
            _ => None,
        };
        let mut points = Vec::with_capacity(step.dial_values.len());
        for (dial_idx, &epsilon) in step.dial_values.iter().enumerate() {
            let point_seed = seed.derive_index(dial_idx as u64);
            let mut adversarial = self.data.inputs.clone();
            let mut queries = vec![0u64; self.data.len()];
            let mut loss_sum: Vec<f64> = Vec::new();
            for (chunk_idx, chunk) in attacked.chunks(step.batch_size).enumerate() {
                let inputs = self.data.inputs.select(chunk);
                let labels: Vec<u32> = chunk.iter().map(|&i| self.data.labels[i]).collect();
                let outcome = match &searches {
                    Some(searches) => searches[chunk_idx].at(epsilon as f32),
                    None => attack.run(
                        self.model,
                        &inputs,
                        &labels,
                        &goal_of(chunk),
                        epsilon as f32,
                        point_seed.derive_index(chunk_idx as u64),
                        &mut |_, _| {},
                    ),
                }
                .map_err(|source| VisionError::Attack { step: step.id.clone(), source })?;
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
        let seed = self.seed.derive(&format!("step/{}", step.id));
        let data = self.data;
        let n = data.len() as u64;
        let clean_correct: Vec<bool> =
            self.clean_predictions.iter().zip(&data.labels).map(|(p, l)| p == l).collect();
        let total = step.dial_values.len() as u64;
        let mut points = Vec::with_capacity(step.dial_values.len());
        for (dial_idx, &value) in step.dial_values.iter().enumerate() {
            let point_seed = seed.derive_index(dial_idx as u64);
            let shifted = apply(&data.inputs, value, point_seed.derive("shift"))
                .map_err(|source| VisionError::Shift { step: step.id.clone(), source })?;
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

    pub(crate) fn warn(&mut self, step_id: Option<&str>, code: &str, message: String) {
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

pub(crate) fn build_attack(plan: &AttackPlan) -> Box<dyn Attack> {
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
        AttackKind::HopSkipJump => Box::new(hop_skip_jump(plan)),
    }
}

fn hop_skip_jump(plan: &AttackPlan) -> stressor_attack::HopSkipJump {
    let norm = match plan.norm {
        NormKind::Linf => stressor_attack::Norm::Linf,
        NormKind::L2 => stressor_attack::Norm::L2,
    };
    stressor_attack::HopSkipJump {
        norm,
        max_queries: plan.queries,
        max_iterations: plan.steps,
        ..Default::default()
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

pub(crate) fn choose_targets(
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

fn fmt_dials(values: &[f64]) -> String {
    values.iter().map(|v| stressor_scenario::fmt_value(*v)).collect::<Vec<_>>().join(", ")
}

/// One point without a dial, holding `metrics`: the shape of summary and comparison steps.
pub(crate) fn summary_point(metrics: Vec<MetricValue>) -> StepPoint {
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

pub(crate) fn metric(name: &str, estimate: Estimate) -> MetricValue {
    MetricValue { name: name.to_string(), estimate }
}

pub(crate) fn count_correct(predictions: &[u32], labels: &[u32]) -> u64 {
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
