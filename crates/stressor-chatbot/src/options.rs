//! The chatbot family's part of the scenario file: `[chatbot]` (TOML, unknown keys rejected).

use serde::Deserialize;
use stressor_scenario::options::DialValue;
use toml::Spanned;

/// The chatbot family's top-level keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatbotSection {
    /// The chatbot, its data, the stresses, the handoff policies, the surge, the shadow and
    /// the gates.
    pub chatbot: Spanned<ChatbotOptions>,
}

/// `[chatbot]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatbotOptions {
    /// The chatbot under test (default: the built-in classifier trained on the data).
    #[serde(default)]
    pub model: Option<Spanned<ModelOptions>>,
    /// `"clinc150"` (the vendored data set, default) or a path to a file in its layout.
    #[serde(default)]
    pub data: Option<Spanned<String>>,
    /// In-scope test queries evaluated, stratified by intent (default 1500).
    #[serde(default)]
    pub samples: Option<Spanned<u64>>,
    /// Out-of-scope test queries evaluated (default: `samples / 30`, the calibration split's
    /// off-topic share, which the handoff guarantee is stated for).
    #[serde(default)]
    pub off_topic_samples: Option<Spanned<u64>>,
    /// Worst examples kept per dial value (default 5).
    #[serde(default)]
    pub examples: Option<Spanned<u64>>,
    /// How queries go to a human.
    #[serde(default)]
    pub handoff: Option<Spanned<HandoffOptions>>,
    /// What each outcome is worth, for the utility and the degradation score.
    #[serde(default)]
    pub utility: Option<Spanned<UtilityOptions>>,
    /// The stresses, each swept over its dial.
    #[serde(default)]
    pub stresses: Vec<Spanned<StressOptions>>,
    /// The chatbot over HTTP under a load surge.
    #[serde(default)]
    pub surge: Option<Spanned<SurgeOptions>>,
    /// A candidate model shadowing the live one.
    #[serde(default)]
    pub shadow: Option<Spanned<ShadowOptions>>,
    /// Gates on a step's metrics.
    #[serde(default)]
    pub gates: Vec<Spanned<ChatGateOptions>>,
}

/// `[chatbot.model]` (and the shadow's `candidate`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelOptions {
    /// `builtin` (default), `minilm` (sentence embeddings and a softmax head, trained on the
    /// data), `openai` (an OpenAI-compatible chat-completions endpoint) or `json` (a JSON
    /// classifier endpoint).
    #[serde(default)]
    pub kind: Option<Spanned<String>>,
    /// Built-in and `minilm`: training epochs.
    #[serde(default)]
    pub epochs: Option<Spanned<u64>>,
    /// Built-in and `minilm`: L2 regularisation strength.
    #[serde(default)]
    pub l2: Option<Spanned<f64>>,
    /// Built-in: `"words+chars"` (default) or `"words"` (word n-grams only).
    #[serde(default)]
    pub features: Option<Spanned<String>>,
    /// `minilm`: the folder with the sentence encoder's `config.json`, `model.safetensors` and
    /// `tokenizer.json` (`cargo xtask fetch-minilm` puts all-MiniLM-L6-v2 in `target/minilm`).
    #[serde(default)]
    pub path: Option<Spanned<String>>,
    /// HTTP: the endpoint's URL (`http://127.0.0.1:8000/v1` for `openai`; the full URL for
    /// `json`).
    #[serde(default)]
    pub url: Option<Spanned<String>>,
    /// `openai`: the model name sent.
    #[serde(default, rename = "name")]
    pub model_name: Option<Spanned<String>>,
    /// `json`: the request body, with `{text}` replaced by the query as a JSON string.
    #[serde(default)]
    pub request: Option<Spanned<String>>,
    /// A JSON pointer to the intent's name in the reply (`/stressor/intent` for `openai`,
    /// `/intent` for `json` by default).
    #[serde(default)]
    pub intent_pointer: Option<Spanned<String>>,
    /// `openai`: a regular expression whose first group is the intent's name, read from the
    /// reply's text (instead of `intent_pointer`).
    #[serde(default)]
    pub intent_regex: Option<Spanned<String>>,
    /// A JSON pointer to the confidence in [0, 1] (default `/stressor/confidence` or
    /// `/confidence`; absent in the reply: 1).
    #[serde(default)]
    pub confidence_pointer: Option<Spanned<String>>,
    /// Intent names that mean the bot handed off itself (default `["oos", "handoff"]`).
    #[serde(default)]
    pub decline: Option<Vec<String>>,
    /// Per-request timeout (default `"5s"`).
    #[serde(default)]
    pub timeout: Option<Spanned<String>>,
}

/// `[chatbot.handoff]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffOptions {
    /// The error rate of answered queries the guaranteed threshold keeps to (default 0.1).
    #[serde(default)]
    pub alpha: Option<Spanned<f64>>,
    /// ... with probability at least 1 − delta (default 0.1).
    #[serde(default)]
    pub delta: Option<Spanned<f64>>,
    /// Fixed confidence thresholds compared with it (default `[0.3]`: Rasa's and
    /// Dialogflow's default).
    #[serde(default)]
    pub fixed: Option<Spanned<Vec<f64>>>,
    /// Keyword rules that answer below the threshold before a human does.
    #[serde(default)]
    pub rules: Vec<Spanned<RuleOptions>>,
}

/// One `[[chatbot.handoff.rules]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleOptions {
    /// Any of these words in the query (whole words, any case) fires the rule.
    pub keywords: Spanned<Vec<String>>,
    /// The intent it answers.
    pub intent: Spanned<String>,
}

/// `[chatbot.utility]`: what each outcome is worth.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UtilityOptions {
    /// A right answer (default 1).
    #[serde(default)]
    pub correct: Option<Spanned<f64>>,
    /// A handoff the query needed: off-topic, or the answer would have been wrong (default 0.7).
    #[serde(default)]
    pub justified_handoff: Option<Spanned<f64>>,
    /// A handoff of a query the bot would have answered right (default 0.4).
    #[serde(default)]
    pub needless_handoff: Option<Spanned<f64>>,
    /// A wrong answer, off-topic queries answered included (default 0).
    #[serde(default)]
    pub wrong: Option<Spanned<f64>>,
    /// No answer: an error, a 503, a timeout, an unmappable reply (default 0.2).
    #[serde(default)]
    pub dropped: Option<Spanned<f64>>,
}

/// One `[[chatbot.stresses]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StressOptions {
    /// A perturbation (`typos`, `char_swap`, `char_drop`, `char_insert`, `synonyms`,
    /// `contractions`, `casing`, `punctuation`, `filler`), `off_topic` or `word_substitution`.
    pub kind: Spanned<String>,
    /// The step's id (default: the kind).
    #[serde(default)]
    pub id: Option<Spanned<String>>,
    /// The dial's values: `{ rate = [...] }`, `{ share = [...] }` or, for
    /// `word_substitution`, `{ queries = [...] }`.
    pub sweep: Spanned<toml::Table>,
    /// `word_substitution`: the most words changed, as a share of the query's words
    /// (default 0.3).
    #[serde(default)]
    pub max_changed_share: Option<Spanned<f64>>,
    /// `word_substitution`: the least similarity between the original and the perturbed
    /// query (default 0.6).
    #[serde(default)]
    pub min_similarity: Option<Spanned<f64>>,
    /// `word_substitution`: queries attacked (default 200, the first of the evaluated ones
    /// the chatbot answers right).
    #[serde(default)]
    pub samples: Option<Spanned<u64>>,
}

/// `[chatbot.surge]`: the chatbot served over HTTP, under baseline → surge → baseline load.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurgeOptions {
    /// Baseline requests per second (default 20).
    #[serde(default)]
    pub rate: Option<Spanned<f64>>,
    /// The surge's rate as a multiple of the baseline (default 10).
    #[serde(default)]
    pub multiple: Option<Spanned<f64>>,
    /// Baseline before the surge (default `"5s"`).
    #[serde(default)]
    pub before: Option<Spanned<String>>,
    /// The surge (default `"5s"`).
    #[serde(default)]
    pub duration: Option<Spanned<String>>,
    /// Baseline after the surge (default `"10s"`).
    #[serde(default)]
    pub after: Option<Spanned<String>>,
    /// Requests the server answers at once (default 2).
    #[serde(default)]
    pub max_concurrency: Option<Spanned<u64>>,
    /// Requests waiting before the server answers 503 (default 32).
    #[serde(default)]
    pub queue_limit: Option<Spanned<u64>>,
    /// Extra time each request holds its slot, so saturation shows on a small machine
    /// (default `"20ms"`).
    #[serde(default)]
    pub service_time: Option<Spanned<String>>,
    /// The client's timeout per request (default `"2s"`).
    #[serde(default)]
    pub timeout: Option<Spanned<String>>,
    /// Load-generator connections (default 64).
    #[serde(default)]
    pub connections: Option<Spanned<u64>>,
    /// Share of the surge's queries that are off-topic (default: the evaluated mix).
    #[serde(default)]
    pub off_topic_share: Option<Spanned<f64>>,
}

/// `[chatbot.shadow]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShadowOptions {
    /// The candidate model (as `[chatbot.model]`).
    pub candidate: Spanned<ModelOptions>,
    /// The share of mirrored traffic whose truth is known (default 1).
    #[serde(default)]
    pub labelled_share: Option<Spanned<f64>>,
    /// Promotion gates on the shadow step's metrics (`agreement`, `candidate_accuracy`,
    /// `accuracy_gain`, `candidate_p99_ms`, …): promote when all hold.
    #[serde(default)]
    pub promote_if: Vec<Spanned<PromoteOptions>>,
}

/// One promotion gate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromoteOptions {
    /// The metric.
    pub metric: Spanned<String>,
    /// At least.
    #[serde(default)]
    pub min: Option<f64>,
    /// At most.
    #[serde(default)]
    pub max: Option<f64>,
}

/// One `[[chatbot.gates]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatGateOptions {
    /// The step (`clean`, a stress's id, `surge`, `shadow`, `degradation`).
    pub step: Spanned<String>,
    /// The metric.
    pub metric: Spanned<String>,
    /// The dial value it applies to (default: the worst).
    #[serde(default)]
    pub at: Option<Spanned<DialValue>>,
    /// At least.
    #[serde(default)]
    pub min: Option<f64>,
    /// At most.
    #[serde(default)]
    pub max: Option<f64>,
    /// `value`, `ci_lower` or `ci_upper`.
    #[serde(default)]
    pub bound: Option<Spanned<String>>,
}
