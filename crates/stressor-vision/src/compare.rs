//! Comparisons between models: an ensemble against its members (per-point member metrics and
//! attack transfer) and a mitigated model against the original (the before/after table).

use stressor_attack::Goal;
use stressor_core::{
    Batch, Clock, Dataset, Estimate, Event, EventSink, MetricValue, Seed, StepInfo, StepKind,
    StepResult,
};
use stressor_model::{Model, ModelError};

use stressor_scenario::target::TargetPlan;
use stressor_scenario::{EngineConfig, EngineError, fmt_value};

use crate::measure::{Uncertainty, predict_scores};
use crate::plan::{MitigationPlan, StepPlan, Stress, VisionPlan, comparison_rows};
use crate::run::{
    Runner, VisionError, build_attack, choose_targets, count_correct, metric, mitigated_model,
    summary_point,
};

impl Runner<'_> {
    /// For an ensemble target, its members' accuracy on `inputs`, the best member's, the
    /// ensemble's paired gain over the best member (`ensemble_gain`, with a bootstrap interval
    /// over samples) and the share of samples the members do not all agree on. Empty for other
    /// targets.
    pub(crate) fn member_metrics(
        &self,
        inputs: &Batch,
        predictions: &[u32],
        seed: Seed,
    ) -> Result<Vec<MetricValue>, EngineError> {
        let Some(members) = self.members else { return Ok(Vec::new()) };
        let labels = &self.data.labels;
        let n = labels.len() as u64;
        let member_predictions = members
            .iter()
            .map(|member| Ok(predict_scores(member.as_ref(), inputs)?.predictions()))
            .collect::<Result<Vec<Vec<u32>>, ModelError>>()?;
        let correct: Vec<u64> =
            member_predictions.iter().map(|p| count_correct(p, labels)).collect();
        let mut metrics: Vec<MetricValue> = correct
            .iter()
            .enumerate()
            .map(|(i, &c)| metric(&format!("member_accuracy.m{i}"), Estimate::proportion(c, n)))
            .collect();
        // The first of the most accurate members.
        let best =
            (0..correct.len()).fold(0, |best, i| if correct[i] > correct[best] { i } else { best });
        metrics.push(metric("best_member_accuracy", Estimate::proportion(correct[best], n)));
        let gains: Vec<f64> = (0..labels.len())
            .map(|k| {
                f64::from(u8::from(predictions[k] == labels[k]))
                    - f64::from(u8::from(member_predictions[best][k] == labels[k]))
            })
            .collect();
        metrics.push(metric("ensemble_gain", Estimate::mean(&gains, seed.derive("ci/gain"))));
        let disagreeing = (0..labels.len())
            .filter(|&k| member_predictions.iter().any(|p| p[k] != member_predictions[0][k]))
            .count() as u64;
        metrics.push(metric("member_disagreement", Estimate::proportion(disagreeing, n)));
        Ok(metrics)
    }

    /// For an ensemble target, attack transfer: at every white-box attack's largest ε,
    /// adversarial examples crafted on each member (rows) and on the ensemble, evaluated on
    /// every member and the ensemble (columns). `None` for other targets or without white-box
    /// attacks.
    pub(crate) fn transfer_summary(
        &mut self,
        results: &[StepResult],
    ) -> Result<Option<StepResult>, EngineError> {
        let Some(members) = self.members else { return Ok(None) };
        let steps: Vec<&StepPlan> = self
            .plan
            .steps
            .iter()
            .filter(|s| s.attack().is_some_and(|a| a.kind.is_white_box()))
            .filter(|s| !s.dial_values.is_empty())
            .collect();
        if steps.is_empty() {
            return Ok(None);
        }
        let started = self.clock.elapsed();
        let info = StepInfo {
            id: "ensemble-transfer".into(),
            kind: StepKind::Summary,
            description: "accuracy on adversarial examples crafted on one model (rows) and \
                          evaluated on each member and the ensemble (columns), at each white-box \
                          attack's largest ε; the crafting model's own column is white-box, the \
                          others are transfer"
                .into(),
            dial_name: None,
            dial_values: Vec::new(),
        };
        self.sink.event(&Event::StepStarted(info.clone()));
        let data = self.data;
        let n = data.len() as u64;
        let mut columns: Vec<(String, &dyn Model)> =
            members.iter().enumerate().map(|(i, m)| (format!("m{i}"), m.as_ref())).collect();
        columns.push(("ensemble".into(), self.model));
        let total = (steps.len() * members.len()) as u64;
        let mut done = 0;
        let mut metrics = Vec::new();
        for step in steps {
            let Some(attack_plan) = step.attack() else { continue };
            let epsilon = step.dial_values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let seed = self.seed.derive(&format!("transfer/{}", step.id));
            let attack = build_attack(attack_plan);
            let targets =
                choose_targets(attack_plan.targeted, data, self.model, seed.derive("targets"))?;
            for (source_index, source) in members.iter().enumerate() {
                let row =
                    format!("accuracy.{}@{} from m{source_index}", step.id, fmt_value(epsilon));
                if source.differentiable().is_none() {
                    self.warn(
                        Some("ensemble-transfer"),
                        "ensemble/no-gradient",
                        format!("member m{source_index} has no gradient: row `{row}` is skipped"),
                    );
                    continue;
                }
                let source_predictions =
                    predict_scores(source.as_ref(), &data.inputs)?.predictions();
                let attacked: Vec<usize> = (0..data.len())
                    .filter(|&i| source_predictions[i] == data.labels[i])
                    .filter(|&i| targets.as_ref().is_none_or(|t| t[i] != data.labels[i]))
                    .collect();
                let mut adversarial = data.inputs.clone();
                let source_seed = seed.derive_index(source_index as u64);
                for (chunk_index, chunk) in attacked.chunks(step.batch_size).enumerate() {
                    let labels: Vec<u32> = chunk.iter().map(|&i| data.labels[i]).collect();
                    let goal = match &targets {
                        Some(t) => Goal::Targeted(chunk.iter().map(|&i| t[i]).collect()),
                        None => Goal::Untargeted,
                    };
                    let outcome = attack
                        .run(
                            source.as_ref(),
                            &data.inputs.select(chunk),
                            &labels,
                            &goal,
                            epsilon as f32,
                            source_seed.derive_index(chunk_index as u64),
                            &mut |_, _| {},
                        )
                        .map_err(|source| VisionError::Attack {
                            step: format!("ensemble-transfer/{}", step.id),
                            source,
                        })?;
                    for (k, &i) in chunk.iter().enumerate() {
                        adversarial.sample_mut(i).copy_from_slice(outcome.adversarial.sample(k));
                    }
                }
                for (column, model) in &columns {
                    let predictions = predict_scores(*model, &adversarial)?.predictions();
                    let correct = count_correct(&predictions, &data.labels);
                    metrics
                        .push(metric(&format!("{column}:{row}"), Estimate::proportion(correct, n)));
                }
                done += 1;
                self.sink.event(&Event::Progress {
                    step_id: "ensemble-transfer".into(),
                    done,
                    total,
                });
            }
            // Crafted on the ensemble: the attack step's own point at this ε.
            let point = results
                .iter()
                .find(|r| r.info.id == step.id)
                .and_then(|r| r.points.iter().find(|p| p.dial_value == Some(epsilon)));
            if let Some(point) = point {
                let row = format!("accuracy.{}@{} from ensemble", step.id, fmt_value(epsilon));
                for (i, _) in members.iter().enumerate() {
                    if let Some(e) = point.metric(&format!("member_accuracy.m{i}")) {
                        metrics.push(metric(&format!("m{i}:{row}"), *e));
                    }
                }
                if let Some(e) = point.metric("robust_accuracy") {
                    metrics.push(metric(&format!("ensemble:{row}"), *e));
                }
            }
        }
        let result = StepResult {
            info,
            parameters: vec![(
                "members".into(),
                members
                    .iter()
                    .enumerate()
                    .map(|(i, m)| format!("m{i} = {}", m.info().name))
                    .collect::<Vec<_>>()
                    .join(", "),
            )],
            points: vec![summary_point(metrics)],
            elapsed: self.clock.elapsed().saturating_sub(started),
        };
        self.sink.event(&Event::StepFinished(result.clone()));
        Ok(Some(result))
    }
}

/// Trains (or loads) the mitigated model, measures it on the mitigation's steps (emitting
/// their results under `<mitigation>/<step>`) and returns the before/after comparison, also
/// emitted, as a [`StepKind::Mitigation`] step.
#[expect(clippy::too_many_arguments, reason = "one call site; a struct would only rename them")]
pub(crate) fn run_mitigation(
    plan: &VisionPlan,
    seed: Seed,
    target: Option<&TargetPlan>,
    config: &EngineConfig,
    mitigation: &MitigationPlan,
    data: &Dataset,
    calibration: Option<&Dataset>,
    before: &[StepResult],
    clock: &dyn Clock,
    sink: &mut dyn EventSink,
) -> Result<StepResult, EngineError> {
    let started = clock.elapsed();
    let info = StepInfo {
        id: mitigation.id.clone(),
        kind: StepKind::Mitigation,
        description: format!(
            "{} of the built-in model, measured on the same samples and seeds as the original",
            mitigation.method.name()
        ),
        dial_name: None,
        dial_values: Vec::new(),
    };
    sink.event(&Event::StepStarted(info.clone()));
    let (model, provenance) = mitigated_model(target, mitigation, config, clock, sink)?;
    let uncertainty = Uncertainty::fit(&plan.calibration, model.as_ref(), calibration)?;
    let clean_scores = predict_scores(model.as_ref(), &data.inputs)?;
    let steps: Vec<&StepPlan> =
        plan.steps.iter().filter(|s| mitigation.steps.contains(&s.id)).collect();
    let mut runner = Runner {
        plan,
        seed,
        config,
        clock,
        sink,
        model: model.as_ref(),
        data,
        uncertainty,
        clean_predictions: clean_scores.predictions(),
        baseline: None,
        members: None,
        mitigation: Some(mitigation),
    };
    let steady = runner.steady_state(&clean_scores)?;
    let after = runner.run_steps(&steps)?;
    let Runner { sink, .. } = runner;

    let rows = comparison_rows(&steps, &plan.calibration);
    let n = data.len() as u64;
    let mut metrics = Vec::new();
    let mut deltas = Vec::new();
    let reference = match plan.baseline {
        Some(_) => "the baseline model",
        None => "the original model (before = 1)",
    };
    // The corruption errors first: their mean is a row above them.
    let all_errors: Vec<(f64, f64)> = rows
        .iter()
        .filter_map(|row| row.strip_prefix("corruption_error."))
        .filter_map(|id| corruption_errors(before, &after, &mitigation.id, id))
        .collect();
    for row in &rows {
        let pair = match row.as_str() {
            "mean_corruption_error" => {
                let mean = |values: Vec<f64>| values.iter().sum::<f64>() / values.len() as f64;
                let (b, a): (Vec<f64>, Vec<f64>) = all_errors.iter().copied().unzip();
                Some((Estimate::exact(mean(b), n), Estimate::exact(mean(a), n)))
            }
            _ => match row.split_once('.') {
                None => {
                    let of = |r: &StepResult| r.points.first().and_then(|p| p.metric(row)).copied();
                    before.first().and_then(of).zip(of(&steady))
                }
                Some(("corruption_error", id)) => {
                    corruption_errors(before, &after, &mitigation.id, id)
                        .map(|(b, a)| (Estimate::exact(b, n), Estimate::exact(a, n)))
                }
                Some((name, point)) => {
                    let (id, at) = point.rsplit_once('@').unwrap_or((point, ""));
                    let find = |results: &[StepResult], id: &str| {
                        results
                            .iter()
                            .find(|r| r.info.id == id)?
                            .points
                            .iter()
                            .find(|p| p.dial_value.is_some_and(|v| fmt_value(v) == at))?
                            .metric(name)
                            .copied()
                    };
                    find(before, id).zip(find(&after, &format!("{}/{id}", mitigation.id)))
                }
            },
        };
        if let Some((b, a)) = pair {
            metrics.push(metric(&format!("before:{row}"), b));
            metrics.push(metric(&format!("after:{row}"), a));
            deltas.push(metric(&format!("delta:{row}"), Estimate::exact(a.value - b.value, n)));
        }
    }
    metrics.extend(deltas);
    let mut parameters = vec![("method".to_string(), mitigation.method.name().to_string())];
    parameters.extend(mitigation.method.parameters());
    parameters.push(("epochs".into(), mitigation.epochs.to_string()));
    parameters.push((
        "train_samples".into(),
        mitigation.train_samples.map_or_else(|| "all".to_string(), |n| n.to_string()),
    ));
    parameters.push(("model".into(), provenance));
    parameters.push(("measured".into(), mitigation.steps.join(", ")));
    if steps.iter().any(|s| matches!(s.stress, Stress::Corruption(_))) {
        parameters.push(("corruption_error_reference".into(), reference.into()));
    }
    let result = StepResult {
        info,
        parameters,
        points: vec![summary_point(metrics)],
        elapsed: clock.elapsed().saturating_sub(started),
    };
    sink.event(&Event::StepFinished(result.clone()));
    Ok(result)
}

/// The corruption error of step `id` before and after: `Σ_s E_s / Σ_s E^ref_s`, where the
/// reference is the baseline model when the scenario has one (its accuracy is in the original
/// run's points) and the original model otherwise (so before = 1).
fn corruption_errors(
    before: &[StepResult],
    after: &[StepResult],
    mitigation: &str,
    id: &str,
) -> Option<(f64, f64)> {
    let errors = |results: &[StepResult], id: &str, name: &str| -> Option<Vec<f64>> {
        let result = results.iter().find(|r| r.info.id == id)?;
        result.points.iter().map(|p| Some(1.0 - p.metric(name)?.value)).collect()
    };
    let original = errors(before, id, "accuracy")?;
    let mitigated = errors(after, &format!("{mitigation}/{id}"), "accuracy")?;
    let sum = |v: &[f64]| v.iter().sum::<f64>();
    match errors(before, id, "baseline_accuracy") {
        Some(baseline) => Some((sum(&original) / sum(&baseline), sum(&mitigated) / sum(&baseline))),
        None => Some((1.0, sum(&mitigated) / sum(&original))),
    }
}
