//! A recommender family's runs, shared by the HTML report and the summary: each recommender
//! step with its [`RecsysTimeline`], references first, and what the reports derive from the
//! timelines (the baseline's revenue per hour, the fault windows, each RTO against the maximum
//! tolerable downtime, buckets merged for charts).

use stressor_core::{
    Estimate, FaultImpact, RecsysPoint, RecsysTimeline, StepKind, StepResult, TimelineWindow,
};

use crate::RunRecord;

/// The reference run whose revenue the losses are set against.
pub(crate) const BASELINE: &str = "baseline";

/// One recommender step: a policy under the faults or a reference run without them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run<'a> {
    pub(crate) step: &'a StepResult,
    /// Its timeline, `None` when the family sent none.
    pub(crate) timeline: Option<&'a RecsysTimeline>,
}

/// The baseline reference's revenue over the simulated time it ran.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BaselineRevenue {
    /// Revenue over the whole run, in price units.
    pub(crate) total: f64,
    /// Simulated hours the run covered.
    pub(crate) hours: f64,
}

/// How a measured RTO compares with the maximum tolerable downtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tolerance {
    /// Recovered within the tolerable downtime.
    Met,
    /// Recovered, but later than the tolerable downtime.
    Exceeded,
    /// Not recovered by the end of the run, which came later than the tolerable downtime.
    ExceededByTheEnd,
    /// Not recovered by the end of the run, which came before the tolerable downtime ran out.
    Unknown,
    /// The scenario states no tolerable downtime.
    NotStated,
}

impl<'a> Run<'a> {
    /// The policy's or the reference's name (the step id when there is no timeline).
    pub(crate) fn policy(&self) -> &'a str {
        self.timeline.map_or(self.step.info.id.as_str(), |t| t.policy.as_str())
    }

    /// Whether this is a reference run without faults.
    pub(crate) fn is_reference(&self) -> bool {
        self.timeline.is_some_and(|t| t.reference)
    }

    /// The step's metric `name`.
    pub(crate) fn metric(&self, name: &str) -> Option<&'a Estimate> {
        self.step.points.iter().find_map(|point| point.metric(name))
    }

    /// The fault impacts of this run (none for references and runs without a timeline).
    pub(crate) fn impacts(&self) -> &'a [FaultImpact] {
        self.timeline.map_or(&[], |t| t.impacts.as_slice())
    }

    /// The longest RTO over the fault windows: `None` without windows, `Some(None)` when some
    /// window was not recovered from by the end of the run.
    pub(crate) fn worst_rto(&self) -> Option<Option<f64>> {
        let impacts = self.impacts();
        if impacts.is_empty() {
            return None;
        }
        Some(impacts.iter().try_fold(0.0_f64, |worst, impact| Some(worst.max(impact.rto?))))
    }
}

impl BaselineRevenue {
    /// Revenue per simulated hour, NaN when the run covered no time.
    pub(crate) fn per_hour(&self) -> f64 {
        if self.hours > 0.0 { self.total / self.hours } else { f64::NAN }
    }
}

/// The recommender steps of `record` with their timelines: the references first, then the
/// policies, each group in run order.
pub(crate) fn runs(record: &RunRecord) -> Vec<Run<'_>> {
    let mut runs: Vec<Run<'_>> = record
        .steps
        .iter()
        .filter(|step| step.info.kind == StepKind::Recommender)
        .map(|step| Run {
            step,
            timeline: record.recsys_timelines.iter().find(|t| t.step_id == step.info.id),
        })
        .collect();
    // A stable sort keeps the run order within each group.
    runs.sort_by_key(|run| !run.is_reference());
    runs
}

/// The revenue of the `baseline` reference run, `None` when there is none.
pub(crate) fn baseline_revenue(runs: &[Run<'_>]) -> Option<BaselineRevenue> {
    let timeline = runs
        .iter()
        .filter(|run| run.is_reference() && run.policy() == BASELINE)
        .find_map(|r| r.timeline)?;
    Some(BaselineRevenue {
        total: timeline.points.iter().map(|p| p.revenue).sum(),
        hours: span_s(timeline) / 3600.0,
    })
}

/// Seconds of simulated time a timeline covers: from its first bucket's start to its last
/// bucket's end.
pub(crate) fn span_s(timeline: &RecsysTimeline) -> f64 {
    match (timeline.points.first(), timeline.points.last()) {
        (Some(first), Some(last)) => last.t + timeline.bucket_s - first.t,
        _ => 0.0,
    }
}

/// The fault windows of every policy run, each once (by name and span), in order of
/// appearance.
pub(crate) fn fault_windows<'a>(runs: &[Run<'a>]) -> Vec<&'a TimelineWindow> {
    let mut windows: Vec<&TimelineWindow> = Vec::new();
    for window in runs.iter().filter_map(|run| run.timeline).flat_map(|t| &t.windows) {
        let seen = windows
            .iter()
            .any(|w| w.name == window.name && w.start == window.start && w.stop == window.stop);
        if !seen {
            windows.push(window);
        }
    }
    windows
}

/// The names of the windows that have a fault impact in any run, in order of appearance.
pub(crate) fn impact_windows<'a>(runs: &[Run<'a>]) -> Vec<&'a str> {
    let mut names: Vec<&str> = Vec::new();
    for impact in runs.iter().flat_map(Run::impacts) {
        if !names.contains(&impact.window.as_str()) {
            names.push(&impact.window);
        }
    }
    names
}

/// How `impact`'s measured RTO compares with `timeline`'s maximum tolerable downtime.
pub(crate) fn tolerance(impact: &FaultImpact, timeline: &RecsysTimeline) -> Tolerance {
    let Some(tolerable) = timeline.max_tolerable_downtime_s else { return Tolerance::NotStated };
    match impact.rto {
        Some(rto) if rto <= tolerable => Tolerance::Met,
        Some(_) => Tolerance::Exceeded,
        None => {
            let end = timeline.points.first().map_or(0.0, |first| first.t) + span_s(timeline);
            if end - impact.stop > tolerable {
                Tolerance::ExceededByTheEnd
            } else {
                Tolerance::Unknown
            }
        }
    }
}

/// `points` with every `per` consecutive buckets merged into one, so a chart stays small:
/// counts, revenue and NDCG summed, the latencies the worst of the merged buckets', the
/// freshness lag the mean weighted by feature reads.
pub(crate) fn merged(points: &[RecsysPoint], per: usize) -> Vec<RecsysPoint> {
    if per <= 1 {
        return points.to_vec();
    }
    points
        .chunks(per)
        .map(|chunk| {
            let worst = |value: fn(&RecsysPoint) -> Option<f64>| {
                chunk.iter().filter_map(value).reduce(f64::max)
            };
            let lags: Vec<(f64, f64)> = chunk
                .iter()
                .filter_map(|p| Some((p.freshness_lag_s?, p.feature_reads as f64)))
                .collect();
            let reads: f64 = lags.iter().map(|(_, reads)| reads).sum();
            let freshness_lag_s = match (lags.is_empty(), reads > 0.0) {
                (true, _) => None,
                (false, true) => Some(lags.iter().map(|(lag, n)| lag * n).sum::<f64>() / reads),
                (false, false) => {
                    Some(lags.iter().map(|(lag, _)| lag).sum::<f64>() / lags.len() as f64)
                }
            };
            RecsysPoint {
                t: chunk[0].t,
                requests: chunk.iter().map(|p| p.requests).sum(),
                errors: chunk.iter().map(|p| p.errors).sum(),
                cache_hits: chunk.iter().map(|p| p.cache_hits).sum(),
                fallbacks: chunk.iter().map(|p| p.fallbacks).sum(),
                impressions: chunk.iter().map(|p| p.impressions).sum(),
                clicks: chunk.iter().map(|p| p.clicks).sum(),
                conversions: chunk.iter().map(|p| p.conversions).sum(),
                revenue: chunk.iter().map(|p| p.revenue).sum(),
                ndcg_sum: chunk.iter().map(|p| p.ndcg_sum).sum(),
                p50_ms: worst(|p| p.p50_ms),
                p99_ms: worst(|p| p.p99_ms),
                feature_reads: chunk.iter().map(|p| p.feature_reads).sum(),
                freshness_lag_s,
            }
        })
        .collect()
}

/// `numerator / denominator`, `None` over nothing.
pub(crate) fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(t: f64, requests: u64, lag: Option<f64>, reads: u64) -> RecsysPoint {
        RecsysPoint {
            t,
            requests,
            clicks: 1,
            revenue: 2.5,
            p99_ms: Some(t),
            feature_reads: reads,
            freshness_lag_s: lag,
            ..RecsysPoint::default()
        }
    }

    #[test]
    fn merging_sums_counts_and_keeps_the_worst_latency() {
        let points = [
            bucket(0.0, 10, Some(1.0), 1),
            bucket(10.0, 20, Some(4.0), 3),
            bucket(20.0, 5, None, 0),
        ];
        let merged = merged(&points, 2);
        assert_eq!(merged.len(), 2);
        assert_eq!((merged[0].t, merged[0].requests, merged[0].clicks), (0.0, 30, 2));
        assert_eq!(merged[0].revenue, 5.0);
        assert_eq!(merged[0].p99_ms, Some(10.0));
        assert_eq!(merged[0].freshness_lag_s, Some(3.25));
        assert_eq!((merged[1].t, merged[1].freshness_lag_s), (20.0, None));
        assert_eq!(super::merged(&points, 1), points.to_vec());
    }

    #[test]
    fn tolerance_sets_the_rto_against_the_tolerable_downtime() {
        let timeline = RecsysTimeline {
            bucket_s: 60.0,
            points: (0..10).map(|i| bucket(f64::from(i) * 60.0, 1, None, 0)).collect(),
            max_tolerable_downtime_s: Some(120.0),
            ..RecsysTimeline::default()
        };
        let impact = |stop: f64, rto: Option<f64>| FaultImpact {
            window: "w".into(),
            start: 0.0,
            stop,
            ctr: Estimate::proportion(1, 2),
            baseline_ctr: Estimate::proportion(1, 2),
            clicks_per_request_change: Estimate::proportion_difference(1, 2, 1, 2),
            conversions_per_request_change: Estimate::proportion_difference(1, 2, 1, 2),
            revenue_lost: 0.0,
            time_to_mitigate: None,
            rto,
            events_lost: 0,
        };
        assert_eq!(tolerance(&impact(60.0, Some(120.0)), &timeline), Tolerance::Met);
        assert_eq!(tolerance(&impact(60.0, Some(121.0)), &timeline), Tolerance::Exceeded);
        // The run ends at 600 s: 540 s after the fault, or only 60 s after it.
        assert_eq!(tolerance(&impact(60.0, None), &timeline), Tolerance::ExceededByTheEnd);
        assert_eq!(tolerance(&impact(540.0, None), &timeline), Tolerance::Unknown);
        let unstated = RecsysTimeline { max_tolerable_downtime_s: None, ..timeline };
        assert_eq!(tolerance(&impact(60.0, None), &unstated), Tolerance::NotStated);
    }
}
