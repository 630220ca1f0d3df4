//! The ranking model: matrix factorisation trained with BPR (Rendle et al., UAI 2009) on the
//! logged clicks, candidate generation in its embedding space, and the scoring that mixes
//! the user's embedding, their recent items and the stream's item CTR.
//!
//! A user's query vector is their BPR embedding plus `recent_weight` times the mean embedding
//! of their recently clicked items (the real-time signal the stream job keeps fresh).
//! Candidates are the `candidates` items of highest `query · v + b` plus the stream's popular
//! list; the final score adds `ctr_weight · ln(CTR / prior CTR)` with the item's smoothed CTR
//! over the stream window, and the user's recent items are left out.

use std::sync::Arc;

use rand::Rng as _;
use rand_distr::{Distribution, Normal};
use stressor_core::Seed;

use crate::store::{ItemStats, Record};

/// BPR's hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BprConfig {
    /// Latent factors.
    pub factors: usize,
    /// Passes over the positives.
    pub epochs: usize,
    /// SGD step.
    pub learning_rate: f32,
    /// L2 regularisation.
    pub regularization: f32,
}

impl Default for BprConfig {
    fn default() -> Self {
        BprConfig { factors: 16, epochs: 30, learning_rate: 0.05, regularization: 0.01 }
    }
}

/// A trained model: user and item embeddings and item biases.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    /// Latent factors.
    pub factors: usize,
    /// `users × factors`.
    pub users: Vec<f32>,
    /// `items × factors`.
    pub items: Vec<f32>,
    /// Per-item bias.
    pub item_bias: Vec<f32>,
}

impl Embeddings {
    /// User `u`'s embedding.
    pub fn user(&self, u: usize) -> &[f32] {
        &self.users[u * self.factors..(u + 1) * self.factors]
    }

    /// Item `i`'s embedding.
    pub fn item(&self, i: usize) -> &[f32] {
        &self.items[i * self.factors..(i + 1) * self.factors]
    }

    /// Items.
    pub fn n_items(&self) -> usize {
        self.item_bias.len()
    }

    /// A bad push of this model: item embeddings with Gaussian noise of `sigma` times their
    /// RMS, or (for `sigma = None`) assigned to the wrong items by a seeded permutation.
    pub fn corrupted(&self, sigma: Option<f64>, seed: Seed) -> Embeddings {
        let mut rng = seed.derive("bad-push").rng();
        let mut out = self.clone();
        match sigma {
            Some(sigma) => {
                let rms = (self.items.iter().map(|x| f64::from(x * x)).sum::<f64>()
                    / self.items.len().max(1) as f64)
                    .sqrt();
                let noise =
                    Normal::new(0.0, (sigma * rms).max(0.0)).unwrap_or_else(|_| unreachable!());
                for x in &mut out.items {
                    *x += noise.sample(&mut rng) as f32;
                }
            }
            None => {
                let n = self.n_items();
                let mut perm: Vec<usize> = (0..n).collect();
                for i in (1..n).rev() {
                    perm.swap(i, rng.random_range(0..=i));
                }
                for (to, &from) in perm.iter().enumerate() {
                    out.items[to * self.factors..(to + 1) * self.factors]
                        .copy_from_slice(self.item(from));
                    out.item_bias[to] = self.item_bias[from];
                }
            }
        }
        out
    }
}

/// Trains BPR on `(user, item)` positives with uniformly sampled negatives.
pub fn train_bpr(
    positives: &[(u32, u32)],
    users: usize,
    items: usize,
    config: BprConfig,
    seed: Seed,
) -> Embeddings {
    let f = config.factors;
    let mut rng = seed.derive("bpr").rng();
    let init = Normal::new(0.0, 0.1).unwrap_or_else(|_| unreachable!());
    let mut user_f: Vec<f32> = (0..users * f).map(|_| init.sample(&mut rng) as f32).collect();
    let mut item_f: Vec<f32> = (0..items * f).map(|_| init.sample(&mut rng) as f32).collect();
    let mut bias = vec![0.0f32; items];
    let mut order: Vec<usize> = (0..positives.len()).collect();
    let (lr, reg) = (config.learning_rate, config.regularization);
    let mut du = vec![0.0f32; f];
    for _ in 0..config.epochs {
        for i in (1..order.len()).rev() {
            order.swap(i, rng.random_range(0..=i));
        }
        for &p in &order {
            let (u, i) = (positives[p].0 as usize, positives[p].1 as usize);
            let j = rng.random_range(0..items);
            if j == i {
                continue;
            }
            let (uo, io, jo) = (u * f, i * f, j * f);
            let mut x = bias[i] - bias[j];
            for k in 0..f {
                x += user_f[uo + k] * (item_f[io + k] - item_f[jo + k]);
            }
            let g = 1.0 / (1.0 + x.exp());
            for k in 0..f {
                let (wu, wi, wj) = (user_f[uo + k], item_f[io + k], item_f[jo + k]);
                du[k] = lr * (g * (wi - wj) - reg * wu);
                item_f[io + k] += lr * (g * wu - reg * wi);
                item_f[jo + k] += lr * (-g * wu - reg * wj);
            }
            for k in 0..f {
                user_f[uo + k] += du[k];
            }
            bias[i] += lr * (g - reg * bias[i]);
            bias[j] += lr * (-g - reg * bias[j]);
        }
    }
    Embeddings { factors: f, users: user_f, items: item_f, item_bias: bias }
}

/// The area under the ROC curve of `embeddings` on held-out `(user, item)` positives against
/// every other item: the probability that a held-out positive outranks a random item.
pub fn auc(embeddings: &Embeddings, held_out: &[(u32, u32)]) -> f64 {
    let n = embeddings.n_items();
    let mut total = 0.0;
    for &(u, i) in held_out {
        let user = embeddings.user(u as usize);
        let score = |item: usize| {
            embeddings.item_bias[item]
                + user.iter().zip(embeddings.item(item)).map(|(a, b)| a * b).sum::<f32>()
        };
        let pos = score(i as usize);
        let below = (0..n).filter(|&j| j != i as usize && score(j) < pos).count();
        total += below as f64 / (n - 1).max(1) as f64;
    }
    total / held_out.len().max(1) as f64
}

/// How the ranker mixes its signals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankerConfig {
    /// Weight of the recent items' mean embedding in the query.
    pub recent_weight: f32,
    /// Weight of the log relative CTR in the score.
    pub ctr_weight: f64,
    /// Candidates from the embedding space.
    pub candidates: usize,
    /// The prior CTR the item CTR is smoothed toward.
    pub prior_ctr: f64,
    /// Impressions' worth of prior.
    pub prior_impressions: f64,
}

impl Default for RankerConfig {
    fn default() -> Self {
        RankerConfig {
            recent_weight: 0.5,
            ctr_weight: 0.5,
            candidates: 100,
            prior_ctr: 0.02,
            prior_impressions: 50.0,
        }
    }
}

/// The ranker serving one model version.
#[derive(Debug, Clone)]
pub struct Ranker {
    /// The mixing weights.
    pub config: RankerConfig,
    /// The model it serves.
    pub model: Arc<Embeddings>,
}

impl Ranker {
    /// The query vector from a user's profile embedding and their recent items.
    pub fn query(&self, profile: &[f32], recent: &[u32]) -> Vec<f32> {
        let mut q = profile.to_vec();
        let recent: Vec<usize> =
            recent.iter().map(|&i| i as usize).filter(|&i| i < self.model.n_items()).collect();
        if !recent.is_empty() {
            let w = self.config.recent_weight / recent.len() as f32;
            for &i in &recent {
                for (x, v) in q.iter_mut().zip(self.model.item(i)) {
                    *x += w * v;
                }
            }
        }
        q
    }

    /// The model's base score of every item for `query`.
    pub fn base_scores(&self, query: &[f32]) -> Vec<f64> {
        (0..self.model.n_items())
            .map(|i| {
                f64::from(
                    self.model.item_bias[i]
                        + query.iter().zip(self.model.item(i)).map(|(a, b)| a * b).sum::<f32>(),
                )
            })
            .collect()
    }

    /// Candidates: the best `candidates` items by base score and the popular list, without
    /// `exclude`, deduplicated, in a stable order.
    pub fn candidates(&self, base: &[f64], popular: &[u32], exclude: &[u32]) -> Vec<u32> {
        let mut out =
            crate::world::top_k(base, self.config.candidates, |i| exclude.contains(&(i as u32)));
        for &item in popular {
            if (item as usize) < base.len() && !exclude.contains(&item) && !out.contains(&item) {
                out.push(item);
            }
        }
        out
    }

    /// The final scores of `candidates` given their stream stats (`None`: not found).
    pub fn score(
        &self,
        base: &[f64],
        candidates: &[u32],
        stats: &[Option<Record<ItemStats>>],
    ) -> Vec<f64> {
        let prior = self.config.prior_ctr;
        candidates
            .iter()
            .zip(stats)
            .map(|(&item, stat)| {
                let ctr = match stat {
                    Some(r) => {
                        (r.value.clicks + prior * self.config.prior_impressions)
                            / (r.value.impressions + self.config.prior_impressions)
                    }
                    None => prior,
                };
                base[item as usize] + self.config.ctr_weight * (ctr / prior).ln()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Positives planted from a rank-2 structure: two groups of users, each liking one half
    /// of the items.
    fn planted(users: usize, items: usize, per_user: usize, seed: Seed) -> Vec<(u32, u32)> {
        let mut rng = seed.rng();
        let half = items / 2;
        let mut out = Vec::new();
        for u in 0..users {
            let base = if u % 2 == 0 { 0 } else { half };
            for _ in 0..per_user {
                out.push((u as u32, (base + rng.random_range(0..half)) as u32));
            }
        }
        out
    }

    #[test]
    fn bpr_learns_a_planted_structure() {
        let train = planted(200, 100, 20, Seed::new(1));
        let test = planted(200, 100, 2, Seed::new(2));
        let model = train_bpr(&train, 200, 100, BprConfig::default(), Seed::new(3));
        let trained = auc(&model, &test);
        // Half the items are the user's group's: a perfect model puts held-out positives above
        // the other half, AUC ≈ 0.75 (within the liked half the order is random).
        assert!(trained > 0.7, "AUC {trained}");
        let untrained = train_bpr(
            &train,
            200,
            100,
            BprConfig { epochs: 0, ..BprConfig::default() },
            Seed::new(3),
        );
        assert!((auc(&untrained, &test) - 0.5).abs() < 0.1);
    }

    #[test]
    fn bad_pushes_change_the_embeddings() {
        let model = train_bpr(
            &planted(20, 10, 5, Seed::new(1)),
            20,
            10,
            BprConfig::default(),
            Seed::new(3),
        );
        let shuffled = model.corrupted(None, Seed::new(4));
        assert_ne!(shuffled.items, model.items);
        let mut a = shuffled.items.clone();
        let mut b = model.items.clone();
        a.sort_by(f32::total_cmp);
        b.sort_by(f32::total_cmp);
        assert_eq!(a, b, "a shuffle only moves embeddings");
        let noisy = model.corrupted(Some(1.0), Seed::new(4));
        assert_eq!(noisy.item_bias, model.item_bias);
        assert_ne!(noisy.items, model.items);
    }

    #[test]
    fn scoring_prefers_clicked_items_and_leaves_recent_ones_out() {
        let model = Arc::new(Embeddings {
            factors: 1,
            users: vec![1.0],
            items: vec![1.0, 0.5, 0.0],
            item_bias: vec![0.0; 3],
        });
        let ranker =
            Ranker { config: RankerConfig { candidates: 2, ..RankerConfig::default() }, model };
        let q = ranker.query(&[1.0], &[]);
        let base = ranker.base_scores(&q);
        assert_eq!(base, vec![1.0, 0.5, 0.0]);
        assert_eq!(ranker.candidates(&base, &[2], &[0]), vec![1, 2]);
        let hot = Some(Record {
            value: ItemStats { impressions: 100.0, clicks: 50.0 },
            ts: 0.0,
            fresh: 0.0,
        });
        let scores = ranker.score(&base, &[1, 2], &[None, hot]);
        assert_eq!(scores[0], 0.5);
        assert!(scores[1] > 1.0, "a hot item's CTR lifts it: {}", scores[1]);
    }
}
