//! Command implementations: everything that touches stdout, stderr, the environment and exit
//! codes.
#![expect(
    clippy::print_stderr,
    reason = "the CLI talks to people on stderr; this module is the one place that does"
)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use stressor_core::{Clock, Event, EventSink, Seed, Verdict};
use stressor_report::Collector;
use stressor_scenario::{EngineConfig, EngineError, Plan, ScenarioError};
use stressor_schema::ExitCode as exit_code;

use crate::args::{CheckArgs, DemoArgs, Format, RunArgs, RunOptions, ServeArgs};
use crate::progress::ProgressSink;

/// The scenario `stressor demo` runs, embedded so the demo needs no file.
const DEMO_SCENARIO: &str = include_str!("../../../scenarios/vision.toml");

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

pub(crate) fn run(args: &RunArgs) -> i32 {
    match stressor_scenario::load(&args.scenario) {
        Ok(plan) => execute(plan, &args.options, default_out_dir(&plan_name(&args.scenario))),
        Err(error) => scenario_error(&error),
    }
}

pub(crate) fn demo(args: &DemoArgs) -> i32 {
    match stressor_scenario::plan::plan(DEMO_SCENARIO, Path::new("builtin:vision.toml")) {
        Ok(plan) => execute(plan, &args.options, PathBuf::from("reports/demo")),
        Err(error) => {
            eprintln!("error: the embedded demo scenario is invalid (a bug in stressor)\n{error}");
            exit_code::BUG
        }
    }
}

pub(crate) fn check(args: &CheckArgs) -> i32 {
    let plan = match stressor_scenario::load(&args.scenario) {
        Ok(plan) => plan,
        Err(error) => return scenario_error(&error),
    };
    let mut out = std::io::stdout().lock();
    let res = write_plan(&mut out, &plan);
    match res {
        Ok(()) => exit_code::PASS,
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => exit_code::PASS,
        Err(error) => {
            eprintln!("error: failed to write to stdout: {error}");
            exit_code::USAGE
        }
    }
}

fn write_plan(out: &mut dyn std::io::Write, plan: &Plan) -> std::io::Result<()> {
    writeln!(out, "scenario {} ({})", plan.name, plan.source)?;
    if let Some(description) = &plan.description {
        writeln!(out, "  {description}")?;
    }
    writeln!(out, "seed     {}", plan.seed.value())?;
    writeln!(out, "target   {:?}", plan.target)?;
    writeln!(
        out,
        "data     {:?}, samples {}",
        plan.data.source,
        plan.data.samples.map_or("all".into(), |n| n.to_string())
    )?;
    writeln!(out, "steady state: {} gate(s)", plan.steady_state_gates.len())?;
    for gate in &plan.steady_state_gates {
        writeln!(out, "  gate {}", gate.id)?;
    }
    for step in &plan.steps {
        writeln!(out, "step {}: {}", step.id, step.description())?;
        let values: Vec<String> =
            step.dial_values.iter().map(|v| stressor_scenario::plan::fmt_value(*v)).collect();
        writeln!(
            out,
            "  sweep {} = [{}], batch size {}",
            step.dial_name,
            values.join(", "),
            step.batch_size
        )?;
        for gate in &step.gates {
            writeln!(out, "  gate {}", gate.id)?;
        }
    }
    for mitigation in &plan.mitigations {
        let parameters: Vec<String> =
            mitigation.method.parameters().iter().map(|(k, v)| format!("{k}={v}")).collect();
        writeln!(
            out,
            "mitigation {}: {} {}, {} epoch(s), {} training images",
            mitigation.id,
            mitigation.method.name(),
            parameters.join(" "),
            mitigation.epochs,
            mitigation.train_samples.map_or("all".into(), |n| n.to_string())
        )?;
        writeln!(out, "  measured on {}", mitigation.steps.join(", "))?;
        for gate in &mitigation.gates {
            writeln!(out, "  gate {}", gate.id)?;
        }
    }
    writeln!(out, "ok: the scenario is valid")
}

fn plan_name(path: &Path) -> String {
    path.file_stem().map_or_else(|| "scenario".to_string(), |s| s.to_string_lossy().into_owned())
}

fn default_out_dir(name: &str) -> PathBuf {
    Path::new("reports").join(name)
}

fn scenario_error(error: &ScenarioError) -> i32 {
    print_error_chain(error);
    exit_code::USAGE
}

fn print_error_chain(error: &dyn std::error::Error) {
    eprintln!("error: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        eprintln!("  caused by: {cause}");
        source = cause.source();
    }
}

fn cache_dir(options: &RunOptions) -> Option<PathBuf> {
    if options.no_cache {
        return None;
    }
    resolve_cache_dir(options.cache_dir.as_deref())
}

/// `explicit`, else `STRESSOR_CACHE_DIR`, else the platform cache directory.
fn resolve_cache_dir(explicit: Option<&Path>) -> Option<PathBuf> {
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

struct WallClock(Instant);

impl Clock for WallClock {
    fn elapsed(&self) -> std::time::Duration {
        self.0.elapsed()
    }
}

struct Tee<'a> {
    collector: &'a mut Collector,
    progress: &'a mut ProgressSink,
}

impl EventSink for Tee<'_> {
    fn event(&mut self, event: &Event) {
        self.progress.event(event);
        self.collector.event(event);
    }
}

fn execute(mut plan: Plan, options: &RunOptions, default_out: PathBuf) -> i32 {
    if let Some(seed) = options.seed {
        plan.seed = Seed::new(seed);
    }
    let out_dir = options.out.clone().unwrap_or(default_out);
    eprintln!(
        "stressor: scenario `{}`, seed {}, reports in {}",
        plan.name,
        plan.seed.value(),
        out_dir.display()
    );
    let config = EngineConfig { cache_dir: cache_dir(options), ..EngineConfig::default() };
    let clock = WallClock(Instant::now());
    let mut collector = Collector::new();
    let mut progress = ProgressSink::new(!options.no_progress);
    let outcome = {
        let mut tee = Tee { collector: &mut collector, progress: &mut progress };
        stressor_scenario::run(&plan, &config, &clock, &mut tee)
    };
    progress.finish();
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) => return engine_error(&error),
    };
    let record = match collector.into_record() {
        Ok(record) => record,
        Err(error) => {
            eprintln!("error: the run produced no record: {error} (a bug in stressor)");
            return exit_code::BUG;
        }
    };
    let mut code = match outcome.verdict {
        Verdict::Pass => exit_code::PASS,
        Verdict::Fail => exit_code::GATES_FAILED,
    };
    // Write the files first: the results must not be lost if stdout is closed.
    if let Err(error) = write_reports(&record, &out_dir) {
        eprintln!("error: {error:#}");
        eprintln!("hint: choose a writable directory with --out");
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
        Err(error) => eprintln!("error: failed to write the summary: {error}"),
    }
    let _ = stdout.flush();
    code
}

fn write_reports(record: &stressor_report::RunRecord, out_dir: &Path) -> anyhow::Result<()> {
    use anyhow::Context as _;
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("failed to create report directory {}", out_dir.display()))?;
    let write = |name: &str, bytes: &[u8]| -> anyhow::Result<()> {
        let path = out_dir.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("failed to write {}", path.display()))
    };
    write("report.json", stressor_report::json::to_string(record).as_bytes())?;
    let html =
        stressor_report::html::to_string(record, &stressor_report::html::HtmlConfig::default());
    write("report.html", html.as_bytes())?;
    let junit = stressor_report::junit::to_string(record).context("failed to render junit.xml")?;
    write("junit.xml", junit.as_bytes())?;
    eprintln!("stressor: wrote {}/report.json, report.html, junit.xml", out_dir.display());
    Ok(())
}

fn engine_error(error: &EngineError) -> i32 {
    print_error_chain(error);
    if matches!(error, EngineError::NoBackend) {
        eprintln!("hint: build with the default `candle` feature");
    }
    exit_code::TARGET_UNUSABLE
}

/// `stressor serve`: loads the model, serves it until Ctrl-C (or SIGTERM), then drains.
pub(crate) fn serve(args: &ServeArgs) -> i32 {
    use stressor_scenario::plan::{Architecture, OnnxInput, TargetPlan};
    let path = Path::new(&args.model);
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let (target, default_name) = match (args.model.as_str(), extension) {
        ("builtin", _) => (
            TargetPlan::Builtin {
                architecture: Architecture::FashionCnn,
                train_seed: Seed::new(args.train_seed),
            },
            "fashion-cnn".to_string(),
        ),
        (_, "safetensors") => (
            TargetPlan::Safetensors { architecture: Architecture::FashionCnn, path: path.into() },
            plan_name(path),
        ),
        (_, "onnx") => (
            TargetPlan::Onnx {
                path: path.into(),
                input: OnnxInput {
                    channels_last: false,
                    scale: 1.0,
                    mean: Vec::new(),
                    std: Vec::new(),
                },
                probabilities: false,
            },
            plan_name(path),
        ),
        _ => {
            eprintln!(
                "error: --model `{}` is neither `builtin` nor a .safetensors or .onnx file",
                args.model
            );
            return exit_code::USAGE;
        }
    };
    let engine = EngineConfig {
        cache_dir: resolve_cache_dir(args.cache_dir.as_deref()),
        ..EngineConfig::default()
    };
    let mut progress = ProgressSink::new(true);
    let model = match stressor_scenario::load_model(&target, &engine, &mut progress) {
        Ok(model) => model,
        Err(error) => return engine_error(&error),
    };
    progress.finish();
    let mut config = stressor_serve::ServeConfig::default();
    config.model_name = args.name.clone().unwrap_or(default_name);
    config.max_body_bytes = args.max_body_bytes;
    config.max_batch = args.max_batch;
    config.queue_limit = args.queue_limit;
    if let Some(n) = args.max_concurrency {
        config.max_concurrency = n;
    }
    if !(args.service_time_ms.is_finite() && args.service_time_ms >= 0.0) {
        eprintln!("error: --service-time-ms must be a finite number of milliseconds ≥ 0");
        return exit_code::USAGE;
    }
    config.service_time = std::time::Duration::from_secs_f64(args.service_time_ms / 1000.0);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return exit_code::BUG;
        }
    };
    let name = config.model_name.clone();
    let result: Result<(), stressor_serve::ServeError> = runtime.block_on(async move {
        let model: std::sync::Arc<dyn stressor_model::Model> = std::sync::Arc::from(model);
        let server = stressor_serve::Server::bind(args.addr, model, config).await?;
        eprintln!(
            "stressor: serving `{name}` on http://{addr}/v2/models/{name}/infer (Ctrl-C stops)",
            addr = server.local_addr()
        );
        shutdown_signal().await;
        eprintln!("stressor: shutting down; finishing requests in flight");
        server.shutdown().await
    });
    match result {
        Ok(()) => exit_code::PASS,
        Err(error @ stressor_serve::ServeError::Bind { .. }) => {
            print_error_chain(&error);
            exit_code::USAGE
        }
        Err(error) => {
            print_error_chain(&error);
            exit_code::TARGET_UNUSABLE
        }
    }
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
