//! Formatting numbers and looking up metrics, shared by the text reporters.

use stressor_core::{
    Comparison, Estimate, Gate, GateBound, GateOutcome, RunInfo, StepPoint, StepResult,
};

use crate::RunRecord;

/// Metric names the engine emits, in display order, with short labels.
pub(crate) const KNOWN_METRICS: [(&str, &str); 55] = [
    ("clean_accuracy", "clean acc"),
    ("robust_accuracy", "robust acc"),
    ("accuracy", "accuracy"),
    ("accuracy_drop", "drop"),
    ("corruption_error", "CE"),
    ("mean_corruption_error", "mCE"),
    ("relative_mean_corruption_error", "relative mCE"),
    ("baseline_accuracy", "baseline acc"),
    ("attack_success_rate", "success"),
    ("perturbation_linf_mean", "L∞ mean"),
    ("perturbation_linf_median", "L∞ median"),
    ("perturbation_l2_mean", "L2 mean"),
    ("perturbation_l2_median", "L2 median"),
    ("queries_per_success_mean", "queries mean"),
    ("queries_per_success_median", "queries median"),
    ("ece", "ECE"),
    ("ece_equal_mass", "ECE (equal mass)"),
    ("max_calibration_error", "MCE"),
    ("brier", "Brier"),
    ("nll", "NLL"),
    ("error_auroc", "AUROC (errors)"),
    ("aurc", "AURC"),
    ("temperature", "T"),
    ("ece_scaled", "ECE (T-scaled)"),
    ("nll_scaled", "NLL (T-scaled)"),
    ("brier_scaled", "Brier (T-scaled)"),
    ("conformal_coverage", "coverage"),
    ("mean_set_size", "set size"),
    ("fallback_rate", "fallback"),
    ("best_member_accuracy", "best member"),
    ("ensemble_gain", "gain vs best"),
    ("member_disagreement", "disagree"),
    ("ctr", "CTR"),
    ("conversion_rate", "conversion"),
    ("ndcg", "NDCG@k"),
    ("cache_hit_rate", "cache hits"),
    ("fallback_share", "fallback share"),
    ("error_rate", "error rate"),
    ("revenue_per_hour", "revenue /h"),
    ("p99_ms", "p99 ms"),
    ("revenue_lost", "revenue lost"),
    ("ctr_drop", "CTR drop"),
    ("time_to_mitigate_s", "time to mitigate (s)"),
    ("rto_s", "RTO (s)"),
    ("answered_accuracy", "acc answered"),
    ("handoff_rate", "handoff"),
    ("coverage", "answered share"),
    ("invariance_failure_rate", "INV fail"),
    ("oos_recall", "off-topic → human"),
    ("false_handoff_rate", "needless handoff"),
    ("rule_rate", "by rules"),
    ("utility", "utility"),
    ("agreement", "agreement"),
    ("degradation_score", "degradation score"),
    ("unmapped_rate", "unmapped"),
];

/// Metrics about calibration and uncertainty, shown in their own table.
pub(crate) fn is_calibration(name: &str) -> bool {
    matches!(
        name,
        "ece"
            | "ece_equal_mass"
            | "max_calibration_error"
            | "brier"
            | "nll"
            | "error_auroc"
            | "aurc"
            | "temperature"
            | "ece_scaled"
            | "nll_scaled"
            | "brier_scaled"
            | "conformal_coverage"
            | "mean_set_size"
            | "fallback_rate"
    )
}

/// The accuracy a stress step is judged by: `robust_accuracy` for attacks, `accuracy` for
/// corruptions and lighting.
pub(crate) fn stressed_accuracy(step: &StepResult) -> &'static str {
    if step.points.iter().any(|p| p.metric("robust_accuracy").is_some()) {
        "robust_accuracy"
    } else {
        "accuracy"
    }
}

/// The metric names present in any of `points`: known ones in display order, then the others
/// in order of appearance.
pub(crate) fn metric_names(points: &[StepPoint]) -> Vec<&str> {
    let mut names: Vec<&str> = KNOWN_METRICS
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| points.iter().any(|point| point.metric(name).is_some()))
        .collect();
    for point in points {
        for metric in &point.metrics {
            if !names.contains(&metric.name.as_str()) {
                names.push(&metric.name);
            }
        }
    }
    names
}

/// The columns and rows of a comparison step (a mitigation's before/after/delta, an ensemble's
/// transfer matrix): `Some` when every metric is named `<column>:<row>`, in order of appearance.
pub(crate) fn comparison(step: &StepResult) -> Option<(Vec<&str>, Vec<&str>)> {
    let metrics: Vec<&str> =
        step.points.iter().flat_map(|p| &p.metrics).map(|m| m.name.as_str()).collect();
    if metrics.is_empty() {
        return None;
    }
    let (mut columns, mut rows) = (Vec::new(), Vec::new());
    for name in metrics {
        let (column, row) = name.split_once(':')?;
        if !columns.contains(&column) {
            columns.push(column);
        }
        if !rows.contains(&row) {
            rows.push(row);
        }
    }
    Some((columns, rows))
}

/// Whether `step` measures a mitigated model: its id is `<mitigation>/<step>` for a mitigation
/// step in `record`. Reporters show these under their mitigation's comparison.
pub(crate) fn is_mitigated(record: &RunRecord, step: &StepResult) -> bool {
    record.steps.iter().any(|m| {
        m.info.kind == stressor_core::StepKind::Mitigation
            && step
                .info
                .id
                .strip_prefix(m.info.id.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// The value of comparison cell (`column`, `row`) in `step`.
pub(crate) fn comparison_cell<'a>(
    step: &'a StepResult,
    column: &str,
    row: &str,
) -> Option<&'a Estimate> {
    let name = format!("{column}:{row}");
    step.points.iter().find_map(|p| p.metric(&name))
}

/// A comparison row's metric, which decides its formatting: the name up to the first `.`
/// (`robust_accuracy.pgd@0.1` is a `robust_accuracy`).
pub(crate) fn row_metric(row: &str) -> &str {
    row.split_once('.').map_or(row, |(metric, _)| metric)
}

/// A comparison row for people: `robust acc · pgd@0.1`.
pub(crate) fn row_label(row: &str) -> String {
    match row.split_once('.') {
        Some((metric, rest)) => format!("{} · {rest}", metric_label(metric)),
        None => metric_label(row).to_owned(),
    }
}

/// A short label for a metric name.
pub(crate) fn metric_label(name: &str) -> &str {
    if let Some(member) = name.strip_prefix("member_accuracy.") {
        return member;
    }
    KNOWN_METRICS.iter().find(|(known, _)| *known == name).map_or(name, |(_, label)| label)
}

/// Whether a metric is a proportion in [0, 1].
///
/// A system step's per-window metric is what its metric is: `error_rate.surge` is a proportion.
pub(crate) fn is_proportion(name: &str) -> bool {
    if let Some((metric, _)) = name.split_once('.')
        && (crate::window::METRICS.iter().any(|(known, _)| *known == metric)
            || is_proportion(metric))
    {
        return is_proportion(metric);
    }
    name.ends_with("accuracy")
        || name.starts_with("member_accuracy.")
        || matches!(name, "member_disagreement" | "ensemble_gain")
        || name.ends_with("_rate")
        || name.ends_with("_share")
        || name == "ndcg"
        || name.starts_with("ece")
        || matches!(name, "accuracy_drop" | "conformal_coverage" | "max_calibration_error")
        || matches!(
            name,
            "coverage" | "oos_recall" | "utility" | "agreement" | "auroc" | "fpr_at_95_tpr"
        )
}

/// A value for people: three decimals for proportions, four significant digits otherwise,
/// `n/a` when it is not a number.
pub(crate) fn value(name: &str, value: f64) -> String {
    if !value.is_finite() {
        "n/a".to_owned()
    } else if is_proportion(name) {
        format!("{value:.3}")
    } else {
        significant(value, 4)
    }
}

/// Whether `estimate` of metric `name` is a count: an exact quantity (no interval, as
/// [`Estimate::exact`] makes) whose value is a whole number, and not a proportion.
///
/// Rates and durations (`throughput`, `max_ms`, `time_to_recover_s`) are measured in a unit
/// and keep their decimals, so that a column of them reads alike.
pub(crate) fn is_count(name: &str, estimate: &Estimate) -> bool {
    estimate.ci.is_none() && is_whole(name, estimate.value)
}

/// The value of `estimate` for people: a count as an integer (`3`), anything else as
/// [`value`] writes it.
pub(crate) fn estimate_value(name: &str, estimate: &Estimate) -> String {
    if is_count(name, estimate) { integer(estimate.value) } else { value(name, estimate.value) }
}

/// Whether `value` of metric `name` is a whole number of something counted, not a proportion
/// or a measurement in a unit.
fn is_whole(name: &str, value: f64) -> bool {
    let metric = name.split_once('.').map_or(name, |(metric, _)| metric);
    let measured = metric == "throughput" || metric.ends_with("_ms") || metric.ends_with("_s");
    value.is_finite()
        && value.fract() == 0.0
        && value.abs() < 1e15
        && !measured
        && !is_proportion(name)
}

fn integer(value: f64) -> String {
    // `+ 0.0` turns a negative zero into a positive one.
    format!("{:.0}", value + 0.0)
}

/// A value and its interval: `0.612 [0.581, 0.642]`; a count without one: `3`.
pub(crate) fn estimate(name: &str, estimate: &Estimate) -> String {
    let mut text = estimate_value(name, estimate);
    if let Some(ci) = estimate.ci {
        text.push_str(&format!(" [{}, {}]", value(name, ci.lower), value(name, ci.upper)));
    }
    text
}

/// An amount of money or another large quantity: whole units with thousands separators
/// (`12,346`) from 100 up, two decimals below (`12.35`), `n/a` when it is not a number.
pub(crate) fn amount(value: f64) -> String {
    if !value.is_finite() {
        return "n/a".to_owned();
    }
    if value.abs() < 100.0 {
        return format!("{:.2}", value + 0.0);
    }
    let digits = format!("{:.0}", value.abs());
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if value < 0.0 { format!("-{grouped}") } else { grouped }
}

/// A span of time in seconds for people: `45.0 s` below two minutes, `15.5 min` from there,
/// `n/a` when it is not a number.
pub(crate) fn duration_s(seconds: f64) -> String {
    if !seconds.is_finite() {
        "n/a".to_owned()
    } else if seconds.abs() < 120.0 {
        format!("{:.1} s", seconds + 0.0)
    } else {
        format!("{:.1} min", seconds / 60.0)
    }
}

/// A time from the start of an exercise as a clock reads: `1:05` (hours and minutes), or
/// `1:05:30` with `seconds`; `–` when it is not a number. Negative times keep their sign.
pub(crate) fn clock(t_s: f64, seconds: bool) -> String {
    if !t_s.is_finite() {
        return "–".to_owned();
    }
    let sign = if t_s < 0.0 { "-" } else { "" };
    // Whole seconds, or whole minutes, rounded down, so a time never reads later than it was.
    let total = t_s.abs().min(1e12).floor() as u64;
    let (hours, minutes, secs) = (total / 3600, total % 3600 / 60, total % 60);
    if seconds {
        format!("{sign}{hours}:{minutes:02}:{secs:02}")
    } else {
        format!("{sign}{hours}:{minutes:02}")
    }
}

/// A dial value (`0.0314`): three significant digits, at least four decimals below 1.
pub(crate) fn dial(value: f64) -> String {
    if value.is_finite() && value.abs() < 1.0 && value.abs() >= 1e-3 || value == 0.0 {
        format!("{value:.4}")
    } else {
        significant(value, 3)
    }
}

/// `value` with `digits` significant digits, in plain notation.
pub(crate) fn significant(value: f64, digits: i32) -> String {
    if !value.is_finite() {
        return "n/a".to_owned();
    }
    if value == 0.0 {
        return "0".to_owned();
    }
    let magnitude = value.abs().log10().floor() as i32;
    let decimals = (digits - 1 - magnitude).clamp(0, 12);
    format!("{value:.prec$}", prec = decimals as usize)
}

/// The name of class `label`, or the label itself when the target has no name for it.
pub(crate) fn class_name(info: &RunInfo, label: u32) -> String {
    usize::try_from(label)
        .ok()
        .and_then(|index| info.class_names.get(index))
        .cloned()
        .unwrap_or_else(|| label.to_string())
}

/// The point with the largest dial value, or the last point when no point has one.
pub(crate) fn largest_dial_point(step: &StepResult) -> Option<&StepPoint> {
    step.points
        .iter()
        .filter(|point| point.dial_value.is_some_and(f64::is_finite))
        .max_by(|a, b| a.dial_value.unwrap_or(0.0).total_cmp(&b.dial_value.unwrap_or(0.0)))
        .or_else(|| step.points.last())
}

/// A gate's condition: `robust_accuracy >= 0.300` plus `(lower CI bound)` where it applies;
/// a whole threshold on a count is an integer (`retrains <= 2`).
pub(crate) fn gate_condition(gate: &Gate) -> String {
    let comparison = match gate.comparison {
        Comparison::AtLeast => ">=",
        Comparison::AtMost => "<=",
    };
    let bound = match gate.bound {
        GateBound::Value => "",
        GateBound::Lower => " (lower CI bound)",
        GateBound::Upper => " (upper CI bound)",
    };
    let threshold = if is_whole(&gate.metric, gate.threshold) {
        integer(gate.threshold)
    } else {
        value(&gate.metric, gate.threshold)
    };
    format!("{comparison} {threshold}{bound}")
}

/// The dial name of step `step_id` (`epsilon`), or `dial` when the step has none or is unknown.
pub(crate) fn dial_name<'a>(record: &'a RunRecord, step_id: &str) -> &'a str {
    record
        .steps
        .iter()
        .find(|step| step.info.id == step_id)
        .and_then(|step| step.info.dial_name.as_deref())
        .unwrap_or("dial")
}

/// `observed 0.120 [0.100, 0.140] at epsilon=0.0310`, or `observed nothing`.
pub(crate) fn gate_observation(record: &RunRecord, outcome: &GateOutcome) -> String {
    let Some(observed) = &outcome.observed else {
        return format!("observed nothing ({} was not produced)", outcome.gate.metric);
    };
    let mut text = format!("observed {}", estimate(&outcome.gate.metric, observed));
    if let Some(at) = outcome.observed_at {
        let name = dial_name(record, &outcome.gate.step_id);
        text.push_str(&format!(" at {name}={}", dial(at)));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(value("robust_accuracy", 0.61234), "0.612");
        assert_eq!(value("robust_accuracy", f64::NAN), "n/a");
        assert_eq!(value("perturbation_linf_mean", 0.0039216), "0.003922");
        assert_eq!(value("queries_per_success_mean", 1523.4), "1523");
        assert_eq!(dial(0.01), "0.0100");
        assert_eq!(dial(8.0 / 255.0), "0.0314");
        assert_eq!(dial(0.0), "0.0000");
        assert_eq!(dial(0.5), "0.5000");
        assert_eq!(dial(2.0), "2.00");
        assert_eq!(significant(0.000123456, 3), "0.000123");
    }

    #[test]
    fn amounts_and_durations_read_well() {
        assert_eq!(amount(1_234_567.4), "1,234,567");
        assert_eq!(amount(-12_345.6), "-12,346");
        assert_eq!(amount(100.0), "100");
        assert_eq!(amount(999.5), "1,000");
        assert_eq!(amount(12.345), "12.35");
        assert_eq!(amount(-0.0), "0.00");
        assert_eq!(amount(f64::NAN), "n/a");
        assert_eq!(duration_s(45.04), "45.0 s");
        assert_eq!(duration_s(0.0), "0.0 s");
        assert_eq!(duration_s(930.0), "15.5 min");
        assert_eq!(duration_s(f64::INFINITY), "n/a");
    }

    #[test]
    fn counts_print_as_integers() {
        assert_eq!(estimate("retrains", &Estimate::exact(3.0, 30)), "3");
        assert_eq!(estimate("false_alarms", &Estimate::exact(0.0, 30)), "0");
        assert_eq!(estimate("false_alarms", &Estimate::exact(-0.0, 30)), "0");
        assert_eq!(estimate_value("requests", &Estimate::exact(1523.0, 1523)), "1523");
        // Not counts: a fraction, a proportion, an estimate with an interval, NaN ("never").
        assert_eq!(estimate("accuracy_lost", &Estimate::exact(1.5, 30)), "1.500");
        assert_eq!(estimate("ece", &Estimate::exact(0.0, 30)), "0.000");
        assert_eq!(estimate("worst_accuracy", &Estimate::exact(1.0, 30)), "1.000");
        assert_eq!(estimate("time_to_recover_steps", &Estimate::exact(f64::NAN, 30)), "n/a");
        assert_eq!(estimate("time_to_recover_s", &Estimate::exact(f64::INFINITY, 1)), "n/a");
        // Rates and durations keep their decimals; a window's error rate is a proportion.
        assert_eq!(estimate("throughput", &Estimate::exact(20.0, 40)), "20.00");
        assert_eq!(estimate("time_to_recover_s.surge", &Estimate::exact(1.0, 1)), "1.000");
        assert_eq!(value("error_rate.surge", 0.05), "0.050");
        // Recommender shares are proportions; a CTR keeps four significant digits.
        assert_eq!(
            estimate("fallback_share", &Estimate::proportion(0, 10)),
            "0.000 [0.000, 0.278]"
        );
        assert_eq!(value("ndcg", 0.61234), "0.612");
        assert_eq!(value("ctr", 0.021345), "0.02134");
        let mean = Estimate::mean(&[2.0, 4.0], stressor_core::Seed::new(1));
        assert!(estimate("retrain_wall_ms", &mean).starts_with("3.000 ["));
    }
}
