//! Malformed requests are errors that say what was wrong, never panics.

use stressor_core::{Batch, Seed};
use stressor_corruption::{Corruption, CorruptionError, Lighting};

use crate::natural_images;

#[test]
fn bad_severities_are_rejected() {
    let images = natural_images(1, 3, 8, 8);
    for corruption in Corruption::ALL {
        for severity in [0, 6, 255] {
            let error = corruption.apply(&images, severity, Seed::new(0)).unwrap_err();
            assert_eq!(
                error,
                CorruptionError::Severity { corruption: corruption.name(), severity }
            );
            assert!(error.to_string().contains(corruption.name()), "{error}");
        }
    }
}

#[test]
fn bad_dial_values_are_rejected() {
    let images = natural_images(1, 3, 8, 8);
    for lighting in Lighting::ALL {
        let (min, max) = lighting.valid_range();
        for value in
            [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, min - 1e-9 * min.abs().max(1.0), max + 1.0]
        {
            let error = lighting.apply(&images, value, Seed::new(0)).unwrap_err();
            assert!(
                matches!(error, CorruptionError::Value { .. }),
                "{lighting:?} {value}: {error}"
            );
            assert!(error.to_string().contains(lighting.dial()), "{error}");
        }
        assert!(lighting.apply(&images, min, Seed::new(0)).is_ok());
        assert!(lighting.apply(&images, max, Seed::new(0)).is_ok());
    }
}

#[test]
fn bad_shapes_are_named() {
    let shapes: [Vec<usize>; 6] = [
        vec![1, 2, 4, 4],
        vec![1, 4, 4, 4],
        vec![2, 16],
        vec![1, 3, 0, 4],
        vec![1, 3, 4, 4, 1],
        vec![48],
    ];
    for shape in shapes {
        let batch = Batch::new(vec![0.5; shape.iter().product()], shape.clone()).unwrap();
        for corruption in Corruption::ALL {
            let error = corruption.apply(&batch, 1, Seed::new(0)).unwrap_err();
            assert_eq!(error, CorruptionError::Shape { shape: shape.clone() });
            assert!(error.to_string().contains(&format!("{shape:?}")), "{error}");
        }
        let error = Lighting::Exposure.apply(&batch, 1.0, Seed::new(0)).unwrap_err();
        assert_eq!(error, CorruptionError::Shape { shape: shape.clone() });
    }
}

#[test]
fn non_finite_inputs_are_rejected_with_their_sample() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut images = natural_images(3, 1, 4, 4);
        images.as_mut_slice()[2 * 16 + 5] = bad;
        for corruption in Corruption::ALL {
            let error = corruption.apply(&images, 2, Seed::new(0)).unwrap_err();
            assert!(matches!(error, CorruptionError::NonFinite { sample: 2, .. }), "{error}");
        }
        let error = Lighting::Vignette.apply(&images, 0.5, Seed::new(0)).unwrap_err();
        assert!(matches!(error, CorruptionError::NonFinite { sample: 2, .. }), "{error}");
    }
}

#[test]
fn names_round_trip_and_are_kebab_case() {
    for corruption in Corruption::ALL {
        assert_eq!(Corruption::from_name(corruption.name()), Some(corruption));
        assert!(corruption.name().chars().all(|c| c.is_ascii_lowercase() || c == '-'));
    }
    for lighting in Lighting::ALL {
        assert_eq!(Lighting::from_name(lighting.name()), Some(lighting));
    }
    assert_eq!(Corruption::from_name("gaussian_noise"), None);
    assert_eq!(Lighting::from_name(""), None);
}
