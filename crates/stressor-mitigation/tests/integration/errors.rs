use stressor_core::{Batch, Bounds, Dataset, Seed};
use stressor_mitigation::{
    AdversarialTraining, AugmentedTraining, MitigationError, adversarial_training,
    augmented_training,
};

use crate::train_set;

fn check(result: Result<impl Sized, MitigationError>, expect: &str) {
    let Err(error) = result else { panic!("expected an error containing {expect:?}") };
    let message = error.to_string();
    assert!(message.contains(expect), "{message}");
}

#[test]
fn out_of_range_parameters_are_errors_naming_them() {
    let data = train_set().select(&[0, 1]);
    let adversarial = |edit: &dyn Fn(&mut AdversarialTraining)| {
        let mut config = AdversarialTraining::default();
        edit(&mut config);
        adversarial_training(&data, &config, Seed::new(0), &mut |_| {})
    };
    check(adversarial(&|c| c.epsilon = f32::NAN), "invalid `epsilon`");
    check(adversarial(&|c| c.epsilon = -0.1), "invalid `epsilon`");
    check(adversarial(&|c| c.steps = 0), "invalid `steps`");
    check(adversarial(&|c| c.step_size = 0.0), "invalid `step_size`");
    check(adversarial(&|c| c.mix = 1.5), "invalid `mix`");
    check(adversarial(&|c| c.mix = f32::NAN), "invalid `mix`");
    check(adversarial(&|c| c.train.batch_size = 0), "training failed");

    let augmented = |edit: &dyn Fn(&mut AugmentedTraining)| {
        let mut config = AugmentedTraining::default();
        edit(&mut config);
        augmented_training(&data, &config, Seed::new(0), &mut |_| {})
    };
    check(augmented(&|c| c.max_severity = 0), "invalid `max_severity`");
    check(augmented(&|c| c.max_severity = 6), "invalid `max_severity`");
    check(augmented(&|c| c.fraction = -0.5), "invalid `fraction`");
    check(augmented(&|c| c.corruptions.clear()), "invalid `corruptions`");
}

#[test]
fn data_the_model_cannot_take_is_a_model_error() {
    let names = vec!["a".to_string()];
    let wrong =
        Dataset::new("w", Batch::zeros(2, &[3, 4]), vec![0, 0], names, Bounds::UNIT).unwrap();
    let error =
        adversarial_training(&wrong, &AdversarialTraining::default(), Seed::new(0), &mut |_| {})
            .unwrap_err();
    assert!(matches!(error, MitigationError::Model(_)), "{error}");
    let error =
        augmented_training(&wrong, &AugmentedTraining::default(), Seed::new(0), &mut |_| {})
            .unwrap_err();
    assert!(matches!(error, MitigationError::Model(_)), "{error}");
}

#[test]
fn a_non_finite_image_is_a_corruption_error() {
    let mut data = train_set().select(&[0, 1, 2, 3]);
    data.inputs.as_mut_slice().fill(f32::NAN);
    let mut config = AugmentedTraining::default();
    config.fraction = 1.0;
    let error = augmented_training(&data, &config, Seed::new(0), &mut |_| {}).unwrap_err();
    assert!(matches!(error, MitigationError::Corruption(_)), "{error}");
}
