//! The simulated world: users and items with latent preference vectors (the true affinity),
//! a long-tailed item popularity, item prices, session arrivals, and the user model that
//! turns a slate into clicks and purchases.
//!
//! The user model is RecSim's, made explicit:
//! - **examination** is a cascade: the first slot is always examined and each next slot with
//!   probability `attention_prob` (RecSim's cascade choice model), so position matters;
//! - **choice** is a multinomial logit over the examined items' affinities with a no-click
//!   option of logit `no_click_mass` (RecSim's `MultinomialLogitChoiceModel`): at most one
//!   click per page;
//! - **conversion** follows a click with probability `σ(purchase_bias + purchase_affinity ·
//!   affinity − price_weight · ln(price / median price))`;
//! - after a page the session continues with `continue_prob` (`continue_after_click` after a
//!   click, `continue_after_error` after a page with nothing shown), the next page after an
//!   exponential think time.
//!
//! The true affinity of user `u` and item `i` is `u · v_i + popularity_weight · ln(p_i / p̄)`
//! with `u`, `v_i` drawn `N(0, 1/dims)` per coordinate (scaled by `affinity_scale`) and `p_i`
//! Zipf(`popularity_exponent`) over a random permutation of the items.
//!
//! Every draw a page needs comes from a generator seeded by (session, page), so two runs over
//! the same traffic see the same users making the same random choices, whatever they were
//! shown: differences between policies are the policies', not the dice's.

use rand::Rng as _;
use rand_distr::{Distribution, Exp, LogNormal, Normal};
use stressor_core::Seed;

/// The world's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct WorldConfig {
    /// Users.
    pub users: usize,
    /// Items in the catalogue.
    pub items: usize,
    /// Latent dimensions.
    pub dims: usize,
    /// Zipf exponent of item popularity.
    pub popularity_exponent: f64,
    /// Weight of log-popularity in the true affinity.
    pub popularity_weight: f64,
    /// Scale of the latent dot product in the true affinity.
    pub affinity_scale: f64,
    /// Median item price.
    pub price_median: f64,
    /// σ of log price.
    pub price_sigma: f64,
    /// Session arrivals per second (the mean of the daily cycle when there is one).
    pub sessions_per_second: f64,
    /// Relative amplitude of a 24-hour sinusoidal cycle of the arrival rate, in [0, 1).
    pub daily_amplitude: f64,
    /// The user model.
    pub users_model: UserModel,
}

/// How simulated users respond to a slate (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UserModel {
    /// Probability of examining the next slot.
    pub attention_prob: f64,
    /// Logit of the no-click option.
    pub no_click_mass: f64,
    /// Purchase logit intercept.
    pub purchase_bias: f64,
    /// Purchase logit weight on affinity.
    pub purchase_affinity: f64,
    /// Purchase logit weight on log relative price.
    pub price_weight: f64,
    /// Probability of another page after a page without a click.
    pub continue_prob: f64,
    /// Probability of another page after a click.
    pub continue_after_click: f64,
    /// Probability of another page after a page with nothing shown.
    pub continue_after_error: f64,
    /// Mean seconds between pages.
    pub think_s: f64,
    /// Pages at most per session.
    pub max_pages: u32,
}

impl Default for UserModel {
    fn default() -> Self {
        UserModel {
            attention_prob: 0.85,
            no_click_mass: 4.0,
            purchase_bias: -1.5,
            purchase_affinity: 1.0,
            price_weight: 0.8,
            continue_prob: 0.5,
            continue_after_click: 0.7,
            continue_after_error: 0.3,
            think_s: 20.0,
            max_pages: 20,
        }
    }
}

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig {
            users: 2000,
            items: 1000,
            dims: 16,
            popularity_exponent: 1.0,
            popularity_weight: 0.3,
            affinity_scale: 6.0,
            price_median: 30.0,
            price_sigma: 0.6,
            sessions_per_second: 10.0,
            daily_amplitude: 0.0,
            users_model: UserModel::default(),
        }
    }
}

/// The world: its users' and items' latent vectors, popularity and prices.
#[derive(Debug, Clone)]
pub struct World {
    /// The parameters it was built from.
    pub config: WorldConfig,
    /// User latent vectors, `users × dims`, row-major.
    pub user_vectors: Vec<f32>,
    /// Item latent vectors, `items × dims`, row-major.
    pub item_vectors: Vec<f32>,
    /// Item popularity (sums to 1).
    pub popularity: Vec<f64>,
    /// The popularity term of each item's affinity.
    pub item_bias: Vec<f32>,
    /// Item prices.
    pub prices: Vec<f64>,
}

impl World {
    /// Builds the world from its seed.
    pub fn new(config: WorldConfig, seed: Seed) -> World {
        let mut rng = seed.derive("world").rng();
        let d = config.dims;
        let normal = Normal::new(0.0, 1.0 / (d as f64).sqrt()).unwrap_or_else(|_| unreachable!());
        let user_vectors =
            (0..config.users * d).map(|_| normal.sample(&mut rng) as f32).collect::<Vec<_>>();
        let item_vectors =
            (0..config.items * d).map(|_| normal.sample(&mut rng) as f32).collect::<Vec<_>>();
        // Zipf over a random permutation of the items.
        let mut rank: Vec<usize> = (0..config.items).collect();
        for i in (1..rank.len()).rev() {
            let j = rng.random_range(0..=i);
            rank.swap(i, j);
        }
        let weights: Vec<f64> =
            rank.iter().map(|&r| 1.0 / ((r + 1) as f64).powf(config.popularity_exponent)).collect();
        let total: f64 = weights.iter().sum();
        let popularity: Vec<f64> = weights.iter().map(|w| w / total).collect();
        let mean_log: f64 =
            popularity.iter().map(|p| p.ln()).sum::<f64>() / config.items.max(1) as f64;
        let item_bias = popularity
            .iter()
            .map(|p| (config.popularity_weight * (p.ln() - mean_log)) as f32)
            .collect();
        let price = LogNormal::new(config.price_median.ln(), config.price_sigma)
            .unwrap_or_else(|_| unreachable!());
        let prices =
            (0..config.items).map(|_| (price.sample(&mut rng) * 100.0).round() / 100.0).collect();
        World { config, user_vectors, item_vectors, popularity, item_bias, prices }
    }

    /// The world of a user's catalogue and log ([`crate::log`]): the log's users and items,
    /// BPR factors of `config.dims` fitted to its positives as the latent vectors (rescaled
    /// to the generated world's spread), popularity from its counts, the catalogue's prices
    /// (else drawn as [`World::new`] draws them). `config.users` and `config.items` are set
    /// from the log.
    pub fn from_log(
        mut config: WorldConfig,
        log: &crate::log::InteractionLog,
        seed: Seed,
    ) -> World {
        let (users, items) = (log.users.len(), log.items.len());
        config.users = users;
        config.items = items;
        let d = config.dims;
        let bpr = crate::ranker::BprConfig { factors: d, ..crate::ranker::BprConfig::default() };
        let fit = crate::ranker::train_bpr(&log.positives, users, items, bpr, seed.derive("truth"));
        // Rescale so a random pair's dot product has standard deviation 1/√d, as generated.
        let mut rng = seed.derive("truth-scale").rng();
        let pairs = 4096;
        let dots: Vec<f64> = (0..pairs)
            .map(|_| {
                let (u, i) = (rng.random_range(0..users), rng.random_range(0..items));
                fit.user(u).iter().zip(fit.item(i)).map(|(a, b)| f64::from(a * b)).sum()
            })
            .collect();
        let mean = dots.iter().sum::<f64>() / pairs as f64;
        let sd = (dots.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / pairs as f64).sqrt();
        let factor = if sd > 0.0 { ((1.0 / (d as f64).sqrt()) / sd).sqrt() } else { 1.0 };
        let user_vectors = fit.users.iter().map(|x| x * factor as f32).collect();
        let item_vectors = fit.items.iter().map(|x| x * factor as f32).collect();
        let total: f64 = log.counts.iter().map(|&c| c as f64 + 1.0).sum();
        let popularity: Vec<f64> = log.counts.iter().map(|&c| (c as f64 + 1.0) / total).collect();
        let mean_log: f64 = popularity.iter().map(|p| p.ln()).sum::<f64>() / items.max(1) as f64;
        let item_bias = popularity
            .iter()
            .map(|p| (config.popularity_weight * (p.ln() - mean_log)) as f32)
            .collect();
        let prices = match &log.prices {
            Some(prices) => {
                let mut sorted = prices.clone();
                sorted.sort_by(f64::total_cmp);
                if let Some(&median) = sorted.get(sorted.len() / 2).filter(|m| **m > 0.0) {
                    config.price_median = median;
                }
                prices.clone()
            }
            None => {
                let price = LogNormal::new(config.price_median.ln(), config.price_sigma)
                    .unwrap_or_else(|_| unreachable!());
                (0..items).map(|_| (price.sample(&mut rng) * 100.0).round() / 100.0).collect()
            }
        };
        World { config, user_vectors, item_vectors, popularity, item_bias, prices }
    }

    /// Users.
    pub fn users(&self) -> usize {
        self.config.users
    }

    /// Items.
    pub fn items(&self) -> usize {
        self.config.items
    }

    /// The true affinity of `user` for `item`.
    pub fn affinity(&self, user: usize, item: usize) -> f64 {
        let d = self.config.dims;
        let u = &self.user_vectors[user * d..(user + 1) * d];
        let v = &self.item_vectors[item * d..(item + 1) * d];
        let dot: f32 = u.iter().zip(v).map(|(a, b)| a * b).sum();
        self.config.affinity_scale * f64::from(dot) + f64::from(self.item_bias[item])
    }

    /// Every item's true affinity for `user`.
    pub fn affinities(&self, user: usize) -> Vec<f64> {
        (0..self.items()).map(|i| self.affinity(user, i)).collect()
    }

    /// The `k` items of highest true affinity for `user`, best first: the oracle's slate.
    pub fn oracle_slate(&self, user: usize, k: usize) -> Vec<u32> {
        let affinities = self.affinities(user);
        top_k(&affinities, k, |_| false)
    }

    /// The arrival rate at `t` seconds.
    pub fn rate_at(&self, t: f64) -> f64 {
        let cycle = (2.0 * std::f64::consts::PI * t / 86_400.0).sin();
        self.config.sessions_per_second * (1.0 + self.config.daily_amplitude * cycle)
    }

    /// Session arrival times over `[0, duration)` seconds and each session's user: a Poisson
    /// process (thinned for the daily cycle), users drawn uniformly.
    pub fn sessions(&self, duration: f64, seed: Seed) -> Vec<(f64, u32)> {
        let mut rng = seed.derive("arrivals").rng();
        let peak = self.config.sessions_per_second * (1.0 + self.config.daily_amplitude);
        if peak <= 0.0 {
            return Vec::new();
        }
        let gap = Exp::new(peak).unwrap_or_else(|_| unreachable!());
        let mut out = Vec::new();
        let mut t = 0.0;
        loop {
            t += gap.sample(&mut rng);
            if t >= duration {
                return out;
            }
            let keep: f64 = rng.random();
            let user = rng.random_range(0..self.users().max(1)) as u32;
            if keep * peak < self.rate_at(t) {
                out.push((t, user));
            }
        }
    }
}

/// The dice one page of one session rolls, drawn before the page is shown so every policy
/// sees the same ones.
#[derive(Debug, Clone, PartialEq)]
pub struct PageDice {
    /// One uniform per slot beyond the first: examined while below `attention_prob`.
    pub examine: Vec<f64>,
    /// The uniform that picks the click (or no click).
    pub choice: f64,
    /// The uniform that decides the purchase.
    pub purchase: f64,
    /// The uniform that decides whether the session continues.
    pub next: f64,
    /// Seconds until the next page.
    pub think_s: f64,
}

impl PageDice {
    /// The dice of page `page` of session `session`.
    pub fn roll(seed: Seed, session: u64, page: u32, k: usize, think_s: f64) -> PageDice {
        let mut rng =
            seed.derive("pages").derive_index(session).derive_index(u64::from(page)).rng();
        let examine = (1..k).map(|_| rng.random()).collect();
        let choice = rng.random();
        let purchase = rng.random();
        let next = rng.random();
        let think = Exp::new(1.0 / think_s.max(1e-9)).unwrap_or_else(|_| unreachable!());
        PageDice { examine, choice, purchase, next, think_s: think.sample(&mut rng) }
    }
}

/// What a user did with one page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Response {
    /// Slots examined.
    pub examined: usize,
    /// The slot clicked, if any.
    pub click: Option<usize>,
    /// Whether the click led to a purchase.
    pub purchase: bool,
    /// Whether the session goes on.
    pub continues: bool,
}

impl UserModel {
    /// The user's response to `slate` (item affinities in slot order, prices alongside), with
    /// the page's dice. An empty slate is a page with nothing shown.
    pub fn respond(
        &self,
        affinities: &[f64],
        prices: &[f64],
        price_median: f64,
        dice: &PageDice,
    ) -> Response {
        if affinities.is_empty() {
            return Response {
                continues: dice.next < self.continue_after_error,
                ..Response::default()
            };
        }
        let mut examined = 1;
        while examined < affinities.len()
            && dice.examine.get(examined - 1).is_some_and(|u| *u < self.attention_prob)
        {
            examined += 1;
        }
        let click = choose(&affinities[..examined], self.no_click_mass, dice.choice);
        let purchase = click.is_some_and(|slot| {
            let logit = self.purchase_bias + self.purchase_affinity * affinities[slot]
                - self.price_weight * (prices[slot] / price_median).ln();
            dice.purchase < sigmoid(logit)
        });
        let go_on = if click.is_some() { self.continue_after_click } else { self.continue_prob };
        Response { examined, click, purchase, continues: dice.next < go_on }
    }

    /// The probability that a page of these affinities gets a click (for tests and the oracle).
    pub fn click_probability(&self, affinities: &[f64]) -> f64 {
        // Expectation over the examined prefix length.
        let mut total = 0.0;
        let mut reach = 1.0;
        for len in 1..=affinities.len() {
            let stop = if len == affinities.len() { 1.0 } else { 1.0 - self.attention_prob };
            let p_len = reach * stop;
            reach *= self.attention_prob;
            let max = affinities[..len].iter().copied().fold(self.no_click_mass, f64::max);
            let z: f64 = (self.no_click_mass - max).exp()
                + affinities[..len].iter().map(|a| (a - max).exp()).sum::<f64>();
            total += p_len * (1.0 - (self.no_click_mass - max).exp() / z);
        }
        total
    }
}

/// A multinomial logit pick among `logits` and a no-click option of logit `no_click`, by the
/// uniform `u`: the first option whose cumulative probability exceeds `u` (no click first).
pub fn choose(logits: &[f64], no_click: f64, u: f64) -> Option<usize> {
    let max = logits.iter().copied().fold(no_click, f64::max);
    let weights: Vec<f64> = logits.iter().map(|a| (a - max).exp()).collect();
    let none = (no_click - max).exp();
    let z = none + weights.iter().sum::<f64>();
    let mut acc = none / z;
    if u < acc {
        return None;
    }
    for (slot, w) in weights.iter().enumerate() {
        acc += w / z;
        if u < acc {
            return Some(slot);
        }
    }
    Some(weights.len() - 1)
}

/// The logistic function.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The indices of the `k` largest `scores` (ties to the lower index), best first, skipping
/// those `skip` says.
pub fn top_k(scores: &[f64], k: usize, skip: impl Fn(usize) -> bool) -> Vec<u32> {
    let mut idx: Vec<u32> = (0..scores.len() as u32).filter(|&i| !skip(i as usize)).collect();
    let k = k.min(idx.len());
    let cmp = |a: &u32, b: &u32| scores[*b as usize].total_cmp(&scores[*a as usize]).then(a.cmp(b));
    if k < idx.len() && k > 0 {
        idx.select_nth_unstable_by(k - 1, cmp);
    }
    idx.truncate(k);
    idx.sort_unstable_by(cmp);
    idx
}

/// NDCG@k of `slate` against true `affinities` of every item: graded relevance `2^rel − 1`
/// with `rel` the affinity shifted so the catalogue's least-liked item has 0 (pytorch-ignite's
/// exponential-gain form, `log₂(i + 1)` discount), divided by the ideal slate's DCG.
pub fn ndcg(slate: &[u32], affinities: &[f64], k: usize) -> f64 {
    let min = affinities.iter().copied().fold(f64::INFINITY, f64::min);
    let gain = |a: f64| (a - min).exp2() - 1.0;
    let dcg = |items: &mut dyn Iterator<Item = f64>| {
        items.enumerate().map(|(i, g)| g / ((i + 2) as f64).log2()).sum::<f64>()
    };
    let got = dcg(&mut slate.iter().take(k).map(|&i| gain(affinities[i as usize])));
    let ideal = top_k(affinities, k, |_| false);
    let best = dcg(&mut ideal.iter().map(|&i| gain(affinities[i as usize])));
    if best > 0.0 { got / best } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_world_fitted_to_a_log_recovers_the_taste_that_made_it() {
        // A log made by a known world: each user's 20 clicks drawn by logit choice over all
        // items. The world fitted to that log must rank by the known taste far better than
        // popularity or chance (NDCG@10 against the known affinities).
        let truth = World::new(
            WorldConfig { users: 300, items: 150, ..WorldConfig::default() },
            Seed::new(8),
        );
        let mut rng = Seed::new(9).rng();
        let mut positives = Vec::new();
        for u in 0..truth.users() {
            let aff = truth.affinities(u);
            let max = aff.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let weights: Vec<f64> = aff.iter().map(|a| (a - max).exp()).collect();
            let total: f64 = weights.iter().sum();
            for _ in 0..20 {
                let mut x = rng.random::<f64>() * total;
                let item = weights
                    .iter()
                    .position(|w| {
                        x -= w;
                        x <= 0.0
                    })
                    .unwrap_or(0);
                positives.push((u as u32, item as u32));
            }
        }
        let mut counts = vec![0u64; truth.items()];
        for &(_, i) in &positives {
            counts[i as usize] += 1;
        }
        let log = crate::log::InteractionLog {
            path: "made.csv".into(),
            users: (0..truth.users()).map(|u| u.to_string()).collect(),
            items: (0..truth.items()).map(|i| i.to_string()).collect(),
            positives,
            counts: counts.clone(),
            prices: None,
            sessions_per_second: None,
            rows: 6000,
        };
        let fitted = World::from_log(WorldConfig::default(), &log, Seed::new(10));
        assert_eq!((fitted.users(), fitted.items()), (300, 150));
        let mut popular: Vec<u32> = (0..150).collect();
        popular.sort_by_key(|&i| std::cmp::Reverse(counts[i as usize]));
        let (mut by_fit, mut by_popularity, mut by_chance) = (0.0, 0.0, 0.0);
        for u in 0..300 {
            let aff = truth.affinities(u);
            by_fit += ndcg(&fitted.oracle_slate(u, 10), &aff, 10) / 300.0;
            by_popularity += ndcg(&popular[..10], &aff, 10) / 300.0;
            let chance: Vec<u32> = (0..10).map(|j| ((u * 37 + j * 11) % 150) as u32).collect();
            by_chance += ndcg(&chance, &aff, 10) / 300.0;
        }
        assert!(
            by_fit > by_popularity + 0.1 && by_popularity > by_chance,
            "{by_fit} {by_popularity} {by_chance}"
        );
        // The rescaled dot products have the generated world's spread.
        let dots: Vec<f64> = (0..300)
            .flat_map(|u| (0..150).map(move |i| (u, i)))
            .map(|(u, i)| {
                (fitted.affinity(u, i) - f64::from(fitted.item_bias[i]))
                    / fitted.config.affinity_scale
            })
            .collect();
        let mean = dots.iter().sum::<f64>() / dots.len() as f64;
        let sd = (dots.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / dots.len() as f64).sqrt();
        assert!((sd - 0.25).abs() < 0.05, "{sd}");
    }

    #[test]
    fn choice_follows_the_logit_probabilities() {
        // logits 0, ln 2 and no-click ln 1: probabilities 1/4 (none), 1/4, 1/2.
        let logits = [0.0, 2f64.ln()];
        assert_eq!(choose(&logits, 0.0, 0.2), None);
        assert_eq!(choose(&logits, 0.3, 0.0), None);
        assert_eq!(choose(&logits, 0.0, 0.26), Some(0));
        assert_eq!(choose(&logits, 0.0, 0.49), Some(0));
        assert_eq!(choose(&logits, 0.0, 0.51), Some(1));
        assert_eq!(choose(&logits, 0.0, 0.999_999), Some(1));
    }

    #[test]
    fn the_cascade_stops_at_the_first_unattended_slot() {
        let model = UserModel { attention_prob: 0.5, no_click_mass: 0.0, ..UserModel::default() };
        let dice = PageDice {
            examine: vec![0.1, 0.7, 0.1],
            choice: 0.99,
            purchase: 0.0,
            next: 0.0,
            think_s: 1.0,
        };
        // Slots 1 and 2 examined (0.1 < 0.5), slot 3 not (0.7): the click falls on slot 2.
        let response = model.respond(&[0.0, 0.0, 5.0, 5.0], &[1.0; 4], 1.0, &dice);
        assert_eq!(response.examined, 2);
        assert_eq!(response.click, Some(1));
        assert!(response.purchase);
        let nothing = model.respond(&[], &[], 1.0, &dice);
        assert_eq!(nothing.click, None);
        assert_eq!(nothing.examined, 0);
    }

    #[test]
    fn click_probability_matches_simulation() {
        let model = UserModel::default();
        let affinities = [1.5, 1.0, 0.2, -0.5, 0.8];
        let exact = model.click_probability(&affinities);
        let seed = Seed::new(3);
        let n = 40_000;
        let clicks = (0..n)
            .filter(|&s| {
                let dice = PageDice::roll(seed, s, 0, affinities.len(), 1.0);
                model.respond(&affinities, &[1.0; 5], 1.0, &dice).click.is_some()
            })
            .count();
        let rate = clicks as f64 / n as f64;
        // 4 standard errors.
        let se = (exact * (1.0 - exact) / n as f64).sqrt();
        assert!((rate - exact).abs() < 4.0 * se, "simulated {rate}, exact {exact}");
    }

    #[test]
    fn ndcg_is_one_for_the_oracle_and_lower_for_others() {
        let world =
            World::new(WorldConfig { users: 5, items: 50, ..WorldConfig::default() }, Seed::new(1));
        let aff = world.affinities(2);
        let oracle = world.oracle_slate(2, 10);
        assert!((ndcg(&oracle, &aff, 10) - 1.0).abs() < 1e-12);
        let mut reversed = oracle.clone();
        reversed.reverse();
        let worse = ndcg(&reversed, &aff, 10);
        assert!(worse < 1.0 && worse > 0.0);
        // Hand-computed: affinities [1, 0, 2], slate [0, 1] against ideal [2, 0]:
        // gains 2^(1)-1 = 1, 0; ideal 3, 1 → (1/1) / (3 + 1/log2 3).
        let v = ndcg(&[0, 1], &[1.0, 0.0, 2.0], 2);
        assert!((v - 1.0 / (3.0 + 1.0 / 3f64.log2())).abs() < 1e-12);
    }

    #[test]
    fn sessions_arrive_at_the_configured_rate_and_are_seeded() {
        let world = World::new(WorldConfig::default(), Seed::new(1));
        let a = world.sessions(600.0, Seed::new(9));
        let b = world.sessions(600.0, Seed::new(9));
        assert_eq!(a, b);
        let expected = 6000.0;
        assert!(((a.len() as f64) - expected).abs() < 4.0 * expected.sqrt(), "{}", a.len());
        assert!(a.windows(2).all(|w| w[0].0 <= w[1].0));
    }

    #[test]
    fn popularity_is_long_tailed() {
        let world = World::new(WorldConfig::default(), Seed::new(1));
        let mut p = world.popularity.clone();
        p.sort_by(|a, b| b.total_cmp(a));
        let top: f64 = p[..100].iter().sum();
        assert!(top > 0.5, "top 10 % of items hold {top}");
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(world.prices.iter().all(|p| *p > 0.0));
        assert!(world.affinity(0, 0).is_finite());
    }
}
