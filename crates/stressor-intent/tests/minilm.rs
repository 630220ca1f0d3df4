//! The MiniLM encoder on the committed tiny BERT (`tests/fixtures/tiny-bert/`, made by
//! `scripts/make_tiny_bert.py`): its embeddings match sentence-transformers', whatever the
//! batching, with or without a `bert.` prefix; bad files are errors naming the file; the head
//! trains, is deterministic, round-trips and refuses bad bytes or another encoder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use stressor_core::Seed;
use stressor_intent::minilm::{EmbeddingClassifier, EncoderError, HeadConfig, SentenceEncoder};
use stressor_intent::{IntentModel, ModelError, Query, Reply};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-bert")
}

/// The sentences and sentence-transformers' embeddings of them.
fn reference() -> (Vec<String>, Vec<Vec<f32>>) {
    let bytes = std::fs::read(fixture().join("embeddings.json")).expect("fixture");
    let json: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
    let sentences: Vec<String> = json["sentences"]
        .as_array()
        .expect("sentences")
        .iter()
        .map(|s| s.as_str().expect("string").to_owned())
        .collect();
    let embeddings: Vec<Vec<f32>> = json["embeddings"]
        .as_array()
        .expect("embeddings")
        .iter()
        .map(|row| {
            row.as_array().expect("row").iter().map(|x| x.as_f64().expect("f64") as f32).collect()
        })
        .collect();
    (sentences, embeddings)
}

fn max_abs_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| {
            assert_eq!(x.len(), y.len());
            x.iter().zip(y).map(|(x, y)| (x - y).abs())
        })
        .fold(0.0, f32::max)
}

/// A fresh folder under cargo's per-test temporary directory, holding a copy of the fixture.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("minilm").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    for file in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(fixture().join(file), dir.join(file)).expect("copy");
    }
    dir
}

#[test]
fn tiny_bert_matches_sentence_transformers_for_every_batch_size() {
    let (sentences, expected) = reference();
    let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
    for batch_size in [1, 3, 32] {
        let encoder = SentenceEncoder::load(fixture()).expect("loads").with_batch_size(batch_size);
        assert_eq!((encoder.dim(), encoder.max_tokens()), (32, 64));
        let got = encoder.encode(&texts).expect("encodes");
        let diff = max_abs_diff(&got, &expected);
        // 1e-5, tighter than needed: correct code differs by ~2e-7, tanh-GELU by ~1e-4.
        assert!(diff <= 1e-5, "batch size {batch_size}: max abs difference {diff}");
        for row in &got {
            let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
        }
    }
    // The embeddings differ between sentences (the comparison above is not vacuous).
    let spread = max_abs_diff(&expected[..1], &expected[1..2]);
    assert!(spread > 0.05, "{spread}");
    let encoder = SentenceEncoder::load(fixture()).expect("loads");
    assert!(encoder.encode(&[]).expect("nothing to encode").is_empty());
}

#[test]
fn a_bert_prefix_on_the_tensor_names_reads_the_same() {
    let dir = scratch("bert-prefix");
    let tensors =
        candle_core::safetensors::load(dir.join("model.safetensors"), &candle_core::Device::Cpu)
            .expect("fixture tensors");
    let prefixed: HashMap<String, candle_core::Tensor> =
        tensors.into_iter().map(|(name, tensor)| (format!("bert.{name}"), tensor)).collect();
    candle_core::safetensors::save(&prefixed, dir.join("model.safetensors")).expect("save");
    let (sentences, expected) = reference();
    let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let encoder = SentenceEncoder::load(&dir).expect("loads");
    let diff = max_abs_diff(&encoder.encode(&texts).expect("encodes"), &expected);
    assert!(diff <= 1e-5, "{diff}");
}

/// Loads the fixture after `edit` changed the copy in a scratch folder; the error's text.
fn load_error(name: &str, edit: impl FnOnce(&Path)) -> String {
    let dir = scratch(name);
    edit(&dir);
    let err = SentenceEncoder::load(&dir).expect_err("a bad model folder");
    let EncoderError::File { path, .. } = &err else { panic!("{err:?}") };
    assert!(path.starts_with(&dir), "{err}");
    err.to_string()
}

fn edit_config(dir: &Path, key: &str, value: serde_json::Value) {
    let path = dir.join("config.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("JSON");
    json[key] = value;
    std::fs::write(&path, serde_json::to_vec(&json).expect("JSON")).expect("write");
}

/// A change to a scratch copy of the fixture.
type Edit = Box<dyn FnOnce(&Path)>;

#[test]
fn bad_model_files_are_errors_naming_the_file_and_the_problem() {
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "no-config",
            Box::new(|dir| std::fs::remove_file(dir.join("config.json")).expect("rm")),
            "config.json: cannot read",
        ),
        (
            "config-not-json",
            Box::new(|dir| std::fs::write(dir.join("config.json"), "{").expect("write")),
            "config.json: not JSON",
        ),
        (
            "config-no-hidden",
            Box::new(|dir| edit_config(dir, "hidden_size", serde_json::Value::Null)),
            "config.json: `hidden_size` is missing",
        ),
        (
            "config-relu",
            Box::new(|dir| edit_config(dir, "hidden_act", "relu".into())),
            "config.json: `hidden_act` \"relu\"",
        ),
        (
            "config-heads",
            Box::new(|dir| edit_config(dir, "num_attention_heads", 5.into())),
            "is not a multiple of `num_attention_heads` 5",
        ),
        (
            "weights-truncated",
            Box::new(|dir| {
                let path = dir.join("model.safetensors");
                let bytes = std::fs::read(&path).expect("read");
                std::fs::write(&path, &bytes[..bytes.len() / 2]).expect("write");
            }),
            "model.safetensors: not a safetensors file",
        ),
        (
            "weights-shape",
            Box::new(|dir| edit_config(dir, "intermediate_size", 128.into())),
            "model.safetensors: tensor `encoder.layer.0.intermediate.dense.weight` has shape [64, 32], config.json implies [128, 32]",
        ),
        (
            "weights-missing",
            Box::new(|dir| edit_config(dir, "num_hidden_layers", 3.into())),
            "model.safetensors: no tensor `encoder.layer.2.attention.self.query.weight`",
        ),
        (
            "tokenizer-garbage",
            Box::new(|dir| std::fs::write(dir.join("tokenizer.json"), "[1, 2]").expect("write")),
            "tokenizer.json: not a tokenizer",
        ),
        (
            "tokenizer-too-big",
            Box::new(|dir| edit_config(dir, "vocab_size", 100.into())),
            "tokenizer.json: the tokenizer has 500 tokens but config.json's vocab_size is 100",
        ),
    ];
    for (name, edit, expected) in cases {
        let message = load_error(name, edit);
        assert!(message.contains(expected), "{name}: {message:?} lacks {expected:?}");
    }
    let err = SentenceEncoder::load("/nonexistent/minilm").expect_err("no folder");
    assert!(err.to_string().starts_with("/nonexistent/minilm/config.json: cannot read"), "{err}");
}

fn toy() -> (Vec<Query>, Vec<String>) {
    let intents: Vec<String> = ["weather", "music", "alarm"].map(String::from).to_vec();
    let texts = [
        ("what is the weather today", 0),
        ("will it rain tomorrow", 0),
        ("is it sunny outside", 0),
        ("play some jazz music", 1),
        ("put on my playlist", 1),
        ("play the next song", 1),
        ("set an alarm for 7am", 2),
        ("wake me up at six", 2),
        ("cancel my alarm", 2),
    ];
    let mut queries: Vec<Query> = texts
        .iter()
        .map(|(text, intent)| Query { text: (*text).into(), intent: Some(*intent) })
        .collect();
    queries.push(Query { text: "tell me a joke".into(), intent: None });
    (queries, intents)
}

#[test]
fn the_head_fits_its_training_queries_and_replies_to_odd_inputs() {
    let (queries, intents) = toy();
    let encoder = Arc::new(SentenceEncoder::load(fixture()).expect("loads"));
    let config = HeadConfig { epochs: 300, learning_rate: 5.0, ..HeadConfig::default() };
    let model = EmbeddingClassifier::train(encoder, &queries, &intents, &config, Seed::new(1))
        .expect("trains");
    let in_scope: Vec<&str> =
        queries.iter().filter(|q| q.intent.is_some()).map(|q| q.text.as_str()).collect();
    let replies = model.reply(&in_scope).expect("answers");
    for (query, reply) in queries.iter().zip(&replies) {
        assert_eq!(reply.intent().map(|(intent, _)| intent), query.intent, "{}", query.text);
    }
    let long = "play music ".repeat(2_000);
    let odd = ["", "   ", "\u{0}\u{7}\u{1b}", "天気はどう", "🙂", long.as_str()];
    let replies = model.reply(&odd).expect("answers");
    assert_eq!(replies.len(), odd.len());
    for (text, reply) in odd.iter().zip(&replies) {
        let Reply::Intent { intent, confidence, scores: Some(scores) } = reply else {
            panic!("{text:.20}: {reply:?}");
        };
        assert!((*intent as usize) < intents.len());
        assert!((scores.probs.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        assert_eq!(*confidence, scores.probs[*intent as usize]);
        let distance = scores.distance.expect("distance");
        assert!((0.0..=2.0).contains(&distance), "{text:.20}: {distance}");
    }
    // A training query is nearer its intent's centroid than the unrelated query.
    let scores = model.scores(&["set an alarm for 7am", "🙂"]).expect("scores");
    let (near, far) = (scores[0].distance.unwrap_or(1.0), scores[1].distance.unwrap_or(0.0));
    assert!(near < far, "{near} {far}");
}

#[test]
fn the_head_is_deterministic_round_trips_and_refuses_bad_bytes() {
    let (queries, intents) = toy();
    let encoder = Arc::new(SentenceEncoder::load(fixture()).expect("loads"));
    let config = HeadConfig::default();
    let train = |seed| {
        EmbeddingClassifier::train(
            Arc::clone(&encoder),
            &queries,
            &intents,
            &config,
            Seed::new(seed),
        )
        .expect("trains")
    };
    let first = train(5);
    let bytes = first.to_bytes();
    assert_eq!(bytes, train(5).to_bytes());
    assert_ne!(bytes, train(6).to_bytes());
    let back = EmbeddingClassifier::from_bytes(Arc::clone(&encoder), &bytes).expect("round trip");
    assert_eq!(back, first);
    assert_eq!(
        back.reply(&["play jazz"]).expect("answers"),
        first.reply(&["play jazz"]).expect("answers")
    );
    for len in [0, 4, 8, 20, 100, bytes.len() / 2, bytes.len() - 1] {
        assert!(EmbeddingClassifier::from_bytes(Arc::clone(&encoder), &bytes[..len]).is_err());
    }
    for pos in [0, 9, 30, bytes.len() / 2, bytes.len() - 3] {
        let mut flipped = bytes.clone();
        flipped[pos] ^= 0x40;
        assert!(EmbeddingClassifier::from_bytes(Arc::clone(&encoder), &flipped).is_err(), "{pos}");
    }
    // The same head on an encoder with other files: refused.
    let dir = scratch("other-encoder");
    edit_config(&dir, "layer_norm_eps", 1e-6.into());
    let other = Arc::new(SentenceEncoder::load(&dir).expect("loads"));
    let err = EmbeddingClassifier::from_bytes(other, &bytes).expect_err("another encoder");
    assert!(err.to_string().contains("another encoder"), "{err}");
    // Bad training input.
    assert!(matches!(
        EmbeddingClassifier::train(Arc::clone(&encoder), &queries, &[], &config, Seed::new(1)),
        Err(ModelError::NoData(_))
    ));
    let bad = HeadConfig { learning_rate: f32::NAN, ..config };
    assert!(matches!(
        EmbeddingClassifier::train(Arc::clone(&encoder), &queries, &intents, &bad, Seed::new(1)),
        Err(ModelError::Config(_))
    ));
}
