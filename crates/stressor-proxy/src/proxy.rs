//! A proxy: a listener, an upstream address, its toxics, and the connections it carries.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde_json::{Value, json};
use stressor_core::Seed;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::ProxyError;
use crate::http::{self, Held};
use crate::link::{self, Close, Pipe};
use crate::toxic::{Stream, Toxic};

/// How the proxy reads its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP mode when the client speaks first with an HTTP/1.x request line, raw TCP otherwise.
    Auto,
    /// Raw TCP: byte toxics only.
    Tcp,
    /// HTTP/1.1 messages: byte toxics and `http_*` faults.
    Http,
}

impl Protocol {
    /// The API name.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Auto => "auto",
            Protocol::Tcp => "tcp",
            Protocol::Http => "http",
        }
    }

    /// Reads an API name.
    pub fn parse(name: &str) -> Option<Protocol> {
        match name {
            "auto" => Some(Protocol::Auto),
            "tcp" => Some(Protocol::Tcp),
            "http" => Some(Protocol::Http),
            _ => None,
        }
    }
}

/// What a proxy is: Toxiproxy's fields plus the protocol.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyConfig {
    /// Unique name.
    pub name: String,
    /// The address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// `host:port` of the server, resolved at each connection.
    pub upstream: String,
    /// Whether it listens.
    pub enabled: bool,
    /// How connections are read.
    pub protocol: Protocol,
}

/// Counters of a proxy, for `/metrics` and reports.
#[derive(Debug, Default)]
pub struct ProxyStats {
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Connections open now.
    pub open: AtomicU64,
    /// Connections whose upstream could not be reached.
    pub upstream_errors: AtomicU64,
    /// Bytes passed client → server.
    pub bytes_upstream: AtomicU64,
    /// Bytes passed server → client.
    pub bytes_downstream: AtomicU64,
    /// HTTP requests seen.
    pub requests: AtomicU64,
    faults: Mutex<BTreeMap<String, u64>>,
}

impl ProxyStats {
    pub(crate) fn count_bytes(&self, stream: Stream, n: usize) {
        let counter = match stream {
            Stream::Upstream => &self.bytes_upstream,
            Stream::Downstream => &self.bytes_downstream,
        };
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn count_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_fault(&self, toxic: &str) {
        if let Ok(mut faults) = self.faults.lock() {
            *faults.entry(toxic.to_string()).or_default() += 1;
        }
    }

    /// HTTP faults injected so far, by toxic name.
    pub fn faults(&self) -> BTreeMap<String, u64> {
        self.faults.lock().map(|f| f.clone()).unwrap_or_default()
    }
}

/// State shared by a proxy and its connections.
#[derive(Debug)]
pub(crate) struct Shared {
    toxics: RwLock<Arc<Vec<Toxic>>>,
    /// Bumped on every toxic change; links re-read their toxics.
    pub(crate) changes: watch::Sender<u64>,
    /// Bumped to close every connection.
    kill: watch::Sender<u64>,
    pub(crate) stats: ProxyStats,
    seed: Seed,
    next_connection: AtomicU64,
    held: Mutex<Option<oneshot::Sender<()>>>,
}

impl Shared {
    pub(crate) fn toxics(&self) -> Arc<Vec<Toxic>> {
        self.toxics.read().map(|t| Arc::clone(&t)).unwrap_or_default()
    }

    fn set_toxics(&self, toxics: Vec<Toxic>) {
        if let Ok(mut current) = self.toxics.write() {
            *current = Arc::new(toxics);
        }
        self.changes.send_modify(|v| *v += 1);
    }

    /// Holds a response back until the next one passes, unless one is held already.
    pub(crate) fn hold(&self, toxic: &str, max: Duration) -> Option<Held> {
        let mut slot = self.held.lock().ok()?;
        if slot.is_some() {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        *slot = Some(tx);
        self.stats.count_fault(toxic);
        Some((rx, max))
    }

    /// Lets a held response go (called after another response was written).
    pub(crate) fn release_held(&self) {
        if let Ok(mut slot) = self.held.lock()
            && let Some(tx) = slot.take()
        {
            let _ = tx.send(());
        }
    }
}

#[derive(Debug)]
struct Listening {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// A running proxy. Changes to its toxics act on open connections at once.
#[derive(Debug)]
pub struct Proxy {
    config: Mutex<ProxyConfig>,
    shared: Arc<Shared>,
    listening: tokio::sync::Mutex<Option<Listening>>,
    allow_host: Option<String>,
}

impl Proxy {
    /// Starts a proxy (listening if `config.enabled`). Random draws (toxicity, jitter, slice
    /// sizes, delays) derive from `seed`, one stream per connection in accept order.
    ///
    /// # Errors
    /// [`ProxyError::Invalid`] for a non-loopback listen address or an upstream outside
    /// loopback and `allow_host`; [`ProxyError::Bind`] when the address cannot be bound.
    pub async fn start(
        mut config: ProxyConfig,
        seed: Seed,
        allow_host: Option<String>,
    ) -> Result<Arc<Proxy>, ProxyError> {
        check_listen(config.listen)?;
        check_upstream(&config.upstream, allow_host.as_deref())?;
        let shared = Arc::new(Shared {
            toxics: RwLock::new(Arc::new(Vec::new())),
            changes: watch::Sender::new(0),
            kill: watch::Sender::new(0),
            stats: ProxyStats::default(),
            seed,
            next_connection: AtomicU64::new(0),
            held: Mutex::new(None),
        });
        let mut listening = None;
        if config.enabled {
            let (addr, running) = listen(config.listen, &config, &shared).await?;
            config.listen = addr;
            listening = Some(running);
        }
        Ok(Arc::new(Proxy {
            config: Mutex::new(config),
            shared,
            listening: tokio::sync::Mutex::new(listening),
            allow_host,
        }))
    }

    /// The configuration, with the port actually bound.
    pub fn config(&self) -> ProxyConfig {
        self.config.lock().map(|c| c.clone()).unwrap_or_else(|e| e.into_inner().clone())
    }

    /// The address clients connect to.
    pub fn listen_addr(&self) -> SocketAddr {
        self.config().listen
    }

    /// The counters.
    pub fn stats(&self) -> &ProxyStats {
        &self.shared.stats
    }

    /// The toxics, in the order they were added.
    pub fn toxics(&self) -> Vec<Toxic> {
        self.shared.toxics().as_ref().clone()
    }

    /// Adds a toxic.
    ///
    /// # Errors
    /// [`ProxyError::Exists`] when the name is taken.
    pub fn add_toxic(&self, toxic: Toxic) -> Result<Toxic, ProxyError> {
        let mut toxics = self.toxics();
        if toxics.iter().any(|t| t.name == toxic.name) {
            return Err(ProxyError::Exists(format!("toxic `{}` already exists", toxic.name)));
        }
        toxics.push(toxic.clone());
        self.shared.set_toxics(toxics);
        Ok(toxic)
    }

    /// Adds a toxic or replaces the one with its name.
    pub fn set_toxic(&self, toxic: Toxic) {
        let mut toxics = self.toxics();
        match toxics.iter_mut().find(|t| t.name == toxic.name) {
            Some(current) => *current = toxic,
            None => toxics.push(toxic),
        }
        self.shared.set_toxics(toxics);
    }

    /// Updates a toxic from the API's JSON.
    ///
    /// # Errors
    /// [`ProxyError::NotFound`], or [`ProxyError::Invalid`] naming the field.
    pub fn update_toxic(&self, name: &str, update: &Value) -> Result<Toxic, ProxyError> {
        let toxics = self.toxics();
        let current = toxics
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| ProxyError::NotFound(format!("toxic `{name}` not found")))?;
        let updated = current.update(update)?;
        self.set_toxic(updated.clone());
        Ok(updated)
    }

    /// Removes a toxic.
    ///
    /// # Errors
    /// [`ProxyError::NotFound`] when there is none of that name.
    pub fn remove_toxic(&self, name: &str) -> Result<(), ProxyError> {
        let mut toxics = self.toxics();
        let before = toxics.len();
        toxics.retain(|t| t.name != name);
        if toxics.len() == before {
            return Err(ProxyError::NotFound(format!("toxic `{name}` not found")));
        }
        self.shared.set_toxics(toxics);
        Ok(())
    }

    /// Removes every toxic.
    pub fn clear_toxics(&self) {
        self.shared.set_toxics(Vec::new());
    }

    /// Applies the API's proxy update (`listen`, `upstream`, `enabled`, `protocol`). Changing
    /// the addresses or disabling drops the open connections, as Toxiproxy does.
    ///
    /// # Errors
    /// [`ProxyError::Invalid`] naming the field, [`ProxyError::Bind`].
    pub async fn update(&self, update: &Value) -> Result<(), ProxyError> {
        let mut config = self.config();
        let object = update
            .as_object()
            .ok_or_else(|| ProxyError::Invalid("a proxy update must be a JSON object".into()))?;
        let before = config.clone();
        for (key, value) in object {
            match key.as_str() {
                "listen" => config.listen = parse_listen(value)?,
                "upstream" => config.upstream = string_field(value, "upstream")?,
                "enabled" => {
                    config.enabled = value.as_bool().ok_or_else(|| {
                        ProxyError::Invalid("field `enabled` must be true or false".into())
                    })?;
                }
                "protocol" => config.protocol = parse_protocol(value)?,
                "name" if value.as_str() == Some(config.name.as_str()) => {}
                "name" => {
                    return Err(ProxyError::Invalid(
                        "a proxy's `name` cannot change; delete and recreate it".into(),
                    ));
                }
                // Toxiproxy clients send the proxy back whole.
                "toxics" => {}
                other => {
                    return Err(ProxyError::Invalid(format!(
                        "unknown proxy field `{other}` (name, listen, upstream, enabled, protocol)"
                    )));
                }
            }
        }
        check_listen(config.listen)?;
        check_upstream(&config.upstream, self.allow_host.as_deref())?;
        let restart = config.listen != before.listen
            || config.upstream != before.upstream
            || config.protocol != before.protocol
            || !config.enabled;
        let mut listening = self.listening.lock().await;
        if restart || !config.enabled {
            if let Some(running) = listening.take() {
                stop_listening(running).await;
            }
            self.shared.kill.send_modify(|v| *v += 1);
        }
        if config.enabled && listening.is_none() {
            let (addr, running) = listen(config.listen, &config, &self.shared).await?;
            config.listen = addr;
            *listening = Some(running);
        }
        if let Ok(mut current) = self.config.lock() {
            *current = config;
        }
        Ok(())
    }

    /// Stops listening and closes every connection.
    pub async fn stop(&self) {
        if let Some(running) = self.listening.lock().await.take() {
            stop_listening(running).await;
        }
        self.shared.kill.send_modify(|v| *v += 1);
    }

    /// The API's JSON object.
    pub fn to_json(&self) -> Value {
        let config = self.config();
        json!({
            "name": config.name,
            "listen": config.listen.to_string(),
            "upstream": config.upstream,
            "enabled": config.enabled,
            "protocol": config.protocol.name(),
            "toxics": self.toxics().iter().map(Toxic::to_json).collect::<Vec<_>>(),
        })
    }

    /// Reads a proxy from the API's JSON (`name` and `upstream` required, `listen` defaults to
    /// `127.0.0.1:0`, `enabled` to true, `protocol` to auto).
    ///
    /// # Errors
    /// [`ProxyError::Invalid`] naming the field.
    pub fn config_from_json(value: &Value) -> Result<ProxyConfig, ProxyError> {
        let object = value
            .as_object()
            .ok_or_else(|| ProxyError::Invalid("a proxy must be a JSON object".into()))?;
        for key in object.keys() {
            if !["name", "listen", "upstream", "enabled", "protocol", "toxics"]
                .contains(&key.as_str())
            {
                return Err(ProxyError::Invalid(format!(
                    "unknown proxy field `{key}` (name, listen, upstream, enabled, protocol)"
                )));
            }
        }
        let name = object
            .get("name")
            .map(|v| string_field(v, "name"))
            .transpose()?
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                ProxyError::Invalid("field `name` (a non-empty string) is required".into())
            })?;
        let upstream =
            object.get("upstream").map(|v| string_field(v, "upstream")).transpose()?.ok_or_else(
                || ProxyError::Invalid("field `upstream` (host:port) is required".into()),
            )?;
        let listen = match object.get("listen") {
            None | Some(Value::Null) => SocketAddr::from(([127, 0, 0, 1], 0)),
            Some(value) => parse_listen(value)?,
        };
        let enabled = match object.get("enabled") {
            None | Some(Value::Null) => true,
            Some(value) => value.as_bool().ok_or_else(|| {
                ProxyError::Invalid("field `enabled` must be true or false".into())
            })?,
        };
        let protocol = match object.get("protocol") {
            None | Some(Value::Null) => Protocol::Auto,
            Some(value) => parse_protocol(value)?,
        };
        Ok(ProxyConfig { name, listen, upstream, enabled, protocol })
    }
}

fn string_field(value: &Value, key: &str) -> Result<String, ProxyError> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| ProxyError::Invalid(format!("field `{key}` must be a string")))
}

fn parse_protocol(value: &Value) -> Result<Protocol, ProxyError> {
    value.as_str().and_then(Protocol::parse).ok_or_else(|| {
        ProxyError::Invalid("field `protocol` must be \"auto\", \"tcp\" or \"http\"".into())
    })
}

/// Parses a listen address. `localhost` means 127.0.0.1, and the unspecified addresses that
/// Toxiproxy clients send by default (`0.0.0.0`, `[::]`) mean loopback: the proxy never listens
/// beyond this machine.
fn parse_listen(value: &Value) -> Result<SocketAddr, ProxyError> {
    let text = value.as_str().ok_or_else(|| {
        ProxyError::Invalid("field `listen` must be a string such as \"127.0.0.1:0\"".into())
    })?;
    let text = text
        .strip_prefix("localhost:")
        .map_or_else(|| text.to_string(), |port| format!("127.0.0.1:{port}"));
    let mut addr: SocketAddr = text.parse().map_err(|_| {
        ProxyError::Invalid(format!(
            "field `listen`: `{text}` is not an IP address and port such as 127.0.0.1:0"
        ))
    })?;
    // Toxiproxy clients default to the unspecified address; the proxy keeps to loopback.
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    Ok(addr)
}

fn check_listen(addr: SocketAddr) -> Result<(), ProxyError> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(ProxyError::Invalid(format!(
            "field `listen`: the proxy listens on loopback only, not {addr}"
        )))
    }
}

/// An upstream must be on loopback unless its host is the allowed one.
fn check_upstream(upstream: &str, allow_host: Option<&str>) -> Result<(), ProxyError> {
    let (host, port) = upstream.rsplit_once(':').ok_or_else(|| {
        ProxyError::Invalid(format!("field `upstream`: `{upstream}` is not host:port"))
    })?;
    if port.parse::<u16>().is_err() {
        return Err(ProxyError::Invalid(format!("field `upstream`: `{port}` is not a port")));
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback =
        host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if loopback || allow_host == Some(host) {
        Ok(())
    } else {
        Err(ProxyError::Invalid(format!(
            "field `upstream`: {host} is not a loopback address; allow it explicitly (--allow-host {host})"
        )))
    }
}

async fn listen(
    addr: SocketAddr,
    config: &ProxyConfig,
    shared: &Arc<Shared>,
) -> Result<(SocketAddr, Listening), ProxyError> {
    let listener =
        TcpListener::bind(addr).await.map_err(|source| ProxyError::Bind { addr, source })?;
    let bound = listener.local_addr().map_err(|source| ProxyError::Bind { addr, source })?;
    let (stop, mut stopped) = oneshot::channel();
    let shared = Arc::clone(shared);
    let upstream = config.upstream.clone();
    let protocol = config.protocol;
    let task = tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = &mut stopped => return,
            };
            let Ok((client, _)) = accepted else {
                // Out of descriptors and the like: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let shared = Arc::clone(&shared);
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let mut kill = shared.kill.subscribe();
                kill.borrow_and_update();
                shared.stats.connections.fetch_add(1, Ordering::Relaxed);
                shared.stats.open.fetch_add(1, Ordering::Relaxed);
                tokio::select! {
                    _ = serve(client, &upstream, protocol, &shared) => {}
                    _ = kill.changed() => {}
                }
                shared.stats.open.fetch_sub(1, Ordering::Relaxed);
            });
        }
    });
    Ok((bound, Listening { stop, task }))
}

async fn stop_listening(running: Listening) {
    let _ = running.stop.send(());
    let _ = running.task.await;
}

/// Carries one connection until both directions end.
async fn serve(client: TcpStream, upstream: &str, protocol: Protocol, shared: &Arc<Shared>) {
    let server =
        match tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(upstream)).await {
            Ok(Ok(server)) => server,
            _ => {
                shared.stats.upstream_errors.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let http = match protocol {
        Protocol::Tcp => false,
        Protocol::Http => true,
        Protocol::Auto => sniff(&client, &server).await,
    };
    let index = shared.next_connection.fetch_add(1, Ordering::Relaxed);
    let seed = shared.seed.derive_index(index);
    let up = Pipe::new(Stream::Upstream, Arc::clone(shared), seed.derive("upstream").rng());
    let down = Pipe::new(Stream::Downstream, Arc::clone(shared), seed.derive("downstream").rng());
    let close = Arc::new(watch::Sender::new(Close::Open));
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    if http {
        http::connection((client_read, client_write), (server_read, server_write), up, down, close)
            .await;
    } else {
        tokio::join!(
            link::raw_direction(client_read, server_write, up, Arc::clone(&close)),
            link::raw_direction(server_read, client_write, down, close),
        );
    }
}

/// Decides HTTP mode from who speaks first: a client's HTTP request line means HTTP; a server
/// that speaks first (or a client that sends anything else) means raw TCP.
async fn sniff(client: &TcpStream, server: &TcpStream) -> bool {
    let mut prefix = [0u8; 8];
    tokio::select! {
        ready = client.readable() => {
            if ready.is_err() {
                return false;
            }
            matches!(client.peek(&mut prefix).await, Ok(n) if http::looks_like_http(&prefix[..n]))
        }
        _ = server.readable() => false,
    }
}
