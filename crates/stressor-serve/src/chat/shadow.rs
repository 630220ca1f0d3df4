//! Shadow deployment: every query the live model answered is mirrored, after the user's answer
//! is built, to a candidate model on its own tasks, so the candidate is judged on real traffic
//! without a user ever seeing it or waiting for it.
//!
//! The mirror is a bounded queue feeding at most `concurrency` candidate calls at once; a query
//! that finds the queue full is dropped and counted. Enqueueing never waits, so the shadow can
//! neither delay nor fail a user's request.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use stressor_intent::IntentModel;
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio::task::JoinHandle;

use crate::chat::Answer;
use crate::chat::server::to_answer;
use crate::metrics::LatencyHistogram;

/// One mirrored query: what the live model answered and what the candidate did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ShadowRecord {
    /// The query, so a caller can look up its true intent.
    pub text: String,
    /// The live model's answer (what the user got).
    pub live: Answer,
    /// The candidate's answer, or why it gave none.
    pub shadow: Result<Answer, String>,
    /// How long the candidate took.
    pub latency: Duration,
}

/// The shadow's counters and records so far ([`ChatServer::shadow_stats`]).
///
/// [`ChatServer::shadow_stats`]: crate::chat::ChatServer::shadow_stats
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ShadowStats {
    /// Queries the candidate answered or failed on (every mirrored query once done).
    pub mirrored: u64,
    /// Queries not mirrored because the shadow queue was full.
    pub dropped: u64,
    /// Mirrored queries the candidate failed on (an error or [`Reply::Failed`]).
    ///
    /// [`Reply::Failed`]: stressor_intent::Reply::Failed
    pub failed: u64,
    /// Mirrored queries where both handed off, or neither did and both chose the same intent
    /// (by name).
    pub agreed: u64,
    /// Mirrored queries the live model handed off.
    pub live_handoffs: u64,
    /// Mirrored queries the candidate handed off.
    pub shadow_handoffs: u64,
    /// The candidate's latency per mirrored query, in microseconds.
    pub latency: Histogram<u64>,
    /// One record per mirrored query, in completion order, up to the configured cap.
    pub records: Vec<ShadowRecord>,
}

impl ShadowStats {
    /// An empty record (also what a server without a shadow reports).
    pub fn new() -> ShadowStats {
        ShadowStats {
            mirrored: 0,
            dropped: 0,
            failed: 0,
            agreed: 0,
            live_handoffs: 0,
            shadow_handoffs: 0,
            latency: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds"),
            records: Vec::new(),
        }
    }

    /// The share of mirrored queries the candidate agreed on; `None` before any.
    pub fn agreement(&self) -> Option<f64> {
        (self.mirrored > 0).then(|| self.agreed as f64 / self.mirrored as f64)
    }

    /// The candidate's latency at quantile `q` (0–1) in milliseconds; `None` before any.
    pub fn latency_ms(&self, q: f64) -> Option<f64> {
        (!self.latency.is_empty()).then(|| self.latency.value_at_quantile(q) as f64 / 1000.0)
    }
}

impl Default for ShadowStats {
    fn default() -> Self {
        ShadowStats::new()
    }
}

/// How the shadow runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShadowLimits {
    /// Candidate calls at once.
    pub(crate) concurrency: usize,
    /// Queries waiting for a call; one more is dropped.
    pub(crate) queue_limit: usize,
    /// Records kept.
    pub(crate) max_records: usize,
    /// Below this confidence the candidate's answer is a handoff, as the live model's is.
    pub(crate) handoff_threshold: f32,
}

struct Mirror {
    text: String,
    live: Answer,
}

/// The running shadow: a queue, a dispatcher task, the counters.
pub(crate) struct Shadow {
    sender: mpsc::Sender<Mirror>,
    state: Arc<ShadowState>,
    dispatcher: JoinHandle<()>,
}

struct ShadowState {
    model: Arc<dyn IntentModel>,
    limits: ShadowLimits,
    /// Queries queued or being answered.
    pending: AtomicUsize,
    idle: Notify,
    dropped: AtomicU64,
    latency: LatencyHistogram,
    stats: Mutex<ShadowStats>,
}

impl Shadow {
    /// Starts the dispatcher on the current runtime.
    pub(crate) fn start(model: Arc<dyn IntentModel>, limits: ShadowLimits) -> Shadow {
        let (sender, receiver) = mpsc::channel(limits.queue_limit.max(1));
        let state = Arc::new(ShadowState {
            model,
            limits,
            pending: AtomicUsize::new(0),
            idle: Notify::new(),
            dropped: AtomicU64::new(0),
            latency: LatencyHistogram::default(),
            stats: Mutex::new(ShadowStats::new()),
        });
        let dispatcher = tokio::spawn(dispatch(receiver, Arc::clone(&state)));
        Shadow { sender, state, dispatcher }
    }

    /// Mirrors `text` and the live answer, or drops it when the queue is full. Never waits.
    pub(crate) fn mirror(&self, text: &str, live: &Answer) {
        self.state.pending.fetch_add(1, Ordering::SeqCst);
        let mirror = Mirror { text: text.to_string(), live: live.clone() };
        if self.sender.try_send(mirror).is_err() {
            self.state.dropped.fetch_add(1, Ordering::Relaxed);
            self.state.finish_one();
        }
    }

    /// Waits until every mirrored query has been answered.
    ///
    /// # Cancel safety
    /// Cancel safe: it only waits.
    pub(crate) async fn drain(&self) {
        loop {
            let idle = self.state.idle.notified();
            if self.state.pending.load(Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }

    /// Drains, then stops the dispatcher.
    pub(crate) async fn stop(&self) {
        self.drain().await;
        self.dispatcher.abort();
    }

    /// The counters and records so far.
    pub(crate) fn stats(&self) -> ShadowStats {
        let mut stats = self.state.stats.lock().map(|s| s.clone()).unwrap_or_default();
        stats.dropped = self.state.dropped.load(Ordering::Relaxed);
        stats
    }

    /// Appends the shadow's metrics (`stressor_chat_shadow_*`) in the Prometheus text format.
    pub(crate) fn write_prometheus(&self, out: &mut String) {
        let stats = self.stats();
        for (name, help, value) in [
            (
                "mirrored_total",
                "Queries the candidate model answered or failed on.",
                stats.mirrored,
            ),
            (
                "dropped_total",
                "Queries not mirrored because the shadow queue was full.",
                stats.dropped,
            ),
            ("failed_total", "Mirrored queries the candidate failed on.", stats.failed),
            (
                "agreed_total",
                "Mirrored queries the candidate answered as the live model did.",
                stats.agreed,
            ),
            ("handoffs_total", "Mirrored queries the candidate handed off.", stats.shadow_handoffs),
        ] {
            let _ = write!(
                out,
                "# HELP stressor_chat_shadow_{name} {help}\n\
                 # TYPE stressor_chat_shadow_{name} counter\n\
                 stressor_chat_shadow_{name} {value}\n"
            );
        }
        let _ = write!(
            out,
            "# HELP stressor_chat_shadow_pending Queries queued for or being answered by the candidate.\n\
             # TYPE stressor_chat_shadow_pending gauge\n\
             stressor_chat_shadow_pending {}\n",
            self.state.pending.load(Ordering::SeqCst)
        );
        self.state.latency.write_prometheus(
            "stressor_chat_shadow_latency_seconds",
            "The candidate model's time per mirrored query.",
            out,
        );
    }
}

impl ShadowState {
    fn finish_one(&self) {
        if self.pending.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.idle.notify_waiters();
        }
    }

    fn record(&self, mirror: Mirror, shadow: Result<Answer, String>, latency: Duration) {
        self.latency.observe(latency);
        if let Ok(mut stats) = self.stats.lock() {
            stats.mirrored += 1;
            stats.latency.saturating_record((latency.as_micros() as u64).max(1));
            stats.live_handoffs += u64::from(mirror.live.handoff);
            match &shadow {
                Ok(answer) => {
                    stats.shadow_handoffs += u64::from(answer.handoff);
                    let agreed = if mirror.live.handoff || answer.handoff {
                        mirror.live.handoff && answer.handoff
                    } else {
                        mirror.live.intent == answer.intent
                    };
                    stats.agreed += u64::from(agreed);
                }
                Err(_) => stats.failed += 1,
            }
            if stats.records.len() < self.limits.max_records {
                stats.records.push(ShadowRecord {
                    text: mirror.text,
                    live: mirror.live,
                    shadow,
                    latency,
                });
            }
        }
    }
}

/// Takes queries off the queue and answers each on the blocking pool, at most `concurrency` at
/// once.
async fn dispatch(mut receiver: mpsc::Receiver<Mirror>, state: Arc<ShadowState>) {
    let slots = Arc::new(Semaphore::new(state.limits.concurrency.max(1)));
    while let Some(mirror) = receiver.recv().await {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else { return };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let model = Arc::clone(&state.model);
            let text = mirror.text.clone();
            let threshold = state.limits.handoff_threshold;
            let started = Instant::now();
            let answered = tokio::task::spawn_blocking(move || {
                let replies = model.reply(&[text.as_str()]).map_err(|error| error.to_string())?;
                match replies.as_slice() {
                    [reply] => to_answer(reply, model.intents(), threshold),
                    other => Err(format!("the model gave {} replies to 1 query", other.len())),
                }
            })
            .await
            .unwrap_or_else(|error| Err(format!("the shadow task failed: {error}")));
            let latency = started.elapsed();
            drop(slot);
            state.record(mirror, answered, latency);
            state.finish_one();
        });
    }
}
