//! Hashed TF-IDF features of a query: word n-grams and character n-grams in one sparse row.
//!
//! A text becomes features in four steps:
//!
//! 1. **Tokens.** The text is lowercased (Unicode `to_lowercase`) and split into maximal runs of
//!    alphanumeric characters (`char::is_alphanumeric`); everything else — spaces,
//!    punctuation, apostrophes, control characters — separates tokens. Unlike scikit-learn's
//!    default token pattern, one-character tokens are kept ("i", "a", "5").
//! 2. **N-grams.** Word n-grams of 1 to [`FeatureConfig::word_ngram_max`] tokens, and character
//!    n-grams of [`FeatureConfig::char_ngram_min`] to [`FeatureConfig::char_ngram_max`]
//!    characters taken *within* each token padded with a space on both sides, as
//!    scikit-learn's `analyzer="char_wb"` does (a padded token no longer than `n` gives itself
//!    once and stops the longer n-grams).
//! 3. **Hashing.** Each n-gram is hashed with 64-bit FNV-1a over a kind byte (`w` or `c`, so
//!    the word "ab" and the character bigram "ab" differ) and its UTF-8 bytes (a word n-gram's
//!    tokens joined by a space), then mixed with splitmix64's finalizer; the low
//!    [`FeatureConfig::hash_bits`] bits pick the bucket. Hashing is unsigned: colliding n-grams
//!    add up. The function is fixed, so features are the same on every platform and run.
//! 4. **Weights.** Sublinear term frequency `1 + ln(count)` times the smoothed inverse document
//!    frequency `ln((1 + n) / (1 + df)) + 1` fitted on the training texts (scikit-learn's
//!    `TfidfTransformer(sublinear_tf=True, smooth_idf=True)`; a bucket no training text has
//!    gets `df = 0`), and the row is scaled to unit L2 norm.
//!
//! Rows are sparse: sorted bucket [`SparseRow::indices`] and their [`SparseRow::values`].

/// Which n-grams a [`Featurizer`] extracts and how many hash buckets it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FeatureConfig {
    /// Log2 of the number of hash buckets, in `4..=24` (default 18: 262,144 buckets).
    pub hash_bits: u8,
    /// The longest word n-gram (default 2: unigrams and bigrams); 0 for no word features.
    pub word_ngram_max: u8,
    /// The shortest character n-gram (default 2), at least 1.
    pub char_ngram_min: u8,
    /// The longest character n-gram (default 5); 0 for no character features.
    pub char_ngram_max: u8,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig { hash_bits: 18, word_ngram_max: 2, char_ngram_min: 2, char_ngram_max: 5 }
    }
}

/// One text's features: sorted, distinct bucket indices and their weights.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseRow {
    /// Bucket indices, strictly increasing, each below `2^hash_bits`.
    pub indices: Vec<u32>,
    /// The weight of each bucket (the row has unit L2 norm unless it is empty).
    pub values: Vec<f32>,
}

/// An invalid [`FeatureConfig`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid feature config: {0}")]
pub struct FeatureError(pub String);

/// Turns texts into hashed TF-IDF rows; its IDF is fitted on training texts.
#[derive(Debug, Clone, PartialEq)]
pub struct Featurizer {
    config: FeatureConfig,
    n_docs: u32,
    /// Document frequency of each bucket.
    doc_freq: Vec<u32>,
    /// `ln((1 + n) / (1 + df)) + 1` of each bucket.
    idf: Vec<f32>,
}

impl FeatureConfig {
    /// Checks the ranges documented on the fields.
    ///
    /// # Errors
    /// [`FeatureError`] saying which field is out of range.
    pub fn validate(&self) -> Result<(), FeatureError> {
        if !(4..=24).contains(&self.hash_bits) {
            return Err(FeatureError(format!("hash_bits {} is not in 4..=24", self.hash_bits)));
        }
        if self.char_ngram_max > 0 && !(1..=self.char_ngram_max).contains(&self.char_ngram_min) {
            return Err(FeatureError(format!(
                "char_ngram_min {} is not in 1..=char_ngram_max ({})",
                self.char_ngram_min, self.char_ngram_max
            )));
        }
        if self.word_ngram_max == 0 && self.char_ngram_max == 0 {
            return Err(FeatureError("no word and no character n-grams".into()));
        }
        Ok(())
    }

    /// The number of hash buckets, `2^hash_bits`.
    pub fn n_buckets(&self) -> usize {
        1 << self.hash_bits
    }
}

impl Featurizer {
    /// Fits the IDF on `texts`.
    ///
    /// # Errors
    /// [`FeatureError`] when the config is invalid.
    pub fn fit<'a>(
        config: FeatureConfig,
        texts: impl IntoIterator<Item = &'a str>,
    ) -> Result<Featurizer, FeatureError> {
        config.validate()?;
        let mut doc_freq = vec![0u32; config.n_buckets()];
        let mut n_docs = 0u32;
        let mut buckets = Vec::new();
        for text in texts {
            n_docs = n_docs.saturating_add(1);
            buckets.clear();
            hash_ngrams(&config, text, &mut buckets);
            buckets.sort_unstable();
            buckets.dedup();
            for &bucket in &buckets {
                doc_freq[bucket as usize] = doc_freq[bucket as usize].saturating_add(1);
            }
        }
        Featurizer::from_doc_freq(config, n_docs, doc_freq)
    }

    /// A featurizer from its fitted state (for deserialisation).
    ///
    /// # Errors
    /// [`FeatureError`] when the config is invalid or `doc_freq` does not have one entry per
    /// bucket.
    pub(crate) fn from_doc_freq(
        config: FeatureConfig,
        n_docs: u32,
        doc_freq: Vec<u32>,
    ) -> Result<Featurizer, FeatureError> {
        config.validate()?;
        if doc_freq.len() != config.n_buckets() {
            return Err(FeatureError(format!(
                "{} document frequencies for {} buckets",
                doc_freq.len(),
                config.n_buckets()
            )));
        }
        let numerator = 1.0 + f64::from(n_docs);
        let idf = doc_freq
            .iter()
            .map(|&df| ((numerator / (1.0 + f64::from(df))).ln() + 1.0) as f32)
            .collect();
        Ok(Featurizer { config, n_docs, doc_freq, idf })
    }

    /// The config it was fitted with.
    pub fn config(&self) -> &FeatureConfig {
        &self.config
    }

    /// The number of texts the IDF was fitted on.
    pub fn n_docs(&self) -> u32 {
        self.n_docs
    }

    /// The document frequency of each bucket.
    pub fn doc_freq(&self) -> &[u32] {
        &self.doc_freq
    }

    /// The features of one text: an empty row when it has no tokens.
    ///
    /// # Examples
    /// ```
    /// use stressor_intent::{FeatureConfig, Featurizer};
    /// let featurizer = Featurizer::fit(FeatureConfig::default(), ["book a flight", "play music"])?;
    /// let row = featurizer.transform("Book a FLIGHT!");
    /// let norm: f32 = row.values.iter().map(|v| v * v).sum();
    /// assert!((norm - 1.0).abs() < 1e-5);
    /// assert!(featurizer.transform("  ?! ").indices.is_empty());
    /// # Ok::<(), stressor_intent::FeatureError>(())
    /// ```
    pub fn transform(&self, text: &str) -> SparseRow {
        let mut buckets = Vec::new();
        hash_ngrams(&self.config, text, &mut buckets);
        buckets.sort_unstable();
        let mut row = SparseRow::default();
        let mut start = 0;
        while start < buckets.len() {
            let bucket = buckets[start];
            let end = start + buckets[start..].iter().take_while(|&&b| b == bucket).count();
            let count = (end - start) as f32;
            row.indices.push(bucket);
            row.values.push((1.0 + count.ln()) * self.idf[bucket as usize]);
            start = end;
        }
        let norm = row.values.iter().map(|v| f64::from(*v) * f64::from(*v)).sum::<f64>().sqrt();
        if norm > 0.0 {
            for value in &mut row.values {
                *value = (f64::from(*value) / norm) as f32;
            }
        }
        row
    }
}

/// The bucket of one n-gram: `kind` (`b'w'` or `b'c'`) then its bytes, as documented in the
/// module docs.
#[cfg(test)]
fn bucket_of(kind: u8, bytes: &[u8], hash_bits: u8) -> u32 {
    let mut hash = Fnv::new(kind);
    hash.write(bytes);
    hash.bucket(hash_bits)
}

/// Pushes the bucket of every n-gram of `text` (with repeats) onto `out`.
fn hash_ngrams(config: &FeatureConfig, text: &str, out: &mut Vec<u32>) {
    let lower = text.to_lowercase();
    let tokens: Vec<&str> =
        lower.split(|c: char| !c.is_alphanumeric()).filter(|token| !token.is_empty()).collect();
    let bits = config.hash_bits;
    for n in 1..=usize::from(config.word_ngram_max) {
        for window in tokens.windows(n) {
            let mut hash = Fnv::new(b'w');
            for (idx, token) in window.iter().enumerate() {
                if idx > 0 {
                    hash.write(b" ");
                }
                hash.write(token.as_bytes());
            }
            out.push(hash.bucket(bits));
        }
    }
    if config.char_ngram_max == 0 {
        return;
    }
    let mut padded = Vec::new();
    for token in &tokens {
        padded.clear();
        padded.push(' ');
        padded.extend(token.chars());
        padded.push(' ');
        for n in usize::from(config.char_ngram_min)..=usize::from(config.char_ngram_max) {
            if padded.len() <= n {
                out.push(hash_chars(&padded, bits));
                break;
            }
            out.extend(padded.windows(n).map(|window| hash_chars(window, bits)));
        }
    }
}

fn hash_chars(chars: &[char], bits: u8) -> u32 {
    let mut hash = Fnv::new(b'c');
    let mut utf8 = [0u8; 4];
    for c in chars {
        hash.write(c.encode_utf8(&mut utf8).as_bytes());
    }
    hash.bucket(bits)
}

/// 64-bit FNV-1a, finalised with splitmix64's mixer so that the low bits depend on every byte.
pub(crate) struct Fnv(u64);

impl Fnv {
    pub(crate) fn new(kind: u8) -> Fnv {
        let mut hash = Fnv(0xcbf2_9ce4_8422_2325);
        hash.write(&[kind]);
        hash
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub(crate) fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn bucket(&self, bits: u8) -> u32 {
        (self.finish() & ((1u64 << bits) - 1)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORDS: FeatureConfig =
        FeatureConfig { hash_bits: 20, word_ngram_max: 2, char_ngram_min: 2, char_ngram_max: 0 };

    fn sorted_buckets(config: &FeatureConfig, text: &str) -> Vec<u32> {
        let mut buckets = Vec::new();
        hash_ngrams(config, text, &mut buckets);
        buckets.sort_unstable();
        buckets
    }

    fn expected(config: &FeatureConfig, ngrams: &[(u8, &str)]) -> Vec<u32> {
        let mut buckets: Vec<u32> = ngrams
            .iter()
            .map(|(kind, text)| bucket_of(*kind, text.as_bytes(), config.hash_bits))
            .collect();
        buckets.sort_unstable();
        buckets
    }

    #[test]
    fn ngrams_are_words_and_padded_characters() {
        let config = FeatureConfig::default();
        // "Ab, ab!" lowercases to two tokens "ab": unigrams ab ×2, bigram "ab ab"; the padded
        // token " ab " gives " a", "ab", "b " (n = 2), " ab", "ab " (n = 3) and itself once
        // (n = 4, as long as the padded token: longer n-grams stop), all twice.
        let chars = [" a", "ab", "b ", " ab", "ab ", " ab "];
        let mut ngrams = vec![(b'w', "ab"), (b'w', "ab"), (b'w', "ab ab")];
        ngrams.extend(chars.iter().chain(&chars).map(|c| (b'c', *c)));
        assert_eq!(sorted_buckets(&config, "Ab, ab!"), expected(&config, &ngrams));
        // Non-ASCII characters are characters, not bytes; control characters separate tokens.
        let ngrams = [(b'w', "é"), (b'w', "x"), (b'w', "é x")]
            .into_iter()
            .chain([" é", "é ", " é ", " x", "x ", " x "].map(|c| (b'c', c)))
            .collect::<Vec<_>>();
        assert_eq!(sorted_buckets(&config, "É\u{0}x"), expected(&config, &ngrams));
        assert!(sorted_buckets(&config, "").is_empty());
    }

    #[test]
    fn word_and_character_ngrams_hash_apart() {
        assert_ne!(bucket_of(b'w', b"ab", 24), bucket_of(b'c', b"ab", 24));
        // Pinned: a change here changes every trained model's features.
        assert_eq!(bucket_of(b'w', b"ab", 18), bucket_of(b'w', b"ab", 24) & 0x3_ffff);
    }

    #[test]
    fn tfidf_matches_a_hand_computed_row() {
        let featurizer = Featurizer::fit(WORDS, ["a b", "a c"]).expect("valid config");
        // n = 2 documents. "a a b": tf(a) = 2, df(a) = 2 → (1 + ln 2)·(ln(3/3) + 1) = 1.693147;
        // "a a": df 0 → ln(3/1) + 1 = 2.098612; b and "a b": df 1 → ln(3/2) + 1 = 1.405465.
        // Norm sqrt(1.693147² + 2.098612² + 2·1.405465²) = 3.349863.
        let row = featurizer.transform("a a b");
        let want =
            [("a", 0.505_437_7), ("a a", 0.626_477), ("b", 0.419_558_9), ("a b", 0.419_558_9)];
        assert_eq!(row.indices.len(), want.len());
        for (ngram, value) in want {
            let bucket = bucket_of(b'w', ngram.as_bytes(), WORDS.hash_bits);
            let pos = row.indices.iter().position(|&b| b == bucket).expect("n-gram present");
            assert!(
                (row.values[pos] - value).abs() < 1e-6,
                "{ngram}: {} vs {value}",
                row.values[pos]
            );
        }
        assert!(row.indices.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn odd_inputs_give_rows_without_panicking() {
        let featurizer = Featurizer::fit(FeatureConfig::default(), ["hello world"]).expect("valid");
        let long = "word ".repeat(20_000) + &"x".repeat(50_000);
        for text in ["", " \t\n", "\u{7}\u{1b}[31m", "日本語のテキスト", "🙂🙂", "a", long.as_str()]
        {
            let row = featurizer.transform(text);
            let norm: f32 = row.values.iter().map(|v| v * v).sum();
            assert!(row.values.is_empty() || (norm - 1.0).abs() < 1e-4, "{text:.20}: {norm}");
            assert!(row.values.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn invalid_configs_are_errors() {
        let bad = [
            FeatureConfig { hash_bits: 3, ..FeatureConfig::default() },
            FeatureConfig { hash_bits: 25, ..FeatureConfig::default() },
            FeatureConfig { char_ngram_min: 0, ..FeatureConfig::default() },
            FeatureConfig { char_ngram_min: 6, ..FeatureConfig::default() },
            FeatureConfig { word_ngram_max: 0, char_ngram_max: 0, ..FeatureConfig::default() },
        ];
        for config in bad {
            assert!(Featurizer::fit(config, ["a"]).is_err(), "{config:?}");
        }
    }
}
