use stressor_core::Seed;
use stressor_mitigation::{AdversarialTraining, adversarial_training};
use stressor_model::builtin::train;

use crate::{normal_model, one_epoch, robust_accuracy, test_set, train_set};

fn pgd_at(epsilon: f32, steps: u32) -> AdversarialTraining {
    let mut config = AdversarialTraining::default();
    config.epsilon = epsilon;
    config.steps = steps;
    config.train = one_epoch();
    config
}

#[test]
fn pgd_adversarial_training_is_clearly_more_robust() {
    let robust =
        adversarial_training(train_set(), &pgd_at(0.1, 3), Seed::new(0), &mut |_| {}).unwrap();
    let normal = normal_model();
    let (normal_clean, robust_clean) =
        (normal.accuracy(test_set()).unwrap(), robust.accuracy(test_set()).unwrap());
    let normal_pgd = robust_accuracy(normal, test_set(), 0.1);
    let robust_pgd = robust_accuracy(&robust, test_set(), 0.1);
    let normal_pgd_wide = robust_accuracy(normal, test_set(), 0.2);
    let robust_pgd_wide = robust_accuracy(&robust, test_set(), 0.2);
    let report = format!(
        "clean {normal_clean:.3} → {robust_clean:.3}, PGD ε=0.1 {normal_pgd:.3} → \
         {robust_pgd:.3}, PGD ε=0.2 {normal_pgd_wide:.3} → {robust_pgd_wide:.3}"
    );
    // Observed (one epoch on 3 000 images, 300 test images): clean 0.763 → 0.700, PGD ε=0.1
    // 0.407 → 0.507, PGD ε=0.2 0.037 → 0.207. After one epoch the normal model is still
    // smooth, hence its 41 % at ε = 0.1; the gap widens with training (two epochs: 0.417 →
    // 0.583). The bounds are half the observed gains.
    assert!(robust_pgd > normal_pgd + 0.05, "{report}");
    assert!(robust_pgd_wide > normal_pgd_wide + 0.08, "{report}");
    assert!(robust_clean > 0.6, "{report}");
}

#[test]
fn the_same_seed_gives_the_same_weights() {
    let data = train_set().select(&(0..192).collect::<Vec<_>>());
    let mut config = pgd_at(0.1, 2);
    config.mix = 0.5;
    let run = |seed| {
        adversarial_training(&data, &config, Seed::new(seed), &mut |_| {})
            .unwrap()
            .to_safetensors_bytes()
            .unwrap()
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}

#[test]
fn no_adversarial_share_is_normal_training() {
    let data = train_set().select(&(0..128).collect::<Vec<_>>());
    let mut config = pgd_at(0.1, 2);
    config.mix = 0.0;
    let mut losses = Vec::new();
    let mitigated =
        adversarial_training(&data, &config, Seed::new(3), &mut |p| losses.push(p.loss)).unwrap();
    let normal = train(&data, &config.train, Seed::new(3), &mut |_| {}).unwrap();
    assert_eq!(losses.len(), 2);
    assert_eq!(mitigated.to_safetensors_bytes().unwrap(), normal.to_safetensors_bytes().unwrap());
}
