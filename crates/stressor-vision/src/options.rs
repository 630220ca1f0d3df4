//! The vision family's part of the scenario file: `[steady_state]`, `[calibration]`,
//! `[baseline]`, `[[steps]]` and `[[mitigations]]` (TOML, unknown keys rejected).

use serde::Deserialize;
use stressor_scenario::options::{DialValue, GateOptions, TargetOptions};
use toml::Spanned;

/// The vision family's top-level keys.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisionOptions {
    /// Gates that must hold on clean data.
    #[serde(default)]
    pub steady_state: Option<SteadyStateOptions>,
    /// How calibration and uncertainty are measured.
    #[serde(default)]
    pub calibration: Option<Spanned<CalibrationOptions>>,
    /// A reference model (same keys as `target`) the corruption errors are normalised by, as
    /// ImageNet-C normalises by AlexNet; the clean error of the target when absent.
    #[serde(default)]
    pub baseline: Option<TargetOptions>,
    /// Stress steps, run in order.
    #[serde(default)]
    pub steps: Vec<Spanned<StepOptions>>,
    /// Mitigations: differently trained copies of the built-in target, measured on the same
    /// steps and compared with it.
    #[serde(default)]
    pub mitigations: Vec<Spanned<MitigationOptions>>,
}

/// A training-time mitigation of the built-in target.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MitigationOptions {
    /// A unique id (`pgd-at`), used in reports, step ids and gate names.
    pub id: String,
    /// `adversarial-training` (PGD-AT) or `augmented-training` (corruption augmentation).
    pub kind: Spanned<String>,
    /// For `adversarial-training`: the L∞ radius trained against (a number or `"8/255"`).
    #[serde(default)]
    pub epsilon: Option<Spanned<DialValue>>,
    /// For `adversarial-training`: PGD iterations per training batch (default 3).
    #[serde(default)]
    pub pgd_steps: Option<Spanned<u32>>,
    /// For `adversarial-training`: the PGD step length as a multiple of ε (default 0.5).
    #[serde(default)]
    pub step_size: Option<Spanned<f64>>,
    /// For `adversarial-training`: the share of each batch replaced by adversarial examples
    /// (default 1.0).
    #[serde(default)]
    pub mix: Option<Spanned<f64>>,
    /// For `augmented-training`: the corruptions trained on, a name, a list or `"all"`.
    #[serde(default)]
    pub corruptions: Option<Spanned<OneOrMany>>,
    /// For `augmented-training`: the highest severity drawn (default 5).
    #[serde(default)]
    pub max_severity: Option<Spanned<u64>>,
    /// For `augmented-training`: the share of each batch corrupted (default 0.5).
    #[serde(default)]
    pub fraction: Option<Spanned<f64>>,
    /// Training epochs (default: the built-in model's, 2).
    #[serde(default)]
    pub epochs: Option<Spanned<u64>>,
    /// Training images drawn from the built-in training slice (default: all 30 000).
    #[serde(default)]
    pub train_samples: Option<Spanned<u64>>,
    /// The step ids measured on the mitigated model (an expanded corruption step's id covers
    /// all its corruptions); all steps when absent.
    #[serde(default)]
    pub measure: Option<Spanned<Vec<String>>>,
    /// Gates on the comparison (`after:clean_accuracy`, `delta:robust_accuracy.pgd@0.1`, …).
    #[serde(default)]
    pub gates: Vec<Spanned<GateOptions>>,
}

/// Calibration and uncertainty settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationOptions {
    /// Equal-width (and equal-mass) bins of the reliability diagram and ECE (default 15).
    #[serde(default)]
    pub bins: Option<Spanned<u64>>,
    /// Conformal miscoverage α: prediction sets hold the true class with probability ≥ 1 − α
    /// on clean, exchangeable data (default 0.1).
    #[serde(default)]
    pub alpha: Option<Spanned<f64>>,
    /// Size of the calibration split, drawn from the data set disjoint from the evaluated
    /// samples; it fits temperature scaling and the conformal threshold (default 500; 0 turns
    /// both off).
    #[serde(default)]
    pub samples: Option<Spanned<u64>>,
    /// Fit temperature scaling on the calibration split and report scaled metrics beside the
    /// raw ones (default true).
    #[serde(default)]
    pub temperature_scaling: Option<bool>,
}

/// The steady-state hypothesis.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SteadyStateOptions {
    /// Gates on clean-data metrics.
    #[serde(default)]
    pub gates: Vec<Spanned<GateOptions>>,
}

/// One stress step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepOptions {
    /// A unique id (`pgd-linf`), used in reports and gate names.
    pub id: String,
    /// The kind of stress: `attack`, `corruption` or `lighting`.
    pub kind: Spanned<String>,
    /// For `kind = "attack"`: `fgsm`, `pgd`, `apgd-ce`, `square` or `hopskipjump`.
    #[serde(default)]
    pub attack: Option<Spanned<String>>,
    /// For `kind = "corruption"`: a corruption name, a list of them, or `"all"`; a list makes
    /// one step per corruption, with ids `<id>.<corruption>`.
    #[serde(default)]
    pub corruption: Option<Spanned<OneOrMany>>,
    /// For `kind = "lighting"`: `colour-temperature`, `exposure`, `vignette` or `shadow`.
    #[serde(default)]
    pub lighting: Option<Spanned<String>>,
    /// `linf` (default) or `l2`.
    #[serde(default)]
    pub norm: Option<Spanned<String>>,
    /// Iterations (PGD, APGD).
    #[serde(default)]
    pub steps: Option<Spanned<u32>>,
    /// Step size as a multiple of ε (PGD).
    #[serde(default)]
    pub step_size: Option<Spanned<f64>>,
    /// Restarts (PGD, APGD).
    #[serde(default)]
    pub restarts: Option<Spanned<u32>>,
    /// Start from a random point in the ε-ball (PGD).
    #[serde(default)]
    pub random_start: Option<Spanned<bool>>,
    /// Query budget per sample (Square, HopSkipJump).
    #[serde(default)]
    pub queries: Option<Spanned<u64>>,
    /// Initial fraction of pixels changed per query (Square).
    #[serde(default)]
    pub p_init: Option<Spanned<f64>>,
    /// Untargeted when absent; `random`, `least_likely` or a class index for a targeted attack.
    #[serde(default)]
    pub targeted: Option<Spanned<TargetedOptions>>,
    /// Samples attacked at once.
    #[serde(default)]
    pub batch_size: Option<Spanned<u64>>,
    /// The dial swept by this step: a table with one key naming the dial (`epsilon` for
    /// attacks, `severity` for corruptions, `kelvin`, `ev` or `strength` for lighting).
    pub sweep: Spanned<toml::Table>,
    /// Gates on this step's results.
    #[serde(default)]
    pub gates: Vec<Spanned<GateOptions>>,
}

/// One name or a list of names.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One name.
    One(String),
    /// Several names.
    Many(Vec<String>),
}

/// How targets are chosen for a targeted attack.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TargetedOptions {
    /// A fixed class index.
    Class(u32),
    /// `random` or `least_likely`.
    Rule(String),
}
