//! `stressor compare BASE NEW`: two reports of the same scenario side by side, gates on their
//! differences.

use std::io::Write as _;
use std::path::Path;

use stressor_compare::{
    CompareConfig, CompareError, DeltaGate, ReadError, RowFilter, compare, read_report,
};
use stressor_schema::{ExitCode as exit_code, Report};

use crate::args::{CompareArgs, CompareFormat};
use crate::output::say;

/// `stressor compare`: exit 0 when every gate held, 1 when one failed, 2 for bad usage (a
/// malformed gate, different scenarios), 3 for a report that cannot be read.
pub(crate) fn run(args: &CompareArgs) -> i32 {
    let mut gates = Vec::with_capacity(args.gates.len());
    for text in &args.gates {
        match text.parse::<DeltaGate>() {
            Ok(gate) => gates.push(gate),
            Err(error) => {
                say!("error: {error}");
                say!("  {}", error.gate);
                say!("  {}^", " ".repeat(error.column().saturating_sub(1)));
                say!(
                    "hint: a delta gate reads `delta:<metric>.<step>[@<dial>] <op> <number>`, e.g. \
                     `delta:robust_accuracy.pgd@8/255 > -0.02`"
                );
                return exit_code::USAGE;
            }
        }
    }
    let (base, new) = match (read(&args.base, "BASE"), read(&args.new, "NEW")) {
        (Ok(base), Ok(new)) => (base, new),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    let mut config =
        CompareConfig::with_labels(args.base.display().to_string(), args.new.display().to_string());
    config.allow_different_scenarios = args.allow_different_scenarios;
    let mut comparison = match compare(&base, &new, &gates, &config) {
        Ok(comparison) => comparison,
        Err(error) => {
            say!("error: {error}");
            return match error {
                CompareError::DifferentScenarios { .. } => {
                    say!("hint: pass --allow-different-scenarios to compare them anyway");
                    exit_code::USAGE
                }
                _ => exit_code::TARGET_UNUSABLE,
            };
        }
    };
    for warning in &comparison.warnings {
        say!("warning: {warning}");
    }
    comparison.retain_rows(&RowFilter::new(args.only_changed, args.significant_only));
    let rendered = match args.format {
        CompareFormat::Text => stressor_compare::to_text(&comparison),
        CompareFormat::Markdown => stressor_compare::to_markdown(&comparison),
        CompareFormat::Json => match serde_json::to_string_pretty(&comparison) {
            Ok(json) => json + "\n",
            Err(error) => {
                say!("error: failed to write the comparison as JSON: {error} (a bug in stressor)");
                return exit_code::BUG;
            }
        },
    };
    if let Some(path) = &args.out {
        if let Err(error) = std::fs::write(path, rendered) {
            say!("error: failed to write {}: {error}", path.display());
            say!("hint: choose a writable path with --out");
            return exit_code::USAGE;
        }
        say!("stressor: wrote {}", path.display());
    } else {
        let mut stdout = std::io::stdout().lock();
        match stdout.write_all(rendered.as_bytes()).and_then(|()| stdout.flush()) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {}
            Err(error) => say!("error: failed to write the comparison: {error}"),
        }
    }
    if comparison.passed { exit_code::PASS } else { exit_code::GATES_FAILED }
}

/// Reads the report at `path`; on failure, says why (naming the file) and gives exit 3.
fn read(path: &Path, side: &str) -> Result<Report, i32> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            say!("error: cannot read the {side} report {}: {error}", path.display());
            return Err(exit_code::TARGET_UNUSABLE);
        }
    };
    read_report(&text).map_err(|error| {
        say!("error: {side} report {}: {error}", path.display());
        if matches!(error, ReadError::UnsupportedVersion { .. }) {
            say!("hint: compare reports written by the same major version of stressor");
        }
        exit_code::TARGET_UNUSABLE
    })
}
