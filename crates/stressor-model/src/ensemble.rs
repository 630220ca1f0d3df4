//! Ensembles: several models answering as one.

use std::fmt;

use stressor_core::Batch;

use crate::{Differentiable, Model, ModelError, ModelInfo, ScoreKind, Scores};

/// How an [`Ensemble`] combines its members' answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    /// The mean of the members' class probabilities (softmax of logits, or probabilities as
    /// given), returned as its logarithm: the ensemble's logits are `ln(mean_i softmax(z_i))`,
    /// so their softmax is the mean probability again. Differentiable when every member is.
    MeanProbability,
    /// One vote per member for its predicted class; the scores are the vote fractions
    /// (probabilities). A tie goes to the lowest class index among the tied classes, as
    /// [`Scores::argmax`] takes the first maximum. Not differentiable.
    MajorityVote,
}

/// Several models with the same input shape, class count and bounds, answering as one model.
///
/// With [`Combine::MeanProbability`] the ensemble is [`Differentiable`] when every member is,
/// so white-box attacks can attack the ensemble as a whole (and not one member at a time,
/// which overstates the ensemble's robustness).
///
/// # Examples
/// ```
/// use stressor_core::{Batch, Bounds};
/// use stressor_model::{Combine, Ensemble, FnModel, Model, ModelInfo};
/// let info = ModelInfo::new("m", "fn", vec![1], 2, Bounds::UNIT);
/// let low: Box<dyn Model> = Box::new(FnModel::new(info.clone(), |x: &[f32]| vec![x[0], 0.2]));
/// let high: Box<dyn Model> = Box::new(FnModel::new(info, |x: &[f32]| vec![x[0], 0.8]));
/// let ensemble = Ensemble::new("pair", vec![low, high], Combine::MeanProbability).unwrap();
/// let scores = ensemble.predict(&Batch::new(vec![0.4], vec![1, 1]).unwrap()).unwrap();
/// // The mean of the members' class-1 probabilities.
/// let p = scores.probabilities();
/// let expected = 0.5 * (1.0 / (1.0 + 0.2f32.exp()) + 1.0 / (1.0 + (-0.4f32).exp()));
/// assert!((p[1] - expected).abs() < 1e-6);
/// ```
pub struct Ensemble {
    info: ModelInfo,
    members: Vec<Box<dyn Model>>,
    combine: Combine,
    /// Whether [`Model::differentiable`] answers `Some`: mean probability and every member
    /// differentiable.
    differentiable: bool,
}

impl Ensemble {
    /// An ensemble named `name` (its [`ModelInfo::kind`] is `ensemble`) of `members`.
    ///
    /// # Errors
    /// [`ModelError::Ensemble`] when there are fewer than two members, or a member's input
    /// shape, class count or bounds differ from the first member's (the message names the
    /// member by index and name).
    pub fn new(
        name: impl Into<String>,
        members: Vec<Box<dyn Model>>,
        combine: Combine,
    ) -> Result<Ensemble, ModelError> {
        let name = name.into();
        let error = |reason: String| ModelError::Ensemble { ensemble: name.clone(), reason };
        let Some(first) = members.first() else {
            return Err(error("an ensemble needs at least 2 members, got 0".to_string()));
        };
        if members.len() < 2 {
            return Err(error(format!(
                "an ensemble needs at least 2 members, got {}",
                members.len()
            )));
        }
        let reference = first.info();
        for (index, member) in members.iter().enumerate().skip(1) {
            let info = member.info();
            let mismatch = if info.input_shape != reference.input_shape {
                Some(format!(
                    "takes samples of shape {:?}, member 0 (`{}`) takes {:?}",
                    info.input_shape, reference.name, reference.input_shape
                ))
            } else if info.n_classes != reference.n_classes {
                Some(format!(
                    "has {} classes, member 0 (`{}`) has {}",
                    info.n_classes, reference.name, reference.n_classes
                ))
            } else if info.bounds != reference.bounds {
                Some(format!(
                    "takes inputs in [{}, {}], member 0 (`{}`) in [{}, {}]",
                    info.bounds.min,
                    info.bounds.max,
                    reference.name,
                    reference.bounds.min,
                    reference.bounds.max
                ))
            } else {
                None
            };
            if let Some(mismatch) = mismatch {
                return Err(error(format!("member {index} (`{}`) {mismatch}", info.name)));
            }
        }
        let info = ModelInfo::new(
            name.clone(),
            "ensemble",
            reference.input_shape.clone(),
            reference.n_classes,
            reference.bounds,
        );
        let differentiable = combine == Combine::MeanProbability
            && members.iter().all(|member| member.differentiable().is_some());
        Ok(Ensemble { info, members, combine, differentiable })
    }

    /// The members, in the order given.
    pub fn members(&self) -> &[Box<dyn Model>] {
        &self.members
    }

    /// How the members' answers are combined.
    pub fn combine(&self) -> Combine {
        self.combine
    }

    /// Every member's log-probabilities (row-major `[n, classes]` each), checked for size.
    fn member_log_probabilities(&self, inputs: &Batch) -> Result<Vec<Vec<f32>>, ModelError> {
        self.members
            .iter()
            .enumerate()
            .map(|(index, member)| {
                let scores = member.predict(inputs)?;
                self.check_scores(index, scores.len(), scores.n_classes(), inputs.len())?;
                Ok(scores.log_probabilities())
            })
            .collect()
    }

    /// The mean-probability logits `ln(mean_i p_i)` from the members' log-probabilities,
    /// computed as a log-sum-exp over members so that no probability underflows.
    fn mean_probability_logits(&self, log_probabilities: &[Vec<f32>], len: usize) -> Vec<f32> {
        let ln_members = (self.members.len() as f32).ln();
        (0..len)
            .map(|position| {
                let max = log_probabilities
                    .iter()
                    .map(|member| member[position])
                    .fold(f32::NEG_INFINITY, f32::max);
                let sum: f32 =
                    log_probabilities.iter().map(|member| (member[position] - max).exp()).sum();
                max + sum.ln() - ln_members
            })
            .collect()
    }

    fn majority_vote(&self, inputs: &Batch) -> Result<Vec<f32>, ModelError> {
        let n_classes = self.info.n_classes;
        let mut votes = vec![0.0f32; inputs.len() * n_classes];
        let share = 1.0 / self.members.len() as f32;
        for (index, member) in self.members.iter().enumerate() {
            let scores = member.predict(inputs)?;
            self.check_scores(index, scores.len(), scores.n_classes(), inputs.len())?;
            for (row, class) in scores.predictions().into_iter().enumerate() {
                votes[row * n_classes + class as usize] += share;
            }
        }
        Ok(votes)
    }

    fn check_scores(
        &self,
        index: usize,
        rows: usize,
        n_classes: usize,
        n_samples: usize,
    ) -> Result<(), ModelError> {
        if rows != n_samples || n_classes != self.info.n_classes {
            return Err(ModelError::Backend {
                model: self.info.name.clone(),
                message: format!(
                    "member {index} (`{}`) returned {rows} rows of {n_classes} scores for \
                     {n_samples} samples of {} classes",
                    self.members[index].info().name,
                    self.info.n_classes
                ),
            });
        }
        Ok(())
    }
}

impl fmt::Debug for Ensemble {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let members: Vec<&str> =
            self.members.iter().map(|member| member.info().name.as_str()).collect();
        f.debug_struct("Ensemble")
            .field("info", &self.info)
            .field("members", &members)
            .field("combine", &self.combine)
            .finish()
    }
}

impl Model for Ensemble {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Runs every member once. [`Combine::MeanProbability`] returns
    /// [`ScoreKind::Logits`] `ln(mean_i p_i)`; [`Combine::MajorityVote`] returns
    /// [`ScoreKind::Probabilities`], the fraction of members voting for each class.
    fn predict(&self, inputs: &Batch) -> Result<Scores, ModelError> {
        self.info.check_input(inputs)?;
        let n_classes = self.info.n_classes;
        match self.combine {
            Combine::MeanProbability => {
                let log_probabilities = self.member_log_probabilities(inputs)?;
                let logits =
                    self.mean_probability_logits(&log_probabilities, inputs.len() * n_classes);
                Ok(Scores::new(logits, n_classes, ScoreKind::Logits))
            }
            Combine::MajorityVote => {
                Ok(Scores::new(self.majority_vote(inputs)?, n_classes, ScoreKind::Probabilities))
            }
        }
    }

    fn differentiable(&self) -> Option<&dyn Differentiable> {
        if self.differentiable { Some(self) } else { None }
    }
}

impl Differentiable for Ensemble {
    /// The gradient of `Σ g · L` for the ensemble logits `L = ln(mean_i softmax(z_i))`.
    ///
    /// Member `i`'s cotangent needs every member's probabilities, which are known only after
    /// every member has run, so this takes one extra forward pass per member: first every
    /// member's [`Model::predict`] gives `L`, then `cotangent` is called once on `L` giving
    /// `g`, then every member's own [`Differentiable::logits_and_gradient`] runs with
    /// cotangent `c_ij = Σ_c g_c · w_ic · (δ_cj − p_ij)`, where `p_i = softmax(z_i)` and
    /// `w_ic = p_ic / (M · P_c)` (`M` members, `P` the mean probability), and the members'
    /// input gradients are summed.
    ///
    /// # Errors
    /// [`ModelError::Backend`] with [`Combine::MajorityVote`] or a non-differentiable member,
    /// or when `cotangent` returns the wrong number of values; a member's error otherwise.
    fn logits_and_gradient(
        &self,
        inputs: &Batch,
        cotangent: &mut dyn FnMut(&[f32]) -> Vec<f32>,
    ) -> Result<(Vec<f32>, Batch), ModelError> {
        self.info.check_input(inputs)?;
        let backend =
            |message: String| ModelError::Backend { model: self.info.name.clone(), message };
        if !self.differentiable {
            return Err(backend(
                "the ensemble is not differentiable: it needs mean-probability combination and \
                 differentiable members"
                    .to_string(),
            ));
        }
        let n_classes = self.info.n_classes;
        let len = inputs.len() * n_classes;
        let log_probabilities = self.member_log_probabilities(inputs)?;
        let logits = self.mean_probability_logits(&log_probabilities, len);
        let outer = cotangent(&logits);
        if outer.len() != logits.len() {
            return Err(backend(format!(
                "the cotangent has {} values for {} logits",
                outer.len(),
                logits.len()
            )));
        }
        let ln_members = (self.members.len() as f32).ln();
        let mut gradient = Batch::zeros(inputs.len(), inputs.sample_shape());
        for (index, member) in self.members.iter().enumerate() {
            let differentiable = member.differentiable().ok_or_else(|| {
                backend(format!("member {index} (`{}`) has no gradient", member.info().name))
            })?;
            let mut member_cotangent = |member_logits: &[f32]| -> Vec<f32> {
                let mut out = vec![0.0; member_logits.len()];
                if member_logits.len() != len {
                    // The member's size check reports the mismatch after this returns.
                    return out;
                }
                for ((z, g), (l, c)) in member_logits
                    .chunks(n_classes)
                    .zip(outer.chunks(n_classes))
                    .zip(logits.chunks(n_classes).zip(out.chunks_mut(n_classes)))
                {
                    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let log_sum = z.iter().map(|v| (v - max).exp()).sum::<f32>().ln() + max;
                    // w_ic = p_ic / (M·P_c) = exp(log p_ic − ln M − L_c), in (0, 1].
                    let mut weighted = 0.0;
                    for k in 0..n_classes {
                        let log_p = z[k] - log_sum;
                        let w = (log_p - ln_members - l[k]).exp();
                        c[k] = g[k] * w;
                        weighted += c[k];
                    }
                    for k in 0..n_classes {
                        c[k] -= (z[k] - log_sum).exp() * weighted;
                    }
                }
                out
            };
            let (member_logits, member_gradient) =
                differentiable.logits_and_gradient(inputs, &mut member_cotangent)?;
            if member_logits.len() != len || member_gradient.shape() != inputs.shape() {
                return Err(backend(format!(
                    "member {index} (`{}`) returned {} logits and a gradient of shape {:?} for \
                     inputs of shape {:?}",
                    member.info().name,
                    member_logits.len(),
                    member_gradient.shape(),
                    inputs.shape()
                )));
            }
            for (total, part) in gradient.as_mut_slice().iter_mut().zip(member_gradient.as_slice())
            {
                *total += part;
            }
        }
        Ok((logits, gradient))
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use rand::Rng as _;
    use stressor_core::{Bounds, Seed};

    use super::*;
    use crate::FnModel;

    /// Logits `W·x + b`, with the exact input gradient `cᵀ·W`.
    struct Linear {
        info: ModelInfo,
        weights: Vec<f32>,
        bias: Vec<f32>,
    }

    impl Linear {
        fn random(name: &str, n_features: usize, n_classes: usize, scale: f32, seed: u64) -> Self {
            let mut rng = Seed::new(seed).rng();
            let mut draw = |n: usize| -> Vec<f32> {
                (0..n).map(|_| rng.random_range(-scale..scale)).collect()
            };
            let weights = draw(n_features * n_classes);
            let bias = draw(n_classes);
            let info = ModelInfo::new(name, "toy", vec![n_features], n_classes, Bounds::UNIT);
            Linear { info, weights, bias }
        }

        fn logits(&self, inputs: &Batch) -> Vec<f32> {
            let n_features = inputs.sample_len();
            let mut logits = Vec::new();
            for i in 0..inputs.len() {
                for (row, b) in self.weights.chunks(n_features).zip(&self.bias) {
                    logits.push(
                        row.iter().zip(inputs.sample(i)).map(|(w, x)| w * x).sum::<f32>() + b,
                    );
                }
            }
            logits
        }
    }

    impl Model for Linear {
        fn info(&self) -> &ModelInfo {
            &self.info
        }

        fn predict(&self, inputs: &Batch) -> Result<Scores, ModelError> {
            self.info.check_input(inputs)?;
            Ok(Scores::new(self.logits(inputs), self.info.n_classes, ScoreKind::Logits))
        }

        fn differentiable(&self) -> Option<&dyn Differentiable> {
            Some(self)
        }
    }

    impl Differentiable for Linear {
        fn logits_and_gradient(
            &self,
            inputs: &Batch,
            cotangent: &mut dyn FnMut(&[f32]) -> Vec<f32>,
        ) -> Result<(Vec<f32>, Batch), ModelError> {
            self.info.check_input(inputs)?;
            let logits = self.logits(inputs);
            let cot = cotangent(&logits);
            let (n_classes, n_features) = (self.info.n_classes, inputs.sample_len());
            let mut gradient = Batch::zeros(inputs.len(), inputs.sample_shape());
            for i in 0..inputs.len() {
                for (k, row) in self.weights.chunks(n_features).enumerate() {
                    for (g, w) in gradient.sample_mut(i).iter_mut().zip(row) {
                        *g += cot[i * n_classes + k] * w;
                    }
                }
            }
            Ok((logits, gradient))
        }
    }

    fn boxed(model: impl Model + 'static) -> Box<dyn Model> {
        Box::new(model)
    }

    fn random_batch(n: usize, n_features: usize, seed: u64) -> Batch {
        let mut rng = Seed::new(seed).rng();
        let values = (0..n * n_features).map(|_| rng.random::<f32>()).collect();
        Batch::new(values, vec![n, n_features]).unwrap()
    }

    /// A model that predicts `class` for every sample.
    fn constant(name: &str, class: usize, n_classes: usize) -> Box<dyn Model> {
        let info = ModelInfo::new(name, "fn", vec![2], n_classes, Bounds::UNIT);
        boxed(FnModel::new(info, move |_: &[f32]| {
            (0..n_classes).map(|k| if k == class { 1.0 } else { 0.0 }).collect()
        }))
    }

    #[test]
    fn mean_probability_of_identical_members_is_the_member() {
        let member = || Linear::random("a", 5, 4, 2.0, 1);
        let inputs = random_batch(6, 5, 2);
        let single = member().predict(&inputs).unwrap();
        let ensemble = Ensemble::new(
            "twins",
            vec![boxed(member()), boxed(member()), boxed(member())],
            Combine::MeanProbability,
        )
        .unwrap();
        let scores = ensemble.predict(&inputs).unwrap();
        assert_eq!(scores.kind(), ScoreKind::Logits);
        assert_eq!(scores.predictions(), single.predictions());
        for (a, b) in scores.probabilities().iter().zip(single.probabilities()) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        // The logits are the log-probabilities themselves.
        for (a, b) in scores.as_slice().iter().zip(single.log_probabilities()) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        assert_eq!(ensemble.info().kind, "ensemble");
        assert_eq!(ensemble.members().len(), 3);
        assert_eq!(ensemble.combine(), Combine::MeanProbability);
    }

    #[test]
    fn mean_probability_gradient_matches_finite_differences() {
        let (n, n_features, n_classes) = (3, 4, 5);
        // Different scales give confident and unsure members; the last one saturates softmax.
        let members = vec![
            boxed(Linear::random("a", n_features, n_classes, 1.0, 10)),
            boxed(Linear::random("b", n_features, n_classes, 3.0, 11)),
            boxed(Linear::random("c", n_features, n_classes, 8.0, 12)),
        ];
        let ensemble = Ensemble::new("trio", members, Combine::MeanProbability).unwrap();
        let differentiable = ensemble.differentiable().unwrap();
        let inputs = random_batch(n, n_features, 13);
        let mut rng = Seed::new(14).rng();
        let g: Vec<f32> = (0..n * n_classes).map(|_| rng.random_range(-1.0..1.0)).collect();
        let mut calls = 0;
        let mut seen = Vec::new();
        let (logits, gradient) = differentiable
            .logits_and_gradient(&inputs, &mut |l: &[f32]| {
                calls += 1;
                seen = l.to_vec();
                g.clone()
            })
            .unwrap();
        assert_eq!(calls, 1);
        assert_eq!(seen, logits);
        assert_eq!(logits, ensemble.predict(&inputs).unwrap().as_slice());
        let objective = |batch: &Batch| -> f64 {
            let scores = ensemble.predict(batch).unwrap();
            scores.as_slice().iter().zip(&g).map(|(s, c)| f64::from(s * c)).sum()
        };
        let h = 1e-2;
        let mut shifted = inputs.clone();
        let mut worst: f64 = 0.0;
        for j in 0..inputs.as_slice().len() {
            let original = inputs.as_slice()[j];
            shifted.as_mut_slice()[j] = original + h;
            let plus = objective(&shifted);
            shifted.as_mut_slice()[j] = original - h;
            let minus = objective(&shifted);
            shifted.as_mut_slice()[j] = original;
            let finite = (plus - minus) / (2.0 * f64::from(h));
            let analytic = f64::from(gradient.as_slice()[j]);
            worst = worst.max((finite - analytic).abs() / finite.abs().max(1.0));
        }
        assert!(worst < 2e-3, "largest relative gradient error {worst}");
        // A wrong-length cotangent is an error, not a panic.
        let err = differentiable.logits_and_gradient(&inputs, &mut |_| vec![1.0; 2]).unwrap_err();
        assert!(err.to_string().contains("2 values for 15 logits"), "{err}");
        // An empty batch has empty logits and gradient.
        let empty = Batch::zeros(0, &[n_features]);
        let (logits, gradient) =
            differentiable.logits_and_gradient(&empty, &mut |l| vec![0.0; l.len()]).unwrap();
        assert!(logits.is_empty() && gradient.is_empty());
    }

    #[test]
    fn majority_vote_counts_and_breaks_ties_to_the_lowest_class() {
        let inputs = random_batch(2, 2, 3);
        let members = vec![constant("a", 2, 4), constant("b", 1, 4), constant("c", 2, 4)];
        let vote = Ensemble::new("vote", members, Combine::MajorityVote).unwrap();
        let scores = vote.predict(&inputs).unwrap();
        assert_eq!(scores.kind(), ScoreKind::Probabilities);
        let third = 1.0 / 3.0;
        assert_eq!(scores.row(0), &[0.0, third, 2.0 * third, 0.0]);
        assert_eq!(scores.predictions(), vec![2, 2]);
        assert!(vote.differentiable().is_none());
        let err = vote.logits_and_gradient(&inputs, &mut |l| vec![0.0; l.len()]).unwrap_err();
        assert!(err.to_string().contains("not differentiable"), "{err}");

        let tie = vec![constant("a", 3, 4), constant("b", 1, 4)];
        let tie = Ensemble::new("tie", tie, Combine::MajorityVote).unwrap();
        assert_eq!(tie.predict(&inputs).unwrap().predictions(), vec![1, 1]);
    }

    #[test]
    fn a_member_without_gradient_makes_the_ensemble_black_box() {
        let members = vec![boxed(Linear::random("a", 2, 4, 1.0, 1)), constant("b", 1, 4)];
        let ensemble = Ensemble::new("mixed", members, Combine::MeanProbability).unwrap();
        assert!(ensemble.differentiable().is_none());
        assert_eq!(ensemble.predict(&random_batch(3, 2, 4)).unwrap().len(), 3);
    }

    #[test]
    fn mismatched_members_are_an_error_naming_the_member() {
        let check = |members: Vec<Box<dyn Model>>, expect: &str| {
            let err = Ensemble::new("bad", members, Combine::MeanProbability).unwrap_err();
            assert!(matches!(err, ModelError::Ensemble { .. }), "{err}");
            let message = err.to_string();
            assert!(message.contains("`bad`") && message.contains(expect), "{message}");
        };
        check(vec![], "at least 2 members, got 0");
        check(vec![constant("a", 0, 3)], "at least 2 members, got 1");
        check(
            vec![constant("a", 0, 3), constant("b", 0, 3), constant("odd", 0, 4)],
            "member 2 (`odd`) has 4 classes, member 0 (`a`) has 3",
        );
        check(
            vec![constant("a", 0, 4), boxed(Linear::random("wide", 3, 4, 1.0, 1))],
            "member 1 (`wide`) takes samples of shape [3]",
        );
        let info = ModelInfo::new("signed", "fn", vec![2], 4, Bounds { min: -1.0, max: 1.0 });
        let signed = boxed(FnModel::new(info, |_: &[f32]| vec![0.0; 4]));
        check(vec![constant("a", 0, 4), signed], "member 1 (`signed`) takes inputs in [-1, 1]");
    }
}
