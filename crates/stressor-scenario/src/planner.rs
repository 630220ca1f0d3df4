//! The planner every family plans with: a scenario file's text and path, the problems found
//! so far (each with file, line, column and key), and the checks families share — gates,
//! sweeps (dials), counts and paths relative to the file.

use std::ops::Range;
use std::path::{Path, PathBuf};

use stressor_core::{Comparison, Gate, GateBound};
use toml::Spanned;

use crate::error::{Problem, ScenarioError, line_column};
use crate::options::{DialValue, GateOptions};

/// Collects the problems of one scenario file while its parts are planned.
///
/// Families plan with it through their own wrapper (a `Deref` to this type), so every problem
/// is located and reported the same way.
#[derive(Debug)]
pub struct Planner<'a> {
    text: &'a str,
    path: &'a Path,
    problems: Vec<Problem>,
}

impl<'a> Planner<'a> {
    /// A planner for `text`, read from `path`.
    pub fn new(text: &'a str, path: &'a Path) -> Planner<'a> {
        Planner { text, path, problems: Vec::new() }
    }

    /// The scenario file.
    pub fn path(&self) -> &'a Path {
        self.path
    }

    /// The scenario's text.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// How many problems have been found so far.
    pub fn n_problems(&self) -> usize {
        self.problems.len()
    }

    /// Records a problem at byte `span` of the file, under the dotted `key`.
    pub fn problem(
        &mut self,
        span: Range<usize>,
        key: &str,
        message: String,
        hint: Option<String>,
    ) {
        let (line, column) = line_column(self.text, span.start);
        self.problems.push(Problem {
            path: self.path.to_path_buf(),
            line,
            column,
            key: key.to_string(),
            message,
            hint,
        });
    }

    /// For a family that brings its own model and data: records a problem at `[target]` or
    /// `[data]` when the file has them, saying `what` the family brings (`"a war game brings
    /// its own fleet and data"`) and `hint`.
    pub fn refuse_subject(
        &mut self,
        document: &crate::Document<'_>,
        subject: Option<&crate::SubjectPlan>,
        what: &str,
        hint: &str,
    ) {
        if subject.is_none() {
            return;
        }
        let span = document
            .keys()
            .into_iter()
            .find(|(key, _)| key == "target" || key == "data")
            .map_or(0..0, |(_, span)| span);
        self.problem(
            span,
            "target",
            format!("{what}; `[target]` and `[data]` belong to model scenarios"),
            Some(hint.to_string()),
        );
    }

    /// A duration written like `"2s"`, `"500ms"`, `"5m"` or `"1h"` under `key`; `default` when
    /// absent, `None` after reporting a problem.
    pub fn duration(
        &mut self,
        value: Option<&Spanned<String>>,
        key: &str,
        default: std::time::Duration,
    ) -> Option<std::time::Duration> {
        match value {
            None => Some(default),
            Some(text) => match stressor_core::parse_duration(text.get_ref()) {
                Ok(duration) => Some(duration),
                Err(message) => {
                    self.problem(
                        text.span(),
                        key,
                        message,
                        Some("durations look like \"2s\", \"500ms\", \"5m\" or \"1h\"".into()),
                    );
                    None
                }
            },
        }
    }

    /// `file` relative to the scenario file's folder (absolute paths are kept).
    pub fn relative(&self, file: &str) -> PathBuf {
        let file = Path::new(file);
        if file.is_absolute() {
            return file.to_path_buf();
        }
        self.path.parent().map_or_else(|| file.to_path_buf(), |dir| dir.join(file))
    }

    /// `Ok` when no problem was found, else every problem, in the order found.
    ///
    /// # Errors
    /// [`ScenarioError::Invalid`] listing the problems.
    pub fn finish(self) -> Result<(), ScenarioError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ScenarioError::Invalid { path: self.path.to_path_buf(), problems: self.problems })
        }
    }

    /// A count of at least 1 (`default` when absent), or `None` after reporting the problem.
    pub fn positive(
        &mut self,
        value: Option<&Spanned<u64>>,
        key: &str,
        default: usize,
    ) -> Option<usize> {
        match value {
            None => Some(default),
            Some(v) if *v.get_ref() > 0 => Some(*v.get_ref() as usize),
            Some(v) => {
                self.problem(v.span(), key, "must be at least 1".into(), None);
                None
            }
        }
    }

    /// Reports every key of `keys` that was given (has a span) as not belonging here, under
    /// `<section>.<key>` with `message(key)`.
    pub fn foreign_keys(
        &mut self,
        section: &str,
        keys: &[(&str, Option<Range<usize>>)],
        message: impl Fn(&str) -> String,
    ) {
        for (key, span) in keys {
            if let Some(span) = span {
                self.problem(span.clone(), &format!("{section}.{key}"), message(key), None);
            }
        }
    }

    /// The values of a sweep table with one key, `dial` (a list of numbers or fractions like
    /// `"8/255"`, or a range `{ from, to, points }`), each within `[min, max]`; problems go under
    /// `key` (`steps.<id>.sweep`), naming the step's `kind`.
    pub fn sweep(
        &mut self,
        sweep: &Spanned<toml::Table>,
        key: &str,
        kind: &str,
        dial: &str,
        (min, max): (f64, f64),
    ) -> Vec<f64> {
        let key = key.to_string();
        let table = sweep.get_ref();
        let span = sweep.span();
        let mut names = table.keys();
        let (Some(name), None) = (names.next(), names.next()) else {
            self.problem(
                span,
                &key,
                format!("`sweep` must have exactly one key, `{dial}`"),
                Some(format!("sweep = {{ {dial} = [\"2/255\", \"8/255\"] }}")),
            );
            return Vec::new();
        };
        if name != dial {
            self.problem(
                span,
                &format!("{key}.{name}"),
                format!(
                    "a{} {kind} step sweeps `{dial}`, not `{name}`",
                    if kind == "attack" { "n" } else { "" }
                ),
                None,
            );
            return Vec::new();
        }
        let value = &table[name];
        let problems_before = self.problems.len();
        let values: Vec<f64> = match value {
            toml::Value::Array(items) => {
                let mut values = Vec::new();
                for item in items {
                    match toml_dial(item) {
                        Some(v) => values.push(v),
                        None => {
                            self.problem(
                                span.clone(),
                                &format!("{key}.{dial}"),
                                format!("`{item}` is not a number or a fraction like \"8/255\""),
                                None,
                            );
                        }
                    }
                }
                values
            }
            toml::Value::Table(range) => {
                let from = range.get("from").and_then(toml_dial);
                let to = range.get("to").and_then(toml_dial);
                let points = range.get("points").and_then(toml::Value::as_integer);
                let unknown: Vec<&String> = range
                    .keys()
                    .filter(|k| !["from", "to", "points"].contains(&k.as_str()))
                    .collect();
                match (from, to, points) {
                    (Some(from), Some(to), Some(points))
                        if (2..=100).contains(&points) && unknown.is_empty() =>
                    {
                        let n = points as usize;
                        (0..n).map(|i| from + (to - from) * i as f64 / (n - 1) as f64).collect()
                    }
                    _ => {
                        self.problem(
                            span.clone(),
                            &format!("{key}.{dial}"),
                            "a range needs `from`, `to` and `points` (2 to 100), and nothing else"
                                .into(),
                            Some(format!("{dial} = {{ from = 0, to = \"8/255\", points = 5 }}")),
                        );
                        Vec::new()
                    }
                }
            }
            other => {
                self.problem(
                    span.clone(),
                    &format!("{key}.{dial}"),
                    format!("expected a list of values or a range table, found `{other}`"),
                    None,
                );
                Vec::new()
            }
        };
        if values.is_empty() && self.problems.len() == problems_before {
            self.problem(
                span.clone(),
                &format!("{key}.{dial}"),
                "the sweep has no value".into(),
                None,
            );
        }
        for value in &values {
            if !(value.is_finite() && *value >= min && *value <= max) {
                let (symbol, hint) = match dial {
                    "epsilon" => (
                        "ε",
                        Some("inputs lie in [0, 1]: an L∞ ε above 1 changes nothing more".into()),
                    ),
                    _ => (dial, None),
                };
                self.problem(
                    span.clone(),
                    &format!("{key}.{dial}"),
                    format!("{symbol} = {value} is out of range [{min}, {max}]"),
                    hint,
                );
            }
        }
        values
    }

    /// A gate on `metric` (one of `metrics` or `extra`) of step `step_id`, or `None` after
    /// reporting its problems under `key`.
    pub fn gate(
        &mut self,
        spanned: &Spanned<GateOptions>,
        step_id: &str,
        key: &str,
        metrics: &[&str],
        extra: &[&str],
    ) -> Option<Gate> {
        let options = spanned.get_ref();
        let metric = options.metric.get_ref().clone();
        if !metrics.contains(&metric.as_str()) && !extra.contains(&metric.as_str()) {
            let known: Vec<&str> = metrics.iter().chain(extra).copied().collect();
            self.problem(
                options.metric.span(),
                &format!("{key}.metric"),
                format!("unknown metric `{metric}`"),
                Some(format!("known metrics here: {}", known.join(", "))),
            );
            return None;
        }
        let (comparison, threshold) = match (options.min, options.max) {
            (Some(min), None) => (Comparison::AtLeast, min),
            (None, Some(max)) => (Comparison::AtMost, max),
            _ => {
                self.problem(
                    spanned.span(),
                    key,
                    "a gate needs exactly one of `min` and `max`".into(),
                    None,
                );
                return None;
            }
        };
        if !threshold.is_finite() {
            self.problem(spanned.span(), key, "the threshold must be a finite number".into(), None);
            return None;
        }
        let bound = match options.bound.as_ref().map(|b| (b.get_ref().as_str(), b.span())) {
            None | Some(("value", _)) => GateBound::Value,
            Some(("ci_lower", _)) => GateBound::Lower,
            Some(("ci_upper", _)) => GateBound::Upper,
            Some((other, span)) => {
                self.problem(
                    span,
                    &format!("{key}.bound"),
                    format!("unknown bound `{other}`"),
                    Some("use value, ci_lower or ci_upper".into()),
                );
                GateBound::Value
            }
        };
        let at = match &options.at {
            Some(at) => match at.get_ref().to_f64() {
                Some(v) => Some(v),
                None => {
                    self.problem(
                        at.span(),
                        &format!("{key}.at"),
                        format!(
                            "`{:?}` is not a number or a fraction like \"8/255\"",
                            at.get_ref()
                        ),
                        None,
                    );
                    return None;
                }
            },
            None => None,
        };
        let op = match comparison {
            Comparison::AtLeast => ">=",
            Comparison::AtMost => "<=",
        };
        let id = match at {
            Some(at) => format!("{step_id}/{metric}@{}{op}{threshold}", fmt_value(at)),
            None => format!("{step_id}/{metric}{op}{threshold}"),
        };
        Some(Gate { id, step_id: step_id.to_string(), metric, at, comparison, threshold, bound })
    }
}
/// A dial value from TOML: a number or a fraction like `"8/255"`.
pub fn toml_dial(value: &toml::Value) -> Option<f64> {
    match value {
        toml::Value::Float(v) => Some(*v),
        toml::Value::Integer(v) => Some(*v as f64),
        toml::Value::String(s) => DialValue::Text(s.clone()).to_f64(),
        _ => None,
    }
}

/// Whether two dial values are the same point (relative tolerance 1e-9).
pub fn same_dial(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12)
}

/// A dial value for names: four significant decimals.
pub fn fmt_value(value: f64) -> String {
    let text = format!("{value:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Dial values for messages, joined by commas.
pub fn fmt_values(values: &[f64]) -> String {
    values.iter().map(|v| fmt_value(*v)).collect::<Vec<_>>().join(", ")
}
