//! The recovery loop: a seeded stream runs in steady state, drift starts (sudden or gradual,
//! at the dial's level), a detector compares each production batch with the deployed model's
//! training data, a retraining policy refits the model on a window of recent labelled rows
//! (labels arrive `label_delay` steps late), and the new model is deployed the next step.
//!
//! Every step the deployed model is scored on a held-out evaluation set under that step's
//! drift (rows never used for training), so accuracy and ECE are not flattered by training
//! rows. Every policy sees the same stream: the rows depend on the seed and the step only.

use std::time::Instant;

use stressor_calibration::{Binning, expected_calibration_error};
use stressor_core::{DriftEvent, DriftPoint, Seed};
use stressor_tabular::{ModelSpec, Pipeline, Regime, Scorer, Synthetic, Table, TableError};

use crate::Correction;
use crate::compare::{CompareError, Reference};
use crate::inject::chosen;
use crate::stream::{Draw, Schedule, Source, Transform};

/// When the model is retrained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Never: the first model serves throughout.
    None,
    /// Every `every` steps, drift or not.
    Periodic {
        /// Steps between retrains.
        every: usize,
    },
    /// When the detector fires (once the firing batch's labels have arrived), then not again
    /// for `cooldown` steps after the deployment.
    Triggered {
        /// Steps after a deployment during which alarms are ignored.
        cooldown: usize,
    },
}

impl Policy {
    /// `none`, `periodic` or `drift-triggered`.
    pub fn name(&self) -> &'static str {
        match self {
            Policy::None => "none",
            Policy::Periodic { .. } => "periodic",
            Policy::Triggered { .. } => "drift-triggered",
        }
    }
}

/// The loop's settings.
#[derive(Debug, Clone)]
pub struct LoopConfig {
    /// Steps in the stream.
    pub steps: usize,
    /// Production rows per step.
    pub batch_rows: usize,
    /// The drift schedule.
    pub schedule: Schedule,
    /// What a drifted row is.
    pub transforms: Vec<Transform>,
    /// The classifier (refitted with its encoder at each retrain).
    pub model: ModelSpec,
    /// The feature columns.
    pub features: Vec<String>,
    /// The label column and its positive class.
    pub target: (String, String),
    /// Steps before a batch's labels arrive.
    pub label_delay: usize,
    /// Labelled steps a retrain uses (the most recent ones).
    pub window: usize,
    /// The detector's significance level after the correction.
    pub alpha: f64,
    /// The correction across features.
    pub correction: Correction,
    /// Steps the detector looks at (the most recent ones).
    pub detector_window: usize,
    /// How close to the pre-drift accuracy counts as recovered.
    pub tolerance: f64,
    /// Consecutive steps within tolerance that make a recovery.
    pub hold: usize,
    /// ECE bins.
    pub ece_bins: usize,
}

/// One retrain.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrain {
    /// The step it ran at (deployed the next step).
    pub step: usize,
    /// Training rows.
    pub rows: usize,
    /// Wall time of the fit, seconds.
    pub seconds: f64,
}

/// One policy's run and what was measured.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyRun {
    /// The policy.
    pub policy: Policy,
    /// Every step.
    pub steps: Vec<DriftPoint>,
    /// What happened, in order.
    pub events: Vec<DriftEvent>,
    /// Every retrain.
    pub retrains: Vec<Retrain>,
    /// Mean accuracy over the steps before the drift.
    pub pre_drift_accuracy: f64,
    /// Mean ECE over the steps before the drift.
    pub pre_drift_ece: f64,
    /// Steps from the drift's start to the first alarm at or after it.
    pub time_to_detect: Option<usize>,
    /// Alarms before the drift started.
    pub false_alarms: usize,
    /// Steps from the drift's start to the first of `hold` steps back within tolerance of the
    /// pre-drift accuracy (0 when it never left); `None` when it did not come back.
    pub time_to_recover: Option<usize>,
    /// Accuracy lost from the drift's start to the end: `Σ max(0, pre − accuracy)` over
    /// steps (accuracy × steps; the area between the pre-drift level and the curve).
    pub accuracy_lost: f64,
    /// The lowest accuracy from the drift's start on.
    pub worst_accuracy: f64,
    /// Mean accuracy over the last `hold` steps.
    pub final_accuracy: f64,
    /// Mean ECE over the last `hold` steps.
    pub final_ece: f64,
    /// Wall time of this policy's run (the shared stream drawn once before), seconds.
    pub seconds: f64,
}

/// Why the loop cannot run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoopError {
    /// Data or model trouble.
    #[error(transparent)]
    Table(#[from] TableError),
    /// The detector failed.
    #[error(transparent)]
    Compare(#[from] CompareError),
    /// Settings that do not fit together.
    #[error("{0}")]
    Config(String),
}

/// The data a loop runs on: the first model's training rows, the evaluation rows (held out)
/// and the production source.
#[derive(Debug, Clone)]
pub struct LoopData {
    /// The first model's training rows (and the detector's first reference).
    pub train: Table,
    /// Held-out evaluation rows, the usual version and the drifted version.
    pub eval: Draw,
    /// Production rows.
    pub source: Source,
    /// The first deployed model when it is not fitted on `train` (a user's ONNX model, say);
    /// retrains always fit the built-in model.
    pub initial: Option<std::sync::Arc<dyn Scorer>>,
}

impl LoopData {
    /// Splits `table` with a seeded shuffle into three disjoint parts: `eval_rows` held out
    /// for evaluation, `train_rows` that train the first model, and the rest, the production
    /// pool that every step's batch is resampled from. The evaluation rows' drifted version applies `transforms`.
    ///
    /// # Errors
    /// [`LoopError`] when the table is too small for the split, the target is bad, or a
    /// transform names a bad column.
    pub fn from_table(
        table: &Table,
        target: (&str, &str),
        eval_rows: usize,
        train_rows: usize,
        transforms: &[Transform],
        seed: Seed,
    ) -> Result<LoopData, LoopError> {
        if eval_rows + train_rows >= table.rows || eval_rows == 0 || train_rows == 0 {
            return Err(LoopError::Config(format!(
                "{} has {} rows: too few for {eval_rows} evaluation rows and {train_rows} training rows",
                table.path.display(),
                table.rows
            )));
        }
        let labels = stressor_tabular::labels(table, target.0, target.1)?;
        let mut order: Vec<usize> = (0..table.rows).collect();
        rand::seq::SliceRandom::shuffle(order.as_mut_slice(), &mut seed.derive("split").rng());
        let (eval_idx, rest) = order.split_at(eval_rows);
        let eval = table.take(eval_idx);
        let eval_labels: Vec<u8> = eval_idx.iter().map(|&i| labels[i]).collect();
        let (train_idx, pool_idx) = rest.split_at(train_rows);
        let pool_labels: Vec<u8> = pool_idx.iter().map(|&i| labels[i]).collect();
        let pool = table.take(pool_idx);
        // The evaluation rows are taken as they are; their drifted version goes through the
        // same transforms as production rows (prior drift redraws them from the class).
        let eval_source = Source::Table { pool: eval, labels: eval_labels };
        let identity: Vec<usize> = (0..eval_rows).collect();
        let eval_draw = eval_source.draw_rows(&identity, transforms, seed.derive("eval"))?;
        Ok(LoopData {
            train: table.take(train_idx),
            eval: eval_draw,
            source: Source::Table { pool, labels: pool_labels },
            initial: None,
        })
    }

    /// Synthetic data: `train_rows` fresh rows train the first model, `eval_rows` fresh rows
    /// (and their drifted draw) evaluate it, and production draws fresh rows every step.
    ///
    /// # Errors
    /// [`LoopError`] for a bad generator or transform.
    pub fn synthetic(
        generator: Synthetic,
        train_rows: usize,
        eval_rows: usize,
        transforms: &[Transform],
        seed: Seed,
    ) -> Result<LoopData, LoopError> {
        let source = Source::Synthetic(generator);
        let (train, _) = generator.sample(train_rows, Regime::default(), seed.derive("train"))?;
        let eval = source.draw(eval_rows, transforms, seed.derive("eval"))?;
        Ok(LoopData { train, eval, source, initial: None })
    }
}

fn accuracy(proba: &[f64], labels: &[u8]) -> f64 {
    let correct = proba.iter().zip(labels).filter(|(p, y)| u8::from(**p >= 0.5) == **y).count();
    correct as f64 / labels.len().max(1) as f64
}

fn ece(proba: &[f64], labels: &[u8], bins: usize) -> f64 {
    let probs: Vec<f32> = proba.iter().flat_map(|&p| [(1.0 - p) as f32, p as f32]).collect();
    let labels: Vec<u32> = labels.iter().map(|&y| u32::from(y)).collect();
    expected_calibration_error(&probs, 2, &labels, bins, Binning::EqualWidth)
}

/// `table` with its label column rewritten from `labels`, so refits read the (possibly
/// flipped) labels: the positive class keeps its text, the other becomes `not-<positive>`.
fn with_labels(table: &Table, labels: &[u8], target: &(String, String)) -> Table {
    let values: Vec<String> = labels
        .iter()
        .map(|&y| if y == 1 { target.1.clone() } else { format!("not-{}", target.1) })
        .collect();
    let mut table = table.clone();
    match table.column_mut(&target.0) {
        Some(column) => *column = stressor_tabular::Column::Categorical(values),
        None => {
            table.columns.push((target.0.clone(), stressor_tabular::Column::Categorical(values)))
        }
    }
    table
}

/// Runs every policy over the same stream.
///
/// # Errors
/// [`LoopError`] for settings that do not fit, a transform naming a bad column, or a model
/// that cannot be fitted on a window (for instance a single class).
pub fn run(
    data: &LoopData,
    config: &LoopConfig,
    policies: &[Policy],
    seed: Seed,
) -> Result<Vec<PolicyRun>, LoopError> {
    let c = config;
    if c.steps == 0 || c.batch_rows == 0 || c.window == 0 || c.detector_window == 0 || c.hold == 0 {
        return Err(LoopError::Config(
            "steps, batch_rows, window, detector_window and hold must be ≥ 1".into(),
        ));
    }
    if !(0.0..=1.0).contains(&c.schedule.dial) {
        return Err(LoopError::Config(format!(
            "the drift dial must lie in [0, 1], not {}",
            c.schedule.dial
        )));
    }
    if c.schedule.start == 0 || c.schedule.start >= c.steps {
        return Err(LoopError::Config(format!(
            "the drift must start after step 0 and before the last step ({}), not at {}",
            c.steps - 1,
            c.schedule.start
        )));
    }
    // The stream, the same for every policy.
    let mut batches = Vec::with_capacity(c.steps);
    for step in 0..c.steps {
        let step_seed = seed.derive("stream").derive_index(step as u64);
        let draw = data.source.draw(c.batch_rows, &c.transforms, step_seed)?;
        let mask = chosen(c.batch_rows, c.schedule.share(step), step_seed.derive("mix"));
        batches.push(draw.mix(&mask));
    }
    let eval_seed = seed.derive("eval-mix");
    let eval_rows = data.eval.base.rows;
    let mut runs = Vec::with_capacity(policies.len());
    for &policy in policies {
        let started = Instant::now();
        let mut run = run_policy(data, c, policy, &batches, eval_rows, eval_seed, seed)?;
        run.seconds = started.elapsed().as_secs_f64();
        runs.push(run);
    }
    Ok(runs)
}

fn run_policy(
    data: &LoopData,
    c: &LoopConfig,
    policy: Policy,
    batches: &[(Table, Vec<u8>)],
    eval_rows: usize,
    eval_seed: Seed,
    seed: Seed,
) -> Result<PolicyRun, LoopError> {
    let (target, positive) = (&c.target.0, &c.target.1);
    let fit = |table: &Table, version: usize| {
        Pipeline::fit(
            table,
            &c.features,
            target,
            positive,
            c.model,
            seed.derive_index(version as u64),
        )
    };
    let features_only = |table: &Table| -> Table {
        let columns =
            table.columns.iter().filter(|(n, _)| c.features.contains(n)).cloned().collect();
        Table { path: table.path.clone(), columns, rows: table.rows }
    };
    let mut model: std::sync::Arc<dyn Scorer> = match &data.initial {
        Some(initial) => std::sync::Arc::clone(initial),
        None => std::sync::Arc::new(fit(&data.train, 0)?),
    };
    let mut reference = Reference::new(&features_only(&data.train))?;
    let mut version = 0;
    let mut deployed_at = 0usize;
    let mut pending: Option<usize> = None; // the step whose labels a triggered retrain waits for
    let mut steps = Vec::with_capacity(c.steps);
    let mut events = Vec::new();
    let mut retrains = Vec::new();
    let mut detected = None;
    let mut false_alarms = 0;
    events.push(DriftEvent {
        step: c.schedule.start,
        kind: "drift-start".into(),
        detail: format!("share rises to {}", c.schedule.dial),
    });
    if c.schedule.full() != c.schedule.start && c.schedule.full() < c.steps {
        events.push(DriftEvent {
            step: c.schedule.full(),
            kind: "drift-full".into(),
            detail: format!("share {}", c.schedule.dial),
        });
    }
    for step in 0..c.steps {
        let share = c.schedule.share(step);
        // Score the deployed model on the evaluation rows under this step's drift.
        let (eval, eval_labels) = data.eval.mix(&chosen(eval_rows, share, eval_seed));
        let proba = model.score(&eval)?;
        let (batch, batch_labels) = &batches[step];
        let batch_proba = model.score(batch)?;
        // The detector: the most recent `detector_window` batches against the reference.
        // The reference reads its own columns by name, so the batch goes in as it is; only a
        // window of several batches is joined.
        let first = (step + 1).saturating_sub(c.detector_window);
        let pooled;
        let current = if first == step {
            batch
        } else {
            let mut joined = batches[first].0.clone();
            for (table, _) in &batches[first + 1..=step] {
                joined = joined.concat(table)?;
            }
            pooled = joined;
            &pooled
        };
        let drifts = reference.compare(current, c.correction, c.alpha)?;
        let top = drifts.iter().min_by(|a, b| a.pvalue_adjusted.total_cmp(&b.pvalue_adjusted));
        let ks_max = drifts
            .iter()
            .filter(|d| d.test.starts_with("ks"))
            .map(|d| d.statistic)
            .fold(f64::NAN, f64::max);
        let alarm = drifts.iter().any(|d| d.drifted);
        steps.push(DriftPoint {
            step,
            drift_share: share,
            accuracy: accuracy(&proba, &eval_labels),
            ece: ece(&proba, &eval_labels, c.ece_bins),
            eval_rows,
            batch_accuracy: accuracy(&batch_proba, batch_labels),
            estimated_accuracy: batch_proba.iter().map(|p| p.max(1.0 - p)).sum::<f64>()
                / batch_proba.len().max(1) as f64,
            drift_statistic: if ks_max.is_nan() {
                top.map_or(0.0, |d| d.jensen_shannon)
            } else {
                ks_max
            },
            drift_pvalue: top.map_or(1.0, |d| d.pvalue_adjusted),
            top_feature: top.map_or_else(String::new, |d| d.column.clone()),
            alarm,
            model_version: version,
        });
        if alarm {
            let top = top.map_or_else(String::new, |d| {
                format!("{} ({} {:.3}, p {:.2e})", d.column, d.test, d.statistic, d.pvalue_adjusted)
            });
            if step < c.schedule.start {
                false_alarms += 1;
                events.push(DriftEvent { step, kind: "false-alarm".into(), detail: top });
            } else if detected.is_none() {
                detected = Some(step);
                events.push(DriftEvent { step, kind: "detected".into(), detail: top });
            }
        }
        // Retraining: decide, then fit on the labelled window; the new model serves next step.
        let retrain_now = match policy {
            Policy::None => false,
            Policy::Periodic { every } => every > 0 && step > 0 && step % every == 0,
            Policy::Triggered { cooldown } => {
                let cooled = version == 0 || step >= deployed_at + cooldown;
                if alarm && pending.is_none() && cooled {
                    pending = Some(step);
                }
                pending.is_some_and(|fired| step >= fired + c.label_delay)
            }
        };
        if retrain_now && step + 1 < c.steps {
            let Some(last) = step.checked_sub(c.label_delay) else { continue };
            let from = (last + 1).saturating_sub(c.window);
            let mut rows = with_labels(&batches[from].0, &batches[from].1, &c.target);
            for (table, labels) in &batches[from + 1..=last] {
                rows = rows.concat(&with_labels(table, labels, &c.target))?;
            }
            let started = Instant::now();
            let refit = fit(&rows, version + 1);
            let seconds = started.elapsed().as_secs_f64();
            match refit {
                Ok(refit) => {
                    model = std::sync::Arc::new(refit);
                    reference = Reference::new(&features_only(&rows))?;
                    version += 1;
                    deployed_at = step + 1;
                    pending = None;
                    retrains.push(Retrain { step, rows: rows.rows, seconds });
                    events.push(DriftEvent {
                        step,
                        kind: "retrain".into(),
                        detail: format!("{} rows (steps {from}–{last})", rows.rows),
                    });
                    events.push(DriftEvent {
                        step: step + 1,
                        kind: "deployed".into(),
                        detail: format!("model v{version}"),
                    });
                }
                Err(e) => {
                    events.push(DriftEvent {
                        step,
                        kind: "retrain-failed".into(),
                        detail: e.to_string(),
                    });
                    pending = None;
                }
            }
        }
    }
    events.sort_by_key(|e| e.step);
    Ok(summarise(c, policy, steps, events, retrains, detected, false_alarms))
}

fn summarise(
    c: &LoopConfig,
    policy: Policy,
    steps: Vec<DriftPoint>,
    events: Vec<DriftEvent>,
    retrains: Vec<Retrain>,
    detected: Option<usize>,
    false_alarms: usize,
) -> PolicyRun {
    let start = c.schedule.start;
    let mean = |xs: &mut dyn Iterator<Item = f64>| {
        let (sum, n) = xs.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
        if n == 0 { f64::NAN } else { sum / n as f64 }
    };
    let pre = mean(&mut steps[..start].iter().map(|s| s.accuracy));
    let pre_ece = mean(&mut steps[..start].iter().map(|s| s.ece));
    let after = &steps[start..];
    let floor = pre - c.tolerance;
    let time_to_recover = match after.iter().position(|s| s.accuracy < floor) {
        None => Some(0),
        Some(first_bad) => (first_bad..after.len()).find(|&i| {
            i + c.hold <= after.len() && after[i..i + c.hold].iter().all(|s| s.accuracy >= floor)
        }),
    };
    let tail = &steps[steps.len().saturating_sub(c.hold)..];
    PolicyRun {
        policy,
        pre_drift_accuracy: pre,
        pre_drift_ece: pre_ece,
        time_to_detect: detected.map(|d| d - start),
        false_alarms,
        time_to_recover,
        accuracy_lost: after.iter().map(|s| (pre - s.accuracy).max(0.0)).sum(),
        worst_accuracy: after.iter().map(|s| s.accuracy).fold(f64::INFINITY, f64::min),
        final_accuracy: mean(&mut tail.iter().map(|s| s.accuracy)),
        final_ece: mean(&mut tail.iter().map(|s| s.ece)),
        seconds: 0.0,
        steps,
        events,
        retrains,
    }
}
