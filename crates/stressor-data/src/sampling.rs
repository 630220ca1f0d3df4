//! Seeded, class-stratified sampling.

use rand::Rng as _;
use stressor_core::{Dataset, Seed};

/// `n` samples of `dataset`, drawn without replacement, stratified by class, in their original
/// order.
///
/// Each class gets its proportional share of `n`, rounded by largest remainder (ties broken by
/// the seed), so a balanced data set gives a balanced sample. The same data set, `n` and seed
/// always give the same samples. With `n >= dataset.len()` the whole data set is returned. The
/// name, class names and bounds are kept.
///
/// # Examples
/// ```
/// use stressor_core::Seed;
/// use stressor_data::fashion_mnist::{self, Split};
/// let test = fashion_mnist::load(Split::Test, None)?;
/// let subset = stressor_data::sample(&test, 500, Seed::new(1));
/// let n_bags = subset.labels.iter().filter(|&&label| label == 8).count();
/// assert_eq!(n_bags, 50);
/// assert_eq!(subset, stressor_data::sample(&test, 500, Seed::new(1)));
/// # Ok::<(), stressor_data::DataError>(())
/// ```
pub fn sample(dataset: &Dataset, n: usize, seed: Seed) -> Dataset {
    if n >= dataset.len() {
        return dataset.clone();
    }
    dataset.select(&sample_indices(dataset, n, seed))
}

/// The indices [`sample`] draws, increasing: `n` of them, or all when `n >= dataset.len()`.
pub fn sample_indices(dataset: &Dataset, n: usize, seed: Seed) -> Vec<usize> {
    let total = dataset.len();
    if n >= total {
        return (0..total).collect();
    }
    let mut rng = seed.rng();
    // The labels field is public, so size the classes by the labels present rather than by
    // `class_names`, which could be shorter.
    let n_classes = dataset.labels.iter().max().map_or(0, |&max| max as usize + 1);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (index, &label) in dataset.labels.iter().enumerate() {
        by_class[label as usize].push(index);
    }

    // Largest-remainder apportionment of `n` over the classes; `u128` keeps `n * count` exact.
    let share = |count: usize| (n as u128 * count as u128 / total as u128) as usize;
    let remainder = |count: usize| n as u128 * count as u128 % total as u128;
    let mut quotas: Vec<usize> = by_class.iter().map(|indices| share(indices.len())).collect();
    let mut leftover = n - quotas.iter().sum::<usize>();
    let mut order: Vec<usize> = (0..n_classes).collect();
    shuffle_prefix(&mut order, n_classes, &mut rng);
    order.sort_by_key(|&class| std::cmp::Reverse(remainder(by_class[class].len())));
    for class in order {
        if leftover == 0 {
            break;
        }
        // A class with a non-zero remainder has more samples than its floored share.
        if remainder(by_class[class].len()) > 0 {
            quotas[class] += 1;
            leftover -= 1;
        }
    }

    let mut chosen = Vec::with_capacity(n);
    for (indices, quota) in by_class.iter_mut().zip(quotas) {
        shuffle_prefix(indices, quota, &mut rng);
        chosen.extend_from_slice(&indices[..quota]);
    }
    chosen.sort_unstable();
    chosen
}

/// Puts a uniform random choice of `k` elements, in random order, at the front of `items`
/// (a partial Fisher–Yates shuffle).
fn shuffle_prefix<T>(items: &mut [T], k: usize, rng: &mut stressor_core::Rng) {
    let len = items.len();
    for i in 0..k.min(len) {
        let j = rng.random_range(i..len);
        items.swap(i, j);
    }
}
