//! The Open Inference Protocol (KServe V2) REST messages: parsing an inference request into a
//! [`Batch`] and writing the response, by hand from [`serde_json::Value`] so that every error
//! names the field that is wrong.

use std::fmt::Write as _;

use serde_json::Value;
use stressor_core::Batch;
use stressor_model::{ModelInfo, ScoreKind, Scores};

/// The name of the label output (the arg-max class, `INT64`).
pub const LABEL_OUTPUT: &str = "label";

/// A parsed inference request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct InferRequest {
    /// The request id, echoed in the response.
    pub(crate) id: Option<String>,
    /// The input tensor, shaped `[n, ...model input shape]`.
    pub(crate) inputs: Batch,
    /// The outputs asked for, all when `None`.
    pub(crate) outputs: Option<Vec<String>>,
}

/// Why a request is malformed; becomes a 400 with the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestError(pub(crate) String);

fn bad(message: impl Into<String>) -> RequestError {
    RequestError(message.into())
}

/// The name of the score output for scores of `kind`.
pub(crate) fn score_output(kind: ScoreKind) -> &'static str {
    match kind {
        ScoreKind::Logits => "logits",
        ScoreKind::Probabilities => "probabilities",
    }
}

/// Parses an inference request for a model described by `info`, taking at most `max_batch`
/// samples.
///
/// The one input tensor may have any name; its shape is `[n, ...input shape]`, `[n, size]`
/// (flattened samples) or the input shape alone (one sample); its data is flat or nested in
/// row-major order, any numeric datatype, every value finite and within the model's bounds.
pub(crate) fn parse_infer(
    body: &[u8],
    info: &ModelInfo,
    score_kind: ScoreKind,
    max_batch: usize,
) -> Result<InferRequest, RequestError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| bad(format!("the body is not valid JSON: {error}")))?;
    let Value::Object(request) = value else {
        return Err(bad("the body must be a JSON object with `inputs`"));
    };
    let id = match request.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(other) => return Err(bad(format!("`id` must be a string, got {}", kind(other)))),
    };
    let inputs = match request.get("inputs") {
        Some(Value::Array(inputs)) => inputs,
        Some(other) => return Err(bad(format!("`inputs` must be an array, got {}", kind(other)))),
        None => return Err(bad("the request has no `inputs`")),
    };
    let [input] = inputs.as_slice() else {
        return Err(bad(format!(
            "`inputs` must hold exactly one tensor for this model, got {}",
            inputs.len()
        )));
    };
    let inputs = parse_tensor(input, info, max_batch)?;
    let outputs = match request.get("outputs") {
        None | Some(Value::Null) => None,
        Some(Value::Array(outputs)) => {
            let known = [score_output(score_kind), LABEL_OUTPUT];
            let mut names = Vec::with_capacity(outputs.len());
            for (index, output) in outputs.iter().enumerate() {
                let Some(Value::String(name)) = output.get("name") else {
                    return Err(bad(format!("`outputs[{index}].name` must be a string")));
                };
                if !known.contains(&name.as_str()) {
                    return Err(bad(format!(
                        "`outputs[{index}].name`: unknown output `{name}`; this model has {}",
                        known.join(", ")
                    )));
                }
                names.push(name.clone());
            }
            Some(names)
        }
        Some(other) => return Err(bad(format!("`outputs` must be an array, got {}", kind(other)))),
    };
    Ok(InferRequest { id, inputs, outputs })
}

fn parse_tensor(input: &Value, info: &ModelInfo, max_batch: usize) -> Result<Batch, RequestError> {
    let Value::Object(tensor) = input else {
        return Err(bad("`inputs[0]` must be an object"));
    };
    if tensor.get("parameters").and_then(|p| p.get("binary_data_size")).is_some() {
        return Err(bad(
            "`inputs[0]` uses the binary tensor extension, which this server does not support; \
             send the values in `data`",
        ));
    }
    match tensor.get("datatype") {
        Some(Value::String(datatype)) if NUMERIC.contains(&datatype.as_str()) => {}
        Some(Value::String(datatype)) => {
            return Err(bad(format!(
                "`inputs[0].datatype`: `{datatype}` is not a numeric type ({})",
                NUMERIC.join(", ")
            )));
        }
        _ => return Err(bad("`inputs[0].datatype` must be a string such as \"FP32\"")),
    }
    let shape: Vec<usize> = match tensor.get("shape") {
        Some(Value::Array(dims)) => dims
            .iter()
            .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()))
            .collect::<Option<_>>()
            .ok_or_else(|| bad("`inputs[0].shape` must be an array of non-negative integers"))?,
        _ => return Err(bad("`inputs[0].shape` must be an array of integers")),
    };
    let sample_shape = &info.input_shape;
    let sample_size: usize = sample_shape.iter().product();
    let n = if shape.as_slice() == sample_shape.as_slice() {
        1
    } else {
        match shape.split_first() {
            // A client's dimensions can overflow a product: checked, so they never panic or wrap.
            Some((&n, rest))
                if rest.iter().try_fold(1usize, |size, &d| size.checked_mul(d))
                    == Some(sample_size) =>
            {
                n
            }
            _ => {
                return Err(bad(format!(
                    "`inputs[0].shape` {shape:?} does not fit the model, which takes samples of \
                     shape {sample_shape:?}: use [n, {}]",
                    sample_shape.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                )));
            }
        }
    };
    if n == 0 {
        return Err(bad("`inputs[0].shape` asks for 0 samples"));
    }
    if n > max_batch {
        return Err(bad(format!(
            "`inputs[0].shape` asks for {n} samples; this server takes at most {max_batch} per \
             request"
        )));
    }
    let expected = n * sample_size;
    let mut values = Vec::with_capacity(expected);
    match tensor.get("data") {
        Some(data @ Value::Array(_)) => flatten(data, &mut values, expected)?,
        _ => return Err(bad("`inputs[0].data` must be an array of numbers")),
    }
    if values.len() != expected {
        return Err(bad(format!(
            "`inputs[0].data` has {} values; shape {shape:?} needs {expected}",
            values.len()
        )));
    }
    let bounds = info.bounds;
    if let Some((index, value)) =
        values.iter().enumerate().find(|(_, v)| !(bounds.min..=bounds.max).contains(*v))
    {
        return Err(bad(format!(
            "`inputs[0].data[{index}]` is {value}, outside the model's input range [{}, {}]{}",
            bounds.min,
            bounds.max,
            if *value > 1.0 && bounds.max <= 1.0 { " (scale 0–255 values to 0–1)" } else { "" }
        )));
    }
    let mut dims = vec![n];
    dims.extend_from_slice(sample_shape);
    Batch::new(values, dims).map_err(|error| bad(format!("`inputs[0]`: {error}")))
}

/// The datatypes the server converts to `f32`.
const NUMERIC: &[&str] = &[
    "FP32", "FP64", "FP16", "BF16", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32",
    "UINT64",
];

/// Appends the numbers of a (possibly nested) JSON array to `out`, stopping once more than
/// `limit` values have been seen (the caller reports the count).
fn flatten(value: &Value, out: &mut Vec<f32>, limit: usize) -> Result<(), RequestError> {
    match value {
        Value::Array(items) => {
            for item in items {
                flatten(item, out, limit)?;
                if out.len() > limit {
                    return Ok(());
                }
            }
            Ok(())
        }
        Value::Number(number) => {
            let v = number.as_f64().unwrap_or(f64::NAN) as f32;
            if !v.is_finite() {
                return Err(bad(format!("`inputs[0].data[{}]` is not a finite f32", out.len())));
            }
            out.push(v);
            Ok(())
        }
        other => {
            Err(bad(format!("`inputs[0].data[{}]` is {}, not a number", out.len(), kind(other))))
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Writes the inference response for `scores` as JSON.
///
/// Floats are written in their shortest round-tripping `f32` form. `None` when a score is not
/// finite (the caller answers 500: the model is broken, not the request).
pub(crate) fn infer_response(
    model_name: &str,
    request: &InferRequest,
    scores: &Scores,
) -> Option<String> {
    let n = scores.len();
    let k = scores.n_classes();
    let values = scores.as_slice();
    if values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let score_name = score_output(scores.kind());
    let wanted = |name: &str| request.outputs.as_ref().is_none_or(|o| o.iter().any(|w| w == name));
    let mut out = String::with_capacity(values.len() * 12 + 256);
    out.push_str("{\"model_name\":");
    out.push_str(&Value::String(model_name.to_string()).to_string());
    out.push_str(",\"model_version\":\"1\"");
    if let Some(id) = &request.id {
        out.push_str(",\"id\":");
        out.push_str(&Value::String(id.clone()).to_string());
    }
    out.push_str(",\"outputs\":[");
    let mut first = true;
    if wanted(score_name) {
        first = false;
        let _ = write!(
            out,
            "{{\"name\":\"{score_name}\",\"datatype\":\"FP32\",\"shape\":[{n},{k}],\"data\":["
        );
        push_list(&mut out, values);
        out.push_str("]}");
    }
    if wanted(LABEL_OUTPUT) {
        if !first {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"name\":\"{LABEL_OUTPUT}\",\"datatype\":\"INT64\",\"shape\":[{n}],\"data\":["
        );
        push_list(&mut out, &scores.predictions());
        out.push_str("]}");
    }
    out.push_str("]}");
    Some(out)
}

/// Appends `values` separated by commas, each in its shortest round-trip form.
fn push_list<T: std::fmt::Display>(out: &mut String, values: &[T]) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{v}");
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use stressor_core::Bounds;

    use super::*;

    fn info() -> ModelInfo {
        ModelInfo::new("m", "fn", vec![1, 2, 2], 3, Bounds::UNIT)
    }

    fn parse(body: &str) -> Result<InferRequest, RequestError> {
        parse_infer(body.as_bytes(), &info(), ScoreKind::Logits, 4)
    }

    fn check_error(body: &str, expect: &str) {
        let error = parse(body).unwrap_err();
        assert!(error.0.contains(expect), "{body}: {}", error.0);
    }

    /// Found by the property test below: dimensions whose product overflows `usize` panicked
    /// (debug) or wrapped (release) before the shape check.
    #[test]
    fn a_shape_whose_product_overflows_is_a_bad_request() {
        let huge = 1u64 << 62;
        check_error(
            &format!(
                r#"{{"inputs":[{{"name":"x","datatype":"FP32","shape":[1,{huge},8],"data":[0]}}]}}"#
            ),
            "does not fit the model",
        );
    }

    #[test]
    fn flat_nested_and_unbatched_tensors_parse_to_the_same_batch() {
        let flat = r#"{"id":"a","inputs":[{"name":"x","datatype":"FP32","shape":[2,1,2,2],"data":[0,0.1,0.2,0.3,0.4,0.5,0.6,1]}]}"#;
        let nested = r#"{"id":"a","inputs":[{"name":"x","datatype":"FP64","shape":[2,4],"data":[[0,0.1,0.2,0.3],[0.4,0.5,0.6,1]]}]}"#;
        let (a, b) = (parse(flat).unwrap(), parse(nested).unwrap());
        assert_eq!(a, b);
        assert_eq!(a.inputs.shape(), [2, 1, 2, 2]);
        assert_eq!(a.id.as_deref(), Some("a"));
        let one = parse(
            r#"{"inputs":[{"name":"x","datatype":"UINT8","shape":[1,2,2],"data":[0,1,1,0]}]}"#,
        )
        .unwrap();
        assert_eq!(one.inputs.shape(), [1, 1, 2, 2]);
    }

    #[test]
    fn malformed_requests_name_the_field() {
        check_error("{", "not valid JSON");
        check_error("[]", "must be a JSON object");
        check_error(r#"{"inputs":{}}"#, "`inputs` must be an array");
        check_error(r#"{"inputs":[]}"#, "exactly one tensor");
        check_error(
            r#"{"inputs":[{"datatype":"BYTES","shape":[1,4],"data":[0,0,0,0]}]}"#,
            "`BYTES` is not a numeric type",
        );
        check_error(
            r#"{"inputs":[{"datatype":"FP32","shape":[1,3],"data":[0,0,0]}]}"#,
            "does not fit the model",
        );
        check_error(
            r#"{"inputs":[{"datatype":"FP32","shape":[1,4],"data":[0,0,0]}]}"#,
            "has 3 values; shape [1, 4] needs 4",
        );
        check_error(
            r#"{"inputs":[{"datatype":"FP32","shape":[1,4],"data":[0,0,"a",0]}]}"#,
            "`inputs[0].data[2]` is a string",
        );
        check_error(
            r#"{"inputs":[{"datatype":"FP32","shape":[1,4],"data":[0,0,255,0]}]}"#,
            "scale 0–255 values to 0–1",
        );
        check_error(
            r#"{"inputs":[{"datatype":"FP32","shape":[5,4],"data":[]}]}"#,
            "at most 4 per request",
        );
        check_error(r#"{"inputs":[{"datatype":"FP32","shape":[0,4],"data":[]}]}"#, "0 samples");
        check_error(
            r#"{"inputs":[{"datatype":"FP32","shape":[1,4],"data":[0,0,0,0]}],"outputs":[{"name":"nope"}]}"#,
            "unknown output `nope`",
        );
        check_error(
            r#"{"inputs":[{"datatype":"FP32","shape":[1,4],"parameters":{"binary_data_size":16}}]}"#,
            "binary tensor extension",
        );
        check_error(r#"{"id":3,"inputs":[]}"#, "`id` must be a string");
    }

    #[test]
    fn responses_are_json_with_shortest_floats_and_requested_outputs() {
        let request =
            parse(r#"{"id":"r\"1","inputs":[{"datatype":"FP32","shape":[1,4],"data":[0,0,0,0]}]}"#)
                .unwrap();
        let scores = Scores::new(vec![0.1, 2.5, -1.0], 3, ScoreKind::Logits);
        let text = infer_response("m", &request, &scores).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["id"], "r\"1");
        assert_eq!(value["outputs"][0]["name"], "logits");
        assert_eq!(value["outputs"][0]["shape"], serde_json::json!([1, 3]));
        assert!(text.contains("[0.1,2.5,-1]"), "{text}");
        assert_eq!(value["outputs"][1]["data"], serde_json::json!([1]));
        let mut only_label = request.clone();
        only_label.outputs = Some(vec![LABEL_OUTPUT.to_string()]);
        let value: Value =
            serde_json::from_str(&infer_response("m", &only_label, &scores).unwrap()).unwrap();
        assert_eq!(value["outputs"].as_array().unwrap().len(), 1);
        let broken = Scores::new(vec![f32::NAN, 0.0, 0.0], 3, ScoreKind::Logits);
        assert!(infer_response("m", &request, &broken).is_none());
    }

    use stressor_test_support::any_json;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 1024, ..Default::default() })]

        /// Any body, shaped like an inference request or not, is a request or a 400.
        #[test]
        fn any_body_is_a_request_or_a_bad_request(
            body in any_json(&["id", "inputs", "name", "datatype", "shape", "data", "parameters", "FP32", "UINT8", "BOOL", "BYTES", "INT64"]),
            shape in proptest::collection::vec(proptest::prop_oneof![0i64..5, proptest::prelude::any::<i64>()], 0..5),
            datatype in proptest::sample::select(&["FP32", "FP64", "FP16", "UINT8", "INT8", "INT64", "BOOL", "BYTES", "fp32", ""][..]),
            data in any_json(&[]),
            raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        ) {
            let _ = parse_infer(body.to_string().as_bytes(), &info(), ScoreKind::Logits, 4);
            let shaped = serde_json::json!({"inputs": [{"name": "x", "datatype": datatype, "shape": shape, "data": data}]});
            let _ = parse_infer(shaped.to_string().as_bytes(), &info(), ScoreKind::Probabilities, 4);
            let _ = parse_infer(&raw, &info(), ScoreKind::Logits, 4);
        }
    }
}
