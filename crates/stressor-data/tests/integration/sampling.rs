//! Seeded, stratified sampling.

use stressor_core::{Batch, Bounds, Dataset, Seed};
use stressor_data::fashion_mnist::{self, Split};
use stressor_data::sample;

fn counts(data: &Dataset) -> Vec<usize> {
    let mut counts = vec![0; data.n_classes()];
    for &label in &data.labels {
        counts[label as usize] += 1;
    }
    counts
}

/// A data set whose sample `i` holds the value `i`, with the given labels.
fn numbered(labels: &[u32], n_classes: usize) -> Dataset {
    let inputs = Batch::new((0..labels.len()).map(|i| i as f32).collect(), vec![labels.len(), 1])
        .expect("one value per sample");
    let names = (0..n_classes).map(|class| class.to_string()).collect();
    Dataset::new("numbered", inputs, labels.to_vec(), names, Bounds::UNIT).expect("consistent")
}

#[test]
fn sampling_is_deterministic() {
    let test = fashion_mnist::load(Split::Test, None).expect("embedded data is valid");
    let a = sample(&test, 300, Seed::new(11));
    let b = sample(&test, 300, Seed::new(11));
    let c = sample(&test, 300, Seed::new(12));
    assert_eq!(a, b);
    assert_ne!(a.labels, c.labels);
    assert_eq!(a.len(), 300);
    assert_eq!(a.name, test.name);
    assert_eq!(counts(&a), vec![30; 10]);
}

#[test]
fn sampling_is_without_replacement_and_in_order() {
    let labels: Vec<u32> = (0..1_000).map(|i| (i % 7) as u32).collect();
    let data = numbered(&labels, 7);
    for n in [0, 1, 6, 7, 8, 333, 999] {
        let subset = sample(&data, n, Seed::new(n as u64));
        let picked = subset.inputs.as_slice();
        assert_eq!(picked.len(), n);
        assert!(picked.windows(2).all(|pair| pair[0] < pair[1]), "distinct and in order");
        for (value, label) in picked.iter().zip(&subset.labels) {
            assert_eq!(labels[*value as usize], *label);
        }
    }
}

#[test]
fn sampling_is_stratified() {
    // 600 / 300 / 100: a sample of 100 keeps the proportions.
    let labels: Vec<u32> = (0..1_000)
        .map(|i| {
            if i < 600 {
                0
            } else if i < 900 {
                1
            } else {
                2
            }
        })
        .collect();
    let data = numbered(&labels, 3);
    assert_eq!(counts(&sample(&data, 100, Seed::new(3))), vec![60, 30, 10]);
    // 5 out of 10 balanced classes: one each for 5 classes, which ones depends on the seed.
    let balanced = numbered(&(0..100).map(|i| i % 10).collect::<Vec<_>>(), 10);
    let picked: Vec<Vec<usize>> =
        (0..8).map(|seed| counts(&sample(&balanced, 5, Seed::new(seed)))).collect();
    assert!(picked.iter().all(|c| c.iter().sum::<usize>() == 5 && c.iter().all(|&k| k <= 1)));
    assert!(picked.windows(2).any(|pair| pair[0] != pair[1]), "ties are broken by the seed");
}

#[test]
fn sampling_everything_returns_the_data_set() {
    let data = numbered(&[0, 1, 1, 0], 2);
    assert_eq!(sample(&data, 4, Seed::new(0)), data);
    assert_eq!(sample(&data, 40, Seed::new(0)), data);
}
