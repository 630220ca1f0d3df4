//! Open Inference Protocol (KServe V2) traffic: inference request bodies built from a data set,
//! one sample each, and a check that compares the returned `label` with the true one, so a
//! load run also measures the accuracy of what the server answers under load.

use bytes::Bytes;
use stressor_core::Dataset;
use stressor_model::http::infer_request;

use crate::UnreadableBody;

/// One request body per sample of `data` (`[1, ...sample shape]`, FP32, flat data), in order.
///
/// # Examples
/// ```
/// use stressor_core::{Batch, Bounds, Dataset};
/// let data = Dataset::new("d", Batch::zeros(2, &[1, 2]), vec![0, 1], vec!["a".into(), "b".into()], Bounds::UNIT).unwrap();
/// let bodies = stressor_load::oip::infer_bodies(&data);
/// assert_eq!(bodies.len(), 2);
/// assert!(std::str::from_utf8(&bodies[0]).unwrap().contains(r#""shape":[1,1,2]"#));
/// ```
pub fn infer_bodies(data: &Dataset) -> Vec<Bytes> {
    (0..data.len())
        .map(|i| infer_request(&data.inputs.slice(i, i + 1), Some(&i.to_string())))
        .collect()
}

/// Whether a V2 inference response for request `index` gives the true label of sample
/// `index % labels.len()`: reads the `label` output (INT64) or, failing that, the arg-max of
/// the first output. `Err` when the body is not such a response.
///
/// # Errors
/// [`UnreadableBody`] for a body that is not a V2 response with a readable prediction.
pub fn check_label(
    labels: &[u32],
    index: usize,
    body: &[u8],
) -> Result<Option<bool>, UnreadableBody> {
    if labels.is_empty() {
        return Ok(None);
    }
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|_| UnreadableBody)?;
    let outputs = value.get("outputs").and_then(|o| o.as_array()).ok_or(UnreadableBody)?;
    let label_output =
        outputs.iter().find(|o| o.get("name").and_then(|n| n.as_str()) == Some("label"));
    let predicted = match label_output {
        Some(output) => output
            .get("data")
            .and_then(|d| d.get(0))
            .and_then(|v| v.as_u64())
            .ok_or(UnreadableBody)?,
        None => {
            let data = outputs
                .first()
                .and_then(|o| o.get("data"))
                .and_then(|d| d.as_array())
                .ok_or(UnreadableBody)?;
            let scores: Vec<f64> =
                data.iter().map(|v| v.as_f64().ok_or(UnreadableBody)).collect::<Result<_, _>>()?;
            let best = scores
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(k, _)| k)
                .ok_or(UnreadableBody)?;
            best as u64
        }
    };
    Ok(Some(predicted == u64::from(labels[index % labels.len()])))
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use super::*;

    #[test]
    fn labels_are_read_from_the_label_output_or_the_scores() {
        let with_label =
            br#"{"outputs":[{"name":"logits","data":[0.1,0.9]},{"name":"label","data":[1]}]}"#;
        assert_eq!(check_label(&[1, 0], 0, with_label), Ok(Some(true)));
        assert_eq!(check_label(&[1, 0], 1, with_label), Ok(Some(false)));
        assert_eq!(check_label(&[1, 0], 2, with_label), Ok(Some(true)));
        let scores_only = br#"{"outputs":[{"name":"probabilities","data":[0.7,0.2,0.1]}]}"#;
        assert_eq!(check_label(&[0], 5, scores_only), Ok(Some(true)));
        assert_eq!(check_label(&[], 0, scores_only), Ok(None));
        assert_eq!(check_label(&[0], 0, b"<html>"), Err(UnreadableBody));
        assert_eq!(check_label(&[0], 0, br#"{"outputs":[]}"#), Err(UnreadableBody));
        let _ = serde_json::from_slice::<serde_json::Value>(with_label).unwrap();
    }
}
