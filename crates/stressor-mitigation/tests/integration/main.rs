//! Mitigations trained on a slice of the embedded Fashion-MNIST, measured against the stress
//! they target.

#![expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]

mod adversarial;
mod augmented;
mod errors;

use std::sync::OnceLock;

use stressor_attack::{Attack, Goal, Pgd};
use stressor_core::{Dataset, Seed};
use stressor_data::fashion_mnist::{self, Split};
use stressor_model::Model;
use stressor_model::builtin::{FashionCnn, TrainConfig, train};

/// Training images: enough for a CNN to learn in one epoch, few enough for a test.
const N_TRAIN: usize = 3000;
/// Test images for robust accuracy: PGD runs 10 gradient steps on each.
const N_TEST: usize = 300;

fn train_set() -> &'static Dataset {
    static DATA: OnceLock<Dataset> = OnceLock::new();
    DATA.get_or_init(|| fashion_mnist::load(Split::Train, Some(N_TRAIN)).unwrap())
}

fn test_set() -> &'static Dataset {
    static DATA: OnceLock<Dataset> = OnceLock::new();
    DATA.get_or_init(|| fashion_mnist::load(Split::Test, Some(N_TEST)).unwrap())
}

/// One epoch over the training slice, the same for every mitigation.
fn one_epoch() -> TrainConfig {
    let mut config = TrainConfig::default();
    config.epochs = 1;
    config
}

/// The normally trained baseline, shared by the tests.
fn normal_model() -> &'static FashionCnn {
    static MODEL: OnceLock<FashionCnn> = OnceLock::new();
    MODEL.get_or_init(|| train(train_set(), &one_epoch(), Seed::new(0), &mut |_| {}).unwrap())
}

/// The share of `data` that PGD-L∞ (10 steps of ε/4, random start) does not break at `epsilon`.
fn robust_accuracy(model: &dyn Model, data: &Dataset, epsilon: f32) -> f64 {
    let pgd = Pgd { steps: 10, step_size: 0.25, ..Pgd::default() };
    let outcome = pgd
        .run(
            model,
            &data.inputs,
            &data.labels,
            &Goal::Untargeted,
            epsilon,
            Seed::new(5),
            &mut |_, _| {},
        )
        .unwrap();
    outcome.success.iter().filter(|s| !**s).count() as f64 / data.len() as f64
}
