//! What a client that connects late is sent first: the run so far, bounded in memory.
//!
//! Every event other than `live` is kept, up to [`MAX_EVENTS`] (a run has a few per step; past
//! the cap only `run` and `finished` are still kept). Live samples are kept per step in two
//! parts: their values, at most [`MAX_POINTS`] samples evenly spread over the step (when the cap
//! is reached every other kept sample goes and only every second later one is kept, so the
//! stride doubles), and their notes, the latest [`MAX_NOTES`] (the replay says how many earlier
//! ones it left out). `dashboard.ndjson` keeps everything.

use std::collections::HashMap;

use serde_json::{Value, json};
use stressor_core::LiveSample;

use crate::wire::Frame;

/// Events other than `live` kept for the replay.
pub const MAX_EVENTS: usize = 10_000;
/// Live samples (their values) kept per step.
pub const MAX_POINTS: usize = 1_000;
/// Live notes kept per step.
pub const MAX_NOTES: usize = 1_000;

/// The run so far, for the replay.
#[derive(Debug, Default)]
pub(crate) struct History {
    /// Events in order; a step's live samples sit where its first one arrived.
    entries: Vec<Entry>,
    /// Each step's live samples, by step id.
    live: HashMap<String, LiveHistory>,
    /// Events past [`MAX_EVENTS`] that were not kept.
    dropped_events: u64,
}

#[derive(Debug)]
enum Entry {
    Frame(Frame),
    /// The live samples of the step with this id.
    Live(String),
}

#[derive(Debug, Default)]
struct LiveHistory {
    /// `(t_s, values)` of the kept samples, in arrival order.
    points: Vec<(f64, Vec<(String, f64)>)>,
    /// Keep one sample in this many.
    stride: u64,
    /// Samples with values seen.
    seen: u64,
    /// `(t_s, note)`, the latest [`MAX_NOTES`].
    notes: std::collections::VecDeque<(f64, String)>,
    /// Notes dropped from the front.
    dropped_notes: u64,
}

impl History {
    /// Keeps `frame`, the encoding of a non-live event.
    pub(crate) fn push(&mut self, frame: Frame) {
        let essential = matches!(frame.kind, "run" | "finished");
        if self.entries.len() >= MAX_EVENTS && !essential {
            self.dropped_events += 1;
            return;
        }
        self.entries.push(Entry::Frame(frame));
    }

    /// Keeps what the replay needs of `sample`.
    pub(crate) fn push_live(&mut self, sample: &LiveSample) {
        if !self.live.contains_key(&sample.step_id) {
            self.entries.push(Entry::Live(sample.step_id.clone()));
        }
        let step = self
            .live
            .entry(sample.step_id.clone())
            .or_insert_with(|| LiveHistory { stride: 1, ..LiveHistory::default() });
        if !sample.values.is_empty() {
            if step.seen.is_multiple_of(step.stride) {
                step.points.push((sample.t_s, sample.values.clone()));
                if step.points.len() >= MAX_POINTS {
                    let mut index = 0;
                    step.points.retain(|_| {
                        index += 1;
                        index % 2 == 1
                    });
                    step.stride *= 2;
                }
            }
            step.seen += 1;
        }
        for note in &sample.notes {
            if step.notes.len() >= MAX_NOTES {
                step.notes.pop_front();
                step.dropped_notes += 1;
            }
            step.notes.push_back((sample.t_s, note.clone()));
        }
    }

    /// The frames a new client gets first, in order.
    pub(crate) fn replay(&self) -> Vec<Frame> {
        let mut frames = Vec::with_capacity(self.entries.len());
        for entry in &self.entries {
            match entry {
                Entry::Frame(frame) => frames.push(frame.clone()),
                Entry::Live(step_id) => {
                    if let Some(step) = self.live.get(step_id) {
                        step.replay(step_id, &mut frames);
                    }
                }
            }
        }
        if self.dropped_events > 0 {
            let message = format!(
                "{} events after the first {MAX_EVENTS} are not replayed (dashboard.ndjson has them)",
                self.dropped_events
            );
            frames.push(Frame {
                kind: "warning",
                data:
                    json!({ "step": null, "code": "dashboard/replay-capped", "message": message })
                        .to_string(),
            });
        }
        frames
    }
}

impl LiveHistory {
    /// The kept values and notes as `live` frames, merged in time order.
    fn replay(&self, step_id: &str, frames: &mut Vec<Frame>) {
        let mut notes = self.notes.iter().peekable();
        if self.dropped_notes > 0 {
            let t_s = notes.peek().map_or(0.0, |(t, _)| *t);
            let note = format!(
                "{} earlier notes are not replayed (dashboard.ndjson has them)",
                self.dropped_notes
            );
            frames.push(live_frame(step_id, t_s, &[], &[note]));
        }
        for (t_s, values) in &self.points {
            let mut due = Vec::new();
            while let Some((_, note)) = notes.next_if(|(t, _)| t <= t_s) {
                due.push(note.clone());
            }
            frames.push(live_frame(step_id, *t_s, values, &due));
        }
        // Notes after the last kept sample, grouped by time.
        while let Some((t_s, note)) = notes.next() {
            let mut due = vec![note.clone()];
            while let Some((_, note)) = notes.next_if(|(t, _)| t == t_s) {
                due.push(note.clone());
            }
            frames.push(live_frame(step_id, *t_s, &[], &due));
        }
    }
}

fn live_frame(step_id: &str, t_s: f64, values: &[(String, f64)], notes: &[String]) -> Frame {
    let values: Vec<Value> = values.iter().map(|(name, value)| json!([name, value])).collect();
    let data = json!({ "step": step_id, "t_s": t_s, "values": values, "notes": notes });
    Frame { kind: "live", data: data.to_string() }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use super::*;

    fn sample(t_s: f64, notes: &[&str]) -> LiveSample {
        LiveSample {
            step_id: "war".into(),
            t_s,
            values: vec![("approval_rate.female".into(), t_s)],
            notes: notes.iter().map(|n| n.to_string()).collect(),
        }
    }

    fn data(frame: &Frame) -> Value {
        serde_json::from_str(&frame.data).unwrap()
    }

    #[test]
    fn a_replayed_live_sample_matches_the_live_frame() {
        let mut history = History::default();
        let live = sample(1.0, &["inject: label flipping"]);
        history.push_live(&live);
        let replayed = history.replay();
        assert_eq!(replayed, vec![Frame::of(&stressor_core::Event::Live(live)).unwrap()]);
    }

    #[test]
    fn live_samples_are_downsampled_evenly_and_notes_kept() {
        let mut history = History::default();
        history.push(Frame { kind: "step_started", data: "{}".into() });
        let n = 10 * MAX_POINTS;
        for i in 0..n {
            let notes: &[&str] = if i == 7 { &["inject at 7"] } else { &[] };
            history.push_live(&sample(i as f64, notes));
        }
        history.push(Frame { kind: "step_finished", data: "{}".into() });
        let frames = history.replay();
        assert_eq!(frames.first().unwrap().kind, "step_started");
        assert_eq!(frames.last().unwrap().kind, "step_finished");
        let live: Vec<Value> = frames.iter().filter(|f| f.kind == "live").map(data).collect();
        assert!(live.len() > MAX_POINTS / 2 && live.len() <= MAX_POINTS, "{}", live.len());
        // Evenly spread: one stride apart, from the start to near the end.
        let times: Vec<f64> = live.iter().map(|d| d["t_s"].as_f64().unwrap()).collect();
        let stride = times[1] - times[0];
        assert!(times.windows(2).all(|w| w[1] - w[0] == stride), "{times:?}");
        assert!(*times.last().unwrap() >= (n as f64) - 2.0 * stride);
        // The note survives downsampling, on the first kept sample at or after it.
        let noted: Vec<&Value> = live.iter().filter(|d| d["notes"][0].is_string()).collect();
        assert_eq!(noted.len(), 1);
        assert_eq!(noted[0]["notes"][0], "inject at 7");
    }

    #[test]
    fn old_notes_beyond_the_cap_are_counted() {
        let mut history = History::default();
        for i in 0..MAX_NOTES + 5 {
            let note = format!("note {i}");
            history.push_live(&LiveSample {
                step_id: "war".into(),
                t_s: i as f64,
                values: Vec::new(),
                notes: vec![note],
            });
        }
        let frames = history.replay();
        assert_eq!(frames.len(), MAX_NOTES + 1);
        assert!(data(&frames[0])["notes"][0].as_str().unwrap().starts_with("5 earlier notes"));
        assert_eq!(data(&frames[1])["notes"][0], "note 5");
    }

    #[test]
    fn events_beyond_the_cap_are_dropped_but_the_end_is_kept() {
        let mut history = History::default();
        for _ in 0..MAX_EVENTS + 3 {
            history.push(Frame { kind: "warning", data: "{}".into() });
        }
        history.push(Frame { kind: "finished", data: "{}".into() });
        let frames = history.replay();
        assert_eq!(frames.len(), MAX_EVENTS + 2);
        assert_eq!(frames[MAX_EVENTS].kind, "finished");
        assert!(data(&frames[MAX_EVENTS + 1])["message"].as_str().unwrap().starts_with("3 events"));
    }
}
