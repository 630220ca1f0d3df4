//! `stressor proxy`: the fault-injecting proxy and its Toxiproxy-compatible API.

use std::io::Write as _;

use stressor_core::Seed;
use stressor_schema::ExitCode as exit_code;

use crate::args::ProxyArgs;
use crate::output::{print_error_chain, say};
use crate::signal::shutdown_signal;

/// `stressor proxy`: the Toxiproxy-compatible API and the proxies from --config/--upstream,
/// until Ctrl-C (or SIGTERM).
pub(crate) fn run(args: &ProxyArgs) -> i32 {
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
