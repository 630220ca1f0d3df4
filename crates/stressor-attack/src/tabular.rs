//! Black-box evasion of a tabular scorer (a fraud model, say) within a budget.
//!
//! # What it does
//! Takes rows the model flags (score ≥ `threshold`) and searches, for each, a nearby row the
//! model lets through (score < `threshold`), asking only for scores through an [`Oracle`]:
//!
//! 1. **Original.** One query per row; a row the model does not flag is left alone.
//! 2. **Probes.** Each actionable coordinate alone is moved to each end of its allowed
//!    interval (numbers) or to each other category (categories): the coordinate-wise search
//!    of SimBA, with the ends of the box as the only steps, since the best point of a box for
//!    a monotone score is a corner.
//! 3. **Combination.** Every coordinate whose probe lowered the score takes its best probed
//!    value (categories: the `max_switches` best), then the shorter prefixes of those moves
//!    in order of gain. For a score that is monotone in a linear function (logistic
//!    regression, a linear SVM), the full combination is the lowest score in the budget set,
//!    so the attack finds an evasion whenever one exists, after
//!    `2 + Σ numbers 2 + Σ categories (categories − 1)` queries at most.
//! 4. **Random search.** Square-attack style: from the best row so far, `batch` proposals per
//!    round each move a random share of the actionable coordinates (a half at first, halved at
//!    a quarter, a half and three quarters of the budget) to an end of the interval or a
//!    uniform value in it, or to another category; the best proposal is kept when it lowers
//!    the score. This handles trees and other non-monotone scores that defeat step 3.
//!
//! The attack stops for a row at the first row that evades (of several in one answer, the
//! one with the fewest changes, then the lowest score), when its query budget is spent, or
//! when nothing in its budget set is left to try.
//!
//! # The budget set
//! A coordinate that is [`Feature::Fixed`] never changes. A numeric one stays within its
//! bounds and within `epsilon × radius` of the original ([`Radius::Relative`]: `± epsilon ×
//! radius × |x|`, so radius 1 and epsilon 0.2 let an amount move by ± 20 %;
//! [`Radius::Absolute`]: `± epsilon × radius`, so radius 10 lets an hour move by ± 2 at
//! epsilon 0.2), integers on whole numbers. A categorical one (a flag is a category of two)
//! may take any category, but at most `max_switches` of them may differ from the original.
//! `epsilon` is the dial: the budget sets grow with it.
//!
//! # Queries
//! Every row sent to the oracle counts one query for the row it was made for; a row's queries
//! never pass `max_queries` (its original included). All active rows' proposals of a phase or
//! round go out in one oracle call, so an HTTP target sees about `3 + (max_queries −
//! probes) / batch` calls for the whole set of rows.
//!
//! # Why it matters
//! A fraudster controls the amount, the time, the merchant and the channel of a transaction,
//! not the card's history; this measures how much room in those features a deployed fraud
//! model leaves (MITRE ATLAS AML.T0015 Evade AI Model with AML.T0043 Craft Adversarial Data,
//! black-box), and how many queries it takes to find.
//!
//! # References
//! - Guo, Gardner, You, Wilson, Weinberger, *Simple Black-box Adversarial Attacks* (SimBA),
//!   ICML 2019: coordinate-wise probing with score queries.
//! - Andriushchenko, Croce, Flammarion, Hein, *Square Attack: a query-efficient black-box
//!   adversarial attack via random search*, ECCV 2020: the random search and its schedule.
//! - Cartella, Anunciação, Funabiki, Yamaguchi, Akishita, Elshocht, *Adversarial Attacks for
//!   Tabular Data: Application to Fraud Detection and Imbalanced Data*, SafeAI@AAAI 2021, and
//!   Ballet, Renard, Aigrain, Laugel, Frossard, Detyniecki, *Imperceptible Adversarial Attacks
//!   on Tabular Data*, NeurIPS 2019 workshop: why only actionable features move, within
//!   per-feature bounds.
//!
//! # Example
//! ```
//! use stressor_attack::tabular::{EvasionConfig, Feature, Radius, evade};
//! // Fraud score 0.01 × amount + 0.5 × card not present; flagged at 0.9. Amount may move ± 50 %.
//! let features = [
//!     Feature::Continuous { low: 0.0, high: 1e4, radius: Radius::Relative(1.0) },
//!     Feature::Categorical { categories: 2 },
//!     Feature::Fixed,
//! ];
//! let mut oracle = |rows: &[Vec<f64>]| -> Vec<f64> {
//!     rows.iter().map(|r| 0.01 * r[0] + 0.5 * (1.0 - r[1])).collect()
//! };
//! let config = EvasionConfig { epsilon: 0.5, threshold: 0.9, ..EvasionConfig::default() };
//! let rows = vec![vec![100.0, 1.0, 7.0]];
//! let evasions = evade(&features, &rows, &config, &mut oracle).unwrap();
//! assert!(evasions[0].flagged && evasions[0].evaded);
//! assert!(evasions[0].score < 0.9 && evasions[0].queries <= config.max_queries);
//! assert_eq!(evasions[0].adversarial[2], 7.0);
//! ```

use rand::Rng as _;
use stressor_core::{Rng, Seed};

/// How far a numeric feature may move, per unit of `epsilon`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Radius {
    /// A share of the original's magnitude (a value of 0 cannot move).
    Relative(f64),
    /// In the feature's own units.
    Absolute(f64),
}

/// What the attacker may do with one feature.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Feature {
    /// Not actionable: never changes (any value, NaN included, is passed through).
    Fixed,
    /// A real number in `[low, high]`, within the radius.
    Continuous {
        /// The smallest value accepted.
        low: f64,
        /// The largest value accepted.
        high: f64,
        /// How far it may move per unit of `epsilon`.
        radius: Radius,
    },
    /// A whole number in `[low, high]`, within the radius.
    Integer {
        /// The smallest value accepted.
        low: f64,
        /// The largest value accepted.
        high: f64,
        /// How far it may move per unit of `epsilon`.
        radius: Radius,
    },
    /// A category index in `0..categories` (a flag: 2 categories); any switch counts one
    /// against `max_switches`.
    Categorical {
        /// How many categories there are.
        categories: usize,
    },
}

/// Settings of [`evade`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvasionConfig {
    /// The dial: numeric features move within `epsilon × radius` (≥ 0, finite).
    pub epsilon: f64,
    /// Categorical features that may differ from the original.
    pub max_switches: usize,
    /// Queries per row, the original included (≥ 1).
    pub max_queries: u64,
    /// Random-search proposals per row per oracle call (≥ 1).
    pub batch: usize,
    /// A row is flagged when its score is ≥ this, and let through below it.
    pub threshold: f64,
    /// The random search's seed; row `i` draws from `seed.derive_index(i)`.
    pub seed: Seed,
}

impl Default for EvasionConfig {
    /// ε 0.1, 2 switches, 200 queries, batches of 8, threshold 0.5, seed 0.
    fn default() -> Self {
        EvasionConfig {
            epsilon: 0.1,
            max_switches: 2,
            max_queries: 200,
            batch: 8,
            threshold: 0.5,
            seed: Seed::new(0),
        }
    }
}

/// One feature the attack changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    /// Its index in the row.
    pub feature: usize,
    /// The original value.
    pub from: f64,
    /// The adversarial value.
    pub to: f64,
}

/// What the attack found for one row. A row that was not evaded is a result, not an error.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Evasion {
    /// The model flagged the original (score ≥ threshold); if not, nothing was tried.
    pub flagged: bool,
    /// The model lets `adversarial` through (score < threshold).
    pub evaded: bool,
    /// Rows sent to the oracle for this row, exactly (≤ `max_queries`).
    pub queries: u64,
    /// The evading row, or the lowest-scoring row found; within the budget set.
    pub adversarial: Vec<f64>,
    /// The original's score.
    pub original_score: f64,
    /// `adversarial`'s score.
    pub score: f64,
    /// The features that differ from the original, in order.
    pub changes: Vec<Change>,
}

/// Why the attack could not run. An attack that evades nothing is not an error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TabularError {
    /// A setting of [`EvasionConfig`] is out of range.
    #[error("tabular evasion: invalid `{parameter}`: {reason}")]
    InvalidParameter {
        /// The setting.
        parameter: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A feature's description is inconsistent.
    #[error("tabular evasion: feature {feature}: {reason}")]
    InvalidFeature {
        /// Its index.
        feature: usize,
        /// What is wrong.
        reason: String,
    },
    /// A row does not fit the features.
    #[error("tabular evasion: row {row}: {reason}")]
    InvalidRow {
        /// Its index.
        row: usize,
        /// What is wrong.
        reason: String,
    },
    /// The oracle broke its contract: a different number of scores than rows.
    #[error("the oracle answered {got} scores for {asked} rows")]
    AnswerCount {
        /// Rows sent.
        asked: usize,
        /// Scores returned.
        got: usize,
    },
    /// The oracle gave NaN for a row (±∞ are scores).
    #[error("the oracle scored a proposal for row {row} as NaN")]
    NanScore {
        /// The attacked row the proposal was made for.
        row: usize,
    },
}

/// The model as the attack sees it: rows in, one fraud score per row out, in order.
pub type Oracle<'a> = dyn FnMut(&[Vec<f64>]) -> Vec<f64> + 'a;

/// Attacks every row of `rows` against `oracle`; see the [module docs](self).
///
/// # Errors
/// [`TabularError`] when a setting or feature is invalid, a row has the wrong length or an
/// actionable value outside its feature (not a number in bounds, not a whole number, not a
/// category), or the oracle returns the wrong number of scores or a NaN.
pub fn evade(
    features: &[Feature],
    rows: &[Vec<f64>],
    config: &EvasionConfig,
    oracle: &mut Oracle<'_>,
) -> Result<Vec<Evasion>, TabularError> {
    check_config(config)?;
    check_features(features)?;
    let mut states = rows
        .iter()
        .enumerate()
        .map(|(index, row)| State::new(index, row, features, config))
        .collect::<Result<Vec<State>, TabularError>>()?;

    let originals: Vec<(usize, Vec<f64>)> =
        states.iter().map(|s| (s.index, s.original.clone())).collect();
    let scores = ask(oracle, &mut states, &originals)?;
    for (state, score) in states.iter_mut().zip(scores) {
        state.original_score = score;
        state.score = score;
        state.flagged = score >= config.threshold;
        state.done = !state.flagged || state.axes.is_empty();
    }

    let probes: Vec<(usize, Vec<f64>)> = active(&states)
        .flat_map(|s| {
            let probes = s.probes();
            let left = s.left(config);
            probes.into_iter().take(left).map(move |p| (s.index, p))
        })
        .collect();
    let scores = ask(oracle, &mut states, &probes)?;
    record_probes(&mut states, &probes, &scores, config);
    let combinations: Vec<(usize, Vec<f64>)> = active(&states)
        .flat_map(|s| {
            let left = s.left(config);
            s.combinations(config).into_iter().take(left).map(move |c| (s.index, c))
        })
        .collect();
    let scores = ask(oracle, &mut states, &combinations)?;
    take_best(&mut states, &combinations, &scores, config);

    while active(&states).next().is_some() {
        let mut proposals = Vec::new();
        for state in states.iter_mut().filter(|s| !s.done) {
            let n = (state.left(config)).min(config.batch);
            let made = state.propose(n, config);
            if made.is_empty() {
                state.done = true;
            }
            proposals.extend(made.into_iter().map(|p| (state.index, p)));
        }
        let scores = ask(oracle, &mut states, &proposals)?;
        take_best(&mut states, &proposals, &scores, config);
    }
    Ok(states.into_iter().map(State::finish).collect())
}

/// One actionable coordinate and its allowed values.
#[derive(Debug, Clone)]
enum Axis {
    /// `[low, high]`, whole numbers when `integer`.
    Interval { feature: usize, low: f64, high: f64, integer: bool },
    /// `0..categories`.
    Category { feature: usize, categories: usize },
}

/// One row under attack.
#[derive(Debug)]
struct State {
    index: usize,
    original: Vec<f64>,
    original_score: f64,
    /// The best row so far and its score.
    current: Vec<f64>,
    score: f64,
    axes: Vec<Axis>,
    /// Each probe's axis, value and score.
    probed: Vec<(usize, f64, f64)>,
    queries: u64,
    flagged: bool,
    evaded: bool,
    done: bool,
    rng: Rng,
}

impl Axis {
    fn feature(&self) -> usize {
        match *self {
            Axis::Interval { feature, .. } | Axis::Category { feature, .. } => feature,
        }
    }
}

impl State {
    fn new(
        index: usize,
        row: &[f64],
        features: &[Feature],
        config: &EvasionConfig,
    ) -> Result<State, TabularError> {
        let invalid = |reason: String| TabularError::InvalidRow { row: index, reason };
        if row.len() != features.len() {
            return Err(invalid(format!("{} values for {} features", row.len(), features.len())));
        }
        let mut axes = Vec::new();
        for (feature, (&value, spec)) in row.iter().zip(features).enumerate() {
            match *spec {
                Feature::Fixed => {}
                Feature::Continuous { low, high, radius }
                | Feature::Integer { low, high, radius } => {
                    let integer = matches!(spec, Feature::Integer { .. });
                    if !(low..=high).contains(&value) || (integer && value.fract() != 0.0) {
                        return Err(invalid(format!(
                            "feature {feature} is {value}, outside [{low}, {high}]{}",
                            if integer { " or not a whole number" } else { "" }
                        )));
                    }
                    let reach = config.epsilon
                        * match radius {
                            Radius::Relative(share) => share * value.abs(),
                            Radius::Absolute(units) => units,
                        };
                    // An overflowing reach extends nowhere rather than to infinity.
                    let finite_or = |x: f64| if x.is_finite() { x } else { value };
                    let (mut lo, mut hi) =
                        (finite_or((value - reach).max(low)), finite_or((value + reach).min(high)));
                    if integer {
                        (lo, hi) = (lo.ceil().min(value), hi.floor().max(value));
                    }
                    // Rounding in `value ± reach` must not let the interval drop the original.
                    let (lo, hi) = (lo.min(value), hi.max(value));
                    if lo < hi {
                        axes.push(Axis::Interval { feature, low: lo, high: hi, integer });
                    }
                }
                Feature::Categorical { categories } => {
                    if value.fract() != 0.0 || !(0.0..categories as f64).contains(&value) {
                        return Err(invalid(format!(
                            "feature {feature} is {value}, not a category below {categories}"
                        )));
                    }
                    if categories > 1 && config.max_switches > 0 {
                        axes.push(Axis::Category { feature, categories });
                    }
                }
            }
        }
        Ok(State {
            index,
            original: row.to_vec(),
            original_score: f64::NAN,
            current: row.to_vec(),
            score: f64::NAN,
            axes,
            probed: Vec::new(),
            queries: 0,
            flagged: false,
            evaded: false,
            done: false,
            rng: config.seed.derive_index(index as u64).rng(),
        })
    }

    /// Queries this row may still spend.
    fn left(&self, config: &EvasionConfig) -> usize {
        usize::try_from(config.max_queries.saturating_sub(self.queries)).unwrap_or(usize::MAX)
    }

    /// The original with one coordinate at each end of its interval or at another category.
    fn probes(&self) -> Vec<Vec<f64>> {
        let mut probes = Vec::new();
        for axis in &self.axes {
            let feature = axis.feature();
            let values: Vec<f64> = match *axis {
                Axis::Interval { low, high, .. } => vec![low, high],
                Axis::Category { categories, .. } => (0..categories).map(|c| c as f64).collect(),
            };
            for value in values {
                if value != self.original[feature] {
                    let mut probe = self.original.clone();
                    probe[feature] = value;
                    probes.push(probe);
                }
            }
        }
        probes
    }

    /// The improving probes combined: all of them (at most `max_switches` categories), then
    /// shorter prefixes in order of gain; none that a probe already tried.
    fn combinations(&self, config: &EvasionConfig) -> Vec<Vec<f64>> {
        // The best improving probe of each feature, by score.
        let mut best: Vec<(usize, f64, f64)> = Vec::new();
        for &(axis, value, score) in &self.probed {
            if score >= self.original_score {
                continue;
            }
            let feature = self.axes[axis].feature();
            match best.iter_mut().find(|(f, _, _)| *f == feature) {
                Some(entry) if score < entry.2 => *entry = (feature, value, score),
                Some(_) => {}
                None => best.push((feature, value, score)),
            }
        }
        best.sort_by(|a, b| a.2.total_cmp(&b.2));
        let mut switches = 0;
        best.retain(|(feature, _, _)| {
            let categorical = self
                .axes
                .iter()
                .any(|a| matches!(a, Axis::Category { feature: f, .. } if f == feature));
            if categorical {
                switches += 1;
            }
            !categorical || switches <= config.max_switches
        });
        (2..=best.len())
            .rev()
            .map(|k| {
                let mut row = self.original.clone();
                for &(feature, value, _) in &best[..k] {
                    row[feature] = value;
                }
                row
            })
            .collect()
    }

    /// Up to `n` random proposals around the current row, each different from it.
    fn propose(&mut self, n: usize, config: &EvasionConfig) -> Vec<Vec<f64>> {
        if self.axes.is_empty() {
            return Vec::new();
        }
        let used = self.queries as f64 / config.max_queries as f64;
        let halvings = (used * 4.0).floor().clamp(0.0, 3.0) as i32;
        let share = 0.5 * 0.5f64.powi(halvings);
        let k = ((share * self.axes.len() as f64).round() as usize).clamp(1, self.axes.len());
        let mut proposals = Vec::with_capacity(n);
        for _ in 0..n {
            for _ in 0..10 {
                let proposal = self.proposal(k, config);
                if !same(&proposal, &self.current) {
                    proposals.push(proposal);
                    break;
                }
            }
        }
        proposals
    }

    fn proposal(&mut self, k: usize, config: &EvasionConfig) -> Vec<f64> {
        let mut row = self.current.clone();
        let chosen = rand::seq::index::sample(&mut self.rng, self.axes.len(), k);
        for a in chosen {
            match self.axes[a] {
                Axis::Interval { feature, low, high, integer } => {
                    row[feature] = if self.rng.random::<bool>() {
                        if self.rng.random::<bool>() { low } else { high }
                    } else {
                        let u: f64 = self.rng.random();
                        // Written so that `high − low` cannot overflow.
                        let x = (low * (1.0 - u) + high * u).clamp(low, high);
                        // `+ 0.0` turns a rounded −0 into 0.
                        if integer { x.round().clamp(low, high) + 0.0 } else { x }
                    };
                }
                Axis::Category { feature, categories } => {
                    let switched = self.switches(&row);
                    let here = row[feature] != self.original[feature];
                    row[feature] = if here || switched < config.max_switches {
                        self.rng.random_range(0..categories) as f64
                    } else {
                        self.original[feature]
                    };
                }
            }
        }
        row
    }

    /// Categorical features of `row` that differ from the original.
    fn switches(&self, row: &[f64]) -> usize {
        self.axes
            .iter()
            .filter(|a| matches!(a, Axis::Category { feature, .. } if row[*feature] != self.original[*feature]))
            .count()
    }

    fn changes(&self, row: &[f64]) -> Vec<Change> {
        (0..row.len())
            .filter(|&f| {
                row[f] != self.original[f] && !(row[f].is_nan() && self.original[f].is_nan())
            })
            .map(|f| Change { feature: f, from: self.original[f], to: row[f] })
            .collect()
    }

    fn finish(self) -> Evasion {
        Evasion {
            flagged: self.flagged,
            evaded: self.evaded,
            queries: self.queries,
            changes: self.changes(&self.current),
            adversarial: self.current,
            original_score: self.original_score,
            score: self.score,
        }
    }
}

/// Equal bit for bit (so a NaN in a fixed feature equals itself).
fn same(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

fn active(states: &[State]) -> impl Iterator<Item = &State> {
    states.iter().filter(|s| !s.done)
}

/// Sends `proposals` (row index, proposal) to the oracle in one call and counts them.
fn ask(
    oracle: &mut Oracle<'_>,
    states: &mut [State],
    proposals: &[(usize, Vec<f64>)],
) -> Result<Vec<f64>, TabularError> {
    if proposals.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<Vec<f64>> = proposals.iter().map(|(_, p)| p.clone()).collect();
    let scores = oracle(&rows);
    for (index, _) in proposals {
        states[*index].queries += 1;
    }
    if scores.len() != rows.len() {
        return Err(TabularError::AnswerCount { asked: rows.len(), got: scores.len() });
    }
    if let Some(k) = scores.iter().position(|s| s.is_nan()) {
        return Err(TabularError::NanScore { row: proposals[k].0 });
    }
    Ok(scores)
}

/// Records each probe's score, then takes each row's best probe.
fn record_probes(
    states: &mut [State],
    probes: &[(usize, Vec<f64>)],
    scores: &[f64],
    config: &EvasionConfig,
) {
    for ((index, probe), &score) in probes.iter().zip(scores) {
        let state = &mut states[*index];
        let Some(axis) =
            state.axes.iter().position(|a| probe[a.feature()] != state.original[a.feature()])
        else {
            continue;
        };
        let value = probe[state.axes[axis].feature()];
        state.probed.push((axis, value, score));
    }
    take_best(states, probes, scores, config);
}

/// For each row, the evading proposal with the fewest changes (then the lowest score), or
/// else the lowest-scoring proposal when it beats the current row.
fn take_best(
    states: &mut [State],
    proposals: &[(usize, Vec<f64>)],
    scores: &[f64],
    config: &EvasionConfig,
) {
    let mut best: Vec<Option<(bool, usize, f64, usize)>> = vec![None; states.len()];
    for (k, ((index, proposal), &score)) in proposals.iter().zip(scores).enumerate() {
        let state = &states[*index];
        let evades = score < config.threshold;
        let n_changes = state.changes(proposal).len();
        // Evading first, then fewer changes among evading ones, then lower score.
        let key = (evades, if evades { n_changes } else { 0 }, score, k);
        let better = match best[*index] {
            None => true,
            Some((best_evades, best_changes, best_score, _)) => {
                (evades && !best_evades)
                    || (evades == best_evades
                        && (key.1 < best_changes || (key.1 == best_changes && score < best_score)))
            }
        };
        if better {
            best[*index] = Some(key);
        }
    }
    for (state, best) in states.iter_mut().zip(best) {
        if let Some((evades, _, score, k)) = best
            && (evades || score < state.score)
        {
            state.current.clone_from(&proposals[k].1);
            state.score = score;
            state.evaded = evades;
        }
        if state.evaded || state.left(config) == 0 {
            state.done = true;
        }
    }
}

fn check_config(config: &EvasionConfig) -> Result<(), TabularError> {
    let invalid = |parameter: &'static str, reason: String| {
        Err(TabularError::InvalidParameter { parameter, reason })
    };
    if !(config.epsilon.is_finite() && config.epsilon >= 0.0) {
        return invalid("epsilon", format!("must be finite and ≥ 0, got {}", config.epsilon));
    }
    if config.max_queries == 0 {
        return invalid("max_queries", "must be at least 1".into());
    }
    if config.batch == 0 {
        return invalid("batch", "must be at least 1".into());
    }
    if config.threshold.is_nan() {
        return invalid("threshold", "must be a number".into());
    }
    Ok(())
}

fn check_features(features: &[Feature]) -> Result<(), TabularError> {
    for (feature, spec) in features.iter().enumerate() {
        let invalid = |reason: String| Err(TabularError::InvalidFeature { feature, reason });
        match *spec {
            Feature::Fixed => {}
            Feature::Continuous { low, high, radius } | Feature::Integer { low, high, radius } => {
                if low.is_nan() || high.is_nan() || low > high {
                    return invalid(format!("bounds [{low}, {high}] are not an interval"));
                }
                let (Radius::Relative(r) | Radius::Absolute(r)) = radius;
                if !(r.is_finite() && r >= 0.0) {
                    return invalid(format!("radius {r} must be finite and ≥ 0"));
                }
            }
            Feature::Categorical { categories } => {
                if categories == 0 {
                    return invalid("a categorical feature needs at least 1 category".into());
                }
            }
        }
    }
    Ok(())
}
