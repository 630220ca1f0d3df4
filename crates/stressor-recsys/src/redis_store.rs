//! The online store in Redis, the online store Feast uses, behind a `stressor proxy` that makes
//! its outages real.
//!
//! The layout is Feast's (`docs/specs/online_store_format.md`) with readable field names: one
//! hash per entity (`{prefix}user:{id}`, `{prefix}item:{id}`, `{prefix}global`), a field per
//! feature (`{view}:{feature}`, where Feast hashes the name with Murmur3) and a timestamp per
//! feature view (`_ts:{view}`), plus `_fresh:{view}`, the true event time of the freshest event
//! behind the value, from which the report's freshness lag comes. Embeddings and item lists
//! are little-endian `f32`/`u32` bytes; numbers are decimal text, as `redis-cli` shows them.
//! A write follows Feast's rule (skipped unless newer than the stored `_ts`), atomically in
//! one round trip (`EVAL`).
//!
//! The recommender reaches Redis through an in-process proxy ([`stressor_proxy`]) on loopback.
//! A `store_outage` fault disables the proxy (it stops listening and drops its connections),
//! so every call until the fault ends fails the way a real outage fails for the client: its
//! connection is dropped and new ones are refused. Each run writes under its own key prefix, so runs over the same
//! traffic can share one Redis in parallel, and deletes its keys when it ends.

use std::sync::Arc;
use std::time::Duration;

use redis::{Client, Connection, ConnectionAddr};
use stressor_core::Seed;
use stressor_proxy::{Protocol, Proxy, ProxyConfig};

use crate::store::{
    ItemStats, MemoryStore, OnlineStore, Popular, Record, StoreError, UserRow, Write,
};

/// How long a connection attempt or a reply may take before the call fails.
const TIMEOUT: Duration = Duration::from_secs(2);
/// Commands per pipelined round trip while copying rows in.
const CHUNK: usize = 512;

/// Feast's write rule in one round trip: `KEYS[1]` the entity's hash, `ARGV[1]` the view's
/// `_ts` field, `ARGV[2]` the new timestamp, then field/value pairs. Returns 1 when written,
/// 0 when skipped as not newer.
const WRITE: &str = "local old = redis.call('HGET', KEYS[1], ARGV[1]) \
    if old and tonumber(old) >= tonumber(ARGV[2]) then return 0 end \
    redis.call('HSET', KEYS[1], unpack(ARGV)) \
    return 1";

/// Checks that the Redis at `url` answers `PING`.
///
/// # Errors
/// A message naming `url` when it cannot be parsed or reached.
pub fn check(url: &str) -> Result<(), StoreError> {
    let client = Client::open(url).map_err(|e| StoreError(format!("{url}: {e}")))?;
    let mut conn = client
        .get_connection_with_timeout(TIMEOUT)
        .map_err(|e| StoreError(format!("cannot reach Redis at {url}: {e}")))?;
    redis::cmd("PING")
        .query::<String>(&mut conn)
        .map(drop)
        .map_err(|e| StoreError(format!("Redis at {url} does not answer PING: {e}")))
}

/// The Redis online store of one run.
pub struct RedisStore {
    /// Straight to Redis, for copying rows in and cleaning up.
    direct: Client,
    /// Through the proxy, for everything the recommender and the stream job do.
    proxied: Client,
    conn: Option<Connection>,
    prefix: String,
    proxy: Arc<Proxy>,
    /// Keeps the proxy's tasks running.
    runtime: Arc<tokio::runtime::Runtime>,
    keys: Vec<String>,
    /// The store that made the keys and the proxy (not a [`RedisStore::handle`]): it deletes
    /// them and stops the proxy when dropped.
    owner: bool,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Starts a proxy in front of the Redis at `url` on `runtime` and copies `warm` into Redis
    /// under the prefix `stressor:{namespace}:`.
    ///
    /// # Errors
    /// A message naming `url` when Redis cannot be reached or the proxy cannot start.
    pub fn start(
        url: &str,
        namespace: &str,
        warm: &MemoryStore,
        runtime: Arc<tokio::runtime::Runtime>,
        seed: Seed,
    ) -> Result<RedisStore, StoreError> {
        let fail =
            |what: &str, e: &dyn std::fmt::Display| StoreError(format!("{url}: {what}: {e}"));
        let direct = Client::open(url).map_err(|e| fail("not a Redis URL", &e))?;
        let info = direct.get_connection_info().clone();
        let upstream = match info.addr() {
            ConnectionAddr::Tcp(host, port) => format!("{host}:{port}"),
            _ => return Err(StoreError(format!("{url}: only plain TCP Redis URLs (redis://)"))),
        };
        let config = ProxyConfig {
            name: format!("redis-{namespace}"),
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            upstream,
            enabled: true,
            protocol: Protocol::Tcp,
        };
        let proxy = runtime
            .block_on(Proxy::start(config, seed, None))
            .map_err(|e| fail("cannot start the proxy in front of it", &e))?;
        let listen = proxy.listen_addr();
        let proxied = Client::open(
            info.set_addr(ConnectionAddr::Tcp(listen.ip().to_string(), listen.port())),
        )
        .map_err(|e| fail("proxy", &e))?;
        let mut store = RedisStore {
            direct,
            proxied,
            conn: None,
            prefix: format!("stressor:{namespace}:"),
            proxy,
            runtime,
            keys: Vec::new(),
            owner: true,
        };
        store.copy_in(warm).map_err(|e| fail("cannot write the warm store", &e))?;
        Ok(store)
    }

    /// Another client of the same store (same keys, same proxy, so the same outages) with a
    /// connection of its own, for requests served concurrently. Dropping it closes only its
    /// connection.
    pub fn handle(&self) -> RedisStore {
        RedisStore {
            direct: self.direct.clone(),
            proxied: self.proxied.clone(),
            conn: None,
            prefix: self.prefix.clone(),
            proxy: Arc::clone(&self.proxy),
            runtime: Arc::clone(&self.runtime),
            keys: Vec::new(),
            owner: false,
        }
    }

    fn user_key(&self, user: u32) -> String {
        format!("{}user:{user}", self.prefix)
    }

    fn item_key(&self, item: u32) -> String {
        format!("{}item:{item}", self.prefix)
    }

    fn global_key(&self) -> String {
        format!("{}global", self.prefix)
    }

    /// Writes every row of `warm` under this store's prefix, straight to Redis.
    fn copy_in(&mut self, warm: &MemoryStore) -> redis::RedisResult<()> {
        let mut conn = self.direct.get_connection_with_timeout(TIMEOUT)?;
        let (users, items, popular) = warm.rows();
        let mut commands: Vec<(String, Vec<Field>)> = Vec::new();
        for (u, row) in users.iter().enumerate() {
            let mut fields = Vec::new();
            if let Some(p) = &row.profile {
                push_view(&mut fields, "user_profile", "embedding", f32_bytes(&p.value), p);
            }
            if let Some(r) = &row.recent {
                push_view(&mut fields, "user_recent", "items", u32_bytes(&r.value), r);
            }
            commands.push((self.user_key(u as u32), fields));
        }
        for (i, stats) in items.iter().enumerate() {
            let mut fields = Vec::new();
            if let Some(s) = stats {
                item_fields(&mut fields, s);
            }
            commands.push((self.item_key(i as u32), fields));
        }
        let mut fields = Vec::new();
        if let Some(p) = popular {
            push_view(&mut fields, "popular", "items", u32_bytes(&p.value), p);
        }
        commands.push((self.global_key(), fields));
        self.keys = commands.iter().map(|(k, _)| k.clone()).collect();
        for chunk in commands.chunks(CHUNK) {
            let mut pipe = redis::pipe();
            for (key, fields) in chunk {
                pipe.cmd("DEL").arg(key).ignore();
                if !fields.is_empty() {
                    let mut cmd = redis::cmd("HSET");
                    cmd.arg(key);
                    for (field, value) in fields {
                        cmd.arg(field).arg(value.as_slice());
                    }
                    pipe.add_command(cmd).ignore();
                }
            }
            pipe.query::<()>(&mut conn)?;
        }
        Ok(())
    }

    /// A command through the proxy on the current connection, or a new one; a failed call
    /// drops the connection, so the next one reconnects.
    fn call<T>(
        &mut self,
        f: impl FnOnce(&mut Connection) -> redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => {
                let conn = self
                    .proxied
                    .get_connection_with_timeout(TIMEOUT)
                    .and_then(|c| {
                        c.set_read_timeout(Some(TIMEOUT))?;
                        c.set_write_timeout(Some(TIMEOUT))?;
                        Ok(c)
                    })
                    .map_err(|e| StoreError(e.to_string()))?;
                self.conn.insert(conn)
            }
        };
        f(conn).map_err(|e| {
            self.conn = None;
            StoreError(e.to_string())
        })
    }

    fn write(
        &mut self,
        key: String,
        view: &str,
        fields: Vec<Field>,
        ts: f64,
    ) -> Result<Write, StoreError> {
        let cmd = write_command(key, view, &fields, ts);
        let written: i64 = self.call(|c| cmd.query(c))?;
        Ok(if written == 1 { Write::Applied } else { Write::Stale })
    }
}

/// Feast's write of `fields` to the hash `key` unless its `_ts:{view}` is not older than `ts`.
fn write_command(key: String, view: &str, fields: &[Field], ts: f64) -> redis::Cmd {
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(WRITE).arg(1).arg(key).arg(format!("_ts:{view}")).arg(number(ts));
    for (field, value) in fields.iter().filter(|(f, _)| !f.starts_with("_ts:")) {
        cmd.arg(field).arg(value.as_slice());
    }
    cmd
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        if !self.owner {
            return;
        }
        // Best effort: a run's keys are its own, and Redis may be gone by now.
        if let Ok(mut conn) = self.direct.get_connection_with_timeout(TIMEOUT) {
            for chunk in self.keys.chunks(CHUNK) {
                let _ = redis::cmd("DEL").arg(chunk).query::<i64>(&mut conn);
            }
        }
        self.runtime.block_on(self.proxy.stop());
    }
}

/// A hash field and its value.
type Field = (String, Vec<u8>);

/// `{view}:{feature}` = `value`, `_ts:{view}` and `_fresh:{view}` of `record`.
fn push_view<T>(
    fields: &mut Vec<Field>,
    view: &str,
    feature: &str,
    value: Vec<u8>,
    record: &Record<T>,
) {
    fields.push((format!("{view}:{feature}"), value));
    fields.push((format!("_ts:{view}"), number(record.ts).into_bytes()));
    fields.push((format!("_fresh:{view}"), number(record.fresh).into_bytes()));
}

fn item_fields(fields: &mut Vec<Field>, stats: &Record<ItemStats>) {
    fields.push(("item_stats:impressions".into(), number(stats.value.impressions).into_bytes()));
    fields.push(("item_stats:clicks".into(), number(stats.value.clicks).into_bytes()));
    fields.push(("_ts:item_stats".into(), number(stats.ts).into_bytes()));
    fields.push(("_fresh:item_stats".into(), number(stats.fresh).into_bytes()));
}

/// Shortest decimal text that reads back to the same `f64` (Lua's `tonumber` included).
fn number(x: f64) -> String {
    format!("{x:?}")
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn u32_bytes(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn malformed(what: &str) -> StoreError {
    StoreError(format!("malformed {what} in Redis"))
}

fn parse_number(bytes: &[u8], what: &str) -> Result<f64, StoreError> {
    std::str::from_utf8(bytes).ok().and_then(|s| s.parse().ok()).ok_or_else(|| malformed(what))
}

fn parse_u32s(bytes: &[u8], what: &str) -> Result<Vec<u32>, StoreError> {
    if !bytes.len().is_multiple_of(4) {
        return Err(malformed(what));
    }
    Ok(bytes.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

fn parse_f32s(bytes: &[u8], what: &str) -> Result<Vec<f32>, StoreError> {
    if !bytes.len().is_multiple_of(4) {
        return Err(malformed(what));
    }
    Ok(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

/// A view's record from its value, `_ts` and `_fresh` fields; `None` when the value is absent.
fn record<T>(
    fields: &[Option<Vec<u8>>],
    what: &str,
    value: impl FnOnce(&[u8]) -> Result<T, StoreError>,
) -> Result<Option<Record<T>>, StoreError> {
    match fields {
        [None, ..] => Ok(None),
        [Some(v), Some(ts), Some(fresh)] => Ok(Some(Record {
            value: value(v)?,
            ts: parse_number(ts, what)?,
            fresh: parse_number(fresh, what)?,
        })),
        _ => Err(malformed(what)),
    }
}

/// The values of the fields an `HMGET` asked for, in order.
type Fields = Vec<Option<Vec<u8>>>;

/// A user's hash, as [`user_row`] reads it.
const USER_FIELDS: [&str; 6] = [
    "user_profile:embedding",
    "_ts:user_profile",
    "_fresh:user_profile",
    "user_recent:items",
    "_ts:user_recent",
    "_fresh:user_recent",
];

/// The global hash's popular list.
const POPULAR_FIELDS: [&str; 3] = ["popular:items", "_ts:popular", "_fresh:popular"];

fn user_row(fields: &Fields) -> Result<UserRow, StoreError> {
    if fields.len() != USER_FIELDS.len() {
        return Err(malformed("user hash"));
    }
    Ok(UserRow {
        profile: record(&fields[..3], "user_profile", |b| {
            parse_f32s(b, "user_profile").map(Arc::from)
        })?,
        recent: record(&fields[3..], "user_recent", |b| parse_u32s(b, "user_recent"))?,
    })
}

impl OnlineStore for RedisStore {
    fn user(&mut self, user: u32) -> Result<UserRow, StoreError> {
        let key = self.user_key(user);
        let fields: Fields =
            self.call(|c| redis::cmd("HMGET").arg(key).arg(&USER_FIELDS).query(c))?;
        user_row(&fields)
    }

    fn items(&mut self, items: &[u32]) -> Result<Vec<Option<Record<ItemStats>>>, StoreError> {
        let mut pipe = redis::pipe();
        for &item in items {
            pipe.cmd("HMGET").arg(self.item_key(item)).arg(&[
                "item_stats:impressions",
                "item_stats:clicks",
                "_ts:item_stats",
                "_fresh:item_stats",
            ]);
        }
        let rows: Vec<Fields> = self.call(|c| pipe.query(c))?;
        if rows.len() != items.len() {
            return Err(malformed("item hashes"));
        }
        rows.iter()
            .map(|f| match f.as_slice() {
                [None, ..] => Ok(None),
                [Some(i), Some(c), Some(ts), Some(fresh)] => Ok(Some(Record {
                    value: ItemStats {
                        impressions: parse_number(i, "item_stats")?,
                        clicks: parse_number(c, "item_stats")?,
                    },
                    ts: parse_number(ts, "item_stats")?,
                    fresh: parse_number(fresh, "item_stats")?,
                })),
                _ => Err(malformed("item_stats")),
            })
            .collect()
    }

    fn popular(&mut self) -> Result<Option<Record<Vec<u32>>>, StoreError> {
        let key = self.global_key();
        let fields: Fields =
            self.call(|c| redis::cmd("HMGET").arg(key).arg(&POPULAR_FIELDS).query(c))?;
        record(&fields, "popular", |b| parse_u32s(b, "popular"))
    }

    fn write_profile(&mut self, user: u32, value: Record<Arc<[f32]>>) -> Result<Write, StoreError> {
        let mut fields = Vec::new();
        push_view(&mut fields, "user_profile", "embedding", f32_bytes(&value.value), &value);
        self.write(self.user_key(user), "user_profile", fields, value.ts)
    }

    fn write_recent(&mut self, user: u32, value: Record<Vec<u32>>) -> Result<Write, StoreError> {
        let mut fields = Vec::new();
        push_view(&mut fields, "user_recent", "items", u32_bytes(&value.value), &value);
        self.write(self.user_key(user), "user_recent", fields, value.ts)
    }

    fn user_and_popular(&mut self, user: u32) -> Result<(UserRow, Option<Popular>), StoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("HMGET").arg(self.user_key(user)).arg(&USER_FIELDS);
        pipe.cmd("HMGET").arg(self.global_key()).arg(&POPULAR_FIELDS);
        let (user_fields, popular_fields): (Fields, Fields) = self.call(|c| pipe.query(c))?;
        Ok((
            user_row(&user_fields)?,
            record(&popular_fields, "popular", |b| parse_u32s(b, "popular"))?,
        ))
    }

    fn write_items(
        &mut self,
        values: Vec<(u32, Record<ItemStats>)>,
    ) -> Vec<Result<Write, StoreError>> {
        if values.is_empty() {
            return Vec::new();
        }
        let mut pipe = redis::pipe();
        for (item, value) in &values {
            let mut fields = Vec::new();
            item_fields(&mut fields, value);
            pipe.add_command(write_command(self.item_key(*item), "item_stats", &fields, value.ts));
        }
        match self.call(|c| pipe.query::<Vec<i64>>(c)) {
            Ok(written) if written.len() == values.len() => written
                .into_iter()
                .map(|w| Ok(if w == 1 { Write::Applied } else { Write::Stale }))
                .collect(),
            Ok(_) => values.iter().map(|_| Err(malformed("pipeline reply"))).collect(),
            Err(e) => values.iter().map(|_| Err(e.clone())).collect(),
        }
    }

    fn write_item(&mut self, item: u32, value: Record<ItemStats>) -> Result<Write, StoreError> {
        let mut fields = Vec::new();
        item_fields(&mut fields, &value);
        self.write(self.item_key(item), "item_stats", fields, value.ts)
    }

    fn write_popular(&mut self, value: Record<Vec<u32>>) -> Result<Write, StoreError> {
        let mut fields = Vec::new();
        push_view(&mut fields, "popular", "items", u32_bytes(&value.value), &value);
        self.write(self.global_key(), "popular", fields, value.ts)
    }

    fn set_outage(&mut self, down: bool) {
        // Disabled, the proxy stops listening and drops its connections, as Toxiproxy does:
        // until it is enabled again every call is refused, as in a real outage.
        let update = serde_json::json!({ "enabled": !down });
        if let Err(e) = self.runtime.block_on(self.proxy.update(&update)) {
            tracing::warn!("feature store proxy: cannot set enabled = {}: {e}", !down);
        }
        self.conn = None;
    }
}
