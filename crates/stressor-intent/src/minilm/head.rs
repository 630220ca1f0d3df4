//! [`EmbeddingClassifier`]: multinomial logistic regression over sentence embeddings.
//!
//! **Model.** `p = softmax(W e + b)`, where `e` is the [`SentenceEncoder`]'s unit-norm
//! embedding; `W` is `dim × n_intents`, stored feature-major.
//!
//! **Objective and training.** Those of the n-gram [`Classifier`](crate::Classifier), on dense
//! rows: the mean cross-entropy over the in-scope training queries plus `l2 / 2 · ‖W‖²`,
//! minimised by SGD one query at a time for [`HeadConfig::epochs`] passes in an order shuffled
//! per epoch from the seed, with a learning rate decaying linearly to 0 and the L2 shrinkage
//! applied lazily (`W = s · V`). Single-threaded: the same embeddings and seed give the same
//! bytes.
//!
//! **Out-of-scope distance.** `1 − max_k cos(e, c_k)`, where `c_k` is the mean of intent `k`'s
//! training embeddings.

use std::sync::Arc;

use rand::seq::SliceRandom as _;
use stressor_core::Seed;

use super::SentenceEncoder;
use crate::classifier::{Reader, axpy, labelled, put_len, softmax_in_place, validate_sgd};
use crate::features::Fnv;
use crate::{IntentError, IntentModel, ModelError, Query, Reply, Scores};

/// How to train an [`EmbeddingClassifier`]'s head.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeadConfig {
    /// L2 strength of the mean-loss objective (default `1e-5`), finite and ≥ 0.
    pub l2: f32,
    /// Passes over the training queries (default 10), at least 1.
    pub epochs: u32,
    /// The initial SGD learning rate (default 2.0), finite and > 0.
    pub learning_rate: f32,
}

impl Default for HeadConfig {
    fn default() -> Self {
        HeadConfig { l2: 1e-5, epochs: 10, learning_rate: 2.0 }
    }
}

impl HeadConfig {
    /// Checks the ranges documented on the fields.
    ///
    /// # Errors
    /// [`ModelError::Config`] naming the field.
    pub fn validate(&self) -> Result<(), ModelError> {
        validate_sgd(self.l2, self.epochs, self.learning_rate)
    }
}

const MAGIC: &[u8; 8] = b"STRINTEH";
const FORMAT_VERSION: u32 = 1;

/// A softmax head over a [`SentenceEncoder`]'s embeddings (see the module docs).
#[derive(Debug, Clone)]
pub struct EmbeddingClassifier {
    encoder: Arc<SentenceEncoder>,
    intents: Vec<String>,
    config: HeadConfig,
    seed: Seed,
    /// `[dim × n_intents]`, feature-major.
    weights: Vec<f32>,
    bias: Vec<f32>,
    /// `[n_intents × dim]`, each row unit-norm (zero for an intent without training queries).
    centroids: Vec<f32>,
}

impl EmbeddingClassifier {
    /// Embeds the in-scope `queries` (out-of-scope ones are skipped) and trains the head.
    ///
    /// # Errors
    /// [`ModelError`] when the config is invalid, a query's intent is out of range, there is
    /// no intent or no in-scope query, or the encoder fails ([`ModelError::Encode`]).
    pub fn train(
        encoder: Arc<SentenceEncoder>,
        queries: &[Query],
        intents: &[String],
        config: &HeadConfig,
        seed: Seed,
    ) -> Result<EmbeddingClassifier, ModelError> {
        config.validate()?;
        let n_intents = intents.len();
        let (texts, labels) = labelled(queries, n_intents)?;
        let rows = encoder.encode(&texts).map_err(|err| ModelError::Encode(err.to_string()))?;
        let dim = encoder.dim();
        let (weights, bias) = sgd(&rows, &labels, dim, n_intents, config, seed);
        let centroids = centroids(&rows, &labels, dim, n_intents);
        Ok(EmbeddingClassifier {
            encoder,
            intents: intents.to_vec(),
            config: *config,
            seed,
            weights,
            bias,
            centroids,
        })
    }

    /// Its encoder.
    pub fn encoder(&self) -> &Arc<SentenceEncoder> {
        &self.encoder
    }

    /// The config it was trained with.
    pub fn config(&self) -> &HeadConfig {
        &self.config
    }

    /// The seed it was trained with.
    pub fn seed(&self) -> Seed {
        self.seed
    }

    /// The scores of one embedding (as [`SentenceEncoder::encode`] returns it).
    ///
    /// # Panics
    /// When `embedding` is not of the encoder's dimension.
    pub fn scores_of_embedding(&self, embedding: &[f32]) -> Scores {
        let n_intents = self.intents.len();
        let dim = self.encoder.dim();
        assert_eq!(embedding.len(), dim, "embedding dimension");
        let mut logits = self.bias.clone();
        for (j, &x) in embedding.iter().enumerate() {
            axpy(x, &self.weights[j * n_intents..(j + 1) * n_intents], &mut logits);
        }
        let max_cosine = self
            .centroids
            .chunks_exact(dim)
            .map(|centroid| centroid.iter().zip(embedding).map(|(c, e)| c * e).sum::<f32>())
            .fold(-1.0f32, f32::max)
            .clamp(-1.0, 1.0);
        let mut probs = logits.clone();
        softmax_in_place(&mut probs);
        Scores { probs, logits: Some(logits), distance: Some(1.0 - max_cosine) }
    }

    /// The scores of each text.
    ///
    /// # Errors
    /// [`ModelError::Encode`] when the encoder fails.
    pub fn scores(&self, texts: &[&str]) -> Result<Vec<Scores>, ModelError> {
        let embeddings =
            self.encoder.encode(texts).map_err(|err| ModelError::Encode(err.to_string()))?;
        Ok(embeddings.iter().map(|e| self.scores_of_embedding(e)).collect())
    }

    /// The head (not the encoder) in a versioned binary format, with the encoder's
    /// [fingerprint](SentenceEncoder::fingerprint).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend(FORMAT_VERSION.to_le_bytes());
        out.extend(self.config.l2.to_le_bytes());
        out.extend(self.config.epochs.to_le_bytes());
        out.extend(self.config.learning_rate.to_le_bytes());
        out.extend(self.seed.value().to_le_bytes());
        out.extend(self.encoder.fingerprint().to_le_bytes());
        put_len(&mut out, self.encoder.dim());
        put_len(&mut out, self.intents.len());
        for intent in &self.intents {
            put_len(&mut out, intent.len());
            out.extend(intent.as_bytes());
        }
        for value in self.weights.iter().chain(&self.bias).chain(&self.centroids) {
            out.extend(value.to_le_bytes());
        }
        let mut hash = Fnv::new(b'h');
        hash.write(&out);
        out.extend(hash.finish().to_le_bytes());
        out
    }

    /// Reads a head written by [`EmbeddingClassifier::to_bytes`] onto `encoder`.
    ///
    /// # Errors
    /// [`ModelError::Format`] for bytes of another format or version, truncated or corrupted
    /// bytes (a checksum covers them), or a head trained on another encoder.
    pub fn from_bytes(
        encoder: Arc<SentenceEncoder>,
        bytes: &[u8],
    ) -> Result<EmbeddingClassifier, ModelError> {
        let format = |message: &str| ModelError::Format(message.into());
        if bytes.len() < MAGIC.len() + 12 || &bytes[..MAGIC.len()] != MAGIC {
            return Err(format("missing magic bytes of an embedding classifier"));
        }
        let (body, checksum) = bytes.split_at(bytes.len() - 8);
        let mut reader = Reader { bytes: &body[MAGIC.len()..] };
        let version = reader.u32()?;
        if version != FORMAT_VERSION {
            return Err(ModelError::Format(format!(
                "format version {version}, this build reads {FORMAT_VERSION}"
            )));
        }
        let mut hash = Fnv::new(b'h');
        hash.write(body);
        if hash.finish().to_le_bytes() != checksum {
            return Err(format("checksum mismatch (truncated or corrupted)"));
        }
        let config =
            HeadConfig { l2: reader.f32()?, epochs: reader.u32()?, learning_rate: reader.f32()? };
        config.validate()?;
        let seed = Seed::new(u64::from_le_bytes(reader.take::<8>()?));
        if u64::from_le_bytes(reader.take::<8>()?) != encoder.fingerprint() {
            return Err(format("the head was trained on another encoder (fingerprint differs)"));
        }
        let dim = reader.len(0)?;
        if dim != encoder.dim() {
            return Err(format("embedding dimension differs from the encoder's"));
        }
        let n_intents = reader.len(8)?;
        if n_intents == 0 {
            return Err(format("no intents"));
        }
        let mut intents = Vec::with_capacity(n_intents);
        for _ in 0..n_intents {
            let len = reader.len(1)?;
            let name = std::str::from_utf8(reader.slice(len)?)
                .map_err(|_| format("intent name is not UTF-8"))?;
            intents.push(name.to_owned());
        }
        let n_weights = dim.checked_mul(n_intents).ok_or_else(|| format("weights too large"))?;
        let weights = reader.f32s(n_weights)?;
        let bias = reader.f32s(n_intents)?;
        let centroids = reader.f32s(n_weights)?;
        if !reader.bytes.is_empty() {
            return Err(format("trailing bytes"));
        }
        Ok(EmbeddingClassifier { encoder, intents, config, seed, weights, bias, centroids })
    }
}

impl PartialEq for EmbeddingClassifier {
    /// Equal heads on encoders with the same fingerprint.
    fn eq(&self, other: &Self) -> bool {
        self.encoder.fingerprint() == other.encoder.fingerprint()
            && self.intents == other.intents
            && self.config == other.config
            && self.seed == other.seed
            && self.weights == other.weights
            && self.bias == other.bias
            && self.centroids == other.centroids
    }
}

impl IntentModel for EmbeddingClassifier {
    fn intents(&self) -> &[String] {
        &self.intents
    }

    fn reply(&self, texts: &[&str]) -> Result<Vec<Reply>, IntentError> {
        let scores = self.scores(texts).map_err(|err| IntentError(err.to_string()))?;
        Ok(scores.into_iter().map(Reply::most_probable).collect())
    }

    fn describe(&self) -> String {
        format!(
            "sentence-embedding classifier ({} intents, {}-d embeddings of the BERT encoder in {}, seed {})",
            self.intents.len(),
            self.encoder.dim(),
            self.encoder.dir().display(),
            self.seed.value()
        )
    }
}

/// SGD on the objective in the module docs over dense rows; returns `(weights, bias)`.
fn sgd(
    rows: &[Vec<f32>],
    labels: &[u32],
    dim: usize,
    n_intents: usize,
    config: &HeadConfig,
    seed: Seed,
) -> (Vec<f32>, Vec<f32>) {
    let mut scaled = vec![0.0f32; dim * n_intents];
    let mut scale = 1.0f64;
    let mut bias = vec![0.0f32; n_intents];
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let mut logits = vec![0.0f32; n_intents];
    let total_steps = (rows.len() as u64 * u64::from(config.epochs)) as f64;
    let l2 = f64::from(config.l2);
    let mut step = 0u64;
    for epoch in 0..config.epochs {
        order
            .shuffle(&mut seed.derive("intent-embedding-sgd").derive_index(u64::from(epoch)).rng());
        for &idx in &order {
            let rate = f64::from(config.learning_rate) * (1.0 - step as f64 / total_steps);
            step += 1;
            let row = &rows[idx];
            logits.fill(0.0);
            for (j, &x) in row.iter().enumerate() {
                axpy(x, &scaled[j * n_intents..(j + 1) * n_intents], &mut logits);
            }
            for (logit, b) in logits.iter_mut().zip(&bias) {
                *logit = *logit * scale as f32 + b;
            }
            softmax_in_place(&mut logits);
            logits[labels[idx] as usize] -= 1.0;
            scale *= 1.0 - rate * l2;
            if scale < 1e-6 {
                scaled.iter_mut().for_each(|w| *w = (f64::from(*w) * scale) as f32);
                scale = 1.0;
            }
            let column_rate = (rate / scale) as f32;
            for (j, &x) in row.iter().enumerate() {
                axpy(-column_rate * x, &logits, &mut scaled[j * n_intents..(j + 1) * n_intents]);
            }
            axpy(-(rate as f32), &logits, &mut bias);
        }
    }
    scaled.iter_mut().for_each(|w| *w = (f64::from(*w) * scale) as f32);
    (scaled, bias)
}

/// Unit-norm mean embedding of each intent, `[n_intents × dim]`.
fn centroids(rows: &[Vec<f32>], labels: &[u32], dim: usize, n_intents: usize) -> Vec<f32> {
    let mut sums = vec![0.0f64; n_intents * dim];
    for (row, &label) in rows.iter().zip(labels) {
        let sum = &mut sums[label as usize * dim..(label as usize + 1) * dim];
        for (s, &x) in sum.iter_mut().zip(row) {
            *s += f64::from(x);
        }
    }
    let mut out = vec![0.0f32; n_intents * dim];
    for (sum, centroid) in sums.chunks_exact(dim).zip(out.chunks_exact_mut(dim)) {
        let norm = sum.iter().map(|s| s * s).sum::<f64>().sqrt();
        if norm > 0.0 {
            for (c, s) in centroid.iter_mut().zip(sum) {
                *c = (s / norm) as f32;
            }
        }
    }
    out
}
