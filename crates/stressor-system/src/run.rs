//! The systems run: serve the target (or use an `http` target), put the fault proxy in front,
//! run the load profile while the fault schedule runs, and turn the per-second measurements
//! into metrics, windows and recovery times.

use std::sync::Arc;

use stressor_core::{
    Clock, Dataset, Estimate, Event, EventSink, MetricValue, Seed, StepInfo, StepKind, StepResult,
    Timeline, TimelinePoint, TimelineWindow, WindowKind,
};
use stressor_load::recovery::{baseline_range, recoveries, surge_windows};
use stressor_load::{LoadConfig, LoadReport, Profile};
use stressor_model::Model;
use stressor_proxy::{Protocol, Proxy, ProxyConfig};

use stressor_scenario::target::TargetPlan;
use stressor_scenario::{EngineConfig, EngineError};

use crate::live::LiveReadings;
use crate::plan::SystemPlan;

/// Why the systems run could not start (the server, proxy or load generator).
#[derive(Debug, thiserror::Error)]
#[error("system run: {reason}")]
pub struct SystemError {
    /// What went wrong.
    pub reason: String,
}

fn system_error(reason: impl Into<String>) -> EngineError {
    EngineError::Family(Box::new(SystemError { reason: reason.into() }))
}

/// Runs the systems step and reports it (timeline first, then the step).
#[expect(clippy::too_many_arguments, reason = "the run's context, passed through")]
pub(crate) fn run_system(
    config: &EngineConfig,
    plan: &SystemPlan,
    target: Option<&TargetPlan>,
    served: Option<Arc<dyn Model>>,
    data: &Dataset,
    seed: Seed,
    clock: &dyn Clock,
    sink: &mut dyn EventSink,
) -> Result<StepResult, EngineError> {
    let started = clock.elapsed();
    let info = StepInfo {
        id: SystemPlan::STEP_ID.into(),
        kind: StepKind::System,
        description: describe(plan, target),
        dial_name: None,
        dial_values: Vec::new(),
    };
    sink.event(&Event::StepStarted(info.clone()));
    let n = plan.samples.min(data.len()).max(1);
    let sample: Vec<usize> = (0..n.min(data.len())).collect();
    let subset = data.select(&sample);
    let bodies = stressor_load::oip::infer_bodies(&subset);
    let labels = subset.labels.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| system_error(format!("cannot start the async runtime: {e}")))?;
    let outcome = runtime.block_on(async {
        // Where the model is: our own server for a local target, the URL of an `http` one.
        let (server, upstream, path, allow) = match target {
            Some(TargetPlan::Http { url, name, .. }) => {
                let rest = url.trim_start_matches("http://");
                let host_port = rest.split('/').next().unwrap_or(rest).to_string();
                let host = host_port.rsplit_once(':').map_or(host_port.as_str(), |(h, _)| h).to_string();
                (None, host_port, format!("/v2/models/{name}/infer"), Some(host))
            }
            _ => {
                let model = served.ok_or_else(|| {
                    system_error("the systems run serves the scenario's own target; a model passed to run_with cannot be served")
                })?;
                let mut serve_config = stressor_serve::ServeConfig::default();
                serve_config.model_name = "model".into();
                serve_config.queue_limit = plan.queue_limit;
                serve_config.service_time = plan.service_time;
                if let Some(slots) = plan.max_concurrency {
                    serve_config.max_concurrency = slots;
                }
                let server =
                    stressor_serve::Server::bind(([127, 0, 0, 1], 0).into(), model, serve_config)
                    .await
                    .map_err(|e| system_error(format!("cannot serve the target: {e}")))?;
                let addr = server.local_addr();
                (Some(server), addr.to_string(), "/v2/models/model/infer".to_string(), None)
            }
        };
        let proxy = if plan.proxy {
            let proxy_config = ProxyConfig {
                name: "system".into(),
                listen: ([127, 0, 0, 1], 0).into(),
                upstream: upstream.clone(),
                enabled: true,
                protocol: Protocol::Http,
            };
            Some(
                Proxy::start(proxy_config, seed.derive("system/proxy"), allow.clone())
                    .await
                    .map_err(|e| system_error(format!("cannot start the proxy: {e}")))?,
            )
        } else {
            None
        };
        let front = proxy.as_ref().map_or(upstream.clone(), |p| p.listen_addr().to_string());
        let url = format!("http://{front}{path}");
        let load_target = stressor_load::Target::resolve(&url, allow.as_deref())
            .await
            .map_err(|e| system_error(format!("{url}: {e}")))?;
        let mut load_config = LoadConfig::new(load_target, plan.profile.clone());
        load_config.method = stressor_load::Method::POST;
        load_config.bodies = bodies;
        load_config.connections = plan.connections;
        load_config.timeout = plan.timeout;
        // Live counters for the once-a-second readings (and Prometheus when asked for).
        let live = Arc::new(stressor_load::LiveStats::default());
        let check: Arc<stressor_load::ResponseCheck> =
            Arc::new(move |index, body| {
                stressor_load::oip::check_label(&labels, index, body).map(stressor_load::Checked::from)
            });
        // Prometheus text of the same counters while the load runs.
        let mut metrics_server = None;
        if let Some(addr) = config.metrics_addr {
            let live = Arc::clone(&live);
            let proxies: Vec<Arc<Proxy>> = proxy.iter().cloned().collect();
            let render = Arc::new(move || live.to_prometheus() + &stressor_proxy::prometheus(&proxies));
            let server = stressor_serve::MetricsServer::bind(addr, render)
                .await
                .map_err(|e| system_error(format!("cannot serve metrics on {addr}: {e}")))?;
            sink.event(&Event::Endpoint {
                name: "metrics".into(),
                url: format!("http://{}/metrics", server.local_addr()),
            });
            metrics_server = Some(server);
        }
        load_config.live = Some(Arc::clone(&live));
        let t0 = tokio::time::Instant::now();
        let schedule = async {
            match &proxy {
                Some(proxy) if !plan.faults.is_empty() => {
                    stressor_proxy::schedule::run(Arc::clone(proxy), plan.faults.clone(), t0, plan.profile.duration()).await
                }
                _ => Vec::new(),
            }
        };
        let work = async { tokio::join!(schedule, stressor_load::run(load_config, check)) };
        tokio::pin!(work);
        // One reading a second while the load runs, and a last one when it ends.
        let mut readings = LiveReadings::new(plan);
        let second = std::time::Duration::from_secs(1);
        let mut ticker = tokio::time::interval_at(t0 + second, second);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (windows, report) = loop {
            tokio::select! {
                done = &mut work => break done,
                _ = ticker.tick() => {
                    let sample = readings.read(live.snapshot(), t0.elapsed().as_secs_f64(), false);
                    sink.event(&Event::Live(sample));
                }
            }
        };
        let sample = readings.read(live.snapshot(), t0.elapsed().as_secs_f64(), true);
        sink.event(&Event::Live(sample));
        if let Some(server) = metrics_server {
            let _ = server.shutdown().await;
        }
        let faults = proxy.as_ref().map(|p| p.stats().faults()).unwrap_or_default();
        if let Some(proxy) = &proxy {
            proxy.stop().await;
        }
        if let Some(server) = server {
            let _ = server.shutdown().await;
        }
        let report = report.map_err(|e| system_error(e.to_string()))?;
        Ok::<_, EngineError>((report, windows, faults))
    })?;
    let (report, fault_windows, injected) = outcome;
    let mut windows: Vec<TimelineWindow> = fault_windows
        .iter()
        .map(|w| TimelineWindow {
            name: w.name.clone(),
            kind: WindowKind::Fault,
            detail: w.kind.clone(),
            start: w.start.as_secs_f64(),
            stop: w.stop.as_secs_f64(),
        })
        .collect();
    windows.extend(surge_windows(&plan.profile, plan.baseline_rate()));
    let mut seconds: Vec<TimelinePoint> = report
        .timeline
        .iter()
        .enumerate()
        .map(|(i, s)| TimelinePoint {
            t: i as f64,
            requests: s.requests,
            ok: s.ok,
            errors: s.errors,
            p99_ms: (!s.latency.is_empty())
                .then(|| s.latency.value_at_quantile(0.99) as f64 / 1000.0),
            checked: s.checked,
            correct: s.correct,
        })
        .collect();
    // The last arrival is due at the very end of the profile (arrivals are at k/rate), so it
    // opens a second of its own: count it in the profile's last second.
    let length = plan.profile.duration().as_secs_f64().ceil().max(1.0) as usize;
    while seconds.len() > length {
        if let Some(extra) = seconds.pop()
            && let Some(last) = seconds.last_mut()
        {
            last.requests += extra.requests;
            last.ok += extra.ok;
            last.errors += extra.errors;
            last.checked += extra.checked;
            last.correct += extra.correct;
        }
    }
    let baseline = baseline_range(&windows, seconds.len());
    let recoveries = recoveries(&seconds, &windows, baseline.clone(), &plan.recovery);
    let mut metrics = overall_metrics(&report);
    let mut named: Vec<(String, std::ops::Range<usize>)> = vec![("baseline".into(), baseline)];
    for window in &windows {
        // The seconds the window covers: it starts and stops on the schedule to within a few
        // milliseconds, so rounding keeps the seconds before and after it out.
        let range = (window.start.round() as usize).min(seconds.len())
            ..(window.stop.round() as usize).min(seconds.len());
        if !named.iter().any(|(name, _)| *name == window.name) {
            named.push((window.name.clone(), range));
        }
    }
    for (name, range) in &named {
        metrics.extend(stressor_load::recovery::window_metrics(&report, range.clone(), name));
    }
    let mut worst = Some(0.0f64);
    for recovery in &recoveries {
        let value = recovery.time_to_recover.unwrap_or(f64::INFINITY);
        metrics.push(metric(
            &format!("time_to_recover_s.{}", recovery.window),
            Estimate { value, n: 1, ci: None },
        ));
        worst = match (worst, recovery.time_to_recover) {
            (Some(w), Some(t)) => Some(w.max(t)),
            _ => None,
        };
    }
    if !recoveries.is_empty() {
        metrics.push(metric(
            "time_to_recover_s",
            Estimate {
                value: worst.unwrap_or(f64::INFINITY),
                n: recoveries.len() as u64,
                ci: None,
            },
        ));
    }
    sink.event(&Event::Timeline(Timeline {
        step_id: SystemPlan::STEP_ID.into(),
        seconds,
        windows,
        recoveries,
    }));
    let mut parameters = vec![
        ("profile".to_string(), describe_profile(&plan.profile)),
        ("connections".to_string(), plan.connections.to_string()),
        ("timeout".to_string(), format!("{:?}", plan.timeout)),
        ("samples".to_string(), n.to_string()),
        ("proxy".to_string(), plan.proxy.to_string()),
    ];
    if !report.errors.is_empty() {
        let errors: Vec<String> =
            report.errors.iter().map(|(k, n)| format!("{} {n}", k.name())).collect();
        parameters.push(("errors".into(), errors.join(", ")));
    }
    if !injected.is_empty() {
        let faults: Vec<String> = injected.iter().map(|(k, n)| format!("{k} {n}")).collect();
        parameters.push(("faults injected".into(), faults.join(", ")));
    }
    Ok(StepResult {
        info,
        parameters,
        points: vec![summary_point(metrics)],
        elapsed: clock.elapsed().saturating_sub(started),
    })
}

fn describe(plan: &SystemPlan, target: Option<&TargetPlan>) -> String {
    let served = match target {
        Some(TargetPlan::Http { url, .. }) => url.clone(),
        _ => "the target served on loopback".into(),
    };
    let faults = if plan.faults.is_empty() {
        String::new()
    } else {
        let names: Vec<&str> = plan.faults.iter().map(|f| f.toxic.name.as_str()).collect();
        format!(" with faults {}", names.join(", "))
    };
    format!(
        "load {} on {served}{}{faults}",
        describe_profile(&plan.profile),
        if plan.proxy { " through the fault proxy" } else { "" }
    )
}

pub(crate) fn describe_profile(profile: &Profile) -> String {
    match profile {
        Profile::Open { stages } => stages
            .iter()
            .map(|s| {
                if s.start_rate == s.end_rate {
                    format!("{}s@{}", s.duration.as_secs_f64(), s.start_rate)
                } else {
                    format!("{}s@{}-{}", s.duration.as_secs_f64(), s.start_rate, s.end_rate)
                }
            })
            .collect::<Vec<_>>()
            .join(" → "),
        Profile::Closed { users, duration } => {
            format!("{users} users for {:.1} s", duration.as_secs_f64())
        }
    }
}

/// One point without a dial, holding `metrics`.
fn summary_point(metrics: Vec<MetricValue>) -> stressor_core::StepPoint {
    stressor_core::StepPoint {
        dial_value: None,
        metrics,
        per_class: Vec::new(),
        confusion_growth: Vec::new(),
        exemplars: Vec::new(),
        loss_trace: Vec::new(),
        calibration: None,
    }
}

fn metric(name: &str, estimate: Estimate) -> MetricValue {
    MetricValue { name: name.to_string(), estimate }
}

fn overall_metrics(report: &LoadReport) -> Vec<MetricValue> {
    let n = report.requests;
    let mut out = vec![
        metric("requests", Estimate { value: n as f64, n, ci: None }),
        metric("throughput", Estimate { value: report.throughput(), n, ci: None }),
        metric("error_rate", Estimate::proportion(report.n_errors(), n)),
        metric("p50_ms", stressor_load::latency_quantile(&report.latency, 0.5)),
        metric("p90_ms", stressor_load::latency_quantile(&report.latency, 0.9)),
        metric("p99_ms", stressor_load::latency_quantile(&report.latency, 0.99)),
        metric("p999_ms", stressor_load::latency_quantile(&report.latency, 0.999)),
        metric(
            "max_ms",
            Estimate {
                value: report.latency.max() as f64 / 1000.0,
                n: report.latency.len(),
                ci: None,
            },
        ),
    ];
    if report.checked > 0 {
        out.push(metric("accuracy", Estimate::proportion(report.correct, report.checked)));
    }
    out
}
