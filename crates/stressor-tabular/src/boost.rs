//! Gradient-boosted decision trees for binary classification (log loss), in the histogram
//! style of LightGBM and scikit-learn's `HistGradientBoostingClassifier`: each feature is cut
//! at up to `bins − 1` training quantiles once, trees grow depth-wise on gradient/Hessian
//! histograms, leaves take the Newton step `−G/(H + λ)` shrunk by the learning rate, and each
//! tree sees a seeded subsample of the rows.
//!
//! Friedman, *Greedy Function Approximation: A Gradient Boosting Machine*, Ann. Statist. 2001;
//! Chen & Guestrin, *XGBoost*, KDD 2016 (the split gain with λ).

use rand::seq::index::sample;
use stressor_core::Seed;

use crate::logistic::sigmoid;
use crate::{Matrix, TableError};

/// How the trees are grown.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoostParams {
    /// Trees.
    pub trees: usize,
    /// Maximum depth of each tree.
    pub depth: usize,
    /// Shrinkage of each tree's leaves.
    pub learning_rate: f64,
    /// Fewest rows in a leaf.
    pub min_leaf: usize,
    /// L2 penalty on leaf values.
    pub lambda: f64,
    /// Share of rows each tree sees (drawn without replacement).
    pub subsample: f64,
    /// Histogram bins per feature (at most 256).
    pub bins: usize,
}

impl Default for BoostParams {
    fn default() -> BoostParams {
        BoostParams {
            trees: 100,
            depth: 3,
            learning_rate: 0.1,
            min_leaf: 10,
            lambda: 1.0,
            subsample: 0.8,
            bins: 64,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// Rows with `x[feature] <= threshold` go to `left`, the others to `right`.
    Split {
        feature: usize,
        threshold: f64,
        left: usize,
        right: usize,
    },
    Leaf(f64),
}

/// A fitted ensemble of trees.
#[derive(Debug, Clone, PartialEq)]
pub struct Boosted {
    base: f64,
    trees: Vec<Vec<Node>>,
}

/// Per-feature cut points and each training row's bin.
struct Binned {
    cuts: Vec<Vec<f64>>,
    /// Column-major: `bins[feature][row]`.
    bins: Vec<Vec<u8>>,
}

fn bin_features(x: &Matrix, max_bins: usize) -> Binned {
    let mut cuts = Vec::with_capacity(x.cols);
    let mut bins = Vec::with_capacity(x.cols);
    for j in 0..x.cols {
        let mut values: Vec<f64> = (0..x.rows).map(|i| x.data[i * x.cols + j]).collect();
        values.sort_by(f64::total_cmp);
        let mut unique = values.clone();
        unique.dedup();
        let column_cuts: Vec<f64> = if unique.len() <= max_bins {
            unique.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect()
        } else {
            let mut c: Vec<f64> =
                (1..max_bins).map(|k| values[k * values.len() / max_bins]).collect();
            c.dedup();
            c
        };
        let column_bins = (0..x.rows)
            .map(|i| {
                let v = x.data[i * x.cols + j];
                column_cuts.partition_point(|&c| c < v) as u8
            })
            .collect();
        cuts.push(column_cuts);
        bins.push(column_bins);
    }
    Binned { cuts, bins }
}

impl Boosted {
    /// Fits `params.trees` trees to `x` and `y` (0/1), seeded.
    ///
    /// # Errors
    /// [`TableError::Shape`] for mismatched lengths, no rows, a single class, or parameters
    /// out of range.
    pub fn fit(
        x: &Matrix,
        y: &[u8],
        params: BoostParams,
        seed: Seed,
    ) -> Result<Boosted, TableError> {
        if x.rows != y.len() || x.rows == 0 {
            return Err(TableError::Shape(format!(
                "gradient boosting: {} rows of features for {} labels",
                x.rows,
                y.len()
            )));
        }
        let valid = (2..=256).contains(&params.bins)
            && params.depth > 0
            && params.subsample > 0.0
            && params.subsample <= 1.0
            && params.learning_rate > 0.0
            && params.lambda >= 0.0;
        if !valid {
            return Err(TableError::Shape(format!(
                "gradient boosting: bins must lie in 2..=256, depth ≥ 1, subsample in (0, 1], learning_rate > 0, lambda ≥ 0 (got {params:?})"
            )));
        }
        let positives = y.iter().filter(|&&v| v == 1).count();
        if positives == 0 || positives == y.len() {
            return Err(TableError::Shape(
                "gradient boosting: the training rows hold a single class".into(),
            ));
        }
        let prior = positives as f64 / y.len() as f64;
        let base = (prior / (1.0 - prior)).ln();
        let binned = bin_features(x, params.bins);
        let mut score = vec![base; x.rows];
        let mut trees = Vec::with_capacity(params.trees);
        let take = ((params.subsample * x.rows as f64).round() as usize).clamp(1, x.rows);
        for t in 0..params.trees {
            let mut rng = seed.derive_index(t as u64).rng();
            let mut rows: Vec<usize> = sample(&mut rng, x.rows, take).into_vec();
            rows.sort_unstable();
            let (grad, hess): (Vec<f64>, Vec<f64>) = score
                .iter()
                .zip(y)
                .map(|(&s, &label)| {
                    let p = sigmoid(s);
                    (p - f64::from(label), (p * (1.0 - p)).max(1e-16))
                })
                .unzip();
            let mut nodes = Vec::new();
            grow(&binned, &grad, &hess, rows, params, params.depth, &mut nodes);
            for (i, s) in score.iter_mut().enumerate() {
                *s += predict_tree(&nodes, x.row(i));
            }
            trees.push(nodes);
        }
        Ok(Boosted { base, trees })
    }

    /// The probability of class 1 for each row of `x`.
    pub fn predict(&self, x: &Matrix) -> Vec<f64> {
        (0..x.rows)
            .map(|i| {
                let row = x.row(i);
                sigmoid(self.base + self.trees.iter().map(|t| predict_tree(t, row)).sum::<f64>())
            })
            .collect()
    }

    /// Trees in the ensemble.
    pub fn len(&self) -> usize {
        self.trees.len()
    }

    /// Whether it has no trees.
    pub fn is_empty(&self) -> bool {
        self.trees.is_empty()
    }
}

fn predict_tree(nodes: &[Node], row: &[f64]) -> f64 {
    let mut at = 0;
    loop {
        match nodes[at] {
            Node::Leaf(v) => return v,
            Node::Split { feature, threshold, left, right } => {
                at = if row[feature] <= threshold { left } else { right };
            }
        }
    }
}

/// Grows the subtree for `rows` into `nodes`; returns its root's index.
fn grow(
    binned: &Binned,
    grad: &[f64],
    hess: &[f64],
    rows: Vec<usize>,
    params: BoostParams,
    depth: usize,
    nodes: &mut Vec<Node>,
) -> usize {
    let g: f64 = rows.iter().map(|&i| grad[i]).sum();
    let h: f64 = rows.iter().map(|&i| hess[i]).sum();
    let at = nodes.len();
    nodes.push(Node::Leaf(-params.learning_rate * g / (h + params.lambda)));
    if depth == 0 || rows.len() < 2 * params.min_leaf {
        return at;
    }
    let parent = g * g / (h + params.lambda);
    let mut best: Option<(f64, usize, usize)> = None; // gain, feature, bin
    let mut hist_g = [0.0f64; 256];
    let mut hist_h = [0.0f64; 256];
    let mut hist_n = [0usize; 256];
    for (j, column) in binned.bins.iter().enumerate() {
        let n_bins = binned.cuts[j].len() + 1;
        if n_bins < 2 {
            continue;
        }
        hist_g[..n_bins].fill(0.0);
        hist_h[..n_bins].fill(0.0);
        hist_n[..n_bins].fill(0);
        for &i in &rows {
            let b = usize::from(column[i]);
            hist_g[b] += grad[i];
            hist_h[b] += hess[i];
            hist_n[b] += 1;
        }
        let (mut gl, mut hl, mut nl) = (0.0, 0.0, 0);
        for b in 0..n_bins - 1 {
            gl += hist_g[b];
            hl += hist_h[b];
            nl += hist_n[b];
            let nr = rows.len() - nl;
            if nl < params.min_leaf || nr < params.min_leaf {
                continue;
            }
            let (gr, hr) = (g - gl, h - hl);
            let gain = gl * gl / (hl + params.lambda) + gr * gr / (hr + params.lambda) - parent;
            if gain > 1e-12 && best.is_none_or(|(best_gain, _, _)| gain > best_gain) {
                best = Some((gain, j, b));
            }
        }
    }
    let Some((_, feature, bin)) = best else { return at };
    let (left_rows, right_rows): (Vec<usize>, Vec<usize>) =
        rows.into_iter().partition(|&i| usize::from(binned.bins[feature][i]) <= bin);
    let left = grow(binned, grad, hess, left_rows, params, depth - 1, nodes);
    let right = grow(binned, grad, hess, right_rows, params, depth - 1, nodes);
    nodes[at] = Node::Split { feature, threshold: binned.cuts[feature][bin], left, right };
    at
}
