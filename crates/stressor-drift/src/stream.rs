//! Drift over a stream: a source of production rows, a drifted version of each row, and the
//! share of drifted rows at each step (sudden or gradual onset, at the dial's level).
//!
//! The dial is the share of rows that come from the drifted population once the drift is in
//! full effect, so "50 % drift" is a half-and-half mixture of the usual population and the
//! drifted one. What "drifted" means is a list of [`Transform`]s applied to a row: covariate
//! drift (a shift in reference standard deviations, a scale such as a unit change, a category
//! renamed, values gone missing), prior drift (the drifted rows are drawn from one class),
//! concept drift (labels flipped for a subgroup; for the synthetic source, the boundary
//! rotated). A row is drifted or not as a whole; the rows chosen at a smaller share stay chosen
//! at a larger one, so the stream changes smoothly with time and with the dial.

use rand::Rng as _;
use stressor_core::Seed;
use stressor_tabular::{Column, Regime, Synthetic, Table, TableError, labels};

/// How the drifted share rises from 0 to the dial.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Onset {
    /// All at once at the start step.
    Sudden,
    /// Linearly over `steps` steps from the start step.
    Gradual {
        /// Steps from no drift to full drift (≥ 1).
        steps: usize,
    },
}

/// When and how much drift there is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// The first step with drift.
    pub start: usize,
    /// Sudden or gradual.
    pub onset: Onset,
    /// The share of drifted rows once the drift is in full effect, in [0, 1].
    pub dial: f64,
}

impl Schedule {
    /// The share of drifted rows at `step`.
    pub fn share(&self, step: usize) -> f64 {
        if step < self.start {
            return 0.0;
        }
        match self.onset {
            Onset::Sudden => self.dial,
            Onset::Gradual { steps } => {
                let ramp = ((step - self.start + 1) as f64 / steps.max(1) as f64).min(1.0);
                self.dial * ramp
            }
        }
    }

    /// The first step at which the drift is in full effect.
    pub fn full(&self) -> usize {
        match self.onset {
            Onset::Sudden => self.start,
            Onset::Gradual { steps } => self.start + steps.max(1) - 1,
        }
    }
}

/// What happens to a drifted row.
#[derive(Debug, Clone, PartialEq)]
pub enum Transform {
    /// Covariate shift: `x + sigmas · σ`, σ the column's standard deviation in the source.
    Shift {
        /// The numeric column.
        column: String,
        /// The shift in standard deviations.
        sigmas: f64,
    },
    /// Covariate shift by a factor, such as a unit change: `x · factor`.
    Scale {
        /// The numeric column.
        column: String,
        /// The factor.
        factor: f64,
    },
    /// Category drift: the value `from` (any value when absent) becomes `to`.
    Category {
        /// The categorical column.
        column: String,
        /// The category that changes; every category when absent.
        from: Option<String>,
        /// Its new value.
        to: String,
    },
    /// The value goes missing (NaN or empty).
    Missing {
        /// The column.
        column: String,
    },
    /// Prior drift: drifted rows are drawn from the rows whose label is `class` (1 for the
    /// positive class, 0 for the other).
    Prior {
        /// The class.
        class: u8,
    },
    /// Concept drift: the label is flipped, for every drifted row or only those with
    /// `column == value`.
    FlipLabel {
        /// The subgroup, when not every row.
        subgroup: Option<(String, String)>,
    },
    /// Concept drift for the synthetic source: the decision boundary rotated by `degrees`.
    Rotate {
        /// The rotation.
        degrees: f64,
    },
}

impl std::fmt::Display for Transform {
    /// As reports and `stressor check` show it: `scale credit_amount ×100`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transform::Shift { column, sigmas } => write!(f, "shift {column} by {sigmas} σ"),
            Transform::Scale { column, factor } => write!(f, "scale {column} ×{factor}"),
            Transform::Category { column, from: Some(from), to } => {
                write!(f, "{column}: {from} → {to}")
            }
            Transform::Category { column, from: None, to } => write!(f, "{column}: any → {to}"),
            Transform::Missing { column } => write!(f, "{column} missing"),
            Transform::Prior { class } => write!(f, "drawn from class {class}"),
            Transform::FlipLabel { subgroup: None } => write!(f, "label flipped"),
            Transform::FlipLabel { subgroup: Some((column, value)) } => {
                write!(f, "label flipped where {column} = {value}")
            }
            Transform::Rotate { degrees } => write!(f, "boundary rotated {degrees}°"),
        }
    }
}

/// Where the rows come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Rows resampled (with replacement) from a table's stream pool.
    Table {
        /// The rows production draws from.
        pool: Table,
        /// Their labels (0/1).
        labels: Vec<u8>,
    },
    /// Fresh rows from the synthetic generator.
    Synthetic(Synthetic),
}

/// Rows with labels: the usual version and the drifted version of the same draw.
#[derive(Debug, Clone)]
pub struct Draw {
    /// The usual rows.
    pub base: Table,
    /// Their labels.
    pub base_labels: Vec<u8>,
    /// The same rows drifted.
    pub drifted: Table,
    /// Their labels.
    pub drifted_labels: Vec<u8>,
}

impl Draw {
    /// The rows mixed: row `i` from the drifted version where `chosen[i]`.
    pub fn mix(&self, chosen: &[bool]) -> (Table, Vec<u8>) {
        let columns = self
            .base
            .columns
            .iter()
            .zip(&self.drifted.columns)
            .map(|((name, a), (_, b))| {
                let column = match (a, b) {
                    (Column::Numeric(a), Column::Numeric(b)) => Column::Numeric(
                        chosen
                            .iter()
                            .enumerate()
                            .map(|(i, &c)| if c { b[i] } else { a[i] })
                            .collect(),
                    ),
                    (Column::Categorical(a), Column::Categorical(b)) => Column::Categorical(
                        chosen
                            .iter()
                            .enumerate()
                            .map(|(i, &c)| if c { b[i].clone() } else { a[i].clone() })
                            .collect(),
                    ),
                    // `drift` keeps every column's kind.
                    _ => a.clone(),
                };
                (name.clone(), column)
            })
            .collect();
        let labels = chosen
            .iter()
            .enumerate()
            .map(|(i, &c)| if c { self.drifted_labels[i] } else { self.base_labels[i] })
            .collect();
        let rows = chosen.len();
        (Table { path: self.base.path.clone(), columns, rows }, labels)
    }
}

impl Source {
    /// Draws `n` rows, seeded, and their drifted version under `transforms`.
    ///
    /// # Errors
    /// [`TableError`] naming a transform's column that is missing or of the wrong kind, or a
    /// prior class with no rows.
    pub fn draw(&self, n: usize, transforms: &[Transform], seed: Seed) -> Result<Draw, TableError> {
        if matches!(self, Source::Synthetic(_))
            && transforms.iter().any(|t| matches!(t, Transform::Prior { .. }))
        {
            return Err(TableError::Shape(
                "drift `prior` applies to table sources only; the synthetic source's classes follow its boundary"
                    .into(),
            ));
        }
        let (base, base_labels, mut drifted, mut drifted_labels) = match self {
            Source::Table { pool, .. } => {
                let mut rng = seed.derive("rows").rng();
                let rows: Vec<usize> = (0..n).map(|_| rng.random_range(0..pool.rows)).collect();
                return self.draw_rows(&rows, transforms, seed);
            }
            Source::Synthetic(generator) => {
                let (base, _) = generator.sample(n, Regime::default(), seed.derive("base"))?;
                let degrees = transforms
                    .iter()
                    .filter_map(|t| match t {
                        Transform::Rotate { degrees } => Some(*degrees),
                        _ => None,
                    })
                    .sum();
                let regime = Regime { angle_degrees: degrees, shift: 0.0 };
                let (drifted, _) = generator.sample(n, regime, seed.derive("drifted"))?;
                let base_labels = labels(&base, "label", "1")?;
                let drifted_labels = labels(&drifted, "label", "1")?;
                (base, base_labels, drifted, drifted_labels)
            }
        };
        for transform in transforms {
            apply(transform, self, &mut drifted, &mut drifted_labels)?;
        }
        Ok(Draw { base, base_labels, drifted, drifted_labels })
    }

    /// The pool's rows at `rows` and their drifted version (a table source only; the
    /// synthetic source draws fresh rows).
    ///
    /// # Errors
    /// As [`Source::draw`].
    pub fn draw_rows(
        &self,
        rows: &[usize],
        transforms: &[Transform],
        seed: Seed,
    ) -> Result<Draw, TableError> {
        let Source::Table { pool, labels } = self else {
            return Err(TableError::Shape("the synthetic source has no fixed rows".into()));
        };
        if transforms.iter().any(|t| matches!(t, Transform::Rotate { .. })) {
            return Err(TableError::Shape(
                "drift `rotate` applies to the synthetic source only; for a table use `flip_label`"
                    .into(),
            ));
        }
        let base = pool.take(rows);
        let base_labels: Vec<u8> = rows.iter().map(|&i| labels[i]).collect();
        let prior = transforms.iter().find_map(|t| match t {
            Transform::Prior { class } => Some(*class),
            _ => None,
        });
        let (mut drifted, mut drifted_labels) = match prior {
            Some(class) => {
                let of_class: Vec<usize> = (0..pool.rows).filter(|&i| labels[i] == class).collect();
                if of_class.is_empty() {
                    return Err(TableError::Shape(format!(
                        "prior drift towards class {class}: no row of {} has it",
                        pool.path.display()
                    )));
                }
                let mut rng = seed.derive("prior").rng();
                let redrawn: Vec<usize> = (0..rows.len())
                    .map(|_| of_class[rng.random_range(0..of_class.len())])
                    .collect();
                (pool.take(&redrawn), redrawn.iter().map(|&i| labels[i]).collect())
            }
            None => (base.clone(), base_labels.clone()),
        };
        for transform in transforms {
            apply(transform, self, &mut drifted, &mut drifted_labels)?;
        }
        Ok(Draw { base, base_labels, drifted, drifted_labels })
    }

    /// The standard deviation of a numeric column in the source (1 for the synthetic source,
    /// whose features are standard normal).
    fn sigma(&self, column: &str) -> Result<f64, TableError> {
        match self {
            Source::Synthetic(_) => Ok(1.0),
            Source::Table { pool, .. } => match pool.require(column)? {
                Column::Numeric(v) => Ok(stressor_tabular::mean_and_std(v).map_or(0.0, |(_, s)| s)),
                Column::Categorical(_) => Err(TableError::Shape(format!(
                    "drift `shift` needs a numeric column; `{column}` is categorical"
                ))),
            },
        }
    }
}

fn apply(
    transform: &Transform,
    source: &Source,
    table: &mut Table,
    labels: &mut [u8],
) -> Result<(), TableError> {
    let path = table.path.display().to_string();
    let numeric =
        |table: &mut Table, column: &str, f: &dyn Fn(f64) -> f64| match table.column_mut(column) {
            Some(Column::Numeric(values)) => {
                values.iter_mut().for_each(|v| *v = f(*v));
                Ok(())
            }
            Some(Column::Categorical(_)) => Err(TableError::Shape(format!(
                "{path}: drift on `{column}` needs a numeric column; it is categorical"
            ))),
            None => Err(TableError::Shape(format!("{path} has no column `{column}`"))),
        };
    match transform {
        Transform::Shift { column, sigmas } => {
            let delta = sigmas * source.sigma(column)?;
            numeric(table, column, &|v| v + delta)
        }
        Transform::Scale { column, factor } => numeric(table, column, &|v| v * factor),
        Transform::Category { column, from, to } => match table.column_mut(column) {
            Some(Column::Categorical(values)) => {
                for v in values.iter_mut() {
                    if from.as_ref().is_none_or(|f| f == v) {
                        v.clone_from(to);
                    }
                }
                Ok(())
            }
            Some(Column::Numeric(_)) => Err(TableError::Shape(format!(
                "{path}: category drift on `{column}` needs a categorical column; it is numeric"
            ))),
            None => Err(TableError::Shape(format!("{path} has no column `{column}`"))),
        },
        Transform::Missing { column } => match table.column_mut(column) {
            Some(Column::Numeric(values)) => {
                values.fill(f64::NAN);
                Ok(())
            }
            Some(Column::Categorical(values)) => {
                values.iter_mut().for_each(String::clear);
                Ok(())
            }
            None => Err(TableError::Shape(format!("{path} has no column `{column}`"))),
        },
        Transform::FlipLabel { subgroup } => {
            let members: Vec<bool> = match subgroup {
                None => vec![true; labels.len()],
                Some((column, value)) => match table.require(column)? {
                    Column::Categorical(values) => values.iter().map(|v| v == value).collect(),
                    Column::Numeric(values) => {
                        let value: f64 = value.parse().map_err(|_| {
                            TableError::Shape(format!(
                                "concept drift subgroup: `{column}` is numeric, so its value must be a number, not `{value}`"
                            ))
                        })?;
                        values.iter().map(|v| *v == value).collect()
                    }
                },
            };
            for (label, member) in labels.iter_mut().zip(members) {
                if member {
                    *label = 1 - *label;
                }
            }
            Ok(())
        }
        // Applied while drawing.
        Transform::Prior { .. } | Transform::Rotate { .. } => Ok(()),
    }
}
