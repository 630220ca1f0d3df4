//! The drift family's part of the scenario file: `[drift]` (TOML, unknown keys rejected).

use serde::Deserialize;
use toml::Spanned;

/// The drift family's top-level keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftSection {
    /// The stream, the drift, the detector and the retraining policies.
    pub drift: Spanned<DriftOptions>,
}

/// The `[drift]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftOptions {
    /// `german-credit` (vendored), `synthetic`, or a CSV or Parquet file.
    pub data: Spanned<String>,
    /// The label column (default: `creditability` for german-credit, `label` for synthetic).
    #[serde(default)]
    pub target: Option<Spanned<String>>,
    /// The label's positive class (default: `bad` for german-credit, `1` for synthetic).
    #[serde(default)]
    pub positive: Option<Spanned<String>>,
    /// Feature columns (default: every column but the target).
    #[serde(default)]
    pub features: Option<Spanned<Vec<String>>>,
    /// Held-out evaluation rows.
    #[serde(default)]
    pub eval_rows: Option<Spanned<u64>>,
    /// Rows the first model trains on.
    #[serde(default)]
    pub train_rows: Option<Spanned<u64>>,
    /// Numeric features of the synthetic source.
    #[serde(default)]
    pub synthetic_features: Option<Spanned<u64>>,
    /// `logistic`, `boosted`, or `onnx` (a user's model at `path` serves first; retrains fit
    /// `retrain_model`).
    #[serde(default)]
    pub model: Option<Spanned<String>>,
    /// `onnx`: the model file, taking `[batch, features]` (the numeric `features`, in order).
    #[serde(default)]
    pub path: Option<Spanned<String>>,
    /// `onnx`: what its output holds, `probabilities` (default) or `logits`; class 1 is the
    /// positive class.
    #[serde(default)]
    pub output: Option<Spanned<String>>,
    /// `onnx`: the built-in model retrains fit, `logistic` (default) or `boosted`.
    #[serde(default)]
    pub retrain_model: Option<Spanned<String>>,
    /// Logistic regression's inverse regularisation strength.
    #[serde(default)]
    pub c: Option<Spanned<f64>>,
    /// Boosted trees: trees.
    #[serde(default)]
    pub trees: Option<Spanned<u64>>,
    /// Boosted trees: depth.
    #[serde(default)]
    pub depth: Option<Spanned<u64>>,
    /// Stream steps.
    #[serde(default)]
    pub steps: Option<Spanned<u64>>,
    /// Production rows per step.
    #[serde(default)]
    pub batch_rows: Option<Spanned<u64>>,
    /// The share of drifted rows once the drift is in full effect, in [0, 1].
    pub dial: Spanned<f64>,
    /// The first step with drift.
    #[serde(default)]
    pub start: Option<Spanned<u64>>,
    /// `sudden` or `gradual`.
    #[serde(default)]
    pub onset: Option<Spanned<String>>,
    /// Gradual onset: steps from no drift to full drift.
    #[serde(default)]
    pub ramp_steps: Option<Spanned<u64>>,
    /// What a drifted row is.
    pub transforms: Vec<Spanned<TransformOptions>>,
    /// Steps before a batch's labels arrive.
    #[serde(default)]
    pub label_delay: Option<Spanned<u64>>,
    /// Labelled steps a retrain uses.
    #[serde(default)]
    pub window: Option<Spanned<u64>>,
    /// The detector's significance level after the correction.
    #[serde(default)]
    pub alpha: Option<Spanned<f64>>,
    /// `none`, `bonferroni`, `holm`, `bh` or `by`.
    #[serde(default)]
    pub correction: Option<Spanned<String>>,
    /// Steps the detector looks at.
    #[serde(default)]
    pub detector_window: Option<Spanned<u64>>,
    /// How close to the pre-drift accuracy counts as recovered.
    #[serde(default)]
    pub tolerance: Option<Spanned<f64>>,
    /// Consecutive steps within tolerance that make a recovery.
    #[serde(default)]
    pub hold: Option<Spanned<u64>>,
    /// ECE bins.
    #[serde(default)]
    pub ece_bins: Option<Spanned<u64>>,
    /// Retraining policies compared: `none`, `periodic`, `drift-triggered`.
    #[serde(default)]
    pub policies: Option<Spanned<Vec<String>>>,
    /// Periodic policy: steps between retrains.
    #[serde(default)]
    pub every: Option<Spanned<u64>>,
    /// Drift-triggered policy: steps after a deployment during which alarms are ignored.
    #[serde(default)]
    pub cooldown: Option<Spanned<u64>>,
    /// Gates on the policies' results.
    #[serde(default)]
    pub gates: Vec<Spanned<DriftGateOptions>>,
}

/// One `[[drift.transforms]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformOptions {
    /// `shift`, `scale`, `category`, `missing`, `prior`, `flip_label` or `rotate`.
    pub kind: Spanned<String>,
    /// The column (shift, scale, category, missing).
    #[serde(default)]
    pub column: Option<Spanned<String>>,
    /// shift: standard deviations.
    #[serde(default)]
    pub sigmas: Option<Spanned<f64>>,
    /// scale: the factor.
    #[serde(default)]
    pub factor: Option<Spanned<f64>>,
    /// category: the category that changes (every one when absent).
    #[serde(default)]
    pub from: Option<Spanned<String>>,
    /// category: its new value.
    #[serde(default)]
    pub to: Option<Spanned<String>>,
    /// prior: 1 for the positive class, 0 for the other.
    #[serde(default)]
    pub class: Option<Spanned<u64>>,
    /// flip_label: the subgroup's column and value (every drifted row when absent).
    #[serde(default)]
    pub subgroup: Option<Spanned<Vec<String>>>,
    /// rotate: degrees.
    #[serde(default)]
    pub degrees: Option<Spanned<f64>>,
}

/// One `[[drift.gates]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftGateOptions {
    /// The policy the gate reads (`drift-triggered`, …).
    pub policy: Spanned<String>,
    /// The metric (`time_to_recover_steps`, `final_accuracy`, …).
    pub metric: Spanned<String>,
    /// The metric must be at least this.
    #[serde(default)]
    pub min: Option<f64>,
    /// The metric must be at most this.
    #[serde(default)]
    pub max: Option<f64>,
    /// `value` (default), `ci_lower` or `ci_upper`.
    #[serde(default)]
    pub bound: Option<Spanned<String>>,
}
