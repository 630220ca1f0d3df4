//! What every server here does before it runs a model: a bounded number of inference slots, a
//! bounded queue in front of them (beyond it, 503 at once), an optional artificial service time
//! held in the slot; and the counters and latency histogram its `/metrics` shows.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::metrics::LatencyHistogram;

/// Slots, queue and service time, shared by a server's handlers.
#[derive(Debug)]
pub(crate) struct Capacity {
    slots: Semaphore,
    queue_limit: usize,
    service_time: Duration,
    waiting: AtomicUsize,
    in_flight: AtomicUsize,
    rejected: AtomicU64,
    latency: LatencyHistogram,
}

/// Why a request got no slot; the server answers 503.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Every slot busy and the queue full.
    Full,
    /// The server is stopping.
    ShuttingDown,
}

impl Refusal {
    /// The message for the 503 body.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Refusal::Full => {
                "the server is at capacity (every slot busy and the queue full); retry later"
            }
            Refusal::ShuttingDown => "the server is shutting down",
        }
    }
}

/// A request holding a slot; dropping it frees the slot and records the latency from arrival
/// (queue wait and service time included).
#[derive(Debug)]
pub(crate) struct Admitted<'a> {
    capacity: &'a Capacity,
    arrived: Instant,
    _slot: SemaphorePermit<'a>,
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.capacity.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.capacity.latency.observe(self.arrived.elapsed());
    }
}

/// Decrements the waiting count when dropped, also when the client goes away while waiting.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Capacity {
    /// `max_concurrency` slots (at least 1), `queue_limit` waiting requests, `service_time`
    /// held in the slot by every request.
    pub(crate) fn new(max_concurrency: usize, queue_limit: usize, service_time: Duration) -> Self {
        Capacity {
            slots: Semaphore::new(max_concurrency.max(1)),
            queue_limit,
            service_time,
            waiting: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            rejected: AtomicU64::new(0),
            latency: LatencyHistogram::default(),
        }
    }

    /// Waits for a slot, then for the service time; refuses at once when the queue is full.
    ///
    /// # Cancel safety
    /// Dropping the future while it waits leaves the queue and the slots as they were.
    pub(crate) async fn admit(&self) -> Result<Admitted<'_>, Refusal> {
        let arrived = Instant::now();
        // A bounded queue: beyond it the server says so at once instead of letting latency grow.
        if self.waiting.fetch_add(1, Ordering::Relaxed) >= self.queue_limit {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(Refusal::Full);
        }
        let waiting = Waiting(&self.waiting);
        let Ok(slot) = self.slots.acquire().await else {
            return Err(Refusal::ShuttingDown);
        };
        drop(waiting);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let admitted = Admitted { capacity: self, arrived, _slot: slot };
        if !self.service_time.is_zero() {
            tokio::time::sleep(self.service_time).await;
        }
        Ok(admitted)
    }

    /// Appends `{prefix}_rejected_total`, `{prefix}_waiting`, `{prefix}_in_flight` and the
    /// `{prefix}_latency_seconds` histogram in the Prometheus text format.
    pub(crate) fn write_prometheus(&self, prefix: &str, out: &mut String) {
        let _ = write!(
            out,
            "# HELP {prefix}_rejected_total Requests refused with 503 (queue full).\n\
             # TYPE {prefix}_rejected_total counter\n\
             {prefix}_rejected_total {}\n\
             # HELP {prefix}_waiting Requests waiting for an inference slot.\n\
             # TYPE {prefix}_waiting gauge\n\
             {prefix}_waiting {}\n\
             # HELP {prefix}_in_flight Requests holding an inference slot.\n\
             # TYPE {prefix}_in_flight gauge\n\
             {prefix}_in_flight {}\n",
            self.rejected.load(Ordering::Relaxed),
            self.waiting.load(Ordering::Relaxed),
            self.in_flight.load(Ordering::Relaxed),
        );
        self.latency.write_prometheus(
            &format!("{prefix}_latency_seconds"),
            "Time from a request's arrival to its answer, queue and service time included.",
            out,
        );
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use super::*;

    #[tokio::test]
    async fn beyond_the_queue_requests_are_refused_and_slots_count_in_flight() {
        let capacity = std::sync::Arc::new(Capacity::new(1, 1, Duration::ZERO));
        let held = capacity.admit().await.unwrap();
        let queued = tokio::spawn({
            let capacity = std::sync::Arc::clone(&capacity);
            async move { capacity.admit().await.is_ok() }
        });
        for _ in 0..1000 {
            if capacity.waiting.load(Ordering::Relaxed) == 1 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(capacity.waiting.load(Ordering::Relaxed), 1);
        // The slot is taken and the queue full: refused at once.
        assert_eq!(capacity.admit().await.unwrap_err(), Refusal::Full);
        let mut text = String::new();
        capacity.write_prometheus("x", &mut text);
        assert!(text.contains("x_in_flight 1\n"), "{text}");
        assert!(text.contains("x_waiting 1\n"), "{text}");
        assert!(text.contains("x_rejected_total 1\n"), "{text}");
        drop(held);
        assert!(queued.await.unwrap());
        let mut text = String::new();
        capacity.write_prometheus("x", &mut text);
        assert!(text.contains("x_in_flight 0\n"), "{text}");
        assert!(text.contains("x_waiting 0\n"), "{text}");
        assert!(text.contains("x_latency_seconds_count 2\n"), "{text}");
    }
}
