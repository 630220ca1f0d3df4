//! Runs the recovery loop on the vendored German credit data and prints each policy's
//! timeline: `cargo run --release -p stressor-drift --example recovery`.
#![expect(clippy::print_stdout, reason = "an example prints its result")]

use stressor_core::Seed;
use stressor_drift::Correction;
use stressor_drift::recovery::{LoopConfig, LoopData, Policy, run};
use stressor_drift::stream::{Onset, Schedule, Transform};
use stressor_tabular::{BoostParams, ModelSpec, german_credit};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let table = german_credit();
    let transforms = vec![
        Transform::Scale { column: "credit_amount".into(), factor: 100.0 },
        Transform::Scale { column: "duration_in_month".into(), factor: 30.0 },
    ];
    let seed = Seed::new(7);
    let data = LoopData::from_table(&table, ("creditability", "bad"), 300, 400, &transforms, seed)?;
    let features =
        table.columns.iter().map(|(n, _)| n.clone()).filter(|n| n != "creditability").collect();
    let config = LoopConfig {
        steps: 30,
        batch_rows: 100,
        schedule: Schedule { start: 10, onset: Onset::Sudden, dial: 0.5 },
        transforms,
        model: if std::env::args().any(|a| a == "boosted") {
            ModelSpec::Boosted(BoostParams::default())
        } else {
            ModelSpec::Logistic { c: 1.0 }
        },
        features,
        target: ("creditability".into(), "bad".into()),
        label_delay: 3,
        window: 3,
        alpha: 0.01,
        correction: Correction::BenjaminiHochberg,
        detector_window: 1,
        tolerance: 0.03,
        hold: 3,
        ece_bins: 10,
    };
    let policies = [Policy::None, Policy::Periodic { every: 8 }, Policy::Triggered { cooldown: 5 }];
    for r in run(&data, &config, &policies, seed)? {
        println!(
            "{}: pre {:.3} worst {:.3} final {:.3} detect {:?} recover {:?} lost {:.3} false {} retrains {:?}",
            r.policy.name(),
            r.pre_drift_accuracy,
            r.worst_accuracy,
            r.final_accuracy,
            r.time_to_detect,
            r.time_to_recover,
            r.accuracy_lost,
            r.false_alarms,
            r.retrains.iter().map(|t| (t.step, t.rows, t.seconds)).collect::<Vec<_>>()
        );
        for s in &r.steps {
            println!(
                "  {:2} share {:.2} acc {:.3} ece {:.3} cbpe {:.3} batch {:.3} D {:.3} p {:.1e} {} {} v{}",
                s.step,
                s.drift_share,
                s.accuracy,
                s.ece,
                s.estimated_accuracy,
                s.batch_accuracy,
                s.drift_statistic,
                s.drift_pvalue,
                s.top_feature,
                if s.alarm { "ALARM" } else { "" },
                s.model_version
            );
        }
    }
    Ok(())
}
