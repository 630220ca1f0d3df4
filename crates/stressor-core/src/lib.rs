//! Shared vocabulary of stressor.
//!
//! Everything other crates talk about lives here: the [`Seed`] every random choice derives from,
//! [`Batch`] (a dense `f32` tensor whose first axis is the sample), [`Dataset`] (a batch with
//! labels), [`Estimate`] (a metric with its sample size and confidence interval), [`Gate`] (a
//! threshold on a metric), [`Verdict`], and [`Event`] — what engines emit and reporters consume.
//!
//! Non-goals: IO, async, serialisation and reading the clock. Time arrives through [`Clock`].
//!
//! ```
//! use stressor_core::{Estimate, Seed};
//! let acc = Estimate::proportion(87, 100);
//! assert_eq!(acc.n, 100);
//! let ci = acc.ci.expect("a proportion has a Wilson interval");
//! assert!(ci.lower < 0.87 && 0.87 < ci.upper);
//! let mut rng = Seed::new(7).derive("attack/pgd").rng();
//! let _: f32 = rand::Rng::random(&mut rng);
//! ```

mod batch;
mod chat;
mod clock;
mod duration;
mod estimate;
mod event;
mod gate;
mod seed;
mod text;
mod wargame;

pub use batch::{Batch, BatchError, Bounds, Dataset};
pub use chat::{
    ChatExample, ChatExamples, ChatSecond, ChatbotDetail, DetectorScore, HandoffPolicy,
    ShadowDecision,
};
pub use clock::{Clock, ManualClock};
pub use duration::parse_duration;
pub use estimate::{
    Estimate, Interval, IntervalMethod, LEVEL, bootstrap_interval, newcombe_interval, normal_cdf,
    normal_quantile, wilson_interval,
};
pub use event::{
    BreakerTransition, CalibrationCurves, ClassAccuracy, ConfusionGrowth, DriftEvent, DriftPoint,
    DriftTimeline, Event, EventSink, Exemplar, FaultImpact, GateOutcome, LiveSample, MetricValue,
    Recovery, RecsysPoint, RecsysTimeline, ReliabilityBin, RunInfo, StepInfo, StepKind, StepPoint,
    StepResult, Timeline, TimelinePoint, TimelineWindow, Warning, WindowKind,
};
pub use gate::{Comparison, Gate, GateBound, Verdict};
pub use seed::{Rng, Seed};
pub use text::line_column;
pub use wargame::{
    AliasMove, EntryKind, ImpactRow, Incident, Side, WargameDetail, WargameEntry, WargameSeries,
};
