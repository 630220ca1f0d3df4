//! Live readings of a systems run, once a second while the load runs (`Event::Live`, for the
//! dashboard): the last second's request rates, error rate, latency quantiles and accuracy,
//! the requests in flight, and notes when a scheduled fault or a surge starts or ends.
//!
//! They are read from stressor-load's lock-free [`LiveSnapshot`]s, so a reading costs a few
//! hundred atomic loads; the step's exact per-second `Timeline` is still built from the load
//! report at the end. Latencies here are of the answers that arrived in the second (to within
//! 12.5 %), where the timeline counts requests by intended start.

use stressor_core::{LiveSample, WindowKind};
use stressor_load::LiveSnapshot;
use stressor_load::recovery::surge_windows;

use crate::plan::SystemPlan;

/// Builds the readings of one run, one per call, from cumulative snapshots.
#[derive(Debug)]
pub(crate) struct LiveReadings {
    /// `(t_s, note)` in time order: the planned starts and ends of faults and surges.
    marks: Vec<(f64, String)>,
    next_mark: usize,
    previous: LiveSnapshot,
    previous_t_s: f64,
}

impl LiveReadings {
    pub(crate) fn new(plan: &SystemPlan) -> LiveReadings {
        let end = plan.profile.duration().as_secs_f64();
        let mut marks = Vec::new();
        for fault in &plan.faults {
            let name = &fault.toxic.name;
            let kind = fault.toxic.kind.type_name();
            let start = fault.start.as_secs_f64();
            marks.push((start, format!("fault `{name}` ({kind}) starts")));
            let stop = fault.stop.map_or(end, |stop| stop.as_secs_f64());
            marks.push((stop, format!("fault `{name}` ({kind}) ends")));
        }
        for window in surge_windows(&plan.profile, plan.baseline_rate()) {
            if window.kind == WindowKind::Surge {
                marks.push((window.start, format!("{} starts: {}", window.name, window.detail)));
                marks.push((window.stop, format!("{} ends", window.name)));
            }
        }
        marks.sort_by(|a, b| a.0.total_cmp(&b.0));
        LiveReadings { marks, next_mark: 0, previous: LiveSnapshot::default(), previous_t_s: 0.0 }
    }

    /// The reading at `t_s` seconds into the load from the cumulative counters `now`: values
    /// over the time since the previous reading, notes of the marks before `t_s` (all of them
    /// when `last`).
    pub(crate) fn read(&mut self, now: LiveSnapshot, t_s: f64, last: bool) -> LiveSample {
        let interval = now.since(&self.previous);
        let seconds = (t_s - self.previous_t_s).max(1e-3);
        let ratio = |a: u64, b: u64| if b == 0 { f64::NAN } else { a as f64 / b as f64 };
        let values = vec![
            ("requests_per_sec.ok".to_string(), interval.ok as f64 / seconds),
            ("requests_per_sec.failed".to_string(), interval.errors as f64 / seconds),
            ("error_rate".to_string(), ratio(interval.errors, interval.requests)),
            ("latency_ms.p50".to_string(), interval.latency_quantile_ms(0.5).unwrap_or(f64::NAN)),
            ("latency_ms.p99".to_string(), interval.latency_quantile_ms(0.99).unwrap_or(f64::NAN)),
            ("in_flight".to_string(), interval.in_flight as f64),
            ("accuracy".to_string(), ratio(interval.correct, interval.checked)),
        ];
        let mut notes = Vec::new();
        while let Some((at, note)) = self.marks.get(self.next_mark) {
            if !last && *at >= t_s {
                break;
            }
            notes.push(format!("{note} (planned at {at} s)"));
            self.next_mark += 1;
        }
        self.previous = now;
        self.previous_t_s = t_s;
        LiveSample { step_id: SystemPlan::STEP_ID.into(), t_s, values, notes }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use super::*;

    const SCENARIO: &str = r#"
name = "s"
[target]
kind = "builtin"
model = "fashion-cnn"
[data]
source = "builtin"
[system]
stages = ["2s@20", "1s@100", "7s@20"]
[[system.faults]]
name = "slow"
type = "latency"
attributes = { latency = 120 }
start = "4s"
stop = "5s"
[[system.faults]]
name = "errors"
type = "http_status"
attributes = { status = 503 }
start = "6s"
"#;

    #[test]
    fn readings_note_each_window_once_in_the_second_it_starts_or_ends() {
        let scenario =
            stressor_scenario::plan(SCENARIO, "s.toml".as_ref(), &[&crate::System]).unwrap();
        let plan = scenario.part::<SystemPlan>().unwrap();
        let mut readings = LiveReadings::new(plan);
        let mut notes = Vec::new();
        for second in 1..=9 {
            let sample = readings.read(LiveSnapshot::default(), f64::from(second), false);
            assert_eq!(sample.step_id, "system");
            assert_eq!(sample.values.len(), 7);
            // No request finished: rates are 0, ratios and quantiles missing.
            assert_eq!(sample.values[0], ("requests_per_sec.ok".to_string(), 0.0));
            assert!(sample.values[2].1.is_nan() && sample.values[3].1.is_nan());
            notes.extend(sample.notes.iter().map(|n| (second, n.clone())));
        }
        let last = readings.read(LiveSnapshot::default(), 10.02, true);
        notes.extend(last.notes.iter().map(|n| (10, n.clone())));
        let expected = [
            (3, "surge starts: 5× load (planned at 2 s)"),
            (4, "surge ends (planned at 3 s)"),
            (5, "fault `slow` (latency) starts (planned at 4 s)"),
            (6, "fault `slow` (latency) ends (planned at 5 s)"),
            (7, "fault `errors` (http_status) starts (planned at 6 s)"),
            (10, "fault `errors` (http_status) ends (planned at 10 s)"),
        ];
        let notes: Vec<(i32, &str)> = notes.iter().map(|(s, n)| (*s, n.as_str())).collect();
        assert_eq!(notes, expected);
    }
}
