//! Running a load profile: a dispatcher hands intended start times to one worker per
//! connection; each worker keeps its own report; the reports are merged at the end.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST, HeaderName, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::time::Instant;

use crate::report::{ErrorKind, LiveStats, LoadReport};
use crate::{LoadError, Profile, Target, UnreadableBody};

/// Judges the 2xx response body of a request: what it found ([`Checked`]: correct or not, a
/// handoff or not), or [`UnreadableBody`], which counts as [`ErrorKind::InvalidBody`].
///
/// The `usize` is the **request's** index (its position in the open profile's schedule; for a
/// closed profile, `user + k × users` for a user's `k`-th request), not the body's: request `i`
/// sent `bodies[i % bodies.len()]`, so a check that looks up the truth per body takes the index
/// modulo the number of bodies (as [`oip::check_label`](crate::oip::check_label) does).
pub type ResponseCheck = dyn Fn(usize, &[u8]) -> Result<Checked, UnreadableBody> + Send + Sync;

/// What a [`ResponseCheck`] found in one 2xx answer; counted per second ([`Second`]) and over
/// the run ([`LoadReport`]).
///
/// An `Option<bool>` converts into it (no handoff), so a check that only judges correctness
/// writes `check(..).map(Checked::from)`.
///
/// [`Second`]: crate::Second
///
/// # Examples
/// ```
/// use stressor_load::Checked;
/// assert_eq!(Checked::from(Some(true)), Checked { correct: Some(true), handoff: false });
/// assert_eq!(Checked::default(), Checked { correct: None, handoff: false });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checked {
    /// `Some(true)` correct, `Some(false)` wrong, `None` when there is nothing to judge.
    pub correct: Option<bool>,
    /// The answer passed the query to a person (a chatbot's handoff); counted whether or not
    /// the answer is judged.
    pub handoff: bool,
}

impl From<Option<bool>> for Checked {
    fn from(correct: Option<bool>) -> Checked {
        Checked { correct, handoff: false }
    }
}

/// A load run.
#[derive(Clone)]
#[non_exhaustive]
pub struct LoadConfig {
    /// Where requests go.
    pub target: Target,
    /// The method (`POST` when there are bodies, else `GET`, by default).
    pub method: Method,
    /// Extra headers on every request.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Request bodies, used in turn (request `i` sends `bodies[i % len]`); none: empty bodies.
    pub bodies: Vec<Bytes>,
    /// When requests start.
    pub profile: Profile,
    /// Connections (one worker each); for a closed profile, its users.
    pub connections: usize,
    /// How long a request may take, connection included.
    pub timeout: Duration,
    /// The largest response body read; larger ones are [`ErrorKind::InvalidBody`].
    pub max_response_bytes: usize,
    /// Counters updated as requests finish, for live export; none by default.
    pub live: Option<Arc<LiveStats>>,
}

impl std::fmt::Debug for LoadConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadConfig")
            .field("target", &self.target)
            .field("method", &self.method)
            .field("bodies", &self.bodies.len())
            .field("profile", &self.profile)
            .field("connections", &self.connections)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl LoadConfig {
    /// A run of `profile` against `target` with GET, 32 connections, a 10 s timeout and a
    /// 16 MiB response cap.
    pub fn new(target: Target, profile: Profile) -> LoadConfig {
        LoadConfig {
            target,
            method: Method::GET,
            headers: Vec::new(),
            bodies: Vec::new(),
            profile,
            connections: 32,
            timeout: Duration::from_secs(10),
            max_response_bytes: 16 * 1024 * 1024,
            live: None,
        }
    }
}

/// A request a worker is to send: its index and intended start (offset from the run's start;
/// `None` for a closed-model request, which is meant to start when it is sent).
#[derive(Debug, Clone, Copy)]
struct Token {
    index: usize,
    intended: Option<Duration>,
}

/// Runs `config` on the current tokio runtime and returns the merged report.
///
/// Every run is bounded: it stops accepting answers at the profile's end plus the timeout;
/// requests still waiting for a connection then are [`ErrorKind::NotSent`].
///
/// # Errors
/// [`LoadError::Config`] for zero connections or a non-finite rate. Failed requests are
/// results in the report, never errors.
pub async fn run(config: LoadConfig, check: Arc<ResponseCheck>) -> Result<LoadReport, LoadError> {
    if config.connections == 0 {
        return Err(LoadError::Config("at least one connection is needed".into()));
    }
    if let Profile::Open { stages } = &config.profile
        && stages.iter().any(|s| !(s.start_rate.is_finite() && s.end_rate.is_finite()))
    {
        return Err(LoadError::Config("arrival rates must be finite".into()));
    }
    let config = Arc::new(config);
    let start = Instant::now();
    let deadline = start + config.profile.duration() + config.timeout;
    let (sender, receiver) = async_channel::bounded::<Token>(config.connections * 64);
    let dispatcher = match &config.profile {
        Profile::Open { .. } => {
            let schedule = config.profile.schedule();
            let start = start.into_std();
            Some(std::thread::spawn(move || dispatch(schedule, start, sender)))
        }
        Profile::Closed { .. } => {
            drop(sender);
            None
        }
    };
    let n_workers = match &config.profile {
        Profile::Closed { users, .. } => *users,
        Profile::Open { .. } => config.connections,
    };
    let mut workers = Vec::with_capacity(n_workers);
    for worker_index in 0..n_workers {
        let config = Arc::clone(&config);
        let check = Arc::clone(&check);
        let receiver = receiver.clone();
        workers.push(tokio::spawn(async move {
            let mut worker = Worker { config, check, connection: None, report: LoadReport::new() };
            match worker.config.profile {
                Profile::Open { .. } => worker.open(receiver, start, deadline).await,
                Profile::Closed { users, duration } => {
                    worker.closed(worker_index, users, start, start + duration).await;
                }
            }
            worker.report
        }));
    }
    drop(receiver);
    let mut report = LoadReport::new();
    for worker in workers {
        match worker.await {
            Ok(part) => report.merge(&part),
            Err(error) => return Err(LoadError::Config(format!("a load worker failed: {error}"))),
        }
    }
    if let Some(dispatcher) = dispatcher {
        // The workers only stop once the dispatcher has closed the queue, so it is done.
        let _ = dispatcher.join();
    }
    report.elapsed = start.elapsed();
    Ok(report)
}

/// Sends each token when its intended start comes (late if the queue is full: the token keeps
/// its intended time, so the latency is still charged from it).
///
/// It runs on its own OS thread: tokio's timer fires on a 1 ms wheel, so `sleep_until` would
/// release requests up to 1 ms late and every corrected latency would carry that client-side
/// delay, while a thread's `sleep` wakes within tens of microseconds without spinning.
fn dispatch(
    schedule: Vec<Duration>,
    start: std::time::Instant,
    sender: async_channel::Sender<Token>,
) {
    for (index, intended) in schedule.into_iter().enumerate() {
        let when = start + intended;
        let now = std::time::Instant::now();
        if when > now {
            std::thread::sleep(when - now);
        }
        if sender.send_blocking(Token { index, intended: Some(intended) }).is_err() {
            return;
        }
    }
}

struct Worker {
    config: Arc<LoadConfig>,
    check: Arc<ResponseCheck>,
    connection: Option<SendRequest<Full<Bytes>>>,
    report: LoadReport,
}

impl Worker {
    async fn open(
        &mut self,
        receiver: async_channel::Receiver<Token>,
        start: Instant,
        deadline: Instant,
    ) {
        while let Ok(token) = receiver.recv().await {
            if Instant::now() >= deadline {
                let intended = token.intended.unwrap_or_else(|| start.elapsed());
                self.report.record_error(intended, ErrorKind::NotSent);
                if let Some(live) = &self.config.live {
                    live.error();
                }
                continue;
            }
            self.send(token, start).await;
        }
    }

    async fn closed(&mut self, worker_index: usize, users: usize, start: Instant, end: Instant) {
        let mut index = worker_index;
        while Instant::now() < end {
            // A closed-model request is meant to start when the previous answer arrives.
            self.send(Token { index, intended: None }, start).await;
            index += users;
        }
    }

    async fn send(&mut self, token: Token, start: Instant) {
        let sent = Instant::now();
        let intended = token.intended.unwrap_or_else(|| sent.saturating_duration_since(start));
        if let Some(live) = &self.config.live {
            live.sending();
        }
        let outcome = tokio::time::timeout(self.config.timeout, self.exchange(token.index)).await;
        let done = Instant::now();
        if let Some(live) = &self.config.live {
            live.sent();
        }
        match outcome {
            Ok(Ok((body, checked))) => {
                let latency = done.saturating_duration_since(start + intended);
                let service = done.saturating_duration_since(sent);
                self.report.record_ok(intended, latency, service, checked, body);
                if let Some(live) = &self.config.live {
                    live.ok(latency, checked);
                }
            }
            Ok(Err(kind)) => {
                if matches!(kind, ErrorKind::Io | ErrorKind::Connect) {
                    self.connection = None;
                }
                self.report.record_error(intended, kind);
                if let Some(live) = &self.config.live {
                    live.error();
                }
            }
            Err(_) => {
                // The connection may still carry the late answer: start a fresh one.
                self.connection = None;
                self.report.record_error(intended, ErrorKind::Timeout);
                if let Some(live) = &self.config.live {
                    live.error();
                }
            }
        }
    }

    /// One request on this worker's connection (opened on demand): the body size and what the
    /// check found.
    async fn exchange(&mut self, index: usize) -> Result<(usize, Checked), ErrorKind> {
        let config = Arc::clone(&self.config);
        if self.connection.as_ref().is_none_or(|c| c.is_closed()) {
            self.connection = Some(connect(&config.target).await?);
        }
        let Some(connection) = self.connection.as_mut() else { return Err(ErrorKind::Connect) };
        if connection.ready().await.is_err() {
            self.connection = None;
            return Err(ErrorKind::Io);
        }
        let body = match config.bodies.len() {
            0 => Bytes::new(),
            n => config.bodies[index % n].clone(),
        };
        let mut request = Request::builder()
            .method(config.method.clone())
            .uri(config.target.path.as_str())
            .header(HOST, config.target.host.as_str());
        if !body.is_empty() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        for (name, value) in &config.headers {
            request = request.header(name, value);
        }
        let request = request.body(Full::new(body)).map_err(|_| ErrorKind::Io)?;
        let response = connection.send_request(request).await.map_err(|_| ErrorKind::Io)?;
        let status = response.status();
        let collected =
            Limited::new(response.into_body(), config.max_response_bytes).collect().await;
        let body = match collected {
            Ok(collected) => collected.to_bytes(),
            // Over the cap, or the connection broke mid-body: either way the body is unusable.
            Err(error) if error.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
                self.connection = None;
                return Err(ErrorKind::InvalidBody);
            }
            Err(_) => return Err(ErrorKind::Io),
        };
        if !status.is_success() {
            return Err(ErrorKind::Status(status.as_u16()));
        }
        let checked =
            (self.check)(index, &body).map_err(|UnreadableBody| ErrorKind::InvalidBody)?;
        Ok((body.len(), checked))
    }
}

async fn connect(target: &Target) -> Result<SendRequest<Full<Bytes>>, ErrorKind> {
    let stream =
        tokio::net::TcpStream::connect(target.addr).await.map_err(|_| ErrorKind::Connect)?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|_| ErrorKind::Connect)?;
    tokio::spawn(connection);
    Ok(sender)
}
