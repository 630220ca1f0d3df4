//! The model registry of the war game: a blue team rolls the serving alias back to
//! `last-good`, a red team pushes a tampered artefact, an integrity monitor re-hashes
//! artefacts.
//!
//! [`Registry`] is the seam (synchronous, like the war-game engine): named models, numbered
//! versions whose artefact is stored with its SHA-256 and [`Metadata`], aliases that point at
//! versions, and an append-only alias history ([`AliasChange`]: alias, from, to, actor, reason,
//! time on the caller's clock). [`rollback`] moves a serving alias to the version another alias
//! names after verifying that version's artefact, and records why. Two backends:
//!
//! - [`FileRegistry`]: a directory (artefacts by content hash, a JSON index per model replaced
//!   atomically, the alias history as an NDJSON audit log); [`FileRegistry::artefact_path`] is
//!   where a supply-chain attacker would write.
//! - [`MlflowRegistry`]: MLflow's Model Registry over its REST API; hashes and metadata in
//!   model-version tags, the alias history (which MLflow lacks) in registered-model tags.
//!
//! Non-goals: serving models, garbage-collecting artefacts, access control.
//!
//! # Examples
//! ```
//! use stressor_registry::{Change, FileRegistry, Integrity, Metadata, Registry, rollback};
//! let dir = std::env::temp_dir().join(format!("stressor-registry-lib-{}", std::process::id()));
//! let registry = FileRegistry::open(&dir)?;
//! registry.ensure_model("fraud")?;
//! registry.register("fraud", b"v1", &Metadata::default())?;
//! registry.register("fraud", b"v2", &Metadata::default())?;
//! registry.set_alias("fraud", "last-good", 1, &Change::new("ci", "gates held", 0.0))?;
//! registry.set_alias("fraud", "champion", 2, &Change::new("ci", "promoted", 1.0))?;
//! rollback(&registry, "fraud", "champion", "last-good", &Change::new("blue", "drift", 9.0))?;
//! assert_eq!(registry.alias("fraud", "champion")?.map(|v| v.version), Some(1));
//! assert_eq!(registry.alias_history("fraud")?.len(), 3);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), stressor_registry::RegistryError>(())
//! ```

#![warn(missing_docs)]

mod file;
mod mlflow;
mod record;
mod registry;

pub use file::FileRegistry;
pub use mlflow::{HISTORY_TAG_PREFIX, METADATA_TAG, MlflowConfig, MlflowRegistry, SHA256_TAG};
pub use registry::{
    AliasChange, Change, Integrity, MAX_ALIAS_LENGTH, Metadata, Registry, RegistryError, Version,
    check_alias, rollback, sha256_hex,
};
