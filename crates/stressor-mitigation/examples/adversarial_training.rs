//! Trains the built-in CNN normally and with PGD adversarial training on the embedded
//! Fashion-MNIST training slice and prints wall times, clean accuracy and PGD robust accuracy.
//!
//! `cargo run --release -p stressor-mitigation --example adversarial_training -- [N_TRAIN]
//! [N_TEST] [PGD_AT_STEPS] [EPSILON]` (defaults: 30 000, 10 000, 3, 0.1). Robust accuracy is
//! measured with PGD-L∞, 10 steps of ε/4 from a random start, at ε = 0.1 and ε = 8/255.
#![expect(clippy::print_stdout, reason = "an example reports on stdout")]

use std::time::Instant;

use stressor_attack::{Attack, Goal, Pgd};
use stressor_core::{Dataset, Seed};
use stressor_data::fashion_mnist::{self, Split};
use stressor_mitigation::{AdversarialTraining, adversarial_training};
use stressor_model::Model;
use stressor_model::builtin::{FashionCnn, TrainConfig, train};

/// The `stressor` binary's allocator, so the timings match what users run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        .expect("PGD runs on the CNN");
    outcome.success.iter().filter(|s| !**s).count() as f64 / data.len() as f64
}

fn report(name: &str, model: &FashionCnn, test: &Dataset, train_seconds: f64) {
    let start = Instant::now();
    let clean = model.accuracy(test).expect("the CNN runs");
    let at_0_1 = robust_accuracy(model, test, 0.1);
    let at_8_255 = robust_accuracy(model, test, 8.0 / 255.0);
    println!(
        "{name:>8}: train {train_seconds:7.1} s | clean {:5.1} % | PGD ε=0.1 {:5.1} % | PGD ε=8/255 {:5.1} % | eval {:.1} s",
        100.0 * clean,
        100.0 * at_0_1,
        100.0 * at_8_255,
        start.elapsed().as_secs_f64()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, default: f64| {
        args.get(i).map_or(default, |s| s.parse().expect("numeric argument"))
    };
    let n_train = arg(1, 30_000.0) as usize;
    let n_test = arg(2, 10_000.0) as usize;
    let train_set = fashion_mnist::load(Split::Train, Some(n_train)).expect("embedded data loads");
    let test_set = fashion_mnist::load(Split::Test, Some(n_test)).expect("embedded data loads");
    let mut config = AdversarialTraining::default();
    config.steps = arg(3, f64::from(config.steps)) as u32;
    config.epsilon = arg(4, f64::from(config.epsilon)) as f32;
    println!(
        "{} training images, {} test images, {:?}, {} threads",
        train_set.len(),
        test_set.len(),
        config,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    let start = Instant::now();
    let normal = train(&train_set, &TrainConfig::default(), Seed::new(0), &mut |_| {})
        .expect("training runs");
    let normal_seconds = start.elapsed().as_secs_f64();
    report("normal", &normal, &test_set, normal_seconds);

    let start = Instant::now();
    let robust = adversarial_training(&train_set, &config, Seed::new(0), &mut |_| {})
        .expect("adversarial training runs");
    let robust_seconds = start.elapsed().as_secs_f64();
    report("PGD-AT", &robust, &test_set, robust_seconds);
    println!("PGD-AT / normal training time: {:.2}×", robust_seconds / normal_seconds);
}
