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
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// `builtin` (the embedded Fashion-MNIST CNN, trained once and cached), a `.safetensors`
    /// file of its weights, or an `.onnx` image classifier (NCHW input in [0, 1]).
    #[arg(long, default_value = "builtin")]
    pub(crate) model: String,
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
    /// Print the summary as JSON (the report) instead of text.
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: Format,
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
