//! Fault schedules: toxics that start at `t`, ramp up, and stop at `t'` within a run, so a
//! scenario can measure how a system degrades and how fast it recovers.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until};

use crate::proxy::Proxy;
use crate::toxic::Toxic;

/// One scheduled toxic.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// The toxic at full strength.
    pub toxic: Toxic,
    /// When it starts, from the schedule's start.
    pub start: Duration,
    /// When it is removed (`None`: at the end of the run).
    pub stop: Option<Duration>,
    /// How long its toxicity takes to rise linearly from 0 to `toxic.toxicity` (updated every
    /// [`RAMP_STEP`]).
    pub ramp: Duration,
}

/// How often a ramp updates the toxicity.
pub const RAMP_STEP: Duration = Duration::from_millis(250);

/// When a fault actually acted, measured from the schedule's start.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// The toxic's name.
    pub name: String,
    /// The toxic's type.
    pub kind: String,
    /// When it was added.
    pub start: Duration,
    /// When it was removed.
    pub stop: Duration,
}

/// Runs `faults` on `proxy` from `t0` and returns when each acted. Faults without a stop are
/// removed at `end`. Dropping the future leaves the toxics in place; callers that may cancel
/// should clear the proxy's toxics.
pub async fn run(proxy: Arc<Proxy>, faults: Vec<Fault>, t0: Instant, end: Duration) -> Vec<Window> {
    let mut tasks = JoinSet::new();
    for (index, fault) in faults.into_iter().enumerate() {
        let proxy = Arc::clone(&proxy);
        tasks.spawn(async move {
            let stop = fault.stop.unwrap_or(end).max(fault.start);
            sleep_until(t0 + fault.start).await;
            let started = t0.elapsed();
            let full = fault.toxic.toxicity;
            if fault.ramp.is_zero() {
                proxy.set_toxic(fault.toxic.clone());
            } else {
                let ramp_end = (fault.start + fault.ramp).min(stop);
                loop {
                    let now = t0.elapsed();
                    let share = ((now.saturating_sub(fault.start)).as_secs_f64()
                        / fault.ramp.as_secs_f64())
                    .min(1.0);
                    proxy.set_toxic(fault.toxic.clone().with_toxicity(full * share));
                    if now >= ramp_end {
                        break;
                    }
                    let next = (now + RAMP_STEP).min(ramp_end);
                    sleep_until(t0 + next).await;
                }
            }
            sleep_until(t0 + stop).await;
            let _ = proxy.remove_toxic(&fault.toxic.name);
            let window = Window {
                name: fault.toxic.name.clone(),
                kind: fault.toxic.kind.type_name().to_string(),
                start: started,
                stop: t0.elapsed(),
            };
            (index, window)
        });
    }
    let mut windows = Vec::new();
    while let Some(done) = tasks.join_next().await {
        if let Ok(window) = done {
            windows.push(window);
        }
    }
    windows.sort_by_key(|(index, _)| *index);
    windows.into_iter().map(|(_, window)| window).collect()
}
