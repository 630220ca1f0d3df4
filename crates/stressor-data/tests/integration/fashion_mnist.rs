//! The embedded Fashion-MNIST.

use std::time::Instant;

use stressor_core::{Bounds, Dataset};
use stressor_data::fashion_mnist::{self, CLASS_NAMES, Split};

fn class_counts(data: &Dataset) -> Vec<usize> {
    let mut counts = vec![0; data.n_classes()];
    for &label in &data.labels {
        counts[label as usize] += 1;
    }
    counts
}

#[test]
fn test_split_is_complete_and_balanced() {
    let started = Instant::now();
    let test = fashion_mnist::load(Split::Test, None).expect("embedded data is valid");
    let first_ms = started.elapsed().as_millis();
    assert_eq!(test.name, "fashion-mnist/test");
    assert_eq!(test.len(), 10_000);
    assert_eq!(test.inputs.shape(), &[10_000, 1, 28, 28]);
    assert_eq!(test.bounds, Bounds::UNIT);
    assert_eq!(test.class_names, CLASS_NAMES);
    assert_eq!(class_counts(&test), vec![1_000; 10]);
    let values = test.inputs.as_slice();
    assert!(values.iter().all(|v| (0.0..=1.0).contains(v)));
    assert!(values.contains(&0.0) && values.contains(&1.0));
    // The first test image is an ankle boot (upstream's README shows it).
    assert_eq!(test.labels[0], 9);

    let started = Instant::now();
    let again = fashion_mnist::load(Split::Test, None).expect("embedded data is valid");
    let second_ms = started.elapsed().as_millis();
    assert_eq!(again, test);
    // Timings are measured, not asserted: they depend on the machine.
    let _ = (first_ms, second_ms);
}

#[test]
fn train_slice_has_30k() {
    let train = fashion_mnist::load(Split::Train, None).expect("embedded data is valid");
    assert_eq!(train.name, "fashion-mnist/train");
    assert_eq!(train.len(), Split::Train.n_samples());
    assert_eq!(train.len(), 30_000);
    assert_eq!(train.inputs.sample_shape(), &[1, 28, 28]);
    // The counts stated in data/fashion-mnist/NOTICE.
    assert_eq!(
        class_counts(&train),
        vec![2945, 3015, 2989, 3017, 2960, 3030, 3081, 3021, 2972, 2970]
    );
}

#[test]
fn limit_takes_the_first_samples() {
    let full = fashion_mnist::load(Split::Test, None).expect("embedded data is valid");
    let head = fashion_mnist::load(Split::Test, Some(25)).expect("embedded data is valid");
    assert_eq!(head.len(), 25);
    assert_eq!(head.inputs, full.inputs.slice(0, 25));
    assert_eq!(head.labels, full.labels[..25]);
    let all = fashion_mnist::load(Split::Test, Some(1_000_000)).expect("embedded data is valid");
    assert_eq!(all.len(), 10_000);
    let none = fashion_mnist::load(Split::Test, Some(0)).expect("embedded data is valid");
    assert!(none.is_empty());
    assert_eq!(none.inputs.shape(), &[0, 1, 28, 28]);
}
