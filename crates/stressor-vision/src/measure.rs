//! Predictions and the uncertainty measured on them: calibration metrics, temperature scaling
//! and split-conformal fallback, fitted once on the calibration split and applied at every
//! point of every step.

use stressor_calibration::{CalibrationSummary, Conformal, SummaryConfig, softmax, summarize};
use stressor_core::{
    Batch, CalibrationCurves, Dataset, Estimate, MetricValue, ReliabilityBin, Seed,
};
use stressor_model::{Model, ModelError, ScoreKind, Scores};

use crate::plan::CalibrationPlan;
use stressor_scenario::EngineError;

/// Samples predicted at once.
pub(crate) const PREDICT_BATCH: usize = 512;

/// The model's scores on `inputs`, predicted in chunks.
pub(crate) fn predict_scores(model: &dyn Model, inputs: &Batch) -> Result<Scores, ModelError> {
    let n_classes = model.info().n_classes;
    let mut values = Vec::with_capacity(inputs.len() * n_classes);
    let mut kind = ScoreKind::Logits;
    for start in (0..inputs.len()).step_by(PREDICT_BATCH) {
        let end = (start + PREDICT_BATCH).min(inputs.len());
        let scores = model.predict(&inputs.slice(start, end))?;
        kind = scores.kind();
        values.extend_from_slice(scores.as_slice());
    }
    Ok(Scores::new(values, n_classes, kind))
}

/// Log-probabilities or logits: what temperature scaling divides.
fn logits_of(scores: &Scores) -> Vec<f32> {
    match scores.kind() {
        ScoreKind::Logits => scores.as_slice().to_vec(),
        // log p is a logit vector for the same distribution (softmax is shift-invariant).
        ScoreKind::Probabilities => {
            scores.as_slice().iter().map(|p| p.max(f32::MIN_POSITIVE).ln()).collect()
        }
    }
}

/// What the calibration split fitted, and how every point is measured.
#[derive(Debug, Clone)]
pub(crate) struct Uncertainty {
    bins: usize,
    alpha: f64,
    /// The fitted temperature and the calibration samples it was fitted on.
    temperature: Option<(f64, usize)>,
    /// Fitted on temperature-scaled probabilities when there is a temperature.
    conformal: Option<Conformal>,
}

impl Uncertainty {
    /// Fits temperature scaling and the conformal threshold on `calibration`, as `plan` asks.
    pub(crate) fn fit(
        plan: &CalibrationPlan,
        model: &dyn Model,
        calibration: Option<&Dataset>,
    ) -> Result<Uncertainty, EngineError> {
        let mut fitted =
            Uncertainty { bins: plan.bins, alpha: plan.alpha, temperature: None, conformal: None };
        let Some(calibration) = calibration.filter(|c| !c.is_empty()) else {
            return Ok(fitted);
        };
        let scores = predict_scores(model, &calibration.inputs)?;
        let k = scores.n_classes();
        let logits = logits_of(&scores);
        if plan.temperature_scaling {
            let t = stressor_calibration::fit_temperature(&logits, k, &calibration.labels)
                .map_err(|error| EngineError::Calibration {
                    reason: format!("temperature scaling failed: {error}"),
                })?;
            fitted.temperature = Some((t, calibration.len()));
        }
        let probs = fitted.probabilities(&logits, k);
        fitted.conformal =
            Some(Conformal::fit(&probs, k, &calibration.labels, plan.alpha).map_err(|error| {
                EngineError::Calibration { reason: format!("conformal fit failed: {error}") }
            })?);
        Ok(fitted)
    }

    /// Softmax of `logits` at the fitted temperature (1 when none).
    fn probabilities(&self, logits: &[f32], k: usize) -> Vec<f32> {
        softmax(logits, k, self.temperature.map_or(1.0, |(t, _)| t))
    }

    /// Parameters for the report.
    pub(crate) fn parameters(&self) -> Vec<(String, String)> {
        let mut parameters = vec![("calibration_bins".to_string(), self.bins.to_string())];
        if let Some((t, n)) = self.temperature {
            parameters.push(("temperature".into(), format!("{t:.4} (fitted on {n} samples)")));
        }
        if let Some(conformal) = &self.conformal {
            parameters.push((
                "conformal".into(),
                format!(
                    "α = {}, threshold {:.4}, {} calibration samples",
                    self.alpha,
                    conformal.threshold(),
                    conformal.n_calibration()
                ),
            ));
        }
        parameters
    }

    /// Calibration metrics and curves of `scores` against `labels`.
    pub(crate) fn measure(
        &self,
        scores: &Scores,
        labels: &[u32],
        seed: Seed,
    ) -> (Vec<MetricValue>, CalibrationCurves) {
        let k = scores.n_classes();
        let n = labels.len() as u64;
        let logits = logits_of(scores);
        let raw = softmax(&logits, k, 1.0);
        let config = SummaryConfig { bins: self.bins, ..SummaryConfig::default() };
        let summary = summarize(&raw, k, labels, &config, seed.derive("raw"));
        let mut metrics = vec![
            metric("ece", summary.ece),
            metric("ece_equal_mass", summary.ece_equal_mass),
            metric("max_calibration_error", summary.mce),
            metric("brier", summary.brier),
            metric("nll", summary.nll),
            metric("error_auroc", summary.error_auroc),
            metric("aurc", summary.aurc),
        ];
        let scaled = match self.temperature {
            Some((t, n_fit)) => {
                let probs = self.probabilities(&logits, k);
                let scaled = summarize(&probs, k, labels, &config, seed.derive("scaled"));
                metrics.push(metric("temperature", Estimate::exact(t, n_fit as u64)));
                metrics.push(metric("ece_scaled", scaled.ece));
                metrics.push(metric("nll_scaled", scaled.nll));
                metrics.push(metric("brier_scaled", scaled.brier));
                probs
            }
            None => raw.clone(),
        };
        if let Some(conformal) = &self.conformal {
            let sets = conformal.prediction_sets(&scaled, k);
            let covered =
                sets.iter().zip(labels).filter(|(set, label)| set.contains(label)).count() as u64;
            let sizes: Vec<f64> = sets.iter().map(|set| set.len() as f64).collect();
            let fallback = sets.iter().filter(|set| set.len() != 1).count() as u64;
            metrics.push(metric("conformal_coverage", Estimate::proportion(covered, n)));
            metrics.push(metric("mean_set_size", Estimate::mean(&sizes, seed.derive("ci/sets"))));
            metrics.push(metric("fallback_rate", Estimate::proportion(fallback, n)));
        }
        (metrics, curves(&summary, &raw, k, labels))
    }
}

fn metric(name: &str, estimate: Estimate) -> MetricValue {
    MetricValue { name: name.to_string(), estimate }
}

/// The reliability diagram and histogram from `summary`, and the risk–coverage curve thinned
/// to at most 101 points.
fn curves(
    summary: &CalibrationSummary,
    probs: &[f32],
    k: usize,
    labels: &[u32],
) -> CalibrationCurves {
    let confidence: Vec<f64> = probs
        .chunks_exact(k.max(1))
        .map(|row| f64::from(row.iter().copied().fold(f32::NEG_INFINITY, f32::max)))
        .collect();
    let correct: Vec<bool> = probs
        .chunks_exact(k.max(1))
        .zip(labels)
        .map(|(row, &label)| {
            let best = row
                .iter()
                .enumerate()
                .fold(0, |best, (j, v)| if *v > row[best] { j } else { best });
            best == label as usize
        })
        .collect();
    let rc = stressor_calibration::risk_coverage(&confidence, &correct);
    let step = (rc.coverage.len() / 100).max(1);
    let mut risk_coverage: Vec<(f64, f64)> =
        rc.coverage.iter().zip(&rc.risk).step_by(step).map(|(c, r)| (*c, *r)).collect();
    if let (Some(c), Some(r)) = (rc.coverage.last(), rc.risk.last())
        && risk_coverage.last() != Some(&(*c, *r))
    {
        risk_coverage.push((*c, *r));
    }
    CalibrationCurves {
        reliability: summary
            .reliability
            .iter()
            .map(|b| ReliabilityBin {
                lower: b.lower,
                upper: b.upper,
                count: b.count,
                mean_confidence: b.mean_confidence,
                accuracy: b.accuracy,
            })
            .collect(),
        confidence_histogram: summary.confidence_histogram.clone(),
        risk_coverage,
    }
}
