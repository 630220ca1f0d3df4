//! A validated, resolved scenario: no serde, no spans, every value checked.

use std::ops::Range;
use std::path::{Path, PathBuf};

use stressor_core::{Comparison, Gate, GateBound, Seed};
use toml::Spanned;

use crate::error::{Problem, ScenarioError, line_column};
use crate::options::{
    CalibrationOptions, DataOptions, DialValue, GateOptions, InputOptions, MitigationOptions,
    OneOrMany, ScenarioOptions, StepOptions, TargetOptions, TargetedOptions,
};
pub use drift::{DRIFT_METRICS, DriftData, DriftPlan, plan_drift};
pub use stressor_corruption::{Corruption, Lighting};
pub use system::{RecoveryPlan, SYSTEM_METRICS, SystemPlan};

mod drift;
mod http;
mod system;

/// The seed used when a scenario gives none.
pub const DEFAULT_SEED: u64 = 0;
/// The seed the built-in model is trained with when a scenario gives none.
pub const DEFAULT_TRAIN_SEED: u64 = 1;
/// Samples attacked at once when a step gives no `batch_size`.
pub const DEFAULT_BATCH_SIZE: usize = 256;

/// Calibration and uncertainty metrics every point reports (the steady state included).
pub const CALIBRATION_METRICS: &[&str] =
    &["ece", "ece_equal_mass", "max_calibration_error", "brier", "nll", "error_auroc", "aurc"];
/// Metrics every point reports when the calibration split fits temperature scaling.
pub const SCALED_METRICS: &[&str] = &["temperature", "ece_scaled", "nll_scaled", "brier_scaled"];
/// Metrics every point reports when the calibration split fits the conformal threshold.
pub const CONFORMAL_METRICS: &[&str] = &["conformal_coverage", "mean_set_size", "fallback_rate"];
/// Metrics the steady state reports, besides the calibration metrics.
pub const STEADY_STATE_METRICS: &[&str] = &["clean_accuracy"];
/// Metrics every corruption and lighting point reports, besides the calibration metrics.
pub const SHIFT_METRICS: &[&str] = &["clean_accuracy", "accuracy", "accuracy_drop"];
/// Metrics every point of an ensemble target reports (besides `member_accuracy.m<i>`).
pub const ENSEMBLE_METRICS: &[&str] =
    &["best_member_accuracy", "ensemble_gain", "member_disagreement"];
/// The default number of reliability bins.
pub const DEFAULT_BINS: usize = 15;
/// The default conformal miscoverage.
pub const DEFAULT_ALPHA: f64 = 0.1;
/// The default size of the calibration split.
pub const DEFAULT_CALIBRATION_SAMPLES: usize = 500;
/// Metrics every attack point reports.
pub const ATTACK_METRICS: &[&str] = &[
    "clean_accuracy",
    "robust_accuracy",
    "attack_success_rate",
    "perturbation_linf_mean",
    "perturbation_linf_median",
    "perturbation_l2_mean",
    "perturbation_l2_median",
];
/// Metrics black-box attack points report in addition.
pub const QUERY_METRICS: &[&str] = &["queries_per_success_mean", "queries_per_success_median"];

/// A scenario ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The scenario's name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// Where it came from.
    pub source: String,
    /// The root seed.
    pub seed: Seed,
    /// The model.
    pub target: TargetPlan,
    /// The data.
    pub data: DataPlan,
    /// Gates on clean data.
    pub steady_state_gates: Vec<Gate>,
    /// How calibration is measured.
    pub calibration: CalibrationPlan,
    /// The reference model the corruption errors are relative to; the clean error when absent.
    pub baseline: Option<TargetPlan>,
    /// Stress steps, in order.
    pub steps: Vec<StepPlan>,
    /// Mitigations measured on (some of) the same steps, in order.
    pub mitigations: Vec<MitigationPlan>,
    /// The systems run, if any.
    pub system: Option<SystemPlan>,
}

/// A training-time mitigation of the built-in target.
#[derive(Debug, Clone, PartialEq)]
pub struct MitigationPlan {
    /// Its id.
    pub id: String,
    /// How the model is trained.
    pub method: MitigationMethod,
    /// Training epochs.
    pub epochs: usize,
    /// Training images drawn from the built-in training slice; all when absent.
    pub train_samples: Option<usize>,
    /// The ids of the steps measured on the mitigated model, in plan order.
    pub steps: Vec<String>,
    /// Gates on the before/after comparison.
    pub gates: Vec<Gate>,
}

/// How a mitigation trains the model.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MitigationMethod {
    /// PGD adversarial training (L∞).
    AdversarialTraining {
        /// The radius trained against.
        epsilon: f64,
        /// PGD iterations per batch.
        steps: u32,
        /// The step length as a multiple of ε.
        step_size: f64,
        /// The share of each batch replaced by adversarial examples.
        mix: f64,
    },
    /// Training on corrupted copies.
    AugmentedTraining {
        /// The corruptions drawn from.
        corruptions: Vec<Corruption>,
        /// The highest severity drawn.
        max_severity: u8,
        /// The share of each batch corrupted.
        fraction: f64,
    },
}

impl MitigationMethod {
    /// The kind's name in scenario files.
    pub fn name(&self) -> &'static str {
        match self {
            MitigationMethod::AdversarialTraining { .. } => "adversarial-training",
            MitigationMethod::AugmentedTraining { .. } => "augmented-training",
        }
    }

    /// The parameters as (name, value) pairs, for reports and cache keys.
    pub fn parameters(&self) -> Vec<(String, String)> {
        match self {
            MitigationMethod::AdversarialTraining { epsilon, steps, step_size, mix } => vec![
                ("epsilon".into(), fmt_value(*epsilon)),
                ("pgd_steps".into(), steps.to_string()),
                ("step_size".into(), fmt_value(*step_size)),
                ("mix".into(), fmt_value(*mix)),
            ],
            MitigationMethod::AugmentedTraining { corruptions, max_severity, fraction } => vec![
                (
                    "corruptions".into(),
                    corruptions.iter().map(|c| c.name()).collect::<Vec<_>>().join(","),
                ),
                ("max_severity".into(), max_severity.to_string()),
                ("fraction".into(), fmt_value(*fraction)),
            ],
        }
    }
}

/// How an ensemble combines its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnsembleCombine {
    /// The mean of the members' probabilities (differentiable).
    MeanProbability,
    /// One vote per member.
    MajorityVote,
}

/// How calibration and uncertainty are measured.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationPlan {
    /// Reliability-diagram and ECE bins.
    pub bins: usize,
    /// Conformal miscoverage α.
    pub alpha: f64,
    /// Size of the calibration split (0: no temperature scaling, no conformal threshold).
    pub samples: usize,
    /// Whether temperature scaling is fitted and reported.
    pub temperature_scaling: bool,
}

impl Default for CalibrationPlan {
    fn default() -> Self {
        CalibrationPlan {
            bins: DEFAULT_BINS,
            alpha: DEFAULT_ALPHA,
            samples: DEFAULT_CALIBRATION_SAMPLES,
            temperature_scaling: true,
        }
    }
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

/// The layout of an array of images in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrayLayout {
    /// Channels first.
    Nchw,
    /// Channels last.
    Nhwc,
}

/// How stored values map to [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueScale {
    /// Bytes are divided by 255; floats must lie in [0, 1].
    Auto,
    /// Values already lie in [0, 1].
    Unit,
    /// Values lie in [0, 255].
    Byte,
}

/// Where the data comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct DataPlan {
    /// The source.
    pub source: DataSource,
    /// How many samples to draw; all when `None`.
    pub samples: Option<usize>,
}

/// The data sources.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum DataSource {
    /// The embedded Fashion-MNIST.
    FashionMnist {
        /// `true` for the test split.
        test_split: bool,
    },
    /// IDX files.
    Idx {
        /// Images file.
        images: PathBuf,
        /// Labels file.
        labels: PathBuf,
        /// Class names, when given.
        class_names: Option<Vec<String>>,
    },
    /// The 20 real CIFAR-10 test images shipped with stressor.
    Cifar10Samples,
    /// CIFAR-10 binary batch files.
    Cifar10 {
        /// The batch files.
        files: Vec<PathBuf>,
        /// Class names, when given.
        class_names: Option<Vec<String>>,
    },
    /// A pair of NPY files.
    Npy {
        /// Images file.
        images: PathBuf,
        /// Labels file.
        labels: PathBuf,
        /// Their layout.
        layout: ArrayLayout,
        /// Their scale.
        scale: ValueScale,
        /// Class names, when given.
        class_names: Option<Vec<String>>,
    },
    /// An NPZ archive.
    Npz {
        /// The archive.
        path: PathBuf,
        /// The images array's name.
        images_key: String,
        /// The labels array's name.
        labels_key: String,
        /// The layout.
        layout: ArrayLayout,
        /// The scale.
        scale: ValueScale,
        /// Class names, when given.
        class_names: Option<Vec<String>>,
    },
    /// One folder per class of PNG/JPEG files.
    Folder {
        /// The root folder.
        path: PathBuf,
        /// 1 or 3.
        channels: u8,
        /// Resize to `(height, width)`.
        size: Option<(u32, u32)>,
    },
    /// A CSV file of numeric features and a label column.
    Csv {
        /// The file.
        path: PathBuf,
        /// `first`, `last` or a header name.
        label_column: String,
        /// The shape of one sample.
        shape: Option<Vec<usize>>,
        /// The scale.
        scale: ValueScale,
        /// Whether there is a header row; detected when `None`.
        header: Option<bool>,
    },
}

/// One stress step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepPlan {
    /// Its id.
    pub id: String,
    /// What it does.
    pub stress: Stress,
    /// The dial's name (`epsilon`).
    pub dial_name: String,
    /// The dial values, in sweep order.
    pub dial_values: Vec<f64>,
    /// Samples processed at once.
    pub batch_size: usize,
    /// Gates on the step's results.
    pub gates: Vec<Gate>,
}

/// The kinds of stress.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Stress {
    /// An adversarial attack.
    Attack(AttackPlan),
    /// A corruption, swept over severity 1–5.
    Corruption(Corruption),
    /// A lighting shift, swept over its physical dial.
    Lighting(Lighting),
}

impl StepPlan {
    /// A one-line description (`PGD L∞, 10 steps, 1 restart`).
    pub fn description(&self) -> String {
        match &self.stress {
            Stress::Attack(attack) => attack.description(),
            Stress::Corruption(corruption) => format!("corruption {}", corruption.name()),
            Stress::Lighting(lighting) => format!("lighting {}", lighting.name()),
        }
    }

    /// The attack, when the step is one.
    pub fn attack(&self) -> Option<&AttackPlan> {
        match &self.stress {
            Stress::Attack(attack) => Some(attack),
            _ => None,
        }
    }
}

/// The attacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttackKind {
    /// Fast gradient sign method.
    Fgsm,
    /// Projected gradient descent.
    Pgd,
    /// Auto-PGD with cross-entropy loss.
    ApgdCe,
    /// Square attack (black-box, score-based).
    Square,
    /// HopSkipJump (black-box, decision-based: labels only; minimum-norm).
    HopSkipJump,
}

impl AttackKind {
    fn parse(name: &str) -> Option<AttackKind> {
        match name {
            "fgsm" => Some(AttackKind::Fgsm),
            "pgd" => Some(AttackKind::Pgd),
            "apgd-ce" | "apgd" => Some(AttackKind::ApgdCe),
            "square" => Some(AttackKind::Square),
            "hopskipjump" | "hsj" => Some(AttackKind::HopSkipJump),
            _ => None,
        }
    }

    /// The name used in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            AttackKind::Fgsm => "fgsm",
            AttackKind::Pgd => "pgd",
            AttackKind::ApgdCe => "apgd-ce",
            AttackKind::Square => "square",
            AttackKind::HopSkipJump => "hopskipjump",
        }
    }

    /// Whether the attack needs input gradients.
    pub fn is_white_box(self) -> bool {
        !matches!(self, AttackKind::Square | AttackKind::HopSkipJump)
    }
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

impl Plan {
    /// Every environment variable the plan's header values refer to, for the caller to read
    /// (the engine never reads the environment).
    pub fn env_vars(&self) -> Vec<String> {
        let mut names = Vec::new();
        let mut visit = |target: &TargetPlan| {
            let mut stack = vec![target];
            while let Some(t) = stack.pop() {
                match t {
                    TargetPlan::Http { transport, .. } | TargetPlan::Json { transport, .. } => {
                        names.extend(transport.env_vars());
                    }
                    TargetPlan::Ensemble { members, .. } => stack.extend(members.iter()),
                    _ => {}
                }
            }
        };
        visit(&self.target);
        if let Some(baseline) = &self.baseline {
            visit(baseline);
        }
        names.sort();
        names.dedup();
        names
    }
}

/// The perturbation norms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormKind {
    /// L∞.
    Linf,
    /// L2.
    L2,
}

/// How targets are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetRule {
    /// A uniformly random class other than the true one (seeded).
    Random,
    /// The class the model finds least likely on the clean input.
    LeastLikely,
    /// One fixed class (samples of that class are skipped).
    Class(u32),
}

/// A resolved attack.
#[derive(Debug, Clone, PartialEq)]
pub struct AttackPlan {
    /// Which attack.
    pub kind: AttackKind,
    /// The norm.
    pub norm: NormKind,
    /// Iterations.
    pub steps: u32,
    /// Step size relative to ε (PGD).
    pub step_size: f64,
    /// Restarts.
    pub restarts: u32,
    /// Random start (PGD).
    pub random_start: bool,
    /// Query budget per sample (Square).
    pub queries: u64,
    /// Initial fraction (Square).
    pub p_init: f64,
    /// Targeted, and how; untargeted when `None`.
    pub targeted: Option<TargetRule>,
}

impl AttackPlan {
    fn description(&self) -> String {
        let norm = match self.norm {
            NormKind::Linf => "L∞",
            NormKind::L2 => "L2",
        };
        let goal = match self.targeted {
            None => String::new(),
            Some(TargetRule::Random) => ", targeted (random)".into(),
            Some(TargetRule::LeastLikely) => ", targeted (least likely)".into(),
            Some(TargetRule::Class(c)) => format!(", targeted (class {c})"),
        };
        match self.kind {
            AttackKind::Fgsm => format!("FGSM {norm}{goal}"),
            AttackKind::Pgd => format!(
                "PGD {norm}, {} steps, step {}·ε, {} restart(s){}{goal}",
                self.steps,
                self.step_size,
                self.restarts,
                if self.random_start { ", random start" } else { "" }
            ),
            AttackKind::ApgdCe => {
                format!("APGD-CE {norm}, {} steps, {} restart(s){goal}", self.steps, self.restarts)
            }
            AttackKind::Square => {
                format!(
                    "Square {norm} (black-box), {} queries, p_init {}{goal}",
                    self.queries, self.p_init
                )
            }
            AttackKind::HopSkipJump => format!(
                "HopSkipJump {norm} (decision-based), {} queries, {} iterations{goal}",
                self.queries, self.steps
            ),
        }
    }
}

/// Reads and plans the scenario at `path`.
///
/// # Errors
/// [`ScenarioError`] naming the file, line, column and key of every problem.
pub fn load(path: &Path) -> Result<Plan, ScenarioError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ScenarioError::Read { path: path.to_path_buf(), source })?;
    plan(&text, path)
}

/// Plans scenario `text`; `path` names it in errors and anchors relative paths.
///
/// # Errors
/// [`ScenarioError::Parse`] for TOML or format errors, [`ScenarioError::Invalid`] listing every
/// invalid value.
pub fn plan(text: &str, path: &Path) -> Result<Plan, ScenarioError> {
    let options: ScenarioOptions = parse(text, path)?;
    let mut planner = Planner { text, path, problems: Vec::new(), ensemble: false };
    let plan = planner.plan(options);
    if planner.problems.is_empty() {
        Ok(plan)
    } else {
        Err(ScenarioError::Invalid { path: path.to_path_buf(), problems: planner.problems })
    }
}

/// `text` deserialised, or the TOML or format error with its line and column.
fn parse<T: serde::de::DeserializeOwned>(text: &str, path: &Path) -> Result<T, ScenarioError> {
    toml::from_str(text).map_err(|error| {
        let (line, column) = error.span().map_or((1, 1), |span| line_column(text, span.start));
        ScenarioError::Parse {
            path: path.to_path_buf(),
            line,
            column,
            message: error.message().trim().to_string(),
        }
    })
}

struct Planner<'a> {
    text: &'a str,
    path: &'a Path,
    problems: Vec<Problem>,
    /// Whether the target is an ensemble, whose points report the member metrics too.
    ensemble: bool,
}

impl Planner<'_> {
    fn problem(&mut self, span: Range<usize>, key: &str, message: String, hint: Option<String>) {
        let (line, column) = line_column(self.text, span.start);
        self.problems.push(Problem {
            path: self.path.to_path_buf(),
            line,
            column,
            key: key.to_string(),
            message,
            hint,
        });
    }

    fn relative(&self, file: &str) -> PathBuf {
        let file = Path::new(file);
        if file.is_absolute() {
            return file.to_path_buf();
        }
        self.path.parent().map_or_else(|| file.to_path_buf(), |dir| dir.join(file))
    }

    fn plan(&mut self, options: ScenarioOptions) -> Plan {
        let target = self.target(&options.target, "target");
        self.ensemble = matches!(target, TargetPlan::Ensemble { .. });
        let baseline = options.baseline.as_ref().map(|b| self.target(b, "baseline"));
        let data = self.data(&options.data);
        let calibration = self.calibration(options.calibration.as_ref());
        let steady_state_gates = match &options.steady_state {
            Some(steady) => steady
                .gates
                .iter()
                .enumerate()
                .filter_map(|(i, gate)| {
                    self.gate(
                        gate,
                        "steady-state",
                        &format!("steady_state.gates[{i}]"),
                        STEADY_STATE_METRICS,
                        &self.point_extra(&calibration),
                    )
                })
                .collect(),
            None => Vec::new(),
        };
        let mut steps: Vec<StepPlan> = Vec::new();
        for step in &options.steps {
            for planned in self.step(step, &calibration) {
                if steps.iter().any(|s| s.id == planned.id) || planned.id == "steady-state" {
                    let id = planned.id.clone();
                    self.problem(
                        step.span(),
                        &format!("steps.{id}.id"),
                        format!("step id `{id}` is used twice (or is reserved)"),
                        Some("give every step a unique id".into()),
                    );
                }
                steps.push(planned);
            }
        }
        let mut mitigations: Vec<MitigationPlan> = Vec::new();
        for spanned in &options.mitigations {
            if let Some(planned) = self.mitigation(spanned, &target, &steps, &calibration) {
                if mitigations.iter().any(|m| m.id == planned.id)
                    || steps.iter().any(|s| s.id == planned.id)
                    || planned.id == "steady-state"
                {
                    self.problem(
                        spanned.span(),
                        &format!("mitigations.{}.id", planned.id),
                        format!("id `{}` is already a step's or mitigation's", planned.id),
                        Some("give every step and mitigation a unique id".into()),
                    );
                }
                mitigations.push(planned);
            }
        }
        let system =
            options.system.as_ref().and_then(|system| self.system(system, &target, &steps));
        Plan {
            name: options.name,
            description: options.description,
            source: self.path.display().to_string(),
            seed: Seed::new(options.seed.unwrap_or(DEFAULT_SEED)),
            target,
            data,
            steady_state_gates,
            calibration,
            baseline,
            system,
            steps,
            mitigations,
        }
    }

    /// The metrics every point reports besides its kind's own.
    fn point_extra(&self, calibration: &CalibrationPlan) -> Vec<&'static str> {
        let mut extra = calibration_metrics(calibration);
        if self.ensemble {
            extra.extend_from_slice(ENSEMBLE_METRICS);
        }
        extra
    }

    fn mitigation(
        &mut self,
        spanned: &Spanned<MitigationOptions>,
        target: &TargetPlan,
        steps: &[StepPlan],
        calibration: &CalibrationPlan,
    ) -> Option<MitigationPlan> {
        let options = spanned.get_ref();
        let id = options.id.clone();
        let key = |name: &str| format!("mitigations.{id}.{name}");
        if !matches!(target, TargetPlan::Builtin { .. }) {
            self.problem(
                options.kind.span(),
                &key("kind"),
                "mitigations retrain the built-in model, but the target is not `kind = \"builtin\"`"
                    .into(),
                Some("measure your own model's mitigation as a separate target".into()),
            );
            return None;
        }
        let kind = options.kind.get_ref().as_str();
        let adversarial_keys = [
            ("epsilon", options.epsilon.as_ref().map(Spanned::span)),
            ("pgd_steps", options.pgd_steps.as_ref().map(Spanned::span)),
            ("step_size", options.step_size.as_ref().map(Spanned::span)),
            ("mix", options.mix.as_ref().map(Spanned::span)),
        ];
        let augmented_keys = [
            ("corruptions", options.corruptions.as_ref().map(Spanned::span)),
            ("max_severity", options.max_severity.as_ref().map(Spanned::span)),
            ("fraction", options.fraction.as_ref().map(Spanned::span)),
        ];
        let foreign: &[(&str, Option<Range<usize>>)] = match kind {
            "adversarial-training" => &augmented_keys,
            "augmented-training" => &adversarial_keys,
            other => {
                self.problem(
                    options.kind.span(),
                    &key("kind"),
                    format!("unknown mitigation `{other}`"),
                    Some("known mitigations: adversarial-training, augmented-training (temperature scaling is reported at every point as *_scaled)".into()),
                );
                return None;
            }
        };
        self.foreign_keys(&format!("mitigations.{id}"), foreign, |name| {
            format!("`{name}` does not apply to `kind = \"{kind}\"`")
        });
        let fraction =
            |this: &mut Self, value: Option<&Spanned<f64>>, name: &str, default| match value {
                Some(v) if (0.0..=1.0).contains(v.get_ref()) => *v.get_ref(),
                Some(v) => {
                    this.problem(
                        v.span(),
                        &key(name),
                        format!("must be in [0, 1], got {}", v.get_ref()),
                        None,
                    );
                    default
                }
                None => default,
            };
        let method = if kind == "adversarial-training" {
            let epsilon = match &options.epsilon {
                Some(e) => match e.get_ref().to_f64() {
                    Some(v) if v.is_finite() && (0.0..=1.0).contains(&v) => v,
                    _ => {
                        self.problem(
                            e.span(),
                            &key("epsilon"),
                            format!("`{:?}` is not an L∞ radius in [0, 1]", e.get_ref()),
                            Some("a number or a fraction like \"8/255\"".into()),
                        );
                        0.1
                    }
                },
                None => {
                    self.problem(
                        options.kind.span(),
                        &key("epsilon"),
                        "adversarial training needs `epsilon`, the L∞ radius it trains against"
                            .into(),
                        Some("epsilon = 0.1".into()),
                    );
                    0.1
                }
            };
            let steps = match &options.pgd_steps {
                Some(n) if *n.get_ref() == 0 || *n.get_ref() > 100 => {
                    self.problem(n.span(), &key("pgd_steps"), "must be 1–100".into(), None);
                    3
                }
                Some(n) => *n.get_ref(),
                None => 3,
            };
            let step_size = match &options.step_size {
                Some(v) if !(v.get_ref().is_finite() && *v.get_ref() > 0.0) => {
                    self.problem(
                        v.span(),
                        &key("step_size"),
                        "must be a positive multiple of ε".into(),
                        None,
                    );
                    0.5
                }
                Some(v) => *v.get_ref(),
                None => 0.5,
            };
            let mix = fraction(self, options.mix.as_ref(), "mix", 1.0);
            MitigationMethod::AdversarialTraining { epsilon, steps, step_size, mix }
        } else {
            let corruptions = match &options.corruptions {
                Some(names) => self.corruption_names(names, &key("corruptions")),
                None => {
                    self.problem(
                        options.kind.span(),
                        &key("corruptions"),
                        "augmented training needs `corruptions` to train on".into(),
                        Some(known_corruptions()),
                    );
                    Vec::new()
                }
            };
            let max_severity = match &options.max_severity {
                Some(v) if (1..=5).contains(v.get_ref()) => *v.get_ref() as u8,
                Some(v) => {
                    self.problem(v.span(), &key("max_severity"), "must be 1–5".into(), None);
                    5
                }
                None => 5,
            };
            let fraction = fraction(self, options.fraction.as_ref(), "fraction", 0.5);
            MitigationMethod::AugmentedTraining { corruptions, max_severity, fraction }
        };
        let epochs = match &options.epochs {
            Some(e) if *e.get_ref() == 0 || *e.get_ref() > 100 => {
                self.problem(e.span(), &key("epochs"), "must be 1–100".into(), None);
                2
            }
            Some(e) => *e.get_ref() as usize,
            None => 2,
        };
        let train_samples = match &options.train_samples {
            Some(n) if *n.get_ref() < 10 => {
                self.problem(n.span(), &key("train_samples"), "must be at least 10".into(), None);
                None
            }
            Some(n) => Some(usize::try_from(*n.get_ref()).unwrap_or(usize::MAX)),
            None => None,
        };
        let measured: Vec<String> = match &options.measure {
            None => steps.iter().map(|s| s.id.clone()).collect(),
            Some(ids) => {
                let mut measured = Vec::new();
                for wanted in ids.get_ref() {
                    let matches: Vec<&StepPlan> = steps
                        .iter()
                        .filter(|s| s.id == *wanted || s.id.starts_with(&format!("{wanted}.")))
                        .collect();
                    if matches.is_empty() {
                        let known: Vec<&str> = steps.iter().map(|s| s.id.as_str()).collect();
                        self.problem(
                            ids.span(),
                            &key("measure"),
                            format!("no step has id `{wanted}`"),
                            Some(format!("steps: {}", known.join(", "))),
                        );
                    }
                    measured.extend(matches.into_iter().map(|s| s.id.clone()));
                }
                // Plan order, each once.
                steps.iter().map(|s| s.id.clone()).filter(|s| measured.contains(s)).collect()
            }
        };
        let measured_steps: Vec<&StepPlan> =
            steps.iter().filter(|s| measured.contains(&s.id)).collect();
        let rows = comparison_rows(&measured_steps, calibration);
        let names: Vec<String> = COMPARISON_COLUMNS
            .iter()
            .flat_map(|column| rows.iter().map(move |row| format!("{column}:{row}")))
            .collect();
        let known: Vec<&str> = names.iter().map(String::as_str).collect();
        let gates = options
            .gates
            .iter()
            .enumerate()
            .filter_map(|(i, gate)| {
                if let Some(at) = &gate.get_ref().at {
                    self.problem(
                        at.span(),
                        &key(&format!("gates[{i}].at")),
                        "a mitigation's metrics name their dial value; `at` does not apply".into(),
                        Some("metric = \"after:robust_accuracy.pgd@0.1\"".into()),
                    );
                }
                self.gate(gate, &id, &key(&format!("gates[{i}]")), &known, &[])
            })
            .collect();
        Some(MitigationPlan { id, method, epochs, train_samples, steps: measured, gates })
    }

    fn calibration(&mut self, options: Option<&Spanned<CalibrationOptions>>) -> CalibrationPlan {
        let mut plan = CalibrationPlan::default();
        let Some(options) = options.map(Spanned::get_ref) else { return plan };
        if let Some(bins) = &options.bins {
            match usize::try_from(*bins.get_ref()) {
                Ok(b @ 2..=1000) => plan.bins = b,
                _ => self.problem(
                    bins.span(),
                    "calibration.bins",
                    "must be between 2 and 1000".into(),
                    None,
                ),
            }
        }
        if let Some(alpha) = &options.alpha {
            let a = *alpha.get_ref();
            if a > 0.0 && a < 1.0 {
                plan.alpha = a;
            } else {
                self.problem(
                    alpha.span(),
                    "calibration.alpha",
                    format!("must be in (0, 1), got {a}"),
                    Some("alpha = 0.1 asks for 90 % coverage".into()),
                );
            }
        }
        if let Some(samples) = &options.samples {
            plan.samples = usize::try_from(*samples.get_ref()).unwrap_or(usize::MAX);
        }
        if let Some(scaling) = options.temperature_scaling {
            plan.temperature_scaling = scaling;
        }
        plan
    }

    fn target(&mut self, options: &TargetOptions, section: &str) -> TargetPlan {
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

    fn data(&mut self, options: &DataOptions) -> DataPlan {
        let samples = options.samples.as_ref().and_then(|samples| {
            if *samples.get_ref() == 0 {
                self.problem(samples.span(), "data.samples", "must be at least 1".into(), None);
                None
            } else {
                usize::try_from(*samples.get_ref()).ok()
            }
        });
        let source = options.source.get_ref().as_str();
        const SOURCES: &str = "builtin, idx, cifar10, npy, npz, folder, csv";
        // Which keys each source takes; every other given key is a problem.
        let takes: &[&str] = match source {
            "builtin" => &["dataset", "split"],
            "idx" => &["images", "labels", "class_names"],
            "cifar10" => &["files", "class_names"],
            "npy" => &["images", "labels", "layout", "scale", "class_names"],
            "npz" => &["path", "images_key", "labels_key", "layout", "scale", "class_names"],
            "folder" => &["path", "channels", "size"],
            "csv" => &["path", "label_column", "shape", "scale", "header"],
            other => {
                self.problem(
                    options.source.span(),
                    "data.source",
                    format!("unknown data source `{other}`"),
                    Some(format!("known sources: {SOURCES}")),
                );
                return DataPlan { source: DataSource::FashionMnist { test_split: true }, samples };
            }
        };
        let span_or_source = |span: Option<Range<usize>>| span.unwrap_or(options.source.span());
        let given: [(&str, Option<Range<usize>>, bool); 16] = [
            ("dataset", options.dataset.as_ref().map(Spanned::span), options.dataset.is_some()),
            ("split", options.split.as_ref().map(Spanned::span), options.split.is_some()),
            ("images", options.images.as_ref().map(Spanned::span), options.images.is_some()),
            ("labels", options.labels.as_ref().map(Spanned::span), options.labels.is_some()),
            ("files", options.files.as_ref().map(Spanned::span), options.files.is_some()),
            ("path", options.path.as_ref().map(Spanned::span), options.path.is_some()),
            ("images_key", None, options.images_key.is_some()),
            ("labels_key", None, options.labels_key.is_some()),
            ("layout", options.layout.as_ref().map(Spanned::span), options.layout.is_some()),
            ("scale", options.scale.as_ref().map(Spanned::span), options.scale.is_some()),
            ("channels", options.channels.as_ref().map(Spanned::span), options.channels.is_some()),
            ("size", options.size.as_ref().map(Spanned::span), options.size.is_some()),
            ("label_column", None, options.label_column.is_some()),
            ("shape", options.shape.as_ref().map(Spanned::span), options.shape.is_some()),
            ("header", None, options.header.is_some()),
            ("class_names", None, options.class_names.is_some()),
        ];
        for (key, span, present) in given {
            if present && !takes.contains(&key) {
                self.problem(
                    span_or_source(span),
                    &format!("data.{key}"),
                    format!("`{key}` does not apply to `source = \"{source}\"`"),
                    Some(format!("`source = \"{source}\"` takes: {}", takes.join(", "))),
                );
            }
        }
        let mut file = |key: &str, value: &Option<Spanned<String>>| match value {
            Some(value) => self.relative(value.get_ref()),
            None => {
                self.problem(
                    options.source.span(),
                    &format!("data.{key}"),
                    format!("`source = \"{source}\"` needs `{key}`"),
                    None,
                );
                PathBuf::new()
            }
        };
        let class_names = options.class_names.clone();
        let source = match source {
            "builtin" => {
                let dataset = options.dataset.as_ref().map(|d| (d.get_ref().as_str(), d.span()));
                match dataset {
                    None | Some(("fashion-mnist", _)) => {
                        let test_split = match options
                            .split
                            .as_ref()
                            .map(|s| (s.get_ref().as_str(), s.span()))
                        {
                            None | Some(("test", _)) => true,
                            Some(("train", _)) => false,
                            Some((other, span)) => {
                                self.problem(
                                    span,
                                    "data.split",
                                    format!("unknown split `{other}`"),
                                    Some("use `test` or `train`".into()),
                                );
                                true
                            }
                        };
                        DataSource::FashionMnist { test_split }
                    }
                    Some(("cifar10-samples", _)) => {
                        if let Some(split) = &options.split {
                            self.problem(
                                split.span(),
                                "data.split",
                                "`cifar10-samples` has one split".into(),
                                None,
                            );
                        }
                        DataSource::Cifar10Samples
                    }
                    Some((other, span)) => {
                        self.problem(
                            span,
                            "data.dataset",
                            format!("unknown built-in data set `{other}`"),
                            Some("known data sets: fashion-mnist, cifar10-samples".into()),
                        );
                        DataSource::FashionMnist { test_split: true }
                    }
                }
            }
            "idx" => {
                let images = file("images", &options.images);
                let labels = file("labels", &options.labels);
                DataSource::Idx { images, labels, class_names }
            }
            "cifar10" => {
                let files = match &options.files {
                    Some(files) if !files.get_ref().is_empty() => {
                        files.get_ref().iter().map(|f| self.relative(f)).collect()
                    }
                    Some(files) => {
                        self.problem(files.span(), "data.files", "the list is empty".into(), None);
                        Vec::new()
                    }
                    None => {
                        self.problem(
                            options.source.span(),
                            "data.files",
                            "`source = \"cifar10\"` needs `files`".into(),
                            Some("files = [\"cifar-10-batches-bin/test_batch.bin\"]".into()),
                        );
                        Vec::new()
                    }
                };
                DataSource::Cifar10 { files, class_names }
            }
            "npy" => {
                let images = file("images", &options.images);
                let labels = file("labels", &options.labels);
                let layout = self.layout(options.layout.as_ref());
                let scale = self.scale(options.scale.as_ref());
                DataSource::Npy { images, labels, layout, scale, class_names }
            }
            "npz" => {
                let path = file("path", &options.path);
                let layout = self.layout(options.layout.as_ref());
                let scale = self.scale(options.scale.as_ref());
                DataSource::Npz {
                    path,
                    images_key: options.images_key.clone().unwrap_or_else(|| "images".into()),
                    labels_key: options.labels_key.clone().unwrap_or_else(|| "labels".into()),
                    layout,
                    scale,
                    class_names,
                }
            }
            "folder" => {
                let path = file("path", &options.path);
                let channels = match &options.channels {
                    None => 3,
                    Some(c) if matches!(c.get_ref(), 1 | 3) => *c.get_ref(),
                    Some(c) => {
                        self.problem(c.span(), "data.channels", "must be 1 or 3".into(), None);
                        3
                    }
                };
                let size = match options.size.as_ref().map(|s| (s.get_ref().as_slice(), s.span())) {
                    None => None,
                    Some((&[h, w], _)) if h > 0 && w > 0 && h <= 4096 && w <= 4096 => Some((h, w)),
                    Some((_, span)) => {
                        self.problem(
                            span,
                            "data.size",
                            "must be [height, width], each 1 to 4096".into(),
                            None,
                        );
                        None
                    }
                };
                DataSource::Folder { path, channels, size }
            }
            _ => {
                let path = file("path", &options.path);
                let scale = self.scale(options.scale.as_ref());
                let shape = options.shape.as_ref().map(|s| s.get_ref().clone());
                if let Some(shape) = &options.shape
                    && (shape.get_ref().is_empty() || shape.get_ref().contains(&0))
                {
                    self.problem(
                        shape.span(),
                        "data.shape",
                        "every dimension must be at least 1".into(),
                        None,
                    );
                }
                DataSource::Csv {
                    path,
                    label_column: options.label_column.clone().unwrap_or_else(|| "last".into()),
                    shape,
                    scale,
                    header: options.header,
                }
            }
        };
        DataPlan { source, samples }
    }

    fn layout(&mut self, layout: Option<&Spanned<String>>) -> ArrayLayout {
        match layout.map(|l| (l.get_ref().as_str(), l.span())) {
            None | Some(("nchw", _)) => ArrayLayout::Nchw,
            Some(("nhwc", _)) => ArrayLayout::Nhwc,
            Some((other, span)) => {
                self.problem(
                    span,
                    "data.layout",
                    format!("unknown layout `{other}`"),
                    Some("use nchw or nhwc".into()),
                );
                ArrayLayout::Nchw
            }
        }
    }

    fn scale(&mut self, scale: Option<&Spanned<String>>) -> ValueScale {
        match scale.map(|s| (s.get_ref().as_str(), s.span())) {
            None | Some(("auto", _)) => ValueScale::Auto,
            Some(("unit", _)) => ValueScale::Unit,
            Some(("byte", _)) => ValueScale::Byte,
            Some((other, span)) => {
                self.problem(
                    span,
                    "data.scale",
                    format!("unknown scale `{other}`"),
                    Some("use auto, unit or byte".into()),
                );
                ValueScale::Auto
            }
        }
    }

    fn step(
        &mut self,
        spanned: &Spanned<StepOptions>,
        calibration: &CalibrationPlan,
    ) -> Vec<StepPlan> {
        let options = spanned.get_ref();
        let id = options.id.clone();
        let key = |name: &str| format!("steps.{id}.{name}");
        let kind = options.kind.get_ref().as_str();
        if !["attack", "corruption", "lighting"].contains(&kind) {
            self.problem(
                options.kind.span(),
                &key("kind"),
                format!("unknown step kind `{kind}`"),
                Some("known kinds: attack, corruption, lighting".into()),
            );
            return Vec::new();
        }
        self.keys_for_kind(options, &id, kind);
        let batch_size = match &options.batch_size {
            Some(size) if *size.get_ref() == 0 => {
                self.problem(size.span(), &key("batch_size"), "must be at least 1".into(), None);
                DEFAULT_BATCH_SIZE
            }
            Some(size) => usize::try_from(*size.get_ref()).unwrap_or(DEFAULT_BATCH_SIZE),
            None => DEFAULT_BATCH_SIZE,
        };
        let calibration_extra = self.point_extra(calibration);
        let (stresses, dial, range, metrics, extra): StepShape<'_> = match kind {
            "attack" => {
                let Some(attack) = self.attack(options, &id) else { return Vec::new() };
                let max = match attack.norm {
                    NormKind::Linf => 1.0,
                    NormKind::L2 => 1000.0,
                };
                let mut extra = calibration_extra.clone();
                if !attack.kind.is_white_box() {
                    extra.extend_from_slice(QUERY_METRICS);
                }
                (
                    vec![(id.clone(), Stress::Attack(attack))],
                    "epsilon",
                    (0.0, max),
                    ATTACK_METRICS,
                    extra,
                )
            }
            "corruption" => {
                let corruptions = self.corruptions(options, &id);
                if corruptions.is_empty() {
                    return Vec::new();
                }
                let expand = corruptions.len() > 1
                    || matches!(
                        options.corruption.as_ref().map(Spanned::get_ref),
                        Some(OneOrMany::Many(_))
                    )
                    || matches!(options.corruption.as_ref().map(Spanned::get_ref), Some(OneOrMany::One(name)) if name == "all");
                let stresses = corruptions
                    .into_iter()
                    .map(|c| {
                        let step_id =
                            if expand { format!("{id}.{}", c.name()) } else { id.clone() };
                        (step_id, Stress::Corruption(c))
                    })
                    .collect();
                (stresses, "severity", (1.0, 5.0), SHIFT_METRICS, calibration_extra.clone())
            }
            _ => {
                let Some(lighting) = self.lighting(options, &id) else { return Vec::new() };
                (
                    vec![(id.clone(), Stress::Lighting(lighting))],
                    lighting.dial(),
                    lighting.valid_range(),
                    SHIFT_METRICS,
                    calibration_extra.clone(),
                )
            }
        };
        let dial_values = self.sweep(options, &id, kind, dial, range);
        if kind == "corruption" {
            for value in &dial_values {
                if value.fract() != 0.0 {
                    self.problem(
                        options.sweep.span(),
                        &format!("steps.{id}.sweep.severity"),
                        format!("severity {value} is not a whole number"),
                        Some("severities are 1, 2, 3, 4 and 5".into()),
                    );
                    break;
                }
            }
        }
        let mut planned = Vec::with_capacity(stresses.len());
        for (step_id, stress) in stresses {
            let gates = options
                .gates
                .iter()
                .enumerate()
                .filter_map(|(i, gate)| {
                    let gate =
                        self.gate(gate, &step_id, &key(&format!("gates[{i}]")), metrics, &extra)?;
                    if let Some(at) = gate.at
                        && !dial_values.iter().any(|v| same_dial(*v, at))
                    {
                        let span = options.gates[i]
                            .get_ref()
                            .at
                            .as_ref()
                            .map_or(options.gates[i].span(), |a| a.span());
                        self.problem(
                            span,
                            &key(&format!("gates[{i}].at")),
                            format!("{at} is not one of the swept values"),
                            Some(format!("swept values: {}", fmt_values(&dial_values))),
                        );
                    }
                    Some(gate)
                })
                .collect();
            planned.push(StepPlan {
                id: step_id,
                stress,
                dial_name: dial.into(),
                dial_values: dial_values.clone(),
                batch_size,
                gates,
            });
        }
        planned
    }

    /// Reports every key of `keys` that was given (has a span) as not belonging here, under
    /// `<section>.<key>` with `message(key)`.
    fn foreign_keys(
        &mut self,
        section: &str,
        keys: &[(&str, Option<Range<usize>>)],
        message: impl Fn(&str) -> String,
    ) {
        for (key, span) in keys {
            if let Some(span) = span {
                self.problem(span.clone(), &format!("{section}.{key}"), message(key), None);
            }
        }
    }

    /// Reports keys given for another kind of step.
    fn keys_for_kind(&mut self, options: &StepOptions, id: &str, kind: &str) {
        let attack_keys: [(&str, Option<Range<usize>>); 9] = [
            ("attack", options.attack.as_ref().map(Spanned::span)),
            ("norm", options.norm.as_ref().map(Spanned::span)),
            ("steps", options.steps.as_ref().map(Spanned::span)),
            ("restarts", options.restarts.as_ref().map(Spanned::span)),
            ("step_size", options.step_size.as_ref().map(Spanned::span)),
            ("random_start", options.random_start.as_ref().map(Spanned::span)),
            ("queries", options.queries.as_ref().map(Spanned::span)),
            ("p_init", options.p_init.as_ref().map(Spanned::span)),
            ("targeted", options.targeted.as_ref().map(Spanned::span)),
        ];
        let others: [(&str, &str, Option<Range<usize>>); 2] = [
            ("corruption", "corruption", options.corruption.as_ref().map(Spanned::span)),
            ("lighting", "lighting", options.lighting.as_ref().map(Spanned::span)),
        ];
        if kind != "attack" {
            self.foreign_keys(&format!("steps.{id}"), &attack_keys, |param| {
                format!("`{param}` does not apply to a {kind} step")
            });
        }
        for (param, owner, span) in others {
            if let Some(span) = span
                && owner != kind
            {
                self.problem(
                    span,
                    &format!("steps.{id}.{param}"),
                    format!("`{param}` does not apply to a {kind} step"),
                    Some(format!("`{param}` belongs to `kind = \"{owner}\"`")),
                );
            }
        }
    }

    fn corruptions(&mut self, options: &StepOptions, id: &str) -> Vec<Corruption> {
        let key = format!("steps.{id}.corruption");
        let Some(spanned) = &options.corruption else {
            self.problem(
                options.kind.span(),
                &key,
                "a corruption step needs `corruption`".into(),
                Some(known_corruptions()),
            );
            return Vec::new();
        };
        self.corruption_names(spanned, &key)
    }

    /// The corruptions named by `spanned` (a name, a list, or `all`), each problem under `key`.
    fn corruption_names(&mut self, spanned: &Spanned<OneOrMany>, key: &str) -> Vec<Corruption> {
        let known = known_corruptions;
        let names: Vec<String> = match spanned.get_ref() {
            OneOrMany::One(name) if name == "all" => {
                return Corruption::ALL.to_vec();
            }
            OneOrMany::One(name) => vec![name.clone()],
            OneOrMany::Many(names) => names.clone(),
        };
        if names.is_empty() {
            self.problem(
                spanned.span(),
                key,
                "the list of corruptions is empty".into(),
                Some(known()),
            );
        }
        let mut corruptions = Vec::new();
        for name in names {
            match Corruption::from_name(&name) {
                Some(c) if corruptions.contains(&c) => self.problem(
                    spanned.span(),
                    key,
                    format!("corruption `{name}` is listed twice"),
                    None,
                ),
                Some(c) => corruptions.push(c),
                None => self.problem(
                    spanned.span(),
                    key,
                    format!("unknown corruption `{name}`"),
                    Some(known()),
                ),
            }
        }
        corruptions
    }

    fn lighting(&mut self, options: &StepOptions, id: &str) -> Option<Lighting> {
        let key = format!("steps.{id}.lighting");
        let known = || {
            let names: Vec<&str> = Lighting::ALL.iter().map(|l| l.name()).collect();
            format!("known lighting shifts: {}", names.join(", "))
        };
        let Some(name) = &options.lighting else {
            self.problem(
                options.kind.span(),
                &key,
                "a lighting step needs `lighting`".into(),
                Some(known()),
            );
            return None;
        };
        let lighting = Lighting::from_name(name.get_ref());
        if lighting.is_none() {
            self.problem(
                name.span(),
                &key,
                format!("unknown lighting shift `{}`", name.get_ref()),
                Some(known()),
            );
        }
        lighting
    }

    fn attack(&mut self, options: &StepOptions, id: &str) -> Option<AttackPlan> {
        let key = |name: &str| format!("steps.{id}.{name}");
        let Some(name) = &options.attack else {
            self.problem(
                options.kind.span(),
                &key("attack"),
                "an attack step needs `attack`".into(),
                Some("known attacks: fgsm, pgd, apgd-ce, square, hopskipjump".into()),
            );
            return None;
        };
        let Some(kind) = AttackKind::parse(name.get_ref()) else {
            self.problem(
                name.span(),
                &key("attack"),
                format!("unknown attack `{}`", name.get_ref()),
                Some("known attacks: fgsm, pgd, apgd-ce, square, hopskipjump".into()),
            );
            return None;
        };
        let norm = match options.norm.as_ref().map(|n| (n.get_ref().as_str(), n.span())) {
            None | Some(("linf", _)) => NormKind::Linf,
            Some(("l2", _)) if kind != AttackKind::Square => NormKind::L2,
            Some((other, span)) => {
                let hint = if kind == AttackKind::Square {
                    "square supports linf"
                } else {
                    "use linf or l2"
                };
                self.problem(
                    span,
                    &key("norm"),
                    format!("unsupported norm `{other}` for {}", kind.name()),
                    Some(hint.into()),
                );
                NormKind::Linf
            }
        };
        // Which parameters apply to which attack.
        let applies = |param: &str| match param {
            "steps" => {
                matches!(kind, AttackKind::Pgd | AttackKind::ApgdCe | AttackKind::HopSkipJump)
            }
            "restarts" => matches!(kind, AttackKind::Pgd | AttackKind::ApgdCe),
            "step_size" | "random_start" => kind == AttackKind::Pgd,
            "queries" => matches!(kind, AttackKind::Square | AttackKind::HopSkipJump),
            "p_init" => kind == AttackKind::Square,
            _ => true,
        };
        let given: [(&str, Option<Range<usize>>); 6] = [
            ("steps", options.steps.as_ref().map(Spanned::span)),
            ("restarts", options.restarts.as_ref().map(Spanned::span)),
            ("step_size", options.step_size.as_ref().map(Spanned::span)),
            ("random_start", options.random_start.as_ref().map(Spanned::span)),
            ("queries", options.queries.as_ref().map(Spanned::span)),
            ("p_init", options.p_init.as_ref().map(Spanned::span)),
        ];
        for (param, span) in given {
            if let Some(span) = span
                && !applies(param)
            {
                self.problem(
                    span,
                    &key(param),
                    format!("`{param}` does not apply to attack `{}`", kind.name()),
                    None,
                );
            }
        }
        let steps = match &options.steps {
            Some(steps) if *steps.get_ref() == 0 || *steps.get_ref() > 10_000 => {
                self.problem(
                    steps.span(),
                    &key("steps"),
                    "must be between 1 and 10000".into(),
                    None,
                );
                10
            }
            Some(steps) => *steps.get_ref(),
            None => match kind {
                AttackKind::Fgsm => 1,
                AttackKind::Pgd => 10,
                AttackKind::ApgdCe => 100,
                AttackKind::Square => 1,
                AttackKind::HopSkipJump => 50,
            },
        };
        let restarts = match &options.restarts {
            Some(r) if *r.get_ref() == 0 || *r.get_ref() > 100 => {
                self.problem(r.span(), &key("restarts"), "must be between 1 and 100".into(), None);
                1
            }
            Some(r) => *r.get_ref(),
            None => 1,
        };
        let step_size = match &options.step_size {
            Some(s) if !(s.get_ref().is_finite() && *s.get_ref() > 0.0 && *s.get_ref() <= 10.0) => {
                self.problem(
                    s.span(),
                    &key("step_size"),
                    "must be in (0, 10] (a multiple of ε)".into(),
                    None,
                );
                0.25
            }
            Some(s) => *s.get_ref(),
            None => 2.5 / f64::from(steps),
        };
        let queries = match &options.queries {
            Some(q) if *q.get_ref() == 0 || *q.get_ref() > 1_000_000 => {
                self.problem(
                    q.span(),
                    &key("queries"),
                    "must be between 1 and 1000000".into(),
                    None,
                );
                1000
            }
            Some(q) => *q.get_ref(),
            None => 1000,
        };
        let p_init = match &options.p_init {
            Some(p) if !(*p.get_ref() > 0.0 && *p.get_ref() <= 1.0) => {
                self.problem(p.span(), &key("p_init"), "must be in (0, 1]".into(), None);
                0.05
            }
            Some(p) => *p.get_ref(),
            None => 0.05,
        };
        let targeted = options.targeted.as_ref().and_then(|t| match t.get_ref() {
            TargetedOptions::Class(c) => Some(TargetRule::Class(*c)),
            TargetedOptions::Rule(rule) if rule == "random" => Some(TargetRule::Random),
            TargetedOptions::Rule(rule) if rule == "least_likely" => Some(TargetRule::LeastLikely),
            TargetedOptions::Rule(rule) => {
                self.problem(
                    t.span(),
                    &key("targeted"),
                    format!("unknown target rule `{rule}`"),
                    Some("use \"random\", \"least_likely\" or a class index".into()),
                );
                None
            }
        });
        Some(AttackPlan {
            kind,
            norm,
            steps,
            step_size,
            restarts,
            random_start: options.random_start.as_ref().is_none_or(|r| *r.get_ref()),
            queries,
            p_init,
            targeted,
        })
    }

    fn sweep(
        &mut self,
        options: &StepOptions,
        id: &str,
        kind: &str,
        dial: &str,
        (min, max): (f64, f64),
    ) -> Vec<f64> {
        let key = format!("steps.{id}.sweep");
        let table = options.sweep.get_ref();
        let span = options.sweep.span();
        let mut names = table.keys();
        let (Some(name), None) = (names.next(), names.next()) else {
            self.problem(
                span,
                &key,
                format!("`sweep` must have exactly one key, `{dial}`"),
                Some(format!("sweep = {{ {dial} = [\"2/255\", \"8/255\"] }}")),
            );
            return Vec::new();
        };
        if name != dial {
            self.problem(
                span,
                &format!("{key}.{name}"),
                format!(
                    "a{} {kind} step sweeps `{dial}`, not `{name}`",
                    if kind == "attack" { "n" } else { "" }
                ),
                None,
            );
            return Vec::new();
        }
        let value = &table[name];
        let problems_before = self.problems.len();
        let values: Vec<f64> = match value {
            toml::Value::Array(items) => {
                let mut values = Vec::new();
                for item in items {
                    match toml_dial(item) {
                        Some(v) => values.push(v),
                        None => {
                            self.problem(
                                span.clone(),
                                &format!("{key}.{dial}"),
                                format!("`{item}` is not a number or a fraction like \"8/255\""),
                                None,
                            );
                        }
                    }
                }
                values
            }
            toml::Value::Table(range) => {
                let from = range.get("from").and_then(toml_dial);
                let to = range.get("to").and_then(toml_dial);
                let points = range.get("points").and_then(toml::Value::as_integer);
                let unknown: Vec<&String> = range
                    .keys()
                    .filter(|k| !["from", "to", "points"].contains(&k.as_str()))
                    .collect();
                match (from, to, points) {
                    (Some(from), Some(to), Some(points))
                        if (2..=100).contains(&points) && unknown.is_empty() =>
                    {
                        let n = points as usize;
                        (0..n).map(|i| from + (to - from) * i as f64 / (n - 1) as f64).collect()
                    }
                    _ => {
                        self.problem(
                            span.clone(),
                            &format!("{key}.{dial}"),
                            "a range needs `from`, `to` and `points` (2 to 100), and nothing else"
                                .into(),
                            Some(format!("{dial} = {{ from = 0, to = \"8/255\", points = 5 }}")),
                        );
                        Vec::new()
                    }
                }
            }
            other => {
                self.problem(
                    span.clone(),
                    &format!("{key}.{dial}"),
                    format!("expected a list of values or a range table, found `{other}`"),
                    None,
                );
                Vec::new()
            }
        };
        if values.is_empty() && self.problems.len() == problems_before {
            self.problem(
                span.clone(),
                &format!("{key}.{dial}"),
                "the sweep has no value".into(),
                None,
            );
        }
        for value in &values {
            if !(value.is_finite() && *value >= min && *value <= max) {
                let (symbol, hint) = match dial {
                    "epsilon" => (
                        "ε",
                        Some("inputs lie in [0, 1]: an L∞ ε above 1 changes nothing more".into()),
                    ),
                    _ => (dial, None),
                };
                self.problem(
                    span.clone(),
                    &format!("{key}.{dial}"),
                    format!("{symbol} = {value} is out of range [{min}, {max}]"),
                    hint,
                );
            }
        }
        values
    }

    fn gate(
        &mut self,
        spanned: &Spanned<GateOptions>,
        step_id: &str,
        key: &str,
        metrics: &[&str],
        extra: &[&str],
    ) -> Option<Gate> {
        let options = spanned.get_ref();
        let metric = options.metric.get_ref().clone();
        if !metrics.contains(&metric.as_str()) && !extra.contains(&metric.as_str()) {
            let known: Vec<&str> = metrics.iter().chain(extra).copied().collect();
            self.problem(
                options.metric.span(),
                &format!("{key}.metric"),
                format!("unknown metric `{metric}`"),
                Some(format!("known metrics here: {}", known.join(", "))),
            );
            return None;
        }
        let (comparison, threshold) = match (options.min, options.max) {
            (Some(min), None) => (Comparison::AtLeast, min),
            (None, Some(max)) => (Comparison::AtMost, max),
            _ => {
                self.problem(
                    spanned.span(),
                    key,
                    "a gate needs exactly one of `min` and `max`".into(),
                    None,
                );
                return None;
            }
        };
        if !threshold.is_finite() {
            self.problem(spanned.span(), key, "the threshold must be a finite number".into(), None);
            return None;
        }
        let bound = match options.bound.as_ref().map(|b| (b.get_ref().as_str(), b.span())) {
            None | Some(("value", _)) => GateBound::Value,
            Some(("ci_lower", _)) => GateBound::Lower,
            Some(("ci_upper", _)) => GateBound::Upper,
            Some((other, span)) => {
                self.problem(
                    span,
                    &format!("{key}.bound"),
                    format!("unknown bound `{other}`"),
                    Some("use value, ci_lower or ci_upper".into()),
                );
                GateBound::Value
            }
        };
        let at = match &options.at {
            Some(at) => match at.get_ref().to_f64() {
                Some(v) => Some(v),
                None => {
                    self.problem(
                        at.span(),
                        &format!("{key}.at"),
                        format!(
                            "`{:?}` is not a number or a fraction like \"8/255\"",
                            at.get_ref()
                        ),
                        None,
                    );
                    return None;
                }
            },
            None => None,
        };
        let op = match comparison {
            Comparison::AtLeast => ">=",
            Comparison::AtMost => "<=",
        };
        let id = match at {
            Some(at) => format!("{step_id}/{metric}@{}{op}{threshold}", fmt_value(at)),
            None => format!("{step_id}/{metric}{op}{threshold}"),
        };
        Some(Gate { id, step_id: step_id.to_string(), metric, at, comparison, threshold, bound })
    }
}

/// The columns of a mitigation's comparison; its metrics are named `<column>:<row>`.
pub const COMPARISON_COLUMNS: &[&str] = &["before", "after", "delta"];

/// The rows of a mitigation's before/after comparison over `steps`, in order: clean accuracy
/// and calibration from the steady state, robust accuracy at every ε of every attack, the
/// corruption error of every corruption and their mean, the accuracy at every lighting value.
pub fn comparison_rows(steps: &[&StepPlan], calibration: &CalibrationPlan) -> Vec<String> {
    let mut rows = vec!["clean_accuracy".to_string(), "ece".to_string()];
    if calibration.samples > 0 {
        if calibration.temperature_scaling {
            rows.push("ece_scaled".into());
        }
        rows.push("fallback_rate".into());
    }
    let mut corruption_rows = Vec::new();
    for step in steps {
        match &step.stress {
            Stress::Attack(_) => rows.extend(
                step.dial_values
                    .iter()
                    .map(|v| format!("robust_accuracy.{}@{}", step.id, fmt_value(*v))),
            ),
            Stress::Corruption(_) => corruption_rows.push(format!("corruption_error.{}", step.id)),
            Stress::Lighting(_) => rows.extend(
                step.dial_values.iter().map(|v| format!("accuracy.{}@{}", step.id, fmt_value(*v))),
            ),
        }
    }
    if !corruption_rows.is_empty() {
        rows.push("mean_corruption_error".into());
        rows.extend(corruption_rows);
    }
    rows
}

fn known_corruptions() -> String {
    let names: Vec<&str> = Corruption::ALL.iter().map(|c| c.name()).collect();
    format!("known corruptions: all, {}", names.join(", "))
}

/// What a step kind resolves to: the (id, stress) pairs, the dial's name and range, the
/// metrics its points report and the extra ones gates may use.
type StepShape<'a> = (Vec<(String, Stress)>, &'a str, (f64, f64), &'a [&'a str], Vec<&'a str>);

/// The calibration metrics a point reports under `plan`.
fn calibration_metrics(plan: &CalibrationPlan) -> Vec<&'static str> {
    let mut metrics = CALIBRATION_METRICS.to_vec();
    if plan.samples > 0 {
        metrics.extend_from_slice(CONFORMAL_METRICS);
        if plan.temperature_scaling {
            metrics.extend_from_slice(SCALED_METRICS);
        }
    }
    metrics
}

fn toml_dial(value: &toml::Value) -> Option<f64> {
    match value {
        toml::Value::Float(v) => Some(*v),
        toml::Value::Integer(v) => Some(*v as f64),
        toml::Value::String(s) => DialValue::Text(s.clone()).to_f64(),
        _ => None,
    }
}

/// Whether two dial values are the same point (relative tolerance 1e-9).
pub fn same_dial(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12)
}

/// A dial value for names: four significant decimals.
pub fn fmt_value(value: f64) -> String {
    let text = format!("{value:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn fmt_values(values: &[f64]) -> String {
    values.iter().map(|v| fmt_value(*v)).collect::<Vec<_>>().join(", ")
}
