//! [`MlflowRegistry`]: MLflow's Model Registry over its REST API (`/api/2.0/mlflow/…`),
//! checked against MLflow 3.18.
//!
//! MLflow refuses a local file as a version's `source` unless it lies in the artifact
//! directory of the run named by `run_id`, so each registered artefact gets a run in a
//! dedicated experiment whose artifact location is the local artefact directory: the bytes are
//! written to `<artefact dir>/<run id>/artifacts/artefact.bin` and the version's `source` is
//! that path. The SHA-256 and the metadata go into model-version tags (`stressor.sha256`,
//! `stressor.metadata`); every alias change into a registered-model tag of its own
//! (`stressor.alias_history.000001` = the change as JSON), so the history lives in MLflow.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use stressor_model::http::{JsonEndpoint, OipOptions};

use crate::record::{change_from_json, change_to_json, metadata_from_json, metadata_to_json};
use crate::registry::{check_change, check_metadata, check_name};
use crate::{
    AliasChange, Change, Integrity, Metadata, Registry, RegistryError, Version, check_alias,
    sha256_hex,
};

/// The model-version tag holding the artefact's SHA-256.
pub const SHA256_TAG: &str = "stressor.sha256";
/// The model-version tag holding the [`Metadata`] as JSON.
pub const METADATA_TAG: &str = "stressor.metadata";
/// The prefix of the registered-model tags holding the alias history, one change per tag,
/// numbered from `000001`.
pub const HISTORY_TAG_PREFIX: &str = "stressor.alias_history.";

/// How to reach an MLflow tracking server and where artefacts go.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MlflowConfig {
    /// The server, `http://host:port` (a path prefix is kept: `http://host/mlflow`).
    pub url: String,
    /// The local directory artefacts are written to (the experiment's artifact location).
    pub artefact_dir: PathBuf,
    /// The experiment that holds one run per registered artefact.
    pub experiment: String,
    /// Transport: timeout, retries, headers, TLS. Retries default to 0 because creating a
    /// version is not idempotent and a server gone mid-game should be reported at once.
    pub http: OipOptions,
}

/// A registry in an MLflow tracking server's Model Registry.
///
/// Calls from many threads share one client; alias changes made through one
/// `MlflowRegistry` are serialised, so their history entries get distinct numbers (two
/// processes changing aliases of one model at the same instant may both take the same number;
/// the later write wins).
pub struct MlflowRegistry {
    endpoint: JsonEndpoint,
    config: MlflowConfig,
    experiment_id: Mutex<Option<String>>,
    alias_changes: Mutex<()>,
}

/// An MLflow error answer.
#[derive(Debug)]
struct Refusal {
    status: u16,
    error_code: String,
    message: String,
}

impl std::fmt::Debug for MlflowRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MlflowRegistry")
            .field("url", &self.config.url)
            .field("artefact_dir", &self.config.artefact_dir)
            .finish_non_exhaustive()
    }
}

impl MlflowConfig {
    /// The server at `url`, artefacts in `artefact_dir`, the experiment `stressor-registry`,
    /// a 10 s timeout and no retries.
    ///
    /// # Examples
    /// ```
    /// let config = stressor_registry::MlflowConfig::new("http://127.0.0.1:5000", "/tmp/artefacts");
    /// assert_eq!(config.experiment, "stressor-registry");
    /// ```
    pub fn new(url: impl Into<String>, artefact_dir: impl Into<PathBuf>) -> MlflowConfig {
        let mut http = OipOptions::default();
        http.timeout = Duration::from_secs(10);
        http.retries = 0;
        MlflowConfig {
            url: url.into(),
            artefact_dir: artefact_dir.into(),
            experiment: "stressor-registry".into(),
            http,
        }
    }
}

impl MlflowRegistry {
    /// A registry on the server `config.url`. Nothing is sent yet; the experiment is looked up
    /// (or created) at the first [`Registry::register`].
    ///
    /// # Errors
    /// [`RegistryError::Unreachable`] for an unusable URL or TLS setup;
    /// [`RegistryError::Io`] when the artefact directory cannot be created or resolved.
    pub fn connect(config: MlflowConfig) -> Result<MlflowRegistry, RegistryError> {
        let endpoint = JsonEndpoint::new(&config.url, config.http.clone())
            .map_err(|error| unreachable(&config.url, &error))?;
        let dir = &config.artefact_dir;
        std::fs::create_dir_all(dir)
            .map_err(|source| RegistryError::Io { path: dir.clone(), source })?;
        let artefact_dir = std::fs::canonicalize(dir)
            .map_err(|source| RegistryError::Io { path: dir.clone(), source })?;
        let config = MlflowConfig { artefact_dir, ..config };
        Ok(MlflowRegistry {
            endpoint,
            config,
            experiment_id: Mutex::new(None),
            alias_changes: Mutex::new(()),
        })
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.config.url
    }

    /// One request: the JSON of a 2xx answer, or MLflow's refusal.
    fn send(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<Result<Value, Refusal>, RegistryError> {
        let body = body.map_or_else(Bytes::new, |body| Bytes::from(body.to_string()));
        let (status, answer) = self
            .endpoint
            .call(method, &format!("/api/2.0/mlflow/{path_and_query}"), body)
            .map_err(|error| unreachable(&self.config.url, &error))?;
        let operation = path_and_query.split('?').next().unwrap_or_default();
        let json = if answer.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            serde_json::from_slice::<Value>(&answer).map_err(|error| RegistryError::Protocol {
                what: format!("{operation} (status {status}): the body is not JSON: {error}"),
            })?
        };
        if (200..300).contains(&status) {
            return Ok(Ok(json));
        }
        let text = |key: &str| json.get(key).and_then(Value::as_str).map(str::to_string);
        match (text("error_code"), text("message")) {
            (Some(error_code), message) => {
                Ok(Err(Refusal { status, error_code, message: message.unwrap_or_default() }))
            }
            (None, _) => Err(RegistryError::Protocol {
                what: format!("{operation} answered status {status} without an `error_code`"),
            }),
        }
    }

    /// A request whose refusal maps to the typed errors for model `name` (and `version`).
    fn request(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&Value>,
        name: &str,
        version: Option<u64>,
    ) -> Result<Value, RegistryError> {
        self.send(method, path_and_query, body)?.map_err(|refusal| refused(refusal, name, version))
    }

    /// `registered-models/get`: the model's JSON object.
    fn model(&self, name: &str) -> Result<Value, RegistryError> {
        let answer = self.request(
            "GET",
            &format!("registered-models/get?name={}", encode(name)),
            None,
            name,
            None,
        )?;
        answer.get("registered_model").cloned().ok_or_else(|| RegistryError::Protocol {
            what: "registered-models/get: no `registered_model` in the answer".into(),
        })
    }

    /// Where each alias of a model points (`registered_model.aliases`).
    fn aliases_of(model: &Value) -> Result<BTreeMap<String, u64>, RegistryError> {
        let Some(aliases) = model.get("aliases") else { return Ok(BTreeMap::new()) };
        let aliases = aliases.as_array().ok_or_else(|| RegistryError::Protocol {
            what: "registered_model.aliases is not an array".into(),
        })?;
        aliases
            .iter()
            .enumerate()
            .map(|(idx, entry)| {
                let alias = entry.get("alias").and_then(Value::as_str);
                let version = entry.get("version").and_then(version_number);
                match (alias, version) {
                    (Some(alias), Some(version)) => Ok((alias.to_string(), version)),
                    _ => Err(RegistryError::Protocol {
                        what: format!(
                            "registered_model.aliases[{idx}] has no `alias` string or `version` number"
                        ),
                    }),
                }
            })
            .collect()
    }

    /// The experiment holding the artefact runs: looked up by name, created on first use.
    fn experiment_id(&self) -> Result<String, RegistryError> {
        let mut cached =
            self.experiment_id.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(id) = cached.as_ref() {
            return Ok(id.clone());
        }
        let name = &self.config.experiment;
        let path = format!("experiments/get-by-name?experiment_name={}", encode(name));
        let id = match self.send("GET", &path, None)? {
            Ok(answer) => answer
                .pointer("/experiment/experiment_id")
                .and_then(Value::as_str)
                .map(str::to_string),
            Err(refusal) if refusal.error_code == "RESOURCE_DOES_NOT_EXIST" => {
                let location = self.config.artefact_dir.display().to_string();
                let body = json!({"name": name, "artifact_location": location});
                let answer = self
                    .send("POST", "experiments/create", Some(&body))?
                    .map_err(|refusal| refused(refusal, name, None))?;
                answer.get("experiment_id").and_then(Value::as_str).map(str::to_string)
            }
            Err(refusal) => return Err(refused(refusal, name, None)),
        }
        .ok_or_else(|| RegistryError::Protocol {
            what: format!("experiment `{name}`: no `experiment_id` string in the answer"),
        })?;
        *cached = Some(id.clone());
        Ok(id)
    }

    /// A run whose artifact directory receives `artefact`: its id and the file written.
    fn store_artefact(
        &self,
        name: &str,
        artefact: &[u8],
    ) -> Result<(String, PathBuf), RegistryError> {
        let experiment_id = self.experiment_id()?;
        let body = json!({"experiment_id": experiment_id, "run_name": format!("{name} artefact")});
        let answer = self.request("POST", "runs/create", Some(&body), name, None)?;
        let info = |key: &str| {
            answer.pointer(&format!("/run/info/{key}")).and_then(Value::as_str).ok_or_else(|| {
                RegistryError::Protocol { what: format!("runs/create: no run.info.{key} string") }
            })
        };
        let run_id = info("run_id")?.to_string();
        let artifact_uri = info("artifact_uri")?;
        let dir = local_path(artifact_uri).ok_or_else(|| RegistryError::Protocol {
            what: format!(
                "runs/create: run.info.artifact_uri `{artifact_uri}` is not a local directory \
                 (experiment `{}` must have a local artifact location)",
                self.config.experiment
            ),
        })?;
        std::fs::create_dir_all(&dir)
            .map_err(|source| RegistryError::Io { path: dir.clone(), source })?;
        let path = dir.join("artefact.bin");
        std::fs::write(&path, artefact)
            .map_err(|source| RegistryError::Io { path: path.clone(), source })?;
        Ok((run_id, path))
    }

    /// Appends `change` to the history tags of `name` (the caller holds `alias_changes`).
    fn append_change(
        &self,
        name: &str,
        model: &Value,
        change: &AliasChange,
    ) -> Result<(), RegistryError> {
        let last = history_tags(model)?.last().map_or(0, |(number, _)| *number);
        let body = json!({
            "name": name,
            "key": format!("{HISTORY_TAG_PREFIX}{:06}", last + 1),
            "value": change_to_json(change).to_string(),
        });
        self.request("POST", "registered-models/set-tag", Some(&body), name, None).map(drop)
    }

    fn read_artefact(&self, version: &Version) -> Result<Result<Vec<u8>, PathBuf>, RegistryError> {
        let path = local_path(&version.source).ok_or_else(|| RegistryError::Protocol {
            what: format!(
                "model_version.source `{}` of version {} is not a local file",
                version.source, version.version
            ),
        })?;
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Ok(bytes)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Err(path)),
            Err(source) => Err(RegistryError::Io { path, source }),
        }
    }
}

impl Registry for MlflowRegistry {
    fn backend(&self) -> &'static str {
        "mlflow"
    }

    fn ensure_model(&self, name: &str) -> Result<(), RegistryError> {
        check_name(name)?;
        match self.send("POST", "registered-models/create", Some(&json!({"name": name})))? {
            Ok(_) => Ok(()),
            Err(refusal) if refusal.error_code == "RESOURCE_ALREADY_EXISTS" => Ok(()),
            Err(refusal) => Err(refused(refusal, name, None)),
        }
    }

    fn register(
        &self,
        name: &str,
        artefact: &[u8],
        meta: &Metadata,
    ) -> Result<Version, RegistryError> {
        check_name(name)?;
        check_metadata(meta)?;
        // Fail before a run is made for a model that does not exist.
        self.model(name)?;
        let (run_id, path) = self.store_artefact(name, artefact)?;
        let body = json!({
            "name": name,
            "source": path.display().to_string(),
            "run_id": run_id,
            "tags": [
                {"key": SHA256_TAG, "value": sha256_hex(artefact)},
                {"key": METADATA_TAG, "value": metadata_to_json(meta).to_string()},
            ],
        });
        let answer = self.request("POST", "model-versions/create", Some(&body), name, None)?;
        let version = parse_version(answer.get("model_version"), "model-versions/create")?;
        // Only tidiness: an unfinished run changes nothing for the registry.
        let _ = self.send(
            "POST",
            "runs/update",
            Some(&json!({"run_id": run_id, "status": "FINISHED"})),
        );
        Ok(version)
    }

    fn version(&self, name: &str, version: u64) -> Result<Version, RegistryError> {
        check_name(name)?;
        let path = format!("model-versions/get?name={}&version={version}", encode(name));
        let answer = self.request("GET", &path, None, name, Some(version))?;
        parse_version(answer.get("model_version"), "model-versions/get")
    }

    fn versions(&self, name: &str) -> Result<Vec<Version>, RegistryError> {
        check_name(name)?;
        // The search answers no aliases: they come from the model (which also tells a missing
        // model from one without versions).
        let aliases = Self::aliases_of(&self.model(name)?)?;
        let filter = format!("name='{}'", name.replace('\\', "\\\\").replace('\'', "\\'"));
        let mut versions = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut path =
                format!("model-versions/search?filter={}&max_results=1000", encode(&filter));
            if let Some(token) = &page_token {
                path.push_str(&format!("&page_token={}", encode(token)));
            }
            let answer = self.request("GET", &path, None, name, None)?;
            if let Some(found) = answer.get("model_versions") {
                let found = found.as_array().ok_or_else(|| RegistryError::Protocol {
                    what: "model-versions/search: `model_versions` is not an array".into(),
                })?;
                for version in found {
                    let mut version = parse_version(Some(version), "model-versions/search")?;
                    // The filter is MLflow's; keep only exact matches whatever it did.
                    if version.name == name {
                        version.aliases = aliases
                            .iter()
                            .filter(|(_, number)| **number == version.version)
                            .map(|(alias, _)| alias.clone())
                            .collect();
                        versions.push(version);
                    }
                }
            }
            page_token = answer.get("next_page_token").and_then(Value::as_str).map(str::to_string);
            if page_token.as_deref().is_none_or(str::is_empty) {
                break;
            }
        }
        versions.sort_by_key(|version| version.version);
        Ok(versions)
    }

    fn artefact(&self, name: &str, version: u64) -> Result<Vec<u8>, RegistryError> {
        let found = self.version(name, version)?;
        self.read_artefact(&found)?.map_err(|path| RegistryError::ArtefactMissing {
            name: name.into(),
            version,
            location: path.display().to_string(),
        })
    }

    fn verify(&self, name: &str, version: u64) -> Result<Integrity, RegistryError> {
        let found = self.version(name, version)?;
        let Ok(bytes) = self.read_artefact(&found)? else { return Ok(Integrity::Missing) };
        let actual = sha256_hex(&bytes);
        Ok(if actual == found.sha256 {
            Integrity::Intact
        } else {
            Integrity::Tampered { expected: found.sha256, actual }
        })
    }

    fn set_alias(
        &self,
        name: &str,
        alias: &str,
        version: u64,
        change: &Change,
    ) -> Result<(), RegistryError> {
        check_name(name)?;
        check_alias(alias)?;
        check_change(change)?;
        let _serial = self.alias_changes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let model = self.model(name)?;
        let from = Self::aliases_of(&model)?.get(alias).copied();
        let body = json!({"name": name, "alias": alias, "version": version.to_string()});
        self.request("POST", "registered-models/alias", Some(&body), name, Some(version))?;
        let entry = AliasChange {
            alias: alias.into(),
            from,
            to: Some(version),
            actor: change.actor.clone(),
            reason: change.reason.clone(),
            at_s: change.at_s,
        };
        self.append_change(name, &model, &entry)
    }

    fn alias(&self, name: &str, alias: &str) -> Result<Option<Version>, RegistryError> {
        check_name(name)?;
        check_alias(alias)?;
        let path = format!("registered-models/alias?name={}&alias={}", encode(name), encode(alias));
        match self.send("GET", &path, None)? {
            Ok(answer) => {
                parse_version(answer.get("model_version"), "registered-models/alias").map(Some)
            }
            // MLflow answers an unset alias with INVALID_PARAMETER_VALUE ("Registered model
            // alias … not found"); the model's alias list confirms it rather than the message.
            Err(refusal) if refusal.error_code == "INVALID_PARAMETER_VALUE" => {
                if Self::aliases_of(&self.model(name)?)?.contains_key(alias) {
                    Err(refused(refusal, name, None))
                } else {
                    Ok(None)
                }
            }
            Err(refusal) => Err(refused(refusal, name, None)),
        }
    }

    fn delete_alias(&self, name: &str, alias: &str, change: &Change) -> Result<(), RegistryError> {
        check_name(name)?;
        check_alias(alias)?;
        check_change(change)?;
        let _serial = self.alias_changes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let model = self.model(name)?;
        let Some(from) = Self::aliases_of(&model)?.get(alias).copied() else {
            return Err(RegistryError::NoSuchAlias { name: name.into(), alias: alias.into() });
        };
        let body = json!({"name": name, "alias": alias});
        self.request("DELETE", "registered-models/alias", Some(&body), name, None)?;
        let entry = AliasChange {
            alias: alias.into(),
            from: Some(from),
            to: None,
            actor: change.actor.clone(),
            reason: change.reason.clone(),
            at_s: change.at_s,
        };
        self.append_change(name, &model, &entry)
    }

    fn alias_history(&self, name: &str) -> Result<Vec<AliasChange>, RegistryError> {
        check_name(name)?;
        history_tags(&self.model(name)?)?
            .into_iter()
            .map(|(number, value)| {
                let at = format!("tag {HISTORY_TAG_PREFIX}{number:06}");
                serde_json::from_str::<Value>(&value)
                    .map_err(|error| format!("{at} is not JSON: {error}"))
                    .and_then(|json| change_from_json(&json, &at))
                    .map_err(|what| RegistryError::Protocol { what })
            })
            .collect()
    }
}

/// The typed error for an MLflow refusal about model `name` (and `version`).
fn refused(refusal: Refusal, name: &str, version: Option<u64>) -> RegistryError {
    match (refusal.error_code.as_str(), version) {
        // "Registered Model with name=… not found" names the model; "Model Version (name=…,
        // version=…) not found" the version (MLflow says so also when the model is missing).
        ("RESOURCE_DOES_NOT_EXIST", _) if refusal.message.starts_with("Registered Model") => {
            RegistryError::NoSuchModel { name: name.into() }
        }
        ("RESOURCE_DOES_NOT_EXIST", Some(version)) => {
            RegistryError::NoSuchVersion { name: name.into(), version }
        }
        ("RESOURCE_DOES_NOT_EXIST", None) => RegistryError::NoSuchModel { name: name.into() },
        ("INVALID_PARAMETER_VALUE", _) => {
            RegistryError::Invalid { what: format!("request (MLflow: {})", refusal.message) }
        }
        _ => RegistryError::Server {
            status: refusal.status,
            error_code: refusal.error_code,
            message: refusal.message,
        },
    }
}

fn unreachable(url: &str, error: &stressor_model::ModelError) -> RegistryError {
    let reason = match error {
        stressor_model::ModelError::Remote { reason, .. } => reason.clone(),
        other => other.to_string(),
    };
    RegistryError::Unreachable { url: url.into(), reason }
}

/// A JSON version number: MLflow sends strings (`"2"`); numbers are accepted too.
fn version_number(value: &Value) -> Option<u64> {
    match value {
        Value::String(text) => text.parse().ok(),
        other => other.as_u64(),
    }
}

/// A `ModelVersion` object as a [`Version`]; `operation` names the call in errors.
fn parse_version(value: Option<&Value>, operation: &str) -> Result<Version, RegistryError> {
    let protocol = |what: String| RegistryError::Protocol { what: format!("{operation}: {what}") };
    let object = value
        .and_then(Value::as_object)
        .ok_or_else(|| protocol("no `model_version` object".into()))?;
    let field = |key: &str| {
        object
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| protocol(format!("model_version.{key} is not a string")))
    };
    let name = field("name")?.to_string();
    let version = object
        .get("version")
        .and_then(version_number)
        .ok_or_else(|| protocol("model_version.version is not a version number".into()))?;
    let source = field("source")?.to_string();
    let mut tags = BTreeMap::new();
    if let Some(list) = object.get("tags") {
        let list =
            list.as_array().ok_or_else(|| protocol("model_version.tags is not an array".into()))?;
        for (idx, tag) in list.iter().enumerate() {
            let key = tag.get("key").and_then(Value::as_str);
            let value = tag.get("value").and_then(Value::as_str);
            let (Some(key), Some(value)) = (key, value) else {
                return Err(protocol(format!(
                    "model_version.tags[{idx}] has no `key` and `value` strings"
                )));
            };
            tags.insert(key, value);
        }
    }
    let sha256 = tags
        .get(SHA256_TAG)
        .filter(|hash| hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| {
            protocol(format!(
                "version {version} of `{name}` has no `{SHA256_TAG}` tag holding a SHA-256 \
                 (registered without stressor?)"
            ))
        })?
        .to_ascii_lowercase();
    let metadata = match tags.get(METADATA_TAG) {
        None => Metadata::default(),
        Some(text) => serde_json::from_str::<Value>(text)
            .map_err(|error| format!("tag {METADATA_TAG} is not JSON: {error}"))
            .and_then(|json| metadata_from_json(&json, &format!("tag {METADATA_TAG}")))
            .map_err(protocol)?,
    };
    let mut aliases: Vec<String> = match object.get("aliases") {
        None => Vec::new(),
        Some(list) => list
            .as_array()
            .and_then(|list| list.iter().map(|alias| alias.as_str().map(str::to_string)).collect())
            .ok_or_else(|| protocol("model_version.aliases is not an array of strings".into()))?,
    };
    aliases.sort();
    Ok(Version { name, version, sha256, metadata, aliases, source })
}

/// The history tags of a registered model, by number.
fn history_tags(model: &Value) -> Result<Vec<(u64, String)>, RegistryError> {
    let Some(tags) = model.get("tags") else { return Ok(Vec::new()) };
    let tags = tags.as_array().ok_or_else(|| RegistryError::Protocol {
        what: "registered_model.tags is not an array".into(),
    })?;
    let mut history = Vec::new();
    for (idx, tag) in tags.iter().enumerate() {
        let (Some(key), Some(value)) =
            (tag.get("key").and_then(Value::as_str), tag.get("value").and_then(Value::as_str))
        else {
            return Err(RegistryError::Protocol {
                what: format!("registered_model.tags[{idx}] has no `key` and `value` strings"),
            });
        };
        if let Some(number) = key.strip_prefix(HISTORY_TAG_PREFIX) {
            let number = number.parse::<u64>().map_err(|_| RegistryError::Protocol {
                what: format!("registered_model.tags[{idx}]: `{key}` does not end in a number"),
            })?;
            history.push((number, value.to_string()));
        }
    }
    history.sort_by_key(|(number, _)| *number);
    Ok(history)
}

/// A local path from an absolute path or a `file://` URI; `None` for anything else.
fn local_path(uri: &str) -> Option<PathBuf> {
    let path = uri.strip_prefix("file://").unwrap_or(uri);
    Path::new(path).is_absolute().then(|| PathBuf::from(path))
}

/// Percent-encodes a query-string value (everything but RFC 3986's unreserved characters).
fn encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode("name='a b'&x/é"), "name%3D%27a%20b%27%26x%2F%C3%A9");
    }

    #[test]
    fn local_paths_come_from_absolute_paths_and_file_uris() {
        assert_eq!(local_path("/a/b"), Some(PathBuf::from("/a/b")));
        assert_eq!(local_path("file:///a/b"), Some(PathBuf::from("/a/b")));
        assert_eq!(local_path("s3://bucket/key"), None);
        assert_eq!(local_path("relative"), None);
    }
}
