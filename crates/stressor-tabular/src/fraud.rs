//! A seeded synthetic card-transaction stream with a known fraud process.
//!
//! [`FraudStream`] draws [`Transaction`]s one at a time; [`FraudStream::sample`] gives them as a
//! [`Table`] (the [`FEATURES`] in order, then `label`, 0/1) with each row's true fraud
//! probability, so a fraud model's AUROC can be compared with the Bayes rule's.
//!
//! # The process
//!
//! Each cardholder has a profile drawn once: a typical amount `m` (log-normal, median 40) and a
//! typical number of transactions per day `λ` (log-normal, median 2). Each card keeps its own
//! clock in hours, starting at a uniform time of day. A draw is:
//!
//! 1. a cardholder, uniformly;
//! 2. the class, fraud with probability `fraud_rate`, independently of everything before;
//!    a fraud draws from the *card-testing* pattern with probability `1 − drift` and from the
//!    *low-and-slow* pattern with probability `drift`;
//! 3. the features, independently given the class and the profile:
//!
//! | feature | genuine | card testing (fraud, drift 0) | low and slow (fraud, drift 1) |
//! |---|---|---|---|
//! | `ln amount − ln m` | N(0, 0.5²) | N(0.7, 0.8²) | N(−0.2, 0.5²) |
//! | `ln distance_km` | N(ln 5, 1.0²) | N(ln 40, 1.5²) | N(ln 10, 1.0²) |
//! | `card_present` | 0.80 | 0.35 | 0.60 |
//! | `foreign` | 0.03 | 0.12 | 0.05 |
//! | `merchant_category` | everyday spending | more electronics, digital goods, travel, jewelry | near genuine |
//! | next time on the card's clock | rate `λ · w_day(hour)` per hour | rate `8 · w_night(hour)` per hour | as genuine |
//!
//! The next time is the first arrival of a Poisson process whose rate is constant within each
//! hour of the day (`w_day` peaks at noon and early evening, `w_night` at night, each summing
//! to 1 over the day), so `hour` and `hours_since_last` come from it and agree with the clock.
//! The merchant is uniform among the merchants of its category.
//!
//! The true probability is Bayes' rule over these densities:
//! `p = π f_F(x) / (π f_F(x) + (1 − π) f_G(x))`, with `f_F = (1 − drift) f_testing + drift
//! f_slow`, computed in log space. Every quantity it uses is in the table (the profile as
//! `typical_amount` and `typical_daily_count`) except the card's clock at the previous
//! transaction, of which the table holds `hour` and `hours_since_last`; so `p` is the
//! probability given the transaction and its card's history, and its AUROC bounds any model
//! fitted on the table.
//!
//! At drift 0 the true probabilities' AUROC is about 0.975 (logistic regression fitted on
//! 40 000 rows reaches 0.961, boosted trees 0.970); at drift 1 it is about 0.76, and a model
//! fitted at drift 0 falls to about 0.61.
//!
//! Because the class is drawn afresh for each transaction, the 24-hour count and amount
//! describe the card's recent activity, not the current class; the fraud signal is in the
//! amount against the typical amount, the place, the channel, the merchant and the timing.
//!
//! # Who can change what
//!
//! A fraudster holding card details chooses the amount, the time, the merchant, the channel,
//! and roughly where the transaction appears to come from (shipping address, a proxy); the
//! bank computes the rest from the card's history. [`FEATURES`] says which features are
//! actionable and gives each its bounds and kind.
//!
//! # Example
//! ```
//! use stressor_core::Seed;
//! use stressor_tabular::fraud::{FraudConfig, FraudStream, LABEL};
//! let config = FraudConfig { fraud_rate: 0.02, ..FraudConfig::default() };
//! let mut stream = FraudStream::new(config, Seed::new(7)).unwrap();
//! let transaction = stream.draw();
//! assert!((0.0..=1.0).contains(&transaction.fraud_probability));
//! let (table, truth) = stream.sample(1_000).unwrap();
//! assert_eq!((table.rows, truth.len()), (1_000, 1_000));
//! assert!(table.column(LABEL).is_some());
//! ```

use std::collections::VecDeque;
use std::path::PathBuf;

use rand::Rng as _;
use rand_distr::{Distribution as _, Exp1, StandardNormal};
use stressor_core::{Rng, Seed};

use crate::{Column, Table, TableError};

/// The kind of a feature's values in a row ([`Transaction::row`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureKind {
    /// Any real number within the bounds.
    Continuous,
    /// Whole numbers within the bounds.
    Integer,
    /// 0 or 1.
    Binary,
    /// An index into the category names, which are the table's values.
    Categorical(&'static [&'static str]),
}

/// One feature of the fraud table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureSpec {
    /// The column name.
    pub name: &'static str,
    /// What its values are.
    pub kind: FeatureKind,
    /// Whether someone making the transaction can choose it; the others come from the card's
    /// history or profile.
    pub actionable: bool,
    /// The smallest value the bank accepts (for a category, 0).
    pub low: f64,
    /// The largest value the bank accepts (for a category, the count − 1).
    pub high: f64,
}

/// Settings of a [`FraudStream`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FraudConfig {
    /// Probability that a transaction is fraudulent, in (0, 1); card data typically has 0.1–2 %.
    pub fraud_rate: f64,
    /// Cardholders (≥ 1).
    pub customers: usize,
    /// Merchants (≥ the 8 categories); merchant `j` has category `j mod 8`.
    pub merchants: usize,
    /// Share of fraud that follows the low-and-slow pattern instead of card testing, in
    /// [0, 1]: the fraud pattern's drift.
    pub drift: f64,
}

impl Default for FraudConfig {
    /// 1 % fraud, 2 000 cardholders, 200 merchants, no drift.
    fn default() -> Self {
        FraudConfig { fraud_rate: 0.01, customers: 2_000, merchants: 200, drift: 0.0 }
    }
}

/// One card transaction with its ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct Transaction {
    /// The cardholder, below [`FraudConfig::customers`].
    pub customer: usize,
    /// The merchant, below [`FraudConfig::merchants`].
    pub merchant: usize,
    /// The card's clock, hours since the start of the stream's first day.
    pub time_hours: f64,
    /// The amount, in currency units.
    pub amount: f64,
    /// Hour of the day, 0–23.
    pub hour: u8,
    /// Index into [`MERCHANT_CATEGORIES`].
    pub merchant_category: u8,
    /// Distance from the cardholder's home, km.
    pub distance_km: f64,
    /// The card was read by a terminal (chip, swipe, contactless).
    pub card_present: bool,
    /// The merchant or acquirer is abroad.
    pub foreign: bool,
    /// Hours since the card's previous transaction.
    pub hours_since_last: f64,
    /// The card's transactions in the 24 hours before this one.
    pub count_24h: u32,
    /// Their total amount.
    pub amount_24h: f64,
    /// The cardholder's typical (median) amount.
    pub typical_amount: f64,
    /// The cardholder's typical number of transactions per day.
    pub typical_daily_count: f64,
    /// The true probability that this transaction is fraudulent, given everything above.
    pub fraud_probability: f64,
    /// Whether it is fraudulent, drawn with [`Transaction::fraud_probability`].
    pub fraud: bool,
}

/// A seeded stream of card transactions; see the [module docs](self) for the process.
#[derive(Debug, Clone)]
pub struct FraudStream {
    config: FraudConfig,
    rng: Rng,
    cards: Vec<Card>,
    /// Merchants of each category.
    by_category: Vec<Vec<usize>>,
}

/// The merchant categories, in the order of their indices.
pub const MERCHANT_CATEGORIES: [&str; 8] = [
    "grocery",
    "restaurant",
    "fuel",
    "retail",
    "travel",
    "electronics",
    "digital_goods",
    "jewelry",
];

/// The label column of [`FraudStream::sample`]'s table.
pub const LABEL: &str = "label";

/// The features, in the order of [`Transaction::row`] and of the table's columns.
pub const FEATURES: [FeatureSpec; 11] = [
    spec("amount", FeatureKind::Continuous, true, 0.01, 100_000.0),
    spec("hour", FeatureKind::Integer, true, 0.0, 23.0),
    spec("merchant_category", FeatureKind::Categorical(&MERCHANT_CATEGORIES), true, 0.0, 7.0),
    spec("distance_km", FeatureKind::Continuous, true, 0.0, 20_000.0),
    spec("card_present", FeatureKind::Binary, true, 0.0, 1.0),
    spec("foreign", FeatureKind::Binary, true, 0.0, 1.0),
    spec("hours_since_last", FeatureKind::Continuous, false, 0.0, f64::MAX),
    spec("count_24h", FeatureKind::Integer, false, 0.0, f64::MAX),
    spec("amount_24h", FeatureKind::Continuous, false, 0.0, f64::MAX),
    spec("typical_amount", FeatureKind::Continuous, false, 0.0, f64::MAX),
    spec("typical_daily_count", FeatureKind::Continuous, false, 0.0, f64::MAX),
];

const fn spec(
    name: &'static str,
    kind: FeatureKind,
    actionable: bool,
    low: f64,
    high: f64,
) -> FeatureSpec {
    FeatureSpec { name, kind, actionable, low, high }
}

/// The feature names, in order.
pub fn feature_names() -> Vec<String> {
    FEATURES.iter().map(|f| f.name.to_string()).collect()
}

impl FraudStream {
    /// A stream under `config`; the cardholders' profiles are drawn from `seed` at once.
    ///
    /// # Errors
    /// [`TableError::Shape`] when a setting is out of range.
    pub fn new(config: FraudConfig, seed: Seed) -> Result<FraudStream, TableError> {
        check(&config)?;
        let mut profiles = seed.derive("fraud/profiles").rng();
        let cards = (0..config.customers)
            .map(|_| {
                let typical_amount = (40f64.ln() + 0.7 * normal(&mut profiles)).exp();
                let typical_daily_count = (2f64.ln() + 0.5 * normal(&mut profiles)).exp();
                let clock = profiles.random::<f64>() * 24.0;
                Card { typical_amount, typical_daily_count, clock, recent: VecDeque::new() }
            })
            .collect();
        let mut by_category = vec![Vec::new(); MERCHANT_CATEGORIES.len()];
        for merchant in 0..config.merchants {
            by_category[merchant % MERCHANT_CATEGORIES.len()].push(merchant);
        }
        Ok(FraudStream { config, rng: seed.derive("fraud/stream").rng(), cards, by_category })
    }

    /// The settings.
    pub fn config(&self) -> FraudConfig {
        self.config
    }

    /// Changes the share of low-and-slow fraud from the next draw on.
    ///
    /// # Errors
    /// [`TableError::Shape`] when `drift` is not in [0, 1]; the stream is unchanged.
    pub fn set_drift(&mut self, drift: f64) -> Result<(), TableError> {
        check(&FraudConfig { drift, ..self.config })?;
        self.config.drift = drift;
        Ok(())
    }

    /// The next transaction.
    pub fn draw(&mut self) -> Transaction {
        let FraudStream { config, rng, cards, by_category } = self;
        let customer = rng.random_range(0..cards.len());
        let card = &mut cards[customer];
        let pattern = if rng.random::<f64>() < config.fraud_rate {
            if rng.random::<f64>() < config.drift { Pattern::Slow } else { Pattern::Testing }
        } else {
            Pattern::Genuine
        };
        let p = pattern.params();
        let amount = (card.typical_amount.ln() + p.amount_mu + p.amount_sigma * normal(rng)).exp();
        let distance_km = (p.distance_mu + p.distance_sigma * normal(rng)).exp();
        let card_present = rng.random::<f64>() < p.card_present;
        let foreign = rng.random::<f64>() < p.foreign;
        let merchant_category = pick(rng, &p.categories);
        let merchants = &by_category[merchant_category];
        let merchant = merchants[rng.random_range(0..merchants.len())];
        let rates = pattern.hourly_rates(card.typical_daily_count);
        let previous = card.clock;
        let time_hours = next_arrival(rng, &rates, previous);
        while card.recent.front().is_some_and(|(t, _)| *t < time_hours - 24.0) {
            card.recent.pop_front();
        }
        let count_24h = u32::try_from(card.recent.len()).unwrap_or(u32::MAX);
        let amount_24h = card.recent.iter().map(|(_, a)| a).sum();
        let mut transaction = Transaction {
            customer,
            merchant,
            time_hours,
            amount,
            hour: hour_of(time_hours),
            merchant_category: merchant_category as u8,
            distance_km,
            card_present,
            foreign,
            hours_since_last: time_hours - previous,
            count_24h,
            amount_24h,
            typical_amount: card.typical_amount,
            typical_daily_count: card.typical_daily_count,
            fraud_probability: 0.0,
            fraud: pattern != Pattern::Genuine,
        };
        transaction.fraud_probability = posterior(config, &transaction, previous);
        card.clock = time_hours;
        card.recent.push_back((time_hours, amount));
        transaction
    }

    /// The next `rows` transactions as a table (the [`FEATURES`], then [`LABEL`]) and their
    /// true fraud probabilities.
    ///
    /// # Errors
    /// [`TableError::Shape`] when `rows` is 0.
    pub fn sample(&mut self, rows: usize) -> Result<(Table, Vec<f64>), TableError> {
        if rows == 0 {
            return Err(TableError::Shape("a fraud sample needs at least 1 row".into()));
        }
        let transactions: Vec<Transaction> = (0..rows).map(|_| self.draw()).collect();
        let truth = transactions.iter().map(|t| t.fraud_probability).collect();
        Ok((to_table(&transactions)?, truth))
    }
}

impl Transaction {
    /// The features as numbers, in the order of [`FEATURES`]: flags as 0/1, the merchant
    /// category as its index.
    pub fn row(&self) -> Vec<f64> {
        vec![
            self.amount,
            f64::from(self.hour),
            f64::from(self.merchant_category),
            self.distance_km,
            f64::from(u8::from(self.card_present)),
            f64::from(u8::from(self.foreign)),
            self.hours_since_last,
            f64::from(self.count_24h),
            self.amount_24h,
            self.typical_amount,
            self.typical_daily_count,
        ]
    }
}

/// Transactions as a table: the [`FEATURES`] (the merchant category by name), then [`LABEL`].
///
/// # Errors
/// [`TableError::Shape`] when there are none.
pub fn to_table(transactions: &[Transaction]) -> Result<Table, TableError> {
    let rows: Vec<Vec<f64>> = transactions.iter().map(Transaction::row).collect();
    let mut table = rows_to_table(&rows)?;
    let label = transactions.iter().map(|t| f64::from(u8::from(t.fraud))).collect();
    table.columns.push((LABEL.into(), Column::Numeric(label)));
    Ok(table)
}

/// Rows in the layout of [`Transaction::row`] as a table of the [`FEATURES`] (no label), for
/// scoring rows that an attack or a client wrote.
///
/// # Errors
/// [`TableError::Shape`] naming the row and feature: no rows, a row of the wrong length, a
/// NaN, or a category or flag that is not one of its values. Values outside a feature's
/// bounds are kept.
pub fn rows_to_table(rows: &[Vec<f64>]) -> Result<Table, TableError> {
    if rows.is_empty() {
        return Err(TableError::Shape("no transaction rows".into()));
    }
    let mut columns: Vec<(String, Column)> = FEATURES
        .iter()
        .map(|f| {
            let column = match f.kind {
                FeatureKind::Categorical(_) => Column::Categorical(Vec::with_capacity(rows.len())),
                _ => Column::Numeric(Vec::with_capacity(rows.len())),
            };
            (f.name.to_string(), column)
        })
        .collect();
    for (r, row) in rows.iter().enumerate() {
        if row.len() != FEATURES.len() {
            return Err(TableError::Shape(format!(
                "transaction row {r} has {} values, not {}",
                row.len(),
                FEATURES.len()
            )));
        }
        for ((feature, (_, column)), &value) in FEATURES.iter().zip(&mut columns).zip(row) {
            let bad = |what: &str| {
                TableError::Shape(format!(
                    "transaction row {r}: `{}` is {value}, {what}",
                    feature.name
                ))
            };
            if value.is_nan() {
                return Err(bad("not a number"));
            }
            match (feature.kind, column) {
                (FeatureKind::Categorical(names), Column::Categorical(values)) => {
                    let name = (value.fract() == 0.0 && value >= 0.0)
                        .then(|| names.get(value as usize))
                        .flatten()
                        .ok_or_else(|| bad("not a category index"))?;
                    values.push((*name).to_string());
                }
                (FeatureKind::Binary, Column::Numeric(values)) => {
                    if value != 0.0 && value != 1.0 {
                        return Err(bad("not 0 or 1"));
                    }
                    values.push(value);
                }
                (_, Column::Numeric(values)) => values.push(value),
                (_, Column::Categorical(_)) => return Err(bad("of the wrong kind")),
            }
        }
    }
    Table::new(PathBuf::from("fraud"), columns)
}

/// A card's profile and recent history.
#[derive(Debug, Clone)]
struct Card {
    typical_amount: f64,
    typical_daily_count: f64,
    /// The time of its last transaction.
    clock: f64,
    /// Its transactions within the last 24 hours of the clock: (time, amount).
    recent: VecDeque<(f64, f64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pattern {
    Genuine,
    Testing,
    Slow,
}

/// One pattern's feature distributions.
struct Params {
    amount_mu: f64,
    amount_sigma: f64,
    distance_mu: f64,
    distance_sigma: f64,
    card_present: f64,
    foreign: f64,
    categories: [f64; 8],
}

/// Genuine spending by hour of day (relative weights).
const DAY: [f64; 24] = [
    1.0, 0.5, 0.3, 0.2, 0.2, 0.4, 1.0, 2.0, 3.0, 4.0, 5.0, 5.0, 6.0, 6.0, 5.0, 5.0, 5.0, 6.0, 6.0,
    5.0, 4.0, 3.0, 2.0, 1.5,
];
/// Card-testing fraud by hour of day (relative weights).
const NIGHT: [f64; 24] = [
    4.0, 5.0, 5.0, 5.0, 4.0, 3.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0,
    2.0, 3.0, 3.0, 3.0, 4.0,
];
/// Card-testing fraud's transactions per day on a card.
const TESTING_PER_DAY: f64 = 8.0;

impl Pattern {
    fn params(self) -> Params {
        match self {
            Pattern::Genuine => Params {
                amount_mu: 0.0,
                amount_sigma: 0.5,
                distance_mu: 5f64.ln(),
                distance_sigma: 1.0,
                card_present: 0.8,
                foreign: 0.03,
                categories: [0.30, 0.20, 0.12, 0.20, 0.04, 0.05, 0.07, 0.02],
            },
            Pattern::Testing => Params {
                amount_mu: 0.7,
                amount_sigma: 0.8,
                distance_mu: 40f64.ln(),
                distance_sigma: 1.5,
                card_present: 0.35,
                foreign: 0.12,
                categories: [0.12, 0.08, 0.08, 0.17, 0.12, 0.18, 0.17, 0.08],
            },
            Pattern::Slow => Params {
                amount_mu: -0.2,
                amount_sigma: 0.5,
                distance_mu: 10f64.ln(),
                distance_sigma: 1.0,
                card_present: 0.6,
                foreign: 0.05,
                categories: [0.25, 0.15, 0.15, 0.25, 0.03, 0.05, 0.10, 0.02],
            },
        }
    }

    /// Arrivals per hour in each hour of the day.
    fn hourly_rates(self, per_day: f64) -> [f64; 24] {
        let (weights, per_day) = match self {
            Pattern::Genuine | Pattern::Slow => (&DAY, per_day),
            Pattern::Testing => (&NIGHT, TESTING_PER_DAY),
        };
        let total: f64 = weights.iter().sum();
        weights.map(|w| per_day * w / total)
    }

    /// The log density of the transaction's features under this pattern, up to terms that
    /// are the same for every pattern (the Jacobians of the logs, the merchant within its
    /// category).
    fn log_density(self, t: &Transaction, previous: f64) -> f64 {
        let p = self.params();
        let log_normal = |x: f64, mu: f64, sigma: f64| {
            let z = (x - mu) / sigma;
            -0.5 * z * z - sigma.ln()
        };
        let bernoulli = |flag: bool, q: f64| if flag { q.ln() } else { (1.0 - q).ln() };
        let rates = self.hourly_rates(t.typical_daily_count);
        log_normal(t.amount.ln() - t.typical_amount.ln(), p.amount_mu, p.amount_sigma)
            + log_normal(t.distance_km.ln(), p.distance_mu, p.distance_sigma)
            + bernoulli(t.card_present, p.card_present)
            + bernoulli(t.foreign, p.foreign)
            + p.categories[usize::from(t.merchant_category)].ln()
            + rates[usize::from(t.hour)].ln()
            - integrated_rate(&rates, previous, t.time_hours)
    }
}

fn check(config: &FraudConfig) -> Result<(), TableError> {
    let problem = if !(config.fraud_rate > 0.0 && config.fraud_rate < 1.0) {
        format!("the fraud rate must be in (0, 1), not {}", config.fraud_rate)
    } else if config.customers == 0 {
        "a fraud stream needs at least 1 customer".into()
    } else if config.merchants < MERCHANT_CATEGORIES.len() {
        format!(
            "a fraud stream needs at least {} merchants (one per category), not {}",
            MERCHANT_CATEGORIES.len(),
            config.merchants
        )
    } else if !(0.0..=1.0).contains(&config.drift) {
        format!("the fraud drift must be in [0, 1], not {}", config.drift)
    } else {
        return Ok(());
    };
    Err(TableError::Shape(problem))
}

/// `P(fraud | transaction)` by Bayes' rule, in log space.
fn posterior(config: &FraudConfig, t: &Transaction, previous: f64) -> f64 {
    let genuine = (1.0 - config.fraud_rate).ln() + Pattern::Genuine.log_density(t, previous);
    let mut fraud_terms = Vec::with_capacity(2);
    if config.drift < 1.0 {
        fraud_terms.push((1.0 - config.drift).ln() + Pattern::Testing.log_density(t, previous));
    }
    if config.drift > 0.0 {
        fraud_terms.push(config.drift.ln() + Pattern::Slow.log_density(t, previous));
    }
    let fraud = config.fraud_rate.ln() + log_sum_exp(&fraud_terms);
    // p = 1 / (1 + exp(genuine − fraud)), stable for either sign.
    crate::logistic::sigmoid(fraud - genuine)
}

fn log_sum_exp(terms: &[f64]) -> f64 {
    let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return max;
    }
    max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln()
}

fn normal(rng: &mut Rng) -> f64 {
    StandardNormal.sample(rng)
}

fn pick(rng: &mut Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    weights.len() - 1
}

fn hour_of(time_hours: f64) -> u8 {
    (time_hours.rem_euclid(24.0).floor() as u8).min(23)
}

/// The first arrival after `from` of a Poisson process with rate `rates[hour of day]` per
/// hour, by inversion: an Exp(1) draw is spent hour by hour (whole days at once).
fn next_arrival(rng: &mut Rng, rates: &[f64; 24], from: f64) -> f64 {
    let mut budget: f64 = Exp1.sample(rng);
    let per_day: f64 = rates.iter().sum();
    let days = (budget / per_day).floor();
    budget -= days * per_day;
    let mut t = from + days * 24.0;
    // Each day spends `per_day` > `budget`, so this ends within 25 hours.
    for _ in 0..25 * 24 {
        let rate = rates[usize::from(hour_of(t))];
        let boundary = (t.floor() + 1.0).max(t + f64::EPSILON);
        let available = rate * (boundary - t);
        if budget < available {
            return t + budget / rate;
        }
        budget -= available;
        t = boundary;
    }
    t
}

/// `∫ rate` from `from` to `to`.
fn integrated_rate(rates: &[f64; 24], from: f64, to: f64) -> f64 {
    let per_day: f64 = rates.iter().sum();
    let days = ((to - from) / 24.0).floor().max(0.0);
    let mut total = days * per_day;
    let mut t = from + days * 24.0;
    while t < to {
        let boundary = (t.floor() + 1.0).min(to);
        total += rates[usize::from(hour_of(t))] * (boundary - t);
        if boundary <= t {
            break;
        }
        t = boundary;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_follow_the_integrated_rate() {
        // P(no arrival by `to`) = exp(−∫ rate): check at one point by simulation.
        let rates = Pattern::Genuine.hourly_rates(2.0);
        let mut rng = Seed::new(3).rng();
        let (from, to) = (7.3, 19.6);
        let n = 20_000;
        let later = (0..n).filter(|_| next_arrival(&mut rng, &rates, from) > to).count();
        let expected = (-integrated_rate(&rates, from, to)).exp();
        let share = later as f64 / n as f64;
        assert!((share - expected).abs() < 0.01, "{share} vs {expected}");
        assert!((integrated_rate(&rates, 5.0, 29.0) - 2.0).abs() < 1e-9);
    }
}
