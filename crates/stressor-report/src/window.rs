//! A system step's metrics per window: the whole run, the baseline and each fault or surge
//! window, so that reporters can show one row per window rather than one row of everything.
//!
//! A system step reports the whole run's metrics under plain names (`p99_ms`) and each window's
//! under `<metric>.<window>` (`p99_ms.surge`, `time_to_recover_s.surge`). The windows are the
//! step's [`Timeline`] windows plus `baseline`; a window that only appears in a metric name is
//! shown too, so nothing measured is left out.

use stressor_core::{Estimate, MetricValue, StepResult, Timeline, TimelineWindow};

/// The metrics a system step measures, in display order, with short labels. The whole run has
/// all of them; a window has those the engine measures per window.
pub(crate) const METRICS: [(&str, &str); 10] = [
    ("requests", "requests"),
    ("throughput", "throughput /s"),
    ("error_rate", "error rate"),
    ("p50_ms", "p50 ms"),
    ("p90_ms", "p90 ms"),
    ("p99_ms", "p99 ms"),
    ("p999_ms", "p99.9 ms"),
    ("max_ms", "max ms"),
    ("accuracy", "accuracy"),
    ("time_to_recover_s", "time to recover"),
];

/// The name of the window before the first fault or surge.
pub(crate) const BASELINE: &str = "baseline";

/// One row of a system step: the whole run or one window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window<'a> {
    /// The window's name, `None` for the whole run.
    pub(crate) name: Option<&'a str>,
    /// The timeline's span of that name (none for the whole run and the baseline).
    pub(crate) span: Option<&'a TimelineWindow>,
    step: &'a StepResult,
}

impl<'a> Window<'a> {
    /// The estimate of `metric` (a plain name from [`METRICS`]) in this window.
    pub(crate) fn metric(&self, metric: &str) -> Option<&'a Estimate> {
        let name = self.metric_name(metric);
        self.step.points.iter().find_map(|point| point.metric(&name))
    }

    /// The name `metric` has in the record for this window: `p99_ms` or `p99_ms.surge`.
    pub(crate) fn metric_name(&self, metric: &str) -> String {
        match self.name {
            None => metric.to_owned(),
            Some(window) => format!("{metric}.{window}"),
        }
    }

    /// The requests meant to start in this window: the whole run's `requests`, or the sample
    /// size behind a window's error rate (every request is counted there).
    pub(crate) fn requests(&self) -> Option<u64> {
        match self.name {
            None => self.metric("requests").and_then(|requests| {
                (requests.value.is_finite() && requests.value >= 0.0)
                    .then_some(requests.value as u64)
            }),
            Some(_) => self.metric("error_rate").or_else(|| self.metric("throughput")).map(|e| e.n),
        }
    }

    /// Whether this is the whole run.
    pub(crate) fn is_whole_run(&self) -> bool {
        self.name.is_none()
    }
}

/// The rows of system step `step`: the whole run first, then the baseline, then each window of
/// `timeline` in order, then any other window its metric names mention. The baseline and
/// windows known only from metric names appear only when they have a metric.
pub(crate) fn windows<'a>(step: &'a StepResult, timeline: Option<&'a Timeline>) -> Vec<Window<'a>> {
    let mut names: Vec<&'a str> = vec![BASELINE];
    let spans: &[TimelineWindow] = timeline.map_or(&[], |t| t.windows.as_slice());
    for span in spans {
        if !names.contains(&span.name.as_str()) {
            names.push(&span.name);
        }
    }
    for metric in metrics(step) {
        if let Some((_, window)) = split(&metric.name)
            && !names.contains(&window)
        {
            names.push(window);
        }
    }
    let mut rows = vec![Window { name: None, span: None, step }];
    for name in names {
        let span = spans.iter().find(|span| span.name == name);
        let row = Window { name: Some(name), span, step };
        if span.is_some() || METRICS.iter().any(|(metric, _)| row.metric(metric).is_some()) {
            rows.push(row);
        }
    }
    rows
}

/// The metrics of `step` that no window row shows, in order of appearance.
pub(crate) fn other_metrics(step: &StepResult) -> Vec<&MetricValue> {
    metrics(step)
        .filter(|metric| {
            !METRICS.iter().any(|(known, _)| *known == metric.name) && split(&metric.name).is_none()
        })
        .collect()
}

/// The short label of system metric `metric`.
pub(crate) fn label(metric: &str) -> &str {
    METRICS.iter().find(|(known, _)| *known == metric).map_or(metric, |(_, label)| label)
}

fn metrics(step: &StepResult) -> impl Iterator<Item = &MetricValue> {
    step.points.iter().flat_map(|point| &point.metrics)
}

/// `(metric, window)` for a per-window metric name such as `p99_ms.surge`; window names may
/// contain dots, metric names do not.
fn split(name: &str) -> Option<(&str, &str)> {
    let (metric, window) = name.split_once('.')?;
    METRICS.iter().any(|(known, _)| *known == metric).then_some((metric, window))
}
