//! The data pipeline: events (impressions, clicks, purchases with event time) are ingested
//! with a lag, a stream job turns them into features over windows (a user's recent items, an
//! item's impressions and clicks, the popular list) and writes them to the online store.
//!
//! Ingestion faults act on events by the time they were produced: lost, duplicated, delayed,
//! reordered, or sent in a changed schema. The stream job runs every `tick_s`; while it is
//! stopped events queue up and are processed when it restarts. Item counts live in panes of
//! `pane_s` seconds, `panes` of them making the window: an event older than the window when
//! it is processed is dropped. An event is *lost for good* when it never reaches a feature:
//! lost at ingestion, unparseable, too late for its pane, or its write skipped by the store's
//! timestamp rule; those are the RPO in events.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use stressor_core::{Rng, Seed};

use crate::fault::{Schedule, SchemaChange};
use crate::store::{ItemStats, OnlineStore, Record, Write};

/// What an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// An item was shown.
    Impression,
    /// An item was clicked.
    Click,
    /// A clicked item was bought.
    Purchase,
}

/// One event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// To whom.
    pub user: u32,
    /// Which item.
    pub item: u32,
    /// When it happened (seconds of simulated time).
    pub time: f64,
}

/// The pipeline's parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PipelineConfig {
    /// Seconds from an event to its delivery to the stream job without faults.
    pub ingest_lag_s: f64,
    /// Seconds between stream job runs.
    pub tick_s: f64,
    /// Seconds per pane of item counts.
    pub pane_s: f64,
    /// Panes in the window.
    pub panes: usize,
    /// Items kept in a user's recent list.
    pub recent_items: usize,
    /// Items in the popular list.
    pub popular_items: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            ingest_lag_s: 2.0,
            tick_s: 5.0,
            pane_s: 60.0,
            panes: 10,
            recent_items: 10,
            popular_items: 50,
        }
    }
}

/// How the pipeline's events fared.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fates {
    /// Events produced.
    pub produced: u64,
    /// Events delivered to the stream job more than once (the extra copies).
    pub duplicated: u64,
    /// Events lost before ingestion.
    pub lost_ingest: u64,
    /// Events the stream job could not parse.
    pub unparseable: u64,
    /// Events dropped as too late (older than their window, or skipped by the store).
    pub dropped_late: u64,
    /// The true event time of every event lost for good, for RPO per window.
    pub lost_times: Vec<f64>,
    /// Feature writes the store refused; the stream job retries them on its next tick.
    pub write_failures: u64,
}

#[derive(Debug, Clone, Copy)]
struct Delivery {
    arrival: f64,
    seq: u64,
    event: Event,
    schema: Option<SchemaChange>,
}

impl PartialEq for Delivery {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Delivery {}
impl PartialOrd for Delivery {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Delivery {
    /// Reversed: the heap pops the earliest arrival first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.arrival.total_cmp(&self.arrival).then(other.seq.cmp(&self.seq))
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Pane {
    index: i64,
    impressions: f64,
    clicks: f64,
}

/// The pipeline: the ingestion queue and the stream job's state.
#[derive(Debug, Clone)]
pub struct Pipeline {
    config: PipelineConfig,
    rng: Rng,
    queue: BinaryHeap<Delivery>,
    seq: u64,
    panes: Vec<Vec<Pane>>,
    item_ts: Vec<f64>,
    item_fresh: Vec<f64>,
    dirty: Vec<bool>,
    dirty_list: Vec<u32>,
    recent: Vec<Vec<u32>>,
    /// Per user: the `ts` and true event time of the recent list's newest click.
    recent_times: Vec<(f64, f64)>,
    /// Users whose recent list the store refused, to write again on the next tick.
    unwritten: Vec<u32>,
    fates: Fates,
    last_tick: f64,
}

impl Pipeline {
    /// A pipeline for `users` users and `items` items.
    pub fn new(config: PipelineConfig, users: usize, items: usize, seed: Seed) -> Pipeline {
        let panes = config.panes.max(1);
        Pipeline {
            config,
            rng: seed.derive("pipeline").rng(),
            queue: BinaryHeap::new(),
            seq: 0,
            panes: vec![vec![Pane { index: i64::MIN, ..Pane::default() }; panes]; items],
            item_ts: vec![f64::NEG_INFINITY; items],
            item_fresh: vec![f64::NEG_INFINITY; items],
            dirty: vec![false; items],
            dirty_list: Vec::new(),
            recent: vec![Vec::new(); users],
            recent_times: vec![(0.0, 0.0); users],
            unwritten: Vec::new(),
            fates: Fates::default(),
            last_tick: f64::NEG_INFINITY,
        }
    }

    /// The pipeline's parameters.
    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// How the events fared so far.
    pub fn fates(&self) -> &Fates {
        &self.fates
    }

    /// Events waiting for the stream job.
    pub fn backlog(&self) -> usize {
        self.queue.len()
    }

    /// Hands an event to ingestion, with the faults acting when it was produced.
    pub fn produce(&mut self, event: Event, schedule: &Schedule) {
        self.fates.produced += 1;
        let fate = schedule.event_fate(event.time, &mut self.rng);
        if fate.lost {
            self.fates.lost_ingest += 1;
            self.fates.lost_times.push(event.time);
            return;
        }
        let arrival = event.time + self.config.ingest_lag_s + fate.extra_delay_s;
        let (copies, schema) = (fate.copies, fate.schema);
        self.fates.duplicated += copies - 1;
        for _ in 0..copies {
            self.seq += 1;
            self.queue.push(Delivery { arrival, seq: self.seq, event, schema });
        }
    }

    /// The next time the stream job runs after `t`.
    pub fn next_tick(&self, t: f64) -> f64 {
        ((t / self.config.tick_s).floor() + 1.0) * self.config.tick_s
    }

    /// Runs the stream job at `now`: every delivered event in arrival order, then the changed
    /// features written to `store`. Does nothing while a `stream_stop` fault acts.
    pub fn tick(&mut self, now: f64, schedule: &Schedule, store: &mut dyn OnlineStore) {
        if !schedule.stream_runs(now) {
            return;
        }
        self.last_tick = now;
        for user in std::mem::take(&mut self.unwritten) {
            let (ts, fresh) = self.recent_times[user as usize];
            let record = Record { value: self.recent[user as usize].clone(), ts, fresh };
            self.write_recent(user, record, false, None, store);
        }
        while self.queue.peek().is_some_and(|d| d.arrival <= now) {
            let Some(delivery) = self.queue.pop() else { break };
            self.process(delivery, now, store);
        }
        let watermark = (now / self.config.pane_s).floor() as i64;
        let dirty = std::mem::take(&mut self.dirty_list);
        let writes = dirty
            .iter()
            .map(|&item| {
                let value = self.window(item as usize, watermark);
                let (ts, fresh) = (self.item_ts[item as usize], self.item_fresh[item as usize]);
                (item, Record { value, ts, fresh })
            })
            .collect();
        for (item, outcome) in dirty.into_iter().zip(store.write_items(writes)) {
            if outcome.is_ok() {
                self.dirty[item as usize] = false;
            } else {
                // Still dirty: written again on the next tick.
                self.fates.write_failures += 1;
                self.dirty_list.push(item);
            }
        }
        let mut order: Vec<(f64, u32)> = (0..self.panes.len())
            .map(|i| (self.window(i, watermark).clicks, i as u32))
            .filter(|(c, _)| *c > 0.0)
            .collect();
        order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        order.truncate(self.config.popular_items);
        if !order.is_empty() {
            let newest = self.item_fresh.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let list = order.into_iter().map(|(_, i)| i).collect();
            // Recomputed on every tick: a refused write is simply made again.
            if store.write_popular(Record { value: list, ts: now, fresh: newest }).is_err() {
                self.fates.write_failures += 1;
            }
        }
    }

    /// Writes a user's recent list. Skipped by the store as stale, the click behind it is lost
    /// (unless the list did not change); refused, the write is retried on the next tick.
    fn write_recent(
        &mut self,
        user: u32,
        record: Record<Vec<u32>>,
        unchanged: bool,
        event: Option<&Event>,
        store: &mut dyn OnlineStore,
    ) {
        match store.write_recent(user, record) {
            Ok(Write::Stale) if !unchanged => {
                if let Some(event) = event {
                    self.fates.dropped_late += 1;
                    self.lost(event);
                }
            }
            Ok(_) => {}
            Err(_) => {
                self.fates.write_failures += 1;
                if !self.unwritten.contains(&user) {
                    self.unwritten.push(user);
                }
            }
        }
    }

    fn window(&self, item: usize, watermark: i64) -> ItemStats {
        let lowest = watermark - self.config.panes as i64;
        self.panes[item].iter().filter(|p| p.index > lowest && p.index <= watermark).fold(
            ItemStats::default(),
            |acc, p| ItemStats {
                impressions: acc.impressions + p.impressions,
                clicks: acc.clicks + p.clicks,
            },
        )
    }

    fn lost(&mut self, event: &Event) {
        self.fates.lost_times.push(event.time);
    }

    fn process(&mut self, delivery: Delivery, now: f64, store: &mut dyn OnlineStore) {
        let event = delivery.event;
        let ts = match delivery.schema {
            Some(SchemaChange::Rename) => {
                self.fates.unparseable += 1;
                self.lost(&event);
                return;
            }
            Some(SchemaChange::Unit) => event.time * 1000.0,
            None => event.time,
        };
        if event.kind == EventKind::Purchase {
            return;
        }
        let item = event.item as usize;
        let Some(panes) = self.panes.get_mut(item) else { return };
        let index = (ts / self.config.pane_s).floor() as i64;
        let watermark = (now / self.config.pane_s).floor() as i64;
        let n = panes.len() as i64;
        let slot = &mut panes[index.rem_euclid(n) as usize];
        let too_old = index <= watermark - n || slot.index > index;
        if too_old {
            self.fates.dropped_late += 1;
            self.lost(&event);
            return;
        }
        if slot.index < index {
            *slot = Pane { index, impressions: 0.0, clicks: 0.0 };
        }
        match event.kind {
            EventKind::Impression => slot.impressions += 1.0,
            EventKind::Click => slot.clicks += 1.0,
            EventKind::Purchase => {}
        }
        self.item_ts[item] = self.item_ts[item].max(ts);
        self.item_fresh[item] = self.item_fresh[item].max(event.time);
        if !self.dirty[item] {
            self.dirty[item] = true;
            self.dirty_list.push(event.item);
        }
        if event.kind == EventKind::Click {
            let Some(recent) = self.recent.get_mut(event.user as usize) else { return };
            // A repeat of the newest click (a duplicate) leaves the list as it is: if its write
            // is skipped, nothing is lost.
            let unchanged = recent.first() == Some(&event.item);
            recent.retain(|&i| i != event.item);
            recent.insert(0, event.item);
            recent.truncate(self.config.recent_items);
            let record = Record { value: recent.clone(), ts, fresh: event.time };
            self.recent_times[event.user as usize] = (ts, event.time);
            self.write_recent(event.user, record, unchanged, Some(&event), store);
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use super::*;
    use crate::fault::{Fault, FaultKind};
    use crate::store::MemoryStore;

    fn click(user: u32, item: u32, time: f64) -> Event {
        Event { kind: EventKind::Click, user, item, time }
    }

    fn impression(user: u32, item: u32, time: f64) -> Event {
        Event { kind: EventKind::Impression, user, item, time }
    }

    fn config() -> PipelineConfig {
        PipelineConfig {
            ingest_lag_s: 1.0,
            tick_s: 5.0,
            pane_s: 10.0,
            panes: 3,
            recent_items: 2,
            popular_items: 2,
        }
    }

    #[test]
    fn a_hand_computed_trace() {
        let none = Schedule::default();
        let mut p = Pipeline::new(config(), 2, 3, Seed::new(1));
        let mut store = MemoryStore::new(2, 3);
        p.produce(impression(0, 1, 1.0), &none);
        p.produce(impression(0, 2, 1.0), &none);
        p.produce(click(0, 1, 2.0), &none);
        p.produce(click(1, 2, 4.5), &none); // arrives at 5.5: next tick
        p.tick(5.0, &none, &mut store);
        assert_eq!(store.user(0).unwrap().recent.map(|r| r.value), Some(vec![1]));
        assert_eq!(store.user(1).unwrap().recent, None);
        let stats = store.items(&[1, 2]).unwrap();
        assert_eq!(
            stats[0].as_ref().map(|r| r.value),
            Some(ItemStats { impressions: 1.0, clicks: 1.0 })
        );
        assert_eq!(
            stats[1].as_ref().map(|r| (r.value, r.fresh)),
            Some((ItemStats { impressions: 1.0, clicks: 0.0 }, 1.0))
        );
        assert_eq!(store.popular().unwrap().map(|r| r.value), Some(vec![1]));
        p.tick(10.0, &none, &mut store);
        assert_eq!(store.user(1).unwrap().recent.map(|r| r.value), Some(vec![2]));
        assert_eq!(store.popular().unwrap().map(|r| r.value), Some(vec![1, 2]));
        // A click 25 s later: the window (3 panes of 10 s at watermark 4) drops pane 0.
        p.produce(click(0, 2, 40.0), &none);
        p.tick(45.0, &none, &mut store);
        let stats = store.items(&[2]).unwrap();
        assert_eq!(
            stats[0].as_ref().map(|r| r.value),
            Some(ItemStats { impressions: 0.0, clicks: 1.0 })
        );
        assert_eq!(store.user(0).unwrap().recent.map(|r| r.value), Some(vec![2, 1]));
        assert_eq!(p.fates().produced, 5);
        assert!(p.fates().lost_times.is_empty());
    }

    #[test]
    fn late_events_are_dropped_and_counted() {
        let delay = Schedule {
            faults: vec![Fault {
                name: "lag".into(),
                kind: FaultKind::EventDelay { lag_s: 60.0 },
                start: 0.0,
                stop: 10.0,
            }],
        };
        let mut p = Pipeline::new(config(), 1, 3, Seed::new(1));
        let mut store = MemoryStore::new(1, 3);
        p.produce(click(0, 1, 5.0), &delay); // arrives at 66: pane 0, watermark 6 → too old
        p.produce(click(0, 2, 20.0), &delay); // after the window: arrives at 21
        p.tick(25.0, &delay, &mut store);
        p.tick(70.0, &delay, &mut store);
        assert_eq!(store.user(0).unwrap().recent.map(|r| r.value), Some(vec![2]));
        assert_eq!(p.fates().dropped_late, 1);
        assert_eq!(p.fates().lost_times, vec![5.0]);
    }

    #[test]
    fn loss_rename_and_stopped_streams() {
        let faults = Schedule {
            faults: vec![
                Fault {
                    name: "loss".into(),
                    kind: FaultKind::EventLoss { share: 1.0 },
                    start: 0.0,
                    stop: 1.0,
                },
                Fault {
                    name: "rename".into(),
                    kind: FaultKind::SchemaChange { change: SchemaChange::Rename },
                    start: 1.0,
                    stop: 2.0,
                },
                Fault { name: "stop".into(), kind: FaultKind::StreamStop, start: 0.0, stop: 20.0 },
            ],
        };
        let mut p = Pipeline::new(config(), 1, 3, Seed::new(1));
        let mut store = MemoryStore::new(1, 3);
        p.produce(click(0, 0, 0.5), &faults);
        p.produce(click(0, 1, 1.5), &faults);
        p.produce(click(0, 2, 3.0), &faults);
        p.tick(10.0, &faults, &mut store);
        assert_eq!(store.user(0).unwrap().recent, None, "the stream job is stopped");
        assert_eq!(p.backlog(), 2);
        p.tick(20.0, &faults, &mut store);
        assert_eq!(store.user(0).unwrap().recent.map(|r| (r.value, r.fresh)), Some((vec![2], 3.0)));
        assert_eq!(p.fates().lost_ingest, 1);
        assert_eq!(p.fates().unparseable, 1);
        assert_eq!(p.fates().lost_times, vec![0.5, 1.5]);
    }

    #[test]
    fn a_unit_change_poisons_later_writes() {
        let unit = Schedule {
            faults: vec![Fault {
                name: "ms".into(),
                kind: FaultKind::SchemaChange { change: SchemaChange::Unit },
                start: 0.0,
                stop: 2.0,
            }],
        };
        let mut p = Pipeline::new(config(), 1, 3, Seed::new(1));
        let mut store = MemoryStore::new(1, 3);
        p.produce(click(0, 1, 1.0), &unit); // stored with ts 1000
        p.produce(click(0, 2, 3.0), &unit); // correct, but 3 < 1000: skipped
        p.tick(5.0, &unit, &mut store);
        assert_eq!(store.user(0).unwrap().recent.map(|r| (r.value, r.ts)), Some((vec![1], 1000.0)));
        assert_eq!(p.fates().dropped_late, 1);
    }

    #[test]
    fn duplicates_double_count_item_clicks() {
        let dup = Schedule {
            faults: vec![Fault {
                name: "dup".into(),
                kind: FaultKind::EventDuplicate { share: 1.0 },
                start: 0.0,
                stop: 10.0,
            }],
        };
        let mut p = Pipeline::new(config(), 1, 3, Seed::new(1));
        let mut store = MemoryStore::new(1, 3);
        p.produce(click(0, 1, 1.0), &dup);
        p.tick(5.0, &dup, &mut store);
        assert_eq!(store.items(&[1]).unwrap()[0].as_ref().map(|r| r.value.clicks), Some(2.0));
        assert_eq!(p.fates().duplicated, 1);
        assert_eq!(p.fates().dropped_late, 0);
        // The second copy's user write is a no-op skipped by the timestamp rule.
        assert_eq!(store.user(0).unwrap().recent.map(|r| r.value), Some(vec![1]));
    }
}
