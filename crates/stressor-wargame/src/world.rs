//! What the fleet is trained on and what its customers send: the German credit applicants
//! (with their protected group), the card transactions with a known fraud process, and
//! CLINC150's customer queries. Built once per seed and shared by both blue teams, so they
//! play exactly the same traffic.

use std::sync::Arc;

use stressor_core::{Rng, Seed};
use stressor_intent::{Classifier, IntentModel, TrainConfig};
use stressor_scenario::EngineConfig;
use stressor_tabular::{
    Column, GERMAN_CREDIT_POSITIVE, GERMAN_CREDIT_TARGET, ModelSpec, Pipeline, Table,
};

use crate::fleet::Codec;
use crate::plan::{Protected, WargamePlan};

/// The credit model's features: every column of the German credit data but the label.
pub(crate) fn credit_features(table: &Table) -> Vec<String> {
    table
        .columns
        .iter()
        .map(|(name, _)| name.clone())
        .filter(|n| n != GERMAN_CREDIT_TARGET)
        .collect()
}

/// The column the credit drift shifts (a unit change in the pipeline).
pub(crate) const CREDIT_DRIFT_COLUMN: &str = "credit_amount";

/// The protected group (0 = unprivileged, 1 = privileged) of each German credit row.
pub(crate) fn groups(table: &Table, protected: Protected) -> Vec<u8> {
    match protected {
        Protected::Sex => match table.column("personal_status_and_sex") {
            Some(Column::Categorical(values)) => {
                values.iter().map(|v| u8::from(!v.starts_with("female"))).collect()
            }
            _ => vec![1; table.rows],
        },
        Protected::Age => match table.column("age_in_years") {
            Some(Column::Numeric(values)) => values.iter().map(|&a| u8::from(a >= 25.0)).collect(),
            _ => vec![1; table.rows],
        },
    }
}

/// Whether each German credit row is a good risk.
pub(crate) fn good(table: &Table) -> Vec<bool> {
    match table.column(GERMAN_CREDIT_TARGET) {
        Some(Column::Categorical(values)) => {
            values.iter().map(|v| v != GERMAN_CREDIT_POSITIVE).collect()
        }
        _ => vec![true; table.rows],
    }
}

/// Trains a credit pipeline on `table` (label column included).
pub(crate) fn train_credit(
    table: &Table,
    features: &[String],
    seed: Seed,
) -> Result<Pipeline, String> {
    Pipeline::fit(
        table,
        features,
        GERMAN_CREDIT_TARGET,
        GERMAN_CREDIT_POSITIVE,
        ModelSpec::Logistic { c: 0.3 },
        seed,
    )
    .map_err(|e| format!("training the credit model: {e}"))
}

/// Everything a seed's two games share.
pub(crate) struct World {
    /// The German credit data.
    pub(crate) german: Table,
    /// Its features.
    pub(crate) credit_features: Vec<String>,
    /// Rows used for the first champion (and in the feed at time 0).
    pub(crate) credit_train: Vec<usize>,
    /// Rows applicants are drawn from.
    pub(crate) credit_pool: Vec<usize>,
    /// Protected group per row.
    pub(crate) group: Vec<u8>,
    /// Good risk per row.
    pub(crate) good: Vec<bool>,
    /// The credit codec.
    pub(crate) credit_codec: Codec,
    /// The first credit champion.
    pub(crate) credit_model: Pipeline,
    /// The fraud world.
    pub(crate) fraud: crate::fraud::FraudWorld,
    /// The first fraud champion's training transactions.
    pub(crate) fraud_train: Table,
    /// The first fraud champion.
    pub(crate) fraud_model: Pipeline,
    /// The fraud codec.
    pub(crate) fraud_codec: Codec,
    /// The first credit champion's demographic parity ratio and accuracy on every applicant
    /// of the pool (the referee's baseline).
    pub(crate) credit_base: (f64, f64),
    /// The first fraud champion's recall on a large clean sample (the referee's baseline).
    pub(crate) fraud_base: f64,
    /// The chatbot.
    pub(crate) chatbot: Arc<dyn IntentModel>,
    /// Its intents.
    pub(crate) intents: Vec<String>,
    /// Customer queries: text and true intent (`None`: off-topic).
    pub(crate) queries: Vec<(String, Option<usize>)>,
}

impl World {
    /// Builds the world for `seed`.
    pub(crate) fn build(
        plan: &WargamePlan,
        config: &EngineConfig,
        seed: Seed,
    ) -> Result<World, String> {
        let german = stressor_tabular::german_credit();
        let credit_features = credit_features(&german);
        let mut rng = seed.derive("wargame/credit-split").rng();
        let mut order: Vec<usize> = (0..german.rows).collect();
        shuffle(&mut order, &mut rng);
        let credit_train = order[..600].to_vec();
        let credit_pool = order[600..].to_vec();
        let group = groups(&german, plan.credit.protected);
        let good = good(&german);
        let credit_codec = Codec::new(&german, &credit_features)?;
        let credit_model = train_credit(
            &german.take(&credit_train),
            &credit_features,
            seed.derive("wargame/credit-model"),
        )?;
        let fraud =
            crate::fraud::FraudWorld::new(plan.fraud.fraud_rate, seed.derive("wargame/fraud"));
        let mut train_stream = fraud.stream("train")?;
        let fraud_train = crate::fraud::batch(&mut train_stream, plan.fraud.training_rows)?.table;
        let fraud_model = fraud.train(&fraud_train, seed.derive("wargame/fraud-model"))?;
        let fraud_codec = Codec::new(&fraud_train, &fraud.features())?;
        let (chatbot, intents, queries) = chatbot(config, seed)?;
        let pool = german.take(&credit_pool);
        let p_bad = credit_model.predict(&pool).map_err(|e| e.to_string())?;
        let approved: Vec<bool> = p_bad.iter().map(|&p| p < plan.credit.threshold).collect();
        let right = credit_pool.iter().zip(&approved).filter(|(r, a)| good[**r] == **a).count();
        let dp = crate::game::group_counts(
            credit_pool.iter().zip(&approved).map(|(&r, &a)| (group[r], good[r], a)),
        )
        .map_or(f64::NAN, |c| stressor_fairness::fairlearn::demographic_parity_ratio(&c));
        let credit_base = (dp, right as f64 / credit_pool.len() as f64);
        let clean = crate::fraud::batch(&mut fraud.stream("baseline")?, 20_000)?;
        let scores = fraud_model.predict(&clean.table).map_err(|e| e.to_string())?;
        let frauds = clean.fraud.iter().filter(|f| **f).count().max(1);
        let caught = clean
            .fraud
            .iter()
            .zip(&scores)
            .filter(|(f, s)| **f && **s >= plan.fraud.threshold)
            .count();
        let fraud_base = caught as f64 / frauds as f64;
        Ok(World {
            german,
            credit_features,
            credit_train,
            credit_pool,
            group,
            good,
            credit_codec,
            credit_model,
            credit_base,
            fraud_base,
            fraud,
            fraud_train,
            fraud_model,
            fraud_codec,
            chatbot,
            intents,
            queries,
        })
    }
}

/// Fisher–Yates with the exercise's rng.
pub(crate) fn shuffle<T>(items: &mut [T], rng: &mut Rng) {
    use rand::Rng as _;
    for i in (1..items.len()).rev() {
        let j = rng.random_range(0..=i);
        items.swap(i, j);
    }
}

/// The built-in CLINC150 classifier (`Classifier::train_cached`: the chatbot family's file for
/// the same settings) and the customers' queries (CLINC150's test split, off-topic ones included).
#[allow(clippy::type_complexity)]
fn chatbot(
    config: &EngineConfig,
    seed: Seed,
) -> Result<(Arc<dyn IntentModel>, Vec<String>, Vec<(String, Option<usize>)>), String> {
    let corpus = stressor_intent::clinc150().map_err(|e| format!("reading CLINC150: {e}"))?;
    let model = Classifier::train_cached(
        &corpus.train,
        &corpus.intents,
        &TrainConfig::default(),
        seed,
        config.cache_dir.as_deref(),
    )
    .map_err(|e| format!("training the chatbot: {e}"))?;
    let queries = corpus
        .test
        .iter()
        .chain(&corpus.oos_test)
        .map(|q| (q.text.clone(), q.intent.map(|i| i as usize)))
        .collect();
    Ok((Arc::new(model), corpus.intents.clone(), queries))
}
