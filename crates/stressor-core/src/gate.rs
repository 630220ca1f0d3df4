//! Gates (thresholds on metrics) and verdicts.

use crate::Estimate;

/// How an observed value is compared with a gate's threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// The value must be at least the threshold.
    AtLeast,
    /// The value must be at most the threshold.
    AtMost,
}

/// Which part of an estimate a gate looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GateBound {
    /// The point estimate.
    #[default]
    Value,
    /// The lower end of the confidence interval (conservative for `AtLeast`).
    Lower,
    /// The upper end of the confidence interval (conservative for `AtMost`).
    Upper,
}

/// A threshold on a metric that must hold for the run to pass.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    /// A stable identifier, used as the JUnit test case name (`pgd-linf/robust_accuracy@0.031`).
    pub id: String,
    /// The id of the step whose results the gate reads.
    pub step_id: String,
    /// The metric name, e.g. `robust_accuracy`.
    pub metric: String,
    /// The dial value the gate applies to; `None` means every point of the step must hold.
    pub at: Option<f64>,
    /// The comparison.
    pub comparison: Comparison,
    /// The threshold.
    pub threshold: f64,
    /// Which part of the estimate is compared.
    pub bound: GateBound,
}

impl Gate {
    /// Whether `observed` holds the gate. A NaN value or a missing interval bound fails.
    pub fn holds(&self, observed: &Estimate) -> bool {
        let value = match self.bound {
            GateBound::Value => Some(observed.value),
            GateBound::Lower => observed.ci.map(|ci| ci.lower),
            GateBound::Upper => observed.ci.map(|ci| ci.upper),
        };
        match (value, self.comparison) {
            (Some(v), Comparison::AtLeast) => v >= self.threshold,
            (Some(v), Comparison::AtMost) => v <= self.threshold,
            (None, _) => false,
        }
    }
}

/// The outcome of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every gate held.
    Pass,
    /// At least one gate failed.
    Fail,
}

impl Verdict {
    /// `Pass` when every gate outcome passed.
    pub fn from_outcomes<I: IntoIterator<Item = bool>>(outcomes: I) -> Verdict {
        if outcomes.into_iter().all(|passed| passed) { Verdict::Pass } else { Verdict::Fail }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(comparison: Comparison, bound: GateBound) -> Gate {
        Gate {
            id: "g".into(),
            step_id: "s".into(),
            metric: "m".into(),
            at: None,
            comparison,
            threshold: 0.5,
            bound,
        }
    }

    #[test]
    fn gates_compare_the_chosen_bound() {
        let estimate = Estimate::proportion(55, 100);
        assert!(gate(Comparison::AtLeast, GateBound::Value).holds(&estimate));
        assert!(!gate(Comparison::AtLeast, GateBound::Lower).holds(&estimate));
        assert!(!gate(Comparison::AtMost, GateBound::Value).holds(&estimate));
        assert!(!gate(Comparison::AtLeast, GateBound::Value).holds(&Estimate::proportion(0, 0)));
    }

    #[test]
    fn verdict_fails_on_any_failure() {
        assert_eq!(Verdict::from_outcomes([true, true]), Verdict::Pass);
        assert_eq!(Verdict::from_outcomes([true, false]), Verdict::Fail);
        assert_eq!(Verdict::from_outcomes([]), Verdict::Pass);
    }
}
