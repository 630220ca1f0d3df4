//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Stress testing and scenario analysis for AI systems.
///
/// Exit codes: 0 every gate held, 1 a gate failed, 2 bad scenario or usage, 3 target or data
/// unusable, 101 a bug in stressor.
#[derive(Debug, Parser)]
#[command(name = "stressor", version, about, long_about = None)]
pub(crate) struct Cli {
    /// More logging on stderr (-v info, -vv debug); `STRESSOR_LOG` takes a tracing filter.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a scenario and write report.json, report.html and junit.xml.
    Run(RunArgs),
    /// Validate a scenario and print the resolved plan, without running it.
    Check(CheckArgs),
    /// Run the built-in vision scenario on the embedded model and data.
    Demo(DemoArgs),
    /// Serve a model over the KServe V2 / Open Inference Protocol REST API.
    Serve(ServeArgs),
    /// Load an HTTP endpoint at an arrival rate (open model) or with N users (closed model).
    Load(LoadArgs),
    /// Run the fault-injecting proxy with its Toxiproxy-compatible API.
    Proxy(ProxyArgs),
    /// Compare two CSV or Parquet files column by column: which features drifted, and by how
    /// much.
    Drift(DriftArgs),
    /// Compute risk documents from reports: FMEA, risk register, business impact analysis,
    /// NIST AI RMF crosswalk and post-mortems, every number citing its report field.
    Risk(RiskArgs),
    /// Compare two reports of the same scenario: every metric with both intervals, the
    /// difference NEW − BASE and whether it is significant; gates on differences for CI.
    Compare(CompareArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RiskArgs {
    /// Reports written by `stressor run` or `stressor demo` (report.json), cited as r1, r2, …
    /// in this order.
    #[arg(required = true, value_name = "REPORT")]
    pub(crate) reports: Vec<PathBuf>,
    /// The business context: processes, revenue per hour, RTO/RPO targets, maximum tolerable
    /// downtime, owners, exposure and risk appetite (see docs/risk.md).
    #[arg(long, value_name = "FILE")]
    pub(crate) context: Option<PathBuf>,
    /// Where to write risk.md, risk.html, fmea.csv, register.csv and risk.json.
    #[arg(long, short, value_name = "DIR", default_value = "reports/risk")]
    pub(crate) out: PathBuf,
}

/// `stressor compare BASE NEW`.
///
/// Exit codes: 0 every gate held (or no gates), 1 a gate failed, 2 bad usage, a malformed gate
/// or reports of different scenarios, 3 a report that cannot be read.
#[derive(Debug, Args)]
pub(crate) struct CompareArgs {
    /// The baseline report.json (e.g. the last report of the main branch).
    #[arg(value_name = "BASE")]
    pub(crate) base: PathBuf,
    /// The new report.json, of the same scenario.
    #[arg(value_name = "NEW")]
    pub(crate) new: PathBuf,
    /// A gate on a difference NEW − BASE: `delta:<metric>.<step>[@<dial>] <op> <number>`, op
    /// one of > >= < <=, dial a number or a fraction (8/255); without @dial every point of the
    /// step must hold. Repeatable; a metric missing from either report fails its gate.
    #[arg(long = "gate", value_name = "GATE")]
    pub(crate) gates: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CompareFormat::Text)]
    pub(crate) format: CompareFormat,
    /// Write the output to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Show only metrics whose value changed (rows with a failed gate are always shown).
    #[arg(long)]
    pub(crate) only_changed: bool,
    /// Show only metrics whose difference is significant (rows with a failed gate are always
    /// shown).
    #[arg(long)]
    pub(crate) significant_only: bool,
    /// Compare reports of different scenarios (a warning instead of exit 2).
    #[arg(long)]
    pub(crate) allow_different_scenarios: bool,
}

/// The output formats of `stressor compare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum CompareFormat {
    /// An aligned table for terminals and logs.
    Text,
    /// GitHub-flavoured Markdown (a job summary, a merge-request comment).
    Markdown,
    /// The comparison as JSON.
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct DriftArgs {
    /// The reference data: Parquet (`.parquet`, `.pq`) or CSV with a header row.
    #[arg(long, value_name = "FILE")]
    pub(crate) reference: PathBuf,
    /// The current data, with the same columns (Parquet or CSV).
    #[arg(long, value_name = "FILE")]
    pub(crate) current: PathBuf,
    /// Significance level after the correction; a column below it has drifted.
    #[arg(long, default_value_t = 0.05)]
    pub(crate) alpha: f64,
    /// Multiple-testing correction across columns: none, bonferroni, holm, bh, by.
    #[arg(long, default_value = "bh")]
    pub(crate) correction: String,
    /// The gate: exit 1 when more columns than this drifted.
    #[arg(long, default_value_t = 0)]
    pub(crate) max_drifted: usize,
    /// Read the current file in chunks of this many rows, holding only the reference's
    /// statistics and one chunk: exact KS from counts, PSI, JS and χ²; no Wasserstein.
    #[arg(long, value_name = "ROWS", value_parser = clap::value_parser!(u64).range(1..), conflicts_with = "multivariate")]
    pub(crate) chunk_rows: Option<u64>,
    /// Also run the multivariate tests over whole rows: MMD (Gaussian kernel, permutation
    /// test) and a domain classifier; either below alpha also fails the gate.
    #[arg(long)]
    pub(crate) multivariate: bool,
    /// Rows drawn (seeded) from each file for the multivariate tests.
    #[arg(long, default_value_t = 1000, requires = "multivariate")]
    pub(crate) multivariate_rows: usize,
    /// Seed of the multivariate tests' subsamples, folds and permutations.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ProxyArgs {
    /// The Toxiproxy-compatible REST API address (loopback only; Toxiproxy's port is 8474).
    #[arg(long, default_value = "127.0.0.1:8474")]
    pub(crate) api: std::net::SocketAddr,
    /// Proxies to create at start: a Toxiproxy config file (a JSON array of
    /// {name, listen, upstream, enabled}).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Create one proxy at start to this upstream (host:port; loopback unless --allow-host).
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) upstream: Option<String>,
    /// The listen address of that proxy (port 0 picks one; printed on stderr).
    #[arg(long, default_value = "127.0.0.1:0", requires = "upstream")]
    pub(crate) listen: std::net::SocketAddr,
    /// The name of that proxy.
    #[arg(long, default_value = "proxy", requires = "upstream")]
    pub(crate) name: String,
    /// How that proxy reads connections: auto (HTTP when the client sends an HTTP request
    /// line), tcp or http.
    #[arg(long, default_value = "auto", requires = "upstream")]
    pub(crate) protocol: String,
    /// A toxic to add to that proxy at start, as the API's JSON (repeatable), e.g.
    /// '{"type":"latency","attributes":{"latency":100,"jitter":10}}'.
    #[arg(long, value_name = "JSON", requires = "upstream")]
    pub(crate) toxic: Vec<String>,
    /// The seed every random draw (toxicity, jitter, delays) derives from.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Allow upstreams on this host outside loopback.
    #[arg(long, value_name = "HOST")]
    pub(crate) allow_host: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct LoadArgs {
    /// The URL (http://host:port/path); only loopback unless --allow-host names the host.
    pub(crate) url: String,
    /// Requests per second (open model), for --duration.
    #[arg(long, conflicts_with_all = ["stage", "users"])]
    pub(crate) rate: Option<f64>,
    /// How long to run: 30s, 500ms, 2m.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub(crate) duration: std::time::Duration,
    /// An open-model stage, repeatable: DURATION@RATE or DURATION@FROM-TO (a ramp), e.g.
    /// `--stage 10s@50 --stage 5s@500 --stage 10s@50` for a 10× surge.
    #[arg(long, value_parser = parse_stage)]
    pub(crate) stage: Vec<stressor_load::Stage>,
    /// Closed model: this many users, each sending its next request when the answer arrives.
    #[arg(long)]
    pub(crate) users: Option<usize>,
    /// Connections (open model).
    #[arg(long, short, default_value_t = 32)]
    pub(crate) connections: usize,
    /// The HTTP method [default: POST with a body, else GET].
    #[arg(long, short = 'm')]
    pub(crate) method: Option<String>,
    /// A file whose contents are every request's body.
    #[arg(long, value_name = "FILE", conflicts_with = "infer_samples")]
    pub(crate) body: Option<PathBuf>,
    /// Open Inference Protocol bodies of this many embedded Fashion-MNIST test images (one
    /// per request, in turn); the returned labels are checked, so accuracy is measured too.
    #[arg(long, value_name = "N")]
    pub(crate) infer_samples: Option<usize>,
    /// OpenAI-compatible chat-completions bodies with this user prompt (repeatable: prompts in
    /// turn), for an LLM endpoint such as `http://127.0.0.1:8000/v1/chat/completions`; an
    /// answer without `choices[0].message.content` counts as `invalid_body`.
    #[arg(long, value_name = "PROMPT", conflicts_with_all = ["body", "infer_samples"])]
    pub(crate) chat: Vec<String>,
    /// The `model` field of --chat requests.
    #[arg(long, value_name = "NAME", default_value = "default", requires = "chat")]
    pub(crate) chat_model: String,
    /// An extra header, repeatable: `Name: value`.
    #[arg(long, short = 'H')]
    pub(crate) header: Vec<String>,
    /// Per-request timeout.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub(crate) timeout: std::time::Duration,
    /// Allow this non-loopback host.
    #[arg(long, value_name = "HOST")]
    pub(crate) allow_host: Option<String>,
    /// A gate, repeatable: METRIC<VALUE or METRIC>VALUE with METRIC one of p50_ms, p90_ms,
    /// p99_ms, p999_ms, max_ms, error_rate, throughput, accuracy. A failed gate exits with 1.
    #[arg(long)]
    pub(crate) gate: Vec<String>,
    /// Print the result as JSON (like oha's --json) instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    /// Also write the gates as JUnit XML to this file (one test case per gate).
    #[arg(long, value_name = "FILE")]
    pub(crate) junit: Option<PathBuf>,
    /// Expose live counters as Prometheus text on this loopback address during the run
    /// (`GET /metrics`; port 0 picks one, printed on stderr).
    #[arg(long, value_name = "ADDR")]
    pub(crate) metrics_addr: Option<std::net::SocketAddr>,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    stressor_load::parse_duration(text)
}

fn parse_stage(text: &str) -> Result<stressor_load::Stage, String> {
    stressor_load::Stage::parse(text)
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// `builtin` (the embedded Fashion-MNIST CNN, trained once and cached), a `.safetensors`
    /// file of its weights, or an `.onnx` image classifier (NCHW input in [0, 1]).
    #[arg(long, default_value = "builtin")]
    pub(crate) model: String,
    /// Serve the built-in recommender of this scenario's `[recommender]` instead of a model:
    /// `POST /recommend`, `POST /events`, `GET /health` (see docs/scenario.md).
    #[arg(long, value_name = "SCENARIO", conflicts_with = "model")]
    pub(crate) recommender: Option<PathBuf>,
    /// Serve the built-in chatbot (the CLINC150 intent classifier, trained once with
    /// --train-seed and cached) over OpenAI-compatible chat completions and `/v1/classify`
    /// instead of a model; replies carry `stressor.intent` and `stressor.confidence`.
    #[arg(long, conflicts_with_all = ["model", "recommender"])]
    pub(crate) chatbot: bool,
    /// With --chatbot: answers below this confidence hand off to a person.
    #[arg(long, default_value_t = 0.3, requires = "chatbot")]
    pub(crate) handoff_threshold: f32,
    /// With --recommender: the fallback policy, one of the scenario's [default:
    /// circuit-breaker when listed, else the first].
    #[arg(long, requires = "recommender")]
    pub(crate) policy: Option<String>,
    /// With --recommender: apply the scenario's faults on the wall clock, from the moment the
    /// server is up (bad model pushes excepted).
    #[arg(long, requires = "recommender")]
    pub(crate) faults: bool,
    /// The address to listen on; port 0 picks a free port (printed on stderr).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) addr: std::net::SocketAddr,
    /// The name the model is served under (`/v2/models/{name}`) [default: fashion-cnn for the
    /// built-in model, else the file stem].
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// The seed the built-in model is trained with.
    #[arg(long, default_value_t = 1)]
    pub(crate) train_seed: u64,
    /// Requests served at once [default: the number of CPUs].
    #[arg(long)]
    pub(crate) max_concurrency: Option<usize>,
    /// Requests waiting for a slot before the server answers 503.
    #[arg(long, default_value_t = 1024)]
    pub(crate) queue_limit: usize,
    /// Extra milliseconds every request holds its slot (models a slower model, so saturation
    /// shows: capacity is about max-concurrency / service time).
    #[arg(long, default_value_t = 0.0)]
    pub(crate) service_time_ms: f64,
    /// The largest request body in bytes (413 above it).
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    pub(crate) max_body_bytes: usize,
    /// The most samples per request (400 above it).
    #[arg(long, default_value_t = 1024)]
    pub(crate) max_batch: usize,
    /// Where trained built-in models are cached [env: STRESSOR_CACHE_DIR].
    #[arg(long, value_name = "DIR")]
    pub(crate) cache_dir: Option<PathBuf>,
}

/// Options shared by commands that run a scenario.
#[derive(Debug, Args)]
pub(crate) struct RunOptions {
    /// Directory for report.json, report.html and junit.xml.
    #[arg(long, short, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
    /// Override the scenario's seed.
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Where trained built-in models are cached [env: STRESSOR_CACHE_DIR] [default: the
    /// platform cache directory, e.g. ~/.cache/stressor].
    #[arg(long, value_name = "DIR")]
    pub(crate) cache_dir: Option<PathBuf>,
    /// Do not cache trained models.
    #[arg(long, conflicts_with = "cache_dir")]
    pub(crate) no_cache: bool,
    /// Hide progress bars.
    #[arg(long)]
    pub(crate) no_progress: bool,
    /// The most exemplars report.html shows per step, at its largest dial value (0: none;
    /// every chart and table stays). report.json keeps every exemplar.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub(crate) exemplars: usize,
    /// Print the summary as JSON (the report) instead of text.
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: Format,
    /// During a `[system]` run, serve live Prometheus metrics (load and proxy counters) on this
    /// loopback address (`GET /metrics`; port 0 picks one, printed on stderr).
    #[arg(long, value_name = "ADDR")]
    pub(crate) metrics_addr: Option<std::net::SocketAddr>,
    /// Serve a live dashboard of the run on this loopback address (`127.0.0.1:PORT` or
    /// `localhost:PORT`; port 0 picks one, printed on stderr): a chart per step and series of
    /// the live readings, the event log and the gates, streamed as server-sent events. Also
    /// writes dashboard.ndjson (every event) and dashboard.html (the run, replayable offline)
    /// beside the reports.
    #[arg(long, value_name = "ADDR", value_parser = parse_dashboard_addr)]
    pub(crate) dashboard: Option<std::net::SocketAddr>,
    /// With --dashboard: keep serving the page this long after the run ends, for late viewers
    /// (30s, 10m; Ctrl-C stops early) [default: 1s].
    #[arg(long, value_name = "DURATION", requires = "dashboard", value_parser = parse_duration)]
    pub(crate) dashboard_linger: Option<std::time::Duration>,
    /// Seeds a war game plays per blue team (overrides `wargame.seeds`): every figure then
    /// has an interval across seeds.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub(crate) seeds: Option<u64>,
}

/// An IP address and port, or `localhost:PORT` for 127.0.0.1 (whether the address is loopback
/// is checked when the dashboard starts, with a hint).
fn parse_dashboard_addr(text: &str) -> Result<std::net::SocketAddr, String> {
    let text = text
        .strip_prefix("localhost:")
        .map_or_else(|| text.to_string(), |port| format!("127.0.0.1:{port}"));
    text.parse().map_err(|_| format!("`{text}` is not an address and port such as 127.0.0.1:8080"))
}

/// Output formats for stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// A summary for people.
    Text,
    /// The JSON report.
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The scenario file (TOML).
    pub(crate) scenario: PathBuf,
    #[command(flatten)]
    pub(crate) options: RunOptions,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The scenario file (TOML).
    pub(crate) scenario: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    #[command(flatten)]
    pub(crate) options: RunOptions,
}
