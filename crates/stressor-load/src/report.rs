//! What a load run measured: counts, errors by kind, HDR latency histograms (from the intended
//! start and from the actual send) and a per-second timeline. Each worker fills its own
//! [`LoadReport`]; [`LoadReport::merge`] adds them up at the end.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::Checked;

/// The highest latency the histograms track, in microseconds (longer ones are clamped).
const MAX_LATENCY_US: u64 = 600_000_000;

/// Why a request did not get a 2xx answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorKind {
    /// No answer within the timeout.
    Timeout,
    /// The connection could not be made.
    Connect,
    /// The connection broke while sending or receiving.
    Io,
    /// An answer with a non-2xx status.
    Status(u16),
    /// A 2xx answer whose body was over the size cap or that the check could not read.
    InvalidBody,
    /// Never sent: the run ended while it waited for a free connection.
    NotSent,
}

impl ErrorKind {
    /// A short name: `timeout`, `connect`, `io`, `status_503`, `invalid_body`, `not_sent`.
    pub fn name(self) -> String {
        match self {
            ErrorKind::Timeout => "timeout".into(),
            ErrorKind::Connect => "connect".into(),
            ErrorKind::Io => "io".into(),
            ErrorKind::Status(code) => format!("status_{code}"),
            ErrorKind::InvalidBody => "invalid_body".into(),
            ErrorKind::NotSent => "not_sent".into(),
        }
    }
}

/// One second of the run (by intended start).
#[derive(Debug, Clone)]
pub struct Second {
    /// Requests meant to start in this second.
    pub requests: u64,
    /// Of those, answered with 2xx.
    pub ok: u64,
    /// Of those, failed (any [`ErrorKind`]).
    pub errors: u64,
    /// 2xx answers the check judged.
    pub checked: u64,
    /// 2xx answers the check judged correct.
    pub correct: u64,
    /// 2xx answers the check flagged as a handoff (judged or not).
    pub handoffs: u64,
    /// Latency from the intended start of the requests answered, in microseconds.
    pub latency: Histogram<u32>,
}

impl Second {
    fn new() -> Second {
        Second {
            requests: 0,
            ok: 0,
            errors: 0,
            checked: 0,
            correct: 0,
            handoffs: 0,
            // Two significant digits are plenty for a timeline and keep a second small.
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_US, 2).expect("valid bounds"),
        }
    }

    fn merge(&mut self, other: &Second) {
        self.requests += other.requests;
        self.ok += other.ok;
        self.errors += other.errors;
        self.checked += other.checked;
        self.correct += other.correct;
        self.handoffs += other.handoffs;
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
    }
}

/// The measurements of a load run (or of one worker, before merging).
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Wall time from the first intended start to the last answer.
    pub elapsed: Duration,
    /// Requests scheduled (open model) or started (closed model).
    pub requests: u64,
    /// Answered with 2xx.
    pub ok: u64,
    /// Failures by kind.
    pub errors: BTreeMap<ErrorKind, u64>,
    /// 2xx answers the response check judged (e.g. had a label to compare).
    pub checked: u64,
    /// Of those, judged correct.
    pub correct: u64,
    /// 2xx answers the response check flagged as a handoff (judged or not).
    pub handoffs: u64,
    /// Latency of 2xx answers from each request's intended start, in microseconds: the
    /// coordinated-omission-corrected latency a user would see.
    pub latency: Histogram<u64>,
    /// Latency of 2xx answers from the moment each request was actually sent, in microseconds:
    /// what a tool without the correction reports.
    pub service_latency: Histogram<u64>,
    /// Per-second timeline, by intended start.
    pub timeline: Vec<Second>,
    /// Bytes of response bodies received.
    pub bytes_received: u64,
}

impl LoadReport {
    /// An empty report.
    pub fn new() -> LoadReport {
        let histogram = || Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid bounds");
        LoadReport {
            elapsed: Duration::ZERO,
            requests: 0,
            ok: 0,
            errors: BTreeMap::new(),
            checked: 0,
            correct: 0,
            handoffs: 0,
            latency: histogram(),
            service_latency: histogram(),
            timeline: Vec::new(),
            bytes_received: 0,
        }
    }

    fn second(&mut self, offset: Duration) -> &mut Second {
        let index = offset.as_secs() as usize;
        if self.timeline.len() <= index {
            self.timeline.resize_with(index + 1, Second::new);
        }
        &mut self.timeline[index]
    }

    /// Records a 2xx answer to a request meant to start at `offset`, with its latency from the
    /// intended start and from the actual send, and what the check found.
    pub(crate) fn record_ok(
        &mut self,
        offset: Duration,
        latency: Duration,
        service: Duration,
        checked: Checked,
        bytes: usize,
    ) {
        let us = |d: Duration| (d.as_micros() as u64).clamp(1, MAX_LATENCY_US);
        self.requests += 1;
        self.ok += 1;
        self.bytes_received += bytes as u64;
        self.latency.saturating_record(us(latency));
        self.service_latency.saturating_record(us(service));
        if let Some(correct) = checked.correct {
            self.checked += 1;
            self.correct += u64::from(correct);
        }
        self.handoffs += u64::from(checked.handoff);
        let second = self.second(offset);
        second.requests += 1;
        second.ok += 1;
        second.latency.saturating_record(us(latency));
        if let Some(correct) = checked.correct {
            second.checked += 1;
            second.correct += u64::from(correct);
        }
        second.handoffs += u64::from(checked.handoff);
    }

    /// Records a failed request meant to start at `offset`.
    pub(crate) fn record_error(&mut self, offset: Duration, kind: ErrorKind) {
        self.requests += 1;
        *self.errors.entry(kind).or_insert(0) += 1;
        let second = self.second(offset);
        second.requests += 1;
        second.errors += 1;
    }

    /// Adds `other` (another worker's report) into this one; the elapsed time is the longer.
    pub fn merge(&mut self, other: &LoadReport) {
        self.elapsed = self.elapsed.max(other.elapsed);
        self.requests += other.requests;
        self.ok += other.ok;
        for (kind, count) in &other.errors {
            *self.errors.entry(*kind).or_insert(0) += count;
        }
        self.checked += other.checked;
        self.correct += other.correct;
        self.handoffs += other.handoffs;
        let _ = self.latency.add(&other.latency);
        let _ = self.service_latency.add(&other.service_latency);
        self.bytes_received += other.bytes_received;
        if self.timeline.len() < other.timeline.len() {
            self.timeline.resize_with(other.timeline.len(), Second::new);
        }
        for (mine, theirs) in self.timeline.iter_mut().zip(&other.timeline) {
            mine.merge(theirs);
        }
    }

    /// All failed requests.
    pub fn n_errors(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Failed requests over all requests (0 for an empty run).
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 { 0.0 } else { self.n_errors() as f64 / self.requests as f64 }
    }

    /// 2xx answers per second of wall time.
    pub fn throughput(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 { self.ok as f64 / seconds } else { 0.0 }
    }

    /// The corrected latency at quantile `q` (0–1) in milliseconds; `None` without answers.
    pub fn latency_ms(&self, q: f64) -> Option<f64> {
        (!self.latency.is_empty()).then(|| self.latency.value_at_quantile(q) as f64 / 1000.0)
    }

    /// The uncorrected (service) latency at quantile `q` in milliseconds.
    pub fn service_latency_ms(&self, q: f64) -> Option<f64> {
        (!self.service_latency.is_empty())
            .then(|| self.service_latency.value_at_quantile(q) as f64 / 1000.0)
    }
}

impl Default for LoadReport {
    fn default() -> Self {
        LoadReport::new()
    }
}

/// A latency quantile in ms (the histogram holds µs) with its order-statistic interval: the
/// histogram's quantiles at `q ± 1.96·√(q(1−q)/n)`.
pub fn latency_quantile(histogram: &Histogram<u64>, q: f64) -> stressor_core::Estimate {
    let n = histogram.len();
    if n == 0 {
        return stressor_core::Estimate { value: f64::NAN, n: 0, ci: None };
    }
    let at = |q: f64| histogram.value_at_quantile(q.clamp(0.0, 1.0)) as f64 / 1000.0;
    let half = 1.96 * (q * (1.0 - q) / n as f64).sqrt();
    stressor_core::Estimate {
        value: at(q),
        n,
        ci: Some(stressor_core::Interval {
            lower: at(q - half),
            upper: at(q + half),
            level: stressor_core::LEVEL,
            method: stressor_core::IntervalMethod::OrderStatistic,
        }),
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn live_latency_buckets_cover_every_value_and_give_quantiles_within_an_eighth() {
        for us in [0, 1, 7, 8, 15, 16, 17, 1000, 123_456, u64::MAX / 2, u64::MAX] {
            let (lower, upper) = latency_bucket_range(latency_bucket(us));
            assert!(lower <= us && (us <= upper || latency_bucket(us) == LATENCY_BUCKETS - 1));
        }
        for index in 8..LATENCY_BUCKETS - 1 {
            let (lower, upper) = latency_bucket_range(index);
            assert_eq!(latency_bucket(lower), index);
            assert_eq!(latency_bucket(upper), index);
            assert_eq!(latency_bucket_range(index + 1).0, upper + 1);
        }
        let live = LiveStats::default();
        let before = live.snapshot();
        for v in 1..=100 {
            live.ok(ms(v), Checked::default());
        }
        live.sending();
        let second = live.snapshot().since(&before);
        assert_eq!((second.requests, second.ok, second.in_flight), (100, 100, 1));
        for (q, exact) in [(0.5, 50.0), (0.99, 99.0)] {
            let estimate = second.latency_quantile_ms(q).unwrap();
            assert!((estimate - exact).abs() <= exact / 8.0, "{q}: {estimate}");
        }
        let later = live.snapshot();
        assert_eq!(later.since(&later).latency_quantile_ms(0.5), None);
    }

    #[test]
    fn live_stats_render_as_prometheus_text() {
        let live = LiveStats::default();
        live.ok(ms(250), Some(true).into());
        live.ok(ms(750), Checked { correct: None, handoff: true });
        live.error();
        let text = live.to_prometheus();
        assert!(text.contains("stressor_load_requests_total 3\n"), "{text}");
        assert!(text.contains("stressor_load_ok_total 2\n"), "{text}");
        assert!(text.contains("stressor_load_correct_total 1\n"), "{text}");
        assert!(text.contains("stressor_load_handoffs_total 1\n"), "{text}");
        assert!(text.contains("stressor_load_latency_seconds_sum 1\n"), "{text}");
        assert!(
            text.contains(
                "# TYPE stressor_load_errors_total counter\nstressor_load_errors_total 1\n"
            )
        );
    }

    #[test]
    fn merging_adds_counts_histograms_and_timelines() {
        let mut a = LoadReport::new();
        a.record_ok(ms(100), ms(10), ms(5), Checked { correct: Some(true), handoff: true }, 10);
        a.record_error(ms(1500), ErrorKind::Status(503));
        let mut b = LoadReport::new();
        b.record_ok(ms(2100), ms(30), ms(30), Some(false).into(), 20);
        b.record_ok(ms(2200), ms(30), ms(30), Checked { correct: None, handoff: true }, 0);
        b.record_error(ms(200), ErrorKind::Timeout);
        b.record_error(ms(300), ErrorKind::Status(503));
        let mut merged = a.clone();
        merged.merge(&b);
        assert_eq!((merged.requests, merged.ok, merged.n_errors()), (6, 3, 3));
        assert_eq!(merged.errors[&ErrorKind::Status(503)], 2);
        assert_eq!((merged.checked, merged.correct, merged.bytes_received), (2, 1, 30));
        assert_eq!(merged.handoffs, 2);
        assert_eq!(merged.latency.len(), 3);
        assert_eq!(merged.timeline.len(), 3);
        assert_eq!(merged.timeline[0].requests, 3);
        assert_eq!(merged.timeline[1].errors, 1);
        assert_eq!(merged.timeline[2].ok, 2);
        assert_eq!((merged.timeline[0].handoffs, merged.timeline[2].handoffs), (1, 1));
        assert_eq!((merged.timeline[2].checked, merged.timeline[2].correct), (1, 0));
        assert!((merged.error_rate() - 0.5).abs() < 1e-12);
        // Merging is order-independent.
        let mut other = b.clone();
        other.merge(&a);
        assert_eq!(other.latency, merged.latency);
        assert_eq!(other.errors, merged.errors);
        // The corrected latency is never below the service latency.
        assert!(merged.latency_ms(1.0).unwrap() >= merged.service_latency_ms(1.0).unwrap());
        assert_eq!(ErrorKind::Status(503).name(), "status_503");
    }
}

/// Counters shared by the workers while a run is in progress, for live export (Prometheus, a
/// dashboard) during long runs; the [`LoadReport`] stays the complete, exact record.
///
/// Latencies of 2xx answers also go into fixed log-linear buckets (8 per power of two of
/// microseconds, so a quantile read from them is within 12.5 % of the exact one), and the
/// requests on the wire are counted, so [`LiveStats::snapshot`] can give the last second's
/// quantiles and the requests in flight without a lock.
#[derive(Debug)]
pub struct LiveStats {
    requests: AtomicU64,
    ok: AtomicU64,
    errors: AtomicU64,
    checked: AtomicU64,
    correct: AtomicU64,
    handoffs: AtomicU64,
    latency_us_sum: AtomicU64,
    in_flight: AtomicU64,
    /// 2xx answers per latency bucket ([`latency_bucket`]).
    latency_buckets: Box<[AtomicU64]>,
}

/// The live counters at one moment (or, from [`LiveSnapshot::since`], between two).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LiveSnapshot {
    /// Requests finished (answered or failed).
    pub requests: u64,
    /// Answered with 2xx.
    pub ok: u64,
    /// Failed.
    pub errors: u64,
    /// 2xx answers the check judged.
    pub checked: u64,
    /// Of those, correct.
    pub correct: u64,
    /// 2xx answers flagged as a handoff to a person.
    pub handoffs: u64,
    /// Requests sent and not yet answered, at the moment of the (later) snapshot.
    pub in_flight: u64,
    /// 2xx answers per latency bucket.
    latency: Vec<u64>,
}

/// Latency buckets: 8 exact ones for 0–7 µs, then 8 per power of two up to 2^63 µs.
const LATENCY_BUCKETS: usize = 8 * 62;

/// The bucket of a latency of `us` microseconds.
fn latency_bucket(us: u64) -> usize {
    if us < 8 {
        return us as usize;
    }
    let exponent = 63 - us.leading_zeros();
    let sub = (us >> (exponent - 3)) & 7;
    (((exponent - 2) * 8) as usize + sub as usize).min(LATENCY_BUCKETS - 1)
}

/// The smallest and largest latency (µs) of bucket `index`.
fn latency_bucket_range(index: usize) -> (u64, u64) {
    if index < 8 {
        return (index as u64, index as u64);
    }
    let shift = (index / 8 + 2 - 3) as u32;
    let lower = (8 + (index % 8) as u64) << shift;
    (lower, lower + ((1u64 << shift) - 1))
}

impl Default for LiveStats {
    fn default() -> Self {
        let zero = || AtomicU64::new(0);
        LiveStats {
            requests: zero(),
            ok: zero(),
            errors: zero(),
            checked: zero(),
            correct: zero(),
            handoffs: zero(),
            latency_us_sum: zero(),
            in_flight: zero(),
            latency_buckets: (0..LATENCY_BUCKETS).map(|_| zero()).collect(),
        }
    }
}

impl LiveStats {
    pub(crate) fn ok(&self, latency: Duration, checked: Checked) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.ok.fetch_add(1, Ordering::Relaxed);
        let us = latency.as_micros() as u64;
        self.latency_us_sum.fetch_add(us, Ordering::Relaxed);
        self.latency_buckets[latency_bucket(us)].fetch_add(1, Ordering::Relaxed);
        if let Some(correct) = checked.correct {
            self.checked.fetch_add(1, Ordering::Relaxed);
            self.correct.fetch_add(u64::from(correct), Ordering::Relaxed);
        }
        if checked.handoff {
            self.handoffs.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn error(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// A request goes on the wire.
    pub(crate) fn sending(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    /// A request sent with [`LiveStats::sending`] was answered or failed.
    pub(crate) fn sent(&self) {
        // Never below zero, whatever the interleaving.
        let _ = self
            .in_flight
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| Some(n.saturating_sub(1)));
    }

    /// The counters now. Each is read on its own, so a snapshot taken while requests finish
    /// may count one in `requests` and not yet in `ok`.
    pub fn snapshot(&self) -> LiveSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        LiveSnapshot {
            requests: get(&self.requests),
            ok: get(&self.ok),
            errors: get(&self.errors),
            checked: get(&self.checked),
            correct: get(&self.correct),
            handoffs: get(&self.handoffs),
            in_flight: get(&self.in_flight),
            latency: self.latency_buckets.iter().map(get).collect(),
        }
    }
    /// The counters in the Prometheus text exposition format.
    pub fn to_prometheus(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut text = String::new();
        for (name, help, value) in [
            (
                "stressor_load_requests_total",
                "Requests finished (answered or failed).",
                get(&self.requests),
            ),
            ("stressor_load_ok_total", "Requests answered with 2xx.", get(&self.ok)),
            (
                "stressor_load_errors_total",
                "Requests failed (timeout, connect, status, body, not sent).",
                get(&self.errors),
            ),
            (
                "stressor_load_checked_total",
                "2xx answers the response check judged.",
                get(&self.checked),
            ),
            ("stressor_load_correct_total", "2xx answers judged correct.", get(&self.correct)),
            (
                "stressor_load_handoffs_total",
                "2xx answers the check flagged as a handoff to a person.",
                get(&self.handoffs),
            ),
        ] {
            text.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"
            ));
        }
        let sum = get(&self.latency_us_sum) as f64 / 1e6;
        text.push_str(&format!(
            "# HELP stressor_load_latency_seconds Latency of 2xx answers from the intended start.\n\
             # TYPE stressor_load_latency_seconds summary\n\
             stressor_load_latency_seconds_sum {sum}\n\
             stressor_load_latency_seconds_count {}\n",
            get(&self.ok)
        ));
        text
    }
}

impl LiveSnapshot {
    /// What happened between `earlier` and this snapshot (counts subtracted); `in_flight` is
    /// this snapshot's.
    pub fn since(&self, earlier: &LiveSnapshot) -> LiveSnapshot {
        LiveSnapshot {
            requests: self.requests.saturating_sub(earlier.requests),
            ok: self.ok.saturating_sub(earlier.ok),
            errors: self.errors.saturating_sub(earlier.errors),
            checked: self.checked.saturating_sub(earlier.checked),
            correct: self.correct.saturating_sub(earlier.correct),
            handoffs: self.handoffs.saturating_sub(earlier.handoffs),
            in_flight: self.in_flight,
            latency: self
                .latency
                .iter()
                .enumerate()
                .map(|(i, n)| n.saturating_sub(earlier.latency.get(i).copied().unwrap_or(0)))
                .collect(),
        }
    }

    /// The `q` quantile (0–1) of the 2xx answers' latency from the intended start, in ms, to
    /// within 12.5 % (the middle of its bucket); `None` without answers.
    pub fn latency_quantile_ms(&self, q: f64) -> Option<f64> {
        let total: u64 = self.latency.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, n) in self.latency.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let (lower, upper) = latency_bucket_range(index);
                return Some((lower as f64 + upper as f64) / 2.0 / 1000.0);
            }
        }
        None
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod quantile_tests {
    use super::*;

    #[test]
    fn quantile_intervals_bracket_the_quantile() {
        let mut histogram: Histogram<u64> =
            Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for v in 1..=10_000u64 {
            histogram.record(v * 100).unwrap();
        }
        let p99 = latency_quantile(&histogram, 0.99);
        let ci = p99.ci.unwrap();
        assert!((p99.value - 990.0).abs() < 2.0, "{}", p99.value);
        // ±1.96·√(0.99·0.01/10 000) ≈ ±0.2 % in rank: about 970–1010 ms.
        assert!(ci.lower < p99.value && ci.upper > p99.value);
        assert!(ci.lower > 960.0 && ci.upper < 1020.0, "{ci:?}");
    }
}
