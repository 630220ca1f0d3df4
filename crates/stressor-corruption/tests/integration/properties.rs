//! Every corruption and lighting shift keeps the shape and the `[0, 1]` range.

use proptest::prelude::*;
use stressor_core::{Batch, Seed};
use stressor_corruption::{Corruption, Lighting};

use crate::natural_images;

fn check_shape_and_range(input: &Batch, output: &Batch, what: &str) {
    assert_eq!(output.shape(), input.shape(), "{what}");
    if let Some(bad) = output.as_slice().iter().find(|v| !(0.0..=1.0).contains(*v)) {
        panic!("{what}: value {bad} outside [0, 1]");
    }
}

#[test]
fn every_corruption_and_severity_keeps_shape_and_range() {
    for channels in [1, 3] {
        // Non-square and odd-sized, with values outside [0, 1] mixed in to check the input clip.
        let mut images = natural_images(2, channels, 17, 23);
        images.as_mut_slice()[0] = -0.5;
        images.as_mut_slice()[5] = 1.5;
        for corruption in Corruption::ALL {
            for severity in 1..=5 {
                let output = corruption.apply(&images, severity, Seed::new(11)).unwrap();
                check_shape_and_range(
                    &images,
                    &output,
                    &format!("{corruption:?} {severity} c={channels}"),
                );
            }
        }
    }
}

#[test]
fn empty_batches_stay_empty() {
    let empty = Batch::zeros(0, &[3, 8, 8]);
    for corruption in Corruption::ALL {
        assert_eq!(corruption.apply(&empty, 3, Seed::new(0)).unwrap(), empty);
    }
    for lighting in Lighting::ALL {
        assert_eq!(lighting.apply(&empty, lighting.valid_range().0, Seed::new(0)).unwrap(), empty);
    }
}

fn images_strategy() -> impl Strategy<Value = Batch> {
    (0_usize..3, prop_oneof![Just(1_usize), Just(3)], 1_usize..20, 1_usize..20).prop_flat_map(
        |(n, channels, height, width)| {
            prop::collection::vec(0.0_f32..=1.0, n * channels * height * width).prop_map(
                move |data| Batch::new(data, vec![n, channels, height, width]).expect("sized"),
            )
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn corruptions_keep_shape_and_range(
        images in images_strategy(),
        index in 0_usize..15,
        severity in 1_u8..=5,
        seed in any::<u64>(),
    ) {
        let corruption = Corruption::ALL[index];
        let output = corruption.apply(&images, severity, Seed::new(seed)).unwrap();
        check_shape_and_range(&images, &output, &format!("{corruption:?} {severity}"));
    }

    #[test]
    fn lighting_keeps_shape_and_range(
        images in images_strategy(),
        index in 0_usize..4,
        fraction in 0.0_f64..=1.0,
        seed in any::<u64>(),
    ) {
        let lighting = Lighting::ALL[index];
        let (min, max) = lighting.valid_range();
        let value = min + fraction * (max - min);
        let output = lighting.apply(&images, value, Seed::new(seed)).unwrap();
        check_shape_and_range(&images, &output, &format!("{lighting:?} {value}"));
    }
}
