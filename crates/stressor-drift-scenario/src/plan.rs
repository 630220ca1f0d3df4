//! Planning a drift scenario (a file with `[drift]`): the data, the model, the stream, the
//! drift, the detector, the retraining policies and gates.

use std::path::PathBuf;

use std::ops::{Deref, DerefMut};

use stressor_core::Gate;
use stressor_drift::Correction;
use stressor_drift::recovery::Policy;
use stressor_drift::stream::{Onset, Schedule, Transform};
use stressor_scenario::options::GateOptions;
use stressor_tabular::{BoostParams, ModelSpec};
use toml::Spanned;

use crate::options::{DriftOptions, TransformOptions};

/// The metrics of each policy's drift step.
pub const DRIFT_METRICS: &[&str] = &[
    "pre_drift_accuracy",
    "worst_accuracy",
    "final_accuracy",
    "pre_drift_ece",
    "final_ece",
    "time_to_detect_steps",
    "false_alarms",
    "retrains",
    "retrain_wall_ms",
    "time_to_recover_steps",
    "accuracy_lost",
];

/// Where a drift scenario's rows come from.
#[derive(Debug, Clone, PartialEq)]
pub enum DriftData {
    /// The vendored German credit data.
    GermanCredit,
    /// A CSV or Parquet file.
    File(PathBuf),
    /// The synthetic generator with this many numeric features.
    Synthetic {
        /// Numeric features.
        features: usize,
    },
}

/// A drift scenario ready to run.
#[derive(Debug, Clone)]
pub struct DriftPlan {
    /// The rows.
    pub data: DriftData,
    /// The label column and its positive class.
    pub target: (String, String),
    /// Feature columns; every column but the target when absent.
    pub features: Option<Vec<String>>,
    /// Held-out evaluation rows.
    pub eval_rows: usize,
    /// Rows the first model trains on.
    pub train_rows: usize,
    /// The classifier (retrains fit it; it also serves first unless `onnx` is set).
    pub model: ModelSpec,
    /// A user's ONNX model that serves first: its path and whether its output holds
    /// probabilities (else logits).
    pub onnx: Option<(PathBuf, bool)>,
    /// Stream steps.
    pub steps: usize,
    /// Production rows per step.
    pub batch_rows: usize,
    /// When and how much.
    pub schedule: Schedule,
    /// What a drifted row is.
    pub transforms: Vec<Transform>,
    /// Steps before a batch's labels arrive.
    pub label_delay: usize,
    /// Labelled steps a retrain uses.
    pub window: usize,
    /// The detector's significance level.
    pub alpha: f64,
    /// The correction across features.
    pub correction: Correction,
    /// Steps the detector looks at.
    pub detector_window: usize,
    /// Recovery tolerance.
    pub tolerance: f64,
    /// Steps within tolerance that make a recovery.
    pub hold: usize,
    /// ECE bins.
    pub ece_bins: usize,
    /// The policies compared.
    pub policies: Vec<Policy>,
    /// Gates.
    pub gates: Vec<Gate>,
}

/// Plans `[drift]`.
pub(crate) fn plan(
    planner: &mut stressor_scenario::Planner<'_>,
    drift: Spanned<DriftOptions>,
) -> DriftPlan {
    Planner(planner).drift(drift)
}

/// The shared planner, with the drift family's checks.
struct Planner<'p, 'a>(&'p mut stressor_scenario::Planner<'a>);

impl<'a> Deref for Planner<'_, 'a> {
    type Target = stressor_scenario::Planner<'a>;
    fn deref(&self) -> &Self::Target {
        self.0
    }
}

impl DerefMut for Planner<'_, '_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.0
    }
}

impl Planner<'_, '_> {
    fn drift(&mut self, drift: Spanned<DriftOptions>) -> DriftPlan {
        let span = drift.span();
        let d: DriftOptions = drift.into_inner();
        let count = |planner: &mut Self, v: &Option<Spanned<u64>>, key: &str, default: u64| match v
        {
            Some(v) if *v.get_ref() == 0 => {
                planner.problem(
                    v.span(),
                    &format!("drift.{key}"),
                    "must be at least 1".into(),
                    None,
                );
                default as usize
            }
            Some(v) => *v.get_ref() as usize,
            None => default as usize,
        };
        let data = match d.data.get_ref().as_str() {
            "german-credit" => DriftData::GermanCredit,
            "synthetic" => DriftData::Synthetic {
                features: count(self, &d.synthetic_features, "synthetic_features", 4).max(2),
            },
            file => DriftData::File(self.relative(file)),
        };
        let (default_target, default_positive) = match data {
            DriftData::GermanCredit => ("creditability", "bad"),
            DriftData::Synthetic { .. } => ("label", "1"),
            DriftData::File(_) => ("", ""),
        };
        let target = d.target.as_ref().map_or(default_target.to_string(), |t| t.get_ref().clone());
        let positive =
            d.positive.as_ref().map_or(default_positive.to_string(), |p| p.get_ref().clone());
        if target.is_empty() || positive.is_empty() {
            self.problem(
                d.data.span(),
                "drift.data",
                "a data file needs `target` (the label column) and `positive` (its positive class)"
                    .into(),
                None,
            );
        }
        let mut onnx = None;
        let mut kind = d.model.as_ref().map(|m| (m.get_ref().as_str(), m.span()));
        if let Some(("onnx", at)) = kind {
            match &d.path {
                Some(path) => {
                    let probabilities =
                        match d.output.as_ref().map(|o| (o.get_ref().as_str(), o.span())) {
                            None | Some(("probabilities", _)) => true,
                            Some(("logits", _)) => false,
                            Some((other, at)) => {
                                self.problem(
                                    at,
                                    "drift.output",
                                    format!("unknown output `{other}`"),
                                    Some("use probabilities or logits".into()),
                                );
                                true
                            }
                        };
                    onnx = Some((self.relative(path.get_ref()), probabilities));
                }
                None => self.problem(
                    at.clone(),
                    "drift.path",
                    "`model = \"onnx\"` needs `path`, the model file".into(),
                    None,
                ),
            }
            if d.features.is_none() {
                self.problem(at, "drift.features", "`model = \"onnx\"` needs `features`, the numeric columns the graph takes, in order".into(), None);
            }
            kind = d.retrain_model.as_ref().map(|m| (m.get_ref().as_str(), m.span()));
        } else if let Some(extra) = d.path.as_ref().or(d.retrain_model.as_ref()) {
            self.problem(
                extra.span(),
                "drift.path",
                "`path` and `retrain_model` belong to `model = \"onnx\"`".into(),
                None,
            );
        }
        let model = match kind {
            None | Some(("logistic", _)) => {
                let c = d.c.as_ref().map_or(1.0, |c| *c.get_ref());
                if !(c > 0.0 && c.is_finite()) {
                    let at = d.c.as_ref().map_or(span.clone(), Spanned::span);
                    self.problem(at, "drift.c", "must be a positive number".into(), None);
                }
                ModelSpec::Logistic { c }
            }
            Some(("boosted", _)) => ModelSpec::Boosted(BoostParams {
                trees: count(self, &d.trees, "trees", 100),
                depth: count(self, &d.depth, "depth", 3),
                ..BoostParams::default()
            }),
            Some((other, at)) => {
                self.problem(
                    at,
                    "drift.model",
                    format!("unknown model `{other}`"),
                    Some(
                        "use logistic, boosted or onnx (retrain_model: logistic or boosted)".into(),
                    ),
                );
                ModelSpec::Logistic { c: 1.0 }
            }
        };
        let steps = count(self, &d.steps, "steps", 30);
        let start = d.start.as_ref().map_or(steps as u64 / 3, |s| *s.get_ref()) as usize;
        if start == 0 || start >= steps {
            let at = d.start.as_ref().map_or(span.clone(), Spanned::span);
            self.problem(
                at,
                "drift.start",
                format!(
                    "the drift must start after step 0 and before step {steps}, not at {start}"
                ),
                None,
            );
        }
        let dial = *d.dial.get_ref();
        if !(0.0..=1.0).contains(&dial) {
            self.problem(
                d.dial.span(),
                "drift.dial",
                format!("the dial is the share of drifted rows and must lie in [0, 1], not {dial}"),
                Some("\"50 % drift\" is dial = 0.5".into()),
            );
        }
        let onset = match d.onset.as_ref().map(|o| (o.get_ref().as_str(), o.span())) {
            None | Some(("sudden", _)) => Onset::Sudden,
            Some(("gradual", _)) => {
                Onset::Gradual { steps: count(self, &d.ramp_steps, "ramp_steps", 5) }
            }
            Some((other, at)) => {
                self.problem(
                    at,
                    "drift.onset",
                    format!("unknown onset `{other}`"),
                    Some("use sudden or gradual".into()),
                );
                Onset::Sudden
            }
        };
        if d.transforms.is_empty() {
            self.problem(span.clone(), "drift.transforms", "no transform: nothing drifts".into(), Some("add [[drift.transforms]] with kind = \"shift\", \"scale\", \"category\", \"missing\", \"prior\", \"flip_label\" or \"rotate\"".into()));
        }
        let transforms = d
            .transforms
            .iter()
            .enumerate()
            .filter_map(|(i, t)| self.transform(t, &format!("drift.transforms[{i}]")))
            .collect();
        let alpha = d.alpha.as_ref().map_or(0.01, |a| *a.get_ref());
        if !(alpha > 0.0 && alpha < 1.0) {
            let at = d.alpha.as_ref().map_or(span.clone(), Spanned::span);
            self.problem(at, "drift.alpha", "must lie strictly between 0 and 1".into(), None);
        }
        let correction = match d.correction.as_ref().map(|c| (c.get_ref().as_str(), c.span())) {
            None | Some(("bh", _)) => Correction::BenjaminiHochberg,
            Some(("by", _)) => Correction::BenjaminiYekutieli,
            Some(("holm", _)) => Correction::Holm,
            Some(("bonferroni", _)) => Correction::Bonferroni,
            Some(("none", _)) => Correction::None,
            Some((other, at)) => {
                self.problem(
                    at,
                    "drift.correction",
                    format!("unknown correction `{other}`"),
                    Some("use bh, by, holm, bonferroni or none".into()),
                );
                Correction::BenjaminiHochberg
            }
        };
        let tolerance = d.tolerance.as_ref().map_or(0.03, |t| *t.get_ref());
        if !(0.0..1.0).contains(&tolerance) {
            let at = d.tolerance.as_ref().map_or(span.clone(), Spanned::span);
            self.problem(at, "drift.tolerance", "must lie in [0, 1)".into(), None);
        }
        let every = count(self, &d.every, "every", 8);
        let cooldown = d.cooldown.as_ref().map_or(5, |c| *c.get_ref() as usize);
        let names: Vec<String> = d.policies.as_ref().map_or_else(
            || vec!["none".into(), "periodic".into(), "drift-triggered".into()],
            |p| p.get_ref().clone(),
        );
        let mut policies = Vec::new();
        for name in &names {
            let policy = match name.as_str() {
                "none" => Policy::None,
                "periodic" => Policy::Periodic { every },
                "drift-triggered" => Policy::Triggered { cooldown },
                other => {
                    let at = d.policies.as_ref().map_or(span.clone(), Spanned::span);
                    self.problem(
                        at,
                        "drift.policies",
                        format!("unknown policy `{other}`"),
                        Some("use none, periodic or drift-triggered".into()),
                    );
                    continue;
                }
            };
            if policies.contains(&policy) {
                let at = d.policies.as_ref().map_or(span.clone(), Spanned::span);
                self.problem(at, "drift.policies", format!("policy `{name}` appears twice"), None);
                continue;
            }
            policies.push(policy);
        }
        let mut gates = Vec::new();
        for (i, g) in d.gates.iter().enumerate() {
            let key = format!("drift.gates[{i}]");
            let options = g.get_ref();
            let policy = options.policy.get_ref();
            if !policies.iter().any(|p| p.name() == policy) {
                self.problem(
                    options.policy.span(),
                    &format!("{key}.policy"),
                    format!("no policy `{policy}` runs in this scenario"),
                    Some(format!("policies: {}", names.join(", "))),
                );
                continue;
            }
            let as_gate = Spanned::new(
                g.span(),
                GateOptions {
                    metric: options.metric.clone(),
                    at: None,
                    min: options.min,
                    max: options.max,
                    bound: options.bound.clone(),
                },
            );
            if let Some(gate) = self.gate(&as_gate, policy, &key, DRIFT_METRICS, &[]) {
                gates.push(gate);
            }
        }
        let eval_default = match data {
            DriftData::Synthetic { .. } => 2000,
            _ => 300,
        };
        let train_default = match data {
            DriftData::Synthetic { .. } => 2000,
            _ => 400,
        };
        DriftPlan {
            data,
            target: (target, positive),
            features: d.features.as_ref().map(|f| f.get_ref().clone()),
            eval_rows: count(self, &d.eval_rows, "eval_rows", eval_default),
            train_rows: count(self, &d.train_rows, "train_rows", train_default),
            model,
            onnx,
            steps,
            batch_rows: count(self, &d.batch_rows, "batch_rows", 100),
            schedule: Schedule { start, onset, dial },
            transforms,
            label_delay: d.label_delay.as_ref().map_or(3, |l| *l.get_ref() as usize),
            window: count(self, &d.window, "window", 3),
            alpha,
            correction,
            detector_window: count(self, &d.detector_window, "detector_window", 1),
            tolerance,
            hold: count(self, &d.hold, "hold", 3),
            ece_bins: count(self, &d.ece_bins, "ece_bins", 10),
            policies,
            gates,
        }
    }

    fn transform(&mut self, spanned: &Spanned<TransformOptions>, key: &str) -> Option<Transform> {
        let t = spanned.get_ref();
        let need = |planner: &mut Self, what: &str, present: bool| {
            if !present {
                planner.problem(
                    spanned.span(),
                    key,
                    format!("a `{}` transform needs `{what}`", t.kind.get_ref()),
                    None,
                );
            }
            present
        };
        let column = t.column.as_ref().map(|c| c.get_ref().clone());
        match t.kind.get_ref().as_str() {
            "shift" => (need(self, "column", column.is_some())
                & need(self, "sigmas", t.sigmas.is_some()))
            .then(|| Transform::Shift {
                column: column.clone().unwrap_or_default(),
                sigmas: t.sigmas.as_ref().map_or(0.0, |s| *s.get_ref()),
            }),
            "scale" => (need(self, "column", column.is_some())
                & need(self, "factor", t.factor.is_some()))
            .then(|| Transform::Scale {
                column: column.clone().unwrap_or_default(),
                factor: t.factor.as_ref().map_or(1.0, |s| *s.get_ref()),
            }),
            "category" => (need(self, "column", column.is_some())
                & need(self, "to", t.to.is_some()))
            .then(|| Transform::Category {
                column: column.clone().unwrap_or_default(),
                from: t.from.as_ref().map(|f| f.get_ref().clone()),
                to: t.to.as_ref().map(|f| f.get_ref().clone()).unwrap_or_default(),
            }),
            "missing" => need(self, "column", column.is_some())
                .then(|| Transform::Missing { column: column.clone().unwrap_or_default() }),
            "prior" => match t.class.as_ref().map(|c| *c.get_ref()) {
                Some(class @ (0 | 1)) => Some(Transform::Prior { class: class as u8 }),
                _ => {
                    self.problem(
                        spanned.span(),
                        key,
                        "a `prior` transform needs `class` = 0 or 1".into(),
                        None,
                    );
                    None
                }
            },
            "flip_label" => match t.subgroup.as_ref().map(|s| s.get_ref().as_slice()) {
                None => Some(Transform::FlipLabel { subgroup: None }),
                Some([column, value]) => {
                    Some(Transform::FlipLabel { subgroup: Some((column.clone(), value.clone())) })
                }
                Some(_) => {
                    self.problem(
                        spanned.span(),
                        &format!("{key}.subgroup"),
                        "must be [column, value]".into(),
                        None,
                    );
                    None
                }
            },
            "rotate" => need(self, "degrees", t.degrees.is_some()).then(|| Transform::Rotate {
                degrees: t.degrees.as_ref().map_or(0.0, |d| *d.get_ref()),
            }),
            other => {
                self.problem(
                    t.kind.span(),
                    &format!("{key}.kind"),
                    format!("unknown transform `{other}`"),
                    Some("use shift, scale, category, missing, prior, flip_label or rotate".into()),
                );
                None
            }
        }
    }
}
