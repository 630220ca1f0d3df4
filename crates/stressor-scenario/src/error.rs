//! Scenario errors, each naming the file, line, column and key.

use std::fmt;
use std::path::PathBuf;

/// Why a scenario could not be loaded or planned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("failed to read scenario {path}")]
    Read {
        /// The scenario file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not match the format (unknown key, wrong type).
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The scenario file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The file parsed but some values are invalid; every problem found is listed.
    #[error("{}", Problems(problems))]
    Invalid {
        /// The scenario file.
        path: PathBuf,
        /// Every problem, in file order.
        problems: Vec<Problem>,
    },
}

/// One invalid value in a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The scenario file.
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The key, dotted (`steps.pgd-linf.sweep.epsilon`).
    pub key: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when known.
    pub hint: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: `{}`: {}",
            self.path.display(),
            self.line,
            self.column,
            self.key,
            self.message
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

struct Problems<'a>(&'a [Problem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

pub(crate) use stressor_core::line_column;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, 8), (2, 3));
    }
}
