//! The registry's vocabulary: the [`Registry`] trait, what it stores and returns, its errors,
//! and [`rollback`].

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The longest alias MLflow accepts (`MAX_REGISTERED_MODEL_ALIAS_LENGTH`); both backends use it.
pub const MAX_ALIAS_LENGTH: usize = 255;

/// A model registry: named models, numbered versions with a hashed artefact and metadata,
/// aliases (`champion`, `last-good`) that point at versions, and the append-only history of
/// every alias change — what MLflow users ask for and MLflow lacks (mlflow#2169).
///
/// Every method is synchronous and takes `&self`; implementations are safe to share between
/// threads. No input or reply panics: a problem is a [`RegistryError`].
pub trait Registry: Send + Sync {
    /// The backend's name: `"file"` or `"mlflow"`.
    fn backend(&self) -> &'static str;

    /// Creates the model `name` if it does not exist yet; an existing one is left as it is.
    ///
    /// # Errors
    /// [`RegistryError::Invalid`] for an unusable name; transport and storage errors.
    fn ensure_model(&self, name: &str) -> Result<(), RegistryError>;

    /// Stores `artefact` as the next version of `name` (1, 2, 3, …) with its SHA-256 and
    /// `meta`, and returns the new version.
    ///
    /// # Errors
    /// [`RegistryError::NoSuchModel`] when `name` was never created ([`Registry::ensure_model`]);
    /// [`RegistryError::Invalid`] for metadata that cannot be stored (a non-finite number);
    /// transport and storage errors.
    fn register(
        &self,
        name: &str,
        artefact: &[u8],
        meta: &Metadata,
    ) -> Result<Version, RegistryError>;

    /// Version `version` of `name`, with its aliases.
    ///
    /// # Errors
    /// [`RegistryError::NoSuchVersion`] when it does not exist, [`RegistryError::NoSuchModel`]
    /// when the model does not (where the backend tells them apart).
    fn version(&self, name: &str, version: u64) -> Result<Version, RegistryError>;

    /// Every version of `name`, in version order.
    ///
    /// # Errors
    /// [`RegistryError::NoSuchModel`] when the model does not exist (where the backend can
    /// tell); transport and storage errors.
    fn versions(&self, name: &str) -> Result<Vec<Version>, RegistryError>;

    /// The bytes stored for version `version` of `name` as they are now, not verified: a
    /// tampered artefact comes back tampered ([`Registry::verify`] checks).
    ///
    /// # Errors
    /// [`RegistryError::NoSuchVersion`]; [`RegistryError::ArtefactMissing`] when the bytes
    /// are gone; transport and storage errors.
    fn artefact(&self, name: &str, version: u64) -> Result<Vec<u8>, RegistryError>;

    /// Re-hashes the stored artefact of version `version` of `name` against the hash recorded
    /// when it was registered.
    ///
    /// # Errors
    /// [`RegistryError::NoSuchVersion`]; transport and storage errors other than a missing
    /// artefact (that is [`Integrity::Missing`]).
    fn verify(&self, name: &str, version: u64) -> Result<Integrity, RegistryError>;

    /// Points `alias` of `name` at `version` and appends the change to the alias history.
    ///
    /// # Errors
    /// [`RegistryError::NoSuchVersion`] when `version` does not exist (the alias is left as it
    /// was); [`RegistryError::Invalid`] for an alias name MLflow would refuse (see
    /// [`check_alias`]) or a [`Change`] without an actor or with a non-finite time.
    fn set_alias(
        &self,
        name: &str,
        alias: &str,
        version: u64,
        change: &Change,
    ) -> Result<(), RegistryError>;

    /// The version `alias` of `name` points at, `None` when the alias is not set.
    ///
    /// # Errors
    /// [`RegistryError::NoSuchModel`]; transport and storage errors.
    fn alias(&self, name: &str, alias: &str) -> Result<Option<Version>, RegistryError>;

    /// Removes `alias` of `name` and appends the removal to the alias history.
    ///
    /// # Errors
    /// [`RegistryError::NoSuchAlias`] when the alias is not set; as [`Registry::set_alias`].
    fn delete_alias(&self, name: &str, alias: &str, change: &Change) -> Result<(), RegistryError>;

    /// Every alias change of `name`, oldest first. Entries are only ever appended.
    ///
    /// # Errors
    /// [`RegistryError::NoSuchModel`]; [`RegistryError::Corrupt`] or
    /// [`RegistryError::Protocol`] for an entry that cannot be read.
    fn alias_history(&self, name: &str) -> Result<Vec<AliasChange>, RegistryError>;
}

/// What a version records besides its artefact.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metadata {
    /// SHA-256 (hex) of the data the model was trained on.
    pub training_data_sha256: String,
    /// Evaluation metrics (`accuracy`, `ece`, …).
    pub metrics: BTreeMap<String, f64>,
    /// Fairness metrics (`demographic_parity_ratio`, …).
    pub fairness: BTreeMap<String, f64>,
    /// Free-form tags.
    pub tags: BTreeMap<String, String>,
    /// When the version was made, in seconds on the caller's clock.
    pub created_at_s: f64,
}

/// A registered version.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Version {
    /// The model's name.
    pub name: String,
    /// The version number, from 1.
    pub version: u64,
    /// SHA-256 (lowercase hex) of the artefact when it was registered.
    pub sha256: String,
    /// What was registered with it.
    pub metadata: Metadata,
    /// The aliases pointing at it, sorted.
    pub aliases: Vec<String>,
    /// Where the artefact lives (a file path).
    pub source: String,
}

/// Who changes an alias, why and when: what the alias history records.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Who made the change (a person, a team, a service account).
    pub actor: String,
    /// Why (free text: "p99 regression after v3", "red team push").
    pub reason: String,
    /// When, in seconds on the caller's clock (the war game's simulated clock, say).
    pub at_s: f64,
}

/// One entry of the alias history.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AliasChange {
    /// The alias that changed.
    pub alias: String,
    /// The version it pointed at before, `None` when it was not set.
    pub from: Option<u64>,
    /// The version it points at after, `None` when it was deleted.
    pub to: Option<u64>,
    /// Who changed it.
    pub actor: String,
    /// Why.
    pub reason: String,
    /// When, in seconds on the caller's clock.
    pub at_s: f64,
}

/// What re-hashing a stored artefact found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Integrity {
    /// The bytes hash to the registered SHA-256.
    Intact,
    /// The bytes changed since they were registered.
    Tampered {
        /// The registered SHA-256.
        expected: String,
        /// The SHA-256 of the bytes there now.
        actual: String,
    },
    /// The artefact is gone.
    Missing,
}

/// Why a registry call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The model does not exist.
    #[error("no model named `{name}` in the registry")]
    NoSuchModel {
        /// The model.
        name: String,
    },
    /// The version does not exist.
    #[error("model `{name}` has no version {version}")]
    NoSuchVersion {
        /// The model.
        name: String,
        /// The version asked for.
        version: u64,
    },
    /// The alias is not set.
    #[error("model `{name}` has no alias `{alias}`")]
    NoSuchAlias {
        /// The model.
        name: String,
        /// The alias asked for.
        alias: String,
    },
    /// An artefact no longer hashes to its registered SHA-256.
    #[error(
        "version {version} of `{name}` is tampered: its artefact hashes to {actual}, \
         registered as {expected}"
    )]
    Tampered {
        /// The model.
        name: String,
        /// The version.
        version: u64,
        /// The registered SHA-256.
        expected: String,
        /// The SHA-256 of the bytes there now.
        actual: String,
    },
    /// A version's artefact is gone.
    #[error("the artefact of version {version} of `{name}` is missing at {location}")]
    ArtefactMissing {
        /// The model.
        name: String,
        /// The version.
        version: u64,
        /// Where it should be.
        location: String,
    },
    /// An argument the registry cannot take (a name, an alias, a metadata value).
    #[error("invalid {what}")]
    Invalid {
        /// What is wrong, naming the argument.
        what: String,
    },
    /// The registry server cannot be reached (refused, timed out, gone mid-game).
    #[error("registry at {url} unreachable: {reason}")]
    Unreachable {
        /// The server.
        url: String,
        /// What the transport said.
        reason: String,
    },
    /// The server answered something this client does not understand.
    #[error("unexpected reply from the registry: {what}")]
    Protocol {
        /// What was wrong, naming the field.
        what: String,
    },
    /// The server refused a request for a reason without a typed variant.
    #[error("the registry answered status {status} {error_code}: {message}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The server's error code (`PERMISSION_DENIED`, `INTERNAL_ERROR`, …).
        error_code: String,
        /// The server's message.
        message: String,
    },
    /// A file of the registry cannot be read or written.
    #[error("cannot read or write {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file of the registry does not hold what it should.
    #[error("corrupt registry file {path}: {what}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the field or line.
        what: String,
    },
}

impl Change {
    /// A change by `actor` for `reason` at `at_s` seconds.
    ///
    /// # Examples
    /// ```
    /// let change = stressor_registry::Change::new("blue-team", "p99 regression", 120.0);
    /// assert_eq!(change.actor, "blue-team");
    /// ```
    pub fn new(actor: impl Into<String>, reason: impl Into<String>, at_s: f64) -> Change {
        Change { actor: actor.into(), reason: reason.into(), at_s }
    }
}

/// Re-points `alias` of `name` (the serving alias, `champion`) at the version `to_alias`
/// (`last-good`) names, after checking that version exists and its artefact verifies, and
/// records who, why, when and from→to in the alias history: the one-command rollback MLflow
/// users ask for (mlflow#2169, mlflow#6180). Returns the entry it recorded.
///
/// # Examples
/// ```
/// use stressor_registry::{Change, FileRegistry, Metadata, Registry, rollback};
/// let dir = std::env::temp_dir().join(format!("stressor-registry-doc-{}", std::process::id()));
/// let registry = FileRegistry::open(&dir)?;
/// registry.ensure_model("fraud")?;
/// registry.register("fraud", b"weights v1", &Metadata::default())?;
/// registry.register("fraud", b"weights v2", &Metadata::default())?;
/// registry.set_alias("fraud", "last-good", 1, &Change::new("ci", "passed gates", 0.0))?;
/// registry.set_alias("fraud", "champion", 2, &Change::new("ci", "promoted", 1.0))?;
/// let entry = rollback(&registry, "fraud", "champion", "last-good",
///     &Change::new("blue-team", "p99 regression", 60.0))?;
/// assert_eq!((entry.from, entry.to), (Some(2), Some(1)));
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), stressor_registry::RegistryError>(())
/// ```
///
/// # Errors
/// [`RegistryError::NoSuchAlias`] when `to_alias` is not set; [`RegistryError::Tampered`] or
/// [`RegistryError::ArtefactMissing`] when its version's artefact fails verification (nothing
/// is changed); otherwise as [`Registry::set_alias`].
pub fn rollback(
    registry: &dyn Registry,
    name: &str,
    alias: &str,
    to_alias: &str,
    change: &Change,
) -> Result<AliasChange, RegistryError> {
    check_alias(alias)?;
    check_alias(to_alias)?;
    check_change(change)?;
    let target = registry
        .alias(name, to_alias)?
        .ok_or_else(|| RegistryError::NoSuchAlias { name: name.into(), alias: to_alias.into() })?;
    // The version lookup again, so a target removed since the alias was read is refused too.
    let target = registry.version(name, target.version)?;
    match registry.verify(name, target.version)? {
        Integrity::Intact => {}
        Integrity::Tampered { expected, actual } => {
            return Err(RegistryError::Tampered {
                name: name.into(),
                version: target.version,
                expected,
                actual,
            });
        }
        Integrity::Missing => {
            return Err(RegistryError::ArtefactMissing {
                name: name.into(),
                version: target.version,
                location: target.source,
            });
        }
    }
    let from = registry.alias(name, alias)?.map(|current| current.version);
    registry.set_alias(name, alias, target.version, change)?;
    Ok(AliasChange {
        alias: alias.into(),
        from,
        to: Some(target.version),
        actor: change.actor.clone(),
        reason: change.reason.clone(),
        at_s: change.at_s,
    })
}

/// Checks an alias as MLflow does: 1 to [`MAX_ALIAS_LENGTH`] ASCII letters, digits, `_` and
/// `-`, and neither `latest` (any case) nor `v<digits>`, which MLflow reserves. Both backends
/// apply it, so a war game behaves the same on either.
///
/// # Examples
/// ```
/// assert!(stressor_registry::check_alias("last-good").is_ok());
/// assert!(stressor_registry::check_alias("v2").is_err());
/// ```
///
/// # Errors
/// [`RegistryError::Invalid`] naming the rule broken.
pub fn check_alias(alias: &str) -> Result<(), RegistryError> {
    let invalid =
        |why: &str| Err(RegistryError::Invalid { what: format!("alias `{alias}`: {why}") });
    if alias.is_empty() || alias.len() > MAX_ALIAS_LENGTH {
        return invalid("an alias has 1 to 255 characters");
    }
    if !alias.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return invalid("an alias may only hold ASCII letters, digits, `_` and `-`");
    }
    let reserved_version = alias.len() > 1
        && (alias.starts_with('v') || alias.starts_with('V'))
        && alias[1..].bytes().all(|b| b.is_ascii_digit());
    if alias.eq_ignore_ascii_case("latest") || reserved_version {
        return invalid("MLflow reserves `latest` and `v<number>`");
    }
    Ok(())
}

/// Lowercase hex SHA-256 of `bytes`.
///
/// # Examples
/// ```
/// assert_eq!(
///     stressor_registry::sha256_hex(b""),
///     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/// );
/// ```
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a model name: non-empty, at most 256 bytes, no control characters.
pub(crate) fn check_name(name: &str) -> Result<(), RegistryError> {
    if name.is_empty() || name.len() > 256 || name.chars().any(char::is_control) {
        return Err(RegistryError::Invalid {
            what: format!(
                "model name {name:?}: a name has 1 to 256 bytes and no control characters"
            ),
        });
    }
    Ok(())
}

/// Checks a change: an actor, and a finite time (JSON has no NaN).
pub(crate) fn check_change(change: &Change) -> Result<(), RegistryError> {
    if change.actor.trim().is_empty() {
        return Err(RegistryError::Invalid { what: "change: the actor is empty".into() });
    }
    if !change.at_s.is_finite() {
        return Err(RegistryError::Invalid {
            what: format!("change: at_s is {}, not a finite time", change.at_s),
        });
    }
    Ok(())
}

/// Checks that metadata can be stored as JSON: finite numbers only.
pub(crate) fn check_metadata(meta: &Metadata) -> Result<(), RegistryError> {
    let bad = meta
        .metrics
        .iter()
        .map(|(key, value)| ("metrics", key, *value))
        .chain(meta.fairness.iter().map(|(key, value)| ("fairness", key, *value)))
        .find(|(_, _, value)| !value.is_finite());
    if let Some((map, key, value)) = bad {
        return Err(RegistryError::Invalid {
            what: format!("metadata: {map}.{key} is {value}, not a finite number"),
        });
    }
    if !meta.created_at_s.is_finite() {
        return Err(RegistryError::Invalid {
            what: format!("metadata: created_at_s is {}, not a finite time", meta.created_at_s),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_follow_mlflows_rules() {
        for good in ["champion", "last-good", "last_good", "v", "v1a", "V-2", "challenger2"] {
            assert!(check_alias(good).is_ok(), "{good}");
        }
        for bad in ["", "latest", "LATEST", "v3", "V12", "bad alias", "é", "a/b", &"a".repeat(256)]
        {
            assert!(matches!(check_alias(bad), Err(RegistryError::Invalid { .. })), "{bad}");
        }
    }

    #[test]
    fn sha256_matches_a_known_digest() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
