//! The war game's rollback against a real MLflow server (`bench/mlflow-registry-compat`):
//! registers two versions, points `champion` at v2 and `last-good` at v1, rolls `champion`
//! back, shows the refusals (a version that does not exist, an unset alias, a tampered
//! target) and prints the alias history read back from MLflow's tags.
//!
//! ```text
//! cargo run -p stressor-registry --example mlflow_rollback -- --url http://127.0.0.1:5000 \
//!     --artefacts /tmp/artefacts [--model war-game] [--unreachable]
//! ```
//!
//! With `--unreachable` it only reads `champion` and prints the error (run it after stopping
//! the server).
#![expect(clippy::print_stdout, reason = "an example reports on stdout")]

use std::collections::BTreeMap;

use stressor_registry::{
    Change, Metadata, MlflowConfig, MlflowRegistry, Registry, RegistryError, rollback,
};

fn main() -> Result<(), RegistryError> {
    let mut url = None;
    let mut artefacts = None;
    let mut model = "war-game".to_string();
    let mut unreachable = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--url" => url = args.next(),
            "--artefacts" => artefacts = args.next(),
            "--model" => model = args.next().unwrap_or(model),
            "--unreachable" => unreachable = true,
            other => return Err(RegistryError::Invalid { what: format!("argument `{other}`") }),
        }
    }
    let (Some(url), Some(artefacts)) = (url, artefacts) else {
        return Err(RegistryError::Invalid { what: "usage: --url URL --artefacts DIR".into() });
    };
    let registry = MlflowRegistry::connect(MlflowConfig::new(url, artefacts))?;
    if unreachable {
        match registry.alias(&model, "champion") {
            Err(error @ RegistryError::Unreachable { .. }) => println!("server gone: {error}"),
            other => println!("UNEXPECTED: {other:?}"),
        }
        return Ok(());
    }

    registry.ensure_model(&model)?;
    let meta = |accuracy: f64, at_s: f64| Metadata {
        training_data_sha256: stressor_registry::sha256_hex(b"training data"),
        metrics: BTreeMap::from([("accuracy".to_string(), accuracy)]),
        fairness: BTreeMap::from([("demographic_parity_ratio".to_string(), 0.86)]),
        tags: BTreeMap::from([("team".to_string(), "blue".to_string())]),
        created_at_s: at_s,
    };
    let v1 = registry.register(&model, b"model weights v1", &meta(0.91, 0.0))?;
    let v2 = registry.register(&model, b"model weights v2", &meta(0.93, 10.0))?;
    println!("registered v{} sha256={} source={}", v1.version, v1.sha256, v1.source);
    println!("registered v{} sha256={} source={}", v2.version, v2.sha256, v2.source);
    registry.set_alias(&model, "last-good", v1.version, &Change::new("ci", "gates held", 20.0))?;
    registry.set_alias(&model, "champion", v2.version, &Change::new("ci", "promoted", 30.0))?;
    println!("champion -> v{}", version_of(&registry, &model, "champion")?);

    let change = Change::new("blue-team", "p99 regression after v2", 60.0);
    let entry = rollback(&registry, &model, "champion", "last-good", &change)?;
    println!(
        "rollback: champion v{} -> v{} by {} ({})",
        entry.from.unwrap_or(0),
        entry.to.unwrap_or(0),
        entry.actor,
        entry.reason
    );
    println!("champion -> v{}", version_of(&registry, &model, "champion")?);

    let refused = registry.set_alias(&model, "champion", 99, &change);
    println!("set champion to v99: {}", outcome(refused));
    let refused = rollback(&registry, &model, "champion", "ghost", &change);
    println!("rollback to unset alias `ghost`: {}", outcome(refused.map(drop)));
    // The red team overwrites v2's artefact where MLflow's source points.
    registry.set_alias(&model, "canary", v2.version, &Change::new("red-team", "push", 70.0))?;
    std::fs::write(&v2.source, b"backdoored weights")
        .map_err(|source| RegistryError::Io { path: v2.source.clone().into(), source })?;
    println!("verify v2 after tampering: {:?}", registry.verify(&model, v2.version)?);
    let refused = rollback(&registry, &model, "champion", "canary", &change);
    println!("rollback to tampered `canary`: {}", outcome(refused.map(drop)));
    println!("champion -> v{}", version_of(&registry, &model, "champion")?);

    println!("alias history (from MLflow tags):");
    for change in registry.alias_history(&model)? {
        let show = |version: Option<u64>| version.map_or("-".to_string(), |v| format!("v{v}"));
        println!(
            "  t={:>5.1}s {:<10} {} -> {}  by {:<10} {}",
            change.at_s,
            change.alias,
            show(change.from),
            show(change.to),
            change.actor,
            change.reason
        );
    }
    Ok(())
}

fn version_of(registry: &dyn Registry, model: &str, alias: &str) -> Result<u64, RegistryError> {
    registry
        .alias(model, alias)?
        .map(|version| version.version)
        .ok_or_else(|| RegistryError::NoSuchAlias { name: model.into(), alias: alias.into() })
}

fn outcome(result: Result<(), RegistryError>) -> String {
    match result {
        Ok(()) => "ACCEPTED (unexpected)".into(),
        Err(error) => format!("refused: {error}"),
    }
}
