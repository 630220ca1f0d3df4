//! Gates on differences: `delta:<metric>.<step>[@<dial>] <op> <number>`.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::dial::parse_number;

/// A gate on the difference NEW − BASE of one metric of one step, at one dial value or at
/// every point of the step (then the worst difference is the one compared).
///
/// Written `delta:<metric>.<step>[@<dial>] <op> <number>`: the metric name has no dots, the step
/// id is everything after the first dot up to `@` (it may contain `-`, `_` and dots), the dial is
/// a number or a fraction (`8/255`), and `<op>` is one of `>`, `>=`, `<`, `<=`.
///
/// # Examples
///
/// ```
/// use stressor_compare::{DeltaGate, GateOp};
/// let gate: DeltaGate = "delta:robust_accuracy.pgd-linf@8/255 > -0.02".parse()?;
/// assert_eq!((gate.metric.as_str(), gate.step.as_str()), ("robust_accuracy", "pgd-linf"));
/// assert_eq!((gate.at, gate.op, gate.threshold), (Some(8.0 / 255.0), GateOp::Greater, -0.02));
/// let error = "delta:robust_accuracy.pgd >> 0".parse::<DeltaGate>().unwrap_err();
/// assert_eq!(error.column(), 28);
/// # Ok::<(), stressor_compare::GateSyntaxError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct DeltaGate {
    /// The gate as written.
    pub text: String,
    /// The metric's name.
    pub metric: String,
    /// The step's id.
    pub step: String,
    /// The dial value the gate applies to; absent means every point of the step.
    pub at: Option<f64>,
    /// The comparison.
    pub op: GateOp,
    /// The threshold the difference is compared with.
    pub threshold: f64,
}

/// How a difference is compared with a gate's threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum GateOp {
    /// `>`: the difference must be above the threshold.
    #[serde(rename = ">")]
    Greater,
    /// `>=`: the difference must be at least the threshold.
    #[serde(rename = ">=")]
    GreaterOrEqual,
    /// `<`: the difference must be below the threshold.
    #[serde(rename = "<")]
    Less,
    /// `<=`: the difference must be at most the threshold.
    #[serde(rename = "<=")]
    LessOrEqual,
}

/// A gate string that could not be parsed: the gate, the byte offset of the problem and what
/// is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("gate `{gate}`: {message} (at column {column})", column = self.column())]
#[non_exhaustive]
pub struct GateSyntaxError {
    /// The gate as written.
    pub gate: String,
    /// The byte offset in `gate` where the problem starts.
    pub position: usize,
    /// What is wrong.
    pub message: String,
}

/// What a gate found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct GateOutcome {
    /// The gate.
    pub gate: DeltaGate,
    /// Whether it held.
    pub passed: bool,
    /// The difference compared: the worst over the step's points when the gate has no dial;
    /// absent when the metric is missing.
    pub observed: Option<f64>,
    /// The dial value of the observed difference.
    pub observed_at: Option<f64>,
    /// The number of points the gate read.
    pub points: usize,
    /// A sentence for people: what was compared, or what is missing.
    pub message: String,
}

impl GateOp {
    /// The operator as written (`>=`).
    pub fn symbol(self) -> &'static str {
        match self {
            GateOp::Greater => ">",
            GateOp::GreaterOrEqual => ">=",
            GateOp::Less => "<",
            GateOp::LessOrEqual => "<=",
        }
    }

    /// Whether `observed` passes against `threshold`; NaN never does.
    pub fn holds(self, observed: f64, threshold: f64) -> bool {
        match self {
            GateOp::Greater => observed > threshold,
            GateOp::GreaterOrEqual => observed >= threshold,
            GateOp::Less => observed < threshold,
            GateOp::LessOrEqual => observed <= threshold,
        }
    }

    /// Whether `a` is worse than `b` for this comparison (lower for `>`/`>=`, higher for
    /// `<`/`<=`).
    pub(crate) fn is_worse(self, a: f64, b: f64) -> bool {
        match self {
            GateOp::Greater | GateOp::GreaterOrEqual => a < b,
            GateOp::Less | GateOp::LessOrEqual => a > b,
        }
    }
}

impl GateSyntaxError {
    /// The column of the problem, counted in characters from 1.
    pub fn column(&self) -> usize {
        self.gate.get(..self.position).map_or(self.position, |before| before.chars().count()) + 1
    }
}

impl FromStr for DeltaGate {
    type Err = GateSyntaxError;

    fn from_str(text: &str) -> Result<DeltaGate, GateSyntaxError> {
        parse(text)
    }
}

impl fmt::Display for DeltaGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text.trim())
    }
}

const PREFIX: &str = "delta:";

fn parse(text: &str) -> Result<DeltaGate, GateSyntaxError> {
    let error = |position: usize, message: String| GateSyntaxError {
        gate: text.to_owned(),
        position,
        message,
    };
    let start = text.len() - text.trim_start().len();
    if !text[start..].starts_with(PREFIX) {
        return Err(error(
            start,
            "expected `delta:` (a gate on the difference NEW − BASE, such as \
             `delta:robust_accuracy.pgd@8/255 > -0.02`)"
                .to_owned(),
        ));
    }
    let target_start = start + PREFIX.len();
    let Some(op_offset) = text[target_start..].find(['<', '>']) else {
        return Err(error(
            text.trim_end().len(),
            "expected a comparison: `>`, `>=`, `<` or `<=` and a number".to_owned(),
        ));
    };
    let op_start = target_start + op_offset;
    let after_op = &text[op_start..];
    let (op, op_len) = if after_op.starts_with(">=") {
        (GateOp::GreaterOrEqual, 2)
    } else if after_op.starts_with("<=") {
        (GateOp::LessOrEqual, 2)
    } else if after_op.starts_with('>') {
        (GateOp::Greater, 1)
    } else {
        (GateOp::Less, 1)
    };

    let raw_target = &text[target_start..op_start];
    let target_offset = target_start + (raw_target.len() - raw_target.trim_start().len());
    let target = raw_target.trim();
    if target.is_empty() {
        return Err(error(target_offset, "expected `<metric>.<step>` after `delta:`".to_owned()));
    }
    if let Some(space) = target.find(char::is_whitespace) {
        return Err(error(
            target_offset + space,
            "unexpected space in `<metric>.<step>[@<dial>]`".to_owned(),
        ));
    }
    let Some(dot) = target.find('.') else {
        return Err(error(
            target_offset + target.len(),
            format!("expected `.` and a step id after the metric `{target}`"),
        ));
    };
    let metric = &target[..dot];
    if metric.is_empty() {
        return Err(error(target_offset, "the metric name is empty".to_owned()));
    }
    let step_offset = target_offset + dot + 1;
    let (step, dial) = match target[dot + 1..].split_once('@') {
        Some((step, dial)) => (step, Some(dial)),
        None => (&target[dot + 1..], None),
    };
    if step.is_empty() {
        return Err(error(step_offset, "the step id is empty".to_owned()));
    }
    if let Some(bad) = step.find(['=', '<', '>']) {
        return Err(error(step_offset + bad, "unexpected character in the step id".to_owned()));
    }
    let at = match dial {
        Some(dial) => {
            let dial_offset = step_offset + step.len() + 1;
            if dial.is_empty() {
                return Err(error(
                    dial_offset,
                    "expected a dial value after `@` (a number or a fraction such as 8/255)"
                        .to_owned(),
                ));
            }
            let value = parse_number(dial)
                .map_err(|(offset, message)| error(dial_offset + offset, message))?;
            Some(value)
        }
        None => None,
    };

    let threshold_start = op_start + op_len;
    let raw_threshold = &text[threshold_start..];
    let threshold_offset =
        threshold_start + (raw_threshold.len() - raw_threshold.trim_start().len());
    let threshold_text = raw_threshold.trim();
    if threshold_text.is_empty() {
        return Err(error(threshold_offset, format!("expected a number after `{}`", op.symbol())));
    }
    let threshold = parse_number(threshold_text)
        .map_err(|(offset, message)| error(threshold_offset + offset, message))?;
    Ok(DeltaGate {
        text: text.trim().to_owned(),
        metric: metric.to_owned(),
        step: step.to_owned(),
        at,
        op,
        threshold,
    })
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]
mod tests {
    use super::*;

    /// Parses `gate` and checks the error's column and the start of its message.
    fn check_error(gate: &str, column: usize, message: &str) {
        let error = gate.parse::<DeltaGate>().unwrap_err();
        assert_eq!(error.column(), column, "{error}");
        assert!(error.message.starts_with(message), "{error}");
        assert!(error.to_string().contains(gate), "the error names the gate: {error}");
    }

    #[test]
    fn good_gates_parse() {
        let gate: DeltaGate = "  delta:robust_accuracy.pgd-linf_2@8/255 >= -0.02 ".parse().unwrap();
        assert_eq!(gate.metric, "robust_accuracy");
        assert_eq!(gate.step, "pgd-linf_2");
        assert!(crate::dial_matches(gate.at.unwrap(), 0.031_372_549));
        assert_eq!((gate.op, gate.threshold), (GateOp::GreaterOrEqual, -0.02));
        assert_eq!(gate.text, "delta:robust_accuracy.pgd-linf_2@8/255 >= -0.02");

        let gate: DeltaGate = "delta:p99_ms.surge<=5".parse().unwrap();
        assert_eq!((gate.metric.as_str(), gate.step.as_str()), ("p99_ms", "surge"));
        assert_eq!((gate.at, gate.op, gate.threshold), (None, GateOp::LessOrEqual, 5.0));
        let gate: DeltaGate = "delta:ece.noise.fog@0.5 < 0.01".parse().unwrap();
        assert_eq!((gate.step.as_str(), gate.at, gate.op), ("noise.fog", Some(0.5), GateOp::Less));
        let gate: DeltaGate = "delta:a.b@-2 > 1/100".parse().unwrap();
        assert_eq!((gate.at, gate.op, gate.threshold), (Some(-2.0), GateOp::Greater, 0.01));
    }

    #[test]
    fn each_mistake_names_its_column() {
        check_error("robust_accuracy.pgd > 0", 1, "expected `delta:`");
        check_error("delta:robust_accuracy.pgd", 26, "expected a comparison");
        check_error("delta:robust_accuracy.pgd 0.1", 30, "expected a comparison");
        check_error("delta: > 0", 8, "expected `<metric>.<step>`");
        check_error("delta:robust_accuracy > 0", 22, "expected `.` and a step id");
        check_error("delta:.pgd > 0", 7, "the metric name is empty");
        check_error("delta:robust_accuracy. > 0", 23, "the step id is empty");
        check_error("delta:robust accuracy.pgd > 0", 13, "unexpected space");
        check_error("delta:robust_accuracy.pgd@ > 0", 27, "expected a dial value");
        check_error("delta:robust_accuracy.pgd@8/0 > 0", 29, "the denominator");
        check_error("delta:robust_accuracy.pgd@eight > 0", 27, "expected a number, found `eight`");
        check_error("delta:robust_accuracy.pgd >", 28, "expected a number after `>`");
        check_error("delta:robust_accuracy.pgd > -0.02x", 29, "expected a number, found `-0.02x`");
        check_error("delta:robust_accuracy.pgd >> 0", 28, "expected a number, found `> 0`");
        check_error("delta:robust_accuracy.pgd=> 0", 26, "unexpected character");
        check_error("delta:robust_accuracy.pgd > nan", 29, "expected a number");
    }

    #[test]
    fn operators_compare_and_rank() {
        assert!(GateOp::Greater.holds(-0.01, -0.02) && !GateOp::Greater.holds(-0.02, -0.02));
        assert!(GateOp::GreaterOrEqual.holds(-0.02, -0.02));
        assert!(GateOp::Less.holds(0.0, 0.1) && !GateOp::LessOrEqual.holds(0.2, 0.1));
        assert!(!GateOp::Greater.holds(f64::NAN, -1.0) && !GateOp::Less.holds(f64::NAN, 1.0));
        assert!(GateOp::Greater.is_worse(-0.1, 0.0) && GateOp::Less.is_worse(0.1, 0.0));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 4096, ..Default::default() })]

        /// A gate comes from a user's CI file: any text, and any dial number, parses or fails
        /// with an error, never a panic.
        #[test]
        fn any_text_is_a_gate_or_an_error(
            text in "\\PC{0,40}",
            shaped in "(delta:)?[a-z_.@/0-9<>= -]{0,30}",
        ) {
            let _ = text.parse::<DeltaGate>();
            let _ = shaped.parse::<DeltaGate>();
            let _ = crate::dial::parse_number(&text);
        }
    }
}
