//! A validated, resolved scenario: no serde, no spans, every value checked.

use std::ops::Range;
use std::path::{Path, PathBuf};

use stressor_core::{Comparison, Gate, GateBound, Seed};
use toml::Spanned;

use crate::error::{Problem, ScenarioError, line_column};
use crate::options::{
    DataOptions, DialValue, GateOptions, ScenarioOptions, StepOptions, TargetOptions,
    TargetedOptions,
};

/// The seed used when a scenario gives none.
pub const DEFAULT_SEED: u64 = 0;
/// The seed the built-in model is trained with when a scenario gives none.
pub const DEFAULT_TRAIN_SEED: u64 = 1;
/// Samples attacked at once when a step gives no `batch_size`.
pub const DEFAULT_BATCH_SIZE: usize = 256;

/// Metrics the steady state reports.
pub const STEADY_STATE_METRICS: &[&str] = &["clean_accuracy"];
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
    /// Stress steps, in order.
    pub steps: Vec<StepPlan>,
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
}

impl StepPlan {
    /// A one-line description (`PGD L∞, 10 steps, 1 restart`).
    pub fn description(&self) -> String {
        match &self.stress {
            Stress::Attack(attack) => attack.description(),
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
    /// Square attack (black-box).
    Square,
}

impl AttackKind {
    fn parse(name: &str) -> Option<AttackKind> {
        match name {
            "fgsm" => Some(AttackKind::Fgsm),
            "pgd" => Some(AttackKind::Pgd),
            "apgd-ce" | "apgd" => Some(AttackKind::ApgdCe),
            "square" => Some(AttackKind::Square),
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
        }
    }

    /// Whether the attack needs input gradients.
    pub fn is_white_box(self) -> bool {
        !matches!(self, AttackKind::Square)
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
    let options: ScenarioOptions = toml::from_str(text).map_err(|error| {
        let (line, column) = error.span().map_or((1, 1), |span| line_column(text, span.start));
        ScenarioError::Parse {
            path: path.to_path_buf(),
            line,
            column,
            message: error.message().trim().to_string(),
        }
    })?;
    let mut planner = Planner { text, path, problems: Vec::new() };
    let plan = planner.plan(options);
    if planner.problems.is_empty() {
        Ok(plan)
    } else {
        Err(ScenarioError::Invalid { path: path.to_path_buf(), problems: planner.problems })
    }
}

struct Planner<'a> {
    text: &'a str,
    path: &'a Path,
    problems: Vec<Problem>,
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
        let target = self.target(&options.target);
        let data = self.data(&options.data);
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
                        &[],
                    )
                })
                .collect(),
            None => Vec::new(),
        };
        let mut steps: Vec<StepPlan> = Vec::new();
        for step in &options.steps {
            if let Some(planned) = self.step(step) {
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
        Plan {
            name: options.name,
            description: options.description,
            source: self.path.display().to_string(),
            seed: Seed::new(options.seed.unwrap_or(DEFAULT_SEED)),
            target,
            data,
            steady_state_gates,
            steps,
        }
    }

    fn target(&mut self, options: &TargetOptions) -> TargetPlan {
        let architecture = match options.model.get_ref().as_str() {
            "fashion-cnn" => Architecture::FashionCnn,
            other => {
                self.problem(
                    options.model.span(),
                    "target.model",
                    format!("unknown built-in model `{other}`"),
                    Some("known models: fashion-cnn".into()),
                );
                Architecture::FashionCnn
            }
        };
        let train_seed = Seed::new(options.train_seed.unwrap_or(DEFAULT_TRAIN_SEED));
        match options.kind.get_ref().as_str() {
            "builtin" => {
                if let Some(path) = &options.path {
                    self.problem(
                        path.span(),
                        "target.path",
                        "`path` does not apply to `kind = \"builtin\"`".into(),
                        Some("use `kind = \"safetensors\"` to load weights from a file".into()),
                    );
                }
                TargetPlan::Builtin { architecture, train_seed }
            }
            "safetensors" => match &options.path {
                Some(path) => {
                    TargetPlan::Safetensors { architecture, path: self.relative(path.get_ref()) }
                }
                None => {
                    self.problem(
                        options.kind.span(),
                        "target.path",
                        "`kind = \"safetensors\"` needs a `path`".into(),
                        None,
                    );
                    TargetPlan::Builtin { architecture, train_seed }
                }
            },
            other => {
                self.problem(
                    options.kind.span(),
                    "target.kind",
                    format!("unknown target kind `{other}`"),
                    Some("known kinds: builtin, safetensors".into()),
                );
                TargetPlan::Builtin { architecture, train_seed }
            }
        }
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
        let source = match options.source.get_ref().as_str() {
            "builtin" => {
                if let Some(dataset) = &options.dataset
                    && dataset.get_ref() != "fashion-mnist"
                {
                    self.problem(
                        dataset.span(),
                        "data.dataset",
                        format!("unknown built-in data set `{}`", dataset.get_ref()),
                        Some("known data sets: fashion-mnist".into()),
                    );
                }
                let test_split =
                    match options.split.as_ref().map(|s| (s.get_ref().as_str(), s.span())) {
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
                for (key, value) in [("images", &options.images), ("labels", &options.labels)] {
                    if let Some(value) = value {
                        self.problem(
                            value.span(),
                            &format!("data.{key}"),
                            format!("`{key}` does not apply to `source = \"builtin\"`"),
                            None,
                        );
                    }
                }
                DataSource::FashionMnist { test_split }
            }
            "idx" => {
                let mut file = |key: &str, value: &Option<Spanned<String>>| match value {
                    Some(value) => self.relative(value.get_ref()),
                    None => {
                        self.problem(
                            options.source.span(),
                            &format!("data.{key}"),
                            format!("`source = \"idx\"` needs `{key}`"),
                            None,
                        );
                        PathBuf::new()
                    }
                };
                let images = file("images", &options.images);
                let labels = file("labels", &options.labels);
                DataSource::Idx { images, labels, class_names: options.class_names.clone() }
            }
            other => {
                self.problem(
                    options.source.span(),
                    "data.source",
                    format!("unknown data source `{other}`"),
                    Some("known sources: builtin, idx".into()),
                );
                DataSource::FashionMnist { test_split: true }
            }
        };
        DataPlan { source, samples }
    }

    fn step(&mut self, spanned: &Spanned<StepOptions>) -> Option<StepPlan> {
        let options = spanned.get_ref();
        let id = options.id.clone();
        let key = |name: &str| format!("steps.{id}.{name}");
        if options.kind.get_ref() != "attack" {
            self.problem(
                options.kind.span(),
                &key("kind"),
                format!("unknown step kind `{}`", options.kind.get_ref()),
                Some("known kinds: attack".into()),
            );
            return None;
        }
        let attack = self.attack(options, &id)?;
        let dial_values = self.sweep(options, &id, "epsilon", attack.norm);
        let batch_size = match &options.batch_size {
            Some(size) if *size.get_ref() == 0 => {
                self.problem(size.span(), &key("batch_size"), "must be at least 1".into(), None);
                DEFAULT_BATCH_SIZE
            }
            Some(size) => usize::try_from(*size.get_ref()).unwrap_or(DEFAULT_BATCH_SIZE),
            None => DEFAULT_BATCH_SIZE,
        };
        let extra: &[&str] = if attack.kind.is_white_box() { &[] } else { QUERY_METRICS };
        let gates = options
            .gates
            .iter()
            .enumerate()
            .filter_map(|(i, gate)| {
                let gate =
                    self.gate(gate, &id, &key(&format!("gates[{i}]")), ATTACK_METRICS, extra)?;
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
        Some(StepPlan {
            id: id.clone(),
            stress: Stress::Attack(attack),
            dial_name: "epsilon".into(),
            dial_values,
            batch_size,
            gates,
        })
    }

    fn attack(&mut self, options: &StepOptions, id: &str) -> Option<AttackPlan> {
        let key = |name: &str| format!("steps.{id}.{name}");
        let Some(name) = &options.attack else {
            self.problem(
                options.kind.span(),
                &key("attack"),
                "an attack step needs `attack`".into(),
                Some("known attacks: fgsm, pgd, apgd-ce, square".into()),
            );
            return None;
        };
        let Some(kind) = AttackKind::parse(name.get_ref()) else {
            self.problem(
                name.span(),
                &key("attack"),
                format!("unknown attack `{}`", name.get_ref()),
                Some("known attacks: fgsm, pgd, apgd-ce, square".into()),
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
            "steps" | "restarts" => matches!(kind, AttackKind::Pgd | AttackKind::ApgdCe),
            "step_size" | "random_start" => kind == AttackKind::Pgd,
            "queries" | "p_init" => kind == AttackKind::Square,
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

    fn sweep(&mut self, options: &StepOptions, id: &str, dial: &str, norm: NormKind) -> Vec<f64> {
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
                format!("an attack step sweeps `{dial}`, not `{name}`"),
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
        let max = match norm {
            NormKind::Linf => 1.0,
            NormKind::L2 => 1000.0,
        };
        for value in &values {
            if !(value.is_finite() && *value >= 0.0 && *value <= max) {
                self.problem(
                    span.clone(),
                    &format!("{key}.{dial}"),
                    format!("ε = {value} is out of range [0, {max}]"),
                    Some("inputs lie in [0, 1]: an L∞ ε above 1 changes nothing more".into()),
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
