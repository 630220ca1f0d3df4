//! HopSkipJump: minimum-norm results against linear models with known answers, decisions as the
//! only signal, query budgets and batching.

use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;
use stressor_attack::{AttackOutcome, Goal, HopSkipJump, Norm};
use stressor_core::{Batch, Bounds, Seed};
use stressor_model::{Model, ModelError, ModelInfo, ScoreKind, Scores};
use stressor_test_support::{LinearModel, MlpModel};

use crate::known::{WIDE, binary};
use crate::{assert_within, predict, run, uniform_batch};

/// A model seen only through its decisions: one-hot scores of the wrapped model's class. It
/// counts calls, rows and rows outside the bounds, and offers no gradients.
struct LabelOnly<'m> {
    inner: &'m dyn Model,
    calls: AtomicU64,
    rows: AtomicU64,
    rows_out_of_bounds: AtomicU64,
}

impl<'m> LabelOnly<'m> {
    fn new(inner: &'m dyn Model) -> Self {
        LabelOnly {
            inner,
            calls: AtomicU64::new(0),
            rows: AtomicU64::new(0),
            rows_out_of_bounds: AtomicU64::new(0),
        }
    }

    fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    fn rows(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }

    fn rows_out_of_bounds(&self) -> u64 {
        self.rows_out_of_bounds.load(Ordering::Relaxed)
    }
}

impl Model for LabelOnly<'_> {
    fn info(&self) -> &ModelInfo {
        self.inner.info()
    }

    fn predict(&self, inputs: &Batch) -> Result<Scores, ModelError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.rows.fetch_add(inputs.len() as u64, Ordering::Relaxed);
        let bounds = self.info().bounds;
        let outside = (0..inputs.len())
            .filter(|&i| inputs.sample(i).iter().any(|v| !(bounds.min..=bounds.max).contains(v)))
            .count();
        self.rows_out_of_bounds.fetch_add(outside as u64, Ordering::Relaxed);
        let n_classes = self.info().n_classes;
        let mut one_hot = vec![0.0; inputs.len() * n_classes];
        for (i, class) in self.inner.predict(inputs)?.predictions().into_iter().enumerate() {
            one_hot[i * n_classes + class as usize] = 1.0;
        }
        Ok(Scores::new(one_hot, n_classes, ScoreKind::Probabilities))
    }
}

fn distance(norm: Norm, a: &[f32], b: &[f32]) -> f64 {
    let differences = a.iter().zip(b).map(|(x, y)| f64::from(*x) - f64::from(*y));
    match norm {
        Norm::L2 => differences.map(|v| v * v).sum::<f64>().sqrt(),
        Norm::Linf => differences.map(f64::abs).fold(0.0, f64::max),
    }
}

/// Per sample: the found distance over the smallest possible one.
fn ratios(outcome: &AttackOutcome, inputs: &Batch, smallest: &[f32], norm: Norm) -> Vec<f64> {
    (0..inputs.len())
        .map(|i| {
            distance(norm, outcome.adversarial.sample(i), inputs.sample(i)) / f64::from(smallest[i])
        })
        .collect()
}

#[test]
fn finds_the_smallest_perturbation_of_a_linear_model() {
    let problem = binary(32, 10, Seed::new(31));
    for norm in [Norm::L2, Norm::Linf] {
        let smallest = problem.smallest(norm);
        let attack = HopSkipJump { norm, max_queries: 5000, ..HopSkipJump::default() };
        // ε is no constraint here: every adversarial found counts.
        let outcome = run(
            &attack,
            &problem.model,
            &problem.inputs,
            &problem.labels,
            &Goal::Untargeted,
            50.0,
            3,
        );
        assert_within("hopskipjump", &outcome, &problem.inputs, 50.0, norm, WIDE);
        assert!(outcome.success.iter().all(|s| *s), "{norm:?}: {:?}", outcome.success);
        assert_eq!(outcome.predictions, predict(&problem.model, &outcome.adversarial));
        let ratios = ratios(&outcome, &problem.inputs, smallest, norm);
        // Below 1 would be an adversarial closer than the boundary: the analysis or the
        // success bookkeeping would be wrong.
        assert!(ratios.iter().all(|r| *r > 0.999 && *r <= 1.1), "{norm:?}: {ratios:?}");
        assert!(outcome.queries.iter().all(|q| *q <= 5000), "{:?}", outcome.queries);
        assert!(outcome.loss_trace.last() > outcome.loss_trace.first(), "{:?}", outcome.loss_trace);
    }
}

#[test]
fn a_boundary_beyond_epsilon_is_no_success() {
    let problem = binary(16, 8, Seed::new(32));
    for norm in [Norm::L2, Norm::Linf] {
        let smallest = problem.smallest(norm);
        let attack = HopSkipJump { norm, max_queries: 800, ..HopSkipJump::default() };
        for (i, smallest) in smallest.iter().enumerate() {
            let inputs = problem.inputs.select(&[i]);
            let labels = &problem.labels[i..=i];
            let below = 0.95 * smallest;
            let outcome =
                run(&attack, &problem.model, &inputs, labels, &Goal::Untargeted, below, 4);
            assert_eq!(outcome.success, vec![false], "{norm:?} sample {i}");
            assert_eq!(outcome.adversarial, inputs, "{norm:?} sample {i}");
            assert_eq!(outcome.predictions, labels);
            // The search ran, on the whole budget, and found nothing close enough.
            assert_eq!(outcome.queries, vec![800]);
            let above = 1.15 * smallest;
            let outcome =
                run(&attack, &problem.model, &inputs, labels, &Goal::Untargeted, above, 4);
            assert_eq!(outcome.success, vec![true], "{norm:?} sample {i}");
            assert_within("hopskipjump", &outcome, &inputs, above, norm, WIDE);
        }
    }
}

/// A 4-class linear model over `[20]` and inputs whose smallest perturbation into the target
/// class `(label + 1) % 4` is known: the one that crosses the pairwise boundary with the label,
/// kept only when that point already lands in the target class (then no point of the target
/// region can be closer). Returns the model, inputs, labels, targets and the smallest L2 and
/// L∞ perturbations.
fn targeted_problem() -> (LinearModel, Batch, Vec<u32>, Vec<u32>, Vec<f32>, Vec<f32>) {
    let d = 20;
    let n_classes = 4;
    let weights = uniform_batch(1, &[n_classes * d], -1.0, 1.0, Seed::new(40)).into_parts().0;
    let bias = vec![0.1, -0.1, 0.2, 0.0];
    let model = LinearModel::new(weights.clone(), bias.clone(), vec![d], WIDE);
    let candidates = uniform_batch(200, &[d], -1.0, 1.0, Seed::new(41));
    let candidate_labels = predict(&model, &candidates);
    let (mut kept, mut l2, mut linf) = (Vec::new(), Vec::new(), Vec::new());
    for (i, &label) in candidate_labels.iter().enumerate() {
        let x = candidates.sample(i);
        let target = (label as usize + 1) % n_classes;
        let row = |k: usize| &weights[k * d..(k + 1) * d];
        let v: Vec<f32> = row(target).iter().zip(row(label as usize)).map(|(t, l)| t - l).collect();
        let gap =
            v.iter().zip(x).map(|(v, x)| v * x).sum::<f32>() + bias[target] - bias[label as usize];
        let margin = -gap;
        let v_l2 = v.iter().map(|v| v * v).sum::<f32>().sqrt();
        let v_l1 = v.iter().map(|v| v.abs()).sum::<f32>();
        let lands = |point: Vec<f32>| {
            predict(&model, &Batch::new(point, vec![1, d]).unwrap()) == vec![target as u32]
        };
        // Just past the pairwise boundary, in each norm's steepest direction.
        let l2_point = x.iter().zip(&v).map(|(x, v)| x + 1.001 * margin * v / (v_l2 * v_l2));
        let linf_point = x.iter().zip(&v).map(|(x, v)| x + 1.001 * margin / v_l1 * v.signum());
        if lands(l2_point.collect()) && lands(linf_point.collect()) {
            kept.push(i);
            l2.push(margin / v_l2);
            linf.push(margin / v_l1);
        }
        if kept.len() == 8 {
            break;
        }
    }
    assert_eq!(kept.len(), 8, "not enough samples with a known targeted minimum");
    let inputs = candidates.select(&kept);
    let labels = predict(&model, &inputs);
    let targets = labels.iter().map(|l| (l + 1) % n_classes as u32).collect();
    (model, inputs, labels, targets, l2, linf)
}

#[test]
fn targeted_finds_the_smallest_perturbation_into_the_target_class() {
    let (model, inputs, labels, targets, l2, linf) = targeted_problem();
    let goal = Goal::Targeted(targets.clone());
    for (norm, smallest) in [(Norm::L2, &l2), (Norm::Linf, &linf)] {
        let attack = HopSkipJump { norm, max_queries: 5000, ..HopSkipJump::default() };
        let outcome = run(&attack, &model, &inputs, &labels, &goal, 50.0, 5);
        assert!(outcome.success.iter().all(|s| *s), "{norm:?}: {:?}", outcome.success);
        assert_eq!(outcome.predictions, targets, "{norm:?}");
        assert_eq!(predict(&model, &outcome.adversarial), targets, "{norm:?}");
        let ratios = ratios(&outcome, &inputs, smallest, norm);
        assert!(ratios.iter().all(|r| *r > 0.999 && *r <= 1.1), "{norm:?}: {ratios:?}");
    }
}

#[test]
fn only_decisions_matter() {
    // Scores carry nothing the attack may use: hiding them behind one-hot labels changes
    // nothing, on a nonlinear model too. The wrapper has no gradients to offer.
    let mlp = MlpModel::random(6, 8, 3, 3.0, Bounds::UNIT, Seed::new(50));
    let inputs = uniform_batch(5, &[6], 0.0, 1.0, Seed::new(51));
    let labels = predict(&mlp, &inputs);
    for norm in [Norm::L2, Norm::Linf] {
        let attack = HopSkipJump { norm, max_queries: 600, ..HopSkipJump::default() };
        let with_scores = run(&attack, &mlp, &inputs, &labels, &Goal::Untargeted, 0.5, 6);
        let label_only = LabelOnly::new(&mlp);
        assert!(label_only.differentiable().is_none());
        let with_labels = run(&attack, &label_only, &inputs, &labels, &Goal::Untargeted, 0.5, 6);
        assert_eq!(with_scores, with_labels, "{norm:?}");
        assert!(with_scores.success.iter().any(|s| *s), "{norm:?}: nothing broken");
    }
}

#[test]
fn queries_are_batched_across_samples() {
    let problem = binary(16, 6, Seed::new(33));
    let attack = HopSkipJump { max_queries: 1000, ..HopSkipJump::default() };
    let one = LabelOnly::new(&problem.model);
    let first = problem.inputs.select(&[0]);
    run(&attack, &one, &first, &problem.labels[..1], &Goal::Untargeted, 50.0, 7);
    let all = LabelOnly::new(&problem.model);
    let outcome = run(&attack, &all, &problem.inputs, &problem.labels, &Goal::Untargeted, 50.0, 7);
    assert_eq!(outcome.queries.iter().sum::<u64>(), all.rows());
    // Gradient evaluations share calls, so a call carries many rows, and the samples advance
    // together: six samples take about as many calls as one.
    assert!(one.rows() >= 10 * one.calls(), "{} rows in {} calls", one.rows(), one.calls());
    assert!(
        all.calls() <= 2 * one.calls(),
        "{} calls for six samples, {} for one",
        all.calls(),
        one.calls()
    );
}

#[test]
fn the_same_seed_repeats_and_another_seed_differs() {
    let problem = binary(8, 4, Seed::new(34));
    for norm in [Norm::L2, Norm::Linf] {
        let attack = HopSkipJump { norm, max_queries: 300, ..HopSkipJump::default() };
        let outcome = |seed| {
            run(
                &attack,
                &problem.model,
                &problem.inputs,
                &problem.labels,
                &Goal::Untargeted,
                50.0,
                seed,
            )
        };
        let first = outcome(8);
        assert_eq!(first, outcome(8), "{norm:?}");
        assert!(first.success.iter().all(|s| *s));
        assert_ne!(first.adversarial, outcome(9).adversarial, "{norm:?}");
    }
}

#[test]
fn the_whole_budget_is_spent_and_no_more() {
    let problem = binary(8, 3, Seed::new(35));
    for norm in [Norm::L2, Norm::Linf] {
        for max_queries in [1, 2, 37, 250] {
            let attack =
                HopSkipJump { norm, max_queries, max_iterations: 10_000, ..HopSkipJump::default() };
            let model = LabelOnly::new(&problem.model);
            let outcome =
                run(&attack, &model, &problem.inputs, &problem.labels, &Goal::Untargeted, 50.0, 10);
            // Every sample searches until its budget is gone: the iteration cap is out of reach.
            assert_eq!(outcome.queries, vec![max_queries; 3], "{norm:?}");
            assert_eq!(model.rows(), 3 * max_queries, "{norm:?}");
        }
    }
}

fn norm() -> impl Strategy<Value = Norm> {
    prop_oneof![Just(Norm::Linf), Just(Norm::L2)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn budgets_hold_and_outputs_stay_in_the_ball_and_the_bounds(
        epsilon in 0.0f32..0.8,
        norm in norm(),
        targeted in any::<bool>(),
        max_queries in 1u64..400,
        max_iterations in 1u32..40,
        init_evaluations in 1u32..60,
        init_size in 1u32..30,
        model_seed in any::<u64>(),
        seed in any::<u64>(),
    ) {
        // Three classes over [5] in [0, 1], where clipping to the bounds matters.
        let weights = uniform_batch(1, &[15], -3.0, 3.0, Seed::new(model_seed)).into_parts().0;
        let linear = LinearModel::new(weights, vec![0.2, -0.1, 0.0], vec![5], Bounds::UNIT);
        let model = LabelOnly::new(&linear);
        let inputs = uniform_batch(4, &[5], 0.0, 1.0, Seed::new(seed).derive("inputs"));
        let labels = predict(&linear, &inputs);
        let goal = if targeted {
            Goal::Targeted(labels.iter().map(|l| (l + 1) % 3).collect())
        } else {
            Goal::Untargeted
        };
        let attack = HopSkipJump {
            norm,
            max_queries,
            max_iterations,
            init_evaluations,
            max_evaluations: 2 * init_evaluations,
            init_size,
            gamma: 1.0,
        };
        let outcome = run(&attack, &model, &inputs, &labels, &goal, epsilon, seed);
        assert_within("hopskipjump", &outcome, &inputs, epsilon, norm, Bounds::UNIT);
        prop_assert!(outcome.queries.iter().all(|q| (1..=max_queries).contains(q)), "{:?}", outcome.queries);
        // Every row the model saw is counted, and nothing else; no query leaves the bounds.
        prop_assert_eq!(outcome.queries.iter().sum::<u64>(), model.rows());
        prop_assert_eq!(model.rows_out_of_bounds(), 0);
        prop_assert_eq!(&outcome.predictions, &predict(&linear, &outcome.adversarial));
        for i in 0..4 {
            let reached = match &goal {
                Goal::Untargeted => outcome.predictions[i] != labels[i],
                Goal::Targeted(targets) => outcome.predictions[i] == targets[i],
            };
            prop_assert_eq!(outcome.success[i], reached, "sample {}", i);
            if !outcome.success[i] {
                prop_assert_eq!(outcome.adversarial.sample(i), inputs.sample(i));
            }
        }
        prop_assert!(outcome.loss_trace.iter().all(|l| l.is_finite() && *l <= 0.0));
    }
}
