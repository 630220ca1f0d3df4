//! Time as a dependency.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A source of elapsed time since the start of a run.
///
/// Core code never reads the system clock: the CLI passes a real clock, tests a [`ManualClock`].
pub trait Clock: Send + Sync {
    /// Time elapsed since the clock's origin.
    fn elapsed(&self) -> Duration;
}

/// A clock that moves only when told to; for tests and for reproducible reports.
#[derive(Debug, Default)]
pub struct ManualClock {
    nanos: AtomicU64,
}

impl ManualClock {
    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Relaxed))
    }
}
