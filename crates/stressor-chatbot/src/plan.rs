//! `[chatbot]` validated: every problem with its file, line, column and key.

use std::ops::Deref;
use std::ops::DerefMut;
use std::path::PathBuf;
use std::time::Duration;

use stressor_core::Gate;
use stressor_scenario::Planner;
use stressor_scenario::options::GateOptions;
use toml::Spanned;

use crate::options::{
    ChatbotOptions, HandoffOptions, ModelOptions, ShadowOptions, StressOptions, SurgeOptions,
    UtilityOptions,
};

/// The perturbations `[[chatbot.stresses]]` may name, with their dial.
pub const PERTURBATIONS: [(&str, &str); 9] = [
    ("typos", "rate"),
    ("char_swap", "rate"),
    ("char_drop", "rate"),
    ("char_insert", "rate"),
    ("synonyms", "share"),
    ("contractions", "share"),
    ("casing", "share"),
    ("punctuation", "share"),
    ("filler", "rate"),
];

/// The metrics a chatbot step reports (any of them may also carry a handoff policy's name as
/// a suffix: `handoff_rate.fixed-0.3`).
pub const CHATBOT_METRICS: &[&str] = &[
    "accuracy",
    "answered_accuracy",
    "handoff_rate",
    "coverage",
    "invariance_failure_rate",
    "oos_recall",
    "false_handoff_rate",
    "rule_rate",
    "utility",
    "unmapped_rate",
    "dropped_rate",
    "auroc_max_softmax",
    "auroc_energy",
    "auroc_distance",
    "fpr95_max_softmax",
    "fpr95_energy",
    "fpr95_distance",
    "attack_success_rate",
    "queries_per_success_mean",
    "table2_in_scope_accuracy",
    "table2_oos_recall",
    // surge
    "requests",
    "error_rate",
    "p50_ms",
    "p99_ms",
    "time_to_recover_s",
    // shadow
    "agreement",
    "live_accuracy",
    "candidate_accuracy",
    "accuracy_gain",
    "mirrored",
    "dropped_mirrors",
    "candidate_p50_ms",
    "candidate_p99_ms",
    "live_p50_ms",
    "live_p99_ms",
    "agreement_under_load",
    "candidate_p50_ms_under_load",
    "candidate_p99_ms_under_load",
    "promote",
    "utility.before",
    "utility.surge",
    "utility.after",
    "error_rate.baseline",
    "error_rate.surge",
    "p99_ms.baseline",
    "p99_ms.surge",
    "accuracy.baseline",
    "accuracy.surge",
    "handoff_rate.baseline",
    "handoff_rate.surge",
    "p50_ms.baseline",
    "p50_ms.surge",
    "throughput.baseline",
    "throughput.surge",
    // degradation
    "degradation_score",
];

/// The validated `[chatbot]`.
#[derive(Debug, Clone)]
pub struct ChatbotPlan {
    /// The chatbot under test.
    pub model: ModelPlan,
    /// Where the queries come from.
    pub data: DataSource,
    /// In-scope test queries evaluated.
    pub samples: usize,
    /// Out-of-scope test queries evaluated.
    pub off_topic_samples: usize,
    /// Worst examples per dial value.
    pub examples: usize,
    /// The handoff policies.
    pub handoff: HandoffPlan,
    /// What each outcome is worth.
    pub utility: Utility,
    /// The stresses, in file order.
    pub stresses: Vec<StressPlan>,
    /// The load surge.
    pub surge: Option<SurgePlan>,
    /// The shadow deployment.
    pub shadow: Option<ShadowPlan>,
    /// Gates, in file order.
    pub gates: Vec<Gate>,
}

/// Where the queries come from.
#[derive(Debug, Clone, PartialEq)]
pub enum DataSource {
    /// The vendored CLINC150.
    Clinc150,
    /// A file in CLINC150's layout.
    File(PathBuf),
}

/// The chatbot under test.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelPlan {
    /// The built-in classifier, trained on the data's training split.
    Builtin(BuiltinPlan),
    /// A sentence encoder (all-MiniLM-L6-v2) with a softmax head trained on the data.
    MiniLm(MiniLmPlan),
    /// A user's chatbot over HTTP.
    Http(HttpPlan),
}

/// The sentence-embedding classifier's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct MiniLmPlan {
    /// The encoder's folder.
    pub path: PathBuf,
    /// Head training epochs (`None`: the head's default).
    pub epochs: Option<usize>,
    /// Head L2 strength (`None`: the head's default).
    pub l2: Option<f64>,
}

/// The built-in classifier's settings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BuiltinPlan {
    /// Training epochs (`None`: the classifier's default).
    pub epochs: Option<usize>,
    /// L2 strength (`None`: the classifier's default).
    pub l2: Option<f64>,
    /// Word n-grams only (no character n-grams).
    pub words_only: bool,
}

/// A user's chatbot over HTTP.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpPlan {
    /// `openai` or `json`.
    pub kind: HttpKind,
    /// The URL.
    pub url: String,
    /// The model name (`openai`).
    pub model_name: String,
    /// The request body template (`json`), `{text}` replaced by the query as a JSON string.
    pub request: String,
    /// How the intent is read.
    pub intent: IntentRule,
    /// Where the confidence is.
    pub confidence_pointer: String,
    /// Intent names that mean the bot declined.
    pub decline: Vec<String>,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// The two HTTP kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpKind {
    /// OpenAI-compatible chat completions.
    OpenAi,
    /// A JSON classifier endpoint.
    Json,
}

/// How the intent is read from a reply.
#[derive(Debug, Clone, PartialEq)]
pub enum IntentRule {
    /// A JSON pointer to the intent's name.
    Pointer(String),
    /// A regular expression over the reply's text; its first group is the name.
    Regex(String),
}

/// The handoff policies.
#[derive(Debug, Clone, PartialEq)]
pub struct HandoffPlan {
    /// The guaranteed threshold's risk level.
    pub alpha: f64,
    /// Its failure probability.
    pub delta: f64,
    /// Fixed thresholds compared.
    pub fixed: Vec<f64>,
    /// Keyword rules.
    pub rules: Vec<Rule>,
}

/// A keyword rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Lowercased keywords.
    pub keywords: Vec<String>,
    /// The intent's name.
    pub intent: String,
}

/// What each outcome is worth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Utility {
    /// A right answer.
    pub correct: f64,
    /// A handoff the query needed.
    pub justified_handoff: f64,
    /// A handoff of a query the bot would have answered right.
    pub needless_handoff: f64,
    /// A wrong answer.
    pub wrong: f64,
    /// No answer.
    pub dropped: f64,
}

impl Default for Utility {
    fn default() -> Self {
        Utility {
            correct: 1.0,
            justified_handoff: 0.7,
            needless_handoff: 0.4,
            wrong: 0.0,
            dropped: 0.2,
        }
    }
}

/// One stress.
#[derive(Debug, Clone, PartialEq)]
pub struct StressPlan {
    /// The step's id.
    pub id: String,
    /// What it does.
    pub kind: StressKind,
    /// The dial's name.
    pub dial_name: String,
    /// Its values, in order.
    pub dial: Vec<f64>,
}

/// The kinds of stress.
#[derive(Debug, Clone, PartialEq)]
pub enum StressKind {
    /// A text perturbation (its `stressor-text` name).
    Perturbation(String),
    /// Off-topic queries mixed in at the dial's share.
    OffTopic,
    /// The black-box word-substitution attack, the dial its query budget.
    WordSubstitution {
        /// The most words changed, as a share.
        max_changed_share: f64,
        /// The least similarity kept.
        min_similarity: f64,
        /// Queries attacked.
        samples: usize,
    },
}

/// The load surge.
#[derive(Debug, Clone, PartialEq)]
pub struct SurgePlan {
    /// Baseline requests per second.
    pub rate: f64,
    /// The surge's multiple.
    pub multiple: f64,
    /// Baseline before.
    pub before: Duration,
    /// The surge.
    pub duration: Duration,
    /// Baseline after.
    pub after: Duration,
    /// Server slots.
    pub max_concurrency: usize,
    /// Server queue.
    pub queue_limit: usize,
    /// Server service time.
    pub service_time: Duration,
    /// Client timeout.
    pub timeout: Duration,
    /// Connections.
    pub connections: usize,
    /// Off-topic share of the surge's queries (`None`: the evaluated mix).
    pub off_topic_share: Option<f64>,
}

/// The shadow deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowPlan {
    /// The candidate.
    pub candidate: ModelPlan,
    /// The share of mirrored traffic whose truth is known.
    pub labelled_share: f64,
    /// Promotion gates: promote when all hold.
    pub promote_if: Vec<Promotion>,
}

/// A promotion gate.
#[derive(Debug, Clone, PartialEq)]
pub struct Promotion {
    /// The shadow step's metric.
    pub metric: String,
    /// At least (`true`) or at most.
    pub at_least: bool,
    /// The threshold.
    pub threshold: f64,
}

/// The metrics of the shadow step a promotion gate may name.
pub const SHADOW_METRICS: [&str; 13] = [
    "agreement",
    "agreement_under_load",
    "candidate_p50_ms_under_load",
    "candidate_p99_ms_under_load",
    "live_p50_ms",
    "live_p99_ms",
    "live_accuracy",
    "candidate_accuracy",
    "accuracy_gain",
    "candidate_p50_ms",
    "candidate_p99_ms",
    "mirrored",
    "dropped_mirrors",
];

struct ChatPlanner<'p, 'a>(&'p mut Planner<'a>);

impl<'a> Deref for ChatPlanner<'_, 'a> {
    type Target = Planner<'a>;
    fn deref(&self) -> &Planner<'a> {
        self.0
    }
}

impl DerefMut for ChatPlanner<'_, '_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.0
    }
}

pub(crate) fn plan(planner: &mut Planner<'_>, options: &Spanned<ChatbotOptions>) -> ChatbotPlan {
    let mut p = ChatPlanner(planner);
    let o = options.get_ref();
    let model = o
        .model
        .as_ref()
        .map_or(ModelPlan::Builtin(BuiltinPlan::default()), |m| p.model(m, "chatbot.model"));
    let data = match o.data.as_ref() {
        None => DataSource::Clinc150,
        Some(d) if d.get_ref() == "clinc150" => DataSource::Clinc150,
        Some(d) => DataSource::File(p.relative(d.get_ref())),
    };
    let samples = p.positive(o.samples.as_ref(), "chatbot.samples", 1500).unwrap_or(1500);
    // By default the off-topic share of the evaluated queries is the calibration split's
    // (CLINC150's val: 100 off-topic to 3,000 in-scope), the traffic the handoff guarantee is
    // stated for; the `off_topic` stress raises it.
    let off_topic_samples = match o.off_topic_samples.as_ref() {
        None => (samples as f64 / 30.0).round() as usize,
        Some(v) => *v.get_ref() as usize,
    };
    let examples = o.examples.as_ref().map_or(5, |v| *v.get_ref() as usize);
    let handoff = p.handoff(o.handoff.as_ref());
    let utility = p.utility(o.utility.as_ref());
    let mut stresses: Vec<StressPlan> = Vec::new();
    for (i, s) in o.stresses.iter().enumerate() {
        if let Some(stress) = p.stress(s, &format!("chatbot.stresses[{i}]")) {
            if stress.id == "clean" || stresses.iter().any(|other| other.id == stress.id) {
                let span = s.get_ref().id.as_ref().map_or(s.span(), Spanned::span);
                p.problem(
                    span,
                    &format!("chatbot.stresses[{i}].id"),
                    format!("step id `{}` is used twice (or is `clean`)", stress.id),
                    Some("give each stress its own `id`".into()),
                );
            }
            stresses.push(stress);
        }
    }
    let surge = o.surge.as_ref().map(|s| p.surge(s));
    let shadow = o.shadow.as_ref().map(|s| p.shadow(s));
    let mut ids: Vec<String> = vec!["clean".into()];
    ids.extend(stresses.iter().map(|s| s.id.clone()));
    if surge.is_some() {
        ids.push("surge".into());
    }
    if shadow.is_some() {
        ids.push("shadow".into());
    }
    ids.push("degradation".into());
    let mut policies: Vec<String> = vec![];
    policies.extend(handoff.fixed.iter().map(|t| fixed_name(*t)));
    let mut gates = Vec::new();
    for (i, g) in o.gates.iter().enumerate() {
        let key = format!("chatbot.gates[{i}]");
        let options = g.get_ref();
        let step = options.step.get_ref();
        if !ids.contains(step) {
            p.problem(
                options.step.span(),
                &format!("{key}.step"),
                format!("no step `{step}` runs in this scenario"),
                Some(format!("these run: {}", ids.join(", "))),
            );
            continue;
        }
        let metric = options.metric.get_ref();
        let base = metric.split_once('.').map_or(metric.as_str(), |(m, policy)| {
            if policies.iter().any(|p| p == policy) { m } else { metric.as_str() }
        });
        let as_gate = Spanned::new(
            g.span(),
            GateOptions {
                metric: Spanned::new(options.metric.span(), base.to_owned()),
                at: options.at.clone(),
                min: options.min,
                max: options.max,
                bound: options.bound.clone(),
            },
        );
        if let Some(mut gate) = p.gate(&as_gate, step, &key, CHATBOT_METRICS, &[]) {
            gate.metric.clone_from(metric);
            gates.push(gate);
        }
    }
    ChatbotPlan {
        model,
        data,
        samples,
        off_topic_samples,
        examples,
        handoff,
        utility,
        stresses,
        surge,
        shadow,
        gates,
    }
}

/// The name of the fixed-threshold policy at `t` (`fixed-0.3`).
pub fn fixed_name(t: f64) -> String {
    format!("fixed-{}", stressor_scenario::fmt_value(t))
}

impl ChatPlanner<'_, '_> {
    fn model(&mut self, spanned: &Spanned<ModelOptions>, key: &str) -> ModelPlan {
        let m = spanned.get_ref();
        let kind = m.kind.as_ref().map_or("builtin", |k| k.get_ref().as_str());
        let builtin_keys = [
            ("epochs", m.epochs.as_ref().map(Spanned::span)),
            ("l2", m.l2.as_ref().map(Spanned::span)),
            ("features", m.features.as_ref().map(Spanned::span)),
        ];
        let path_key = [("path", m.path.as_ref().map(Spanned::span))];
        let http_keys = [
            ("url", m.url.as_ref().map(Spanned::span)),
            ("name", m.model_name.as_ref().map(Spanned::span)),
            ("request", m.request.as_ref().map(Spanned::span)),
            ("intent_pointer", m.intent_pointer.as_ref().map(Spanned::span)),
            ("intent_regex", m.intent_regex.as_ref().map(Spanned::span)),
            ("confidence_pointer", m.confidence_pointer.as_ref().map(Spanned::span)),
            ("timeout", m.timeout.as_ref().map(Spanned::span)),
        ];
        match kind {
            "minilm" => {
                self.foreign_keys(key, &http_keys, |k| {
                    format!("`{k}` is for an HTTP chatbot (kind = \"openai\" or \"json\")")
                });
                self.foreign_keys(key, &builtin_keys[2..], |k| {
                    format!("`{k}` is for the built-in classifier (kind = \"builtin\")")
                });
                let (epochs, l2) = self.training(m, key);
                let path = match m.path.as_ref() {
                    Some(p) => self.relative(p.get_ref()),
                    None => {
                        self.problem(
                            spanned.span(),
                            &format!("{key}.path"),
                            "a `minilm` chatbot needs the encoder's folder".into(),
                            Some("`cargo xtask fetch-minilm` puts all-MiniLM-L6-v2 in target/minilm: path = \"../target/minilm\"".into()),
                        );
                        PathBuf::new()
                    }
                };
                ModelPlan::MiniLm(MiniLmPlan { path, epochs, l2 })
            }
            "builtin" => {
                self.foreign_keys(key, &http_keys, |k| {
                    format!("`{k}` is for an HTTP chatbot (kind = \"openai\" or \"json\")")
                });
                self.foreign_keys(key, &path_key, |k| {
                    format!("`{k}` is for a sentence-embedding chatbot (kind = \"minilm\")")
                });
                let (epochs, l2) = self.training(m, key);
                let words_only = match m.features.as_ref() {
                    None => false,
                    Some(f) => match f.get_ref().as_str() {
                        "words+chars" => false,
                        "words" => true,
                        other => {
                            self.problem(
                                f.span(),
                                &format!("{key}.features"),
                                format!("unknown features `{other}`"),
                                Some("use \"words+chars\" or \"words\"".into()),
                            );
                            false
                        }
                    },
                };
                ModelPlan::Builtin(BuiltinPlan { epochs, l2, words_only })
            }
            "openai" | "json" => {
                self.foreign_keys(key, &builtin_keys, |k| {
                    format!("`{k}` is for the built-in classifier (kind = \"builtin\")")
                });
                self.foreign_keys(key, &path_key, |k| {
                    format!("`{k}` is for a sentence-embedding chatbot (kind = \"minilm\")")
                });
                let http_kind = if kind == "openai" { HttpKind::OpenAi } else { HttpKind::Json };
                let url = match m.url.as_ref() {
                    Some(u) => {
                        let url = u.get_ref().clone();
                        if !(url.starts_with("http://") || url.starts_with("https://")) {
                            self.problem(
                                u.span(),
                                &format!("{key}.url"),
                                format!("`{url}` is not an http:// or https:// URL"),
                                None,
                            );
                        }
                        url
                    }
                    None => {
                        self.problem(
                            spanned.span(),
                            &format!("{key}.url"),
                            format!("a `{kind}` chatbot needs a `url`"),
                            Some("url = \"http://127.0.0.1:8000/v1\"".into()),
                        );
                        String::new()
                    }
                };
                let request = m.request.as_ref().map(|r| r.get_ref().clone());
                if http_kind == HttpKind::OpenAi && m.request.is_some() {
                    let span = m.request.as_ref().map_or(0..0, Spanned::span);
                    self.problem(
                        span,
                        &format!("{key}.request"),
                        "an `openai` chatbot is sent chat-completions requests; `request` is for `json`".into(),
                        None,
                    );
                }
                let request = request.unwrap_or_else(|| "{\"text\": {text}}".to_owned());
                if http_kind == HttpKind::Json && !request.contains("{text}") {
                    let span = m.request.as_ref().map_or(0..0, Spanned::span);
                    self.problem(
                        span,
                        &format!("{key}.request"),
                        "the request template must contain `{text}`".into(),
                        None,
                    );
                }
                let default_pointer =
                    if http_kind == HttpKind::OpenAi { "/stressor/intent" } else { "/intent" };
                let intent = match (m.intent_pointer.as_ref(), m.intent_regex.as_ref()) {
                    (Some(_), Some(r)) => {
                        self.problem(
                            r.span(),
                            &format!("{key}.intent_regex"),
                            "give `intent_pointer` or `intent_regex`, not both".into(),
                            None,
                        );
                        IntentRule::Pointer(default_pointer.into())
                    }
                    (Some(ptr), None) => {
                        let v = ptr.get_ref();
                        if !(v.is_empty() || v.starts_with('/')) {
                            self.problem(
                                ptr.span(),
                                &format!("{key}.intent_pointer"),
                                format!("`{v}` is not a JSON pointer (it starts with `/`)"),
                                None,
                            );
                        }
                        IntentRule::Pointer(v.clone())
                    }
                    (None, Some(r)) => {
                        if let Err(e) = regex::Regex::new(r.get_ref()) {
                            self.problem(
                                r.span(),
                                &format!("{key}.intent_regex"),
                                format!("not a regular expression: {e}"),
                                None,
                            );
                        }
                        IntentRule::Regex(r.get_ref().clone())
                    }
                    (None, None) => IntentRule::Pointer(default_pointer.into()),
                };
                let confidence_pointer = m.confidence_pointer.as_ref().map_or_else(
                    || {
                        if http_kind == HttpKind::OpenAi {
                            "/stressor/confidence".to_owned()
                        } else {
                            "/confidence".to_owned()
                        }
                    },
                    |c| c.get_ref().clone(),
                );
                let timeout = self
                    .duration(m.timeout.as_ref(), &format!("{key}.timeout"), Duration::from_secs(5))
                    .unwrap_or(Duration::from_secs(5));
                ModelPlan::Http(HttpPlan {
                    kind: http_kind,
                    url,
                    model_name: m
                        .model_name
                        .as_ref()
                        .map_or_else(|| "chatbot".to_owned(), |n| n.get_ref().clone()),
                    request,
                    intent,
                    confidence_pointer,
                    decline: m
                        .decline
                        .clone()
                        .unwrap_or_else(|| vec!["oos".to_owned(), "handoff".to_owned()]),
                    timeout,
                })
            }
            other => {
                let span = m.kind.as_ref().map_or(spanned.span(), Spanned::span);
                self.problem(
                    span,
                    &format!("{key}.kind"),
                    format!("unknown chatbot kind `{other}`"),
                    Some("use \"builtin\", \"minilm\", \"openai\" or \"json\"".into()),
                );
                ModelPlan::Builtin(BuiltinPlan::default())
            }
        }
    }

    /// A trained chatbot's `epochs` (at least 1) and `l2` (finite, ≥ 0), when given.
    fn training(&mut self, m: &ModelOptions, key: &str) -> (Option<usize>, Option<f64>) {
        let epochs =
            m.epochs.as_ref().and_then(|e| self.positive(Some(e), &format!("{key}.epochs"), 1));
        let l2 = m.l2.as_ref().and_then(|l| {
            let v = *l.get_ref();
            if v.is_finite() && v >= 0.0 {
                Some(v)
            } else {
                self.problem(l.span(), &format!("{key}.l2"), "must be ≥ 0".into(), None);
                None
            }
        });
        (epochs, l2)
    }

    fn unit(&mut self, value: Option<&Spanned<f64>>, key: &str, default: f64, open: bool) -> f64 {
        match value {
            None => default,
            Some(v) => {
                let x = *v.get_ref();
                let ok = if open { x > 0.0 && x < 1.0 } else { (0.0..=1.0).contains(&x) };
                if ok {
                    x
                } else {
                    let range = if open { "(0, 1)" } else { "[0, 1]" };
                    self.problem(v.span(), key, format!("{x} is outside {range}"), None);
                    default
                }
            }
        }
    }

    fn handoff(&mut self, options: Option<&Spanned<HandoffOptions>>) -> HandoffPlan {
        let Some(h) = options.map(Spanned::get_ref) else {
            return HandoffPlan { alpha: 0.1, delta: 0.1, fixed: vec![0.3], rules: Vec::new() };
        };
        let alpha = self.unit(h.alpha.as_ref(), "chatbot.handoff.alpha", 0.1, true);
        let delta = self.unit(h.delta.as_ref(), "chatbot.handoff.delta", 0.1, true);
        let fixed = match h.fixed.as_ref() {
            None => vec![0.3],
            Some(f) => {
                let mut out = Vec::new();
                for &t in f.get_ref() {
                    if (0.0..=1.0).contains(&t) && !out.contains(&t) {
                        out.push(t);
                    } else {
                        self.problem(
                            f.span(),
                            "chatbot.handoff.fixed",
                            format!("threshold {t} is outside [0, 1] or given twice"),
                            None,
                        );
                    }
                }
                out
            }
        };
        let mut rules = Vec::new();
        for (i, r) in h.rules.iter().enumerate() {
            let r = r.get_ref();
            let keywords: Vec<String> = r
                .keywords
                .get_ref()
                .iter()
                .map(|k| k.trim().to_lowercase())
                .filter(|k| !k.is_empty())
                .collect();
            if keywords.is_empty() {
                self.problem(
                    r.keywords.span(),
                    &format!("chatbot.handoff.rules[{i}].keywords"),
                    "a rule needs at least one keyword".into(),
                    None,
                );
            }
            rules.push(Rule { keywords, intent: r.intent.get_ref().clone() });
        }
        HandoffPlan { alpha, delta, fixed, rules }
    }

    fn utility(&mut self, options: Option<&Spanned<UtilityOptions>>) -> Utility {
        let d = Utility::default();
        let Some(u) = options.map(Spanned::get_ref) else {
            return d;
        };
        let mut value = |v: Option<&Spanned<f64>>, key: &str, default: f64| {
            self.unit(v, &format!("chatbot.utility.{key}"), default, false)
        };
        let out = Utility {
            correct: value(u.correct.as_ref(), "correct", d.correct),
            justified_handoff: value(
                u.justified_handoff.as_ref(),
                "justified_handoff",
                d.justified_handoff,
            ),
            needless_handoff: value(
                u.needless_handoff.as_ref(),
                "needless_handoff",
                d.needless_handoff,
            ),
            wrong: value(u.wrong.as_ref(), "wrong", d.wrong),
            dropped: value(u.dropped.as_ref(), "dropped", d.dropped),
        };
        if out.correct <= out.wrong {
            let span = options.map_or(0..0, Spanned::span);
            self.problem(
                span,
                "chatbot.utility.correct",
                "a right answer must be worth more than a wrong one".into(),
                None,
            );
        }
        out
    }

    fn stress(&mut self, spanned: &Spanned<StressOptions>, key: &str) -> Option<StressPlan> {
        let s = spanned.get_ref();
        let kind_name = s.kind.get_ref().as_str();
        let (kind, dial_name, range) = if let Some((name, dial)) =
            PERTURBATIONS.iter().find(|(name, _)| *name == kind_name)
        {
            (StressKind::Perturbation((*name).to_owned()), *dial, (0.0, 1.0))
        } else if kind_name == "off_topic" {
            (StressKind::OffTopic, "share", (0.0, 0.95))
        } else if kind_name == "word_substitution" {
            let max_changed_share = self.unit(
                s.max_changed_share.as_ref(),
                &format!("{key}.max_changed_share"),
                0.3,
                false,
            );
            let min_similarity =
                self.unit(s.min_similarity.as_ref(), &format!("{key}.min_similarity"), 0.6, false);
            let samples =
                self.positive(s.samples.as_ref(), &format!("{key}.samples"), 200).unwrap_or(200);
            (
                StressKind::WordSubstitution { max_changed_share, min_similarity, samples },
                "queries",
                (0.0, 100_000.0),
            )
        } else {
            let mut names: Vec<&str> = PERTURBATIONS.iter().map(|(n, _)| *n).collect();
            names.extend(["off_topic", "word_substitution"]);
            self.problem(
                s.kind.span(),
                &format!("{key}.kind"),
                format!("unknown stress `{kind_name}`"),
                Some(format!("known: {}", names.join(", "))),
            );
            return None;
        };
        if !matches!(kind, StressKind::WordSubstitution { .. }) {
            let foreign = [
                ("max_changed_share", s.max_changed_share.as_ref().map(Spanned::span)),
                ("min_similarity", s.min_similarity.as_ref().map(Spanned::span)),
                ("samples", s.samples.as_ref().map(Spanned::span)),
            ];
            self.foreign_keys(key, &foreign, |k| format!("`{k}` is for `word_substitution`"));
        }
        let mut dial = self.sweep(&s.sweep, &format!("{key}.sweep"), kind_name, dial_name, range);
        dial.sort_by(f64::total_cmp);
        dial.dedup();
        let id = s.id.as_ref().map_or_else(|| kind_name.to_owned(), |i| i.get_ref().clone());
        Some(StressPlan { id, kind, dial_name: dial_name.to_owned(), dial })
    }

    fn surge(&mut self, spanned: &Spanned<SurgeOptions>) -> SurgePlan {
        let s = spanned.get_ref();
        let positive_f = |p: &mut Self, v: Option<&Spanned<f64>>, key: &str, default: f64| match v {
            None => default,
            Some(x) if x.get_ref().is_finite() && *x.get_ref() > 0.0 => *x.get_ref(),
            Some(x) => {
                p.problem(x.span(), key, "must be a positive number".into(), None);
                default
            }
        };
        let rate = positive_f(self, s.rate.as_ref(), "chatbot.surge.rate", 20.0);
        let multiple = positive_f(self, s.multiple.as_ref(), "chatbot.surge.multiple", 10.0);
        let secs = |p: &mut Self, v: Option<&Spanned<String>>, key: &str, default: u64| {
            p.duration(v, key, Duration::from_secs(default)).unwrap_or(Duration::from_secs(default))
        };
        let before = secs(self, s.before.as_ref(), "chatbot.surge.before", 5);
        let duration = secs(self, s.duration.as_ref(), "chatbot.surge.duration", 5);
        let after = secs(self, s.after.as_ref(), "chatbot.surge.after", 10);
        let timeout = secs(self, s.timeout.as_ref(), "chatbot.surge.timeout", 2);
        let service_time = self
            .duration(
                s.service_time.as_ref(),
                "chatbot.surge.service_time",
                Duration::from_millis(20),
            )
            .unwrap_or(Duration::from_millis(20));
        let total = (before + duration + after).as_secs_f64();
        if total > 600.0 {
            self.problem(
                spanned.span(),
                "chatbot.surge",
                format!("the surge runs {total:.0} s; at most 600 s"),
                None,
            );
        }
        if rate * multiple > 20_000.0 {
            let span = s.multiple.as_ref().map_or(spanned.span(), Spanned::span);
            self.problem(
                span,
                "chatbot.surge.multiple",
                format!("{} requests/s at the peak; at most 20000", rate * multiple),
                None,
            );
        }
        let max_concurrency = self
            .positive(s.max_concurrency.as_ref(), "chatbot.surge.max_concurrency", 2)
            .unwrap_or(2);
        let queue_limit = s.queue_limit.as_ref().map_or(32, |v| *v.get_ref() as usize);
        let connections =
            self.positive(s.connections.as_ref(), "chatbot.surge.connections", 64).unwrap_or(64);
        let off_topic_share = s
            .off_topic_share
            .as_ref()
            .map(|v| self.unit(Some(v), "chatbot.surge.off_topic_share", 0.0, false));
        SurgePlan {
            rate,
            multiple,
            before,
            duration,
            after,
            max_concurrency,
            queue_limit,
            service_time,
            timeout,
            connections,
            off_topic_share,
        }
    }

    fn shadow(&mut self, spanned: &Spanned<ShadowOptions>) -> ShadowPlan {
        let s = spanned.get_ref();
        let candidate = self.model(&s.candidate, "chatbot.shadow.candidate");
        let labelled_share =
            self.unit(s.labelled_share.as_ref(), "chatbot.shadow.labelled_share", 1.0, false);
        let mut promote_if = Vec::new();
        for (i, g) in s.promote_if.iter().enumerate() {
            let g = g.get_ref();
            let key = format!("chatbot.shadow.promote_if[{i}]");
            let metric = g.metric.get_ref();
            if !SHADOW_METRICS.contains(&metric.as_str()) {
                self.problem(
                    g.metric.span(),
                    &format!("{key}.metric"),
                    format!("unknown shadow metric `{metric}`"),
                    Some(format!("known: {}", SHADOW_METRICS.join(", "))),
                );
                continue;
            }
            match (g.min, g.max) {
                (Some(t), None) => promote_if.push(Promotion {
                    metric: metric.clone(),
                    at_least: true,
                    threshold: t,
                }),
                (None, Some(t)) => promote_if.push(Promotion {
                    metric: metric.clone(),
                    at_least: false,
                    threshold: t,
                }),
                _ => self.problem(
                    g.metric.span(),
                    &key,
                    "a promotion gate needs exactly one of `min` and `max`".into(),
                    None,
                ),
            }
        }
        ShadowPlan { candidate, labelled_share, promote_if }
    }
}
