//! Toxics: what a proxy does to the data passing through it, in Toxiproxy's vocabulary (name,
//! type, stream, toxicity, attributes) plus the HTTP-aware types Toxiproxy lacks.

use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::ProxyError;

/// Which direction of a connection a toxic acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Client → server (requests).
    Upstream,
    /// Server → client (responses). Toxiproxy's default.
    Downstream,
}

impl Stream {
    /// The API name.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Upstream => "upstream",
            Stream::Downstream => "downstream",
        }
    }
}

/// A distribution of injected delays (`http_delay`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Delay {
    /// Always `mean`.
    Constant,
    /// Uniform on `mean ± stddev·√3` (so the standard deviation is `stddev`).
    Uniform,
    /// Normal, truncated at 0.
    Normal,
    /// Log-normal with the given mean and standard deviation of the delay itself.
    LogNormal,
    /// Exponential with the given mean (`stddev` unused).
    Exponential,
}

impl Delay {
    fn parse(name: &str) -> Option<Delay> {
        Some(match name {
            "constant" => Delay::Constant,
            "uniform" => Delay::Uniform,
            "normal" => Delay::Normal,
            "lognormal" => Delay::LogNormal,
            "exponential" => Delay::Exponential,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Delay::Constant => "constant",
            Delay::Uniform => "uniform",
            Delay::Normal => "normal",
            Delay::LogNormal => "lognormal",
            Delay::Exponential => "exponential",
        }
    }
}

/// What a toxic does. The first eight are Toxiproxy's toxics with its attribute names and
/// units; the `http_*` kinds act on whole HTTP/1.1 messages and need an HTTP connection (the
/// proxy detects one from the first request line).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ToxicKind {
    /// Delays every chunk by `latency ± jitter` (uniform), measured from its arrival.
    Latency {
        /// Milliseconds.
        latency: u64,
        /// Milliseconds.
        jitter: u64,
    },
    /// Limits the connection to `rate` KB/s (1 KB = 1000 bytes).
    Bandwidth {
        /// KB per second; 0 stops the data.
        rate: u64,
    },
    /// Delays closing the socket by `delay` ms after the other side closed.
    SlowClose {
        /// Milliseconds.
        delay: u64,
    },
    /// Drops all data and closes the connection after `timeout` ms (0: never closes, a
    /// blackhole until the toxic is removed).
    Timeout {
        /// Milliseconds.
        timeout: u64,
    },
    /// Resets the connection (TCP RST) after `timeout` ms.
    ResetPeer {
        /// Milliseconds.
        timeout: u64,
    },
    /// Slices data into packets of `average_size ± size_variation` bytes, `delay` µs apart.
    Slicer {
        /// Bytes.
        average_size: u64,
        /// Bytes.
        size_variation: u64,
        /// Microseconds between packets.
        delay: u64,
    },
    /// Closes the connection after `bytes` bytes have passed.
    LimitData {
        /// Bytes.
        bytes: u64,
    },
    /// Answers the request with `status` instead of forwarding it.
    HttpStatus {
        /// The status code.
        status: u16,
        /// The response body (JSON by default).
        body: String,
    },
    /// Delays each message by a draw from `distribution` (milliseconds).
    HttpDelay {
        /// The distribution.
        distribution: Delay,
        /// Mean delay in milliseconds.
        mean: f64,
        /// Standard deviation in milliseconds.
        stddev: f64,
    },
    /// Cuts the body to `fraction` of its length (the framing stays valid, the JSON does not).
    HttpTruncate {
        /// Share of the body kept, in [0, 1).
        fraction: f64,
    },
    /// Replaces `bytes` random body bytes with random printable characters.
    HttpCorrupt {
        /// How many bytes.
        bytes: u64,
    },
    /// Removes the JSON value at `pointer` (RFC 6901) from the body.
    HttpDropField {
        /// A JSON pointer such as `/outputs/0`.
        pointer: String,
    },
    /// Sends the request to the server twice; the client sees the first response.
    HttpDuplicate,
    /// Holds a response until the next response on another connection has passed (or `hold`
    /// ms), so responses arrive out of order.
    HttpReorder {
        /// Milliseconds to hold at most.
        hold: u64,
    },
}

impl ToxicKind {
    /// The type name used in the API.
    pub fn type_name(&self) -> &'static str {
        match self {
            ToxicKind::Latency { .. } => "latency",
            ToxicKind::Bandwidth { .. } => "bandwidth",
            ToxicKind::SlowClose { .. } => "slow_close",
            ToxicKind::Timeout { .. } => "timeout",
            ToxicKind::ResetPeer { .. } => "reset_peer",
            ToxicKind::Slicer { .. } => "slicer",
            ToxicKind::LimitData { .. } => "limit_data",
            ToxicKind::HttpStatus { .. } => "http_status",
            ToxicKind::HttpDelay { .. } => "http_delay",
            ToxicKind::HttpTruncate { .. } => "http_truncate",
            ToxicKind::HttpCorrupt { .. } => "http_corrupt",
            ToxicKind::HttpDropField { .. } => "http_drop_field",
            ToxicKind::HttpDuplicate => "http_duplicate",
            ToxicKind::HttpReorder { .. } => "http_reorder",
        }
    }

    /// Whether it acts on HTTP messages rather than bytes.
    pub fn is_http(&self) -> bool {
        self.type_name().starts_with("http_")
    }

    /// The attributes as the API shows them.
    pub fn attributes(&self) -> Value {
        match self {
            ToxicKind::Latency { latency, jitter } => json!({"latency": latency, "jitter": jitter}),
            ToxicKind::Bandwidth { rate } => json!({ "rate": rate }),
            ToxicKind::SlowClose { delay } => json!({ "delay": delay }),
            ToxicKind::Timeout { timeout } | ToxicKind::ResetPeer { timeout } => {
                json!({ "timeout": timeout })
            }
            ToxicKind::Slicer { average_size, size_variation, delay } => json!({
                "average_size": average_size, "size_variation": size_variation, "delay": delay
            }),
            ToxicKind::LimitData { bytes } => json!({ "bytes": bytes }),
            ToxicKind::HttpStatus { status, body } => json!({"status": status, "body": body}),
            ToxicKind::HttpDelay { distribution, mean, stddev } => json!({
                "distribution": distribution.name(), "mean": mean, "stddev": stddev
            }),
            ToxicKind::HttpTruncate { fraction } => json!({ "fraction": fraction }),
            ToxicKind::HttpCorrupt { bytes } => json!({ "bytes": bytes }),
            ToxicKind::HttpDropField { pointer } => json!({ "pointer": pointer }),
            ToxicKind::HttpDuplicate => json!({}),
            ToxicKind::HttpReorder { hold } => json!({ "hold": hold }),
        }
    }

    /// Builds a kind from its type name and attributes; missing attributes take Toxiproxy's
    /// defaults (0) or the documented ones for the HTTP kinds.
    ///
    /// # Errors
    /// [`ProxyError::Invalid`] naming the type or attribute.
    pub fn parse(
        type_name: &str,
        attributes: &Map<String, Value>,
    ) -> Result<ToxicKind, ProxyError> {
        let attrs = Attributes { type_name, map: attributes };
        let known: &[&str] = match type_name {
            "latency" => &["latency", "jitter"],
            "bandwidth" => &["rate"],
            "slow_close" => &["delay"],
            "timeout" | "reset_peer" => &["timeout"],
            "slicer" => &["average_size", "size_variation", "delay"],
            "limit_data" => &["bytes"],
            "http_status" => &["status", "body"],
            "http_delay" => &["distribution", "mean", "stddev"],
            "http_truncate" => &["fraction"],
            "http_corrupt" => &["bytes"],
            "http_drop_field" => &["pointer"],
            "http_duplicate" => &[],
            "http_reorder" => &["hold"],
            other => {
                return Err(ProxyError::Invalid(format!(
                    "unknown toxic type `{other}` (latency, bandwidth, slow_close, timeout, \
                     reset_peer, slicer, limit_data, http_status, http_delay, http_truncate, \
                     http_corrupt, http_drop_field, http_duplicate, http_reorder)"
                )));
            }
        };
        if let Some(key) = attributes.keys().find(|key| !known.contains(&key.as_str())) {
            return Err(ProxyError::Invalid(format!(
                "toxic type `{type_name}` has no attribute `{key}` (it has: {})",
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            )));
        }
        Ok(match type_name {
            "latency" => ToxicKind::Latency {
                latency: attrs.uint("latency", 0)?,
                jitter: attrs.uint("jitter", 0)?,
            },
            "bandwidth" => ToxicKind::Bandwidth { rate: attrs.uint("rate", 0)? },
            "slow_close" => ToxicKind::SlowClose { delay: attrs.uint("delay", 0)? },
            "timeout" => ToxicKind::Timeout { timeout: attrs.uint("timeout", 0)? },
            "reset_peer" => ToxicKind::ResetPeer { timeout: attrs.uint("timeout", 0)? },
            "slicer" => ToxicKind::Slicer {
                average_size: attrs.uint("average_size", 0)?,
                size_variation: attrs.uint("size_variation", 0)?,
                delay: attrs.uint("delay", 0)?,
            },
            "limit_data" => ToxicKind::LimitData { bytes: attrs.uint("bytes", 0)? },
            "http_status" => {
                let status = attrs.uint("status", 503)?;
                if !(100..=999).contains(&status) {
                    return Err(attrs.bad("status", "an HTTP status code (100–999)"));
                }
                ToxicKind::HttpStatus {
                    status: status as u16,
                    body: attrs.string("body")?.unwrap_or_else(|| {
                        format!(
                            r#"{{"error":"fault injected by stressor proxy: status {status}"}}"#
                        )
                    }),
                }
            }
            "http_delay" => {
                let distribution = match attrs.string("distribution")? {
                    None => Delay::Constant,
                    Some(name) => Delay::parse(&name).ok_or_else(|| {
                        attrs.bad(
                            "distribution",
                            "one of constant, uniform, normal, lognormal, exponential",
                        )
                    })?,
                };
                ToxicKind::HttpDelay {
                    distribution,
                    mean: attrs.float("mean", 0.0)?,
                    stddev: attrs.float("stddev", 0.0)?,
                }
            }
            "http_truncate" => {
                let fraction = attrs.float("fraction", 0.5)?;
                if !(0.0..1.0).contains(&fraction) {
                    return Err(attrs.bad("fraction", "a share in [0, 1)"));
                }
                ToxicKind::HttpTruncate { fraction }
            }
            "http_corrupt" => ToxicKind::HttpCorrupt { bytes: attrs.uint("bytes", 1)? },
            "http_drop_field" => {
                let pointer = attrs.string("pointer")?.unwrap_or_default();
                if !pointer.starts_with('/') {
                    return Err(attrs.bad("pointer", "a JSON pointer such as \"/outputs/0\""));
                }
                ToxicKind::HttpDropField { pointer }
            }
            "http_duplicate" => ToxicKind::HttpDuplicate,
            _ => ToxicKind::HttpReorder { hold: attrs.uint("hold", 100)? },
        })
    }
}

struct Attributes<'a> {
    type_name: &'a str,
    map: &'a Map<String, Value>,
}

impl Attributes<'_> {
    fn bad(&self, key: &str, expected: &str) -> ProxyError {
        ProxyError::Invalid(format!(
            "attribute `{key}` of toxic type `{}` must be {expected}",
            self.type_name
        ))
    }

    fn uint(&self, key: &str, default: u64) -> Result<u64, ProxyError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Number(n)) => n
                .as_u64()
                .or_else(|| n.as_f64().filter(|f| *f >= 0.0 && f.fract() == 0.0).map(|f| f as u64))
                .ok_or_else(|| self.bad(key, "a non-negative integer")),
            Some(_) => Err(self.bad(key, "a non-negative integer")),
        }
    }

    fn float(&self, key: &str, default: f64) -> Result<f64, ProxyError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Number(n)) => n
                .as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .ok_or_else(|| self.bad(key, "a non-negative number")),
            Some(_) => Err(self.bad(key, "a non-negative number")),
        }
    }

    fn string(&self, key: &str) -> Result<Option<String>, ProxyError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.bad(key, "a string")),
        }
    }
}

/// A named toxic on one stream of a proxy.
#[derive(Debug, Clone, PartialEq)]
pub struct Toxic {
    /// Unique within its proxy; defaults to `<type>_<stream>`.
    pub name: String,
    /// What it does.
    pub kind: ToxicKind,
    /// Which direction.
    pub stream: Stream,
    /// Probability of acting: per connection (re-drawn whenever the proxy's toxics change) for
    /// byte toxics, per message for `http_*` toxics.
    pub toxicity: f64,
}

impl Toxic {
    /// A toxic with the default name, stream downstream and toxicity 1.
    pub fn new(kind: ToxicKind) -> Toxic {
        let stream = Stream::Downstream;
        Toxic {
            name: format!("{}_{}", kind.type_name(), stream.name()),
            kind,
            stream,
            toxicity: 1.0,
        }
    }

    /// Sets the stream, renaming a default-named toxic to match.
    pub fn on(mut self, stream: Stream) -> Toxic {
        if self.name == format!("{}_{}", self.kind.type_name(), self.stream.name()) {
            self.name = format!("{}_{}", self.kind.type_name(), stream.name());
        }
        self.stream = stream;
        self
    }

    /// Sets the toxicity.
    pub fn with_toxicity(mut self, toxicity: f64) -> Toxic {
        self.toxicity = toxicity;
        self
    }

    /// The API's JSON object.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.kind.type_name(),
            "stream": self.stream.name(),
            "toxicity": self.toxicity,
            "attributes": self.kind.attributes(),
        })
    }

    /// Reads a toxic from the API's JSON (`type` required; `name`, `stream`, `toxicity`,
    /// `attributes` optional).
    ///
    /// # Errors
    /// [`ProxyError::Invalid`] naming the field.
    pub fn from_json(value: &Value) -> Result<Toxic, ProxyError> {
        let object = value
            .as_object()
            .ok_or_else(|| ProxyError::Invalid("a toxic must be a JSON object".into()))?;
        for key in object.keys() {
            if !["name", "type", "stream", "toxicity", "attributes"].contains(&key.as_str()) {
                return Err(ProxyError::Invalid(format!(
                    "unknown toxic field `{key}` (name, type, stream, toxicity, attributes)"
                )));
            }
        }
        let type_name = object
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| ProxyError::Invalid("field `type` (a string) is required".into()))?;
        let empty = Map::new();
        let attributes = match object.get("attributes") {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(map)) => map,
            Some(_) => {
                return Err(ProxyError::Invalid("field `attributes` must be an object".into()));
            }
        };
        let kind = ToxicKind::parse(type_name, attributes)?;
        let stream = match object.get("stream") {
            None | Some(Value::Null) => Stream::Downstream,
            Some(Value::String(s)) if s == "upstream" => Stream::Upstream,
            Some(Value::String(s)) if s == "downstream" => Stream::Downstream,
            Some(_) => {
                return Err(ProxyError::Invalid(
                    "field `stream` must be \"upstream\" or \"downstream\"".into(),
                ));
            }
        };
        let toxicity = match object.get("toxicity") {
            None | Some(Value::Null) => 1.0,
            Some(value) => value.as_f64().filter(|t| (0.0..=1.0).contains(t)).ok_or_else(|| {
                ProxyError::Invalid("field `toxicity` must be a number in [0, 1]".into())
            })?,
        };
        let mut toxic = Toxic::new(kind).on(stream).with_toxicity(toxicity);
        // An empty name gets the default, as Toxiproxy gives it (`toxiproxy-cli toxic add`
        // without `-n` sends `"name": ""`).
        match object.get("name") {
            None | Some(Value::Null) => {}
            Some(Value::String(name)) if name.is_empty() => {}
            Some(Value::String(name)) => toxic.name = name.clone(),
            Some(_) => {
                return Err(ProxyError::Invalid("field `name` must be a string".into()));
            }
        }
        Ok(toxic)
    }

    /// Applies an update (the API's `POST /proxies/{p}/toxics/{t}`): `toxicity`, `stream` and
    /// any attributes given replace the current ones.
    ///
    /// # Errors
    /// [`ProxyError::Invalid`] naming the field.
    pub fn update(&self, value: &Value) -> Result<Toxic, ProxyError> {
        let mut merged = self.to_json();
        let object = value
            .as_object()
            .ok_or_else(|| ProxyError::Invalid("a toxic update must be a JSON object".into()))?;
        for (key, field) in object {
            match key.as_str() {
                "attributes" => {
                    let Some(new) = field.as_object() else {
                        return Err(ProxyError::Invalid(
                            "field `attributes` must be an object".into(),
                        ));
                    };
                    if let Some(current) = merged["attributes"].as_object_mut() {
                        for (name, attribute) in new {
                            current.insert(name.clone(), attribute.clone());
                        }
                    }
                }
                "type" if field.as_str() != Some(self.kind.type_name()) => {
                    return Err(ProxyError::Invalid(
                        "a toxic's `type` cannot change; delete it and add a new one".into(),
                    ));
                }
                "name" if field.as_str() != Some(self.name.as_str()) => {
                    return Err(ProxyError::Invalid("a toxic's `name` cannot change".into()));
                }
                _ => {
                    merged[key.as_str()] = field.clone();
                }
            }
        }
        Toxic::from_json(&merged)
    }
}

impl fmt::Display for Toxic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} {}, toxicity {})",
            self.name,
            self.kind.type_name(),
            self.stream.name(),
            self.toxicity
        )
    }
}

pub(crate) fn ms(value: u64) -> Duration {
    Duration::from_millis(value)
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_toxiproxy() {
        let toxic =
            Toxic::from_json(&json!({"type": "latency", "attributes": {"latency": 100}})).unwrap();
        assert_eq!(toxic.name, "latency_downstream");
        assert_eq!(toxic.stream, Stream::Downstream);
        assert_eq!(toxic.toxicity, 1.0);
        assert_eq!(toxic.kind, ToxicKind::Latency { latency: 100, jitter: 0 });
        let up = Toxic::from_json(&json!({"type": "timeout", "stream": "upstream"})).unwrap();
        assert_eq!(up.name, "timeout_upstream");
        // `toxiproxy-cli toxic add -t latency -a latency=100 web` (no `-n`) sends an empty name.
        let unnamed =
            Toxic::from_json(&json!({"name": "", "type": "latency", "stream": "upstream"}))
                .unwrap();
        assert_eq!(unnamed.name, "latency_upstream");
        let named = Toxic::from_json(&json!({"name": "slow", "type": "latency"})).unwrap();
        assert_eq!(named.name, "slow");
        assert!(Toxic::from_json(&json!({"name": 3, "type": "latency"})).is_err());
        assert_eq!(up.to_json()["attributes"], json!({"timeout": 0}));
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (json!({"type": "latncy"}), "unknown toxic type `latncy`"),
            (json!({"type": "latency", "attributes": {"latnecy": 1}}), "no attribute `latnecy`"),
            (
                json!({"type": "latency", "attributes": {"latency": -5}}),
                "`latency` of toxic type `latency`",
            ),
            (json!({"type": "latency", "toxicity": 1.5}), "`toxicity`"),
            (json!({"type": "latency", "stream": "sideways"}), "`stream`"),
            (json!({"attributes": {}}), "`type`"),
            (json!({"type": "http_status", "attributes": {"status": 42}}), "`status`"),
            (json!({"type": "http_drop_field", "attributes": {"pointer": "outputs"}}), "`pointer`"),
            (
                json!({"type": "http_delay", "attributes": {"distribution": "pareto"}}),
                "`distribution`",
            ),
        ];
        for (input, expected) in cases {
            let error = Toxic::from_json(&input).unwrap_err().to_string();
            assert!(error.contains(expected), "{input}: {error}");
        }
    }

    #[test]
    fn update_merges_attributes_and_round_trips() {
        let toxic = Toxic::from_json(
            &json!({"type": "latency", "attributes": {"latency": 100, "jitter": 10}}),
        )
        .unwrap();
        let updated =
            toxic.update(&json!({"attributes": {"latency": 250}, "toxicity": 0.5})).unwrap();
        assert_eq!(updated.kind, ToxicKind::Latency { latency: 250, jitter: 10 });
        assert_eq!(updated.toxicity, 0.5);
        assert_eq!(Toxic::from_json(&updated.to_json()).unwrap(), updated);
        assert!(toxic.update(&json!({"type": "bandwidth"})).is_err());
    }

    use stressor_test_support::any_json;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 1024, ..Default::default() })]

        /// Any toxic body, Toxiproxy-shaped or not, is a toxic or an error.
        #[test]
        fn any_toxic_body_is_a_toxic_or_an_error(
            body in any_json(&["name", "type", "stream", "toxicity", "attributes", "latency", "jitter", "rate", "delay", "timeout", "bytes", "status", "body", "upstream", "downstream"]),
            kind in proptest::sample::select(&["latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data", "http_status", "http_delay", "nope", ""][..]),
            attributes in any_json(&["latency", "jitter", "rate", "delay", "timeout", "average_size", "size_variation", "bytes", "status", "body"]),
            toxicity in any_json(&[]),
        ) {
            let _ = Toxic::from_json(&body);
            let shaped = json!({"type": kind, "stream": "upstream", "toxicity": toxicity, "attributes": attributes});
            let _ = Toxic::from_json(&shaped);
        }
    }
}
