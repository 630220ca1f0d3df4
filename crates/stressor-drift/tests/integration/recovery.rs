//! The recovery loop on the vendored German credit data and on the synthetic stream.

use stressor_core::Seed;
use stressor_drift::Correction;
use stressor_drift::recovery::{LoopConfig, LoopData, Policy, PolicyRun, run};
use stressor_drift::stream::{Onset, Schedule, Transform};
use stressor_tabular::{ModelSpec, Synthetic, german_credit};

fn config(transforms: Vec<Transform>, features: Vec<String>, target: (&str, &str)) -> LoopConfig {
    LoopConfig {
        steps: 30,
        batch_rows: 100,
        schedule: Schedule { start: 10, onset: Onset::Sudden, dial: 0.5 },
        transforms,
        model: ModelSpec::Logistic { c: 1.0 },
        features,
        target: (target.0.into(), target.1.into()),
        label_delay: 3,
        window: 3,
        alpha: 0.01,
        correction: Correction::BenjaminiHochberg,
        detector_window: 1,
        tolerance: 0.03,
        hold: 3,
        ece_bins: 10,
    }
}

fn unit_change() -> Vec<Transform> {
    vec![
        Transform::Scale { column: "credit_amount".into(), factor: 100.0 },
        Transform::Scale { column: "duration_in_month".into(), factor: 30.0 },
    ]
}

fn german(transforms: &[Transform], seed: Seed) -> (LoopData, Vec<String>) {
    let table = german_credit();
    let data =
        LoopData::from_table(&table, ("creditability", "bad"), 300, 400, transforms, seed).unwrap();
    let features =
        table.columns.iter().map(|(n, _)| n.clone()).filter(|n| n != "creditability").collect();
    (data, features)
}

const POLICIES: [Policy; 3] =
    [Policy::None, Policy::Periodic { every: 8 }, Policy::Triggered { cooldown: 5 }];

#[test]
fn fifty_percent_drift_is_detected_and_retraining_recovers() {
    let seed = Seed::new(7);
    let (data, features) = german(&unit_change(), seed);
    let c = config(unit_change(), features, ("creditability", "bad"));
    let runs = run(&data, &c, &POLICIES, seed).unwrap();
    let [none, periodic, triggered]: [PolicyRun; 3] = runs.try_into().unwrap();
    // Steady state: well above chance, and every policy saw the same stream.
    assert!(none.pre_drift_accuracy > 0.68, "{}", none.pre_drift_accuracy);
    for step in 0..c.steps {
        assert_eq!(none.steps[step].drift_share, triggered.steps[step].drift_share);
        assert!(!none.steps[step].batch_accuracy.is_nan());
    }
    assert_eq!(none.steps[3].drift_statistic, triggered.steps[3].drift_statistic);
    // Half the rows in cents and days: the scorecard loses > 10 points and never comes back.
    assert!(none.worst_accuracy < none.pre_drift_accuracy - 0.1, "{}", none.worst_accuracy);
    assert_eq!(none.time_to_recover, None);
    assert!(none.retrains.is_empty());
    // The KS detector sees it at once; the triggered retrain waits for the labels (3 steps).
    assert_eq!(triggered.time_to_detect, Some(0));
    let first = &triggered.retrains[0];
    assert_eq!(first.step, c.schedule.start + c.label_delay);
    assert_eq!(first.rows, 300);
    assert!(first.seconds > 0.0);
    let recovered = triggered.time_to_recover.unwrap();
    assert!(recovered > c.label_delay, "recovered at {recovered}, before the labels arrived");
    assert!(triggered.accuracy_lost < none.accuracy_lost / 2.0);
    assert!(periodic.accuracy_lost < none.accuracy_lost);
    assert!(triggered.final_accuracy > none.final_accuracy + 0.1);
    // Calibration breaks with the accuracy and comes back with it.
    let during = &triggered.steps[c.schedule.start];
    assert!(
        during.ece > triggered.pre_drift_ece + 0.1,
        "{} vs {}",
        during.ece,
        triggered.pre_drift_ece
    );
    assert!(triggered.final_ece < triggered.pre_drift_ece + 0.05);
    // The events tell the story in order.
    let kinds: Vec<&str> = triggered.events.iter().map(|e| e.kind.as_str()).collect();
    let at = |k: &str| kinds.iter().position(|x| *x == k).unwrap();
    assert!(at("drift-start") < at("detected") && at("detected") < at("retrain"));
    assert!(at("retrain") < at("deployed"));
    // Reproducible from the seed.
    let again = run(&data, &c, &[Policy::Triggered { cooldown: 5 }], seed).unwrap();
    assert_eq!(again[0].steps, triggered.steps);
}

#[test]
fn gradual_drift_is_detected_later_than_sudden_drift() {
    let seed = Seed::new(11);
    let (data, features) = german(&unit_change(), seed);
    let mut c = config(unit_change(), features, ("creditability", "bad"));
    let sudden = run(&data, &c, &[Policy::None], seed).unwrap().remove(0);
    c.schedule.onset = Onset::Gradual { steps: 10 };
    let gradual = run(&data, &c, &[Policy::None], seed).unwrap().remove(0);
    assert!((gradual.steps[10].drift_share - 0.05).abs() < 1e-12);
    assert!((gradual.steps[19].drift_share - 0.5).abs() < 1e-12);
    let (s, g) = (sudden.time_to_detect.unwrap(), gradual.time_to_detect.unwrap());
    assert!(g > s, "gradual {g} vs sudden {s}");
    // Accuracy falls step by step rather than at once.
    assert!(gradual.steps[12].accuracy > sudden.steps[12].accuracy);
}

#[test]
fn concept_drift_is_invisible_to_feature_detectors_but_retraining_fixes_it() {
    // The boundary turns 90°: the features keep their distribution, the labels change.
    let seed = Seed::new(3);
    let transforms = vec![Transform::Rotate { degrees: 90.0 }];
    let generator = Synthetic { features: 4, sharpness: 4.0 };
    let data = LoopData::synthetic(generator, 2000, 2000, &transforms, seed).unwrap();
    let features: Vec<String> = ["x0", "x1", "x2", "x3", "segment"].map(String::from).to_vec();
    let mut c = config(transforms, features, ("label", "1"));
    c.schedule.dial = 1.0;
    c.batch_rows = 400;
    let runs =
        run(&data, &c, &[Policy::Triggered { cooldown: 5 }, Policy::Periodic { every: 8 }], seed)
            .unwrap();
    let (triggered, periodic) = (&runs[0], &runs[1]);
    assert_eq!(triggered.time_to_detect, None, "KS and χ² cannot see a concept change");
    assert!(triggered.retrains.is_empty());
    assert!(triggered.worst_accuracy < triggered.pre_drift_accuracy - 0.2);
    // A periodic retrain at step 16 learns the new concept from steps 11–13.
    assert_eq!(periodic.retrains[1].step, 16);
    assert!(periodic.final_accuracy > periodic.pre_drift_accuracy - 0.03);
    assert!(periodic.time_to_recover.is_some());
}

#[test]
fn prior_category_and_missing_drift_reach_the_detector() {
    let seed = Seed::new(5);
    for (transforms, feature) in [
        (
            vec![Transform::Category {
                column: "purpose".into(),
                from: None,
                to: "retraining".into(),
            }],
            "purpose",
        ),
        (vec![Transform::Missing { column: "age_in_years".into() }], "age_in_years"),
        (vec![Transform::Shift { column: "age_in_years".into(), sigmas: 2.0 }], "age_in_years"),
    ] {
        let (data, features) = german(&transforms, seed);
        let mut c = config(transforms, features, ("creditability", "bad"));
        c.schedule.dial = 1.0;
        let r = run(&data, &c, &[Policy::None], seed).unwrap().remove(0);
        assert_eq!(r.time_to_detect, Some(0), "{feature}");
        assert_eq!(r.steps[10].top_feature, feature);
    }
    // Prior drift: every drifted row is a default, so the positive share rises.
    let transforms = vec![Transform::Prior { class: 1 }];
    let (data, _) = german(&transforms, seed);
    let base: f64 = data.eval.base_labels.iter().map(|&y| f64::from(y)).sum::<f64>();
    let drifted: f64 = data.eval.drifted_labels.iter().map(|&y| f64::from(y)).sum::<f64>();
    assert!(base < 150.0 && drifted == 300.0, "{base} {drifted}");
}

#[test]
fn bad_settings_are_errors_naming_the_problem() {
    let seed = Seed::new(1);
    let (data, features) = german(&[], seed);
    let mut c = config(vec![], features.clone(), ("creditability", "bad"));
    c.schedule.start = 0;
    assert!(run(&data, &c, &[Policy::None], seed).unwrap_err().to_string().contains("must start"));
    c.schedule.start = 10;
    c.schedule.dial = 1.5;
    assert!(run(&data, &c, &[Policy::None], seed).unwrap_err().to_string().contains("dial"));
    c.schedule.dial = 0.5;
    c.transforms = vec![Transform::Scale { column: "purpose".into(), factor: 2.0 }];
    let err = run(&data, &c, &[Policy::None], seed).unwrap_err().to_string();
    assert!(err.contains("`purpose`") && err.contains("numeric"), "{err}");
    c.transforms = vec![Transform::Rotate { degrees: 10.0 }];
    let err = run(&data, &c, &[Policy::None], seed).unwrap_err().to_string();
    assert!(err.contains("synthetic source only"), "{err}");
    let err = LoopData::from_table(&german_credit(), ("creditability", "bad"), 600, 400, &[], seed)
        .unwrap_err()
        .to_string();
    assert!(err.contains("too few"), "{err}");
}
