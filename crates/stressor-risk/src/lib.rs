//! Risk documents computed from evidence.
//!
//! Risk teams fill FMEA sheets, risk registers and business impact analyses from opinions;
//! stressor's reports measure what those documents guess at. This crate turns reports of every
//! family (vision, system, drift, recommender, chatbot, war game) and a small business context
//! into:
//!
//! - an **FMEA**: one row per failure mode observed, severity, occurrence and detection on the
//!   classic 1–10 scales through the documented mappings in [`scale`], the RPN and the
//!   AIAG & VDA (2019) action priority beside it;
//! - a **risk register** against the risk appetite, with residual risk after each measured
//!   control and retraining triggers from drift and poisoning evidence;
//! - a **business impact analysis** per process: loss per hour and per incident, measured RTO
//!   and RPO against the targets and the maximum tolerable downtime;
//! - the **NIST AI RMF 1.0 crosswalk**, gaps listed, and the **MITRE ATLAS** techniques
//!   exercised;
//! - **post-mortems** of every run with a timeline.
//!
//! Every number cites the report field it came from (`r2:/steps/3/points/0/metrics/…`, a JSON
//! Pointer into the second report given). Outputs: `risk.md`, `risk.html`, `fmea.csv`,
//! `register.csv` and `risk.json` (schema: `docs/risk.schema.json`).
//!
//! Non-goals: running scenarios (reports come from `stressor run`), and judging what the
//! context file says (it is the user's statement of their business).

mod bia;
mod context;
mod document;
mod error;
mod evidence;
mod finding;
mod fmea;
mod nist;
mod postmortem;
mod register;
mod render;
pub mod scale;

use std::path::{Path, PathBuf};

use stressor_schema::Report;

pub use context::{Context, Process};
pub use document::{
    ActionItem, AtlasRow, BiaRow, ControlEffect, FmeaRow, InputReport, NistRow, PostMortem,
    RISK_FORMAT_VERSION, Rationale, RiskDocument, RiskEntry, Trigger,
};
pub use error::RiskError;
pub use finding::{Category, Control, Exposure, Finding, Measured, Source};
pub use nist::SUBCATEGORIES;
pub use render::{fmea_csv, html, markdown, register_csv};

/// Reads a `report.json`, refusing a format major version other than 1.
///
/// # Errors
/// [`RiskError::Report`] when the file cannot be read or is not a report (naming the line and
/// column, or the missing field); [`RiskError::ReportVersion`] for another major version.
pub fn read_report(path: &Path) -> Result<Report, RiskError> {
    let text = std::fs::read_to_string(path).map_err(|error| RiskError::Report {
        path: path.to_path_buf(),
        message: format!("cannot read: {error}"),
    })?;
    parse_report(&text, path)
}

/// Parses report text read from `path` (used in messages).
///
/// # Errors
/// As [`read_report`].
pub fn parse_report(text: &str, path: &Path) -> Result<Report, RiskError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|error| {
        RiskError::Report { path: path.to_path_buf(), message: format!("not JSON: {error}") }
    })?;
    let version =
        value.get("format_version").and_then(serde_json::Value::as_str).ok_or_else(|| {
            RiskError::Report {
                path: path.to_path_buf(),
                message: "missing field `format_version`: not a stressor report".into(),
            }
        })?;
    if version.split('.').next() != Some("1") {
        return Err(RiskError::ReportVersion { path: path.to_path_buf(), version: version.into() });
    }
    serde_json::from_value(value).map_err(|error| RiskError::Report {
        path: path.to_path_buf(),
        message: format!("not a stressor report: {error}"),
    })
}

/// A report with the path it was read from.
#[derive(Debug, Clone)]
pub struct Input {
    /// The file, as given (shown in the documents).
    pub path: PathBuf,
    /// The report.
    pub report: Report,
}

/// Computes every risk document from `inputs` (cited as `r1`, `r2`, … in this order) and the
/// business context.
///
/// # Errors
/// [`RiskError::NoReports`] when `inputs` is empty.
pub fn assess(inputs: &[Input], context: &Context) -> Result<RiskDocument, RiskError> {
    if inputs.is_empty() {
        return Err(RiskError::NoReports);
    }
    let cited: Vec<evidence::Cited<'_>> = inputs
        .iter()
        .enumerate()
        .map(|(i, input)| evidence::Cited { index: i + 1, report: &input.report })
        .collect();
    let findings = evidence::findings(&cited, context);
    let fmea = fmea::rows(&findings, context);
    let register = register::entries(&findings, &fmea, context);
    let retraining_triggers = register::triggers(&findings);
    let bia = bia::rows(&findings, context);
    let postmortems = postmortem::postmortems(&cited, context);
    let mut families: Vec<String> = findings.iter().map(|f| f.family.clone()).collect();
    families.sort();
    families.dedup();
    let crosswalk = nist::crosswalk(&nist::Documents {
        findings: &findings,
        fmea: &fmea,
        register: &register,
        triggers: &retraining_triggers,
        postmortems: &postmortems,
        inputs: inputs.len(),
        families,
    });
    let atlas = nist::atlas(&findings);
    // What the context is silent on, each kind listed once, sorted.
    let silent = |keep: &dyn Fn(&Finding) -> Option<String>| -> Option<String> {
        let names: std::collections::BTreeSet<String> = findings.iter().filter_map(keep).collect();
        (!names.is_empty()).then(|| names.into_iter().collect::<Vec<_>>().join(", "))
    };
    let mut assumptions = Vec::new();
    if let Some(kinds) = silent(&|f| {
        (!context.exposure.contains_key(&f.exposure)).then(|| f.exposure.key().to_string())
    }) {
        assumptions.push(format!(
            "exposure not stated for {kinds}: every decision assumed exposed (share 1), which \
             overstates occurrence"
        ));
    }
    if let Some(models) = silent(&|f| {
        context
            .process_for(&f.model, &f.scenario)
            .is_none()
            .then(|| format!("`{}` ({})", f.model, f.scenario))
    }) {
        assumptions.push(format!(
            "no business process maps to {models}: no owner, no BIA row, no tolerable downtime \
             for detection timeliness"
        ));
    }
    if let Some(categories) = silent(&|f| {
        (!context.appetite.contains_key(&f.category)).then(|| f.category.key().to_string())
    }) {
        assumptions.push(format!("no risk appetite stated for {categories}"));
    }
    Ok(RiskDocument {
        format_version: RISK_FORMAT_VERSION.into(),
        stressor_version: env!("CARGO_PKG_VERSION").into(),
        organisation: context.organisation.clone(),
        currency: context.currency.clone(),
        inputs: inputs
            .iter()
            .enumerate()
            .map(|(i, input)| InputReport {
                index: i + 1,
                path: input.path.display().to_string(),
                scenario: input.report.run.scenario_name.clone(),
                seed: input.report.run.seed,
                verdict: serde_json::to_value(input.report.run.verdict)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                format_version: input.report.format_version.clone(),
                started_at: input.report.run.started_at.clone(),
            })
            .collect(),
        assumptions,
        findings,
        fmea,
        register,
        retraining_triggers,
        bia,
        crosswalk,
        atlas,
        postmortems,
    })
}

/// The JSON Schema of [`RiskDocument`], as committed at `docs/risk.schema.json`.
pub fn risk_schema() -> schemars::Schema {
    schemars::schema_for!(RiskDocument)
}

/// Writes `risk.md`, `risk.html`, `fmea.csv`, `register.csv` and `risk.json` into `dir`
/// (created if missing); returns their paths.
///
/// # Errors
/// [`RiskError::Write`] naming the file that could not be written.
pub fn write_all(document: &RiskDocument, dir: &Path) -> Result<Vec<PathBuf>, RiskError> {
    std::fs::create_dir_all(dir)
        .map_err(|source| RiskError::Write { path: dir.to_path_buf(), source })?;
    let json = serde_json::to_string_pretty(document).unwrap_or_default();
    let files = [
        ("risk.md", render::markdown(document)),
        ("risk.html", render::html(document)),
        ("fmea.csv", render::fmea_csv(document)),
        ("register.csv", render::register_csv(document)),
        ("risk.json", json),
    ];
    let mut written = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text)
            .map_err(|source| RiskError::Write { path: path.clone(), source })?;
        written.push(path);
    }
    Ok(written)
}
