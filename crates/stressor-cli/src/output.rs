//! What the commands share: messages on stderr, tracing, the cache directory, and finishing a
//! scenario run (reports, summary, exit code).
//!
//! Messages to people go to stderr through [`say!`], which ignores a closed stderr: `eprintln!`
//! panics when the reader has gone (a `stressor serve` whose log pipe was closed would exit 101
//! on Ctrl-C instead of shutting down cleanly).

/// `eprintln!` that never panics: a message nobody can read is dropped.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}
pub(crate) use say;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use stressor_core::{Clock, Event, EventSink, Verdict};
use stressor_report::Collector;
use stressor_scenario::{EngineError, ScenarioError};
use stressor_schema::ExitCode as exit_code;

use crate::args::{Format, RunOptions};
use crate::progress::ProgressSink;

pub(crate) fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = std::env::var("STRESSOR_LOG").unwrap_or_else(|_| default.to_string());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::env::var_os("NO_COLOR").is_none())
        .try_init();
}

pub(crate) fn plan_name(path: &Path) -> String {
    path.file_stem().map_or_else(|| "scenario".to_string(), |s| s.to_string_lossy().into_owned())
}

pub(crate) fn default_out_dir(name: &str) -> PathBuf {
    Path::new("reports").join(name)
}

pub(crate) fn scenario_error(error: &ScenarioError) -> i32 {
    print_error_chain(error);
    exit_code::USAGE
}

pub(crate) fn print_error_chain(error: &dyn std::error::Error) {
    say!("error: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        say!("  caused by: {cause}");
        source = cause.source();
    }
}

pub(crate) fn cache_dir(options: &RunOptions) -> Option<PathBuf> {
    if options.no_cache {
        return None;
    }
    resolve_cache_dir(options.cache_dir.as_deref())
}

/// `explicit`, else `STRESSOR_CACHE_DIR`, else the platform cache directory.
pub(crate) fn resolve_cache_dir(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = explicit {
        return Some(dir.to_path_buf());
    }
    if let Some(dir) = std::env::var_os("STRESSOR_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("stressor"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        return Some(PathBuf::from(home).join(".cache").join("stressor"));
    }
    Some(PathBuf::from(".stressor-cache"))
}

pub(crate) struct WallClock(pub(crate) Instant);

impl Clock for WallClock {
    fn elapsed(&self) -> std::time::Duration {
        self.0.elapsed()
    }
}

/// Hands each event of a run to the progress bars, the report collector and, with
/// `--dashboard`, the dashboard, in that order.
pub(crate) struct Tee<'a> {
    pub(crate) collector: &'a mut Collector,
    pub(crate) progress: &'a mut ProgressSink,
    pub(crate) dashboard: Option<&'a mut dyn EventSink>,
}

impl EventSink for Tee<'_> {
    fn event(&mut self, event: &Event) {
        self.progress.event(event);
        self.collector.event(event);
        if let Some(dashboard) = self.dashboard.as_deref_mut() {
            dashboard.event(event);
        }
    }
}

/// Writes the reports of a finished run and prints its summary; the exit code.
pub(crate) fn finish(
    outcome: Result<stressor_scenario::RunOutcome, EngineError>,
    collector: Collector,
    options: &RunOptions,
    out_dir: &Path,
) -> i32 {
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) => return engine_error(&error),
    };
    let record = match collector.into_record() {
        Ok(record) => record,
        Err(error) => {
            say!("error: the run produced no record: {error} (a bug in stressor)");
            return exit_code::BUG;
        }
    };
    let mut code = match outcome.verdict {
        Verdict::Pass => exit_code::PASS,
        Verdict::Fail => exit_code::GATES_FAILED,
    };
    // Write the files first: the results must not be lost if stdout is closed.
    if let Err(error) = write_reports(&record, options, out_dir) {
        say!("error: {error:#}");
        say!("hint: choose a writable directory with --out");
        code = exit_code::USAGE;
    }
    let mut stdout = std::io::stdout().lock();
    let printed = match options.format {
        Format::Text => {
            let colour = std::env::var_os("NO_COLOR").is_none()
                && std::io::IsTerminal::is_terminal(&std::io::stdout());
            stressor_report::summary::write(
                &record,
                &stressor_report::summary::SummaryConfig::with_colour(colour),
                &mut stdout,
            )
        }
        Format::Json => stdout.write_all(stressor_report::json::to_string(&record).as_bytes()),
    };
    match printed {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(error) => say!("error: failed to write the summary: {error}"),
    }
    let _ = stdout.flush();
    code
}

fn write_reports(
    record: &stressor_report::RunRecord,
    options: &RunOptions,
    out_dir: &Path,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("failed to create report directory {}", out_dir.display()))?;
    let write = |name: &str, bytes: &[u8]| -> anyhow::Result<()> {
        let path = out_dir.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("failed to write {}", path.display()))
    };
    write("report.json", stressor_report::json::to_string(record).as_bytes())?;
    let mut html_config = stressor_report::html::HtmlConfig::default();
    html_config.max_exemplars_per_point = options.exemplars;
    let html = stressor_report::html::to_string(record, &html_config);
    write("report.html", html.as_bytes())?;
    let junit = stressor_report::junit::to_string(record).context("failed to render junit.xml")?;
    write("junit.xml", junit.as_bytes())?;
    say!("stressor: wrote {}/report.json, report.html, junit.xml", out_dir.display());
    Ok(())
}

pub(crate) fn engine_error(error: &EngineError) -> i32 {
    print_error_chain(error);
    if matches!(error, EngineError::NoBackend) {
        say!("hint: build with the default `candle` feature");
    }
    if matches!(error, EngineError::Secret { .. }) {
        return exit_code::USAGE;
    }
    exit_code::TARGET_UNUSABLE
}
