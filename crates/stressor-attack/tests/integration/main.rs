//! Integration tests of the attacks against toy models with known answers.

#![expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]

mod errors;
mod hop_skip_jump;
mod known;
mod properties;
mod strength;
mod tabular;

use rand::Rng as _;
use stressor_attack::{Apgd, Attack, AttackOutcome, Fgsm, Goal, HopSkipJump, Norm, Pgd, Square};
use stressor_core::{Batch, Bounds, Seed};
use stressor_model::Model;

/// Every attack for `norm`, with small budgets (Square only for L∞).
fn all_attacks(norm: Norm) -> Vec<Box<dyn Attack>> {
    let mut attacks: Vec<Box<dyn Attack>> = vec![
        Box::new(Fgsm { norm }),
        Box::new(Pgd { norm, steps: 5, step_size: 0.5, restarts: 2, random_start: true }),
        Box::new(Apgd { norm, steps: 8, restarts: 2, ..Apgd::default() }),
    ];
    if norm == Norm::Linf {
        attacks.push(Box::new(Square { n_queries: 30, p_init: 0.3, ..Square::default() }));
    }
    attacks.push(Box::new(HopSkipJump {
        norm,
        max_queries: 120,
        max_iterations: 4,
        init_evaluations: 16,
        init_size: 20,
        ..HopSkipJump::default()
    }));
    attacks
}

/// `n` samples of `sample_shape` uniform in `[low, high]`.
fn uniform_batch(n: usize, sample_shape: &[usize], low: f32, high: f32, seed: Seed) -> Batch {
    let mut rng = seed.rng();
    let mut batch = Batch::zeros(n, sample_shape);
    for v in batch.as_mut_slice() {
        *v = rng.random_range(low..=high);
    }
    batch
}

/// The model's predictions.
fn predict(model: &dyn Model, inputs: &Batch) -> Vec<u32> {
    model.predict(inputs).unwrap().predictions()
}

/// Runs `attack` with no progress reporting.
fn run(
    attack: &dyn Attack,
    model: &dyn Model,
    inputs: &Batch,
    labels: &[u32],
    goal: &Goal,
    epsilon: f32,
    seed: u64,
) -> AttackOutcome {
    attack
        .run(model, inputs, labels, goal, epsilon, Seed::new(seed), &mut |_, _| {})
        .unwrap_or_else(|error| panic!("{} failed: {error}", attack.name()))
}

/// Panics unless every adversarial sample lies within ε of its input and within `bounds`.
fn assert_within(
    attack: &str,
    outcome: &AttackOutcome,
    inputs: &Batch,
    epsilon: f32,
    norm: Norm,
    bounds: Bounds,
) {
    assert_eq!(outcome.adversarial.shape(), inputs.shape(), "{attack}: shape");
    for i in 0..inputs.len() {
        let (adversarial, original) = (outcome.adversarial.sample(i), inputs.sample(i));
        assert!(
            adversarial.iter().all(|v| (bounds.min..=bounds.max).contains(v)),
            "{attack}: sample {i} leaves the bounds"
        );
        let distance = match norm {
            Norm::Linf => adversarial
                .iter()
                .zip(original)
                .map(|(a, o)| f64::from((a - o).abs()))
                .fold(0.0, f64::max),
            Norm::L2 => adversarial
                .iter()
                .zip(original)
                .map(|(a, o)| f64::from(a - o).powi(2))
                .sum::<f64>()
                .sqrt(),
        };
        let tolerance = 1e-6 * (1.0 + f64::from(epsilon));
        assert!(
            distance <= f64::from(epsilon) + tolerance,
            "{attack}: sample {i} is {distance} away, ε = {epsilon}"
        );
    }
}
