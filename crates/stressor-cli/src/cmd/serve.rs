//! `stressor serve`: serves a model over the Open Inference Protocol REST API, or with
//! `--recommender SCENARIO` that scenario's built-in recommender (`stressor_recsys::serve`), or
//! with `--chatbot` the built-in CLINC150 chatbot (`stressor_serve::chat::ChatServer`).

use std::io::Write as _;
use std::path::Path;

use stressor_core::Seed;
use stressor_scenario::EngineConfig;
use stressor_schema::ExitCode as exit_code;

use crate::args::ServeArgs;
use crate::output::{engine_error, plan_name, print_error_chain, resolve_cache_dir, say};
use crate::progress::ProgressSink;
use crate::signal::shutdown_signal;

/// `stressor serve`: loads the model, serves it until Ctrl-C (or SIGTERM), then drains.
pub(crate) fn run(args: &ServeArgs) -> i32 {
    use stressor_scenario::target::{Architecture, OnnxInput, TargetPlan};
    if let Some(scenario) = &args.recommender {
        return recommender(args, scenario);
    }
    if args.chatbot {
        return chatbot(args);
    }
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

/// `stressor serve --recommender`: builds the scenario's recommender (world, warm-up, training),
/// serves it until Ctrl-C (or SIGTERM).
fn recommender(args: &ServeArgs, path: &Path) -> i32 {
    let scenario = match stressor_scenario::load(path, crate::families::FAMILIES) {
        Ok(scenario) => scenario,
        Err(error) => return crate::output::scenario_error(&error),
    };
    let Some(plan) = scenario.part::<stressor_recsys::RecsysPlan>() else {
        say!("error: {} has no [recommender] section to serve", path.display());
        return exit_code::USAGE;
    };
    let policy = match stressor_recsys::serve::policy(plan, args.policy.as_deref()) {
        Ok(policy) => policy,
        Err(message) => {
            say!("error: {message}");
            return exit_code::USAGE;
        }
    };
    // The Redis store's proxy runs on a runtime of its own, apart from the one serving.
    let runtime = |threads| {
        tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()
    };
    let (proxy_runtime, runtime) = match (runtime(1), runtime(2)) {
        (Ok(a), Ok(b)) => (std::sync::Arc::new(a), b),
        (Err(error), _) | (_, Err(error)) => {
            say!("error: cannot start the async runtime: {error}");
            return exit_code::BUG;
        }
    };
    say!("stressor: building the recommender (world, warm-up traffic, BPR training)");
    let endpoint = match stressor_recsys::serve::Endpoint::build(
        plan,
        policy,
        args.faults,
        scenario.seed,
        &proxy_runtime,
    ) {
        Ok(endpoint) => std::sync::Arc::new(endpoint),
        Err(error) => {
            print_error_chain(&error);
            return exit_code::TARGET_UNUSABLE;
        }
    };
    let serving = std::sync::Arc::clone(&endpoint);
    let result: std::io::Result<()> = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr).await?;
        say!(
            "stressor: serving the {} on http://{}/recommend (Ctrl-C stops)",
            serving.description,
            listener.local_addr()?
        );
        stressor_recsys::serve::serve(listener, serving, shutdown_signal()).await
    });
    // The last handle goes here, outside the serving runtime: a Redis store's proxy stops on
    // its own runtime.
    drop(runtime);
    drop(endpoint);
    match result {
        Ok(()) => exit_code::PASS,
        Err(error) => {
            say!("error: cannot serve on {}: {error}", args.addr);
            exit_code::USAGE
        }
    }
}

/// `stressor serve --chatbot`: serves the built-in CLINC150 chatbot until Ctrl-C (or SIGTERM).
fn chatbot(args: &ServeArgs) -> i32 {
    use stressor_serve::chat::{ChatServeConfig, ChatServer};
    if !(args.service_time_ms.is_finite() && args.service_time_ms >= 0.0) {
        say!("error: --service-time-ms must be a finite number of milliseconds ≥ 0");
        return exit_code::USAGE;
    }
    let cache_dir = resolve_cache_dir(args.cache_dir.as_deref());
    say!("stressor: loading the built-in chatbot (trained on CLINC150 at first use, then cached)");
    let model = match stressor_chatbot::builtin_clinc150(cache_dir, Seed::new(args.train_seed)) {
        Ok(model) => model,
        Err(error) => {
            crate::output::print_error_chain(&error);
            return exit_code::TARGET_UNUSABLE;
        }
    };
    let mut config = ChatServeConfig::default();
    config.model_name = args.name.clone().unwrap_or_else(|| "chatbot".to_string());
    config.max_body_bytes = args.max_body_bytes;
    config.max_batch = args.max_batch;
    config.queue_limit = args.queue_limit;
    config.handoff_threshold = args.handoff_threshold;
    if let Some(n) = args.max_concurrency {
        config.max_concurrency = n;
    }
    config.service_time = std::time::Duration::from_secs_f64(args.service_time_ms / 1000.0);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            say!("error: cannot start the async runtime: {error}");
            return exit_code::BUG;
        }
    };
    let result: Result<(), stressor_serve::ServeError> = runtime.block_on(async move {
        let model: std::sync::Arc<dyn stressor_intent::IntentModel> = std::sync::Arc::new(model);
        let server = ChatServer::bind(args.addr, model, config).await?;
        say!(
            "stressor: serving the built-in chatbot on http://{}/v1/chat/completions (Ctrl-C stops)",
            server.local_addr()
        );
        shutdown_signal().await;
        say!("stressor: shutting down; finishing requests in flight");
        server.shutdown().await
    });
    match result {
        Ok(()) => exit_code::PASS,
        Err(
            error @ (stressor_serve::ServeError::Bind { .. }
            | stressor_serve::ServeError::Config(_)),
        ) => {
            print_error_chain(&error);
            exit_code::USAGE
        }
        Err(error) => {
            print_error_chain(&error);
            exit_code::TARGET_UNUSABLE
        }
    }
}
