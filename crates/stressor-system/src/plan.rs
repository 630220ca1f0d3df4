//! Planning the `[system]` section: the load profile, the fault schedule, recovery tolerances
//! and gates.

use std::time::Duration;

use serde_json::Value;
use stressor_core::Gate;
use stressor_load::recovery::RecoveryPlan;
use stressor_load::{Profile, Stage};
use stressor_proxy::Toxic;
use stressor_proxy::schedule::Fault;
use toml::Spanned;

use std::ops::{Deref, DerefMut};

use stressor_scenario::target::TargetPlan;

use crate::options::{FaultOptions, RecoveryOptions, SystemOptions};

/// The metrics of a systems step. Each also exists per window as `<metric>.<window>`
/// (`p99_ms.surge`, `error_rate.<fault>`; `baseline` is the stretch before the first window),
/// and `time_to_recover_s.<window>` per window; `time_to_recover_s` is the worst of them.
pub const SYSTEM_METRICS: &[&str] = &[
    "requests",
    "throughput",
    "error_rate",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "p999_ms",
    "max_ms",
    "accuracy",
    "time_to_recover_s",
];

/// Metrics that also exist per window.
const WINDOW_METRICS: &[&str] = &["error_rate", "p50_ms", "p99_ms", "accuracy", "throughput"];

/// A systems run.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemPlan {
    /// The load profile (open model).
    pub profile: Profile,
    /// Load-generator connections.
    pub connections: usize,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Labelled samples sent (one per request, in turn).
    pub samples: usize,
    /// Whether the fault proxy sits in front of the server.
    pub proxy: bool,
    /// Inference slots when a local target is served; the CPU count when absent.
    pub max_concurrency: Option<usize>,
    /// Queue before 503.
    pub queue_limit: usize,
    /// Artificial service time per request.
    pub service_time: Duration,
    /// The fault schedule.
    pub faults: Vec<Fault>,
    /// What "recovered" means.
    pub recovery: RecoveryPlan,
    /// Gates on the run's metrics.
    pub gates: Vec<Gate>,
}

impl SystemPlan {
    /// The step id of the systems run.
    pub const STEP_ID: &'static str = "system";

    /// The baseline arrival rate: the first stage's starting rate.
    pub fn baseline_rate(&self) -> f64 {
        match &self.profile {
            Profile::Open { stages } => stages.first().map_or(0.0, |s| s.start_rate),
            Profile::Closed { .. } => 0.0,
        }
    }
}

/// Plans `[system]` for a scenario whose target is `target`; `None` after reporting problems
/// that leave nothing to plan.
pub(crate) fn plan(
    planner: &mut stressor_scenario::Planner<'_>,
    spanned: &Spanned<SystemOptions>,
    target: &TargetPlan,
) -> Option<SystemPlan> {
    Planner(planner).system(spanned, target)
}

/// The shared planner, with the system family's checks.
struct Planner<'p, 'a>(&'p mut stressor_scenario::Planner<'a>);

impl<'a> Deref for Planner<'_, 'a> {
    type Target = stressor_scenario::Planner<'a>;
    fn deref(&self) -> &Self::Target {
        self.0
    }
}

impl DerefMut for Planner<'_, '_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.0
    }
}

impl Planner<'_, '_> {
    fn system(
        &mut self,
        spanned: &Spanned<SystemOptions>,
        target: &TargetPlan,
    ) -> Option<SystemPlan> {
        let options = spanned.get_ref();
        if matches!(target, TargetPlan::Ensemble { .. }) {
            self.problem(
                spanned.span(),
                "system",
                "an ensemble target cannot be served by the systems run".into(),
                Some("serve it yourself and use `kind = \"http\"`, or test one member".into()),
            );
            return None;
        }
        match target {
            TargetPlan::Http { url, .. } if url.starts_with("https://") => self.problem(
                spanned.span(),
                "system",
                "the systems run loads plain http:// endpoints (the load generator does not speak TLS)".into(),
                None,
            ),
            TargetPlan::Json { .. } => self.problem(
                spanned.span(),
                "system",
                "the systems run sends Open Inference Protocol requests; a `json` target cannot take them".into(),
                Some("use a local target (served by stressor) or `kind = \"http\"`".into()),
            ),
            _ => {}
        }
        let mut stages = Vec::new();
        for text in options.stages.get_ref() {
            match Stage::parse(text) {
                Ok(stage) => stages.push(stage),
                Err(message) => self.problem(
                    options.stages.span(),
                    "system.stages",
                    message,
                    Some("stages look like \"10s@20\" or \"5s@20-200\"".into()),
                ),
            }
        }
        if stages.is_empty() || stages.iter().all(|s| s.duration.is_zero()) {
            self.problem(
                options.stages.span(),
                "system.stages",
                "the load profile is empty".into(),
                Some("e.g. stages = [\"10s@20\", \"5s@200\", \"10s@20\"]".into()),
            );
        }
        let profile = Profile::Open { stages };
        let run_length = profile.duration();
        let connections = self.positive(options.connections.as_ref(), "system.connections", 32)?;
        let samples = self.positive(options.samples.as_ref(), "system.samples", 200)?;
        let timeout =
            self.duration(options.timeout.as_ref(), "system.timeout", Duration::from_secs(2))?;
        if timeout.is_zero() {
            self.problem(
                options.timeout.as_ref().map_or(spanned.span(), Spanned::span),
                "system.timeout",
                "the timeout must be above 0".into(),
                None,
            );
        }
        let (max_concurrency, queue_limit, service_time) = match &options.serve {
            Some(serve) => {
                if matches!(target, TargetPlan::Http { .. }) {
                    self.problem(
                        serve.span(),
                        "system.serve",
                        "`system.serve` only applies when stressor serves the target; an `http` target is already served".into(),
                        None,
                    );
                }
                let serve = serve.get_ref();
                let service_ms = serve.service_time_ms.unwrap_or(0.0);
                if !(service_ms.is_finite() && service_ms >= 0.0)
                    || serve.max_concurrency == Some(0)
                {
                    self.problem(
                        options.serve.as_ref().map_or(spanned.span(), Spanned::span),
                        "system.serve",
                        "max_concurrency must be ≥ 1 and service_time_ms a number ≥ 0".into(),
                        None,
                    );
                }
                (
                    serve.max_concurrency.map(|n| n as usize),
                    serve.queue_limit.unwrap_or(1024) as usize,
                    Duration::from_secs_f64(service_ms.max(0.0) / 1000.0),
                )
            }
            None => (None, 1024, Duration::ZERO),
        };
        let mut faults = Vec::new();
        for (i, fault) in options.faults.iter().enumerate() {
            if let Some(planned) = self.fault(fault, i, run_length) {
                if faults.iter().any(|f: &Fault| f.toxic.name == planned.toxic.name)
                    || planned.toxic.name == "surge"
                    || planned.toxic.name == "baseline"
                {
                    self.problem(
                        fault.span(),
                        &format!("system.faults[{i}].name"),
                        format!(
                            "fault name `{}` is used twice (or is reserved)",
                            planned.toxic.name
                        ),
                        Some("give each fault a unique `name`".into()),
                    );
                }
                faults.push(planned);
            }
        }
        let proxy = options.proxy.unwrap_or(!faults.is_empty());
        if !proxy && !faults.is_empty() {
            self.problem(
                spanned.span(),
                "system.proxy",
                "faults need the proxy, but `proxy = false`".into(),
                None,
            );
        }
        let recovery = self.recovery(options.recovery.as_ref())?;
        let mut windows: Vec<String> = faults.iter().map(|f| f.toxic.name.clone()).collect();
        windows.push("surge".into());
        windows.push("baseline".into());
        let mut extra: Vec<String> = Vec::new();
        for window in &windows {
            for metric in WINDOW_METRICS {
                extra.push(format!("{metric}.{window}"));
            }
            if window != "baseline" {
                extra.push(format!("time_to_recover_s.{window}"));
            }
        }
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let gates = options
            .gates
            .iter()
            .enumerate()
            .filter_map(|(i, gate)| {
                self.gate(
                    gate,
                    SystemPlan::STEP_ID,
                    &format!("system.gates[{i}]"),
                    SYSTEM_METRICS,
                    &extra,
                )
            })
            .collect();
        Some(SystemPlan {
            profile,
            connections,
            timeout,
            samples,
            proxy,
            max_concurrency,
            queue_limit,
            service_time,
            faults,
            recovery,
            gates,
        })
    }

    fn fault(
        &mut self,
        spanned: &Spanned<FaultOptions>,
        i: usize,
        run_length: Duration,
    ) -> Option<Fault> {
        let options = spanned.get_ref();
        let key = format!("system.faults[{i}]");
        let mut json = serde_json::Map::new();
        json.insert("type".into(), Value::String(options.kind.get_ref().clone()));
        if let Some(stream) = &options.stream {
            json.insert("stream".into(), Value::String(stream.get_ref().clone()));
        }
        if let Some(toxicity) = &options.toxicity {
            json.insert("toxicity".into(), serde_json::json!(toxicity.get_ref()));
        }
        if let Some(attributes) = &options.attributes {
            match serde_json::to_value(attributes.get_ref()) {
                Ok(value) => {
                    json.insert("attributes".into(), value);
                }
                Err(error) => {
                    self.problem(
                        attributes.span(),
                        &format!("{key}.attributes"),
                        error.to_string(),
                        None,
                    );
                    return None;
                }
            }
        }
        let mut toxic = match Toxic::from_json(&Value::Object(json)) {
            Ok(toxic) => toxic,
            Err(error) => {
                self.problem(spanned.span(), &key, error.to_string(), None);
                return None;
            }
        };
        toxic.name = match &options.name {
            Some(name) => name.get_ref().clone(),
            None => toxic.kind.type_name().to_string(),
        };
        if toxic.name.is_empty() || toxic.name.contains(['.', ' ', '/']) {
            self.problem(
                spanned.span(),
                &format!("{key}.name"),
                format!("`{}` is not a usable name (no dots, spaces or slashes)", toxic.name),
                None,
            );
        }
        let start = self.duration(Some(&options.start), &format!("{key}.start"), Duration::ZERO)?;
        let stop = match &options.stop {
            Some(stop) => Some(self.duration(Some(stop), &format!("{key}.stop"), run_length)?),
            None => None,
        };
        let ramp = self.duration(options.ramp.as_ref(), &format!("{key}.ramp"), Duration::ZERO)?;
        if start >= run_length || stop.is_some_and(|stop| stop <= start) {
            self.problem(
                options.start.span(),
                &format!("{key}.start"),
                format!(
                    "the fault must start within the load ({:.1} s) and stop after it starts",
                    run_length.as_secs_f64()
                ),
                None,
            );
            return None;
        }
        Some(Fault { toxic, start, stop, ramp })
    }

    fn recovery(&mut self, options: Option<&Spanned<RecoveryOptions>>) -> Option<RecoveryPlan> {
        let mut plan = RecoveryPlan::default();
        let Some(spanned) = options else {
            return Some(plan);
        };
        let options = spanned.get_ref();
        plan.sustain =
            self.duration(options.sustain.as_ref(), "system.recovery.sustain", plan.sustain)?;
        let mut number = |value: &Option<Spanned<f64>>, key: &str, default: f64| -> f64 {
            match value {
                Some(v) if v.get_ref().is_finite() && *v.get_ref() >= 0.0 => *v.get_ref(),
                Some(v) => {
                    self.problem(
                        v.span(),
                        &format!("system.recovery.{key}"),
                        "must be a number ≥ 0".into(),
                        None,
                    );
                    default
                }
                None => default,
            }
        };
        plan.p99_ratio = number(&options.p99_ratio, "p99_ratio", plan.p99_ratio);
        plan.p99_slack_ms = number(&options.p99_slack_ms, "p99_slack_ms", plan.p99_slack_ms);
        plan.error_rate_slack =
            number(&options.error_rate_slack, "error_rate_slack", plan.error_rate_slack);
        plan.accuracy_drop = number(&options.accuracy_drop, "accuracy_drop", plan.accuracy_drop);
        Some(plan)
    }
}
