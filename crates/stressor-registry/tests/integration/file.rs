use std::collections::BTreeMap;

use stressor_registry::{
    Change, FileRegistry, Integrity, Metadata, Registry, RegistryError, rollback, sha256_hex,
};

use crate::scratch;

fn meta(accuracy: f64) -> Metadata {
    Metadata {
        training_data_sha256: sha256_hex(b"train"),
        metrics: BTreeMap::from([("accuracy".into(), accuracy)]),
        fairness: BTreeMap::from([("dp_ratio".into(), 0.8)]),
        tags: BTreeMap::from([("team".into(), "blue".into())]),
        created_at_s: 5.0,
    }
}

fn change(actor: &str, at_s: f64) -> Change {
    Change::new(actor, format!("{actor} at {at_s}"), at_s)
}

/// A registry with model `m`: v1 and v2, `last-good` → 1, `champion` → 2.
fn game() -> (FileRegistry, std::path::PathBuf) {
    let dir = scratch("file");
    let registry = FileRegistry::open(&dir).unwrap();
    registry.ensure_model("m").unwrap();
    registry.register("m", b"weights v1", &meta(0.9)).unwrap();
    registry.register("m", b"weights v2", &meta(0.95)).unwrap();
    registry.set_alias("m", "last-good", 1, &change("ci", 1.0)).unwrap();
    registry.set_alias("m", "champion", 2, &change("ci", 2.0)).unwrap();
    (registry, dir)
}

#[test]
fn versions_are_numbered_from_one_with_their_hash_metadata_and_bytes() {
    let (registry, _dir) = game();
    assert_eq!(registry.backend(), "file");
    let versions = registry.versions("m").unwrap();
    assert_eq!(versions.iter().map(|v| v.version).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(versions[0].sha256, sha256_hex(b"weights v1"));
    assert_eq!(versions[1].metadata, meta(0.95));
    assert_eq!(versions[0].aliases, ["last-good"]);
    assert_eq!(versions[1].aliases, ["champion"]);
    assert_eq!(registry.artefact("m", 2).unwrap(), b"weights v2");
    assert_eq!(std::fs::read(&versions[0].source).unwrap(), b"weights v1");
    assert!(matches!(
        registry.version("m", 3),
        Err(RegistryError::NoSuchVersion { version: 3, .. })
    ));
    assert!(matches!(registry.versions("other"), Err(RegistryError::NoSuchModel { .. })));
    assert!(matches!(
        registry.register("other", b"x", &meta(0.1)),
        Err(RegistryError::NoSuchModel { .. })
    ));
    // ensure_model leaves an existing model as it is.
    registry.ensure_model("m").unwrap();
    assert_eq!(registry.versions("m").unwrap().len(), 2);
}

#[test]
fn aliases_move_and_every_change_is_appended_to_the_history() {
    let (registry, _dir) = game();
    assert_eq!(registry.alias("m", "champion").unwrap().map(|v| v.version), Some(2));
    assert_eq!(registry.alias("m", "challenger").unwrap(), None);
    // A version that does not exist is refused and changes nothing.
    assert!(matches!(
        registry.set_alias("m", "champion", 9, &change("red", 3.0)),
        Err(RegistryError::NoSuchVersion { version: 9, .. })
    ));
    registry.set_alias("m", "champion", 1, &change("blue", 4.0)).unwrap();
    registry.delete_alias("m", "last-good", &change("blue", 5.0)).unwrap();
    assert!(matches!(
        registry.delete_alias("m", "last-good", &change("blue", 6.0)),
        Err(RegistryError::NoSuchAlias { .. })
    ));
    let history = registry.alias_history("m").unwrap();
    let moves: Vec<_> = history
        .iter()
        .map(|c| (c.alias.as_str(), c.from, c.to, c.actor.as_str(), c.at_s))
        .collect();
    assert_eq!(
        moves,
        [
            ("last-good", None, Some(1), "ci", 1.0),
            ("champion", None, Some(2), "ci", 2.0),
            ("champion", Some(2), Some(1), "blue", 4.0),
            ("last-good", Some(1), None, "blue", 5.0),
        ]
    );
    assert_eq!(history[2].reason, "blue at 4");
    assert_eq!(registry.version("m", 1).unwrap().aliases, ["champion"]);
}

#[test]
fn bad_arguments_are_refused_before_anything_is_written() {
    let (registry, dir) = game();
    for alias in ["latest", "v2", "has space", ""] {
        assert!(matches!(
            registry.set_alias("m", alias, 1, &change("ci", 1.0)),
            Err(RegistryError::Invalid { .. })
        ));
    }
    assert!(matches!(
        registry.set_alias("m", "champion", 1, &Change::new("", "no actor", 1.0)),
        Err(RegistryError::Invalid { .. })
    ));
    assert!(matches!(
        registry.set_alias("m", "champion", 1, &Change::new("x", "", f64::NAN)),
        Err(RegistryError::Invalid { .. })
    ));
    assert!(matches!(
        registry.register("m", b"x", &meta(f64::INFINITY)),
        Err(RegistryError::Invalid { .. })
    ));
    assert!(matches!(registry.ensure_model(""), Err(RegistryError::Invalid { .. })));
    assert_eq!(registry.alias_history("m").unwrap().len(), 2);
    // Names are encoded, so no name reaches outside the registry's directory.
    registry.ensure_model("../../escape").unwrap();
    registry.ensure_model("team/model v2").unwrap();
    registry.register("../../escape", b"e", &meta(0.1)).unwrap();
    assert!(!dir.parent().unwrap().join("escape").exists());
    assert_eq!(registry.versions("../../escape").unwrap()[0].version, 1);
    assert!(matches!(registry.versions("team/model"), Err(RegistryError::NoSuchModel { .. })));
}

#[test]
fn tampering_with_a_stored_artefact_is_caught_and_a_rollback_to_it_refused() {
    let (registry, _dir) = game();
    assert_eq!(registry.verify("m", 1).unwrap(), Integrity::Intact);
    // The red team overwrites v1's stored bytes in place.
    let path = registry.artefact_path("m", 1).unwrap();
    std::fs::write(&path, b"backdoored").unwrap();
    assert_eq!(
        registry.verify("m", 1).unwrap(),
        Integrity::Tampered {
            expected: sha256_hex(b"weights v1"),
            actual: sha256_hex(b"backdoored")
        }
    );
    assert_eq!(registry.artefact("m", 1).unwrap(), b"backdoored");
    let refused = rollback(&registry, "m", "champion", "last-good", &change("blue", 9.0));
    assert!(matches!(refused, Err(RegistryError::Tampered { version: 1, .. })), "{refused:?}");
    assert_eq!(registry.alias("m", "champion").unwrap().map(|v| v.version), Some(2));
    // Re-registering the true bytes restores the shared blob.
    let v3 = registry.register("m", b"weights v1", &meta(0.9)).unwrap();
    assert_eq!(v3.version, 3);
    assert_eq!(registry.verify("m", 1).unwrap(), Integrity::Intact);
    // A deleted artefact is missing, and a rollback to it refused.
    std::fs::remove_file(&path).unwrap();
    assert_eq!(registry.verify("m", 1).unwrap(), Integrity::Missing);
    assert!(matches!(registry.artefact("m", 1), Err(RegistryError::ArtefactMissing { .. })));
    assert!(matches!(
        rollback(&registry, "m", "champion", "last-good", &change("blue", 10.0)),
        Err(RegistryError::ArtefactMissing { version: 1, .. })
    ));
    assert_eq!(registry.alias_history("m").unwrap().len(), 2);
}

#[test]
fn rollback_moves_the_alias_to_a_verified_target_and_records_why() {
    let (registry, _dir) = game();
    let entry =
        rollback(&registry, "m", "champion", "last-good", &Change::new("blue", "p99", 60.0))
            .unwrap();
    assert_eq!((entry.from, entry.to, entry.actor.as_str()), (Some(2), Some(1), "blue"));
    assert_eq!(registry.alias("m", "champion").unwrap().map(|v| v.version), Some(1));
    assert_eq!(registry.alias_history("m").unwrap().last(), Some(&entry));
    assert!(matches!(
        rollback(&registry, "m", "champion", "ghost", &change("blue", 61.0)),
        Err(RegistryError::NoSuchAlias { .. })
    ));
}

#[test]
fn a_corrupt_index_or_history_is_an_error_naming_the_file() {
    let (registry, dir) = game();
    let index = dir.join("models/m/index.json");
    std::fs::write(&index, "{ not json").unwrap();
    let error = registry.versions("m").unwrap_err();
    assert!(matches!(error, RegistryError::Corrupt { .. }));
    assert!(error.to_string().contains(&index.display().to_string()), "{error}");
    std::fs::write(&index, r#"{"format": 1, "name": "m", "versions": [{"version": 1}]}"#).unwrap();
    let error = registry.version("m", 1).unwrap_err().to_string();
    assert!(error.contains("versions[0].sha256"), "{error}");

    let (registry, dir) = game();
    let history = dir.join("models/m/alias_history.ndjson");
    let mut text = std::fs::read_to_string(&history).unwrap();
    text.push_str("{\"alias\": \"champion\", \"to\": \"two\"}\n");
    std::fs::write(&history, text).unwrap();
    let error = registry.alias("m", "champion").unwrap_err().to_string();
    assert!(error.contains(&history.display().to_string()) && error.contains("line 3"), "{error}");
}

#[test]
fn threads_registering_and_moving_aliases_at_once_lose_nothing() {
    let dir = scratch("threads");
    let registry = FileRegistry::open(&dir).unwrap();
    registry.ensure_model("m").unwrap();
    std::thread::scope(|scope| {
        for thread in 0..6 {
            let registry = &registry;
            scope.spawn(move || {
                for step in 0..5 {
                    let bytes = format!("thread {thread} step {step}");
                    let version = registry.register("m", bytes.as_bytes(), &meta(0.5)).unwrap();
                    let change = Change::new(format!("t{thread}"), "move", f64::from(step));
                    registry.set_alias("m", "champion", version.version, &change).unwrap();
                    assert!(registry.alias("m", "champion").unwrap().is_some());
                }
            });
        }
    });
    let versions = registry.versions("m").unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        (1..=30).collect::<Vec<_>>()
    );
    assert!(versions.iter().all(|v| registry.verify("m", v.version).unwrap() == Integrity::Intact));
    let history = registry.alias_history("m").unwrap();
    assert_eq!(history.len(), 30);
    // Each change starts where the previous one ended: none was lost or interleaved.
    for pair in history.windows(2) {
        assert_eq!(pair[1].from, pair[0].to);
    }
}
