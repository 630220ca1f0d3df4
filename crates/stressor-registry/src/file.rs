//! [`FileRegistry`]: the registry in a directory.
//!
//! ```text
//! <root>/artefacts/<sha256>                  the bytes, stored by content hash
//! <root>/models/<name>/index.json            the versions (written to a temporary file, then renamed)
//! <root>/models/<name>/alias_history.ndjson  the alias changes, one JSON object a line, append-only
//! <root>/models/<name>/lock                  the lock every call takes (shared to read, exclusive to write)
//! ```
//!
//! Aliases are not stored anywhere else: an alias is where the last change in the history put
//! it, so the history and the aliases cannot disagree. `<name>` is the model's name with every
//! byte outside `[A-Za-z0-9_-]` written `%XX`, so no name reaches outside `models/`.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::record::{change_from_json, change_to_json, metadata_from_json, metadata_to_json};
use crate::registry::{check_change, check_metadata, check_name};
use crate::{
    AliasChange, Change, Integrity, Metadata, Registry, RegistryError, Version, check_alias,
    sha256_hex,
};

/// The index format this code writes and reads.
const INDEX_FORMAT: u64 = 1;

/// A registry in a directory: artefacts by content hash, a JSON index per model replaced
/// atomically, the alias history as an append-only NDJSON audit log. Safe to use from many
/// threads and processes at once (each call holds an advisory file lock on the model).
///
/// # Examples
/// ```
/// use stressor_registry::{FileRegistry, Integrity, Metadata, Registry};
/// let dir = std::env::temp_dir().join(format!("stressor-file-doc-{}", std::process::id()));
/// let registry = FileRegistry::open(&dir)?;
/// registry.ensure_model("fraud")?;
/// let v1 = registry.register("fraud", b"weights", &Metadata::default())?;
/// // A supply-chain attacker overwrites the stored bytes in place.
/// std::fs::write(registry.artefact_path("fraud", v1.version)?, b"backdoored").unwrap();
/// assert!(matches!(registry.verify("fraud", 1)?, Integrity::Tampered { .. }));
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), stressor_registry::RegistryError>(())
/// ```
#[derive(Debug, Clone)]
pub struct FileRegistry {
    root: PathBuf,
}

/// One version as the index stores it.
#[derive(Debug, Clone)]
struct Entry {
    version: u64,
    sha256: String,
    metadata: Metadata,
}

/// A held lock on a model; released when dropped (the file is closed).
struct Held {
    _file: File,
}

impl FileRegistry {
    /// Opens the registry in `root`, creating the directory and its layout if needed.
    ///
    /// # Errors
    /// [`RegistryError::Io`] when the directories cannot be created.
    pub fn open(root: impl AsRef<Path>) -> Result<FileRegistry, RegistryError> {
        let root = root.as_ref().to_path_buf();
        for dir in [root.join("artefacts"), root.join("models")] {
            std::fs::create_dir_all(&dir)
                .map_err(|source| RegistryError::Io { path: dir, source })?;
        }
        Ok(FileRegistry { root })
    }

    /// The registry's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file holding the artefact of version `version` of `name`: what a supply-chain
    /// attacker with write access to the store would overwrite (the red team's move), and
    /// what [`Registry::verify`] re-hashes. Artefacts are stored by content hash, so versions
    /// registered with the same bytes share the file.
    ///
    /// # Errors
    /// [`RegistryError::NoSuchModel`], [`RegistryError::NoSuchVersion`].
    pub fn artefact_path(&self, name: &str, version: u64) -> Result<PathBuf, RegistryError> {
        let entry = self.entry(name, version)?;
        Ok(self.blob_path(&entry.sha256))
    }

    fn model_dir(&self, name: &str) -> Result<PathBuf, RegistryError> {
        check_name(name)?;
        let mut encoded = String::with_capacity(name.len());
        for byte in name.bytes() {
            if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' {
                encoded.push(char::from(byte));
            } else {
                encoded.push_str(&format!("%{byte:02X}"));
            }
        }
        if encoded.len() > 255 {
            return Err(RegistryError::Invalid {
                what: format!("model name {name:?}: too long for a file name once encoded"),
            });
        }
        Ok(self.root.join("models").join(encoded))
    }

    fn blob_path(&self, sha256: &str) -> PathBuf {
        self.root.join("artefacts").join(sha256)
    }

    /// Locks the model `name` (which must exist), shared or exclusive.
    fn lock(&self, name: &str, exclusive: bool) -> Result<(PathBuf, Held), RegistryError> {
        let dir = self.model_dir(name)?;
        if !dir.join("index.json").is_file() {
            return Err(RegistryError::NoSuchModel { name: name.into() });
        }
        let held = lock_file(&dir.join("lock"), exclusive)?;
        Ok((dir, held))
    }

    fn entry(&self, name: &str, version: u64) -> Result<Entry, RegistryError> {
        let (dir, _held) = self.lock(name, false)?;
        find(read_index(&dir, name)?, name, version)
    }

    fn to_version(&self, name: &str, entry: Entry, aliases: &BTreeMap<String, u64>) -> Version {
        Version {
            name: name.into(),
            version: entry.version,
            source: self.blob_path(&entry.sha256).display().to_string(),
            sha256: entry.sha256,
            metadata: entry.metadata,
            aliases: aliases
                .iter()
                .filter(|(_, version)| **version == entry.version)
                .map(|(alias, _)| alias.clone())
                .collect(),
        }
    }

    /// Writes `artefact` under its hash unless an intact copy is there already (a tampered
    /// copy is replaced: the registered hash says what the bytes must be).
    fn store_blob(&self, sha256: &str, artefact: &[u8]) -> Result<(), RegistryError> {
        let path = self.blob_path(sha256);
        if let Ok(existing) = std::fs::read(&path)
            && sha256_hex(&existing) == sha256
        {
            return Ok(());
        }
        let temporary = self.root.join("artefacts").join(format!(
            ".{sha256}.{}.{:?}.tmp",
            std::process::id(),
            std::thread::current().id()
        ));
        write_atomically(&temporary, &path, artefact)
    }

    fn append_change(&self, dir: &Path, change: &AliasChange) -> Result<(), RegistryError> {
        let path = dir.join("alias_history.ndjson");
        let mut line = change_to_json(change).to_string();
        line.push('\n');
        let io = |source| RegistryError::Io { path: path.clone(), source };
        let mut file = OpenOptions::new().create(true).append(true).open(&path).map_err(io)?;
        // One write of the whole line: the log only grows by whole entries.
        file.write_all(line.as_bytes()).map_err(io)?;
        file.sync_data().map_err(io)
    }
}

impl Registry for FileRegistry {
    fn backend(&self) -> &'static str {
        "file"
    }

    fn ensure_model(&self, name: &str) -> Result<(), RegistryError> {
        let dir = self.model_dir(name)?;
        std::fs::create_dir_all(&dir)
            .map_err(|source| RegistryError::Io { path: dir.clone(), source })?;
        let _held = lock_file(&dir.join("lock"), true)?;
        if dir.join("index.json").is_file() {
            // An existing model stays as it is, but a corrupt index is reported now.
            read_index(&dir, name)?;
            return Ok(());
        }
        write_index(&dir, name, &[])
    }

    fn register(
        &self,
        name: &str,
        artefact: &[u8],
        meta: &Metadata,
    ) -> Result<Version, RegistryError> {
        check_metadata(meta)?;
        let sha256 = sha256_hex(artefact);
        let (dir, _held) = self.lock(name, true)?;
        let mut entries = read_index(&dir, name)?;
        self.store_blob(&sha256, artefact)?;
        let version = entries.last().map_or(1, |last| last.version + 1);
        let entry = Entry { version, sha256, metadata: meta.clone() };
        entries.push(entry.clone());
        write_index(&dir, name, &entries)?;
        Ok(self.to_version(name, entry, &BTreeMap::new()))
    }

    fn version(&self, name: &str, version: u64) -> Result<Version, RegistryError> {
        let (dir, _held) = self.lock(name, false)?;
        let entry = find(read_index(&dir, name)?, name, version)?;
        let aliases = current_aliases(&read_history(&dir)?);
        Ok(self.to_version(name, entry, &aliases))
    }

    fn versions(&self, name: &str) -> Result<Vec<Version>, RegistryError> {
        let (dir, _held) = self.lock(name, false)?;
        let entries = read_index(&dir, name)?;
        let aliases = current_aliases(&read_history(&dir)?);
        Ok(entries.into_iter().map(|entry| self.to_version(name, entry, &aliases)).collect())
    }

    fn artefact(&self, name: &str, version: u64) -> Result<Vec<u8>, RegistryError> {
        let path = self.artefact_path(name, version)?;
        std::fs::read(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => RegistryError::ArtefactMissing {
                name: name.into(),
                version,
                location: path.display().to_string(),
            },
            _ => RegistryError::Io { path, source },
        })
    }

    fn verify(&self, name: &str, version: u64) -> Result<Integrity, RegistryError> {
        let entry = self.entry(name, version)?;
        let path = self.blob_path(&entry.sha256);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Integrity::Missing);
            }
            Err(source) => return Err(RegistryError::Io { path, source }),
        };
        let actual = sha256_hex(&bytes);
        Ok(if actual == entry.sha256 {
            Integrity::Intact
        } else {
            Integrity::Tampered { expected: entry.sha256, actual }
        })
    }

    fn set_alias(
        &self,
        name: &str,
        alias: &str,
        version: u64,
        change: &Change,
    ) -> Result<(), RegistryError> {
        check_alias(alias)?;
        check_change(change)?;
        let (dir, _held) = self.lock(name, true)?;
        find(read_index(&dir, name)?, name, version)?;
        let from = current_aliases(&read_history(&dir)?).get(alias).copied();
        self.append_change(&dir, &entry_for(alias, from, Some(version), change))
    }

    fn alias(&self, name: &str, alias: &str) -> Result<Option<Version>, RegistryError> {
        check_alias(alias)?;
        let (dir, _held) = self.lock(name, false)?;
        let aliases = current_aliases(&read_history(&dir)?);
        let Some(version) = aliases.get(alias).copied() else { return Ok(None) };
        let entry =
            find(read_index(&dir, name)?, name, version).map_err(|_| RegistryError::Corrupt {
                path: dir.join("alias_history.ndjson"),
                what: format!(
                    "alias `{alias}` points at version {version}, which is not in the index"
                ),
            })?;
        Ok(Some(self.to_version(name, entry, &aliases)))
    }

    fn delete_alias(&self, name: &str, alias: &str, change: &Change) -> Result<(), RegistryError> {
        check_alias(alias)?;
        check_change(change)?;
        let (dir, _held) = self.lock(name, true)?;
        let Some(from) = current_aliases(&read_history(&dir)?).get(alias).copied() else {
            return Err(RegistryError::NoSuchAlias { name: name.into(), alias: alias.into() });
        };
        self.append_change(&dir, &entry_for(alias, Some(from), None, change))
    }

    fn alias_history(&self, name: &str) -> Result<Vec<AliasChange>, RegistryError> {
        let (dir, _held) = self.lock(name, false)?;
        read_history(&dir)
    }
}

fn entry_for(alias: &str, from: Option<u64>, to: Option<u64>, change: &Change) -> AliasChange {
    AliasChange {
        alias: alias.into(),
        from,
        to,
        actor: change.actor.clone(),
        reason: change.reason.clone(),
        at_s: change.at_s,
    }
}

fn find(entries: Vec<Entry>, name: &str, version: u64) -> Result<Entry, RegistryError> {
    entries
        .into_iter()
        .find(|entry| entry.version == version)
        .ok_or_else(|| RegistryError::NoSuchVersion { name: name.into(), version })
}

fn lock_file(path: &Path, exclusive: bool) -> Result<Held, RegistryError> {
    let io = |source| RegistryError::Io { path: path.to_path_buf(), source };
    let file =
        OpenOptions::new().create(true).truncate(false).write(true).open(path).map_err(io)?;
    if exclusive { file.lock() } else { file.lock_shared() }.map_err(io)?;
    Ok(Held { _file: file })
}

/// Writes `bytes` to `temporary`, flushes it to disk and renames it over `path`, so a reader
/// sees the old file or the new one, never half of one.
fn write_atomically(temporary: &Path, path: &Path, bytes: &[u8]) -> Result<(), RegistryError> {
    let io = |source| RegistryError::Io { path: temporary.to_path_buf(), source };
    let mut file = File::create(temporary).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(temporary, path)
        .map_err(|source| RegistryError::Io { path: path.to_path_buf(), source })
}

fn write_index(dir: &Path, name: &str, entries: &[Entry]) -> Result<(), RegistryError> {
    let versions: Vec<Value> = entries
        .iter()
        .map(|entry| {
            json!({
                "version": entry.version,
                "sha256": entry.sha256,
                "metadata": metadata_to_json(&entry.metadata),
            })
        })
        .collect();
    let index = json!({"format": INDEX_FORMAT, "name": name, "versions": versions});
    let mut text =
        serde_json::to_string_pretty(&index).map_err(|error| RegistryError::Corrupt {
            path: dir.join("index.json"),
            what: format!("cannot encode the index: {error}"),
        })?;
    text.push('\n');
    // The model's lock is held exclusively, so one temporary name suffices.
    write_atomically(&dir.join("index.json.tmp"), &dir.join("index.json"), text.as_bytes())
}

fn read_index(dir: &Path, name: &str) -> Result<Vec<Entry>, RegistryError> {
    let path = dir.join("index.json");
    let mut text = String::new();
    File::open(&path).and_then(|mut file| file.read_to_string(&mut text)).map_err(|source| {
        match source.kind() {
            std::io::ErrorKind::NotFound => RegistryError::NoSuchModel { name: name.into() },
            _ => RegistryError::Io { path: path.clone(), source },
        }
    })?;
    let corrupt = |what: String| RegistryError::Corrupt { path: path.clone(), what };
    let index: Value =
        serde_json::from_str(&text).map_err(|error| corrupt(format!("not JSON: {error}")))?;
    if index.get("format").and_then(Value::as_u64) != Some(INDEX_FORMAT) {
        return Err(corrupt(format!("`format` is not {INDEX_FORMAT}")));
    }
    if index.get("name").and_then(Value::as_str) != Some(name) {
        return Err(corrupt(format!("`name` is not {name:?}")));
    }
    let versions = index
        .get("versions")
        .and_then(Value::as_array)
        .ok_or_else(|| corrupt("`versions` is not an array".into()))?;
    let mut entries = Vec::with_capacity(versions.len());
    for (idx, version) in versions.iter().enumerate() {
        let at = format!("versions[{idx}]");
        let number = version
            .get("version")
            .and_then(Value::as_u64)
            .filter(|number| *number == idx as u64 + 1)
            .ok_or_else(|| corrupt(format!("{at}.version is not {}", idx + 1)))?;
        let sha256 = version
            .get("sha256")
            .and_then(Value::as_str)
            .filter(|hash| hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| corrupt(format!("{at}.sha256 is not a SHA-256 in hex")))?;
        let metadata = version
            .get("metadata")
            .ok_or_else(|| corrupt(format!("{at}.metadata is missing")))
            .and_then(|meta| {
                metadata_from_json(meta, &format!("{at}.metadata")).map_err(corrupt)
            })?;
        entries.push(Entry { version: number, sha256: sha256.to_ascii_lowercase(), metadata });
    }
    Ok(entries)
}

fn read_history(dir: &Path) -> Result<Vec<AliasChange>, RegistryError> {
    let path = dir.join("alias_history.ndjson");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(RegistryError::Io { path, source }),
    };
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(idx, line)| {
            let at = format!("line {}", idx + 1);
            serde_json::from_str::<Value>(line)
                .map_err(|error| format!("{at} is not JSON: {error}"))
                .and_then(|value| change_from_json(&value, &at))
                .map_err(|what| RegistryError::Corrupt { path: path.clone(), what })
        })
        .collect()
}

/// Where each alias points after every change in `history`.
fn current_aliases(history: &[AliasChange]) -> BTreeMap<String, u64> {
    let mut aliases = BTreeMap::new();
    for change in history {
        match change.to {
            Some(version) => aliases.insert(change.alias.clone(), version),
            None => aliases.remove(&change.alias),
        };
    }
    aliases
}
