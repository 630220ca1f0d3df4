//! Invariants every attack keeps, for random inputs, budgets and seeds.

use proptest::prelude::*;
use stressor_attack::{Apgd, Attack, Goal, Norm, Pgd, Square};
use stressor_core::{Bounds, Seed};
use stressor_model::Model;
use stressor_test_support::{LinearModel, MlpModel};

use crate::{all_attacks, assert_within, predict, run, uniform_batch};

fn norm() -> impl Strategy<Value = Norm> {
    prop_oneof![Just(Norm::Linf), Just(Norm::L2)]
}

/// A small nonlinear model over `[6]` and an image model over `[2, 3, 3]`, both on `[0, 1]`.
fn models(model_seed: u64) -> Vec<Box<dyn Model>> {
    let seed = Seed::new(model_seed);
    let weights: Vec<f32> = uniform_batch(3, &[18], -2.0, 2.0, seed.derive("w")).into_parts().0;
    vec![
        Box::new(MlpModel::random(6, 8, 3, 3.0, Bounds::UNIT, seed.derive("mlp"))),
        Box::new(LinearModel::new(weights, vec![0.1, 0.0, -0.1], vec![2, 3, 3], Bounds::UNIT)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn outputs_stay_in_the_ball_and_the_bounds(
        epsilon in 0.0f32..0.6,
        norm in norm(),
        targeted in any::<bool>(),
        model_seed in any::<u64>(),
        seed in any::<u64>(),
    ) {
        for model in models(model_seed) {
            let shape = model.info().input_shape.clone();
            let inputs = uniform_batch(4, &shape, 0.0, 1.0, Seed::new(seed).derive("inputs"));
            let labels = predict(model.as_ref(), &inputs);
            let goal = if targeted { Goal::Targeted(labels.iter().map(|l| (l + 1) % 3).collect()) } else { Goal::Untargeted };
            for attack in all_attacks(norm) {
                let outcome = run(attack.as_ref(), model.as_ref(), &inputs, &labels, &goal, epsilon, seed);
                assert_within(attack.name(), &outcome, &inputs, epsilon, norm, Bounds::UNIT);
                prop_assert_eq!(outcome.success.len(), 4);
                prop_assert_eq!(outcome.queries.len(), 4);
                // Predictions and success describe the returned points.
                prop_assert_eq!(&outcome.predictions, &predict(model.as_ref(), &outcome.adversarial), "{}", attack.name());
                for (i, success) in outcome.success.iter().enumerate() {
                    let reached = match &goal {
                        Goal::Untargeted => outcome.predictions[i] != labels[i],
                        Goal::Targeted(targets) => outcome.predictions[i] == targets[i],
                    };
                    prop_assert_eq!(*success, reached, "{} sample {}", attack.name(), i);
                }
                prop_assert!(outcome.loss_trace.iter().all(|l| l.is_finite()), "{}", attack.name());
            }
        }
    }

    #[test]
    fn zero_epsilon_changes_nothing(norm in norm(), model_seed in any::<u64>(), seed in any::<u64>()) {
        for model in models(model_seed) {
            let shape = model.info().input_shape.clone();
            let inputs = uniform_batch(3, &shape, 0.0, 1.0, Seed::new(seed));
            let labels = predict(model.as_ref(), &inputs);
            for attack in all_attacks(norm) {
                let outcome = run(attack.as_ref(), model.as_ref(), &inputs, &labels, &Goal::Untargeted, 0.0, seed);
                prop_assert_eq!(&outcome.adversarial, &inputs, "{}", attack.name());
                prop_assert!(outcome.success.iter().all(|s| !s), "{}", attack.name());
            }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_outcome(
        epsilon in 0.01f32..0.5,
        norm in norm(),
        model_seed in any::<u64>(),
        seed in any::<u64>(),
    ) {
        for model in models(model_seed) {
            let shape = model.info().input_shape.clone();
            let inputs = uniform_batch(3, &shape, 0.0, 1.0, Seed::new(seed));
            let labels = predict(model.as_ref(), &inputs);
            for attack in all_attacks(norm) {
                let first = run(attack.as_ref(), model.as_ref(), &inputs, &labels, &Goal::Untargeted, epsilon, seed);
                let second = run(attack.as_ref(), model.as_ref(), &inputs, &labels, &Goal::Untargeted, epsilon, seed);
                prop_assert_eq!(first, second, "{}", attack.name());
            }
        }
    }
}

#[test]
fn a_different_seed_moves_randomised_attacks() {
    // Guards the determinism property against an attack that ignores its seed. Budgets are
    // tiny: with many steps, sign steps from different random starts meet in the same corner.
    let model = MlpModel::random(6, 8, 3, 3.0, Bounds::UNIT, Seed::new(5));
    let inputs = uniform_batch(3, &[6], 0.2, 0.8, Seed::new(6));
    let labels = predict(&model, &inputs);
    let attacks: Vec<Box<dyn Attack>> = vec![
        Box::new(Pgd { steps: 1, ..Pgd::default() }),
        // An L∞ step of 2ε lands every coordinate on the ball's surface whatever the start.
        Box::new(Apgd { norm: Norm::L2, steps: 1, ..Apgd::default() }),
        Box::new(Square { n_queries: 5, ..Square::default() }),
    ];
    for attack in attacks {
        let first = run(attack.as_ref(), &model, &inputs, &labels, &Goal::Untargeted, 0.05, 1);
        let second = run(attack.as_ref(), &model, &inputs, &labels, &Goal::Untargeted, 0.05, 2);
        assert_ne!(first.adversarial, second.adversarial, "{}", attack.name());
    }
}
