//! The MLflow backend against answers recorded from MLflow 3.18 by
//! `tests/fixtures/capture.py` (run by `bench/mlflow-registry-compat/run.sh --capture`) after
//! the rollback example: model `war-game`, v1 and v2, `champion` and `last-good` → v1,
//! `canary` → v2, four history tags.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use serde_json::{Map, Value};
use stressor_registry::{
    Change, Integrity, MlflowConfig, MlflowRegistry, Registry, RegistryError, sha256_hex,
};

use crate::scratch;

const MODEL: &str = "war-game";

/// A recorded exchange; `loose` ones match on method and path alone.
struct Fixture {
    method: String,
    path: String,
    params: Map<String, Value>,
    status: u16,
    body: Value,
    loose: bool,
}

fn fixture(name: &str) -> Fixture {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let record: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    Fixture {
        method: record["method"].as_str().unwrap().into(),
        path: record["path"].as_str().unwrap().into(),
        params: record["params"].as_object().unwrap().clone(),
        status: u16::try_from(record["status"].as_u64().unwrap()).unwrap(),
        body: record["body"].clone(),
        loose: false,
    }
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut idx = 0;
    while idx < bytes.len() {
        match bytes[idx] {
            b'%' if idx + 2 < bytes.len() => {
                out.push(u8::from_str_radix(&text[idx + 1..idx + 3], 16).unwrap());
                idx += 3;
            }
            b'+' => {
                out.push(b' ');
                idx += 1;
            }
            byte => {
                out.push(byte);
                idx += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// The parameters a request carries: its query (GET) or its JSON body's strings.
fn params(method: &Method, uri: &Uri, body: &[u8]) -> Map<String, Value> {
    if method == Method::GET {
        uri.query()
            .unwrap_or_default()
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(key, value)| (decode(key), Value::String(decode(value))))
            .collect()
    } else {
        serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|body| body.as_object().cloned())
            .unwrap_or_default()
    }
}

async fn answer(
    State(fixtures): State<Arc<Vec<Fixture>>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> (StatusCode, String) {
    let sent = params(&method, &uri, &body);
    let found = fixtures.iter().find(|fixture| {
        fixture.method == method.as_str()
            && fixture.path == uri.path()
            && (fixture.loose
                || ["name", "version", "alias", "filter"]
                    .iter()
                    .all(|key| fixture.params.get(*key) == sent.get(*key)))
    });
    match found {
        Some(fixture) => (StatusCode::from_u16(fixture.status).unwrap(), fixture.body.to_string()),
        None => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("<html>no fixture for {method} {uri}</html>"),
        ),
    }
}

/// A loopback server answering with `fixtures`; the runtime serves while it lives.
fn replay(fixtures: Vec<Fixture>) -> (MlflowRegistry, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new().fallback(answer).with_state(Arc::new(fixtures));
    runtime.spawn(async move { axum::serve(listener, router).await });
    let registry = MlflowRegistry::connect(MlflowConfig::new(url, scratch("mlflow"))).unwrap();
    (registry, runtime)
}

fn serve(names: &[&str]) -> (MlflowRegistry, tokio::runtime::Runtime) {
    replay(names.iter().map(|name| fixture(name)).collect())
}

fn change() -> Change {
    Change::new("blue-team", "test", 1.0)
}

#[test]
fn an_existing_model_is_accepted_by_ensure_model() {
    let (registry, _server) = serve(&["create_model_exists"]);
    assert_eq!(registry.backend(), "mlflow");
    registry.ensure_model(MODEL).unwrap();
}

#[test]
fn a_version_reads_its_hash_metadata_source_and_aliases() {
    let (registry, _server) = serve(&["get_version"]);
    let v1 = registry.version(MODEL, 1).unwrap();
    assert_eq!(v1.version, 1);
    assert_eq!(v1.sha256, sha256_hex(b"model weights v1"));
    assert_eq!(v1.metadata.metrics["accuracy"], 0.91);
    assert_eq!(v1.metadata.fairness["demographic_parity_ratio"], 0.86);
    assert_eq!(v1.metadata.tags["team"], "blue");
    assert_eq!(v1.metadata.training_data_sha256, sha256_hex(b"training data"));
    assert_eq!(v1.aliases, ["champion", "last-good"]);
    assert!(v1.source.ends_with("/artifacts/artefact.bin"), "{}", v1.source);
    // The capture's temporary directory is gone, so is the artefact.
    assert_eq!(registry.verify(MODEL, 1).unwrap(), Integrity::Missing);
    assert!(matches!(registry.artefact(MODEL, 1), Err(RegistryError::ArtefactMissing { .. })));
}

#[test]
fn missing_models_versions_and_aliases_map_to_their_errors() {
    let (registry, _server) = serve(&[
        "get_version_missing",
        "get_model",
        "get_model_missing",
        "get_alias_unset",
        "get_alias_missing_model",
        "set_alias_missing_version",
    ]);
    assert!(matches!(
        registry.version(MODEL, 99),
        Err(RegistryError::NoSuchVersion { version: 99, .. })
    ));
    assert!(matches!(
        registry.alias_history("no-such-model"),
        Err(RegistryError::NoSuchModel { .. })
    ));
    assert!(matches!(registry.versions("no-such-model"), Err(RegistryError::NoSuchModel { .. })));
    assert_eq!(registry.alias(MODEL, "ghost").unwrap(), None);
    assert!(matches!(
        registry.alias("no-such-model", "champion"),
        Err(RegistryError::NoSuchModel { .. })
    ));
    assert!(matches!(
        registry.set_alias(MODEL, "ghost", 99, &change()),
        Err(RegistryError::NoSuchVersion { version: 99, .. })
    ));
    assert!(matches!(
        registry.delete_alias(MODEL, "ghost", &change()),
        Err(RegistryError::NoSuchAlias { .. })
    ));
}

#[test]
fn an_alias_resolves_to_its_version() {
    let (registry, _server) = serve(&["get_alias"]);
    let champion = registry.alias(MODEL, "champion").unwrap().unwrap();
    assert_eq!((champion.version, champion.sha256), (1, sha256_hex(b"model weights v1")));
}

#[test]
fn the_alias_history_is_read_back_from_the_models_tags() {
    let (registry, _server) = serve(&["get_model"]);
    let history = registry.alias_history(MODEL).unwrap();
    let moves: Vec<_> =
        history.iter().map(|c| (c.alias.as_str(), c.from, c.to, c.actor.as_str())).collect();
    assert_eq!(
        moves,
        [
            ("last-good", None, Some(1), "ci"),
            ("champion", None, Some(2), "ci"),
            ("champion", Some(2), Some(1), "blue-team"),
            ("canary", None, Some(2), "red-team"),
        ]
    );
    assert_eq!((history[2].reason.as_str(), history[2].at_s), ("p99 regression after v2", 60.0));
}

#[test]
fn versions_come_from_the_search_with_aliases_from_the_model() {
    let (registry, _server) = serve(&["get_model", "search_versions"]);
    let versions = registry.versions(MODEL).unwrap();
    assert_eq!(versions.iter().map(|v| v.version).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(versions[0].aliases, ["champion", "last-good"]);
    assert_eq!(versions[1].aliases, ["canary"]);
    assert_eq!(versions[1].sha256, sha256_hex(b"model weights v2"));
}

#[test]
fn setting_an_alias_records_the_change_as_a_tag() {
    let (registry, _server) = serve(&["get_model", "set_alias", "set_tag"]);
    let mut set_alias = fixture("set_alias");
    set_alias.loose = true;
    let mut set_tag = fixture("set_tag");
    set_tag.loose = true;
    let (registry_loose, _server_loose) = replay(vec![fixture("get_model"), set_alias, set_tag]);
    registry_loose.set_alias(MODEL, "champion", 2, &change()).unwrap();
    // Without a loose match the replay answers a non-JSON 500: a protocol error naming the call.
    let error = registry.set_alias(MODEL, "champion", 2, &change()).unwrap_err();
    assert!(
        matches!(&error, RegistryError::Protocol { what } if what.contains("registered-models/alias")),
        "{error}"
    );
}

#[test]
fn an_invalid_parameter_is_an_invalid_error_with_mlflows_message() {
    let mut reserved = fixture("set_alias_reserved");
    reserved.loose = true;
    let (registry, _server) = replay(vec![fixture("get_model"), reserved]);
    let error = registry.set_alias(MODEL, "champion", 1, &change()).unwrap_err();
    assert!(
        matches!(&error, RegistryError::Invalid { what } if what.contains("reserved")),
        "{error}"
    );
}

#[test]
fn a_server_that_is_gone_or_hangs_up_is_unreachable() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let registry = MlflowRegistry::connect(MlflowConfig::new(url, scratch("gone"))).unwrap();
    assert!(matches!(registry.alias(MODEL, "champion"), Err(RegistryError::Unreachable { .. })));

    // A server that accepts and closes every connection without answering.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
    let registry = MlflowRegistry::connect(MlflowConfig::new(url, scratch("hangup"))).unwrap();
    let error = registry.version(MODEL, 1).unwrap_err();
    assert!(matches!(error, RegistryError::Unreachable { .. }), "{error}");
}
