//! Arbitrary JSON for the property tests of parsers that read JSON from outside (request
//! bodies, toxic bodies, server replies).

use proptest::prelude::*;
use serde_json::Value;

/// Any JSON value, nested up to four levels, whose object keys and strings are often drawn
/// from `keys` (the names the parser under test looks for) so that generated values reach past
/// the parser's first checks.
pub fn any_json(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let keys: &'static [&'static str] = if keys.is_empty() { &["k"] } else { keys };
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|x| serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)),
        (-3.0f64..3.0).prop_map(Value::from),
        "[a-zA-Z0-9_ ]{0,8}".prop_map(Value::String),
        proptest::sample::select(keys).prop_map(|k| Value::String(k.to_string())),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![proptest::sample::select(keys).prop_map(str::to_string), "[a-z]{1,4}"],
                inner,
                0..5,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
