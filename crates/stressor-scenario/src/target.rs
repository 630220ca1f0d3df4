//! The model under test: `[target]` planned into a [`TargetPlan`] (built-in, safetensors,
//! ONNX, ensemble, Open Inference Protocol or any JSON API over HTTP, with headers whose
//! `${NAME}` parts come from the environment) and loaded into a [`Model`] — trained once and
//! cached on disk for the built-in CNN.

use std::path::{Path, PathBuf};
use std::sync::Arc;

#[cfg(feature = "candle")]
use stressor_core::{Event, Warning};
use stressor_core::{EventSink, Seed};
#[cfg(feature = "candle")]
use stressor_model::ModelError;
use stressor_model::{Combine, Ensemble, Model};
use toml::Spanned;

use crate::options::{InputOptions, TargetOptions};
use crate::planner::Planner;
use crate::{EngineConfig, EngineError};

/// The seed the built-in model is trained with when a scenario gives none.
pub const DEFAULT_TRAIN_SEED: u64 = 1;

/// The version of the built-in model's training recipe (architecture, data slice, initialisation)
/// in cache file names; bump it when any of them changes.
pub const MODEL_RECIPE: &str = "r1";

/// How an ensemble combines its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnsembleCombine {
    /// The mean of the members' probabilities (differentiable).
    MeanProbability,
    /// One vote per member.
    MajorityVote,
}
/// The built-in architectures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Architecture {
    /// The Fashion-MNIST CNN.
    FashionCnn,
}

impl Architecture {
    /// The name used in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::FashionCnn => "fashion-cnn",
        }
    }
}

/// Where the model comes from.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TargetPlan {
    /// Trained in-process on the built-in data (cached on disk).
    Builtin {
        /// The architecture.
        architecture: Architecture,
        /// The training seed.
        train_seed: Seed,
    },
    /// Weights for a built-in architecture from a safetensors file.
    Safetensors {
        /// The architecture.
        architecture: Architecture,
        /// The weights file.
        path: PathBuf,
    },
    /// A user's ONNX image classifier.
    Onnx {
        /// The model file.
        path: PathBuf,
        /// How inputs are fed to it.
        input: OnnxInput,
        /// Whether the graph outputs probabilities rather than logits.
        probabilities: bool,
    },
    /// A model behind an Open Inference Protocol (KServe V2) endpoint.
    Http {
        /// The base URL, `http(s)://host[:port]`.
        url: String,
        /// The served model's name.
        name: String,
        /// Samples per request.
        max_batch: usize,
        /// Per-request timeout in milliseconds.
        timeout_ms: u64,
        /// Headers, TLS, rate limit and retries.
        transport: TransportPlan,
    },
    /// A model behind any JSON API, described by a request template and a response pointer.
    Json {
        /// The full URL requests are posted to.
        url: String,
        /// A name for reports.
        name: String,
        /// Samples per request (one when the template takes `"{{input}}"`).
        max_batch: usize,
        /// Per-request timeout in milliseconds.
        timeout_ms: u64,
        /// Headers, TLS, rate limit and retries.
        transport: TransportPlan,
        /// The request body template.
        template: serde_json::Value,
        /// JSON pointer to the output.
        response: String,
        /// `logits`, `probabilities` or `labels`.
        scores: String,
        /// One sample's shape.
        input_shape: Vec<usize>,
        /// Classes.
        classes: usize,
    },
    /// Several models answering as one.
    Ensemble {
        /// The members (none is an ensemble).
        members: Vec<TargetPlan>,
        /// How their answers combine.
        combine: EnsembleCombine,
    },
}

/// How stressor's inputs (NCHW, values in [0, 1]) become an ONNX graph's input.
#[derive(Debug, Clone, PartialEq)]
pub struct OnnxInput {
    /// Whether the graph takes NHWC rather than NCHW.
    pub channels_last: bool,
    /// 1 or 255.
    pub scale: f32,
    /// Per-channel mean (empty: none).
    pub mean: Vec<f32>,
    /// Per-channel standard deviation (empty: none).
    pub std: Vec<f32>,
}
/// How an HTTP target is reached beyond its URL.
#[derive(Clone, PartialEq, Default)]
pub struct TransportPlan {
    /// Header names and value templates (`${NAME}` is an environment variable).
    pub headers: Vec<(String, String)>,
    /// Extra trusted certificates (PEM).
    pub ca_file: Option<PathBuf>,
    /// Requests per second at most.
    pub rate_limit: Option<f64>,
    /// Retries per request.
    pub retries: u32,
    /// Share of requests retries may add.
    pub retry_budget: f64,
    /// Requests in flight at once.
    pub max_concurrency: usize,
}

impl std::fmt::Debug for TransportPlan {
    /// Header values are left out: a literal one may be a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("TransportPlan")
            .field("headers", &names)
            .field("ca_file", &self.ca_file)
            .field("rate_limit", &self.rate_limit)
            .field("retries", &self.retries)
            .field("retry_budget", &self.retry_budget)
            .field("max_concurrency", &self.max_concurrency)
            .finish()
    }
}

impl TargetPlan {
    /// The environment variables its header values refer to (an ensemble's members' too).
    pub fn env_vars(&self) -> Vec<String> {
        let mut names = Vec::new();
        let mut stack = vec![self];
        while let Some(target) = stack.pop() {
            match target {
                TargetPlan::Http { transport, .. } | TargetPlan::Json { transport, .. } => {
                    names.extend(transport.env_vars());
                }
                TargetPlan::Ensemble { members, .. } => stack.extend(members.iter()),
                _ => {}
            }
        }
        names
    }
}

impl TransportPlan {
    /// The environment variables the header values refer to (`${NAME}`).
    pub fn env_vars(&self) -> Vec<String> {
        let mut names = Vec::new();
        for (_, template) in &self.headers {
            let _ = expand(template, |name| {
                names.push(name.to_string());
                Some(String::new())
            });
        }
        names
    }

    /// The headers with every `${NAME}` replaced from `env`.
    ///
    /// # Errors
    /// `(header, variable)` for the first variable `env` lacks.
    pub fn resolve_headers(
        &self,
        env: &std::collections::BTreeMap<String, String>,
    ) -> Result<Vec<(String, String)>, (String, String)> {
        self.headers
            .iter()
            .map(|(name, template)| {
                expand(template, |variable| env.get(variable).cloned())
                    .map(|value| (name.clone(), value))
                    .map_err(|variable| (name.clone(), variable))
            })
            .collect()
    }
}

/// `template` with each `${NAME}` replaced by `lookup(NAME)`; the first name it lacks is the
/// error. An unclosed `${` runs to the end of the text (the planner reports it).
fn expand(
    template: &str,
    mut lookup: impl FnMut(&str) -> Option<String>,
) -> Result<String, String> {
    let mut value = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        value.push_str(&rest[..start]);
        let end = rest[start..].find('}').map_or(rest.len(), |e| start + e);
        let variable = &rest[start + 2..end];
        value.push_str(&lookup(variable).ok_or_else(|| variable.to_string())?);
        rest = rest.get(end + 1..).unwrap_or("");
    }
    value.push_str(rest);
    Ok(value)
}

impl Planner<'_> {
    /// The target described by `options`, under `section` (`target`, `baseline`,
    /// `target.members[0]`) in problems.
    pub fn target(&mut self, options: &TargetOptions, section: &str) -> TargetPlan {
        let kind = options.kind.get_ref().as_str();
        let architecture = match (&options.model, kind) {
            // For an HTTP target, `model` is the name the server serves it under.
            (_, "http") => Architecture::FashionCnn,
            (Some(model), "onnx") => {
                self.problem(
                    model.span(),
                    &format!("{section}.model"),
                    "`model` does not apply to `kind = \"onnx\"`: the file is the model".into(),
                    None,
                );
                Architecture::FashionCnn
            }
            (Some(model), _) => match model.get_ref().as_str() {
                "fashion-cnn" => Architecture::FashionCnn,
                other => {
                    self.problem(
                        model.span(),
                        &format!("{section}.model"),
                        format!("unknown built-in model `{other}`"),
                        Some("known models: fashion-cnn".into()),
                    );
                    Architecture::FashionCnn
                }
            },
            (None, "builtin" | "safetensors") => {
                self.problem(
                    options.kind.span(),
                    &format!("{section}.model"),
                    format!("`kind = \"{kind}\"` needs `model`"),
                    Some("known models: fashion-cnn".into()),
                );
                Architecture::FashionCnn
            }
            (None, _) => Architecture::FashionCnn,
        };
        if kind != "onnx" {
            let keys = [
                ("input", options.input.as_ref().map(Spanned::span)),
                ("output", options.output.as_ref().map(Spanned::span)),
            ];
            self.foreign_keys(section, &keys, |key| {
                format!("`{key}` only applies to `kind = \"onnx\"`")
            });
        }
        if kind != "http" && kind != "json" {
            let keys = [
                ("url", options.url.as_ref().map(Spanned::span)),
                ("max_batch", options.max_batch.as_ref().map(Spanned::span)),
                ("timeout_ms", options.timeout_ms.as_ref().map(Spanned::span)),
                ("headers", options.headers.as_ref().map(Spanned::span)),
                ("ca_file", options.ca_file.as_ref().map(Spanned::span)),
                ("rate_limit", options.rate_limit.as_ref().map(Spanned::span)),
                ("retries", options.retries.as_ref().map(Spanned::span)),
                ("retry_budget", options.retry_budget.as_ref().map(Spanned::span)),
                ("max_concurrency", options.max_concurrency.as_ref().map(Spanned::span)),
            ];
            self.foreign_keys(section, &keys, |key| {
                format!("`{key}` only applies to `kind = \"http\"` and `kind = \"json\"`")
            });
        }
        if kind != "json" {
            let keys = [
                ("template", options.template.as_ref().map(Spanned::span)),
                ("response", options.response.as_ref().map(Spanned::span)),
                ("scores", options.scores.as_ref().map(Spanned::span)),
                ("input_shape", options.input_shape.as_ref().map(Spanned::span)),
                ("classes", options.classes.as_ref().map(Spanned::span)),
            ];
            self.foreign_keys(section, &keys, |key| {
                format!("`{key}` only applies to `kind = \"json\"`")
            });
        }
        if kind != "ensemble" {
            let keys = [
                ("members", options.members.as_ref().map(Spanned::span)),
                ("combine", options.combine.as_ref().map(Spanned::span)),
            ];
            self.foreign_keys(section, &keys, |key| {
                format!("`{key}` only applies to `kind = \"ensemble\"`")
            });
        }
        let train_seed = Seed::new(options.train_seed.unwrap_or(DEFAULT_TRAIN_SEED));
        let builtin = TargetPlan::Builtin { architecture, train_seed };
        let mut path = |what: &str| match &options.path {
            Some(path) => Some(self.relative(path.get_ref())),
            None => {
                self.problem(
                    options.kind.span(),
                    &format!("{section}.path"),
                    format!("`kind = \"{kind}\"` needs a `path` to the {what}"),
                    None,
                );
                None
            }
        };
        match kind {
            "builtin" => {
                if let Some(path) = &options.path {
                    self.problem(
                        path.span(),
                        &format!("{section}.path"),
                        "`path` does not apply to `kind = \"builtin\"`".into(),
                        Some("use `kind = \"safetensors\"` to load weights from a file".into()),
                    );
                }
                builtin
            }
            "safetensors" => match path("weights file") {
                Some(path) => TargetPlan::Safetensors { architecture, path },
                None => builtin,
            },
            "onnx" => {
                let Some(path) = path("ONNX file") else { return builtin };
                let input = self.onnx_input(options.input.as_ref(), section);
                let probabilities =
                    match options.output.as_ref().map(|o| (o.get_ref().as_str(), o.span())) {
                        None | Some(("logits", _)) => false,
                        Some(("probabilities", _)) => true,
                        Some((other, span)) => {
                            self.problem(
                                span,
                                &format!("{section}.output"),
                                format!("unknown output `{other}`"),
                                Some("use logits or probabilities".into()),
                            );
                            false
                        }
                    };
                TargetPlan::Onnx { path, input, probabilities }
            }
            "ensemble" => self.ensemble(options, section).unwrap_or(builtin),
            "http" => {
                let Some(url) = &options.url else {
                    self.problem(
                        options.kind.span(),
                        &format!("{section}.url"),
                        "`kind = \"http\"` needs `url`, the server's base URL".into(),
                        Some("url = \"http://127.0.0.1:8080\"".into()),
                    );
                    return builtin;
                };
                let Some(name) = &options.model else {
                    self.problem(
                        options.kind.span(),
                        &format!("{section}.model"),
                        "`kind = \"http\"` needs `model`, the name the server serves it under"
                            .into(),
                        Some("model = \"fashion-cnn\" for `stressor serve`".into()),
                    );
                    return builtin;
                };
                let text = url.get_ref().trim_end_matches('/');
                let authority = text
                    .strip_prefix("http://")
                    .or_else(|| text.strip_prefix("https://"))
                    .unwrap_or("");
                if authority.is_empty() || authority.contains('/') {
                    self.problem(
                        url.span(),
                        &format!("{section}.url"),
                        format!("`{text}` is not http://host:port or https://host[:port]"),
                        Some("the Open Inference Protocol paths (/v2/models/...) are added by stressor".into()),
                    );
                }
                let (max_batch, timeout_ms) = self.batch_and_timeout(options, section);
                TargetPlan::Http {
                    url: text.to_string(),
                    name: name.get_ref().clone(),
                    max_batch,
                    timeout_ms,
                    transport: self.transport(options, section),
                }
            }
            "json" => self.json_target(options, section).unwrap_or(builtin),
            other => {
                self.problem(
                    options.kind.span(),
                    &format!("{section}.kind"),
                    format!("unknown target kind `{other}`"),
                    Some("known kinds: builtin, safetensors, onnx, ensemble, http, json".into()),
                );
                builtin
            }
        }
    }

    fn ensemble(&mut self, options: &TargetOptions, section: &str) -> Option<TargetPlan> {
        let Some(members) = &options.members else {
            self.problem(
                options.kind.span(),
                &format!("{section}.members"),
                "`kind = \"ensemble\"` needs `members`, a list of at least 2 targets".into(),
                Some("members = [{ kind = \"builtin\", model = \"fashion-cnn\", train_seed = 1 }, { kind = \"onnx\", path = \"model.onnx\" }]".into()),
            );
            return None;
        };
        if members.get_ref().len() < 2 {
            self.problem(
                members.span(),
                &format!("{section}.members"),
                format!("an ensemble needs at least 2 members, got {}", members.get_ref().len()),
                None,
            );
        }
        let mut planned = Vec::new();
        for (i, member) in members.get_ref().iter().enumerate() {
            let key = format!("{section}.members[{i}]");
            if member.kind.get_ref() == "ensemble" {
                self.problem(
                    member.kind.span(),
                    &format!("{key}.kind"),
                    "an ensemble member cannot itself be an ensemble".into(),
                    Some("list the inner ensemble's members directly".into()),
                );
                continue;
            }
            planned.push(self.target(member, &key));
        }
        let combine = match options.combine.as_ref().map(|c| (c.get_ref().as_str(), c.span())) {
            None | Some(("mean-probability", _)) => EnsembleCombine::MeanProbability,
            Some(("majority-vote", _)) => EnsembleCombine::MajorityVote,
            Some((other, span)) => {
                self.problem(
                    span,
                    &format!("{section}.combine"),
                    format!("unknown combination `{other}`"),
                    Some("use mean-probability or majority-vote".into()),
                );
                EnsembleCombine::MeanProbability
            }
        };
        Some(TargetPlan::Ensemble { members: planned, combine })
    }

    fn onnx_input(&mut self, options: Option<&Spanned<InputOptions>>, section: &str) -> OnnxInput {
        let mut input =
            OnnxInput { channels_last: false, scale: 1.0, mean: Vec::new(), std: Vec::new() };
        let Some(options) = options.map(Spanned::get_ref) else { return input };
        if let Some(layout) = &options.layout {
            match layout.get_ref().as_str() {
                "nchw" => {}
                "nhwc" => input.channels_last = true,
                other => self.problem(
                    layout.span(),
                    &format!("{section}.input.layout"),
                    format!("unknown layout `{other}`"),
                    Some("use nchw or nhwc".into()),
                ),
            }
        }
        if let Some(scale) = &options.scale {
            let value = *scale.get_ref();
            if value == 1.0 || value == 255.0 {
                input.scale = value as f32;
            } else {
                self.problem(
                    scale.span(),
                    &format!("{section}.input.scale"),
                    format!("scale must be 1 or 255, got {value}"),
                    None,
                );
            }
        }
        let mean = options.mean.as_ref();
        let std = options.std.as_ref();
        if let Some(mean) = mean {
            input.mean = mean.get_ref().iter().map(|v| *v as f32).collect();
        }
        if let Some(std) = std {
            if let Some(bad) = std.get_ref().iter().find(|v| !(v.is_finite() && **v > 0.0)) {
                self.problem(
                    std.span(),
                    &format!("{section}.input.std"),
                    format!("every std must be a finite number above 0, found {bad}"),
                    None,
                );
            }
            input.std = std.get_ref().iter().map(|v| *v as f32).collect();
        }
        if let (Some(m), Some(s)) = (mean, std)
            && m.get_ref().len() != s.get_ref().len()
        {
            self.problem(
                s.span(),
                &format!("{section}.input.std"),
                format!("{} means but {} stds", m.get_ref().len(), s.get_ref().len()),
                Some("give one mean and one std per channel".into()),
            );
        }
        input
    }

    /// Samples per request and the per-request timeout of an HTTP target.
    pub(crate) fn batch_and_timeout(
        &mut self,
        options: &TargetOptions,
        section: &str,
    ) -> (usize, u64) {
        let max_batch = match &options.max_batch {
            Some(n) if *n.get_ref() == 0 => {
                self.problem(
                    n.span(),
                    &format!("{section}.max_batch"),
                    "must be at least 1".into(),
                    None,
                );
                256
            }
            Some(n) => usize::try_from(*n.get_ref()).unwrap_or(256),
            None => 256,
        };
        let timeout_ms = match &options.timeout_ms {
            Some(t) if *t.get_ref() == 0 => {
                self.problem(
                    t.span(),
                    &format!("{section}.timeout_ms"),
                    "must be at least 1".into(),
                    None,
                );
                30_000
            }
            Some(t) => *t.get_ref(),
            None => 30_000,
        };
        (max_batch, timeout_ms)
    }

    pub(crate) fn transport(&mut self, options: &TargetOptions, section: &str) -> TransportPlan {
        let mut plan = TransportPlan {
            retries: 2,
            retry_budget: 0.2,
            max_concurrency: 1,
            ..TransportPlan::default()
        };
        if let Some(n) = &options.max_concurrency {
            match usize::try_from(*n.get_ref()) {
                Ok(n) if (1..=256).contains(&n) => plan.max_concurrency = n,
                _ => self.problem(
                    n.span(),
                    &format!("{section}.max_concurrency"),
                    "must be between 1 and 256".into(),
                    None,
                ),
            }
        }
        if let Some(headers) = &options.headers {
            for (name, value) in headers.get_ref() {
                let valid_name = !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&b));
                if !valid_name || value.contains(['\r', '\n']) {
                    self.problem(
                        headers.span(),
                        &format!("{section}.headers.{name}"),
                        "not a valid HTTP header name and value".into(),
                        None,
                    );
                    continue;
                }
                let unclosed = value.matches("${").count() != value.matches('}').count();
                if unclosed {
                    self.problem(
                        headers.span(),
                        &format!("{section}.headers.{name}"),
                        "a `${` without its `}`".into(),
                        Some("write environment references as ${NAME}".into()),
                    );
                }
                plan.headers.push((name.clone(), value.clone()));
            }
        }
        if let Some(file) = &options.ca_file {
            plan.ca_file = Some(self.relative(file.get_ref()));
        }
        if let Some(rate) = &options.rate_limit {
            if rate.get_ref().is_finite() && *rate.get_ref() > 0.0 {
                plan.rate_limit = Some(*rate.get_ref());
            } else {
                self.problem(
                    rate.span(),
                    &format!("{section}.rate_limit"),
                    "must be a number of requests per second above 0".into(),
                    None,
                );
            }
        }
        if let Some(retries) = &options.retries {
            match u32::try_from(*retries.get_ref()) {
                Ok(n) if n <= 100 => plan.retries = n,
                _ => self.problem(
                    retries.span(),
                    &format!("{section}.retries"),
                    "must be between 0 and 100".into(),
                    None,
                ),
            }
        }
        if let Some(budget) = &options.retry_budget {
            if (0.0..=10.0).contains(budget.get_ref()) {
                plan.retry_budget = *budget.get_ref();
            } else {
                self.problem(
                    budget.span(),
                    &format!("{section}.retry_budget"),
                    "must be a share between 0 and 10".into(),
                    None,
                );
            }
        }
        plan
    }

    pub(crate) fn json_target(
        &mut self,
        options: &TargetOptions,
        section: &str,
    ) -> Option<TargetPlan> {
        let need = |planner: &mut Self, key: &str, example: &str| {
            planner.problem(
                options.kind.span(),
                &format!("{section}.{key}"),
                format!("`kind = \"json\"` needs `{key}`"),
                Some(example.into()),
            );
        };
        let Some(url) = &options.url else {
            need(self, "url", "url = \"http://127.0.0.1:8080/predict\"");
            return None;
        };
        let text = url.get_ref().clone();
        if !(text.starts_with("http://") || text.starts_with("https://")) {
            self.problem(
                url.span(),
                &format!("{section}.url"),
                format!("`{text}` is not an http(s) URL"),
                None,
            );
        }
        let Some(template) = &options.template else {
            need(self, "template", "template = { instances = \"{{inputs}}\" }");
            return None;
        };
        let template = match serde_json::to_value(template.get_ref()) {
            Ok(value) => value,
            Err(error) => {
                self.problem(
                    template.span(),
                    &format!("{section}.template"),
                    error.to_string(),
                    None,
                );
                return None;
            }
        };
        let text_template = template.to_string();
        if !text_template.contains("\"{{inputs}}\"") && !text_template.contains("\"{{input}}\"") {
            self.problem(
                options.template.as_ref().map_or(options.kind.span(), Spanned::span),
                &format!("{section}.template"),
                "the template has no \"{{inputs}}\" or \"{{input}}\" value".into(),
                Some(
                    "put \"{{inputs}}\" where the batch goes, e.g. instances = \"{{inputs}}\""
                        .into(),
                ),
            );
        }
        let response = match &options.response {
            Some(pointer) if pointer.get_ref().starts_with('/') || pointer.get_ref().is_empty() => {
                pointer.get_ref().clone()
            }
            Some(pointer) => {
                self.problem(
                    pointer.span(),
                    &format!("{section}.response"),
                    format!("`{}` is not a JSON pointer", pointer.get_ref()),
                    Some("e.g. response = \"/predictions\"".into()),
                );
                return None;
            }
            None => {
                need(self, "response", "response = \"/predictions\"");
                return None;
            }
        };
        let scores = match options.scores.as_ref().map(|s| (s.get_ref().as_str(), s.span())) {
            None => "logits".to_string(),
            Some((name @ ("logits" | "probabilities" | "labels"), _)) => name.to_string(),
            Some((other, span)) => {
                self.problem(
                    span,
                    &format!("{section}.scores"),
                    format!("unknown scores `{other}`"),
                    Some("logits, probabilities or labels".into()),
                );
                "logits".to_string()
            }
        };
        let Some(shape) = &options.input_shape else {
            need(self, "input_shape", "input_shape = [1, 28, 28]");
            return None;
        };
        if shape.get_ref().is_empty() || shape.get_ref().contains(&0) {
            self.problem(
                shape.span(),
                &format!("{section}.input_shape"),
                "must be a non-empty list of positive sizes".into(),
                None,
            );
        }
        let Some(classes) = &options.classes else {
            need(self, "classes", "classes = 10");
            return None;
        };
        if *classes.get_ref() < 2 {
            self.problem(
                classes.span(),
                &format!("{section}.classes"),
                "must be at least 2".into(),
                None,
            );
        }
        let (max_batch, timeout_ms) = self.batch_and_timeout(options, section);
        let name =
            options.model.as_ref().map_or_else(|| "json".to_string(), |m| m.get_ref().clone());
        Some(TargetPlan::Json {
            url: text,
            name,
            max_batch,
            timeout_ms,
            transport: self.transport(options, section),
            template,
            response,
            scores,
            input_shape: shape.get_ref().iter().map(|&d| d as usize).collect(),
            classes: *classes.get_ref() as usize,
        })
    }
}

/// The target: one model, or an ensemble whose members the engine also measures one by one.
pub enum Target {
    /// One model.
    Single(Arc<dyn Model>),
    /// An ensemble of models.
    Ensemble(Ensemble),
}

impl Target {
    /// The model (the ensemble as one model).
    pub fn model(&self) -> &dyn Model {
        match self {
            Target::Single(model) => model.as_ref(),
            Target::Ensemble(ensemble) => ensemble,
        }
    }

    /// An ensemble's members.
    pub fn members(&self) -> Option<&[Box<dyn Model>]> {
        match self {
            Target::Single(_) => None,
            Target::Ensemble(ensemble) => Some(ensemble.members()),
        }
    }

    /// The model, shared, for the systems run to serve.
    pub fn shared(&self) -> Option<Arc<dyn Model>> {
        match self {
            Target::Single(model) => Some(Arc::clone(model)),
            Target::Ensemble(_) => None,
        }
    }
}

/// Loads the target: one model, or an ensemble whose members stay reachable.
///
/// # Errors
/// As [`load_model`].
pub fn load_target(
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
    transport: &TransportPlan,
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
///
#[cfg(feature = "candle")]
pub fn train_progress(
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
///
/// # Errors
/// Whatever `train` returns.
#[cfg(feature = "candle")]
pub fn cached_cnn(
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

/// FNV-1a, 64 bits: a stable hash for cache file names (std's hasher may change between
/// releases).
pub fn fnv1a(bytes: &[u8]) -> u64 {
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

impl TargetPlan {
    /// For people (`stressor check`): the operators of each ONNX file in the target (an ONNX
    /// target, or an ensemble's ONNX members), one `ops` line per file, and a `warning:` line
    /// for each operator stressor cannot evaluate, naming the node, so a model that would stop
    /// at load is known before a run starts. Returns whether every operator is supported.
    ///
    /// # Errors
    /// The writer's.
    pub fn describe_ops(&self, out: &mut dyn std::io::Write) -> std::io::Result<bool> {
        match self {
            TargetPlan::Onnx { path, .. } => describe_onnx_ops(path, out),
            TargetPlan::Ensemble { members, .. } => {
                let mut supported = true;
                for member in members {
                    supported &= member.describe_ops(out)?;
                }
                Ok(supported)
            }
            _ => Ok(true),
        }
    }
}

#[cfg(feature = "candle")]
fn describe_onnx_ops(path: &Path, out: &mut dyn std::io::Write) -> std::io::Result<bool> {
    match stressor_onnx::list_ops(path) {
        Ok(ops) => {
            let listed: Vec<String> =
                ops.iter().map(|op| format!("{} ×{}", op.op, op.count)).collect();
            writeln!(out, "ops      {}: {}", path.display(), listed.join(", "))?;
            let mut supported = true;
            for op in &ops {
                if let Some(problem) = &op.problem {
                    supported = false;
                    writeln!(out, "warning: {} cannot run: {} {problem}", path.display(), op.op)?;
                }
            }
            Ok(supported)
        }
        Err(error) => {
            writeln!(out, "warning: cannot list the ops of {}: {error}", path.display())?;
            Ok(false)
        }
    }
}

#[cfg(not(feature = "candle"))]
fn describe_onnx_ops(_path: &Path, _out: &mut dyn std::io::Write) -> std::io::Result<bool> {
    Ok(true)
}

/// For people (`stressor check`): `built-in fashion-cnn (train seed 1)`, `ONNX model.onnx
/// (NHWC, scale 255, mean [..], std [..]; logits)`, `ensemble (mean probability) of 3: …`.
impl std::fmt::Display for TargetPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetPlan::Builtin { architecture, train_seed } => {
                write!(f, "built-in {} (train seed {})", architecture.name(), train_seed.value())
            }
            TargetPlan::Safetensors { architecture, path } => {
                write!(f, "{} weights from {}", architecture.name(), path.display())
            }
            TargetPlan::Onnx { path, input, probabilities } => {
                write!(
                    f,
                    "ONNX {} ({}, scale {}",
                    path.display(),
                    if input.channels_last { "NHWC" } else { "NCHW" },
                    input.scale
                )?;
                if !input.mean.is_empty() {
                    write!(f, ", mean {:?}", input.mean)?;
                }
                if !input.std.is_empty() {
                    write!(f, ", std {:?}", input.std)?;
                }
                write!(f, "; {})", if *probabilities { "probabilities" } else { "logits" })
            }
            TargetPlan::Http { url, name, max_batch, timeout_ms, transport } => {
                write!(
                    f,
                    "Open Inference Protocol {url}, model `{name}` (batches of {max_batch}, timeout {timeout_ms} ms{})",
                    transport
                )
            }
            TargetPlan::Json {
                url,
                name,
                max_batch,
                timeout_ms,
                transport,
                response,
                scores,
                input_shape,
                classes,
                ..
            } => {
                write!(
                    f,
                    "JSON API {url} `{name}` ({scores} at {response}, {classes} classes, input {input_shape:?}, batches of {max_batch}, timeout {timeout_ms} ms{})",
                    transport
                )
            }
            TargetPlan::Ensemble { members, combine } => {
                let combine = match combine {
                    EnsembleCombine::MeanProbability => "mean probability",
                    EnsembleCombine::MajorityVote => "majority vote",
                };
                write!(f, "ensemble ({combine}) of {}:", members.len())?;
                for (i, member) in members.iter().enumerate() {
                    write!(f, "{} {member}", if i == 0 { "" } else { ";" })?;
                }
                Ok(())
            }
        }
    }
}

/// The transport's settings for people, as `, 2 retries …`; header names only (a value may be
/// a secret).
impl std::fmt::Display for TransportPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            ", {} retries within {} of requests, {} in flight",
            self.retries, self.retry_budget, self.max_concurrency
        )?;
        if let Some(rate) = self.rate_limit {
            write!(f, ", at most {rate} req/s")?;
        }
        if !self.headers.is_empty() {
            let names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
            write!(f, ", headers {}", names.join(", "))?;
        }
        if let Some(ca) = &self.ca_file {
            write!(f, ", trusting {}", ca.display())?;
        }
        Ok(())
    }
}

#[cfg(all(test, feature = "candle"))]
mod tests {
    use super::*;

    fn onnx(path: &str) -> TargetPlan {
        TargetPlan::Onnx {
            path: Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../stressor-onnx/tests/fixtures")
                .join(path),
            input: OnnxInput {
                channels_last: false,
                scale: 1.0,
                mean: Vec::new(),
                std: Vec::new(),
            },
            probabilities: false,
        }
    }

    fn describe(target: &TargetPlan) -> (bool, String) {
        let mut out = Vec::new();
        let supported = target.describe_ops(&mut out).expect("writes to a vector");
        (supported, String::from_utf8(out).expect("UTF-8"))
    }

    #[test]
    fn check_lists_an_onnx_models_ops_and_names_the_unsupported_ones() {
        let (supported, text) = describe(&onnx("small_cnn.onnx"));
        assert!(supported, "{text}");
        assert!(text.contains("Conv ×2, BatchNormalization ×1, Relu ×2"), "{text}");
        assert!(!text.contains("warning"), "{text}");

        let (supported, text) = describe(&onnx("unsupported.onnx"));
        assert!(!supported);
        assert!(text.contains("LpNormalization ×1, Flatten ×1"), "{text}");
        assert!(
            text.contains("warning:")
                && text.contains("LpNormalization not supported (node `my_norm`)"),
            "{text}"
        );

        let (supported, text) = describe(&onnx("missing.onnx"));
        assert!(!supported);
        assert!(text.contains("cannot list the ops"), "{text}");
    }
}
