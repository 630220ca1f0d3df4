//! Hand-built reports for the unit tests.

use stressor_core::wilson_interval;
use stressor_schema::{
    DataSection, Interval, IntervalMethod, Metric, Point, Report, RunSection, Step, StepKind,
    TargetSection, Verdict,
};

/// A report of scenario `scenario` with `seed` and no steps.
pub(crate) fn report(scenario: &str, seed: u64) -> Report {
    Report::new(
        "0.1.0",
        RunSection::new(scenario, format!("{scenario}.toml"), seed, Verdict::Pass),
        TargetSection::new("cnn", "builtin"),
        DataSection::new("fashion-mnist", 400),
    )
}

/// A proportion `successes / n` with its Wilson interval, as reports write it.
pub(crate) fn proportion(successes: u64, n: u64) -> Metric {
    let ci = wilson_interval(successes, n, 0.95);
    Metric::new(
        successes as f64 / n as f64,
        n,
        Some(Interval::new(ci.lower, ci.upper, 0.95, IntervalMethod::Wilson)),
    )
}

/// An attack step `id` with one point per `(dial, robust successes of 400)`.
pub(crate) fn attack(id: &str, points: &[(f64, u64)]) -> Step {
    let mut step = Step::new(id, StepKind::Attack, "PGD");
    for &(dial, robust) in points {
        let mut point = Point::new(Some(dial));
        point.metrics.insert("robust_accuracy".into(), proportion(robust, 400));
        point.metrics.insert("perturbation_linf_mean".into(), Metric::new(dial, 400, None));
        step.points.push(point);
    }
    step
}

/// The steady state with a clean accuracy of `correct` of 400.
pub(crate) fn steady(correct: u64) -> Step {
    let mut step = Step::new("steady-state", StepKind::SteadyState, "clean");
    let mut point = Point::new(None);
    point.metrics.insert("clean_accuracy".into(), proportion(correct, 400));
    step.points.push(point);
    step
}

/// A vision-like report: the steady state and a PGD sweep at 2/255 and 8/255.
pub(crate) fn vision(seed: u64, clean: u64, robust_2: u64, robust_8: u64) -> Report {
    let mut report = report("vision", seed);
    report.steps.push(steady(clean));
    report.steps.push(attack("pgd-linf", &[(2.0 / 255.0, robust_2), (8.0 / 255.0, robust_8)]));
    report
}
