//! Attacks against linear models, where the smallest adversarial perturbation is known.

use stressor_attack::{Apgd, Attack, Fgsm, Goal, HopSkipJump, Norm, Pgd, Square};
use stressor_core::{Batch, Bounds, Seed};
use stressor_model::Model;
use stressor_test_support::LinearModel;

use crate::{assert_within, predict, run, uniform_batch};

/// Wide enough that clipping never helps or hinders the attacks below.
pub(crate) const WIDE: Bounds = Bounds { min: -10.0, max: 10.0 };

/// A binary linear classifier over `[d]` and samples whose logit margin is at least 0.2, with
/// the smallest L∞ and L2 perturbation that flips each: `margin / ‖w‖₁` and `margin / ‖w‖₂`.
pub(crate) struct Binary {
    pub(crate) model: LinearModel,
    pub(crate) inputs: Batch,
    pub(crate) labels: Vec<u32>,
    pub(crate) linf: Vec<f32>,
    pub(crate) l2: Vec<f32>,
}

impl Binary {
    /// The smallest flipping perturbation of each sample in `norm`.
    pub(crate) fn smallest(&self, norm: Norm) -> &[f32] {
        match norm {
            Norm::Linf => &self.linf,
            Norm::L2 => &self.l2,
        }
    }
}

pub(crate) fn binary(d: usize, n: usize, seed: Seed) -> Binary {
    let w = uniform_batch(1, &[d], -1.0, 1.0, seed.derive("w")).into_parts().0;
    let b = 0.1;
    let model = LinearModel::binary(w.clone(), b, WIDE);
    let candidates = uniform_batch(4 * n, &[d], -1.0, 1.0, seed.derive("x"));
    let margin = |x: &[f32]| (x.iter().zip(&w).map(|(x, w)| x * w).sum::<f32>() + b).abs();
    let kept: Vec<usize> =
        (0..candidates.len()).filter(|&i| margin(candidates.sample(i)) >= 0.2).take(n).collect();
    assert_eq!(kept.len(), n, "not enough samples with a clear margin");
    let inputs = candidates.select(&kept);
    let labels = predict(&model, &inputs);
    let l1: f32 = w.iter().map(|v| v.abs()).sum();
    let l2: f32 = w.iter().map(|v| v * v).sum::<f32>().sqrt();
    let margins: Vec<f32> = (0..n).map(|i| margin(inputs.sample(i))).collect();
    Binary {
        model,
        linf: margins.iter().map(|m| m / l1).collect(),
        l2: margins.iter().map(|m| m / l2).collect(),
        inputs,
        labels,
    }
}

fn white_box_attacks(norm: Norm) -> Vec<Box<dyn Attack>> {
    vec![
        Box::new(Fgsm { norm }),
        Box::new(Pgd { norm, ..Pgd::default() }),
        Box::new(Pgd { norm, steps: 20, step_size: 0.1, restarts: 1, random_start: false }),
        Box::new(Apgd { norm, steps: 20, ..Apgd::default() }),
    ]
}

/// Attacks each sample alone at `factor` times its threshold; returns the successes.
fn flips(
    attack: &dyn Attack,
    problem: &Binary,
    thresholds: &[f32],
    factor: f32,
    norm: Norm,
) -> Vec<bool> {
    (0..problem.labels.len())
        .map(|i| {
            let inputs = problem.inputs.select(&[i]);
            let epsilon = thresholds[i] * factor;
            let outcome = run(
                attack,
                &problem.model,
                &inputs,
                &problem.labels[i..=i],
                &Goal::Untargeted,
                epsilon,
                i as u64,
            );
            assert_within(attack.name(), &outcome, &inputs, epsilon, norm, WIDE);
            outcome.success[0]
        })
        .collect()
}

#[test]
fn white_box_attacks_flip_exactly_above_the_linear_threshold() {
    let problem = binary(8, 20, Seed::new(11));
    for norm in [Norm::Linf, Norm::L2] {
        let thresholds = problem.smallest(norm);
        for attack in white_box_attacks(norm) {
            let above = flips(attack.as_ref(), &problem, thresholds, 1.05, norm);
            assert!(above.iter().all(|s| *s), "{} {norm:?} at 1.05×: {above:?}", attack.name());
            let below = flips(attack.as_ref(), &problem, thresholds, 0.95, norm);
            assert!(below.iter().all(|s| !s), "{} {norm:?} at 0.95×: {below:?}", attack.name());
        }
    }
}

#[test]
fn square_flips_most_samples_above_the_linear_threshold() {
    let problem = binary(8, 20, Seed::new(12));
    let square = Square { n_queries: 1000, ..Square::default() };
    let above = flips(&square, &problem, &problem.linf, 1.1, Norm::Linf);
    let n_above = above.iter().filter(|s| **s).count();
    assert!(n_above >= 18, "square flipped {n_above} of 20 at 1.1×");
    let below = flips(&square, &problem, &problem.linf, 0.95, Norm::Linf);
    assert!(below.iter().all(|s| !s));
}

#[test]
fn square_on_images_counts_queries_and_stops_early() {
    // A linear model on [1, 8, 8] images with ‖w‖₁ = 32 and every sample in class 0 by a
    // margin of at least 0.2; ε is 1.2 times the largest threshold `margin / ‖w‖₁`.
    let w: Vec<f32> = (0..64).map(|k| if k % 3 == 0 { -0.5 } else { 0.5 }).collect();
    let l1: f32 = w.iter().map(|v| v.abs()).sum();
    let inputs = uniform_batch(6, &[1, 8, 8], 0.3, 0.7, Seed::new(3));
    let scores: Vec<f32> =
        (0..6).map(|i| inputs.sample(i).iter().zip(&w).map(|(x, w)| x * w).sum()).collect();
    let highest = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let bias = -highest - 0.2;
    let mut weights = vec![0.0; 64];
    weights.extend(&w);
    let model = LinearModel::new(weights, vec![0.0, bias], vec![1, 8, 8], Bounds::UNIT);
    let labels = predict(&model, &inputs);
    assert!(labels.iter().all(|l| *l == 0));
    let threshold = scores.iter().map(|s| (-s - bias) / l1).fold(0.0, f32::max);
    let epsilon = 1.2 * threshold;
    let square = Square { n_queries: 2000, ..Square::default() };
    let outcome = run(&square, &model, &inputs, &labels, &Goal::Untargeted, epsilon, 9);
    assert_within("square", &outcome, &inputs, epsilon, Norm::Linf, Bounds::UNIT);
    let n_broken = outcome.success.iter().filter(|s| **s).count();
    assert!(n_broken >= 5, "{n_broken} of 6");
    assert!(outcome.queries.iter().all(|q| (1..=2000).contains(q)), "{:?}", outcome.queries);
    // Broken samples stop being queried.
    for (success, queries) in outcome.success.iter().zip(&outcome.queries) {
        if *success {
            assert!(*queries < 2000, "{:?}", outcome.queries);
        }
    }
    assert!(outcome.loss_trace.last() > outcome.loss_trace.first());
}

#[test]
fn targeted_attacks_reach_the_target_on_a_linear_problem() {
    // Three well-separated classes in the plane: class k's weight points at angle 2πk/3.
    let weights = vec![2.0, 0.0, -1.0, 1.732, -1.0, -1.732];
    let model = LinearModel::new(weights, vec![0.0; 3], vec![2], WIDE);
    let inputs = uniform_batch(12, &[2], -1.0, 1.0, Seed::new(4));
    let labels = predict(&model, &inputs);
    let targets: Vec<u32> = labels.iter().map(|l| (l + 1) % 3).collect();
    let goal = Goal::Targeted(targets.clone());
    let attacks: Vec<(Box<dyn Attack>, Norm)> = vec![
        (Box::new(Pgd { steps: 20, ..Pgd::default() }), Norm::Linf),
        (Box::new(Pgd { norm: Norm::L2, steps: 20, ..Pgd::default() }), Norm::L2),
        (Box::new(Apgd { steps: 20, ..Apgd::default() }), Norm::Linf),
        (Box::new(Apgd { norm: Norm::L2, steps: 20, ..Apgd::default() }), Norm::L2),
        (Box::new(Square { n_queries: 300, p_init: 0.5, ..Square::default() }), Norm::Linf),
        (Box::new(HopSkipJump { max_queries: 500, ..HopSkipJump::default() }), Norm::L2),
        (
            Box::new(HopSkipJump { norm: Norm::Linf, max_queries: 500, ..HopSkipJump::default() }),
            Norm::Linf,
        ),
    ];
    for (attack, norm) in attacks {
        let outcome = run(attack.as_ref(), &model, &inputs, &labels, &goal, 3.0, 5);
        assert_within(attack.name(), &outcome, &inputs, 3.0, norm, WIDE);
        assert_eq!(outcome.predictions, targets, "{} {norm:?}", attack.name());
        assert!(outcome.success.iter().all(|s| *s));
    }
}

#[test]
fn misclassified_samples_count_as_broken_at_once() {
    let model = LinearModel::binary(vec![1.0, 1.0], -1.0, Bounds::UNIT);
    let inputs = Batch::new(vec![0.9, 0.9], vec![1, 2]).unwrap();
    // The model says 1; the label says 0.
    for attack in crate::all_attacks(Norm::Linf) {
        let outcome = run(attack.as_ref(), &model, &inputs, &[0], &Goal::Untargeted, 0.1, 0);
        assert_eq!(outcome.success, vec![true], "{}", attack.name());
    }
}

#[test]
fn progress_reaches_the_planned_total() {
    let problem = binary(4, 3, Seed::new(13));
    let attacks: Vec<Box<dyn Attack>> = vec![
        Box::new(Fgsm::default()),
        Box::new(Pgd { steps: 7, restarts: 2, ..Pgd::default() }),
        Box::new(Apgd { steps: 9, restarts: 3, ..Apgd::default() }),
        Box::new(Square { n_queries: 50, ..Square::default() }),
        Box::new(HopSkipJump { max_queries: 400, max_iterations: 6, ..HopSkipJump::default() }),
    ];
    for attack in attacks {
        let mut last = (0, 0);
        let outcome = attack
            .run(
                &problem.model,
                &problem.inputs,
                &problem.labels,
                &Goal::Untargeted,
                0.01,
                Seed::new(0),
                &mut |done, total| {
                    assert!(done >= last.0 && done <= total, "{}", attack.name());
                    last = (done, total);
                },
            )
            .unwrap();
        assert_eq!(last.0, last.1, "{}", attack.name());
        assert!(last.1 > 0, "{}", attack.name());
        assert!(!outcome.loss_trace.is_empty());
    }
}

#[test]
fn an_empty_batch_is_an_empty_outcome() {
    let model = LinearModel::binary(vec![1.0], 0.0, Bounds::UNIT);
    let inputs = Batch::zeros(0, &[1]);
    for attack in crate::all_attacks(Norm::Linf) {
        let outcome = run(attack.as_ref(), &model, &inputs, &[], &Goal::Untargeted, 0.1, 0);
        assert!(outcome.success.is_empty() && outcome.adversarial.is_empty());
    }
    let _ = model.info();
}
