//! The HopSkipJump attack.

use rand::Rng as _;
use stressor_core::{Batch, Bounds, Rng, Seed};
use stressor_model::Model;

use crate::attack::{check_run, empty_outcome, invalid_parameter};
use crate::ball::{l2_distance, standard_normal};
use crate::objective::Objective;
use crate::{Attack, AttackError, AttackOutcome, Goal, Norm};

/// At most this many input values go to the model in one call (16 MiB of `f32`). Larger query
/// sets are split, one row per call at least, so a high-dimensional input with many gradient
/// evaluations does not build one huge batch.
const MAX_VALUES_PER_CALL: usize = 1 << 22;

/// The width of the interval at which the initial blend search stops, as in the reference
/// implementation; the binary search with the paper's threshold θ follows it.
const BLEND_TOLERANCE: f64 = 1e-3;

/// HopSkipJump: a decision-based black-box attack that finds a small adversarial
/// perturbation from predicted labels alone.
///
/// # What it does
/// Uses only the predicted class (the argmax of [`Model::predict`]), never scores or gradients,
/// so it attacks anything that answers with a label. It is a minimum-norm attack, run for each
/// sample not already broken:
///
/// 1. *Initialisation:* draws up to `init_size` uniform random points within the model's
///    bounds until one is adversarial (any wrong class untargeted, the target class targeted),
///    blends it towards the input by a coarse binary search, then binary-searches to the
///    decision boundary.
/// 2. *Iterations* (`t = 1 … max_iterations`), each from the current boundary point `x_t`:
///    - *Gradient-direction estimate:* `n_t = min(init_evaluations·√t, max_evaluations)`
///      random unit directions `u_b` (Gaussian for L2, uniform in `[−1, 1]^d` for L∞, then
///      normalised), queried at `clip(x_t + δ_t·u_b)`. With `φ_b = ±1` for adversarial or not,
///      the direction is the mean of `(φ_b − φ̄)·u_b`: the paper's baseline subtraction, which
///      cuts the variance (when every `φ_b` agrees it is `±mean(u_b)`). `δ_t` is
///      `0.1·(max − min)` at `t = 1`, then `√d·θ·dist` for L2 and `d·θ·dist` for L∞, where
///      `dist` is the distance of the point the last binary search started from.
///    - *Geometric step search:* from `ξ = ‖x_t − x‖ / √t` (`x` the input), halves `ξ` until
///      `clip(x_t + ξ·v)` is adversarial, where `v` is the estimate for L2 and its sign for L∞.
///      It gives up (and keeps `x_t`) once `ξ < θ·‖x_t − x‖`, below the binary search's
///      resolution.
///    - *Binary search to the boundary* between the input and the new point: along the segment
///      for L2, over the radius of an L∞ box around the input for L∞, until the interval is
///      narrower than `θ` (L2, a fraction of the segment) or `θ·min(dist, max − min)` (L∞, in
///      input units). θ is `γ·d^{−3/2}` for L2 and `γ·d^{−2}` for L∞, with `d` the number of
///      input values.
///
/// Each sample keeps the closest adversarial it has found. That is reported, with
/// `success = true`, only when it lies within ε (in `norm`); otherwise the sample keeps its
/// input and `success` is false, so every output stays inside the ε-ball and the bounds.
/// A sample the model already gets wrong (or already puts in the target class) is broken at
/// once. With ε = 0 nothing but the input fits the ball, and no search runs.
///
/// Every model row counts as one query of its sample, the clean prediction included, and no
/// sample goes over `max_queries`: a phase that runs out of budget stops early and keeps the
/// last confirmed adversarial. Queries are batched: all samples advance together, each
/// binary-search and step-search round is one call, and the gradient evaluations of all
/// samples share calls of up to 2²² input values.
///
/// `loss_trace` holds, after initialisation and after each iteration, the negated mean
/// distance of the closest adversarials found so far (over samples that have one; 0 when none
/// has), so it rises as the perturbations shrink.
///
/// # Why it matters
/// It needs nothing but the model's decisions, the least an API exposes, and so measures what
/// an attacker of a remote, label-only endpoint can do, and how many queries it takes. Unlike
/// score-based attacks it is not fooled by masked or flattened scores.
///
/// # Parameters
/// - `norm` (default [`Norm::L2`]): [`Norm::L2`] or [`Norm::Linf`], for the distances, the
///   random directions, the binary search and θ.
/// - `max_queries` (≥ 1, default 10 000): the query budget per sample, the clean prediction
///   included. With the defaults it, not `max_iterations`, usually ends the search, after some
///   25 iterations.
/// - `max_iterations` (≥ 1, default 50): gradient-estimate, step and binary-search rounds.
/// - `init_evaluations` (≥ 1, default 100): gradient evaluations at the first iteration;
///   iteration `t` uses `init_evaluations·√t`.
/// - `max_evaluations` (≥ `init_evaluations`, default 10 000): the cap on gradient
///   evaluations per iteration.
/// - `init_size` (≥ 1, default 100): random points tried to find a starting adversarial;
///   a sample where none is adversarial is not broken.
/// - `gamma` (> 0, default 1): scales the binary-search threshold θ (and so δ).
/// - ε, the dial: the radius, in `norm`, within which a found adversarial counts.
///
/// # Example
/// ```
/// use stressor_attack::{Attack, Goal, HopSkipJump};
/// use stressor_core::{Batch, Bounds, Seed};
/// use stressor_test_support::LinearModel;
/// // Class 1 when the four inputs sum to more than 2; the input is 0.2 short, so the smallest
/// // L2 perturbation that flips it is 0.2 / ‖(1, 1, 1, 1)‖₂ = 0.1.
/// let model = LinearModel::binary(vec![1.0; 4], -2.0, Bounds::UNIT);
/// let inputs = Batch::new(vec![0.45; 4], vec![1, 4]).unwrap();
/// let attack = HopSkipJump { max_queries: 1000, ..HopSkipJump::default() };
/// let run = |epsilon| attack.run(&model, &inputs, &[0], &Goal::Untargeted, epsilon, Seed::new(1), &mut |_, _| {});
/// let outcome = run(0.12).unwrap();
/// assert_eq!(outcome.success, vec![true]);
/// assert!(outcome.queries[0] <= 1000);
/// // Below the smallest perturbation nothing can succeed, and the input comes back.
/// let outcome = run(0.09).unwrap();
/// assert_eq!(outcome.success, vec![false]);
/// assert_eq!(outcome.adversarial, inputs);
/// ```
///
/// # References
/// - Chen, Jordan, Wainwright, *HopSkipJumpAttack: A Query-Efficient Decision-Based Attack*,
///   IEEE S&P 2020 (arXiv:1904.02144).
/// - The parameters follow the authors' reference implementation, the Adversarial Robustness
///   Toolbox (`max_iter`, `max_eval`, `init_eval`, `init_size`) and Foolbox (`gamma`); only the
///   geometric step-size search is implemented.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HopSkipJump {
    /// The norm of the perturbation.
    pub norm: Norm,
    /// The query budget per sample.
    pub max_queries: u64,
    /// The most iterations per sample.
    pub max_iterations: u32,
    /// Gradient evaluations at the first iteration.
    pub init_evaluations: u32,
    /// The cap on gradient evaluations per iteration.
    pub max_evaluations: u32,
    /// Random points tried for a starting adversarial.
    pub init_size: u32,
    /// The scale of the binary-search threshold θ.
    pub gamma: f32,
}

impl Default for HopSkipJump {
    fn default() -> Self {
        HopSkipJump {
            norm: Norm::L2,
            max_queries: 10_000,
            max_iterations: 50,
            init_evaluations: 100,
            max_evaluations: 10_000,
            init_size: 100,
            gamma: 1.0,
        }
    }
}

/// A point the model has classified as adversarial, with its class and distance to the input.
#[derive(Debug, Clone)]
struct Found {
    point: Vec<f32>,
    prediction: u32,
    distance: f64,
}

/// One attacked sample.
struct Track {
    /// The sample's index in the batch.
    index: usize,
    rng: Rng,
    /// Queries spent, the clean prediction included.
    queries: u64,
    /// The boundary point the next iteration starts from.
    current: Option<Found>,
    /// The closest adversarial so far.
    best: Option<Found>,
    /// The distance of the point the last binary search started from; δ scales with it.
    reach: f64,
}

/// The set of points a binary search moves along, parametrised by `α`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Segment {
    /// `(1 − α)·x0 + α·far`, with `α` in `[0, 1]`.
    Blend,
    /// `far` clipped into the L∞ box of radius `α` around `x0`, with `α` in `[0, ‖far − x0‖∞]`.
    Box,
}

/// One sample's binary search between its input (not adversarial) and `far` (adversarial).
struct Bisection {
    track: usize,
    far: Found,
    /// The adversarial end of the interval.
    near: Found,
    low: f64,
    high: f64,
    threshold: f64,
}

/// One sample's geometric step-size search.
struct Stepping {
    track: usize,
    update: Vec<f32>,
    /// The step length ξ to try next.
    size: f64,
    /// Below this length a step cannot beat the binary search's resolution.
    floor: f64,
}

/// What one iteration's gradient evaluations add up to for one sample.
struct Tally {
    /// `Σ φ_b·u_b`.
    weighted: Vec<f64>,
    /// `Σ u_b`.
    directions: Vec<f64>,
    /// `Σ φ_b`.
    sum_decisions: i64,
    count: i64,
}

/// Gradient evaluations built but not yet queried.
struct Pending {
    rows: Vec<f32>,
    /// The direction of each row, after clipping, divided by δ.
    directions: Vec<f64>,
    /// The position in `active` of each row's track.
    slots: Vec<usize>,
}

/// One run over the samples not broken at the start, all advancing together.
struct Search<'a> {
    attack: &'a HopSkipJump,
    model: &'a dyn Model,
    inputs: &'a Batch,
    objective: &'a Objective,
    bounds: Bounds,
    /// The binary search threshold θ.
    theta: f64,
    tracks: Vec<Track>,
}

impl HopSkipJump {
    fn check(&self) -> Result<(), AttackError> {
        let name = self.name();
        let at_least_one = |parameter, value: u64| {
            if value == 0 {
                Err(invalid_parameter(name, parameter, "must be at least 1".into()))
            } else {
                Ok(())
            }
        };
        at_least_one("max_queries", self.max_queries)?;
        at_least_one("max_iterations", u64::from(self.max_iterations))?;
        at_least_one("init_evaluations", u64::from(self.init_evaluations))?;
        at_least_one("init_size", u64::from(self.init_size))?;
        if self.max_evaluations < self.init_evaluations {
            return Err(invalid_parameter(
                name,
                "max_evaluations",
                format!(
                    "must be at least `init_evaluations` ({}), got {}",
                    self.init_evaluations, self.max_evaluations
                ),
            ));
        }
        if !(self.gamma.is_finite() && self.gamma > 0.0) {
            return Err(invalid_parameter(
                name,
                "gamma",
                format!("must be finite and above 0, got {}", self.gamma),
            ));
        }
        Ok(())
    }

    /// The paper's binary search threshold for `d` input values.
    fn theta(&self, d: usize) -> f64 {
        let d = d as f64;
        let gamma = f64::from(self.gamma);
        match self.norm {
            Norm::L2 => gamma / (d * d.sqrt()),
            Norm::Linf => gamma / (d * d),
        }
    }

    /// The gradient evaluations of iteration `iteration` (from 1).
    fn evaluations(&self, iteration: u32) -> u64 {
        let scaled = f64::from(self.init_evaluations) * f64::from(iteration).sqrt();
        (scaled as u64).min(u64::from(self.max_evaluations))
    }
}

impl Attack for HopSkipJump {
    fn name(&self) -> &str {
        "hopskipjump"
    }

    fn run(
        &self,
        model: &dyn Model,
        inputs: &Batch,
        labels: &[u32],
        goal: &Goal,
        epsilon: f32,
        seed: Seed,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<AttackOutcome, AttackError> {
        check_run(self.name(), model, inputs, labels, goal, epsilon)?;
        // With ε = 0 only the input itself fits in the ball: no search runs.
        let search = if epsilon == 0.0 { Phase::CleanOnly } else { Phase::Search };
        let found = self.minimum_norm(model, inputs, labels, goal, seed, search, progress)?;
        found.at(epsilon)
    }
}

/// What one HopSkipJump search found for each sample, whatever the ε: the closest adversarial
/// (its distance in the attack's norm) and the queries spent. The search never looks at ε, so
/// a sweep over ε searches once and reads every ε from it ([`MinimumNorm::at`]); each ε then
/// reports the same queries, spent once for the whole sweep.
#[derive(Debug, Clone)]
pub struct MinimumNorm {
    inputs: Batch,
    clean_success: Vec<bool>,
    clean_predictions: Vec<u32>,
    found: Vec<Option<Found>>,
    queries: Vec<u64>,
    loss_trace: Vec<f64>,
    searched: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    CleanOnly,
    Search,
}

impl MinimumNorm {
    /// The outcome at radius `epsilon`: a sample succeeds when the model already fails it or
    /// the closest adversarial found lies within `epsilon`; otherwise it keeps its input. At
    /// ε = 0 nothing needs searching, and each sample counts one query (its clean prediction).
    ///
    /// # Errors
    /// [`AttackError::InvalidParameter`] for a negative or non-finite `epsilon`.
    pub fn at(&self, epsilon: f32) -> Result<AttackOutcome, AttackError> {
        if !(epsilon.is_finite() && epsilon >= 0.0) {
            return Err(invalid_parameter(
                "hopskipjump",
                "epsilon",
                format!("must be finite and ≥ 0, got {epsilon}"),
            ));
        }
        let mut adversarial = self.inputs.clone();
        let mut success = self.clean_success.clone();
        let mut predictions = self.clean_predictions.clone();
        if epsilon == 0.0 || !self.searched {
            return Ok(AttackOutcome {
                adversarial,
                success,
                predictions,
                queries: vec![1; self.inputs.len()],
                // As a run at ε = 0: no track, so a mean distance of 0.
                loss_trace: if self.searched { vec![0.0] } else { self.loss_trace.clone() },
            });
        }
        for (index, found) in self.found.iter().enumerate() {
            if let Some(best) = found
                && best.distance <= f64::from(epsilon)
            {
                adversarial.sample_mut(index).copy_from_slice(&best.point);
                predictions[index] = best.prediction;
                success[index] = true;
            }
        }
        Ok(AttackOutcome {
            adversarial,
            success,
            predictions,
            queries: self.queries.clone(),
            loss_trace: self.loss_trace.clone(),
        })
    }

    /// The distance of the closest adversarial found for each sample (`None` where none was,
    /// and for samples the model already fails).
    pub fn distances(&self) -> Vec<Option<f64>> {
        self.found.iter().map(|f| f.as_ref().map(|f| f.distance)).collect()
    }
}

impl HopSkipJump {
    /// Searches every sample's smallest adversarial perturbation once, for reading any number
    /// of radii from ([`MinimumNorm::at`]); `run` at ε is `search` then `at(ε)`.
    ///
    /// # Errors
    /// As [`Attack::run`]'s, but for ε.
    pub fn search(
        &self,
        model: &dyn Model,
        inputs: &Batch,
        labels: &[u32],
        goal: &Goal,
        seed: Seed,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<MinimumNorm, AttackError> {
        check_run(self.name(), model, inputs, labels, goal, 1.0)?;
        self.minimum_norm(model, inputs, labels, goal, seed, Phase::Search, progress)
    }

    #[expect(clippy::too_many_arguments, reason = "one search's inputs")]
    fn minimum_norm(
        &self,
        model: &dyn Model,
        inputs: &Batch,
        labels: &[u32],
        goal: &Goal,
        seed: Seed,
        phase: Phase,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<MinimumNorm, AttackError> {
        self.check()?;
        let info = model.info();
        let bounds = info.bounds;
        if !(bounds.min.is_finite() && bounds.max.is_finite()) {
            return Err(AttackError::Unsupported {
                attack: self.name().into(),
                what: format!(
                    "unbounded inputs (bounds [{}, {}]): random starting points need finite bounds",
                    bounds.min, bounds.max
                ),
            });
        }
        let n = inputs.len();
        let mut out = MinimumNorm {
            inputs: inputs.clone(),
            clean_success: Vec::new(),
            clean_predictions: Vec::new(),
            found: vec![None; n],
            queries: vec![1u64; n],
            loss_trace: Vec::new(),
            searched: phase == Phase::Search,
        };
        if inputs.is_empty() {
            let empty = empty_outcome(inputs);
            out.clean_success = empty.success;
            out.clean_predictions = empty.predictions;
            out.searched = false;
            return Ok(out);
        }
        let sample_len = inputs.sample_len();
        let objective = Objective::new(labels, goal, info.n_classes);
        out.clean_predictions = model.predict(inputs)?.predictions();
        out.clean_success =
            (0..n).map(|i| objective.is_success(i, out.clean_predictions[i])).collect();
        let attacked: Vec<usize> = if phase == Phase::CleanOnly || sample_len == 0 {
            Vec::new()
        } else {
            (0..n).filter(|&i| !out.clean_success[i]).collect()
        };
        let root = seed.derive("hopskipjump");
        let tracks = attacked
            .iter()
            .map(|&index| Track {
                index,
                rng: root.derive_index(index as u64).rng(),
                queries: 1,
                current: None,
                best: None,
                reach: 0.0,
            })
            .collect();
        let mut search = Search {
            attack: self,
            model,
            inputs,
            objective: &objective,
            bounds,
            theta: self.theta(sample_len),
            tracks,
        };
        let total = u64::from(self.max_iterations);
        let mut loss_trace = Vec::with_capacity(self.max_iterations as usize + 1);
        search.initialise()?;
        loss_trace.push(search.negated_mean_distance());
        for iteration in 1..=self.max_iterations {
            let active: Vec<usize> = (0..search.tracks.len())
                .filter(|&t| search.tracks[t].current.is_some() && search.budget_left(t) > 0)
                .collect();
            if active.is_empty() {
                break;
            }
            search.iterate(&active, iteration)?;
            loss_trace.push(search.negated_mean_distance());
            progress(u64::from(iteration), total);
        }
        progress(total, total);
        for track in search.tracks {
            out.queries[track.index] = track.queries;
            out.found[track.index] = track.best;
        }
        out.loss_trace = loss_trace;
        Ok(out)
    }
}

impl Search<'_> {
    /// Queries left to track `t`.
    fn budget_left(&self, t: usize) -> u64 {
        self.attack.max_queries.saturating_sub(self.tracks[t].queries)
    }

    /// The input of track `t`.
    fn origin(&self, t: usize) -> &[f32] {
        self.inputs.sample(self.tracks[t].index)
    }

    fn is_adversarial(&self, t: usize, prediction: u32) -> bool {
        self.objective.is_success(self.tracks[t].index, prediction)
    }

    /// A confirmed adversarial `point` of track `t`.
    fn found(&self, t: usize, point: &[f32], prediction: u32) -> Found {
        let distance = distance(self.attack.norm, point, self.origin(t));
        Found { point: point.to_vec(), prediction, distance }
    }

    /// Predicts `rows`, one row for each entry of `owners` (track positions), and counts one
    /// query for its owner per row.
    fn ask(&mut self, owners: &[usize], rows: &[f32]) -> Result<Vec<u32>, AttackError> {
        for &t in owners {
            self.tracks[t].queries += 1;
        }
        let sample_shape = self.inputs.sample_shape();
        let sample_len = self.inputs.sample_len();
        let rows_per_call = (MAX_VALUES_PER_CALL / sample_len.max(1)).max(1);
        let mut predictions = Vec::with_capacity(owners.len());
        for chunk in rows.chunks(rows_per_call * sample_len) {
            let mut batch = Batch::zeros(chunk.len() / sample_len, sample_shape);
            batch.as_mut_slice().copy_from_slice(chunk);
            predictions.extend(self.model.predict(&batch)?.predictions());
        }
        Ok(predictions)
    }

    /// Sets the boundary point of track `t`, keeping the closest one as its best.
    fn record(&mut self, t: usize, found: Found) {
        let track = &mut self.tracks[t];
        if track.best.as_ref().is_none_or(|best| found.distance < best.distance) {
            track.best = Some(found.clone());
        }
        track.current = Some(found);
    }

    /// The negated mean distance of the best adversarials found so far; 0 when none.
    fn negated_mean_distance(&self) -> f64 {
        let distances: Vec<f64> =
            self.tracks.iter().filter_map(|t| t.best.as_ref().map(|b| b.distance)).collect();
        if distances.is_empty() {
            return 0.0;
        }
        -distances.iter().sum::<f64>() / distances.len() as f64
    }

    /// Finds a starting adversarial for every track by random search, blends it towards the
    /// input and binary-searches it to the boundary.
    fn initialise(&mut self) -> Result<(), AttackError> {
        let sample_len = self.inputs.sample_len();
        let bounds = self.bounds;
        let mut starts: Vec<Option<Found>> = vec![None; self.tracks.len()];
        for _ in 0..self.attack.init_size {
            let waiting: Vec<usize> = (0..self.tracks.len())
                .filter(|&t| starts[t].is_none() && self.budget_left(t) > 0)
                .collect();
            if waiting.is_empty() {
                break;
            }
            let mut rows = Vec::with_capacity(waiting.len() * sample_len);
            for &t in &waiting {
                let rng = &mut self.tracks[t].rng;
                rows.extend(
                    (0..sample_len)
                        .map(|_| bounds.clip(bounds.min + bounds.width() * rng.random::<f32>())),
                );
            }
            let predictions = self.ask(&waiting, &rows)?;
            for (k, &t) in waiting.iter().enumerate() {
                if self.is_adversarial(t, predictions[k]) {
                    let row = &rows[k * sample_len..(k + 1) * sample_len];
                    starts[t] = Some(self.found(t, row, predictions[k]));
                }
            }
        }
        let starts: Vec<(usize, Found)> =
            starts.into_iter().enumerate().filter_map(|(t, s)| s.map(|s| (t, s))).collect();
        let blended = self.bisect(starts, Segment::Blend, |_| BLEND_TOLERANCE)?;
        self.descend(blended)
    }

    /// One iteration for the tracks at `active`: gradient estimate, step, binary search.
    fn iterate(&mut self, active: &[usize], iteration: u32) -> Result<(), AttackError> {
        let d = self.inputs.sample_len() as f64;
        let deltas: Vec<f64> = active
            .iter()
            .map(|&t| {
                let reach = self.tracks[t].reach;
                match (iteration, self.attack.norm) {
                    (1, _) => 0.1 * f64::from(self.bounds.width()),
                    (_, Norm::L2) => d.sqrt() * self.theta * reach,
                    (_, Norm::Linf) => d * self.theta * reach,
                }
            })
            .collect();
        let gradients =
            self.estimate_gradients(active, &deltas, self.attack.evaluations(iteration))?;
        let updates: Vec<Option<Vec<f32>>> = gradients
            .into_iter()
            .map(|gradient| {
                gradient.map(|g| match self.attack.norm {
                    Norm::L2 => g.iter().map(|v| *v as f32).collect(),
                    // The sign, with 0 for 0 (`f64::signum` would give 1).
                    Norm::Linf => g
                        .iter()
                        .map(|v| f32::from(i8::from(*v > 0.0) - i8::from(*v < 0.0)))
                        .collect(),
                })
            })
            .collect();
        let stepped = self.step(active, updates, iteration)?;
        self.descend(stepped)
    }

    /// The unit gradient-direction estimate at each active track's boundary point, from
    /// `n_evaluations` decisions each (fewer when the budget runs out); `None` when the
    /// estimate vanishes.
    fn estimate_gradients(
        &mut self,
        active: &[usize],
        deltas: &[f64],
        n_evaluations: u64,
    ) -> Result<Vec<Option<Vec<f64>>>, AttackError> {
        let sample_len = self.inputs.sample_len();
        let bounds = self.bounds;
        let norm = self.attack.norm;
        let rows_per_call = (MAX_VALUES_PER_CALL / sample_len.max(1)).max(1);
        let mut tallies: Vec<Tally> = active
            .iter()
            .map(|_| Tally {
                weighted: vec![0.0; sample_len],
                directions: vec![0.0; sample_len],
                sum_decisions: 0,
                count: 0,
            })
            .collect();
        let total_rows: u64 = active.iter().map(|&t| n_evaluations.min(self.budget_left(t))).sum();
        let capacity = rows_per_call.min(usize::try_from(total_rows).unwrap_or(usize::MAX));
        let mut pending = Pending {
            rows: Vec::with_capacity(capacity * sample_len),
            directions: Vec::with_capacity(capacity * sample_len),
            slots: Vec::with_capacity(capacity),
        };
        let mut direction = vec![0.0f64; sample_len];
        for (slot, &t) in active.iter().enumerate() {
            let n_rows = n_evaluations.min(self.budget_left(t));
            let delta = deltas[slot];
            let Some(current) = self.tracks[t].current.as_ref().map(|c| c.point.clone()) else {
                continue;
            };
            for _ in 0..n_rows {
                let rng = &mut self.tracks[t].rng;
                for v in direction.iter_mut() {
                    *v = match norm {
                        Norm::L2 => standard_normal(rng),
                        Norm::Linf => 2.0 * rng.random::<f64>() - 1.0,
                    };
                }
                let length = direction.iter().map(|v| v * v).sum::<f64>().sqrt();
                let scale = if length > 0.0 { 1.0 / length } else { 0.0 };
                for (x, u) in current.iter().zip(&direction) {
                    let perturbed = bounds.clip((f64::from(*x) + delta * u * scale) as f32);
                    pending.rows.push(perturbed);
                    // The direction actually taken, after clipping.
                    pending.directions.push((f64::from(perturbed) - f64::from(*x)) / delta);
                }
                pending.slots.push(slot);
                if pending.slots.len() == rows_per_call {
                    self.tally(active, &mut pending, &mut tallies)?;
                }
            }
        }
        if !pending.slots.is_empty() {
            self.tally(active, &mut pending, &mut tallies)?;
        }
        Ok(tallies.into_iter().map(gradient_direction).collect())
    }

    /// Queries the pending gradient evaluations and adds them to their tallies.
    fn tally(
        &mut self,
        active: &[usize],
        pending: &mut Pending,
        tallies: &mut [Tally],
    ) -> Result<(), AttackError> {
        let sample_len = self.inputs.sample_len();
        let owners: Vec<usize> = pending.slots.iter().map(|&slot| active[slot]).collect();
        let predictions = self.ask(&owners, &pending.rows)?;
        for (k, &slot) in pending.slots.iter().enumerate() {
            let decision: i64 =
                if self.is_adversarial(active[slot], predictions[k]) { 1 } else { -1 };
            let tally = &mut tallies[slot];
            tally.sum_decisions += decision;
            tally.count += 1;
            let u = &pending.directions[k * sample_len..(k + 1) * sample_len];
            for ((w, s), v) in tally.weighted.iter_mut().zip(&mut tally.directions).zip(u) {
                *w += decision as f64 * v;
                *s += v;
            }
        }
        pending.rows.clear();
        pending.directions.clear();
        pending.slots.clear();
        Ok(())
    }

    /// The geometric step-size search: for each active track with an update direction, the
    /// first adversarial `clip(x_t + ξ·update)` with `ξ` halving from `dist / √t`.
    fn step(
        &mut self,
        active: &[usize],
        updates: Vec<Option<Vec<f32>>>,
        iteration: u32,
    ) -> Result<Vec<(usize, Found)>, AttackError> {
        let sample_len = self.inputs.sample_len();
        let bounds = self.bounds;
        let mut searching: Vec<Stepping> = Vec::with_capacity(active.len());
        for (&t, update) in active.iter().zip(updates) {
            let (Some(update), Some(current)) = (update, self.tracks[t].current.as_ref()) else {
                continue;
            };
            searching.push(Stepping {
                track: t,
                update,
                size: current.distance / f64::from(iteration).sqrt(),
                floor: self.theta * current.distance,
            });
        }
        let mut accepted = Vec::with_capacity(searching.len());
        loop {
            let mut rows = Vec::with_capacity(searching.len() * sample_len);
            let mut queried = Vec::with_capacity(searching.len());
            for stepping in searching.drain(..) {
                let t = stepping.track;
                if stepping.size < stepping.floor || self.budget_left(t) == 0 {
                    continue;
                }
                let Some(current) = self.tracks[t].current.as_ref() else { continue };
                let start = rows.len();
                rows.extend(current.point.iter().zip(&stepping.update).map(|(x, u)| {
                    bounds.clip((f64::from(*x) + stepping.size * f64::from(*u)) as f32)
                }));
                // A step too small to change anything cannot find more than `x_t` itself.
                if rows[start..] == current.point[..] {
                    rows.truncate(start);
                    continue;
                }
                queried.push(stepping);
            }
            if queried.is_empty() {
                break;
            }
            let owners: Vec<usize> = queried.iter().map(|stepping| stepping.track).collect();
            let predictions = self.ask(&owners, &rows)?;
            for (k, mut stepping) in queried.into_iter().enumerate() {
                let t = stepping.track;
                if self.is_adversarial(t, predictions[k]) {
                    let row = &rows[k * sample_len..(k + 1) * sample_len];
                    accepted.push((t, self.found(t, row, predictions[k])));
                } else {
                    stepping.size /= 2.0;
                    searching.push(stepping);
                }
            }
        }
        Ok(accepted)
    }

    /// Binary-searches each start to the boundary with the paper's threshold and makes the
    /// result the track's boundary point.
    fn descend(&mut self, starts: Vec<(usize, Found)>) -> Result<(), AttackError> {
        let reaches: Vec<f64> = starts.iter().map(|(_, far)| far.distance).collect();
        let theta = self.theta;
        let width = f64::from(self.bounds.width());
        let ends = match self.attack.norm {
            Norm::L2 => self.bisect(starts, Segment::Blend, |_| theta)?,
            Norm::Linf => {
                self.bisect(starts, Segment::Box, |far| theta * far.distance.min(width))?
            }
        };
        for ((t, near), reach) in ends.into_iter().zip(reaches) {
            self.tracks[t].reach = reach;
            self.record(t, near);
        }
        Ok(())
    }

    /// Binary-searches `segment` between each track's input and its adversarial `far` point
    /// until the interval is narrower than `threshold(far)` or the budget runs out; returns
    /// the adversarial end for each, in order.
    fn bisect(
        &mut self,
        starts: Vec<(usize, Found)>,
        segment: Segment,
        threshold: impl Fn(&Found) -> f64,
    ) -> Result<Vec<(usize, Found)>, AttackError> {
        let sample_len = self.inputs.sample_len();
        let bounds = self.bounds;
        let mut searches: Vec<Bisection> = starts
            .into_iter()
            .map(|(track, far)| Bisection {
                track,
                high: match segment {
                    Segment::Blend => 1.0,
                    Segment::Box => far.distance,
                },
                low: 0.0,
                threshold: threshold(&far),
                near: far.clone(),
                far,
            })
            .collect();
        loop {
            let mut open = Vec::with_capacity(searches.len());
            let mut rows = Vec::with_capacity(searches.len() * sample_len);
            for (s, search) in searches.iter().enumerate() {
                let mid = (search.low + search.high) / 2.0;
                // The last condition stops a search that floating point cannot refine.
                if search.high - search.low <= search.threshold
                    || self.budget_left(search.track) == 0
                    || !(search.low < mid && mid < search.high)
                {
                    continue;
                }
                let origin = self.origin(search.track);
                let far = &search.far.point;
                match segment {
                    Segment::Blend => rows.extend(origin.iter().zip(far).map(|(o, f)| {
                        let (o, f) = (f64::from(*o), f64::from(*f));
                        bounds.clip((o + mid * (f - o)) as f32)
                    })),
                    Segment::Box => {
                        let radius = mid as f32;
                        rows.extend(
                            origin.iter().zip(far).map(|(o, f)| f.max(o - radius).min(o + radius)),
                        );
                    }
                }
                open.push((s, mid));
            }
            if open.is_empty() {
                break;
            }
            let owners: Vec<usize> = open.iter().map(|&(s, _)| searches[s].track).collect();
            let predictions = self.ask(&owners, &rows)?;
            for (k, &(s, mid)) in open.iter().enumerate() {
                let t = searches[s].track;
                if self.is_adversarial(t, predictions[k]) {
                    let row = &rows[k * sample_len..(k + 1) * sample_len];
                    let near = self.found(t, row, predictions[k]);
                    let search = &mut searches[s];
                    search.high = mid;
                    search.near = near;
                } else {
                    searches[s].low = mid;
                }
            }
        }
        Ok(searches.into_iter().map(|search| (search.track, search.near)).collect())
    }
}

/// The unit gradient direction from a tally, with the paper's baseline subtraction.
fn gradient_direction(tally: Tally) -> Option<Vec<f64>> {
    if tally.count == 0 {
        return None;
    }
    let count = tally.count as f64;
    let gradient: Vec<f64> = if tally.sum_decisions == tally.count {
        // Every direction is adversarial: move along their mean.
        tally.directions.iter().map(|s| s / count).collect()
    } else if tally.sum_decisions == -tally.count {
        tally.directions.iter().map(|s| -s / count).collect()
    } else {
        // mean((φ − φ̄)·u) = mean(φ·u) − φ̄·mean(u).
        let baseline = tally.sum_decisions as f64 / count;
        tally
            .weighted
            .iter()
            .zip(&tally.directions)
            .map(|(w, s)| (w - baseline * s) / count)
            .collect()
    };
    let length = gradient.iter().map(|g| g * g).sum::<f64>().sqrt();
    (length > 0.0 && length.is_finite()).then(|| gradient.iter().map(|g| g / length).collect())
}

/// The distance between two samples in `norm`, in `f64`.
fn distance(norm: Norm, a: &[f32], b: &[f32]) -> f64 {
    match norm {
        Norm::L2 => l2_distance(a, b),
        Norm::Linf => a.iter().zip(b).map(|(x, y)| f64::from((x - y).abs())).fold(0.0, f64::max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(evaluations: &[([f64; 2], i64)]) -> Tally {
        let mut tally =
            Tally { weighted: vec![0.0; 2], directions: vec![0.0; 2], sum_decisions: 0, count: 0 };
        for (u, decision) in evaluations {
            for ((w, s), v) in tally.weighted.iter_mut().zip(&mut tally.directions).zip(u) {
                *w += *decision as f64 * v;
                *s += v;
            }
            tally.sum_decisions += decision;
            tally.count += 1;
        }
        tally
    }

    fn assert_close(actual: Option<Vec<f64>>, expected: [f64; 2]) {
        let actual = actual.expect("a direction");
        assert!(
            actual.iter().zip(expected).all(|(a, e)| (a - e).abs() < 1e-12),
            "{actual:?} vs {expected:?}"
        );
    }

    #[test]
    fn the_gradient_estimate_subtracts_the_baseline() {
        // φ̄ = 1/3, so the weights are (2/3, 2/3, −4/3) and the sum is (4/3, −4/3). Without the
        // baseline it would be (2, −1).
        let estimate =
            gradient_direction(tally(&[([1.0, 0.0], 1), ([1.0, 0.0], 1), ([0.0, 1.0], -1)]));
        let half = std::f64::consts::FRAC_1_SQRT_2;
        assert_close(estimate, [half, -half]);
        // All adversarial: along the mean direction; none adversarial: against it.
        assert_close(gradient_direction(tally(&[([3.0, 0.0], 1), ([1.0, 0.0], 1)])), [1.0, 0.0]);
        assert_close(gradient_direction(tally(&[([0.0, 2.0], -1), ([0.0, 1.0], -1)])), [0.0, -1.0]);
        // Symmetric decisions cancel: there is no direction.
        assert!(gradient_direction(tally(&[([1.0, 0.0], 1), ([1.0, 0.0], -1)])).is_none());
        assert!(gradient_direction(tally(&[])).is_none());
    }

    #[test]
    fn theta_and_evaluations_follow_the_paper() {
        let l2 = HopSkipJump::default();
        assert_eq!(l2.theta(100), 1e-3);
        let linf = HopSkipJump { norm: Norm::Linf, gamma: 2.0, ..HopSkipJump::default() };
        assert_eq!(linf.theta(100), 2e-4);
        assert_eq!(l2.evaluations(1), 100);
        assert_eq!(l2.evaluations(4), 200);
        assert_eq!(l2.evaluations(2), 141);
        let capped = HopSkipJump { max_evaluations: 150, ..HopSkipJump::default() };
        assert_eq!(capped.evaluations(9), 150);
    }

    #[test]
    fn distances_are_measured_in_the_norm() {
        let (a, b) = ([0.0f32, 3.0, 0.5], [4.0f32, 0.0, 0.5]);
        assert_eq!(distance(Norm::L2, &a, &b), 5.0);
        assert_eq!(distance(Norm::Linf, &a, &b), 4.0);
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod sweep_tests {
    use stressor_core::{Batch, Bounds, Seed};
    use stressor_test_support::LinearModel;

    use crate::{Attack, Goal, HopSkipJump};

    #[test]
    fn one_search_gives_every_radius_what_a_run_at_it_gives() {
        // Class 1 when the inputs sum past 2: sample 0 is 0.2 short (smallest L2 flip 0.1),
        // sample 1 is 0.6 short (0.3), sample 2 already flipped.
        let model = LinearModel::binary(vec![1.0; 4], -2.0, Bounds::UNIT);
        let inputs =
            Batch::new([vec![0.45; 4], vec![0.35; 4], vec![0.6; 4]].concat(), vec![3, 4]).unwrap();
        let attack = HopSkipJump { max_queries: 800, ..HopSkipJump::default() };
        let seed = Seed::new(3);
        let labels = [0, 0, 0];
        let found = attack
            .search(&model, &inputs, &labels, &Goal::Untargeted, seed, &mut |_, _| {})
            .unwrap();
        let distances = found.distances();
        assert!(distances[0].unwrap() < 0.12 && distances[1].unwrap() < 0.33, "{distances:?}");
        assert_eq!(distances[2], None, "already misclassified: nothing to search");
        for epsilon in [0.0f32, 0.05, 0.11, 0.2, 0.35, 1.0] {
            let run = attack
                .run(&model, &inputs, &labels, &Goal::Untargeted, epsilon, seed, &mut |_, _| {})
                .unwrap();
            let read = found.at(epsilon).unwrap();
            assert_eq!(read.success, run.success, "ε = {epsilon}");
            assert_eq!(read.adversarial, run.adversarial, "ε = {epsilon}");
            assert_eq!(read.predictions, run.predictions, "ε = {epsilon}");
            assert_eq!(read.queries, run.queries, "ε = {epsilon}");
        }
        // Success only grows with the radius.
        let successes: Vec<usize> = [0.0f32, 0.05, 0.11, 0.35]
            .iter()
            .map(|&e| found.at(e).unwrap().success.iter().filter(|s| **s).count())
            .collect();
        assert_eq!(successes, [1, 1, 2, 3]);
        assert!(found.at(-1.0).is_err());
    }
}
