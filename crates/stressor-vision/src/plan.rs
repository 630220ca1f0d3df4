//! The vision family's plan: steps (attacks, corruptions, lighting) with their dials and
//! gates, calibration, mitigations; validated against the shared planner, every problem with
//! file, line, column and key.

use std::ops::{Deref, DerefMut, Range};

use stressor_core::Gate;
use stressor_scenario::target::TargetPlan;
use stressor_scenario::{fmt_value, fmt_values, same_dial};
use toml::Spanned;

use crate::options::{
    CalibrationOptions, MitigationOptions, OneOrMany, StepOptions, TargetedOptions, VisionOptions,
};
pub use stressor_corruption::{Corruption, Lighting};

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

/// The vision family's part of a scenario: the steady state, the stress steps and the
/// mitigations, measured on the scenario's subject.
#[derive(Debug, Clone, PartialEq)]
pub struct VisionPlan {
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

impl VisionPlan {
    /// The environment variables the baseline's header values refer to.
    pub fn env_vars(&self) -> Vec<String> {
        let mut names = Vec::new();
        let mut stack: Vec<&TargetPlan> = self.baseline.iter().collect();
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

/// Plans the vision family's keys of a scenario whose target is `target`.
pub(crate) fn plan(
    planner: &mut stressor_scenario::Planner<'_>,
    options: VisionOptions,
    target: &TargetPlan,
) -> VisionPlan {
    Planner { inner: planner, ensemble: false }.plan(options, target)
}

/// The shared planner, plus what the vision family remembers while planning.
struct Planner<'p, 'a> {
    inner: &'p mut stressor_scenario::Planner<'a>,
    /// Whether the target is an ensemble, whose points report the member metrics too.
    ensemble: bool,
}

impl<'a> Deref for Planner<'_, 'a> {
    type Target = stressor_scenario::Planner<'a>;
    fn deref(&self) -> &Self::Target {
        self.inner
    }
}

impl DerefMut for Planner<'_, '_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.inner
    }
}

impl Planner<'_, '_> {
    fn plan(&mut self, options: VisionOptions, target: &TargetPlan) -> VisionPlan {
        self.ensemble = matches!(target, TargetPlan::Ensemble { .. });
        let baseline = options.baseline.as_ref().map(|b| self.target(b, "baseline"));
        let calibration = self.calibration(options.calibration.as_ref());
        let extra = self.point_extra(&calibration);
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
                        &extra,
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
            if let Some(planned) = self.mitigation(spanned, target, &steps, &calibration) {
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
        VisionPlan { steady_state_gates, calibration, baseline, steps, mitigations }
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
        let dial_values =
            self.sweep(&options.sweep, &format!("steps.{id}.sweep"), kind, dial, range);
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
