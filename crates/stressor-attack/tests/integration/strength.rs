//! Relative strength of the attacks on a nonlinear model.

use stressor_attack::{Apgd, Attack, Fgsm, Goal, Norm, Pgd};
use stressor_core::{Bounds, Seed};
use stressor_test_support::MlpModel;

use crate::{predict, run, uniform_batch};

/// Large weights saturate the `tanh` units, so the loss surface is far from linear and
/// iterative attacks have something to do that one gradient step cannot.
fn successes(attack: &dyn Attack, epsilon: f32) -> (usize, Vec<f64>) {
    let model = MlpModel::random(10, 64, 5, 12.0, Bounds::UNIT, Seed::new(21));
    let inputs = uniform_batch(200, &[10], 0.0, 1.0, Seed::new(22));
    let labels = predict(&model, &inputs);
    let outcome = run(attack, &model, &inputs, &labels, &Goal::Untargeted, epsilon, 23);
    (outcome.success.iter().filter(|s| **s).count(), outcome.loss_trace)
}

#[test]
fn apgd_is_at_least_as_strong_as_pgd_with_the_same_steps() {
    for (norm, epsilon) in [(Norm::Linf, 0.2), (Norm::L2, 0.6)] {
        for steps in [10, 20] {
            let (n_pgd, _) = successes(&Pgd { norm, steps, ..Pgd::default() }, epsilon);
            let (n_apgd, _) = successes(&Apgd { norm, steps, ..Apgd::default() }, epsilon);
            // A meaningful comparison needs samples that survive PGD.
            assert!(n_pgd < 200, "{norm:?}: PGD broke everything; lower ε");
            assert!(n_apgd >= n_pgd, "{norm:?}, {steps} steps: APGD {n_apgd} < PGD {n_pgd}");
            // APGD needs no step-size tuning; PGD with too small a step falls behind.
            let (n_small, _) =
                successes(&Pgd { norm, steps, step_size: 0.05, ..Pgd::default() }, epsilon);
            assert!(
                n_apgd > n_small,
                "{norm:?}, {steps} steps: APGD {n_apgd} ≤ small-step PGD {n_small}"
            );
        }
    }
}

#[test]
fn iterating_beats_a_single_step_on_a_nonlinear_model() {
    for (norm, epsilon) in [(Norm::Linf, 0.2), (Norm::L2, 0.6)] {
        let (n_fgsm, _) = successes(&Fgsm { norm }, epsilon);
        let (n_pgd, _) = successes(&Pgd { norm, steps: 20, ..Pgd::default() }, epsilon);
        assert!(n_pgd > n_fgsm, "{norm:?}: PGD {n_pgd} ≤ FGSM {n_fgsm}");
    }
}

#[test]
fn white_box_attacks_climb_the_loss() {
    for (norm, epsilon) in [(Norm::Linf, 0.2), (Norm::L2, 0.6)] {
        let attacks: Vec<Box<dyn Attack>> = vec![
            Box::new(Pgd { norm, steps: 20, ..Pgd::default() }),
            Box::new(Apgd { norm, steps: 20, ..Apgd::default() }),
        ];
        for attack in attacks {
            let (_, trace) = successes(attack.as_ref(), epsilon);
            assert_eq!(trace.len(), 21, "{}", attack.name());
            assert!(trace[20] > trace[0], "{} {norm:?}: {trace:?}", attack.name());
        }
    }
}

#[test]
fn more_epsilon_breaks_more() {
    let pgd = Pgd { steps: 20, ..Pgd::default() };
    let counts: Vec<usize> = [0.01, 0.03, 0.1, 0.3].iter().map(|e| successes(&pgd, *e).0).collect();
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
    assert!(counts[3] > counts[0], "{counts:?}");
}
