//! Collecting a run's events into a record.

use std::time::Duration;

use stressor_core::{
    ChatbotDetail, DriftTimeline, Event, EventSink, GateOutcome, RecsysTimeline, RunInfo, StepInfo,
    StepResult, Timeline, Verdict, WargameDetail, Warning,
};

use crate::Error;

/// Everything a run reported, in order: what every reporter works from.
///
/// A record whose [`verdict`](RunRecord::verdict) is `None` describes a run that did not finish
/// (interrupted, or a step could not complete); reporters show it as incomplete.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// What was run against what.
    pub info: RunInfo,
    /// Finished steps, in the order they finished.
    pub steps: Vec<StepResult>,
    /// Steps that started but never finished.
    pub unfinished_steps: Vec<StepInfo>,
    /// Gate outcomes, in the order they were evaluated.
    pub gates: Vec<GateOutcome>,
    /// Warnings, in the order they arrived.
    pub warnings: Vec<Warning>,
    /// The verdict, `None` when the run did not finish.
    pub verdict: Option<Verdict>,
    /// Wall time of the run, `None` when the run did not finish.
    pub elapsed: Option<Duration>,
    /// Time series of systems steps, by step id.
    pub timelines: Vec<Timeline>,
    /// Time series of drift steps, by step id.
    pub drift_timelines: Vec<DriftTimeline>,
    /// Time series of recommender steps (one per policy or reference run), by step id.
    pub recsys_timelines: Vec<RecsysTimeline>,
    /// Chatbot steps' examples, detectors, policies, surge seconds and decisions, by step id.
    pub chatbot_details: Vec<ChatbotDetail>,
    /// War-game steps' timelines, incidents, impact, series and alias changes (one per blue
    /// team), by step id.
    pub wargame_details: Vec<WargameDetail>,
}

/// An [`EventSink`] that accumulates a run's events into a [`RunRecord`].
///
/// Progress events are ignored. Events before `RunStarted` other than warnings are dropped,
/// and a second `RunStarted` starts a new record.
///
/// # Examples
///
/// ```
/// use stressor_report::Collector;
/// let collector = Collector::new();
/// assert!(collector.into_record().is_err(), "no run was started");
/// ```
#[derive(Debug, Default)]
pub struct Collector {
    record: Option<RunRecord>,
    pending_warnings: Vec<Warning>,
}

impl RunRecord {
    /// An empty record of an unfinished run.
    pub fn new(info: RunInfo) -> RunRecord {
        RunRecord {
            info,
            steps: Vec::new(),
            unfinished_steps: Vec::new(),
            gates: Vec::new(),
            warnings: Vec::new(),
            verdict: None,
            elapsed: None,
            timelines: Vec::new(),
            drift_timelines: Vec::new(),
            recsys_timelines: Vec::new(),
            chatbot_details: Vec::new(),
            wargame_details: Vec::new(),
        }
    }

    /// The number of gates that failed.
    pub fn n_gates_failed(&self) -> usize {
        self.gates.iter().filter(|gate| !gate.passed).count()
    }
}

impl Collector {
    /// A collector that has seen nothing.
    pub fn new() -> Collector {
        Collector::default()
    }

    /// The record so far, `None` before `RunStarted`.
    pub fn record(&self) -> Option<&RunRecord> {
        self.record.as_ref()
    }

    /// The record of the run.
    ///
    /// # Errors
    ///
    /// [`Error::RunNotStarted`] when no `RunStarted` event arrived.
    pub fn into_record(self) -> Result<RunRecord, Error> {
        self.record.ok_or(Error::RunNotStarted)
    }
}

impl EventSink for Collector {
    fn event(&mut self, event: &Event) {
        if let Event::RunStarted(info) = event {
            let mut record = RunRecord::new(info.clone());
            record.warnings.append(&mut self.pending_warnings);
            self.record = Some(record);
            return;
        }
        let Some(record) = self.record.as_mut() else {
            if let Event::Warning(warning) = event {
                self.pending_warnings.push(warning.clone());
            }
            return;
        };
        match event {
            Event::StepStarted(info) => record.unfinished_steps.push(info.clone()),
            Event::StepFinished(result) => {
                record.unfinished_steps.retain(|info| info.id != result.info.id);
                record.steps.push(result.clone());
            }
            Event::GateEvaluated(outcome) => record.gates.push(outcome.clone()),
            Event::Warning(warning) => record.warnings.push(warning.clone()),
            Event::Timeline(timeline) => record.timelines.push(timeline.clone()),
            Event::DriftTimeline(timeline) => record.drift_timelines.push(timeline.clone()),
            Event::RecsysTimeline(timeline) => record.recsys_timelines.push(timeline.clone()),
            Event::ChatbotDetail(detail) => record.chatbot_details.push(detail.clone()),
            Event::WargameDetail(detail) => record.wargame_details.push((**detail).clone()),
            Event::RunFinished { verdict, elapsed } => {
                record.verdict = Some(*verdict);
                record.elapsed = Some(*elapsed);
            }
            // Live readings are for the dashboard: the step's own events carry its results,
            // and a long run would otherwise grow the report by one entry a second.
            Event::Live(_) => {}
            // Progress is for progress bars, and new kinds of event are not reported yet.
            _ => {}
        }
    }
}
