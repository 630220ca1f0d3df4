//! The scenario file format: TOML, deserialised with unknown keys rejected.
//!
//! These types mirror the file one to one; [`crate::plan`] validates and resolves them.
//! The reference is `docs/scenario.md`.

use serde::Deserialize;
use toml::Spanned;

/// A whole scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioOptions {
    /// The scenario's name, shown in reports.
    pub name: String,
    /// One or two sentences on what the scenario checks.
    #[serde(default)]
    pub description: Option<String>,
    /// The root seed every random choice derives from.
    #[serde(default)]
    pub seed: Option<u64>,
    /// The model under test.
    pub target: TargetOptions,
    /// The data it is tested on.
    pub data: DataOptions,
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
    /// A systems run: the target served over HTTP (or an `http` target loaded directly),
    /// optionally behind the fault proxy, under a load profile and a fault schedule.
    #[serde(default)]
    pub system: Option<Spanned<SystemOptions>>,
}

/// The `[system]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemOptions {
    /// The load profile: stages `DURATION@RATE` or `DURATION@FROM-TO` (requests per second),
    /// e.g. `["10s@20", "5s@200", "10s@20"]` for a 10× surge.
    pub stages: Spanned<Vec<String>>,
    /// HTTP/1.1 connections of the load generator (default 32).
    #[serde(default)]
    pub connections: Option<Spanned<u64>>,
    /// Per-request timeout (default `"2s"`).
    #[serde(default)]
    pub timeout: Option<Spanned<String>>,
    /// Labelled samples sent as inference requests, one per request, in turn (default 200,
    /// at most the evaluated samples); the returned labels give the accuracy under load.
    #[serde(default)]
    pub samples: Option<Spanned<u64>>,
    /// Put stressor's fault proxy between the load and the server (default: when there are
    /// faults).
    #[serde(default)]
    pub proxy: Option<bool>,
    /// How the target is served when it is a local model.
    #[serde(default)]
    pub serve: Option<Spanned<SystemServeOptions>>,
    /// Faults the proxy injects, on a schedule.
    #[serde(default)]
    pub faults: Vec<Spanned<FaultOptions>>,
    /// What "recovered" means.
    #[serde(default)]
    pub recovery: Option<Spanned<RecoveryOptions>>,
    /// Gates on the run (`p99_ms`, `error_rate`, `accuracy`, `time_to_recover_s`, per window
    /// as `p99_ms.surge`, …).
    #[serde(default)]
    pub gates: Vec<Spanned<GateOptions>>,
}

/// How a local target is served (`stressor serve`'s knobs).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemServeOptions {
    /// Requests served at once (default: the number of CPUs).
    #[serde(default)]
    pub max_concurrency: Option<u64>,
    /// Requests waiting for a slot before 503 (default 1024).
    #[serde(default)]
    pub queue_limit: Option<u64>,
    /// Extra milliseconds each request holds its slot, so saturation shows on a small machine
    /// (default 0).
    #[serde(default)]
    pub service_time_ms: Option<f64>,
}

/// One scheduled fault: a toxic of stressor's proxy (Toxiproxy's types and attributes, plus
/// the `http_*` types).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultOptions {
    /// A unique name, used for its window in reports and gates (default: the type).
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// The toxic type (`latency`, `timeout`, `reset_peer`, `http_status`, `http_delay`, …).
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    /// `upstream` (requests) or `downstream` (responses, the default).
    #[serde(default)]
    pub stream: Option<Spanned<String>>,
    /// Probability it acts (per connection for byte toxics, per request for HTTP ones;
    /// default 1).
    #[serde(default)]
    pub toxicity: Option<Spanned<f64>>,
    /// The toxic's attributes (`latency = 200`, `status = 503`, …).
    #[serde(default)]
    pub attributes: Option<Spanned<toml::Table>>,
    /// When it starts, from the start of the load (`"12s"`).
    pub start: Spanned<String>,
    /// When it stops (default: the end of the load).
    #[serde(default)]
    pub stop: Option<Spanned<String>>,
    /// How long its toxicity takes to rise from 0 (default `"0s"`).
    #[serde(default)]
    pub ramp: Option<Spanned<String>>,
}

/// When a second counts as recovered: every gated quantity back within tolerance of the
/// baseline (the seconds before the first window).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryOptions {
    /// How long the system must stay within tolerance (default `"2s"`).
    #[serde(default)]
    pub sustain: Option<Spanned<String>>,
    /// p99 latency at most this multiple of the baseline's (default 2.0) …
    #[serde(default)]
    pub p99_ratio: Option<Spanned<f64>>,
    /// … or the baseline's plus this many ms, whichever is larger (default 10).
    #[serde(default)]
    pub p99_slack_ms: Option<Spanned<f64>>,
    /// Error rate at most the baseline's plus this (default 0.01).
    #[serde(default)]
    pub error_rate_slack: Option<Spanned<f64>>,
    /// Accuracy at least the baseline's minus this (default 0.05).
    #[serde(default)]
    pub accuracy_drop: Option<Spanned<f64>>,
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

/// The model under test.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetOptions {
    /// `builtin` (a model stressor trains and caches), `safetensors` (weights for a built-in
    /// architecture, from a file), `onnx` (a user's ONNX image classifier), `ensemble`, or
    /// `http` (a model behind an Open Inference Protocol endpoint).
    pub kind: Spanned<String>,
    /// For `ensemble`: the members, each a table with these keys (not another ensemble).
    #[serde(default)]
    pub members: Option<Spanned<Vec<TargetOptions>>>,
    /// For `ensemble`: `mean-probability` (default) or `majority-vote`.
    #[serde(default)]
    pub combine: Option<Spanned<String>>,
    /// The architecture, for `builtin` and `safetensors`: `fashion-cnn`; for `http`, the name
    /// the server serves the model under.
    #[serde(default)]
    pub model: Option<Spanned<String>>,
    /// The weights or model file, for `safetensors` and `onnx`; relative to the scenario file.
    #[serde(default)]
    pub path: Option<Spanned<String>>,
    /// The seed the built-in model is trained with (independent of the scenario seed, so
    /// changing the scenario seed does not retrain).
    #[serde(default)]
    pub train_seed: Option<u64>,
    /// For `onnx`: how stressor's inputs (NCHW, values in [0, 1]) become the graph's input.
    #[serde(default)]
    pub input: Option<Spanned<InputOptions>>,
    /// For `http`: the server's base URL, `http://host:port`.
    #[serde(default)]
    pub url: Option<Spanned<String>>,
    /// For `http`: samples per request (default 256).
    #[serde(default)]
    pub max_batch: Option<Spanned<u64>>,
    /// For `http`: per-request timeout in milliseconds (default 30 000).
    #[serde(default)]
    pub timeout_ms: Option<Spanned<u64>>,
    /// For `onnx`: what the graph outputs, `logits` (default) or `probabilities`.
    #[serde(default)]
    pub output: Option<Spanned<String>>,
    /// For `http` and `json`: extra request headers; `${NAME}` in a value is replaced by the
    /// environment variable NAME when the run starts (`Authorization = "Bearer ${TOKEN}"`), so
    /// secrets stay out of the file. Values never appear in reports or errors.
    #[serde(default)]
    pub headers: Option<Spanned<std::collections::BTreeMap<String, String>>>,
    /// For `http` and `json` over https: a PEM file of certificates to trust besides the
    /// system's roots (relative to the scenario file).
    #[serde(default)]
    pub ca_file: Option<Spanned<String>>,
    /// For `http` and `json`: at most this many requests per second.
    #[serde(default)]
    pub rate_limit: Option<Spanned<f64>>,
    /// For `http` and `json`: requests in flight at once when a batch is split (default 1).
    #[serde(default)]
    pub max_concurrency: Option<Spanned<u64>>,
    /// For `http` and `json`: retries of a failed request (default 2).
    #[serde(default)]
    pub retries: Option<Spanned<u64>>,
    /// For `http` and `json`: the share of requests that retries may add (default 0.2).
    #[serde(default)]
    pub retry_budget: Option<Spanned<f64>>,
    /// For `json`: the request body, with `"{{inputs}}"` (the batch as nested arrays),
    /// `"{{input}}"` (one sample), `"{{shape}}"` and `"{{n}}"` placeholders.
    #[serde(default)]
    pub template: Option<Spanned<toml::Table>>,
    /// For `json`: a JSON pointer to the scores (or labels) in the response.
    #[serde(default)]
    pub response: Option<Spanned<String>>,
    /// For `json`: what the response holds, `logits` (default), `probabilities` or `labels`.
    #[serde(default)]
    pub scores: Option<Spanned<String>>,
    /// For `json`: the shape of one sample, e.g. `[1, 28, 28]`.
    #[serde(default)]
    pub input_shape: Option<Spanned<Vec<u64>>>,
    /// For `json`: the number of classes.
    #[serde(default)]
    pub classes: Option<Spanned<u64>>,
}

/// An ONNX graph's input convention.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputOptions {
    /// `nchw` (default) or `nhwc`: the layout the graph expects.
    #[serde(default)]
    pub layout: Option<Spanned<String>>,
    /// 1 (default: the graph takes values in [0, 1]) or 255 (values in [0, 255]).
    #[serde(default)]
    pub scale: Option<Spanned<f64>>,
    /// Per-channel mean subtracted after scaling.
    #[serde(default)]
    pub mean: Option<Spanned<Vec<f64>>>,
    /// Per-channel standard deviation divided by after the mean.
    #[serde(default)]
    pub std: Option<Spanned<Vec<f64>>>,
}

/// The data set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataOptions {
    /// `builtin` (shipped with stressor), `idx` (the MNIST family's format), `cifar10` (the
    /// CIFAR-10 binary format), `npy`, `npz`, `folder` (PNG/JPEG files in one folder per class)
    /// or `csv`.
    pub source: Spanned<String>,
    /// For `builtin`: `fashion-mnist` (default) or `cifar10-samples` (20 real CIFAR-10 test
    /// images).
    #[serde(default)]
    pub dataset: Option<Spanned<String>>,
    /// For `builtin` Fashion-MNIST: `test` (default) or `train`.
    #[serde(default)]
    pub split: Option<Spanned<String>>,
    /// For `idx` and `npy`: the images file, relative to the scenario file.
    #[serde(default)]
    pub images: Option<Spanned<String>>,
    /// For `idx` and `npy`: the labels file, relative to the scenario file.
    #[serde(default)]
    pub labels: Option<Spanned<String>>,
    /// For `cifar10`: the batch files.
    #[serde(default)]
    pub files: Option<Spanned<Vec<String>>>,
    /// For `npz`, `folder` and `csv`: the file or folder.
    #[serde(default)]
    pub path: Option<Spanned<String>>,
    /// For `npz`: the array names of images and labels (default `images`, `labels`).
    #[serde(default)]
    pub images_key: Option<String>,
    /// See `images_key`.
    #[serde(default)]
    pub labels_key: Option<String>,
    /// For `npy` and `npz`: `nchw` (default) or `nhwc`.
    #[serde(default)]
    pub layout: Option<Spanned<String>>,
    /// For `npy`, `npz` and `csv`: `auto` (default: bytes are divided by 255, floats must
    /// already lie in [0, 1]), `unit` or `byte`.
    #[serde(default)]
    pub scale: Option<Spanned<String>>,
    /// For `folder`: 1 (grayscale) or 3 (RGB, default).
    #[serde(default)]
    pub channels: Option<Spanned<u8>>,
    /// For `folder`: resize every image to `[height, width]`.
    #[serde(default)]
    pub size: Option<Spanned<Vec<u32>>>,
    /// For `csv`: `first`, `last` (default) or a header name.
    #[serde(default)]
    pub label_column: Option<String>,
    /// For `csv`: the shape of one sample, e.g. `[1, 28, 28]` (default: a flat vector).
    #[serde(default)]
    pub shape: Option<Spanned<Vec<usize>>>,
    /// For `csv`: whether the first row is a header (default: detected).
    #[serde(default)]
    pub header: Option<bool>,
    /// Class names, indexed by label.
    #[serde(default)]
    pub class_names: Option<Vec<String>>,
    /// How many samples to draw (seeded, stratified); all when absent.
    #[serde(default)]
    pub samples: Option<Spanned<u64>>,
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

/// A gate on a metric.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateOptions {
    /// The metric's name (`clean_accuracy`, `robust_accuracy`, …).
    pub metric: Spanned<String>,
    /// The dial value the gate applies to; all values (the worst) when absent.
    #[serde(default)]
    pub at: Option<Spanned<DialValue>>,
    /// The metric must be at least this.
    #[serde(default)]
    pub min: Option<f64>,
    /// The metric must be at most this.
    #[serde(default)]
    pub max: Option<f64>,
    /// `value` (default), `ci_lower` or `ci_upper`: which part of the estimate is compared.
    #[serde(default)]
    pub bound: Option<Spanned<String>>,
}

/// A dial value: a number or a fraction written as a string (`"8/255"`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum DialValue {
    /// A number.
    Number(f64),
    /// `"a/b"` or a number as a string.
    Text(String),
}

impl DialValue {
    /// The value as a number, if it is one or a valid fraction.
    pub fn to_f64(&self) -> Option<f64> {
        match self {
            DialValue::Number(v) => Some(*v),
            DialValue::Text(text) => {
                let text = text.trim();
                match text.split_once('/') {
                    Some((num, den)) => {
                        let num: f64 = num.trim().parse().ok()?;
                        let den: f64 = den.trim().parse().ok()?;
                        (den != 0.0).then_some(num / den)
                    }
                    None => text.parse().ok(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dial_values_parse_fractions() {
        assert_eq!(DialValue::Text("8/255".into()).to_f64(), Some(8.0 / 255.0));
        assert_eq!(DialValue::Text(" 0.5 ".into()).to_f64(), Some(0.5));
        assert_eq!(DialValue::Number(0.1).to_f64(), Some(0.1));
        assert_eq!(DialValue::Text("1/0".into()).to_f64(), None);
        assert_eq!(DialValue::Text("eps".into()).to_f64(), None);
    }
}

/// A drift scenario: a file whose top level has `[drift]` (and `name`, `description`, `seed`)
/// instead of `[target]` and `[data]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftScenarioOptions {
    /// The scenario's name, shown in reports.
    pub name: String,
    /// One or two sentences on what the scenario checks.
    #[serde(default)]
    pub description: Option<String>,
    /// The root seed every random choice derives from.
    #[serde(default)]
    pub seed: Option<u64>,
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
