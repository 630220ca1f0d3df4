//! Pairing two reports' metrics, checking the reports are comparable, evaluating the gates.

use serde::Serialize;
use stressor_schema::{Metric, Point, Report, Step, Verdict};

use crate::delta::{Delta, difference};
use crate::dial::{dial_matches, format_dial, same_dial};
use crate::gate::{DeltaGate, GateOutcome};
use crate::read::SUPPORTED_MAJOR;

/// How to compare: the names the reports go by in messages, and what may differ.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CompareConfig {
    /// The BASE report's name in messages and renderings (its path, in the CLI).
    pub base_label: String,
    /// The NEW report's name.
    pub new_label: String,
    /// Compare reports of different scenarios (a warning instead of an error).
    pub allow_different_scenarios: bool,
}

/// Why two reports cannot be compared.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CompareError {
    /// The reports come from different scenarios.
    #[error(
        "the reports are of different scenarios: `{base}` in {base_label}, `{new}` in {new_label}"
    )]
    DifferentScenarios {
        /// The BASE report's name.
        base_label: String,
        /// The BASE report's scenario.
        base: String,
        /// The NEW report's name.
        new_label: String,
        /// The NEW report's scenario.
        new: String,
    },
    /// A report's major format version is not the one this build reads.
    #[error(
        "{label}: report format version {version} is not supported (this stressor reads {SUPPORTED_MAJOR}.x)"
    )]
    UnsupportedVersion {
        /// The report's name.
        label: String,
        /// The version it declares.
        version: String,
    },
    /// A step id appears twice in one report (ids are unique within a run).
    #[error("{label}: step `{step}` appears more than once")]
    DuplicateStep {
        /// The report's name.
        label: String,
        /// The step id.
        step: String,
    },
    /// A metric contradicts itself (an interval whose lower end is above its upper end, a
    /// level outside (0, 1)).
    #[error("{label}: metric `{metric}` of step `{step}` at {dial}: {problem}")]
    Contradictory {
        /// The report's name.
        label: String,
        /// The step id.
        step: String,
        /// The dial value, as written by [`format_dial`].
        dial: String,
        /// The metric's name.
        metric: String,
        /// What is wrong.
        problem: String,
    },
}

/// Two reports compared: every paired metric, what only one has, the gates, the warnings.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Comparison {
    /// The BASE report.
    pub base: ReportSummary,
    /// The NEW report.
    pub new: ReportSummary,
    /// The counts over every paired metric (before any [`RowFilter`]).
    pub counts: Counts,
    /// One row per metric found in both reports, in BASE's order of steps, points and names.
    pub rows: Vec<Row>,
    /// Metrics found only in BASE.
    pub only_in_base: Vec<MetricKey>,
    /// Metrics found only in NEW.
    pub only_in_new: Vec<MetricKey>,
    /// Steps in both reports whose other results (per-class accuracy, timelines, family
    /// details; timings aside) differ; they are not compared further.
    pub steps_with_other_differences: Vec<String>,
    /// The gates, in the order given.
    pub gates: Vec<GateOutcome>,
    /// Things worth a look that do not stop the comparison (different seeds, …).
    pub warnings: Vec<String>,
    /// Whether every gate held (true without gates).
    pub passed: bool,
}

/// What a comparison says about one report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ReportSummary {
    /// The report's name ([`CompareConfig::base_label`] or `new_label`).
    pub label: String,
    /// The scenario's name.
    pub scenario_name: String,
    /// The run's root seed.
    pub seed: u64,
    /// The report's format version.
    pub format_version: String,
    /// The stressor version that wrote it.
    pub stressor_version: String,
    /// The run's own verdict.
    pub verdict: Verdict,
}

/// Counts over the paired metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[non_exhaustive]
pub struct Counts {
    /// Metrics found in both reports.
    pub paired: usize,
    /// Paired metrics whose values differ by more than rounding.
    pub changed: usize,
    /// Paired metrics whose difference is significantly above 0.
    pub significant_increase: usize,
    /// Paired metrics whose difference is significantly below 0.
    pub significant_decrease: usize,
}

/// A metric's place: step, dial value, name.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct MetricKey {
    /// The step id.
    pub step: String,
    /// The point's dial value, absent for a point without a dial.
    pub dial: Option<f64>,
    /// The metric's name.
    pub metric: String,
}

/// One metric found in both reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Row {
    /// The step id.
    pub step: String,
    /// The dial value (BASE's), absent for a point without a dial.
    pub dial: Option<f64>,
    /// The metric's name.
    pub metric: String,
    /// BASE's value, sample size and interval.
    pub base: Metric,
    /// NEW's value, sample size and interval.
    pub new: Metric,
    /// NEW − BASE with its interval and significance.
    pub delta: Delta,
    /// The gates that read this row and whether this row's difference passes each.
    pub gates: Vec<RowGate>,
}

/// A gate's verdict on one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RowGate {
    /// The gate as written.
    pub gate: String,
    /// Whether this row's difference passes it.
    pub passed: bool,
}

/// Which rows to keep for display ([`Comparison::retain_rows`]).
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct RowFilter {
    /// Keep only rows whose values differ.
    pub only_changed: bool,
    /// Keep only rows whose difference is significant.
    pub significant_only: bool,
}

impl Default for CompareConfig {
    fn default() -> CompareConfig {
        CompareConfig {
            base_label: "BASE".to_owned(),
            new_label: "NEW".to_owned(),
            allow_different_scenarios: false,
        }
    }
}

impl CompareConfig {
    /// A configuration with the reports named `base_label` and `new_label` (their paths).
    pub fn with_labels(base_label: impl Into<String>, new_label: impl Into<String>) -> Self {
        CompareConfig {
            base_label: base_label.into(),
            new_label: new_label.into(),
            ..CompareConfig::default()
        }
    }
}

impl RowFilter {
    /// A filter; both `false` keeps every row.
    pub fn new(only_changed: bool, significant_only: bool) -> RowFilter {
        RowFilter { only_changed, significant_only }
    }
}

impl Row {
    /// Whether BASE's and NEW's values differ by more than rounding (a relative 1e-6; two NaNs
    /// do not).
    pub fn changed(&self) -> bool {
        crate::delta::values_differ(self.base.value, self.new.value)
    }
}

impl Comparison {
    /// Drops the rows `filter` hides, except rows where a gate failed. The counts, the gates and
    /// the lists of unpaired metrics stay.
    pub fn retain_rows(&mut self, filter: &RowFilter) {
        self.rows.retain(|row| {
            row.gates.iter().any(|gate| !gate.passed)
                || ((!filter.only_changed || row.changed())
                    && (!filter.significant_only || row.delta.significant == Some(true)))
        });
    }
}

/// Compares `new` with `base`: pairs their metrics, evaluates `gates` on the differences.
///
/// # Errors
///
/// [`CompareError`] when the reports are of different scenarios (unless
/// [`CompareConfig::allow_different_scenarios`]), a report's major format version is not
/// [`SUPPORTED_MAJOR`], a step id repeats or a metric's interval contradicts itself. A failed
/// gate is a result, not an error.
pub fn compare(
    base: &Report,
    new: &Report,
    gates: &[DeltaGate],
    config: &CompareConfig,
) -> Result<Comparison, CompareError> {
    let (base_label, new_label) = (config.base_label.as_str(), config.new_label.as_str());
    for (report, label) in [(base, base_label), (new, new_label)] {
        if report.format_major() != Some(SUPPORTED_MAJOR) {
            return Err(CompareError::UnsupportedVersion {
                label: label.to_owned(),
                version: report.format_version.clone(),
            });
        }
        validate(report, label)?;
    }
    let mut warnings = Vec::new();
    if base.run.scenario_name != new.run.scenario_name {
        if !config.allow_different_scenarios {
            return Err(CompareError::DifferentScenarios {
                base_label: base_label.to_owned(),
                base: base.run.scenario_name.clone(),
                new_label: new_label.to_owned(),
                new: new.run.scenario_name.clone(),
            });
        }
        warnings.push(format!(
            "the reports are of different scenarios (`{}` and `{}`)",
            base.run.scenario_name, new.run.scenario_name
        ));
    }
    if base.run.seed != new.run.seed {
        warnings.push(format!(
            "the runs have different seeds ({} and {}): they evaluated different samples, so the \
             differences include the sampling noise of the draw",
            base.run.seed, new.run.seed
        ));
    }

    let (mut rows, only_in_base, only_in_new) = pair(base, new);
    let unpaired = Unpaired { only_in_base: &only_in_base, only_in_new: &only_in_new };
    let gates: Vec<GateOutcome> =
        gates.iter().map(|gate| evaluate(gate, base, new, &mut rows, &unpaired, config)).collect();
    let counts = Counts {
        paired: rows.len(),
        changed: rows.iter().filter(|row| row.changed()).count(),
        significant_increase: rows
            .iter()
            .filter(|row| row.delta.significant == Some(true) && row.delta.value > 0.0)
            .count(),
        significant_decrease: rows
            .iter()
            .filter(|row| row.delta.significant == Some(true) && row.delta.value < 0.0)
            .count(),
    };
    Ok(Comparison {
        base: summary(base, base_label),
        new: summary(new, new_label),
        counts,
        rows,
        only_in_base,
        only_in_new,
        steps_with_other_differences: other_differences(base, new),
        passed: gates.iter().all(|gate| gate.passed),
        gates,
        warnings,
    })
}

fn summary(report: &Report, label: &str) -> ReportSummary {
    ReportSummary {
        label: label.to_owned(),
        scenario_name: report.run.scenario_name.clone(),
        seed: report.run.seed,
        format_version: report.format_version.clone(),
        stressor_version: report.stressor_version.clone(),
        verdict: report.run.verdict,
    }
}

/// Unique step ids, intervals that are intervals.
fn validate(report: &Report, label: &str) -> Result<(), CompareError> {
    for (index, step) in report.steps.iter().enumerate() {
        if report.steps[..index].iter().any(|earlier| earlier.id == step.id) {
            return Err(CompareError::DuplicateStep {
                label: label.to_owned(),
                step: step.id.clone(),
            });
        }
        for point in &step.points {
            for (name, metric) in &point.metrics {
                let Some(ci) = metric.ci else { continue };
                let problem = if ci.lower > ci.upper {
                    Some(format!(
                        "its interval's lower end {} is above its upper end {}",
                        ci.lower, ci.upper
                    ))
                } else if !(ci.level > 0.0 && ci.level < 1.0) {
                    Some(format!("its interval's level {} is not between 0 and 1", ci.level))
                } else {
                    None
                };
                if let Some(problem) = problem {
                    return Err(CompareError::Contradictory {
                        label: label.to_owned(),
                        step: step.id.clone(),
                        dial: format_dial(point.dial_value),
                        metric: name.clone(),
                        problem,
                    });
                }
            }
        }
    }
    Ok(())
}

/// Rows for the metrics in both reports, and the keys of those in one only. Points pair by dial
/// value within the tolerance, in order, so repeated dial values pair first with first.
fn pair(base: &Report, new: &Report) -> (Vec<Row>, Vec<MetricKey>, Vec<MetricKey>) {
    let (mut rows, mut only_in_base, mut only_in_new) = (Vec::new(), Vec::new(), Vec::new());
    for base_step in &base.steps {
        let Some(new_step) = new.steps.iter().find(|step| step.id == base_step.id) else {
            only_in_base.extend(keys(base_step, &base_step.points));
            continue;
        };
        let mut new_used = vec![false; new_step.points.len()];
        for base_point in &base_step.points {
            let matched = new_step.points.iter().enumerate().position(|(index, point)| {
                !new_used[index] && same_dial(point.dial_value, base_point.dial_value)
            });
            let Some(new_index) = matched else {
                only_in_base.extend(keys(base_step, std::slice::from_ref(base_point)));
                continue;
            };
            new_used[new_index] = true;
            let new_point = &new_step.points[new_index];
            for (name, base_metric) in &base_point.metrics {
                match new_point.metrics.get(name) {
                    Some(new_metric) => rows.push(Row {
                        step: base_step.id.clone(),
                        dial: base_point.dial_value,
                        metric: name.clone(),
                        base: *base_metric,
                        new: *new_metric,
                        delta: difference(base_metric, new_metric),
                        gates: Vec::new(),
                    }),
                    None => only_in_base.push(key(base_step, base_point, name)),
                }
            }
            only_in_new.extend(
                new_point
                    .metrics
                    .keys()
                    .filter(|name| !base_point.metrics.contains_key(*name))
                    .map(|name| key(new_step, new_point, name)),
            );
        }
        for (index, point) in new_step.points.iter().enumerate() {
            if !new_used[index] {
                only_in_new.extend(keys(new_step, std::slice::from_ref(point)));
            }
        }
    }
    for new_step in &new.steps {
        if !base.steps.iter().any(|step| step.id == new_step.id) {
            only_in_new.extend(keys(new_step, &new_step.points));
        }
    }
    (rows, only_in_base, only_in_new)
}

fn key(step: &Step, point: &Point, metric: &str) -> MetricKey {
    MetricKey { step: step.id.clone(), dial: point.dial_value, metric: metric.to_owned() }
}

fn keys<'a>(step: &'a Step, points: &'a [Point]) -> impl Iterator<Item = MetricKey> + 'a {
    points
        .iter()
        .flat_map(move |point| point.metrics.keys().map(move |name| key(step, point, name)))
}

/// The metrics only one report has, for the gates' messages.
struct Unpaired<'a> {
    only_in_base: &'a [MetricKey],
    only_in_new: &'a [MetricKey],
}

/// Whether a gate reads the point at `dial`.
fn gate_reads(gate: &DeltaGate, dial: Option<f64>) -> bool {
    match gate.at {
        Some(at) => dial.is_some_and(|dial| dial_matches(dial, at)),
        None => true,
    }
}

/// Evaluates one gate and marks the rows it reads. The gate fails, saying what is missing, when
/// either report lacks the step, a point it reads or the metric at such a point.
fn evaluate(
    gate: &DeltaGate,
    base: &Report,
    new: &Report,
    rows: &mut [Row],
    unpaired: &Unpaired<'_>,
    config: &CompareConfig,
) -> GateOutcome {
    let at = gate.at.map(|at| format!(" at {}", format_dial(Some(at)))).unwrap_or_default();
    let missing = |message: String| GateOutcome {
        gate: gate.clone(),
        passed: false,
        observed: None,
        observed_at: None,
        points: 0,
        message,
    };
    for (report, label) in [(base, &config.base_label), (new, &config.new_label)] {
        let Some(step) = report.steps.iter().find(|step| step.id == gate.step) else {
            return missing(format!("step `{}` is missing in {label}", gate.step));
        };
        let mut points = step.points.iter().filter(|point| gate_reads(gate, point.dial_value));
        let Some(first) = points.next() else {
            return missing(format!("step `{}` has no point{at} in {label}", gate.step));
        };
        if let Some(point) =
            std::iter::once(first).chain(points).find(|p| !p.metrics.contains_key(&gate.metric))
        {
            return missing(format!(
                "metric `{}` of step `{}` at {} is missing in {label}",
                gate.metric,
                gate.step,
                format_dial(point.dial_value)
            ));
        }
    }
    // Every point the gate reads has the metric on both sides; a point without a partner (a dial
    // value only one report swept) cannot be compared.
    let mut worst: Option<(f64, Option<f64>)> = None;
    let mut n_points = 0;
    for row in rows.iter_mut() {
        if row.step != gate.step || row.metric != gate.metric || !gate_reads(gate, row.dial) {
            continue;
        }
        n_points += 1;
        let value = row.delta.value;
        row.gates.push(crate::RowGate {
            gate: gate.text.clone(),
            passed: gate.op.holds(value, gate.threshold),
        });
        let replace = match worst {
            None => true,
            Some((worst_value, _)) => {
                value.is_nan() || (!worst_value.is_nan() && gate.op.is_worse(value, worst_value))
            }
        };
        if replace {
            worst = Some((value, row.dial));
        }
    }
    let only_in = |keys: &[MetricKey], label: &str| {
        keys.iter()
            .find(|key| {
                key.step == gate.step && key.metric == gate.metric && gate_reads(gate, key.dial)
            })
            .map(|key| {
                format!(
                    "metric `{}` of step `{}` at {} is only in {label}",
                    gate.metric,
                    gate.step,
                    format_dial(key.dial)
                )
            })
    };
    let problem = only_in(unpaired.only_in_base, &config.base_label)
        .or_else(|| only_in(unpaired.only_in_new, &config.new_label));
    let Some((observed, observed_at)) = worst else {
        return missing(problem.unwrap_or_else(|| {
            format!("metric `{}` of step `{}`{at} is in neither report", gate.metric, gate.step)
        }));
    };
    let held = gate.op.holds(observed, gate.threshold);
    let worst_of =
        if n_points > 1 { format!(" (the worst of {n_points} points)") } else { String::new() };
    let observed_where =
        observed_at.map(|dial| format!(" at {}", format_dial(Some(dial)))).unwrap_or_default();
    let mut message = format!(
        "Δ {}{observed_where}{worst_of}, needs {} {}",
        crate::render::signed(observed),
        gate.op.symbol(),
        gate.threshold
    );
    if let Some(problem) = &problem {
        message.push_str("; ");
        message.push_str(problem);
    }
    GateOutcome {
        gate: gate.clone(),
        passed: held && problem.is_none(),
        observed: Some(observed),
        observed_at,
        points: n_points,
        message,
    }
}

/// Ids of the steps in both reports whose results other than their metrics differ, timings
/// aside.
fn other_differences(base: &Report, new: &Report) -> Vec<String> {
    let strip = |report: &Report| {
        let mut report = report.clone();
        report.redact_timings();
        for step in &mut report.steps {
            for point in &mut step.points {
                point.metrics.clear();
            }
        }
        report.steps
    };
    let (base_steps, new_steps) = (strip(base), strip(new));
    base_steps
        .iter()
        .filter(|step| new_steps.iter().any(|other| other.id == step.id && other != *step))
        .map(|step| step.id.clone())
        .collect()
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]
mod tests {
    use stressor_schema::{Interval, IntervalMethod, Metric};

    use super::*;
    use crate::test_reports::{attack, proportion, vision};

    fn gate(text: &str) -> DeltaGate {
        text.parse().unwrap()
    }

    /// Compares `new` with `base` under `gates` with the default configuration.
    fn check(base: &Report, new: &Report, gates: &[&str]) -> Comparison {
        let gates: Vec<DeltaGate> = gates.iter().map(|text| gate(text)).collect();
        compare(base, new, &gates, &CompareConfig::with_labels("base.json", "new.json")).unwrap()
    }

    #[test]
    fn metrics_pair_by_step_dial_and_name() {
        let base = vision(1, 360, 200, 100);
        let mut new = vision(1, 360, 200, 60);
        // NEW writes 8/255 rounded: still the same point.
        new.steps[1].points[1].dial_value = Some(0.031_372_55);
        new.steps[1].points[1].metrics.insert("fallback_rate".into(), proportion(4, 400));
        new.steps.push(attack("square", &[(8.0 / 255.0, 90)]));
        let comparison = check(&base, &new, &[]);
        let names: Vec<(String, String, String)> = comparison
            .rows
            .iter()
            .map(|row| (row.step.clone(), format_dial(row.dial), row.metric.clone()))
            .collect();
        assert_eq!(names.len(), 5, "{names:?}");
        assert_eq!(names[0], ("steady-state".into(), "-".into(), "clean_accuracy".into()));
        assert_eq!(names[3], ("pgd-linf".into(), "8/255".into(), "perturbation_linf_mean".into()));
        let robust_8 = &comparison.rows[4];
        assert!((robust_8.delta.value - (-0.1)).abs() < 1e-12);
        assert_eq!(robust_8.delta.significant, Some(true));
        assert_eq!(comparison.rows[2].delta.significant, Some(false), "2/255 did not change");
        assert_eq!(comparison.counts.paired, 5);
        assert_eq!(comparison.counts.changed, 1, "robust accuracy at 8/255 only");
        assert_eq!(comparison.counts.significant_decrease, 1);
        assert!(comparison.only_in_base.is_empty());
        let only_new: Vec<&str> =
            comparison.only_in_new.iter().map(|k| k.metric.as_str()).collect();
        assert_eq!(only_new, ["fallback_rate", "perturbation_linf_mean", "robust_accuracy"]);
        assert_eq!(comparison.only_in_new[1].step, "square");
        assert!(comparison.passed, "no gates");
        assert!(comparison.warnings.is_empty(), "{:?}", comparison.warnings);
    }

    #[test]
    fn a_delta_gate_fails_when_new_is_less_robust_and_holds_otherwise() {
        let base = vision(1, 360, 200, 100);
        let worse = vision(1, 360, 200, 80); // 0.25 → 0.20
        let better = vision(1, 360, 204, 104);
        let gates = ["delta:robust_accuracy.pgd-linf@8/255 > -0.02"];
        let failed = check(&base, &worse, &gates);
        assert!(!failed.passed);
        let outcome = &failed.gates[0];
        assert!(!outcome.passed);
        assert!((outcome.observed.unwrap() - (-0.05)).abs() < 1e-12, "{outcome:?}");
        assert!(dial_matches(outcome.observed_at.unwrap(), 8.0 / 255.0));
        assert_eq!(outcome.points, 1);
        assert_eq!(outcome.message, "Δ -0.0500 at 8/255, needs > -0.02");
        let marked: Vec<&Row> = failed.rows.iter().filter(|row| !row.gates.is_empty()).collect();
        assert_eq!(marked.len(), 1);
        assert_eq!(marked[0].gates, [RowGate { gate: gates[0].to_owned(), passed: false }]);

        let held = check(&base, &better, &gates);
        assert!(held.passed && held.gates[0].passed, "{:?}", held.gates);
        assert!((held.gates[0].observed.unwrap() - 0.01).abs() < 1e-12);
        // A small loss within the threshold holds too.
        assert!(check(&base, &vision(1, 360, 200, 97), &gates).passed);
    }

    #[test]
    fn a_gate_without_a_dial_reads_every_point_and_reports_the_worst() {
        let base = vision(1, 360, 200, 100);
        let new = vision(1, 360, 196, 80); // −0.01 at 2/255, −0.05 at 8/255
        let comparison = check(&base, &new, &["delta:robust_accuracy.pgd-linf >= -0.02"]);
        let outcome = &comparison.gates[0];
        assert!(!outcome.passed);
        assert_eq!(outcome.points, 2);
        assert!((outcome.observed.unwrap() - (-0.05)).abs() < 1e-12);
        assert_eq!(format_dial(outcome.observed_at), "8/255");
        assert!(outcome.message.contains("the worst of 2 points"), "{}", outcome.message);
        let statuses: Vec<bool> =
            comparison.rows.iter().flat_map(|row| row.gates.iter().map(|g| g.passed)).collect();
        assert_eq!(statuses, [true, false]);
        // An upper gate takes the largest difference.
        let comparison = check(&base, &new, &["delta:robust_accuracy.pgd-linf < 0"]);
        assert!(comparison.gates[0].passed);
        assert!((comparison.gates[0].observed.unwrap() - (-0.01)).abs() < 1e-12);
    }

    #[test]
    fn a_gate_on_a_missing_metric_fails_saying_what_is_missing() {
        let base = vision(1, 360, 200, 100);
        let new = vision(1, 360, 200, 100);
        let message = |gate: &str, new: &Report| {
            let outcome = check(&base, new, &[gate]).gates.remove(0);
            assert!(!outcome.passed, "{gate}: {outcome:?}");
            assert_eq!(outcome.observed, None);
            outcome.message
        };
        assert_eq!(
            message("delta:robust_acc.pgd-linf > 0", &new),
            "metric `robust_acc` of step `pgd-linf` at 2/255 is missing in base.json"
        );
        assert_eq!(
            message("delta:robust_accuracy.pgd > 0", &new),
            "step `pgd` is missing in base.json"
        );
        assert_eq!(
            message("delta:robust_accuracy.pgd-linf@16/255 > 0", &new),
            "step `pgd-linf` has no point at 16/255 in base.json"
        );
        let mut without = new.clone();
        without.steps[1].points[1].metrics.remove("robust_accuracy");
        assert_eq!(
            message("delta:robust_accuracy.pgd-linf > -1", &without),
            "metric `robust_accuracy` of step `pgd-linf` at 8/255 is missing in new.json"
        );
        // A dial value NEW did not sweep: the gate reads 2/255 but cannot read 8/255.
        let mut fewer = new.clone();
        fewer.steps[1].points.pop();
        let outcome =
            check(&base, &fewer, &["delta:robust_accuracy.pgd-linf > -1"]).gates.remove(0);
        assert!(!outcome.passed);
        assert!(
            outcome.message.ends_with(
                "metric `robust_accuracy` of step `pgd-linf` at 8/255 is only in base.json"
            ),
            "{}",
            outcome.message
        );
    }

    #[test]
    fn different_scenarios_are_an_error_unless_allowed() {
        let base = vision(1, 360, 200, 100);
        let mut new = vision(1, 360, 200, 100);
        new.run.scenario_name = "vision-shift".into();
        let config = CompareConfig::with_labels("base.json", "new.json");
        let error = compare(&base, &new, &[], &config).unwrap_err();
        assert!(matches!(error, CompareError::DifferentScenarios { .. }));
        assert_eq!(
            error.to_string(),
            "the reports are of different scenarios: `vision` in base.json, `vision-shift` in new.json"
        );
        let mut config = config;
        config.allow_different_scenarios = true;
        let comparison = compare(&base, &new, &[], &config).unwrap();
        assert!(
            comparison.warnings[0].contains("different scenarios"),
            "{:?}",
            comparison.warnings
        );
    }

    #[test]
    fn an_unknown_major_version_is_an_error_naming_the_report() {
        let base = vision(1, 360, 200, 100);
        let mut new = vision(1, 360, 200, 100);
        new.format_version = "2.0".into();
        let error =
            compare(&base, &new, &[], &CompareConfig::with_labels("a.json", "b.json")).unwrap_err();
        assert_eq!(
            error,
            CompareError::UnsupportedVersion { label: "b.json".into(), version: "2.0".into() }
        );
        assert!(error.to_string().starts_with("b.json: report format version 2.0"), "{error}");
        new.format_version = "1.9".into();
        assert!(
            compare(&base, &new, &[], &CompareConfig::default()).is_ok(),
            "a newer minor reads"
        );
    }

    #[test]
    fn different_seeds_are_a_warning() {
        let comparison = check(&vision(1, 360, 200, 100), &vision(2, 360, 200, 100), &[]);
        assert_eq!(comparison.warnings.len(), 1);
        assert!(comparison.warnings[0].starts_with("the runs have different seeds (1 and 2)"));
    }

    #[test]
    fn contradictory_reports_are_errors() {
        let base = vision(1, 360, 200, 100);
        let mut twice = vision(1, 360, 200, 100);
        twice.steps.push(twice.steps[1].clone());
        let error = compare(&base, &twice, &[], &CompareConfig::default()).unwrap_err();
        assert_eq!(error.to_string(), "NEW: step `pgd-linf` appears more than once");
        let mut inverted = vision(1, 360, 200, 100);
        inverted.steps[0].points[0].metrics.insert(
            "ece".into(),
            Metric::new(0.1, 400, Some(Interval::new(0.2, 0.05, 0.95, IntervalMethod::Bootstrap))),
        );
        let error = compare(&inverted, &base, &[], &CompareConfig::default()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "BASE: metric `ece` of step `steady-state` at -: its interval's lower end 0.2 is above \
             its upper end 0.05"
        );
    }

    #[test]
    fn filters_keep_changed_or_significant_rows_and_failed_gates() {
        let base = vision(1, 360, 200, 100);
        let new = vision(1, 356, 196, 60);
        let mut comparison = check(&base, &new, &["delta:clean_accuracy.steady-state > -0.001"]);
        comparison.retain_rows(&RowFilter::new(true, false));
        assert_eq!(comparison.rows.len(), 3, "the dial means did not change");
        comparison.retain_rows(&RowFilter::new(false, true));
        let kept: Vec<&str> = comparison.rows.iter().map(|row| row.metric.as_str()).collect();
        // clean_accuracy (−0.01) is not significant but its gate failed; 8/255 (−0.1) is
        // significant.
        assert_eq!(kept, ["clean_accuracy", "robust_accuracy"]);
        assert_eq!(comparison.counts.paired, 5, "the counts stay");
    }
}
