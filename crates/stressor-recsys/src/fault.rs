//! Pipeline faults on a schedule: what fails, when, and how hard (each kind's intensity dial).

use std::fmt;

use crate::store::OnlineStore;

/// One scheduled fault.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// Its name in the report (default: the kind).
    pub name: String,
    /// What fails and how hard.
    pub kind: FaultKind,
    /// Seconds of simulated time when it starts.
    pub start: f64,
    /// When it stops (equal to `start` for an instant fault: a cache flush).
    pub stop: f64,
}

impl Fault {
    /// Whether it acts at `t`.
    pub fn active(&self, t: f64) -> bool {
        self.start <= t && t < self.stop
    }
}

/// What fails.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FaultKind {
    /// Events produced in the window reach the stream job `lag_s` seconds later than usual
    /// (consumer lag).
    EventDelay {
        /// Extra seconds.
        lag_s: f64,
    },
    /// A share of the events produced in the window is lost before ingestion.
    EventLoss {
        /// The share lost, in [0, 1].
        share: f64,
    },
    /// A share of the events produced in the window is delivered twice.
    EventDuplicate {
        /// The share duplicated, in [0, 1].
        share: f64,
    },
    /// Events produced in the window arrive with a uniform extra delay in `[0, jitter_s)`, so
    /// out of order.
    OutOfOrder {
        /// The largest extra delay, seconds.
        jitter_s: f64,
    },
    /// The upstream event schema changes for events produced in the window.
    SchemaChange {
        /// How.
        change: SchemaChange,
    },
    /// The stream job stops: no feature is updated, freshness lag grows, the backlog is
    /// processed when it restarts.
    StreamStop,
    /// Every feature-store round trip takes `latency_ms` longer.
    StoreSlow {
        /// Extra milliseconds per round trip.
        latency_ms: f64,
    },
    /// The feature store refuses connections.
    StoreOutage,
    /// The response cache is emptied at the start (a cold start).
    CacheFlush,
    /// A share of model-server calls fails.
    ModelErrors {
        /// The share failing, in [0, 1].
        share: f64,
    },
    /// Every model-server call takes `latency_ms` longer.
    ModelLatency {
        /// Extra milliseconds.
        latency_ms: f64,
    },
    /// A bad model is pushed at the start and rolled back at the end.
    BadModelPush {
        /// What is wrong with it.
        push: BadPush,
    },
}

/// What the event faults do to one event ([`Schedule::event_fate`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventFate {
    /// Lost before ingestion.
    pub lost: bool,
    /// Seconds later than usual it arrives (event delay, out-of-order jitter).
    pub extra_delay_s: f64,
    /// Copies delivered (2 when duplicated).
    pub copies: u64,
    /// The schema change it is sent under, if any.
    pub schema: Option<SchemaChange>,
}

/// How an upstream schema change breaks events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaChange {
    /// The item field is renamed (`item_id` → `itemId`): the stream job cannot parse the
    /// events, they go to the dead-letter queue and are lost to the features.
    Rename,
    /// Event time is sent in milliseconds where seconds are expected: the stored feature
    /// timestamps jump far ahead, and the store's "skip writes older than what is stored"
    /// rule (Feast's) then drops every later correct write for those entities.
    Unit,
}

/// What a bad model push gets wrong.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BadPush {
    /// Item embeddings with Gaussian noise of `sigma` times their RMS added.
    Noise {
        /// Relative noise.
        sigma: f64,
    },
    /// Item embeddings assigned to the wrong items (an id-mapping bug).
    Shuffle,
}

impl FaultKind {
    /// The kind's name as written in the scenario.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::EventDelay { .. } => "event_delay",
            FaultKind::EventLoss { .. } => "event_loss",
            FaultKind::EventDuplicate { .. } => "event_duplicate",
            FaultKind::OutOfOrder { .. } => "out_of_order",
            FaultKind::SchemaChange { .. } => "schema_change",
            FaultKind::StreamStop => "stream_stop",
            FaultKind::StoreSlow { .. } => "store_slow",
            FaultKind::StoreOutage => "store_outage",
            FaultKind::CacheFlush => "cache_flush",
            FaultKind::ModelErrors { .. } => "model_errors",
            FaultKind::ModelLatency { .. } => "model_latency",
            FaultKind::BadModelPush { .. } => "bad_model_push",
        }
    }

    /// Faults of the same group must not overlap: they would fight over one component.
    pub fn exclusive_group(&self) -> Option<&'static str> {
        match self {
            FaultKind::StoreSlow { .. } | FaultKind::StoreOutage => Some("feature store"),
            FaultKind::BadModelPush { .. } => Some("model push"),
            FaultKind::StreamStop => Some("stream job"),
            FaultKind::SchemaChange { .. } => Some("event schema"),
            _ => None,
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultKind::EventDelay { lag_s } => write!(f, "event delay {lag_s} s"),
            FaultKind::EventLoss { share } => write!(f, "event loss {share}"),
            FaultKind::EventDuplicate { share } => write!(f, "duplicated events {share}"),
            FaultKind::OutOfOrder { jitter_s } => {
                write!(f, "out-of-order events (jitter {jitter_s} s)")
            }
            FaultKind::SchemaChange { change: SchemaChange::Rename } => {
                f.write_str("schema change: item field renamed")
            }
            FaultKind::SchemaChange { change: SchemaChange::Unit } => {
                f.write_str("schema change: event time in ms")
            }
            FaultKind::StreamStop => f.write_str("stream job stopped"),
            FaultKind::StoreSlow { latency_ms } => write!(f, "feature store +{latency_ms} ms"),
            FaultKind::StoreOutage => f.write_str("feature store down"),
            FaultKind::CacheFlush => f.write_str("cache flush"),
            FaultKind::ModelErrors { share } => write!(f, "model errors {share}"),
            FaultKind::ModelLatency { latency_ms } => write!(f, "model +{latency_ms} ms"),
            FaultKind::BadModelPush { push: BadPush::Noise { sigma } } => {
                write!(f, "bad model push (noise σ = {sigma})")
            }
            FaultKind::BadModelPush { push: BadPush::Shuffle } => {
                f.write_str("bad model push (shuffled embeddings)")
            }
        }
    }
}

/// A walk through a schedule for the faults that act at their edges: a `store_outage`, passed
/// on to the store as it starts and ends, and `cache_flush`es as they fall due. The simulation
/// and the served endpoint move it forward in time.
#[derive(Debug, Clone, Default)]
pub struct Edges {
    down: bool,
    /// Cache flush times, soonest first, and how many have fallen due.
    flushes: Vec<f64>,
    flushed: usize,
}

impl Edges {
    /// At the start of `schedule`, before any fault.
    pub fn new(schedule: &Schedule) -> Edges {
        let mut flushes: Vec<f64> = schedule
            .faults
            .iter()
            .filter(|f| matches!(f.kind, FaultKind::CacheFlush))
            .map(|f| f.start)
            .collect();
        flushes.sort_by(f64::total_cmp);
        Edges { down: false, flushes, flushed: 0 }
    }

    /// Tells `store` when an outage has started or ended by `t`.
    pub fn outage(&mut self, schedule: &Schedule, t: f64, store: &mut dyn OnlineStore) {
        let down = schedule.store(t).1;
        if down != self.down {
            self.down = down;
            store.set_outage(down);
        }
    }

    /// Whether a cache flush has fallen due by `t` since the last call.
    pub fn flush_due(&mut self, t: f64) -> bool {
        let due = self.flushes[self.flushed..].iter().take_while(|f| **f <= t).count();
        self.flushed += due;
        due > 0
    }
}

/// The schedule: every fault, in start order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schedule {
    /// The faults.
    pub faults: Vec<Fault>,
}

impl Schedule {
    /// The faults acting at `t`.
    pub fn active(&self, t: f64) -> impl Iterator<Item = &Fault> {
        self.faults.iter().filter(move |f| f.active(t))
    }

    /// The extra store latency at `t` and whether the store is down.
    pub fn store(&self, t: f64) -> (f64, bool) {
        let mut extra = 0.0;
        let mut down = false;
        for fault in self.active(t) {
            match fault.kind {
                FaultKind::StoreSlow { latency_ms } => extra += latency_ms,
                FaultKind::StoreOutage => down = true,
                _ => {}
            }
        }
        (extra, down)
    }

    /// The model server's extra latency at `t` and its error share.
    pub fn model(&self, t: f64) -> (f64, f64) {
        let mut extra = 0.0;
        let mut errors = 0.0f64;
        for fault in self.active(t) {
            match fault.kind {
                FaultKind::ModelLatency { latency_ms } => extra += latency_ms,
                FaultKind::ModelErrors { share } => errors = errors.max(share),
                _ => {}
            }
        }
        (extra, errors)
    }

    /// What the event faults acting at `t` do to one event produced then, drawing from `rng`
    /// in the faults' order (the pipeline's ingestion and the events sent to a user's service
    /// share this).
    pub fn event_fate(&self, t: f64, rng: &mut stressor_core::Rng) -> EventFate {
        use rand::Rng as _;
        let mut fate = EventFate { lost: false, extra_delay_s: 0.0, copies: 1, schema: None };
        for fault in self.active(t) {
            match fault.kind {
                FaultKind::EventLoss { share } if rng.random::<f64>() < share => {
                    fate.lost = true;
                    return fate;
                }
                FaultKind::EventDuplicate { share } if rng.random::<f64>() < share => {
                    fate.copies = 2;
                }
                FaultKind::EventDelay { lag_s } => fate.extra_delay_s += lag_s,
                FaultKind::OutOfOrder { jitter_s } => {
                    fate.extra_delay_s += rng.random::<f64>() * jitter_s;
                }
                FaultKind::SchemaChange { change } => fate.schema = Some(change),
                _ => {}
            }
        }
        fate
    }

    /// Whether the stream job runs at `t`.
    pub fn stream_runs(&self, t: f64) -> bool {
        !self.active(t).any(|f| matches!(f.kind, FaultKind::StreamStop))
    }

    /// The bad push acting at `t`, if any.
    pub fn bad_push(&self, t: f64) -> Option<BadPush> {
        self.active(t).find_map(|f| match f.kind {
            FaultKind::BadModelPush { push } => Some(push),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[test]
    fn edges_pass_outages_on_once_and_flushes_as_they_fall_due() {
        let fault = |kind, start, stop| Fault { name: format!("{start}"), kind, start, stop };
        let schedule = Schedule {
            faults: vec![
                fault(FaultKind::CacheFlush, 5.0, 5.0),
                fault(FaultKind::StoreOutage, 10.0, 20.0),
                fault(FaultKind::CacheFlush, 12.0, 12.0),
                fault(FaultKind::CacheFlush, 13.0, 13.0),
            ],
        };
        let mut edges = Edges::new(&schedule);
        let mut store = MemoryStore::new(1, 1);
        let mut seen = Vec::new();
        for t in [0.0, 5.0, 9.0, 10.0, 11.0, 14.0, 20.0, 30.0] {
            edges.outage(&schedule, t, &mut store);
            seen.push((edges.flush_due(t), store.popular().is_err()));
        }
        assert_eq!(
            seen,
            [
                (false, false),
                (true, false),
                (false, false),
                (false, true),
                (false, true),
                (true, true), // the flushes at 12 and 13, once
                (false, false),
                (false, false),
            ]
        );
    }

    #[test]
    fn the_schedule_combines_what_acts() {
        let schedule = Schedule {
            faults: vec![
                Fault {
                    name: "a".into(),
                    kind: FaultKind::StoreSlow { latency_ms: 50.0 },
                    start: 10.0,
                    stop: 20.0,
                },
                Fault {
                    name: "b".into(),
                    kind: FaultKind::ModelErrors { share: 0.3 },
                    start: 15.0,
                    stop: 30.0,
                },
                Fault { name: "c".into(), kind: FaultKind::StreamStop, start: 0.0, stop: 5.0 },
            ],
        };
        assert_eq!(schedule.store(9.9), (0.0, false));
        assert_eq!(schedule.store(10.0), (50.0, false));
        assert_eq!(schedule.store(20.0), (0.0, false));
        assert_eq!(schedule.model(16.0), (0.0, 0.3));
        assert!(!schedule.stream_runs(4.0));
        assert!(schedule.stream_runs(5.0));
        assert_eq!(schedule.active(17.0).count(), 2);
    }
}
