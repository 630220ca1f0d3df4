//! The JSON form of metadata and alias changes, shared by both backends (the file index and
//! audit log, MLflow's tags). Written and read through `serde_json::Value` by hand, so a bad
//! record is an error naming its field; decoding errors are the field and the problem, which
//! each backend wraps with the file or the reply.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::{AliasChange, Metadata};

/// `meta` as a JSON object.
pub(crate) fn metadata_to_json(meta: &Metadata) -> Value {
    json!({
        "training_data_sha256": meta.training_data_sha256,
        "metrics": meta.metrics,
        "fairness": meta.fairness,
        "tags": meta.tags,
        "created_at_s": meta.created_at_s,
    })
}

/// Reads metadata written by [`metadata_to_json`]; `at` prefixes field names in errors.
pub(crate) fn metadata_from_json(value: &Value, at: &str) -> Result<Metadata, String> {
    let object = value.as_object().ok_or_else(|| format!("{at} is not a JSON object"))?;
    let numbers = |key: &str| -> Result<BTreeMap<String, f64>, String> {
        let Some(map) = object.get(key) else { return Ok(BTreeMap::new()) };
        let map = map.as_object().ok_or_else(|| format!("{at}.{key} is not an object"))?;
        map.iter()
            .map(|(name, number)| {
                number
                    .as_f64()
                    .map(|number| (name.clone(), number))
                    .ok_or_else(|| format!("{at}.{key}.{name} is not a number"))
            })
            .collect()
    };
    let tags = match object.get("tags") {
        None => BTreeMap::new(),
        Some(map) => map
            .as_object()
            .ok_or_else(|| format!("{at}.tags is not an object"))?
            .iter()
            .map(|(name, text)| {
                text.as_str()
                    .map(|text| (name.clone(), text.to_string()))
                    .ok_or_else(|| format!("{at}.tags.{name} is not a string"))
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(Metadata {
        training_data_sha256: string(object, "training_data_sha256", at)?,
        metrics: numbers("metrics")?,
        fairness: numbers("fairness")?,
        tags,
        created_at_s: number(object, "created_at_s", at)?,
    })
}

/// `change` as a JSON object (one audit-log line, one MLflow tag value).
pub(crate) fn change_to_json(change: &AliasChange) -> Value {
    json!({
        "alias": change.alias,
        "from": change.from,
        "to": change.to,
        "actor": change.actor,
        "reason": change.reason,
        "at_s": change.at_s,
    })
}

/// Reads an alias change written by [`change_to_json`]; `at` prefixes field names in errors.
pub(crate) fn change_from_json(value: &Value, at: &str) -> Result<AliasChange, String> {
    let object = value.as_object().ok_or_else(|| format!("{at} is not a JSON object"))?;
    let version = |key: &str| -> Result<Option<u64>, String> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(number) => number
                .as_u64()
                .map(Some)
                .ok_or_else(|| format!("{at}.{key} is not a version number or null")),
        }
    };
    Ok(AliasChange {
        alias: string(object, "alias", at)?,
        from: version("from")?,
        to: version("to")?,
        actor: string(object, "actor", at)?,
        reason: string(object, "reason", at)?,
        at_s: number(object, "at_s", at)?,
    })
}

/// The string at `key`.
pub(crate) fn string(object: &Map<String, Value>, key: &str, at: &str) -> Result<String, String> {
    match object.get(key) {
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(format!("{at}.{key} is not a string")),
        None => Err(format!("{at}.{key} is missing")),
    }
}

/// The number at `key`.
pub(crate) fn number(object: &Map<String, Value>, key: &str, at: &str) -> Result<f64, String> {
    match object.get(key) {
        Some(value) => value.as_f64().ok_or_else(|| format!("{at}.{key} is not a number")),
        None => Err(format!("{at}.{key} is missing")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_and_changes_survive_a_round_trip() {
        let meta = Metadata {
            training_data_sha256: "ab".into(),
            metrics: BTreeMap::from([("accuracy".into(), 0.91)]),
            fairness: BTreeMap::from([("dp_ratio".into(), 0.84)]),
            tags: BTreeMap::from([("team".into(), "blue".into())]),
            created_at_s: 12.5,
        };
        assert_eq!(metadata_from_json(&metadata_to_json(&meta), "m"), Ok(meta));
        let change = AliasChange {
            alias: "champion".into(),
            from: Some(2),
            to: None,
            actor: "blue".into(),
            reason: "why".into(),
            at_s: 3.0,
        };
        assert_eq!(change_from_json(&change_to_json(&change), "c"), Ok(change));
    }

    #[test]
    fn bad_records_name_their_field() {
        let bad =
            json!({"alias": "a", "from": "two", "to": 1, "actor": "x", "reason": "", "at_s": 0});
        assert_eq!(
            change_from_json(&bad, "line 3"),
            Err("line 3.from is not a version number or null".to_string())
        );
        let bad =
            json!({"training_data_sha256": "", "metrics": {"acc": "high"}, "created_at_s": 0});
        assert_eq!(
            metadata_from_json(&bad, "v1"),
            Err("v1.metrics.acc is not a number".to_string())
        );
        assert!(metadata_from_json(&json!([]), "v1").is_err());
    }
}
