//! Same seed, same bits; a sample's corruption does not depend on the rest of the batch.

use stressor_core::Seed;
use stressor_corruption::{Corruption, Lighting};

use crate::natural_images;

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn same_seed_gives_identical_bits() {
    let images = natural_images(3, 3, 24, 24);
    for corruption in Corruption::ALL {
        let a = corruption.apply(&images, 4, Seed::new(5)).unwrap();
        let b = corruption.apply(&images, 4, Seed::new(5)).unwrap();
        assert_eq!(bits(a.as_slice()), bits(b.as_slice()), "{corruption:?}");
    }
    for lighting in Lighting::ALL {
        let (min, max) = lighting.valid_range();
        let value = min + 0.3 * (max - min);
        let a = lighting.apply(&images, value, Seed::new(5)).unwrap();
        let b = lighting.apply(&images, value, Seed::new(5)).unwrap();
        assert_eq!(bits(a.as_slice()), bits(b.as_slice()), "{lighting:?}");
    }
}

#[test]
fn random_corruptions_change_with_the_seed() {
    let images = natural_images(2, 3, 32, 32);
    let random = [
        Corruption::GaussianNoise,
        Corruption::ShotNoise,
        Corruption::ImpulseNoise,
        Corruption::MotionBlur,
        Corruption::ElasticTransform,
        Corruption::Fog,
        Corruption::Frost,
        Corruption::Occlusion,
    ];
    for corruption in random {
        let a = corruption.apply(&images, 5, Seed::new(1)).unwrap();
        let b = corruption.apply(&images, 5, Seed::new(2)).unwrap();
        assert_ne!(a, b, "{corruption:?}");
    }
    let a = Lighting::Shadow.apply(&images, 1.0, Seed::new(1)).unwrap();
    let b = Lighting::Shadow.apply(&images, 1.0, Seed::new(2)).unwrap();
    assert_ne!(a, b);
}

#[test]
fn samples_do_not_depend_on_the_rest_of_the_batch() {
    let images = natural_images(4, 3, 20, 20);
    let head = images.slice(0, 2);
    for corruption in Corruption::ALL {
        let full = corruption.apply(&images, 3, Seed::new(9)).unwrap();
        let part = corruption.apply(&head, 3, Seed::new(9)).unwrap();
        assert_eq!(
            bits(&full.as_slice()[..part.as_slice().len()]),
            bits(part.as_slice()),
            "{corruption:?}"
        );
    }
    let full = Lighting::Shadow.apply(&images, 0.7, Seed::new(9)).unwrap();
    let part = Lighting::Shadow.apply(&head, 0.7, Seed::new(9)).unwrap();
    assert_eq!(&full.as_slice()[..part.as_slice().len()], part.as_slice());
}
