use serde_json::Value;

use crate::{call, config, infer_body, start};

#[tokio::test]
async fn health_metadata_and_ready_answer() {
    let server = start(config()).await;
    let addr = server.local_addr();
    assert_eq!(call(addr, "GET", "/v2/health/live", "").await, (200, r#"{"live":true}"#.into()));
    assert_eq!(call(addr, "GET", "/v2/health/ready", "").await.0, 200);
    let (status, body) = call(addr, "GET", "/v2/models/toy", "").await;
    assert_eq!(status, 200);
    let metadata: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(metadata["inputs"][0]["shape"], serde_json::json!([-1, 1, 2, 2]));
    assert_eq!(metadata["outputs"][0]["name"], "logits");
    assert_eq!(metadata["outputs"][0]["shape"], serde_json::json!([-1, 3]));
    assert_eq!(call(addr, "GET", "/v2/models/toy/ready", "").await.0, 200);
    let (status, body) = call(addr, "GET", "/v2/models/other", "").await;
    assert_eq!(status, 404);
    assert!(body.contains("model `other` not found; this server serves `toy`"), "{body}");
    assert_eq!(call(addr, "GET", "/nope", "").await.0, 404);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn inference_returns_the_models_scores_and_labels() {
    let server = start(config()).await;
    let samples = [[0.1, 0.2, 0.3, 0.4], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]];
    for path in ["/v2/models/toy/infer", "/v2/models/toy/versions/1/infer"] {
        let (status, body) = call(server.local_addr(), "POST", path, &infer_body(&samples)).await;
        assert_eq!(status, 200, "{body}");
        let response: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(response["model_name"], "toy");
        assert_eq!(response["id"], "q");
        let logits: Vec<f32> = response["outputs"][0]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let expected: Vec<f32> =
            samples.iter().flat_map(|x| [x.iter().sum::<f32>(), x[0] - x[3], 0.5]).collect();
        assert_eq!(logits, expected);
        assert_eq!(response["outputs"][1]["name"], "label");
        assert_eq!(response["outputs"][1]["data"], serde_json::json!([0, 0, 2]));
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_payloads_get_4xx_naming_the_problem() {
    let mut config = config();
    config.max_body_bytes = 2000;
    let server = start(config).await;
    let addr = server.local_addr();
    let cases = [
        ("{not json", 400, "not valid JSON"),
        (r#"{"inputs":[{"datatype":"FP32","shape":[1,4],"data":[0,0,0]}]}"#, 400, "has 3 values"),
        (
            r#"{"inputs":[{"datatype":"FP32","shape":[1,4],"data":[0,0,0,9]}]}"#,
            400,
            "outside the model's input range",
        ),
    ];
    for (body, status, expect) in cases {
        let (got, text) = call(addr, "POST", "/v2/models/toy/infer", body).await;
        assert_eq!(got, status, "{body}: {text}");
        let error: Value = serde_json::from_str(&text).unwrap();
        assert!(error["error"].as_str().unwrap().contains(expect), "{text}");
    }
    let huge = infer_body(&vec![[0.5; 4]; 200]);
    let (status, text) = call(addr, "POST", "/v2/models/toy/infer", &huge).await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("limit of 2000 bytes"), "{text}");
    assert_eq!(call(addr, "POST", "/v2/models/other/infer", &infer_body(&[[0.0; 4]])).await.0, 404);
    // The server keeps serving after bad requests.
    assert_eq!(call(addr, "POST", "/v2/models/toy/infer", &infer_body(&[[0.0; 4]])).await.0, 200);
    server.shutdown().await.unwrap();
}
