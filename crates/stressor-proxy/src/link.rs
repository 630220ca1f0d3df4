//! One proxied connection: two directions, each a [`Pipe`] applying the byte toxics of its
//! stream, in raw TCP mode (chunks as they arrive) or HTTP mode (see `http`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rand::Rng as _;
use stressor_core::Rng;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep, sleep_until};

use crate::proxy::Shared;
use crate::toxic::{Stream, Toxic, ToxicKind, ms};

/// How a connection ends, shared between its two directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[expect(clippy::enum_variant_names, reason = "Close::Close reads as what it does")]
pub(crate) enum Close {
    Open,
    /// Close both sockets normally.
    Close,
    /// Close both sockets with a TCP reset.
    Reset,
}

/// What to do after passing a piece of data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Close,
    Reset,
}

/// A toxic acting on this link since `since`.
#[derive(Debug)]
struct Active {
    toxic: Toxic,
    since: Instant,
}

/// One direction of a connection: the byte toxics active on it and their state.
pub(crate) struct Pipe {
    pub(crate) stream: Stream,
    pub(crate) shared: Arc<Shared>,
    changes: watch::Receiver<u64>,
    pub(crate) rng: Rng,
    active: Vec<Active>,
    /// The proxy's HTTP toxics (both streams), as of the last refresh.
    pub(crate) http: Arc<Vec<Toxic>>,
    passed: u64,
    next_send: Instant,
}

impl Pipe {
    pub(crate) fn new(stream: Stream, shared: Arc<Shared>, rng: Rng) -> Pipe {
        let changes = shared.changes.subscribe();
        let mut pipe = Pipe {
            stream,
            shared,
            changes,
            rng,
            active: Vec::new(),
            http: Arc::new(Vec::new()),
            passed: 0,
            next_send: Instant::now(),
        };
        pipe.refresh();
        pipe
    }

    /// Re-reads the proxy's toxics and re-draws which byte toxics act on this link (a toxic
    /// that stays active keeps its start time, so a timeout still fires on schedule).
    pub(crate) fn refresh(&mut self) {
        self.changes.borrow_and_update();
        let toxics = self.shared.toxics();
        let now = Instant::now();
        let mut active = Vec::new();
        for toxic in toxics.iter().filter(|t| t.stream == self.stream && !t.kind.is_http()) {
            if toxic.toxicity < 1.0 && self.rng.random::<f64>() >= toxic.toxicity {
                continue;
            }
            let since = self
                .active
                .iter()
                .find(|a| a.toxic.name == toxic.name && a.toxic.kind == toxic.kind)
                .map_or(now, |a| a.since);
            active.push(Active { toxic: toxic.clone(), since });
        }
        self.active = active;
        self.http = Arc::new(toxics.iter().filter(|t| t.kind.is_http()).cloned().collect());
    }

    fn refresh_if_changed(&mut self) {
        if self.changes.has_changed().unwrap_or(false) {
            self.refresh();
        }
    }

    /// When a timeout or reset toxic ends this link, and how.
    fn deadline(&self) -> Option<(Instant, Flow)> {
        self.active
            .iter()
            .filter_map(|a| match a.toxic.kind {
                ToxicKind::Timeout { timeout } if timeout > 0 => {
                    Some((a.since + ms(timeout), Flow::Close))
                }
                ToxicKind::ResetPeer { timeout } => Some((a.since + ms(timeout), Flow::Reset)),
                _ => None,
            })
            .min_by_key(|(at, _)| *at)
    }

    fn blackholed(&self) -> bool {
        self.active.iter().any(|a| matches!(a.toxic.kind, ToxicKind::Timeout { .. }))
    }

    fn slow_close(&self) -> Duration {
        self.active
            .iter()
            .filter_map(|a| match a.toxic.kind {
                ToxicKind::SlowClose { delay } => Some(ms(delay)),
                _ => None,
            })
            .max()
            .unwrap_or_default()
    }

    /// Passes `data`, which arrived at `at`, through the active byte toxics to `writer`.
    pub(crate) async fn send(
        &mut self,
        writer: &mut OwnedWriteHalf,
        mut data: Bytes,
        at: Instant,
    ) -> std::io::Result<Flow> {
        self.refresh_if_changed();
        if self.blackholed() {
            return Ok(Flow::Continue);
        }
        let mut delay = Duration::ZERO;
        for active in &self.active {
            if let ToxicKind::Latency { latency, jitter } = active.toxic.kind {
                let jitter = jitter as i64;
                let offset = if jitter > 0 { self.rng.random_range(-jitter..=jitter) } else { 0 };
                delay += Duration::from_millis((latency as i64 + offset).max(0) as u64);
            }
        }
        if !delay.is_zero() {
            sleep_until(at + delay).await;
        }
        let mut flow = Flow::Continue;
        for active in &self.active {
            if let ToxicKind::LimitData { bytes } = active.toxic.kind {
                let left = bytes.saturating_sub(self.passed);
                if data.len() as u64 >= left {
                    data.truncate(left as usize);
                    flow = Flow::Close;
                }
            }
        }
        self.write_paced(writer, &data).await?;
        self.passed += data.len() as u64;
        self.shared.stats.count_bytes(self.stream, data.len());
        Ok(flow)
    }

    /// Writes `data`, sliced by a slicer toxic and paced by a bandwidth toxic.
    async fn write_paced(
        &mut self,
        writer: &mut OwnedWriteHalf,
        data: &[u8],
    ) -> std::io::Result<()> {
        let mut slicer = None;
        let mut rate = None;
        for active in &self.active {
            match active.toxic.kind {
                ToxicKind::Slicer { average_size, size_variation, delay } if average_size > 0 => {
                    slicer = Some((average_size, size_variation.min(average_size - 1), delay));
                }
                ToxicKind::Bandwidth { rate: r } if r > 0 => {
                    rate = Some(rate.map_or(r, |old: u64| old.min(r)));
                }
                _ => {}
            }
        }
        if slicer.is_none() && rate.is_none() {
            return writer.write_all(data).await;
        }
        let mut rest = data;
        while !rest.is_empty() {
            let mut size = rest.len();
            if let Some((average, variation, _)) = slicer {
                let variation = variation as i64;
                let draw =
                    if variation > 0 { self.rng.random_range(-variation..=variation) } else { 0 };
                size = size.min((average as i64 + draw).max(1) as usize);
            }
            if let Some(rate) = rate {
                // At most 100 ms of data per write, as Toxiproxy does.
                size = size.min((rate as usize * 100).max(1));
                let now = Instant::now();
                if self.next_send < now {
                    self.next_send = now;
                }
                sleep_until(self.next_send).await;
                self.next_send += Duration::from_secs_f64(size as f64 / (rate as f64 * 1000.0));
            }
            writer.write_all(&rest[..size]).await?;
            rest = &rest[size..];
            if let Some((_, _, delay)) = slicer
                && delay > 0
                && !rest.is_empty()
            {
                sleep(Duration::from_micros(delay)).await;
            }
        }
        Ok(())
    }

    /// Ends this direction after its source closed: waits out a slow-close toxic, then
    /// half-closes the destination.
    pub(crate) async fn finish(&mut self, writer: &mut OwnedWriteHalf) {
        self.refresh_if_changed();
        let delay = self.slow_close();
        if !delay.is_zero() {
            sleep(delay).await;
        }
        let _ = writer.shutdown().await;
    }
}

/// What [`guard`] saw first.
pub(crate) enum Wait<T> {
    Done(T),
    Stop(Flow),
}

/// Awaits `work` while honouring the link's timeout/reset deadlines, toxic changes and a close
/// requested by the other direction.
pub(crate) async fn guard<T>(
    pipe: &mut Pipe,
    close: &mut watch::Receiver<Close>,
    work: impl Future<Output = T>,
) -> Wait<T> {
    tokio::pin!(work);
    loop {
        match *close.borrow_and_update() {
            Close::Open => {}
            Close::Close => return Wait::Stop(Flow::Close),
            Close::Reset => return Wait::Stop(Flow::Reset),
        }
        let deadline = pipe.deadline();
        tokio::select! {
            biased;
            changed = close.changed() => {
                if changed.is_err() {
                    return Wait::Stop(Flow::Close);
                }
            }
            _ = sleep_until(deadline.map_or_else(Instant::now, |d| d.0)), if deadline.is_some() => {
                return Wait::Stop(deadline.map_or(Flow::Close, |d| d.1));
            }
            _ = pipe.changes.changed() => pipe.refresh(),
            out = &mut work => return Wait::Done(out),
        }
    }
}

/// Ends the connection for both directions; a reset sets SO_LINGER 0 on `writer`'s socket and
/// drops it without the FIN a write half sends when dropped, so closing it sends RST.
pub(crate) fn stop(close: &watch::Sender<Close>, flow: Flow, writer: OwnedWriteHalf) {
    let state = match flow {
        Flow::Continue => return,
        Flow::Close => Close::Close,
        Flow::Reset => Close::Reset,
    };
    if state == Close::Reset {
        set_reset(writer.as_ref());
        writer.forget();
    } else {
        drop(writer);
    }
    close.send_if_modified(|current| {
        if *current == Close::Open || (*current == Close::Close && state == Close::Reset) {
            *current = state;
            true
        } else {
            false
        }
    });
}

fn set_reset(stream: &TcpStream) {
    #[allow(deprecated)]
    let _ = stream.set_linger(Some(Duration::ZERO));
}

/// A chunk read from a socket and when it arrived.
struct Chunk {
    data: Bytes,
    at: Instant,
}

const CHUNK: usize = 32 * 1024;

/// Raw TCP mode for one direction: a reader timestamps chunks as they arrive (so a latency
/// toxic delays each chunk from its arrival, not from when the previous one left) and the pipe
/// passes them on.
pub(crate) async fn raw_direction(
    mut reader: OwnedReadHalf,
    mut writer: OwnedWriteHalf,
    mut pipe: Pipe,
    close_tx: Arc<watch::Sender<Close>>,
) {
    let mut close = close_tx.subscribe();
    let mut scratch = vec![0u8; CHUNK];
    // Fast path while no byte toxic acts on this direction: copy straight through, watching
    // for toxics to arrive (then the timestamped path below takes over mid-connection).
    while pipe.active.is_empty() {
        tokio::select! {
            biased;
            changed = close.changed() => {
                let flow = match (changed, *close.borrow()) {
                    (Ok(()), Close::Open) => continue,
                    (Ok(()), Close::Reset) => Flow::Reset,
                    _ => Flow::Close,
                };
                return stop(&close_tx, flow, writer);
            }
            _ = pipe.changes.changed() => pipe.refresh(),
            read = reader.read(&mut scratch) => match read {
                Ok(0) | Err(_) => return pipe.finish(&mut writer).await,
                Ok(n) => {
                    if writer.write_all(&scratch[..n]).await.is_err() {
                        return stop(&close_tx, Flow::Close, writer);
                    }
                    pipe.shared.stats.count_bytes(pipe.stream, n);
                }
            },
        }
    }
    let (tx, mut rx) = mpsc::channel::<Chunk>(64);
    let mut reader_close = close_tx.subscribe();
    let read = async move {
        // One scratch buffer; each chunk is copied out at its own size, so small messages do
        // not each cost a fresh 32 KiB allocation.
        loop {
            let read = tokio::select! {
                read = reader.read(&mut scratch) => read,
                _ = reader_close.changed() => return,
            };
            match read {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let chunk =
                        Chunk { data: Bytes::copy_from_slice(&scratch[..n]), at: Instant::now() };
                    if tx.send(chunk).await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    let write = async move {
        loop {
            match guard(&mut pipe, &mut close, rx.recv()).await {
                Wait::Done(Some(chunk)) => match pipe.send(&mut writer, chunk.data, chunk.at).await
                {
                    Ok(Flow::Continue) => {}
                    Ok(flow) => return stop(&close_tx, flow, writer),
                    Err(_) => return stop(&close_tx, Flow::Close, writer),
                },
                Wait::Done(None) => return pipe.finish(&mut writer).await,
                Wait::Stop(flow) => return stop(&close_tx, flow, writer),
            }
        }
    };
    tokio::join!(read, write);
}
