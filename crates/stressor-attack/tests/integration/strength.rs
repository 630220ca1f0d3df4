//! Relative strength of the attacks on a nonlinear model.

use stressor_attack::{Apgd, Attack, Goal, Norm, Pgd};
use stressor_core::{Bounds, Seed};
use stressor_test_support::MlpModel;

use crate::{predict, run, uniform_batch};

fn successes(attack: &dyn Attack, epsilon: f32, norm: Norm) -> (usize, usize, Vec<f64>) {
    let model = MlpModel::random(10, 32, 5, 3.0, Bounds::UNIT, Seed::new(21));
    let inputs = uniform_batch(200, &[10], 0.0, 1.0, Seed::new(22));
    let labels = predict(&model, &inputs);
    let outcome = run(attack, &model, &inputs, &labels, &Goal::Untargeted, epsilon, 23);
    let _ = norm;
    (outcome.success.iter().filter(|s| **s).count(), labels.len(), outcome.loss_trace)
}

#[test]
fn apgd_is_at_least_as_strong_as_pgd_with_the_same_steps() {
    for (norm, epsilon) in [(Norm::Linf, 0.03), (Norm::L2, 0.1)] {
        let pgd = Pgd { norm, steps: 20, ..Pgd::default() };
        let apgd = Apgd { norm, steps: 20, ..Apgd::default() };
        let (n_pgd, n, _) = successes(&pgd, epsilon, norm);
        let (n_apgd, _, _) = successes(&apgd, epsilon, norm);
        // A meaningful comparison needs samples that survive PGD.
        assert!(n_pgd < n, "{norm:?}: PGD broke everything; lower ε");
        assert!(n_apgd >= n_pgd, "{norm:?}: APGD {n_apgd} < PGD {n_pgd} of {n}");
    }
}

#[test]
fn white_box_attacks_climb_the_loss() {
    for norm in [Norm::Linf, Norm::L2] {
        let attacks: Vec<Box<dyn Attack>> = vec![
            Box::new(Pgd { norm, steps: 20, ..Pgd::default() }),
            Box::new(Apgd { norm, steps: 20, ..Apgd::default() }),
        ];
        for attack in attacks {
            let (_, _, trace) = successes(attack.as_ref(), 0.05, norm);
            assert_eq!(trace.len(), 21, "{}", attack.name());
            assert!(trace[20] > trace[0], "{} {norm:?}: {trace:?}", attack.name());
        }
    }
}

#[test]
fn more_epsilon_breaks_more() {
    let pgd = Pgd { steps: 20, ..Pgd::default() };
    let counts: Vec<usize> =
        [0.01, 0.03, 0.1, 0.3].iter().map(|e| successes(&pgd, *e, Norm::Linf).0).collect();
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
    assert!(counts[3] > counts[0], "{counts:?}");
}
