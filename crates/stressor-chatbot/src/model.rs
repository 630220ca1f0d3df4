//! The chatbot under test and its queries: the corpus, the built-in classifier (trained or
//! read from the cache), a user's chatbot over HTTP, and the evaluated sample.

use std::collections::BTreeMap;
use std::sync::Arc;

use rand::seq::SliceRandom as _;
use stressor_core::Seed;
use stressor_intent::{Classifier, Corpus, FeatureConfig, IntentModel, Query, TrainConfig};
use stressor_scenario::{EngineConfig, EngineError};

use stressor_intent::minilm::{EmbeddingClassifier, HeadConfig, SentenceEncoder};

use crate::plan::{BuiltinPlan, ChatbotPlan, DataSource, MiniLmPlan, ModelPlan};
use crate::remote::Remote;
use crate::run::chatbot_error;

/// The corpus the plan names.
pub(crate) fn corpus(plan: &ChatbotPlan) -> Result<Corpus, EngineError> {
    match &plan.data {
        DataSource::Clinc150 => stressor_intent::clinc150(),
        DataSource::File(path) => stressor_intent::read_corpus(path),
    }
    .map_err(|e| chatbot_error(format!("chatbot.data: {e}")))
}

/// The training settings of a built-in plan.
pub(crate) fn train_config(plan: &BuiltinPlan) -> TrainConfig {
    let mut config = TrainConfig::default();
    if let Some(epochs) = plan.epochs {
        config.epochs = epochs.min(u32::MAX as usize) as u32;
    }
    if let Some(l2) = plan.l2 {
        config.l2 = l2 as f32;
    }
    if plan.words_only {
        config.features = FeatureConfig { char_ngram_min: 0, char_ngram_max: 0, ..config.features };
    }
    config
}

/// The built-in classifier trained on `corpus.train`, from the cache when it is there.
pub(crate) fn builtin(
    plan: &BuiltinPlan,
    corpus: &Corpus,
    config: &EngineConfig,
    seed: Seed,
) -> Result<Classifier, EngineError> {
    let train = train_config(plan);
    Classifier::train_cached(
        &corpus.train,
        &corpus.intents,
        &train,
        seed,
        config.cache_dir.as_deref(),
    )
    .map_err(|e| chatbot_error(format!("training the built-in classifier: {e}")))
}

/// The built-in CLINC150 classifier with the default settings, trained with `seed` or read from
/// `cache_dir` (the file a scenario with the same seed and settings uses): what
/// `stressor serve --chatbot` serves.
///
/// # Errors
/// When CLINC150 cannot be read or the training fails.
pub fn builtin_clinc150(
    cache_dir: Option<std::path::PathBuf>,
    seed: Seed,
) -> Result<Classifier, EngineError> {
    let corpus =
        stressor_intent::clinc150().map_err(|e| chatbot_error(format!("reading CLINC150: {e}")))?;
    let config = EngineConfig { cache_dir, ..EngineConfig::default() };
    builtin(&BuiltinPlan::default(), &corpus, &config, seed)
}

/// A trained model from the cache directory's `file` when it is there and reads, otherwise
/// `train`ed and written there (atomically; a cache that cannot be written only costs the next
/// run its training time).
fn cached<M>(
    config: &EngineConfig,
    file: &str,
    read: impl FnOnce(&[u8]) -> Option<M>,
    train: impl FnOnce() -> Result<M, EngineError>,
    write: impl FnOnce(&M) -> Vec<u8>,
) -> Result<M, EngineError> {
    let path = config.cache_dir.as_ref().map(|dir| dir.join(file));
    if let Some(path) = &path
        && let Ok(bytes) = std::fs::read(path)
        && let Some(model) = read(&bytes)
    {
        return Ok(model);
    }
    let model = train()?;
    if let Some(path) = &path {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let tmp = path.with_extension("tmp");
        if std::fs::write(&tmp, write(&model)).is_ok() {
            let _ = std::fs::rename(&tmp, path);
        }
    }
    Ok(model)
}

/// The sentence-embedding classifier: the encoder read from its folder, the head trained on
/// `corpus.train` (or read from the cache, keyed by the encoder's fingerprint, the head's
/// settings, the data and the seed).
pub(crate) fn minilm(
    plan: &MiniLmPlan,
    corpus: &Corpus,
    config: &EngineConfig,
    seed: Seed,
) -> Result<EmbeddingClassifier, EngineError> {
    let encoder = SentenceEncoder::load(&plan.path).map_err(|e| {
        chatbot_error(format!(
            "chatbot.model.path: {e} (`cargo xtask fetch-minilm` fetches all-MiniLM-L6-v2 into target/minilm)"
        ))
    })?;
    let encoder = Arc::new(encoder);
    let mut head = HeadConfig::default();
    if let Some(epochs) = plan.epochs {
        head.epochs = epochs.min(u32::MAX as usize) as u32;
    }
    if let Some(l2) = plan.l2 {
        head.l2 = l2 as f32;
    }
    let key = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        encoder.fingerprint().hash(&mut h);
        (head.epochs, head.l2.to_bits(), head.learning_rate.to_bits(), seed.value()).hash(&mut h);
        corpus.intents.hash(&mut h);
        for q in &corpus.train {
            (&q.text, q.intent).hash(&mut h);
        }
        format!("{:016x}", h.finish())
    };
    let for_cache = Arc::clone(&encoder);
    cached(
        config,
        &format!("minilm-head-{key}.bin"),
        |bytes| EmbeddingClassifier::from_bytes(for_cache, bytes).ok(),
        || {
            EmbeddingClassifier::train(encoder, &corpus.train, &corpus.intents, &head, seed)
                .map_err(|e| chatbot_error(format!("training the sentence-embedding head: {e}")))
        },
        EmbeddingClassifier::to_bytes,
    )
}

/// The chatbot the plan names.
pub(crate) fn load(
    plan: &ModelPlan,
    corpus: &Corpus,
    config: &EngineConfig,
    seed: Seed,
) -> Result<Arc<dyn IntentModel>, EngineError> {
    Ok(load_with_remote(plan, corpus, config, seed)?.0)
}

/// A loaded chatbot and, when it is a user's over HTTP, its client.
pub(crate) type Loaded = (Arc<dyn IntentModel>, Option<Arc<Remote>>);

/// The chatbot the plan names and, for a user's chatbot over HTTP, its client as such (the
/// surge loads its endpoint directly).
pub(crate) fn load_with_remote(
    plan: &ModelPlan,
    corpus: &Corpus,
    config: &EngineConfig,
    seed: Seed,
) -> Result<Loaded, EngineError> {
    match plan {
        ModelPlan::Builtin(b) => Ok((Arc::new(builtin(b, corpus, config, seed)?), None)),
        ModelPlan::MiniLm(m) => Ok((Arc::new(minilm(m, corpus, config, seed)?), None)),
        ModelPlan::Http(h) => {
            let remote = Arc::new(Remote::connect(h, &corpus.intents)?);
            Ok((Arc::clone(&remote) as Arc<dyn IntentModel>, Some(remote)))
        }
    }
}

/// The evaluated queries — `plan.samples` in-scope test queries stratified by intent, then
/// `plan.off_topic_samples` off-topic ones, each seeded — and the off-topic queries left over
/// (the rest of the test split, then train), for the off-topic stress.
pub(crate) fn sample(
    plan: &ChatbotPlan,
    corpus: &Corpus,
    intents: &[String],
    seed: Seed,
) -> Result<(Vec<Query>, Vec<Query>), EngineError> {
    if intents != corpus.intents.as_slice() {
        // A user's chatbot names intents itself: map the corpus's onto its list.
        let missing: Vec<&String> =
            corpus.intents.iter().filter(|i| !intents.contains(i)).collect();
        if !missing.is_empty() {
            return Err(chatbot_error(format!(
                "the chatbot does not know {} of the data's intents (first: `{}`)",
                missing.len(),
                missing[0]
            )));
        }
    }
    let remap = |q: &Query| -> Query {
        Query {
            text: q.text.clone(),
            intent: q.intent.and_then(|i| {
                let name = &corpus.intents[i as usize];
                intents.iter().position(|n| n == name).map(|p| p as u32)
            }),
        }
    };
    let mut by_intent: BTreeMap<u32, Vec<&Query>> = BTreeMap::new();
    for q in corpus.test.iter().filter(|q| q.intent.is_some()) {
        by_intent.entry(q.intent.unwrap_or(0)).or_default().push(q);
    }
    if by_intent.is_empty() {
        return Err(chatbot_error("chatbot.data: the test split has no in-scope query"));
    }
    let mut rng = seed.derive("sample").rng();
    for list in by_intent.values_mut() {
        list.shuffle(&mut rng);
    }
    // Round-robin over the intents: a stratified sample of any size.
    let mut in_scope = Vec::new();
    let total: usize = by_intent.values().map(Vec::len).sum();
    let want = plan.samples.min(total);
    let mut round = 0;
    while in_scope.len() < want {
        for list in by_intent.values() {
            if let Some(q) = list.get(round)
                && in_scope.len() < want
            {
                in_scope.push(remap(q));
            }
        }
        round += 1;
    }
    in_scope.shuffle(&mut rng);
    let mut off_topic: Vec<&Query> = corpus.oos_test.iter().collect();
    off_topic.shuffle(&mut rng);
    let mut train_off: Vec<&Query> = corpus.oos_train.iter().collect();
    train_off.shuffle(&mut rng);
    let take = plan.off_topic_samples.min(off_topic.len());
    let mut queries = in_scope;
    queries.extend(off_topic[..take].iter().map(|q| remap(q)));
    let spare: Vec<Query> =
        off_topic[take..].iter().chain(train_off.iter()).map(|q| remap(q)).collect();
    Ok((queries, spare))
}
