//! The server: `GET /` (the page) and `GET /events` (server-sent events) on loopback, on a
//! runtime of its own so the synchronous run never waits for it.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use stressor_core::{Event, EventSink};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;

use crate::DashboardError;
use crate::history::History;
use crate::page;
use crate::wire::Frame;

/// Events a client may fall behind by before its stream ends (it reconnects and is sent the
/// replay again).
const CHANNEL_CAPACITY: usize = 1024;
/// Streams open at once; more get 503.
const MAX_CLIENTS: usize = 32;
/// A comment this often keeps idle connections (and proxies) from timing out.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long [`Dashboard::close`] waits for open connections to finish.
const GRACE: Duration = Duration::from_secs(2);
/// The page's policy: its own inline script and style, the event stream, nothing else.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; \
     style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// A run's live dashboard on a loopback address: the page at `/`, the run's events at
/// `/events` as server-sent events. Feed it through [`Dashboard::sink`]; stop it with
/// [`Dashboard::close`].
///
/// It runs on a tokio runtime of its own (one worker thread), so it is started, fed and
/// closed from synchronous code; call [`Dashboard::close`] outside any async runtime.
#[derive(Debug)]
pub struct Dashboard {
    addr: SocketAddr,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

/// Feeds run events to a [`Dashboard`]. Cheap to clone; never blocks on a client: events go
/// to a bounded broadcast channel, and a client that falls behind is dropped and reconnects.
#[derive(Debug, Clone)]
pub struct DashboardSink {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<Stream>,
    clients: AtomicUsize,
    port: u16,
}

/// The history and the channel, under one lock so a client subscribes exactly after the
/// replay it was sent.
#[derive(Debug)]
struct Stream {
    history: History,
    /// `None` once the dashboard is closing.
    sender: Option<broadcast::Sender<Arc<Frame>>>,
    finished: bool,
}

impl Dashboard {
    /// Serves the dashboard on `addr`, which must be a loopback address (port 0 picks a free
    /// one).
    ///
    /// # Errors
    /// [`DashboardError::NotLoopback`] for any other address (`0.0.0.0` included),
    /// [`DashboardError::Bind`] when it cannot be bound, [`DashboardError::Runtime`] when the
    /// runtime cannot start.
    ///
    /// # Examples
    /// ```
    /// use stressor_core::EventSink as _;
    /// let dashboard = stressor_dashboard::Dashboard::start("127.0.0.1:0".parse().unwrap())?;
    /// let mut sink = dashboard.sink();
    /// sink.event(&stressor_core::Event::Warning(stressor_core::Warning {
    ///     step_id: None,
    ///     code: "example".into(),
    ///     message: "shown in the page's event log".into(),
    /// }));
    /// assert!(dashboard.url().starts_with("http://127.0.0.1:"));
    /// dashboard.close();
    /// # Ok::<(), stressor_dashboard::DashboardError>(())
    /// ```
    pub fn start(addr: SocketAddr) -> Result<Dashboard, DashboardError> {
        if !addr.ip().is_loopback() {
            return Err(DashboardError::NotLoopback { addr });
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("stressor-dashboard")
            .enable_all()
            .build()
            .map_err(DashboardError::Runtime)?;
        let listener = runtime
            .block_on(TcpListener::bind(addr))
            .map_err(|source| DashboardError::Bind { addr, source })?;
        let addr = listener.local_addr().map_err(|source| DashboardError::Bind { addr, source })?;
        let (sender, _) = broadcast::channel(CHANNEL_CAPACITY);
        let shared = Arc::new(Shared {
            state: Mutex::new(Stream {
                history: History::default(),
                sender: Some(sender),
                finished: false,
            }),
            clients: AtomicUsize::new(0),
            port: addr.port(),
        });
        let app = Router::new()
            .route("/", get(page_handler))
            .route("/events", get(events_handler))
            .with_state(Arc::clone(&shared));
        let (shutdown, signal) = oneshot::channel::<()>();
        let task = runtime.spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = signal.await;
                })
                .await
        });
        Ok(Dashboard {
            addr,
            shared,
            runtime: Some(runtime),
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's URL, `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// A sink that feeds it.
    pub fn sink(&self) -> DashboardSink {
        DashboardSink { shared: Arc::clone(&self.shared) }
    }

    /// Ends every stream (with a `finished` event without a verdict when the run sent none)
    /// and stops the server, waiting up to two seconds for open connections.
    pub fn close(mut self) {
        {
            let mut state = lock(&self.shared.state);
            if !state.finished {
                let frame = Frame::ended_without_verdict();
                if let Some(sender) = &state.sender {
                    let _ = sender.send(Arc::new(frame.clone()));
                }
                state.history.push(frame);
                state.finished = true;
            }
            // Dropping the sender ends every client's stream after what it was sent.
            state.sender = None;
        }
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let (Some(runtime), Some(task)) = (self.runtime.take(), self.task.take()) {
            let _ = runtime.block_on(async { tokio::time::timeout(GRACE, task).await });
            runtime.shutdown_timeout(Duration::from_millis(100));
        }
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // Never blocks, so dropping is safe anywhere.
            runtime.shutdown_background();
        }
    }
}

impl EventSink for DashboardSink {
    fn event(&mut self, event: &Event) {
        let Some(frame) = Frame::of(event) else { return };
        let mut state = lock(&self.shared.state);
        match event {
            Event::Live(sample) => state.history.push_live(sample),
            _ => state.history.push(frame.clone()),
        }
        state.finished |= frame.kind == "finished";
        if let Some(sender) = &state.sender {
            // An error only means that nobody is connected.
            let _ = sender.send(Arc::new(frame));
        }
    }
}

fn lock(state: &Mutex<Stream>) -> MutexGuard<'_, Stream> {
    // A panic elsewhere while holding the lock leaves the history usable.
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether the request names this server by a loopback host, so a page on another site that
/// resolved its own name to 127.0.0.1 (DNS rebinding) cannot read the run.
fn host_allowed(headers: &HeaderMap, port: u16) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    ["127.0.0.1", "localhost", "[::1]"].iter().any(|name| {
        host.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(':'))
            .is_some_and(|p| p.parse::<u16>().ok() == Some(port))
    })
}

fn refused() -> Response {
    (StatusCode::MISDIRECTED_REQUEST, "the dashboard answers to 127.0.0.1, localhost or [::1]\n")
        .into_response()
}

async fn page_handler(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !host_allowed(&headers, shared.port) {
        return refused();
    }
    let mut response = (StatusCode::OK, page::LIVE_PAGE).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers
        .insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    response
}

async fn events_handler(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !host_allowed(&headers, shared.port) {
        return refused();
    }
    let Some(slot) = ClientSlot::take(&shared) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "too many dashboard clients\n").into_response();
    };
    let client = {
        let state = lock(&shared.state);
        let replay = state.history.replay();
        // `retry`: how soon the browser reconnects after the stream ends early.
        let mut first = String::from("retry: 1000\n\n");
        let mut done = false;
        for frame in &replay {
            first.push_str(&frame.to_sse());
            done |= frame.kind == "finished";
        }
        Client {
            pending: VecDeque::from([first]),
            receiver: state.sender.as_ref().map(broadcast::Sender::subscribe),
            done,
            _slot: slot,
        }
    };
    let body = Body::from_stream(futures_util::stream::unfold(client, next_chunk));
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// One connected client: the replay still to send, then the live events.
struct Client {
    pending: VecDeque<String>,
    receiver: Option<broadcast::Receiver<Arc<Frame>>>,
    /// The `finished` event was sent: the stream ends.
    done: bool,
    _slot: ClientSlot,
}

/// The next piece of a client's stream; `None` ends it.
async fn next_chunk(mut client: Client) -> Option<(Result<Bytes, Infallible>, Client)> {
    if let Some(text) = client.pending.pop_front() {
        return Some((Ok(Bytes::from(text)), client));
    }
    if client.done {
        return None;
    }
    let receiver = client.receiver.as_mut()?;
    match tokio::time::timeout(KEEP_ALIVE, receiver.recv()).await {
        Err(_) => Some((Ok(Bytes::from_static(b": keep-alive\n\n")), client)),
        Ok(Ok(frame)) => {
            client.done = frame.kind == "finished";
            Some((Ok(Bytes::from(frame.to_sse())), client))
        }
        // Fallen behind (the browser reconnects and is sent the replay) or closing.
        Ok(Err(_)) => None,
    }
}

/// A place among the [`MAX_CLIENTS`] streams, given back when the stream ends.
struct ClientSlot {
    shared: Arc<Shared>,
}

impl ClientSlot {
    fn take(shared: &Arc<Shared>) -> Option<ClientSlot> {
        let taken = shared
            .clients
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_CLIENTS).then_some(n + 1)
            })
            .is_ok();
        taken.then(|| ClientSlot { shared: Arc::clone(shared) })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        self.shared.clients.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use std::io::{Read as _, Write as _};
    use std::net::TcpStream;
    use std::time::Instant;

    use stressor_core::{LiveSample, RunInfo, Verdict};

    use super::*;

    fn run_started() -> Event {
        Event::RunStarted(RunInfo {
            scenario_name: "war game <b>".into(),
            scenario_source: "war.toml".into(),
            seed: 7,
            target_name: "credit".into(),
            target_kind: "builtin".into(),
            input_shape: Vec::new(),
            class_names: Vec::new(),
            data_name: "german-credit".into(),
            n_samples: 100,
            stressor_version: "0".into(),
        })
    }

    fn live(t_s: f64) -> Event {
        Event::Live(LiveSample {
            step_id: "war".into(),
            t_s,
            values: vec![("approval_rate.female".into(), 0.5)],
            notes: vec![format!("tick {t_s}")],
        })
    }

    /// Opens `GET path` and returns the stream after the response head, and the head.
    fn get(addr: SocketAddr, path: &str, host: &str) -> (TcpStream, String) {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            assert_eq!(stream.read(&mut byte).unwrap(), 1, "closed in the head");
            head.push(byte[0]);
        }
        (stream, String::from_utf8(head).unwrap())
    }

    /// Reads the chunked body until it holds `count` events (or ends), and returns the event
    /// lines (`event: …` and `data: …`) in order.
    fn read_events(stream: &mut TcpStream, count: usize) -> Vec<(String, String)> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut text = String::new();
        let mut buffer = [0u8; 4096];
        loop {
            let events = parse_events(&text);
            if events.len() >= count || Instant::now() > deadline {
                return events;
            }
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => return parse_events(&text),
                Ok(n) => text.push_str(&String::from_utf8_lossy(&buffer[..n])),
            }
        }
    }

    /// `(event, data)` of each complete event in a chunked SSE body (chunk sizes skipped).
    fn parse_events(body: &str) -> Vec<(String, String)> {
        let mut events = Vec::new();
        let mut kind = None;
        for line in body.split("\r\n").flat_map(|l| l.split('\n')) {
            if let Some(k) = line.strip_prefix("event: ") {
                kind = Some(k.to_string());
            } else if let Some(data) = line.strip_prefix("data: ")
                && let Some(k) = kind.take()
            {
                events.push((k, data.to_string()));
            }
        }
        events
    }

    #[test]
    fn a_late_client_gets_the_replay_then_live_events_then_the_end() {
        let dashboard = Dashboard::start("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut sink = dashboard.sink();
        sink.event(&run_started());
        for t in 0..3 {
            sink.event(&live(f64::from(t)));
        }
        let host = format!("127.0.0.1:{}", dashboard.local_addr().port());
        let (mut stream, head) = get(dashboard.local_addr(), "/events", &host);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.to_lowercase().contains("content-type: text/event-stream"), "{head}");
        let replayed = read_events(&mut stream, 4);
        let kinds: Vec<&str> = replayed.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(kinds, ["run", "live", "live", "live"]);
        let run: serde_json::Value = serde_json::from_str(&replayed[0].1).unwrap();
        assert_eq!(run["scenario"], "war game <b>");
        sink.event(&live(3.0));
        sink.event(&Event::RunFinished { verdict: Verdict::Pass, elapsed: Duration::ZERO });
        let then = read_events(&mut stream, 2);
        let kinds: Vec<&str> = then.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(kinds, ["live", "finished"]);
        let last_live: serde_json::Value = serde_json::from_str(&then[0].1).unwrap();
        assert_eq!(last_live["t_s"], 3.0);
        // After `finished` the stream ends, and so does the connection (`Connection: close`).
        let mut rest = String::new();
        assert!(stream.read_to_string(&mut rest).is_ok(), "the stream did not end: {rest:?}");
        // A client after the end gets the whole run, `finished` last, and the stream ends.
        let (mut late, _) = get(dashboard.local_addr(), "/events", &host);
        let replay = read_events(&mut late, 6);
        assert_eq!(replay.last().map(|(k, _)| k.as_str()), Some("finished"));
        dashboard.close();
    }

    #[test]
    fn the_page_is_served_and_other_hosts_are_refused() {
        let dashboard = Dashboard::start("127.0.0.1:0".parse().unwrap()).unwrap();
        let port = dashboard.local_addr().port();
        let (mut stream, head) = get(dashboard.local_addr(), "/", &format!("localhost:{port}"));
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.to_lowercase().contains("content-security-policy: default-src 'none'"));
        let mut body = String::new();
        stream.read_to_string(&mut body).unwrap();
        assert!(body.contains("<!DOCTYPE html>") && body.contains("id=\"stressor-events\""));
        let (_, head) = get(dashboard.local_addr(), "/events", &format!("evil.example:{port}"));
        assert!(head.starts_with("HTTP/1.1 421"), "{head}");
        dashboard.close();
    }

    #[test]
    fn closing_ends_open_streams_without_a_verdict() {
        let dashboard = Dashboard::start("127.0.0.1:0".parse().unwrap()).unwrap();
        let host = format!("127.0.0.1:{}", dashboard.local_addr().port());
        let (mut stream, _) = get(dashboard.local_addr(), "/events", &host);
        let started = Instant::now();
        dashboard.close();
        let events = read_events(&mut stream, 1);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].0, "finished");
        assert!(events[0].1.contains("\"verdict\":null"), "{}", events[0].1);
        assert!(started.elapsed() < GRACE + Duration::from_secs(1));
    }

    #[test]
    fn only_loopback_addresses_are_served() {
        for addr in ["0.0.0.0:0", "192.0.2.1:8080", "[::]:0"] {
            let error = Dashboard::start(addr.parse().unwrap()).unwrap_err();
            assert!(matches!(error, DashboardError::NotLoopback { .. }), "{addr}: {error}");
            assert!(error.to_string().contains("loopback only"), "{error}");
        }
    }
}
