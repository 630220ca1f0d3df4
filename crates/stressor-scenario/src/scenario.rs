//! A scenario file read, split among the families and planned.

use std::ops::Range;
use std::path::Path;

use stressor_core::{Gate, Seed};

use crate::data::DataPlan;
use crate::error::{ScenarioError, line_column};
use crate::family::{Family, Part};
use crate::options::{HeadOptions, SubjectOptions};
use crate::planner::Planner;
use crate::target::TargetPlan;

/// The seed used when a scenario gives none.
pub const DEFAULT_SEED: u64 = 0;

/// The top-level keys every scenario may have, whatever its families.
const HEAD_KEYS: &[&str] = &["name", "description", "seed", "risk"];
/// The top-level keys of the model under test and its data.
const SUBJECT_KEYS: &[&str] = &["target", "data"];

/// A scenario file's text, parsed as TOML, with its path for messages.
#[derive(Debug, Clone, Copy)]
pub struct Document<'a> {
    text: &'a str,
    path: &'a Path,
}

impl<'a> Document<'a> {
    /// Parses `text` (read from `path`) far enough to know its top-level keys.
    ///
    /// # Errors
    /// [`ScenarioError::Parse`] when it is not TOML.
    pub fn parse(text: &'a str, path: &'a Path) -> Result<Document<'a>, ScenarioError> {
        let document = Document { text, path };
        document.table()?;
        Ok(document)
    }

    /// The scenario file.
    pub fn path(&self) -> &'a Path {
        self.path
    }

    /// Whether the file has the top-level key `key`.
    pub fn has(&self, key: &str) -> bool {
        self.table().is_ok_and(|table| table.get_ref().contains_key(key))
    }

    /// The top-level keys with their byte spans, in file order.
    pub fn keys(&self) -> Vec<(String, Range<usize>)> {
        let Ok(table) = self.table() else { return Vec::new() };
        let mut keys: Vec<(String, Range<usize>)> =
            table.get_ref().keys().map(|key| (key.get_ref().to_string(), key.span())).collect();
        keys.sort_by_key(|(_, span)| span.start);
        keys
    }

    /// The top-level keys `keys` (and only those) deserialised as `T`, spans pointing into the
    /// whole file.
    ///
    /// # Errors
    /// [`ScenarioError::Parse`] with the line and column of the first mismatch.
    pub fn section<T: serde::de::DeserializeOwned>(
        &self,
        keys: &[&str],
    ) -> Result<T, ScenarioError> {
        let table = self.table()?;
        let span = table.span();
        let own: toml::de::DeTable<'a> = table
            .into_inner()
            .into_iter()
            .filter(|(key, _)| keys.contains(&key.get_ref().as_ref()))
            .collect();
        T::deserialize(toml::de::Deserializer::from(toml::Spanned::new(span, own)))
            .map_err(|error| self.parse_error(&error))
    }

    fn table(&self) -> Result<toml::Spanned<toml::de::DeTable<'a>>, ScenarioError> {
        toml::de::DeTable::parse(self.text).map_err(|error| self.parse_error(&error))
    }

    fn parse_error(&self, error: &toml::de::Error) -> ScenarioError {
        let (line, column) = error.span().map_or((1, 1), |span| line_column(self.text, span.start));
        ScenarioError::Parse {
            path: self.path.to_path_buf(),
            line,
            column,
            message: error.message().trim().to_string(),
        }
    }
}

/// The model under test and its data, planned (`[target]` and `[data]`).
#[derive(Debug, Clone, PartialEq)]
pub struct SubjectPlan {
    /// The model.
    pub target: TargetPlan,
    /// The data.
    pub data: DataPlan,
}

/// A scenario ready to run: its head, its subject and one part per family that takes part.
#[derive(Debug)]
pub struct Scenario {
    /// The scenario's name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// Where it came from.
    pub source: String,
    /// The root seed.
    pub seed: Seed,
    /// The model under test and its data, when the file has `[target]` and `[data]`.
    pub subject: Option<SubjectPlan>,
    /// The families' parts, in the order of the families given to [`plan`].
    pub parts: Vec<Box<dyn Part>>,
    /// `[risk]`: compute risk documents from the report at the end of the run.
    pub risk: Option<RiskPlan>,
}

/// `[risk]`, resolved: the context file's path (relative to the scenario's directory), if any.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskPlan {
    /// The business context file.
    pub context: Option<std::path::PathBuf>,
}

impl Scenario {
    /// The part of type `T` (a family's plan), if that family takes part.
    pub fn part<T: 'static>(&self) -> Option<&T> {
        self.parts.iter().find_map(|part| part.as_any().downcast_ref::<T>())
    }

    /// Every gate, in part order.
    pub fn gates(&self) -> Vec<&Gate> {
        self.parts.iter().flat_map(|part| part.gates()).collect()
    }

    /// The largest calibration split a part asks for.
    pub fn calibration_samples(&self) -> usize {
        self.parts.iter().map(|part| part.calibration_samples()).max().unwrap_or(0)
    }

    /// Every environment variable the header values of the scenario's targets refer to, for
    /// the caller to read (the engine never reads the environment).
    pub fn env_vars(&self) -> Vec<String> {
        let mut names = self.subject.as_ref().map(|s| s.target.env_vars()).unwrap_or_default();
        for part in &self.parts {
            names.extend(part.env_vars());
        }
        names.sort();
        names.dedup();
        names
    }

    /// Writes the plan for people: the head, the subject, then each part.
    ///
    /// # Errors
    /// The writer's.
    pub fn describe(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        writeln!(out, "scenario {} ({})", self.name, self.source)?;
        if let Some(description) = &self.description {
            writeln!(out, "  {description}")?;
        }
        writeln!(out, "seed     {}", self.seed.value())?;
        if let Some(subject) = &self.subject {
            writeln!(out, "target   {}", subject.target)?;
            subject.target.describe_ops(out)?;
            writeln!(out, "data     {}", subject.data)?;
        }
        for part in &self.parts {
            part.describe(out)?;
        }
        if let Some(risk) = &self.risk {
            match &risk.context {
                Some(context) => writeln!(
                    out,
                    "risk     FMEA, register, BIA, NIST AI RMF crosswalk and post-mortems into risk/, \
                     context {}",
                    context.display()
                )?,
                None => writeln!(
                    out,
                    "risk     FMEA, register, NIST AI RMF crosswalk and post-mortems into risk/, \
                     no business context"
                )?,
            }
        }
        writeln!(out, "ok: the scenario is valid")
    }
}

/// Reads and plans the scenario at `path` with `families`.
///
/// # Errors
/// [`ScenarioError`] naming the file, line, column and key of every problem.
pub fn load(path: &Path, families: &[&dyn Family]) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ScenarioError::Read { path: path.to_path_buf(), source })?;
    plan(&text, path, families)
}

/// Plans scenario `text` with `families`; `path` names it in errors and anchors relative paths.
///
/// Every top-level key belongs to the head, the subject or one family; a key no family owns is
/// an error naming its line. Each family whose keys appear (see [`Family::takes_part`]) plans
/// its part.
///
/// # Errors
/// [`ScenarioError::Parse`] for TOML or format errors, [`ScenarioError::Invalid`] listing every
/// invalid value.
pub fn plan(text: &str, path: &Path, families: &[&dyn Family]) -> Result<Scenario, ScenarioError> {
    let document = Document::parse(text, path)?;
    let known = |key: &str| {
        HEAD_KEYS.contains(&key)
            || SUBJECT_KEYS.contains(&key)
            || families.iter().any(|family| family.keys().contains(&key))
    };
    if let Some((key, span)) = document.keys().into_iter().find(|(key, _)| !known(key)) {
        let mut expected: Vec<&str> = HEAD_KEYS.iter().chain(SUBJECT_KEYS).copied().collect();
        expected.extend(families.iter().flat_map(|family| family.keys().iter().copied()));
        let expected: Vec<String> = expected.iter().map(|key| format!("`{key}`")).collect();
        let (line, column) = line_column(text, span.start);
        return Err(ScenarioError::Parse {
            path: path.to_path_buf(),
            line,
            column,
            message: format!("unknown field `{key}`, expected one of {}", expected.join(", ")),
        });
    }
    let head: HeadOptions = document.section(HEAD_KEYS)?;
    let mut planner = Planner::new(text, path);
    let subject = if SUBJECT_KEYS.iter().any(|key| document.has(key)) {
        let options: SubjectOptions = document.section(SUBJECT_KEYS)?;
        let target = planner.target(&options.target, "target");
        let data = planner.data(&options.data);
        Some(SubjectPlan { target, data })
    } else {
        None
    };
    let mut parts: Vec<Box<dyn Part>> = Vec::new();
    for family in families.iter().filter(|family| family.takes_part(&document)) {
        let part = family.plan(&document, &mut planner, subject.as_ref())?;
        let earlier: Vec<String> = parts.iter().flat_map(|p| p.step_ids()).collect();
        if let Some(id) = part.step_ids().into_iter().find(|id| earlier.contains(id)) {
            let key = family.keys().first().copied().unwrap_or("name");
            let span =
                document.keys().into_iter().find(|(k, _)| k == key).map_or(0..0, |(_, span)| span);
            planner.problem(
                span,
                key,
                format!("the step id `{id}` is used by two parts of the scenario (or is reserved)"),
                Some("give every step a unique id".into()),
            );
        }
        parts.push(part);
    }
    if parts.is_empty() {
        let families: Vec<String> = families
            .iter()
            .map(|family| format!("{} ({})", family.name(), family.keys().join(", ")))
            .collect();
        planner.problem(
            0..0,
            "name",
            "the scenario has nothing to run".into(),
            Some(format!("add the sections of a family: {}", families.join("; "))),
        );
    }
    planner.finish()?;
    Ok(Scenario {
        name: head.name,
        description: head.description,
        source: path.display().to_string(),
        seed: Seed::new(head.seed.unwrap_or(DEFAULT_SEED)),
        subject,
        parts,
        risk: head.risk.map(|risk| RiskPlan {
            context: risk.context.map(|file| {
                path.parent().map_or_else(|| file.clone().into(), |dir| dir.join(&file))
            }),
        }),
    })
}
