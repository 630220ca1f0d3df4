//! The parts of the scenario file every family shares: the head (`name`, `description`,
//! `seed`), the model under test and its data (`[target]`, `[data]`), gates and dial values.
//! TOML, deserialised with unknown keys rejected; [`crate::planner`] and the families
//! validate them. The reference is `docs/scenario.md`.

use serde::Deserialize;
use toml::Spanned;

/// The head of every scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadOptions {
    /// The scenario's name, shown in reports.
    pub name: String,
    /// One or two sentences on what the scenario checks.
    #[serde(default)]
    pub description: Option<String>,
    /// The root seed every random choice derives from.
    #[serde(default)]
    pub seed: Option<u64>,
    /// `[risk]`: risk documents computed from this run's report when it ends.
    #[serde(default)]
    pub risk: Option<RiskOptions>,
}

/// `[risk]`: compute the risk documents (FMEA, register, BIA, NIST crosswalk, post-mortems)
/// from the run's report into `risk/` beside it, as `stressor risk` would.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskOptions {
    /// The business context file, relative to the scenario file.
    #[serde(default)]
    pub context: Option<String>,
}

/// The model under test and the data it is measured on (`[target]` and `[data]`), shared by
/// the families that stress a model.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectOptions {
    /// The model under test.
    pub target: TargetOptions,
    /// The data it is tested on.
    pub data: DataOptions,
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
