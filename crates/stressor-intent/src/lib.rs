//! Intent classification: what the chatbot family puts under stress.
//!
//! - [`IntentModel`]: a chatbot as stressor sees it — queries in, one [`Reply`] per query out
//!   (an intent with its confidence and, when the model exposes them, its scores; the bot's own
//!   decline; a reply that cannot be mapped; no reply). The built-in classifier, a served
//!   chatbot over HTTP and a user's own endpoint all implement it.
//! - [`clinc150`]: the vendored CLINC150 data set (150 intents, out-of-scope queries) as a
//!   [`Corpus`]; [`read_corpus`] reads a user's corpus in the same layout.
//! - [`Featurizer`]: hashed TF-IDF word and character n-gram features ([`SparseRow`]s).
//! - [`Classifier`]: the built-in chatbot, a softmax regression over those features trained
//!   in-process ([`TrainConfig`]), with an out-of-scope distance beside its probabilities.
//!
//! - `minilm` (feature `minilm`): a BERT sentence encoder (all-MiniLM-L6-v2 on candle) and
//!   `EmbeddingClassifier`, a softmax head over its embeddings (plain code spans: the module
//!   does not exist without the feature).
//!
//! Non-goals: training neural encoders, text generation, serving (the chat server serves any
//! `Arc<dyn IntentModel>`), perturbing text.

#![warn(missing_docs)]

mod classifier;
mod clinc;
mod features;
#[cfg(feature = "minilm")]
pub mod minilm;

use std::fmt;

pub use classifier::{Classifier, ModelError, TrainConfig};
pub use clinc::{Corpus, DataError, Domain, OOS_LABEL, clinc150, parse_corpus, read_corpus};
pub use features::{FeatureConfig, FeatureError, Featurizer, SparseRow};

/// A labelled query: its text and its true intent (`None`: out of scope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The text.
    pub text: String,
    /// The index of its intent in the model's intent list; `None` for an out-of-scope query.
    pub intent: Option<u32>,
}

/// The scores a model exposes for one query, beside its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    /// Probabilities over the intents (they sum to 1).
    pub probs: Vec<f32>,
    /// The logits behind them (for the energy score), when the model has them.
    pub logits: Option<Vec<f32>>,
    /// Distance of the query from the training data in the model's feature space (larger:
    /// further out of scope), when the model can compute it.
    pub distance: Option<f32>,
}

/// What a chatbot said about one query.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// An intent, with the model's confidence in it (its top probability for the built-in
    /// classifier) and its scores when exposed.
    Intent {
        /// The intent's index.
        intent: u32,
        /// The confidence in [0, 1].
        confidence: f32,
        /// The full scores, when the model exposes them.
        scores: Option<Scores>,
    },
    /// The chatbot itself declined (said it cannot help, or handed off).
    Declined,
    /// A reply arrived but cannot be mapped to an intent (the reason says why).
    Unmapped(String),
    /// No usable reply: an error status, a timeout, a refused connection.
    Failed(String),
}

impl Reply {
    /// The most probable intent of `scores` (the first of equals), its probability as the
    /// confidence, and the scores.
    pub fn most_probable(scores: Scores) -> Reply {
        let (intent, confidence) =
            scores.probs.iter().enumerate().fold((0, f32::NEG_INFINITY), |best, (idx, &p)| {
                if p > best.1 { (idx, p) } else { best }
            });
        Reply::Intent { intent: intent as u32, confidence, scores: Some(scores) }
    }

    /// The answered intent and confidence, when there is one.
    pub fn intent(&self) -> Option<(u32, f32)> {
        match self {
            Reply::Intent { intent, confidence, .. } => Some((*intent, *confidence)),
            _ => None,
        }
    }
}

/// Why a model could not answer at all (not one query's failure: that is a [`Reply`]).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct IntentError(pub String);

/// A chatbot under test: the intents it knows and a reply per query.
pub trait IntentModel: Send + Sync {
    /// Its intents, indexed as [`Reply::Intent`] and [`Query::intent`] index them.
    fn intents(&self) -> &[String];

    /// One reply per text, in order. A query that fails is a [`Reply::Failed`]; `Err` means
    /// the model cannot be used at all.
    ///
    /// # Errors
    /// [`IntentError`] when the model cannot answer anything.
    fn reply(&self, texts: &[&str]) -> Result<Vec<Reply>, IntentError>;

    /// What it is, for reports (`built-in n-gram classifier`, `http://…`).
    fn describe(&self) -> String;
}

impl fmt::Debug for dyn IntentModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntentModel").field("describe", &self.describe()).finish()
    }
}
