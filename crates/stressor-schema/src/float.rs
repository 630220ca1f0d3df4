//! Floats that may be NaN, written as JSON `null` and read back as NaN.
//!
//! JSON has no NaN; `serde_json` writes non-finite numbers as `null` but cannot read `null` back
//! into an `f64`. These helpers make the round trip lossless for NaN.

use serde::{Deserialize, Deserializer, Serializer};

/// `#[serde(with = "crate::float::nullable")]` for an `f64`.
pub(crate) mod nullable {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        if value.is_finite() {
            serializer.serialize_f64(*value)
        } else {
            serializer.serialize_none()
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
    }
}

/// `#[serde(with = "crate::float::nullable_vec")]` for a `Vec<f64>`.
pub(crate) mod nullable_vec {
    use serde::ser::SerializeSeq;

    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        values: &[f64],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(values.len()))?;
        for value in values {
            seq.serialize_element(&value.is_finite().then_some(*value))?;
        }
        seq.end()
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<f64>, D::Error> {
        let values = Vec::<Option<f64>>::deserialize(deserializer)?;
        Ok(values.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
    }
}

/// `#[serde(with = "crate::float::nullable_pairs")]` for a `Vec<(f64, f64)>`, written as
/// two-element arrays.
pub(crate) mod nullable_pairs {
    use serde::ser::SerializeSeq;

    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        values: &[(f64, f64)],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(values.len()))?;
        for (a, b) in values {
            seq.serialize_element(&[a.is_finite().then_some(*a), b.is_finite().then_some(*b)])?;
        }
        seq.end()
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<(f64, f64)>, D::Error> {
        let values = Vec::<[Option<f64>; 2]>::deserialize(deserializer)?;
        Ok(values
            .into_iter()
            .map(|[a, b]| (a.unwrap_or(f64::NAN), b.unwrap_or(f64::NAN)))
            .collect())
    }
}

/// `#[serde(with = "crate::float::nullable_points")]` for a `Vec<(f64, Option<f64>)>` of
/// `(x, value)` points, written as two-element arrays; a value that is absent or not a number
/// is `null` and reads back as absent.
pub(crate) mod nullable_points {
    use serde::ser::SerializeSeq;

    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        values: &[(f64, Option<f64>)],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(values.len()))?;
        for (x, value) in values {
            let value = value.filter(|v| v.is_finite());
            seq.serialize_element(&[x.is_finite().then_some(*x), value])?;
        }
        seq.end()
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<(f64, Option<f64>)>, D::Error> {
        let values = Vec::<[Option<f64>; 2]>::deserialize(deserializer)?;
        Ok(values.into_iter().map(|[x, value]| (x.unwrap_or(f64::NAN), value)).collect())
    }
}
