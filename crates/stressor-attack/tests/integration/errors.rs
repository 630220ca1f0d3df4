//! Errors: what stops an attack from running, named precisely.

use stressor_attack::{Apgd, Attack, AttackError, Fgsm, Goal, HopSkipJump, Norm, Pgd, Square};
use stressor_core::{Batch, Bounds, Seed};
use stressor_model::{FnModel, ModelError, ModelInfo};
use stressor_test_support::LinearModel;

fn error(
    attack: &dyn Attack,
    model: &dyn stressor_model::Model,
    inputs: &Batch,
    labels: &[u32],
    goal: &Goal,
    epsilon: f32,
) -> AttackError {
    match attack.run(model, inputs, labels, goal, epsilon, Seed::new(0), &mut |_, _| {}) {
        Ok(_) => panic!("{} should have failed", attack.name()),
        Err(error) => error,
    }
}

fn model() -> LinearModel {
    LinearModel::binary(vec![1.0, -1.0], 0.0, Bounds::UNIT)
}

fn inputs() -> Batch {
    Batch::new(vec![0.2, 0.4, 0.6, 0.8], vec![2, 2]).unwrap()
}

#[test]
fn white_box_attacks_need_gradients_and_square_does_not() {
    let info = ModelInfo::new("closure", "fn", vec![2], 2, Bounds::UNIT);
    let black_box = FnModel::new(info, |x: &[f32]| vec![0.0, x[0] - x[1]]);
    let white_box: Vec<Box<dyn Attack>> =
        vec![Box::new(Fgsm::default()), Box::new(Pgd::default()), Box::new(Apgd::default())];
    for attack in white_box {
        let err = error(attack.as_ref(), &black_box, &inputs(), &[0, 0], &Goal::Untargeted, 0.1);
        assert!(
            matches!(&err, AttackError::NotDifferentiable { attack: a, model } if a == attack.name() && model == "closure"),
            "{err:?}"
        );
        assert!(err.to_string().contains("closure"), "{err}");
    }
    let black_box_attacks: Vec<Box<dyn Attack>> =
        vec![Box::new(Square::default()), Box::new(HopSkipJump::default())];
    for attack in black_box_attacks {
        let outcome = attack.run(
            &black_box,
            &inputs(),
            &[0, 0],
            &Goal::Untargeted,
            0.1,
            Seed::new(0),
            &mut |_, _| {},
        );
        assert!(outcome.is_ok(), "{}", attack.name());
    }
}

#[test]
fn hopskipjump_needs_finite_bounds() {
    let unbounded = Bounds { min: f32::NEG_INFINITY, max: f32::INFINITY };
    let model = LinearModel::binary(vec![1.0, -1.0], 0.0, unbounded);
    let err = error(&HopSkipJump::default(), &model, &inputs(), &[0, 0], &Goal::Untargeted, 0.1);
    assert!(matches!(err, AttackError::Unsupported { .. }), "{err:?}");
    assert!(err.to_string().contains("unbounded inputs"), "{err}");
}

fn assert_parameter(err: AttackError, expected: &str) {
    assert!(
        matches!(&err, AttackError::InvalidParameter { parameter, .. } if *parameter == expected),
        "{err:?}"
    );
    assert!(err.to_string().contains(&format!("`{expected}`")), "{err}");
}

#[test]
fn bad_parameters_are_named() {
    let cases: Vec<(Box<dyn Attack>, &str)> = vec![
        (Box::new(Pgd { steps: 0, ..Pgd::default() }), "steps"),
        (Box::new(Pgd { step_size: 0.0, ..Pgd::default() }), "step_size"),
        (Box::new(Pgd { step_size: f32::NAN, ..Pgd::default() }), "step_size"),
        (Box::new(Pgd { restarts: 0, ..Pgd::default() }), "restarts"),
        (Box::new(Apgd { steps: 0, ..Apgd::default() }), "steps"),
        (Box::new(Apgd { restarts: 0, ..Apgd::default() }), "restarts"),
        (Box::new(Apgd { rho: 1.5, ..Apgd::default() }), "rho"),
        (Box::new(Apgd { rho: 0.0, ..Apgd::default() }), "rho"),
        (Box::new(Square { n_queries: 0, ..Square::default() }), "n_queries"),
        (Box::new(Square { p_init: 0.0, ..Square::default() }), "p_init"),
        (Box::new(Square { p_init: 1.5, ..Square::default() }), "p_init"),
        (Box::new(HopSkipJump { max_queries: 0, ..HopSkipJump::default() }), "max_queries"),
        (Box::new(HopSkipJump { max_iterations: 0, ..HopSkipJump::default() }), "max_iterations"),
        (
            Box::new(HopSkipJump { init_evaluations: 0, ..HopSkipJump::default() }),
            "init_evaluations",
        ),
        (
            Box::new(HopSkipJump {
                init_evaluations: 200,
                max_evaluations: 100,
                ..HopSkipJump::default()
            }),
            "max_evaluations",
        ),
        (Box::new(HopSkipJump { init_size: 0, ..HopSkipJump::default() }), "init_size"),
        (Box::new(HopSkipJump { gamma: 0.0, ..HopSkipJump::default() }), "gamma"),
        (Box::new(HopSkipJump { gamma: f32::NAN, ..HopSkipJump::default() }), "gamma"),
    ];
    for (attack, parameter) in cases {
        assert_parameter(
            error(attack.as_ref(), &model(), &inputs(), &[0, 0], &Goal::Untargeted, 0.1),
            parameter,
        );
    }
    for attack in crate::all_attacks(Norm::Linf) {
        for epsilon in [-0.1, f32::NAN, f32::INFINITY] {
            assert_parameter(
                error(attack.as_ref(), &model(), &inputs(), &[0, 0], &Goal::Untargeted, epsilon),
                "epsilon",
            );
        }
    }
}

#[test]
fn square_rejects_what_it_does_not_implement() {
    let err = error(
        &Square { norm: Norm::L2, ..Square::default() },
        &model(),
        &inputs(),
        &[0, 0],
        &Goal::Untargeted,
        0.1,
    );
    assert!(matches!(err, AttackError::Unsupported { .. }), "{err:?}");
    let model = LinearModel::new(vec![0.0; 32], vec![0.0; 2], vec![2, 2, 2, 2], Bounds::UNIT);
    let err = error(
        &Square::default(),
        &model,
        &Batch::zeros(1, &[2, 2, 2, 2]),
        &[0],
        &Goal::Untargeted,
        0.1,
    );
    assert!(err.to_string().contains("[2, 2, 2, 2]"), "{err}");
}

#[test]
fn inputs_that_do_not_fit_are_rejected() {
    for attack in crate::all_attacks(Norm::Linf) {
        let attack = attack.as_ref();
        let err = error(attack, &model(), &inputs(), &[0], &Goal::Untargeted, 0.1);
        assert!(err.to_string().contains("2 samples but 1 labels"), "{err}");
        let err = error(attack, &model(), &inputs(), &[0, 2], &Goal::Untargeted, 0.1);
        assert!(err.to_string().contains("label 2 at sample 1"), "{err}");
        let err = error(attack, &model(), &inputs(), &[0, 0], &Goal::Targeted(vec![1]), 0.1);
        assert!(err.to_string().contains("2 samples but 1 targets"), "{err}");
        let err = error(attack, &model(), &inputs(), &[0, 0], &Goal::Targeted(vec![1, 5]), 0.1);
        assert!(err.to_string().contains("target 5 at sample 1"), "{err}");
        let outside = Batch::new(vec![0.2, 0.4, 0.6, 1.8], vec![2, 2]).unwrap();
        let err = error(attack, &model(), &outside, &[0, 0], &Goal::Untargeted, 0.1);
        assert!(err.to_string().contains("sample 1 lies outside"), "{err}");
        let wrong_shape = Batch::zeros(2, &[3]);
        let err = error(attack, &model(), &wrong_shape, &[0, 0], &Goal::Untargeted, 0.1);
        assert!(matches!(err, AttackError::Model(ModelError::InputShape { .. })), "{err:?}");
    }
}
