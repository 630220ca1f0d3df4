//! The built-in intent classifier: multinomial logistic regression over hashed TF-IDF
//! n-grams, with a distance to the training data for out-of-scope detection.
//!
//! **Model.** `p = softmax(W x + b)` over the intents, where `x` is a [`Featurizer`] row.
//! Only the hash buckets that occur in some training row get a weight column (any other
//! bucket's weight would stay 0 under this objective), so `W` is
//! `n_columns × n_intents` rather than `2^hash_bits × n_intents`, stored feature-major so that a
//! sparse row reads contiguous runs of `n_intents` weights.
//!
//! **Objective.** The mean cross-entropy over the in-scope training queries plus
//! `l2 / 2 · ‖W‖²` (the bias is not penalised). This is scikit-learn's `LogisticRegression`
//! objective with `C = 1 / (l2 · n_train)`. Out-of-scope training queries are left out: the
//! CLINC150 paper's "oos-threshold" setting, where out of scope is detected by thresholding.
//!
//! **Training.** Stochastic gradient descent, one query at a time, for
//! [`TrainConfig::epochs`] passes in an order shuffled per epoch from the seed (so the same
//! seed gives the same bytes), with a learning rate decaying linearly from
//! [`TrainConfig::learning_rate`] to 0 over the run. The L2 shrinkage of every weight at every
//! step is applied lazily by keeping `W = s · V` and shrinking the scalar `s` (Bottou's trick),
//! so a step costs `O(nnz · n_intents)`. Single-threaded by design: deterministic, and a
//! CLINC150 model trains in seconds.
//!
//! **Out-of-scope distance.** `1 − max_k cos(x, c_k)`, where `c_k` is the centroid (sum) of
//! intent `k`'s training rows. A query far from every intent's training data scores near 1;
//! the n-grams it has that no training query had still count in its norm, so unseen words push
//! it out. The centroids are stored sparse.

use rand::seq::SliceRandom as _;
use stressor_core::Seed;

use crate::features::{FeatureConfig, Featurizer, Fnv, SparseRow};
use crate::{IntentError, IntentModel, Query, Reply, Scores};

/// How to train a [`Classifier`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainConfig {
    /// The features.
    pub features: FeatureConfig,
    /// L2 strength of the mean-loss objective (default `1e-5`; scikit-learn's
    /// `C = 1 / (l2 · n_train)`, 6.7 on CLINC150's 15,000 queries). Finite and ≥ 0.
    pub l2: f32,
    /// Passes over the training queries (default 10), at least 1.
    pub epochs: u32,
    /// The initial SGD learning rate (default 1.0), finite and > 0.
    pub learning_rate: f32,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig { features: FeatureConfig::default(), l2: 1e-5, epochs: 10, learning_rate: 1.0 }
    }
}

/// Why a classifier could not be trained or read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A [`TrainConfig`] value is out of range.
    #[error("invalid train config: {0}")]
    Config(String),
    /// There are no intents, or no in-scope training query.
    #[error("nothing to train on: {0}")]
    NoData(String),
    /// A training query's intent is not an index into the intents.
    #[error("training query {row}: intent {intent} is out of range for {n_intents} intents")]
    IntentOutOfRange {
        /// The query's index.
        row: usize,
        /// Its intent.
        intent: u32,
        /// How many intents there are.
        n_intents: usize,
    },
    /// Bytes that are not a classifier written by [`Classifier::to_bytes`] of this version.
    #[error("not a stressor intent classifier: {0}")]
    Format(String),
    /// The sentence encoder under an embedding classifier failed (feature `minilm`).
    #[error("sentence encoder: {0}")]
    Encode(String),
}

/// The built-in intent classifier (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Classifier {
    intents: Vec<String>,
    config: TrainConfig,
    seed: Seed,
    featurizer: Featurizer,
    /// The buckets that have a weight column, increasing.
    buckets: Vec<u32>,
    /// Each bucket's column, `NO_COLUMN` for none (one entry per bucket).
    column_of: Vec<u32>,
    /// `[n_columns × n_intents]`, feature-major.
    weights: Vec<f32>,
    bias: Vec<f32>,
    centroids: Centroids,
}

/// Unit-norm intent centroids, stored by column: column `j`'s entries are
/// `intent[start[j]..start[j + 1]]` with `value[..]`.
#[derive(Debug, Clone, PartialEq, Default)]
struct Centroids {
    start: Vec<u32>,
    intent: Vec<u32>,
    value: Vec<f32>,
}

/// Training rows in column space (CSR).
#[derive(Debug, Default)]
struct Rows {
    start: Vec<usize>,
    columns: Vec<u32>,
    values: Vec<f32>,
}

const NO_COLUMN: u32 = u32::MAX;
const MAGIC: &[u8; 8] = b"STRINTCL";
/// The version of [`Classifier::to_bytes`]'s format; part of [`TrainConfig::cache_key`].
const FORMAT_VERSION: u32 = 1;

impl TrainConfig {
    /// Checks the ranges documented on the fields.
    ///
    /// # Errors
    /// [`ModelError::Config`] naming the field.
    pub fn validate(&self) -> Result<(), ModelError> {
        self.features.validate().map_err(|err| ModelError::Config(err.0))?;
        validate_sgd(self.l2, self.epochs, self.learning_rate)
    }

    /// A key for a cache of trained classifiers: a hex digest of everything
    /// [`Classifier::train`] depends on (this config, the queries, the intents, the seed and
    /// the format version). Equal inputs give equal keys on every platform.
    pub fn cache_key(&self, queries: &[Query], intents: &[String], seed: Seed) -> String {
        let mut hash = Fnv::new(b'k');
        hash.write(&FORMAT_VERSION.to_le_bytes());
        hash.write(&self.to_bytes());
        hash.write(&seed.value().to_le_bytes());
        hash.write(&(intents.len() as u64).to_le_bytes());
        for intent in intents {
            hash.write(&(intent.len() as u64).to_le_bytes());
            hash.write(intent.as_bytes());
        }
        hash.write(&(queries.len() as u64).to_le_bytes());
        for query in queries {
            hash.write(&(query.text.len() as u64).to_le_bytes());
            hash.write(query.text.as_bytes());
            hash.write(&query.intent.map_or(u64::MAX, u64::from).to_le_bytes());
        }
        format!("{:016x}", hash.finish())
    }

    fn to_bytes(self) -> Vec<u8> {
        let features = self.features;
        let mut out = vec![
            features.hash_bits,
            features.word_ngram_max,
            features.char_ngram_min,
            features.char_ngram_max,
        ];
        out.extend(self.l2.to_le_bytes());
        out.extend(self.epochs.to_le_bytes());
        out.extend(self.learning_rate.to_le_bytes());
        out
    }
}

impl Classifier {
    /// [`train`](Classifier::train), through a cache: the model is read from
    /// `cache_dir/intent-<cache_key>.bin` when that file is there and reads, otherwise trained
    /// and written there atomically (a cache that cannot be written only costs the next run its
    /// training time). Every user of the built-in classifier (the chatbot family, the war
    /// game's fleet, `stressor serve --chatbot`) shares the file for the same settings.
    ///
    /// # Errors
    /// As [`train`](Classifier::train).
    pub fn train_cached(
        queries: &[Query],
        intents: &[String],
        config: &TrainConfig,
        seed: Seed,
        cache_dir: Option<&std::path::Path>,
    ) -> Result<Classifier, ModelError> {
        let key = config.cache_key(queries, intents, seed);
        let path = cache_dir.map(|dir| dir.join(format!("intent-{key}.bin")));
        if let Some(model) = path
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|bytes| Classifier::from_bytes(&bytes).ok())
        {
            return Ok(model);
        }
        let model = Classifier::train(queries, intents, config, seed)?;
        if let Some(path) = &path {
            if let Some(dir) = path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let tmp = path.with_extension("tmp");
            if std::fs::write(&tmp, model.to_bytes()).is_ok() {
                let _ = std::fs::rename(&tmp, path);
            }
        }
        Ok(model)
    }

    /// Trains on the in-scope `queries` (those with an intent; out-of-scope ones are skipped)
    /// for the intents named `intents`.
    ///
    /// # Errors
    /// [`ModelError`] when the config is invalid, a query's intent is out of range, or there
    /// is no intent or no in-scope query.
    ///
    /// # Examples
    /// ```
    /// use stressor_core::Seed;
    /// use stressor_intent::{Classifier, IntentModel, Query, TrainConfig};
    /// let intents = vec!["greet".to_string(), "leave".to_string()];
    /// let queries = [("hello there", 0), ("hi friend", 0), ("goodbye now", 1), ("bye bye", 1)]
    ///     .map(|(text, intent)| Query { text: text.into(), intent: Some(intent) });
    /// let model = Classifier::train(&queries, &intents, &TrainConfig::default(), Seed::new(7))?;
    /// let replies = model.reply(&["hello", "bye"]).expect("the classifier always answers");
    /// assert_eq!(replies[0].intent().map(|(intent, _)| intent), Some(0));
    /// assert_eq!(replies[1].intent().map(|(intent, _)| intent), Some(1));
    /// # Ok::<(), stressor_intent::ModelError>(())
    /// ```
    pub fn train(
        queries: &[Query],
        intents: &[String],
        config: &TrainConfig,
        seed: Seed,
    ) -> Result<Classifier, ModelError> {
        config.validate()?;
        let n_intents = intents.len();
        let (texts, labels) = labelled(queries, n_intents)?;
        let featurizer = Featurizer::fit(config.features, texts.iter().copied())
            .map_err(|err| ModelError::Config(err.0))?;
        let hashed: Vec<SparseRow> = texts.iter().map(|text| featurizer.transform(text)).collect();
        let mut column_of = vec![NO_COLUMN; config.features.n_buckets()];
        for row in &hashed {
            for &bucket in &row.indices {
                column_of[bucket as usize] = 0;
            }
        }
        let mut buckets = Vec::new();
        for (bucket, column) in (0u32..).zip(column_of.iter_mut()) {
            if *column != NO_COLUMN {
                *column = buckets.len() as u32;
                buckets.push(bucket);
            }
        }
        let mut rows = Rows { start: vec![0], ..Rows::default() };
        for row in &hashed {
            rows.columns.extend(row.indices.iter().map(|&bucket| column_of[bucket as usize]));
            rows.values.extend_from_slice(&row.values);
            rows.start.push(rows.columns.len());
        }
        let (weights, bias) = sgd(&rows, &labels, buckets.len(), n_intents, config, seed);
        let centroids = Centroids::fit(&rows, &labels, buckets.len(), n_intents);
        Ok(Classifier {
            intents: intents.to_vec(),
            config: *config,
            seed,
            featurizer,
            buckets,
            column_of,
            weights,
            bias,
            centroids,
        })
    }

    /// The config it was trained with.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The seed it was trained with.
    pub fn seed(&self) -> Seed {
        self.seed
    }

    /// Its featurizer.
    pub fn featurizer(&self) -> &Featurizer {
        &self.featurizer
    }

    /// The scores of one text: probabilities, logits and the out-of-scope distance.
    pub fn scores(&self, text: &str) -> Scores {
        let row = self.featurizer.transform(text);
        let n_intents = self.intents.len();
        let mut logits = self.bias.clone();
        let mut cosines = vec![0.0f32; n_intents];
        for (&bucket, &value) in row.indices.iter().zip(&row.values) {
            let column = self.column_of[bucket as usize];
            if column == NO_COLUMN {
                continue;
            }
            let column = column as usize;
            axpy(value, &self.weights[column * n_intents..(column + 1) * n_intents], &mut logits);
            let (start, end) =
                (self.centroids.start[column] as usize, self.centroids.start[column + 1] as usize);
            for (&intent, &weight) in
                self.centroids.intent[start..end].iter().zip(&self.centroids.value[start..end])
            {
                cosines[intent as usize] += value * weight;
            }
        }
        let mut probs = logits.clone();
        softmax_in_place(&mut probs);
        let max_cosine = cosines.iter().copied().fold(0.0f32, f32::max).min(1.0);
        Scores { probs, logits: Some(logits), distance: Some(1.0 - max_cosine) }
    }

    /// The reply to one text: the most probable intent, its probability and the scores.
    pub fn reply_one(&self, text: &str) -> Reply {
        Reply::most_probable(self.scores(text))
    }

    /// The classifier in a versioned binary format, for a cache on disk (see
    /// [`TrainConfig::cache_key`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend(FORMAT_VERSION.to_le_bytes());
        out.extend(self.config.to_bytes());
        out.extend(self.seed.value().to_le_bytes());
        put_len(&mut out, self.intents.len());
        for intent in &self.intents {
            put_len(&mut out, intent.len());
            out.extend(intent.as_bytes());
        }
        out.extend(self.featurizer.n_docs().to_le_bytes());
        let seen: Vec<(u32, u32)> = (0u32..)
            .zip(self.featurizer.doc_freq())
            .filter(|(_, df)| **df > 0)
            .map(|(bucket, df)| (bucket, *df))
            .collect();
        put_len(&mut out, seen.len());
        for (bucket, df) in seen {
            out.extend(bucket.to_le_bytes());
            out.extend(df.to_le_bytes());
        }
        put_len(&mut out, self.buckets.len());
        self.buckets.iter().for_each(|b| out.extend(b.to_le_bytes()));
        self.weights.iter().chain(&self.bias).for_each(|w| out.extend(w.to_le_bytes()));
        put_len(&mut out, self.centroids.intent.len());
        self.centroids
            .start
            .iter()
            .chain(&self.centroids.intent)
            .for_each(|v| out.extend(v.to_le_bytes()));
        self.centroids.value.iter().for_each(|v| out.extend(v.to_le_bytes()));
        let mut hash = Fnv::new(b's');
        hash.write(&out);
        out.extend(hash.finish().to_le_bytes());
        out
    }

    /// Reads a classifier written by [`Classifier::to_bytes`].
    ///
    /// # Errors
    /// [`ModelError::Format`] for bytes of another format or version, truncated or corrupted
    /// bytes (a checksum covers them) and inconsistent contents.
    pub fn from_bytes(bytes: &[u8]) -> Result<Classifier, ModelError> {
        let format = |message: &str| ModelError::Format(message.into());
        if bytes.len() < MAGIC.len() + 12 || &bytes[..MAGIC.len()] != MAGIC {
            return Err(format("missing magic bytes"));
        }
        let (body, checksum) = bytes.split_at(bytes.len() - 8);
        let mut reader = Reader { bytes: &body[MAGIC.len()..] };
        let version = reader.u32()?;
        if version != FORMAT_VERSION {
            return Err(ModelError::Format(format!(
                "format version {version}, this build reads {FORMAT_VERSION}"
            )));
        }
        let mut hash = Fnv::new(b's');
        hash.write(body);
        if hash.finish().to_le_bytes() != checksum {
            return Err(format("checksum mismatch (truncated or corrupted)"));
        }
        let [hash_bits, word_ngram_max, char_ngram_min, char_ngram_max] = reader.take::<4>()?;
        let features = FeatureConfig { hash_bits, word_ngram_max, char_ngram_min, char_ngram_max };
        let config = TrainConfig {
            features,
            l2: reader.f32()?,
            epochs: reader.u32()?,
            learning_rate: reader.f32()?,
        };
        config.validate()?;
        let seed = Seed::new(u64::from_le_bytes(reader.take::<8>()?));
        let n_intents = reader.len(4)?;
        let mut intents = Vec::with_capacity(n_intents);
        for _ in 0..n_intents {
            let len = reader.len(1)?;
            let name = std::str::from_utf8(reader.slice(len)?)
                .map_err(|_| format("intent name is not UTF-8"))?;
            intents.push(name.to_owned());
        }
        if intents.is_empty() {
            return Err(format("no intents"));
        }
        let n_buckets = features.n_buckets();
        let n_docs = reader.u32()?;
        let mut doc_freq = vec![0u32; n_buckets];
        for _ in 0..reader.len(8)? {
            let (bucket, df) = (reader.u32()? as usize, reader.u32()?);
            *doc_freq
                .get_mut(bucket)
                .ok_or_else(|| format("document frequency bucket out of range"))? = df;
        }
        let featurizer = Featurizer::from_doc_freq(features, n_docs, doc_freq)
            .map_err(|err| ModelError::Format(err.0))?;
        let n_columns = reader.len(4)?;
        let buckets = reader.u32s(n_columns)?;
        if buckets.windows(2).any(|pair| pair[0] >= pair[1])
            || buckets.last().is_some_and(|&b| b as usize >= n_buckets)
        {
            return Err(format("weight buckets are not increasing and in range"));
        }
        let mut column_of = vec![NO_COLUMN; n_buckets];
        for (column, &bucket) in (0u32..).zip(&buckets) {
            column_of[bucket as usize] = column;
        }
        let n_weights =
            n_columns.checked_mul(n_intents).ok_or_else(|| format("weights too large"))?;
        let weights = reader.f32s(n_weights)?;
        let bias = reader.f32s(n_intents)?;
        let nnz = reader.len(8)?;
        let start = reader.u32s(n_columns + 1)?;
        let intent = reader.u32s(nnz)?;
        let value = reader.f32s(nnz)?;
        if start.first() != Some(&0)
            || start.last().map(|&end| end as usize) != Some(nnz)
            || start.windows(2).any(|pair| pair[0] > pair[1])
            || intent.iter().any(|&k| k as usize >= n_intents)
        {
            return Err(format("centroids are inconsistent"));
        }
        if !reader.bytes.is_empty() {
            return Err(format("trailing bytes"));
        }
        let centroids = Centroids { start, intent, value };
        Ok(Classifier {
            intents,
            config,
            seed,
            featurizer,
            buckets,
            column_of,
            weights,
            bias,
            centroids,
        })
    }
}

impl IntentModel for Classifier {
    fn intents(&self) -> &[String] {
        &self.intents
    }

    fn reply(&self, texts: &[&str]) -> Result<Vec<Reply>, IntentError> {
        use rayon::prelude::*;
        // Small batches stay on the caller's thread: spreading them costs more than it saves.
        if texts.len() < 64 {
            return Ok(texts.iter().map(|text| self.reply_one(text)).collect());
        }
        Ok(texts.par_iter().map(|text| self.reply_one(text)).collect())
    }

    fn describe(&self) -> String {
        let features = &self.config.features;
        format!(
            "built-in n-gram classifier ({} intents, word 1-{} and char {}-{} n-grams in 2^{} buckets, seed {})",
            self.intents.len(),
            features.word_ngram_max,
            features.char_ngram_min,
            features.char_ngram_max,
            features.hash_bits,
            self.seed.value()
        )
    }
}

impl Rows {
    fn len(&self) -> usize {
        self.start.len() - 1
    }

    fn row(&self, idx: usize) -> (&[u32], &[f32]) {
        let range = self.start[idx]..self.start[idx + 1];
        (&self.columns[range.clone()], &self.values[range])
    }
}

impl Centroids {
    fn fit(rows: &Rows, labels: &[u32], n_columns: usize, n_intents: usize) -> Centroids {
        let mut entries: Vec<(u32, u32, f32)> = Vec::with_capacity(rows.columns.len());
        for (idx, &label) in labels.iter().enumerate() {
            let (columns, values) = rows.row(idx);
            entries
                .extend(columns.iter().zip(values).map(|(&column, &value)| (column, label, value)));
        }
        entries.sort_unstable_by_key(|&(column, intent, _)| (column, intent));
        let mut merged: Vec<(u32, u32, f32)> = Vec::with_capacity(entries.len());
        for (column, intent, value) in entries {
            match merged.last_mut() {
                Some(last) if last.0 == column && last.1 == intent => last.2 += value,
                _ => merged.push((column, intent, value)),
            }
        }
        let mut norm = vec![0.0f64; n_intents];
        for &(_, intent, value) in &merged {
            norm[intent as usize] += f64::from(value) * f64::from(value);
        }
        let mut centroids = Centroids { start: vec![0; n_columns + 1], ..Centroids::default() };
        for &(column, intent, value) in &merged {
            centroids.start[column as usize + 1] += 1;
            centroids.intent.push(intent);
            centroids.value.push((f64::from(value) / norm[intent as usize].sqrt()) as f32);
        }
        for column in 0..n_columns {
            centroids.start[column + 1] += centroids.start[column];
        }
        centroids
    }
}

/// SGD on the objective in the module docs; returns `(weights, bias)`.
fn sgd(
    rows: &Rows,
    labels: &[u32],
    n_columns: usize,
    n_intents: usize,
    config: &TrainConfig,
    seed: Seed,
) -> (Vec<f32>, Vec<f32>) {
    let mut scaled = vec![0.0f32; n_columns * n_intents];
    let mut scale = 1.0f64;
    let mut bias = vec![0.0f32; n_intents];
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let mut logits = vec![0.0f32; n_intents];
    let total_steps = (rows.len() as u64 * u64::from(config.epochs)) as f64;
    let l2 = f64::from(config.l2);
    let mut step = 0u64;
    for epoch in 0..config.epochs {
        order.shuffle(
            &mut seed.derive("intent-classifier-sgd").derive_index(u64::from(epoch)).rng(),
        );
        for &idx in &order {
            let rate = f64::from(config.learning_rate) * (1.0 - step as f64 / total_steps);
            step += 1;
            let (columns, values) = rows.row(idx);
            forward(columns, values, &scaled, scale as f32, &bias, &mut logits);
            softmax_in_place(&mut logits);
            let dlogits = &mut logits;
            dlogits[labels[idx] as usize] -= 1.0;
            scale *= 1.0 - rate * l2;
            if scale < 1e-6 {
                scaled.iter_mut().for_each(|w| *w = (f64::from(*w) * scale) as f32);
                scale = 1.0;
            }
            let column_rate = (rate / scale) as f32;
            for (&column, &value) in columns.iter().zip(values) {
                let column = column as usize;
                axpy(
                    -column_rate * value,
                    dlogits,
                    &mut scaled[column * n_intents..(column + 1) * n_intents],
                );
            }
            axpy(-(rate as f32), dlogits, &mut bias);
        }
    }
    scaled.iter_mut().for_each(|w| *w = (f64::from(*w) * scale) as f32);
    (scaled, bias)
}

/// `logits = scale · Σ value · W[column] + bias`.
fn forward(
    columns: &[u32],
    values: &[f32],
    weights: &[f32],
    scale: f32,
    bias: &[f32],
    logits: &mut [f32],
) {
    let n_intents = bias.len();
    logits.fill(0.0);
    for (&column, &value) in columns.iter().zip(values) {
        let column = column as usize;
        axpy(value, &weights[column * n_intents..(column + 1) * n_intents], logits);
    }
    for (logit, b) in logits.iter_mut().zip(bias) {
        *logit = *logit * scale + b;
    }
}

/// `y += a · x`.
/// The in-scope training queries' texts and intents, checked: at least one intent, every
/// intent in range, at least one in-scope query. What every trained head starts from.
pub(crate) fn labelled(
    queries: &[Query],
    n_intents: usize,
) -> Result<(Vec<&str>, Vec<u32>), ModelError> {
    if n_intents == 0 {
        return Err(ModelError::NoData("no intents".into()));
    }
    let mut texts = Vec::new();
    let mut labels = Vec::new();
    for (row, query) in queries.iter().enumerate() {
        let Some(intent) = query.intent else { continue };
        if intent as usize >= n_intents {
            return Err(ModelError::IntentOutOfRange { row, intent, n_intents });
        }
        texts.push(query.text.as_str());
        labels.push(intent);
    }
    if texts.is_empty() {
        return Err(ModelError::NoData("no in-scope training query".into()));
    }
    Ok((texts, labels))
}

/// Checks the SGD settings every head shares: `l2` finite and ≥ 0, at least one epoch, a finite
/// positive learning rate.
pub(crate) fn validate_sgd(l2: f32, epochs: u32, learning_rate: f32) -> Result<(), ModelError> {
    if !(l2.is_finite() && l2 >= 0.0) {
        return Err(ModelError::Config(format!("l2 {l2} is not finite and >= 0")));
    }
    if epochs == 0 {
        return Err(ModelError::Config("epochs must be at least 1".into()));
    }
    if !(learning_rate.is_finite() && learning_rate > 0.0) {
        return Err(ModelError::Config(format!(
            "learning_rate {learning_rate} is not finite and > 0"
        )));
    }
    Ok(())
}

pub(crate) fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// Softmax in place, shifted by the maximum so that large logits do not overflow.
pub(crate) fn softmax_in_place(values: &mut [f32]) {
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    for value in values.iter_mut() {
        *value = (*value - max).exp();
        sum += *value;
    }
    for value in values.iter_mut() {
        *value /= sum;
    }
}

pub(crate) fn put_len(out: &mut Vec<u8>, len: usize) {
    out.extend((len as u64).to_le_bytes());
}

/// Reads little-endian values, failing instead of reading past the end.
pub(crate) struct Reader<'a> {
    pub(crate) bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn slice(&mut self, len: usize) -> Result<&'a [u8], ModelError> {
        if len > self.bytes.len() {
            return Err(ModelError::Format("truncated".into()));
        }
        let (head, tail) = self.bytes.split_at(len);
        self.bytes = tail;
        Ok(head)
    }

    pub(crate) fn take<const N: usize>(&mut self) -> Result<[u8; N], ModelError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.slice(N)?);
        Ok(out)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, ModelError> {
        Ok(u32::from_le_bytes(self.take()?))
    }

    pub(crate) fn f32(&mut self) -> Result<f32, ModelError> {
        Ok(f32::from_le_bytes(self.take()?))
    }

    /// A length whose items take at least `item_bytes` each: longer than the bytes left is an
    /// error, so a corrupted length cannot ask for a huge allocation.
    pub(crate) fn len(&mut self, item_bytes: usize) -> Result<usize, ModelError> {
        let len = u64::from_le_bytes(self.take()?);
        match usize::try_from(len) {
            Ok(len) if len.saturating_mul(item_bytes) <= self.bytes.len() => Ok(len),
            _ => Err(ModelError::Format(format!("length {len} is longer than the bytes left"))),
        }
    }

    pub(crate) fn u32s(&mut self, n: usize) -> Result<Vec<u32>, ModelError> {
        let bytes =
            self.slice(n.checked_mul(4).ok_or_else(|| ModelError::Format("too long".into()))?)?;
        Ok(bytes.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }

    pub(crate) fn f32s(&mut self, n: usize) -> Result<Vec<f32>, ModelError> {
        let values: Vec<f32> = self.u32s(n)?.into_iter().map(f32::from_bits).collect();
        if values.iter().any(|v| !v.is_finite()) {
            return Err(ModelError::Format("a weight is not finite".into()));
        }
        Ok(values)
    }
}

/// The objective of the module docs and its gradient `(loss, dW, db)`, in `f64`, computed
/// from the same [`forward`] and softmax as the SGD steps (for the gradient check).
#[cfg(test)]
fn objective(
    rows: &Rows,
    labels: &[u32],
    weights: &[f32],
    bias: &[f32],
    l2: f64,
) -> (f64, Vec<f64>, Vec<f64>) {
    let n_intents = bias.len();
    let n = rows.len() as f64;
    let mut loss = 0.5 * l2 * weights.iter().map(|w| f64::from(*w).powi(2)).sum::<f64>();
    let mut grad_w: Vec<f64> = weights.iter().map(|w| l2 * f64::from(*w)).collect();
    let mut grad_b = vec![0.0f64; n_intents];
    let mut logits = vec![0.0f32; n_intents];
    for (idx, &label) in labels.iter().enumerate() {
        let (columns, values) = rows.row(idx);
        forward(columns, values, weights, 1.0, bias, &mut logits);
        softmax_in_place(&mut logits);
        loss -= f64::from(logits[label as usize]).ln() / n;
        logits[label as usize] -= 1.0;
        for (&column, &value) in columns.iter().zip(values) {
            for (k, d) in logits.iter().enumerate() {
                grad_w[column as usize * n_intents + k] += f64::from(value) * f64::from(*d) / n;
            }
        }
        for (g, d) in grad_b.iter_mut().zip(&logits) {
            *g += f64::from(*d) / n;
        }
    }
    (loss, grad_w, grad_b)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn train_cached_writes_once_reads_back_and_retrains_over_a_bad_file() {
        let (queries, intents) = toy();
        let config = TrainConfig::default();
        let seed = Seed::new(5);
        let dir =
            std::env::temp_dir().join(format!("stressor-intent-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let trained = Classifier::train_cached(&queries, &intents, &config, seed, Some(&dir))
            .expect("trains");
        let file = dir.join(format!("intent-{}.bin", config.cache_key(&queries, &intents, seed)));
        let written = std::fs::read(&file).expect("the cache file is written");
        assert_eq!(written, trained.to_bytes());
        // A file that reads is used as is: a marker model (another seed) comes back.
        let other = Classifier::train(&queries, &intents, &config, Seed::new(6)).expect("trains");
        std::fs::write(&file, other.to_bytes()).expect("writable");
        let read =
            Classifier::train_cached(&queries, &intents, &config, seed, Some(&dir)).expect("reads");
        assert_eq!(read.to_bytes(), other.to_bytes());
        // A damaged file is trained over and rewritten.
        std::fs::write(&file, b"not a model").expect("writable");
        let again = Classifier::train_cached(&queries, &intents, &config, seed, Some(&dir))
            .expect("retrains");
        assert_eq!(again.to_bytes(), trained.to_bytes());
        assert_eq!(std::fs::read(&file).expect("rewritten"), trained.to_bytes());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn softmax_gradient_matches_finite_differences() {
        // Three rows over four columns and three intents, with weights away from zero.
        let rows = Rows {
            start: vec![0, 2, 5, 6],
            columns: vec![0, 2, 0, 1, 3, 2],
            values: vec![0.6, 0.8, 0.5, 0.5, 0.707, 1.0],
        };
        let labels = [0, 2, 1];
        let weights: Vec<f32> = (0..12).map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.1).collect();
        let bias = vec![0.1, -0.2, 0.05];
        let l2 = 0.3;
        let (_, grad_w, grad_b) = objective(&rows, &labels, &weights, &bias, l2);
        let eps = 1e-3f32;
        for idx in 0..weights.len() {
            let mut plus = weights.clone();
            plus[idx] += eps;
            let mut minus = weights.clone();
            minus[idx] -= eps;
            let numeric = (objective(&rows, &labels, &plus, &bias, l2).0
                - objective(&rows, &labels, &minus, &bias, l2).0)
                / (2.0 * f64::from(eps));
            assert!((numeric - grad_w[idx]).abs() < 1e-3, "w[{idx}]: {numeric} vs {}", grad_w[idx]);
        }
        for idx in 0..bias.len() {
            let mut plus = bias.clone();
            plus[idx] += eps;
            let mut minus = bias.clone();
            minus[idx] -= eps;
            let numeric = (objective(&rows, &labels, &weights, &plus, l2).0
                - objective(&rows, &labels, &weights, &minus, l2).0)
                / (2.0 * f64::from(eps));
            assert!((numeric - grad_b[idx]).abs() < 1e-3, "b[{idx}]: {numeric} vs {}", grad_b[idx]);
        }
    }

    #[test]
    fn sgd_lowers_the_objective() {
        let (queries, intents) = toy();
        let config = TrainConfig { epochs: 30, ..TrainConfig::default() };
        let model = Classifier::train(&queries, &intents, &config, Seed::new(1)).expect("trains");
        let mut rows = Rows { start: vec![0], ..Rows::default() };
        let mut labels = Vec::new();
        for query in queries.iter().filter(|query| query.intent.is_some()) {
            let row = model.featurizer.transform(&query.text);
            rows.columns.extend(row.indices.iter().map(|&b| model.column_of[b as usize]));
            rows.values.extend(row.values);
            rows.start.push(rows.columns.len());
            labels.push(query.intent.unwrap_or_default());
        }
        let l2 = f64::from(config.l2);
        let zero = objective(&rows, &labels, &vec![0.0; model.weights.len()], &[0.0; 3], l2).0;
        let trained = objective(&rows, &labels, &model.weights, &model.bias, l2).0;
        assert!((zero - 3f64.ln()).abs() < 1e-6);
        assert!(trained < 0.1 * zero, "{trained} vs {zero}");
    }

    #[test]
    fn same_seed_same_bytes_and_bytes_round_trip() {
        let (queries, intents) = toy();
        let config = TrainConfig::default();
        let first = Classifier::train(&queries, &intents, &config, Seed::new(5)).expect("trains");
        let second = Classifier::train(&queries, &intents, &config, Seed::new(5)).expect("trains");
        let other = Classifier::train(&queries, &intents, &config, Seed::new(6)).expect("trains");
        let bytes = first.to_bytes();
        assert_eq!(bytes, second.to_bytes());
        assert_ne!(bytes, other.to_bytes());
        assert_eq!(Classifier::from_bytes(&bytes).expect("round trip"), first);
        assert_eq!(
            config.cache_key(&queries, &intents, Seed::new(5)),
            config.cache_key(&queries, &intents, Seed::new(5))
        );
        assert_ne!(
            config.cache_key(&queries, &intents, Seed::new(5)),
            config.cache_key(&queries[1..], &intents, Seed::new(5))
        );
        let l2 = TrainConfig { l2: 1e-4, ..config };
        assert_ne!(
            config.cache_key(&queries, &intents, Seed::new(5)),
            l2.cache_key(&queries, &intents, Seed::new(5))
        );
    }

    #[test]
    fn bad_bytes_are_errors() {
        let (queries, intents) = toy();
        let bytes = Classifier::train(&queries, &intents, &TrainConfig::default(), Seed::new(5))
            .expect("trains")
            .to_bytes();
        for len in [0, 4, 8, 20, 100, bytes.len() / 2, bytes.len() - 1] {
            assert!(Classifier::from_bytes(&bytes[..len]).is_err(), "truncated to {len}");
        }
        for pos in [0, 9, 30, bytes.len() / 2, bytes.len() - 3] {
            let mut flipped = bytes.clone();
            flipped[pos] ^= 0x40;
            assert!(Classifier::from_bytes(&flipped).is_err(), "flipped byte {pos}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Classifier::from_bytes(&longer).is_err());
        let mut version = bytes;
        version[8] = 99;
        let err = Classifier::from_bytes(&version).expect_err("wrong version");
        assert_eq!(
            err.to_string(),
            "not a stressor intent classifier: format version 99, this build reads 1"
        );
    }

    #[test]
    fn bad_training_input_is_an_error() {
        let (mut queries, intents) = toy();
        let config = TrainConfig::default();
        assert!(matches!(
            Classifier::train(&queries, &[], &config, Seed::new(1)),
            Err(ModelError::NoData(_))
        ));
        let oos_only = [Query { text: "x".into(), intent: None }];
        assert!(matches!(
            Classifier::train(&oos_only, &intents, &config, Seed::new(1)),
            Err(ModelError::NoData(_))
        ));
        for bad in [
            TrainConfig { l2: f32::NAN, ..config },
            TrainConfig { l2: -1.0, ..config },
            TrainConfig { epochs: 0, ..config },
            TrainConfig { learning_rate: 0.0, ..config },
            TrainConfig { features: FeatureConfig { hash_bits: 30, ..config.features }, ..config },
        ] {
            assert!(matches!(
                Classifier::train(&queries, &intents, &bad, Seed::new(1)),
                Err(ModelError::Config(_))
            ));
        }
        queries[2].intent = Some(3);
        let err =
            Classifier::train(&queries, &intents, &config, Seed::new(1)).expect_err("out of range");
        assert_eq!(err, ModelError::IntentOutOfRange { row: 2, intent: 3, n_intents: 3 });
    }

    #[test]
    fn replies_to_odd_inputs_are_valid() {
        let (queries, intents) = toy();
        let model = Classifier::train(&queries, &intents, &TrainConfig::default(), Seed::new(3))
            .expect("trains");
        let long = "play music ".repeat(10_000);
        let texts = [
            "",
            "   ",
            "\u{0}\u{7}\u{1b}",
            "天気はどう",
            "🙂",
            long.as_str(),
            "what is the weather",
        ];
        let replies = model.reply(&texts).expect("answers");
        assert_eq!(replies.len(), texts.len());
        for (text, reply) in texts.iter().zip(&replies) {
            let Reply::Intent { intent, confidence, scores: Some(scores) } = reply else {
                panic!("{text:.20}: {reply:?}");
            };
            assert!((*intent as usize) < intents.len());
            assert!((scores.probs.iter().sum::<f32>() - 1.0).abs() < 1e-4);
            assert_eq!(*confidence, scores.probs[*intent as usize]);
            let distance = scores.distance.expect("distance");
            assert!((0.0..=1.0).contains(&distance), "{text:.20}: {distance}");
        }
        // No tokens: nothing in common with any intent.
        assert_eq!(replies[0].clone(), model.reply_one(""));
        assert!(
            matches!(&replies[0], Reply::Intent { scores: Some(s), .. } if s.distance == Some(1.0))
        );
        // A training query is closer to the data than a string of unseen characters.
        let near = model.scores("what is the weather today").distance.unwrap_or(1.0);
        let far = model.scores("zzqx vvkk").distance.unwrap_or(0.0);
        assert!(near < 0.5 && far > 0.9, "{near} {far}");
        assert_eq!(replies[6].intent().map(|(intent, _)| intent), Some(0));
    }
}
