//! What a fault cost, against the fault-free baseline on the same traffic: KPI changes with
//! intervals, revenue lost, time to mitigate and RTO.
//!
//! A bucket is *within tolerance* when its clicks per request are at least `1 − ctr_drop` times
//! the baseline's in the same bucket (and, when `p99_ms` is set, its p99 latency is at most
//! that). Recovery is the `[system]` family's: the first bucket from which the KPIs stay within
//! tolerance for `sustain` buckets in a row.
//! - **time to mitigate**: from fault start to the first such stretch that begins while the
//!   fault acts (the fallback holding the KPIs); `None` if none does;
//! - **RTO**: from fault end to the first such stretch that begins at or after it (0 when the
//!   KPIs never left tolerance); `None` when the run ends first;
//! - **revenue lost**: the baseline's revenue minus the run's over the buckets from the fault's
//!   start to the recovery (the end of the run if none).

use stressor_core::{Estimate, FaultImpact, RecsysPoint};

use crate::fault::Fault;
use crate::pipeline::Fates;

/// What counts as recovered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// The largest relative drop of clicks per request against the baseline.
    pub ctr_drop: f64,
    /// The largest p99 latency, ms, if latency counts.
    pub p99_ms: Option<f64>,
    /// Buckets in a row that must hold.
    pub sustain: usize,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance { ctr_drop: 0.1, p99_ms: None, sustain: 3 }
    }
}

fn clicks_per_request(p: &RecsysPoint) -> f64 {
    if p.requests == 0 { f64::NAN } else { p.clicks as f64 / p.requests as f64 }
}

/// Whether `run`'s bucket is within tolerance of `baseline`'s.
pub fn within(run: &RecsysPoint, baseline: &RecsysPoint, tolerance: &Tolerance) -> bool {
    let (r, b) = (clicks_per_request(run), clicks_per_request(baseline));
    let kpi = b.is_nan() || r >= (1.0 - tolerance.ctr_drop) * b;
    let latency = match (tolerance.p99_ms, run.p99_ms) {
        (Some(max), Some(p99)) => p99 <= max,
        _ => true,
    };
    kpi && latency
}

/// The first bucket index from `from` that starts a stretch of `sustain` buckets within
/// tolerance, the stretch ending by `limit` (exclusive).
fn first_stretch(ok: &[bool], from: usize, sustain: usize, limit: usize) -> Option<usize> {
    (from..limit).find(|&b| {
        let end = b + sustain.max(1);
        end <= limit && ok[b..end].iter().all(|x| *x)
    })
}

/// The impact of each fault on `run`, against `baseline` (the same buckets).
pub fn impacts(
    run: &[RecsysPoint],
    baseline: &[RecsysPoint],
    bucket_s: f64,
    faults: &[Fault],
    tolerance: &Tolerance,
    fates: &Fates,
) -> Vec<FaultImpact> {
    let n = run.len().min(baseline.len());
    let ok: Vec<bool> = (0..n).map(|b| within(&run[b], &baseline[b], tolerance)).collect();
    faults
        .iter()
        .map(|fault| {
            let first = ((fault.start / bucket_s).floor() as usize).min(n);
            // Buckets touched by the fault.
            let touched_end = (((fault.stop / bucket_s).ceil() as usize).max(first + 1)).min(n);
            // Buckets wholly inside it: where a mitigation can show.
            let inside_from = ((fault.start / bucket_s).ceil() as usize).min(n);
            let inside_to = ((fault.stop / bucket_s).floor() as usize).min(n);
            // A stretch inside the window lasts `sustain` buckets or to the window's end.
            let time_to_mitigate = (inside_from..inside_to)
                .find(|&b| ok[b..(b + tolerance.sustain.max(1)).min(inside_to)].iter().all(|x| *x))
                .map(|b| b as f64 * bucket_s - fault.start);
            let never_left = ok[first..touched_end].iter().all(|x| *x);
            let after = touched_end;
            let recovered = if never_left {
                Some(after.max(first))
            } else {
                first_stretch(&ok, after, tolerance.sustain, n)
            };
            let rto = match recovered {
                _ if never_left => Some(0.0),
                Some(b) => Some((b as f64 * bucket_s - fault.stop).max(0.0)),
                None => None,
            };
            let loss_end = if never_left { touched_end } else { recovered.unwrap_or(n) };
            let revenue_lost: f64 =
                (first..loss_end).map(|b| baseline[b].revenue - run[b].revenue).sum();
            let sum = |points: &[RecsysPoint], f: fn(&RecsysPoint) -> u64| -> u64 {
                points[first..touched_end].iter().map(f).sum()
            };
            let (clicks, impressions, requests, conversions) = (
                sum(run, |p| p.clicks),
                sum(run, |p| p.impressions),
                sum(run, |p| p.requests),
                sum(run, |p| p.conversions),
            );
            let (b_clicks, b_impressions, b_requests, b_conversions) = (
                sum(baseline, |p| p.clicks),
                sum(baseline, |p| p.impressions),
                sum(baseline, |p| p.requests),
                sum(baseline, |p| p.conversions),
            );
            let events_lost = fates
                .lost_times
                .iter()
                .filter(|t| **t >= fault.start && **t < fault.stop.max(fault.start + bucket_s))
                .count() as u64;
            FaultImpact {
                window: fault.name.clone(),
                start: fault.start,
                stop: fault.stop,
                ctr: Estimate::proportion(clicks, impressions),
                baseline_ctr: Estimate::proportion(b_clicks, b_impressions),
                clicks_per_request_change: Estimate::proportion_difference(
                    clicks, requests, b_clicks, b_requests,
                ),
                conversions_per_request_change: Estimate::proportion_difference(
                    conversions,
                    requests,
                    b_conversions,
                    b_requests,
                ),
                revenue_lost,
                time_to_mitigate,
                rto,
                events_lost,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::FaultKind;

    /// Buckets of 100 requests with the given clicks, 60 s each.
    fn series(clicks: &[u64]) -> Vec<RecsysPoint> {
        clicks
            .iter()
            .enumerate()
            .map(|(i, &c)| RecsysPoint {
                t: i as f64 * 60.0,
                requests: 100,
                impressions: 1000,
                clicks: c,
                revenue: c as f64 * 10.0,
                ..RecsysPoint::default()
            })
            .collect()
    }

    fn fault(start: f64, stop: f64) -> Fault {
        Fault { name: "f".into(), kind: FaultKind::StoreOutage, start, stop }
    }

    #[test]
    fn a_synthetic_timeline_with_known_answers() {
        let baseline = series(&[50; 12]);
        // Fault over buckets 2..5 (120–300 s): KPIs collapse in 2 and 3, the fallback holds in
        // 4; after the fault the run stays low until bucket 7, then holds.
        let run = series(&[50, 50, 10, 10, 48, 20, 20, 46, 47, 50, 50, 50]);
        let tolerance = Tolerance { ctr_drop: 0.1, p99_ms: None, sustain: 3 };
        let out =
            impacts(&run, &baseline, 60.0, &[fault(120.0, 300.0)], &tolerance, &Fates::default());
        let f = &out[0];
        // Inside the window (buckets 2, 3, 4) the stretch may be as short as the window: the
        // first bucket from which every remaining bucket of the window holds is 4 → 240 − 120.
        assert_eq!(f.time_to_mitigate, Some(120.0));
        // After the fault (from bucket 5): 5, 6 fail; 7, 8, 9 hold → 420 − 300.
        assert_eq!(f.rto, Some(120.0));
        // Revenue lost over buckets 2..7: (40 + 40 + 2 + 30 + 30) × 10.
        assert!((f.revenue_lost - 1420.0).abs() < 1e-9);
        // Clicks per request over the touched buckets 2..5: 68/300 vs 150/300.
        assert!((f.clicks_per_request_change.value - (68.0 - 150.0) / 300.0).abs() < 1e-12);
        assert!(f.clicks_per_request_change.ci.unwrap_or_else(|| unreachable!()).upper < 0.0);
    }

    #[test]
    fn never_leaving_tolerance_is_zero_and_never_recovering_is_none() {
        let baseline = series(&[50; 6]);
        let fine = series(&[50, 50, 47, 49, 50, 50]);
        let out = impacts(
            &fine,
            &baseline,
            60.0,
            &[fault(120.0, 240.0)],
            &Tolerance::default(),
            &Fates::default(),
        );
        assert_eq!(out[0].rto, Some(0.0));
        assert_eq!(out[0].time_to_mitigate, Some(0.0));
        let broken = series(&[50, 50, 10, 10, 10, 10]);
        let out = impacts(
            &broken,
            &baseline,
            60.0,
            &[fault(120.0, 240.0)],
            &Tolerance::default(),
            &Fates::default(),
        );
        assert_eq!(out[0].rto, None);
        assert_eq!(out[0].time_to_mitigate, None);
        assert!((out[0].revenue_lost - 1600.0).abs() < 1e-9);
    }

    #[test]
    fn events_lost_are_counted_by_event_time() {
        let baseline = series(&[50; 6]);
        let fates =
            Fates { lost_times: vec![10.0, 130.0, 200.0, 239.9, 240.0], ..Fates::default() };
        let out = impacts(
            &baseline,
            &baseline,
            60.0,
            &[fault(120.0, 240.0)],
            &Tolerance::default(),
            &fates,
        );
        assert_eq!(out[0].events_lost, 3);
    }

    #[test]
    fn latency_counts_when_asked() {
        let baseline = series(&[50; 3]);
        let mut slow = series(&[50; 3]);
        slow[1].p99_ms = Some(900.0);
        let tolerance = Tolerance { p99_ms: Some(500.0), ..Tolerance::default() };
        assert!(!within(&slow[1], &baseline[1], &tolerance));
        assert!(within(&slow[0], &baseline[0], &tolerance));
    }
}
