//! Command implementations: everything that touches stdout, stderr, the environment and exit
//! codes.
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

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use stressor_core::{Clock, Event, EventSink, Seed, Verdict};
use stressor_report::Collector;
use stressor_scenario::{EngineConfig, EngineError, Plan, ScenarioError};
use stressor_schema::ExitCode as exit_code;

use crate::args::{
    CheckArgs, DemoArgs, DriftArgs, Format, LoadArgs, ProxyArgs, RunArgs, RunOptions, ServeArgs,
};
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
    let out = default_out_dir(&plan_name(&args.scenario));
    match stressor_scenario::load_scenario(&args.scenario) {
        Ok(stressor_scenario::Scenario::Model(plan)) => execute(plan, &args.options, out),
        Ok(stressor_scenario::Scenario::Drift(plan)) => execute_drift(plan, &args.options, out),
        Err(error) => scenario_error(&error),
    }
}

pub(crate) fn demo(args: &DemoArgs) -> i32 {
    match stressor_scenario::plan::plan(DEMO_SCENARIO, Path::new("builtin:vision.toml")) {
        Ok(plan) => execute(plan, &args.options, PathBuf::from("reports/demo")),
        Err(error) => {
            say!("error: the embedded demo scenario is invalid (a bug in stressor)\n{error}");
            exit_code::BUG
        }
    }
}

pub(crate) fn check(args: &CheckArgs) -> i32 {
    let mut out = std::io::stdout().lock();
    let res = match stressor_scenario::load_scenario(&args.scenario) {
        Ok(stressor_scenario::Scenario::Model(plan)) => write_plan(&mut out, &plan),
        Ok(stressor_scenario::Scenario::Drift(plan)) => write_drift_plan(&mut out, &plan),
        Err(error) => return scenario_error(&error),
    };
    match res {
        Ok(()) => exit_code::PASS,
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => exit_code::PASS,
        Err(error) => {
            say!("error: failed to write to stdout: {error}");
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

fn write_drift_plan(
    out: &mut dyn std::io::Write,
    plan: &stressor_scenario::DriftPlan,
) -> std::io::Result<()> {
    writeln!(out, "drift scenario {} ({})", plan.name, plan.source)?;
    if let Some(description) = &plan.description {
        writeln!(out, "  {description}")?;
    }
    writeln!(out, "seed     {}", plan.seed.value())?;
    writeln!(out, "data     {:?}, target {} = {}", plan.data, plan.target.0, plan.target.1)?;
    writeln!(out, "model    {:?}", plan.model)?;
    writeln!(
        out,
        "stream   {} steps × {} rows, drift {:?}",
        plan.steps, plan.batch_rows, plan.schedule
    )?;
    for transform in &plan.transforms {
        writeln!(out, "  transform {transform}")?;
    }
    let policies: Vec<&str> = plan.policies.iter().map(|p| p.name()).collect();
    writeln!(out, "policies {}", policies.join(", "))?;
    for gate in &plan.gates {
        writeln!(out, "  gate {}", gate.id)?;
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
    say!("error: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        say!("  caused by: {cause}");
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
    say!(
        "stressor: scenario `{}`, seed {}, reports in {}",
        plan.name,
        plan.seed.value(),
        out_dir.display()
    );
    // Header values may name environment variables (`${TOKEN}`); only the CLI reads them.
    let env = plan
        .env_vars()
        .into_iter()
        .filter_map(|name| std::env::var(&name).ok().map(|value| (name, value)))
        .collect();
    let config = EngineConfig {
        cache_dir: cache_dir(options),
        metrics_addr: options.metrics_addr,
        env,
        ..EngineConfig::default()
    };
    let clock = WallClock(Instant::now());
    let mut collector = Collector::new();
    let mut progress = ProgressSink::new(!options.no_progress);
    let outcome = {
        let mut tee = Tee { collector: &mut collector, progress: &mut progress };
        stressor_scenario::run(&plan, &config, &clock, &mut tee)
    };
    progress.finish();
    finish(outcome, collector, options, &out_dir)
}

/// Runs a drift scenario and reports it like any other run.
fn execute_drift(
    mut plan: stressor_scenario::DriftPlan,
    options: &RunOptions,
    default_out: PathBuf,
) -> i32 {
    if let Some(seed) = options.seed {
        plan.seed = Seed::new(seed);
    }
    let out_dir = options.out.clone().unwrap_or(default_out);
    say!(
        "stressor: drift scenario `{}`, seed {}, reports in {}",
        plan.name,
        plan.seed.value(),
        out_dir.display()
    );
    let clock = WallClock(Instant::now());
    let mut collector = Collector::new();
    let mut progress = ProgressSink::new(!options.no_progress);
    let outcome = {
        let mut tee = Tee { collector: &mut collector, progress: &mut progress };
        stressor_scenario::run_drift(&plan, &EngineConfig::default(), &clock, &mut tee)
    };
    progress.finish();
    finish(outcome, collector, options, &out_dir)
}

/// Writes the reports of a finished run and prints its summary; the exit code.
fn finish(
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
    if let Err(error) = write_reports(&record, out_dir) {
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
    say!("stressor: wrote {}/report.json, report.html, junit.xml", out_dir.display());
    Ok(())
}

fn engine_error(error: &EngineError) -> i32 {
    print_error_chain(error);
    if matches!(error, EngineError::NoBackend) {
        say!("hint: build with the default `candle` feature");
    }
    if matches!(error, EngineError::Secret { .. }) {
        return exit_code::USAGE;
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
            say!(
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
        say!("error: --service-time-ms must be a finite number of milliseconds ≥ 0");
        return exit_code::USAGE;
    }
    config.service_time = std::time::Duration::from_secs_f64(args.service_time_ms / 1000.0);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            say!("error: cannot start the async runtime: {error}");
            return exit_code::BUG;
        }
    };
    let name = config.model_name.clone();
    let result: Result<(), stressor_serve::ServeError> = runtime.block_on(async move {
        let model: std::sync::Arc<dyn stressor_model::Model> = std::sync::Arc::from(model);
        let server = stressor_serve::Server::bind(args.addr, model, config).await?;
        say!(
            "stressor: serving `{name}` on http://{addr}/v2/models/{name}/infer (Ctrl-C stops)",
            addr = server.local_addr()
        );
        shutdown_signal().await;
        say!("stressor: shutting down; finishing requests in flight");
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

/// `stressor proxy`: the Toxiproxy-compatible API and the proxies from --config/--upstream,
/// until Ctrl-C (or SIGTERM).
pub(crate) fn proxy(args: &ProxyArgs) -> i32 {
    use stressor_proxy::{ApiServer, Protocol, Proxy, ProxyConfig, ProxyError, Registry, Toxic};
    let mut configs = Vec::new();
    if let Some(path) = &args.config {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => {
                say!("error: cannot read {}: {error}", path.display());
                return exit_code::USAGE;
            }
        };
        let items = match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Array(items)) => items,
            Ok(_) => {
                say!("error: {}: a Toxiproxy config is a JSON array of proxies", path.display());
                return exit_code::USAGE;
            }
            Err(error) => {
                say!("error: {}: not JSON: {error}", path.display());
                return exit_code::USAGE;
            }
        };
        for (i, item) in items.iter().enumerate() {
            match Proxy::config_from_json(item) {
                Ok(config) => configs.push(config),
                Err(error) => {
                    say!("error: {}: proxy {i}: {error}", path.display());
                    return exit_code::USAGE;
                }
            }
        }
    }
    let mut toxics = Vec::new();
    if let Some(upstream) = &args.upstream {
        let Some(protocol) = Protocol::parse(&args.protocol) else {
            say!("error: --protocol must be auto, tcp or http, not `{}`", args.protocol);
            return exit_code::USAGE;
        };
        configs.push(ProxyConfig {
            name: args.name.clone(),
            listen: args.listen,
            upstream: upstream.clone(),
            enabled: true,
            protocol,
        });
        for text in &args.toxic {
            let parsed = serde_json::from_str::<serde_json::Value>(text)
                .map_err(|e| e.to_string())
                .and_then(|value| Toxic::from_json(&value).map_err(|e| e.to_string()));
            match parsed {
                Ok(toxic) => toxics.push(toxic),
                Err(error) => {
                    say!("error: --toxic `{text}`: {error}");
                    return exit_code::USAGE;
                }
            }
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            say!("error: cannot start the async runtime: {error}");
            return exit_code::BUG;
        }
    };
    let result: Result<(), ProxyError> = runtime.block_on(async move {
        let registry = Registry::new(Seed::new(args.seed), args.allow_host.clone());
        let api = ApiServer::bind(args.api, std::sync::Arc::clone(&registry)).await?;
        let single = args.upstream.as_ref().map(|_| args.name.clone());
        for config in configs {
            let proxy = match registry.create(config).await {
                Ok(proxy) => proxy,
                Err(error) => {
                    let _ = api.shutdown().await;
                    return Err(error);
                }
            };
            let config = proxy.config();
            if single.as_deref() == Some(config.name.as_str()) {
                for toxic in &toxics {
                    proxy.add_toxic(toxic.clone())?;
                }
            }
            say!(
                "stressor: proxy `{}` {} -> {} ({}){}",
                config.name,
                config.listen,
                config.upstream,
                config.protocol.name(),
                proxy.toxics().iter().map(|t| format!("; {t}")).collect::<String>()
            );
        }
        // Announced once the proxies exist, so a client that waits for this line finds them.
        say!("stressor: proxy API (Toxiproxy-compatible) on http://{}", api.local_addr());
        shutdown_signal().await;
        say!("stressor: stopping the proxies");
        api.shutdown().await
    });
    match result {
        Ok(()) => exit_code::PASS,
        Err(error @ (ProxyError::Invalid(_) | ProxyError::Exists(_) | ProxyError::Bind { .. })) => {
            print_error_chain(&error);
            exit_code::USAGE
        }
        Err(error) => {
            print_error_chain(&error);
            exit_code::BUG
        }
    }
}

/// `stressor drift`: per-column drift between two CSV or Parquet files; exit 1 when more
/// columns drifted than `--max-drifted`.
pub(crate) fn drift(args: &DriftArgs) -> i32 {
    use stressor_drift::Correction;
    use stressor_tabular::Table;
    let correction = match args.correction.as_str() {
        "none" => Correction::None,
        "bonferroni" => Correction::Bonferroni,
        "holm" => Correction::Holm,
        "bh" => Correction::BenjaminiHochberg,
        "by" => Correction::BenjaminiYekutieli,
        other => {
            say!("error: --correction must be none, bonferroni, holm, bh or by, not `{other}`");
            return exit_code::USAGE;
        }
    };
    if !(args.alpha > 0.0 && args.alpha < 1.0) {
        say!("error: --alpha must lie strictly between 0 and 1");
        return exit_code::USAGE;
    }
    let reference = match Table::read(&args.reference) {
        Ok(table) => table,
        Err(error) => {
            print_error_chain(&error);
            return exit_code::TARGET_UNUSABLE;
        }
    };
    // The reference's statistics once; the current file whole, or in chunks when asked.
    let compared = stressor_drift::compare::Reference::new(&reference)
        .map_err(|e| e.to_string())
        .and_then(|sketch| match args.chunk_rows {
            Some(rows) => {
                let mut acc = sketch.accumulator();
                let rows = usize::try_from(rows).unwrap_or(usize::MAX);
                stressor_tabular::for_each_chunk(&args.current, rows, &sketch.kinds(), |chunk| {
                    acc.push(&chunk).map_err(|e| stressor_tabular::TableError::Shape(e.to_string()))
                })
                .map_err(|e| e.to_string())?;
                let drifts = acc.finish(correction, args.alpha).map_err(|e| e.to_string())?;
                Ok((drifts, acc.rows(), None))
            }
            None => {
                let current = Table::read(&args.current).map_err(|e| e.to_string())?;
                let drifts =
                    sketch.compare(&current, correction, args.alpha).map_err(|e| e.to_string())?;
                Ok((drifts, current.rows, Some(current)))
            }
        });
    let (drifts, current_rows, current) = match compared {
        Ok(compared) => compared,
        Err(error) => {
            say!("error: {error}");
            return exit_code::TARGET_UNUSABLE;
        }
    };
    let n_drifted = drifts.iter().filter(|d| d.drifted).count();
    let multivariate = if let (true, Some(current)) = (args.multivariate, &current) {
        match multivariate_tests(&reference, current, args) {
            Ok(tests) => Some(tests),
            Err(error) => {
                say!("error: multivariate tests: {error}");
                return exit_code::TARGET_UNUSABLE;
            }
        }
    } else {
        None
    };
    let multivariate_drift =
        multivariate.is_some_and(|(m, d)| m.pvalue < args.alpha || d.pvalue < args.alpha);
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        let columns: Vec<serde_json::Value> = drifts
            .iter()
            .map(|d| {
                serde_json::json!({
                    "column": d.column, "kind": d.kind, "test": d.test, "statistic": d.statistic,
                    "pvalue": d.pvalue, "pvalue_adjusted": d.pvalue_adjusted, "psi": d.psi,
                    "jensen_shannon": d.jensen_shannon, "hellinger": d.hellinger, "wasserstein": d.wasserstein,
                    "missing_reference": d.missing.0, "missing_current": d.missing.1, "drifted": d.drifted,
                })
            })
            .collect();
        let report = serde_json::json!({
            "reference": {"path": args.reference.display().to_string(), "rows": reference.rows},
            "current": {"path": args.current.display().to_string(), "rows": current_rows},
            "alpha": args.alpha, "correction": args.correction, "drifted": n_drifted,
            "max_drifted": args.max_drifted, "columns": columns,
            "multivariate": multivariate.map(|(m, d)| serde_json::json!({
                "rows_each": args.multivariate_rows, "seed": args.seed,
                "mmd": {"mmd2": m.mmd2, "pvalue": m.pvalue, "bandwidth": m.bandwidth, "permutations": m.permutations},
                "domain_classifier": {"auroc": d.auroc, "pvalue": d.pvalue, "folds": d.folds},
                "drifted": multivariate_drift,
            })),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&report).unwrap_or_default())
    } else {
        let mut text = format!(
            "reference {} rows, current {} rows, correction {}, alpha {}\n{:<20} {:<10} {:>10} {:>10} {:>10} {:>8} {:>8} {:>8} {:>10}  drifted\n",
            reference.rows,
            current_rows,
            args.correction,
            args.alpha,
            "column",
            "test",
            "statistic",
            "p",
            "p adj",
            "PSI",
            "JS",
            "Hellinger",
            "W1"
        );
        for d in &drifts {
            text.push_str(&format!(
                "{:<20} {:<10} {:>10.4} {:>10.3e} {:>10.3e} {:>8.4} {:>8.4} {:>8.4} {:>10}  {}\n",
                d.column,
                d.test,
                d.statistic,
                d.pvalue,
                d.pvalue_adjusted,
                d.psi,
                d.jensen_shannon,
                d.hellinger,
                d.wasserstein.map_or("-".to_string(), |w| format!("{w:.4}")),
                if d.drifted { "DRIFT" } else { "" }
            ));
        }
        if let Some((m, d)) = multivariate {
            text.push_str(&format!(
                "multivariate (up to {} rows each): MMD² {:.4} (σ {:.3}), permutation p {:.4} ({} permutations); domain classifier AUROC {:.3}, p {:.2e}{}\n",
                args.multivariate_rows,
                m.mmd2,
                m.bandwidth,
                m.pvalue,
                m.permutations,
                d.auroc,
                d.pvalue,
                if multivariate_drift { "  DRIFT" } else { "" }
            ));
        }
        text.push_str(&format!(
            "{n_drifted} of {} columns drifted (gate: at most {})\n",
            drifts.len(),
            args.max_drifted
        ));
        write!(out, "{text}")
    };
    if written.is_err() {
        return exit_code::BUG;
    }
    if n_drifted > args.max_drifted || multivariate_drift {
        exit_code::GATES_FAILED
    } else {
        exit_code::PASS
    }
}

/// MMD and the domain classifier on up to `--multivariate-rows` seeded rows of each table,
/// every column encoded as the reference's encoder does it (standardised numbers, one-hot
/// categories).
fn multivariate_tests(
    reference: &stressor_tabular::Table,
    current: &stressor_tabular::Table,
    args: &DriftArgs,
) -> Result<
    (stressor_drift::multivariate::MmdResult, stressor_drift::multivariate::DomainClassifierResult),
    String,
> {
    use rand::seq::index::sample;
    let seed = Seed::new(args.seed);
    let names: Vec<String> = reference.columns.iter().map(|(n, _)| n.clone()).collect();
    let encoder = stressor_tabular::Encoder::fit(reference, &names).map_err(|e| e.to_string())?;
    let subsample = |table: &stressor_tabular::Table, label: &str| {
        let k = args.multivariate_rows.min(table.rows);
        let mut rows = sample(&mut seed.derive(label).rng(), table.rows, k).into_vec();
        rows.sort_unstable();
        encoder.transform(&table.take(&rows)).map_err(|e| e.to_string())
    };
    let (a, b) = (subsample(reference, "reference")?, subsample(current, "current")?);
    let mmd = stressor_drift::multivariate::mmd(&a, &b, None, 500, seed.derive("mmd"))
        .map_err(|e| e.to_string())?;
    let classifier =
        stressor_drift::multivariate::domain_classifier(&a, &b, 5, seed.derive("classifier"))
            .map_err(|e| e.to_string())?;
    Ok((mmd, classifier))
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

/// A load gate from the command line: `metric<value` or `metric>value`.
struct LoadGate {
    text: String,
    metric: String,
    at_most: bool,
    threshold: f64,
}

const LOAD_METRICS: &[&str] =
    &["p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "error_rate", "throughput", "accuracy"];

fn parse_load_gate(text: &str) -> Result<LoadGate, String> {
    let (metric, at_most, value) = if let Some((m, v)) = text.split_once("<=") {
        (m, true, v)
    } else if let Some((m, v)) = text.split_once(">=") {
        (m, false, v)
    } else if let Some((m, v)) = text.split_once('<') {
        (m, true, v)
    } else if let Some((m, v)) = text.split_once('>') {
        (m, false, v)
    } else {
        return Err(format!("gate `{text}` is not METRIC<VALUE or METRIC>VALUE"));
    };
    let metric = metric.trim().to_string();
    if !LOAD_METRICS.contains(&metric.as_str()) {
        return Err(format!(
            "gate `{text}`: unknown metric `{metric}` (known: {})",
            LOAD_METRICS.join(", ")
        ));
    }
    let threshold: f64 = value
        .trim()
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| format!("gate `{text}`: `{}` is not a number", value.trim()))?;
    Ok(LoadGate { text: text.to_string(), metric, at_most, threshold })
}

fn load_metric(report: &stressor_load::LoadReport, metric: &str) -> Option<f64> {
    match metric {
        "p50_ms" => report.latency_ms(0.5),
        "p90_ms" => report.latency_ms(0.9),
        "p99_ms" => report.latency_ms(0.99),
        "p999_ms" => report.latency_ms(0.999),
        "max_ms" => report.latency_ms(1.0),
        "error_rate" => Some(report.error_rate()),
        "throughput" => Some(report.throughput()),
        "accuracy" => (report.checked > 0).then(|| report.correct as f64 / report.checked as f64),
        _ => None,
    }
}

/// `stressor load`: runs the profile and prints the result; gates decide the exit code.
pub(crate) fn load(args: &LoadArgs) -> i32 {
    use stressor_load::{LoadConfig, Profile};
    let gates: Vec<LoadGate> = match args.gate.iter().map(|g| parse_load_gate(g)).collect() {
        Ok(gates) => gates,
        Err(message) => {
            say!("error: {message}");
            return exit_code::USAGE;
        }
    };
    let profile = match (args.users, args.rate, args.stage.is_empty()) {
        (Some(users), _, _) => Profile::Closed { users, duration: args.duration },
        (None, Some(rate), _) if rate.is_finite() && rate > 0.0 => {
            Profile::constant(rate, args.duration)
        }
        (None, Some(rate), _) => {
            say!("error: --rate must be a positive number of requests per second, got {rate}");
            return exit_code::USAGE;
        }
        (None, None, false) => Profile::Open { stages: args.stage.clone() },
        (None, None, true) => {
            say!(
                "error: give --rate (open model), --stage (open model, repeatable) or --users (closed model)"
            );
            return exit_code::USAGE;
        }
    };
    let mut headers = Vec::new();
    for header in &args.header {
        let parsed = header.split_once(':').and_then(|(name, value)| {
            let name = hyper_header_name(name.trim())?;
            let value = hyper_header_value(value.trim())?;
            Some((name, value))
        });
        match parsed {
            Some(pair) => headers.push(pair),
            None => {
                say!("error: header `{header}` is not `Name: value`");
                return exit_code::USAGE;
            }
        }
    }
    let (bodies, labels) = match (&args.body, args.infer_samples) {
        (Some(path), _) => match std::fs::read(path) {
            Ok(bytes) => (vec![bytes.into()], Vec::new()),
            Err(error) => {
                say!("error: cannot read body file {}: {error}", path.display());
                return exit_code::USAGE;
            }
        },
        (None, Some(n)) => {
            let split = stressor_data::fashion_mnist::Split::Test;
            match stressor_data::fashion_mnist::load(split, Some(n.max(1))) {
                Ok(data) => (stressor_load::oip::infer_bodies(&data), data.labels.clone()),
                Err(error) => {
                    print_error_chain(&error);
                    return exit_code::BUG;
                }
            }
        }
        (None, None) if !args.chat.is_empty() => {
            let options = stressor_model::http::ChatOptions::default();
            let bodies = args
                .chat
                .iter()
                .map(|prompt| {
                    let messages = [stressor_model::http::ChatMessage::user(prompt.clone())];
                    stressor_model::http::chat_request(&args.chat_model, &messages, &options)
                })
                .collect();
            (bodies, Vec::new())
        }
        (None, None) => (Vec::new(), Vec::new()),
    };
    let chat = !args.chat.is_empty();
    let method = match &args.method {
        Some(method) => match method.to_ascii_uppercase().parse::<stressor_load::Method>() {
            Ok(method) => method,
            Err(_) => {
                say!("error: `{method}` is not an HTTP method");
                return exit_code::USAGE;
            }
        },
        None if bodies.is_empty() => stressor_load::Method::GET,
        None => stressor_load::Method::POST,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            say!("error: cannot start the async runtime: {error}");
            return exit_code::BUG;
        }
    };
    let result = runtime.block_on(async {
        let target = stressor_load::Target::resolve(&args.url, args.allow_host.as_deref()).await?;
        let mut config = LoadConfig::new(target, profile);
        config.method = method;
        config.headers = headers;
        config.bodies = bodies;
        config.connections = args.connections;
        config.timeout = args.timeout;
        say!(
            "stressor: loading {} for {:.1} s ({} connections{})",
            args.url,
            config.profile.duration().as_secs_f64(),
            config.connections,
            if labels.is_empty() {
                String::new()
            } else {
                format!(", checking {} labels", labels.len())
            }
        );
        let metrics = match args.metrics_addr {
            Some(addr) => {
                let live = std::sync::Arc::new(stressor_load::LiveStats::default());
                config.live = Some(std::sync::Arc::clone(&live));
                let render = std::sync::Arc::new(move || live.to_prometheus());
                match stressor_serve::MetricsServer::bind(addr, render).await {
                    Ok(server) => {
                        say!("stressor: metrics on http://{}/metrics", server.local_addr());
                        Some(server)
                    }
                    Err(error) => {
                        print_error_chain(&error);
                        return Err(stressor_load::LoadError::Config(
                            "the metrics endpoint could not start".into(),
                        ));
                    }
                }
            }
            None => None,
        };
        let check: std::sync::Arc<stressor_load::ResponseCheck> = if chat {
            std::sync::Arc::new(|_, body: &[u8]| {
                stressor_model::http::parse_chat_reply(body)
                    .map(|_| None)
                    .map_err(|_| stressor_load::UnreadableBody)
            })
        } else if labels.is_empty() {
            std::sync::Arc::new(|_, _: &[u8]| Ok(None))
        } else {
            std::sync::Arc::new(move |i, body: &[u8]| {
                stressor_load::oip::check_label(&labels, i, body)
            })
        };
        let report = stressor_load::run(config, check).await;
        if let Some(metrics) = metrics {
            let _ = metrics.shutdown().await;
        }
        report
    });
    let report = match result {
        Ok(report) => report,
        Err(error) => {
            print_error_chain(&error);
            return exit_code::USAGE;
        }
    };
    let outcomes: Vec<(&LoadGate, Option<f64>, bool)> = gates
        .iter()
        .map(|gate| {
            let observed = load_metric(&report, &gate.metric);
            let passed = observed.is_some_and(|v| {
                if gate.at_most { v <= gate.threshold } else { v >= gate.threshold }
            });
            (gate, observed, passed)
        })
        .collect();
    let mut code = if outcomes.iter().all(|(_, _, passed)| *passed) {
        exit_code::PASS
    } else {
        exit_code::GATES_FAILED
    };
    if let Some(path) = &args.junit {
        let xml = load_junit(&args.url, &report, &outcomes);
        if let Err(error) = xml.and_then(|xml| {
            std::fs::write(path, xml).map_err(|e| format!("cannot write {}: {e}", path.display()))
        }) {
            say!("error: {error}");
            code = exit_code::USAGE;
        }
    }
    let mut stdout = std::io::stdout().lock();
    let text = if args.json {
        load_json(&report, &outcomes).to_string() + "\n"
    } else {
        load_text(&report, &outcomes)
    };
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
    code
}

/// The load gates as JUnit XML: one test suite named after the URL, one case per gate.
fn load_junit(
    url: &str,
    report: &stressor_load::LoadReport,
    gates: &[(&LoadGate, Option<f64>, bool)],
) -> Result<String, String> {
    use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new(format!("load {url}"));
    suite.add_properties([
        Property::new("requests", report.requests.to_string()),
        Property::new("error_rate", format!("{:.6}", report.error_rate())),
    ]);
    suite.set_time(report.elapsed);
    for (gate, observed, passed) in gates {
        let observed_text = observed.map_or_else(|| "nothing".to_string(), |v| format!("{v:.6}"));
        let status = if *passed {
            TestCaseStatus::success()
        } else {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status
                .set_message(format!("{} failed: observed {observed_text}", gate.text))
                .set_type("gate");
            status
        };
        let mut case = TestCase::new(gate.text.as_str(), status);
        case.set_classname("load.gates");
        case.add_property(Property::new("observed", observed_text));
        suite.add_test_case(case);
    }
    let mut junit = Report::new("stressor");
    junit.set_time(report.elapsed);
    junit.add_test_suite(suite);
    junit.to_string().map_err(|error| format!("cannot render JUnit XML: {error}"))
}

fn hyper_header_name(name: &str) -> Option<stressor_load::HeaderName> {
    stressor_load::HeaderName::from_bytes(name.as_bytes()).ok()
}

fn hyper_header_value(value: &str) -> Option<stressor_load::HeaderValue> {
    stressor_load::HeaderValue::from_str(value).ok()
}

fn load_text(
    report: &stressor_load::LoadReport,
    gates: &[(&LoadGate, Option<f64>, bool)],
) -> String {
    let ms = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.2} ms"));
    let mut text = format!(
        "requests {}  ok {}  errors {} ({:.2} %)  throughput {:.1}/s  elapsed {:.2} s\n",
        report.requests,
        report.ok,
        report.n_errors(),
        100.0 * report.error_rate(),
        report.throughput(),
        report.elapsed.as_secs_f64()
    );
    text.push_str("latency from intended start (coordinated omission corrected)\n");
    for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999), ("max", 1.0)] {
        text.push_str(&format!(
            "  {name:<6} {:>12}   (from send: {})\n",
            ms(report.latency_ms(q)),
            ms(report.service_latency_ms(q))
        ));
    }
    if report.checked > 0 {
        text.push_str(&format!(
            "accuracy {:.4} ({} of {} answers checked)\n",
            report.correct as f64 / report.checked as f64,
            report.correct,
            report.checked
        ));
    }
    if !report.errors.is_empty() {
        let kinds: Vec<String> =
            report.errors.iter().map(|(kind, n)| format!("{} {n}", kind.name())).collect();
        text.push_str(&format!("errors   {}\n", kinds.join("  ")));
    }
    for (gate, observed, passed) in gates {
        text.push_str(&format!(
            "  {}  {}   observed {}\n",
            if *passed { "PASS" } else { "FAIL" },
            gate.text,
            observed.map_or_else(|| "nothing".to_string(), |v| format!("{v:.4}"))
        ));
    }
    text
}

fn load_json(
    report: &stressor_load::LoadReport,
    gates: &[(&LoadGate, Option<f64>, bool)],
) -> serde_json::Value {
    use serde_json::json;
    let seconds = |v: Option<f64>| v.map(|ms| ms / 1000.0);
    let percentiles = |corrected: bool| {
        let mut map = serde_json::Map::new();
        for (name, q) in [
            ("p10", 0.1),
            ("p25", 0.25),
            ("p50", 0.5),
            ("p75", 0.75),
            ("p90", 0.9),
            ("p95", 0.95),
            ("p99", 0.99),
            ("p99.9", 0.999),
            ("p99.99", 0.9999),
        ] {
            let v = if corrected { report.latency_ms(q) } else { report.service_latency_ms(q) };
            map.insert(name.to_string(), json!(seconds(v)));
        }
        serde_json::Value::Object(map)
    };
    let errors: serde_json::Map<String, serde_json::Value> =
        report.errors.iter().map(|(kind, n)| (kind.name(), json!(n))).collect();
    let timeline: Vec<serde_json::Value> = report
        .timeline
        .iter()
        .enumerate()
        .map(|(second, s)| {
            let p99 =
                (!s.latency.is_empty()).then(|| s.latency.value_at_quantile(0.99) as f64 / 1e6);
            json!({"second": second, "requests": s.requests, "ok": s.ok, "errors": s.errors,
                   "checked": s.checked, "correct": s.correct, "p99": p99})
        })
        .collect();
    json!({
        "summary": {
            "successRate": if report.requests == 0 { 0.0 } else { report.ok as f64 / report.requests as f64 },
            "total": report.elapsed.as_secs_f64(),
            "slowest": seconds(report.latency_ms(1.0)),
            "fastest": (!report.latency.is_empty()).then(|| report.latency.min() as f64 / 1e6),
            "average": (!report.latency.is_empty()).then(|| report.latency.mean() / 1e6),
            "requestsPerSec": report.throughput(),
            "totalData": report.bytes_received,
            "requests": report.requests,
            "errorRate": report.error_rate(),
        },
        "latencyPercentiles": percentiles(true),
        "uncorrectedLatencyPercentiles": percentiles(false),
        "errorDistribution": errors,
        "accuracy": (report.checked > 0).then(|| json!({"checked": report.checked, "correct": report.correct, "value": report.correct as f64 / report.checked as f64})),
        "timeline": timeline,
        "gates": gates.iter().map(|(gate, observed, passed)| json!({"gate": gate.text, "observed": observed, "passed": passed})).collect::<Vec<_>>(),
    })
}
