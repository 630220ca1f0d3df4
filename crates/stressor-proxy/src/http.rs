//! HTTP mode: the connection is read as HTTP/1.1 messages (heads by `httparse`, bodies by
//! Content-Length or chunked framing), so faults can act on whole requests and responses.
//! Responses are matched to requests in order (pipelining works), which is what lets the proxy
//! answer a request itself (`http_status`), send it twice (`http_duplicate`) or hold a
//! response back (`http_reorder`).

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rand::Rng as _;
use rand_distr::{Distribution as _, Exp, LogNormal, Normal};
use serde_json::Value;
use tokio::io::AsyncReadExt as _;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, sleep, timeout};

use crate::link::{Close, Flow, Pipe, Wait, guard, stop};
use crate::toxic::{Delay, Stream, Toxic, ToxicKind, ms};

/// The largest message the proxy buffers.
const MAX_MESSAGE: usize = 64 * 1024 * 1024;
const MAX_HEADERS: usize = 128;

/// Whether `prefix` (the first bytes a client sent) starts an HTTP/1.x request.
pub(crate) fn looks_like_http(prefix: &[u8]) -> bool {
    const METHODS: [&[u8]; 9] = [
        b"GET ",
        b"POST ",
        b"PUT ",
        b"DELETE ",
        b"HEAD ",
        b"OPTIONS ",
        b"PATCH ",
        b"CONNECT ",
        b"TRACE ",
    ];
    !prefix.is_empty()
        && METHODS.iter().any(|m| {
            let n = m.len().min(prefix.len());
            prefix[..n] == m[..n]
        })
}

/// How a message's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    Length(usize),
    Chunked,
    UntilClose,
}

/// One HTTP/1.1 message as it was on the wire.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    /// Start line and headers, up to and including the blank line.
    head: Bytes,
    head_len: usize,
    /// The whole message: head and framed body.
    pub(crate) raw: Bytes,
    chunked: bool,
    /// The response status (responses only).
    pub(crate) status: Option<u16>,
    /// Whether the request was HEAD (requests only).
    pub(crate) is_head: bool,
    /// Whether the sender asked to close the connection after this message.
    pub(crate) close: bool,
}

/// What kind of message a reader expects.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Side {
    Request,
    /// A response to a request that was (or was not) HEAD.
    Response {
        to_head: bool,
    },
}

fn wants_close(headers: &[httparse::Header<'_>]) -> bool {
    headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("connection")
            && String::from_utf8_lossy(h.value).to_ascii_lowercase().contains("close")
    })
}

fn header_body(headers: &[httparse::Header<'_>]) -> Result<Option<Body>, String> {
    let mut body = None;
    for header in headers {
        if header.name.eq_ignore_ascii_case("transfer-encoding") {
            let value = String::from_utf8_lossy(header.value).to_ascii_lowercase();
            if value.trim().ends_with("chunked") {
                return Ok(Some(Body::Chunked));
            }
        } else if header.name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(header.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| "a Content-Length that is not a number".to_string())?;
            body = Some(Body::Length(value));
        }
    }
    Ok(body)
}

/// Parses one message from the front of `buffer`: `Ok(None)` when more bytes are needed.
fn parse(buffer: &[u8], side: Side, at_eof: bool) -> Result<Option<(usize, Message)>, String> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let (head_len, body, status, is_head, close) = match side {
        Side::Request => {
            let mut request = httparse::Request::new(&mut headers);
            match request.parse(buffer).map_err(|e| format!("not an HTTP request: {e}"))? {
                httparse::Status::Partial => return Ok(None),
                httparse::Status::Complete(n) => {
                    let body = header_body(request.headers)?.unwrap_or(Body::Length(0));
                    let close = wants_close(request.headers) || request.version == Some(0);
                    (n, body, None, request.method == Some("HEAD"), close)
                }
            }
        }
        Side::Response { to_head } => {
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(buffer).map_err(|e| format!("not an HTTP response: {e}"))? {
                httparse::Status::Partial => return Ok(None),
                httparse::Status::Complete(n) => {
                    let code = response.code.unwrap_or(0);
                    let body =
                        if to_head || (100..200).contains(&code) || code == 204 || code == 304 {
                            Body::Length(0)
                        } else {
                            header_body(response.headers)?.unwrap_or(Body::UntilClose)
                        };
                    (n, body, Some(code), false, wants_close(response.headers))
                }
            }
        }
    };
    let total = match body {
        // A peer's Content-Length is outside input: one that overflows is an error, never a
        // wrapped (smaller) frame.
        Body::Length(n) => {
            Some(head_len.checked_add(n).ok_or_else(|| format!("a Content-Length of {n} bytes"))?)
                .filter(|total| *total <= buffer.len())
        }
        Body::Chunked => chunked_len(&buffer[head_len..])?.map(|n| head_len + n),
        Body::UntilClose => at_eof.then_some(buffer.len()),
    };
    let Some(total) = total else {
        return Ok(None);
    };
    let raw = Bytes::copy_from_slice(&buffer[..total]);
    let message = Message {
        head: raw.slice(..head_len),
        head_len,
        raw,
        chunked: body == Body::Chunked,
        status,
        is_head,
        close,
    };
    Ok(Some((total, message)))
}

/// The length of a complete chunked body at the front of `body`, trailers included.
fn chunked_len(body: &[u8]) -> Result<Option<usize>, String> {
    let mut at = 0;
    loop {
        let Some(line_end) = find_crlf(&body[at..]) else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&body[at..at + line_end])
            .map_err(|_| "a chunk size that is not text")?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("a bad chunk size `{size_text}`"))?;
        at += line_end + 2;
        if size == 0 {
            // Trailers, then an empty line.
            loop {
                let Some(end) = find_crlf(&body[at..]) else {
                    return Ok(None);
                };
                at += end + 2;
                if end == 0 {
                    return Ok(Some(at));
                }
            }
        }
        let Some(end) = at.checked_add(size).and_then(|end| end.checked_add(2)) else {
            return Err(format!("a chunk of {size} bytes"));
        };
        if body.len() < end {
            return Ok(None);
        }
        at = end;
    }
}

fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|w| w == b"\r\n")
}

/// Reads the next message. Cancel-safe: everything read stays in `buffer`.
pub(crate) async fn read_message(
    reader: &mut OwnedReadHalf,
    buffer: &mut BytesMut,
    side: Side,
) -> Result<Option<Message>, String> {
    let mut at_eof = false;
    loop {
        if !buffer.is_empty() {
            if let Some((used, message)) = parse(buffer, side, at_eof)? {
                let _ = buffer.split_to(used);
                return Ok(Some(message));
            }
            if at_eof {
                return Err("the connection closed in the middle of a message".into());
            }
        } else if at_eof {
            return Ok(None);
        }
        if buffer.len() > MAX_MESSAGE {
            return Err(format!("a message over {MAX_MESSAGE} bytes"));
        }
        if buffer.capacity() - buffer.len() < 4096 {
            buffer.reserve(32 * 1024);
        }
        match reader.read_buf(buffer).await {
            Ok(0) => at_eof = true,
            Ok(_) => {}
            Err(error) => return Err(error.to_string()),
        }
    }
}

impl Message {
    /// The body with any chunked framing removed.
    fn body(&self) -> Vec<u8> {
        let framed = &self.raw[self.head_len..];
        if !self.chunked {
            return framed.to_vec();
        }
        let mut body = Vec::new();
        let mut at = 0;
        while let Some(end) = find_crlf(&framed[at..]) {
            let line = String::from_utf8_lossy(&framed[at..at + end]);
            let size =
                usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
            at += end + 2;
            if size == 0 || at + size > framed.len() {
                break;
            }
            body.extend_from_slice(&framed[at..at + size]);
            at += size + 2;
        }
        body
    }

    /// The message with `body` in place of its own, framed by Content-Length.
    fn with_body(&self, body: &[u8]) -> Bytes {
        let head = String::from_utf8_lossy(&self.head);
        let mut out = Vec::with_capacity(self.head.len() + body.len() + 32);
        for (i, line) in head.split("\r\n").enumerate() {
            if line.is_empty() {
                continue;
            }
            let name = line.split(':').next().unwrap_or("").trim();
            if i > 0
                && (name.eq_ignore_ascii_case("content-length")
                    || name.eq_ignore_ascii_case("transfer-encoding"))
            {
                continue;
            }
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
        out.extend_from_slice(body);
        Bytes::from(out)
    }
}

/// A response the proxy writes itself.
fn synthetic(status: u16, body: &str, close: bool) -> Bytes {
    let reason = match status {
        400 => "Bad Request",
        404 => "Not Found",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Injected",
    };
    let retry = if status == 503 || status == 429 { "retry-after: 1\r\n" } else { "" };
    let connection = if close { "connection: close\r\n" } else { "" };
    Bytes::from(format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n{retry}{connection}content-length: {}\r\n\r\n{body}",
        body.len()
    ))
}

/// Draws a delay in milliseconds.
fn draw_delay(
    rng: &mut stressor_core::Rng,
    distribution: Delay,
    mean: f64,
    stddev: f64,
) -> Duration {
    let value = match distribution {
        Delay::Constant => mean,
        Delay::Uniform => {
            let half = stddev * 3f64.sqrt();
            if half > 0.0 { rng.random_range(mean - half..=mean + half) } else { mean }
        }
        Delay::Normal => Normal::new(mean, stddev).map_or(mean, |d| d.sample(rng)),
        Delay::LogNormal => {
            if mean > 0.0 {
                // Mean m and standard deviation s of the delay itself:
                // σ² = ln(1 + s²/m²), μ = ln m − σ²/2.
                let sigma2 = (1.0 + (stddev * stddev) / (mean * mean)).ln();
                LogNormal::new(mean.ln() - sigma2 / 2.0, sigma2.sqrt())
                    .map_or(mean, |d| d.sample(rng))
            } else {
                0.0
            }
        }
        Delay::Exponential => {
            if mean > 0.0 {
                Exp::new(1.0 / mean).map_or(mean, |d| d.sample(rng))
            } else {
                0.0
            }
        }
    };
    Duration::from_secs_f64(value.max(0.0) / 1000.0)
}

/// The HTTP toxics of `stream` that act on this message (each drawn with its toxicity).
fn hits(pipe: &mut Pipe, stream: Option<Stream>) -> Vec<Toxic> {
    let toxics = Arc::clone(&pipe.http);
    let mut hit = Vec::new();
    for toxic in toxics.iter() {
        if stream.is_some_and(|s| s != toxic.stream) {
            continue;
        }
        if toxic.toxicity >= 1.0 || pipe.rng.random::<f64>() < toxic.toxicity {
            hit.push(toxic.clone());
        }
    }
    hit
}

/// Applies the body faults among `toxics` to `message`; `None` when none applies.
fn transform(pipe: &mut Pipe, message: &Message, toxics: &[Toxic]) -> Option<Bytes> {
    let mut body: Option<Vec<u8>> = None;
    for toxic in toxics {
        match &toxic.kind {
            ToxicKind::HttpTruncate { fraction } => {
                let b = body.get_or_insert_with(|| message.body());
                let keep = (b.len() as f64 * fraction).floor() as usize;
                b.truncate(keep);
            }
            ToxicKind::HttpCorrupt { bytes } => {
                let b = body.get_or_insert_with(|| message.body());
                if !b.is_empty() {
                    for _ in 0..*bytes {
                        let at = pipe.rng.random_range(0..b.len());
                        b[at] = pipe.rng.random_range(b'!'..=b'~');
                    }
                }
            }
            ToxicKind::HttpDropField { pointer } => {
                let b = body.get_or_insert_with(|| message.body());
                if let Ok(mut json) = serde_json::from_slice::<Value>(b)
                    && remove_pointer(&mut json, pointer)
                {
                    *b = serde_json::to_vec(&json).unwrap_or_default();
                }
            }
            _ => continue,
        }
        pipe.shared.stats.count_fault(&toxic.name);
    }
    body.map(|b| message.with_body(&b))
}

/// Removes the value at a JSON pointer; whether there was one.
fn remove_pointer(json: &mut Value, pointer: &str) -> bool {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return false;
    };
    let key = last.replace("~1", "/").replace("~0", "~");
    let target = if parent.is_empty() { Some(json) } else { json.pointer_mut(parent) };
    match target {
        Some(Value::Object(map)) => map.remove(&key).is_some(),
        Some(Value::Array(items)) => match key.parse::<usize>() {
            Ok(i) if i < items.len() => {
                items.remove(i);
                true
            }
            _ => false,
        },
        _ => false,
    }
}

/// What the response side must do for each request, in request order.
enum Pending {
    /// Read the server's response and pass it on.
    Forward { to_head: bool },
    /// Read the server's response and drop it (the second of a duplicated request).
    Swallow { to_head: bool },
    /// Write this response without asking the server (and close after it when the client
    /// asked to).
    Answer(Bytes, bool),
}

/// HTTP mode, client → server.
async fn requests(
    mut reader: OwnedReadHalf,
    mut writer: OwnedWriteHalf,
    mut pipe: Pipe,
    close_tx: Arc<watch::Sender<Close>>,
    pending: mpsc::UnboundedSender<Pending>,
) {
    let mut close = close_tx.subscribe();
    let mut buffer = BytesMut::with_capacity(32 * 1024);
    loop {
        let message = match guard(
            &mut pipe,
            &mut close,
            read_message(&mut reader, &mut buffer, Side::Request),
        )
        .await
        {
            Wait::Done(Ok(Some(message))) => message,
            Wait::Done(Ok(None)) => return pipe.finish(&mut writer).await,
            Wait::Done(Err(_)) => return stop(&close_tx, Flow::Close, writer),
            Wait::Stop(flow) => return stop(&close_tx, flow, writer),
        };
        let at = Instant::now();
        pipe.shared.stats.count_request();
        let toxics = hits(&mut pipe, None);
        if let Some(toxic) = toxics.iter().find(|t| matches!(t.kind, ToxicKind::HttpStatus { .. }))
        {
            if let ToxicKind::HttpStatus { status, body } = &toxic.kind {
                pipe.shared.stats.count_fault(&toxic.name);
                let _ = pending
                    .send(Pending::Answer(synthetic(*status, body, message.close), message.close));
            }
            continue;
        }
        let upstream: Vec<Toxic> =
            toxics.iter().filter(|t| t.stream == Stream::Upstream).cloned().collect();
        delay(&mut pipe, &upstream).await;
        let raw = transform(&mut pipe, &message, &upstream).unwrap_or_else(|| message.raw.clone());
        let duplicate = toxics.iter().find(|t| t.kind == ToxicKind::HttpDuplicate);
        let to_head = message.is_head;
        if pending.send(Pending::Forward { to_head }).is_err() {
            return;
        }
        let mut flow = pipe.send(&mut writer, raw.clone(), at).await;
        if let Some(toxic) = duplicate
            && matches!(flow, Ok(Flow::Continue))
        {
            pipe.shared.stats.count_fault(&toxic.name);
            let _ = pending.send(Pending::Swallow { to_head });
            flow = pipe.send(&mut writer, raw, Instant::now()).await;
        }
        match flow {
            Ok(Flow::Continue) => {}
            Ok(flow) => return stop(&close_tx, flow, writer),
            Err(_) => return stop(&close_tx, Flow::Close, writer),
        }
    }
}

async fn delay(pipe: &mut Pipe, toxics: &[Toxic]) {
    let mut total = Duration::ZERO;
    for toxic in toxics {
        if let ToxicKind::HttpDelay { distribution, mean, stddev } = toxic.kind {
            total += draw_delay(&mut pipe.rng, distribution, mean, stddev);
            pipe.shared.stats.count_fault(&toxic.name);
        }
    }
    if !total.is_zero() {
        sleep(total).await;
    }
}

enum Next {
    Request(Option<Pending>),
    Read(usize),
}

/// HTTP mode, server → client.
async fn responses(
    mut reader: OwnedReadHalf,
    mut writer: OwnedWriteHalf,
    mut pipe: Pipe,
    close_tx: Arc<watch::Sender<Close>>,
    mut pending: mpsc::UnboundedReceiver<Pending>,
) {
    let mut close = close_tx.subscribe();
    let mut buffer = BytesMut::with_capacity(32 * 1024);
    loop {
        // Wait for the next request, noticing meanwhile when the server closes (after a
        // `connection: close` response, say) so the client sees the close too.
        let next = loop {
            let wait = async {
                tokio::select! {
                    biased;
                    next = pending.recv() => Next::Request(next),
                    read = reader.read_buf(&mut buffer) => Next::Read(read.unwrap_or(0)),
                }
            };
            match guard(&mut pipe, &mut close, wait).await {
                Wait::Done(Next::Request(Some(next))) => break next,
                Wait::Done(Next::Request(None) | Next::Read(0)) => {
                    return pipe.finish(&mut writer).await;
                }
                Wait::Done(Next::Read(_)) => {
                    if buffer.len() > MAX_MESSAGE {
                        return stop(&close_tx, Flow::Close, writer);
                    }
                }
                Wait::Stop(flow) => return stop(&close_tx, flow, writer),
            }
        };
        let (to_head, keep) = match next {
            Pending::Answer(bytes, close) => {
                match pipe.send(&mut writer, bytes, Instant::now()).await {
                    Ok(Flow::Continue) if close => return stop(&close_tx, Flow::Close, writer),
                    Ok(Flow::Continue) => continue,
                    Ok(flow) => return stop(&close_tx, flow, writer),
                    Err(_) => return stop(&close_tx, Flow::Close, writer),
                }
            }
            Pending::Forward { to_head } => (to_head, true),
            Pending::Swallow { to_head } => (to_head, false),
        };
        // Interim (1xx) responses go straight through; the final one answers the request.
        let message = loop {
            let read = read_message(&mut reader, &mut buffer, Side::Response { to_head });
            let message = match guard(&mut pipe, &mut close, read).await {
                Wait::Done(Ok(Some(message))) => message,
                Wait::Done(Ok(None) | Err(_)) => return stop(&close_tx, Flow::Close, writer),
                Wait::Stop(flow) => return stop(&close_tx, flow, writer),
            };
            if message.status.is_some_and(|s| (100..200).contains(&s)) && keep {
                if pipe.send(&mut writer, message.raw.clone(), Instant::now()).await.is_err() {
                    return stop(&close_tx, Flow::Close, writer);
                }
                continue;
            }
            break message;
        };
        if !keep {
            continue;
        }
        let at = Instant::now();
        let toxics = hits(&mut pipe, Some(Stream::Downstream));
        delay(&mut pipe, &toxics).await;
        let raw = transform(&mut pipe, &message, &toxics).unwrap_or_else(|| message.raw.clone());
        let hold = toxics.iter().find_map(|t| match t.kind {
            ToxicKind::HttpReorder { hold } => Some((t.name.clone(), hold)),
            _ => None,
        });
        let held = match hold {
            Some((name, hold)) => pipe.shared.hold(&name, ms(hold)),
            None => None,
        };
        if let Some(wait) = held {
            let _ = timeout(wait.1, wait.0).await;
        }
        let flow = pipe.send(&mut writer, raw, at).await;
        pipe.shared.release_held();
        match flow {
            Ok(Flow::Continue) => {}
            Ok(flow) => return stop(&close_tx, flow, writer),
            Err(_) => return stop(&close_tx, Flow::Close, writer),
        }
    }
}

/// HTTP mode for a whole connection.
pub(crate) async fn connection(
    client: (OwnedReadHalf, OwnedWriteHalf),
    server: (OwnedReadHalf, OwnedWriteHalf),
    up: Pipe,
    down: Pipe,
    close_tx: Arc<watch::Sender<Close>>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::join!(
        requests(client.0, server.1, up, Arc::clone(&close_tx), tx),
        responses(server.0, client.1, down, close_tx, rx),
    );
}

/// A held response's wake-up and how long it may wait.
pub(crate) type Held = (oneshot::Receiver<()>, Duration);

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use super::*;

    fn parse_all(text: &[u8], side: Side) -> Option<Message> {
        parse(text, side, false).unwrap().map(|(n, m)| {
            assert_eq!(n, text.len());
            m
        })
    }

    /// Found by the property test below: a Content-Length or chunk size near `usize::MAX`
    /// overflowed (a panic in debug builds, a wrapped, smaller frame in release).
    #[test]
    fn lengths_that_overflow_are_errors() {
        let max = usize::MAX;
        let request = format!("POST / HTTP/1.1\r\ncontent-length: {max}\r\n\r\nx");
        assert!(parse(request.as_bytes(), Side::Request, false).is_err());
        let chunked = format!("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n{max:x}\r\nx");
        assert!(parse(chunked.as_bytes(), Side::Response { to_head: false }, false).is_err());
    }

    #[test]
    fn frames_length_chunked_and_partial_messages() {
        let request = b"POST /infer HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nhello";
        let message = parse_all(request, Side::Request).unwrap();
        assert_eq!(message.body(), b"hello");
        assert!(parse(&request[..request.len() - 1], Side::Request, false).unwrap().is_none());

        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n";
        let message = parse_all(chunked, Side::Response { to_head: false }).unwrap();
        assert_eq!(message.body(), b"hello world");
        assert!(
            parse(&chunked[..chunked.len() - 2], Side::Response { to_head: false }, false)
                .unwrap()
                .is_none()
        );
        let rebuilt = message.with_body(b"hi");
        assert!(rebuilt.ends_with(b"content-length: 2\r\n\r\nhi"));
        assert!(!String::from_utf8_lossy(&rebuilt).contains("transfer-encoding"));

        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n";
        assert!(parse_all(head, Side::Response { to_head: true }).is_some());
        let pipelined = b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
        let (used, _) = parse(pipelined, Side::Request, false).unwrap().unwrap();
        assert_eq!(used, 19);
        assert!(parse(b"garbage\r\n\r\n", Side::Request, false).is_err());
        assert!(
            parse(
                b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n",
                Side::Response { to_head: false },
                false
            )
            .is_err()
        );
    }

    #[test]
    fn drops_fields_by_pointer() {
        let mut json = serde_json::json!({"outputs": [{"name": "a"}, {"name": "b"}], "id": "x/y"});
        assert!(remove_pointer(&mut json, "/outputs/0"));
        assert_eq!(json["outputs"].as_array().unwrap().len(), 1);
        assert!(remove_pointer(&mut json, "/id"));
        assert!(!remove_pointer(&mut json, "/missing"));
        assert_eq!(json, serde_json::json!({"outputs": [{"name": "b"}]}));
    }

    #[test]
    fn delay_distributions_have_their_mean() {
        let mut rng = stressor_core::Seed::new(3).rng();
        for distribution in
            [Delay::Constant, Delay::Uniform, Delay::Normal, Delay::LogNormal, Delay::Exponential]
        {
            let n = 20_000;
            let total: f64 = (0..n)
                .map(|_| draw_delay(&mut rng, distribution, 50.0, 10.0).as_secs_f64() * 1000.0)
                .sum();
            let mean = total / f64::from(n);
            assert!((mean - 50.0).abs() < 1.5, "{distribution:?}: {mean}");
        }
    }

    #[test]
    fn sniffs_request_lines() {
        assert!(looks_like_http(b"POST /v2 HTTP/1.1"));
        assert!(looks_like_http(b"GE"));
        assert!(!looks_like_http(b"\x16\x03\x01"));
        assert!(!looks_like_http(b"SSH-2.0"));
        assert!(!looks_like_http(b""));
    }

    use proptest::strategy::Strategy as _;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2048, ..Default::default() })]

        /// Whatever a client or an upstream sends, framing is a message, "more bytes" or an
        /// error, never a panic: any bytes, and messages with any Content-Length or chunk size.
        #[test]
        fn any_bytes_frame_or_fail(
            raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            length in proptest::prop_oneof![0u64..64, proptest::prelude::any::<u64>(), (0u64..64).prop_map(|d| u64::MAX - d)],
            chunk in proptest::prop_oneof![0u64..64, proptest::prelude::any::<u64>(), (0u64..64).prop_map(|d| u64::MAX - d)],
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80),
            at_eof in proptest::prelude::any::<bool>(),
        ) {
            let sides = [Side::Request, Side::Response { to_head: false }, Side::Response { to_head: true }];
            for side in sides {
                let _ = parse(&raw, side, at_eof);
                let start: &[u8] = if matches!(side, Side::Request) { b"POST /x HTTP/1.1\r\n" } else { b"HTTP/1.1 200 OK\r\n" };
                let mut sized = start.to_vec();
                sized.extend_from_slice(format!("content-length: {length}\r\n\r\n").as_bytes());
                sized.extend_from_slice(&body);
                let _ = parse(&sized, side, at_eof);
                let mut chunked = start.to_vec();
                chunked.extend_from_slice(format!("transfer-encoding: chunked\r\n\r\n{chunk:x}\r\n").as_bytes());
                chunked.extend_from_slice(&body);
                let _ = parse(&chunked, side, at_eof);
            }
        }
    }
}
