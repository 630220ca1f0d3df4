//! `stressor run`: plans a scenario file, runs it and writes its reports.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use stressor_core::{EventSink, Seed};
use stressor_report::Collector;
use stressor_scenario::{EngineConfig, Scenario};
use stressor_schema::ExitCode as exit_code;

use crate::args::{RunArgs, RunOptions};
use crate::dashboard::{DEFAULT_LINGER, LiveDashboard};
use crate::families::FAMILIES;
use crate::output::{
    Tee, WallClock, cache_dir, default_out_dir, finish, plan_name, say, scenario_error,
};
use crate::progress::ProgressSink;

pub(crate) fn run(args: &RunArgs) -> i32 {
    let out = default_out_dir(&plan_name(&args.scenario));
    match stressor_scenario::load(&args.scenario, FAMILIES) {
        Ok(scenario) => execute(scenario, &args.options, out),
        Err(error) => scenario_error(&error),
    }
}

/// Runs a planned scenario of any family and writes its reports; the exit code.
pub(super) fn execute(mut scenario: Scenario, options: &RunOptions, default_out: PathBuf) -> i32 {
    if let Some(seed) = options.seed {
        scenario.seed = Seed::new(seed);
    }
    let out_dir = options.out.clone().unwrap_or(default_out);
    // `[risk]`: a bad context file is a usage error before anything runs.
    let risk_context = scenario.risk.as_ref().and_then(|risk| risk.context.clone());
    if let Some(path) = &risk_context
        && let Err(error) = stressor_risk::Context::read(path)
    {
        return super::risk::fail(&error);
    }
    say!(
        "stressor: scenario `{}`, seed {}, reports in {}",
        scenario.name,
        scenario.seed.value(),
        out_dir.display()
    );
    // Header values may name environment variables (`${TOKEN}`); only the CLI reads them.
    let env = scenario
        .env_vars()
        .into_iter()
        .filter_map(|name| std::env::var(&name).ok().map(|value| (name, value)))
        .collect();
    let config = EngineConfig {
        cache_dir: cache_dir(options),
        metrics_addr: options.metrics_addr,
        seeds: options.seeds.map(|n| n as usize),
        env,
        ..EngineConfig::default()
    };
    let mut dashboard = match options.dashboard {
        Some(addr) => match LiveDashboard::start(addr, &out_dir) {
            Ok(dashboard) => Some(dashboard),
            Err(code) => return code,
        },
        None => None,
    };
    let clock = WallClock(Instant::now());
    let mut collector = Collector::new();
    let mut progress = ProgressSink::new(!options.no_progress);
    let outcome = {
        let mut tee = Tee {
            collector: &mut collector,
            progress: &mut progress,
            dashboard: dashboard.as_mut().map(|d| d as &mut dyn EventSink),
        };
        stressor_scenario::run(&scenario, &config, &clock, &mut tee)
    };
    progress.finish();
    let mut code = finish(outcome, collector, options, &out_dir);
    let report = out_dir.join("report.json");
    if scenario.risk.is_some() && report.is_file() {
        let documents =
            super::risk::documents(std::slice::from_ref(&report), risk_context.as_deref())
                .and_then(|d| stressor_risk::write_all(&d, &out_dir.join("risk")).map(|_| d));
        match documents {
            Ok(d) => {
                super::risk::print_summary(&d);
                say!(
                    "stressor: wrote {}/risk/ (risk.md, risk.html, fmea.csv, register.csv, risk.json)",
                    out_dir.display()
                );
            }
            // The run's own reports are written; only the risk documents are missing.
            Err(error) if code == exit_code::PASS => code = super::risk::fail(&error),
            Err(error) => {
                super::risk::fail(&error);
            }
        }
    }
    match dashboard {
        Some(dashboard) => {
            let linger = options.dashboard_linger.unwrap_or(DEFAULT_LINGER);
            match dashboard.finish(&out_dir, linger) {
                Ok(()) => code,
                // The reports are written; the dashboard's files are not, like a report that
                // could not be written.
                Err(()) => exit_code::USAGE,
            }
        }
        None => code,
    }
}
