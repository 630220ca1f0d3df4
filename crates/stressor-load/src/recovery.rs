//! Time to recover: after a surge or fault window, when a per-second series of a load run is
//! back within tolerance of its baseline for long enough. Shared by the families that load a
//! served system (the `[system]` and chatbot families) so they judge recovery the same way.
//!
//! - [`surge_windows`]: the stretches of an open [`Profile`] above [`SURGE_FACTOR`] × baseline;
//! - [`baseline_range`]: the seconds before the first window, the reference;
//! - [`window_metrics`]: a window's error rate, latency, throughput and accuracy;
//! - [`recoveries`]: per window, the first sustained stretch within the [`RecoveryPlan`]'s
//!   tolerances (p99, error rate, pooled accuracy) after the window ends.
//!
//! ```
//! use std::time::Duration;
//! use stressor_core::{TimelinePoint, TimelineWindow, WindowKind};
//! use stressor_load::recovery::{RecoveryPlan, baseline_range, recoveries};
//! let seconds: Vec<TimelinePoint> = (0..8)
//!     .map(|t| TimelinePoint { t: t as f64, requests: 10, ok: 10, p99_ms: Some(if t == 3 { 90.0 } else { 10.0 }), ..TimelinePoint::default() })
//!     .collect();
//! let window = TimelineWindow { name: "f".into(), kind: WindowKind::Fault, detail: "latency".into(), start: 2.0, stop: 3.0 };
//! let windows = [window];
//! let baseline = baseline_range(&windows, seconds.len());
//! let plan = RecoveryPlan { sustain: Duration::from_secs(2), ..RecoveryPlan::default() };
//! assert_eq!(recoveries(&seconds, &windows, baseline, &plan)[0].time_to_recover, Some(1.0));
//! ```

use std::time::Duration;

use stressor_core::{Estimate, Recovery, TimelinePoint, TimelineWindow, WindowKind};

use crate::Profile;

/// A surge is any stage whose rate rises above this multiple of the baseline rate.
pub const SURGE_FACTOR: f64 = 1.5;

/// Tolerances for "recovered".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecoveryPlan {
    /// How long the system must stay within tolerance.
    pub sustain: Duration,
    /// p99 at most this multiple of the baseline's …
    pub p99_ratio: f64,
    /// … or the baseline's plus this many ms, whichever is larger.
    pub p99_slack_ms: f64,
    /// Error rate at most the baseline's plus this.
    pub error_rate_slack: f64,
    /// Accuracy at least the baseline's minus this.
    pub accuracy_drop: f64,
}

impl Default for RecoveryPlan {
    fn default() -> Self {
        RecoveryPlan {
            sustain: Duration::from_secs(2),
            p99_ratio: 2.0,
            p99_slack_ms: 10.0,
            error_rate_slack: 0.01,
            accuracy_drop: 0.05,
        }
    }
}

/// The stretches where the arrival rate is above [`SURGE_FACTOR`] × the baseline, merged.
pub fn surge_windows(profile: &Profile, baseline: f64) -> Vec<TimelineWindow> {
    let Profile::Open { stages } = profile else {
        return Vec::new();
    };
    let mut windows: Vec<TimelineWindow> = Vec::new();
    let mut t = 0.0;
    for stage in stages {
        let end = t + stage.duration.as_secs_f64();
        if baseline > 0.0 && stage.start_rate.max(stage.end_rate) > SURGE_FACTOR * baseline {
            match windows.last_mut() {
                Some(last) if (last.stop - t).abs() < 1e-9 => last.stop = end,
                _ => windows.push(TimelineWindow {
                    name: "surge".into(),
                    kind: WindowKind::Surge,
                    detail: format!("{:.0}× load", stage.start_rate.max(stage.end_rate) / baseline),
                    start: t,
                    stop: end,
                }),
            }
        }
        t = end;
    }
    // One name per window: a second surge is `surge2`, and so on.
    for (i, window) in windows.iter_mut().enumerate().skip(1) {
        window.name = format!("surge{}", i + 1);
    }
    windows
}

/// The seconds before the first window (without the first, warm-up second when there are
/// others); the whole run when there is no window.
pub fn baseline_range(windows: &[TimelineWindow], n: usize) -> std::ops::Range<usize> {
    let first = windows.iter().map(|w| w.start).fold(f64::INFINITY, f64::min);
    let end = if first.is_finite() { (first.floor() as usize).min(n) } else { n };
    if end >= 2 { 1..end } else { 0..end }
}

/// For each window: the first second from its end on that starts a sustained stretch within
/// tolerance of the baseline.
pub fn recoveries(
    seconds: &[TimelinePoint],
    windows: &[TimelineWindow],
    baseline: std::ops::Range<usize>,
    plan: &RecoveryPlan,
) -> Vec<Recovery> {
    let base = &seconds[baseline.start.min(seconds.len())..baseline.end.min(seconds.len())];
    let requests: u64 = base.iter().map(|s| s.requests).sum();
    let errors: u64 = base.iter().map(|s| s.errors).sum();
    let checked: u64 = base.iter().map(|s| s.checked).sum();
    let correct: u64 = base.iter().map(|s| s.correct).sum();
    let mut p99s: Vec<f64> = base.iter().filter_map(|s| s.p99_ms).collect();
    p99s.sort_by(f64::total_cmp);
    // The median of the per-second p99s: one slow second does not set the bar.
    let base_p99 = p99s.get(p99s.len() / 2).copied();
    let base_error = if requests > 0 { errors as f64 / requests as f64 } else { 0.0 };
    let base_accuracy = (checked > 0).then(|| correct as f64 / checked as f64);
    let within = |s: &TimelinePoint| -> bool {
        if s.requests == 0 {
            return false;
        }
        let p99_ok = match (base_p99, s.p99_ms) {
            (Some(base), Some(p99)) => p99 <= (base * plan.p99_ratio).max(base + plan.p99_slack_ms),
            (None, _) => true,
            (Some(_), None) => false,
        };
        let error_ok = s.errors as f64 / s.requests as f64 <= base_error + plan.error_rate_slack;
        p99_ok && error_ok
    };
    // Accuracy is pooled over the stretch and judged by its Wilson upper bound: a second's few
    // dozen answers vary by several points by chance alone, so only evidence of a drop counts.
    let accurate = |stretch: &[TimelinePoint]| -> bool {
        let Some(base) = base_accuracy else {
            return true;
        };
        let checked: u64 = stretch.iter().map(|s| s.checked).sum();
        let correct: u64 = stretch.iter().map(|s| s.correct).sum();
        if checked == 0 {
            return false;
        }
        let upper = Estimate::proportion(correct, checked).ci.map_or(1.0, |ci| ci.upper);
        upper >= base - plan.accuracy_drop
    };
    let sustain = (plan.sustain.as_secs_f64().ceil() as usize).max(1);
    windows
        .iter()
        .map(|window| {
            let end = window.stop;
            let first = (end.floor() as usize).min(seconds.len());
            let recovered = (first..seconds.len()).find(|&k| {
                k + sustain <= seconds.len()
                    && seconds[k..k + sustain].iter().all(within)
                    && accurate(&seconds[k..k + sustain])
            });
            let recovered_at = recovered.map(|k| (k as f64).max(end));
            Recovery {
                window: window.name.clone(),
                window_end: end,
                recovered_at,
                time_to_recover: recovered_at.map(|t| t - end),
            }
        })
        .collect()
}

/// A window's metrics from a load run's seconds `range`, named with the window as a suffix:
/// `error_rate.<name>`, `p50_ms.<name>`, `p99_ms.<name>`, `throughput.<name>` (answered
/// requests per second) and, when answers were checked, `accuracy.<name>`.
pub fn window_metrics(
    report: &crate::LoadReport,
    range: std::ops::Range<usize>,
    name: &str,
) -> Vec<stressor_core::MetricValue> {
    let seconds = &report.timeline
        [range.start.min(report.timeline.len())..range.end.min(report.timeline.len())];
    let requests: u64 = seconds.iter().map(|s| s.requests).sum();
    let errors: u64 = seconds.iter().map(|s| s.errors).sum();
    let checked: u64 = seconds.iter().map(|s| s.checked).sum();
    let correct: u64 = seconds.iter().map(|s| s.correct).sum();
    let mut latency: hdrhistogram::Histogram<u64> =
        match hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 2) {
            Ok(h) => h,
            Err(_) => return Vec::new(),
        };
    for second in seconds {
        for value in second.latency.iter_recorded() {
            let _ = latency.record_n(value.value_iterated_to(), u64::from(value.count_at_value()));
        }
    }
    let span = seconds.len().max(1) as f64;
    let mut out = vec![
        window_metric(&format!("error_rate.{name}"), Estimate::proportion(errors, requests)),
        window_metric(&format!("p50_ms.{name}"), crate::latency_quantile(&latency, 0.5)),
        window_metric(&format!("p99_ms.{name}"), crate::latency_quantile(&latency, 0.99)),
        window_metric(
            &format!("throughput.{name}"),
            Estimate { value: (requests - errors) as f64 / span, n: requests, ci: None },
        ),
    ];
    if checked > 0 {
        out.push(window_metric(
            &format!("accuracy.{name}"),
            Estimate::proportion(correct, checked),
        ));
    }
    out
}

fn window_metric(name: &str, estimate: Estimate) -> stressor_core::MetricValue {
    stressor_core::MetricValue { name: name.to_owned(), estimate }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::Stage;

    fn second(t: usize, p99: f64, errors: u64, correct: u64) -> TimelinePoint {
        TimelinePoint {
            t: t as f64,
            requests: 10,
            ok: 10 - errors,
            errors,
            p99_ms: Some(p99),
            checked: 10 - errors,
            correct,
        }
    }

    #[test]
    fn surges_are_the_stages_above_the_baseline() {
        let profile = Profile::Open {
            stages: vec![
                Stage::constant(Duration::from_secs(5), 10.0),
                Stage::constant(Duration::from_secs(3), 100.0),
                Stage::ramp(Duration::from_secs(2), 100.0, 10.0),
                Stage::constant(Duration::from_secs(5), 10.0),
            ],
        };
        let windows = surge_windows(&profile, 10.0);
        assert_eq!(windows.len(), 1);
        assert_eq!((windows[0].start, windows[0].stop), (5.0, 10.0));
        assert_eq!(windows[0].detail, "10× load");
    }

    #[test]
    fn recovery_is_the_first_sustained_stretch_back_within_tolerance() {
        // Baseline p99 10 ms; a fault over [3, 5); latency stays high until second 7.
        let mut seconds: Vec<TimelinePoint> = (0..12).map(|t| second(t, 10.0, 0, 9)).collect();
        for s in &mut seconds[3..7] {
            s.p99_ms = Some(100.0);
        }
        seconds[8].p99_ms = Some(100.0); // A relapse: the stretch from 7 is not sustained.
        let window = TimelineWindow {
            name: "f".into(),
            kind: WindowKind::Fault,
            detail: "latency".into(),
            start: 3.0,
            stop: 5.0,
        };
        let plan = RecoveryPlan { sustain: Duration::from_secs(2), ..RecoveryPlan::default() };
        let baseline = baseline_range(std::slice::from_ref(&window), seconds.len());
        assert_eq!(baseline, 1..3);
        let recovery =
            &recoveries(&seconds, std::slice::from_ref(&window), baseline.clone(), &plan)[0];
        assert_eq!(recovery.recovered_at, Some(9.0));
        assert_eq!(recovery.time_to_recover, Some(4.0));

        // Never leaving tolerance recovers at once; errors and accuracy count too.
        let calm: Vec<TimelinePoint> = (0..12).map(|t| second(t, 10.0, 0, 9)).collect();
        assert_eq!(
            recoveries(&calm, std::slice::from_ref(&window), baseline.clone(), &plan)[0]
                .time_to_recover,
            Some(0.0)
        );
        let mut failing = calm.clone();
        failing[5] = second(5, 10.0, 3, 6);
        assert_eq!(
            recoveries(&failing, std::slice::from_ref(&window), baseline.clone(), &plan)[0]
                .recovered_at,
            Some(6.0)
        );
        // Accuracy counts when the stretch's pooled accuracy is clearly below the baseline's
        // (0.9): 12 of 20 correct is, 17 of 20 is not.
        let mut wrong = calm.clone();
        wrong[5] = second(5, 10.0, 0, 0);
        wrong[6] = second(6, 10.0, 0, 3);
        let at = |s: &[TimelinePoint]| {
            recoveries(s, std::slice::from_ref(&window), baseline.clone(), &plan)[0].recovered_at
        };
        assert_eq!(at(&wrong), Some(7.0));
        let mut noisy = calm.clone();
        noisy[5] = second(5, 10.0, 0, 8);
        noisy[6] = second(6, 10.0, 0, 9);
        assert_eq!(at(&noisy), Some(5.0));
        // Running out of seconds is "not recovered".
        let mut late = calm;
        for s in late.iter_mut().skip(4) {
            s.p99_ms = Some(500.0);
        }
        assert_eq!(
            recoveries(&late, std::slice::from_ref(&window), baseline, &plan)[0].time_to_recover,
            None
        );
    }
}
